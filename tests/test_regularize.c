/* Regularization helpers: penalties (values and gradients through cg_backward against hand
 * computation), decoupled weight decay, gradient clipping by norm and by value (hand
 * computed here; against PyTorch in test_golden_schedule.c), early stopping, bad input. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static cg_tensor *tensor_of(cg_dtype dt, int ndim, const int64_t *shape, const double *v)
{
    cg_tensor *t = cg_tensor_from_data(CG_F64, ndim, shape, v);
    assert_tensor(t);
    if (dt == CG_F64)
        return t;
    cg_tensor *c = cg_tensor_zeros(dt, ndim, shape);
    assert_ok(cg_tensor_copy_(c, t));
    cg_tensor_free(t);
    return c;
}

/* Two parameters (a [2, 3] matrix with a zero entry and a [4] vector) requiring grad. */
static void two_params(cg_dtype dt, cg_tensor **p)
{
    static const double a[] = {1.5, -2.0, 0.0, 0.25, -0.5, 3.0};
    static const double b[] = {-1.0, 2.5, 0.75, -0.125};
    p[0] = tensor_of(dt, 2, (int64_t[]){2, 3}, a);
    p[1] = tensor_of(dt, 1, (int64_t[]){4}, b);
    for (int i = 0; i < 2; i++)
        assert_ok(cg_tensor_set_requires_grad(p[i], true));
}

static void values_of(const cg_tensor *t, double *out) { assert_ok(cg_tensor_to_f64(t, out)); }

typedef enum { L1, L2, ELASTIC } penalty;

/* Value and gradient of the penalty by hand: l1 sum|w| + l2/2 sum w^2, gradient
 * l1 sign(w) + l2 w (0 at w = 0 for the L1 part). */
static void check_penalty(penalty kind, cg_dtype dt, double l1, double l2, double tol)
{
    cg_tensor *p[2];
    two_params(dt, p);
    cg_tensor *y = kind == L1   ? cg_l1_penalty(p, 2, l1)
                   : kind == L2 ? cg_l2_penalty(p, 2, l2)
                                : cg_elastic_net_penalty(p, 2, l1, l2);
    assert_tensor(y);
    assert_int_equal(cg_tensor_ndim(y), 0);
    assert_ok(cg_backward(y, NULL));
    double want = 0, w[6], g[6];
    for (int i = 0; i < 2; i++) {
        int64_t n = cg_tensor_numel(p[i]);
        values_of(p[i], w);
        values_of(cg_tensor_grad(p[i]), g);
        for (int64_t k = 0; k < n; k++) {
            double sign = (w[k] > 0) - (w[k] < 0);
            want += l1 * fabs(w[k]) + l2 / 2 * w[k] * w[k];
            assert_close(g[k], l1 * sign + l2 * w[k], tol, tol);
        }
    }
    assert_close(cg_tensor_item(y), want, tol, tol);
    cg_tensor_free(p[0]);
    cg_tensor_free(p[1]);
}

static void test_penalties(void **state)
{
    (void)state;
    check_penalty(L2, CG_F64, 0, 0.3, 1e-14);
    check_penalty(L1, CG_F64, 0.7, 0, 1e-14);
    check_penalty(ELASTIC, CG_F64, 0.7, 0.3, 1e-14);
    check_penalty(ELASTIC, CG_F64, 0, 0, 0);
    check_penalty(L2, CG_F32, 0, 0.3, 1e-6);
    check_penalty(ELASTIC, CG_F32, 0.2, 0.05, 1e-6);
}

/* L2's gradient is lambda w, the term SGD's weight_decay = lambda adds; its Hessian is
 * lambda I (the penalty is recorded, so it differentiates twice). */
static void test_l2_is_weight_decay(void **state)
{
    (void)state;
    cg_tensor *p[2];
    two_params(CG_F64, p);
    cg_tensor *y = cg_l2_penalty(p, 2, 0.01);
    cg_tensor *g[2];
    assert_ok(cg_grad(&y, 1, NULL, p, 2, g, &(cg_grad_options){.create_graph = true}));
    double w[6], gv[6];
    values_of(p[0], w);
    values_of(g[0], gv);
    for (int k = 0; k < 6; k++)
        assert_close(gv[k], 0.01 * w[k], 1e-17, 1e-15);
    /* d/dw of sum(g0) = lambda for every element of p[0] */
    cg_tensor *s = cg_sum(g[0], NULL, 0, false);
    cg_tensor *h[1];
    assert_ok(cg_grad(&s, 1, NULL, p, 1, h, NULL));
    values_of(h[0], gv);
    for (int k = 0; k < 6; k++)
        assert_close(gv[k], 0.01, 0, 1e-15);
    cg_tensor_free(p[0]);
    cg_tensor_free(p[1]);
}

