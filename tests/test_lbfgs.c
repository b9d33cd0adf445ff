/*
 * L-BFGS's own behaviour (the trajectories against torch.optim.LBFGS are in
 * test_golden_optim.c, its differentiable mode in test_optim_diff.c): convergence on
 * Rosenbrock in f64 and f32, the stopping tests (gradient tolerance, evaluation budget,
 * history size), the flat view over several parameters, state round trips, a failing
 * closure, allocation-free steps, and bad options.
 */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* The extended Rosenbrock function sum_i (1 - x_2i)^2 + 100 (x_2i+1 - x_2i^2)^2 over the
 * parameters concatenated (each of even size), with its gradient in their .grad. */
typedef struct rosen {
    cg_tensor *p[2];
    int np;
    int calls, fail_at; /* fail_at: the call (1-based) that fails, 0 for none */
} rosen;

static cg_tensor *rosen_of(cg_tensor *x)
{
    int64_t n = cg_tensor_size(x, 0);
    cg_tensor *a = cg_slice(x, 0, 0, n, 2), *b = cg_slice(x, 0, 1, n, 2);
    cg_tensor *u = cg_add_scalar(cg_neg(a), 1.0), *v = cg_sub(b, cg_mul(a, a));
    return cg_sum(cg_add(cg_mul(u, u), cg_mul_scalar(cg_mul(v, v), 100.0)), NULL, 0, false);
}

static double rosen_closure(void *ctx)
{
    rosen *r = ctx;
    if (++r->calls == r->fail_at) {
        cg_add(r->p[0], NULL); /* records an error */
        return NAN;
    }
    cg_tape_reset(cg_tape_active());
    for (int i = 0; i < r->np; i++)
        cg_tensor_zero_grad(r->p[i]);
    cg_tensor *x = r->np == 1 ? r->p[0] : cg_concat(r->p, r->np, 0);
    cg_tensor *f = rosen_of(x);
    if (cg_backward(f, NULL) != CG_OK)
        return NAN;
    return cg_tensor_item(f);
}

static cg_tensor *vec(cg_dtype dt, const double *v, int64_t n)
{
    cg_tensor *t = cg_tensor_zeros(dt, 1, &n);
    for (int64_t i = 0; i < n; i++)
        cg_tensor_set(t, &i, v[i]);
    cg_tensor_set_requires_grad(t, true);
    return t;
}

static double state(const cg_optimizer *opt, const char *name)
{
    for (int i = 0; i < cg_optim_state_count(opt); i++) {
        const char *n;
        cg_tensor *t = cg_optim_state_get(opt, i, &n);
        if (!strcmp(n, name))
            return cg_tensor_item(t);
    }
    fail_msg("no state entry %s", name);
    return NAN;
}

static cg_lbfgs_options wolfe(void)
{
    cg_lbfgs_options o = cg_lbfgs_defaults();
    o.line_search = CG_LINE_SEARCH_STRONG_WOLFE;
    return o;
}

static const double START[2] = {-1.5, 2};

static void test_rosenbrock_converges(void **state_)
{
    (void)state_;
    for (int f32 = 0; f32 < 2; f32++) {
        rosen r = {{vec(f32 ? CG_F32 : CG_F64, START, 2)}, 1, 0, 0};
        cg_lbfgs_options o = wolfe();
        cg_optimizer *opt = cg_optim_lbfgs_new(r.p, 1, &o);
        assert_string_equal(cg_optim_name(opt), "lbfgs");
        double loss = 0;
        for (int k = 0; k < 6; k++)
            assert_ok(cg_optim_step_closure(opt, rosen_closure, &r, &loss));
        double x[2];
        cg_tensor_to_f64(r.p[0], x);
        /* PyTorch stops there too: the loss changes by less than tolerance_change 1e-9 */
        double tol = f32 ? 1e-3 : 1e-5;
        assert_close(x[0], 1, tol, 0);
        assert_close(x[1], 1, tol, 0);
        assert_true(loss < (f32 ? 1e-5 : 1e-9));
        assert_int_equal(r.calls, (int)state(opt, "0.func_evals"));
        cg_optim_free(opt);
        cg_tensor_free(r.p[0]);
    }
}

/* Started at the minimum: one evaluation, no iteration, nothing moves. */
static void test_gradient_tolerance(void **state_)
{
    (void)state_;
    double one[2] = {1, 1}, x[2];
    rosen r = {{vec(CG_F64, one, 2)}, 1, 0, 0};
    cg_optimizer *opt = cg_optim_lbfgs_new(r.p, 1, NULL);
    double loss = -1;
    assert_ok(cg_optim_step_closure(opt, rosen_closure, &r, &loss));
    assert_close(loss, 0, 0, 0);
    assert_close(state(opt, "0.func_evals"), 1, 0, 0);
    assert_close(state(opt, "0.n_iter"), 0, 0, 0);
    cg_tensor_to_f64(r.p[0], x);
    assert_true(x[0] == 1 && x[1] == 1);
    cg_optim_free(opt);
    cg_tensor_free(r.p[0]);
}

