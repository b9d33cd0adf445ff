/* Convolution and pooling: conv2d, max_pool2d, avg_pool2d, global_avg_pool2d and linear.
 *
 * Windows are carried by two adjoint table ops. im2col copies every kh x kw window of
 * x [N, C, H, W] into a column matrix [C*kh*kw, N, Ho*Wo] (padding reads as 0); col2im sums
 * such a matrix back into [N, C, H, W]. Each is the other's backward rule, so conv2d and
 * avg_pool2d, built from them and differentiable ops, are twice differentiable for free.
 *
 * The columns put the channel-and-offset index first and the batch inside, so that seen as
 * a matrix [C*K, N*L] a convolution is ONE product per group over all N*Ho*Wo positions:
 * weight [O/g, C/g*K] times the group's rows, and in backward dW = g cols^T is one product
 * of inner size N*L, with no per-sample partial weights to sum. The price is a copy that
 * turns the product's [O, N, Ho, Wo] into [N, O, Ho, Wo], fused with the bias add.
 *
 * Max pooling is three ops: max_pool2d_indices (not differentiable) finds the first maximum
 * of each window in PyTorch's scan order; max_pool2d reads x at those indices, and its
 * adjoint max_unpool2d adds values into zeros at them (sums, because overlapping windows
 * can share a maximum). The last two are each other's backward.
 *
 * Kernels run over (n, c) planes with one thread per plane and a fixed order of sums
 * within it, so results do not depend on the thread count. */
#include <math.h>
#include <string.h>

#include "cgrad/nn.h"
#include "op.h"

/* ---- geometry ---- */

/* Window geometry in attrs.i, height before width: kernel, stride, padding, dilation, and
 * the input's H and W (col2im and max_unpool2d rebuild an input of that size). */
enum { A_KH, A_KW, A_SH, A_SW, A_PH, A_PW, A_DH, A_DW, A_H, A_W, A_COUNT };

typedef struct geom {
    int64_t kh, kw, sh, sw, ph, pw, dh, dw, h, w, ho, wo;
} geom;

/* floor((in + 2p - d(k-1) - 1) / s) + 1, or 0 when the window does not fit at all. */
static int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d)
{
    int64_t span = in + 2 * p - d * (k - 1) - 1;
    return span < 0 ? 0 : span / s + 1;
}

static geom geom_of(const cg__attrs *at)
{
    const int64_t *v = at->i;
    geom g = {v[A_KH], v[A_KW], v[A_SH], v[A_SW], v[A_PH], v[A_PW], v[A_DH], v[A_DW],
              v[A_H],  v[A_W],  0,       0};
    g.ho = out_size(g.h, g.kh, g.sh, g.ph, g.dh);
    g.wo = out_size(g.w, g.kw, g.sw, g.pw, g.dw);
    return g;
}

/* Outputs o in [*lo, *hi) of a row of nout whose input position o*s + off lies in
 * [0, size): the span of a window row that reads real input, not padding. */
static void inside(int64_t size, int64_t s, int64_t off, int64_t nout, int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = size - 1 - off < 0 ? 0 : (size - 1 - off) / s + 1;
    *lo = a < nout ? a : nout;
    *hi = b < *lo ? *lo : b < nout ? b : nout;
}

/* ---- plane kernels ---- */

/* What a kernel reads and writes. Plane p is (n, c) = (p / c, p % c). The output is fresh
 * and contiguous; the source may be any strided view (s in elements: n, c, h, w for an
 * image, row, n, l for columns). */
typedef struct job {
    geom g;
    int64_t n, c;
    bool f32;
    int64_t es; /* bytes per element */
    const char *src;
    int64_t s[4];
    char *dst;
    const int64_t *idx; /* max pooling: flat index into the H x W plane, -1 for none */
} job;

static job job_of(const cg__attrs *at, const cg_tensor *src, cg_tensor *out, int64_t n,
                  int64_t c)
{
    job j;
    memset(&j, 0, sizeof j);
    j.g = geom_of(at);
    j.n = n;
    j.c = c;
    j.f32 = src->dtype == CG_F32;
    j.es = (int64_t)cg_dtype_size(src->dtype);
    j.src = cg__ptr(src);
    for (int d = 0; d < src->ndim; d++)
        j.s[d] = src->strides[d];
    j.dst = cg__ptr(out);
    return j;
}

