/* The optimizer configurations the optimizer suites share (test_golden_optim.c,
 * test_optim_diff.c): the table mirrors CASES in tests/golden/make_golden_optim.py (the
 * case name links the two), and optim_case_make builds the optimizer a row describes.
 * Also the test problem of the goldens:
 *   L = s (0.5 |A0 vec(p0) - b0|^2 + 0.5 |A1 p1 - b1|^2 + 0.05 (sum p0^4 + sum p1^4)). */
#ifndef CG_OPTIM_CASES_H
#define CG_OPTIM_CASES_H

#include <string.h>

#include "test_util.h"

/* One option: its name in the C options struct, and its value (booleans 0 or 1). */
typedef struct optim_kv {
    const char *key;
    double v;
} optim_kv;

typedef struct optim_case {
    const char *name;
    const char *algo; /* cg_optim_name of the optimizer */
    double sign;      /* the loss's sign: -1 for the maximize cases */
    optim_kv kv[6];
    bool groups;      /* p0 and p1 in two groups with the lr and weight_decay below (NaN:
                         the options') */
    double glr[2], gwd[2];
} optim_case;

#define G_NONE false, {NAN, NAN}, {NAN, NAN}

static const optim_case optim_cases[] = {
    {"sgd_plain", "sgd", 1, {{"lr", .05}}, G_NONE},
    {"sgd_momentum", "sgd", 1, {{"lr", .05}, {"momentum", .9}}, G_NONE},
    {"sgd_dampening", "sgd", 1, {{"lr", .05}, {"momentum", .9}, {"dampening", .3}}, G_NONE},
    {"sgd_nesterov", "sgd", 1, {{"lr", .05}, {"momentum", .9}, {"nesterov", 1}}, G_NONE},
    {"sgd_weight_decay", "sgd", 1, {{"lr", .05}, {"momentum", .5}, {"weight_decay", .1}}, G_NONE},
    {"sgd_maximize", "sgd", -1, {{"lr", .05}, {"momentum", .9}, {"maximize", 1}}, G_NONE},
    {"sgd_groups", "sgd", 1, {{"lr", .05}, {"momentum", .8}}, true, {NAN, .02}, {NAN, .1}},
    {"adam_default", "adam", 1, {{"lr", .05}}, G_NONE},
    {"adam_betas", "adam", 1, {{"lr", .05}, {"beta1", .8}, {"beta2", .99}, {"eps", 1e-6}}, G_NONE},
    {"adam_amsgrad", "adam", 1, {{"lr", .05}, {"amsgrad", 1}}, G_NONE},
    {"adam_weight_decay", "adam", 1, {{"lr", .05}, {"weight_decay", .1}}, G_NONE},
    {"adam_maximize", "adam", -1, {{"lr", .05}, {"maximize", 1}}, G_NONE},
    {"adam_groups", "adam", 1, {{"lr", .05}}, true, {.1, NAN}, {NAN, .2}},
    {"adamw_default", "adamw", 1, {{"lr", .05}}, G_NONE},
    {"adamw_weight_decay", "adamw", 1, {{"lr", .05}, {"weight_decay", .3}}, G_NONE},
    {"adamw_amsgrad", "adamw", 1, {{"lr", .05}, {"weight_decay", .1}, {"amsgrad", 1}}, G_NONE},
    {"adamw_maximize", "adamw", -1, {{"lr", .05}, {"maximize", 1}}, G_NONE},
    {"rmsprop_plain", "rmsprop", 1, {{"lr", .01}}, G_NONE},
    {"rmsprop_alpha", "rmsprop", 1, {{"lr", .01}, {"alpha", .9}, {"eps", 1e-6}}, G_NONE},
    {"rmsprop_centered", "rmsprop", 1, {{"lr", .01}, {"centered", 1}}, G_NONE},
    {"rmsprop_momentum", "rmsprop", 1, {{"lr", .01}, {"momentum", .9}}, G_NONE},
    {"rmsprop_centered_momentum", "rmsprop", 1, {{"lr", .01}, {"momentum", .5}, {"centered", 1}},
     G_NONE},
    {"rmsprop_weight_decay", "rmsprop", 1, {{"lr", .01}, {"weight_decay", .1}}, G_NONE},
    {"rmsprop_maximize", "rmsprop", -1, {{"lr", .01}, {"maximize", 1}}, G_NONE},
    {"adagrad_plain", "adagrad", 1, {{"lr", .1}}, G_NONE},
    {"adagrad_lr_decay", "adagrad", 1, {{"lr", .1}, {"lr_decay", .05}}, G_NONE},
    {"adagrad_initial_accumulator", "adagrad", 1,
     {{"lr", .1}, {"initial_accumulator_value", .5}}, G_NONE},
    {"adagrad_eps", "adagrad", 1, {{"lr", .1}, {"eps", 1e-3}}, G_NONE},
    {"adagrad_weight_decay", "adagrad", 1, {{"lr", .1}, {"weight_decay", .1}}, G_NONE},
    {"adagrad_maximize", "adagrad", -1, {{"lr", .1}, {"maximize", 1}}, G_NONE},
    {"adadelta_default", "adadelta", 1, {{NULL, 0}}, G_NONE},
    {"adadelta_rho", "adadelta", 1, {{"lr", .5}, {"rho", .5}, {"eps", 1e-4}}, G_NONE},
    {"adadelta_weight_decay", "adadelta", 1, {{"weight_decay", .1}}, G_NONE},
    {"adadelta_maximize", "adadelta", -1, {{"maximize", 1}}, G_NONE},
    {"adamax_default", "adamax", 1, {{"lr", .05}}, G_NONE},
    {"adamax_betas", "adamax", 1, {{"lr", .05}, {"beta1", .7}, {"beta2", .9}, {"eps", 1e-4}},
     G_NONE},
    {"adamax_weight_decay", "adamax", 1, {{"lr", .05}, {"weight_decay", .1}}, G_NONE},
    {"adamax_maximize", "adamax", -1, {{"lr", .05}, {"maximize", 1}}, G_NONE},
    {"nadam_default", "nadam", 1, {{"lr", .05}}, G_NONE},
    {"nadam_momentum_decay", "nadam", 1, {{"lr", .05}, {"momentum_decay", .1}}, G_NONE},
    {"nadam_betas", "nadam", 1, {{"lr", .05}, {"beta1", .8}, {"beta2", .99}}, G_NONE},
    {"nadam_weight_decay", "nadam", 1, {{"lr", .05}, {"weight_decay", .1}}, G_NONE},
    {"radam_default", "radam", 1, {{"lr", .05}}, G_NONE},
    {"radam_beta2", "radam", 1, {{"lr", .05}, {"beta1", .9}, {"beta2", .9}}, G_NONE},
    {"radam_weight_decay", "radam", 1, {{"lr", .05}, {"weight_decay", .1}}, G_NONE},
    {"rprop_default", "rprop", 1, {{NULL, 0}}, G_NONE},
    {"rprop_etas", "rprop", 1, {{"lr", .05}, {"eta_minus", .3}, {"eta_plus", 1.5}}, G_NONE},
    {"rprop_step_sizes", "rprop", 1, {{"lr", .05}, {"step_size_min", 1e-2}, {"step_size_max", .08}},
     G_NONE},
    {"rprop_maximize", "rprop", -1, {{"maximize", 1}}, G_NONE},
    {"asgd_default", "asgd", 1, {{NULL, 0}}, G_NONE},
    {"asgd_lambd_alpha", "asgd", 1, {{"lr", .02}, {"lambd", .1}, {"alpha", .5}}, G_NONE},
    {"asgd_t0", "asgd", 1, {{"lr", .02}, {"t0", 5}}, G_NONE},
    {"asgd_weight_decay", "asgd", 1, {{"lr", .02}, {"weight_decay", .1}, {"t0", 3}}, G_NONE},
    {"asgd_maximize", "asgd", -1, {{"lr", .02}, {"maximize", 1}, {"t0", 10}}, G_NONE},
};

