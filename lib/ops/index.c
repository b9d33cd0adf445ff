/* Joining and indexing ops: concat, index_select, gather, index_add and scatter_add.
 *
 * The ops come in adjoint pairs: the backward of a selection (index_select, gather) is an
 * accumulation into zeros (index_add, scatter_add) and the other way round, so every rule
 * is made of ops and double backward works. Accumulations run in index order, one slice
 * or one element after another, so duplicate indices sum in the same order whatever the
 * thread count. Every index is range-checked before anything is written.
 *
 * A 0-d tensor is treated as having one axis of size 1 (as PyTorch does for these ops). */
#include <string.h>

#include "op.h"

#define IN(k) (node->inputs[k])

static cg__attrs attrs_axis(int axis)
{
    cg__attrs a;
    memset(&a, 0, sizeof a);
    a.axis = axis;
    return a;
}

/* Size and element stride of axis; a 0-d tensor counts as one element along it. */
static int64_t axis_size(const cg_tensor *t, int axis) { return t->ndim ? t->shape[axis] : 1; }
static int64_t axis_stride(const cg_tensor *t, int axis) { return t->ndim ? t->strides[axis] : 0; }

/* A tensor struct on the stack viewing t's storage with other geometry: kernels copy into
 * and add into regions of a fresh output without making views on the tape. */
static cg_tensor region(const cg_tensor *t, int ndim, const int64_t *shape,
                        const int64_t *strides, int64_t offset)
{
    cg_tensor r = *t;
    r.ndim = ndim;
    for (int d = 0; d < ndim; d++) {
        r.shape[d] = shape[d];
        r.strides[d] = strides[d];
    }
    r.offset = offset;
    return r;
}

/* The slice of t at position pos along axis, with that axis removed (t itself if 0-d). */
static cg_tensor drop_axis(const cg_tensor *t, int axis, int64_t pos)
{
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < t->ndim; d++) {
        if (d == axis)
            continue;
        shape[nd] = t->shape[d];
        strides[nd++] = t->strides[d];
    }
    return region(t, nd, shape, strides, t->offset + pos * axis_stride(t, axis));
}

/* ---- strided walks over index tensors ---- */

/* Row-major walk over a shape keeping one element offset per operand. An operand's stride
 * along the walked axis may be zeroed, so that the index value supplies that coordinate. */
typedef struct walk {
    int ndim, nops;
    int64_t shape[CG_MAX_DIMS], pos[CG_MAX_DIMS];
    int64_t strides[3][CG_MAX_DIMS];
    int64_t off[3];
} walk;

static void walk_init(walk *w, const cg_tensor *over)
{
    memset(w, 0, sizeof *w);
    w->ndim = over->ndim;
    memcpy(w->shape, over->shape, sizeof w->shape);
}

/* Add t as an operand; skip_axis >= 0 zeroes its stride there. */
static void walk_add(walk *w, const cg_tensor *t, int skip_axis)
{
    int k = w->nops++;
    for (int d = 0; d < w->ndim; d++)
        w->strides[k][d] = d == skip_axis ? 0 : t->strides[d];
    w->off[k] = t->offset;
}

static void walk_next(walk *w)
{
    for (int d = w->ndim - 1; d >= 0; d--) {
        for (int k = 0; k < w->nops; k++)
            w->off[k] += w->strides[k][d];
        if (++w->pos[d] < w->shape[d])
            return;
        for (int k = 0; k < w->nops; k++)
            w->off[k] -= w->strides[k][d] * w->shape[d];
        w->pos[d] = 0;
    }
}

static const int64_t *index_data(const cg_tensor *index)
{
    return (const int64_t *)cg__storage_base(index);
}

/* ---- argument checks ---- */

static bool check_index_dtype(const char *op, const cg_tensor *index)
{
    if (index->dtype == CG_I64)
        return true;
    cg__error(CG_ERR_DTYPE, "%s: index must have dtype i64, not %s", op,
              cg_dtype_name(index->dtype));
    return false;
}

