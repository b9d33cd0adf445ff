/*
 * libcgrad core: tensors, errors, random numbers, threads and allocation counters.
 *
 * Ownership, said once:
 *  - Tensors made by the cg_tensor_* constructors in this header belong to the caller,
 *    who frees them with cg_tensor_free().
 *  - Tensors returned by ops (ops.h) belong to the active tape (autograd.h) and are
 *    freed all at once by cg_tape_reset() or cg_tape_free(). Never free them yourself.
 *
 * Errors propagate like NaN: a function that fails returns NULL (or a status other
 * than CG_OK) and records a message, read with cg_last_error(). An op handed a NULL
 * tensor returns NULL and keeps the first message, so a chain of ops needs one check.
 * Error state is per thread, like errno, and success does not clear it: call
 * cg_clear_error() before a chain to be sure the message after it belongs to it.
 */
#ifndef CGRAD_TENSOR_H
#define CGRAD_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cgrad/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most dimensions a tensor may have. */
#define CG_MAX_DIMS 8

/* Element types. CG_I64 holds indices and class labels; arithmetic ops take f32/f64. */
typedef enum cg_dtype { CG_F32, CG_F64, CG_I64 } cg_dtype;

/* Status codes: (enum name, short description). */
#define CG_STATUS_MAP(X)                                          \
    X(CG_OK, "success")                                           \
    X(CG_ERR_NULL, "NULL argument")                               \
    X(CG_ERR_SHAPE, "shape mismatch")                             \
    X(CG_ERR_DTYPE, "dtype mismatch")                             \
    X(CG_ERR_VALUE, "invalid argument value")                     \
    X(CG_ERR_NOMEM, "out of memory")                              \
    X(CG_ERR_STATE, "invalid state")                              \
    X(CG_ERR_IO, "input/output error")                            \
    X(CG_ERR_FORMAT, "malformed data")                            \
    X(CG_ERR_GRADCHECK, "gradient check failed")

typedef enum cg_status {
#define CG__STATUS_ENUM(name, text) name,
    CG_STATUS_MAP(CG__STATUS_ENUM)
#undef CG__STATUS_ENUM
} cg_status;

/* Short description of a status code ("shape mismatch"); never NULL. */
CG_API const char *cg_status_string(cg_status status);
/* Status of the most recent failure on this thread, CG_OK if none since cg_clear_error(). */
CG_API cg_status cg_last_status(void);
/* Message of the most recent failure on this thread ("" if none); valid until the next failure. */
CG_API const char *cg_last_error(void);
/* Forget the recorded failure on this thread. */
CG_API void cg_clear_error(void);

typedef struct cg_tensor cg_tensor;

/*
 * Counter-based random number generator (Philox4x32-10). A plain value: copy it to save
 * its state. Element i of a random tensor depends only on (seed, offset + i), so the same
 * seed gives the same numbers whatever the thread count. Each draw advances offset.
 */
typedef struct cg_rng {
    uint64_t seed;
    uint64_t offset;
} cg_rng;

/* A generator seeded with seed, at offset 0. */
CG_API cg_rng cg_rng_init(uint64_t seed);
/* Next uniform double in [0, 1) (53 random bits); advances rng by one. */
CG_API double cg_rng_uniform(cg_rng *rng);

/* Elementwise and BLIS threads: n >= 1 sets the count, n <= 0 resets it to the default
 * (CGRAD_NUM_THREADS if set when the library loaded, else the number of cores). */
CG_API void cg_set_num_threads(int n);
/* The thread count in force. */
CG_API int cg_get_num_threads(void);

/* Allocation counters of the library's allocator (all threads). */
typedef struct cg_alloc_stats {
    uint64_t malloc_calls; /* calls to malloc/calloc/realloc since load */
    int64_t live_bytes;    /* bytes allocated and not yet freed */
    int64_t peak_bytes;    /* most live bytes seen */
} cg_alloc_stats;

/* Current counters. */
CG_API cg_alloc_stats cg_alloc_get_stats(void);
/* Testing aid: make the n-th allocation from now fail (n >= 1); n <= 0 turns it off. */
CG_API void cg_alloc_fail_after(int64_t n);

/* ---- construction (caller owns the result) ---- */

/* A tensor of the given shape filled with zeros; ndim in [0, CG_MAX_DIMS], sizes >= 0. */
CG_API cg_tensor *cg_tensor_zeros(cg_dtype dtype, int ndim, const int64_t *shape);
/* Filled with ones. */
CG_API cg_tensor *cg_tensor_ones(cg_dtype dtype, int ndim, const int64_t *shape);
/* Filled with value. */
CG_API cg_tensor *cg_tensor_full(cg_dtype dtype, int ndim, const int64_t *shape, double value);
/* A 0-d tensor holding value. */
CG_API cg_tensor *cg_tensor_scalar(cg_dtype dtype, double value);
/* A copy of numel(shape) elements of type dtype read from data, in row-major order. */
CG_API cg_tensor *cg_tensor_from_data(cg_dtype dtype, int ndim, const int64_t *shape,
                                      const void *data);
