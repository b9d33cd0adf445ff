/*
 * libcgrad ops: differentiable functions of tensors.
 *
 * Every op returns a new tensor owned by the active tape (see autograd.h), or NULL with an
 * error recorded (see tensor.h). A NULL input gives NULL and keeps the first error. When
 * grad mode is on and an input requires grad, the op records a node so that backward can
 * reach its inputs. Ops on f32 and f64 need all float inputs to share one dtype.
 *
 * Broadcasting follows NumPy: shapes are aligned at the trailing dimension and a size-1
 * (or missing) dimension stretches to the other size.
 *
 * Axes: negative axes count from the end. Functions that take (axes, naxes) reduce over
 * every axis when naxes is 0, like x.sum() in PyTorch.
 */
#ifndef CGRAD_OPS_H
#define CGRAD_OPS_H

#include "cgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the op table ---- */

/* Number of ops in the op table. */
CG_API int cg_op_count(void);
/* Name of op number i ("add", "matmul", ...), NULL when out of range. */
CG_API const char *cg_op_name(int i);
/* Name of the op that produced t ("leaf" for tensors no op recorded). */
CG_API const char *cg_tensor_op_name(const cg_tensor *t);

/* ---- elementwise arithmetic (broadcasting) ---- */

/* a + b */
CG_API cg_tensor *cg_add(cg_tensor *a, cg_tensor *b);
/* a - b */
CG_API cg_tensor *cg_sub(cg_tensor *a, cg_tensor *b);
/* a * b */
CG_API cg_tensor *cg_mul(cg_tensor *a, cg_tensor *b);
/* a / b */
CG_API cg_tensor *cg_div(cg_tensor *a, cg_tensor *b);
/* a ^ b elementwise; d/da = b a^(b-1), d/db = a^b log a */
CG_API cg_tensor *cg_pow(cg_tensor *a, cg_tensor *b);
/* max(a, b) elementwise; on ties the gradient is split in halves, as in torch.maximum */
CG_API cg_tensor *cg_maximum(cg_tensor *a, cg_tensor *b);
/* min(a, b) elementwise; ties split as in torch.minimum */
CG_API cg_tensor *cg_minimum(cg_tensor *a, cg_tensor *b);
/* cond ? a : b elementwise, cond nonzero meaning true (any dtype); grads flow to a and b */
CG_API cg_tensor *cg_where(cg_tensor *cond, cg_tensor *a, cg_tensor *b);

/* Comparisons: 1 where true, 0 where false, in the dtype of a; not differentiable. */
CG_API cg_tensor *cg_eq(cg_tensor *a, cg_tensor *b);
CG_API cg_tensor *cg_ne(cg_tensor *a, cg_tensor *b);
CG_API cg_tensor *cg_lt(cg_tensor *a, cg_tensor *b);
CG_API cg_tensor *cg_le(cg_tensor *a, cg_tensor *b);
CG_API cg_tensor *cg_gt(cg_tensor *a, cg_tensor *b);
CG_API cg_tensor *cg_ge(cg_tensor *a, cg_tensor *b);

/* x + c */
CG_API cg_tensor *cg_add_scalar(cg_tensor *x, double c);
/* x * c */
CG_API cg_tensor *cg_mul_scalar(cg_tensor *x, double c);
/* x ^ c; the gradient is c x^(c-1) (zero when c == 0), as torch.pow(x, c) */
CG_API cg_tensor *cg_pow_scalar(cg_tensor *x, double c);

/* ---- elementwise functions ---- */

/* -x */
CG_API cg_tensor *cg_neg(cg_tensor *x);
/* e^x */
CG_API cg_tensor *cg_exp(cg_tensor *x);
/* natural log of x */
CG_API cg_tensor *cg_log(cg_tensor *x);
/* sqrt(x) */
CG_API cg_tensor *cg_sqrt(cg_tensor *x);
/* 1 / sqrt(x) */
CG_API cg_tensor *cg_rsqrt(cg_tensor *x);
/* |x|; gradient sign(x), 0 at 0 */
CG_API cg_tensor *cg_abs(cg_tensor *x);
/* -1, 0 or 1; gradient zero */
CG_API cg_tensor *cg_sign(cg_tensor *x);
/* min(max(x, lo), hi); gradient 1 where lo <= x <= hi. Pass -INFINITY/INFINITY for no bound;
 * lo > hi gives hi everywhere, as torch.clamp. */
CG_API cg_tensor *cg_clamp(cg_tensor *x, double lo, double hi);

/* ---- reductions ---- */

/* Sum over axes. */
CG_API cg_tensor *cg_sum(cg_tensor *x, const int *axes, int naxes, bool keepdim);
/* Mean over axes (NaN for an empty reduction, as PyTorch). */
CG_API cg_tensor *cg_mean(cg_tensor *x, const int *axes, int naxes, bool keepdim);
/* Largest value over axes (torch.amax); ties share the gradient evenly. Empty axes: error. */
CG_API cg_tensor *cg_max(cg_tensor *x, const int *axes, int naxes, bool keepdim);
/* Smallest value over axes (torch.amin); ties share the gradient evenly. */
CG_API cg_tensor *cg_min(cg_tensor *x, const int *axes, int naxes, bool keepdim);
/* Variance over axes: sum((x - mean)^2) / (N - correction); correction 1 is unbiased, the
 * PyTorch default. N - correction <= 0 gives NaN/inf as PyTorch does. */
