/* The tape and the engine: accumulation, higher-order gradients, no-grad scopes, tape
 * resets, in-place checks, long chains, and allocation-free steady state. */
#include <string.h>

#include "test_util.h"

static cg_tensor *vec(const double *v, int64_t n)
{
    cg_tensor *t = cg_tensor_from_data(CG_F64, 1, &n, v);
    cg_tensor_set_requires_grad(t, true);
    return t;
}

static void test_backward_accumulates(void **state)
{
    (void)state;
    cg_tensor *x = vec((double[]){1, -2, 3}, 3);
    for (int round = 1; round <= 2; round++) {
        cg_tensor *y = cg_sum(cg_mul(x, x), NULL, 0, false);
        assert_ok(cg_backward(y, NULL));
        for (int64_t i = 0; i < 3; i++)
            assert_close(cg_tensor_get(cg_tensor_grad(x), &i),
                         round * 2 * cg_tensor_get(x, &i), 0, 0);
    }
    cg_tensor_zero_grad(x);
    assert_null(cg_tensor_grad(x));
    cg_tensor_free(x);
}

/* f(x) = sum(x^3): H = diag(6x), so H v = 6 x v, computed by double backward. */
static void test_hessian_vector_product(void **state)
{
    (void)state;
    double xs[] = {0.5, -1.5, 2.0}, vs[] = {1.0, 2.0, -3.0};
    cg_tensor *x = vec(xs, 3);
    cg_tensor *v = cg_tensor_from_data(CG_F64, 1, (int64_t[]){3}, vs);
    cg_tensor *y = cg_sum(cg_pow_scalar(x, 3.0), NULL, 0, false);
    cg_tensor *g;
    cg_grad_options opt = {.create_graph = true};
    assert_ok(cg_grad(&y, 1, NULL, &x, 1, &g, &opt));
    assert_true(cg_tensor_requires_grad(g));
    cg_tensor *gv = cg_sum(cg_mul(g, v), NULL, 0, false);
    cg_tensor *hv;
    assert_ok(cg_grad(&gv, 1, NULL, &x, 1, &hv, NULL));
    for (int64_t i = 0; i < 3; i++)
        assert_close(cg_tensor_get(hv, &i), 6 * xs[i] * vs[i], 1e-12, 1e-12);
    cg_tensor_free(v);
    cg_tensor_free(x);
}

/* Gradient penalty: d/dw ||d/dx (w . x^2)||^2 = d/dw sum((2 w x)^2) = 8 w x^2. */
static void test_gradient_penalty(void **state)
{
    (void)state;
    double xs[] = {1.0, 2.0}, ws[] = {0.5, -1.0};
    cg_tensor *x = vec(xs, 2), *w = vec(ws, 2);
    cg_tensor *y = cg_sum(cg_mul(w, cg_mul(x, x)), NULL, 0, false);
    cg_tensor *gx;
    cg_grad_options opt = {.create_graph = true};
    assert_ok(cg_grad(&y, 1, NULL, &x, 1, &gx, &opt));
    cg_tensor *penalty = cg_sum(cg_mul(gx, gx), NULL, 0, false);
    assert_ok(cg_backward(penalty, NULL));
    for (int64_t i = 0; i < 2; i++)
        assert_close(cg_tensor_get(cg_tensor_grad(w), &i), 8 * ws[i] * xs[i] * xs[i], 1e-12, 0);
    cg_tensor_free(x);
    cg_tensor_free(w);
}

static void test_no_grad_records_nothing(void **state)
{
    test_ctx *ctx = *state;
    cg_tensor *x = vec((double[]){1, 2}, 2);
    bool prev = cg_set_grad_enabled(false);
    assert_true(prev);
    cg_tensor *y = cg_mul(x, x);
    assert_tensor(y);
    assert_false(cg_tensor_requires_grad(y));
    assert_int_equal(cg_tape_num_nodes(ctx->tape), 0);
    cg_set_grad_enabled(prev);
    assert_int_equal(cg_backward(cg_sum(y, NULL, 0, false), NULL), CG_ERR_STATE);
    assert_error_contains("does not require grad");
    cg_tensor *z = cg_mul(x, x);
    assert_true(cg_tensor_requires_grad(z));
    assert_int_equal(cg_tape_num_nodes(ctx->tape), 1);
    cg_tensor_free(x);
}

static void test_reset_frees_intermediates(void **state)
{
    test_ctx *ctx = *state;
    cg_tensor *w = vec((double[]){1, 2, 3}, 3);
    cg_tensor *y = cg_exp(cg_mul(w, w));
    assert_tensor(y);
    assert_true(cg_tape_num_tensors(ctx->tape) >= 2);
    cg_tape_reset(ctx->tape);
    assert_int_equal(cg_tape_num_tensors(ctx->tape), 0);
    assert_int_equal(cg_tape_num_nodes(ctx->tape), 0);
    /* The parameter survives; the intermediate is reported dead, not read. */
    int64_t i = 2;
    assert_close(cg_tensor_get(w, &i), 3.0, 0, 0);
    assert_null(cg_exp(y));
    assert_int_equal(cg_last_status(), CG_ERR_STATE);
    assert_error_contains("after its tape was reset");
    assert_int_equal(cg_backward(y, NULL), CG_ERR_STATE);
    cg_tensor_free(w);
}

/* A caller may free a parameter while a recorded op still uses it: the node keeps it. */
static void test_free_param_while_recorded(void **state)
{
    (void)state;
    cg_tensor *w = vec((double[]){1, 2}, 2);
    cg_tensor *y = cg_sum(cg_mul(w, w), NULL, 0, false);
    cg_tensor_free(w);
    assert_ok(cg_backward(y, NULL));
}