/* Fixed steps: one evaluation per iteration, and the budget max_eval stops the call. */
static void test_evaluation_budget(void **state_)
{
    (void)state_;
    rosen r = {{vec(CG_F64, START, 2)}, 1, 0, 0};
    cg_lbfgs_options o = cg_lbfgs_defaults();
    o.lr = 0.01, o.max_iter = 10, o.max_eval = 4;
    cg_optimizer *opt = cg_optim_lbfgs_new(r.p, 1, &o);
    assert_ok(cg_optim_step_closure(opt, rosen_closure, &r, NULL));
    assert_int_equal(r.calls, 4);
    assert_close(state(opt, "0.n_iter"), 3, 0, 0);
    /* max_eval 0 is PyTorch's None: max_iter * 5 / 4 */
    cg_optim_free(opt);
    o.max_eval = 0, o.max_iter = 8;
    r.calls = 0;
    opt = cg_optim_lbfgs_new(r.p, 1, &o);
    assert_ok(cg_optim_step_closure(opt, rosen_closure, &r, NULL));
    assert_int_equal(r.calls, 8); /* max_iter ends it first: no evaluation after the last */
    cg_optim_free(opt);
    cg_tensor_free(r.p[0]);
}

/* The history keeps the last history_size pairs, oldest first. */
static void test_history_size(void **state_)
{
    (void)state_;
    rosen r = {{vec(CG_F64, START, 2)}, 1, 0, 0};
    cg_lbfgs_options o = wolfe();
    o.history_size = 2, o.max_iter = 8;
    cg_optimizer *opt = cg_optim_lbfgs_new(r.p, 1, &o);
    assert_ok(cg_optim_step_closure(opt, rosen_closure, &r, NULL));
    assert_close(state(opt, "0.num_old"), 2, 0, 0);
    for (int i = 0; i < cg_optim_state_count(opt); i++) {
        const char *n;
        cg_tensor *t = cg_optim_state_get(opt, i, &n);
        if (!strcmp(n, "0.old_dirs") || !strcmp(n, "0.old_stps")) {
            assert_int_equal(cg_tensor_size(t, 0), 2);
            assert_int_equal(cg_tensor_size(t, 1), 2);
        }
    }
    cg_optim_free(opt);
    cg_tensor_free(r.p[0]);
}

/* Several parameters are one flat vector: the same bits as a single parameter. */
static void test_flat_view(void **state_)
{
    (void)state_;
    const double x0[6] = {-1.2, 1, -0.5, 0.3, 1.5, 2};
    rosen one = {{vec(CG_F64, x0, 6)}, 1, 0, 0};
    rosen two = {{vec(CG_F64, x0, 2), vec(CG_F64, x0 + 2, 4)}, 2, 0, 0};
    cg_lbfgs_options o = wolfe();
    cg_optimizer *a = cg_optim_lbfgs_new(one.p, 1, &o), *b = cg_optim_lbfgs_new(two.p, 2, &o);
    for (int k = 0; k < 3; k++) {
        assert_ok(cg_optim_step_closure(a, rosen_closure, &one, NULL));
        assert_ok(cg_optim_step_closure(b, rosen_closure, &two, NULL));
    }
    double xa[6], xb[6];
    cg_tensor_to_f64(one.p[0], xa);
    cg_tensor_to_f64(two.p[0], xb);
    cg_tensor_to_f64(two.p[1], xb + 2);
    assert_memory_equal(xa, xb, sizeof xa);
    assert_int_equal(one.calls, two.calls);
    cg_optim_free(a), cg_optim_free(b);
    cg_tensor_free(one.p[0]), cg_tensor_free(two.p[0]), cg_tensor_free(two.p[1]);
}

/* Save after one call, load into a fresh optimizer over a copy of the point: the next
 * calls give the same bits. */