/* dst[i] = src[i * step] for i < n. */
static void copy_run(bool f32, char *dst, const char *src, int64_t n, int64_t step)
{
    if (step == 1) {
        memcpy(dst, src, (size_t)n * (f32 ? 4 : 8));
    } else if (f32) {
        for (int64_t i = 0; i < n; i++)
            ((float *)dst)[i] = ((const float *)src)[i * step];
    } else {
        for (int64_t i = 0; i < n; i++)
            ((double *)dst)[i] = ((const double *)src)[i * step];
    }
}

/* dst[i * dstep] += src[i * sstep] for i < n; unit strides (col2im of a stride-1
 * convolution) get a loop the compiler vectorises. */
static void add_run(bool f32, char *dst, int64_t dstep, const char *src, int64_t sstep, int64_t n)
{
    if (dstep == 1 && sstep == 1) {
        if (f32) {
            float *restrict d = (float *)(void *)dst;
            const float *restrict a = (const float *)(const void *)src;
            for (int64_t i = 0; i < n; i++)
                d[i] += a[i];
        } else {
            double *restrict d = (double *)(void *)dst;
            const double *restrict a = (const double *)(const void *)src;
            for (int64_t i = 0; i < n; i++)
                d[i] += a[i];
        }
    } else if (f32) {
        for (int64_t i = 0; i < n; i++)
            ((float *)dst)[i * dstep] += ((const float *)src)[i * sstep];
    } else {
        for (int64_t i = 0; i < n; i++)
            ((double *)dst)[i * dstep] += ((const double *)src)[i * sstep];
    }
}

/* Columns of plane (n, c): row (c, ki, kj), column block n, one output row oh at a time,
 * split into padding (zeros) and a strided copy of the input row. */
static void im2col_plane(const job *j, int64_t n, int64_t c)
{
    const geom *g = &j->g;
    const char *img = j->src + (n * j->s[0] + c * j->s[1]) * j->es;
    int64_t l = g->ho * g->wo;
    for (int64_t ki = 0; ki < g->kh; ki++) {
        for (int64_t kj = 0; kj < g->kw; kj++) {
            int64_t row = (c * g->kh + ki) * g->kw + kj, off = kj * g->dw - g->pw, lo, hi;
            inside(g->w, g->sw, off, g->wo, &lo, &hi);
            char *dst = j->dst + (row * j->n + n) * l * j->es;
            for (int64_t oh = 0; oh < g->ho; oh++, dst += g->wo * j->es) {
                int64_t ih = oh * g->sh + ki * g->dh - g->ph;
                if (ih < 0 || ih >= g->h) {
                    memset(dst, 0, (size_t)(g->wo * j->es));
                    continue;
                }
                memset(dst, 0, (size_t)(lo * j->es));
                if (hi > lo)
                    copy_run(j->f32, dst + lo * j->es,
                             img + (ih * j->s[2] + (lo * g->sw + off) * j->s[3]) * j->es,
                             hi - lo, g->sw * j->s[3]);
                memset(dst + hi * j->es, 0, (size_t)((g->wo - hi) * j->es));
            }
        }
    }
}

/* Plane (n, c) of the image: zeros, then every column entry that came from it added back,
 * in (ki, kj, oh, ow) order. */
static void col2im_plane(const job *j, int64_t n, int64_t c)
{
    const geom *g = &j->g;
    char *plane = j->dst + (n * j->c + c) * g->h * g->w * j->es;
    memset(plane, 0, (size_t)(g->h * g->w * j->es));
    for (int64_t ki = 0; ki < g->kh; ki++) {
        for (int64_t kj = 0; kj < g->kw; kj++) {
            int64_t row = (c * g->kh + ki) * g->kw + kj, off = kj * g->dw - g->pw, lo, hi;
            inside(g->w, g->sw, off, g->wo, &lo, &hi);
            const char *src = j->src + (row * j->s[0] + n * j->s[1]) * j->es;
            for (int64_t oh = 0; oh < g->ho; oh++) {
                int64_t ih = oh * g->sh + ki * g->dh - g->ph;
                if (ih < 0 || ih >= g->h || hi <= lo)
                    continue;
                add_run(j->f32, plane + (ih * g->w + lo * g->sw + off) * j->es, g->sw,
                        src + (oh * g->wo + lo) * j->s[2] * j->es, j->s[2], hi - lo);
            }
        }
    }
}

/* One window element for n neighbouring windows: take it where it beats the best so far,
 * is NaN (a NaN wins; a later NaN replaces it) or is the window's first element inside
 * the input. Selects, not branches: random data and ties make branches unpredictable.
 * T converts to the double best exactly, so the comparisons are those of T. */