/* 1-d tensor start, start+step, ... below end (above end for step < 0), like torch.arange. */
CG_API cg_tensor *cg_tensor_arange(cg_dtype dtype, double start, double end, double step);
/* Uniform samples in [low, high) drawn from rng (f32/f64 only). */
CG_API cg_tensor *cg_tensor_uniform(cg_rng *rng, cg_dtype dtype, int ndim, const int64_t *shape,
                                    double low, double high);
/* Normal samples with mean and std >= 0 drawn from rng (Box-Muller; f32/f64 only). */
CG_API cg_tensor *cg_tensor_normal(cg_rng *rng, cg_dtype dtype, int ndim, const int64_t *shape,
                                   double mean, double std);
/* A contiguous, detached copy of t owned by the caller (any tensor, tape-owned included). */
CG_API cg_tensor *cg_tensor_clone(const cg_tensor *t);
/* Free a tensor the caller owns; NULL is ignored. Tape-owned tensors are left to the tape
 * (the call records a CG_ERR_STATE message and does nothing). Storage shared with views
 * on a tape stays alive until those views are freed. */
CG_API void cg_tensor_free(cg_tensor *t);

/* ---- in-place changes (bump the tensor's version, see autograd.h) ---- */

/* Set every element to value. */
CG_API cg_status cg_tensor_fill_(cg_tensor *t, double value);
/* Copy src's values into dst (same shape, dtypes may differ: values are converted). */
CG_API cg_status cg_tensor_copy_(cg_tensor *dst, const cg_tensor *src);
/* Set the element at the multi-index idx (ndim entries, negative counts from the end). */
CG_API cg_status cg_tensor_set(cg_tensor *t, const int64_t *idx, double value);

/* ---- reading ---- */

CG_API cg_dtype cg_tensor_dtype(const cg_tensor *t);
CG_API int cg_tensor_ndim(const cg_tensor *t);
/* Size of dimension dim (negative counts from the end); -1 if out of range or t is NULL. */
CG_API int64_t cg_tensor_size(const cg_tensor *t, int dim);
/* Pointer to the ndim sizes (owned by t). */
CG_API const int64_t *cg_tensor_shape(const cg_tensor *t);
/* Pointer to the ndim strides, in elements (owned by t). */
CG_API const int64_t *cg_tensor_strides(const cg_tensor *t);
/* Number of elements (1 for a 0-d tensor). */
CG_API int64_t cg_tensor_numel(const cg_tensor *t);
/* True when the elements are laid out row-major without gaps. */
CG_API bool cg_tensor_is_contiguous(const cg_tensor *t);
/* Pointer to the first element (honours the view's offset; mind the strides). */
CG_API void *cg_tensor_data(const cg_tensor *t);
/* Element at the multi-index idx (ndim entries, negative counts from the end), as double. */
CG_API double cg_tensor_get(const cg_tensor *t, const int64_t *idx);
/* The value of a one-element tensor; NaN with an error otherwise. */
CG_API double cg_tensor_item(const cg_tensor *t);
/* Copy all elements, in row-major logical order, converted to double, into out[numel]. */
CG_API cg_status cg_tensor_to_f64(const cg_tensor *t, double *out);
/* Print shape, dtype and values (up to 6 per dimension, PyTorch-like) to f. */
CG_API cg_status cg_tensor_print(const cg_tensor *t, FILE *f);
/* Name of a dtype ("f32", "f64", "i64"). */
CG_API const char *cg_dtype_name(cg_dtype dtype);
/* Bytes per element of dtype. */
CG_API size_t cg_dtype_size(cg_dtype dtype);

/* ---- autograd flags on a tensor ---- */

/* Mark a floating-point leaf tensor as needing gradients (like requires_grad_()). */
CG_API cg_status cg_tensor_set_requires_grad(cg_tensor *t, bool requires_grad);
CG_API bool cg_tensor_requires_grad(const cg_tensor *t);
/* The gradient accumulated by cg_backward into a leaf, owned by the leaf; NULL if none. */
CG_API cg_tensor *cg_tensor_grad(const cg_tensor *t);
/* Drop the leaf's accumulated gradient (like grad = None). */
CG_API void cg_tensor_zero_grad(cg_tensor *t);
/* Counter bumped by every in-place change; backward refuses saved tensors whose
 * version changed since they were recorded. */
CG_API uint64_t cg_tensor_version(const cg_tensor *t);
/* Attach a short label shown by printing and the DOT exporter (copied; NULL clears). */
CG_API cg_status cg_tensor_set_name(cg_tensor *t, const char *name);
CG_API const char *cg_tensor_name(const cg_tensor *t);

#ifdef __cplusplus
}
#endif

#endif
