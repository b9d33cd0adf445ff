/*
 * libcgrad optim: learning-rate schedules, regularization penalties, weight decay,
 * gradient clipping, early stopping (and, in their own section, the optimizers).
 *
 * Schedules are caller-owned objects independent of any optimizer: each holds the learning
 * rate for the current step, which an optimizer (or any training loop) reads with
 * cg_schedule_lr() before its update and advances with cg_schedule_step() after it, in
 * PyTorch's order (optimizer.step(), then scheduler.step()). Every schedule reproduces the
 * sequence of learning rates that the torch.optim.lr_scheduler class of the same name
 * produces with an optimizer whose initial lr is base_lr, including PyTorch's recursive
 * ("chainable") updates: lr_0 is the lr after the scheduler's construction, lr_k the lr
 * after its k-th step(). Defaults named below are PyTorch's.
 *
 * Penalties are differentiable (built from ops, returning tape-owned tensors). Weight decay
 * and clipping change tensors in place. The early-stopping tracker is a caller-owned object.
 */
#ifndef CGRAD_OPTIM_H
#define CGRAD_OPTIM_H

#include "cgrad/autograd.h"
#include "cgrad/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Whether a monitored metric should fall (a loss) or rise (an accuracy). */
typedef enum cg_metric_mode { CG_METRIC_MIN, CG_METRIC_MAX } cg_metric_mode;

/* ================= learning-rate schedules (lib/optim/schedule.c) ================= */

/*
 * A schedule. Made by one of the cg_schedule_*_new constructors below, owned by the caller,
 * freed with cg_schedule_free. A constructor given a bad hyperparameter (negative or
 * non-finite lr, gamma <= 0, a step count <= 0, ...) returns NULL and records a
 * CG_ERR_VALUE message naming the parameter (cg_last_error).
 *
 * Time: t counts the steps taken (PyTorch's last_epoch): t = 0 after construction, and
 * each cg_schedule_step adds one. Formulas below give lr_t; base_lr is PyTorch's
 * initial_lr (the lr the optimizer was made with).
 */
typedef struct cg_schedule cg_schedule;

/* The learning rate for the current step (>= 0). NaN, with an error, when s is NULL. */
CG_API double cg_schedule_lr(const cg_schedule *s);
/* Steps taken so far (t); -1 with an error when s is NULL. */
CG_API int64_t cg_schedule_steps(const cg_schedule *s);
/* The kind of schedule: "constant", "step", ..., as in the constructor's name ("" for NULL). */
CG_API const char *cg_schedule_name(const cg_schedule *s);
/* Advance one step: t += 1 and lr becomes lr_t. Errors: CG_ERR_NULL; CG_ERR_STATE for a
 * plateau schedule (use cg_schedule_step_metric) and for a one-cycle schedule already at
 * t = total_steps (as PyTorch, which raises); the schedule is unchanged on error. */
CG_API cg_status cg_schedule_step(cg_schedule *s);
/* Advance a plateau schedule one step with the metric measured at this step (a validation
 * loss, say). NaN counts as no improvement. CG_ERR_STATE for any other kind. */
CG_API cg_status cg_schedule_step_metric(cg_schedule *s, double metric);
/* Free a schedule and the schedules it owns (warmup, chain). NULL is ignored. */
CG_API void cg_schedule_free(cg_schedule *s);

/*
 * Saving and loading. A schedule's state is a vector of doubles: a header, the
 * hyperparameters, and the dynamic state (t, the current lr, counters), recursively for
 * the schedules a warmup or chain owns. Load it into a schedule made with the same
 * constructor and hyperparameters; it then continues exactly as the saved one would.
 */
/* Number of doubles cg_schedule_save writes for s (0 when s is NULL). */
CG_API size_t cg_schedule_state_size(const cg_schedule *s);
/* Write s's state into buf[0..n). CG_ERR_VALUE when n < cg_schedule_state_size(s). */
CG_API cg_status cg_schedule_save(const cg_schedule *s, double *buf, size_t n);
/* Replace s's dynamic state with the one saved in buf[0..n). Errors leave s unchanged:
 * CG_ERR_FORMAT if buf does not hold a schedule state, CG_ERR_STATE if it was saved from
 * a different kind of schedule, with different hyperparameters (the message names the
 * first one that differs) or a different structure, CG_ERR_VALUE if n is too small. */
CG_API cg_status cg_schedule_load(cg_schedule *s, const double *buf, size_t n);

/* ---- constructors (each returns a caller-owned schedule, or NULL with an error) ---- */

/* ConstantLR: lr_t = base_lr * factor for t < total_iters, base_lr from then on.
 * factor in (0, 1] (PyTorch's default 1/3), total_iters >= 1 (5). factor 1 gives a
 * constant schedule. */
CG_API cg_schedule *cg_schedule_constant_new(double base_lr, double factor, int64_t total_iters);
/* StepLR: lr_t = base_lr * gamma^floor(t / step_size), step_size >= 1, gamma > 0 (0.1). */
CG_API cg_schedule *cg_schedule_step_new(double base_lr, int64_t step_size, double gamma);
/* MultiStepLR: lr_t = base_lr * gamma^(number of milestones <= t). milestones[0..n) are
 * copied; n >= 1, strictly increasing, >= 0; gamma > 0 (0.1). */
CG_API cg_schedule *cg_schedule_multistep_new(double base_lr, const int64_t *milestones, int n,
                                              double gamma);
/* ExponentialLR: lr_t = base_lr * gamma^t, gamma > 0. */
CG_API cg_schedule *cg_schedule_exponential_new(double base_lr, double gamma);
/* PolynomialLR: lr_t = base_lr * (1 - min(t, total_iters) / total_iters)^power,
 * total_iters >= 1 (5), power > 0 (1). */