#define ARGMAX_RUN(T)                                                                       \
    static inline void argmax_run_##T(const char *src, int64_t step, int64_t n, int64_t pos, \
                                      int64_t pstep, double *best, int64_t *at)             \
    {                                                                                       \
        for (int64_t i = 0; i < n; i++, pos += pstep) {                                     \
            T v = ((const T *)(const void *)src)[i * step];                                 \
            bool take = (v > best[i]) | (v != v) | (at[i] < 0);                             \
            best[i] = take ? v : best[i];                                                   \
            at[i] = take ? pos : at[i];                                                     \
        }                                                                                   \
    }
ARGMAX_RUN(float)
ARGMAX_RUN(double)

enum { ROW_CHUNK = 256 };

/* First maxima of output row oh, columns [ow0, ow0 + m), m <= ROW_CHUNK: the window
 * elements visited in PyTorch's order (kernel rows, then columns) for all m windows at
 * once. A window with no element inside the input keeps index -1. */
static void argmax_row(const job *j, const char *img, int64_t oh, int64_t ow0, int64_t m,
                       int64_t *at)
{
    const geom *g = &j->g;
    double best[ROW_CHUNK];
    for (int64_t i = 0; i < m; i++)
        best[i] = -INFINITY, at[i] = -1;
    for (int64_t ki = 0; ki < g->kh; ki++) {
        int64_t ih = oh * g->sh + ki * g->dh - g->ph;
        if (ih < 0 || ih >= g->h)
            continue;
        for (int64_t kj = 0; kj < g->kw; kj++) {
            int64_t off = kj * g->dw - g->pw, lo, hi;
            inside(g->w, g->sw, off, g->wo, &lo, &hi);
            lo = lo > ow0 ? lo : ow0;
            hi = hi < ow0 + m ? hi : ow0 + m;
            if (hi <= lo)
                continue;
            const char *src = img + (ih * j->s[2] + (lo * g->sw + off) * j->s[3]) * j->es;
            int64_t pos = ih * g->w + lo * g->sw + off, step = g->sw * j->s[3];
            if (j->f32)
                argmax_run_float(src, step, hi - lo, pos, g->sw, best + lo - ow0, at + lo - ow0);
            else
                argmax_run_double(src, step, hi - lo, pos, g->sw, best + lo - ow0, at + lo - ow0);
        }
    }
}

/* The 2x2 stride-2 window without padding or dilation over rows of unit stride (the
 * usual max pool): each window's four elements a b / c d in PyTorch's order, under the same
 * rule as argmax_run (a NaN wins, a later NaN replaces it), written as selects on the
 * element's number k so that the loop vectorises. */
#define ARGMAX_2X2(T)                                                                       \
    static void argmax_2x2_row_##T(const T *restrict r0, const T *restrict r1, int64_t wo,  \
                                   int64_t p0, int64_t w, int64_t *restrict out)            \
    {                                                                                       \
        for (int64_t ow = 0; ow < wo; ow++) {                                               \
            T b = r0[2 * ow + 1], c = r1[2 * ow], d = r1[2 * ow + 1], m = r0[2 * ow];       \
            int32_t k = 0;                                                                  \
            bool t = (b > m) | (b != b);                                                    \
            m = t ? b : m;                                                                  \
            k = t ? 1 : k;                                                                  \
            t = (c > m) | (c != c);                                                         \
            m = t ? c : m;                                                                  \
            k = t ? 2 : k;                                                                  \
            t = (d > m) | (d != d);                                                         \
            k = t ? 3 : k;                                                                  \
            out[ow] = p0 + 2 * ow + (k & 1) + (k >> 1) * w;                                 \
        }                                                                                   \
    }                                                                                       \
    static void argmax_2x2_##T(const job *j, const char *img, int64_t *out)                 \
    {                                                                                       \
        const geom *g = &j->g;                                                              \
        for (int64_t oh = 0; oh < g->ho; oh++, out += g->wo) {                              \
            const char *r0 = img + 2 * oh * j->s[2] * j->es;                                \
            argmax_2x2_row_##T((const T *)(const void *)r0,                                 \
                               (const T *)(const void *)(r0 + j->s[2] * j->es), g->wo,      \
                               2 * oh * g->w, g->w, out);                                   \
        }                                                                                   \
    }
ARGMAX_2X2(float)
ARGMAX_2X2(double)

