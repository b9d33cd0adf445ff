/* Convolution and pooling: values and gradients against naive loops (f32 and f64, every
 * option), identities, PyTorch's first-maximum rule on ties, linear, bad-input errors,
 * thread-count independence and an allocation-free steady state. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static cg_tensor *randt(cg_dtype dt, int nd, const int64_t *shape, uint64_t seed)
{
    cg_rng rng = cg_rng_init(seed);
    cg_tensor *t = cg_tensor_normal(&rng, dt, nd, shape, 0.0, 1.0);
    assert_tensor(t);
    return t;
}

static void assert_values(const cg_tensor *t, const double *want, int64_t n, double tol)
{
    assert_tensor(t);
    assert_int_equal(cg_tensor_numel(t), n);
    double *got = cg_test_values(t);
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(got[i] - want[i]) <= tol * (1 + fabs(want[i]))) &&
            !(isnan(got[i]) && isnan(want[i])))
            fail_msg("element %lld: got %.17g, want %.17g", (long long)i, got[i], want[i]);
    free(got);
}

static void assert_shape4(const cg_tensor *t, int64_t a, int64_t b, int64_t c, int64_t d)
{
    assert_tensor(t);
    assert_int_equal(cg_tensor_ndim(t), 4);
    const int64_t *s = cg_tensor_shape(t);
    if (s[0] != a || s[1] != b || s[2] != c || s[3] != d)
        fail_msg("shape [%lld, %lld, %lld, %lld], want [%lld, %lld, %lld, %lld]", (long long)s[0],
                 (long long)s[1], (long long)s[2], (long long)s[3], (long long)a, (long long)b,
                 (long long)c, (long long)d);
}

static double tol_of(cg_dtype dt) { return dt == CG_F32 ? 2e-5 : 1e-12; }

/* ---- naive convolution: output and, given dL/dy, the input's and weight's gradients ---- */

typedef struct conv_cfg {
    const char *name;
    int64_t n, c, h, w, o;
    cg_conv2d_options opt;
    bool bias;
} conv_cfg;

static int64_t osize(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d)
{
    return (in + 2 * p - d * (k - 1) - 1) / s + 1;
}

typedef struct naive_io {
    const double *x, *w, *b, *gy; /* b, gy may be NULL */
    double *y, *gx, *gw;
} naive_io;

/* The seven loops: n, o, oh, ow over the output, ci, ki, kj over the window. */
static void naive_conv(const conv_cfg *k, naive_io io)
{
    const cg_conv2d_options *o = &k->opt;
    int64_t ho = osize(k->h, o->kernel[0], o->stride[0], o->padding[0], o->dilation[0]);
    int64_t wo = osize(k->w, o->kernel[1], o->stride[1], o->padding[1], o->dilation[1]);
    int64_t cg = k->c / o->groups, og = k->o / o->groups, kh = o->kernel[0], kw = o->kernel[1];
    for (int64_t n = 0; n < k->n; n++)
    for (int64_t oc = 0; oc < k->o; oc++)
    for (int64_t oh = 0; oh < ho; oh++)
    for (int64_t ow = 0; ow < wo; ow++) {
        int64_t yi = ((n * k->o + oc) * ho + oh) * wo + ow;
        double s = io.b ? io.b[oc] : 0.0, gy = io.gy ? io.gy[yi] : 0.0;
        for (int64_t ci = 0; ci < cg; ci++)
        for (int64_t ki = 0; ki < kh; ki++)
        for (int64_t kj = 0; kj < kw; kj++) {
            int64_t ih = oh * o->stride[0] - o->padding[0] + ki * o->dilation[0];
            int64_t iw = ow * o->stride[1] - o->padding[1] + kj * o->dilation[1];
            if (ih < 0 || ih >= k->h || iw < 0 || iw >= k->w)
                continue;
            int64_t c = oc / og * cg + ci;
            int64_t xi = ((n * k->c + c) * k->h + ih) * k->w + iw;
            int64_t wi = ((oc * cg + ci) * kh + ki) * kw + kj;
            s += io.x[xi] * io.w[wi];
            if (io.gy) {
                io.gx[xi] += gy * io.w[wi];
                io.gw[wi] += gy * io.x[xi];
            }
        }
        io.y[yi] = s;
    }
}

/* conv2d of one config in one dtype against the naive loops: output and the gradients of
 * sum(y * gy) with respect to x, weight and bias. */
