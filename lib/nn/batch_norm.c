/* Batch normalization in training as fused table ops (rows in norm_ops.h), used by
 * cg_batch_norm (norm.c):
 *
 *   batch_norm_stats(x)                        [3, C]: mean, 1/sqrt(var + eps), unbiased var
 *   batch_norm(x, stats, w, b)                 y = x alpha + beta, alpha = w invstd,
 *                                              beta = b - mean alpha (PyTorch's CPU form)
 *   batch_norm_grad_sums(x, g, stats)          [2, C]: sum g, sum g xhat
 *   batch_norm_grad_input(x, g, stats, s, w)   w invstd (g - s0 / M - xhat s1 / M)
 *
 * with xhat = (x - mean) invstd and M the values per channel. The statistics read x once
 * (below), the output once more; backward is PyTorch's closed form in two passes:
 * grad_sums, whose rows are also the bias and weight gradients, then grad_input.
 *
 * The statistics are an input the graph cannot differentiate (stats is not recorded), so
 * every rule returns the total derivative with respect to x, through mean and invstd too.
 * The rules of grad_sums and grad_input run only for gradients of gradients: they are
 * written with ops and recompute the statistics with ops, so they hold at any order.
 *
 * Statistics are exact to a few ulps of double whatever the offset of the data: each run
 * of at most BLOCK values (a row of an image plane, in L1) is summed, then its squared
 * deviations from its own mean; runs are merged with Chan et al.'s update. Work is split
 * by channel only, and each channel is computed in a fixed order: the results do not
 * depend on the thread count.
 */
#include <math.h>
#include <string.h>

#include "op.h"

enum {
    LANES = 8,    /* independent accumulators in the double sums (vectorised) */
    BLOCK = 4096, /* values per run of the statistics */
};

/* ---- x as [N, C, R] ---- */

typedef struct bn_view {
    int64_t n, c, r;    /* batch, channels, values per (sample, channel) */
    int64_t sn, sc, sr; /* strides in elements */
} bn_view;

/* The trailing dimensions of x must form one run of constant stride (true of contiguous
 * and channels-last tensors); false otherwise. */
static bool view_of(const cg_tensor *x, bn_view *v)
{
    v->n = x->shape[0];
    v->c = x->shape[1];
    v->sn = x->strides[0];
    v->sc = x->strides[1];
    v->r = 1;
    v->sr = 1;
    bool first = true;
    for (int d = x->ndim - 1; d >= 2; d--) {
        if (x->shape[d] == 1)
            continue;
        if (first)
            v->sr = x->strides[d];
        else if (x->strides[d] != v->sr * v->r)
            return false;
        first = false;
        v->r *= x->shape[d];
    }
    return true;
}

bool cg__batch_norm_layout_ok(const cg_tensor *x)
{
    bn_view v;
    return x->ndim >= 2 && view_of(x, &v);
}

/* A channel's values as `rows` runs of `len` at stride s, `step` apart. With one value
 * per (sample, channel), the batch itself is the run. */
typedef struct runs {
    int64_t rows, len;
} runs;

static runs runs_of(const bn_view *v)
{
    runs r = {v->r == 1 ? 1 : v->n, v->r == 1 ? v->n : v->r};
    return r;
}
static int64_t run_stride(const bn_view *v) { return v->r == 1 ? v->sn : v->sr; }
static int64_t run_step(const bn_view *v) { return v->r == 1 ? 0 : v->sn; }

/* Element offset of run `row` of channel c. */
static int64_t run_at(const bn_view *v, int64_t c, int64_t row)
{
    return c * v->sc + row * run_step(v);
}

/* ---- loops over one run, per dtype ---- */

/* The lanes added in a fixed order. */
static double sums(const double *a)
{
    double t = 0;
    for (int k = 0; k < LANES; k++)
        t += a[k];
    return t;
}

