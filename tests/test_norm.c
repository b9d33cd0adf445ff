/* Normalizations (lib/nn/norm.c): normalized outputs have mean 0 and variance 1 per
 * channel / sample / group / instance; running statistics follow PyTorch's recurrence
 * over several training steps; evaluation uses them; updating them never breaks a
 * backward pass; dataset statistics against hand computation; every bad input gives NULL
 * with a message naming the op and the shapes. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static cg_tensor *randn(cg_dtype dt, int ndim, const int64_t *shape, uint64_t seed, double mean,
                        double sd)
{
    cg_rng rng = cg_rng_init(seed);
    cg_tensor *t = cg_tensor_normal(&rng, dt, ndim, shape, mean, sd);
    assert_tensor(t);
    return t;
}

/* Mean and biased variance of the elements of the row-major view of t (shape
 * [outer, mid, inner]) at middle index j, over outer and inner when across_outer, else of
 * block (o, j) only. */
static void moments(const double *v, int64_t outer, int64_t mid, int64_t inner, int64_t o,
                    int64_t j, bool across_outer, double *mean, double *var)
{
    double s = 0, ss = 0;
    int64_t n = 0;
    for (int64_t a = across_outer ? 0 : o; a < (across_outer ? outer : o + 1); a++)
        for (int64_t k = 0; k < inner; k++, n++)
            s += v[(a * mid + j) * inner + k];
    *mean = s / (double)n;
    for (int64_t a = across_outer ? 0 : o; a < (across_outer ? outer : o + 1); a++)
        for (int64_t k = 0; k < inner; k++) {
            double d = v[(a * mid + j) * inner + k] - *mean;
            ss += d * d;
        }
    *var = ss / (double)n;
}

/* Every (o, j) block (or every j across o) of y has mean 0 and variance 1. */
static void assert_standardized(const cg_tensor *y, int64_t outer, int64_t mid, int64_t inner,
                                bool across_outer, double tol)
{
    double *v = cg_test_values(y);
    for (int64_t o = 0; o < (across_outer ? 1 : outer); o++)
        for (int64_t j = 0; j < mid; j++) {
            double m, var;
            moments(v, outer, mid, inner, o, j, across_outer, &m, &var);
            assert_close(m, 0.0, tol, 0);
            assert_close(var, 1.0, tol, tol);
        }
    free(v);
}

static void assert_all_close(const cg_tensor *a, const cg_tensor *b, double tol)
{
    double *x = cg_test_values(a), *y = cg_test_values(b);
    assert_int_equal(cg_tensor_numel(a), cg_tensor_numel(b));
    for (int64_t i = 0; i < cg_tensor_numel(a); i++)
        assert_close(x[i], y[i], tol, tol);
    free(x);
    free(y);
}

/* ---- batch norm ---- */

static void test_batch_norm_standardizes(void **state)
{
    (void)state;
    int64_t s2[2] = {8, 3}, s3[3] = {4, 3, 5}, s4[4] = {2, 3, 4, 2};
    for (int k = 0; k < 2; k++) {
        cg_dtype dt = k ? CG_F32 : CG_F64;
        double tol = k ? 1e-5 : 1e-12;
        cg_tensor *x2 = randn(dt, 2, s2, 1, 3.0, 2.0), *x3 = randn(dt, 3, s3, 2, -1.0, 0.5);
        cg_tensor *x4 = randn(dt, 4, s4, 3, 0.0, 4.0);
        assert_standardized(cg_batch_norm(x2, NULL, NULL, NULL, NULL, true, 0.1, 0), 8, 3, 1, true, tol);
        assert_standardized(cg_batch_norm(x3, NULL, NULL, NULL, NULL, true, 0.1, 0), 4, 3, 5, true, tol);
        assert_standardized(cg_batch_norm(x4, NULL, NULL, NULL, NULL, true, 0.1, 0), 2, 3, 8, true, tol);
        cg_tensor_free(x2);
        cg_tensor_free(x3);
        cg_tensor_free(x4);
    }
}

