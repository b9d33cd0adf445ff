/*
 * Noise-injected gradient descent: p = p - lr g + sigma_k eps, eps ~ N(0, I), with the
 * decaying scale sigma_k = sigma / (1 + k)^gamma after k earlier steps. The noise is a pure
 * function of (seed, counter), the counter being the optimizer-wide "rng_offset" plus the
 * element's index, so that both modes, any thread count and a reloaded state draw the same
 * numbers.
 */
#include "optimizer_impl.h"

enum { LR, SIGMA, GAMMA, WD };

static const cg__hyper_def noisy_hypers[] = {
    {"lr", CG__H_NONNEG},    {"sigma", CG__H_NONNEG},       {"gamma", CG__H_NONNEG},
    {"weight_decay", CG__H_NONNEG}, {NULL, CG__H_FINITE},
};

/* The differentiable mode's own generator position. */
typedef struct noisy_ext {
    bool live;
    double offset;
} noisy_ext;

cg_noisy_gd_options cg_noisy_gd_defaults(void)
{
    cg_noisy_gd_options o = {NAN, 0.01, 0.55, 0.0, 0};
    return o;
}

static cg_status noisy_setup(cg_optimizer *opt)
{
    if (!(opt->ext = cg__calloc(1, sizeof(noisy_ext))))
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", opt->who);
    cg__opt_global(opt, "rng_offset", cg_tensor_scalar(CG_F64, 0.0), true);
    return CG_OK;
}

static void noisy_free(cg_optimizer *opt) { cg__free(opt->ext, sizeof(noisy_ext)); }

static void noisy_diff_reset(cg_optimizer *opt)
{
    if (opt->ext)
        ((noisy_ext *)opt->ext)->live = false;
}

/* N(0, 1) at counter c: cg_tensor_normal's Box-Muller on Philox's two word pairs. */
static inline double normal_at(uint64_t seed, uint64_t c)
{
    double u = cg__rng_uniform_at(seed, c, 0), u2 = cg__rng_uniform_at(seed, c, 1);
    return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * M_PI * u2);
}

typedef struct noisy_coef {
    double lr, wd, sigma;
    uint64_t seed, base;
} noisy_coef;

static void noisy_kernel(const void *cv, int64_t i0, int64_t n, double *p, const double *g,
                         double *const *b)
{
    const noisy_coef *c = cv;
    for (int64_t k = 0; k < n; k++) {
        double d = c->wd != 0 ? g[k] + c->wd * p[k] : g[k];
        double eps = normal_at(c->seed, c->base + (uint64_t)(i0 + k));
        p[k] = p[k] - c->lr * d + c->sigma * eps;
    }
}

static double sigma_k(double sigma, double k, double gamma) { return sigma / pow(1 + k, gamma); }

static cg_status noisy_fused(cg_optimizer *opt, cg__opt_param *pp, const cg_tensor *grad)
{
    int gi = pp->group;
    double k = cg__sv(pp->slot[CG__SLOT_STEP]), offset = cg__sv(opt->global[0]);
    noisy_coef c = {cg__hv(opt, gi, LR), cg__hv(opt, gi, WD),
                    sigma_k(cg__hv(opt, gi, SIGMA), k, cg__hv(opt, gi, GAMMA)),
                    opt->o.noisy.seed, (uint64_t)offset};
    cg__sv_set(pp->slot[CG__SLOT_STEP], k + 1);
    cg__sv_set(opt->global[0], offset + (double)cg_tensor_numel(pp->p));
    cg__opt_apply(pp, grad, NULL, 0, (cg__opt_kernels){noisy_kernel, NULL}, &c, 40);
    return CG_OK;
}

/* The noise of one parameter's update as a constant tape tensor. */
static cg_tensor *noise_tensor(const cg__rule *r, uint64_t base)
{
    cg_tape *tape = cg__tape_require("noisy_gd");
    cg_tensor *t = tape ? cg__tensor_alloc(tape->pool, r->p->dtype, r->p->ndim, r->p->shape) : NULL;
    int64_t n = t ? cg_tensor_numel(t) : 0;
    for (int64_t i = 0; i < n; i++)
        cg__store(t, i, normal_at(r->opt->o.noisy.seed, base + (uint64_t)i));
    return t;
}

static cg_status noisy_rule(cg__rule *r)
{
    noisy_ext *x = r->opt->ext;
    if (!x->live) {
        x->offset = cg__sv(r->opt->global[0]);
        x->live = true;
    }
    cg_tensor *d = cg__rule_grad(r, false, true), *eps = noise_tensor(r, (uint64_t)x->offset);
    double k = r->step - 1;
    cg_tensor *scale = cg_div(cg__rule_hyper(r, SIGMA),
                              cg_pow(cg__rule_const(r, 1 + k), cg__rule_hyper(r, GAMMA)));
    r->out = cg_add(cg_sub(r->p, cg_mul(d, cg__rule_hyper(r, LR))), cg_mul(eps, scale));
    x->offset += (double)cg_tensor_numel(r->p);
    return CG_OK;
}

const cg__opt_algo cg__algo_noisy_gd = {
    .name = "noisy_gd", .hypers = noisy_hypers, .wd = WD, .setup = noisy_setup,
    .fused = noisy_fused, .rule = noisy_rule, .diff_reset = noisy_diff_reset,
    .free_ext = noisy_free,
};

static cg_optimizer *noisy_make(const cg_param_group *groups, int ngroups,
                                const cg_noisy_gd_options *options, const char *who)
{
    cg_noisy_gd_options o = options ? *options : cg_noisy_gd_defaults();
    double h[] = {o.lr, o.sigma, o.gamma, o.weight_decay};
    return cg__opt_new(&cg__algo_noisy_gd, who, groups, ngroups, h, &o, sizeof o);
}

cg_optimizer *cg_optim_noisy_gd_new_groups(const cg_param_group *groups, int ngroups,
                                           const cg_noisy_gd_options *options)
{
    return noisy_make(groups, ngroups, options, "cg_optim_noisy_gd_new_groups");
}

cg_optimizer *cg_optim_noisy_gd_new(cg_tensor *const *params, int n,
                                    const cg_noisy_gd_options *options)
{
    cg_param_group g = cg__opt_one_group(params, n);
    return noisy_make(&g, 1, options, "cg_optim_noisy_gd_new");
}
