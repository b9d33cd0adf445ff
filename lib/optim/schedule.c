/*
 * Learning-rate schedules: construction (with validation of every argument), stepping and
 * reading. schedule_kinds.c holds how each kind reproduces the lr sequence of its PyTorch
 * class, schedule_state.c saving and loading; schedule_impl.h describes the object.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core.h"
#include "schedule_impl.h"

/* Python rounds every operation; clang would fuse a*b+c into one fma (GCC does not in ISO
 * C mode) and drift from PyTorch's values by an ulp. This file computes some of them too:
 * a one-cycle's phase boundaries, a plateau's reduced lr. */
#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

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
    cg__sched_reset(s);
    s->lr = cg__sched_advance(s, s->base_lr);
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
    return valid(cg__sched_kinds[inner->kind].restartable,
                 "%s: a %s schedule cannot follow a warmup (put the warmup inside a chain instead)",
                 who, cg__sched_kinds[inner->kind].name) &&
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

const char *cg_schedule_name(const cg_schedule *s)
{
    return s ? cg__sched_kinds[s->kind].name : "";
}

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
    s->lr = cg__sched_advance(s, s->lr);
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
                                       "(use cg_schedule_step)", cg__sched_kinds[s->kind].name);
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