static bool is_2x2(const job *j)
{
    const geom *g = &j->g;
    return g->kh == 2 && g->kw == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0 &&
           g->dh == 1 && g->dw == 1 && j->s[3] == 1;
}

static void argmax_plane(const job *j, int64_t n, int64_t c)
{
    const char *img = j->src + (n * j->s[0] + c * j->s[1]) * j->es;
    int64_t *out = (int64_t *)(void *)j->dst + (n * j->c + c) * j->g.ho * j->g.wo;
    if (is_2x2(j)) {
        if (j->f32)
            argmax_2x2_float(j, img, out);
        else
            argmax_2x2_double(j, img, out);
        return;
    }
    for (int64_t oh = 0; oh < j->g.ho; oh++) {
        for (int64_t ow = 0, m; ow < j->g.wo; ow += m, out += m) {
            m = j->g.wo - ow < ROW_CHUNK ? j->g.wo - ow : ROW_CHUNK;
            argmax_row(j, img, oh, ow, m, out);
        }
    }
}

/* out[n, c, o] = x[n, c] at idx[n, c, o] (-inf for an empty window). */
#define GATHER(T)                                                                           \
    static void gather_##T(const job *j, const char *img, int64_t first)                    \
    {                                                                                       \
        int64_t l = j->g.ho * j->g.wo, w = j->g.w;                                          \
        const T *x = (const T *)(const void *)img;                                          \
        const int64_t *idx = j->idx + first;                                                \
        T *o = (T *)(void *)j->dst + first;                                                 \
        if (j->s[3] == 1 && j->s[2] == w) { /* the index is the offset: no division */      \
            for (int64_t i = 0; i < l; i++)                                                 \
                o[i] = idx[i] < 0 ? (T)-INFINITY : x[idx[i]];                               \
        } else {                                                                            \
            for (int64_t i = 0; i < l; i++)                                                 \
                o[i] = idx[i] < 0 ? (T)-INFINITY                                            \
                                  : x[idx[i] / w * j->s[2] + idx[i] % w * j->s[3]];         \
        }                                                                                   \
    }
GATHER(float)
GATHER(double)

static void gather_plane(const job *j, int64_t n, int64_t c)
{
    const char *img = j->src + (n * j->s[0] + c * j->s[1]) * j->es;
    int64_t first = (n * j->c + c) * j->g.ho * j->g.wo;
    if (j->f32)
        gather_float(j, img, first);
    else
        gather_double(j, img, first);
}

/* Plane (n, c) of zeros [H, W] with g[n, c, o] added at idx[n, c, o], in order of o. */
#define SCATTER(T)                                                                          \
    static void scatter_##T(const job *j, T *plane, const char *src, const int64_t *idx)    \
    {                                                                                       \
        const geom *g = &j->g;                                                              \
        for (int64_t oh = 0; oh < g->ho; oh++, idx += g->wo) {                              \
            const T *row = (const T *)(const void *)(src + oh * j->s[2] * j->es);           \
            for (int64_t ow = 0; ow < g->wo; ow++)                                          \
                if (idx[ow] >= 0)                                                           \
                    plane[idx[ow]] += row[ow * j->s[3]];                                    \
        }                                                                                   \
    }
SCATTER(float)
SCATTER(double)

static void scatter_plane(const job *j, int64_t n, int64_t c)
{
    const geom *g = &j->g;
    char *plane = j->dst + (n * j->c + c) * g->h * g->w * j->es;
    const char *src = j->src + (n * j->s[0] + c * j->s[1]) * j->es;
    const int64_t *idx = j->idx + (n * j->c + c) * g->ho * g->wo;
    memset(plane, 0, (size_t)(g->h * g->w * j->es));
    if (j->f32)
        scatter_float(j, (float *)(void *)plane, src, idx);
    else
        scatter_double(j, (double *)(void *)plane, src, idx);
}

/* fn on every plane; a plane is `work` element operations. */
static void for_planes(const job *j, void (*fn)(const job *, int64_t, int64_t), int64_t work)
{
    int64_t planes = j->n * j->c;
    int threads = cg__threads_for(planes, work);
    if (threads > planes)
        threads = planes > 1 ? (int)planes : 1;
    /* Not an `if` clause: libgomp allocates a team even for a region it runs alone. */
    if (threads <= 1) {
        for (int64_t p = 0; p < planes; p++)
            fn(j, p / j->c, p % j->c);
        return;
    }
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t p = 0; p < planes; p++)
        fn(j, p / j->c, p % j->c);
}

