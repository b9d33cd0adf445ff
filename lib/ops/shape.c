/* Shape ops: reshape, permute, slice and expand return views that share their input's
 * storage (strides, not copies); reshape copies only when no strides can express the new
 * shape. slice_scatter, the adjoint of slice, writes into fresh zeros.
 *
 * The builders validate and normalise their arguments into attrs before dispatch, because
 * the backward rules read those attrs back (a resolved shape, a normalised axis and
 * range); the kernels then only build geometry. unsqueeze, squeeze, flatten and transpose
 * are composites over reshape and permute, so they need no rules of their own. */
#include <string.h>

#include "op.h"

#define IN(k) (node->inputs[k])

static cg__attrs attrs_zero(void)
{
    cg__attrs a;
    memset(&a, 0, sizeof a);
    return a;
}

/* A tensor struct on the stack viewing t's storage with other geometry: it lets
 * cg__copy_into write a strided region of a fresh output without a view on the tape. */
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

/* ---- reshape ---- */

/* The target shape with its one -1 resolved against x's element count (torch's
 * infer_size, including its refusal to guess a -1 next to a 0). */
static bool infer_shape(const cg_tensor *x, int ndim, const int64_t *shape, int64_t *out)
{
    char a[160], b[160];
    if (ndim < 0 || ndim > CG_MAX_DIMS) {
        cg__error(CG_ERR_VALUE, "reshape: ndim %d outside [0, %d]", ndim, CG_MAX_DIMS);
        return false;
    }
    if (ndim > 0 && !shape) {
        cg__error(CG_ERR_NULL, "reshape: NULL shape");
        return false;
    }
    int infer = -1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < -1 || (shape[d] == -1 && infer >= 0)) {
            cg__error(CG_ERR_VALUE,
                      "reshape: invalid target shape %s (sizes must be >= 0, one may be -1)",
                      cg__shape_str(ndim, shape, a, sizeof a));
            return false;
        }
        if (shape[d] == -1)
            infer = d;
        out[d] = shape[d] == -1 ? 1 : shape[d];
    }
    int64_t known = cg__shape_numel(ndim, out), numel = cg__shape_numel(x->ndim, x->shape);
    bool ok = known >= 0 && (infer >= 0 ? known != 0 && numel % known == 0 : known == numel);
    if (!ok) {
        cg__error(CG_ERR_SHAPE, "reshape: input of shape %s (%lld elements) cannot take shape %s",
                  cg__shape_str(x->ndim, x->shape, a, sizeof a), (long long)numel,
                  cg__shape_str(ndim, shape, b, sizeof b));
        return false;
    }
    if (infer >= 0)
        out[infer] = numel / known;
    return true;
}

/* Strides that read x's elements in row-major order with the new shape, if some exist
 * (PyTorch's computeStride): each run of x's dimensions that is contiguous in memory
 * ("chunk") must be split exactly by the new dimensions; size-1 dimensions fit anywhere. */
static bool view_strides(const cg_tensor *x, int ndim, const int64_t *shape, int64_t *strides)
{
    int64_t numel = cg__shape_numel(x->ndim, x->shape);
    if (x->ndim == 0 || numel == 0) {
        bool same = ndim == x->ndim &&
                    (ndim == 0 || !memcmp(shape, x->shape, sizeof(int64_t) * (size_t)ndim));
        if (same)
            memcpy(strides, x->strides, sizeof(int64_t) * (size_t)ndim);
        else
            cg__contiguous_strides(ndim, shape, strides);
        return true;
    }
    int view_d = ndim - 1;
    int64_t base = x->strides[x->ndim - 1], tensor_numel = 1, view_numel = 1;
    for (int d = x->ndim - 1; d >= 0; d--) {
        tensor_numel *= x->shape[d];
        bool chunk_ends = d == 0 || (x->shape[d - 1] != 1 &&
                                     x->strides[d - 1] != tensor_numel * base);
        if (!chunk_ends)
            continue;
        while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
            strides[view_d] = view_numel * base;
            view_numel *= shape[view_d];
            view_d--;
        }
        if (view_numel != tensor_numel)
            return false;
        if (d > 0) {
            base = x->strides[d - 1];
            tensor_numel = view_numel = 1;
        }
    }
    return view_d == -1;
}

