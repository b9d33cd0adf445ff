/*
 * The kinds of learning-rate schedule. Each kind reproduces, bit for bit, the lr sequence
 * of the torch.optim.lr_scheduler class it is named after. PyTorch's schedulers are mostly
 * recursive: step() reads the lr the optimizer holds and multiplies a factor into it, and
 * that lr is shared by every scheduler attached to the optimizer (which is how
 * ChainedScheduler composes them). So every kind here is a function
 *     apply(schedule, lr held before the step) -> lr after the step
 * evaluated with PyTorch's own expression in PyTorch's order of operations, and
 * composites (warmup, chain) pass the one lr through their children as PyTorch's
 * schedulers pass it through the optimizer's param_group.
 */
#include <math.h>

#include "schedule_impl.h"

/* Python rounds every operation; clang would fuse a*b+c into one fma (GCC does not in ISO
 * C mode) and drift from PyTorch's values by an ulp. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* ---- stepping through the table ---- */

void cg__sched_reset(cg_schedule *s)
{
    s->t = -1;
    if (cg__sched_kinds[s->kind].reset)
        cg__sched_kinds[s->kind].reset(s);
}

double cg__sched_advance(cg_schedule *s, double lr)
{
    s->t++;
    return cg__sched_kinds[s->kind].apply(s, lr);
}

/* Start s over and return its lr at step 0 as SequentialLR's scheduler.step(0) gives it. */
static double restart(cg_schedule *s)
{
    cg__sched_reset(s);
    if (!cg__sched_kinds[s->kind].closed0)
        return cg__sched_advance(s, s->base_lr);
    s->t = 0;
    return cg__sched_kinds[s->kind].closed0(s);
}

/* ---- the kinds, each named after its PyTorch class ---- */

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
    cg__sched_io_hyper(io, "factor", s->u.constant.factor);
    cg__sched_io_hyper(io, "total_iters", (double)s->u.constant.total_iters);
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
    cg__sched_io_hyper(io, "step_size", (double)s->u.step.step_size);
    cg__sched_io_hyper(io, "gamma", s->u.step.gamma);
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
    cg__sched_io_hyper(io, "number of milestones", s->u.multistep.n);
    for (int i = 0; i < s->u.multistep.n; i++)
        cg__sched_io_hyper(io, "a milestone", (double)s->u.multistep.at[i]);
    cg__sched_io_hyper(io, "gamma", s->u.multistep.gamma);
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
    cg__sched_io_hyper(io, "gamma", s->u.exponential.gamma);
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
    cg__sched_io_hyper(io, "total_iters", (double)s->u.poly.total_iters);
    cg__sched_io_hyper(io, "power", s->u.poly.power);
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
    cg__sched_io_hyper(io, "start_factor", s->u.linear.start);
    cg__sched_io_hyper(io, "end_factor", s->u.linear.end);
    cg__sched_io_hyper(io, "total_iters", (double)s->u.linear.total_iters);
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
    cg__sched_io_hyper(io, "T_max", (double)s->u.cosine.t_max);
    cg__sched_io_hyper(io, "eta_min", s->u.cosine.eta_min);
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
    cg__sched_io_hyper(io, "T_0", (double)s->u.restarts.t_0);
    cg__sched_io_hyper(io, "T_mult", (double)s->u.restarts.t_mult);
    cg__sched_io_hyper(io, "eta_min", s->u.restarts.eta_min);
    cg__sched_io_count(io, "T_i", &s->u.restarts.t_i, 1);
    cg__sched_io_count(io, "T_cur", &s->u.restarts.t_cur, 0);
}

/* LambdaLR-style decays: base_lr * f(t), f as documented in optim.h */
static double inverse_time_apply(cg_schedule *s, double lr)
{
    (void)lr;
    return s->base_lr * (1.0 / (1.0 + s->u.inverse_time.k * (double)s->t));
}
static void inverse_time_visit(cg_schedule *s, state_io *io)
{
    cg__sched_io_hyper(io, "k", s->u.inverse_time.k);
}