static void test_penalty_errors(void **state)
{
    (void)state;
    cg_tensor *p[2];
    two_params(CG_F64, p);
    assert_null(cg_l2_penalty(p, 0, 0.1));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_null(cg_l2_penalty(NULL, 2, 0.1));
    assert_null(cg_l1_penalty(p, 2, -1));
    assert_error_contains("lambda");
    assert_null(cg_l1_penalty(p, 2, NAN));
    assert_null(cg_elastic_net_penalty(p, 2, 0.1, -0.1));
    assert_error_contains("l2");
    cg_clear_error();
    assert_null(cg_l2_penalty((cg_tensor *[]){p[0], NULL}, 2, 0.1));
    assert_int_equal(cg_last_status(), CG_ERR_NULL);
    cg_tensor *f32 = cg_tensor_ones(CG_F32, 1, (int64_t[]){3});
    assert_null(cg_l2_penalty((cg_tensor *[]){p[0], f32}, 2, 0.1));
    assert_int_equal(cg_last_status(), CG_ERR_DTYPE);
    assert_error_contains("one dtype");
    cg_tensor *idx = cg_tensor_zeros(CG_I64, 1, (int64_t[]){3});
    assert_null(cg_l1_penalty(&idx, 1, 0.1));
    assert_int_equal(cg_last_status(), CG_ERR_DTYPE);
    cg_tensor_free(idx);
    cg_tensor_free(f32);
    cg_tensor_free(p[0]);
    cg_tensor_free(p[1]);
}

/* w *= 1 - lr wd in place: f64 exactly, f32 as an f32 multiply by the rounded factor,
 * strided views too; the version counter moves. */
static void test_decoupled_weight_decay(void **state)
{
    (void)state;
    cg_tensor *p[2];
    two_params(CG_F64, p);
    double before[6], after[6];
    values_of(p[0], before);
    uint64_t v0 = cg_tensor_version(p[0]);
    assert_ok(cg_decoupled_weight_decay_(p, 2, 0.1, 0.01));
    values_of(p[0], after);
    for (int k = 0; k < 6; k++)
        assert_true(after[k] == before[k] * (1 - 0.1 * 0.01));
    assert_true(cg_tensor_version(p[0]) > v0);

    cg_tensor *q[2];
    two_params(CG_F32, q);
    float fb[6], fa[6], factor = (float)(1 - 0.3 * 0.7);
    memcpy(fb, cg_tensor_data(q[0]), sizeof fb);
    assert_ok(cg_decoupled_weight_decay_(q, 1, 0.3, 0.7));
    memcpy(fa, cg_tensor_data(q[0]), sizeof fa);
    for (int k = 0; k < 6; k++)
        assert_true(fa[k] == fb[k] * factor);

    /* a transposed view: the [3, 2] view of p[0] scales the same elements */
    cg_tensor *t = cg_transpose(p[0], 0, 1);
    values_of(p[0], before);
    assert_ok(cg_decoupled_weight_decay_(&t, 1, 1.0, 0.5));
    values_of(p[0], after);
    for (int k = 0; k < 6; k++)
        assert_true(after[k] == before[k] * 0.5);

    assert_ok(cg_decoupled_weight_decay_(NULL, 0, 0.1, 0.1));
    assert_int_equal(cg_decoupled_weight_decay_(p, 2, -0.1, 0.1), CG_ERR_VALUE);
    assert_int_equal(cg_decoupled_weight_decay_(p, 2, 0.1, -0.1), CG_ERR_VALUE);
    assert_error_contains("weight_decay");
    assert_int_equal(cg_decoupled_weight_decay_(NULL, 2, 0.1, 0.1), CG_ERR_VALUE);
    for (int i = 0; i < 2; i++) {
        cg_tensor_free(p[i]);
        cg_tensor_free(q[i]);
    }
}