CG_API cg_schedule *cg_schedule_polynomial_new(double base_lr, int64_t total_iters, double power);
/* LinearLR: the factor goes linearly from start_factor at t = 0 to end_factor at
 * t = total_iters and stays there: lr_t = base_lr * (start + (end - start) *
 * min(t, total_iters) / total_iters). start_factor in (0, 1] (1/3), end_factor in [0, 1]
 * (1), total_iters >= 1 (5). (PyTorch accepts start_factor 0 and then divides by zero.) */
CG_API cg_schedule *cg_schedule_linear_new(double base_lr, double start_factor, double end_factor,
                                           int64_t total_iters);
/*
 * CosineAnnealingLR: lr_t = eta_min + (base_lr - eta_min) (1 + cos(pi t / t_max)) / 2,
 * t_max >= 1, eta_min >= 0 (0); past t_max the curve goes up again (a period of 2 t_max),
 * as in PyTorch. The values are those of PyTorch's step(), which applies the recursive
 * form lr_t = eta_min + (lr_{t-1} - eta_min) (1 + cos(pi t/T)) / (1 + cos(pi (t-1)/T))
 * (with PyTorch's special case at t = T + 1 (mod 2T)), not the closed form above: the two
 * differ by rounding only (up to 2e-14 relative over the golden sequences, growing slowly
 * with t), and bit-for-bit agreement with PyTorch needs the recursive one.
 */
CG_API cg_schedule *cg_schedule_cosine_new(double base_lr, int64_t t_max, double eta_min);
/* CosineAnnealingWarmRestarts (SGDR): lr = eta_min + (base_lr - eta_min) (1 + cos(pi
 * T_cur / T_i)) / 2, where T_cur counts the steps since the last restart and the i-th
 * period lasts T_i = t_0 * t_mult^i steps. t_0 >= 1, t_mult >= 1 (1), eta_min >= 0 (0). */
CG_API cg_schedule *cg_schedule_cosine_restarts_new(double base_lr, int64_t t_0, int64_t t_mult,
                                                    double eta_min);

/* Decays PyTorch has no class for; each equals LambdaLR with the factor given, evaluated
 * as written: lr_t = base_lr * f(t). */
/* 1/t decay: f(t) = 1 / (1 + k t), k >= 0. */
CG_API cg_schedule *cg_schedule_inverse_time_new(double base_lr, double k);
/* Robbins-Monro: lr_t = a / (b + t), a >= 0, b > 0 (so lr_0 = a / b). The steps satisfy
 * sum lr = inf, sum lr^2 < inf. Equals LambdaLR(f = a / (b + t)) with base lr 1. */
CG_API cg_schedule *cg_schedule_robbins_monro_new(double a, double b);
/* c/sqrt(t) decay counted from step 1: f(t) = 1 / sqrt(t + 1), so lr_t = c / sqrt(t + 1)
 * with c = base_lr. */
CG_API cg_schedule *cg_schedule_sqrt_decay_new(double base_lr);
/* Inverse square root, the Transformer schedule (fairseq's inverse_sqrt; T5's rsqrt with
 * start_factor 1): with w = warmup_steps >= 1 and s = start_factor in [0, 1],
 *     f(t) = s + (1 - s) t / w       for t < w   (linear rise from s base_lr to base_lr)
 *     f(t) = sqrt(w) / sqrt(t)       for t >= w  (= 1 / sqrt(max(t, w)), normalised to 1 at w)
 * so lr_t = base_lr sqrt(w / t) after the warmup. */
CG_API cg_schedule *cg_schedule_inverse_sqrt_new(double base_lr, int64_t warmup_steps,
                                                 double start_factor);

/*
 * Linear warmup in front of another schedule, as PyTorch's
 * SequentialLR([LinearLR(start_factor, 1.0, warmup_steps), inner], milestones=[warmup_steps]):
 * lr_t = base_lr * (start_factor + (1 - start_factor) t / warmup_steps) for t < warmup_steps
 * (by LinearLR's recursive update), then inner's own sequence restarted at t = warmup_steps
 * (its closed form at its step 0, then its steps). base_lr is inner's. warmup_steps >= 1,
 * start_factor in (0, 1]. inner may be any schedule but a plateau, warmup or chain.
 * Ownership: the result owns inner, which starts over from its step 0; inner is freed
 * even when the call fails, and a NULL inner gives NULL (keeping the first error), so
 * constructors nest in one expression without leaks.
 */
CG_API cg_schedule *cg_schedule_warmup_new(cg_schedule *inner, int64_t warmup_steps,
                                           double start_factor);

/* CyclicLR policies: triangular (constant amplitude), triangular2 (amplitude halved each
 * cycle), exp_range (amplitude scaled by gamma^t). */
typedef enum cg_cyclic_mode {
    CG_CYCLIC_TRIANGULAR,
    CG_CYCLIC_TRIANGULAR2,
    CG_CYCLIC_EXP_RANGE
} cg_cyclic_mode;

/* Options of cg_schedule_cyclic_new; cg_cyclic_defaults() gives PyTorch's. */
typedef struct cg_cyclic_options {
    int64_t step_size_up;   /* steps of the rising half of a cycle, >= 1 (2000) */
    int64_t step_size_down; /* steps of the falling half, >= 0; 0 means step_size_up (PyTorch's None) */
    cg_cyclic_mode mode;    /* CG_CYCLIC_TRIANGULAR */
    double gamma;           /* exp_range's factor, > 0 (1) */
} cg_cyclic_options;
CG_API cg_cyclic_options cg_cyclic_defaults(void);

/* CyclicLR: the lr climbs from base_lr to max_lr and back in cycles of
 * step_size_up + step_size_down steps, scaled by the policy. 0 <= base_lr <= max_lr.
 * options may be NULL for the defaults. (Momentum cycling is not modelled.) */
CG_API cg_schedule *cg_schedule_cyclic_new(double base_lr, double max_lr,
                                           const cg_cyclic_options *options);

/* Annealing of a one-cycle phase: cosine (default) or linear. */
typedef enum cg_anneal { CG_ANNEAL_COS, CG_ANNEAL_LINEAR } cg_anneal;

