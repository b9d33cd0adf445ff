/*
 * Rprop (sign-based steps with per-element step sizes) and ASGD (SGD with a decaying step
 * and Polyak-Ruppert averaging), as torch.optim's single-tensor implementations order their
 * operations. Both initialise part of their state from the learning rate at their first
 * step, as PyTorch does when it creates the state.
 */
#include "optimizer_impl.h"

/* ================= Rprop ================= */

enum { RP_LR, RP_ETA_MINUS, RP_ETA_PLUS };
enum { RP_PREV = 1, RP_STEP_SIZE = 2 };

static const cg__hyper_def rprop_hypers[] = {
    {"lr", CG__H_NONNEG}, {"eta_minus", CG__H_ETA_MINUS}, {"eta_plus", CG__H_ETA_PLUS},
    {NULL, CG__H_FINITE},
};

cg_rprop_options cg_rprop_defaults(void)
{
    cg_rprop_options o = {0.01, 0.5, 1.2, 1e-6, 50, false};
    return o;
}

static cg_status rprop_setup(cg_optimizer *opt)
{
    const cg_rprop_options *o = &opt->o.rprop;
    if (!(o->step_size_min >= 0))
        return cg__opt_bad(opt, "step_size_min", o->step_size_min, "must be >= 0");
    if (!(o->step_size_max >= o->step_size_min))
        return cg__opt_bad(opt, "step_size_max", o->step_size_max, "must be >= step_size_min");
    cg__opt_slot(opt, "prev", true, 0.0);
    cg__opt_slot(opt, "step_size", true, 0.0);
    return CG_OK;
}

typedef struct rprop_coef {
    double lr, eta_minus, eta_plus, lo, hi;
    bool maximize, first;
} rprop_coef;

static void rprop_kernel(const void *cv, int64_t i0, int64_t n, double *p, const double *g,
                         double *const *b)
{
    const rprop_coef *c = cv;
    double *prev = b[0], *ss = b[1];
    for (int64_t k = 0; k < n; k++) {
        double d = c->maximize ? -g[k] : g[k], s = d * prev[k];
        if (c->first)
            ss[k] = c->lr;
        double f = s > 0 ? c->eta_plus : s < 0 ? c->eta_minus : isnan(s) ? s : 1.0;
        ss[k] = fmin(fmax(ss[k] * f, c->lo), c->hi);
        if (s < 0)
            d = 0;
        double sign = d > 0 ? 1.0 : d < 0 ? -1.0 : d; /* sign(NaN) = NaN, sign(-0) = -0 */
        p[k] = p[k] - sign * ss[k];
        prev[k] = d;
    }
}

static cg_status rprop_fused(cg_optimizer *opt, cg__opt_param *pp, const cg_tensor *grad)
{
    const cg_rprop_options *o = &opt->o.rprop;
    int gi = pp->group;
    double step = cg__sv(pp->slot[CG__SLOT_STEP]);
    rprop_coef c = {cg__hv(opt, gi, RP_LR), cg__hv(opt, gi, RP_ETA_MINUS),
                    cg__hv(opt, gi, RP_ETA_PLUS), o->step_size_min, o->step_size_max,
                    o->maximize, step == 0};
    cg__sv_set(pp->slot[CG__SLOT_STEP], step + 1);
    static const int bufs[] = {RP_PREV, RP_STEP_SIZE};
    cg__opt_apply(pp, grad, bufs, 2, (cg__opt_kernels){rprop_kernel, NULL}, &c, 8);
    return CG_OK;
}

static cg_status rprop_rule(cg__rule *r)
{
    const cg_rprop_options *o = &r->opt->o.rprop;
    cg_tensor *d = cg__rule_grad(r, o->maximize, false), *zero = cg__rule_const(r, 0);
    cg_tensor *ss = r->s[RP_STEP_SIZE];
    if (r->step == 1) /* PyTorch fills the step sizes with lr when it creates the state */
        ss = cg_expand(cg__rule_hyper(r, RP_LR), r->p->ndim, r->p->shape);
    cg_tensor *s = cg_mul(d, r->s[RP_PREV]), *neg = cg_lt(s, zero);
    cg_tensor *f = cg_where(cg_gt(s, zero), cg__rule_hyper(r, RP_ETA_PLUS),
                            cg_where(neg, cg__rule_hyper(r, RP_ETA_MINUS), cg__rule_const(r, 1)));
    ss = r->s[RP_STEP_SIZE] = cg_clamp(cg_mul(ss, f), o->step_size_min, o->step_size_max);
    d = r->s[RP_PREV] = cg_where(neg, zero, d);
    r->out = cg_sub(r->p, cg_mul(cg_sign(d), ss));
    return CG_OK;
}

const cg__opt_algo cg__algo_rprop = {
    .name = "rprop", .hypers = rprop_hypers, .wd = -1, .setup = rprop_setup,
    .fused = rprop_fused, .rule = rprop_rule,
};

static cg_optimizer *rprop_make(const cg_param_group *groups, int ngroups,
                                const cg_rprop_options *options, const char *who)
{
    cg_rprop_options o = options ? *options : cg_rprop_defaults();
    double h[] = {o.lr, o.eta_minus, o.eta_plus};
    return cg__opt_new(&cg__algo_rprop, who, groups, ngroups, h, &o, sizeof o);
}

cg_optimizer *cg_optim_rprop_new_groups(const cg_param_group *groups, int ngroups,
                                        const cg_rprop_options *options)
{
    return rprop_make(groups, ngroups, options, "cg_optim_rprop_new_groups");
}

cg_optimizer *cg_optim_rprop_new(cg_tensor *const *params, int n, const cg_rprop_options *options)
{
    cg_param_group g = cg__opt_one_group(params, n);
    return rprop_make(&g, 1, options, "cg_optim_rprop_new");
}