/* Parameters whose gradients are the given values (through backward of sum(p * g)). */
static void set_grads(cg_tensor *const *p, int n, const double *const *g)
{
    cg_tensor *loss = NULL;
    for (int i = 0; i < n; i++) {
        int64_t numel = cg_tensor_numel(p[i]);
        cg_tensor *c = tensor_of(cg_tensor_dtype(p[i]), 1, &numel, g[i]);
        cg_tensor *term = cg_sum(cg_mul(cg_flatten(p[i], 0, -1), c), NULL, 0, false);
        loss = i == 0 ? term : cg_add(loss, term);
        cg_tensor_free(c);
    }
    assert_ok(cg_backward(loss, NULL));
}

static const double ga[] = {3.0, -4.0, 0.0, 1.0, -2.0, 2.0};
static const double gb[] = {0.5, -0.5, 6.0, -1.5};

/* Hand computation: total p-norm of the concatenated gradients, coefficient
 * min(1, max / (total + 1e-6)). */
static void check_clip_norm(double norm_type, double max_norm)
{
    cg_tensor *p[3];
    two_params(CG_F64, p);
    p[2] = cg_tensor_ones(CG_F64, 1, (int64_t[]){2}); /* no gradient: skipped */
    assert_ok(cg_tensor_set_requires_grad(p[2], true));
    set_grads(p, 2, (const double *const[]){ga, gb});
    double all[10], acc = 0;
    memcpy(all, ga, sizeof ga);
    memcpy(all + 6, gb, sizeof gb);
    for (int k = 0; k < 10; k++)
        acc = isinf(norm_type) ? fmax(acc, fabs(all[k])) : acc + pow(fabs(all[k]), norm_type);
    double want = isinf(norm_type) ? acc : pow(acc, 1 / norm_type);
    double coef = fmin(1.0, max_norm / (want + 1e-6)), total = -1;
    assert_ok(cg_clip_grad_norm(p, 3, max_norm, norm_type, &total));
    assert_close(total, want, 0, 1e-14);
    double g[6];
    values_of(cg_tensor_grad(p[0]), g);
    for (int k = 0; k < 6; k++)
        assert_close(g[k], ga[k] * coef, 1e-16, 1e-14);
    values_of(cg_tensor_grad(p[1]), g);
    for (int k = 0; k < 4; k++)
        assert_close(g[k], gb[k] * coef, 1e-16, 1e-14);
    assert_null(cg_tensor_grad(p[2]));
    for (int i = 0; i < 3; i++)
        cg_tensor_free(p[i]);
}

static void test_clip_grad_norm(void **state)
{
    (void)state;
    check_clip_norm(2, 1.0);    /* total sqrt(72.75) = 8.53 */
    check_clip_norm(1, 5.0);    /* total 20.5 */
    check_clip_norm(INFINITY, 2.0);
    check_clip_norm(3, 4.0);
    check_clip_norm(0.5, 1e6);  /* below the bound: nothing changes */
    check_clip_norm(2, 100.0);
}

static void test_clip_grad_norm_edges(void **state)
{
    (void)state;
    cg_tensor *p[2];
    two_params(CG_F64, p);
    double total = -1;
    assert_ok(cg_clip_grad_norm(p, 2, 1.0, 2, &total)); /* no gradients at all */
    assert_true(total == 0);
    assert_ok(cg_clip_grad_norm(NULL, 0, 1.0, 2, NULL));
    assert_int_equal(cg_clip_grad_norm(p, 2, 1.0, 0, NULL), CG_ERR_VALUE);
    assert_error_contains("norm_type");
    assert_int_equal(cg_clip_grad_norm(p, 2, 1.0, NAN, NULL), CG_ERR_VALUE);
    assert_int_equal(cg_clip_grad_norm(p, 2, -1.0, 2, NULL), CG_ERR_VALUE);
    assert_error_contains("max_norm");
    cg_clear_error();
    assert_int_equal(cg_clip_grad_norm((cg_tensor *[]){NULL}, 1, 1.0, 2, NULL), CG_ERR_NULL);

    /* a NaN gradient makes the total NaN and every gradient NaN, as PyTorch by default */
    double nan_a[6] = {1, NAN, 0, 0, 0, 0};
    set_grads(p, 2, (const double *const[]){nan_a, gb});
    assert_ok(cg_clip_grad_norm(p, 2, 1.0, INFINITY, &total));
    assert_true(isnan(total));
    double g[4];
    values_of(cg_tensor_grad(p[1]), g);
    assert_true(isnan(g[0]) && isnan(g[3]));
    cg_tensor_free(p[0]);
    cg_tensor_free(p[1]);
}

