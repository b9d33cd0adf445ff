/*
 * What every optimizer shares: construction and validation, hyperparameters held as 0-d
 * tensors, the named state (save/load), the step loops of both modes, the fused elementwise
 * driver, and the helpers of the differentiable rules. The algorithms themselves are in
 * their family files; each fills one cg__opt_algo.
 */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "optimizer_impl.h"

/* ================= hyperparameters ================= */

/* PyTorch's wording for the commonest fields ("Invalid learning rate: -1"). */
static const char *hyper_label(const char *name)
{
    static const char *const labels[][2] = {
        {"lr", "learning rate"},      {"eps", "epsilon value"},
        {"beta1", "beta parameter at index 0"}, {"beta2", "beta parameter at index 1"},
        {"eta_minus", "eta value at index 0"},  {"eta_plus", "eta value at index 1"},
    };
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (!strcmp(labels[i][0], name))
            return labels[i][1];
    return NULL;
}

static const char *rule_text(cg__hyper_rule rule)
{
    switch (rule) {
    case CG__H_NONNEG: return "must be >= 0";
    case CG__H_BETA: return "must be in [0, 1)";
    case CG__H_UNIT: return "must be in [0, 1]";
    case CG__H_FINITE: return "must be finite";
    case CG__H_ETA_MINUS: return "must be in (0, 1)";
    case CG__H_ETA_PLUS: return "must be > 1";
    }
    return "";
}

static bool hyper_ok(cg__hyper_rule rule, double v)
{
    switch (rule) {
    case CG__H_NONNEG: return v >= 0 && v < INFINITY;
    case CG__H_BETA: return v >= 0 && v < 1;
    case CG__H_UNIT: return v >= 0 && v <= 1;
    case CG__H_FINITE: return isfinite(v);
    case CG__H_ETA_MINUS: return v > 0 && v < 1;
    case CG__H_ETA_PLUS: return v > 1 && v < INFINITY;
    }
    return false;
}

/* CG_OK, or CG_ERR_VALUE: "who: Invalid learning rate: -1 (lr must be >= 0)", in PyTorch's
 * words where it has them. */
static cg_status check_hyper(const char *who, const cg__opt_algo *algo, int k, double v)
{
    const cg__hyper_def *d = &algo->hypers[k];
    if (hyper_ok(d->rule, v))
        return CG_OK;
    const char *label = hyper_label(d->name);
    if (label)
        return cg__error(CG_ERR_VALUE, "%s: Invalid %s: %g (%s %s)", who, label, v, d->name,
                         rule_text(d->rule));
    return cg__error(CG_ERR_VALUE, "%s: Invalid %s value: %g (%s)", who, d->name, v,
                     rule_text(d->rule));
}

static int num_hypers(const cg__opt_algo *algo)
{
    int n = 0;
    while (algo->hypers[n].name)
        n++;
    return n;
}

static int find_hyper(const cg__opt_algo *algo, const char *name)
{
    for (int k = 0; name && algo->hypers[k].name; k++)
        if (!strcmp(algo->hypers[k].name, name))
            return k;
    return -1;
}

cg_status cg__opt_bad(const cg_optimizer *opt, const char *what, double v, const char *why)
{
    return cg__error(CG_ERR_VALUE, "%s: Invalid %s: %g (%s)", opt->who, what, v, why);
}

/* ================= construction ================= */

cg_param_group cg__opt_one_group(cg_tensor *const *params, int n)
{
    cg_param_group g = {params, n, NAN, NAN};
    return g;
}

/* A parameter the optimizer can update: a live, contiguous float leaf the caller owns. */
static cg_status check_param(const char *who, const cg_tensor *t, int g, int i)
{
    if (!t)
        return cg__error(CG_ERR_NULL, "%s: parameter %d of group %d is NULL", who, i, g);
    if (!cg__check_tensor(t, who))
        return cg_last_status();
    if (!cg__is_float(t->dtype))
        return cg__error(CG_ERR_DTYPE, "%s: parameter %d of group %d has dtype %s; optimizers "
                                       "update f32 or f64 tensors", who, i, g,
                         cg_dtype_name(t->dtype));
    if (t->node || t->pool)
        return cg__error(CG_ERR_STATE, "%s: parameter %d of group %d is not a leaf the caller "
                                       "owns (can't optimize a non-leaf Tensor)", who, i, g);
    if (!cg_tensor_is_contiguous(t))
        return cg__error(CG_ERR_VALUE, "%s: parameter %d of group %d is not contiguous", who,
                         i, g);
    return CG_OK;
}