/* ---- table ops ---- */

#define IN(k) (node->inputs[k])

cg_tensor *cg__im2col_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                              const cg__attrs *attrs)
{
    (void)op, (void)n;
    cg_tensor *x = in[0];
    if (!cg__check_float_dtypes("im2col", &x, 1))
        return NULL;
    geom g = geom_of(attrs);
    int64_t shape[3] = {x->shape[1] * g.kh * g.kw, x->shape[0], g.ho * g.wo};
    cg_tensor *out = cg__tensor_alloc(pool, x->dtype, 3, shape);
    if (!out)
        return NULL;
    job j = job_of(attrs, x, out, x->shape[0], x->shape[1]);
    for_planes(&j, im2col_plane, g.kh * g.kw * g.ho * g.wo);
    return out;
}

cg_tensor *cg__col2im_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                              const cg__attrs *attrs)
{
    (void)op, (void)n;
    cg_tensor *cols = in[0];
    if (!cg__check_float_dtypes("col2im", &cols, 1))
        return NULL;
    geom g = geom_of(attrs);
    int64_t shape[4] = {cols->shape[1], cols->shape[0] / (g.kh * g.kw), g.h, g.w};
    cg_tensor *out = cg__tensor_alloc(pool, cols->dtype, 4, shape);
    if (!out)
        return NULL;
    job j = job_of(attrs, cols, out, shape[0], shape[1]);
    for_planes(&j, col2im_plane, g.kh * g.kw * g.ho * g.wo);
    return out;
}

cg_status cg__im2col_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg__apply(CG_OP_COL2IM, &g, 1, &node->attrs);
    return CG_OK;
}

cg_status cg__col2im_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg__apply(CG_OP_IM2COL, &g, 1, &node->attrs);
    return CG_OK;
}

cg_tensor *cg__max_pool2d_indices_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                                          const cg__attrs *attrs)
{
    (void)op, (void)n;
    cg_tensor *x = in[0];
    if (!cg__check_float_dtypes("max_pool2d", &x, 1))
        return NULL;
    geom g = geom_of(attrs);
    int64_t shape[4] = {x->shape[0], x->shape[1], g.ho, g.wo};
    cg_tensor *out = cg__tensor_alloc(pool, CG_I64, 4, shape);
    if (!out)
        return NULL;
    job j = job_of(attrs, x, out, shape[0], shape[1]);
    for_planes(&j, argmax_plane, g.kh * g.kw * g.ho * g.wo);
    return out;
}

/* Values x [N, C, h, w] (h, w: H, W for max_pool2d, Ho, Wo for max_unpool2d) and the
 * indices of max_pool2d_indices: one float dtype, and the indices' geometry. Both ops are
 * only built by this file, so a mismatch is a bug here, reported all the same. */
static bool check_pair(const char *op, cg_tensor *const *in, const geom *g, bool pooled)
{
    const cg_tensor *x = in[0], *idx = in[1];
    bool ok = cg__check_float_dtypes(op, in, 1) && idx->dtype == CG_I64 &&
              cg_tensor_is_contiguous(idx) && x->ndim == 4 && idx->ndim == 4 &&
              x->shape[0] == idx->shape[0] && x->shape[1] == idx->shape[1] &&
              idx->shape[2] == g->ho && idx->shape[3] == g->wo &&
              x->shape[2] == (pooled ? g->h : g->ho) && x->shape[3] == (pooled ? g->w : g->wo);
    if (!ok && cg_last_status() == CG_OK)
        cg__error(CG_ERR_SHAPE, "%s: values and indices do not match the window geometry", op);
    return ok;
}

cg_tensor *cg__max_pool2d_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                                  const cg__attrs *attrs)
{
    (void)op, (void)n;
    geom g = geom_of(attrs);
    if (!check_pair("max_pool2d", in, &g, true))
        return NULL;
    cg_tensor *out = cg__tensor_alloc(pool, in[0]->dtype, 4, in[1]->shape);
    if (!out)
        return NULL;
    job j = job_of(attrs, in[0], out, in[0]->shape[0], in[0]->shape[1]);
    j.idx = (const int64_t *)(void *)cg__ptr(in[1]);
    for_planes(&j, gather_plane, g.ho * g.wo);
    return out;
}

