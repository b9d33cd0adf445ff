/*
 * The Adam family: Adam (with AMSGrad), AdamW (decoupled weight decay), Adamax (infinity
 * norm), NAdam (Nesterov momentum, PyTorch 1.13's schedule) and RAdam (rectified), each as
 * torch.optim's single-tensor implementation orders its operations. They share the
 * hyperparameters lr, beta1, beta2, eps, weight_decay (NAdam adds momentum_decay) and the
 * first two slots after "step": exp_avg and a second moment.
 */
#include "optimizer_impl.h"

enum { LR, BETA1, BETA2, EPS, WD, MOMENTUM_DECAY };

static const cg__hyper_def adam_hypers[] = {
    {"lr", CG__H_NONNEG}, {"beta1", CG__H_BETA},           {"beta2", CG__H_BETA},
    {"eps", CG__H_NONNEG}, {"weight_decay", CG__H_NONNEG}, {NULL, CG__H_FINITE},
};
static const cg__hyper_def nadam_hypers[] = {
    {"lr", CG__H_NONNEG},           {"beta1", CG__H_BETA},
    {"beta2", CG__H_BETA},          {"eps", CG__H_NONNEG},
    {"weight_decay", CG__H_NONNEG}, {"momentum_decay", CG__H_NONNEG},
    {NULL, CG__H_FINITE},
};

/* A step's count after the increment. */
static double next_step(cg__opt_param *pp)
{
    double step = cg__sv(pp->slot[CG__SLOT_STEP]) + 1;
    cg__sv_set(pp->slot[CG__SLOT_STEP], step);
    return step;
}

/* max as torch.maximum: NaN wins. */
static inline double nan_max(double a, double b) { return a < b || isnan(b) ? b : a; }
static inline float nan_maxf(float a, float b) { return a < b || isnan(b) ? b : a; }

/* ================= Adam and AdamW ================= */

enum { EXP_AVG = 1, EXP_AVG_SQ = 2, MAX_EXP_AVG_SQ = 3 };

cg_adam_options cg_adam_defaults(void)
{
    cg_adam_options o = {0.001, 0.9, 0.999, 1e-8, 0.0, false, false};
    return o;
}

cg_adam_options cg_adamw_defaults(void)
{
    cg_adam_options o = cg_adam_defaults();
    o.weight_decay = 0.01;
    return o;
}

static cg_status adam_setup(cg_optimizer *opt)
{
    cg__opt_slot(opt, "exp_avg", true, 0.0);
    cg__opt_slot(opt, "exp_avg_sq", true, 0.0);
    if (opt->o.adam.amsgrad)
        cg__opt_slot(opt, "max_exp_avg_sq", true, 0.0);
    return CG_OK;
}

typedef struct adam_coef {
    double b1, b2, eps, wd, decay, step_size, bc2_sqrt;
    bool amsgrad, maximize, decoupled;
} adam_coef;

/* How weight decay enters: not at all, as L2 (d += wd p) or decoupled (p *= 1 - lr wd). */
typedef enum { WD_NONE, WD_L2, WD_DECOUPLED } wd_mode;

static wd_mode adam_wd_mode(const adam_coef *c)
{
    return c->decoupled ? WD_DECOUPLED : c->wd != 0 ? WD_L2 : WD_NONE;
}

/* The f64 update, each flag a constant where the caller passes one. */
CG__OPT_INLINE void adam_f64_loop(const adam_coef *c, int64_t n, double *restrict p,
                                  const double *restrict g, double *restrict m,
                                  double *restrict v, double *restrict vmax, bool maximize,
                                  wd_mode wdm, bool amsgrad)
{
    const double b1 = c->b1, b2 = c->b2, wd = c->wd, decay = c->decay, eps = c->eps;
    const double bc2_sqrt = c->bc2_sqrt, neg_step = -c->step_size;
    for (int64_t k = 0; k < n; k++) {
        double d = maximize ? -g[k] : g[k], pk = p[k];
        if (wdm == WD_DECOUPLED)
            pk = pk * decay;
        else if (wdm == WD_L2)
            d = d + wd * pk;
        double mk = m[k] * b1 + (1 - b1) * d;
        double vk = v[k] * b2 + (1 - b2) * (d * d);
        m[k] = mk;
        v[k] = vk;
        if (amsgrad)
            vk = vmax[k] = nan_max(vmax[k], vk);
        double denom = sqrt(vk) / bc2_sqrt + eps;
        p[k] = pk + neg_step * mk / denom;
    }
}