cg_tensor *cg__reshape_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                               const cg__attrs *attrs)
{
    (void)op, (void)n;
    cg_tensor *x = in[0];
    int64_t strides[CG_MAX_DIMS];
    if (view_strides(x, attrs->ni, attrs->i, strides))
        return cg__tensor_view(pool, x, attrs->ni, attrs->i, strides, x->offset);
    /* No strides fit (e.g. a transposed input): copy in row-major order, as torch.reshape. */
    cg_tensor *out = cg__tensor_alloc(pool, x->dtype, attrs->ni, attrs->i);
    if (out) {
        int64_t rowmajor[CG_MAX_DIMS];
        cg__contiguous_strides(x->ndim, x->shape, rowmajor);
        cg_tensor dst = region(out, x->ndim, x->shape, rowmajor, 0);
        cg__copy_into(&dst, x);
    }
    return out;
}

cg_status cg__reshape_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg_reshape(g, IN(0)->ndim, IN(0)->shape);
    return CG_OK;
}

cg_tensor *cg_reshape(cg_tensor *x, int ndim, const int64_t *shape)
{
    cg__attrs at = attrs_zero();
    if (!cg__check_tensor(x, "reshape") || !infer_shape(x, ndim, shape, at.i))
        return NULL;
    at.ni = ndim;
    return cg__apply(CG_OP_RESHAPE, &x, 1, &at);
}

/* ---- permute ---- */

/* perm normalised into at->i; every dimension must appear exactly once. */
static bool norm_perm(const cg_tensor *x, const int *perm, cg__attrs *at)
{
    int nd = x->ndim;
    if (nd > 0 && !perm) {
        cg__error(CG_ERR_NULL, "permute: NULL permutation");
        return false;
    }
    bool seen[CG_MAX_DIMS] = {false};
    for (int d = 0; d < nd; d++) {
        int p = perm[d] < 0 ? perm[d] + nd : perm[d];
        if (p < 0 || p >= nd || seen[p]) {
            int64_t raw[CG_MAX_DIMS];
            char a[160], b[160];
            for (int k = 0; k < nd; k++)
                raw[k] = perm[k];
            cg__error(CG_ERR_VALUE, "permute: %s is not a permutation of the %d dimensions of "
                                    "a tensor of shape %s",
                      cg__shape_str(nd, raw, a, sizeof a), nd,
                      cg__shape_str(nd, x->shape, b, sizeof b));
            return false;
        }
        seen[p] = true;
        at->i[d] = p;
    }
    at->ni = nd;
    return true;
}

cg_tensor *cg__permute_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                               const cg__attrs *attrs)
{
    (void)op, (void)n;
    cg_tensor *x = in[0];
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS];
    for (int d = 0; d < attrs->ni; d++) {
        shape[d] = x->shape[attrs->i[d]];
        strides[d] = x->strides[attrs->i[d]];
    }
    return cg__tensor_view(pool, x, attrs->ni, shape, strides, x->offset);
}

cg_status cg__permute_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    int inverse[CG_MAX_DIMS];
    for (int d = 0; d < node->attrs.ni; d++)
        inverse[node->attrs.i[d]] = d;
    gin[0] = cg_permute(g, inverse);
    return CG_OK;
}

cg_tensor *cg_permute(cg_tensor *x, const int *perm)
{
    cg__attrs at = attrs_zero();
    if (!cg__check_tensor(x, "permute") || !norm_perm(x, perm, &at))
        return NULL;
    return cg__apply(CG_OP_PERMUTE, &x, 1, &at);
}