cg_tensor *cg__max_unpool2d_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                                    const cg__attrs *attrs)
{
    (void)op, (void)n;
    geom g = geom_of(attrs);
    if (!check_pair("max_unpool2d", in, &g, false))
        return NULL;
    int64_t shape[4] = {in[0]->shape[0], in[0]->shape[1], g.h, g.w};
    cg_tensor *out = cg__tensor_alloc(pool, in[0]->dtype, 4, shape);
    if (!out)
        return NULL;
    job j = job_of(attrs, in[0], out, shape[0], shape[1]);
    j.idx = (const int64_t *)(void *)cg__ptr(in[1]);
    for_planes(&j, scatter_plane, g.h * g.w + g.ho * g.wo);
    return out;
}

cg_status cg__max_pool2d_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    cg_tensor *in[2] = {g, IN(1)};
    gin[0] = cg__apply(CG_OP_MAX_UNPOOL2D, in, 2, &node->attrs);
    gin[1] = NULL;
    return CG_OK;
}

cg_status cg__max_unpool2d_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    cg_tensor *in[2] = {g, IN(1)};
    gin[0] = cg__apply(CG_OP_MAX_POOL2D, in, 2, &node->attrs);
    gin[1] = NULL;
    return CG_OK;
}

/* ---- argument checks ---- */

cg_conv2d_options cg_conv2d_defaults(int64_t kh, int64_t kw)
{
    cg_conv2d_options o = {{kh, kw}, {1, 1}, {0, 0}, {1, 1}, 1};
    return o;
}

cg_conv2d_options cg_pool2d_defaults(int64_t kh, int64_t kw)
{
    cg_conv2d_options o = {{kh, kw}, {kh, kw}, {0, 0}, {1, 1}, 1};
    return o;
}

/* A 4-d tensor; an input (not a weight) also needs C, H, W >= 1, as in PyTorch (the batch
 * may be empty). */
static bool check_4d(const char *op, const char *what, const cg_tensor *t, bool input)
{
    if (t->ndim == 4 && (!input || (t->shape[1] > 0 && t->shape[2] > 0 && t->shape[3] > 0)))
        return true;
    char s[160];
    cg__error(CG_ERR_SHAPE, "%s: %s must be 4-d%s, got shape %s", op, what,
              input ? " [N, C, H, W] with C, H, W >= 1" : "",
              cg__shape_str(t->ndim, t->shape, s, sizeof s));
    return false;
}

/* kernel, stride and dilation >= 1, padding >= 0 (groups are the convolution's to check). */
static bool check_options(const char *op, const cg_conv2d_options *o)
{
    if (!o) {
        cg__error(CG_ERR_NULL, "%s: NULL options", op);
        return false;
    }
    bool ok = true;
    for (int d = 0; d < 2; d++)
        ok = ok && o->kernel[d] >= 1 && o->stride[d] >= 1 && o->dilation[d] >= 1 &&
             o->padding[d] >= 0;
    if (!ok)
        cg__error(CG_ERR_VALUE, "%s: kernel, stride and dilation must be >= 1 and padding >= 0; "
                                "got kernel [%lld, %lld], stride [%lld, %lld], padding [%lld, "
                                "%lld], dilation [%lld, %lld]",
                  op, (long long)o->kernel[0], (long long)o->kernel[1], (long long)o->stride[0],
                  (long long)o->stride[1], (long long)o->padding[0], (long long)o->padding[1],
                  (long long)o->dilation[0], (long long)o->dilation[1]);
    return ok;
}

/* attrs of windows o over x; CG_ERR_SHAPE when not one window fits the padded input. */
static bool window_attrs(const char *op, const cg_tensor *x, const cg_conv2d_options *o,
                         cg__attrs *at)
{
    memset(at, 0, sizeof *at);
    const int64_t v[A_COUNT] = {o->kernel[0],   o->kernel[1],   o->stride[0],  o->stride[1],
                                o->padding[0],  o->padding[1],  o->dilation[0], o->dilation[1],
                                x->shape[2],    x->shape[3]};
    memcpy(at->i, v, sizeof v);
    at->ni = A_COUNT;
    geom g = geom_of(at);
    if (g.ho >= 1 && g.wo >= 1)
        return true;
    char s[160];
    cg__error(CG_ERR_SHAPE, "%s: input of shape %s is too small for kernel [%lld, %lld] with "
                            "padding [%lld, %lld] and dilation [%lld, %lld] (output %lld x %lld)",
              op, cg__shape_str(x->ndim, x->shape, s, sizeof s), (long long)g.kh,
              (long long)g.kw, (long long)g.ph, (long long)g.pw, (long long)g.dh,
              (long long)g.dw, (long long)g.ho, (long long)g.wo);
    return false;
}