/* Affine parameters scale and shift each channel: y = w z + b. */
static void test_batch_norm_affine(void **state)
{
    (void)state;
    int64_t shape[3] = {3, 2, 4}, c = 2;
    cg_tensor *x = randn(CG_F64, 3, shape, 4, 1.0, 2.0);
    cg_tensor *w = cg_tensor_from_data(CG_F64, 1, &c, (double[]){2.0, -0.5});
    cg_tensor *b = cg_tensor_from_data(CG_F64, 1, &c, (double[]){1.0, 3.0});
    cg_tensor *z = cg_batch_norm(x, NULL, NULL, NULL, NULL, true, 0.1, 1e-5);
    cg_tensor *y = cg_batch_norm(x, NULL, NULL, w, b, true, 0.1, 1e-5);
    cg_tensor *want = cg_add(cg_mul(z, cg_reshape(w, 3, (int64_t[]){1, 2, 1})),
                             cg_reshape(b, 3, (int64_t[]){1, 2, 1}));
    assert_all_close(y, want, 1e-13);
    cg_tensor_free(x);
    cg_tensor_free(w);
    cg_tensor_free(b);
}

/* ---- the fused batch norm against its composition ---- */

/* Batch norm in training written with ops: the composition the fused ops replace. */
static cg_tensor *bn_composed(cg_tensor *x, cg_tensor *w, cg_tensor *b, double eps)
{
    int nd = cg_tensor_ndim(x), axes[8], n = 0;
    int64_t shape[8];
    for (int d = 0; d < nd; d++) {
        if (d != 1)
            axes[n++] = d;
        shape[d] = d == 1 ? cg_tensor_size(x, 1) : 1;
    }
    cg_tensor *mean = cg_mean(x, axes, n, true);
    cg_tensor *inv = cg_rsqrt(cg_add_scalar(cg_var(x, axes, n, 0, true), eps));
    cg_tensor *z = cg_mul(cg_sub(x, mean), inv);
    return cg_add(cg_mul(z, cg_reshape(w, nd, shape)), cg_reshape(b, nd, shape));
}

/* y and the gradients of <g, y> for x, w, b, by the fused ops (fused) or the composition;
 * out[0] is y, out[1..3] the gradients. */
static void bn_run(cg_tensor *x, cg_tensor *w, cg_tensor *b, cg_tensor *g, bool fused,
                   cg_tensor **out)
{
    cg_tensor *y = fused ? cg_batch_norm(x, NULL, NULL, w, b, true, 0.1, 1e-5)
                         : bn_composed(x, w, b, 1e-5);
    assert_tensor(y);
    cg_tensor *in[3] = {x, w, b};
    assert_ok(cg_grad(&y, 1, &g, in, 3, out + 1, NULL));
    out[0] = y;
}

/* A batch-norm input: the stored tensor (caller-owned, requires grad) and the view of it
 * the op sees. how: 0 as stored, 1 stored [N, H, W, C] (channels last: strided runs),
 * 2 trailing dimensions swapped (copied first), 3 every other element of the last
 * dimension (runs of stride 2). */
static cg_tensor *bn_view(cg_tensor *stored, int how)
{
    switch (how) {
    case 1: return cg_permute(stored, (int[]){0, 3, 1, 2});
    case 2: return cg_transpose(stored, 2, 3);
    case 3: return cg_slice(stored, cg_tensor_ndim(stored) - 1, 0, cg_tensor_size(stored, -1), 2);
    default: return stored;
    }
}

typedef struct bn_case {
    int ndim;
    int64_t shape[4]; /* stored shape */
    int how;          /* see bn_view */
    double offset;    /* added to the input: the statistics must not lose it */
    int gview;        /* incoming gradient: 0 contiguous, 1 broadcast from [C], 2 transposed */
} bn_case;

static void check_bn_case(const bn_case *k, cg_dtype dt, uint64_t seed)
{
    cg_tensor *stored = randn(dt, k->ndim, k->shape, seed, k->offset, 2.0);
    cg_tensor_set_requires_grad(stored, true);
    cg_tensor *x = bn_view(stored, k->how);
    int nd = cg_tensor_ndim(x);
    int64_t c = cg_tensor_size(x, 1), xs[4];
    for (int d = 0; d < nd; d++)
        xs[d] = cg_tensor_size(x, d);
    cg_tensor *w = randn(dt, 1, &c, seed + 1, 1.0, 0.5), *b = randn(dt, 1, &c, seed + 2, 0, 1);
    cg_tensor_set_requires_grad(w, true);
    cg_tensor_set_requires_grad(b, true);
    cg_tensor *gs = NULL, *g;
    if (k->gview == 1) {
        gs = randn(dt, 1, &c, seed + 3, 0, 1);
        int64_t cs[4] = {1, c, 1, 1};
        g = cg_expand(cg_reshape(gs, nd, cs), nd, xs);
    } else if (k->gview == 2) {
        int64_t ts[4] = {xs[0], xs[1], xs[3], xs[2]};
        gs = randn(dt, nd, ts, seed + 3, 0, 1);
        g = cg_transpose(gs, 2, 3);
    } else {
        gs = randn(dt, nd, xs, seed + 3, 0, 1);
        g = gs;
    }
    cg_tensor *got[4], *want[4];
    bn_run(x, w, b, g, true, got);
    bn_run(x, w, b, g, false, want);
    double tol = dt == CG_F64 ? 1e-12 : 3e-5;
    for (int i = 0; i < 4; i++)
        assert_all_close(got[i], want[i], tol * (1 + fabs(k->offset)));
    cg_tensor_free(stored);
    cg_tensor_free(w);
    cg_tensor_free(b);
    cg_tensor_free(gs);
}