/* Count the parameters and check them: none NULL, no duplicates, at least one. */
static cg_status check_groups(const char *who, const cg_param_group *groups, int ngroups,
                              int *total)
{
    *total = 0;
    if (ngroups < 0 || (ngroups > 0 && !groups))
        return cg__error(CG_ERR_VALUE, "%s: bad parameter group list (%d groups)", who, ngroups);
    for (int g = 0; g < ngroups; g++) {
        if (groups[g].nparams < 0 || (groups[g].nparams > 0 && !groups[g].params))
            return cg__error(CG_ERR_VALUE, "%s: group %d has a bad parameter list (%d)", who, g,
                             groups[g].nparams);
        for (int i = 0; i < groups[g].nparams; i++) {
            cg_status st = check_param(who, groups[g].params[i], g, i);
            if (st != CG_OK)
                return st;
        }
        *total += groups[g].nparams;
    }
    if (*total == 0)
        return cg__error(CG_ERR_VALUE, "%s: optimizer got an empty parameter list", who);
    /* Quadratic, but it runs once per optimizer over a parameter list. */
    for (int g = 0; g < ngroups; g++)
        for (int i = 0; i < groups[g].nparams; i++)
            for (int h = 0; h <= g; h++)
                for (int j = 0; j < (h == g ? i : groups[h].nparams); j++)
                    if (groups[h].params[j] == groups[g].params[i])
                        return cg__error(CG_ERR_VALUE, "%s: parameter %d of group %d is also "
                                                       "parameter %d of group %d (some parameters "
                                                       "appear in more than one parameter group)",
                                         who, i, g, j, h);
    return CG_OK;
}

/* The hyperparameters of group g: the options' values with the group's lr and weight
 * decay when given, validated. */
static cg_status group_hypers(const char *who, const cg__opt_algo *algo,
                              const cg_param_group *grp, int g, const double *hyper,
                              double *out)
{
    int n = num_hypers(algo);
    memcpy(out, hyper, sizeof *out * (size_t)n);
    if (!isnan(grp->lr))
        out[0] = grp->lr;
    if (!isnan(grp->weight_decay)) {
        if (algo->wd < 0)
            return cg__error(CG_ERR_VALUE, "%s: group %d sets weight_decay, which %s does not "
                                           "have (leave it NaN)", who, g, algo->name);
        out[algo->wd] = grp->weight_decay;
    }
    if (isnan(out[0]))
        return cg__error(CG_ERR_VALUE, "%s: lr is required (group %d has none, and %s has "
                                       "no default learning rate)", who, g, algo->name);
    for (int k = 0; k < n; k++) {
        cg_status st = check_hyper(who, algo, k, out[k]);
        if (st != CG_OK)
            return st;
    }
    return CG_OK;
}

int cg__opt_slot(cg_optimizer *opt, const char *name, bool buffer, double init)
{
    assert(opt->nslots < CG__OPT_MAX_SLOTS);
    int k = opt->nslots++;
    opt->slot_names[k] = name;
    opt->slot_buffer[k] = buffer;
    opt->slot_init[k] = init;
    return k;
}

int cg__opt_global(cg_optimizer *opt, const char *name, cg_tensor *t, bool count)
{
    assert(opt->nglobal < CG__OPT_MAX_GLOBAL);
    int k = opt->nglobal++;
    opt->global_names[k] = name;
    opt->global[k] = t;
    opt->global_count[k] = count;
    return k;
}

static bool add_entry(cg_optimizer *opt, const char *name, cg_tensor *t, int hyper, bool count)
{
    cg__opt_entry *e = &opt->entries[opt->nentries];
    if (!t || !(e->name = cg__strdup(name)))
        return false;
    e->t = t;
    e->hyper = hyper;
    e->count = count;
    opt->nentries++;
    return true;
}

/* Allocate every parameter's slots and name all entries: per parameter, then the
 * optimizer-wide ones, then the groups' hyperparameters. */