/* The shapes conv2d needs: x [N, C, H, W], weight [O, C/groups, kh, kw] matching the
 * options' kernel, groups dividing C and O, bias [O] or NULL. */
static bool check_conv_shapes(cg_tensor *x, cg_tensor *w, cg_tensor *b, const cg_conv2d_options *o)
{
    char a[160], c[160];
    if (!check_4d("conv2d", "input", x, true) || !check_4d("conv2d", "weight", w, false))
        return false;
    const char *why = NULL;
    if (w->shape[2] != o->kernel[0] || w->shape[3] != o->kernel[1])
        why = "its kernel differs from the options' kernel";
    else if (x->shape[1] % o->groups || w->shape[0] % o->groups)
        why = "groups must divide the input and output channels";
    else if (x->shape[1] != w->shape[1] * o->groups)
        why = "the input's channels must equal the weight's dimension 1 times groups";
    if (why) {
        cg__error(CG_ERR_SHAPE, "conv2d: input of shape %s and weight of shape %s with groups "
                                "%lld and kernel [%lld, %lld]: %s",
                  cg__shape_str(x->ndim, x->shape, a, sizeof a),
                  cg__shape_str(w->ndim, w->shape, c, sizeof c), (long long)o->groups,
                  (long long)o->kernel[0], (long long)o->kernel[1], why);
        return false;
    }
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[0])) {
        cg__error(CG_ERR_SHAPE, "conv2d: bias of shape %s does not match the weight's %lld "
                                "output channels",
                  cg__shape_str(b->ndim, b->shape, a, sizeof a), (long long)w->shape[0]);
        return false;
    }
    return true;
}

/* Live tensors of one float dtype; bias (the last) may be NULL. */
static bool check_inputs(const char *op, cg_tensor **in, int n)
{
    for (int i = 0; i < n; i++)
        if (!cg__check_tensor(in[i], op))
            return false;
    return cg__check_float_dtypes(op, in, n);
}

/* ---- public builders ---- */

/* Checked conv2d options: *options, or the defaults for the weight's kernel when NULL. */
static bool conv_options(cg_tensor *weight, const cg_conv2d_options *options,
                         cg_conv2d_options *o)
{
    if (!options && !check_4d("conv2d", "weight", weight, false))
        return false;
    *o = options ? *options : cg_conv2d_defaults(weight->shape[2], weight->shape[3]);
    if (!check_options("conv2d", o))
        return false;
    if (o->groups < 1)
        cg__error(CG_ERR_VALUE, "conv2d: groups must be >= 1, got %lld", (long long)o->groups);
    return o->groups >= 1;
}

cg_tensor *cg_conv2d(cg_tensor *x, cg_tensor *weight, cg_tensor *bias,
                     const cg_conv2d_options *options)
{
    cg_tensor *in[3] = {x, weight, bias};
    cg_conv2d_options opt;
    cg__attrs at;
    if (!check_inputs("conv2d", in, bias ? 3 : 2) || !conv_options(weight, options, &opt) ||
        !check_conv_shapes(x, weight, bias, &opt) || !window_attrs("conv2d", x, &opt, &at))
        return NULL;
    geom g = geom_of(&at);
    int64_t n = x->shape[0], o = weight->shape[0], groups = opt.groups;
    int64_t k = x->shape[1] / groups * g.kh * g.kw;
    cg_tensor *cols = cg__apply(CG_OP_IM2COL, &x, 1, &at);
    cols = cg_reshape(cols, 3, (int64_t[]){groups, k, n * g.ho * g.wo});
    cg_tensor *w = cg_reshape(weight, 3, (int64_t[]){groups, o / groups, k});
    cg_tensor *y = cg_reshape(cg_matmul(w, cols), 4, (int64_t[]){o, n, g.ho, g.wo});
    y = cg_permute(y, (int[]){1, 0, 2, 3});
    /* The add (or the copy) writes the result contiguous, in [N, O, Ho, Wo] order. */
    return bias ? cg_add(y, cg_reshape(bias, 4, (int64_t[]){1, o, 1, 1})) : cg_contiguous(y);
}

/* x and o fit a pooling: 4-d float x, valid options, padding at most half the kernel
 * (PyTorch's rule, which keeps a real element in every window). */