/* The fused ops agree with the composition on every layout and path: one value per
 * (sample, channel) ([N, C]), runs that are no multiple of the vector width, runs longer
 * than a statistics block (merged), strided and copied views, broadcast and transposed
 * incoming gradients, data far from 0; in f64 and f32. */
static void test_batch_norm_fused_matches_composition(void **state)
{
    (void)state;
    static const bn_case cases[] = {
        {2, {37, 5}, 0, 0, 0},
        {3, {3, 4, 13}, 0, 0, 0},
        {4, {2, 3, 71, 73}, 0, 0, 0},
        {4, {2, 5, 7, 3}, 1, 0, 0},
        {4, {2, 3, 5, 7}, 2, 0, 0},
        {3, {3, 2, 21}, 3, 0, 0},
        {4, {4, 3, 5, 6}, 0, 0, 1},
        {4, {3, 2, 6, 5}, 0, 0, 2},
        {3, {16, 3, 9}, 0, 1e3, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        check_bn_case(&cases[i], CG_F64, 100 + i);
        check_bn_case(&cases[i], CG_F32, 200 + i);
    }
}

/* Statistics of data far from 0 (mean 1e6, sd 1 in f64: a sum of squares would keep
 * about 4 digits of the variance), read back through running statistics with momentum 1. */
static void test_batch_norm_stats_far_from_zero(void **state)
{
    (void)state;
    int64_t shape[3] = {8, 2, 1000}, c = 2;
    cg_tensor *x = randn(CG_F64, 3, shape, 11, 1e6, 1.0);
    cg_tensor *rm = cg_tensor_zeros(CG_F64, 1, &c), *rv = cg_tensor_ones(CG_F64, 1, &c);
    assert_tensor(cg_batch_norm(x, rm, rv, NULL, NULL, true, 1.0, 1e-5));
    double *xv = cg_test_values(x), *gm = cg_test_values(rm), *gv = cg_test_values(rv);
    for (int64_t j = 0; j < c; j++) {
        double mean, var;
        moments(xv, 8, 2, 1000, 0, j, true, &mean, &var);
        assert_close(gm[j], mean, 0, 1e-14);
        assert_close(gv[j], var * 8000.0 / 7999.0, 0, 1e-13);
    }
    free(xv);
    free(gm);
    free(gv);
    cg_tensor_free(x);
    cg_tensor_free(rm);
    cg_tensor_free(rv);
}

/* Large enough to run on several threads: the same bits on 1 and 2 threads. */
static void test_batch_norm_threads_bit_identical(void **state)
{
    (void)state;
    int saved = cg_get_num_threads();
    int64_t shape[4] = {16, 6, 33, 31}, c = 6;
    for (int k = 0; k < 2; k++) {
        cg_dtype dt = k ? CG_F32 : CG_F64;
        cg_tensor *x = randn(dt, 4, shape, 7, 0.5, 2.0), *g = randn(dt, 4, shape, 8, 0, 1);
        cg_tensor *w = randn(dt, 1, &c, 9, 1, 0.5), *b = randn(dt, 1, &c, 10, 0, 1);
        cg_tensor_set_requires_grad(x, true);
        cg_tensor_set_requires_grad(w, true);
        cg_tensor_set_requires_grad(b, true);
        cg_tensor *r[2][4];
        for (int t = 0; t < 2; t++) {
            cg_set_num_threads(t + 1);
            bn_run(x, w, b, g, true, r[t]);
        }
        cg_set_num_threads(saved);
        for (int i = 0; i < 4; i++) {
            size_t bytes = (size_t)cg_tensor_numel(r[0][i]) * (dt == CG_F32 ? 4 : 8);
            cg_tensor *a = cg_contiguous(r[0][i]), *bb = cg_contiguous(r[1][i]);
            assert_memory_equal(cg_tensor_data(a), cg_tensor_data(bb), bytes);
        }
        cg_tensor_free(x);
        cg_tensor_free(g);
        cg_tensor_free(w);
        cg_tensor_free(b);
    }
}

/* Running statistics after several steps follow
 *   running = (1 - m) running + m stat, stat = batch mean / unbiased batch variance. */
static void test_batch_norm_running_stats(void **state)
{
    (void)state;
    int64_t shape[3] = {4, 3, 2}, c = 3;
    cg_tensor *rm = cg_tensor_zeros(CG_F64, 1, &c), *rv = cg_tensor_ones(CG_F64, 1, &c);
    double hm[3] = {0, 0, 0}, hv[3] = {1, 1, 1}, m = 0.3;
    for (int step = 0; step < 4; step++) {
        cg_tensor *x = randn(CG_F64, 3, shape, 10 + (uint64_t)step, step, 1.0 + step);
        uint64_t v0 = cg_tensor_version(rm);
        assert_tensor(cg_batch_norm(x, rm, rv, NULL, NULL, true, m, 1e-5));
        assert_true(cg_tensor_version(rm) > v0);
        double *xv = cg_test_values(x);
        for (int64_t j = 0; j < c; j++) {
            double mean, var;
            moments(xv, 4, 3, 2, 0, j, true, &mean, &var);
            hm[j] = (1 - m) * hm[j] + m * mean;
            hv[j] = (1 - m) * hv[j] + m * var * 8.0 / 7.0;
        }
        free(xv);
        cg_tensor_free(x);
    }
    double *gm = cg_test_values(rm), *gv = cg_test_values(rv);
    for (int j = 0; j < 3; j++) {
        assert_close(gm[j], hm[j], 1e-13, 1e-13);
        assert_close(gv[j], hv[j], 1e-13, 1e-13);
    }
    free(gm);
    free(gv);
    cg_tensor_free(rm);
    cg_tensor_free(rv);
}

/* Evaluation: (x - running_mean) / sqrt(running_var + eps) w + b, by hand; the running
 * statistics are not changed. */
static void test_batch_norm_eval_uses_running_stats(void **state)
{
    (void)state;
    int64_t shape[2] = {3, 2}, c = 2;
    cg_tensor *x = cg_tensor_from_data(CG_F64, 2, shape, (double[]){1, 2, 3, 4, 5, 6});
    cg_tensor *rm = cg_tensor_from_data(CG_F64, 1, &c, (double[]){0.5, -1.0});
    cg_tensor *rv = cg_tensor_from_data(CG_F64, 1, &c, (double[]){4.0, 0.25});
    cg_tensor *w = cg_tensor_from_data(CG_F64, 1, &c, (double[]){2.0, 1.0});
    cg_tensor *b = cg_tensor_from_data(CG_F64, 1, &c, (double[]){0.0, -1.0});
    uint64_t v0 = cg_tensor_version(rm);
    double *y = cg_test_values(cg_batch_norm(x, rm, rv, w, b, false, 0.1, 1e-5));
    const double *xv = cg_tensor_data(x), *mv = cg_tensor_data(rm), *vv = cg_tensor_data(rv),
                 *wv = cg_tensor_data(w), *bv = cg_tensor_data(b);
    for (int i = 0; i < 6; i++) {
        int j = i % 2;
        assert_close(y[i], (xv[i] - mv[j]) / sqrt(vv[j] + 1e-5) * wv[j] + bv[j], 1e-14, 1e-14);
    }
    assert_int_equal(cg_tensor_version(rm), v0);
    free(y);
    cg_tensor *objs[] = {x, rm, rv, w, b};
    for (int i = 0; i < 5; i++)
        cg_tensor_free(objs[i]);
}

/* Training: the running statistics are updated under no-grad and are not saved by the
 * graph, so updating them again (a second step) leaves the first step's backward intact,
 * with the same gradients as without running statistics. */
static void test_running_update_keeps_backward(void **state)
{
    (void)state;
    int64_t shape[2] = {5, 3}, c = 3;
    cg_tensor *x = randn(CG_F64, 2, shape, 20, 0.0, 1.0);
    cg_tensor *w = randn(CG_F64, 1, &c, 21, 1.0, 0.1), *gout = randn(CG_F64, 2, shape, 22, 0, 1);
    cg_tensor *rm = cg_tensor_zeros(CG_F64, 1, &c), *rv = cg_tensor_ones(CG_F64, 1, &c);
    assert_ok(cg_tensor_set_requires_grad(x, true));
    assert_ok(cg_tensor_set_requires_grad(w, true));
    cg_tensor *y = cg_batch_norm(x, rm, rv, w, NULL, true, 0.1, 1e-5);
    assert_tensor(cg_batch_norm(x, rm, rv, w, NULL, true, 0.1, 1e-5));
    assert_ok(cg_tensor_fill_(rm, 7.0));
    cg_tensor *ref = cg_batch_norm(x, NULL, NULL, w, NULL, true, 0.1, 1e-5);
    cg_tensor *in[2] = {x, w}, *g[2], *gr[2];
    assert_ok(cg_grad(&y, 1, &gout, in, 2, g, NULL));
    assert_ok(cg_grad(&ref, 1, &gout, in, 2, gr, NULL));
    assert_all_close(g[0], gr[0], 0);
    assert_all_close(g[1], gr[1], 0);
    cg_tensor *objs[] = {x, w, gout, rm, rv};
    for (int i = 0; i < 5; i++)
        cg_tensor_free(objs[i]);
}

/* Evaluation: the graph keeps a copy of the running statistics taken at the call, so an
 * update afterwards neither breaks its backward nor changes its gradients. */
static void test_eval_graph_after_update(void **state)
{
    (void)state;
    int64_t shape[2] = {4, 2}, c = 2;
    cg_tensor *x = randn(CG_F64, 2, shape, 30, 0.0, 1.0), *gout = randn(CG_F64, 2, shape, 31, 0, 1);
    cg_tensor *rm = randn(CG_F64, 1, &c, 32, 0, 1), *rv = cg_tensor_full(CG_F64, 1, &c, 2.0);
    cg_tensor *w = cg_tensor_full(CG_F64, 1, &c, 1.5);
    assert_ok(cg_tensor_set_requires_grad(x, true));
    assert_ok(cg_tensor_set_requires_grad(w, true));
    cg_tensor *in[2] = {x, w}, *g[2], *g2[2];
    cg_tensor *y = cg_batch_norm(x, rm, rv, w, NULL, false, 0.1, 1e-5);
    assert_ok(cg_grad(&y, 1, &gout, in, 2, g, NULL));
    assert_ok(cg_tensor_fill_(rm, 3.0));
    assert_ok(cg_tensor_fill_(rv, 9.0));
    assert_ok(cg_grad(&y, 1, &gout, in, 2, g2, NULL));
    assert_all_close(g[0], g2[0], 0);
    assert_all_close(g[1], g2[1], 0);
    cg_tensor *objs[] = {x, gout, rm, rv, w};
    for (int i = 0; i < 5; i++)
        cg_tensor_free(objs[i]);
}

static void expect_error(cg_tensor *r, cg_status st, const char *a, const char *b, const char *c)
{
    assert_null(r);
    if (cg_last_status() != st)
        fail_msg("status %s, expected %s: %s", cg_status_string(cg_last_status()),
                 cg_status_string(st), cg_last_error());
    assert_error_contains(a);
    if (b)
        assert_error_contains(b);
    if (c)
        assert_error_contains(c);
    cg_clear_error();
}

static void test_batch_norm_errors(void **state)
{
    (void)state;
    int64_t c3 = 3, c4 = 4;
    cg_tensor *one = cg_tensor_ones(CG_F64, 2, (int64_t[]){1, 3});
    cg_tensor *one3 = cg_tensor_ones(CG_F64, 4, (int64_t[]){1, 3, 1, 1});
    cg_tensor *x = cg_tensor_ones(CG_F64, 2, (int64_t[]){4, 3});
    cg_tensor *v = cg_tensor_ones(CG_F64, 1, (int64_t[]){3});
    cg_tensor *r3 = cg_tensor_ones(CG_F64, 1, &c3), *r4 = cg_tensor_ones(CG_F64, 1, &c4);
    cg_tensor *f3 = cg_tensor_ones(CG_F32, 1, &c3);
    expect_error(cg_batch_norm(one, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), CG_ERR_VALUE,
                 "batch_norm", "more than 1 value per channel", "[1, 3]");
    expect_error(cg_batch_norm(one3, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), CG_ERR_VALUE,
                 "batch_norm", "[1, 3, 1, 1]", NULL);
    assert_tensor(cg_batch_norm(one, r3, r3, NULL, NULL, false, 0.1, 1e-5)); /* eval is fine */
    expect_error(cg_batch_norm(x, NULL, NULL, NULL, NULL, false, 0.1, 1e-5), CG_ERR_VALUE,
                 "batch_norm", "evaluation", NULL);
    expect_error(cg_batch_norm(x, r3, NULL, NULL, NULL, true, 0.1, 1e-5), CG_ERR_VALUE,
                 "batch_norm", "together", NULL);
    expect_error(cg_batch_norm(x, NULL, NULL, r4, NULL, true, 0.1, 1e-5), CG_ERR_SHAPE,
                 "batch_norm", "weight", "[4]");
    expect_error(cg_batch_norm(x, r4, r4, NULL, NULL, false, 0.1, 1e-5), CG_ERR_SHAPE,
                 "batch_norm", "running_mean", "[4, 3]");
    expect_error(cg_batch_norm(x, NULL, NULL, NULL, f3, true, 0.1, 1e-5), CG_ERR_DTYPE,
                 "batch_norm", "bias", "f32");
    expect_error(cg_batch_norm(v, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), CG_ERR_SHAPE,
                 "batch_norm", "[3]", NULL);
    assert_null(cg_batch_norm(NULL, NULL, NULL, NULL, NULL, true, 0.1, 1e-5));
    assert_int_equal(cg_last_status(), CG_ERR_NULL);
    cg_clear_error();
    cg_tensor *objs[] = {one, one3, x, v, r3, r4, f3};
    for (size_t i = 0; i < sizeof objs / sizeof *objs; i++)
        cg_tensor_free(objs[i]);
}

/* ---- layer, group and instance norm ---- */

static void test_layer_norm(void **state)
{
    (void)state;
    int64_t shape[3] = {2, 3, 4};
    cg_tensor *x = randn(CG_F64, 3, shape, 40, 2.0, 3.0);
    /* over the last dim: each of the 6 rows; over the last two: each of the 2 samples */
    assert_standardized(cg_layer_norm(x, 1, (int64_t[]){4}, NULL, NULL, 0), 6, 1, 4, false, 1e-12);
    assert_standardized(cg_layer_norm(x, 2, (int64_t[]){3, 4}, NULL, NULL, 0), 2, 1, 12, false, 1e-12);
    cg_tensor *w = randn(CG_F64, 2, (int64_t[]){3, 4}, 41, 0, 1), *b = randn(CG_F64, 2, (int64_t[]){3, 4}, 42, 0, 1);
    cg_tensor *z = cg_layer_norm(x, 2, (int64_t[]){3, 4}, NULL, NULL, 1e-5);
    assert_all_close(cg_layer_norm(x, 2, (int64_t[]){3, 4}, w, b, 1e-5), cg_add(cg_mul(z, w), b), 1e-14);
    /* eps sits inside the square root: a constant row gives 0, not NaN */
    cg_tensor *k = cg_tensor_full(CG_F64, 2, (int64_t[]){2, 3}, 5.0);
    double *kv = cg_test_values(cg_layer_norm(k, 1, (int64_t[]){3}, NULL, NULL, 1e-5));
    assert_close(kv[0], 0.0, 0, 0);
    free(kv);
    expect_error(cg_layer_norm(x, 1, (int64_t[]){3}, NULL, NULL, 1e-5), CG_ERR_SHAPE, "layer_norm", "[3]", "[2, 3, 4]");
    expect_error(cg_layer_norm(x, 4, (int64_t[]){1, 2, 3, 4}, NULL, NULL, 1e-5), CG_ERR_SHAPE, "layer_norm", "[2, 3, 4]", NULL);
    expect_error(cg_layer_norm(x, 0, NULL, NULL, NULL, 1e-5), CG_ERR_SHAPE, "layer_norm", NULL, NULL);
    expect_error(cg_layer_norm(x, 1, (int64_t[]){4}, b, NULL, 1e-5), CG_ERR_SHAPE, "layer_norm", "weight", "[3, 4]");
    cg_tensor *objs[] = {x, w, b, k};
    for (int i = 0; i < 4; i++)
        cg_tensor_free(objs[i]);
}

static void test_group_norm(void **state)
{
    (void)state;
    int64_t shape[3] = {2, 6, 3};
    cg_tensor *x = randn(CG_F64, 3, shape, 50, -1.0, 2.0);
    /* 3 groups of 2 channels: [2, 3, 6] blocks */
    assert_standardized(cg_group_norm(x, 3, NULL, NULL, 0), 2, 3, 6, false, 1e-12);
    /* one group is layer norm over all but the batch dimension; C groups is instance norm */
    assert_all_close(cg_group_norm(x, 1, NULL, NULL, 1e-5),
                     cg_layer_norm(x, 2, (int64_t[]){6, 3}, NULL, NULL, 1e-5), 1e-13);
    assert_all_close(cg_group_norm(x, 6, NULL, NULL, 1e-5),
                     cg_instance_norm(x, NULL, NULL, NULL, NULL, true, 0.1, 1e-5), 1e-13);
    int64_t c = 6;
    cg_tensor *w4 = cg_tensor_ones(CG_F64, 1, (int64_t[]){4}), *w = cg_tensor_full(CG_F64, 1, &c, 2.0);
    double *a = cg_test_values(cg_group_norm(x, 2, w, NULL, 1e-5));
    double *b = cg_test_values(cg_group_norm(x, 2, NULL, NULL, 1e-5));
    for (int i = 0; i < 36; i++)
        assert_close(a[i], 2 * b[i], 1e-14, 1e-14);
    free(a);
    free(b);
    expect_error(cg_group_norm(x, 4, NULL, NULL, 1e-5), CG_ERR_VALUE, "group_norm", "4 groups", "[2, 6, 3]");
    expect_error(cg_group_norm(x, 0, NULL, NULL, 1e-5), CG_ERR_VALUE, "group_norm", NULL, NULL);
    expect_error(cg_group_norm(x, 2, w4, NULL, 1e-5), CG_ERR_SHAPE, "group_norm", "weight", "[4]");
    cg_tensor_free(x);
    cg_tensor_free(w4);
    cg_tensor_free(w);
}

/* Instance norm: each (sample, channel) standardized over H, W; running statistics are
 * the average over the batch of the per-instance updates (PyTorch's instance_norm). */
static void test_instance_norm(void **state)
{
    (void)state;
    int64_t shape[4] = {3, 2, 2, 3}, c = 2;
    cg_tensor *rm = cg_tensor_zeros(CG_F64, 1, &c), *rv = cg_tensor_ones(CG_F64, 1, &c);
    double hm[2] = {0, 0}, hv[2] = {1, 1}, m = 0.2;
    for (int step = 0; step < 3; step++) {
        cg_tensor *x = randn(CG_F64, 4, shape, 60 + (uint64_t)step, 1.0, 2.0);
        assert_standardized(cg_instance_norm(x, rm, rv, NULL, NULL, true, m, 0), 3, 2, 6, false, 1e-12);
        double *xv = cg_test_values(x);
        for (int j = 0; j < 2; j++) {
            double sm = 0, sv = 0;
            for (int n = 0; n < 3; n++) {
                double mean, var;
                moments(xv, 3, 2, 6, n, j, false, &mean, &var);
                sm += (1 - m) * hm[j] + m * mean;
                sv += (1 - m) * hv[j] + m * var * 6.0 / 5.0;
            }
            hm[j] = sm / 3;
            hv[j] = sv / 3;
        }
        free(xv);
        cg_tensor_free(x);
    }
    double *gm = cg_test_values(rm), *gv = cg_test_values(rv);
    for (int j = 0; j < 2; j++) {
        assert_close(gm[j], hm[j], 1e-14, 1e-13);
        assert_close(gv[j], hv[j], 1e-14, 1e-13);
    }
    free(gm);
    free(gv);
    /* use_input_stats false: the running statistics, like batch norm in eval */
    cg_tensor *x = randn(CG_F64, 4, shape, 70, 0, 1);
    assert_all_close(cg_instance_norm(x, rm, rv, NULL, NULL, false, m, 1e-5),
                     cg_batch_norm(x, rm, rv, NULL, NULL, false, m, 1e-5), 0);
    expect_error(cg_instance_norm(x, NULL, NULL, NULL, NULL, false, m, 1e-5), CG_ERR_VALUE,
                 "instance_norm", "use_input_stats", NULL);
    cg_tensor *flat = cg_tensor_ones(CG_F64, 3, (int64_t[]){2, 2, 1});
    expect_error(cg_instance_norm(flat, NULL, NULL, NULL, NULL, true, m, 1e-5), CG_ERR_VALUE,
                 "instance_norm", "more than 1 spatial element", "[2, 2, 1]");
    cg_tensor_free(x);
    cg_tensor_free(flat);
    cg_tensor_free(rm);
    cg_tensor_free(rv);
}

/* ---- dataset statistics ---- */

static void test_feature_stats_and_standardize(void **state)
{
    (void)state;
    int64_t shape[3] = {4, 2, 1};
    cg_tensor *x = cg_tensor_from_data(CG_F64, 3, shape, (double[]){1, 10, 2, 20, 3, 30, 6, 0});
    cg_tensor *mean, *std;
    assert_ok(cg_feature_stats(x, &mean, &std));
    assert_int_equal(cg_tensor_ndim(mean), 2);
    assert_int_equal(cg_tensor_size(std, 0), 2);
    double *mv = cg_test_values(mean), *sv = cg_test_values(std);
    assert_close(mv[0], 3.0, 1e-15, 0);
    assert_close(mv[1], 15.0, 1e-15, 0);
    assert_close(sv[0], sqrt((4 + 1 + 0 + 9) / 3.0), 1e-15, 1e-15);
    assert_close(sv[1], sqrt((25 + 25 + 225 + 225) / 3.0), 1e-14, 1e-15);
    free(mv);
    free(sv);
    /* standardized features have mean 0 and unbiased std 1 */
    cg_tensor *z = cg_standardize(x, mean, std, 0);
    assert_tensor(z);
    cg_tensor *zc = cg_tensor_clone(z), *zm, *zs;
    assert_ok(cg_feature_stats(zc, &zm, &zs));
    double *a = cg_test_values(zm), *b = cg_test_values(zs);
    for (int j = 0; j < 2; j++) {
        assert_close(a[j], 0.0, 1e-15, 0);
        assert_close(b[j], 1.0, 1e-15, 1e-15);
    }
    free(a);
    free(b);
    /* a transposed view: statistics follow the logical layout */
    cg_tensor *t = cg_tensor_clone(cg_transpose(x, 0, 1)), *tm, *ts;
    assert_ok(cg_feature_stats(cg_transpose(x, 0, 2), &tm, &ts));
    assert_int_equal(cg_tensor_size(tm, 1), 4);
    /* one sample: std is NaN (0/0), as torch.std */
    cg_tensor *one = cg_tensor_ones(CG_F64, 2, (int64_t[]){1, 3}), *om, *os;
    assert_ok(cg_feature_stats(one, &om, &os));
    double *ov = cg_test_values(os);
    assert_true(isnan(ov[0]));
    free(ov);
    cg_tensor *i64 = cg_tensor_zeros(CG_I64, 1, (int64_t[]){3}), *dm, *ds;
    assert_int_equal(cg_feature_stats(i64, &dm, &ds), CG_ERR_DTYPE);
    assert_null(dm);
    assert_error_contains("feature_stats");
    cg_tensor *bad = cg_tensor_ones(CG_F64, 1, (int64_t[]){3});
    expect_error(cg_standardize(x, bad, std, 0), CG_ERR_SHAPE, "standardize", "[3]", "[4, 2, 1]");
    cg_tensor *objs[] = {x, mean, std, zc, zm, zs, t, tm, ts, one, om, os, i64, bad};
    for (size_t i = 0; i < sizeof objs / sizeof *objs; i++)
        cg_tensor_free(objs[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_batch_norm_standardizes),
        CG_TEST(test_batch_norm_affine),
        CG_TEST(test_batch_norm_fused_matches_composition),
        CG_TEST(test_batch_norm_threads_bit_identical),
        CG_TEST(test_batch_norm_stats_far_from_zero),
        CG_TEST(test_batch_norm_running_stats),
        CG_TEST(test_batch_norm_eval_uses_running_stats),
        CG_TEST(test_running_update_keeps_backward),
        CG_TEST(test_eval_graph_after_update),
        CG_TEST(test_batch_norm_errors),
        CG_TEST(test_layer_norm),
        CG_TEST(test_group_norm),
        CG_TEST(test_instance_norm),
        CG_TEST(test_feature_stats_and_standardize),
    };
    return cmocka_run_group_tests_name("norm", tests, NULL, NULL);
}