static bool make_state(cg_optimizer *opt)
{
    int nh = num_hypers(opt->algo);
    int n = opt->nparams * opt->nslots + opt->nglobal + opt->ngroups * nh;
    if (!(opt->entries = cg__calloc((size_t)n, sizeof *opt->entries)))
        return false;
    char name[96];
    for (int i = 0; i < opt->nparams; i++) {
        cg__opt_param *pp = &opt->params[i];
        for (int k = 0; k < opt->nslots; k++) {
            cg_tensor *p = pp->p;
            pp->slot[k] = opt->slot_buffer[k]
                              ? cg_tensor_full(p->dtype, p->ndim, p->shape, opt->slot_init[k])
                              : cg_tensor_scalar(CG_F64, opt->slot_init[k]);
            snprintf(name, sizeof name, "%d.%s", i, opt->slot_names[k]);
            if (!add_entry(opt, name, pp->slot[k], -1, k == CG__SLOT_STEP))
                return false;
        }
    }
    for (int k = 0; k < opt->nglobal; k++)
        if (!add_entry(opt, opt->global_names[k], opt->global[k], -1, opt->global_count[k]))
            return false;
    for (int g = 0; g < opt->ngroups; g++)
        for (int k = 0; k < nh; k++) {
            snprintf(name, sizeof name, "param_groups.%d.%s", g, opt->algo->hypers[k].name);
            if (!add_entry(opt, name, opt->groups[g].hyper[k], k, false))
                return false;
        }
    return true;
}

/* Groups with their hyperparameter tensors, and the flat parameter list. */
static cg_status make_groups(cg_optimizer *opt, const cg_param_group *groups, const double *hyper)
{
    int nh = num_hypers(opt->algo);
    if (!(opt->groups = cg__calloc((size_t)opt->ngroups, sizeof *opt->groups)) ||
        !(opt->params = cg__calloc((size_t)opt->nparams, sizeof *opt->params)))
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", opt->who);
    int i = 0;
    for (int g = 0; g < opt->ngroups; g++) {
        double h[CG__OPT_MAX_HYPER];
        cg_status st = group_hypers(opt->who, opt->algo, &groups[g], g, hyper, h);
        if (st != CG_OK)
            return st;
        for (int k = 0; k < nh; k++)
            if (!(opt->groups[g].hyper[k] = cg_tensor_scalar(CG_F64, h[k])))
                return cg_last_status();
        for (int j = 0; j < groups[g].nparams; j++, i++) {
            opt->params[i].p = groups[g].params[j];
            opt->params[i].group = g;
        }
    }
    return CG_OK;
}

cg_optimizer *cg__opt_new(const cg__opt_algo *algo, const char *who,
                          const cg_param_group *groups, int ngroups, const double *hyper,
                          const void *options, size_t options_size)
{
    int total;
    if (check_groups(who, groups, ngroups, &total) != CG_OK)
        return NULL;
    cg_optimizer *opt = cg__calloc(1, sizeof *opt);
    if (!opt) {
        cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
        return NULL;
    }
    opt->algo = algo;
    opt->who = who;
    memcpy(&opt->o, options, options_size);
    opt->ngroups = ngroups;
    opt->nparams = total;
    cg_status st = make_groups(opt, groups, hyper);
    if (st == CG_OK && algo->fused)
        cg__opt_slot(opt, "step", false, 0.0);
    if (st == CG_OK && algo->setup)
        st = algo->setup(opt);
    if (st == CG_OK && !make_state(opt))
        st = cg__error(CG_ERR_NOMEM, "%s: out of memory allocating the state", who);
    if (st != CG_OK) {
        cg_optim_free(opt);
        return NULL;
    }
    return opt;
}

void cg_optim_free(cg_optimizer *opt)
{
    if (!opt)
        return;
    if (opt->algo->free_ext)
        opt->algo->free_ext(opt);
    for (int e = 0; e < opt->nentries; e++)
        cg__free(opt->entries[e].name, strlen(opt->entries[e].name) + 1);
    cg__free(opt->entries, sizeof *opt->entries * (size_t)(opt->nparams * opt->nslots +
                                                            opt->nglobal +
                                                            opt->ngroups * num_hypers(opt->algo)));
    for (int i = 0; opt->params && i < opt->nparams; i++)
        for (int k = 0; k < opt->nslots; k++)
            cg_tensor_free(opt->params[i].slot[k]);
    for (int k = 0; k < opt->nglobal; k++)
        cg_tensor_free(opt->global[k]);
    for (int g = 0; opt->groups && g < opt->ngroups; g++)
        for (int k = 0; k < CG__OPT_MAX_HYPER; k++)
            cg_tensor_free(opt->groups[g].hyper[k]);
    cg__free(opt->params, sizeof *opt->params * (size_t)opt->nparams);
    cg__free(opt->groups, sizeof *opt->groups * (size_t)opt->ngroups);
    cg__free(opt, sizeof *opt);
}