/* Every value of index lies in [0, size): negative indices are errors, as in PyTorch. */
static bool check_index_values(const char *op, const cg_tensor *index, int axis, int64_t size)
{
    walk w;
    walk_init(&w, index);
    walk_add(&w, index, -1);
    const int64_t *data = index_data(index);
    int64_t n = cg__shape_numel(index->ndim, index->shape);
    for (int64_t k = 0; k < n; k++, walk_next(&w)) {
        int64_t v = data[w.off[0]];
        if (v < 0 || v >= size) {
            cg__error(CG_ERR_VALUE, "%s: index %lld is out of range for axis %d of size %lld", op,
                      (long long)v, axis, (long long)size);
            return false;
        }
    }
    return true;
}

/* A 1-d index (0-d accepted, as one index) for index_select and index_add. */
static bool check_index_vector(const char *op, const cg_tensor *x, const cg_tensor *index,
                               int axis)
{
    char a[160];
    if (!check_index_dtype(op, index))
        return false;
    if (index->ndim > 1) {
        cg__error(CG_ERR_SHAPE, "%s: index must be 1-d, got shape %s", op,
                  cg__shape_str(index->ndim, index->shape, a, sizeof a));
        return false;
    }
    if (x->ndim == 0 && cg__shape_numel(index->ndim, index->shape) != 1) {
        cg__error(CG_ERR_SHAPE, "%s: a 0-d input takes exactly one index, got shape %s", op,
                  cg__shape_str(index->ndim, index->shape, a, sizeof a));
        return false;
    }
    return check_index_values(op, index, axis, axis_size(x, axis));
}

/* gather/scatter_add geometry: index has x's ndim, fits in x outside axis and (for
 * scatter_add) fits in src everywhere. */
static bool check_elementwise_index(const char *op, const cg_tensor *x, const cg_tensor *index,
                                    const cg_tensor *src, int axis)
{
    char a[160], b[160], c[160];
    bool ok = check_index_dtype(op, index);
    if (!ok)
        return false;
    ok = index->ndim == x->ndim && (!src || src->ndim == x->ndim);
    for (int d = 0; ok && d < x->ndim; d++)
        ok = (d == axis || index->shape[d] <= x->shape[d]) &&
             (!src || index->shape[d] <= src->shape[d]);
    if (!ok) {
        cg__error(CG_ERR_SHAPE, "%s: index of shape %s does not fit input %s%s%s along axis %d",
                  op, cg__shape_str(index->ndim, index->shape, a, sizeof a),
                  cg__shape_str(x->ndim, x->shape, b, sizeof b), src ? " and source " : "",
                  src ? cg__shape_str(src->ndim, src->shape, c, sizeof c) : "", axis);
        return false;
    }
    return check_index_values(op, index, axis, axis_size(x, axis));
}

/* x and src of one float dtype. */
static bool check_accumulate_dtypes(const char *op, cg_tensor *x, cg_tensor *src)
{
    cg_tensor *pair[2] = {x, src};
    return cg__check_float_dtypes(op, pair, 2);
}

/* A fresh contiguous copy of x: accumulations write there, never into x or a view. */
static cg_tensor *copy_of(cg_pool *pool, const cg_tensor *x)
{
    cg_tensor *out = cg__tensor_alloc(pool, x->dtype, x->ndim, x->shape);
    if (out)
        cg__copy_into(out, x);
    return out;
}

/* ---- concat ---- */