/* Sum of x - k and sum of squared deviations from the run's mean, in double. */
#define BN_MOMENTS(T, NAME)                                                                 \
    static void NAME(const T *p, int64_t n, int64_t s, double k, double *sum, double *m2)   \
    {                                                                                       \
        double a[LANES] = {0}, b[LANES] = {0}, t = 0, q = 0;                                \
        int64_t i = 0, v = s == 1 ? n - n % LANES : 0;                                      \
        for (; i < v; i += LANES)                                                           \
            for (int l = 0; l < LANES; l++)                                                 \
                a[l] += (double)p[i + l] - k;                                               \
        for (; i < n; i++)                                                                  \
            t += (double)p[i * s] - k;                                                      \
        t += sums(a);                                                                       \
        const double m = k + t / (double)n;                                                 \
        for (i = 0; i < v; i += LANES)                                                      \
            for (int l = 0; l < LANES; l++)                                                 \
                b[l] += ((double)p[i + l] - m) * ((double)p[i + l] - m);                    \
        for (; i < n; i++)                                                                  \
            q += ((double)p[i * s] - m) * ((double)p[i * s] - m);                           \
        *sum = t;                                                                           \
        *m2 = q + sums(b);                                                                  \
    }

/* y = x alpha + beta in the input's precision. */
#define BN_AXPB(T, NAME)                                                                    \
    static void NAME(const T *x, int64_t sx, T *y, int64_t sy, int64_t n, T alpha, T beta) \
    {                                                                                       \
        if (sx == 1 && sy == 1)                                                             \
            for (int64_t i = 0; i < n; i++)                                                 \
                y[i] = x[i] * alpha + beta;                                                 \
        else                                                                                \
            for (int64_t i = 0; i < n; i++)                                                 \
                y[i * sy] = x[i * sx] * alpha + beta;                                       \
    }

/* sum g and sum g (x - m), in double. Two loops: each vectorises, the second reads from
 * L1 what the first brought in. */
#define BN_DOTS(T, NAME)                                                                    \
    static void NAME(const T *g, int64_t sg, const T *x, int64_t sx, int64_t n, double m,  \
                     double *sum, double *dot)                                              \
    {                                                                                       \
        double a[LANES] = {0}, b[LANES] = {0}, t = 0, d = 0;                                \
        int64_t i = 0, v = sg == 1 && sx == 1 ? n - n % LANES : 0;                          \
        for (; i < v; i += LANES)                                                           \
            for (int k = 0; k < LANES; k++)                                                 \
                a[k] += g[i + k];                                                           \
        for (i = 0; i < v; i += LANES)                                                      \
            for (int k = 0; k < LANES; k++)                                                 \
                b[k] += (double)g[i + k] * ((double)x[i + k] - m);                          \
        for (; i < n; i++) {                                                                \
            t += g[i * sg];                                                                 \
            d += (double)g[i * sg] * ((double)x[i * sx] - m);                               \
        }                                                                                   \
        *sum += t + sums(a);                                                                \
        *dot += d + sums(b);                                                                \
    }

/* out = ((g - gm) - (x - m) k) scale in the input's precision. */
#define BN_GRAD_INPUT(T, NAME)                                                              \
    static void NAME(const T *g, int64_t sg, const T *x, int64_t sx, T *o, int64_t so,     \
                     int64_t n, const T *c)                                                 \
    {                                                                                       \
        const T m = c[0], gm = c[1], k = c[2], scale = c[3];                                \
        if (sg == 1 && sx == 1 && so == 1)                                                  \
            for (int64_t i = 0; i < n; i++)                                                 \
                o[i] = ((g[i] - gm) - (x[i] - m) * k) * scale;                              \
        else                                                                                \
            for (int64_t i = 0; i < n; i++)                                                 \
                o[i * so] = ((g[i * sg] - gm) - (x[i * sx] - m) * k) * scale;               \
    }

BN_MOMENTS(float, moments_f32)
BN_MOMENTS(double, moments_f64)
BN_AXPB(float, axpb_f32)
BN_AXPB(double, axpb_f64)
BN_DOTS(float, dots_f32)
BN_DOTS(double, dots_f64)
BN_GRAD_INPUT(float, grad_input_f32)
BN_GRAD_INPUT(double, grad_input_f64)

/* ---- per-channel work, split over threads by channel ---- */

typedef struct bn_job {
    bool f32;
    bn_view x, g, o;        /* input, incoming gradient, output */
    const char *px, *pg;    /* their first elements */
    char *po;
    const double *p[5];     /* per-channel parameters, [C] each */
    int64_t count;          /* values per channel */
    double eps;
} bn_job;

typedef void (*channel_fn)(const bn_job *j, int64_t c);

static void for_channels(const bn_job *j, channel_fn fn)
{
    int threads = cg__threads_for(j->x.n * j->x.c * j->x.r, 2);
    if (threads > j->x.c)
        threads = (int)j->x.c;
    if (threads > 1) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t c = 0; c < j->x.c; c++)
            fn(j, c);
    } else {
        for (int64_t c = 0; c < j->x.c; c++)
            fn(j, c);
    }
}