static void check_conv(const conv_cfg *k, cg_dtype dt)
{
    const cg_conv2d_options *o = &k->opt;
    int64_t ho = osize(k->h, o->kernel[0], o->stride[0], o->padding[0], o->dilation[0]);
    int64_t wo = osize(k->w, o->kernel[1], o->stride[1], o->padding[1], o->dilation[1]);
    int64_t xs[4] = {k->n, k->c, k->h, k->w}, ws[4] = {k->o, k->c / o->groups, o->kernel[0], o->kernel[1]};
    int64_t ys[4] = {k->n, k->o, ho, wo};
    cg_tensor *x = randt(dt, 4, xs, 1), *w = randt(dt, 4, ws, 2), *gy = randt(dt, 4, ys, 4);
    cg_tensor *b = k->bias ? randt(dt, 1, &k->o, 3) : NULL;
    cg_tensor_set_requires_grad(x, true);
    cg_tensor_set_requires_grad(w, true);
    if (b)
        cg_tensor_set_requires_grad(b, true);
    cg_tensor *y = cg_conv2d(x, w, b, o);
    assert_shape4(y, k->n, k->o, ho, wo);
    assert_ok(cg_backward(y, gy));

    int64_t nx = cg_tensor_numel(x), nw = cg_tensor_numel(w), ny = cg_tensor_numel(y);
    double *xv = cg_test_values(x), *wv = cg_test_values(w), *gyv = cg_test_values(gy);
    double *bv = b ? cg_test_values(b) : NULL;
    double *want = calloc((size_t)ny, sizeof *want), *gx = calloc((size_t)nx, sizeof *gx);
    double *gw = calloc((size_t)nw, sizeof *gw), *gb = calloc((size_t)k->o, sizeof *gb);
    naive_conv(k, (naive_io){xv, wv, bv, gyv, want, gx, gw});
    for (int64_t i = 0; i < ny; i++)
        gb[i / (ho * wo) % k->o] += gyv[i];
    print_message("# conv2d %s (%s)\n", k->name, cg_dtype_name(dt));
    assert_values(y, want, ny, tol_of(dt));
    assert_values(cg_tensor_grad(x), gx, nx, tol_of(dt));
    assert_values(cg_tensor_grad(w), gw, nw, tol_of(dt));
    if (b)
        assert_values(cg_tensor_grad(b), gb, k->o, tol_of(dt));
    free(xv), free(wv), free(gyv), free(bv), free(want), free(gx), free(gw), free(gb);
    cg_tensor_free(x), cg_tensor_free(w), cg_tensor_free(b), cg_tensor_free(gy);
}

static const conv_cfg conv_cfgs[] = {
    {"3x3", 2, 3, 6, 6, 4, {{3, 3}, {1, 1}, {0, 0}, {1, 1}, 1}, true},
    {"stride 2", 2, 3, 7, 6, 4, {{3, 3}, {2, 2}, {0, 0}, {1, 1}, 1}, true},
    {"padding 1", 2, 3, 5, 5, 4, {{3, 3}, {1, 1}, {1, 1}, {1, 1}, 1}, false},
    {"dilation 2", 1, 2, 8, 7, 3, {{3, 3}, {1, 1}, {0, 0}, {2, 2}, 1}, true},
    {"groups 2", 2, 4, 6, 5, 6, {{3, 3}, {1, 1}, {1, 1}, {1, 1}, 2}, true},
    {"depthwise", 2, 5, 6, 6, 5, {{3, 3}, {1, 1}, {1, 1}, {1, 1}, 5}, true},
    {"depthwise multiplier 2", 1, 3, 5, 5, 6, {{3, 3}, {2, 2}, {1, 1}, {1, 1}, 3}, false},
    {"1x1", 3, 4, 5, 3, 2, {{1, 1}, {1, 1}, {0, 0}, {1, 1}, 1}, true},
    {"1x1 stride 2 padding 1", 1, 2, 5, 4, 3, {{1, 1}, {2, 2}, {1, 1}, {1, 1}, 1}, true},
    {"non-square everything", 2, 4, 9, 7, 4, {{2, 3}, {2, 1}, {1, 2}, {2, 1}, 2}, true},
    {"kernel as large as the padded input", 1, 2, 3, 4, 2, {{5, 4}, {1, 1}, {1, 0}, {1, 1}, 1}, true},
    {"stride larger than the kernel", 2, 2, 9, 9, 3, {{2, 2}, {4, 3}, {0, 1}, {1, 1}, 1}, true},
    {"wide 32 channels", 4, 16, 12, 12, 32, {{3, 3}, {1, 1}, {1, 1}, {1, 1}, 1}, true},
};

static void test_conv2d_naive(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof conv_cfgs / sizeof conv_cfgs[0]; i++) {
        check_conv(&conv_cfgs[i], CG_F64);
        check_conv(&conv_cfgs[i], CG_F32);
        cg_tape_reset(cg_tape_active());
    }
}

/* Empty batch: a well-formed empty result, and a backward that runs. */
static void test_conv2d_empty_batch(void **state)
{
    (void)state;
    cg_tensor *x = randt(CG_F32, 4, (int64_t[]){0, 3, 5, 5}, 1);
    cg_tensor *w = randt(CG_F32, 4, (int64_t[]){2, 3, 3, 3}, 2);
    cg_tensor_set_requires_grad(w, true);
    cg_tensor *y = cg_conv2d(x, w, NULL, NULL);
    assert_shape4(y, 0, 2, 3, 3);
    assert_ok(cg_backward(cg_sum(y, NULL, 0, false), NULL));
    assert_close(cg_tensor_get(cg_tensor_grad(w), (int64_t[]){1, 2, 2, 2}), 0.0, 0, 0);
    assert_shape4(cg_max_pool2d(x, &(cg_conv2d_options){{2, 2}, {2, 2}, {0, 0}, {1, 1}, 1}), 0,
                  3, 2, 2);
    cg_tensor_free(x);
    cg_tensor_free(w);
}