#define OPTIM_NCASES ((int)(sizeof optim_cases / sizeof optim_cases[0]))

/* The row named name; fails the test when there is none. */
static inline const optim_case *optim_case_find(const char *name)
{
    for (int i = 0; i < OPTIM_NCASES; i++)
        if (!strcmp(optim_cases[i].name, name))
            return &optim_cases[i];
    fail_msg("no optimizer case %s", name);
    return NULL;
}

/* Field setters: each knows its algorithm's option names; false for an unknown key. */
#define OPT_FIELD(name, field)                                                              \
    if (!strcmp(key, name)) {                                                               \
        o->field = v;                                                                       \
        return true;                                                                        \
    }

static inline bool set_common(double *lr, double *wd, const char *key, double v)
{
    if (!strcmp(key, "lr"))
        *lr = v;
    else if (wd && !strcmp(key, "weight_decay"))
        *wd = v;
    else
        return false;
    return true;
}

static inline bool set_sgd(cg_sgd_options *o, const char *key, double v)
{
    if (!strcmp(key, "form")) {
        o->form = (cg_momentum_form)(int)v;
        return true;
    }
    OPT_FIELD("momentum", momentum) OPT_FIELD("dampening", dampening)
    OPT_FIELD("nesterov", nesterov) OPT_FIELD("maximize", maximize)
    return set_common(&o->lr, &o->weight_decay, key, v);
}
static inline bool set_adam(cg_adam_options *o, const char *key, double v)
{
    OPT_FIELD("beta1", beta1) OPT_FIELD("beta2", beta2) OPT_FIELD("eps", eps)
    OPT_FIELD("amsgrad", amsgrad) OPT_FIELD("maximize", maximize)
    return set_common(&o->lr, &o->weight_decay, key, v);
}
static inline bool set_rmsprop(cg_rmsprop_options *o, const char *key, double v)
{
    OPT_FIELD("alpha", alpha) OPT_FIELD("eps", eps) OPT_FIELD("momentum", momentum)
    OPT_FIELD("centered", centered) OPT_FIELD("maximize", maximize)
    return set_common(&o->lr, &o->weight_decay, key, v);
}
static inline bool set_adagrad(cg_adagrad_options *o, const char *key, double v)
{
    OPT_FIELD("lr_decay", lr_decay) OPT_FIELD("eps", eps) OPT_FIELD("maximize", maximize)
    OPT_FIELD("initial_accumulator_value", initial_accumulator_value)
    return set_common(&o->lr, &o->weight_decay, key, v);
}
static inline bool set_adadelta(cg_adadelta_options *o, const char *key, double v)
{
    OPT_FIELD("rho", rho) OPT_FIELD("eps", eps) OPT_FIELD("maximize", maximize)
    return set_common(&o->lr, &o->weight_decay, key, v);
}
static inline bool set_adamax(cg_adamax_options *o, const char *key, double v)
{
    OPT_FIELD("beta1", beta1) OPT_FIELD("beta2", beta2) OPT_FIELD("eps", eps)
    OPT_FIELD("maximize", maximize)
    return set_common(&o->lr, &o->weight_decay, key, v);
}
static inline bool set_nadam(cg_nadam_options *o, const char *key, double v)
{
    OPT_FIELD("beta1", beta1) OPT_FIELD("beta2", beta2) OPT_FIELD("eps", eps)
    OPT_FIELD("momentum_decay", momentum_decay)
    return set_common(&o->lr, &o->weight_decay, key, v);
}
static inline bool set_radam(cg_radam_options *o, const char *key, double v)
{
    OPT_FIELD("beta1", beta1) OPT_FIELD("beta2", beta2) OPT_FIELD("eps", eps)
    return set_common(&o->lr, &o->weight_decay, key, v);
}
static inline bool set_rprop(cg_rprop_options *o, const char *key, double v)
{
    OPT_FIELD("eta_minus", eta_minus) OPT_FIELD("eta_plus", eta_plus)
    OPT_FIELD("step_size_min", step_size_min) OPT_FIELD("step_size_max", step_size_max)
    OPT_FIELD("maximize", maximize)
    return set_common(&o->lr, NULL, key, v);
}
static inline bool set_asgd(cg_asgd_options *o, const char *key, double v)
{
    OPT_FIELD("lambd", lambd) OPT_FIELD("alpha", alpha) OPT_FIELD("t0", t0)
    OPT_FIELD("maximize", maximize)
    return set_common(&o->lr, &o->weight_decay, key, v);
}
static inline bool set_noisy(cg_noisy_gd_options *o, const char *key, double v)
{
    OPT_FIELD("sigma", sigma) OPT_FIELD("gamma", gamma) OPT_FIELD("seed", seed)
    return set_common(&o->lr, &o->weight_decay, key, v);
}
static inline bool set_lbfgs(cg_lbfgs_options *o, const char *key, double v)
{
    OPT_FIELD("max_iter", max_iter) OPT_FIELD("history_size", history_size)
    OPT_FIELD("tolerance_grad", tolerance_grad) OPT_FIELD("tolerance_change", tolerance_change)
    return set_common(&o->lr, NULL, key, v);
}
#undef OPT_FIELD

