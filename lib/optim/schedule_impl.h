/*
 * Internal interface of the learning-rate schedules. Nothing here is public.
 *
 * schedule.c        construction, validation, stepping and the rest of the public API
 * schedule_kinds.c  each kind's apply/closed0/reset/visit functions and the kinds table
 * schedule_state.c  the save/load visitor and cg_schedule_save/load/state_size
 *
 * The files that compute lr values turn FP contraction off themselves (see schedule.c).
 */
#ifndef CG_OPTIM_SCHEDULE_IMPL_H
#define CG_OPTIM_SCHEDULE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgrad/optim.h"

/* The kind code is part of a saved state (schedule_state.c). */
typedef enum sched_kind {
    K_CONSTANT, K_STEP, K_MULTISTEP, K_EXPONENTIAL, K_POLYNOMIAL, K_LINEAR, K_COSINE,
    K_RESTARTS, K_INVERSE_TIME, K_ROBBINS_MONRO, K_SQRT_DECAY, K_INVERSE_SQRT, K_WARMUP,
    K_CYCLIC, K_ONECYCLE, K_PLATEAU, K_CHAIN, K_COUNT
} sched_kind;

struct cg_schedule {
    sched_kind kind;
    double base_lr; /* PyTorch's initial_lr */
    double lr;      /* the lr the optimizer holds (param_group['lr']) */
    int64_t t;      /* PyTorch's last_epoch: -1 before the construction step */
    union {
        struct { double factor; int64_t total_iters; } constant;
        struct { int64_t step_size; double gamma; } step;
        struct { int64_t *at; int n; double gamma; } multistep;
        struct { double gamma; } exponential;
        struct { int64_t total_iters; double power; } poly;
        struct { double start, end; int64_t total_iters; } linear;
        struct { int64_t t_max; double eta_min; } cosine;
        struct { int64_t t_0, t_mult, t_i, t_cur; double eta_min; } restarts;
        struct { double k; } inverse_time;
        struct { double a, b; } robbins;
        struct { int64_t w; double start; } inverse_sqrt;
        struct { int64_t steps; } warmup; /* child[0]: the LinearLR ramp, child[1]: inner */
        struct { double max_lr, total_size, step_ratio; cg_cyclic_options o; } cyclic;
        struct {
            cg_onecycle_options o;
            int64_t total;
            double max_lr;
            int nphases;
            double end_step[3], from[3], to[3];
        } onecycle;
        struct { cg_plateau_options o; double best; int64_t bad, cooldown_left; } plateau;
    } u;
    cg_schedule **child; /* schedules a warmup or chain owns */
    int nchild;
};

/* ---- saving and loading: one visitor walks the fields in a fixed order ---- */

/* Counting the values, saving them, checking a saved state against s, loading it. */
typedef enum io_mode { IO_COUNT, IO_SAVE, IO_CHECK, IO_LOAD } io_mode;

typedef struct state_io {
    io_mode mode;
    double *out;      /* IO_SAVE */
    const double *in; /* IO_CHECK, IO_LOAD */
    size_t pos;
    size_t n;    /* IO_CHECK: values in the saved state */
    bool failed; /* IO_CHECK found a difference (message recorded) */
} state_io;

/* A hyperparameter: saved, and on load it must equal this schedule's. */
void cg__sched_io_hyper(state_io *io, const char *name, double v);
/* A real-valued piece of the dynamic state: saved and restored as is. */
void cg__sched_io_real(state_io *io, double *v);
/* A counter of the dynamic state: on load it must be an integer >= lo. */
void cg__sched_io_count(state_io *io, const char *name, int64_t *v, int64_t lo);

/* ---- the kinds ---- */

typedef struct sched_ops {
    const char *name;
    /* lr after the step from the lr held before it; s->t is already advanced. */
    double (*apply)(cg_schedule *s, double lr);
    /* PyTorch's _get_closed_form_lr at t = 0, which SequentialLR's step(0) uses when it
     * hands over to this schedule; NULL when apply reads no lr (the two then agree). */
    double (*closed0)(const cg_schedule *s);
    /* Dynamic state other than t back to its value before the construction step. */
    void (*reset)(cg_schedule *s);
    /* Hyperparameters, then dynamic state other than t and lr. */
    void (*visit)(cg_schedule *s, state_io *io);
    bool restartable; /* may follow a warmup */
} sched_ops;

/* Indexed by sched_kind (schedule_kinds.c). */
extern const sched_ops cg__sched_kinds[K_COUNT];

/* s back to its state before the construction step (t = -1). */
void cg__sched_reset(cg_schedule *s);
/* One step: t advances, and the lr after it from lr, the lr held before it. */
double cg__sched_advance(cg_schedule *s, double lr);

#endif
