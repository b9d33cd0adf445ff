/* Reductions (sum, mean, max, min, var, logsumexp, sum_to) and softmax/log_softmax:
 * values against plain loops, identities, gradients, edge cases, errors, and results
 * that do not depend on the thread count. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* Values in [-2, 2): wide enough that exp and log-sum-exp see a range of magnitudes. */
static cg_tensor *rand_tensor(cg_dtype dtype, int ndim, const int64_t *shape, uint64_t seed)
{
    return cg_test_uniform(dtype, ndim, shape, seed, -2.0, 2.0);
}

enum kind { K_SUM, K_MEAN, K_MAX, K_MIN, K_VAR, K_LSE };

static cg_tensor *run_kind(enum kind k, cg_tensor *x, const int *axes, int naxes, int corr,
                           bool keepdim)
{
    switch (k) {
    case K_SUM: return cg_sum(x, axes, naxes, keepdim);
    case K_MEAN: return cg_mean(x, axes, naxes, keepdim);
    case K_MAX: return cg_max(x, axes, naxes, keepdim);
    case K_MIN: return cg_min(x, axes, naxes, keepdim);
    case K_VAR: return cg_var(x, axes, naxes, corr, keepdim);
    case K_LSE: return cg_logsumexp(x, axes, naxes, keepdim);
    }
    return NULL;
}