/* The common cases (no maximize) get a loop each, amsgrad and the weight decay constant. */
CG__OPT_INLINE void adam_f64_wd(const adam_coef *c, int64_t n, double *p, const double *g,
                                double *const *b, bool amsgrad)
{
    double *vmax = amsgrad ? b[2] : NULL;
    switch (adam_wd_mode(c)) {
    case WD_NONE: adam_f64_loop(c, n, p, g, b[0], b[1], vmax, false, WD_NONE, amsgrad); break;
    case WD_L2: adam_f64_loop(c, n, p, g, b[0], b[1], vmax, false, WD_L2, amsgrad); break;
    case WD_DECOUPLED:
        adam_f64_loop(c, n, p, g, b[0], b[1], vmax, false, WD_DECOUPLED, amsgrad);
        break;
    }
}

static void adam_f64(const void *cv, int64_t i0, int64_t n, double *p, const double *g,
                     double *const *b)
{
    const adam_coef *c = cv;
    if (c->maximize)
        adam_f64_loop(c, n, p, g, b[0], b[1], c->amsgrad ? b[2] : NULL, true, adam_wd_mode(c),
                      c->amsgrad);
    else if (c->amsgrad)
        adam_f64_wd(c, n, p, g, b, true);
    else
        adam_f64_wd(c, n, p, g, b, false);
}

/*
 * The f32 update in float, as PyTorch 1.13's _single_tensor_adam(w) runs on a CPU: each
 * scalar rounded to float; grad.add(param, alpha=wd), exp_avg.add_(grad, alpha=1 - b1) and
 * addcmul_ (fma(value t1, t2, self)) are fused multiply-adds in its vector kernels and in
 * their scalar tails alike; the division by sqrt(bias_correction2) is a division, and
 * addcdiv_ is self + (value t1) / t2. Checked element by element against torch.
 */
CG__OPT_INLINE void adam_f32_loop(const adam_coef *c, int64_t n, float *restrict p,
                                  const float *restrict g, float *restrict m,
                                  float *restrict v, float *restrict vmax, bool maximize,
                                  wd_mode wdm, bool amsgrad)
{
    const float b1 = (float)c->b1, b2 = (float)c->b2, one_b1 = (float)(1 - c->b1);
    const float one_b2 = (float)(1 - c->b2), wd = (float)c->wd, decay = (float)c->decay;
    const float eps = (float)c->eps, bc2_sqrt = (float)c->bc2_sqrt;
    const float neg_step = (float)-c->step_size;
    for (int64_t k = 0; k < n; k++) {
        float d = maximize ? -g[k] : g[k], pk = p[k];
        if (wdm == WD_DECOUPLED)
            pk = pk * decay;
        else if (wdm == WD_L2)
            d = fmaf(pk, wd, d);
        float mk = fmaf(d, one_b1, m[k] * b1);
        float vk = fmaf(one_b2 * d, d, v[k] * b2);
        m[k] = mk;
        v[k] = vk;
        if (amsgrad)
            vk = vmax[k] = nan_maxf(vmax[k], vk);
        float denom = sqrtf(vk) / bc2_sqrt + eps;
        p[k] = pk + neg_step * mk / denom;
    }
}

/* The common cases (no maximize) get a loop each, amsgrad and the weight decay constant. */
CG__OPT_INLINE void adam_f32_wd(const adam_coef *c, int64_t n, float *p, const float *g,
                                float *const *b, bool amsgrad)
{
    float *vmax = amsgrad ? b[2] : NULL;
    switch (adam_wd_mode(c)) {
    case WD_NONE: adam_f32_loop(c, n, p, g, b[0], b[1], vmax, false, WD_NONE, amsgrad); break;
    case WD_L2: adam_f32_loop(c, n, p, g, b[0], b[1], vmax, false, WD_L2, amsgrad); break;
    case WD_DECOUPLED:
        adam_f32_loop(c, n, p, g, b[0], b[1], vmax, false, WD_DECOUPLED, amsgrad);
        break;
    }
}

