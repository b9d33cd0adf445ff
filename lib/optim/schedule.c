/*
 * Learning-rate schedules. Each kind reproduces, bit for bit, the lr sequence of the
 * torch.optim.lr_scheduler class it is named after. PyTorch's schedulers are mostly
 * recursive: step() reads the lr the optimizer holds and multiplies a factor into it, and
 * that lr is shared by every scheduler attached to the optimizer (which is how
 * ChainedScheduler composes them). So every kind here is a function
 *     apply(schedule, lr held before the step) -> lr after the step
 * evaluated with PyTorch's own expression in PyTorch's order of operations, and
 * composites (warmup, chain) pass the one lr through their children as PyTorch's
 * schedulers pass it through the optimizer's param_group.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "cgrad/optim.h"

/* Python rounds every operation; clang would fuse a*b+c into one fma (GCC does not in ISO
 * C mode) and drift from PyTorch's values by an ulp. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

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

typedef enum io_mode { IO_COUNT, IO_SAVE, IO_CHECK, IO_LOAD } io_mode;

typedef struct state_io {
    io_mode mode;
    double *out;      /* IO_SAVE */
    const double *in; /* IO_CHECK, IO_LOAD */
    size_t pos;
    size_t n;    /* IO_CHECK: values in the saved state */
    bool failed; /* IO_CHECK found a difference (message recorded) */
} state_io;

/* Whether value i is to be checked: IO_CHECK, no failure yet, and i inside the saved state
 * (a schedule of another structure may run past its end, which is a failure). */
static bool checking(state_io *io, size_t i)
{
    if (io->mode != IO_CHECK || io->failed)
        return false;
    if (i < io->n)
        return true;
    io->failed = true;
    cg__error(CG_ERR_STATE, "cg_schedule_load: the state was saved from a schedule of a "
                            "different structure");
    return false;
}

/* A hyperparameter: saved, and on load it must equal this schedule's. */
static void io_hyper(state_io *io, const char *name, double v)
{
    size_t i = io->pos++;
    if (io->mode == IO_SAVE)
        io->out[i] = v;
    if (!checking(io, i) || io->in[i] == v)
        return;
    io->failed = true;
    cg__error(CG_ERR_STATE, "cg_schedule_load: the state was saved with %s = %.17g, this schedule "
                            "has %.17g", name, io->in[i], v);
}

/* A real-valued piece of the dynamic state: saved and restored as is. */
static void io_real(state_io *io, double *v)
{
    size_t i = io->pos++;
    if (io->mode == IO_SAVE)
        io->out[i] = *v;
    else if (io->mode == IO_LOAD)
        *v = io->in[i];
}

/* A counter of the dynamic state: on load it must be an integer >= lo. */
static void io_count(state_io *io, const char *name, int64_t *v, int64_t lo)
{
    size_t i = io->pos++;
    if (io->mode == IO_SAVE) {
        io->out[i] = (double)*v;
    } else if (io->mode == IO_LOAD) {
        *v = (int64_t)io->in[i];
    } else if (checking(io, i)) {
        double x = io->in[i];
        if (x >= (double)lo && x <= 9007199254740992.0 && x == floor(x))
            return;
        io->failed = true;
        cg__error(CG_ERR_FORMAT, "cg_schedule_load: saved %s = %.17g is not an integer >= %lld",
                  name, x, (long long)lo);
    }
}

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

static const sched_ops kinds[K_COUNT];

static void reset(cg_schedule *s)
{
    s->t = -1;
    if (kinds[s->kind].reset)
        kinds[s->kind].reset(s);
}

static double advance(cg_schedule *s, double lr)
{
    s->t++;
    return kinds[s->kind].apply(s, lr);
}

/* Start s over and return its lr at step 0 as SequentialLR's scheduler.step(0) gives it. */
static double restart(cg_schedule *s)
{
    reset(s);
    if (!kinds[s->kind].closed0)
        return advance(s, s->base_lr);
    s->t = 0;
    return kinds[s->kind].closed0(s);
}

/* The schedule (s or one it owns) that cannot take another step, or NULL. */
static const cg_schedule *exhausted(const cg_schedule *s)
{
    if (s->kind == K_ONECYCLE)
        return s->t < s->u.onecycle.total ? NULL : s;
    if (s->kind == K_WARMUP)
        return s->t + 1 <= s->u.warmup.steps ? NULL : exhausted(s->child[1]);
    for (int i = 0; i < s->nchild; i++)
        if (exhausted(s->child[i]))
            return exhausted(s->child[i]);
    return NULL;
}

/* Python's a % b for b > 0 (never negative). */
static int64_t floor_mod(int64_t a, int64_t b)
{
    int64_t r = a % b;
    return r < 0 ? r + b : r;
}

/* ConstantLR */
static double constant_apply(cg_schedule *s, double lr)
{
    if (s->t == 0)
        return lr * s->u.constant.factor;
    if (s->t != s->u.constant.total_iters)
        return lr;
    return lr * (1.0 / s->u.constant.factor);
}
static double constant_closed0(const cg_schedule *s)
{
    /* base * (factor + (0 >= total_iters) * (1 - factor)), total_iters >= 1 */
    return s->base_lr * (s->u.constant.factor + 0.0 * (1 - s->u.constant.factor));
}
static void constant_visit(cg_schedule *s, state_io *io)
{
    io_hyper(io, "factor", s->u.constant.factor);
    io_hyper(io, "total_iters", (double)s->u.constant.total_iters);
}

/* StepLR */
static double step_apply(cg_schedule *s, double lr)
{
    if (s->t == 0 || s->t % s->u.step.step_size != 0)
        return lr;
    return lr * s->u.step.gamma;
}
static double step_closed0(const cg_schedule *s) { return s->base_lr * pow(s->u.step.gamma, 0); }
static void step_visit(cg_schedule *s, state_io *io)
{
    io_hyper(io, "step_size", (double)s->u.step.step_size);
    io_hyper(io, "gamma", s->u.step.gamma);
}