/* Output index of logical element i of shape when the axes in mask are reduced. */
static int64_t out_index(int64_t i, int ndim, const int64_t *shape, unsigned mask)
{
    int64_t idx[8], j = 0;
    for (int d = ndim - 1; d >= 0; d--) {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    for (int d = 0; d < ndim; d++)
        if (!(mask & (1u << d)))
            j = j * shape[d] + idx[d];
    return j;
}

/* The reduction by plain loops, two passes where the maths needs them. */
static void reference(enum kind k, const double *x, int ndim, const int64_t *shape,
                      unsigned mask, int corr, double *out, int64_t nout)
{
    int64_t numel = 1, nred = 1;
    for (int d = 0; d < ndim; d++) {
        numel *= shape[d];
        if (mask & (1u << d))
            nred *= shape[d];
    }
    double *a = calloc((size_t)nout, sizeof(double)), *b = calloc((size_t)nout, sizeof(double));
    for (int64_t j = 0; j < nout; j++)
        a[j] = k == K_MAX || k == K_LSE ? -INFINITY : k == K_MIN ? INFINITY : 0.0;
    for (int64_t i = 0; i < numel; i++) {
        int64_t j = out_index(i, ndim, shape, mask);
        a[j] = k == K_MAX || k == K_LSE ? fmax(a[j], x[i]) : k == K_MIN ? fmin(a[j], x[i])
                                                                        : a[j] + x[i];
    }
    for (int64_t i = 0; i < numel; i++) {
        int64_t j = out_index(i, ndim, shape, mask);
        double mean = a[j] / nred;
        b[j] += k == K_VAR ? (x[i] - mean) * (x[i] - mean) : exp(x[i] - a[j]);
    }
    for (int64_t j = 0; j < nout; j++) {
        switch (k) {
        case K_SUM: case K_MAX: case K_MIN: out[j] = a[j]; break;
        case K_MEAN: out[j] = a[j] / nred; break;
        case K_VAR: out[j] = b[j] / (double)(nred - corr); break;
        case K_LSE: out[j] = a[j] + log(b[j]); break;
        }
    }
    free(a);
    free(b);
}

/* Reduce x over axes with and without keepdim and compare shape and values with the
 * loops. */
static void check_reduce(enum kind k, cg_tensor *x, const int *axes, int naxes, int corr,
                         double tol)
{
    int nd = cg_tensor_ndim(x);
    const int64_t *shape = cg_tensor_shape(x);
    unsigned mask = naxes == 0 ? (1u << nd) - 1 : 0;
    for (int i = 0; i < naxes; i++)
        mask |= 1u << (axes[i] < 0 ? axes[i] + nd : axes[i]);
    for (int keep = 0; keep < 2; keep++) {
        cg_tensor *y = run_kind(k, x, axes, naxes, corr, keep);
        assert_tensor(y);
        int want_nd = 0;
        for (int d = 0; d < nd; d++) {
            if (!(mask & (1u << d)) || keep) {
                int64_t want = mask & (1u << d) ? 1 : shape[d];
                assert_int_equal(cg_tensor_shape(y)[want_nd], want);
                want_nd++;
            }
        }
        assert_int_equal(cg_tensor_ndim(y), want_nd);
        double *xv = cg_test_values(x), *yv = cg_test_values(y);
        int64_t nout = cg_tensor_numel(y);
        double *ref = malloc(sizeof(double) * (size_t)nout);
        reference(k, xv, nd, shape, mask, corr, ref, nout);
        for (int64_t j = 0; j < nout; j++)
            assert_close(yv[j], ref[j], tol, tol);
        free(xv);
        free(yv);
        free(ref);
    }
}

static void test_reductions_against_loops(void **state)
{
    (void)state;
    static const int sets[][3] = {{0}, {1}, {2}, {0, 2}, {-1, -3}, {1, 2}, {2, 0, 1}, {-2}};
    static const int nsets[] = {1, 1, 1, 2, 2, 2, 3, 1};
    int64_t shape[] = {3, 4, 5};
    for (int dt = 0; dt < 2; dt++) {
        cg_tensor *x = rand_tensor(dt ? CG_F64 : CG_F32, 3, shape, 11);
        double tol = dt ? 1e-12 : 1e-5;
        for (enum kind k = K_SUM; k <= K_LSE; k++) {
            check_reduce(k, x, NULL, 0, 1, tol);
            for (size_t s = 0; s < sizeof nsets / sizeof *nsets; s++)
                check_reduce(k, x, sets[s], nsets[s], 1, tol);
        }
        check_reduce(K_VAR, x, sets[3], 2, 0, tol);
        cg_tensor_free(x);
    }
}

/* Strided inputs: a transposed view, reduced along each of its axes. */
static void test_reductions_of_views(void **state)
{
    (void)state;
    int64_t shape[] = {6, 40};
    cg_tensor *x = rand_tensor(CG_F64, 2, shape, 5);
    cg_tensor *xt = cg_transpose(x, 0, 1); /* [40, 6], strides (1, 40) */
    assert_tensor(xt);
    int a0 = 0, a1 = 1;
    for (enum kind k = K_SUM; k <= K_LSE; k++) {
        check_reduce(k, xt, &a0, 1, 1, 1e-12);
        check_reduce(k, xt, &a1, 1, 1, 1e-12);
        check_reduce(k, xt, NULL, 0, 1, 1e-12);
    }
    cg_tensor_free(x);
}

/* Shapes that take the engine's other paths: many columns reduced along the outer axis,
 * long rows split into blocks, and both at once. */
static void test_reduction_paths(void **state)
{
    (void)state;
    int64_t s1[] = {1000, 40}, s2[] = {3, 50000}, s3[] = {40000, 20}, s4[] = {100003};
    int a0 = 0, a1 = 1;
    cg_tensor *x1 = rand_tensor(CG_F32, 2, s1, 1), *x2 = rand_tensor(CG_F32, 2, s2, 2);
    cg_tensor *x3 = rand_tensor(CG_F64, 2, s3, 3), *x4 = rand_tensor(CG_F64, 1, s4, 4);
    for (enum kind k = K_SUM; k <= K_LSE; k++) {
        check_reduce(k, x1, &a0, 1, 1, 1e-5);
        check_reduce(k, x2, &a1, 1, 1, 1e-5);
        check_reduce(k, x3, &a0, 1, 1, 1e-10);
        check_reduce(k, x4, NULL, 0, 1, 1e-10);
    }
    cg_tensor_free(x1);
    cg_tensor_free(x2);
    cg_tensor_free(x3);
    cg_tensor_free(x4);
}

/* The same big sums, bit for bit, on 1, 2 and 3 threads. */
static void test_sum_independent_of_threads(void **state)
{
    (void)state;
    int64_t big[] = {1 << 21}, rows[] = {64, 40000}, cols[] = {40000, 20};
    cg_tensor *xs[3] = {rand_tensor(CG_F32, 1, big, 7), rand_tensor(CG_F32, 2, rows, 8),
                        rand_tensor(CG_F64, 2, cols, 9)};
    int axes[3] = {0, 1, 0};
    int naxes[3] = {0, 1, 1};
    for (int c = 0; c < 3; c++) {
        cg_tensor *y[3], *v[3];
        for (int t = 0; t < 3; t++) {
            cg_set_num_threads(t + 1);
            y[t] = cg_sum(xs[c], &axes[c], naxes[c], false);
            v[t] = cg_var(xs[c], &axes[c], naxes[c], 1, false);
            assert_tensor(y[t]);
            assert_tensor(v[t]);
        }
        size_t bytes = (size_t)cg_tensor_numel(y[0]) * cg_dtype_size(cg_tensor_dtype(y[0]));
        for (int t = 1; t < 3; t++) {
            assert_memory_equal(cg_tensor_data(y[0]), cg_tensor_data(y[t]), bytes);
            assert_memory_equal(cg_tensor_data(v[0]), cg_tensor_data(v[t]), bytes);
        }
    }
    cg_set_num_threads(0);
    for (int c = 0; c < 3; c++)
        cg_tensor_free(xs[c]);
}

/* After a first pass, the same reductions on a reset tape allocate nothing. */
static void test_steady_state_allocates_nothing(void **state)
{
    test_ctx *ctx = *state;
    int64_t shape[] = {3, 50000};
    cg_tensor *x = rand_tensor(CG_F32, 2, shape, 3);
    int a1 = 1;
    uint64_t calls = 0;
    for (int step = 0; step < 3; step++) {
        cg_tape_reset(ctx->tape);
        if (step == 2)
            calls = cg_alloc_get_stats().malloc_calls;
        assert_tensor(cg_sum(x, &a1, 1, false));
        assert_tensor(cg_var(x, NULL, 0, 1, true));
        assert_tensor(cg_logsumexp(x, &a1, 1, false));
        assert_tensor(cg_softmax(x, 1));
    }
    assert_int_equal(cg_alloc_get_stats().malloc_calls, calls);
    cg_tensor_free(x);
}

static void test_empty_reductions(void **state)
{
    (void)state;
    int64_t shape[] = {0, 3};
    cg_tensor *x = cg_tensor_zeros(CG_F32, 2, shape);
    int a0 = 0, a1 = 1;
    cg_tensor *s = cg_sum(x, &a0, 1, false), *m = cg_mean(x, &a0, 1, false);
    assert_tensor(s);
    assert_tensor(m);
    assert_int_equal(cg_tensor_numel(s), 3);
    for (int64_t i = 0; i < 3; i++) {
        assert_close(cg_tensor_get(s, &i), 0.0, 0, 0);
        assert_true(isnan(cg_tensor_get(m, &i)));
    }
    cg_tensor *l = cg_logsumexp(x, NULL, 0, false);
    assert_tensor(l);
    assert_true(isinf(cg_tensor_item(l)) && cg_tensor_item(l) < 0);
    assert_true(isnan(cg_tensor_item(cg_var(x, NULL, 0, 1, false))));
    /* reducing a non-empty axis of an empty tensor is fine: the result is empty */
    cg_tensor *e = cg_max(x, &a1, 1, false);
    assert_tensor(e);
    assert_int_equal(cg_tensor_numel(e), 0);
    assert_null(cg_max(x, &a0, 1, false));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_error_contains("max");
    assert_null(cg_min(x, NULL, 0, true));
    assert_error_contains("min");
    cg_tensor_free(x);
}

static void test_scalar_input(void **state)
{
    (void)state;
    cg_tensor *x = cg_tensor_scalar(CG_F64, 2.5);
    int a0 = 0, am1 = -1, a1 = 1;
    assert_close(cg_tensor_item(cg_sum(x, &a0, 1, false)), 2.5, 0, 0);
    assert_close(cg_tensor_item(cg_max(x, &am1, 1, true)), 2.5, 0, 0);
    assert_close(cg_tensor_item(cg_mean(x, NULL, 0, false)), 2.5, 0, 0);
    assert_close(cg_tensor_item(cg_logsumexp(x, NULL, 0, false)), 2.5, 0, 0);
    assert_close(cg_tensor_item(cg_var(x, NULL, 0, 0, false)), 0.0, 0, 0);
    assert_int_equal(cg_tensor_ndim(cg_sum(x, &a0, 1, true)), 0);
    assert_close(cg_tensor_item(cg_softmax(x, 0)), 1.0, 0, 0);
    assert_close(cg_tensor_item(cg_log_softmax(x, -1)), 0.0, 0, 0);
    assert_null(cg_sum(x, &a1, 1, false));
    assert_error_contains("sum");
    cg_tensor_free(x);
}

static void test_bad_inputs(void **state)
{
    (void)state;
    int64_t shape[] = {2, 3};
    cg_tensor *x = cg_tensor_ones(CG_F32, 2, shape);
    int bad = 2, rep[] = {0, -2}, neg = -3;
    assert_null(cg_sum(x, &bad, 1, false));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_error_contains("sum");
    assert_error_contains("[2, 3]");
    assert_null(cg_mean(x, &neg, 1, false));
    assert_error_contains("mean");
    assert_null(cg_var(x, rep, 2, 1, false));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_error_contains("var");
    assert_error_contains("repeated");
    assert_null(cg_logsumexp(x, NULL, 1, false));
    assert_error_contains("logsumexp");
    assert_null(cg_softmax(x, 2));
    assert_error_contains("softmax");
    cg_tensor *i = cg_tensor_zeros(CG_I64, 2, shape);
    assert_null(cg_sum(i, NULL, 0, false));
    assert_int_equal(cg_last_status(), CG_ERR_DTYPE);
    assert_error_contains("sum");
    assert_null(cg_log_softmax(i, 0));
    assert_error_contains("log_softmax");
    /* NULL in, NULL out, first message kept */
    cg_clear_error();
    assert_null(cg_max(NULL, NULL, 0, false));
    assert_int_equal(cg_last_status(), CG_ERR_NULL);
    int64_t bad_shape[] = {4};
    assert_null(cg_sum_to(x, 1, bad_shape));
    assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
    assert_error_contains("sum_to");
    cg_tensor_free(i);
    cg_tensor_free(x);
}

/* Gradient of sum(x * w) for a reduction y of x: backward with grad_output w. */
static double *grad_of(cg_tensor *x, cg_tensor *y, cg_tensor *w)
{
    cg_tensor_zero_grad(x);
    assert_ok(cg_backward(y, w));
    cg_tensor *g = cg_tensor_grad(x);
    assert_tensor(g);
    return cg_test_values(g);
}

static void test_sum_mean_backward(void **state)
{
    (void)state;
    int64_t shape[] = {2, 3}, two = 2;
    double xs[] = {1, 2, 3, 4, 5, 6}, ws[] = {10, 20};
    cg_tensor *x = cg_tensor_from_data(CG_F64, 2, shape, xs);
    cg_tensor *w = cg_tensor_from_data(CG_F64, 1, &two, ws);
    assert_ok(cg_tensor_set_requires_grad(x, true));
    int a1 = 1;
    double *g = grad_of(x, cg_sum(x, &a1, 1, false), w);
    for (int i = 0; i < 6; i++)
        assert_close(g[i], ws[i / 3], 0, 0);
    free(g);
    g = grad_of(x, cg_mean(x, &a1, 1, false), w);
    for (int i = 0; i < 6; i++)
        assert_close(g[i], ws[i / 3] / 3, 1e-15, 0);
    free(g);
    g = grad_of(x, cg_sum(x, NULL, 0, false), NULL);
    for (int i = 0; i < 6; i++)
        assert_close(g[i], 1.0, 0, 0);
    free(g);
    cg_tensor_free(w);
    cg_tensor_free(x);
}

static void test_max_ties_share_gradient(void **state)
{
    (void)state;
    int64_t shape[] = {2, 4};
    double xs[] = {1, 3, 3, 2, 5, 5, 5, 0};
    cg_tensor *x = cg_tensor_from_data(CG_F64, 2, shape, xs);
    assert_ok(cg_tensor_set_requires_grad(x, true));
    int a1 = 1;
    double *g = grad_of(x, cg_sum(cg_max(x, &a1, 1, false), NULL, 0, false), NULL);
    double want[] = {0, 0.5, 0.5, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3, 0};
    for (int i = 0; i < 8; i++)
        assert_close(g[i], want[i], 1e-15, 0);
    free(g);
    /* the whole-tensor max ties between three fives */
    cg_tensor *m = cg_max(x, NULL, 0, true);
    assert_close(cg_tensor_item(m), 5, 0, 0);
    g = grad_of(x, cg_sum(m, NULL, 0, false), NULL);
    for (int i = 0; i < 8; i++)
        assert_close(g[i], xs[i] == 5 ? 1.0 / 3 : 0, 1e-15, 0);
    free(g);
    g = grad_of(x, cg_sum(cg_min(x, &a1, 1, true), NULL, 0, false), NULL);
    double want_min[] = {1, 0, 0, 0, 0, 0, 0, 1};
    for (int i = 0; i < 8; i++)
        assert_close(g[i], want_min[i], 0, 0);
    free(g);
    cg_tensor_free(x);
}

static void test_var_correction(void **state)
{
    (void)state;
    int64_t n = 4, one = 1;
    double xs[] = {1, 2, 3, 4};
    cg_tensor *x = cg_tensor_from_data(CG_F64, 1, &n, xs);
    assert_ok(cg_tensor_set_requires_grad(x, true));
    assert_close(cg_tensor_item(cg_var(x, NULL, 0, 1, false)), 5.0 / 3, 1e-15, 0);
    assert_close(cg_tensor_item(cg_var(x, NULL, 0, 0, false)), 1.25, 1e-15, 0);
    double *g = grad_of(x, cg_var(x, NULL, 0, 1, false), NULL);
    for (int i = 0; i < 4; i++)
        assert_close(g[i], 2 * (xs[i] - 2.5) / 3, 1e-15, 0);
    free(g);
    g = grad_of(x, cg_var(x, NULL, 0, 0, false), NULL);
    for (int i = 0; i < 4; i++)
        assert_close(g[i], 2 * (xs[i] - 2.5) / 4, 1e-15, 0);
    free(g);
    /* one element: no degrees of freedom left with correction 1 */
    cg_tensor *s = cg_tensor_from_data(CG_F64, 1, &one, xs);
    assert_true(isnan(cg_tensor_item(cg_var(s, NULL, 0, 1, false))));
    assert_close(cg_tensor_item(cg_var(s, NULL, 0, 0, false)), 0.0, 0, 0);
    cg_tensor_free(s);
    cg_tensor_free(x);
}

static double lse_of(double a, double b)
{
    double v[] = {a, b};
    int64_t n = 2;
    cg_tensor *x = cg_tensor_from_data(CG_F64, 1, &n, v);
    double r = cg_tensor_item(cg_logsumexp(x, NULL, 0, false));
    cg_tensor_free(x);
    return r;
}

static void test_logsumexp_stable(void **state)
{
    (void)state;
    assert_close(lse_of(1000, 1000), 1000 + log(2.0), 1e-12, 0);
    assert_close(lse_of(-1000, -1000), -1000 + log(2.0), 1e-12, 0);
    assert_close(lse_of(1000, 0), 1000, 1e-12, 0);
    double l = lse_of(-INFINITY, -INFINITY);
    assert_true(isinf(l) && l < 0);
    l = lse_of(INFINITY, 1);
    assert_true(isinf(l) && l > 0);
    assert_close(lse_of(-INFINITY, 3), 3, 0, 0);
    assert_true(isnan(lse_of(NAN, 3)));
    /* f32 holds it too */
    int64_t n = 3;
    float fs[] = {88.0f, 88.0f, 87.0f};
    cg_tensor *x = cg_tensor_from_data(CG_F32, 1, &n, fs);
    assert_ok(cg_tensor_set_requires_grad(x, true));
    cg_tensor *y = cg_logsumexp(x, NULL, 0, false);
    double want = 88 + log(2 + exp(-1.0));
    assert_close(cg_tensor_item(y), want, 1e-5, 0);
    /* the gradient is the softmax (exp of an f32 difference near 88: about 1e-5 off) */
    double *g = grad_of(x, y, NULL);
    for (int i = 0; i < 3; i++)
        assert_close(g[i], exp(fs[i] - want), 0, 3e-5);
    free(g);
    cg_tensor_free(x);
}

static void test_softmax_rows_sum_to_one(void **state)
{
    (void)state;
    int64_t shape[] = {5, 7};
    for (int dt = 0; dt < 2; dt++) {
        cg_tensor *x = rand_tensor(dt ? CG_F64 : CG_F32, 2, shape, 21);
        for (int axis = -1; axis <= 0; axis++) {
            cg_tensor *y = cg_softmax(x, axis);
            int ax = axis;
            double *s = cg_test_values(cg_sum(y, &ax, 1, false));
            int64_t rows = axis == 0 ? 7 : 5;
            for (int64_t r = 0; r < rows; r++)
                assert_close(s[r], 1.0, dt ? 1e-15 : 1e-6, 0);
            free(s);
            /* log_softmax == log(softmax) */
            double *a = cg_test_values(cg_log_softmax(x, axis)), *b = cg_test_values(cg_log(y));
            for (int i = 0; i < 35; i++)
                assert_close(a[i], b[i], dt ? 1e-14 : 1e-6, 0);
            free(a);
            free(b);
        }
        cg_tensor_free(x);
    }
}

static void test_softmax_stable(void **state)
{
    (void)state;
    int64_t n = 3;
    double xs[] = {1000, 1000, -1000};
    cg_tensor *x = cg_tensor_from_data(CG_F64, 1, &n, xs);
    double *y = cg_test_values(cg_softmax(x, 0)), *l = cg_test_values(cg_log_softmax(x, 0));
    assert_close(y[0], 0.5, 1e-15, 0);
    assert_close(y[1], 0.5, 1e-15, 0);
    assert_close(y[2], 0.0, 0, 0);
    assert_close(l[0], -log(2.0), 1e-15, 0);
    assert_close(l[2], -2000 - log(2.0), 1e-12, 0);
    free(y);
    free(l);
    float fs[] = {-1000.0f, -1000.0f, -1001.0f};
    cg_tensor *f = cg_tensor_from_data(CG_F32, 1, &n, fs);
    y = cg_test_values(cg_softmax(f, -1));
    double e = exp(-1.0);
    assert_close(y[0], 1 / (2 + e), 1e-6, 0);
    assert_close(y[2], e / (2 + e), 1e-6, 0);
    free(y);
    cg_tensor_free(f);
    cg_tensor_free(x);
}

/* softmax: dx = y (g - sum(g y)); log_softmax: dx = g - softmax sum(g). */
static void test_softmax_backward(void **state)
{
    (void)state;
    int64_t shape[] = {2, 3};
    double xs[] = {0.5, -1, 2, 0, 0.25, 1}, gs[] = {1, -2, 0.5, 3, 0, -1};
    cg_tensor *x = cg_tensor_from_data(CG_F64, 2, shape, xs);
    cg_tensor *w = cg_tensor_from_data(CG_F64, 2, shape, gs);
    assert_ok(cg_tensor_set_requires_grad(x, true));
    double y[6];
    for (int r = 0; r < 2; r++) {
        double s = 0;
        for (int c = 0; c < 3; c++)
            s += exp(xs[3 * r + c]);
        for (int c = 0; c < 3; c++)
            y[3 * r + c] = exp(xs[3 * r + c]) / s;
    }
    double *g = grad_of(x, cg_softmax(x, 1), w);
    for (int r = 0; r < 2; r++) {
        double gy = 0;
        for (int c = 0; c < 3; c++)
            gy += gs[3 * r + c] * y[3 * r + c];
        for (int c = 0; c < 3; c++)
            assert_close(g[3 * r + c], y[3 * r + c] * (gs[3 * r + c] - gy), 1e-14, 0);
    }
    free(g);
    g = grad_of(x, cg_log_softmax(x, -1), w);
    for (int r = 0; r < 2; r++) {
        double sg = gs[3 * r] + gs[3 * r + 1] + gs[3 * r + 2];
        for (int c = 0; c < 3; c++)
            assert_close(g[3 * r + c], gs[3 * r + c] - y[3 * r + c] * sg, 1e-14, 0);
    }
    free(g);
    cg_tensor_free(w);
    cg_tensor_free(x);
}

static void test_sum_to(void **state)
{
    (void)state;
    int64_t shape[] = {2, 3, 4}, to1[] = {3, 1}, to2[] = {4}, to3[] = {1, 1, 4};
    cg_tensor *x = rand_tensor(CG_F64, 3, shape, 31);
    double *xv = cg_test_values(x);
    double *a = cg_test_values(cg_sum_to(x, 2, to1));
    for (int j = 0; j < 3; j++) {
        double s = 0;
        for (int i = 0; i < 2; i++)
            for (int k = 0; k < 4; k++)
                s += xv[i * 12 + j * 4 + k];
        assert_close(a[j], s, 1e-12, 0);
    }
    free(a);
    cg_tensor *b = cg_sum_to(x, 1, to2), *c = cg_sum_to(x, 3, to3);
    assert_int_equal(cg_tensor_ndim(b), 1);
    assert_int_equal(cg_tensor_ndim(c), 3);
    double *bv = cg_test_values(b), *cv = cg_test_values(c);
    for (int k = 0; k < 4; k++) {
        double s = 0;
        for (int i = 0; i < 6; i++)
            s += xv[i * 4 + k];
        assert_close(bv[k], s, 1e-12, 0);
        assert_close(cv[k], s, 1e-12, 0);
    }
    free(bv);
    free(cv);
    free(xv);
    assert_ptr_equal(cg_sum_to(x, 3, shape), x);
    cg_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_reductions_against_loops),
        CG_TEST(test_reductions_of_views),
        CG_TEST(test_reduction_paths),
        CG_TEST(test_sum_independent_of_threads),
        CG_TEST(test_steady_state_allocates_nothing),
        CG_TEST(test_empty_reductions),
        CG_TEST(test_scalar_input),
        CG_TEST(test_bad_inputs),
        CG_TEST(test_sum_mean_backward),
        CG_TEST(test_max_ties_share_gradient),
        CG_TEST(test_var_correction),
        CG_TEST(test_logsumexp_stable),
        CG_TEST(test_softmax_rows_sum_to_one),
        CG_TEST(test_softmax_stable),
        CG_TEST(test_softmax_backward),
        CG_TEST(test_sum_to),
    };
    return cmocka_run_group_tests_name("reduce", tests, NULL, NULL);
}
