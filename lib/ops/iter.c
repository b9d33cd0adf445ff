/* The strided loop under every elementwise kernel: it merges dimensions that are laid out
 * back to back, then walks the flat index range in runs along the innermost dimension,
 * splitting the range over threads. Each element lands in the same run whatever the
 * thread count, so results do not depend on it. */
#include <string.h>

#include "op.h"

enum { MAX_OPS = 4 };

typedef struct loop_plan {
    int ndim, nops;
    int64_t shape[CG_MAX_DIMS];
    int64_t strides[MAX_OPS][CG_MAX_DIMS];
} loop_plan;

/* Drop size-1 dimensions and merge d into d+1 where every operand is contiguous across. */
static void coalesce(loop_plan *p, int ndim, const int64_t *shape,
                     const int64_t (*strides)[CG_MAX_DIMS])
{
    p->ndim = 0;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == 1)
            continue;
        int last = p->ndim - 1;
        bool merge = last >= 0;
        for (int k = 0; merge && k < p->nops; k++)
            merge = strides[k][d] * shape[d] == p->strides[k][last];
        if (merge) {
            p->shape[last] *= shape[d];
            for (int k = 0; k < p->nops; k++)
                p->strides[k][last] = strides[k][d];
            continue;
        }
        p->shape[p->ndim] = shape[d];
        for (int k = 0; k < p->nops; k++)
            p->strides[k][p->ndim] = strides[k][d];
        p->ndim++;
    }
    if (p->ndim == 0) {
        p->ndim = 1;
        p->shape[0] = 1;
        for (int k = 0; k < p->nops; k++)
            p->strides[k][0] = 0;
    }
}

static void run_range(const loop_plan *p, char *const *base, int64_t begin, int64_t end,
                      cg__loop_fn fn, const void *ctx)
{
    int last = p->ndim - 1;
    int64_t idx[CG_MAX_DIMS];
    char *ptr[MAX_OPS];
    int64_t inner[MAX_OPS];
    int64_t rest = begin;
    for (int d = last; d >= 0; d--) {
        idx[d] = rest % p->shape[d];
        rest /= p->shape[d];
    }
    for (int k = 0; k < p->nops; k++) {
        ptr[k] = base[k];
        for (int d = 0; d <= last; d++)
            ptr[k] += idx[d] * p->strides[k][d];
        inner[k] = p->strides[k][last];
    }
    int64_t pos = begin;
    while (pos < end) {
        int64_t run = p->shape[last] - idx[last];
        if (run > end - pos)
            run = end - pos;
        fn(run, ptr, inner, ctx);
        pos += run;
        idx[last] += run;
        for (int k = 0; k < p->nops; k++)
            ptr[k] += run * inner[k];
        /* Carry into outer dimensions. */
        for (int d = last; d > 0 && idx[d] == p->shape[d]; d--) {
            idx[d] = 0;
            idx[d - 1]++;
            for (int k = 0; k < p->nops; k++)
                ptr[k] += p->strides[k][d - 1] - p->shape[d] * p->strides[k][d];
        }
    }
}

void cg__foreach(int ndim, const int64_t *shape, int nops, char *const *base,
                 const int64_t (*strides)[CG_MAX_DIMS], cg__loop_fn fn, const void *ctx,
                 int64_t work)
{
    int64_t total = cg__shape_numel(ndim, shape);
    if (total <= 0)
        return;
    loop_plan p;
    p.nops = nops;
    coalesce(&p, ndim, shape, strides);
    int threads = cg__threads_for(total, work);
    if (threads <= 1) {
        run_range(&p, base, 0, total, fn, ctx);
        return;
    }
#pragma omp parallel num_threads(threads)
    {
#pragma omp for schedule(static)
        for (int t = 0; t < threads; t++)
            run_range(&p, base, total * t / threads, total * (t + 1) / threads, fn, ctx);
    }
}

/* ---- copies ---- */

typedef struct copy_ctx {
    cg_dtype to, from;
} copy_ctx;

static void copy_run(int64_t n, char *const *p, const int64_t *s, const void *vctx)
{
    const copy_ctx *c = vctx;
    char *o = p[0];
    const char *x = p[1];
    if (c->to == c->from) {
        size_t es = cg_dtype_size(c->to);
        if (s[0] == (int64_t)es && s[1] == (int64_t)es) {
            memcpy(o, x, (size_t)n * es);
        } else if (es == 4) {
            for (int64_t i = 0; i < n; i++)
                memcpy(o + i * s[0], x + i * s[1], 4);
        } else {
            for (int64_t i = 0; i < n; i++)
                memcpy(o + i * s[0], x + i * s[1], 8);
        }
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        const char *xi = x + i * s[1];
        double v = c->from == CG_F32 ? *(const float *)xi
                   : c->from == CG_F64 ? *(const double *)xi
                                       : (double)*(const int64_t *)xi;
        char *oi = o + i * s[0];
        if (c->to == CG_F32)
            *(float *)oi = (float)v;
        else if (c->to == CG_F64)
            *(double *)oi = v;
        else
            *(int64_t *)oi = (int64_t)v;
    }
}

void cg__copy_into(cg_tensor *dst, const cg_tensor *src)
{
    int64_t st[2][CG_MAX_DIMS];
    cg__broadcast_strides(dst, dst->ndim, st[0]);
    cg__broadcast_strides(src, dst->ndim, st[1]);
    char *base[2] = {cg__ptr(dst), cg__ptr(src)};
    copy_ctx c = {dst->dtype, src->dtype};
    cg__foreach(dst->ndim, dst->shape, 2, base, (const int64_t(*)[CG_MAX_DIMS])st, copy_run, &c,
                1);
}
