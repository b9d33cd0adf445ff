/* Softmax and log-softmax along one axis, with their backward rules.
 *
 * A row is the run of elements along the axis for one index of the other dimensions.
 * Rows are independent, so threads split them and results do not depend on the thread
 * count. The row's max is subtracted before exponentiating, so large inputs cannot
 * overflow; the sum of exponentials is accumulated in double for f32 as well.
 */
#include <math.h>
#include <string.h>

#include "op.h"

/* Geometry of the rows, strides in elements. */
typedef struct rows {
    bool f32, log;
    int64_t len, xs, os;                    /* row length; strides along the axis */
    int nd;                                 /* the other dimensions */
    int64_t shape[CG_MAX_DIMS], xst[CG_MAX_DIMS], ost[CG_MAX_DIMS];
    const char *x;
    char *out;
} rows;

/* One row of n elements, x and o with strides xs and os. Exponentials are taken in T's
 * precision (expf for f32, as PyTorch does) and summed in double. Softmax stores the
 * exponentials first and scales them after, so each is computed once. A NaN in the row
 * becomes the max and makes the whole row NaN, as in PyTorch. */
#define SOFTMAX_ROW(T, EXP, NAME)                                                           \
    static void NAME(const T *x, int64_t xs, T *o, int64_t os, int64_t n, bool log_)       \
    {                                                                                       \
        T m = (T)-INFINITY;                                                                 \
        for (int64_t i = 0; i < n; i++) {                                                   \
            T v = x[i * xs];                                                                \
            m = (v > m || v != v) ? v : m;                                                  \
        }                                                                                   \
        double s = 0;                                                                       \
        if (log_) {                                                                         \
            for (int64_t i = 0; i < n; i++)                                                 \
                s += EXP(x[i * xs] - m);                                                    \
            T ls = (T)log(s);                                                               \
            for (int64_t i = 0; i < n; i++)                                                 \
                o[i * os] = (x[i * xs] - m) - ls;                                           \
            return;                                                                         \
        }                                                                                   \
        for (int64_t i = 0; i < n; i++) {                                                   \
            T e = EXP(x[i * xs] - m);                                                       \
            o[i * os] = e;                                                                  \
            s += e;                                                                         \
        }                                                                                   \
        for (int64_t i = 0; i < n; i++)                                                     \
            o[i * os] = (T)(o[i * os] / s);                                                 \
    }

SOFTMAX_ROW(float, expf, row_f32)
SOFTMAX_ROW(double, exp, row_f64)

/* Offsets of row k in the input and the output. */
static void row_offsets(const rows *r, int64_t k, int64_t *xo, int64_t *oo)
{
    *xo = 0;
    *oo = 0;
    for (int d = r->nd - 1; d >= 0; d--) {
        int64_t i = k % r->shape[d];
        k /= r->shape[d];
        *xo += i * r->xst[d];
        *oo += i * r->ost[d];
    }
}

static void run_row(const rows *r, int64_t k)
{
    int64_t xo, oo;
    row_offsets(r, k, &xo, &oo);
    if (r->f32)
        row_f32((const float *)r->x + xo, r->xs, (float *)r->out + oo, r->os, r->len, r->log);
    else
        row_f64((const double *)r->x + xo, r->xs, (double *)r->out + oo, r->os, r->len,
                r->log);
}

/* Split x around axis (a 0-d tensor is one row of one element). */
static void make_rows(rows *r, const cg_tensor *x, cg_tensor *out, int axis, bool log_)
{
    memset(r, 0, sizeof *r);
    r->f32 = x->dtype == CG_F32;
    r->log = log_;
    r->x = cg__ptr(x);
    r->out = cg__ptr(out);
    r->len = x->ndim > 0 ? x->shape[axis] : 1;
    r->xs = x->ndim > 0 ? x->strides[axis] : 0;
    r->os = x->ndim > 0 ? out->strides[axis] : 0;
    for (int d = 0; d < x->ndim; d++) {
        if (d == axis)
            continue;
        r->shape[r->nd] = x->shape[d];
        r->xst[r->nd] = x->strides[d];
        r->ost[r->nd] = out->strides[d];
        r->nd++;
    }
}

cg_tensor *cg__softmax_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                               const cg__attrs *attrs)
{
    (void)n;
    cg_tensor *x = in[0];
    const char *name = cg__ops[op].name;
    if (!cg__check_float_dtypes(name, &x, 1))
        return NULL;
    int axis = attrs->axis;
    if (x->ndim > 0 && (axis < 0 || axis >= x->ndim)) {
        cg__error(CG_ERR_VALUE, "%s: axis %d out of range for a %d-d tensor", name, axis,
                  x->ndim);
        return NULL;
    }
    cg_tensor *out = cg__tensor_alloc(pool, x->dtype, x->ndim, x->shape);
    int64_t numel = cg__shape_numel(x->ndim, x->shape);
    if (!out || numel == 0)
        return out;
    rows r;
    make_rows(&r, x, out, axis, op == CG_OP_LOG_SOFTMAX);
    int64_t nrows = numel / r.len;
    int threads = cg__threads_for(numel, 16);
    /* One thread runs the loop itself: libgomp would allocate a team for a region of one. */
    if (threads > 1) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t k = 0; k < nrows; k++)
            run_row(&r, k);
    } else {
        for (int64_t k = 0; k < nrows; k++)
            run_row(&r, k);
    }
    return out;
}

static cg_tensor *softmax_op(int op, cg_tensor *x, int axis)
{
    const char *name = cg__ops[op].name;
    if (!cg__check_tensor(x, name))
        return NULL;
    cg__attrs at;
    memset(&at, 0, sizeof at);
    at.axis = cg__norm_axis(axis, x->ndim, name);
    if (at.axis < 0)
        return NULL;
    return cg__apply(op, &x, 1, &at);
}

cg_tensor *cg_softmax(cg_tensor *x, int axis) { return softmax_op(CG_OP_SOFTMAX, x, axis); }

cg_tensor *cg_log_softmax(cg_tensor *x, int axis)
{
    return softmax_op(CG_OP_LOG_SOFTMAX, x, axis);
}

/* y (g - sum(g y)), with y the saved output */
cg_status cg__softmax_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    cg_tensor *y = node->out;
    int axis = node->attrs.axis;
    gin[0] = cg_mul(y, cg_sub(g, cg_sum(cg_mul(g, y), &axis, 1, true)));
    return CG_OK;
}

/* g - exp(y) sum(g), with y the saved output (the log-probabilities) */
cg_status cg__log_softmax_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    int axis = node->attrs.axis;
    gin[0] = cg_sub(g, cg_mul(cg_exp(node->out), cg_sum(g, &axis, 1, true)));
    return CG_OK;
}