static void test_state_round_trip(void **state_)
{
    (void)state_;
    rosen a = {{vec(CG_F64, START, 2)}, 1, 0, 0};
    cg_lbfgs_options o = wolfe();
    o.max_iter = 5;
    cg_optimizer *oa = cg_optim_lbfgs_new(a.p, 1, &o);
    assert_ok(cg_optim_step_closure(oa, rosen_closure, &a, NULL));
    int n = cg_optim_state_count(oa);
    const char *names[16];
    cg_tensor *saved[16];
    assert_true(n <= 16);
    for (int i = 0; i < n; i++)
        saved[i] = cg_tensor_clone(cg_optim_state_get(oa, i, &names[i]));
    double x[2];
    cg_tensor_to_f64(a.p[0], x);
    rosen b = {{vec(CG_F64, x, 2)}, 1, 0, 0};
    cg_optimizer *ob = cg_optim_lbfgs_new(b.p, 1, &o);
    assert_ok(cg_optim_state_load(ob, names, saved, n));
    for (int k = 0; k < 3; k++) {
        assert_ok(cg_optim_step_closure(oa, rosen_closure, &a, NULL));
        assert_ok(cg_optim_step_closure(ob, rosen_closure, &b, NULL));
    }
    double xa[2], xb[2];
    cg_tensor_to_f64(a.p[0], xa);
    cg_tensor_to_f64(b.p[0], xb);
    assert_memory_equal(xa, xb, sizeof xa);
    assert_close(state(oa, "0.func_evals"), state(ob, "0.func_evals"), 0, 0);
    /* a history longer than history_size cannot be loaded into use */
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], "0.num_old"))
            cg_tensor_fill_(saved[i], 200);
    assert_ok(cg_optim_state_load(ob, names, saved, n));
    assert_int_equal(cg_optim_step_closure(ob, rosen_closure, &b, NULL), CG_ERR_STATE);
    assert_error_contains("more than history_size");
    for (int i = 0; i < n; i++)
        cg_tensor_free(saved[i]);
    cg_optim_free(oa), cg_optim_free(ob);
    cg_tensor_free(a.p[0]), cg_tensor_free(b.p[0]);
}

/* A closure that fails (NaN and an error) ends the step with its error; inside the line
 * search the parameters are left where the step started. */
static void test_failing_closure(void **state_)
{
    (void)state_;
    for (int fail_at = 1; fail_at <= 3; fail_at += 2) {
        rosen r = {{vec(CG_F64, START, 2)}, 1, 0, fail_at};
        cg_lbfgs_options o = wolfe();
        cg_optimizer *opt = cg_optim_lbfgs_new(r.p, 1, &o);
        cg_clear_error();
        assert_int_equal(cg_optim_step_closure(opt, rosen_closure, &r, NULL), CG_ERR_NULL);
        double x[2];
        cg_tensor_to_f64(r.p[0], x);
        if (fail_at == 1)
            assert_true(x[0] == START[0] && x[1] == START[1]);
        assert_true(isfinite(x[0]) && isfinite(x[1]));
        cg_optim_free(opt);
        cg_tensor_free(r.p[0]);
    }
}

/* Steps need a closure; the lr is a hyperparameter like any other. */
static void test_api(void **state_)
{
    (void)state_;
    rosen r = {{vec(CG_F64, START, 2)}, 1, 0, 0};
    cg_lbfgs_options o = cg_lbfgs_defaults();
    cg_optimizer *opt = cg_optim_lbfgs_new(r.p, 1, &o);
    assert_int_equal(cg_optim_step(opt), CG_ERR_STATE);
    assert_error_contains("cg_optim_step_closure");
    assert_close(cg_optim_lr(opt, 0), 1, 0, 0);
    assert_ok(cg_optim_set_lr(opt, 0, 0));
    assert_ok(cg_optim_step_closure(opt, rosen_closure, &r, NULL)); /* lr 0: no move */
    double x[2];
    cg_tensor_to_f64(r.p[0], x);
    assert_true(x[0] == START[0] && x[1] == START[1]);
    cg_optim_free(opt);
    o.tolerance_grad = -1;
    assert_null(cg_optim_lbfgs_new(r.p, 1, &o));
    assert_error_contains("tolerances must be >= 0");
    o = cg_lbfgs_defaults();
    o.line_search = (cg_line_search)7;
    assert_null(cg_optim_lbfgs_new(r.p, 1, &o));
    assert_error_contains("only 'strong_wolfe' is supported");
    cg_tensor_free(r.p[0]);
}

/* After construction, steps allocate nothing (the closure's tape is pooled). */
static void test_no_allocation(void **state_)
{
    (void)state_;
    rosen r = {{vec(CG_F64, START, 2)}, 1, 0, 0};
    cg_lbfgs_options o = wolfe();
    o.max_iter = 3;
    cg_optimizer *opt = cg_optim_lbfgs_new(r.p, 1, &o);
    assert_ok(cg_optim_step_closure(opt, rosen_closure, &r, NULL));
    uint64_t before = cg_alloc_get_stats().malloc_calls;
    for (int k = 0; k < 5; k++)
        assert_ok(cg_optim_step_closure(opt, rosen_closure, &r, NULL));
    assert_int_equal(cg_alloc_get_stats().malloc_calls, before);
    cg_optim_free(opt);
    cg_tensor_free(r.p[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_rosenbrock_converges), CG_TEST(test_gradient_tolerance),
        CG_TEST(test_evaluation_budget),    CG_TEST(test_history_size),
        CG_TEST(test_flat_view),            CG_TEST(test_state_round_trip),
        CG_TEST(test_failing_closure),      CG_TEST(test_api),
        CG_TEST(test_no_allocation),
    };
    return cmocka_run_group_tests_name("lbfgs", tests, NULL, NULL);
}