/* ================= inspection and hyperparameters ================= */

static bool check_opt(const cg_optimizer *opt, const char *who)
{
    if (!opt)
        cg__error(CG_ERR_NULL, "%s: NULL optimizer", who);
    return opt != NULL;
}

static bool check_group(const cg_optimizer *opt, int group, const char *who)
{
    if (!check_opt(opt, who))
        return false;
    if (group < 0 || group >= opt->ngroups) {
        cg__error(CG_ERR_VALUE, "%s: %s has no group %d (it has %d)", who, opt->algo->name,
                  group, opt->ngroups);
        return false;
    }
    return true;
}

const char *cg_optim_name(const cg_optimizer *opt) { return opt ? opt->algo->name : ""; }
int cg_optim_num_groups(const cg_optimizer *opt) { return opt ? opt->ngroups : 0; }
int cg_optim_num_params(const cg_optimizer *opt) { return opt ? opt->nparams : 0; }

cg_tensor *cg_optim_param(const cg_optimizer *opt, int i, int *group)
{
    if (!check_opt(opt, "cg_optim_param"))
        return NULL;
    if (i < 0 || i >= opt->nparams) {
        cg__error(CG_ERR_VALUE, "cg_optim_param: no parameter %d (there are %d)", i,
                  opt->nparams);
        return NULL;
    }
    if (group)
        *group = opt->params[i].group;
    return opt->params[i].p;
}

double cg_optim_lr(const cg_optimizer *opt, int group)
{
    return check_group(opt, group, "cg_optim_lr") ? cg__hv(opt, group, 0) : NAN;
}

cg_tensor *cg_optim_hyper(const cg_optimizer *opt, int group, const char *name)
{
    if (!check_group(opt, group, "cg_optim_hyper"))
        return NULL;
    int k = find_hyper(opt->algo, name);
    if (k < 0) {
        cg__error(CG_ERR_VALUE, "cg_optim_hyper: %s has no hyperparameter \"%s\"",
                  opt->algo->name, name ? name : "(null)");
        return NULL;
    }
    return opt->groups[group].hyper[k];
}

cg_status cg_optim_set_hyper(cg_optimizer *opt, int group, const char *name, double value)
{
    cg_tensor *h = cg_optim_hyper(opt, group, name);
    if (!h)
        return cg_last_status();
    cg_status st = check_hyper("cg_optim_set_hyper", opt->algo, find_hyper(opt->algo, name),
                               value);
    if (st == CG_OK)
        cg__sv_set(h, value);
    return st;
}

cg_status cg_optim_set_lr(cg_optimizer *opt, int group, double lr)
{
    return cg_optim_set_hyper(opt, group, "lr", lr);
}

void cg_optim_zero_grad(cg_optimizer *opt, bool set_to_none)
{
    for (int i = 0; opt && i < opt->nparams; i++) {
        cg_tensor *p = opt->params[i].p;
        if (set_to_none)
            cg_tensor_zero_grad(p);
        else if (p->grad)
            cg_tensor_fill_(p->grad, 0.0);
    }
}

/* ================= state ================= */

int cg_optim_state_count(const cg_optimizer *opt) { return opt ? opt->nentries : 0; }

cg_tensor *cg_optim_state_get(const cg_optimizer *opt, int i, const char **name)
{
    if (!check_opt(opt, "cg_optim_state_get"))
        return NULL;
    if (i < 0 || i >= opt->nentries) {
        cg__error(CG_ERR_VALUE, "cg_optim_state_get: no entry %d (there are %d)", i,
                  opt->nentries);
        return NULL;
    }
    if (name)
        *name = opt->entries[i].name;
    return opt->entries[i].t;
}

static int find_entry(const cg_optimizer *opt, const char *name)
{
    for (int e = 0; e < opt->nentries; e++)
        if (!strcmp(opt->entries[e].name, name))
            return e;
    return -1;
}

