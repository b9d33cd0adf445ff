/*
 * Internal interface of the optimizers: the optimizer object, the table entry each
 * algorithm fills (cg__opt_algo), the fused elementwise driver and the helpers the
 * differentiable rules share. optimizer.c holds everything common; each family file
 * (sgd.c, adaptive.c, adam.c, rprop_asgd.c, lbfgs.c, noisy.c) holds its algorithms'
 * constructors, fused kernels and rules.
 *
 * Every algorithm is written twice on purpose: fused in-place kernels over the parameter's
 * arrays for the normal mode (in double for f64, in float for f32 where the algorithm has a
 * float kernel), and a rule built from ops for the differentiable mode. Both follow
 * PyTorch's order of operations, and the tests hold them to the same numbers.
 */
#ifndef CG_OPTIMIZER_IMPL_H
#define CG_OPTIMIZER_IMPL_H

#include <math.h>

#include "core.h"
#include "graph.h"
#include "cgrad/optim.h"

enum {
    CG__OPT_MAX_HYPER = 8, /* hyperparameters of one algorithm */
    CG__OPT_MAX_SLOTS = 6, /* per-parameter state entries, "step" included */
    CG__OPT_MAX_GLOBAL = 12, /* optimizer-wide state entries (L-BFGS's) */
    CG__OPT_MAX_BUFS = 4   /* buffers an elementwise kernel updates besides the parameter */
};

/* Slot 0 of every per-parameter algorithm: the step count, a 0-d f64 tensor. */
#define CG__SLOT_STEP 0

typedef struct cg__opt_algo cg__opt_algo;

/* How a hyperparameter's value is validated (constructors, set_hyper, state_load). */
typedef enum cg__hyper_rule {
    CG__H_NONNEG,    /* >= 0 */
    CG__H_BETA,      /* in [0, 1) */
    CG__H_UNIT,      /* in [0, 1] */
    CG__H_FINITE,    /* any finite value */
    CG__H_ETA_MINUS, /* in (0, 1) */
    CG__H_ETA_PLUS   /* > 1 */
} cg__hyper_rule;

typedef struct cg__hyper_def {
    const char *name;
    cg__hyper_rule rule;
} cg__hyper_def;

typedef struct cg__opt_param {
    cg_tensor *p; /* the caller's parameter */
    int group;
    cg_tensor *slot[CG__OPT_MAX_SLOTS];  /* owned state: 0-d f64 scalars or p-shaped buffers */
    cg_tensor *dslot[CG__OPT_MAX_SLOTS]; /* differentiable mode's state (tape tensors) */
    double dstep;                        /* differentiable mode's step count */
} cg__opt_param;

typedef struct cg__opt_group {
    cg_tensor *hyper[CG__OPT_MAX_HYPER]; /* 0-d f64, owned */
} cg__opt_group;

/* One named entry of the saved state. */
typedef struct cg__opt_entry {
    char *name;
    cg_tensor *t;
    int hyper; /* index into the algorithm's hyperparameters, or -1 */
    bool count; /* a step or evaluation count: a non-negative integer */
} cg__opt_entry;

/* Every algorithm's options, so the optimizer keeps a copy of whichever it was made with. */
typedef union cg__opt_options {
    cg_sgd_options sgd;
    cg_adagrad_options adagrad;
    cg_rmsprop_options rmsprop;
    cg_adadelta_options adadelta;
    cg_adam_options adam;
    cg_adamax_options adamax;
    cg_nadam_options nadam;
    cg_radam_options radam;
    cg_rprop_options rprop;
    cg_asgd_options asgd;
    cg_lbfgs_options lbfgs;
    cg_noisy_gd_options noisy;
} cg__opt_options;