/* Same dtype and ndim, same sizes outside axis; the output's axis size into *total. */
static bool check_concat(cg_tensor *const *in, int n, int axis, int64_t *total)
{
    char a[160], b[160];
    *total = 0;
    for (int i = 0; i < n; i++) {
        const cg_tensor *t = in[i], *t0 = in[0];
        if (t->dtype != t0->dtype) {
            cg__error(CG_ERR_DTYPE, "concat: tensor 0 has dtype %s but tensor %d has %s",
                      cg_dtype_name(t0->dtype), i, cg_dtype_name(t->dtype));
            return false;
        }
        bool ok = t->ndim == t0->ndim;
        for (int d = 0; ok && d < t->ndim; d++)
            ok = d == axis || t->shape[d] == t0->shape[d];
        if (!ok) {
            cg__error(CG_ERR_SHAPE, "concat: tensor 0 has shape %s but tensor %d has shape %s "
                                    "(only axis %d may differ)",
                      cg__shape_str(t0->ndim, t0->shape, a, sizeof a), i,
                      cg__shape_str(t->ndim, t->shape, b, sizeof b), axis);
            return false;
        }
        *total += t->shape[axis];
    }
    return true;
}

cg_tensor *cg__concat_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                              const cg__attrs *attrs)
{
    (void)op;
    int axis = attrs->axis, nd = in[0]->ndim;
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, in[0]->shape, sizeof shape);
    if (!check_concat(in, n, axis, &shape[axis]) || !cg__check_shape_args(nd, shape, "concat"))
        return NULL;
    cg_tensor *out = cg__tensor_alloc(pool, in[0]->dtype, nd, shape);
    if (!out)
        return NULL;
    int64_t start = 0;
    for (int i = 0; i < n; i++) {
        cg_tensor dst = region(out, nd, in[i]->shape, out->strides, start * out->strides[axis]);
        cg__copy_into(&dst, in[i]);
        start += in[i]->shape[axis];
    }
    return out;
}

cg_status cg__concat_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    int axis = node->attrs.axis;
    int64_t start = 0;
    for (int i = 0; i < node->ninputs; i++) {
        int64_t len = IN(i)->shape[axis];
        gin[i] = cg__needs(node, i) ? cg_slice(g, axis, start, start + len, 1) : NULL;
        start += len;
    }
    return CG_OK;
}

cg_tensor *cg_concat(cg_tensor *const *xs, int n, int axis)
{
    if (n <= 0 || !xs) {
        cg__error(n <= 0 ? CG_ERR_VALUE : CG_ERR_NULL,
                  "concat: expected a list of at least one tensor (n = %d)", n);
        return NULL;
    }
    if (!cg__check_tensor(xs[0], "concat"))
        return NULL;
    if (xs[0]->ndim == 0) {
        cg__error(CG_ERR_SHAPE, "concat: 0-d tensors cannot be concatenated");
        return NULL;
    }
    cg__attrs at = attrs_axis(cg__norm_axis(axis, xs[0]->ndim, "concat"));
    return at.axis < 0 ? NULL : cg__apply(CG_OP_CONCAT, xs, n, &at);
}

/* Every tensor live and of one shape and dtype (stack names the mismatch itself). */
static bool check_stack(cg_tensor *const *xs, int n)
{
    char a[160], b[160];
    for (int i = 0; i < n; i++)
        if (!cg__check_tensor(xs[i], "stack"))
            return false;
    for (int i = 1; i < n; i++) {
        const cg_tensor *t = xs[i], *t0 = xs[0];
        if (t->dtype != t0->dtype) {
            cg__error(CG_ERR_DTYPE, "stack: tensor 0 has dtype %s but tensor %d has %s",
                      cg_dtype_name(t0->dtype), i, cg_dtype_name(t->dtype));
            return false;
        }
        if (t->ndim != t0->ndim ||
            (t->ndim && memcmp(t->shape, t0->shape, sizeof(int64_t) * (size_t)t->ndim))) {
            cg__error(CG_ERR_SHAPE, "stack: every tensor must have one shape, but tensor 0 has "
                                    "shape %s and tensor %d has shape %s",
                      cg__shape_str(t0->ndim, t0->shape, a, sizeof a), i,
                      cg__shape_str(t->ndim, t->shape, b, sizeof b));
            return false;
        }
    }
    return true;
}