/* Whether t can replace entry e: same shape and dtype, valid value. */
static cg_status check_entry(const cg_optimizer *opt, const cg__opt_entry *e, const cg_tensor *t)
{
    static const char *const who = "cg_optim_state_load";
    char a[96], b[96];
    if (!cg__check_tensor(t, who))
        return cg_last_status();
    if (t->dtype != e->t->dtype || t->ndim != e->t->ndim ||
        memcmp(t->shape, e->t->shape, sizeof(int64_t) * (size_t)t->ndim))
        return cg__error(CG_ERR_VALUE, "%s: %s: entry \"%s\" is %s %s but the optimizer's is "
                                       "%s %s", who, opt->algo->name, e->name,
                         cg_dtype_name(t->dtype), cg__shape_str(t->ndim, t->shape, a, sizeof a),
                         cg_dtype_name(e->t->dtype),
                         cg__shape_str(e->t->ndim, e->t->shape, b, sizeof b));
    if (e->hyper >= 0 || e->count) {
        double v = cg_tensor_item(t);
        if (e->hyper >= 0 && check_hyper(who, opt->algo, e->hyper, v) != CG_OK) {
            char why[256];
            snprintf(why, sizeof why, "%s", cg_last_error() + strlen(who) + 2);
            return cg__error(CG_ERR_VALUE, "%s: %s: entry \"%s\": %s", who, opt->algo->name,
                             e->name, why);
        }
        if (e->count && !(v >= 0 && v == floor(v) && v < 0x1p53))
            return cg__error(CG_ERR_VALUE, "%s: %s: entry \"%s\" holds %g, not a count", who,
                             opt->algo->name, e->name, v);
    }
    return CG_OK;
}

/* Validate all given entries; seen[e] marks the optimizer's entries they cover. */
static cg_status check_load(const cg_optimizer *opt, const char *const *names,
                            cg_tensor *const *tensors, int n, bool *seen)
{
    static const char *const who = "cg_optim_state_load";
    for (int i = 0; i < n; i++) {
        if (!names[i] || !tensors[i])
            return cg__error(CG_ERR_NULL, "%s: entry %d has a NULL name or tensor", who, i);
        int e = find_entry(opt, names[i]);
        if (e < 0)
            return cg__error(CG_ERR_VALUE, "%s: %s has no state entry \"%s\"", who,
                             opt->algo->name, names[i]);
        if (seen[e])
            return cg__error(CG_ERR_VALUE, "%s: entry \"%s\" given twice", who, names[i]);
        seen[e] = true;
        cg_status st = check_entry(opt, &opt->entries[e], tensors[i]);
        if (st != CG_OK)
            return st;
    }
    for (int e = 0; e < opt->nentries; e++)
        if (!seen[e])
            return cg__error(CG_ERR_VALUE, "%s: %s: state entry \"%s\" is missing", who,
                             opt->algo->name, opt->entries[e].name);
    return CG_OK;
}

cg_status cg_optim_state_load(cg_optimizer *opt, const char *const *names,
                              cg_tensor *const *tensors, int n)
{
    if (!check_opt(opt, "cg_optim_state_load"))
        return cg_last_status();
    if (n < 0 || (n > 0 && (!names || !tensors)))
        return cg__error(CG_ERR_NULL, "cg_optim_state_load: NULL names or tensors");
    bool *seen = cg__calloc((size_t)opt->nentries + 1, sizeof *seen);
    if (!seen)
        return cg__error(CG_ERR_NOMEM, "cg_optim_state_load: out of memory");
    cg_status st = check_load(opt, names, tensors, n, seen);
    cg__free(seen, ((size_t)opt->nentries + 1) * sizeof *seen);
    for (int i = 0; st == CG_OK && i < n; i++)
        st = cg_tensor_copy_(opt->entries[find_entry(opt, names[i])].t, tensors[i]);
    return st;
}

/* ================= the fused step ================= */

/* grad must match its parameter (the engine makes it so; a user may have replaced it). */
static cg_status check_grad(const cg_optimizer *opt, int i, const cg_tensor *p,
                            const cg_tensor *g, const char *who)
{
    if (!cg__check_tensor(g, who))
        return cg_last_status();
    if (g->dtype != p->dtype)
        return cg__error(CG_ERR_DTYPE, "%s: %s: the gradient of parameter %d is %s, the "
                                       "parameter %s", who, opt->algo->name, i,
                         cg_dtype_name(g->dtype), cg_dtype_name(p->dtype));
    if (g->ndim != p->ndim || memcmp(g->shape, p->shape, sizeof(int64_t) * (size_t)p->ndim))
        return cg__error(CG_ERR_SHAPE, "%s: %s: the gradient of parameter %d has another shape "
                                       "than the parameter", who, opt->algo->name, i);
    if (!cg_tensor_is_contiguous(g))
        return cg__error(CG_ERR_VALUE, "%s: %s: the gradient of parameter %d is not contiguous",
                         who, opt->algo->name, i);
    return CG_OK;
}

