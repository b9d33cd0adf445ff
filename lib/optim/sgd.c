/*
 * SGD (torch.optim.SGD: momentum, dampening, Nesterov, weight decay, maximize), the two
 * course forms of momentum (velocity and averaged), and full-batch GD, which is SGD with
 * its defaults.
 */
#include "optimizer_impl.h"

enum { LR, MOMENTUM, DAMPENING, WD };
enum { BUF = 1 }; /* slot of the momentum buffer or velocity, when there is one */

static const cg__hyper_def sgd_hypers[] = {
    {"lr", CG__H_NONNEG},        {"momentum", CG__H_NONNEG}, {"dampening", CG__H_FINITE},
    {"weight_decay", CG__H_NONNEG}, {NULL, CG__H_FINITE},
};

cg_sgd_options cg_sgd_defaults(void)
{
    cg_sgd_options o = {NAN, 0.0, 0.0, 0.0, false, false, CG_MOMENTUM_TORCH};
    return o;
}

static cg_status sgd_setup(cg_optimizer *opt)
{
    const cg_sgd_options *o = &opt->o.sgd;
    if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
        return cg__error(CG_ERR_VALUE, "%s: Nesterov momentum requires a momentum and zero "
                                       "dampening (momentum %g, dampening %g)", opt->who,
                         o->momentum, o->dampening);
    if (o->form != CG_MOMENTUM_TORCH && (o->nesterov || o->dampening != 0))
        return cg__error(CG_ERR_VALUE, "%s: the velocity and averaged momentum forms take no "
                                       "nesterov and no dampening", opt->who);
    if (o->form == CG_MOMENTUM_AVERAGED && o->momentum >= 1)
        return cg__opt_bad(opt, "momentum value", o->momentum,
                           "the averaged form's beta must be in [0, 1)");
    if ((unsigned)o->form > CG_MOMENTUM_AVERAGED)
        return cg__error(CG_ERR_VALUE, "%s: unknown momentum form %d", opt->who, (int)o->form);
    if (o->momentum != 0)
        cg__opt_slot(opt, o->form == CG_MOMENTUM_VELOCITY ? "velocity" : "momentum_buffer", true,
                     0.0);
    return CG_OK;
}

/* ---- fused ---- */

typedef struct sgd_coef {
    double lr, momentum, dampening, wd;
    bool nesterov, maximize, first;
} sgd_coef;

/* The gradient after maximize and the L2 term, as PyTorch's d_p. */
static inline double sgd_dp(const sgd_coef *c, double p, double g)
{
    double d = c->maximize ? -g : g;
    return c->wd != 0 ? d + c->wd * p : d;
}

static void plain_kernel(const void *cv, int64_t i0, int64_t n, double *p, const double *g,
                         double *const *b)
{
    const sgd_coef *c = cv;
    for (int64_t k = 0; k < n; k++)
        p[k] = p[k] - c->lr * sgd_dp(c, p[k], g[k]);
}

/* buf = d on the first step, then buf = momentum buf + (1 - dampening) d. */
static void torch_kernel(const void *cv, int64_t i0, int64_t n, double *p, const double *g,
                         double *const *b)
{
    const sgd_coef *c = cv;
    double *buf = b[0];
    for (int64_t k = 0; k < n; k++) {
        double d = sgd_dp(c, p[k], g[k]);
        buf[k] = c->first ? d : buf[k] * c->momentum + (1 - c->dampening) * d;
        d = c->nesterov ? d + c->momentum * buf[k] : buf[k];
        p[k] = p[k] - c->lr * d;
    }
}

/* u = momentum u - lr d, p = p + u. */
static void velocity_kernel(const void *cv, int64_t i0, int64_t n, double *p, const double *g,
                            double *const *b)
{
    const sgd_coef *c = cv;
    double *u = b[0];
    for (int64_t k = 0; k < n; k++) {
        u[k] = c->momentum * u[k] - c->lr * sgd_dp(c, p[k], g[k]);
        p[k] = p[k] + u[k];
    }
}

/* Delta = beta Delta + (1 - beta) d, p = p - lr Delta. */
static void averaged_kernel(const void *cv, int64_t i0, int64_t n, double *p, const double *g,
                            double *const *b)
{
    const sgd_coef *c = cv;
    double *delta = b[0];
    for (int64_t k = 0; k < n; k++) {
        delta[k] = delta[k] * c->momentum + (1 - c->momentum) * sgd_dp(c, p[k], g[k]);
        p[k] = p[k] - c->lr * delta[k];
    }
}