struct cg_optimizer {
    const cg__opt_algo *algo;
    const char *who; /* constructor name, for messages */
    cg__opt_options o;
    int ngroups, nparams;
    cg__opt_group *groups;
    cg__opt_param *params;
    int nslots; /* per-parameter slots, "step" first; 0 for L-BFGS */
    const char *slot_names[CG__OPT_MAX_SLOTS];
    bool slot_buffer[CG__OPT_MAX_SLOTS]; /* shaped like the parameter, else 0-d f64 */
    double slot_init[CG__OPT_MAX_SLOTS];
    int nglobal;
    const char *global_names[CG__OPT_MAX_GLOBAL];
    cg_tensor *global[CG__OPT_MAX_GLOBAL];
    bool global_count[CG__OPT_MAX_GLOBAL];
    int nentries;
    cg__opt_entry *entries;
    bool diff_live; /* the differentiable state has been started from the fused one */
    void *ext;      /* an algorithm's own data (L-BFGS, noisy GD) */
};

/* The view a rule has of one parameter's update in the differentiable mode. */
typedef struct cg__rule {
    cg_optimizer *opt;
    int group;
    cg_tensor *p, *g; /* parameter and gradient (leaves or tape tensors), g before maximize */
    cg_tensor **s;    /* slots in and out (s[CG__SLOT_STEP] unused) */
    double step;      /* the step count after this update's increment */
    int index;        /* parameter index */
    cg_tensor *out;   /* the rule's result: the updated parameter */
} cg__rule;

struct cg__opt_algo {
    const char *name;
    const cg__hyper_def *hypers; /* "lr" first, terminated by a NULL name */
    int wd;                      /* index of "weight_decay" in hypers, -1 when none */
    /* Declare the state slots from the options (cg__opt_slot, cg__opt_global) and check
     * the options that are not hyperparameters; NULL when there is nothing to do. */
    cg_status (*setup)(cg_optimizer *opt);
    /* Fused in-place update of one parameter with its gradient (per-parameter algorithms). */
    cg_status (*fused)(cg_optimizer *opt, cg__opt_param *pp, const cg_tensor *grad);
    /* The update written with ops (per-parameter algorithms). */
    cg_status (*rule)(cg__rule *r);
    /* Whole-optimizer algorithms (L-BFGS) replace the per-parameter loops. */
    cg_status (*step_all)(cg_optimizer *opt, cg_closure_fn fn, void *ctx, double *loss);
    cg_status (*diff_all)(cg_optimizer *opt, cg_tensor *const *params,
                          cg_tensor *const *grads, cg_tensor **new_params);
    void (*diff_reset)(cg_optimizer *opt);
    void (*free_ext)(cg_optimizer *opt);
};

/* ---- construction (optimizer.c) ---- */

/* The common constructor: validate the groups and hyperparameters (hyper[k] is the
 * options' value of algo->hypers[k]), copy the options, call algo->setup, allocate the
 * state and name its entries. NULL with an error naming who. */
cg_optimizer *cg__opt_new(const cg__opt_algo *algo, const char *who,
                          const cg_param_group *groups, int ngroups, const double *hyper,
                          const void *options, size_t options_size);
/* One group holding params[0..n) with the options' lr and weight decay. */
cg_param_group cg__opt_one_group(cg_tensor *const *params, int n);
/* Declare a per-parameter slot (setup only): a buffer shaped like the parameter filled
 * with init, or a 0-d f64 scalar holding init. Returns its index. */
int cg__opt_slot(cg_optimizer *opt, const char *name, bool buffer, double init);
/* Declare an optimizer-wide entry (setup only); the optimizer takes ownership of t (which
 * may be NULL after an allocation failure: the constructor then fails). */
int cg__opt_global(cg_optimizer *opt, const char *name, cg_tensor *t, bool count);
/* Record a CG_ERR_VALUE about a bad option value: "who: Invalid <what>: <v>". */
cg_status cg__opt_bad(const cg_optimizer *opt, const char *what, double v, const char *why);

/* ---- values ---- */