cg_tensor *cg_transpose(cg_tensor *x, int d0, int d1)
{
    if (!cg__check_tensor(x, "transpose"))
        return NULL;
    int a = cg__norm_axis(d0, x->ndim, "transpose"), b = cg__norm_axis(d1, x->ndim, "transpose");
    if (a < 0 || b < 0)
        return NULL;
    int perm[CG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++)
        perm[d] = d;
    if (x->ndim > 0) { /* a 0-d tensor accepts axes 0 and -1 and stays as it is */
        perm[a] = b;
        perm[b] = a;
    }
    return cg_permute(x, perm);
}

/* ---- slice and its adjoint ---- */

/* Python's slice rules for step >= 1: negative bounds count from the end, both are then
 * clamped to [0, size], and end < start means an empty range. */
static bool norm_range(const char *who, int64_t size, int64_t *start, int64_t *end,
                       int64_t step)
{
    if (step <= 0) {
        cg__error(CG_ERR_VALUE, "%s: step must be positive, got %lld", who, (long long)step);
        return false;
    }
    int64_t s = *start < 0 ? *start + size : *start;
    int64_t e = *end < 0 ? *end + size : *end;
    s = s < 0 ? 0 : s > size ? size : s;
    e = e < s ? s : e > size ? size : e;
    *start = s;
    *end = e;
    return true;
}

/* Elements in a normalised range (written to avoid overflow for huge steps). */
static int64_t range_len(int64_t start, int64_t end, int64_t step)
{
    return end <= start ? 0 : (end - start - 1) / step + 1;
}

/* Geometry of the slice (axis, start, end, step) of a tensor of shape/strides/offset. */
static void slice_geometry(int ndim, const int64_t *shape, const int64_t *strides,
                           int64_t offset, int axis, const int64_t *range, int64_t *osh,
                           int64_t *ost, int64_t *ooff)
{
    for (int d = 0; d < ndim; d++) {
        osh[d] = shape[d];
        ost[d] = strides[d];
    }
    osh[axis] = range_len(range[0], range[1], range[2]);
    /* With two or more elements step < size, so the product fits; else it may not. */
    if (osh[axis] > 1)
        ost[axis] = strides[axis] * range[2];
    *ooff = offset + range[0] * strides[axis];
}

cg_tensor *cg__slice_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                             const cg__attrs *attrs)
{
    (void)op, (void)n;
    cg_tensor *x = in[0];
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS], offset;
    slice_geometry(x->ndim, x->shape, x->strides, x->offset, attrs->axis, attrs->i, shape,
                   strides, &offset);
    return cg__tensor_view(pool, x, x->ndim, shape, strides, offset);
}

cg_status cg__slice_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    const int64_t *r = node->attrs.i;
    gin[0] = cg_slice_scatter(g, IN(0)->ndim, IN(0)->shape, node->attrs.axis, r[0], r[1], r[2]);
    return CG_OK;
}

cg_tensor *cg_slice(cg_tensor *x, int axis, int64_t start, int64_t end, int64_t step)
{
    if (!cg__check_tensor(x, "slice"))
        return NULL;
    if (x->ndim == 0) {
        cg__error(CG_ERR_SHAPE, "slice: cannot slice a 0-d tensor");
        return NULL;
    }
    cg__attrs at = attrs_zero();
    at.axis = cg__norm_axis(axis, x->ndim, "slice");
    if (at.axis < 0 || !norm_range("slice", x->shape[at.axis], &start, &end, step))
        return NULL;
    at.i[0] = start, at.i[1] = end, at.i[2] = step;
    at.ni = 3;
    return cg__apply(CG_OP_SLICE, &x, 1, &at);
}

/* attrs of slice_scatter: i[0..ndim) the output shape, then start, end, step. */
cg_tensor *cg__slice_scatter_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                                     const cg__attrs *attrs)
{
    (void)op, (void)n;
    cg_tensor *x = in[0];
    int ndim = attrs->ni - 3;
    cg_tensor *out = cg__tensor_alloc(pool, x->dtype, ndim, attrs->i);
    if (!out)
        return NULL;
    memset(cg__ptr(out), 0, (size_t)cg__shape_numel(ndim, out->shape) * cg_dtype_size(x->dtype));
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS], offset;
    slice_geometry(ndim, out->shape, out->strides, out->offset, attrs->axis, attrs->i + ndim,
                   shape, strides, &offset);
    cg_tensor dst = region(out, ndim, shape, strides, offset);
    cg__copy_into(&dst, x);
    return out;
}