/* ---- identities ---- */

static void assert_same(const cg_tensor *a, const cg_tensor *b)
{
    assert_tensor(a);
    assert_tensor(b);
    assert_int_equal(cg_tensor_numel(a), cg_tensor_numel(b));
    double *av = cg_test_values(a), *bv = cg_test_values(b);
    for (int64_t i = 0; i < cg_tensor_numel(a); i++)
        if (av[i] != bv[i])
            fail_msg("element %lld: %.17g != %.17g", (long long)i, av[i], bv[i]);
    free(av);
    free(bv);
}

/* A 1x1 conv with the identity matrix, a centred delta 3x3 kernel with padding 1 and a
 * depthwise delta all return x exactly; so do 1x1 pooling windows. */
static void test_identities(void **state)
{
    (void)state;
    int64_t c = 5;
    cg_tensor *x = randt(CG_F32, 4, (int64_t[]){3, c, 6, 7}, 9);
    cg_tensor *eye = cg_tensor_zeros(CG_F32, 4, (int64_t[]){c, c, 1, 1});
    cg_tensor *delta = cg_tensor_zeros(CG_F32, 4, (int64_t[]){c, c, 3, 3});
    cg_tensor *dw = cg_tensor_zeros(CG_F32, 4, (int64_t[]){c, 1, 3, 3});
    for (int64_t i = 0; i < c; i++) {
        assert_ok(cg_tensor_set(eye, (int64_t[]){i, i, 0, 0}, 1.0));
        assert_ok(cg_tensor_set(delta, (int64_t[]){i, i, 1, 1}, 1.0));
        assert_ok(cg_tensor_set(dw, (int64_t[]){i, 0, 1, 1}, 1.0));
    }
    cg_conv2d_options pad1 = cg_conv2d_defaults(3, 3), depth = pad1;
    pad1.padding[0] = pad1.padding[1] = depth.padding[0] = depth.padding[1] = 1;
    depth.groups = c;
    assert_same(cg_conv2d(x, eye, NULL, NULL), x);
    assert_same(cg_conv2d(x, delta, NULL, &pad1), x);
    assert_same(cg_conv2d(x, dw, NULL, &depth), x);
    cg_conv2d_options one = cg_pool2d_defaults(1, 1);
    assert_same(cg_max_pool2d(x, &one), x);
    assert_same(cg_avg_pool2d(x, &one), x);
    /* global average of a constant plane is the constant */
    cg_tensor *ones = cg_tensor_full(CG_F64, 4, (int64_t[]){2, 3, 4, 5}, 2.5);
    cg_tensor *gap = cg_global_avg_pool2d(ones);
    assert_tensor(gap);
    assert_int_equal(cg_tensor_ndim(gap), 2);
    assert_close(cg_tensor_get(gap, (int64_t[]){1, 2}), 2.5, 1e-15, 0);
    cg_tensor_free(x), cg_tensor_free(eye), cg_tensor_free(delta), cg_tensor_free(dw);
    cg_tensor_free(ones);
}

/* ---- pooling ---- */

typedef struct pool_cfg {
    const char *name;
    int64_t n, c, h, w;
    cg_conv2d_options opt;
} pool_cfg;

/* Naive pooling of plane-major x: max (first maximum, NaN wins; argmax into gx as a count
 * of gy) or average (padding counted). */
static void naive_pool(const pool_cfg *k, bool max, const double *x, const double *gy, double *y,
                       double *gx)
{
    const cg_conv2d_options *o = &k->opt;
    int64_t ho = osize(k->h, o->kernel[0], o->stride[0], o->padding[0], o->dilation[0]);
    int64_t wo = osize(k->w, o->kernel[1], o->stride[1], o->padding[1], o->dilation[1]);
    for (int64_t p = 0; p < k->n * k->c; p++)
    for (int64_t oh = 0; oh < ho; oh++)
    for (int64_t ow = 0; ow < wo; ow++) {
        int64_t yi = (p * ho + oh) * wo + ow, best = -1;
        double s = 0, m = -INFINITY;
        for (int64_t ki = 0; ki < o->kernel[0]; ki++)
        for (int64_t kj = 0; kj < o->kernel[1]; kj++) {
            int64_t ih = oh * o->stride[0] - o->padding[0] + ki * o->dilation[0];
            int64_t iw = ow * o->stride[1] - o->padding[1] + kj * o->dilation[1];
            if (ih < 0 || ih >= k->h || iw < 0 || iw >= k->w)
                continue;
            int64_t xi = (p * k->h + ih) * k->w + iw;
            s += x[xi];
            if (best < 0 || x[xi] > m || isnan(x[xi]))
                m = x[xi], best = xi;
        }
        double area = (double)(o->kernel[0] * o->kernel[1]);
        y[yi] = max ? m : s / area;
        if (max) {
            gx[best] += gy[yi];
            continue;
        }
        for (int64_t ki = 0; ki < o->kernel[0]; ki++)
        for (int64_t kj = 0; kj < o->kernel[1]; kj++) {
            int64_t ih = oh * o->stride[0] - o->padding[0] + ki;
            int64_t iw = ow * o->stride[1] - o->padding[1] + kj;
            if (ih >= 0 && ih < k->h && iw >= 0 && iw < k->w)
                gx[(p * k->h + ih) * k->w + iw] += gy[yi] / area;
        }
    }
}