CG_API cg_tensor *cg_var(cg_tensor *x, const int *axes, int naxes, int correction, bool keepdim);
/* log(sum(exp(x))) over axes, computed stably (max subtracted first). */
CG_API cg_tensor *cg_logsumexp(cg_tensor *x, const int *axes, int naxes, bool keepdim);
/* exp(x) / sum(exp(x)) along axis, stable for large inputs. */
CG_API cg_tensor *cg_softmax(cg_tensor *x, int axis);
/* x - logsumexp(x) along axis, stable for large inputs. */
CG_API cg_tensor *cg_log_softmax(cg_tensor *x, int axis);

/* ---- linear algebra ---- */

/* Matrix product with torch.matmul's rules: 1-d x 1-d is a dot product; a 1-d operand is
 * promoted to a matrix and the added dimension removed afterwards; leading (batch)
 * dimensions broadcast. Products run through BLIS with strides, so transposed views
 * cost no copies. */
CG_API cg_tensor *cg_matmul(cg_tensor *a, cg_tensor *b);

/* ---- shape and layout (views share storage with their input; no copies) ---- */

/* The same elements with a new shape; one entry may be -1 (inferred). A view when the
 * layout allows, a copy otherwise (torch.reshape). */
CG_API cg_tensor *cg_reshape(cg_tensor *x, int ndim, const int64_t *shape);
/* Dimensions reordered: dimension i of the result is dimension perm[i] of x. A view. */
CG_API cg_tensor *cg_permute(cg_tensor *x, const int *perm);
/* Dimensions d0 and d1 swapped. A view. */
CG_API cg_tensor *cg_transpose(cg_tensor *x, int d0, int d1);
/* Elements start, start+step, ... below end along axis (Python slicing with step >= 1;
 * negative start/end count from the end and are clamped to the size). A view. */
CG_API cg_tensor *cg_slice(cg_tensor *x, int axis, int64_t start, int64_t end, int64_t step);
/* Size-1 dimensions stretched to shape (ndim >= x's ndim; -1 keeps a size). A view. */
CG_API cg_tensor *cg_expand(cg_tensor *x, int ndim, const int64_t *shape);
/* A size-1 dimension inserted at axis (in [-ndim-1, ndim]). A view. */
CG_API cg_tensor *cg_unsqueeze(cg_tensor *x, int axis);
/* Dimension axis removed if its size is 1; otherwise x unchanged (torch.squeeze). A view. */
CG_API cg_tensor *cg_squeeze(cg_tensor *x, int axis);
/* All dimensions from start to end (inclusive) merged into one (torch.flatten). */
CG_API cg_tensor *cg_flatten(cg_tensor *x, int start, int end);
/* A contiguous copy of x (always a new tensor; the gradient passes through). */
CG_API cg_tensor *cg_contiguous(cg_tensor *x);
/* A view of x that does not require grad and records nothing. */
CG_API cg_tensor *cg_detach(cg_tensor *x);
/* x converted to dtype (f32 <-> f64); the gradient is converted back. */
CG_API cg_tensor *cg_to_dtype(cg_tensor *x, cg_dtype dtype);

/* ---- joining and indexing ---- */

/* n tensors joined along axis; all sizes but axis's must match. */
CG_API cg_tensor *cg_concat(cg_tensor *const *xs, int n, int axis);
/* n tensors of one shape stacked along a new axis (in [-ndim-1, ndim]). */
CG_API cg_tensor *cg_stack(cg_tensor *const *xs, int n, int axis);
/* Entries of x along axis picked by the 1-d i64 tensor index (torch.index_select). */
CG_API cg_tensor *cg_index_select(cg_tensor *x, int axis, cg_tensor *index);
/* out[i][j][k] = x[index[i][j][k]][j][k] for axis 0, and so on (torch.gather); index is i64
 * with x's ndim and sizes no larger than x's outside axis. */
CG_API cg_tensor *cg_gather(cg_tensor *x, int axis, cg_tensor *index);
/* A copy of x with src added at the positions index gives along axis (torch.index_add). */
CG_API cg_tensor *cg_index_add(cg_tensor *x, int axis, cg_tensor *index, cg_tensor *src);
/* A copy of x with src[i][j][k] added to position [index[i][j][k]][j][k] for axis 0, and so
 * on (torch.scatter_add). */
CG_API cg_tensor *cg_scatter_add(cg_tensor *x, int axis, cg_tensor *index, cg_tensor *src);
/* Zeros of shape with x written into the slice (axis, start, end, step) — the adjoint of
 * cg_slice (torch.slice_scatter onto zeros). */
CG_API cg_tensor *cg_slice_scatter(cg_tensor *x, int ndim, const int64_t *shape, int axis,
                                   int64_t start, int64_t end, int64_t step);
/* x summed over broadcast dimensions down to shape (the adjoint of cg_expand). */
CG_API cg_tensor *cg_sum_to(cg_tensor *x, int ndim, const int64_t *shape);

#ifdef __cplusplus
}
#endif

#endif