static cg_status step_params(cg_optimizer *opt)
{
    for (int i = 0; i < opt->nparams; i++) {
        cg__opt_param *pp = &opt->params[i];
        const cg_tensor *g = pp->p->grad;
        if (!g)
            continue;
        cg_status st = check_grad(opt, i, pp->p, g, "cg_optim_step");
        if (st == CG_OK)
            st = opt->algo->fused(opt, pp, g);
        if (st != CG_OK)
            return st;
    }
    return CG_OK;
}

cg_status cg_optim_step(cg_optimizer *opt)
{
    if (!check_opt(opt, "cg_optim_step"))
        return cg_last_status();
    if (opt->algo->step_all)
        return cg__error(CG_ERR_STATE, "cg_optim_step: %s re-evaluates the loss: call "
                                       "cg_optim_step_closure", opt->algo->name);
    return step_params(opt);
}

cg_status cg_optim_step_closure(cg_optimizer *opt, cg_closure_fn fn, void *ctx, double *loss)
{
    if (!check_opt(opt, "cg_optim_step_closure"))
        return cg_last_status();
    if (!fn)
        return cg__error(CG_ERR_NULL, "cg_optim_step_closure: NULL closure");
    if (opt->algo->step_all)
        return opt->algo->step_all(opt, fn, ctx, loss);
    /* PyTorch's closure runs with grad enabled, whatever the caller's mode. */
    bool prev = cg_set_grad_enabled(true);
    uint64_t errors = cg__error_count();
    double v = fn(ctx);
    cg_set_grad_enabled(prev);
    if (isnan(v) && cg__error_count() != errors)
        return cg_last_status();
    if (loss)
        *loss = v;
    return step_params(opt);
}

/* ================= the fused elementwise driver ================= */

/* f32 parameters of an algorithm without a float kernel go through stack chunks of doubles. */
enum { CHUNK_STAGED = 256, SPLIT_ALIGN = 64 };

typedef struct apply_job {
    cg__opt_param *pp;
    const cg_tensor *grad;
    cg_tensor *bt[CG__OPT_MAX_BUFS];
    int nbuf;
    cg__opt_kernels k;
    const void *coef;
} apply_job;

/* The f32 parameter's elements [lo, hi) converted to double, updated, rounded back once. */
static void run_staged(const apply_job *j, int64_t lo, int64_t hi)
{
    float *p = cg_tensor_data(j->pp->p);
    const float *g = cg_tensor_data(j->grad);
    for (int64_t i0 = lo; i0 < hi; i0 += CHUNK_STAGED) {
        int64_t m = hi - i0 < CHUNK_STAGED ? hi - i0 : CHUNK_STAGED;
        double dp[CHUNK_STAGED], dg[CHUNK_STAGED], db[CG__OPT_MAX_BUFS][CHUNK_STAGED];
        double *bc[CG__OPT_MAX_BUFS];
        float *b[CG__OPT_MAX_BUFS];
        for (int64_t k = 0; k < m; k++) {
            dp[k] = p[i0 + k];
            dg[k] = g[i0 + k];
        }
        for (int jb = 0; jb < j->nbuf; jb++) {
            b[jb] = (float *)cg_tensor_data(j->bt[jb]) + i0;
            bc[jb] = db[jb];
            for (int64_t k = 0; k < m; k++)
                db[jb][k] = b[jb][k];
        }
        j->k.f64(j->coef, i0, m, dp, dg, bc);
        for (int64_t k = 0; k < m; k++)
            p[i0 + k] = (float)dp[k];
        for (int jb = 0; jb < j->nbuf; jb++)
            for (int64_t k = 0; k < m; k++)
                b[jb][k] = (float)db[jb][k];
    }
}