/* relu: many exact zeros, so many windows tie. */
static void check_pool(const pool_cfg *k, cg_dtype dt, bool max, bool relu)
{
    const cg_conv2d_options *o = &k->opt;
    int64_t ho = osize(k->h, o->kernel[0], o->stride[0], o->padding[0], o->dilation[0]);
    int64_t wo = osize(k->w, o->kernel[1], o->stride[1], o->padding[1], o->dilation[1]);
    cg_tensor *x = randt(dt, 4, (int64_t[]){k->n, k->c, k->h, k->w}, 5);
    cg_tensor *gy = randt(dt, 4, (int64_t[]){k->n, k->c, ho, wo}, 6);
    if (relu) {
        double *d = cg_test_values(x);
        for (int64_t i = 0; i < cg_tensor_numel(x); i++)
            assert_ok(cg_tensor_set(x, (int64_t[]){i / (k->c * k->h * k->w),
                                                   i / (k->h * k->w) % k->c, i / k->w % k->h,
                                                   i % k->w},
                                    d[i] > 0.3 ? d[i] : 0.0));
        free(d);
    }
    cg_tensor_set_requires_grad(x, true);
    cg_tensor *y = max ? cg_max_pool2d(x, o) : cg_avg_pool2d(x, o);
    assert_shape4(y, k->n, k->c, ho, wo);
    assert_ok(cg_backward(y, gy));
    int64_t nx = cg_tensor_numel(x), ny = cg_tensor_numel(y);
    double *xv = cg_test_values(x), *gyv = cg_test_values(gy);
    double *want = calloc((size_t)ny, sizeof *want), *gx = calloc((size_t)nx, sizeof *gx);
    naive_pool(k, max, xv, gyv, want, gx);
    print_message("# %s %s (%s)%s\n", max ? "max_pool2d" : "avg_pool2d", k->name,
                  cg_dtype_name(dt), relu ? " with ties" : "");
    assert_values(y, want, ny, tol_of(dt));
    assert_values(cg_tensor_grad(x), gx, nx, tol_of(dt));
    free(xv), free(gyv), free(want), free(gx);
    cg_tensor_free(x), cg_tensor_free(gy);
}

static const pool_cfg pool_cfgs[] = {
    {"2x2", 2, 3, 6, 6, {{2, 2}, {2, 2}, {0, 0}, {1, 1}, 1}},
    {"2x2 odd input", 1, 2, 7, 5, {{2, 2}, {2, 2}, {0, 0}, {1, 1}, 1}},
    {"3x3 stride 2 padding 1", 2, 2, 7, 8, {{3, 3}, {2, 2}, {1, 1}, {1, 1}, 1}},
    {"3x3 stride 1 padding 1 (overlapping)", 1, 3, 5, 6, {{3, 3}, {1, 1}, {1, 1}, {1, 1}, 1}},
    {"2x3 stride [1, 2] padding [1, 1]", 2, 2, 5, 7, {{2, 3}, {1, 2}, {1, 1}, {1, 1}, 1}},
    {"4x4 stride 3 padding 2", 1, 2, 9, 9, {{4, 4}, {3, 3}, {2, 2}, {1, 1}, 1}},
};

static const pool_cfg dilated_cfgs[] = {
    {"2x2 dilation 2 padding 1", 2, 2, 6, 6, {{2, 2}, {1, 1}, {1, 1}, {2, 2}, 1}},
    {"3x2 dilation [2, 3] stride 2", 1, 3, 9, 8, {{3, 2}, {2, 2}, {1, 1}, {2, 3}, 1}},
};

static void test_pool_naive(void **state)
{
    (void)state;
    for (int dt = 0; dt < 2; dt++) {
        cg_dtype d = dt ? CG_F32 : CG_F64;
        for (size_t i = 0; i < sizeof pool_cfgs / sizeof pool_cfgs[0]; i++) {
            check_pool(&pool_cfgs[i], d, true, false);
            check_pool(&pool_cfgs[i], d, true, true);
            check_pool(&pool_cfgs[i], d, false, false);
        }
        for (size_t i = 0; i < sizeof dilated_cfgs / sizeof dilated_cfgs[0]; i++) {
            check_pool(&dilated_cfgs[i], d, true, false);
            check_pool(&dilated_cfgs[i], d, true, true);
        }
    }
}

/* All-zero input: every window ties, and each window's gradient goes to its first
 * element in row-major order (PyTorch's rule), counted once per window. */
