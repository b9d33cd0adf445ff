/*
 * Per-element adaptive step sizes from running squares of the gradient: Adagrad, RMSprop
 * and Adadelta, each as torch.optim's single-tensor implementation orders its operations.
 */
#include "optimizer_impl.h"

/* ================= Adagrad ================= */

enum { AG_LR, AG_LR_DECAY, AG_WD, AG_EPS };
enum { AG_SUM = 1 };

static const cg__hyper_def adagrad_hypers[] = {
    {"lr", CG__H_NONNEG}, {"lr_decay", CG__H_NONNEG}, {"weight_decay", CG__H_NONNEG},
    {"eps", CG__H_NONNEG}, {NULL, CG__H_FINITE},
};

cg_adagrad_options cg_adagrad_defaults(void)
{
    cg_adagrad_options o = {0.01, 0.0, 0.0, 0.0, 1e-10, false};
    return o;
}

static cg_status adagrad_setup(cg_optimizer *opt)
{
    double init = opt->o.adagrad.initial_accumulator_value;
    if (!(init >= 0 && init < INFINITY))
        return cg__opt_bad(opt, "initial_accumulator_value value", init, "must be >= 0");
    cg__opt_slot(opt, "sum", true, init);
    return CG_OK;
}

typedef struct adagrad_coef {
    double clr, wd, eps;
    bool maximize;
} adagrad_coef;

/* sum += d d; p += -clr d / (sqrt(sum) + eps) */
static void adagrad_kernel(const void *cv, int64_t i0, int64_t n, double *p, const double *g,
                           double *const *b)
{
    const adagrad_coef *c = cv;
    double *sum = b[0];
    for (int64_t k = 0; k < n; k++) {
        double d = c->maximize ? -g[k] : g[k];
        if (c->wd != 0)
            d = d + c->wd * p[k];
        sum[k] = sum[k] + d * d;
        double std = sqrt(sum[k]) + c->eps;
        p[k] = p[k] + -c->clr * d / std;
    }
}

static cg_status adagrad_fused(cg_optimizer *opt, cg__opt_param *pp, const cg_tensor *grad)
{
    int gi = pp->group;
    double step = cg__sv(pp->slot[CG__SLOT_STEP]) + 1;
    cg__sv_set(pp->slot[CG__SLOT_STEP], step);
    double lr = cg__hv(opt, gi, AG_LR), decay = cg__hv(opt, gi, AG_LR_DECAY);
    adagrad_coef c = {lr / (1 + (step - 1) * decay), cg__hv(opt, gi, AG_WD),
                      cg__hv(opt, gi, AG_EPS), opt->o.adagrad.maximize};
    static const int bufs[] = {AG_SUM};
    cg__opt_apply(pp, grad, bufs, 1, (cg__opt_kernels){adagrad_kernel, NULL}, &c, 8);
    return CG_OK;
}

static cg_status adagrad_rule(cg__rule *r)
{
    cg_tensor *d = cg__rule_grad(r, r->opt->o.adagrad.maximize, true);
    cg_tensor *decay = cg_add_scalar(cg_mul_scalar(cg__rule_hyper(r, AG_LR_DECAY), r->step - 1), 1);
    cg_tensor *clr = cg_div(cg__rule_hyper(r, AG_LR), decay);
    cg_tensor *sum = r->s[AG_SUM] = cg_add(r->s[AG_SUM], cg_mul(d, d));
    cg_tensor *std = cg_add(cg_sqrt(sum), cg__rule_hyper(r, AG_EPS));
    r->out = cg_add(r->p, cg_div(cg_mul(d, cg_neg(clr)), std));
    return CG_OK;
}

const cg__opt_algo cg__algo_adagrad = {
    .name = "adagrad", .hypers = adagrad_hypers, .wd = AG_WD, .setup = adagrad_setup,
    .fused = adagrad_fused, .rule = adagrad_rule,
};

static cg_optimizer *adagrad_make(const cg_param_group *groups, int ngroups,
                                  const cg_adagrad_options *options, const char *who)
{
    cg_adagrad_options o = options ? *options : cg_adagrad_defaults();
    double h[] = {o.lr, o.lr_decay, o.weight_decay, o.eps};
    return cg__opt_new(&cg__algo_adagrad, who, groups, ngroups, h, &o, sizeof o);
}