/* MultiStepLR (milestones strictly increasing, so each counts once) */
static double multistep_apply(cg_schedule *s, double lr)
{
    for (int i = 0; i < s->u.multistep.n; i++)
        if (s->u.multistep.at[i] == s->t)
            return lr * pow(s->u.multistep.gamma, 1);
    return lr;
}
static double multistep_closed0(const cg_schedule *s)
{
    int passed = s->u.multistep.at[0] == 0; /* bisect_right(milestones, 0) */
    return s->base_lr * pow(s->u.multistep.gamma, passed);
}
static void multistep_visit(cg_schedule *s, state_io *io)
{
    io_hyper(io, "number of milestones", s->u.multistep.n);
    for (int i = 0; i < s->u.multistep.n; i++)
        io_hyper(io, "a milestone", (double)s->u.multistep.at[i]);
    io_hyper(io, "gamma", s->u.multistep.gamma);
}

/* ExponentialLR */
static double exponential_apply(cg_schedule *s, double lr)
{
    return s->t == 0 ? lr : lr * s->u.exponential.gamma;
}
static double exponential_closed0(const cg_schedule *s)
{
    return s->base_lr * pow(s->u.exponential.gamma, 0);
}
static void exponential_visit(cg_schedule *s, state_io *io)
{
    io_hyper(io, "gamma", s->u.exponential.gamma);
}

/* PolynomialLR */
static double poly_apply(cg_schedule *s, double lr)
{
    int64_t t = s->t, n = s->u.poly.total_iters;
    if (t == 0 || t > n)
        return lr;
    double decay = pow((1.0 - (double)t / (double)n) / (1.0 - (double)(t - 1) / (double)n),
                       s->u.poly.power);
    return lr * decay;
}
static double poly_closed0(const cg_schedule *s)
{
    return s->base_lr * pow(1.0 - 0.0 / (double)s->u.poly.total_iters, s->u.poly.power);
}
static void poly_visit(cg_schedule *s, state_io *io)
{
    io_hyper(io, "total_iters", (double)s->u.poly.total_iters);
    io_hyper(io, "power", s->u.poly.power);
}

/* LinearLR */
static double linear_apply(cg_schedule *s, double lr)
{
    double a = s->u.linear.start, b = s->u.linear.end;
    int64_t n = s->u.linear.total_iters;
    if (s->t == 0)
        return lr * a;
    if (s->t > n)
        return lr;
    return lr * (1. + (b - a) / ((double)n * a + (double)(s->t - 1) * (b - a)));
}
static double linear_closed0(const cg_schedule *s)
{
    double a = s->u.linear.start, b = s->u.linear.end;
    return s->base_lr * (a + (b - a) * 0.0 / (double)s->u.linear.total_iters);
}
static void linear_visit(cg_schedule *s, state_io *io)
{
    io_hyper(io, "start_factor", s->u.linear.start);
    io_hyper(io, "end_factor", s->u.linear.end);
    io_hyper(io, "total_iters", (double)s->u.linear.total_iters);
}

/* CosineAnnealingLR, by PyTorch's recursive get_lr (see optim.h) */
static double cosine_apply(cg_schedule *s, double lr)
{
    int64_t t = s->t, n = s->u.cosine.t_max;
    double eta = s->u.cosine.eta_min, T = (double)n;
    if (t == 0)
        return lr;
    if (floor_mod(t - 1 - n, 2 * n) == 0) /* the minimum: the ratio below would be 0/0 */
        return lr + (s->base_lr - eta) * (1 - cos(M_PI / T)) / 2;
    return (1 + cos(M_PI * (double)t / T)) / (1 + cos(M_PI * (double)(t - 1) / T)) * (lr - eta) +
           eta;
}
static double cosine_closed0(const cg_schedule *s)
{
    double eta = s->u.cosine.eta_min;
    return eta + (s->base_lr - eta) * (1 + cos(M_PI * 0.0 / (double)s->u.cosine.t_max)) / 2;
}
static void cosine_visit(cg_schedule *s, state_io *io)
{
    io_hyper(io, "T_max", (double)s->u.cosine.t_max);
    io_hyper(io, "eta_min", s->u.cosine.eta_min);
}

/* CosineAnnealingWarmRestarts (closed form in T_cur/T_i, so no closed0) */
static double restarts_apply(cg_schedule *s, double lr)
{
    (void)lr;
    int64_t *ti = &s->u.restarts.t_i, *tc = &s->u.restarts.t_cur;
    if (s->t == 0) {
        *ti = s->u.restarts.t_0;
        *tc = 0;
    } else if (++*tc >= *ti) {
        *tc -= *ti;
        /* T_i grows geometrically; saturate rather than overflow (unreachable in practice) */
        *ti = *ti > INT64_MAX / s->u.restarts.t_mult ? INT64_MAX : *ti * s->u.restarts.t_mult;
    }
    double eta = s->u.restarts.eta_min;
    return eta + (s->base_lr - eta) * (1 + cos(M_PI * (double)*tc / (double)*ti)) / 2;
}
static void restarts_visit(cg_schedule *s, state_io *io)
{
    io_hyper(io, "T_0", (double)s->u.restarts.t_0);
    io_hyper(io, "T_mult", (double)s->u.restarts.t_mult);
    io_hyper(io, "eta_min", s->u.restarts.eta_min);
    io_count(io, "T_i", &s->u.restarts.t_i, 1);
    io_count(io, "T_cur", &s->u.restarts.t_cur, 0);
}

/* LambdaLR-style decays: base_lr * f(t), f as documented in optim.h */
static double inverse_time_apply(cg_schedule *s, double lr)
{
    (void)lr;
    return s->base_lr * (1.0 / (1.0 + s->u.inverse_time.k * (double)s->t));
}
static void inverse_time_visit(cg_schedule *s, state_io *io)
{
    io_hyper(io, "k", s->u.inverse_time.k);
}