/* Options of cg_schedule_onecycle_new; cg_onecycle_defaults() gives PyTorch's. */
typedef struct cg_onecycle_options {
    double pct_start;        /* fraction of the steps spent rising, in (0, 1) (0.3) */
    cg_anneal anneal;        /* CG_ANNEAL_COS */
    double div_factor;       /* initial lr = max_lr / div_factor, > 0 (25) */
    double final_div_factor; /* final lr = initial lr / final_div_factor, > 0 (1e4) */
    bool three_phase;        /* rise, fall back to the initial lr, then annihilate (false) */
} cg_onecycle_options;
CG_API cg_onecycle_options cg_onecycle_defaults(void);

/* OneCycleLR: from max_lr / div_factor up to max_lr over pct_start * total_steps steps, then
 * down to the final lr at t = total_steps - 1 (two phases; three with three_phase). Valid
 * for t <= total_steps: stepping past that is an error, as in PyTorch (at t = total_steps
 * the last phase is extrapolated, as PyTorch does). total_steps >= 1, max_lr >= 0, and
 * every phase must last more than zero steps (pct_start * total_steps > 1). options may be
 * NULL for the defaults. base_lr is max_lr / div_factor. */
CG_API cg_schedule *cg_schedule_onecycle_new(double max_lr, int64_t total_steps,
                                             const cg_onecycle_options *options);

/* How ReduceLROnPlateau compares a metric with the best so far: relative (best * (1 -
 * threshold) in min mode, best * (1 + threshold) in max mode) or absolute (best -/+
 * threshold). */
typedef enum cg_threshold_mode { CG_THRESHOLD_REL, CG_THRESHOLD_ABS } cg_threshold_mode;

/* Options of cg_schedule_plateau_new; cg_plateau_defaults() gives PyTorch's. */
typedef struct cg_plateau_options {
    cg_metric_mode mode;              /* CG_METRIC_MIN */
    double factor;                    /* new lr = lr * factor, in (0, 1) (0.1) */
    int64_t patience;                 /* bad steps tolerated before reducing, >= 0 (10) */
    double threshold;                 /* significance of an improvement, >= 0 (1e-4) */
    cg_threshold_mode threshold_mode; /* CG_THRESHOLD_REL */
    int64_t cooldown;                 /* steps ignored after a reduction, >= 0 (0) */
    double min_lr;                    /* floor of the lr, >= 0 (0) */
    double eps;                       /* reductions smaller than this are skipped, >= 0 (1e-8) */
} cg_plateau_options;
CG_API cg_plateau_options cg_plateau_defaults(void);

/* ReduceLROnPlateau: lr starts at base_lr and is multiplied by factor (not below min_lr)
 * when the metric fed to cg_schedule_step_metric has not improved for more than patience
 * steps. options may be NULL for the defaults. */
CG_API cg_schedule *cg_schedule_plateau_new(double base_lr, const cg_plateau_options *options);

/*
 * ChainedScheduler: n >= 1 schedules acting on one lr. Each step runs every child's step
 * in order, each child updating the lr the previous one left, as PyTorch's schedulers
 * sharing one optimizer do: chainable children (step, multistep, exponential, constant,
 * linear, polynomial, cosine) multiply their factors into it, the others (closed-form
 * kinds: cyclic, one-cycle, SGDR, the LambdaLR-style decays) overwrite it. The chain starts
 * from children[0]'s base_lr, and each child keeps its own base_lr where PyTorch would use
 * the shared initial lr (give them all the same base_lr to reproduce PyTorch); a warmup
 * child starts its ramp from its own base_lr, as SequentialLR resets the lr when it is made.
 * The children start over from step 0; plateau children are refused.
 * Ownership: the chain owns the children (the array itself is not kept); they are freed
 * even when the call fails, and a NULL child gives NULL (keeping the first error).
 */
CG_API cg_schedule *cg_schedule_chain_new(cg_schedule *const *children, int n);

/* ================= regularization (lib/optim/regularize.c) ================= */

/*
 * Penalties: scalar (0-d) tape-owned tensors built from ops over params[0..n), so they
 * add to a loss and cg_backward reaches every parameter. n >= 1; the params must be float
 * tensors of one dtype; lambdas >= 0. NULL with an error otherwise. Needs an active tape.
 */
/* L2: (lambda / 2) * sum_i ||w_i||^2 (PyTorch has no such function; this is the usual
 * definition). Its gradient is lambda * w, so adding it to the loss equals SGD's
 * weight_decay = lambda (coupled decay). */
CG_API cg_tensor *cg_l2_penalty(cg_tensor *const *params, int n, double lambda);
/* L1: lambda * sum_i sum |w_i|; the gradient is lambda * sign(w), 0 at w = 0. */
CG_API cg_tensor *cg_l1_penalty(cg_tensor *const *params, int n, double lambda);
/* Elastic net: l1 * sum |w| + (l2 / 2) * sum w^2, the sum of the two penalties above. */
CG_API cg_tensor *cg_elastic_net_penalty(cg_tensor *const *params, int n, double l1, double l2);

/* Decoupled weight decay, as AdamW applies it before its update: every element of each of
 * params[0..n) is multiplied in place by (1 - lr * weight_decay), i.e.
 * w <- w - lr * weight_decay * w (f32 tensors by the factor rounded to f32, as PyTorch's
 * mul_). Not recorded on the tape. lr >= 0, weight_decay >= 0; params float, non-NULL. */
CG_API cg_status cg_decoupled_weight_decay_(cg_tensor *const *params, int n, double lr,
                                            double weight_decay);

/* ================= gradient clipping (lib/optim/regularize.c) ================= */