static double robbins_apply(cg_schedule *s, double lr)
{
    (void)lr;
    return s->u.robbins.a / (s->u.robbins.b + (double)s->t);
}
static void robbins_visit(cg_schedule *s, state_io *io)
{
    cg__sched_io_hyper(io, "a", s->u.robbins.a);
    cg__sched_io_hyper(io, "b", s->u.robbins.b);
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
    cg__sched_io_hyper(io, "warmup_steps", (double)s->u.inverse_sqrt.w);
    cg__sched_io_hyper(io, "start_factor", s->u.inverse_sqrt.start);
}

/* SequentialLR([LinearLR ramp, inner], milestones=[steps]) */
static double warmup_apply(cg_schedule *s, double lr)
{
    int64_t w = s->u.warmup.steps;
    if (s->t == 0) /* SequentialLR resets the lr to initial_lr before the ramp's first step */
        return cg__sched_advance(s->child[0], s->base_lr);
    if (s->t < w)
        return cg__sched_advance(s->child[0], lr);
    if (s->t == w)
        return restart(s->child[1]);
    return cg__sched_advance(s->child[1], lr);
}
static void warmup_visit(cg_schedule *s, state_io *io)
{
    cg__sched_io_hyper(io, "warmup_steps", (double)s->u.warmup.steps);
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
    cg__sched_io_hyper(io, "max_lr", s->u.cyclic.max_lr);
    cg__sched_io_hyper(io, "step_size_up", (double)s->u.cyclic.o.step_size_up);
    cg__sched_io_hyper(io, "step_size_down", (double)s->u.cyclic.o.step_size_down);
    cg__sched_io_hyper(io, "mode", s->u.cyclic.o.mode);
    cg__sched_io_hyper(io, "gamma", s->u.cyclic.o.gamma);
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
    cg__sched_io_hyper(io, "total_steps", (double)s->u.onecycle.total);
    cg__sched_io_hyper(io, "max_lr", s->u.onecycle.max_lr);
    cg__sched_io_hyper(io, "pct_start", s->u.onecycle.o.pct_start);
    cg__sched_io_hyper(io, "anneal", s->u.onecycle.o.anneal);
    cg__sched_io_hyper(io, "div_factor", s->u.onecycle.o.div_factor);
    cg__sched_io_hyper(io, "final_div_factor", s->u.onecycle.o.final_div_factor);
    cg__sched_io_hyper(io, "three_phase", s->u.onecycle.o.three_phase);
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
    cg__sched_io_hyper(io, "mode", o->mode);
    cg__sched_io_hyper(io, "factor", o->factor);
    cg__sched_io_hyper(io, "patience", (double)o->patience);
    cg__sched_io_hyper(io, "threshold", o->threshold);
    cg__sched_io_hyper(io, "threshold_mode", o->threshold_mode);
    cg__sched_io_hyper(io, "cooldown", (double)o->cooldown);
    cg__sched_io_hyper(io, "min_lr", o->min_lr);
    cg__sched_io_hyper(io, "eps", o->eps);
    cg__sched_io_real(io, &s->u.plateau.best);
    cg__sched_io_count(io, "num_bad_epochs", &s->u.plateau.bad, 0);
    cg__sched_io_count(io, "cooldown_counter", &s->u.plateau.cooldown_left, 0);
}

/* ChainedScheduler: every child steps on the lr the previous one left */
static double chain_apply(cg_schedule *s, double lr)
{
    for (int i = 0; i < s->nchild; i++)
        lr = cg__sched_advance(s->child[i], lr);
    return lr;
}
static void children_reset(cg_schedule *s)
{
    for (int i = 0; i < s->nchild; i++)
        cg__sched_reset(s->child[i]);
}

/* ---- the table ---- */

const sched_ops cg__sched_kinds[K_COUNT] = {
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