static double robbins_apply(cg_schedule *s, double lr)
{
    (void)lr;
    return s->u.robbins.a / (s->u.robbins.b + (double)s->t);
}
static void robbins_visit(cg_schedule *s, state_io *io)
{
    io_hyper(io, "a", s->u.robbins.a);
    io_hyper(io, "b", s->u.robbins.b);
}

static double sqrt_decay_apply(cg_schedule *s, double lr)
{
    (void)lr;
    return s->base_lr * (1.0 / sqrt((double)(s->t + 1)));
}

static double inverse_sqrt_apply(cg_schedule *s, double lr)
{
    (void)lr;
    int64_t w = s->u.inverse_sqrt.w;
    double a = s->u.inverse_sqrt.start;
    if (s->t < w)
        return s->base_lr * (a + (1.0 - a) * (double)s->t / (double)w);
    return s->base_lr * (sqrt((double)w) / sqrt((double)s->t));
}
static void inverse_sqrt_visit(cg_schedule *s, state_io *io)
{
    io_hyper(io, "warmup_steps", (double)s->u.inverse_sqrt.w);
    io_hyper(io, "start_factor", s->u.inverse_sqrt.start);
}

/* SequentialLR([LinearLR ramp, inner], milestones=[steps]) */
static double warmup_apply(cg_schedule *s, double lr)
{
    int64_t w = s->u.warmup.steps;
    if (s->t == 0) /* SequentialLR resets the lr to initial_lr before the ramp's first step */
        return advance(s->child[0], s->base_lr);
    if (s->t < w)
        return advance(s->child[0], lr);
    if (s->t == w)
        return restart(s->child[1]);
    return advance(s->child[1], lr);
}
static void warmup_visit(cg_schedule *s, state_io *io)
{
    io_hyper(io, "warmup_steps", (double)s->u.warmup.steps);
}

/* CyclicLR (closed form in t) */
static double cyclic_apply(cg_schedule *s, double lr)
{
    (void)lr;
    double t = (double)s->t, total = s->u.cyclic.total_size, ratio = s->u.cyclic.step_ratio;
    double cycle = floor(1 + t / total);
    double x = 1. + t / total - cycle;
    double scale_factor = x <= ratio ? x / ratio : (x - 1) / (ratio - 1);
    double height = (s->u.cyclic.max_lr - s->base_lr) * scale_factor;
    switch (s->u.cyclic.o.mode) {
    case CG_CYCLIC_TRIANGULAR: return s->base_lr + height * 1.;
    case CG_CYCLIC_TRIANGULAR2: return s->base_lr + height * (1 / pow(2., cycle - 1));
    case CG_CYCLIC_EXP_RANGE: break;
    }
    return s->base_lr + height * pow(s->u.cyclic.o.gamma, t);
}
static void cyclic_visit(cg_schedule *s, state_io *io)
{
    io_hyper(io, "max_lr", s->u.cyclic.max_lr);
    io_hyper(io, "step_size_up", (double)s->u.cyclic.o.step_size_up);
    io_hyper(io, "step_size_down", (double)s->u.cyclic.o.step_size_down);
    io_hyper(io, "mode", s->u.cyclic.o.mode);
    io_hyper(io, "gamma", s->u.cyclic.o.gamma);
}

/* OneCycleLR (closed form in t) */
static double anneal(cg_anneal how, double start, double end, double pct)
{
    if (how == CG_ANNEAL_LINEAR)
        return (end - start) * pct + start;
    double cos_out = cos(M_PI * pct) + 1;
    return end + (start - end) / 2.0 * cos_out;
}
static double onecycle_apply(cg_schedule *s, double lr)
{
    (void)lr;
    double step = (double)s->t, start = 0;
    int last = s->u.onecycle.nphases - 1, i = 0;
    while (i < last && !(step <= s->u.onecycle.end_step[i]))
        start = s->u.onecycle.end_step[i++];
    double pct = (step - start) / (s->u.onecycle.end_step[i] - start);
    return anneal(s->u.onecycle.o.anneal, s->u.onecycle.from[i], s->u.onecycle.to[i], pct);
}
static void onecycle_visit(cg_schedule *s, state_io *io)
{
    io_hyper(io, "total_steps", (double)s->u.onecycle.total);
    io_hyper(io, "max_lr", s->u.onecycle.max_lr);
    io_hyper(io, "pct_start", s->u.onecycle.o.pct_start);
    io_hyper(io, "anneal", s->u.onecycle.o.anneal);
    io_hyper(io, "div_factor", s->u.onecycle.o.div_factor);
    io_hyper(io, "final_div_factor", s->u.onecycle.o.final_div_factor);
    io_hyper(io, "three_phase", s->u.onecycle.o.three_phase);
}

/* ReduceLROnPlateau: steps through cg_schedule_step_metric; apply is only the
 * construction step, which keeps the lr. */
static double plateau_apply(cg_schedule *s, double lr)
{
    (void)s;
    return lr;
}
static void plateau_reset(cg_schedule *s)
{
    s->u.plateau.best = s->u.plateau.o.mode == CG_METRIC_MIN ? INFINITY : -INFINITY;
    s->u.plateau.bad = 0;
    s->u.plateau.cooldown_left = 0;
}
static void plateau_visit(cg_schedule *s, state_io *io)
{
    const cg_plateau_options *o = &s->u.plateau.o;
    io_hyper(io, "mode", o->mode);
    io_hyper(io, "factor", o->factor);
    io_hyper(io, "patience", (double)o->patience);
    io_hyper(io, "threshold", o->threshold);
    io_hyper(io, "threshold_mode", o->threshold_mode);
    io_hyper(io, "cooldown", (double)o->cooldown);
    io_hyper(io, "min_lr", o->min_lr);
    io_hyper(io, "eps", o->eps);
    io_real(io, &s->u.plateau.best);
    io_count(io, "num_bad_epochs", &s->u.plateau.bad, 0);
    io_count(io, "cooldown_counter", &s->u.plateau.cooldown_left, 0);
}