/*
 * torch.nn.utils.clip_grad_norm_: the total norm of the gradients (cg_tensor_grad) of
 * params[0..n), as if concatenated into one vector, is the norm_type-norm of the per-tensor
 * norms; every gradient is then multiplied in place by min(1, max_norm / (total + 1e-6)).
 * norm_type: INFINITY (max |g|) or p > 0 (2 is the Euclidean norm). Parameters without a
 * gradient are skipped; none at all gives total 0. *total_norm (may be NULL) receives the
 * total norm before clipping. Norms accumulate in double, so f32 gradients agree with
 * PyTorch (which accumulates in f32) to f32 rounding. A non-finite total norm makes every
 * gradient NaN, as PyTorch's default (error_if_nonfinite=False). max_norm >= 0.
 */
CG_API cg_status cg_clip_grad_norm(cg_tensor *const *params, int n, double max_norm,
                                   double norm_type, double *total_norm);
/* torch.nn.utils.clip_grad_value_: every gradient element is clamped in place to
 * [-clip_value, clip_value] (NaN stays NaN). clip_value >= 0. *total_norm (may be NULL)
 * receives the 2-norm of all gradients before clipping. */
CG_API cg_status cg_clip_grad_value(cg_tensor *const *params, int n, double clip_value,
                                    double *total_norm);

/* ================= early stopping (lib/optim/regularize.c) ================= */

/*
 * Early stopping on a monitored metric, keeping the best parameters. An update improves
 * when metric < best - min_delta (CG_METRIC_MIN) or metric > best + min_delta (MAX); the
 * first finite metric always does, NaN never does. On an improvement the tracker copies
 * the given parameters into snapshots it owns; after patience updates in a row without
 * improvement it says stop (and stays so until an improvement). Like the EarlyStopping
 * callbacks of Keras and PyTorch Lightning.
 */
typedef struct cg_early_stopping cg_early_stopping;

/* A new tracker (caller-owned; free with cg_early_stopping_free). patience >= 1,
 * min_delta >= 0. NULL with an error otherwise. */
CG_API cg_early_stopping *cg_early_stopping_new(cg_metric_mode mode, int64_t patience,
                                                double min_delta);
/* Record one evaluation. params[0..n) (n >= 0; NULL when n is 0) are snapshotted on an
 * improvement; every update must pass the same number of tensors with the same shapes and
 * dtypes (CG_ERR_SHAPE/CG_ERR_DTYPE otherwise, and nothing changes). *stop (may be NULL)
 * receives cg_early_stopping_should_stop afterwards. */
CG_API cg_status cg_early_stopping_update(cg_early_stopping *es, double metric,
                                          cg_tensor *const *params, int n, bool *stop);
/* True once patience updates in a row brought no improvement. */
CG_API bool cg_early_stopping_should_stop(const cg_early_stopping *es);
/* Whether the latest update improved on the best. */
CG_API bool cg_early_stopping_improved(const cg_early_stopping *es);
/* The best metric so far (+inf in min mode, -inf in max mode before any improvement). */
CG_API double cg_early_stopping_best(const cg_early_stopping *es);
/* Index (0-based) of the update that gave the best metric; -1 before any improvement. */
CG_API int64_t cg_early_stopping_best_update(const cg_early_stopping *es);
/* Updates in a row without improvement. */
CG_API int64_t cg_early_stopping_bad_updates(const cg_early_stopping *es);
/* Copy the best parameters back into params[0..n) (same count and shapes as the updates).
 * CG_ERR_STATE when no snapshot was taken yet. */
CG_API cg_status cg_early_stopping_restore(const cg_early_stopping *es, cg_tensor *const *params,
                                           int n);
/* Free the tracker and its snapshots; NULL is ignored. */
CG_API void cg_early_stopping_free(cg_early_stopping *es);

/* ================= optimizers (lib/optim/optimizer.c and one file per family) ================= */

/*
 * Every torch.optim optimizer of PyTorch 1.13, with its names, defaults (cg_<algo>_defaults)
 * and the order of operations inside each update, plus full-batch GD, the course forms of
 * momentum and noise-injected gradient descent. A schedule drives one through
 * cg_optim_set_lr(opt, group, cg_schedule_lr(s)) before each step; clipping
 * (cg_clip_grad_norm) goes between backward and cg_optim_step.
 *
 * Parameters are leaf tensors (f32 or f64, contiguous) that the caller owns and keeps alive
 * while the optimizer exists; the optimizer never frees them. cg_optim_step reads each
 * parameter's accumulated gradient (cg_tensor_grad) and updates the parameter in place with
 * a fused kernel (one pass over the elements; OpenMP above the library's threshold, with
 * results that do not depend on the thread count; no allocation after construction). f64
 * parameters are computed in double. f32 parameters of SGD (PyTorch's momentum form), Adam
 * and AdamW are computed in float with PyTorch's operations (its fused multiply-adds
 * included), so their steps equal torch.optim's on a CPU bit for bit; those of the other
 * algorithms in double, rounded to f32 once per step. Parameters without a gradient are
 * skipped, as in PyTorch.
 *
 * An optimizer owns its state (moment buffers shaped like the parameters, step counts,
 * L-BFGS history), allocated once at construction, and its hyperparameters, held as 0-d f64
 * tensors per parameter group (cg_optim_hyper). Free it with cg_optim_free.
 *
 * Differentiable mode (cg_optim_diff_step) runs the same update rule written with ops,
 * out of place on the active tape, so that gradients flow through training steps to the
 * hyperparameters and the initial parameters (hypergradients, meta-learning). The tests hold
 * the fused and the differentiable modes to the same numbers (f64: 1e-12 relative).
 *
 * Errors: constructors return NULL and record a CG_ERR_VALUE (bad hyperparameter, empty
 * parameter list, duplicate parameter), CG_ERR_DTYPE (non-float parameter) or CG_ERR_STATE
 * (a parameter an op made) message naming the constructor and the field, with PyTorch's
 * wording where PyTorch has one ("Invalid learning rate: -1", "Nesterov momentum requires a
 * momentum and zero dampening").
 */
typedef struct cg_optimizer cg_optimizer;