static bool check_pool(const char *op, cg_tensor *x, const cg_conv2d_options *o,
                       cg__attrs *at)
{
    if (!check_inputs(op, &x, 1) || !check_options(op, o) || !check_4d(op, "input", x, true))
        return false;
    if (o->padding[0] > o->kernel[0] / 2 || o->padding[1] > o->kernel[1] / 2) {
        cg__error(CG_ERR_VALUE, "%s: padding [%lld, %lld] must be at most half the kernel "
                                "[%lld, %lld]",
                  op, (long long)o->padding[0], (long long)o->padding[1],
                  (long long)o->kernel[0], (long long)o->kernel[1]);
        return false;
    }
    return window_attrs(op, x, o, at);
}

cg_tensor *cg_max_pool2d(cg_tensor *x, const cg_conv2d_options *options)
{
    cg__attrs at;
    if (!check_pool("max_pool2d", x, options, &at))
        return NULL;
    cg_tensor *in[2] = {x, cg__apply(CG_OP_MAX_POOL2D_INDICES, &x, 1, &at)};
    return in[1] ? cg__apply(CG_OP_MAX_POOL2D, in, 2, &at) : NULL;
}

cg_tensor *cg_avg_pool2d(cg_tensor *x, const cg_conv2d_options *options)
{
    cg__attrs at;
    if (!check_pool("avg_pool2d", x, options, &at))
        return NULL;
    if (options->dilation[0] != 1 || options->dilation[1] != 1) {
        cg__error(CG_ERR_VALUE, "avg_pool2d: dilation must be 1 (as in PyTorch), got [%lld, %lld]",
                  (long long)options->dilation[0], (long long)options->dilation[1]);
        return NULL;
    }
    geom g = geom_of(&at);
    int64_t n = x->shape[0], c = x->shape[1];
    cg_tensor *cols = cg__apply(CG_OP_IM2COL, &x, 1, &at);
    cols = cg_reshape(cols, 3, (int64_t[]){c, g.kh * g.kw, n * g.ho * g.wo});
    cg_tensor *y = cg_reshape(cg_mean(cols, (int[]){1}, 1, false), 4, (int64_t[]){c, n, g.ho, g.wo});
    return cg_contiguous(cg_permute(y, (int[]){1, 0, 2, 3}));
}

cg_tensor *cg_global_avg_pool2d(cg_tensor *x)
{
    if (!check_inputs("global_avg_pool2d", &x, 1) || !check_4d("global_avg_pool2d", "input", x, true))
        return NULL;
    return cg_mean(x, (int[]){2, 3}, 2, false);
}

/* x [..., in] and weight [out, in], bias [out] or NULL. */
static bool check_linear(cg_tensor *x, cg_tensor *w, cg_tensor *b)
{
    cg_tensor *in[3] = {x, w, b};
    if (!check_inputs("linear", in, b ? 3 : 2))
        return false;
    char s[160], t[160];
    if (w->ndim != 2 || x->ndim < 1 || x->shape[x->ndim - 1] != w->shape[1]) {
        cg__error(CG_ERR_SHAPE, "linear: input of shape %s does not fit weight of shape %s "
                                "(expected [out, in] with in = the input's last size)",
                  cg__shape_str(x->ndim, x->shape, s, sizeof s),
                  cg__shape_str(w->ndim, w->shape, t, sizeof t));
        return false;
    }
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[0])) {
        cg__error(CG_ERR_SHAPE, "linear: bias of shape %s does not match weight of shape %s",
                  cg__shape_str(b->ndim, b->shape, s, sizeof s),
                  cg__shape_str(w->ndim, w->shape, t, sizeof t));
        return false;
    }
    return true;
}

cg_tensor *cg_linear(cg_tensor *x, cg_tensor *weight, cg_tensor *bias)
{
    if (!check_linear(x, weight, bias))
        return NULL;
    cg_tensor *wt = cg_transpose(weight, 0, 1), *y;
    if (x->ndim <= 2) {
        y = cg_matmul(x, wt);
    } else {
        /* Leading dimensions as rows of one product (a view when x allows), like F.linear:
         * a batched product would leave dW as per-batch partials to sum. */
        int64_t shape[CG_MAX_DIMS], rows = 1, nd = x->ndim;
        for (int d = 0; d < nd - 1; d++)
            rows *= shape[d] = x->shape[d];
        shape[nd - 1] = weight->shape[0];
        y = cg_matmul(cg_reshape(x, 2, (int64_t[]){rows, x->shape[nd - 1]}), wt);
        y = cg_reshape(y, (int)nd, shape);
    }
    return bias ? cg_add(y, bias) : y;
}