/* ChainedScheduler: every child steps on the lr the previous one left */
static double chain_apply(cg_schedule *s, double lr)
{
    for (int i = 0; i < s->nchild; i++)
        lr = advance(s->child[i], lr);
    return lr;
}
static void children_reset(cg_schedule *s)
{
    for (int i = 0; i < s->nchild; i++)
        reset(s->child[i]);
}

static const sched_ops kinds[K_COUNT] = {
    [K_CONSTANT] = {"constant", constant_apply, constant_closed0, NULL, constant_visit, true},
    [K_STEP] = {"step", step_apply, step_closed0, NULL, step_visit, true},
    [K_MULTISTEP] = {"multistep", multistep_apply, multistep_closed0, NULL, multistep_visit, true},
    [K_EXPONENTIAL] = {"exponential", exponential_apply, exponential_closed0, NULL,
                       exponential_visit, true},
    [K_POLYNOMIAL] = {"polynomial", poly_apply, poly_closed0, NULL, poly_visit, true},
    [K_LINEAR] = {"linear", linear_apply, linear_closed0, NULL, linear_visit, true},
    [K_COSINE] = {"cosine", cosine_apply, cosine_closed0, NULL, cosine_visit, true},
    [K_RESTARTS] = {"cosine_restarts", restarts_apply, NULL, NULL, restarts_visit, true},
    [K_INVERSE_TIME] = {"inverse_time", inverse_time_apply, NULL, NULL, inverse_time_visit, true},
    [K_ROBBINS_MONRO] = {"robbins_monro", robbins_apply, NULL, NULL, robbins_visit, true},
    [K_SQRT_DECAY] = {"sqrt_decay", sqrt_decay_apply, NULL, NULL, NULL, true},
    [K_INVERSE_SQRT] = {"inverse_sqrt", inverse_sqrt_apply, NULL, NULL, inverse_sqrt_visit, true},
    [K_WARMUP] = {"warmup", warmup_apply, NULL, children_reset, warmup_visit, false},
    [K_CYCLIC] = {"cyclic", cyclic_apply, NULL, NULL, cyclic_visit, true},
    [K_ONECYCLE] = {"onecycle", onecycle_apply, NULL, NULL, onecycle_visit, true},
    [K_PLATEAU] = {"plateau", plateau_apply, NULL, plateau_reset, plateau_visit, false},
    [K_CHAIN] = {"chain", chain_apply, NULL, children_reset, NULL, false},
};

/* ---- construction ---- */

/* Record a CG_ERR_VALUE message unless ok; returns ok. */
static bool valid(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool valid(bool ok, const char *fmt, ...)
{
    if (ok)
        return true;
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cg__error(CG_ERR_VALUE, "%s", msg);
    return false;
}

/* A learning rate (or any quantity that must be finite and >= 0). */
static bool valid_lr(const char *who, const char *name, double v)
{
    return valid(isfinite(v) && v >= 0, "%s: %s must be finite and >= 0 (got %g)", who, name, v);
}

static bool valid_pos(const char *who, const char *name, double v)
{
    return valid(isfinite(v) && v > 0, "%s: %s must be finite and > 0 (got %g)", who, name, v);
}

static bool valid_count(const char *who, const char *name, int64_t v, int64_t lo)
{
    return valid(v >= lo, "%s: %s must be >= %lld (got %lld)", who, name, (long long)lo,
                 (long long)v);
}

static cg_schedule *sched_alloc(sched_kind kind, double base_lr, const char *who)
{
    cg_schedule *s = cg__calloc(1, sizeof *s);
    if (!s) {
        cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
        return NULL;
    }
    s->kind = kind;
    s->base_lr = base_lr;
    return s;
}

/* The construction step every PyTorch scheduler takes: t = 0 and the lr for it. */
static cg_schedule *sched_start(cg_schedule *s)
{
    reset(s);
    s->lr = advance(s, s->base_lr);
    return s;
}

void cg_schedule_free(cg_schedule *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->nchild; i++)
        cg_schedule_free(s->child[i]);
    if (s->child)
        cg__free(s->child, sizeof(cg_schedule *) * (size_t)s->nchild);
    if (s->kind == K_MULTISTEP)
        cg__free(s->u.multistep.at, sizeof(int64_t) * (size_t)s->u.multistep.n);
    cg__free(s, sizeof *s);
}

cg_schedule *cg_schedule_constant_new(double base_lr, double factor, int64_t total_iters)
{
    const char *who = "cg_schedule_constant_new";
    if (!valid_lr(who, "base_lr", base_lr) ||
        !valid(factor > 0 && factor <= 1, "%s: factor must be in (0, 1] (got %g)", who, factor) ||
        !valid_count(who, "total_iters", total_iters, 1))
        return NULL;
    cg_schedule *s = sched_alloc(K_CONSTANT, base_lr, who);
    if (!s)
        return NULL;
    s->u.constant.factor = factor;
    s->u.constant.total_iters = total_iters;
    return sched_start(s);
}

cg_schedule *cg_schedule_step_new(double base_lr, int64_t step_size, double gamma)
{
    const char *who = "cg_schedule_step_new";
    if (!valid_lr(who, "base_lr", base_lr) || !valid_count(who, "step_size", step_size, 1) ||
        !valid_pos(who, "gamma", gamma))
        return NULL;
    cg_schedule *s = sched_alloc(K_STEP, base_lr, who);
    if (!s)
        return NULL;
    s->u.step.step_size = step_size;
    s->u.step.gamma = gamma;
    return sched_start(s);
}

static bool valid_milestones(const char *who, const int64_t *at, int n)
{
    if (!valid(at != NULL && n >= 1, "%s: milestones must hold at least one step (got %d)", who,
               at ? n : 0))
        return false;
    for (int i = 0; i < n; i++)
        if (!valid(at[i] >= 0 && (i == 0 || at[i] > at[i - 1]),
                   "%s: milestones must be >= 0 and strictly increasing (milestones[%d] = %lld)",
                   who, i, (long long)at[i]))
            return false;
    return true;
}