/* A group's hyperparameter k. */
static inline double cg__hv(const cg_optimizer *opt, int group, int k)
{
    return *(const double *)cg_tensor_data(opt->groups[group].hyper[k]);
}
/* A 0-d f64 state tensor's value, and setting it (bumping its version). */
static inline double cg__sv(const cg_tensor *t) { return *(const double *)cg_tensor_data(t); }
static inline void cg__sv_set(cg_tensor *t, double v)
{
    *(double *)cg_tensor_data(t) = v;
    cg__bump_version(t);
}

/* ---- the fused driver ---- */

/*
 * An elementwise update of n consecutive elements, the first being element i0 of the
 * parameter: p (in/out), g (in) and b[0..nbuf) (in/out), arrays of the parameter's dtype
 * that do not overlap. coef holds the algorithm's per-step constants (in double; a float
 * kernel rounds them to float as PyTorch's scalar arguments are). Runs concurrently on
 * disjoint ranges, so an element's result must not depend on where its range starts.
 */
typedef void (*cg__opt_kernel)(const void *coef, int64_t i0, int64_t n, double *p,
                               const double *g, double *const *b);
typedef void (*cg__opt_kernel_f32)(const void *coef, int64_t i0, int64_t n, float *p,
                                   const float *g, float *const *b);
/* An algorithm's kernels: f64 for f64 parameters, f32 (in float, PyTorch's order of
 * operations) for f32 ones. Without f32, f32 parameters go through f64 in double chunks,
 * rounded back to float once. */
typedef struct cg__opt_kernels {
    cg__opt_kernel f64;
    cg__opt_kernel_f32 f32;
} cg__opt_kernels;
/* Run the kernel of p's dtype over every element of p, in place. bufs are the slots named
 * by buf_slots[0..nbuf) of pp. Bumps the versions of p and the buffers. work: rough cost
 * per element, for the thread count. */
void cg__opt_apply(cg__opt_param *pp, const cg_tensor *grad, const int *buf_slots, int nbuf,
                   cg__opt_kernels kernels, const void *coef, int64_t work);

/* Inlined into each caller, so a kernel's loops specialise on constant flags. */
#define CG__OPT_INLINE static inline __attribute__((always_inline))

/* ---- helpers of the differentiable rules (optimizer.c) ---- */

/* Hyperparameter k of the rule's group as a 0-d tensor of the parameter's dtype (the
 * owned f64 tensor itself for f64 parameters, so gradients reach it). */
cg_tensor *cg__rule_hyper(const cg__rule *r, int k);
/* Whether hyperparameter k takes part: nonzero, or requiring grad (then even a zero
 * weight decay must be in the graph to be differentiated). */
bool cg__rule_active(const cg__rule *r, int k);
/* The gradient as the update uses it: -g with maximize, plus weight_decay * p when l2 and
 * the algorithm's weight decay is active (PyTorch's order: maximize first). */
cg_tensor *cg__rule_grad(const cg__rule *r, bool maximize, bool l2);
/* beta s + (1 - beta) x, as PyTorch's s.mul_(beta).add_(x, alpha=1 - beta). */
cg_tensor *cg__rule_lerp(cg_tensor *s, cg_tensor *beta, cg_tensor *x);
/* 1 - x */
cg_tensor *cg__rule_one_minus(cg_tensor *x);
/* A 0-d constant of the rule's dtype on the active tape. */
cg_tensor *cg__rule_const(const cg__rule *r, double v);
/* A tensor of shape filled with v, owned by the active tape, recording nothing. */
cg_tensor *cg__opt_tape_full(cg_dtype dtype, int ndim, const int64_t *shape, double v);

/* ---- the algorithms (one table entry each, in their family files) ---- */

extern const cg__opt_algo cg__algo_sgd, cg__algo_gd, cg__algo_adagrad, cg__algo_rmsprop,
    cg__algo_adadelta, cg__algo_adam, cg__algo_adamw, cg__algo_adamax, cg__algo_nadam,
    cg__algo_radam, cg__algo_rprop, cg__algo_asgd, cg__algo_lbfgs, cg__algo_noisy_gd;

#endif