cg_optimizer *cg_optim_adagrad_new_groups(const cg_param_group *groups, int ngroups,
                                          const cg_adagrad_options *options)
{
    return adagrad_make(groups, ngroups, options, "cg_optim_adagrad_new_groups");
}

cg_optimizer *cg_optim_adagrad_new(cg_tensor *const *params, int n,
                                   const cg_adagrad_options *options)
{
    cg_param_group g = cg__opt_one_group(params, n);
    return adagrad_make(&g, 1, options, "cg_optim_adagrad_new");
}

/* ================= RMSprop ================= */

enum { RMS_LR, RMS_ALPHA, RMS_EPS, RMS_WD, RMS_MOMENTUM };
enum { RMS_SQ = 1 };

static const cg__hyper_def rmsprop_hypers[] = {
    {"lr", CG__H_NONNEG},           {"alpha", CG__H_NONNEG},    {"eps", CG__H_NONNEG},
    {"weight_decay", CG__H_NONNEG}, {"momentum", CG__H_NONNEG}, {NULL, CG__H_FINITE},
};

cg_rmsprop_options cg_rmsprop_defaults(void)
{
    cg_rmsprop_options o = {0.01, 0.99, 1e-8, 0.0, 0.0, false, false};
    return o;
}

/* Slots in PyTorch's order: step, square_avg, momentum_buffer (momentum > 0), grad_avg
 * (centered). *buf and *avg get their indices, -1 when absent. */
static void rms_slots(const cg_optimizer *opt, int *buf, int *avg)
{
    const cg_rmsprop_options *o = &opt->o.rmsprop;
    *buf = o->momentum > 0 ? RMS_SQ + 1 : -1;
    *avg = o->centered ? RMS_SQ + 1 + (o->momentum > 0) : -1;
}

static cg_status rmsprop_setup(cg_optimizer *opt)
{
    cg__opt_slot(opt, "square_avg", true, 0.0);
    if (opt->o.rmsprop.momentum > 0)
        cg__opt_slot(opt, "momentum_buffer", true, 0.0);
    if (opt->o.rmsprop.centered)
        cg__opt_slot(opt, "grad_avg", true, 0.0);
    return CG_OK;
}

typedef struct rms_coef {
    double lr, alpha, eps, wd, momentum;
    bool maximize;
    int ibuf, iavg; /* positions of the momentum buffer and grad_avg among the buffers, or -1 */
} rms_coef;

static void rmsprop_kernel(const void *cv, int64_t i0, int64_t n, double *p, const double *g,
                           double *const *b)
{
    const rms_coef *c = cv;
    double *sq = b[0], *buf = c->ibuf >= 0 ? b[c->ibuf] : NULL;
    double *ga = c->iavg >= 0 ? b[c->iavg] : NULL;
    for (int64_t k = 0; k < n; k++) {
        double d = c->maximize ? -g[k] : g[k];
        if (c->wd != 0)
            d = d + c->wd * p[k];
        sq[k] = sq[k] * c->alpha + (1 - c->alpha) * (d * d);
        double avg;
        if (ga) {
            ga[k] = ga[k] * c->alpha + (1 - c->alpha) * d;
            avg = sqrt(sq[k] - ga[k] * ga[k]) + c->eps;
        } else {
            avg = sqrt(sq[k]) + c->eps;
        }
        if (c->momentum > 0) {
            buf[k] = buf[k] * c->momentum + d / avg;
            p[k] = p[k] + -c->lr * buf[k];
        } else {
            p[k] = p[k] + -c->lr * d / avg;
        }
    }
}

static cg_status no_rms_buffer(void)
{
    return cg__error(CG_ERR_STATE, "rmsprop: momentum is nonzero but the optimizer was made "
                                   "with momentum 0, so it has no momentum buffer");
}