/* Elements [lo, hi): in place with the kernel of the parameter's dtype. */
static void run_range(const apply_job *j, int64_t lo, int64_t hi)
{
    const cg_tensor *p = j->pp->p;
    if (p->dtype == CG_F64) {
        double *b[CG__OPT_MAX_BUFS];
        for (int jb = 0; jb < j->nbuf; jb++)
            b[jb] = (double *)cg_tensor_data(j->bt[jb]) + lo;
        j->k.f64(j->coef, lo, hi - lo, (double *)cg_tensor_data(p) + lo,
                 (const double *)cg_tensor_data(j->grad) + lo, b);
    } else if (j->k.f32) {
        float *b[CG__OPT_MAX_BUFS];
        for (int jb = 0; jb < j->nbuf; jb++)
            b[jb] = (float *)cg_tensor_data(j->bt[jb]) + lo;
        j->k.f32(j->coef, lo, hi - lo, (float *)cg_tensor_data(p) + lo,
                 (const float *)cg_tensor_data(j->grad) + lo, b);
    } else {
        run_staged(j, lo, hi);
    }
}

void cg__opt_apply(cg__opt_param *pp, const cg_tensor *grad, const int *buf_slots, int nbuf,
                   cg__opt_kernels kernels, const void *coef, int64_t work)
{
    assert(nbuf <= CG__OPT_MAX_BUFS);
    apply_job j = {pp, grad, {NULL}, nbuf, kernels, coef};
    for (int jb = 0; jb < nbuf; jb++)
        j.bt[jb] = pp->slot[buf_slots[jb]];
    int64_t n = cg_tensor_numel(pp->p);
    int threads = cg__threads_for(n, work);
    /* One thread: no OpenMP region (libgomp would allocate a team for it). Several: one
     * range per thread, its bounds a function of n and the thread count only, though the
     * kernels compute each element the same way wherever the bounds fall. */
    if (threads <= 1) {
        run_range(&j, 0, n);
    } else {
        int64_t per = (n + threads - 1) / threads;
        per = (per + SPLIT_ALIGN - 1) / SPLIT_ALIGN * SPLIT_ALIGN;
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int t = 0; t < threads; t++) {
            int64_t lo = t * per, hi = lo + per < n ? lo + per : n;
            if (lo < hi)
                run_range(&j, lo, hi);
        }
    }
    cg__bump_version(pp->p);
    for (int jb = 0; jb < nbuf; jb++)
        cg__bump_version(j.bt[jb]);
}

/* ================= the differentiable step ================= */

/* A tape copy of an owned state tensor, in dtype. */
static cg_tensor *copy_as(cg_tensor *t, cg_dtype dtype)
{
    return t->dtype == dtype ? cg_contiguous(t) : cg_to_dtype(t, dtype);
}

/* Start the differentiable state from copies of the fused one, in the parameters' dtypes. */
static cg_status start_diff(cg_optimizer *opt)
{
    for (int i = 0; i < opt->nparams; i++) {
        cg__opt_param *pp = &opt->params[i];
        pp->dstep = opt->nslots ? cg__sv(pp->slot[CG__SLOT_STEP]) : 0;
        for (int k = 1; k < opt->nslots; k++) {
            pp->dslot[k] = copy_as(pp->slot[k], pp->p->dtype);
            if (!pp->dslot[k])
                return cg_last_status();
        }
    }
    opt->diff_live = true;
    return CG_OK;
}

void cg_optim_diff_reset(cg_optimizer *opt)
{
    if (!opt)
        return;
    for (int i = 0; i < opt->nparams; i++)
        memset(opt->params[i].dslot, 0, sizeof opt->params[i].dslot);
    if (opt->algo->diff_reset)
        opt->algo->diff_reset(opt);
    opt->diff_live = false;
}

static cg_status check_diff_args(const cg_optimizer *opt, cg_tensor *const *params,
                                 cg_tensor *const *grads, cg_tensor **new_params)
{
    static const char *const who = "cg_optim_diff_step";
    if (!params || !grads || !new_params)
        return cg__error(CG_ERR_NULL, "%s: NULL array", who);
    for (int i = 0; i < opt->nparams; i++) {
        const cg_tensor *p = params[i], *ref = opt->params[i].p;
        if (!p)
            return cg__error(CG_ERR_NULL, "%s: %s: params[%d] is NULL", who, opt->algo->name, i);
        if (!cg__check_tensor(p, who))
            return cg_last_status();
        if (p->dtype != ref->dtype || p->ndim != ref->ndim ||
            memcmp(p->shape, ref->shape, sizeof(int64_t) * (size_t)p->ndim))
            return cg__error(CG_ERR_SHAPE, "%s: %s: params[%d] differs in shape or dtype from "
                                           "parameter %d", who, opt->algo->name, i, i);
        if (grads[i]) {
            if (!cg__check_tensor(grads[i], who))
                return cg_last_status();
            if (grads[i]->dtype != p->dtype || grads[i]->ndim != p->ndim ||
                memcmp(grads[i]->shape, p->shape, sizeof(int64_t) * (size_t)p->ndim))
                return cg__error(CG_ERR_SHAPE, "%s: %s: grads[%d] differs in shape or dtype "
                                               "from its parameter", who, opt->algo->name, i);
        }
    }
    return CG_OK;
}

