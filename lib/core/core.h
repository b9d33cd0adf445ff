/* Internal definitions of the core layer: the tensor struct, storage, allocation,
 * errors and thread settings. Nothing here is part of the public API. */
#ifndef CG_CORE_H
#define CG_CORE_H

#include <stdarg.h>
#include <stdatomic.h>

#include "cgrad/tensor.h"

typedef struct cg_node cg_node;
typedef struct cg_pool cg_pool;

/* Element buffer shared by a tensor and its views, allocated in one block with its data.
 * Caller-owned storage is reference counted; pooled storage (pool != NULL) lives until its
 * pool is reset, whatever its count. */
typedef struct cg_storage {
    void *data;
    size_t nbytes;
    int refs;
    uint64_t version;         /* in-place change counter, shared by all views */
    cg_pool *pool;            /* owning pool, NULL for caller-owned storage */
    struct cg_storage *next;  /* pool's in-use or free list */
} cg_storage;

/* A tensor's memory slot is alive or was freed by a tape reset (kept to catch misuse). */
#define CG__ALIVE 0x7e75a11eu
#define CG__DEAD 0xdeadbeefu

struct cg_tensor {
    uint32_t magic;
    cg_dtype dtype;
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    int64_t strides[CG_MAX_DIMS]; /* in elements */
    int64_t offset;               /* in elements, into storage */
    cg_storage *storage;
    bool requires_grad;
    int refs;       /* caller-owned tensors: the caller plus each node that references it */
    cg_pool *pool;  /* owning pool (a tape's), NULL when the caller owns it */
    cg_node *node;  /* op that produced it while recording, NULL for leaves */
    cg_tensor *grad;       /* leaf's accumulated gradient, owned by the tensor */
    cg_tensor *grad_spare; /* the buffer zero_grad took away, reused by the next backward */
    cg_tensor *grad_acc; /* scratch accumulator used during one backward pass */
    char *name;
    cg_tensor *next; /* pool's list of owned or free tensor structs */
};

/* ---- pools: the memory of a tape ---- */

/* A pool owns tensor structs, storages and small records (nodes) and hands them back all
 * at once on reset, keeping the memory for reuse: after one training step the next one
 * allocates nothing. */
cg_pool *cg__pool_new(void);
void cg__pool_free(cg_pool *pool);
/* Kill every tensor the pool owns (their slots are marked dead) and recycle all memory. */
void cg__pool_reset(cg_pool *pool);
/* Zeroed record of n bytes that lives until the next reset (aligned to 16). */
void *cg__pool_record(cg_pool *pool, size_t n);
int64_t cg__pool_num_tensors(const cg_pool *pool);
/* A pooled storage of nbytes (refs 1, version 0); NULL on out of memory. */
cg_storage *cg__pool_storage(cg_pool *pool, size_t nbytes);
/* A zeroed pooled tensor struct (magic and geometry still to set). */
cg_tensor *cg__pool_tensor(cg_pool *pool);
/* Caller-owned storage of nbytes (refs 1); NULL on out of memory. */
cg_storage *cg__storage_new(size_t nbytes);

/* ---- errors ---- */

/* Record a failure (printf-style message) on this thread and return status. */
cg_status cg__error(cg_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Failures recorded on this thread so far: compare two readings to see whether a call
 * failed, whatever state the caller left behind. */
uint64_t cg__error_count(void);
/* Check that t is a live tensor; records an error naming `who` and returns false if not. */
bool cg__check_tensor(const cg_tensor *t, const char *who);

/* ---- allocation: every byte the library holds goes through these ---- */

void *cg__malloc(size_t n);
void *cg__calloc(size_t count, size_t size);
void *cg__realloc(void *p, size_t old_n, size_t n);
void cg__free(void *p, size_t n);
/* strdup through the counted allocator; free with cg__free(p, strlen(p) + 1). */
char *cg__strdup(const char *s);

/* ---- shapes ---- */

/* numel of shape, or -1 on overflow / negative size. */
int64_t cg__shape_numel(int ndim, const int64_t *shape);
/* Row-major strides for shape. */
void cg__contiguous_strides(int ndim, const int64_t *shape, int64_t *strides);
/* Format a shape as "[2, 3]" into buf (size >= 96 recommended). Returns buf. */
char *cg__shape_str(int ndim, const int64_t *shape, char *buf, size_t size);
/* Validate ndim/shape arguments of a constructor; records an error naming who. */
bool cg__check_shape_args(int ndim, const int64_t *shape, const char *who);
/* Normalise a possibly negative axis into [0, ndim); -1 (with an error) if out of range. */
int cg__norm_axis(int axis, int ndim, const char *who);

/* ---- tensors ---- */

/* A new tensor with fresh contiguous storage (uninitialised data) owned by pool
 * (NULL: the caller). NULL with an error on out of memory. */
cg_tensor *cg__tensor_alloc(cg_pool *pool, cg_dtype dtype, int ndim, const int64_t *shape);
/* A new tensor viewing src's storage with the given geometry, owned by pool. */
cg_tensor *cg__tensor_view(cg_pool *pool, const cg_tensor *src, int ndim, const int64_t *shape,
                           const int64_t *strides, int64_t offset);
/* Take a reference to a caller-owned tensor (pooled tensors need none). */
void cg__tensor_retain(cg_tensor *t);
/* Drop a reference to a caller-owned tensor; frees it at zero. Pooled: no-op. */
void cg__tensor_release(cg_tensor *t);
/* Drop one reference to storage; frees caller-owned storage at zero. */
void cg__storage_release(cg_storage *s);
/* Note an in-place change of t's elements. */
static inline void cg__bump_version(cg_tensor *t) { t->storage->version++; }
/* Element read/write by flat storage index (offset and strides already applied). */
double cg__load(const cg_tensor *t, int64_t storage_index);
void cg__store(cg_tensor *t, int64_t storage_index, double v);
/* Storage index of the element with row-major logical index flat. */
int64_t cg__storage_index(const cg_tensor *t, int64_t flat);
/* Base pointer of storage (element 0 of the storage, not of the view). */
static inline void *cg__storage_base(const cg_tensor *t) { return t->storage->data; }
bool cg__is_float(cg_dtype d);

/* ---- threads ---- */

/* Threads for a loop over n elements of cost `work` each (1 below the parallel threshold). */
int cg__threads_for(int64_t n, int64_t work);

/* ---- random numbers ---- */

/* Four 32-bit words of Philox4x32-10 for (seed, counter). */
void cg__philox(uint64_t seed, uint64_t counter, uint32_t out[4]);
/* Uniform double in [0, 1) from words 0-1 (which = 0) or 2-3 (which = 1) of a counter. */
double cg__rng_uniform_at(uint64_t seed, uint64_t counter, int which);

#endif
