/*
 * Regularization and training helpers: penalties built from ops (so they differentiate
 * like any loss term), decoupled weight decay and gradient clipping (in place, outside the
 * tape, like PyTorch's torch.no_grad helpers), and early stopping.
 */
#include <math.h>
#include <string.h>

#include "core.h"
#include "cgrad/optim.h"

/* ---- elementwise helpers for in-place changes ---- */

/* Storage index of logical element i; contiguous tensors skip the index arithmetic. */
static int64_t elem(const cg_tensor *t, bool flat, int64_t i)
{
    return flat ? t->offset + i : cg__storage_index(t, i);
}

/* t *= c. For f32 the factor is rounded to f32 first, as PyTorch's mul_ by a Python float;
 * the double product of two floats is exact, so storing it rounds once, like an f32 multiply. */
static void scale_(cg_tensor *t, double c)
{
    bool flat = cg_tensor_is_contiguous(t);
    int64_t n = cg_tensor_numel(t);
    if (t->dtype == CG_F32)
        c = (double)(float)c;
    for (int64_t i = 0; i < n; i++) {
        int64_t k = elem(t, flat, i);
        cg__store(t, k, cg__load(t, k) * c);
    }
    cg__bump_version(t);
}

/* t = clamp(t, -c, c), NaN kept (as torch.clamp_). */
static void clamp_(cg_tensor *t, double c)
{
    bool flat = cg_tensor_is_contiguous(t);
    int64_t n = cg_tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        int64_t k = elem(t, flat, i);
        double v = cg__load(t, k);
        cg__store(t, k, v < -c ? -c : v > c ? c : v);
    }
    cg__bump_version(t);
}

/* Combine one more norm (or element magnitude) x into acc for the p-norm: max for p = inf
 * (NaN sticks, as torch.max), else the sum of x^p. */
static double norm_acc(double acc, double x, double p)
{
    if (isinf(p) && isnan(acc))
        return acc;
    if (isinf(p))
        return isnan(x) || x > acc ? x : acc;
    return acc + (p == 2 ? x * x : p == 1 ? x : pow(x, p));
}

/* The p-norm from its accumulator. */
static double norm_finish(double acc, double p)
{
    return isinf(p) || p == 1 ? acc : p == 2 ? sqrt(acc) : pow(acc, 1 / p);
}

/* p-norm of all elements of t (torch.norm(t, p)). */
static double tensor_norm(const cg_tensor *t, double p)
{
    bool flat = cg_tensor_is_contiguous(t);
    int64_t n = cg_tensor_numel(t);
    double acc = 0;
    for (int64_t i = 0; i < n; i++)
        acc = norm_acc(acc, fabs(cg__load(t, elem(t, flat, i))), p);
    return norm_finish(acc, p);
}

/* The norm of the per-tensor norms of the gradients (clip_grad_norm_'s total norm). */
static double total_grad_norm(cg_tensor *const *params, int n, double p)
{
    double acc = 0;
    for (int i = 0; i < n; i++) {
        const cg_tensor *g = cg_tensor_grad(params[i]);
        if (g)
            acc = norm_acc(acc, tensor_norm(g, p), p);
    }
    return norm_finish(acc, p);
}

/* ---- argument checks ---- */

static bool check_nonneg(const char *who, const char *name, double v)
{
    if (isfinite(v) && v >= 0)
        return true;
    cg__error(CG_ERR_VALUE, "%s: %s must be finite and >= 0 (got %g)", who, name, v);
    return false;
}

/* params[0..n) are live tensors (n >= min_n); with same_float, float tensors of one dtype. */
static bool check_params(const char *who, cg_tensor *const *params, int n, int min_n,
                         bool same_float)
{
    if (n < min_n || (n > 0 && !params)) {
        cg__error(CG_ERR_VALUE, "%s: needs %s%d parameter tensors (got %d%s)", who,
                  min_n ? "at least " : "", min_n, n, n > 0 ? " and a NULL array" : "");
        return false;
    }
    for (int i = 0; i < n; i++) {
        if (!cg__check_tensor(params[i], who))
            return false;
        cg_dtype d = params[i]->dtype;
        if (!cg__is_float(d) || (same_float && d != params[0]->dtype)) {
            cg__error(CG_ERR_DTYPE, "%s: params[%d] is %s; parameters must be f32/f64%s", who, i,
                      cg_dtype_name(d), same_float ? " of one dtype" : "");
            return false;
        }
    }
    return true;
}

/* ---- penalties ---- */

typedef enum penalty_kind { PENALTY_L1, PENALTY_L2 } penalty_kind;

/* sum_i sum |w_i| or sum_i sum w_i^2, recorded on the active tape. */
static cg_tensor *penalty_sum(cg_tensor *const *params, int n, penalty_kind kind)
{
    cg_tensor *total = NULL;
    for (int i = 0; i < n; i++) {
        cg_tensor *w = params[i];
        cg_tensor *term = cg_sum(kind == PENALTY_L1 ? cg_abs(w) : cg_mul(w, w), NULL, 0, false);
        total = i == 0 ? term : cg_add(total, term); /* a NULL anywhere stays NULL */
    }
    return total;
}