/* Options with the row's keys applied over the defaults; fails the test on a bad key. */
#define APPLY_KV(c, setter, opts)                                                           \
    do {                                                                                    \
        for (int k_ = 0; k_ < 6 && (c)->kv[k_].key; k_++)                                   \
            if (!setter(&(opts), (c)->kv[k_].key, (c)->kv[k_].v))                          \
                fail_msg("case %s: unknown option %s", (c)->name, (c)->kv[k_].key);         \
    } while (0)

/* The optimizer of row c over params[0..n) (n == 2 for the grouped rows: one group each).
 * extra (may be NULL) overrides one more option, e.g. {"lr", 0.1}. */
static inline cg_optimizer *optim_case_make_kv(const optim_case *c, cg_tensor *const *params,
                                               int n, const optim_kv *extra)
{
    cg_param_group g[2] = {{params, 1, c->glr[0], c->gwd[0]},
                           {params + 1, 1, c->glr[1], c->gwd[1]}};
    const cg_param_group *groups = g;
    int ng = 2;
    cg_param_group one = {params, n, NAN, NAN};
    if (!c->groups) {
        groups = &one;
        ng = 1;
    }
#define MAKE(algo_name, type, defaults, setter, ctor)                                       \
    if (!strcmp(c->algo, algo_name)) {                                                           \
        type o = defaults();                                                                \
        APPLY_KV(c, setter, o);                                                             \
        if (extra && !setter(&o, extra->key, extra->v))                                     \
            fail_msg("case %s: unknown option %s", c->name, extra->key);                    \
        return ctor(groups, ng, &o);                                                        \
    }
    MAKE("sgd", cg_sgd_options, cg_sgd_defaults, set_sgd, cg_optim_sgd_new_groups)
    MAKE("adam", cg_adam_options, cg_adam_defaults, set_adam, cg_optim_adam_new_groups)
    MAKE("adamw", cg_adam_options, cg_adamw_defaults, set_adam, cg_optim_adamw_new_groups)
    MAKE("rmsprop", cg_rmsprop_options, cg_rmsprop_defaults, set_rmsprop,
         cg_optim_rmsprop_new_groups)
    MAKE("adagrad", cg_adagrad_options, cg_adagrad_defaults, set_adagrad,
         cg_optim_adagrad_new_groups)
    MAKE("adadelta", cg_adadelta_options, cg_adadelta_defaults, set_adadelta,
         cg_optim_adadelta_new_groups)
    MAKE("adamax", cg_adamax_options, cg_adamax_defaults, set_adamax, cg_optim_adamax_new_groups)
    MAKE("nadam", cg_nadam_options, cg_nadam_defaults, set_nadam, cg_optim_nadam_new_groups)
    MAKE("radam", cg_radam_options, cg_radam_defaults, set_radam, cg_optim_radam_new_groups)
    MAKE("rprop", cg_rprop_options, cg_rprop_defaults, set_rprop, cg_optim_rprop_new_groups)
    MAKE("asgd", cg_asgd_options, cg_asgd_defaults, set_asgd, cg_optim_asgd_new_groups)
    MAKE("noisy_gd", cg_noisy_gd_options, cg_noisy_gd_defaults, set_noisy,
         cg_optim_noisy_gd_new_groups)
    if (!strcmp(c->algo, "lbfgs")) { /* one group only */
        cg_lbfgs_options o = cg_lbfgs_defaults();
        APPLY_KV(c, set_lbfgs, o);
        if (extra && !set_lbfgs(&o, extra->key, extra->v))
            fail_msg("case %s: unknown option %s", c->name, extra->key);
        return cg_optim_lbfgs_new(params, n, &o);
    }
    if (!strcmp(c->algo, "gd")) {
        double lr = c->kv[0].key && !strcmp(c->kv[0].key, "lr") ? c->kv[0].v : NAN;
        return cg_optim_gd_new(params, n, extra && !strcmp(extra->key, "lr") ? extra->v : lr);
    }
#undef MAKE
    fail_msg("case %s: unknown algorithm %s", c->name, c->algo);
    return NULL;
}