static const void *at(const char *base, bool f32, int64_t off)
{
    return base + off * (int64_t)(f32 ? sizeof(float) : sizeof(double));
}

/* Mean, invstd and unbiased variance of channel c into the [3, C] output. Sums are of
 * x - k, k the channel's first value, so that run means and their differences stay of the
 * order of the spread, not of the mean: Chan's merge then loses nothing to the offset. */
static void stats_channel(const bn_job *j, int64_t c)
{
    runs r = runs_of(&j->x);
    int64_t s = run_stride(&j->x);
    double k = 0, cnt = 0, mean = 0, m2 = 0, total = 0;
    if (r.rows > 0 && r.len > 0)
        k = j->f32 ? *(const float *)at(j->px, true, run_at(&j->x, c, 0))
                   : *(const double *)at(j->px, false, run_at(&j->x, c, 0));
    for (int64_t row = 0; row < r.rows; row++)
        for (int64_t i0 = 0; i0 < r.len; i0 += BLOCK) {
            int64_t n = r.len - i0 < BLOCK ? r.len - i0 : BLOCK;
            const void *p = at(j->px, j->f32, run_at(&j->x, c, row) + i0 * s);
            double sum, q;
            if (j->f32)
                moments_f32(p, n, s, k, &sum, &q);
            else
                moments_f64(p, n, s, k, &sum, &q);
            /* Chan, Golub and LeVeque's merge of (cnt, mean, m2) with the run's. */
            total += sum;
            double tot = cnt + (double)n, d = sum / (double)n - mean;
            mean += d * ((double)n / tot);
            m2 += q + d * d * (cnt * (double)n / tot);
            cnt = tot;
        }
    double m = k + total / cnt, var = m2 / cnt, uvar = m2 / (cnt - 1);
    double inv = 1 / sqrt(var + j->eps);
    int64_t nc = j->x.c;
    if (j->f32) {
        float *o = (float *)j->po;
        o[c] = (float)m, o[nc + c] = (float)inv, o[2 * nc + c] = (float)uvar;
    } else {
        double *o = (double *)j->po;
        o[c] = m, o[nc + c] = inv, o[2 * nc + c] = uvar;
    }
}

/* y = x alpha + beta over channel c; p = mean, invstd, weight, bias. */
static void apply_channel(const bn_job *j, int64_t c)
{
    runs r = runs_of(&j->x);
    int64_t sx = run_stride(&j->x), so = run_stride(&j->o);
    for (int64_t row = 0; row < r.rows; row++) {
        const void *x = at(j->px, j->f32, run_at(&j->x, c, row));
        void *y = (void *)at(j->po, j->f32, run_at(&j->o, c, row));
        if (j->f32) {
            float alpha = (float)j->p[2][c] * (float)j->p[1][c];
            float beta = (float)j->p[3][c] - (float)j->p[0][c] * alpha;
            axpb_f32(x, sx, y, so, r.len, alpha, beta);
        } else {
            double alpha = j->p[2][c] * j->p[1][c];
            double beta = j->p[3][c] - j->p[0][c] * alpha;
            axpb_f64(x, sx, y, so, r.len, alpha, beta);
        }
    }
}

/* sum g and sum g xhat of channel c into the [2, C] output; p = mean, invstd. */
static void sums_channel(const bn_job *j, int64_t c)
{
    runs r = runs_of(&j->x);
    int64_t sx = run_stride(&j->x), sg = run_stride(&j->g);
    double sum = 0, dot = 0;
    for (int64_t row = 0; row < r.rows; row++) {
        const void *x = at(j->px, j->f32, run_at(&j->x, c, row));
        const void *g = at(j->pg, j->f32, run_at(&j->g, c, row));
        if (j->f32)
            dots_f32(g, sg, x, sx, r.len, j->p[0][c], &sum, &dot);
        else
            dots_f64(g, sg, x, sx, r.len, j->p[0][c], &sum, &dot);
    }
    int64_t nc = j->x.c;
    if (j->f32) {
        float *o = (float *)j->po;
        o[c] = (float)sum, o[nc + c] = (float)(dot * j->p[1][c]);
    } else {
        double *o = (double *)j->po;
        o[c] = sum, o[nc + c] = dot * j->p[1][c];
    }
}