/* Parameter i's rule; its new state replaces the old only when the rule succeeds. */
static cg_status diff_param(cg_optimizer *opt, int i, cg_tensor *p, cg_tensor *g,
                            cg_tensor **out)
{
    cg__opt_param *pp = &opt->params[i];
    cg_tensor *s[CG__OPT_MAX_SLOTS];
    memcpy(s, pp->dslot, sizeof s);
    cg__rule r = {opt, pp->group, p, g, s, pp->dstep + 1, i, NULL};
    uint64_t errors = cg__error_count();
    cg_status st = opt->algo->rule(&r);
    bool ok = st == CG_OK && r.out && cg__error_count() == errors;
    for (int k = 1; k < opt->nslots; k++)
        ok = ok && s[k];
    if (!ok)
        return st != CG_OK ? st : cg_last_status();
    memcpy(pp->dslot, s, sizeof s);
    pp->dstep += 1;
    *out = r.out;
    return CG_OK;
}

static cg_status diff_params(cg_optimizer *opt, cg_tensor *const *params,
                             cg_tensor *const *grads, cg_tensor **new_params)
{
    for (int i = 0; i < opt->nparams; i++) {
        new_params[i] = params[i];
        if (!grads[i])
            continue;
        cg_status st = diff_param(opt, i, params[i], grads[i], &new_params[i]);
        if (st != CG_OK)
            return st;
    }
    return CG_OK;
}

cg_status cg_optim_diff_step(cg_optimizer *opt, cg_tensor *const *params,
                             cg_tensor *const *grads, cg_tensor **new_params)
{
    if (!check_opt(opt, "cg_optim_diff_step"))
        return cg_last_status();
    cg_status st = check_diff_args(opt, params, grads, new_params);
    if (st != CG_OK)
        return st;
    if ((st = cg_tape_push_scope("optim")) != CG_OK)
        return st;
    if (!opt->diff_live)
        st = start_diff(opt);
    if (st == CG_OK)
        st = opt->algo->diff_all ? opt->algo->diff_all(opt, params, grads, new_params)
                                 : diff_params(opt, params, grads, new_params);
    cg_tape_pop_scope();
    return st;
}

/* ================= helpers of the rules ================= */

cg_tensor *cg__rule_hyper(const cg__rule *r, int k)
{
    cg_tensor *h = r->opt->groups[r->group].hyper[k];
    return r->p->dtype == CG_F64 ? h : cg_to_dtype(h, r->p->dtype);
}

bool cg__rule_active(const cg__rule *r, int k)
{
    cg_tensor *h = r->opt->groups[r->group].hyper[k];
    return cg__sv(h) != 0 || h->requires_grad;
}

cg_tensor *cg__rule_grad(const cg__rule *r, bool maximize, bool l2)
{
    cg_tensor *g = maximize ? cg_neg(r->g) : r->g;
    int wd = r->opt->algo->wd;
    if (l2 && wd >= 0 && cg__rule_active(r, wd))
        g = cg_add(g, cg_mul(r->p, cg__rule_hyper(r, wd)));
    return g;
}

cg_tensor *cg__rule_one_minus(cg_tensor *x) { return cg_add_scalar(cg_neg(x), 1.0); }

cg_tensor *cg__rule_lerp(cg_tensor *s, cg_tensor *beta, cg_tensor *x)
{
    return cg_add(cg_mul(s, beta), cg_mul(x, cg__rule_one_minus(beta)));
}

cg_tensor *cg__opt_tape_full(cg_dtype dtype, int ndim, const int64_t *shape, double v)
{
    cg_tape *tape = cg__tape_require("optimizer rule");
    cg_tensor *t = tape ? cg__tensor_alloc(tape->pool, dtype, ndim, shape) : NULL;
    int64_t n = t ? cg_tensor_numel(t) : 0;
    for (int64_t i = 0; i < n; i++)
        cg__store(t, i, v);
    return t;
}

cg_tensor *cg__rule_const(const cg__rule *r, double v)
{
    return cg__opt_tape_full(r->p->dtype, 0, NULL, v);
}