static cg_status no_buffer(const cg_optimizer *opt)
{
    return cg__error(CG_ERR_STATE, "%s: momentum is nonzero but the optimizer was made with "
                                   "momentum 0, so it has no momentum buffer", opt->algo->name);
}

static cg_status sgd_fused(cg_optimizer *opt, cg__opt_param *pp, const cg_tensor *grad)
{
    const cg_sgd_options *o = &opt->o.sgd;
    int gi = pp->group;
    double step = cg__sv(pp->slot[CG__SLOT_STEP]);
    sgd_coef c = {cg__hv(opt, gi, LR), cg__hv(opt, gi, MOMENTUM), cg__hv(opt, gi, DAMPENING),
                  cg__hv(opt, gi, WD), o->nesterov, o->maximize, step == 0};
    bool has_buf = opt->nslots > BUF;
    if (c.momentum != 0 && !has_buf)
        return no_buffer(opt);
    static const cg__opt_kernel kernels[] = {torch_kernel, velocity_kernel, averaged_kernel};
    static const int bufs[] = {BUF};
    cg__sv_set(pp->slot[CG__SLOT_STEP], step + 1);
    cg__opt_apply(pp, grad, bufs, has_buf, has_buf ? kernels[o->form] : plain_kernel, &c, 4);
    return CG_OK;
}

/* ---- differentiable ---- */

static cg_status sgd_rule(cg__rule *r)
{
    const cg_sgd_options *o = &r->opt->o.sgd;
    cg_tensor *d = cg__rule_grad(r, o->maximize, true), *lr = cg__rule_hyper(r, LR);
    bool has_buf = r->opt->nslots > BUF;
    if (!has_buf && cg__hv(r->opt, r->group, MOMENTUM) != 0)
        return no_buffer(r->opt);
    if (has_buf) {
        cg_tensor *mom = cg__rule_hyper(r, MOMENTUM), *buf = r->s[BUF];
        switch (o->form) {
        case CG_MOMENTUM_TORCH: {
            cg_tensor *keep = cg__rule_one_minus(cg__rule_hyper(r, DAMPENING));
            buf = r->step == 1 ? d : cg_add(cg_mul(buf, mom), cg_mul(d, keep));
            d = o->nesterov ? cg_add(d, cg_mul(buf, mom)) : buf;
            break;
        }
        case CG_MOMENTUM_VELOCITY:
            r->s[BUF] = cg_sub(cg_mul(buf, mom), cg_mul(d, lr));
            r->out = cg_add(r->p, r->s[BUF]);
            return CG_OK;
        case CG_MOMENTUM_AVERAGED:
            d = buf = cg__rule_lerp(buf, mom, d);
            break;
        }
        r->s[BUF] = buf;
    }
    r->out = cg_sub(r->p, cg_mul(d, lr));
    return CG_OK;
}

const cg__opt_algo cg__algo_sgd = {
    .name = "sgd", .hypers = sgd_hypers, .wd = WD, .setup = sgd_setup, .fused = sgd_fused,
    .rule = sgd_rule,
};
const cg__opt_algo cg__algo_gd = {
    .name = "gd", .hypers = sgd_hypers, .wd = WD, .setup = sgd_setup, .fused = sgd_fused,
    .rule = sgd_rule,
};

/* ---- constructors ---- */

static cg_optimizer *make(const cg__opt_algo *algo, const cg_param_group *groups, int ngroups,
                          const cg_sgd_options *options, const char *who)
{
    cg_sgd_options o = options ? *options : cg_sgd_defaults();
    double h[] = {o.lr, o.momentum, o.dampening, o.weight_decay};
    return cg__opt_new(algo, who, groups, ngroups, h, &o, sizeof o);
}

cg_optimizer *cg_optim_sgd_new_groups(const cg_param_group *groups, int ngroups,
                                      const cg_sgd_options *options)
{
    return make(&cg__algo_sgd, groups, ngroups, options, "cg_optim_sgd_new_groups");
}

cg_optimizer *cg_optim_sgd_new(cg_tensor *const *params, int n, const cg_sgd_options *options)
{
    cg_param_group g = cg__opt_one_group(params, n);
    return make(&cg__algo_sgd, &g, 1, options, "cg_optim_sgd_new");
}

cg_optimizer *cg_optim_gd_new(cg_tensor *const *params, int n, double lr)
{
    cg_sgd_options o = cg_sgd_defaults();
    o.lr = lr;
    cg_param_group g = cg__opt_one_group(params, n);
    return make(&cg__algo_gd, &g, 1, &o, "cg_optim_gd_new");
}