/* gx over channel c; p = mean, invstd, sum g, sum g xhat, weight. The constants are
 * PyTorch's: gm = sum g / M, k = sum g xhat invstd / M, scale = invstd w. */
static void grad_input_channel(const bn_job *j, int64_t c)
{
    runs r = runs_of(&j->x);
    int64_t sx = run_stride(&j->x), sg = run_stride(&j->g), so = run_stride(&j->o);
    double m = j->p[0][c], inv = j->p[1][c], n = (double)j->count;
    double k[4] = {m, j->p[2][c] / n, j->p[3][c] * inv / n, 0};
    float kf[4] = {(float)k[0], (float)k[1], (float)k[2], (float)inv * (float)j->p[4][c]};
    k[3] = inv * j->p[4][c];
    for (int64_t row = 0; row < r.rows; row++) {
        const void *x = at(j->px, j->f32, run_at(&j->x, c, row));
        const void *g = at(j->pg, j->f32, run_at(&j->g, c, row));
        void *o = (void *)at(j->po, j->f32, run_at(&j->o, c, row));
        if (j->f32)
            grad_input_f32(g, sg, x, sx, o, so, r.len, kf);
        else
            grad_input_f64(g, sg, x, sx, o, so, r.len, k);
    }
}

/* ---- forward kernels ---- */

/* Rows [first, first + n) of t ([C] or [rows, C]) as doubles on the pool. */
static bool load_rows(cg_pool *pool, const cg_tensor *t, int64_t c, int first, int n,
                      const double **dst)
{
    double *d = cg__pool_record(pool, sizeof(double) * (size_t)(c * n + 1));
    if (!d) {
        cg__error(CG_ERR_NOMEM, "batch_norm: out of memory for parameters");
        return false;
    }
    for (int64_t i = 0; i < c * n; i++)
        d[i] = cg__load(t, cg__storage_index(t, first * c + i));
    for (int k = 0; k < n; k++)
        dst[k] = d + k * c;
    return true;
}

/* Check that x is [N, C, ...] with a fusable layout, the other inputs share its dtype, and
 * input i (from 1) has rows[i] rows of C (0: [C]; -1: x's shape); fill j. */
static bool begin(int op, cg_tensor *const *in, int n, const int *rows, bn_job *j)
{
    const char *name = cg__ops[op].name;
    if (!cg__check_float_dtypes(name, in, n))
        return false;
    cg_tensor *x = in[0];
    char s[160], sx[160];
    if (x->ndim < 2 || !view_of(x, &j->x)) {
        cg__error(CG_ERR_SHAPE, "%s: input of shape %s is not [N, C, ...] with mergeable "
                                "trailing dimensions", name,
                  cg__shape_str(x->ndim, x->shape, s, sizeof s));
        return false;
    }
    for (int i = 1; i < n; i++) {
        const cg_tensor *t = in[i];
        bool ok = rows[i] < 0 ? t->ndim == x->ndim &&
                                    !memcmp(t->shape, x->shape, sizeof(int64_t) * (size_t)x->ndim)
                  : rows[i] == 0 ? t->ndim == 1 && t->shape[0] == x->shape[1]
                                 : t->ndim == 2 && t->shape[0] == rows[i] && t->shape[1] == x->shape[1];
        if (!ok) {
            cg__error(CG_ERR_SHAPE, "%s: input %d has shape %s, which does not fit input shape %s",
                      name, i, cg__shape_str(t->ndim, t->shape, s, sizeof s),
                      cg__shape_str(x->ndim, x->shape, sx, sizeof sx));
            return false;
        }
    }
    j->f32 = x->dtype == CG_F32;
    j->px = cg__ptr(x);
    j->count = j->x.n * j->x.r;
    return true;
}

/* The output's view (contiguous, x's shape or [rows, C]). */
static void set_output(bn_job *j, cg_tensor *out)
{
    j->po = cg__ptr(out);
    view_of(out, &j->o);
}

cg_tensor *cg__batch_norm_stats_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                                        const cg__attrs *attrs)
{
    bn_job j = {0};
    if (!begin(op, in, n, (const int[]){0}, &j))
        return NULL;
    cg_tensor *out = cg__tensor_alloc(pool, in[0]->dtype, 2, (int64_t[]){3, j.x.c});
    if (!out)
        return NULL;
    j.po = cg__ptr(out);
    j.eps = attrs->f[0];
    for_channels(&j, stats_channel);
    return out;
}