static cg_status rmsprop_fused(cg_optimizer *opt, cg__opt_param *pp, const cg_tensor *grad)
{
    int gi = pp->group, ibuf, iavg;
    rms_slots(opt, &ibuf, &iavg);
    rms_coef c = {cg__hv(opt, gi, RMS_LR), cg__hv(opt, gi, RMS_ALPHA), cg__hv(opt, gi, RMS_EPS),
                  cg__hv(opt, gi, RMS_WD), cg__hv(opt, gi, RMS_MOMENTUM),
                  opt->o.rmsprop.maximize, -1, -1};
    if (c.momentum > 0 && ibuf < 0)
        return no_rms_buffer();
    int bufs[3] = {RMS_SQ}, nbuf = 1;
    if (ibuf >= 0) {
        c.ibuf = nbuf;
        bufs[nbuf++] = ibuf;
    }
    if (iavg >= 0) {
        c.iavg = nbuf;
        bufs[nbuf++] = iavg;
    }
    cg__sv_set(pp->slot[CG__SLOT_STEP], cg__sv(pp->slot[CG__SLOT_STEP]) + 1);
    cg__opt_apply(pp, grad, bufs, nbuf, (cg__opt_kernels){rmsprop_kernel, NULL}, &c, 8);
    return CG_OK;
}

static cg_status rmsprop_rule(cg__rule *r)
{
    int ibuf, iavg;
    rms_slots(r->opt, &ibuf, &iavg);
    cg_tensor *d = cg__rule_grad(r, r->opt->o.rmsprop.maximize, true);
    cg_tensor *alpha = cg__rule_hyper(r, RMS_ALPHA), *avg;
    cg_tensor *sq = r->s[RMS_SQ] = cg__rule_lerp(r->s[RMS_SQ], alpha, cg_mul(d, d));
    if (iavg >= 0) {
        cg_tensor *ga = r->s[iavg] = cg__rule_lerp(r->s[iavg], alpha, d);
        avg = cg_sqrt(cg_sub(sq, cg_mul(ga, ga)));
    } else {
        avg = cg_sqrt(sq);
    }
    avg = cg_add(avg, cg__rule_hyper(r, RMS_EPS));
    cg_tensor *neg_lr = cg_neg(cg__rule_hyper(r, RMS_LR));
    bool momentum = cg__sv(r->opt->groups[r->group].hyper[RMS_MOMENTUM]) > 0;
    if (momentum && ibuf < 0)
        return no_rms_buffer();
    if (momentum) {
        cg_tensor *buf = r->s[ibuf] =
            cg_add(cg_mul(r->s[ibuf], cg__rule_hyper(r, RMS_MOMENTUM)), cg_div(d, avg));
        r->out = cg_add(r->p, cg_mul(buf, neg_lr));
    } else {
        r->out = cg_add(r->p, cg_div(cg_mul(d, neg_lr), avg));
    }
    return CG_OK;
}

const cg__opt_algo cg__algo_rmsprop = {
    .name = "rmsprop", .hypers = rmsprop_hypers, .wd = RMS_WD, .setup = rmsprop_setup,
    .fused = rmsprop_fused, .rule = rmsprop_rule,
};

static cg_optimizer *rmsprop_make(const cg_param_group *groups, int ngroups,
                                  const cg_rmsprop_options *options, const char *who)
{
    cg_rmsprop_options o = options ? *options : cg_rmsprop_defaults();
    double h[] = {o.lr, o.alpha, o.eps, o.weight_decay, o.momentum};
    return cg__opt_new(&cg__algo_rmsprop, who, groups, ngroups, h, &o, sizeof o);
}

cg_optimizer *cg_optim_rmsprop_new_groups(const cg_param_group *groups, int ngroups,
                                          const cg_rmsprop_options *options)
{
    return rmsprop_make(groups, ngroups, options, "cg_optim_rmsprop_new_groups");
}

cg_optimizer *cg_optim_rmsprop_new(cg_tensor *const *params, int n,
                                   const cg_rmsprop_options *options)
{
    cg_param_group g = cg__opt_one_group(params, n);
    return rmsprop_make(&g, 1, options, "cg_optim_rmsprop_new");
}

/* ================= Adadelta ================= */

enum { AD_LR, AD_RHO, AD_EPS, AD_WD };
enum { AD_SQ = 1, AD_ACC = 2 };

static const cg__hyper_def adadelta_hypers[] = {
    {"lr", CG__H_NONNEG},           {"rho", CG__H_UNIT}, {"eps", CG__H_NONNEG},
    {"weight_decay", CG__H_NONNEG}, {NULL, CG__H_FINITE},
};