static void test_max_pool_tie_first(void **state)
{
    (void)state;
    cg_tensor *x = cg_tensor_zeros(CG_F64, 4, (int64_t[]){1, 1, 3, 4});
    cg_tensor_set_requires_grad(x, true);
    cg_conv2d_options o = cg_pool2d_defaults(2, 2);
    o.stride[0] = o.stride[1] = 1;
    cg_tensor *y = cg_max_pool2d(x, &o);
    assert_shape4(y, 1, 1, 2, 3);
    assert_ok(cg_backward(cg_sum(y, NULL, 0, false), NULL));
    /* windows start at (0,0) (0,1) (0,2) (1,0) (1,1) (1,2): their top-left elements */
    static const double want[12] = {1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 0, 0};
    assert_values(cg_tensor_grad(x), want, 12, 0);
    /* a tie between a later larger-index element and an earlier one: the earlier wins */
    cg_tensor *t = cg_tensor_from_data(CG_F32, 4, (int64_t[]){1, 1, 2, 2},
                                       (float[]){0.5f, 2.0f, 2.0f, 1.0f});
    cg_tensor_set_requires_grad(t, true);
    assert_ok(cg_backward(cg_max_pool2d(t, &(cg_conv2d_options){{2, 2}, {2, 2}, {0, 0}, {1, 1}, 1}),
                          NULL));
    assert_values(cg_tensor_grad(t), (double[]){0, 1, 0, 0}, 4, 0);
    cg_tensor_free(x);
    cg_tensor_free(t);
}

/* A NaN in a window wins, as in PyTorch; padding (-inf) never wins over a real element. */
static void test_max_pool_nan_and_negative(void **state)
{
    (void)state;
    cg_tensor *x = cg_tensor_from_data(CG_F64, 4, (int64_t[]){1, 1, 2, 2},
                                       (double[]){-3, NAN, -1, -2});
    cg_conv2d_options o = cg_pool2d_defaults(2, 2);
    assert_true(isnan(cg_tensor_item(cg_max_pool2d(x, &o))));
    cg_tensor *neg = cg_tensor_full(CG_F32, 4, (int64_t[]){1, 1, 2, 2}, -5.0);
    o.padding[0] = o.padding[1] = 1;
    cg_tensor *y = cg_max_pool2d(neg, &o);
    assert_shape4(y, 1, 1, 2, 2);
    assert_values(y, (double[]){-5, -5, -5, -5}, 4, 0);
    cg_tensor_free(x);
    cg_tensor_free(neg);
}

/* The 2x2 stride-2 kernel (rows of unit stride) against the general window walk, which a
 * view with column stride != 1 takes: bit-identical values and gradients on odd sizes,
 * with ties (zeros), NaNs (the later of two NaNs wins), infinities and signed zeros. */
static void check_max_pool_2x2(cg_dtype dt)
{
    enum { N = 2, C = 3, H = 7, W = 9 };
    cg_tensor *x = randt(dt, 4, (int64_t[]){N, C, H, W}, 21);
    cg_tensor *gy = randt(dt, 4, (int64_t[]){N, C, H / 2, W / 2}, 22);
    const double special[] = {0.0, -0.0, 0.0, NAN, NAN, INFINITY, -INFINITY, -0.0};
    for (int64_t i = 0; i < 40; i++) /* spread over windows, several per plane */
        assert_ok(cg_tensor_set(x, (int64_t[]){i % N, i % C, (5 * i) % H, (7 * i) % W},
                                special[i % 8]));
    /* a window with two NaNs and one with a tie at its maximum */
    assert_ok(cg_tensor_set(x, (int64_t[]){0, 0, 0, 0}, NAN));
    assert_ok(cg_tensor_set(x, (int64_t[]){0, 0, 1, 1}, NAN));
    assert_ok(cg_tensor_set(x, (int64_t[]){1, 2, 2, 3}, 5.0));
    assert_ok(cg_tensor_set(x, (int64_t[]){1, 2, 3, 2}, 5.0));
    /* the same values laid out [N, C, W, H]: its transposed view walks columns by H */
    cg_tensor *xt = cg_contiguous(cg_transpose(x, 2, 3));
    cg_tensor *leaf = cg_tensor_zeros(dt, 4, (int64_t[]){N, C, W, H});
    assert_ok(cg_tensor_copy_(leaf, xt));
    assert_ok(cg_tensor_set_requires_grad(x, true));
    assert_ok(cg_tensor_set_requires_grad(leaf, true));
    cg_conv2d_options o = cg_pool2d_defaults(2, 2);
    cg_tensor *fast = cg_max_pool2d(x, &o), *slow = cg_max_pool2d(cg_transpose(leaf, 2, 3), &o);
    cg_tensor *gf = NULL, *gs = NULL;
    assert_ok(cg_grad(&fast, 1, &gy, &x, 1, &gf, NULL));
    assert_ok(cg_grad(&slow, 1, &gy, &leaf, 1, &gs, NULL));
    cg_tensor *pairs[2][2] = {{fast, slow}, {gf, cg_transpose(gs, 2, 3)}};
    for (int k = 0; k < 2; k++) {
        int64_t n = cg_tensor_numel(pairs[k][0]);
        double *a = cg_test_values(pairs[k][0]), *b = cg_test_values(pairs[k][1]);
        for (int64_t i = 0; i < n; i++)
            if (memcmp(&a[i], &b[i], sizeof a[i]))
                fail_msg("%s element %lld: %g (2x2 kernel) vs %g (general)",
                         k ? "gradient" : "value", (long long)i, a[i], b[i]);
        free(a), free(b);
    }
    /* the later NaN of window (0, 0, 0, 0) takes its gradient */
    assert_true(isnan(cg_tensor_get(fast, (int64_t[]){0, 0, 0, 0})));
    assert_true(cg_tensor_get(gf, (int64_t[]){0, 0, 0, 0}) == 0);
    assert_true(cg_tensor_get(gf, (int64_t[]){0, 0, 1, 1}) == cg_tensor_get(gy, (int64_t[]){0, 0, 0, 0}));
    cg_tensor_free(x), cg_tensor_free(gy), cg_tensor_free(leaf);
}