static void test_chain_of_100000_ops(void **state)
{
    (void)state;
    cg_tensor *x = vec((double[]){0.25}, 1);
    cg_tensor *y = x;
    for (int i = 0; i < 100000; i++)
        y = (i % 2) ? cg_add_scalar(y, 1e-3) : cg_mul_scalar(y, 1.0);
    assert_tensor(y);
    assert_ok(cg_backward(cg_sum(y, NULL, 0, false), NULL));
    int64_t i0 = 0;
    assert_close(cg_tensor_get(cg_tensor_grad(x), &i0), 1.0, 0, 0);
    cg_tensor_free(x);
}

static void test_in_place_change_is_caught(void **state)
{
    (void)state;
    cg_tensor *x = vec((double[]){1, 2}, 2);
    cg_tensor *y = cg_sum(cg_mul(x, x), NULL, 0, false);
    uint64_t v0 = cg_tensor_version(x);
    assert_ok(cg_tensor_fill_(x, 3.0));
    assert_true(cg_tensor_version(x) > v0);
    assert_int_equal(cg_backward(y, NULL), CG_ERR_STATE);
    assert_error_contains("modified in place");
    /* add saves nothing, so changing its input after recording is fine, as in PyTorch. */
    cg_tensor *z = cg_sum(cg_add(x, x), NULL, 0, false);
    assert_ok(cg_tensor_fill_(x, 4.0));
    assert_ok(cg_backward(z, NULL));
    cg_tensor_free(x);
}

static void test_grad_unused_input(void **state)
{
    (void)state;
    cg_tensor *x = vec((double[]){1}, 1), *u = vec((double[]){2}, 1);
    cg_tensor *y = cg_mul(x, x);
    cg_tensor *in[2] = {x, u}, *g[2];
    assert_int_equal(cg_grad(&y, 1, NULL, in, 2, g, NULL), CG_ERR_STATE);
    assert_error_contains("allow_unused");
    cg_grad_options opt = {.allow_unused = true};
    assert_ok(cg_grad(&y, 1, NULL, in, 2, g, &opt));
    assert_non_null(g[0]);
    assert_null(g[1]);
    cg_tensor_free(x);
    cg_tensor_free(u);
}

/* One training-like step: zero the gradient, forward, backward, in-place update, reset. */
static void step(cg_tape *tape, cg_tensor *w, cg_tensor *x)
{
    cg_tensor_zero_grad(w);
    cg_tensor *h = cg_matmul(x, w);
    cg_tensor *loss = cg_mean(cg_pow_scalar(cg_log_softmax(h, 1), 2.0), NULL, 0, false);
    assert_ok(cg_backward(loss, NULL));
    double *wd = cg_tensor_data(w);
    const double *gd = cg_tensor_data(cg_tensor_grad(w));
    for (int64_t i = 0; i < cg_tensor_numel(w); i++)
        wd[i] -= 0.1 * gd[i];
    cg_tape_reset(tape);
}

static void test_steady_state_allocates_nothing(void **state)
{
    test_ctx *ctx = *state;
    cg_rng rng = cg_rng_init(3);
    cg_tensor *w = cg_tensor_normal(&rng, CG_F64, 2, (int64_t[]){8, 4}, 0, 1);
    cg_tensor *x = cg_tensor_normal(&rng, CG_F64, 2, (int64_t[]){16, 8}, 0, 1);
    cg_tensor_set_requires_grad(w, true);
    step(ctx->tape, w, x);
    step(ctx->tape, w, x);
    uint64_t before = cg_alloc_get_stats().malloc_calls;
    step(ctx->tape, w, x);
    assert_int_equal(cg_alloc_get_stats().malloc_calls - before, 0);
    cg_tensor_free(w);
    cg_tensor_free(x);
}

static void test_scopes_name_recorded_ops(void **state)
{
    test_ctx *ctx = *state;
    cg_tensor *x = vec((double[]){1, 2}, 2);
    assert_null(cg_tape_scope());
    assert_ok(cg_tape_push_scope("model"));
    assert_ok(cg_tape_push_scope("0"));
    cg_tensor *a = cg_exp(x);
    assert_string_equal(cg_tape_scope(), "model.0");
    assert_ok(cg_tape_pop_scope());
    cg_tensor *b = cg_mul(a, a);
    assert_ok(cg_tape_pop_scope());
    cg_tensor *c = cg_neg(b);
    assert_string_equal(cg_tensor_scope(a), "model.0");
    assert_string_equal(cg_tensor_scope(b), "model");
    assert_null(cg_tensor_scope(c));
    assert_int_equal(cg_tape_pop_scope(), CG_ERR_STATE);
    assert_int_equal(cg_tape_push_scope(""), CG_ERR_VALUE);
    assert_ok(cg_tape_push_scope("open"));
    cg_tape_reset(ctx->tape); /* a reset closes every scope */
    assert_null(cg_tape_scope());
    cg_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_backward_accumulates),
        CG_TEST(test_hessian_vector_product),
        CG_TEST(test_gradient_penalty),
        CG_TEST(test_no_grad_records_nothing),
        CG_TEST(test_reset_frees_intermediates),
        CG_TEST(test_free_param_while_recorded),
        CG_TEST(test_chain_of_100000_ops),
        CG_TEST(test_in_place_change_is_caught),
        CG_TEST(test_grad_unused_input),
        CG_TEST(test_steady_state_allocates_nothing),
        CG_TEST(test_scopes_name_recorded_ops),
    };
    return cmocka_run_group_tests_name("autograd", tests, NULL, NULL);
}