static inline cg_optimizer *optim_case_make(const optim_case *c, cg_tensor *const *params, int n)
{
    return optim_case_make_kv(c, params, n, NULL);
}

/* The golden problem's data: A0 [5, 6], b0 [5], A1 [3, 4], b1 [3]. */
typedef struct optim_problem {
    cg_tensor *a0, *b0, *a1, *b1;
} optim_problem;

/* Random data of the golden problem's shapes (dtype dt, fixed seed), with initial
 * parameters p0 [2, 3] and p1 [4] (caller-owned; free them and optim_problem_free). */
static inline void optim_problem_random(optim_problem *pr, cg_tensor **p0, cg_tensor **p1,
                                        cg_dtype dt)
{
    cg_rng rng = cg_rng_init(11);
    int64_t s_a0[2] = {5, 6}, s_b0 = 5, s_a1[2] = {3, 4}, s_b1 = 3, s_p0[2] = {2, 3}, s_p1 = 4;
    pr->a0 = cg_tensor_normal(&rng, dt, 2, s_a0, 0, 1);
    pr->b0 = cg_tensor_normal(&rng, dt, 1, &s_b0, 0, 1);
    pr->a1 = cg_tensor_normal(&rng, dt, 2, s_a1, 0, 1);
    pr->b1 = cg_tensor_normal(&rng, dt, 1, &s_b1, 0, 1);
    *p0 = cg_tensor_normal(&rng, dt, 2, s_p0, 0, 1);
    *p1 = cg_tensor_normal(&rng, dt, 1, &s_p1, 0, 1);
}