static void adam_f32(const void *cv, int64_t i0, int64_t n, float *p, const float *g,
                     float *const *b)
{
    const adam_coef *c = cv;
    if (c->maximize)
        adam_f32_loop(c, n, p, g, b[0], b[1], c->amsgrad ? b[2] : NULL, true, adam_wd_mode(c),
                      c->amsgrad);
    else if (c->amsgrad)
        adam_f32_wd(c, n, p, g, b, true);
    else
        adam_f32_wd(c, n, p, g, b, false);
}

static cg_status adam_fused(cg_optimizer *opt, cg__opt_param *pp, const cg_tensor *grad)
{
    int gi = pp->group;
    double step = next_step(pp), lr = cg__hv(opt, gi, LR), wd = cg__hv(opt, gi, WD);
    double b1 = cg__hv(opt, gi, BETA1), b2 = cg__hv(opt, gi, BETA2);
    adam_coef c = {b1, b2, cg__hv(opt, gi, EPS), wd, 1 - lr * wd, lr / (1 - pow(b1, step)),
                   sqrt(1 - pow(b2, step)), opt->o.adam.amsgrad, opt->o.adam.maximize,
                   opt->algo == &cg__algo_adamw};
    static const int bufs[] = {EXP_AVG, EXP_AVG_SQ, MAX_EXP_AVG_SQ};
    static const cg__opt_kernels kernels = {adam_f64, adam_f32};
    cg__opt_apply(pp, grad, bufs, c.amsgrad ? 3 : 2, kernels, &c, 12);
    return CG_OK;
}

/* 1 - beta^t, the bias correction. */
static cg_tensor *bias_correction(cg_tensor *beta, double t)
{
    return cg__rule_one_minus(cg_pow_scalar(beta, t));
}

static cg_status adam_rule(cg__rule *r)
{
    bool decoupled = r->opt->algo == &cg__algo_adamw;
    cg_tensor *d = cg__rule_grad(r, r->opt->o.adam.maximize, !decoupled);
    cg_tensor *lr = cg__rule_hyper(r, LR), *b1 = cg__rule_hyper(r, BETA1);
    cg_tensor *b2 = cg__rule_hyper(r, BETA2), *p = r->p;
    if (decoupled && cg__rule_active(r, WD))
        p = cg_mul(p, cg__rule_one_minus(cg_mul(lr, cg__rule_hyper(r, WD))));
    cg_tensor *m = r->s[EXP_AVG] = cg__rule_lerp(r->s[EXP_AVG], b1, d);
    cg_tensor *v = r->s[EXP_AVG_SQ] = cg__rule_lerp(r->s[EXP_AVG_SQ], b2, cg_mul(d, d));
    if (r->opt->o.adam.amsgrad)
        v = r->s[MAX_EXP_AVG_SQ] = cg_maximum(r->s[MAX_EXP_AVG_SQ], v);
    cg_tensor *step_size = cg_div(lr, bias_correction(b1, r->step));
    cg_tensor *denom = cg_add(cg_div(cg_sqrt(v), cg_sqrt(bias_correction(b2, r->step))),
                              cg__rule_hyper(r, EPS));
    r->out = cg_add(p, cg_div(cg_mul(m, cg_neg(step_size)), denom));
    return CG_OK;
}

const cg__opt_algo cg__algo_adam = {
    .name = "adam", .hypers = adam_hypers, .wd = WD, .setup = adam_setup, .fused = adam_fused,
    .rule = adam_rule,
};
const cg__opt_algo cg__algo_adamw = {
    .name = "adamw", .hypers = adam_hypers, .wd = WD, .setup = adam_setup, .fused = adam_fused,
    .rule = adam_rule,
};

static cg_optimizer *adam_make(const cg__opt_algo *algo, const cg_param_group *groups,
                               int ngroups, const cg_adam_options *options, const char *who)
{
    cg_adam_options o = algo == &cg__algo_adamw ? cg_adamw_defaults() : cg_adam_defaults();
    if (options)
        o = *options;
    double h[] = {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay};
    return cg__opt_new(algo, who, groups, ngroups, h, &o, sizeof o);
}

cg_optimizer *cg_optim_adam_new_groups(const cg_param_group *groups, int ngroups,
                                       const cg_adam_options *options)
{
    return adam_make(&cg__algo_adam, groups, ngroups, options, "cg_optim_adam_new_groups");
}