cg_schedule *cg_schedule_multistep_new(double base_lr, const int64_t *milestones, int n,
                                       double gamma)
{
    const char *who = "cg_schedule_multistep_new";
    if (!valid_lr(who, "base_lr", base_lr) || !valid_milestones(who, milestones, n) ||
        !valid_pos(who, "gamma", gamma))
        return NULL;
    cg_schedule *s = sched_alloc(K_MULTISTEP, base_lr, who);
    int64_t *at = s ? cg__malloc(sizeof(int64_t) * (size_t)n) : NULL;
    if (!at) {
        cg__free(s, sizeof *s);
        if (s)
            cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
        return NULL;
    }
    memcpy(at, milestones, sizeof(int64_t) * (size_t)n);
    s->u.multistep.at = at;
    s->u.multistep.n = n;
    s->u.multistep.gamma = gamma;
    return sched_start(s);
}

cg_schedule *cg_schedule_exponential_new(double base_lr, double gamma)
{
    const char *who = "cg_schedule_exponential_new";
    if (!valid_lr(who, "base_lr", base_lr) || !valid_pos(who, "gamma", gamma))
        return NULL;
    cg_schedule *s = sched_alloc(K_EXPONENTIAL, base_lr, who);
    if (!s)
        return NULL;
    s->u.exponential.gamma = gamma;
    return sched_start(s);
}

cg_schedule *cg_schedule_polynomial_new(double base_lr, int64_t total_iters, double power)
{
    const char *who = "cg_schedule_polynomial_new";
    if (!valid_lr(who, "base_lr", base_lr) || !valid_count(who, "total_iters", total_iters, 1) ||
        !valid_pos(who, "power", power))
        return NULL;
    cg_schedule *s = sched_alloc(K_POLYNOMIAL, base_lr, who);
    if (!s)
        return NULL;
    s->u.poly.total_iters = total_iters;
    s->u.poly.power = power;
    return sched_start(s);
}

cg_schedule *cg_schedule_linear_new(double base_lr, double start_factor, double end_factor,
                                    int64_t total_iters)
{
    const char *who = "cg_schedule_linear_new";
    if (!valid_lr(who, "base_lr", base_lr) ||
        !valid(start_factor > 0 && start_factor <= 1, "%s: start_factor must be in (0, 1] (got %g)",
               who, start_factor) ||
        !valid(end_factor >= 0 && end_factor <= 1, "%s: end_factor must be in [0, 1] (got %g)",
               who, end_factor) ||
        !valid_count(who, "total_iters", total_iters, 1))
        return NULL;
    cg_schedule *s = sched_alloc(K_LINEAR, base_lr, who);
    if (!s)
        return NULL;
    s->u.linear.start = start_factor;
    s->u.linear.end = end_factor;
    s->u.linear.total_iters = total_iters;
    return sched_start(s);
}

cg_schedule *cg_schedule_cosine_new(double base_lr, int64_t t_max, double eta_min)
{
    const char *who = "cg_schedule_cosine_new";
    if (!valid_lr(who, "base_lr", base_lr) || !valid_count(who, "T_max", t_max, 1) ||
        !valid_lr(who, "eta_min", eta_min))
        return NULL;
    cg_schedule *s = sched_alloc(K_COSINE, base_lr, who);
    if (!s)
        return NULL;
    s->u.cosine.t_max = t_max;
    s->u.cosine.eta_min = eta_min;
    return sched_start(s);
}

cg_schedule *cg_schedule_cosine_restarts_new(double base_lr, int64_t t_0, int64_t t_mult,
                                             double eta_min)
{
    const char *who = "cg_schedule_cosine_restarts_new";
    if (!valid_lr(who, "base_lr", base_lr) || !valid_count(who, "T_0", t_0, 1) ||
        !valid_count(who, "T_mult", t_mult, 1) || !valid_lr(who, "eta_min", eta_min))
        return NULL;
    cg_schedule *s = sched_alloc(K_RESTARTS, base_lr, who);
    if (!s)
        return NULL;
    s->u.restarts.t_0 = t_0;
    s->u.restarts.t_mult = t_mult;
    s->u.restarts.eta_min = eta_min;
    return sched_start(s);
}

cg_schedule *cg_schedule_inverse_time_new(double base_lr, double k)
{
    const char *who = "cg_schedule_inverse_time_new";
    if (!valid_lr(who, "base_lr", base_lr) || !valid_lr(who, "k", k))
        return NULL;
    cg_schedule *s = sched_alloc(K_INVERSE_TIME, base_lr, who);
    if (!s)
        return NULL;
    s->u.inverse_time.k = k;
    return sched_start(s);
}

cg_schedule *cg_schedule_robbins_monro_new(double a, double b)
{
    const char *who = "cg_schedule_robbins_monro_new";
    if (!valid_lr(who, "a", a) || !valid_pos(who, "b", b))
        return NULL;
    cg_schedule *s = sched_alloc(K_ROBBINS_MONRO, a / b, who);
    if (!s)
        return NULL;
    s->u.robbins.a = a;
    s->u.robbins.b = b;
    return sched_start(s);
}

cg_schedule *cg_schedule_sqrt_decay_new(double base_lr)
{
    const char *who = "cg_schedule_sqrt_decay_new";
    if (!valid_lr(who, "base_lr", base_lr))
        return NULL;
    cg_schedule *s = sched_alloc(K_SQRT_DECAY, base_lr, who);
    return s ? sched_start(s) : NULL;
}

cg_schedule *cg_schedule_inverse_sqrt_new(double base_lr, int64_t warmup_steps,
                                          double start_factor)
{
    const char *who = "cg_schedule_inverse_sqrt_new";
    if (!valid_lr(who, "base_lr", base_lr) || !valid_count(who, "warmup_steps", warmup_steps, 1) ||
        !valid(start_factor >= 0 && start_factor <= 1,
               "%s: start_factor must be in [0, 1] (got %g)", who, start_factor))
        return NULL;
    cg_schedule *s = sched_alloc(K_INVERSE_SQRT, base_lr, who);
    if (!s)
        return NULL;
    s->u.inverse_sqrt.w = warmup_steps;
    s->u.inverse_sqrt.start = start_factor;
    return sched_start(s);
}