static void test_max_pool_2x2_f32(void **state) { (void)state; check_max_pool_2x2(CG_F32); }
static void test_max_pool_2x2_f64(void **state) { (void)state; check_max_pool_2x2(CG_F64); }

/* ---- linear ---- */

static void test_linear(void **state)
{
    (void)state;
    int64_t in = 4, out = 3;
    cg_tensor *x = randt(CG_F64, 3, (int64_t[]){2, 5, in}, 1);
    cg_tensor *w = randt(CG_F64, 2, (int64_t[]){out, in}, 2);
    cg_tensor *b = randt(CG_F64, 1, &out, 3);
    double *xv = cg_test_values(x), *wv = cg_test_values(w), *bv = cg_test_values(b);
    double want[2 * 5 * 3], want_nb[2 * 5 * 3];
    for (int64_t r = 0; r < 10; r++)
        for (int64_t j = 0; j < out; j++) {
            double s = 0;
            for (int64_t i = 0; i < in; i++)
                s += xv[r * in + i] * wv[j * in + i];
            want_nb[r * out + j] = s;
            want[r * out + j] = s + bv[j];
        }
    cg_tensor *y = cg_linear(x, w, b);
    assert_tensor(y);
    assert_int_equal(cg_tensor_ndim(y), 3);
    assert_int_equal(cg_tensor_size(y, 2), out);
    assert_values(y, want, 30, 1e-13);
    assert_values(cg_linear(x, w, NULL), want_nb, 30, 1e-13);
    /* a 1-d input and a 2-d transposed view */
    cg_tensor *row = cg_slice(cg_reshape(x, 2, (int64_t[]){10, in}), 0, 7, 8, 1);
    cg_tensor *y1 = cg_linear(cg_reshape(row, 1, (int64_t[]){in}), w, b);
    assert_tensor(y1);
    assert_int_equal(cg_tensor_ndim(y1), 1);
    assert_values(y1, want + 7 * out, out, 1e-13);
    cg_tensor *xt = cg_transpose(cg_transpose(cg_reshape(x, 2, (int64_t[]){10, in}), 0, 1), 0, 1);
    assert_values(cg_linear(xt, w, b), want, 30, 1e-13);
    free(xv), free(wv), free(bv);
    cg_tensor_free(x), cg_tensor_free(w), cg_tensor_free(b);
}

/* ---- errors ---- */

static void expect_error(const char *what, cg_tensor *y, cg_status status, const char *op)
{
    if (y)
        fail_msg("%s: expected NULL", what);
    if (cg_last_status() != status)
        fail_msg("%s: status %s (\"%s\"), want %s", what, cg_status_string(cg_last_status()),
                 cg_last_error(), cg_status_string(status));
    if (!strstr(cg_last_error(), op))
        fail_msg("%s: message \"%s\" does not name %s", what, cg_last_error(), op);
    cg_clear_error();
}

static cg_conv2d_options with(cg_conv2d_options o, int field, int64_t v)
{
    int64_t *f[] = {o.kernel, o.stride, o.padding, o.dilation};
    if (field < 4)
        f[field][1] = v;
    else
        o.groups = v;
    return o;
}