cg_tensor *cg_stack(cg_tensor *const *xs, int n, int axis)
{
    if (n <= 0 || !xs) {
        cg__error(n <= 0 ? CG_ERR_VALUE : CG_ERR_NULL,
                  "stack: expected a list of at least one tensor (n = %d)", n);
        return NULL;
    }
    if (!check_stack(xs, n))
        return NULL;
    int nd = xs[0]->ndim;
    if (nd >= CG_MAX_DIMS) {
        cg__error(CG_ERR_VALUE, "stack: %d-d tensors cannot gain a dimension (max %d)", nd,
                  CG_MAX_DIMS);
        return NULL;
    }
    int a = cg__norm_axis(axis, nd + 1, "stack");
    cg_tensor **parts = a < 0 ? NULL : cg__malloc(sizeof *parts * (size_t)n);
    if (!parts) {
        if (a >= 0)
            cg__error(CG_ERR_NOMEM, "stack: out of memory");
        return NULL;
    }
    for (int i = 0; i < n; i++)
        parts[i] = cg_unsqueeze(xs[i], a);
    cg_tensor *out = cg_concat(parts, n, a);
    cg__free(parts, sizeof *parts * (size_t)n);
    return out;
}

/* ---- index_select and index_add ---- */

static int64_t index_at(const cg_tensor *index, int64_t j)
{
    return index_data(index)[index->offset + (index->ndim ? j * index->strides[0] : 0)];
}

cg_tensor *cg__index_select_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                                    const cg__attrs *attrs)
{
    (void)op, (void)n;
    cg_tensor *x = in[0], *index = in[1];
    int axis = attrs->axis;
    if (!check_index_vector("index_select", x, index, axis))
        return NULL;
    int64_t count = cg__shape_numel(index->ndim, index->shape), shape[CG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    if (x->ndim)
        shape[axis] = count;
    cg_tensor *out = cg__tensor_alloc(pool, x->dtype, x->ndim, shape);
    for (int64_t j = 0; out && j < count; j++) {
        cg_tensor dst = drop_axis(out, axis, j), src = drop_axis(x, axis, index_at(index, j));
        cg__copy_into(&dst, &src);
    }
    return out;
}

/* Zeros shaped like t: an expanded 0-d constant, so no t-sized buffer is filled (and,
 * unlike 0 * t, no NaN of t leaks in). Consumers copy it before writing. */
static cg_tensor *zeros_like(const cg_tensor *t)
{
    cg_tensor *zero = cg__const(t->dtype, 0.0);
    return zero ? cg_expand(zero, t->ndim, t->shape) : NULL;
}

cg_status cg__index_select_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg_index_add(zeros_like(IN(0)), node->attrs.axis, IN(1), g);
    gin[1] = NULL;
    return CG_OK;
}

/* dst += src elementwise (same shape, one float dtype), over strided runs. */
static void add_run_f32(int64_t n, char *const *p, const int64_t *s, const void *ctx)
{
    (void)ctx;
    for (int64_t i = 0; i < n; i++)
        *(float *)(p[0] + i * s[0]) += *(const float *)(p[1] + i * s[1]);
}

static void add_run_f64(int64_t n, char *const *p, const int64_t *s, const void *ctx)
{
    (void)ctx;
    for (int64_t i = 0; i < n; i++)
        *(double *)(p[0] + i * s[0]) += *(const double *)(p[1] + i * s[1]);
}

/* Threads may split one call, but its elements are distinct, so sums stay ordered. */
static void add_into(cg_tensor *dst, const cg_tensor *src)
{
    int64_t st[2][CG_MAX_DIMS];
    cg__broadcast_strides(dst, dst->ndim, st[0]);
    cg__broadcast_strides(src, dst->ndim, st[1]);
    char *base[2] = {cg__ptr(dst), cg__ptr(src)};
    cg__foreach(dst->ndim, dst->shape, 2, base, (const int64_t(*)[CG_MAX_DIMS])st,
                dst->dtype == CG_F32 ? add_run_f32 : add_run_f64, NULL, 1);
}