/* Give a composite its children (taking them over); frees them all on failure. */
static bool adopt(cg_schedule *s, cg_schedule *const *children, int n, const char *who)
{
    s->child = cg__malloc(sizeof(cg_schedule *) * (size_t)n);
    if (!s->child) {
        for (int i = 0; i < n; i++)
            cg_schedule_free(children[i]);
        cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
        return false;
    }
    memcpy(s->child, children, sizeof(cg_schedule *) * (size_t)n);
    s->nchild = n;
    return true;
}

static bool valid_warmup_inner(const char *who, const cg_schedule *inner, int64_t steps,
                               double start_factor)
{
    return valid(kinds[inner->kind].restartable,
                 "%s: a %s schedule cannot follow a warmup (put the warmup inside a chain instead)",
                 who, kinds[inner->kind].name) &&
           valid_count(who, "warmup_steps", steps, 1) &&
           valid(start_factor > 0 && start_factor <= 1,
                 "%s: start_factor must be in (0, 1] (got %g)", who, start_factor);
}

cg_schedule *cg_schedule_warmup_new(cg_schedule *inner, int64_t warmup_steps, double start_factor)
{
    const char *who = "cg_schedule_warmup_new";
    if (!inner) {
        if (cg_last_status() == CG_OK)
            cg__error(CG_ERR_NULL, "%s: NULL inner schedule", who);
        return NULL;
    }
    cg_schedule *ramp = NULL, *s = NULL;
    if (valid_warmup_inner(who, inner, warmup_steps, start_factor))
        ramp = cg_schedule_linear_new(inner->base_lr, start_factor, 1.0, warmup_steps);
    if (ramp)
        s = sched_alloc(K_WARMUP, inner->base_lr, who);
    if (!s) {
        cg_schedule_free(ramp);
        cg_schedule_free(inner);
        return NULL;
    }
    s->u.warmup.steps = warmup_steps;
    if (!adopt(s, (cg_schedule *[]){ramp, inner}, 2, who)) {
        cg__free(s, sizeof *s);
        return NULL;
    }
    return sched_start(s);
}

cg_cyclic_options cg_cyclic_defaults(void)
{
    return (cg_cyclic_options){
        .step_size_up = 2000, .step_size_down = 0, .mode = CG_CYCLIC_TRIANGULAR, .gamma = 1.0};
}

static bool valid_cyclic(const char *who, double base_lr, double max_lr,
                         const cg_cyclic_options *o)
{
    return valid_lr(who, "base_lr", base_lr) && valid_lr(who, "max_lr", max_lr) &&
           valid(max_lr >= base_lr, "%s: max_lr (%g) must be >= base_lr (%g)", who, max_lr,
                 base_lr) &&
           valid_count(who, "step_size_up", o->step_size_up, 1) &&
           valid_count(who, "step_size_down", o->step_size_down, 0) &&
           valid((unsigned)o->mode <= CG_CYCLIC_EXP_RANGE, "%s: unknown mode %d", who,
                 (int)o->mode) &&
           valid_pos(who, "gamma", o->gamma);
}

cg_schedule *cg_schedule_cyclic_new(double base_lr, double max_lr, const cg_cyclic_options *options)
{
    const char *who = "cg_schedule_cyclic_new";
    cg_cyclic_options o = options ? *options : cg_cyclic_defaults();
    if (!valid_cyclic(who, base_lr, max_lr, &o))
        return NULL;
    cg_schedule *s = sched_alloc(K_CYCLIC, base_lr, who);
    if (!s)
        return NULL;
    double up = (double)o.step_size_up;
    double down = o.step_size_down > 0 ? (double)o.step_size_down : up;
    s->u.cyclic.o = o;
    s->u.cyclic.max_lr = max_lr;
    s->u.cyclic.total_size = up + down;
    s->u.cyclic.step_ratio = up / s->u.cyclic.total_size;
    return sched_start(s);
}

cg_onecycle_options cg_onecycle_defaults(void)
{
    return (cg_onecycle_options){.pct_start = 0.3, .anneal = CG_ANNEAL_COS, .div_factor = 25.,
                                 .final_div_factor = 1e4, .three_phase = false};
}

/* PyTorch's _schedule_phases: (end_step, start lr, end lr) of each phase. */
static void onecycle_phases(cg_schedule *s, double max_lr, int64_t total)
{
    const cg_onecycle_options *o = &s->u.onecycle.o;
    double initial = s->base_lr, min_lr = initial / o->final_div_factor;
    double *end = s->u.onecycle.end_step, *from = s->u.onecycle.from, *to = s->u.onecycle.to;
    end[0] = o->pct_start * (double)total - 1;
    from[0] = initial;
    to[0] = max_lr;
    if (o->three_phase) {
        end[1] = 2 * o->pct_start * (double)total - 2;
        from[1] = max_lr;
        to[1] = initial;
        end[2] = (double)(total - 1);
        from[2] = initial;
        to[2] = min_lr;
    } else {
        end[1] = (double)(total - 1);
        from[1] = max_lr;
        to[1] = min_lr;
    }
    s->u.onecycle.nphases = o->three_phase ? 3 : 2;
}

static bool valid_onecycle(const char *who, double max_lr, int64_t total,
                           const cg_onecycle_options *o)
{
    return valid_lr(who, "max_lr", max_lr) && valid_count(who, "total_steps", total, 1) &&
           valid(o->pct_start > 0 && o->pct_start < 1, "%s: pct_start must be in (0, 1) (got %g)",
                 who, o->pct_start) &&
           valid((unsigned)o->anneal <= CG_ANNEAL_LINEAR, "%s: unknown anneal strategy %d", who,
                 (int)o->anneal) &&
           valid_pos(who, "div_factor", o->div_factor) &&
           valid_pos(who, "final_div_factor", o->final_div_factor);
}