cg_optimizer *cg_optim_adam_new(cg_tensor *const *params, int n, const cg_adam_options *options)
{
    cg_param_group g = cg__opt_one_group(params, n);
    return adam_make(&cg__algo_adam, &g, 1, options, "cg_optim_adam_new");
}

cg_optimizer *cg_optim_adamw_new_groups(const cg_param_group *groups, int ngroups,
                                        const cg_adam_options *options)
{
    return adam_make(&cg__algo_adamw, groups, ngroups, options, "cg_optim_adamw_new_groups");
}

cg_optimizer *cg_optim_adamw_new(cg_tensor *const *params, int n, const cg_adam_options *options)
{
    cg_param_group g = cg__opt_one_group(params, n);
    return adam_make(&cg__algo_adamw, &g, 1, options, "cg_optim_adamw_new");
}

/* ================= Adamax ================= */

enum { EXP_INF = 2 };

cg_adamax_options cg_adamax_defaults(void)
{
    cg_adamax_options o = {0.002, 0.9, 0.999, 1e-8, 0.0, false};
    return o;
}

static cg_status adamax_setup(cg_optimizer *opt)
{
    cg__opt_slot(opt, "exp_avg", true, 0.0);
    cg__opt_slot(opt, "exp_inf", true, 0.0);
    return CG_OK;
}

typedef struct adamax_coef {
    double b1, b2, eps, wd, clr;
    bool maximize;
} adamax_coef;

/* u = max(beta2 u, |d| + eps); p += -clr m / u */
static void adamax_kernel(const void *cv, int64_t i0, int64_t n, double *p, const double *g,
                          double *const *b)
{
    const adamax_coef *c = cv;
    double *m = b[0], *u = b[1];
    for (int64_t k = 0; k < n; k++) {
        double d = c->maximize ? -g[k] : g[k];
        if (c->wd != 0)
            d = d + c->wd * p[k];
        m[k] = m[k] * c->b1 + (1 - c->b1) * d;
        u[k] = nan_max(u[k] * c->b2, fabs(d) + c->eps);
        p[k] = p[k] + -c->clr * m[k] / u[k];
    }
}

static cg_status adamax_fused(cg_optimizer *opt, cg__opt_param *pp, const cg_tensor *grad)
{
    int gi = pp->group;
    double step = next_step(pp), b1 = cg__hv(opt, gi, BETA1);
    adamax_coef c = {b1, cg__hv(opt, gi, BETA2), cg__hv(opt, gi, EPS), cg__hv(opt, gi, WD),
                     cg__hv(opt, gi, LR) / (1 - pow(b1, step)), opt->o.adamax.maximize};
    static const int bufs[] = {EXP_AVG, EXP_INF};
    cg__opt_apply(pp, grad, bufs, 2, (cg__opt_kernels){adamax_kernel, NULL}, &c, 8);
    return CG_OK;
}

static cg_status adamax_rule(cg__rule *r)
{
    cg_tensor *d = cg__rule_grad(r, r->opt->o.adamax.maximize, true);
    cg_tensor *b1 = cg__rule_hyper(r, BETA1);
    cg_tensor *m = r->s[EXP_AVG] = cg__rule_lerp(r->s[EXP_AVG], b1, d);
    cg_tensor *u = r->s[EXP_INF] = cg_maximum(cg_mul(r->s[EXP_INF], cg__rule_hyper(r, BETA2)),
                                              cg_add(cg_abs(d), cg__rule_hyper(r, EPS)));
    cg_tensor *clr = cg_div(cg__rule_hyper(r, LR), bias_correction(b1, r->step));
    r->out = cg_add(r->p, cg_div(cg_mul(m, cg_neg(clr)), u));
    return CG_OK;
}

const cg__opt_algo cg__algo_adamax = {
    .name = "adamax", .hypers = adam_hypers, .wd = WD, .setup = adamax_setup,
    .fused = adamax_fused, .rule = adamax_rule,
};

static cg_optimizer *adamax_make(const cg_param_group *groups, int ngroups,
                                 const cg_adamax_options *options, const char *who)
{
    cg_adamax_options o = options ? *options : cg_adamax_defaults();
    double h[] = {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay};
    return cg__opt_new(&cg__algo_adamax, who, groups, ngroups, h, &o, sizeof o);
}