/* src matches x outside axis and has one slice per index along it. */
static bool check_index_add_source(const cg_tensor *x, const cg_tensor *src, int axis,
                                   int64_t count)
{
    bool ok = src->ndim == x->ndim;
    for (int d = 0; ok && d < x->ndim; d++)
        ok = src->shape[d] == (d == axis ? count : x->shape[d]);
    if (!ok) {
        char a[160], b[160];
        cg__error(CG_ERR_SHAPE, "index_add: source of shape %s does not match input %s with "
                                "%lld indices along axis %d",
                  cg__shape_str(src->ndim, src->shape, a, sizeof a),
                  cg__shape_str(x->ndim, x->shape, b, sizeof b), (long long)count, axis);
    }
    return ok;
}

cg_tensor *cg__index_add_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                                 const cg__attrs *attrs)
{
    (void)op, (void)n;
    cg_tensor *x = in[0], *index = in[1], *src = in[2];
    int axis = attrs->axis;
    if (!check_accumulate_dtypes("index_add", x, src) ||
        !check_index_vector("index_add", x, index, axis) ||
        !check_index_add_source(x, src, axis, cg__shape_numel(index->ndim, index->shape)))
        return NULL;
    cg_tensor *out = copy_of(pool, x);
    int64_t count = cg__shape_numel(index->ndim, index->shape);
    /* One slice after another, in index order: duplicates accumulate deterministically. */
    for (int64_t j = 0; out && j < count; j++) {
        cg_tensor dst = drop_axis(out, axis, index_at(index, j)), s = drop_axis(src, axis, j);
        add_into(&dst, &s);
    }
    return out;
}

cg_status cg__index_add_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg__needs(node, 0) ? g : NULL;
    gin[1] = NULL;
    gin[2] = cg__needs(node, 2) ? cg_index_select(g, node->attrs.axis, IN(1)) : NULL;
    return CG_OK;
}

/* ---- gather and scatter_add ---- */

cg_tensor *cg__gather_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                              const cg__attrs *attrs)
{
    (void)op, (void)n;
    cg_tensor *x = in[0], *index = in[1];
    int axis = attrs->axis;
    if (!check_elementwise_index("gather", x, index, NULL, axis))
        return NULL;
    cg_tensor *out = cg__tensor_alloc(pool, x->dtype, index->ndim, index->shape);
    if (!out)
        return NULL;
    /* Bytes, not values: exact for every dtype (i64 included). */
    size_t es = cg_dtype_size(x->dtype);
    const char *xb = cg__storage_base(x);
    char *ob = cg__ptr(out);
    walk w;
    walk_init(&w, index);
    walk_add(&w, index, -1);
    walk_add(&w, x, axis);
    int64_t count = cg__shape_numel(index->ndim, index->shape), xstep = axis_stride(x, axis);
    for (int64_t k = 0; k < count; k++, walk_next(&w)) {
        int64_t v = index_data(index)[w.off[0]];
        memcpy(ob + (size_t)k * es, xb + (size_t)(w.off[1] + v * xstep) * es, es);
    }
    return out;
}

cg_status cg__gather_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg_scatter_add(zeros_like(IN(0)), node->attrs.axis, IN(1), g);
    gin[1] = NULL;
    return CG_OK;
}

/* out[pos with axis := index] += src[pos] for every pos of index, in row-major order. The
 * loop is serial: duplicates then always sum in the same order. */