/* Every phase must span some steps, or PyTorch's pct divides 0 by 0. */
static bool valid_phases(const char *who, const cg_schedule *s)
{
    double start = 0;
    for (int i = 0; i < s->u.onecycle.nphases; i++) {
        double end = s->u.onecycle.end_step[i];
        if (!valid(end > start, "%s: phase %d of the cycle would last %g steps (pct_start %g, "
                                "total_steps %lld): raise pct_start * total_steps above 1",
                   who, i + 1, end - start, s->u.onecycle.o.pct_start,
                   (long long)s->u.onecycle.total))
            return false;
        start = end;
    }
    return true;
}

cg_schedule *cg_schedule_onecycle_new(double max_lr, int64_t total_steps,
                                      const cg_onecycle_options *options)
{
    const char *who = "cg_schedule_onecycle_new";
    cg_onecycle_options o = options ? *options : cg_onecycle_defaults();
    if (!valid_onecycle(who, max_lr, total_steps, &o))
        return NULL;
    cg_schedule *s = sched_alloc(K_ONECYCLE, max_lr / o.div_factor, who);
    if (!s)
        return NULL;
    s->u.onecycle.o = o;
    s->u.onecycle.total = total_steps;
    s->u.onecycle.max_lr = max_lr;
    onecycle_phases(s, max_lr, total_steps);
    if (!valid_phases(who, s)) {
        cg__free(s, sizeof *s);
        return NULL;
    }
    return sched_start(s);
}

cg_plateau_options cg_plateau_defaults(void)
{
    return (cg_plateau_options){.mode = CG_METRIC_MIN, .factor = 0.1, .patience = 10,
                                .threshold = 1e-4, .threshold_mode = CG_THRESHOLD_REL,
                                .cooldown = 0, .min_lr = 0, .eps = 1e-8};
}

static bool valid_plateau(const char *who, double base_lr, const cg_plateau_options *o)
{
    return valid_lr(who, "base_lr", base_lr) &&
           valid((unsigned)o->mode <= CG_METRIC_MAX, "%s: unknown mode %d", who, (int)o->mode) &&
           valid(o->factor > 0 && o->factor < 1, "%s: factor must be in (0, 1) (got %g)", who,
                 o->factor) &&
           valid_count(who, "patience", o->patience, 0) &&
           valid_lr(who, "threshold", o->threshold) &&
           valid((unsigned)o->threshold_mode <= CG_THRESHOLD_ABS,
                 "%s: unknown threshold_mode %d", who, (int)o->threshold_mode) &&
           valid_count(who, "cooldown", o->cooldown, 0) && valid_lr(who, "min_lr", o->min_lr) &&
           valid_lr(who, "eps", o->eps);
}

cg_schedule *cg_schedule_plateau_new(double base_lr, const cg_plateau_options *options)
{
    const char *who = "cg_schedule_plateau_new";
    cg_plateau_options o = options ? *options : cg_plateau_defaults();
    if (!valid_plateau(who, base_lr, &o))
        return NULL;
    cg_schedule *s = sched_alloc(K_PLATEAU, base_lr, who);
    if (!s)
        return NULL;
    s->u.plateau.o = o;
    return sched_start(s);
}

/* Check a chain's children: non-NULL (keeping an upstream error) and no plateau. */
static bool valid_children(const char *who, cg_schedule *const *children, int n)
{
    if (!valid(children != NULL && n >= 1, "%s: a chain needs at least one schedule (got %d)",
               who, children ? n : 0))
        return false;
    for (int i = 0; i < n; i++) {
        if (!children[i]) {
            if (cg_last_status() == CG_OK)
                cg__error(CG_ERR_NULL, "%s: children[%d] is NULL", who, i);
            return false;
        }
        if (!valid(children[i]->kind != K_PLATEAU,
                   "%s: children[%d] is a plateau schedule, which steps on a metric and cannot "
                   "be chained", who, i))
            return false;
    }
    return true;
}

cg_schedule *cg_schedule_chain_new(cg_schedule *const *children, int n)
{
    const char *who = "cg_schedule_chain_new";
    cg_schedule *s = NULL;
    if (valid_children(who, children, n))
        s = sched_alloc(K_CHAIN, children[0]->base_lr, who);
    if (!s) {
        for (int i = 0; children && i < n; i++)
            cg_schedule_free(children[i]);
        return NULL;
    }
    if (!adopt(s, children, n, who)) {
        cg__free(s, sizeof *s);
        return NULL;
    }
    return sched_start(s);
}

/* ---- stepping and reading ---- */

double cg_schedule_lr(const cg_schedule *s)
{
    if (!s) {
        cg__error(CG_ERR_NULL, "cg_schedule_lr: NULL schedule");
        return NAN;
    }
    return s->lr;
}

int64_t cg_schedule_steps(const cg_schedule *s)
{
    if (!s) {
        cg__error(CG_ERR_NULL, "cg_schedule_steps: NULL schedule");
        return -1;
    }
    return s->t;
}

const char *cg_schedule_name(const cg_schedule *s) { return s ? kinds[s->kind].name : ""; }

cg_status cg_schedule_step(cg_schedule *s)
{
    if (!s)
        return cg__error(CG_ERR_NULL, "cg_schedule_step: NULL schedule");
    if (s->kind == K_PLATEAU)
        return cg__error(CG_ERR_STATE, "cg_schedule_step: a plateau schedule steps on a metric "
                                       "(cg_schedule_step_metric)");
    const cg_schedule *done = exhausted(s);
    if (done)
        return cg__error(CG_ERR_STATE, "cg_schedule_step: the one-cycle schedule already took "
                                       "its total_steps = %lld steps",
                         (long long)done->u.onecycle.total);
    s->lr = advance(s, s->lr);
    return CG_OK;
}

/* ReduceLROnPlateau.is_better */
static bool plateau_better(const cg_plateau_options *o, double a, double best)
{
    bool rel = o->threshold_mode == CG_THRESHOLD_REL;
    if (o->mode == CG_METRIC_MIN)
        return rel ? a < best * (1. - o->threshold) : a < best - o->threshold;
    return rel ? a > best * (o->threshold + 1.) : a > best + o->threshold;
}

