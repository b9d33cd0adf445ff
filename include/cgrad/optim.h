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

/* ================= optimizers (lib/optim/: to be added) ================= */

/* (Reserved for the optimizer section: optimizers read the lr of a cg_schedule with
 * cg_schedule_lr and may apply cg_decoupled_weight_decay_ and cg_clip_grad_norm.) */

#ifdef __cplusplus
}
#endif

#endif