static void scatter_add_into(cg_tensor *out, const cg_tensor *index, const cg_tensor *src,
                             int axis)
{
    walk w;
    walk_init(&w, index);
    walk_add(&w, index, -1);
    walk_add(&w, src, -1);
    walk_add(&w, out, axis);
    int64_t count = cg__shape_numel(index->ndim, index->shape), ostep = axis_stride(out, axis);
    const int64_t *idx = index_data(index);
    void *obase = cg__storage_base(out), *sbase = cg__storage_base(src);
    for (int64_t k = 0; k < count; k++, walk_next(&w)) {
        int64_t o = w.off[2] + idx[w.off[0]] * ostep;
        if (out->dtype == CG_F32)
            ((float *)obase)[o] += ((const float *)sbase)[w.off[1]];
        else
            ((double *)obase)[o] += ((const double *)sbase)[w.off[1]];
    }
}

cg_tensor *cg__scatter_add_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                                   const cg__attrs *attrs)
{
    (void)op, (void)n;
    cg_tensor *x = in[0], *index = in[1], *src = in[2];
    if (!check_accumulate_dtypes("scatter_add", x, src) ||
        !check_elementwise_index("scatter_add", x, index, src, attrs->axis))
        return NULL;
    cg_tensor *out = copy_of(pool, x);
    if (out)
        scatter_add_into(out, index, src, attrs->axis);
    return out;
}

/* gather(g) has index's shape; a source larger than index gets zeros where it was not
 * read (those elements do not reach the output), padded one dimension at a time. */
static cg_tensor *pad_to(cg_tensor *t, const cg_tensor *like)
{
    for (int d = 0; t && d < like->ndim; d++) {
        if (t->shape[d] == like->shape[d])
            continue;
        int64_t shape[CG_MAX_DIMS];
        memcpy(shape, t->shape, sizeof shape);
        shape[d] = like->shape[d];
        t = cg_slice_scatter(t, like->ndim, shape, d, 0, t->shape[d], 1);
    }
    return t;
}

cg_status cg__scatter_add_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    int axis = node->attrs.axis;
    gin[0] = cg__needs(node, 0) ? g : NULL;
    gin[1] = NULL;
    gin[2] = cg__needs(node, 2) ? pad_to(cg_gather(g, axis, IN(1)), IN(2)) : NULL;
    return CG_OK;
}

/* ---- builders ---- */

/* x's axis normalised for attrs; -1 with an error (x NULL keeps the first error). */
static int input_axis(const cg_tensor *x, int axis, const char *op)
{
    return cg__check_tensor(x, op) ? cg__norm_axis(axis, x->ndim, op) : -1;
}

cg_tensor *cg_index_select(cg_tensor *x, int axis, cg_tensor *index)
{
    cg__attrs at = attrs_axis(input_axis(x, axis, "index_select"));
    cg_tensor *in[2] = {x, index};
    return at.axis < 0 ? NULL : cg__apply(CG_OP_INDEX_SELECT, in, 2, &at);
}

cg_tensor *cg_gather(cg_tensor *x, int axis, cg_tensor *index)
{
    cg__attrs at = attrs_axis(input_axis(x, axis, "gather"));
    cg_tensor *in[2] = {x, index};
    return at.axis < 0 ? NULL : cg__apply(CG_OP_GATHER, in, 2, &at);
}

cg_tensor *cg_index_add(cg_tensor *x, int axis, cg_tensor *index, cg_tensor *src)
{
    cg__attrs at = attrs_axis(input_axis(x, axis, "index_add"));
    cg_tensor *in[3] = {x, index, src};
    return at.axis < 0 ? NULL : cg__apply(CG_OP_INDEX_ADD, in, 3, &at);
}

cg_tensor *cg_scatter_add(cg_tensor *x, int axis, cg_tensor *index, cg_tensor *src)
{
    cg__attrs at = attrs_axis(input_axis(x, axis, "scatter_add"));
    cg_tensor *in[3] = {x, index, src};
    return at.axis < 0 ? NULL : cg__apply(CG_OP_SCATTER_ADD, in, 3, &at);
}