cg_status cg__slice_scatter_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    const int64_t *r = node->attrs.i + node->attrs.ni - 3;
    gin[0] = cg_slice(g, node->attrs.axis, r[0], r[1], r[2]);
    return CG_OK;
}

/* x must have exactly the shape of the slice it fills. */
static bool check_scatter_source(const cg_tensor *x, int ndim, const int64_t *shape, int axis,
                                 int64_t len)
{
    int64_t want[CG_MAX_DIMS];
    memcpy(want, shape, sizeof(int64_t) * (size_t)ndim);
    want[axis] = len;
    if (x->ndim == ndim && !memcmp(x->shape, want, sizeof(int64_t) * (size_t)ndim))
        return true;
    char a[160], b[160], c[160];
    cg__error(CG_ERR_SHAPE, "slice_scatter: source of shape %s does not match the slice shape %s "
                            "along axis %d of %s",
              cg__shape_str(x->ndim, x->shape, a, sizeof a), cg__shape_str(ndim, want, b, sizeof b),
              axis, cg__shape_str(ndim, shape, c, sizeof c));
    return false;
}

cg_tensor *cg_slice_scatter(cg_tensor *x, int ndim, const int64_t *shape, int axis,
                            int64_t start, int64_t end, int64_t step)
{
    if (!cg__check_tensor(x, "slice_scatter") ||
        !cg__check_shape_args(ndim, shape, "slice_scatter"))
        return NULL;
    if (ndim == 0) {
        cg__error(CG_ERR_SHAPE, "slice_scatter: cannot slice a 0-d shape");
        return NULL;
    }
    cg__attrs at = attrs_zero();
    at.axis = cg__norm_axis(axis, ndim, "slice_scatter");
    if (at.axis < 0 || !norm_range("slice_scatter", shape[at.axis], &start, &end, step) ||
        !check_scatter_source(x, ndim, shape, at.axis, range_len(start, end, step)))
        return NULL;
    memcpy(at.i, shape, sizeof(int64_t) * (size_t)ndim);
    at.i[ndim] = start, at.i[ndim + 1] = end, at.i[ndim + 2] = step;
    at.ni = ndim + 3;
    return cg__apply(CG_OP_SLICE_SCATTER, &x, 1, &at);
}

/* ---- expand ---- */

/* PyTorch's inferExpandGeometry: a size-1 dimension stretched to another size gets
 * stride 0; new leading dimensions get stride 0 too (or a harmless stride when of size 1);
 * -1 keeps an existing size and is refused for a new dimension. */
static bool expand_geometry(const cg_tensor *x, int ndim, const int64_t *shape, int64_t *osh,
                            int64_t *ost)
{
    char a[160], b[160];
    if (ndim < x->ndim || ndim > CG_MAX_DIMS) {
        cg__error(CG_ERR_SHAPE, "expand: %d sizes given for a %d-d tensor (need %d to %d)",
                  ndim, x->ndim, x->ndim, CG_MAX_DIMS);
        return false;
    }
    if (ndim > 0 && !shape) {
        cg__error(CG_ERR_NULL, "expand: NULL shape");
        return false;
    }
    for (int i = ndim - 1; i >= 0; i--) {
        int k = i - (ndim - x->ndim);
        int64_t size = k >= 0 ? x->shape[k] : 1, target = shape[i];
        int64_t stride = k >= 0 ? x->strides[k] : i + 1 < ndim ? osh[i + 1] * ost[i + 1] : 1;
        if (target == -1 && k >= 0)
            target = size;
        if (target < 0 || (target != size && size != 1)) {
            cg__error(target < 0 ? CG_ERR_VALUE : CG_ERR_SHAPE,
                      "expand: cannot expand shape %s to %s (dimension %d)",
                      cg__shape_str(x->ndim, x->shape, a, sizeof a),
                      cg__shape_str(ndim, shape, b, sizeof b), i);
            return false;
        }
        if (target != size)
            stride = 0;
        osh[i] = target;
        ost[i] = stride;
    }
    return cg__check_shape_args(ndim, osh, "expand");
}