cg_optimizer *cg_optim_adamax_new_groups(const cg_param_group *groups, int ngroups,
                                         const cg_adamax_options *options)
{
    return adamax_make(groups, ngroups, options, "cg_optim_adamax_new_groups");
}

cg_optimizer *cg_optim_adamax_new(cg_tensor *const *params, int n,
                                  const cg_adamax_options *options)
{
    cg_param_group g = cg__opt_one_group(params, n);
    return adamax_make(&g, 1, options, "cg_optim_adamax_new");
}

/* ================= NAdam ================= */

enum { MU_PRODUCT = 1, N_EXP_AVG = 2, N_EXP_AVG_SQ = 3 };

cg_nadam_options cg_nadam_defaults(void)
{
    cg_nadam_options o = {0.002, 0.9, 0.999, 1e-8, 0.0, 0.004};
    return o;
}

static cg_status nadam_setup(cg_optimizer *opt)
{
    cg__opt_slot(opt, "mu_product", false, 1.0);
    cg__opt_slot(opt, "exp_avg", true, 0.0);
    cg__opt_slot(opt, "exp_avg_sq", true, 0.0);
    return CG_OK;
}

typedef struct nadam_coef {
    double b1, b2, eps, wd, bc2, c_grad, c_avg;
} nadam_coef;

/* p += c_grad d / denom + c_avg m / denom, denom = sqrt(v / bc2) + eps */
static void nadam_kernel(const void *cv, int64_t i0, int64_t n, double *p, const double *g,
                         double *const *b)
{
    const nadam_coef *c = cv;
    double *m = b[0], *v = b[1];
    for (int64_t k = 0; k < n; k++) {
        double d = c->wd != 0 ? g[k] + c->wd * p[k] : g[k];
        m[k] = m[k] * c->b1 + (1 - c->b1) * d;
        v[k] = v[k] * c->b2 + (1 - c->b2) * (d * d);
        double denom = sqrt(v[k] / c->bc2) + c->eps;
        p[k] = p[k] + c->c_grad * d / denom;
        p[k] = p[k] + c->c_avg * m[k] / denom;
    }
}

/* mu_t = beta1 (1 - 0.96^(t momentum_decay) / 2) */
static double nadam_mu(double b1, double t, double md)
{
    return b1 * (1. - 0.5 * pow(0.96, t * md));
}

static cg_status nadam_fused(cg_optimizer *opt, cg__opt_param *pp, const cg_tensor *grad)
{
    int gi = pp->group;
    double step = next_step(pp), lr = cg__hv(opt, gi, LR), b1 = cg__hv(opt, gi, BETA1);
    double b2 = cg__hv(opt, gi, BETA2), md = cg__hv(opt, gi, MOMENTUM_DECAY);
    double mu = nadam_mu(b1, step, md), mu_next = nadam_mu(b1, step + 1, md);
    double prod = cg__sv(pp->slot[MU_PRODUCT]) * mu;
    cg__sv_set(pp->slot[MU_PRODUCT], prod);
    double prod_next = prod * mu * mu_next; /* PyTorch 1.13's: mu counted twice */
    nadam_coef c = {b1, b2, cg__hv(opt, gi, EPS), cg__hv(opt, gi, WD), 1 - pow(b2, step),
                    -lr * (1. - mu) / (1. - prod), -lr * mu_next / (1. - prod_next)};
    static const int bufs[] = {N_EXP_AVG, N_EXP_AVG_SQ};
    cg__opt_apply(pp, grad, bufs, 2, (cg__opt_kernels){nadam_kernel, NULL}, &c, 12);
    return CG_OK;
}

static cg_tensor *nadam_mu_t(const cg__rule *r, cg_tensor *b1, cg_tensor *md, double t)
{
    cg_tensor *decay = cg_pow(cg__rule_const(r, 0.96), cg_mul_scalar(md, t));
    return cg_mul(b1, cg_add_scalar(cg_mul_scalar(decay, -0.5), 1.));
}