cg_adadelta_options cg_adadelta_defaults(void)
{
    cg_adadelta_options o = {1.0, 0.9, 1e-6, 0.0, false};
    return o;
}

static cg_status adadelta_setup(cg_optimizer *opt)
{
    cg__opt_slot(opt, "square_avg", true, 0.0);
    cg__opt_slot(opt, "acc_delta", true, 0.0);
    return CG_OK;
}

typedef struct adadelta_coef {
    double lr, rho, eps, wd;
    bool maximize;
} adadelta_coef;

static void adadelta_kernel(const void *cv, int64_t i0, int64_t n, double *p, const double *g,
                            double *const *b)
{
    const adadelta_coef *c = cv;
    double *sq = b[0], *acc = b[1];
    for (int64_t k = 0; k < n; k++) {
        double d = c->maximize ? -g[k] : g[k];
        if (c->wd != 0)
            d = d + c->wd * p[k];
        sq[k] = sq[k] * c->rho + (1 - c->rho) * (d * d);
        double std = sqrt(sq[k] + c->eps);
        double delta = sqrt(acc[k] + c->eps) / std * d;
        acc[k] = acc[k] * c->rho + (1 - c->rho) * (delta * delta);
        p[k] = p[k] + -c->lr * delta;
    }
}

static cg_status adadelta_fused(cg_optimizer *opt, cg__opt_param *pp, const cg_tensor *grad)
{
    int gi = pp->group;
    adadelta_coef c = {cg__hv(opt, gi, AD_LR), cg__hv(opt, gi, AD_RHO), cg__hv(opt, gi, AD_EPS),
                       cg__hv(opt, gi, AD_WD), opt->o.adadelta.maximize};
    static const int bufs[] = {AD_SQ, AD_ACC};
    cg__sv_set(pp->slot[CG__SLOT_STEP], cg__sv(pp->slot[CG__SLOT_STEP]) + 1);
    cg__opt_apply(pp, grad, bufs, 2, (cg__opt_kernels){adadelta_kernel, NULL}, &c, 12);
    return CG_OK;
}

static cg_status adadelta_rule(cg__rule *r)
{
    cg_tensor *d = cg__rule_grad(r, r->opt->o.adadelta.maximize, true);
    cg_tensor *rho = cg__rule_hyper(r, AD_RHO), *eps = cg__rule_hyper(r, AD_EPS);
    cg_tensor *sq = r->s[AD_SQ] = cg__rule_lerp(r->s[AD_SQ], rho, cg_mul(d, d));
    cg_tensor *std = cg_sqrt(cg_add(sq, eps));
    cg_tensor *delta = cg_mul(cg_div(cg_sqrt(cg_add(r->s[AD_ACC], eps)), std), d);
    r->s[AD_ACC] = cg__rule_lerp(r->s[AD_ACC], rho, cg_mul(delta, delta));
    r->out = cg_add(r->p, cg_mul(delta, cg_neg(cg__rule_hyper(r, AD_LR))));
    return CG_OK;
}

const cg__opt_algo cg__algo_adadelta = {
    .name = "adadelta", .hypers = adadelta_hypers, .wd = AD_WD, .setup = adadelta_setup,
    .fused = adadelta_fused, .rule = adadelta_rule,
};

static cg_optimizer *adadelta_make(const cg_param_group *groups, int ngroups,
                                   const cg_adadelta_options *options, const char *who)
{
    cg_adadelta_options o = options ? *options : cg_adadelta_defaults();
    double h[] = {o.lr, o.rho, o.eps, o.weight_decay};
    return cg__opt_new(&cg__algo_adadelta, who, groups, ngroups, h, &o, sizeof o);
}

cg_optimizer *cg_optim_adadelta_new_groups(const cg_param_group *groups, int ngroups,
                                           const cg_adadelta_options *options)
{
    return adadelta_make(groups, ngroups, options, "cg_optim_adadelta_new_groups");
}

cg_optimizer *cg_optim_adadelta_new(cg_tensor *const *params, int n,
                                    const cg_adadelta_options *options)
{
    cg_param_group g = cg__opt_one_group(params, n);
    return adadelta_make(&g, 1, options, "cg_optim_adadelta_new");
}