static void test_conv_errors(void **state)
{
    (void)state;
    cg_tensor *x = randt(CG_F32, 4, (int64_t[]){2, 4, 5, 5}, 1);
    cg_tensor *x3 = randt(CG_F32, 3, (int64_t[]){4, 5, 5}, 1);
    cg_tensor *xc0 = randt(CG_F32, 4, (int64_t[]){2, 0, 5, 5}, 1);
    cg_tensor *w = randt(CG_F32, 4, (int64_t[]){6, 4, 3, 3}, 2);
    cg_tensor *w2 = randt(CG_F32, 4, (int64_t[]){6, 2, 3, 3}, 2);
    cg_tensor *w3 = randt(CG_F32, 3, (int64_t[]){6, 4, 3}, 2);
    cg_tensor *wd = randt(CG_F64, 4, (int64_t[]){6, 4, 3, 3}, 2);
    cg_tensor *b5 = randt(CG_F32, 1, (int64_t[]){5}, 3);
    cg_conv2d_options k3 = cg_conv2d_defaults(3, 3);
    cg_conv2d_options g2 = with(k3, 4, 2), g3 = with(k3, 4, 3), g0 = with(k3, 4, 0);
    cg_conv2d_options kernel0 = with(k3, 0, 0), stride0 = with(k3, 1, 0);
    cg_conv2d_options pad_neg = with(k3, 2, -1), dil_neg = with(k3, 3, -1);
    cg_conv2d_options big = cg_conv2d_defaults(6, 6);
    cg_tensor *w6 = randt(CG_F32, 4, (int64_t[]){6, 4, 6, 6}, 2);

    expect_error("3-d input", cg_conv2d(x3, w, NULL, &k3), CG_ERR_SHAPE, "conv2d");
    expect_error("zero channels", cg_conv2d(xc0, w, NULL, &k3), CG_ERR_SHAPE, "conv2d");
    expect_error("3-d weight", cg_conv2d(x, w3, NULL, &k3), CG_ERR_SHAPE, "conv2d");
    expect_error("channel mismatch", cg_conv2d(x, w2, NULL, &k3), CG_ERR_SHAPE, "conv2d");
    expect_error("groups not dividing", cg_conv2d(x, w2, NULL, &g3), CG_ERR_SHAPE, "conv2d");
    expect_error("groups 0", cg_conv2d(x, w2, NULL, &g0), CG_ERR_VALUE, "conv2d");
    expect_error("bias size", cg_conv2d(x, w, b5, &k3), CG_ERR_SHAPE, "conv2d");
    expect_error("kernel larger than the input", cg_conv2d(x, w6, NULL, &big), CG_ERR_SHAPE,
                 "conv2d");
    expect_error("options' kernel differs", cg_conv2d(x, w, NULL, &big), CG_ERR_SHAPE, "conv2d");
    expect_error("kernel 0", cg_conv2d(x, w, NULL, &kernel0), CG_ERR_VALUE, "conv2d");
    expect_error("stride 0", cg_conv2d(x, w, NULL, &stride0), CG_ERR_VALUE, "conv2d");
    expect_error("negative padding", cg_conv2d(x, w, NULL, &pad_neg), CG_ERR_VALUE, "conv2d");
    expect_error("dilation -1", cg_conv2d(x, w, NULL, &dil_neg), CG_ERR_VALUE, "conv2d");
    expect_error("dtype mismatch", cg_conv2d(x, wd, NULL, &k3), CG_ERR_DTYPE, "conv2d");
    expect_error("NULL input", cg_conv2d(NULL, w, NULL, &k3), CG_ERR_NULL, "conv2d");
    assert_tensor(cg_conv2d(x, w2, NULL, &g2));

    cg_conv2d_options p2 = cg_pool2d_defaults(2, 2), p9 = cg_pool2d_defaults(9, 9);
    cg_conv2d_options p2pad2 = with(p2, 2, 2), p2dil = with(p2, 3, 2), p2s0 = with(p2, 1, 0);
    const char *pools[2] = {"max_pool2d", "avg_pool2d"};
    for (int i = 0; i < 2; i++) {
        cg_tensor *(*pool)(cg_tensor *, const cg_conv2d_options *) =
            i ? cg_avg_pool2d : cg_max_pool2d;
        expect_error("padding over half the kernel", pool(x, &p2pad2), CG_ERR_VALUE, pools[i]);
        expect_error("window larger than the input", pool(x, &p9), CG_ERR_SHAPE, pools[i]);
        expect_error("3-d input", pool(x3, &p2), CG_ERR_SHAPE, pools[i]);
        expect_error("stride 0", pool(x, &p2s0), CG_ERR_VALUE, pools[i]);
        expect_error("NULL options", pool(x, NULL), CG_ERR_NULL, pools[i]);
    }
    assert_tensor(cg_max_pool2d(x, &p2dil));
    expect_error("avg_pool2d dilation", cg_avg_pool2d(x, &p2dil), CG_ERR_VALUE, "avg_pool2d");
    expect_error("global of 3-d", cg_global_avg_pool2d(x3), CG_ERR_SHAPE, "global_avg_pool2d");

    cg_tensor *lx = randt(CG_F32, 2, (int64_t[]){3, 4}, 1), *lw = randt(CG_F32, 2, (int64_t[]){2, 5}, 2);
    cg_tensor *lw1 = randt(CG_F32, 1, (int64_t[]){4}, 2), *lb = randt(CG_F32, 1, (int64_t[]){3}, 2);
    cg_tensor *lw_ok = randt(CG_F32, 2, (int64_t[]){2, 4}, 2);
    expect_error("in mismatch", cg_linear(lx, lw, NULL), CG_ERR_SHAPE, "linear");
    expect_error("1-d weight", cg_linear(lx, lw1, NULL), CG_ERR_SHAPE, "linear");
    expect_error("bias size", cg_linear(lx, lw_ok, lb), CG_ERR_SHAPE, "linear");
    cg_tensor *all[] = {x, x3, xc0, w, w2, w3, wd, b5, w6, lx, lw, lw1, lb, lw_ok};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        cg_tensor_free(all[i]);
}