static cg_status nadam_rule(cg__rule *r)
{
    cg_tensor *d = cg__rule_grad(r, false, true), *neg_lr = cg_neg(cg__rule_hyper(r, LR));
    cg_tensor *b1 = cg__rule_hyper(r, BETA1), *b2 = cg__rule_hyper(r, BETA2);
    cg_tensor *md = cg__rule_hyper(r, MOMENTUM_DECAY);
    cg_tensor *mu = nadam_mu_t(r, b1, md, r->step), *mu_next = nadam_mu_t(r, b1, md, r->step + 1);
    cg_tensor *prod = r->s[MU_PRODUCT] = cg_mul(r->s[MU_PRODUCT], mu);
    cg_tensor *prod_next = cg_mul(cg_mul(prod, mu), mu_next);
    cg_tensor *m = r->s[N_EXP_AVG] = cg__rule_lerp(r->s[N_EXP_AVG], b1, d);
    cg_tensor *v = r->s[N_EXP_AVG_SQ] = cg__rule_lerp(r->s[N_EXP_AVG_SQ], b2, cg_mul(d, d));
    cg_tensor *denom = cg_add(cg_sqrt(cg_div(v, bias_correction(b2, r->step))),
                              cg__rule_hyper(r, EPS));
    cg_tensor *c_grad = cg_div(cg_mul(neg_lr, cg__rule_one_minus(mu)), cg__rule_one_minus(prod));
    cg_tensor *c_avg = cg_div(cg_mul(neg_lr, mu_next), cg__rule_one_minus(prod_next));
    cg_tensor *p = cg_add(r->p, cg_div(cg_mul(d, c_grad), denom));
    r->out = cg_add(p, cg_div(cg_mul(m, c_avg), denom));
    return CG_OK;
}

const cg__opt_algo cg__algo_nadam = {
    .name = "nadam", .hypers = nadam_hypers, .wd = WD, .setup = nadam_setup,
    .fused = nadam_fused, .rule = nadam_rule,
};

static cg_optimizer *nadam_make(const cg_param_group *groups, int ngroups,
                                const cg_nadam_options *options, const char *who)
{
    cg_nadam_options o = options ? *options : cg_nadam_defaults();
    double h[] = {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay, o.momentum_decay};
    return cg__opt_new(&cg__algo_nadam, who, groups, ngroups, h, &o, sizeof o);
}

cg_optimizer *cg_optim_nadam_new_groups(const cg_param_group *groups, int ngroups,
                                        const cg_nadam_options *options)
{
    return nadam_make(groups, ngroups, options, "cg_optim_nadam_new_groups");
}

cg_optimizer *cg_optim_nadam_new(cg_tensor *const *params, int n, const cg_nadam_options *options)
{
    cg_param_group g = cg__opt_one_group(params, n);
    return nadam_make(&g, 1, options, "cg_optim_nadam_new");
}

/* ================= RAdam ================= */

cg_radam_options cg_radam_defaults(void)
{
    cg_radam_options o = {0.001, 0.9, 0.999, 1e-8, 0.0};
    return o;
}

static cg_status radam_setup(cg_optimizer *opt)
{
    cg__opt_slot(opt, "exp_avg", true, 0.0);
    cg__opt_slot(opt, "exp_avg_sq", true, 0.0);
    return CG_OK;
}

typedef struct radam_coef {
    double lr, b1, b2, eps, wd, bc1, bc2_sqrt, rect;
    bool rectify;
} radam_coef;

static void radam_kernel(const void *cv, int64_t i0, int64_t n, double *p, const double *g,
                         double *const *b)
{
    const radam_coef *c = cv;
    double *m = b[0], *v = b[1];
    for (int64_t k = 0; k < n; k++) {
        double d = c->wd != 0 ? g[k] + c->wd * p[k] : g[k];
        m[k] = m[k] * c->b1 + (1 - c->b1) * d;
        v[k] = v[k] * c->b2 + (1 - c->b2) * (d * d);
        double bcm = m[k] / c->bc1;
        if (c->rectify)
            p[k] = p[k] - bcm * c->lr * (c->bc2_sqrt / (sqrt(v[k]) + c->eps)) * c->rect;
        else
            p[k] = p[k] - bcm * c->lr;
    }
}

/* The length of the approximated SMA, rho_t, and the rectifier r_t when rho_t > 5. */
static double radam_rho(double b2, double step, double *rho_inf)
{
    *rho_inf = 2 / (1 - b2) - 1;
    return *rho_inf - 2 * step * pow(b2, step) / (1 - pow(b2, step));
}

