/* Internal interface of the ops layer: the op enum and table, the dispatcher, and the
 * helpers kernels and backward rules share. */
#ifndef CG_OP_H
#define CG_OP_H

#include "cgrad/ops.h"
#include "graph.h"
#include "op_list.h"

typedef enum cg__op_id {
#define CG__OP_ENUM(E, name, arity, fwd, bwd, saved) CG_OP_##E,
    CG_OP_LIST(CG__OP_ENUM)
#undef CG__OP_ENUM
    CG_OP_COUNT
} cg__op_id;

/* Forward kernel: validate, allocate the output on pool, compute. NULL with an error. */
typedef cg_tensor *(*cg__forward_fn)(int op, cg_pool *pool, cg_tensor *const *in, int n,
                                     const cg__attrs *attrs);
/* Backward rule: gin[i] = gradient for input i from gout, built with differentiable ops.
 * Entries for inputs that need no gradient may be left NULL. */
typedef cg_status (*cg__backward_fn)(const cg_node *node, cg_tensor *gout, cg_tensor **gin);

typedef struct cg__op_def {
    const char *name;
    int arity;
    cg__forward_fn forward;
    cg__backward_fn backward;
    unsigned saved;
} cg__op_def;

extern const cg__op_def cg__ops[CG_OP_COUNT];

/* Declarations of every kernel and rule the table names. */
#define CG__OP_PROTO(E, name, arity, fwd, bwd, saved)                                       \
    cg_tensor *cg__##fwd(int op, cg_pool *pool, cg_tensor *const *in, int n,                \
                         const cg__attrs *attrs);                                           \
    cg_status cg__##bwd(const cg_node *node, cg_tensor *gout, cg_tensor **gin);
CG_OP_LIST(CG__OP_PROTO)
#undef CG__OP_PROTO

/* The rule of ops that are not differentiable (comparisons); never called. */
cg_status cg__no_backward(const cg_node *node, cg_tensor *gout, cg_tensor **gin);
static inline bool cg__differentiable(int op) { return cg__ops[op].backward != cg__no_backward; }

/* Run op on inputs: check them, run the forward kernel on the active tape, and record a
 * node when grad mode is on and an input requires grad. */
cg_tensor *cg__apply(int op, cg_tensor *const *in, int n, const cg__attrs *attrs);

/* ---- helpers for kernels ---- */

/* Broadcast shapes a and b into out (NumPy rules); false with an error naming op.
 * out must not alias a or b. */
bool cg__broadcast_shapes(const char *op, int na, const int64_t *a, int nb, const int64_t *b,
                          int *nout, int64_t *out);
/* Byte strides that read t as if broadcast to (ndim, shape): stride 0 where stretched. */
void cg__broadcast_strides(const cg_tensor *t, int ndim, int64_t *strides_bytes);
/* Pointer to t's first element. */
static inline char *cg__ptr(const cg_tensor *t)
{
    return (char *)t->storage->data + t->offset * (int64_t)cg_dtype_size(t->dtype);
}
/* Check that every tensor in in[0..n) has float dtype and one shared dtype. */
bool cg__check_float_dtypes(const char *op, cg_tensor *const *in, int n);

/* A run of n elements along the innermost dimension: ptrs[k] and strides[k] (bytes) per
 * operand. ctx is the kernel's. */
typedef void (*cg__loop_fn)(int64_t n, char *const *ptrs, const int64_t *strides,
                            const void *ctx);
/* Visit the index space (ndim, shape) for nops operands (base pointers, byte strides per
 * dimension), calling fn on innermost runs; splits the flat range over threads when the
 * size times `work` is large. */
void cg__foreach(int ndim, const int64_t *shape, int nops, char *const *base,
                 const int64_t (*strides)[CG_MAX_DIMS], cg__loop_fn fn, const void *ctx,
                 int64_t work);
/* dst += src in place, for float tensors of one dtype and shape (dst not a broadcast view);
 * bumps dst's version. */
void cg__add_into(cg_tensor *dst, const cg_tensor *src);
/* Copy src into dst of the same shape (dtypes may differ; dst may be a strided view,
 * which slice_scatter, concat and reshape's copy path rely on). */
void cg__copy_into(cg_tensor *dst, const cg_tensor *src);

/* ---- helpers for backward rules ---- */

/* Whether input i of node needs a gradient. */
static inline bool cg__needs(const cg_node *node, int i)
{
    return node->inputs[i]->requires_grad;
}
/* A 0-d unrecorded constant of dtype on the active tape. */
cg_tensor *cg__const(cg_dtype dtype, double value);
/* g summed down to t's shape (for broadcast inputs); g itself when shapes match. */
cg_tensor *cg__sum_to_like(cg_tensor *g, const cg_tensor *t);

#endif