cg_tensor *cg__batch_norm_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                                  const cg__attrs *attrs)
{
    (void)attrs;
    bn_job j = {0};
    cg_tensor *x = in[0];
    if (!begin(op, in, n, (const int[]){0, 3, 0, 0}, &j))
        return NULL;
    cg_tensor *out = cg__tensor_alloc(pool, x->dtype, x->ndim, x->shape);
    if (!out || !load_rows(pool, in[1], j.x.c, 0, 2, j.p) ||
        !load_rows(pool, in[2], j.x.c, 0, 1, j.p + 2) ||
        !load_rows(pool, in[3], j.x.c, 0, 1, j.p + 3))
        return NULL;
    set_output(&j, out);
    for_channels(&j, apply_channel);
    return out;
}

cg_tensor *cg__batch_norm_grad_sums_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                                            const cg__attrs *attrs)
{
    (void)attrs;
    bn_job j = {0};
    if (!begin(op, in, n, (const int[]){0, -1, 3}, &j))
        return NULL;
    if (!view_of(in[1], &j.g)) {
        cg__error(CG_ERR_SHAPE, "%s: the gradient's trailing dimensions do not merge",
                  cg__ops[op].name);
        return NULL;
    }
    j.pg = cg__ptr(in[1]);
    cg_tensor *out = cg__tensor_alloc(pool, in[0]->dtype, 2, (int64_t[]){2, j.x.c});
    if (!out || !load_rows(pool, in[2], j.x.c, 0, 2, j.p))
        return NULL;
    j.po = cg__ptr(out);
    for_channels(&j, sums_channel);
    return out;
}

cg_tensor *cg__batch_norm_grad_input_forward(int op, cg_pool *pool, cg_tensor *const *in,
                                             int n, const cg__attrs *attrs)
{
    (void)attrs;
    bn_job j = {0};
    cg_tensor *x = in[0];
    if (!begin(op, in, n, (const int[]){0, -1, 3, 2, 0}, &j))
        return NULL;
    if (!view_of(in[1], &j.g)) {
        cg__error(CG_ERR_SHAPE, "%s: the gradient's trailing dimensions do not merge",
                  cg__ops[op].name);
        return NULL;
    }
    j.pg = cg__ptr(in[1]);
    cg_tensor *out = cg__tensor_alloc(pool, x->dtype, x->ndim, x->shape);
    if (!out || !load_rows(pool, in[2], j.x.c, 0, 2, j.p) ||
        !load_rows(pool, in[3], j.x.c, 0, 2, j.p + 2) ||
        !load_rows(pool, in[4], j.x.c, 0, 1, j.p + 4))
        return NULL;
    set_output(&j, out);
    for_channels(&j, grad_input_channel);
    return out;
}

/* ---- backward rules ---- */

#define IN(k) (node->inputs[k])

/* Row i of a [rows, C] tensor, as [C]. */
static cg_tensor *row(cg_tensor *t, int i) { return cg_squeeze(cg_slice(t, 0, i, i + 1, 1), 0); }

/* Per-channel sum ([1, C, 1, ...] with keepdim, else [C]) and mean (kept dims). */
static cg_tensor *csum(cg_tensor *t, bool keepdim)
{
    int axes[CG_MAX_DIMS], n = cg__axes_from(0, t->ndim, true, axes);
    return cg_sum(t, axes, n, keepdim);
}
static cg_tensor *cmean(cg_tensor *t)
{
    int axes[CG_MAX_DIMS], n = cg__axes_from(0, t->ndim, true, axes);
    return cg_mean(t, axes, n, true);
}

/* invstd and xhat of x recomputed with ops, so that they carry x's derivatives. */
static void standardize(cg_tensor *x, double eps, cg_tensor **istd, cg_tensor **xhat)
{
    int axes[CG_MAX_DIMS], n = cg__axes_from(0, x->ndim, true, axes);
    cg_tensor *mu = cg_mean(x, axes, n, true);
    *istd = cg_rsqrt(cg_add_scalar(cg_var(x, axes, n, 0, true), eps));
    *xhat = cg_mul(cg_sub(x, mu), *istd);
}

/* g in a layout the kernels take. */
static cg_tensor *fusable(cg_tensor *g)
{
    return g && !cg__batch_norm_layout_ok(g) ? cg_contiguous(g) : g;
}

/* The closed form: sums = (sum g, sum g xhat) are the bias and weight gradients, and
 * grad_input's input. */