/* A parameter group: params[0..nparams) share a learning rate and a weight decay. NaN in
 * lr or weight_decay means "the value in the options"; other hyperparameters come from the
 * options and can be changed per group with cg_optim_set_hyper. */
typedef struct cg_param_group {
    cg_tensor *const *params;
    int nparams;
    double lr;
    double weight_decay;
} cg_param_group;

/* Re-evaluates the model for cg_optim_step_closure: zero the gradients, run the forward
 * pass, call cg_backward, and return the loss (NaN with an error recorded on failure).
 * Reset the tape inside if it records on one: the optimizer keeps no tape tensor across
 * calls. ctx is passed through. */
typedef double (*cg_closure_fn)(void *ctx);

/* ---- the algorithms: options, PyTorch 1.13's defaults, constructors ---- */

/*
 * Each algorithm X has cg_X_options, cg_X_defaults() and two constructors:
 *   cg_optim_X_new(params, n, options)              one group of n parameters
 *   cg_optim_X_new_groups(groups, ngroups, options) parameter groups
 * options may be NULL for the defaults. The result is owned by the caller (cg_optim_free).
 * Update rules below use g for the gradient after maximize (g = -grad) and the L2 term
 * (g += weight_decay * p), t for the parameter's step count after the increment (1 on the
 * first step), and every name in quotes is a hyperparameter readable with cg_optim_hyper.
 */

/* How SGD applies momentum (u, buf and Delta are the state "momentum_buffer"/"velocity"):
 * CG_MOMENTUM_TORCH     PyTorch's: buf = g on the first step, then
 *                       buf = momentum buf + (1 - dampening) g; with nesterov
 *                       g = g + momentum buf, else g = buf; p = p - lr g.
 * CG_MOMENTUM_VELOCITY  the velocity form: u = momentum u - lr g, p = p + u (u starts at 0).
 *                       With a constant lr, u = -lr buf of TORCH with dampening 0 at every
 *                       step, so the trajectories coincide; they differ when lr changes (u
 *                       keeps the old lr in it).
 * CG_MOMENTUM_AVERAGED  the averaged form: Delta = beta Delta + (1 - beta) g with
 *                       beta = "momentum", p = p - lr Delta (Delta starts at 0). TORCH with
 *                       dampening = momentum = beta runs the same recursion but starts from
 *                       buf = g; loading a zero buffer and step 1 into TORCH makes the two
 *                       coincide from then on.
 * The VELOCITY and AVERAGED forms refuse nesterov and dampening != 0. */
typedef enum cg_momentum_form {
    CG_MOMENTUM_TORCH,
    CG_MOMENTUM_VELOCITY,
    CG_MOMENTUM_AVERAGED
} cg_momentum_form;

/* torch.optim.SGD. Hyperparameters "lr", "momentum", "dampening", "weight_decay". */
typedef struct cg_sgd_options {
    double lr;           /* required: NaN in the defaults, as PyTorch has no default; >= 0 */
    double momentum;     /* 0; >= 0. The buffer exists only when momentum != 0 here */
    double dampening;    /* 0 */
    double weight_decay; /* 0; >= 0 */
    bool nesterov;       /* false; needs momentum > 0 and dampening 0 */
    bool maximize;       /* false */
    cg_momentum_form form; /* CG_MOMENTUM_TORCH */
} cg_sgd_options;
CG_API cg_sgd_options cg_sgd_defaults(void);
CG_API cg_optimizer *cg_optim_sgd_new(cg_tensor *const *params, int n,
                                      const cg_sgd_options *options);
CG_API cg_optimizer *cg_optim_sgd_new_groups(const cg_param_group *groups, int ngroups,
                                             const cg_sgd_options *options);
/* Full-batch gradient descent p = p - lr grad: SGD with its defaults and the given lr
 * (named "gd"; feed it the gradient of the whole training loss). */
CG_API cg_optimizer *cg_optim_gd_new(cg_tensor *const *params, int n, double lr);

/* torch.optim.Adagrad: t-th step with clr = lr / (1 + (t - 1) lr_decay):
 * sum = sum + g g, p = p - clr g / (sqrt(sum) + eps). "sum" starts at
 * initial_accumulator_value. Hyperparameters "lr", "lr_decay", "weight_decay", "eps". */
typedef struct cg_adagrad_options {
    double lr;                        /* 0.01 */
    double lr_decay;                  /* 0; >= 0 */
    double weight_decay;              /* 0 */
    double initial_accumulator_value; /* 0; >= 0 */
    double eps;                       /* 1e-10 */
    bool maximize;                    /* false */
} cg_adagrad_options;
CG_API cg_adagrad_options cg_adagrad_defaults(void);
CG_API cg_optimizer *cg_optim_adagrad_new(cg_tensor *const *params, int n,
                                          const cg_adagrad_options *options);
CG_API cg_optimizer *cg_optim_adagrad_new_groups(const cg_param_group *groups, int ngroups,
                                                 const cg_adagrad_options *options);

/* torch.optim.RMSprop: v = alpha v + (1 - alpha) g g ("square_avg"); centered: m = alpha m
 * + (1 - alpha) g ("grad_avg") and a = sqrt(v - m m) + eps, else a = sqrt(v) + eps; with
 * momentum: buf = momentum buf + g / a, p = p - lr buf; else p = p - lr g / a.
 * Hyperparameters "lr", "alpha", "eps", "weight_decay", "momentum". */
typedef struct cg_rmsprop_options {
    double lr;           /* 0.01 */
    double alpha;        /* 0.99; >= 0 */
    double eps;          /* 1e-8 */
    double weight_decay; /* 0 */
    double momentum;     /* 0; the buffer exists only when momentum > 0 here */
    bool centered;       /* false */
    bool maximize;       /* false */
} cg_rmsprop_options;
CG_API cg_rmsprop_options cg_rmsprop_defaults(void);
CG_API cg_optimizer *cg_optim_rmsprop_new(cg_tensor *const *params, int n,
                                          const cg_rmsprop_options *options);
