/*
 * libcgrad autograd: the tape, grad mode, the backward engine and gradient checks.
 *
 * A tape records the ops a thread runs while it is active (cg_tape_use). It owns every
 * tensor those ops return, and the gradients backward computes; cg_tape_reset frees them
 * all at once and keeps the memory for the next step. Parameters and other tensors made
 * with the cg_tensor_* constructors belong to the caller and survive resets.
 *
 * The graph is kept until the tape is reset, so backward may run several times over it
 * (as with retain_graph=True in PyTorch).
 */
#ifndef CGRAD_AUTOGRAD_H
#define CGRAD_AUTOGRAD_H

#include "cgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_tape cg_tape;

/* A new empty tape, owned by the caller (free with cg_tape_free). NULL on out of memory. */
CG_API cg_tape *cg_tape_new(void);
/* Free the tape and every tensor it owns. If it is active on this thread, no tape is
 * active afterwards. NULL is ignored. */
CG_API void cg_tape_free(cg_tape *tape);
/* Free every tensor and node the tape owns; the memory is pooled for reuse, so a training
 * step after the first allocates nothing. Using a freed tensor afterwards is an error
 * (reported as CG_ERR_STATE while the slot is not yet reused). */
CG_API void cg_tape_reset(cg_tape *tape);
/* Make tape the active tape of the calling thread (NULL: none) and return the previous
 * one, so scopes nest: prev = cg_tape_use(t); ...; cg_tape_use(prev). */
CG_API cg_tape *cg_tape_use(cg_tape *tape);
/* The active tape of the calling thread, or NULL. */
CG_API cg_tape *cg_tape_active(void);
/* Number of tensors the tape owns now. */
CG_API int64_t cg_tape_num_tensors(const cg_tape *tape);
/* Number of op nodes recorded on the tape now. */
CG_API int64_t cg_tape_num_nodes(const cg_tape *tape);

/* Scopes name the part of a model an op belongs to, for diagrams (modules open one named
 * after themselves around their forward). Push opens a scope nested in the current one on
 * the active tape ("model" then "0" gives "model.0"); every node recorded until the
 * matching pop carries that path. A reset closes all scopes. */
CG_API cg_status cg_tape_push_scope(const char *name);
CG_API cg_status cg_tape_pop_scope(void);
/* The current scope path of the active tape, NULL at top level (valid until the next reset). */
CG_API const char *cg_tape_scope(void);
/* The scope path recorded with the op that produced t, or NULL. */
CG_API const char *cg_tensor_scope(const cg_tensor *t);

/* Whether ops record nodes on this thread (on by default). */
CG_API bool cg_grad_enabled(void);
/* Turn recording on or off for this thread and return the previous setting, so a
 * no-grad scope reads: bool prev = cg_set_grad_enabled(false); ...; cg_set_grad_enabled(prev). */
CG_API bool cg_set_grad_enabled(bool enabled);

/*
 * Backward from output: accumulate d(output)/d(leaf) into the .grad of every leaf that
 * requires grad (cg_tensor_grad), like output.backward(grad_output). grad_output may be
 * NULL only for a one-element output (then it is 1); otherwise it must have output's shape.
 * The accumulated gradients are plain tensors owned by their leaves.
 */
CG_API cg_status cg_backward(cg_tensor *output, cg_tensor *grad_output);

/* Options of cg_grad. */
typedef struct cg_grad_options {
    bool create_graph; /* record the backward pass, so the gradients can be differentiated */
    bool allow_unused; /* an input the outputs do not depend on gets NULL instead of an error */
} cg_grad_options;

/*
 * Gradients of sum_i <outputs[i], grad_outputs[i]> with respect to inputs[0..ninputs-1],
 * like torch.autograd.grad. grad_outputs may be NULL (all outputs one-element) or hold NULL
 * entries for one-element outputs. grads[j] receives a tape-owned tensor shaped like
 * inputs[j]. With create_graph the gradients are recorded and can be differentiated again
 * (Hessian-vector products, gradient penalties). Nothing is accumulated into .grad.
 * options may be NULL for the defaults (all false).
 */
CG_API cg_status cg_grad(cg_tensor *const *outputs, int noutputs, cg_tensor *const *grad_outputs,
                         cg_tensor *const *inputs, int ninputs, cg_tensor **grads,
                         const cg_grad_options *options);

/* A function checked by cg_gradcheck: builds its output from inputs with ops on the active
 * tape and returns it (NULL on error). ctx is passed through. */
typedef cg_tensor *(*cg_grad_fn)(cg_tensor *const *inputs, int ninputs, void *ctx);

/* Tolerances and sampling of a gradient check; cg_gradcheck_defaults() gives PyTorch's. */
typedef struct cg_gradcheck_options {
    double eps;          /* finite-difference step (1e-6) */
    double atol;         /* absolute tolerance (1e-5) */
    double rtol;         /* relative tolerance (1e-3) */
    int64_t max_entries; /* above this many Jacobian entries, sample rows and columns (1e6) */
    int64_t samples;     /* rows and columns sampled when over max_entries (64) */
    uint64_t seed;       /* seed for sampling and for gradgradcheck's random grad_output (0) */
    const char *label;   /* name used in failure reports (NULL: the output's op name) */
} cg_gradcheck_options;

/* PyTorch's defaults: eps 1e-6, atol 1e-5, rtol 1e-3. */
CG_API cg_gradcheck_options cg_gradcheck_defaults(void);

/*
 * Compare the Jacobian of fn that backward computes with central differences
 * (f(x+eps) - f(x-eps)) / 2eps, entry by entry: |analytical - numerical| <= atol +
 * rtol |numerical|. Inputs must be f64 tensors; those with requires_grad are checked (their
 * values are perturbed in place and restored). Runs on a private tape. Returns CG_OK, or
 * CG_ERR_GRADCHECK with a message naming the function, the input and the worst element.
 */
CG_API cg_status cg_gradcheck(cg_grad_fn fn, cg_tensor *const *inputs, int ninputs, void *ctx,
                              const cg_gradcheck_options *options);
/*
 * Second-order check, like torch.autograd.gradgradcheck: with a random grad_output v,
 * gradcheck the map (inputs, v) -> d<fn(inputs), v>/d(inputs) computed with create_graph.
 */
CG_API cg_status cg_gradgradcheck(cg_grad_fn fn, cg_tensor *const *inputs, int ninputs,
                                  void *ctx, const cg_gradcheck_options *options);

#ifdef __cplusplus
}
#endif

#endif