cg_status cg__batch_norm_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    cg_tensor *x = IN(0), *stats = IN(1);
    g = fusable(g);
    cg_tensor *in[5] = {x, g, stats, NULL, IN(2)};
    cg_tensor *sums = cg__apply(CG_OP_BATCH_NORM_GRAD_SUMS, in, 3, &node->attrs);
    in[3] = sums;
    if (cg__needs(node, 0))
        gin[0] = cg__apply(CG_OP_BATCH_NORM_GRAD_INPUT, in, 5, &node->attrs);
    if (cg__needs(node, 2))
        gin[2] = row(sums, 1);
    if (cg__needs(node, 3))
        gin[3] = row(sums, 0);
    return CG_OK;
}

/* s1 = sum g xhat: d/dx = invstd (g - s0 / M - xhat s1 / M), d/dg = xhat; s0 = sum g:
 * d/dg = 1. */
cg_status cg__batch_norm_grad_sums_backward(const cg_node *node, cg_tensor *gs, cg_tensor **gin)
{
    cg_tensor *x = IN(0), *g = IN(1), *istd, *xhat;
    int nd = x->ndim;
    standardize(x, node->attrs.f[0], &istd, &xhat);
    cg_tensor *g0 = cg__channel_view(row(gs, 0), nd), *g1 = cg__channel_view(row(gs, 1), nd);
    if (cg__needs(node, 0)) {
        cg_tensor *c = cg_add(cmean(g), cg_mul(xhat, cmean(cg_mul(g, xhat))));
        gin[0] = cg_mul(cg_mul(g1, istd), cg_sub(g, c));
    }
    if (cg__needs(node, 1))
        gin[1] = cg_add(g0, cg_mul(g1, xhat));
    return CG_OK;
}

/* gx = w invstd (g - s0 / M - xhat s1 / M), with L = sum gg gx:
 *   dL/dg  = w invstd gg
 *   dL/ds0 = -w invstd sum gg / M,  dL/ds1 = -w invstd sum gg xhat / M
 *   dL/dw  = sum gg invstd (g - s0 / M - xhat s1 / M)
 *   dL/dx  = -w invstd^2 / M (T xhat + s1 (gg - mean gg - 2 xhat mean(gg xhat))),
 *            T = sum gg (g - s0 / M), through invstd and xhat. */
cg_status cg__batch_norm_grad_input_backward(const cg_node *node, cg_tensor *gg,
                                             cg_tensor **gin)
{
    cg_tensor *x = IN(0), *g = IN(1), *s = IN(3), *istd, *xhat;
    int nd = x->ndim;
    double m = (double)(cg__shape_numel(x->ndim, x->shape) / (x->shape[1] ? x->shape[1] : 1));
    standardize(x, node->attrs.f[0], &istd, &xhat);
    cg_tensor *w = cg__channel_view(IN(4), nd);
    cg_tensor *s0 = cg__channel_view(row(s, 0), nd), *s1 = cg__channel_view(row(s, 1), nd);
    cg_tensor *w_istd = cg_mul(w, istd);
    if (cg__needs(node, 1))
        gin[1] = cg_mul(w_istd, gg);
    if (cg__needs(node, 3)) {
        cg_tensor *k = cg_mul_scalar(w_istd, -1.0 / m);
        cg_tensor *rows[2] = {csum(cg_mul(k, gg), false), csum(cg_mul(k, cg_mul(gg, xhat)), false)};
        gin[3] = cg_stack(rows, 2, 0);
    }
    if (cg__needs(node, 4)) {
        cg_tensor *inner = cg_sub(cg_sub(g, cg_mul_scalar(s0, 1.0 / m)),
                                  cg_mul(xhat, cg_mul_scalar(s1, 1.0 / m)));
        gin[4] = csum(cg_mul(gg, cg_mul(istd, inner)), false);
    }
    if (cg__needs(node, 0)) {
        cg_tensor *t = csum(cg_mul(gg, cg_sub(g, cg_mul_scalar(s0, 1.0 / m))), true);
        cg_tensor *dev = cg_sub(cg_sub(gg, cmean(gg)),
                                cg_mul_scalar(cg_mul(xhat, cmean(cg_mul(gg, xhat))), 2.0));
        cg_tensor *sum = cg_add(cg_mul(t, xhat), cg_mul(s1, dev));
        gin[0] = cg_mul(cg_mul_scalar(cg_mul(w_istd, istd), -1.0 / m), sum);
    }
    return CG_OK;
}