/* ================= ASGD ================= */

enum { AS_LR, AS_LAMBD, AS_ALPHA, AS_T0, AS_WD };
enum { AS_ETA = 1, AS_MU = 2, AS_AX = 3 };

static const cg__hyper_def asgd_hypers[] = {
    {"lr", CG__H_NONNEG}, {"lambd", CG__H_FINITE},          {"alpha", CG__H_FINITE},
    {"t0", CG__H_FINITE}, {"weight_decay", CG__H_NONNEG}, {NULL, CG__H_FINITE},
};

cg_asgd_options cg_asgd_defaults(void)
{
    cg_asgd_options o = {0.01, 1e-4, 0.75, 1e6, 0.0, false};
    return o;
}

static cg_status asgd_setup(cg_optimizer *opt)
{
    cg__opt_slot(opt, "eta", false, 0.0);
    cg__opt_slot(opt, "mu", false, 1.0);
    cg__opt_slot(opt, "ax", true, 0.0);
    return CG_OK;
}

typedef struct asgd_coef {
    double eta, mu, lambd, wd;
    bool maximize;
} asgd_coef;

static void asgd_kernel(const void *cv, int64_t i0, int64_t n, double *p, const double *g,
                        double *const *b)
{
    const asgd_coef *c = cv;
    double *ax = b[0];
    for (int64_t k = 0; k < n; k++) {
        double d = c->maximize ? -g[k] : g[k];
        if (c->wd != 0)
            d = d + c->wd * p[k];
        p[k] = p[k] * (1 - c->lambd * c->eta);
        p[k] = p[k] + -c->eta * d;
        ax[k] = c->mu != 1 ? ax[k] + (p[k] - ax[k]) * c->mu : p[k];
    }
}

static cg_status asgd_fused(cg_optimizer *opt, cg__opt_param *pp, const cg_tensor *grad)
{
    int gi = pp->group;
    double lr = cg__hv(opt, gi, AS_LR), lambd = cg__hv(opt, gi, AS_LAMBD);
    double step = cg__sv(pp->slot[CG__SLOT_STEP]);
    if (step == 0) /* PyTorch sets eta = lr when it creates the state */
        cg__sv_set(pp->slot[AS_ETA], lr);
    cg__sv_set(pp->slot[CG__SLOT_STEP], ++step);
    asgd_coef c = {cg__sv(pp->slot[AS_ETA]), cg__sv(pp->slot[AS_MU]), lambd,
                   cg__hv(opt, gi, AS_WD), opt->o.asgd.maximize};
    static const int bufs[] = {AS_AX};
    cg__opt_apply(pp, grad, bufs, 1, (cg__opt_kernels){asgd_kernel, NULL}, &c, 6);
    double t0 = cg__hv(opt, gi, AS_T0);
    cg__sv_set(pp->slot[AS_ETA], lr / pow(1 + lambd * lr * step, cg__hv(opt, gi, AS_ALPHA)));
    cg__sv_set(pp->slot[AS_MU], 1 / fmax(1, step - t0));
    return CG_OK;
}

static cg_status asgd_rule(cg__rule *r)
{
    cg_tensor *d = cg__rule_grad(r, r->opt->o.asgd.maximize, true);
    cg_tensor *lr = cg__rule_hyper(r, AS_LR), *lambd = cg__rule_hyper(r, AS_LAMBD);
    cg_tensor *eta = r->step == 1 ? lr : r->s[AS_ETA], *mu = r->s[AS_MU];
    cg_tensor *one = cg__rule_const(r, 1);
    cg_tensor *p = cg_mul(r->p, cg__rule_one_minus(cg_mul(lambd, eta)));
    p = r->out = cg_add(p, cg_mul(d, cg_neg(eta)));
    double mu_v = mu ? cg_tensor_item(mu) : NAN;
    r->s[AS_AX] = mu_v != 1 ? cg_add(r->s[AS_AX], cg_mul(cg_sub(p, r->s[AS_AX]), mu)) : p;
    cg_tensor *base = cg_add_scalar(cg_mul_scalar(cg_mul(lambd, lr), r->step), 1);
    r->s[AS_ETA] = cg_div(lr, cg_pow(base, cg__rule_hyper(r, AS_ALPHA)));
    r->s[AS_MU] = cg_div(one, cg_maximum(one, cg_add_scalar(cg_neg(cg__rule_hyper(r, AS_T0)),
                                                            r->step)));
    return CG_OK;
}

const cg__opt_algo cg__algo_asgd = {
    .name = "asgd", .hypers = asgd_hypers, .wd = AS_WD, .setup = asgd_setup,
    .fused = asgd_fused, .rule = asgd_rule,
};

static cg_optimizer *asgd_make(const cg_param_group *groups, int ngroups,
                               const cg_asgd_options *options, const char *who)
{
    cg_asgd_options o = options ? *options : cg_asgd_defaults();
    double h[] = {o.lr, o.lambd, o.alpha, o.t0, o.weight_decay};
    return cg__opt_new(&cg__algo_asgd, who, groups, ngroups, h, &o, sizeof o);
}

cg_optimizer *cg_optim_asgd_new_groups(const cg_param_group *groups, int ngroups,
                                       const cg_asgd_options *options)
{
    return asgd_make(groups, ngroups, options, "cg_optim_asgd_new_groups");
}

cg_optimizer *cg_optim_asgd_new(cg_tensor *const *params, int n, const cg_asgd_options *options)
{
    cg_param_group g = cg__opt_one_group(params, n);
    return asgd_make(&g, 1, options, "cg_optim_asgd_new");
}