CG_API cg_optimizer *cg_optim_rmsprop_new_groups(const cg_param_group *groups, int ngroups,
                                                 const cg_rmsprop_options *options);

/* torch.optim.Adadelta: v = rho v + (1 - rho) g g ("square_avg"),
 * delta = sqrt(u + eps) / sqrt(v + eps) g, u = rho u + (1 - rho) delta delta ("acc_delta"),
 * p = p - lr delta. Hyperparameters "lr", "rho", "eps", "weight_decay". */
typedef struct cg_adadelta_options {
    double lr;           /* 1.0 */
    double rho;          /* 0.9; in [0, 1] */
    double eps;          /* 1e-6 */
    double weight_decay; /* 0 */
    bool maximize;       /* false */
} cg_adadelta_options;
CG_API cg_adadelta_options cg_adadelta_defaults(void);
CG_API cg_optimizer *cg_optim_adadelta_new(cg_tensor *const *params, int n,
                                           const cg_adadelta_options *options);
CG_API cg_optimizer *cg_optim_adadelta_new_groups(const cg_param_group *groups, int ngroups,
                                                  const cg_adadelta_options *options);

/* torch.optim.Adam and AdamW: m = beta1 m + (1 - beta1) g ("exp_avg"),
 * v = beta2 v + (1 - beta2) g g ("exp_avg_sq"); amsgrad: vmax = max(vmax, v)
 * ("max_exp_avg_sq") used in place of v; p = p - lr / (1 - beta1^t) * m /
 * (sqrt(v) / sqrt(1 - beta2^t) + eps). AdamW decays instead of adding the L2 term:
 * p = p (1 - lr weight_decay) first. Hyperparameters "lr", "beta1", "beta2", "eps",
 * "weight_decay". */
typedef struct cg_adam_options {
    double lr;           /* 0.001 */
    double beta1;        /* 0.9; in [0, 1) */
    double beta2;        /* 0.999; in [0, 1) */
    double eps;          /* 1e-8 */
    double weight_decay; /* Adam 0, AdamW 0.01 */
    bool amsgrad;        /* false */
    bool maximize;       /* false */
} cg_adam_options;
CG_API cg_adam_options cg_adam_defaults(void);
CG_API cg_adam_options cg_adamw_defaults(void);
CG_API cg_optimizer *cg_optim_adam_new(cg_tensor *const *params, int n,
                                       const cg_adam_options *options);
CG_API cg_optimizer *cg_optim_adam_new_groups(const cg_param_group *groups, int ngroups,
                                              const cg_adam_options *options);
CG_API cg_optimizer *cg_optim_adamw_new(cg_tensor *const *params, int n,
                                        const cg_adam_options *options);
CG_API cg_optimizer *cg_optim_adamw_new_groups(const cg_param_group *groups, int ngroups,
                                               const cg_adam_options *options);

/* torch.optim.Adamax: m as Adam, u = max(beta2 u, |g| + eps) ("exp_inf"),
 * p = p - lr / (1 - beta1^t) * m / u. Hyperparameters as Adam's. */
typedef struct cg_adamax_options {
    double lr;           /* 0.002 */
    double beta1;        /* 0.9 */
    double beta2;        /* 0.999 */
    double eps;          /* 1e-8 */
    double weight_decay; /* 0 */
    bool maximize;       /* false */
} cg_adamax_options;
CG_API cg_adamax_options cg_adamax_defaults(void);
CG_API cg_optimizer *cg_optim_adamax_new(cg_tensor *const *params, int n,
                                         const cg_adamax_options *options);
CG_API cg_optimizer *cg_optim_adamax_new_groups(const cg_param_group *groups, int ngroups,
                                                const cg_adamax_options *options);

/* torch.optim.NAdam as in PyTorch 1.13: mu_t = beta1 (1 - 0.96^(t momentum_decay) / 2),
 * P = P mu_t ("mu_product"), m and v as Adam, d = sqrt(v / (1 - beta2^t)) + eps,
 * p = p - lr (1 - mu_t) / (1 - P) g / d - lr mu_{t+1} / (1 - P mu_t mu_{t+1}) m / d.
 * (1.13 multiplies mu_t in twice in the last denominator; later PyTorch versions use
 * P mu_{t+1}. This follows 1.13, the PyTorch the goldens come from.) No maximize in 1.13.
 * Hyperparameters "lr", "beta1", "beta2", "eps", "weight_decay", "momentum_decay". */
typedef struct cg_nadam_options {
    double lr;             /* 0.002 */
    double beta1;          /* 0.9 */
    double beta2;          /* 0.999 */
    double eps;            /* 1e-8 */
    double weight_decay;   /* 0 */
    double momentum_decay; /* 0.004; >= 0 */
} cg_nadam_options;
CG_API cg_nadam_options cg_nadam_defaults(void);
CG_API cg_optimizer *cg_optim_nadam_new(cg_tensor *const *params, int n,
                                        const cg_nadam_options *options);
CG_API cg_optimizer *cg_optim_nadam_new_groups(const cg_param_group *groups, int ngroups,
                                               const cg_nadam_options *options);

/* torch.optim.RAdam: m and v as Adam; rho_inf = 2 / (1 - beta2) - 1,
 * rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t); when rho_t > 5,
 * p = p - m / (1 - beta1^t) lr sqrt(1 - beta2^t) / (sqrt(v) + eps) r_t with the rectifier
 * r_t = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t)),
 * else p = p - lr m / (1 - beta1^t). Hyperparameters as Adam's. */
typedef struct cg_radam_options {
    double lr;           /* 0.001 */
    double beta1;        /* 0.9 */
    double beta2;        /* 0.999 */
    double eps;          /* 1e-8 */
    double weight_decay; /* 0 */
} cg_radam_options;
CG_API cg_radam_options cg_radam_defaults(void);
CG_API cg_optimizer *cg_optim_radam_new(cg_tensor *const *params, int n,
                                        const cg_radam_options *options);