/* ---- threads and memory ---- */

/* Forward and backward of a conv + pooling stack: output and every gradient, as doubles. */
static double *conv_stack(int threads, cg_tensor *x, cg_tensor *w, cg_tensor *b, int64_t *count)
{
    cg_set_num_threads(threads);
    cg_tape_reset(cg_tape_active());
    cg_tensor_zero_grad(x), cg_tensor_zero_grad(w), cg_tensor_zero_grad(b);
    cg_conv2d_options k3 = cg_conv2d_defaults(3, 3), p2 = cg_pool2d_defaults(2, 2);
    k3.padding[0] = k3.padding[1] = 1;
    cg_tensor *h = cg_clamp(cg_conv2d(x, w, b, &k3), 0.0, INFINITY);
    cg_tensor *y = cg_add(cg_max_pool2d(h, &p2), cg_avg_pool2d(h, &p2));
    assert_tensor(y);
    assert_ok(cg_backward(cg_sum(cg_mul(y, y), NULL, 0, false), NULL));
    cg_tensor *parts[4] = {y, cg_tensor_grad(x), cg_tensor_grad(w), cg_tensor_grad(b)};
    int64_t n = 0;
    for (int i = 0; i < 4; i++)
        n += cg_tensor_numel(parts[i]);
    double *v = malloc(sizeof *v * (size_t)n), *at = v;
    for (int i = 0; i < 4; i++) {
        assert_ok(cg_tensor_to_f64(parts[i], at));
        at += cg_tensor_numel(parts[i]);
    }
    *count = n;
    return v;
}

/* One thread and two give bit-identical values and gradients. */
static void test_thread_count_independent(void **state)
{
    (void)state;
    cg_tensor *x = randt(CG_F32, 4, (int64_t[]){32, 8, 28, 28}, 1);
    cg_tensor *w = randt(CG_F32, 4, (int64_t[]){16, 8, 3, 3}, 2);
    cg_tensor *b = randt(CG_F32, 1, (int64_t[]){16}, 3);
    cg_tensor_set_requires_grad(x, true);
    cg_tensor_set_requires_grad(w, true);
    cg_tensor_set_requires_grad(b, true);
    int64_t n1, n2;
    double *one = conv_stack(1, x, w, b, &n1), *two = conv_stack(2, x, w, b, &n2);
    cg_set_num_threads(0);
    assert_int_equal(n1, n2);
    for (int64_t i = 0; i < n1; i++)
        if (memcmp(&one[i], &two[i], sizeof one[i]))
            fail_msg("element %lld: %.9g with 1 thread, %.9g with 2", (long long)i, one[i], two[i]);
    free(one), free(two);
    cg_tensor_free(x), cg_tensor_free(w), cg_tensor_free(b);
}

/* After a first step, a training step of conv, pooling and linear allocates nothing. */
static void test_steady_state_allocates_nothing(void **state)
{
    (void)state;
    cg_tensor *x = randt(CG_F32, 4, (int64_t[]){8, 3, 12, 12}, 1);
    cg_tensor *w = randt(CG_F32, 4, (int64_t[]){6, 3, 3, 3}, 2);
    cg_tensor *lw = randt(CG_F32, 2, (int64_t[]){10, 6 * 5 * 5}, 3);
    cg_tensor_set_requires_grad(w, true);
    cg_tensor_set_requires_grad(lw, true);
    cg_conv2d_options k3 = cg_conv2d_defaults(3, 3), p2 = cg_pool2d_defaults(2, 2);
    uint64_t before = 0;
    for (int step = 0; step < 3; step++) {
        if (step == 2)
            before = cg_alloc_get_stats().malloc_calls;
        cg_tape_reset(cg_tape_active());
        cg_tensor *h = cg_max_pool2d(cg_clamp(cg_conv2d(x, w, NULL, &k3), 0.0, INFINITY), &p2);
        h = cg_avg_pool2d(h, &(cg_conv2d_options){{3, 3}, {1, 1}, {1, 1}, {1, 1}, 1});
        cg_tensor *y = cg_linear(cg_flatten(h, 1, -1), lw, NULL);
        assert_ok(cg_backward(cg_mean(cg_mul(y, y), NULL, 0, false), NULL));
    }
    assert_int_equal(cg_alloc_get_stats().malloc_calls, before);
    cg_tensor_free(x), cg_tensor_free(w), cg_tensor_free(lw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_conv2d_naive),
        CG_TEST(test_conv2d_empty_batch),
        CG_TEST(test_identities),
        CG_TEST(test_pool_naive),
        CG_TEST(test_max_pool_tie_first),
        CG_TEST(test_max_pool_nan_and_negative),
        CG_TEST(test_max_pool_2x2_f32),
        CG_TEST(test_max_pool_2x2_f64),
        CG_TEST(test_linear),
        CG_TEST(test_conv_errors),
        CG_TEST(test_thread_count_independent),
        CG_TEST(test_steady_state_allocates_nothing),
    };
    return cmocka_run_group_tests_name("conv", tests, NULL, NULL);
}