static inline void optim_problem_free(optim_problem *pr)
{
    cg_tensor_free(pr->a0);
    cg_tensor_free(pr->b0);
    cg_tensor_free(pr->a1);
    cg_tensor_free(pr->b1);
}

/* The loss at (p0, p1) on the active tape. */
static inline cg_tensor *optim_problem_loss(const optim_problem *pr, cg_tensor *p0,
                                            cg_tensor *p1, double sign)
{
    int64_t six = 6;
    cg_tensor *r0 = cg_sub(cg_matmul(pr->a0, cg_reshape(p0, 1, &six)), pr->b0);
    cg_tensor *r1 = cg_sub(cg_matmul(pr->a1, p1), pr->b1);
    cg_tensor *sq = cg_add(cg_mul_scalar(cg_sum(cg_mul(r0, r0), NULL, 0, false), 0.5),
                           cg_mul_scalar(cg_sum(cg_mul(r1, r1), NULL, 0, false), 0.5));
    cg_tensor *quartic = cg_add(cg_sum(cg_pow_scalar(p0, 4), NULL, 0, false),
                                cg_sum(cg_pow_scalar(p1, 4), NULL, 0, false));
    return cg_mul_scalar(cg_add(sq, cg_mul_scalar(quartic, 0.05)), sign);
}

#endif