static void test_clip_grad_value(void **state)
{
    (void)state;
    cg_tensor *p[2];
    two_params(CG_F32, p);
    set_grads(p, 2, (const double *const[]){ga, gb});
    double total = -1;
    assert_ok(cg_clip_grad_value(p, 2, 1.5, &total));
    assert_close(total, sqrt(72.75), 0, 1e-12);
    double g[6];
    values_of(cg_tensor_grad(p[0]), g);
    for (int k = 0; k < 6; k++)
        assert_true(g[k] == fmax(-1.5, fmin(1.5, ga[k])));
    values_of(cg_tensor_grad(p[1]), g);
    for (int k = 0; k < 4; k++)
        assert_true(g[k] == fmax(-1.5, fmin(1.5, gb[k])));
    assert_int_equal(cg_clip_grad_value(p, 2, -1, NULL), CG_ERR_VALUE);
    assert_error_contains("clip_value");
    assert_ok(cg_clip_grad_value(p, 2, 0, NULL));
    values_of(cg_tensor_grad(p[1]), g);
    assert_true(g[0] == 0 && g[2] == 0);
    cg_tensor_free(p[0]);
    cg_tensor_free(p[1]);
}

/* ---- early stopping ---- */

static void fill(cg_tensor *t, double v) { assert_ok(cg_tensor_fill_(t, v)); }

/* Min mode, patience 3: the snapshot follows the best epoch, stop after 3 bad epochs, and
 * restore brings the best weights back. */
static void test_early_stopping_min(void **state)
{
    (void)state;
    cg_tensor *p[2];
    two_params(CG_F64, p);
    cg_early_stopping *es = cg_early_stopping_new(CG_METRIC_MIN, 3, 0.01);
    assert_non_null(es);
    assert_true(isinf(cg_early_stopping_best(es)) && cg_early_stopping_best_update(es) == -1);
    double loss[] = {1.0, 0.8, 0.795, 0.6, 0.7, 0.65, 0.595, 0.61};
    bool stop = true, want_stop[] = {0, 0, 0, 0, 0, 0, 1, 1};
    bool improved[] = {1, 1, 0, 1, 0, 0, 0, 0};
    for (int e = 0; e < 8; e++) {
        fill(p[0], e);
        fill(p[1], -e);
        assert_ok(cg_early_stopping_update(es, loss[e], p, 2, &stop));
        assert_int_equal(stop, want_stop[e]);
        assert_int_equal(cg_early_stopping_improved(es), improved[e]);
    }
    assert_true(cg_early_stopping_best(es) == 0.6);
    assert_int_equal(cg_early_stopping_best_update(es), 3);
    assert_int_equal(cg_early_stopping_bad_updates(es), 4);
    assert_ok(cg_early_stopping_restore(es, p, 2));
    double v[6];
    values_of(p[0], v);
    assert_true(v[0] == 3 && v[5] == 3);
    values_of(p[1], v);
    assert_true(v[3] == -3);
    /* an improvement after the stop clears it */
    assert_ok(cg_early_stopping_update(es, 0.1, p, 2, &stop));
    assert_false(stop);
    cg_early_stopping_free(es);
    cg_tensor_free(p[0]);
    cg_tensor_free(p[1]);
}