/* ReduceLROnPlateau._reduce_lr: Python's max keeps the first argument unless the second
 * is larger. */
static void plateau_reduce(cg_schedule *s)
{
    double old_lr = s->lr, new_lr = old_lr * s->u.plateau.o.factor;
    if (s->u.plateau.o.min_lr > new_lr)
        new_lr = s->u.plateau.o.min_lr;
    if (old_lr - new_lr > s->u.plateau.o.eps)
        s->lr = new_lr;
}

cg_status cg_schedule_step_metric(cg_schedule *s, double metric)
{
    if (!s)
        return cg__error(CG_ERR_NULL, "cg_schedule_step_metric: NULL schedule");
    if (s->kind != K_PLATEAU)
        return cg__error(CG_ERR_STATE, "cg_schedule_step_metric: a %s schedule takes no metric "
                                       "(use cg_schedule_step)", kinds[s->kind].name);
    const cg_plateau_options *o = &s->u.plateau.o;
    s->t++;
    if (plateau_better(o, metric, s->u.plateau.best)) {
        s->u.plateau.best = metric;
        s->u.plateau.bad = 0;
    } else {
        s->u.plateau.bad++;
    }
    if (s->u.plateau.cooldown_left > 0) { /* bad steps in cooldown are ignored */
        s->u.plateau.cooldown_left--;
        s->u.plateau.bad = 0;
    }
    if (s->u.plateau.bad > o->patience) {
        plateau_reduce(s);
        s->u.plateau.cooldown_left = o->cooldown;
        s->u.plateau.bad = 0;
    }
    return CG_OK;
}

/* ---- state vectors ---- */

/* Header: magic (an arbitrary constant; change it when the layout changes), kind, number of
 * values. */
#define STATE_MAGIC 4347534845441.0
enum { STATE_HEADER = 3 };

/* The error for a state of kind `saved` loaded into a schedule of kind `kind`. */
static cg_status kind_mismatch(double saved, sched_kind kind)
{
    bool known = saved >= 0 && saved < K_COUNT && saved == floor(saved);
    return cg__error(known ? CG_ERR_STATE : CG_ERR_FORMAT,
                     "cg_schedule_load: the state is of a %s schedule, this is a %s schedule",
                     known ? kinds[(int)saved].name : "unknown", kinds[kind].name);
}

static void visit(cg_schedule *s, state_io *io)
{
    if (checking(io, io->pos) && io->in[io->pos] != (double)s->kind) {
        io->failed = true;
        kind_mismatch(io->in[io->pos], s->kind);
    }
    io_hyper(io, "the kind code", s->kind);
    io_hyper(io, "base_lr", s->base_lr);
    io_count(io, "t", &s->t, -1);
    io_real(io, &s->lr);
    if (kinds[s->kind].visit)
        kinds[s->kind].visit(s, io);
    io_hyper(io, "the number of owned schedules", s->nchild);
    for (int i = 0; i < s->nchild; i++)
        visit(s->child[i], io);
}

size_t cg_schedule_state_size(const cg_schedule *s)
{
    if (!s)
        return 0;
    state_io io = {.mode = IO_COUNT};
    visit((cg_schedule *)s, &io); /* counting reads and writes nothing */
    return STATE_HEADER + io.pos;
}

cg_status cg_schedule_save(const cg_schedule *s, double *buf, size_t n)
{
    if (!s || !buf)
        return cg__error(CG_ERR_NULL, "cg_schedule_save: NULL %s", s ? "buffer" : "schedule");
    size_t need = cg_schedule_state_size(s);
    if (n < need)
        return cg__error(CG_ERR_VALUE, "cg_schedule_save: the buffer holds %zu values, the %s "
                                       "schedule's state needs %zu (cg_schedule_state_size)",
                         n, kinds[s->kind].name, need);
    buf[0] = STATE_MAGIC;
    buf[1] = s->kind;
    buf[2] = (double)need;
    state_io io = {.mode = IO_SAVE, .out = buf, .pos = STATE_HEADER};
    visit((cg_schedule *)s, &io); /* saving only reads s */
    return CG_OK;
}

/* Check the header of a saved state against s; records the error. */
static cg_status check_header(const cg_schedule *s, const double *buf, size_t n)
{
    if (n < STATE_HEADER || buf[0] != STATE_MAGIC)
        return cg__error(CG_ERR_FORMAT, "cg_schedule_load: the buffer does not hold a schedule "
                                        "state (saved by cg_schedule_save)");
    if (buf[1] != (double)s->kind)
        return kind_mismatch(buf[1], s->kind);
    if (!(buf[2] >= STATE_HEADER && buf[2] == floor(buf[2])))
        return cg__error(CG_ERR_FORMAT, "cg_schedule_load: malformed state size %.17g", buf[2]);
    if ((double)n < buf[2])
        return cg__error(CG_ERR_VALUE, "cg_schedule_load: the buffer holds %zu values, the saved "
                                       "state %.17g", n, buf[2]);
    return CG_OK;
}

cg_status cg_schedule_load(cg_schedule *s, const double *buf, size_t n)
{
    if (!s || !buf)
        return cg__error(CG_ERR_NULL, "cg_schedule_load: NULL %s", s ? "buffer" : "schedule");
    cg_status st = check_header(s, buf, n);
    if (st != CG_OK)
        return st;
    /* Check everything first so a mismatch leaves s untouched. */
    state_io io = {.mode = IO_CHECK, .in = buf, .pos = STATE_HEADER, .n = (size_t)buf[2]};
    visit(s, &io);
    if (!io.failed && io.pos != io.n)
        checking(&io, io.n); /* the saved state has more: another structure */
    if (io.failed)
        return cg_last_status();
    io = (state_io){.mode = IO_LOAD, .in = buf, .pos = STATE_HEADER};
    visit(s, &io);
    return CG_OK;
}
