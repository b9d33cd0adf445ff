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

/* The same in float: d_p.add(param, alpha=wd) is a fused multiply-add in PyTorch's add
 * kernel (vector body and scalar tail alike). The flags are constants where the caller
 * passes them. */
CG__OPT_INLINE float sgd_dpf(float p, float g, bool maximize, bool l2, float wd)
{
    float d = maximize ? -g : g;
    return l2 ? fmaf(p, wd, d) : d;
}

/* p = p - lr d */
CG__OPT_INLINE void plain_f64_loop(const sgd_coef *c, int64_t n, double *restrict p,
                                   const double *restrict g, bool maximize, bool l2)
{
    const double lr = c->lr, wd = c->wd;
    for (int64_t k = 0; k < n; k++) {
        double d = maximize ? -g[k] : g[k];
        if (l2)
            d = d + wd * p[k];
        p[k] = p[k] - lr * d;
    }
}

static void plain_f64(const void *cv, int64_t i0, int64_t n, double *p, const double *g,
                      double *const *b)
{
    const sgd_coef *c = cv;
    if (c->maximize)
        plain_f64_loop(c, n, p, g, true, c->wd != 0);
    else if (c->wd != 0)
        plain_f64_loop(c, n, p, g, false, true);
    else
        plain_f64_loop(c, n, p, g, false, false);
}

/* param.add_(d_p, alpha=-lr) */
CG__OPT_INLINE void plain_f32_loop(const sgd_coef *c, int64_t n, float *restrict p,
                                   const float *restrict g, bool maximize, bool l2)
{
    const float neg_lr = (float)-c->lr, wd = (float)c->wd;
    for (int64_t k = 0; k < n; k++)
        p[k] = fmaf(sgd_dpf(p[k], g[k], maximize, l2, wd), neg_lr, p[k]);
}

static void plain_f32(const void *cv, int64_t i0, int64_t n, float *p, const float *g,
                      float *const *b)
{
    const sgd_coef *c = cv;
    if (c->maximize)
        plain_f32_loop(c, n, p, g, true, c->wd != 0);
    else if (c->wd != 0)
        plain_f32_loop(c, n, p, g, false, true);
    else
        plain_f32_loop(c, n, p, g, false, false);
}

/* buf = d on the first step, then buf = momentum buf + (1 - dampening) d. */
CG__OPT_INLINE void torch_f64_loop(const sgd_coef *c, int64_t n, double *restrict p,
                                   const double *restrict g, double *restrict buf, bool first,
                                   bool nesterov)
{
    const double lr = c->lr, mom = c->momentum, keep = 1 - c->dampening;
    for (int64_t k = 0; k < n; k++) {
        double d = sgd_dp(c, p[k], g[k]);
        double bk = buf[k] = first ? d : buf[k] * mom + keep * d;
        d = nesterov ? d + mom * bk : bk;
        p[k] = p[k] - lr * d;
    }
}

static void torch_f64(const void *cv, int64_t i0, int64_t n, double *p, const double *g,
                      double *const *b)
{
    const sgd_coef *c = cv;
    if (c->first)
        torch_f64_loop(c, n, p, g, b[0], true, c->nesterov);
    else if (c->nesterov)
        torch_f64_loop(c, n, p, g, b[0], false, true);
    else
        torch_f64_loop(c, n, p, g, b[0], false, false);
}

/* buf.mul_(momentum).add_(d_p, alpha=1 - dampening), d_p.add(buf, alpha=momentum) and
 * param.add_(d_p, alpha=-lr): each add with alpha a fused multiply-add, as in PyTorch. */
CG__OPT_INLINE void torch_f32_loop(const sgd_coef *c, int64_t n, float *restrict p,
                                   const float *restrict g, float *restrict buf, bool first,
                                   bool nesterov, bool maximize, bool l2)
{
    const float neg_lr = (float)-c->lr, mom = (float)c->momentum;
    const float keep = (float)(1 - c->dampening), wd = (float)c->wd;
    for (int64_t k = 0; k < n; k++) {
        float d = sgd_dpf(p[k], g[k], maximize, l2, wd);
        float bk = buf[k] = first ? d : fmaf(d, keep, buf[k] * mom);
        d = nesterov ? fmaf(bk, mom, d) : bk;
        p[k] = fmaf(d, neg_lr, p[k]);
    }
}

static void torch_f32(const void *cv, int64_t i0, int64_t n, float *p, const float *g,
                      float *const *b)
{
    const sgd_coef *c = cv;
    bool l2 = c->wd != 0;
    if (c->first || c->maximize || l2)
        torch_f32_loop(c, n, p, g, b[0], c->first, c->nesterov, c->maximize, l2);
    else if (c->nesterov)
        torch_f32_loop(c, n, p, g, b[0], false, true, false, false);
    else
        torch_f32_loop(c, n, p, g, b[0], false, false, false, false);
}

/* u = momentum u - lr d, p = p + u. */
static void velocity_f64(const void *cv, int64_t i0, int64_t n, double *p, const double *g,
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
static void averaged_f64(const void *cv, int64_t i0, int64_t n, double *p, const double *g,
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
    static const cg__opt_kernels plain = {plain_f64, plain_f32};
    /* The course forms have no PyTorch counterpart to follow in float: f32 goes through
     * their double kernels. */
    static const cg__opt_kernels kernels[] = {
        {torch_f64, torch_f32}, {velocity_f64, NULL}, {averaged_f64, NULL}};
    static const int bufs[] = {BUF};
    cg__sv_set(pp->slot[CG__SLOT_STEP], step + 1);
    cg__opt_apply(pp, grad, bufs, has_buf, has_buf ? kernels[o->form] : plain, &c, 4);
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