CG_API cg_optimizer *cg_optim_radam_new_groups(const cg_param_group *groups, int ngroups,
                                               const cg_radam_options *options);

/* torch.optim.Rprop: per element, s = sign(g prev); the step size ("step_size", lr on the
 * first step) is multiplied by eta_plus where s > 0, eta_minus where s < 0, and clamped to
 * [step_size_min, step_size_max]; where s < 0 the gradient is taken as 0; p = p -
 * sign(g) step_size; prev = g ("prev"). No weight decay (a group's must be NaN).
 * Hyperparameters "lr", "eta_minus", "eta_plus". */
typedef struct cg_rprop_options {
    double lr;            /* 0.01 */
    double eta_minus;     /* 0.5; in (0, 1) */
    double eta_plus;      /* 1.2; > 1 */
    double step_size_min; /* 1e-6 */
    double step_size_max; /* 50 */
    bool maximize;        /* false */
} cg_rprop_options;
CG_API cg_rprop_options cg_rprop_defaults(void);
CG_API cg_optimizer *cg_optim_rprop_new(cg_tensor *const *params, int n,
                                        const cg_rprop_options *options);
CG_API cg_optimizer *cg_optim_rprop_new_groups(const cg_param_group *groups, int ngroups,
                                               const cg_rprop_options *options);

/* torch.optim.ASGD: p = p (1 - lambd eta) - eta g; ax = ax + mu (p - ax) ("ax", the
 * average; ax = p while mu = 1); then eta = lr / (1 + lambd lr t)^alpha ("eta", lr on the
 * first step) and mu = 1 / max(1, t - t0) ("mu"). Hyperparameters "lr", "lambd",
 * "alpha", "t0", "weight_decay". */
typedef struct cg_asgd_options {
    double lr;           /* 0.01 */
    double lambd;        /* 1e-4 */
    double alpha;        /* 0.75 */
    double t0;           /* 1e6 */
    double weight_decay; /* 0 */
    bool maximize;       /* false */
} cg_asgd_options;
CG_API cg_asgd_options cg_asgd_defaults(void);
CG_API cg_optimizer *cg_optim_asgd_new(cg_tensor *const *params, int n,
                                       const cg_asgd_options *options);
CG_API cg_optimizer *cg_optim_asgd_new_groups(const cg_param_group *groups, int ngroups,
                                              const cg_asgd_options *options);

/* The line search of L-BFGS: none (a fixed step of lr) or PyTorch's strong Wolfe
 * (c1 = 1e-4, c2 = 0.9, at most 25 evaluations, cubic interpolation). */
typedef enum cg_line_search { CG_LINE_SEARCH_NONE, CG_LINE_SEARCH_STRONG_WOLFE } cg_line_search;

/*
 * torch.optim.LBFGS over all parameters seen as one flat vector (one group only, as
 * PyTorch). Each cg_optim_step_closure runs up to max_iter iterations, calling the closure
 * to re-evaluate the loss and gradient (at most max_eval times), and stops early when
 * max |grad| <= tolerance_grad, when the step or the change in loss falls below
 * tolerance_change, or when the directional derivative is above -tolerance_change. The
 * state ("0.d", "0.t", "0.old_dirs", "0.old_stps", "0.ro", "0.H_diag",
 * "0.prev_flat_grad", "0.prev_loss", "0.n_iter", "0.func_evals", "0.num_old") carries over
 * from call to call, as PyTorch's. The history rows are stored oldest first, num_old of
 * them in use. Flat vectors are f64 whatever the parameters' dtype. Hyperparameter "lr".
 * cg_optim_step without a closure is CG_ERR_STATE.
 */
typedef struct cg_lbfgs_options {
    double lr;               /* 1 */
    int max_iter;            /* 20; >= 1 */
    int max_eval;            /* 0: max_iter * 5 / 4, as PyTorch's None */
    double tolerance_grad;   /* 1e-7 */
    double tolerance_change; /* 1e-9 */
    int history_size;        /* 100; >= 1 */
    cg_line_search line_search; /* CG_LINE_SEARCH_NONE */
} cg_lbfgs_options;
CG_API cg_lbfgs_options cg_lbfgs_defaults(void);
CG_API cg_optimizer *cg_optim_lbfgs_new(cg_tensor *const *params, int n,
                                        const cg_lbfgs_options *options);

/*
 * Noise-injected gradient descent (Neelakantan et al. 2015; Ge et al. 2015 show that it
 * escapes strict saddle points): p = p - lr g + sigma_k eps with eps ~ N(0, I) and the
 * decaying scale sigma_k = sigma / (1 + k)^gamma, k = the parameter's earlier steps (so the
 * first step uses sigma itself). eps is drawn from a Philox generator seeded with seed, element by
 * element (cg_tensor_normal's numbers), so runs are reproducible whatever the thread count;
 * the generator's position is the state entry "rng_offset". No PyTorch counterpart.
 * Hyperparameters "lr", "sigma", "gamma", "weight_decay".
 */
typedef struct cg_noisy_gd_options {
    double lr;           /* required (NaN in the defaults); >= 0 */
    double sigma;        /* 0.01; >= 0 */
    double gamma;        /* 0.55, Neelakantan et al.'s; >= 0 */
    double weight_decay; /* 0 */
    uint64_t seed;       /* 0 */
} cg_noisy_gd_options;
CG_API cg_noisy_gd_options cg_noisy_gd_defaults(void);
CG_API cg_optimizer *cg_optim_noisy_gd_new(cg_tensor *const *params, int n,
                                           const cg_noisy_gd_options *options);
CG_API cg_optimizer *cg_optim_noisy_gd_new_groups(const cg_param_group *groups, int ngroups,
                                                  const cg_noisy_gd_options *options);

/* ---- stepping ---- */