cg_tensor *cg__expand_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                              const cg__attrs *attrs)
{
    (void)op, (void)n;
    int64_t shape[CG_MAX_DIMS], strides[CG_MAX_DIMS];
    if (!expand_geometry(in[0], attrs->ni, attrs->i, shape, strides))
        return NULL;
    return cg__tensor_view(pool, in[0], attrs->ni, shape, strides, in[0]->offset);
}

cg_status cg__expand_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg__sum_to_like(g, IN(0));
    return CG_OK;
}

cg_tensor *cg_expand(cg_tensor *x, int ndim, const int64_t *shape)
{
    cg__attrs at = attrs_zero();
    int64_t strides[CG_MAX_DIMS];
    if (!cg__check_tensor(x, "expand") || !expand_geometry(x, ndim, shape, at.i, strides))
        return NULL;
    at.ni = ndim;
    return cg__apply(CG_OP_EXPAND, &x, 1, &at);
}

/* ---- composites and detach ---- */

cg_tensor *cg_unsqueeze(cg_tensor *x, int axis)
{
    if (!cg__check_tensor(x, "unsqueeze"))
        return NULL;
    if (x->ndim >= CG_MAX_DIMS) {
        cg__error(CG_ERR_VALUE, "unsqueeze: a %d-d tensor cannot gain a dimension (max %d)",
                  x->ndim, CG_MAX_DIMS);
        return NULL;
    }
    int a = cg__norm_axis(axis, x->ndim + 1, "unsqueeze");
    if (a < 0)
        return NULL;
    int64_t shape[CG_MAX_DIMS];
    for (int d = 0; d <= x->ndim; d++)
        shape[d] = d < a ? x->shape[d] : d == a ? 1 : x->shape[d - 1];
    return cg_reshape(x, x->ndim + 1, shape);
}

cg_tensor *cg_squeeze(cg_tensor *x, int axis)
{
    if (!cg__check_tensor(x, "squeeze"))
        return NULL;
    int a = cg__norm_axis(axis, x->ndim, "squeeze");
    if (a < 0)
        return NULL;
    /* Like torch.squeeze(x, dim): a dimension whose size is not 1 is left alone. */
    if (x->ndim == 0 || x->shape[a] != 1)
        return cg_reshape(x, x->ndim, x->shape);
    int64_t shape[CG_MAX_DIMS];
    for (int d = 0; d < x->ndim - 1; d++)
        shape[d] = x->shape[d < a ? d : d + 1];
    return cg_reshape(x, x->ndim - 1, shape);
}

cg_tensor *cg_flatten(cg_tensor *x, int start, int end)
{
    if (!cg__check_tensor(x, "flatten"))
        return NULL;
    int s = cg__norm_axis(start, x->ndim, "flatten"), e = cg__norm_axis(end, x->ndim, "flatten");
    if (s < 0 || e < 0)
        return NULL;
    if (s > e) {
        cg__error(CG_ERR_VALUE, "flatten: start %d comes after end %d", start, end);
        return NULL;
    }
    if (x->ndim == 0) { /* torch.flatten gives a 0-d tensor one dimension */
        int64_t one = 1;
        return cg_reshape(x, 1, &one);
    }
    int64_t shape[CG_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (d <= s || d > e)
            shape[nd++] = x->shape[d];
        else
            shape[nd - 1] *= x->shape[d];
    }
    return cg_reshape(x, nd, shape);
}

cg_tensor *cg_detach(cg_tensor *x)
{
    if (!cg__check_tensor(x, "detach"))
        return NULL;
    cg_tape *tape = cg__tape_require("detach");
    /* A fresh pooled struct has no node and requires_grad false: nothing flows back. */
    return tape ? cg__tensor_view(tape->pool, x, x->ndim, x->shape, x->strides, x->offset) : NULL;
}