/* Max mode without parameters; NaN is never an improvement; the first metric always is. */
static void test_early_stopping_max(void **state)
{
    (void)state;
    cg_early_stopping *es = cg_early_stopping_new(CG_METRIC_MAX, 2, 0);
    assert_ok(cg_early_stopping_update(es, -5.0, NULL, 0, NULL));
    assert_true(cg_early_stopping_improved(es) && cg_early_stopping_best(es) == -5.0);
    assert_ok(cg_early_stopping_update(es, NAN, NULL, 0, NULL));
    assert_false(cg_early_stopping_improved(es));
    assert_ok(cg_early_stopping_update(es, -4.0, NULL, 0, NULL));
    assert_ok(cg_early_stopping_update(es, -4.0, NULL, 0, NULL)); /* equal is no improvement */
    assert_false(cg_early_stopping_should_stop(es));
    assert_ok(cg_early_stopping_update(es, -4.5, NULL, 0, NULL));
    assert_true(cg_early_stopping_should_stop(es));
    assert_int_equal(cg_early_stopping_restore(es, NULL, 0), CG_ERR_STATE);
    cg_early_stopping_free(es);
    cg_early_stopping_free(NULL);
}

static void test_early_stopping_errors(void **state)
{
    (void)state;
    assert_null(cg_early_stopping_new(CG_METRIC_MIN, 0, 0));
    assert_error_contains("patience");
    assert_null(cg_early_stopping_new(CG_METRIC_MIN, 1, -1));
    assert_error_contains("min_delta");
    assert_null(cg_early_stopping_new((cg_metric_mode)5, 1, 0));
    assert_int_equal(cg_early_stopping_update(NULL, 1, NULL, 0, NULL), CG_ERR_NULL);

    cg_tensor *p[2];
    two_params(CG_F64, p);
    cg_tensor *other = cg_tensor_zeros(CG_F64, 1, (int64_t[]){5});
    cg_tensor *f32 = cg_tensor_zeros(CG_F32, 1, (int64_t[]){4});
    cg_early_stopping *es = cg_early_stopping_new(CG_METRIC_MIN, 2, 0);
    assert_int_equal(cg_early_stopping_restore(es, p, 2), CG_ERR_STATE);
    assert_ok(cg_early_stopping_update(es, 1.0, p, 2, NULL));
    assert_int_equal(cg_early_stopping_update(es, 0.5, p, 1, NULL), CG_ERR_SHAPE);
    assert_int_equal(cg_early_stopping_update(es, 0.5, (cg_tensor *[]){p[0], other}, 2, NULL),
                     CG_ERR_SHAPE);
    assert_error_contains("[5]");
    assert_int_equal(cg_early_stopping_update(es, 0.5, (cg_tensor *[]){p[0], f32}, 2, NULL),
                     CG_ERR_DTYPE);
    assert_true(cg_early_stopping_best(es) == 1.0); /* refused updates change nothing */
    assert_int_equal(cg_early_stopping_restore(es, (cg_tensor *[]){p[0], other}, 2),
                     CG_ERR_SHAPE);
    cg_early_stopping_free(es);
    cg_tensor_free(other);
    cg_tensor_free(f32);
    cg_tensor_free(p[0]);
    cg_tensor_free(p[1]);
}

/* Out of memory while taking the first snapshot: an error, no state change, no leak. */
static void test_early_stopping_out_of_memory(void **state)
{
    (void)state;
    cg_tensor *p[2];
    two_params(CG_F64, p);
    cg_early_stopping *es = cg_early_stopping_new(CG_METRIC_MIN, 2, 0);
    for (int k = 1; k <= 20; k++) {
        cg_alloc_fail_after(k);
        cg_status st = cg_early_stopping_update(es, 1.0, p, 2, NULL);
        cg_alloc_fail_after(0);
        if (st == CG_OK)
            break;
        assert_int_equal(st, CG_ERR_NOMEM);
        assert_int_equal(cg_early_stopping_best_update(es), -1);
    }
    assert_int_equal(cg_early_stopping_best_update(es), 0);
    cg_early_stopping_free(es);
    cg_tensor_free(p[0]);
    cg_tensor_free(p[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_penalties),
        CG_TEST(test_l2_is_weight_decay),
        CG_TEST(test_penalty_errors),
        CG_TEST(test_decoupled_weight_decay),
        CG_TEST(test_clip_grad_norm),
        CG_TEST(test_clip_grad_norm_edges),
        CG_TEST(test_clip_grad_value),
        CG_TEST(test_early_stopping_min),
        CG_TEST(test_early_stopping_max),
        CG_TEST(test_early_stopping_errors),
        CG_TEST(test_early_stopping_out_of_memory),
    };
    return cmocka_run_group_tests_name("regularize", tests, NULL, NULL);
}