cg_tensor *cg_l2_penalty(cg_tensor *const *params, int n, double lambda)
{
    const char *who = "cg_l2_penalty";
    if (!check_nonneg(who, "lambda", lambda) || !check_params(who, params, n, 1, true))
        return NULL;
    return cg_mul_scalar(penalty_sum(params, n, PENALTY_L2), lambda / 2);
}

cg_tensor *cg_l1_penalty(cg_tensor *const *params, int n, double lambda)
{
    const char *who = "cg_l1_penalty";
    if (!check_nonneg(who, "lambda", lambda) || !check_params(who, params, n, 1, true))
        return NULL;
    return cg_mul_scalar(penalty_sum(params, n, PENALTY_L1), lambda);
}

cg_tensor *cg_elastic_net_penalty(cg_tensor *const *params, int n, double l1, double l2)
{
    const char *who = "cg_elastic_net_penalty";
    if (!check_nonneg(who, "l1", l1) || !check_nonneg(who, "l2", l2) ||
        !check_params(who, params, n, 1, true))
        return NULL;
    return cg_add(cg_mul_scalar(penalty_sum(params, n, PENALTY_L1), l1),
                  cg_mul_scalar(penalty_sum(params, n, PENALTY_L2), l2 / 2));
}

/* ---- weight decay and clipping ---- */

cg_status cg_decoupled_weight_decay_(cg_tensor *const *params, int n, double lr,
                                     double weight_decay)
{
    const char *who = "cg_decoupled_weight_decay_";
    if (!check_nonneg(who, "lr", lr) || !check_nonneg(who, "weight_decay", weight_decay) ||
        !check_params(who, params, n, 0, false))
        return cg_last_status();
    double factor = 1 - lr * weight_decay; /* AdamW: param.mul_(1 - lr * weight_decay) */
    for (int i = 0; i < n; i++)
        scale_(params[i], factor);
    return CG_OK;
}

cg_status cg_clip_grad_norm(cg_tensor *const *params, int n, double max_norm, double norm_type,
                            double *total_norm)
{
    const char *who = "cg_clip_grad_norm";
    if (!check_nonneg(who, "max_norm", max_norm) || !check_params(who, params, n, 0, false))
        return cg_last_status();
    if (!(norm_type > 0))
        return cg__error(CG_ERR_VALUE, "%s: norm_type must be > 0 or INFINITY (got %g)", who,
                         norm_type);
    double total = total_grad_norm(params, n, norm_type);
    double coef = max_norm / (total + 1e-6);
    if (coef > 1.0) /* torch.clamp(max=1.0): NaN stays NaN */
        coef = 1.0;
    for (int i = 0; coef != 1.0 && i < n; i++)
        if (cg_tensor_grad(params[i]))
            scale_(cg_tensor_grad(params[i]), coef);
    if (total_norm)
        *total_norm = total;
    return CG_OK;
}

cg_status cg_clip_grad_value(cg_tensor *const *params, int n, double clip_value,
                             double *total_norm)
{
    const char *who = "cg_clip_grad_value";
    if (!check_nonneg(who, "clip_value", clip_value) || !check_params(who, params, n, 0, false))
        return cg_last_status();
    if (total_norm)
        *total_norm = total_grad_norm(params, n, 2);
    for (int i = 0; i < n; i++)
        if (cg_tensor_grad(params[i]))
            clamp_(cg_tensor_grad(params[i]), clip_value);
    return CG_OK;
}

/* ---- early stopping ---- */

struct cg_early_stopping {
    cg_metric_mode mode;
    int64_t patience;
    double min_delta;
    double best;
    int64_t best_update; /* -1 before the first improvement */
    int64_t bad;         /* updates in a row without improvement */
    int64_t updates;
    bool improved;
    int nparams;      /* tensors per update, fixed by the first update (-1 before it) */
    cg_tensor **snap; /* copies of the best parameters (nparams of them), NULL until taken */
};

cg_early_stopping *cg_early_stopping_new(cg_metric_mode mode, int64_t patience, double min_delta)
{
    const char *who = "cg_early_stopping_new";
    if ((unsigned)mode > CG_METRIC_MAX || patience < 1) {
        cg__error(CG_ERR_VALUE, "%s: %s", who,
                  patience < 1 ? "patience must be >= 1" : "unknown metric mode");
        return NULL;
    }
    if (!check_nonneg(who, "min_delta", min_delta))
        return NULL;
    cg_early_stopping *es = cg__calloc(1, sizeof *es);
    if (!es) {
        cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
        return NULL;
    }
    *es = (cg_early_stopping){.mode = mode, .patience = patience, .min_delta = min_delta,
                              .best = mode == CG_METRIC_MIN ? INFINITY : -INFINITY,
                              .best_update = -1, .nparams = -1};
    return es;
}