/* One update of every parameter that has a gradient, in place. CG_ERR_STATE for L-BFGS
 * (it needs a closure); CG_ERR_SHAPE/CG_ERR_DTYPE if a gradient does not match its
 * parameter. On error, parameters already updated stay updated. */
CG_API cg_status cg_optim_step(cg_optimizer *opt);
/* The closure is called to re-evaluate the loss (with grad mode on): once before the update
 * for every algorithm but L-BFGS, which calls it as often as its iterations need. *loss
 * (may be NULL) receives the closure's first value, as PyTorch's step returns it. A NaN
 * returned together with a recorded error stops the step with that error. */
CG_API cg_status cg_optim_step_closure(cg_optimizer *opt, cg_closure_fn fn, void *ctx,
                                       double *loss);
/* Zero the gradients of every parameter in place (PyTorch 1.13's default), or drop them
 * when set_to_none (then the next step skips them unless backward runs again). */
CG_API void cg_optim_zero_grad(cg_optimizer *opt, bool set_to_none);
/* Free the optimizer, its state and its hyperparameter tensors (parameters are the
 * caller's). Tape nodes that use a hyperparameter keep it alive until the tape is reset.
 * NULL is ignored. */
CG_API void cg_optim_free(cg_optimizer *opt);

/* ---- inspection and hyperparameters ---- */

/* "sgd", "gd", "adam", ... ("" for NULL). */
CG_API const char *cg_optim_name(const cg_optimizer *opt);
CG_API int cg_optim_num_groups(const cg_optimizer *opt);
/* Parameters over all groups, in group order: the order of cg_optim_diff_step's arrays
 * and of the indices in state names. */
CG_API int cg_optim_num_params(const cg_optimizer *opt);
/* Parameter i, and its group in *group (may be NULL). NULL when out of range. */
CG_API cg_tensor *cg_optim_param(const cg_optimizer *opt, int i, int *group);
/* The learning rate of a group (NaN with an error when out of range). */
CG_API double cg_optim_lr(const cg_optimizer *opt, int group);
/* Set a group's learning rate (>= 0), e.g. from cg_schedule_lr before each step. */
CG_API cg_status cg_optim_set_lr(cg_optimizer *opt, int group, double lr);
/* Set a group's hyperparameter by name, validated like the constructor's. */
CG_API cg_status cg_optim_set_hyper(cg_optimizer *opt, int group, const char *name,
                                    double value);
/* A group's hyperparameter as the 0-d f64 tensor the optimizer owns and reads at every
 * step (do not free it). Mark it with cg_tensor_set_requires_grad to differentiate the
 * differentiable mode with respect to it. Writing into it directly skips validation.
 * NULL with CG_ERR_VALUE when the algorithm has no such hyperparameter. */
CG_API cg_tensor *cg_optim_hyper(const cg_optimizer *opt, int group, const char *name);

/* ---- state: saving and loading ---- */

/*
 * The state is a list of named tensors owned by the optimizer: per parameter i (in
 * cg_optim_param's order) "i.<name>" with PyTorch's names ("0.step" as a 0-d f64 tensor,
 * "0.exp_avg" shaped and typed like parameter 0, ...), the optimizer-wide entries
 * ("rng_offset", L-BFGS's "0.*"), and the hyperparameters of each group
 * ("param_groups.G.lr", ...), as PyTorch's state_dict keeps them. Loading everything
 * cg_optim_state_get lists into an optimizer made with the same parameters and options
 * makes it continue bit for bit as the saved one would.
 */
CG_API int cg_optim_state_count(const cg_optimizer *opt);
/* Entry i in [0, count): its tensor (owned by the optimizer; read or copy it, do not free
 * it) and, when name is not NULL, its name (valid while the optimizer lives). */
CG_API cg_tensor *cg_optim_state_get(const cg_optimizer *opt, int i, const char **name);
/* Replace the whole state with tensors[0..n) named names[0..n): every entry must be
 * given once, with the shape and dtype of the optimizer's own, and hyperparameters and step
 * counts must be valid. Otherwise CG_ERR_VALUE naming the entry, and nothing changes.
 * The differentiable mode's state is left as it is. */
CG_API cg_status cg_optim_state_load(cg_optimizer *opt, const char *const *names,
                                     cg_tensor *const *tensors, int n);

/* ---- differentiable mode ---- */

/*
 * One update of every parameter written with ops, out of place, recorded on the active
 * tape inside the scope "optim": new_params[i] = update(params[i], grads[i], state) for
 * i < cg_optim_num_params(opt), as tape-owned tensors (new_params[i] = params[i] when
 * grads[i] is NULL, which skips parameter i as the fused step would). params[i] may be
 * the parameter itself (the first step) or the previous step's new_params[i]; it must have
 * the parameter's shape and dtype. Gradients typically come from cg_grad with create_graph,
 * so that the result can be differentiated through the gradients too. Like any op, the
 * update records nodes only in grad mode.
 *
 * The state of this mode (moments as tape tensors, step counts) is separate from the fused
 * one: the first call after construction or cg_optim_diff_reset starts from a copy of the
 * fused state, and later calls carry it on. The parameters' own values, their .grad and the
 * fused state are never changed. The hyperparameter tensors (cg_optim_hyper) enter the
 * graph, so cg_grad of a loss after K steps gives d loss / d hyperparameter.
 *
 * L-BFGS runs one iteration per call with the fixed step of CG_LINE_SEARCH_NONE (its
 * options must say max_iter 1 and no line search; otherwise CG_ERR_STATE), which equals
 * cg_optim_step_closure with those options.
 */
CG_API cg_status cg_optim_diff_step(cg_optimizer *opt, cg_tensor *const *params,
                                    cg_tensor *const *grads, cg_tensor **new_params);
/* Forget the differentiable state: the next cg_optim_diff_step starts again from the fused
 * state. Call it after cg_tape_reset (the state lives on the tape) and before each new
 * unrolled run. */
CG_API void cg_optim_diff_reset(cg_optimizer *opt);

#ifdef __cplusplus
}
#endif

#endif