static cg_status radam_fused(cg_optimizer *opt, cg__opt_param *pp, const cg_tensor *grad)
{
    int gi = pp->group;
    double step = next_step(pp), b1 = cg__hv(opt, gi, BETA1), b2 = cg__hv(opt, gi, BETA2);
    double rho_inf, rho_t = radam_rho(b2, step, &rho_inf);
    radam_coef c = {cg__hv(opt, gi, LR), b1, b2, cg__hv(opt, gi, EPS), cg__hv(opt, gi, WD),
                    1 - pow(b1, step), sqrt(1 - pow(b2, step)), 0, rho_t > 5.};
    if (c.rectify)
        c.rect = sqrt((rho_t - 4) * (rho_t - 2) * rho_inf /
                      ((rho_inf - 4) * (rho_inf - 2) * rho_t));
    static const int bufs[] = {EXP_AVG, EXP_AVG_SQ};
    cg__opt_apply(pp, grad, bufs, 2, (cg__opt_kernels){radam_kernel, NULL}, &c, 12);
    return CG_OK;
}

/* rho_t - a and rho_inf - a as tensors */
static cg_tensor *minus(cg_tensor *x, double a) { return cg_add_scalar(x, -a); }

static cg_tensor *radam_rect(cg_tensor *rho_t, cg_tensor *rho_inf)
{
    cg_tensor *num = cg_mul(cg_mul(minus(rho_t, 4), minus(rho_t, 2)), rho_inf);
    cg_tensor *den = cg_mul(cg_mul(minus(rho_inf, 4), minus(rho_inf, 2)), rho_t);
    return cg_sqrt(cg_div(num, den));
}

static cg_status radam_rule(cg__rule *r)
{
    cg_tensor *d = cg__rule_grad(r, false, true), *lr = cg__rule_hyper(r, LR);
    cg_tensor *b1 = cg__rule_hyper(r, BETA1), *b2 = cg__rule_hyper(r, BETA2);
    cg_tensor *m = r->s[EXP_AVG] = cg__rule_lerp(r->s[EXP_AVG], b1, d);
    cg_tensor *v = r->s[EXP_AVG_SQ] = cg__rule_lerp(r->s[EXP_AVG_SQ], b2, cg_mul(d, d));
    cg_tensor *bc2 = bias_correction(b2, r->step);
    cg_tensor *bcm = cg_div(m, bias_correction(b1, r->step));
    cg_tensor *rho_inf = minus(cg_div(cg__rule_const(r, 2), cg__rule_one_minus(b2)), 1);
    cg_tensor *rho_t = cg_sub(rho_inf, cg_div(cg_mul_scalar(cg_pow_scalar(b2, r->step),
                                                            2 * r->step), bc2));
    double rho_v = rho_t ? cg_tensor_item(rho_t) : NAN;
    cg_tensor *upd = cg_mul(bcm, lr);
    if (rho_v > 5.) {
        cg_tensor *alr = cg_div(cg_sqrt(bc2), cg_add(cg_sqrt(v), cg__rule_hyper(r, EPS)));
        upd = cg_mul(cg_mul(upd, alr), radam_rect(rho_t, rho_inf));
    }
    r->out = cg_sub(r->p, upd);
    return CG_OK;
}

const cg__opt_algo cg__algo_radam = {
    .name = "radam", .hypers = adam_hypers, .wd = WD, .setup = radam_setup,
    .fused = radam_fused, .rule = radam_rule,
};

static cg_optimizer *radam_make(const cg_param_group *groups, int ngroups,
                                const cg_radam_options *options, const char *who)
{
    cg_radam_options o = options ? *options : cg_radam_defaults();
    double h[] = {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay};
    return cg__opt_new(&cg__algo_radam, who, groups, ngroups, h, &o, sizeof o);
}

cg_optimizer *cg_optim_radam_new_groups(const cg_param_group *groups, int ngroups,
                                        const cg_radam_options *options)
{
    return radam_make(groups, ngroups, options, "cg_optim_radam_new_groups");
}

cg_optimizer *cg_optim_radam_new(cg_tensor *const *params, int n, const cg_radam_options *options)
{
    cg_param_group g = cg__opt_one_group(params, n);
    return radam_make(&g, 1, options, "cg_optim_radam_new");
}