/* Free an array of n snapshots (NULL entries allowed). */
static void free_snapshots(cg_tensor **snap, int n)
{
    for (int i = 0; i < n; i++)
        cg_tensor_free(snap[i]);
    cg__free(snap, sizeof(cg_tensor *) * (size_t)n);
}

/* params match the tensors of earlier updates: count, and shapes and dtypes of the
 * snapshots when there are some. */
static bool params_match(const cg_early_stopping *es, cg_tensor *const *params, int n,
                         const char *who)
{
    if (!check_params(who, params, n, 0, false))
        return false;
    if (es->nparams >= 0 && n != es->nparams) {
        cg__error(CG_ERR_SHAPE, "%s: got %d parameter tensors, earlier updates had %d", who, n,
                  es->nparams);
        return false;
    }
    for (int i = 0; es->snap && i < n; i++) {
        const cg_tensor *p = params[i], *q = es->snap[i];
        if (p->dtype != q->dtype) {
            cg__error(CG_ERR_DTYPE, "%s: params[%d] is %s, its snapshot %s", who, i,
                      cg_dtype_name(p->dtype), cg_dtype_name(q->dtype));
            return false;
        }
        if (p->ndim != q->ndim || memcmp(p->shape, q->shape, sizeof(int64_t) * (size_t)p->ndim)) {
            char a[96], b[96];
            cg__error(CG_ERR_SHAPE, "%s: params[%d] has shape %s, its snapshot %s", who, i,
                      cg__shape_str(p->ndim, p->shape, a, sizeof a),
                      cg__shape_str(q->ndim, q->shape, b, sizeof b));
            return false;
        }
    }
    return true;
}

/* Copy params into the snapshots, making them on the first improvement. */
static cg_status snapshot(cg_early_stopping *es, cg_tensor *const *params, int n)
{
    if (es->snap) {
        for (int i = 0; i < n; i++)
            cg_tensor_copy_(es->snap[i], params[i]); /* shapes checked: cannot fail */
        return CG_OK;
    }
    cg_tensor **snap = cg__calloc((size_t)n, sizeof *snap);
    for (int i = 0; snap && i < n; i++) {
        snap[i] = cg_tensor_clone(params[i]);
        if (!snap[i]) {
            free_snapshots(snap, n);
            snap = NULL;
        }
    }
    if (!snap)
        return cg__error(CG_ERR_NOMEM, "cg_early_stopping_update: out of memory for snapshots");
    es->snap = snap;
    return CG_OK;
}

cg_status cg_early_stopping_update(cg_early_stopping *es, double metric, cg_tensor *const *params,
                                   int n, bool *stop)
{
    const char *who = "cg_early_stopping_update";
    if (!es)
        return cg__error(CG_ERR_NULL, "%s: NULL tracker", who);
    if (!params_match(es, params, n, who))
        return cg_last_status();
    bool better = es->mode == CG_METRIC_MIN ? metric < es->best - es->min_delta
                                            : metric > es->best + es->min_delta;
    if (better && n > 0 && snapshot(es, params, n) != CG_OK)
        return cg_last_status();
    es->nparams = n;
    es->improved = better;
    if (better) {
        es->best = metric;
        es->best_update = es->updates;
        es->bad = 0;
    } else {
        es->bad++;
    }
    es->updates++;
    if (stop)
        *stop = cg_early_stopping_should_stop(es);
    return CG_OK;
}

bool cg_early_stopping_should_stop(const cg_early_stopping *es)
{
    return es && es->bad >= es->patience;
}

bool cg_early_stopping_improved(const cg_early_stopping *es) { return es && es->improved; }

double cg_early_stopping_best(const cg_early_stopping *es) { return es ? es->best : NAN; }

int64_t cg_early_stopping_best_update(const cg_early_stopping *es)
{
    return es ? es->best_update : -1;
}

int64_t cg_early_stopping_bad_updates(const cg_early_stopping *es) { return es ? es->bad : 0; }

cg_status cg_early_stopping_restore(const cg_early_stopping *es, cg_tensor *const *params, int n)
{
    const char *who = "cg_early_stopping_restore";
    if (!es)
        return cg__error(CG_ERR_NULL, "%s: NULL tracker", who);
    if (!es->snap)
        return cg__error(CG_ERR_STATE, "%s: no parameters were saved yet (no update improved "
                                       "with parameters given)", who);
    if (!params_match(es, params, n, who))
        return cg_last_status();
    for (int i = 0; i < n; i++)
        cg_tensor_copy_(params[i], es->snap[i]);
    return CG_OK;
}

void cg_early_stopping_free(cg_early_stopping *es)
{
    if (!es)
        return;
    if (es->snap)
        free_snapshots(es->snap, es->nparams);
    cg__free(es, sizeof *es);
}
