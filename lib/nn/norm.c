/* Normalizations, as torch.nn.functional computes them: batch, layer, group and instance
 * normalization, plus dataset statistics and standardization.
 *
 * Batch norm in training is the fused ops of batch_norm.c: statistics in one pass over x,
 * y = x alpha + beta in another (alpha = w / sqrt(var + eps), beta = b - mean alpha per
 * channel, PyTorch's CPU form and rounding), and PyTorch's closed-form backward in two.
 * The others, and batch norm in evaluation, are compositions of differentiable ops (mean,
 * biased var, rsqrt and broadcasting arithmetic); instance norm in the same affine form.
 * Gradients of gradients work through all of them.
 *
 * Running statistics are updated in place with grad mode off, so they never become inputs
 * of recorded ops in training mode and a later update cannot invalidate a backward pass.
 * In evaluation mode the graph uses a copy of them taken at the call (see nn.h).
 */
#include <math.h>
#include <string.h>

#include "cgrad/nn.h"
#include "op.h"

/* ---- checks ---- */

/* x: live, float, at least min_ndim dimensions ([N, C, ...]). */
static bool check_input(const char *op, cg_tensor *x, int min_ndim)
{
    if (!cg__check_tensor(x, op) || !cg__check_float_dtypes(op, &x, 1))
        return false;
    if (x->ndim >= min_ndim)
        return true;
    char s[160];
    cg__error(CG_ERR_SHAPE, "%s: input shape %s has fewer than %d dimensions", op,
              cg__shape_str(x->ndim, x->shape, s, sizeof s), min_ndim);
    return false;
}

/* An optional tensor of x's dtype and the given shape. */
static bool check_param(const char *op, const char *what, const cg_tensor *p,
                        const cg_tensor *x, int ndim, const int64_t *shape)
{
    if (!p)
        return true;
    if (!cg__check_tensor(p, op))
        return false;
    if (p->dtype != x->dtype) {
        cg__error(CG_ERR_DTYPE, "%s: %s has dtype %s; expected the input's %s", op, what,
                  cg_dtype_name(p->dtype), cg_dtype_name(x->dtype));
        return false;
    }
    if (p->ndim == ndim && !memcmp(p->shape, shape, sizeof(int64_t) * (size_t)ndim))
        return true;
    char sp[160], se[160], sx[160];
    cg__error(CG_ERR_SHAPE, "%s: %s has shape %s; expected %s for input shape %s", op, what,
              cg__shape_str(p->ndim, p->shape, sp, sizeof sp),
              cg__shape_str(ndim, shape, se, sizeof se),
              cg__shape_str(x->ndim, x->shape, sx, sizeof sx));
    return false;
}

/* weight, bias, running_mean, running_var: each NULL or [C]; the running pair together. */
static bool check_channel_params(const char *op, const cg_tensor *x, const cg_tensor *rm,
                                 const cg_tensor *rv, const cg_tensor *w, const cg_tensor *b)
{
    const int64_t *c = &x->shape[1];
    if (!check_param(op, "running_mean", rm, x, 1, c) ||
        !check_param(op, "running_var", rv, x, 1, c) || !check_param(op, "weight", w, x, 1, c) ||
        !check_param(op, "bias", b, x, 1, c))
        return false;
    if ((rm == NULL) == (rv == NULL))
        return true;
    cg__error(CG_ERR_VALUE, "%s: running_mean and running_var must be given together", op);
    return false;
}

/* PyTorch refuses to normalise a single value per statistic in training (the variance of
 * one value is 0 and the unbiased one undefined). */
static bool check_count(const char *op, const cg_tensor *x, int64_t count, const char *what)
{
    if (count != 1)
        return true;
    char s[160];
    cg__error(CG_ERR_VALUE, "%s: expected more than 1 %s when training, got input of shape %s",
              op, what, cg__shape_str(x->ndim, x->shape, s, sizeof s));
    return false;
}

/* ---- shared pieces ---- */

cg_tensor *cg__channel_view(cg_tensor *p, int ndim)
{
    if (!p)
        return NULL;
    int64_t shape[CG_MAX_DIMS];
    for (int d = 0; d < ndim; d++)
        shape[d] = d == 1 ? p->shape[0] : 1;
    return cg_reshape(p, ndim, shape);
}

int cg__axes_from(int first, int ndim, bool skip1, int *axes)
{
    int n = 0;
    for (int d = first; d < ndim; d++)
        if (!(skip1 && d == 1))
            axes[n++] = d;
    return n;
}

/* y = x alpha + beta, alpha = invstd w, beta = b - mean alpha, all broadcast against x. */
static cg_tensor *apply_affine(cg_tensor *x, cg_tensor *mean, cg_tensor *invstd, cg_tensor *w,
                               cg_tensor *b)
{
    cg_tensor *alpha = w ? cg_mul(invstd, cg__channel_view(w, x->ndim)) : invstd;
    cg_tensor *m_alpha = cg_mul(mean, alpha);
    cg_tensor *beta = b ? cg_sub(cg__channel_view(b, x->ndim), m_alpha) : cg_neg(m_alpha);
    return cg_add(cg_mul(x, alpha), beta);
}

/* Running statistics as the graph sees them in evaluation mode: copies on the tape, so a
 * later in-place update cannot change or invalidate what backward reads. */
static cg_tensor *snapshot(cg_tensor *stat, int ndim)
{
    return cg__channel_view(cg_contiguous(stat), ndim);
}

/* 1 / sqrt(v + eps) */
static cg_tensor *inv_std(cg_tensor *var, double eps)
{
    return cg_rsqrt(cg_add_scalar(var, eps));
}

/* running = (1 - m) running + m stat, with grad mode off so nothing is recorded. The stats
 * are [C], or [N, C] per instance: then, as PyTorch's instance_norm, each instance updates
 * its own copy of the running value and the copies are averaged. */
static bool update_running(cg_tensor *rm, cg_tensor *rv, cg_tensor *mean, cg_tensor *uvar,
                           double momentum)
{
    bool prev = cg_set_grad_enabled(false);
    cg_tensor *nm = cg_add(cg_mul_scalar(mean, momentum), cg_mul_scalar(rm, 1 - momentum));
    cg_tensor *nv = cg_add(cg_mul_scalar(uvar, momentum), cg_mul_scalar(rv, 1 - momentum));
    if (nm && nm->ndim == 2) {
        int axis = 0;
        nm = cg_mean(nm, &axis, 1, false);
        nv = cg_mean(nv, &axis, 1, false);
    }
    bool ok = nm && nv && cg_tensor_copy_(rm, nm) == CG_OK && cg_tensor_copy_(rv, nv) == CG_OK;
    cg_set_grad_enabled(prev);
    return ok;
}

/* Normalise x with statistics over axes (keepdim, so they broadcast), update the running
 * statistics (shaped like stat_shape) if given, and apply the affine form. */
static cg_tensor *normalize_train(cg_tensor *x, const int *axes, int naxes, cg_tensor *rm,
                                  cg_tensor *rv, cg_tensor *w, cg_tensor *b, double momentum,
                                  double eps, int stat_ndim)
{
    cg_tensor *mean = cg_mean(x, axes, naxes, true);
    cg_tensor *invstd = inv_std(cg_var(x, axes, naxes, 0, true), eps);
    if (rm && mean) {
        bool prev = cg_set_grad_enabled(false);
        cg_tensor *uvar = cg_var(x, axes, naxes, 1, false);
        cg_tensor *m = cg_reshape(mean, stat_ndim, x->shape + (stat_ndim == 1 ? 1 : 0));
        cg_set_grad_enabled(prev);
        if (!update_running(rm, rv, m, uvar, momentum))
            return NULL;
    }
    return apply_affine(x, mean, invstd, w, b);
}

static cg_tensor *normalize_eval(cg_tensor *x, cg_tensor *rm, cg_tensor *rv, cg_tensor *w,
                                 cg_tensor *b, double eps)
{
    return apply_affine(x, snapshot(rm, x->ndim), inv_std(snapshot(rv, x->ndim), eps), w, b);
}

/* ---- batch and instance normalization ---- */

/* Row i of a [rows, C] tensor, as [C]. */
static cg_tensor *stat_row(cg_tensor *t, int i)
{
    return cg_squeeze(cg_slice(t, 0, i, i + 1, 1), 0);
}

/* A [C] constant of x's dtype standing in for an absent weight or bias. */
static cg_tensor *filled(const cg_tensor *x, double v)
{
    return cg_expand(cg__const(x->dtype, v), 1, &x->shape[1]);
}

/* The fused ops: statistics (which also feed the running ones), then the affine form. */
static cg_tensor *batch_norm_train(cg_tensor *x, cg_tensor *rm, cg_tensor *rv, cg_tensor *w,
                                   cg_tensor *b, double momentum, double eps)
{
    if (!cg__batch_norm_layout_ok(x))
        x = cg_contiguous(x);
    cg__attrs at;
    memset(&at, 0, sizeof at);
    at.f[0] = eps;
    cg_tensor *stats = x ? cg__apply(CG_OP_BATCH_NORM_STATS, &x, 1, &at) : NULL;
    if (!stats)
        return NULL;
    if (rm && !update_running(rm, rv, stat_row(stats, 0), stat_row(stats, 2), momentum))
        return NULL;
    cg_tensor *in[4] = {x, stats, w ? w : filled(x, 1.0), b ? b : filled(x, 0.0)};
    if (!in[2] || !in[3])
        return NULL;
    return cg__apply(CG_OP_BATCH_NORM, in, 4, &at);
}

cg_tensor *cg_batch_norm(cg_tensor *x, cg_tensor *running_mean, cg_tensor *running_var,
                         cg_tensor *weight, cg_tensor *bias, bool training, double momentum,
                         double eps)
{
    const char *op = "batch_norm";
    if (!check_input(op, x, 2) ||
        !check_channel_params(op, x, running_mean, running_var, weight, bias))
        return NULL;
    if (!training) {
        if (running_mean)
            return normalize_eval(x, running_mean, running_var, weight, bias, eps);
        cg__error(CG_ERR_VALUE, "%s: running_mean and running_var must be given in evaluation "
                                "mode", op);
        return NULL;
    }
    int64_t c = x->shape[1], numel = cg__shape_numel(x->ndim, x->shape);
    if (!check_count(op, x, c > 0 ? numel / c : 0, "value per channel"))
        return NULL;
    return batch_norm_train(x, running_mean, running_var, weight, bias, momentum, eps);
}

cg_tensor *cg_instance_norm(cg_tensor *x, cg_tensor *running_mean, cg_tensor *running_var,
                            cg_tensor *weight, cg_tensor *bias, bool use_input_stats,
                            double momentum, double eps)
{
    const char *op = "instance_norm";
    if (!check_input(op, x, 2) ||
        !check_channel_params(op, x, running_mean, running_var, weight, bias))
        return NULL;
    if (!use_input_stats) {
        if (running_mean)
            return normalize_eval(x, running_mean, running_var, weight, bias, eps);
        cg__error(CG_ERR_VALUE, "%s: running_mean and running_var must be given when "
                                "use_input_stats is false", op);
        return NULL;
    }
    int64_t spatial = cg__shape_numel(x->ndim - 2, x->shape + 2);
    if (!check_count(op, x, spatial, "spatial element"))
        return NULL;
    int axes[CG_MAX_DIMS], naxes = cg__axes_from(2, x->ndim, false, axes);
    return normalize_train(x, axes, naxes, running_mean, running_var, weight, bias, momentum,
                           eps, 2);
}

/* ---- layer and group normalization ---- */

/* (x - mean) / sqrt(var + eps) with biased statistics over axes. */
static cg_tensor *standard_score(cg_tensor *x, const int *axes, int naxes, double eps)
{
    cg_tensor *mean = cg_mean(x, axes, naxes, true);
    cg_tensor *var = cg_var(x, axes, naxes, 0, true);
    return cg_mul(cg_sub(x, mean), inv_std(var, eps));
}

cg_tensor *cg_layer_norm(cg_tensor *x, int nshape, const int64_t *shape, cg_tensor *weight,
                         cg_tensor *bias, double eps)
{
    const char *op = "layer_norm";
    if (!check_input(op, x, 1))
        return NULL;
    int first = x->ndim - nshape;
    if (nshape < 1 || !shape || first < 0 ||
        memcmp(x->shape + first, shape, sizeof(int64_t) * (size_t)nshape)) {
        char sn[160] = "(none)", sx[160];
        if (shape && nshape >= 1 && nshape <= CG_MAX_DIMS)
            cg__shape_str(nshape, shape, sn, sizeof sn);
        cg__error(CG_ERR_SHAPE, "%s: normalized shape %s is not the trailing dimensions of "
                                "input shape %s", op, sn,
                  cg__shape_str(x->ndim, x->shape, sx, sizeof sx));
        return NULL;
    }
    if (!check_param(op, "weight", weight, x, nshape, shape) ||
        !check_param(op, "bias", bias, x, nshape, shape))
        return NULL;
    int axes[CG_MAX_DIMS], naxes = cg__axes_from(first, x->ndim, false, axes);
    cg_tensor *y = standard_score(x, axes, naxes, eps);
    if (weight)
        y = cg_mul(y, weight);
    return bias ? cg_add(y, bias) : y;
}

cg_tensor *cg_group_norm(cg_tensor *x, int64_t groups, cg_tensor *weight, cg_tensor *bias,
                         double eps)
{
    const char *op = "group_norm";
    if (!check_input(op, x, 2) || !check_channel_params(op, x, NULL, NULL, weight, bias))
        return NULL;
    int64_t n = x->shape[0], c = x->shape[1];
    int64_t spatial = cg__shape_numel(x->ndim - 2, x->shape + 2);
    char s[160];
    if (groups <= 0 || c % groups != 0) {
        cg__error(CG_ERR_VALUE, "%s: %lld channels cannot be split into %lld groups (input "
                                "shape %s)", op, (long long)c, (long long)groups,
                  cg__shape_str(x->ndim, x->shape, s, sizeof s));
        return NULL;
    }
    /* PyTorch's check, made on the batch-norm view [N C/G, G, ...] it reasons with. */
    int64_t group_size = c / groups * spatial;
    if (!check_count(op, x, n * group_size, "value per channel"))
        return NULL;
    int axis = 2;
    cg_tensor *xg = cg_reshape(x, 3, (int64_t[]){n, groups, group_size});
    cg_tensor *y = cg_reshape(standard_score(xg, &axis, 1, eps), x->ndim, x->shape);
    if (weight)
        y = cg_mul(y, cg__channel_view(weight, x->ndim));
    return bias ? cg_add(y, cg__channel_view(bias, x->ndim)) : y;
}

/* ---- dataset statistics ---- */

/* Mean and unbiased std of column j of the [n, m] row-major view of x, in double. */
static void column_stats(const cg_tensor *x, int64_t n, int64_t m, int64_t j, double *mean,
                         double *std)
{
    double s = 0, ss = 0;
    for (int64_t i = 0; i < n; i++)
        s += cg__load(x, cg__storage_index(x, i * m + j));
    double mu = s / (double)n;
    for (int64_t i = 0; i < n; i++) {
        double d = cg__load(x, cg__storage_index(x, i * m + j)) - mu;
        ss += d * d;
    }
    *mean = mu;
    *std = sqrt(ss / (double)(n - 1)); /* n = 1: 0/0 = NaN, as torch.std */
}

cg_status cg_feature_stats(const cg_tensor *x, cg_tensor **mean, cg_tensor **std)
{
    const char *op = "feature_stats";
    if (!mean || !std)
        return cg__error(CG_ERR_NULL, "%s: NULL result pointer", op);
    *mean = *std = NULL;
    if (!cg__check_tensor(x, op))
        return cg_last_status();
    if (!cg__is_float(x->dtype) || x->ndim < 1)
        return cg__error(x->ndim < 1 ? CG_ERR_SHAPE : CG_ERR_DTYPE,
                         "%s: input must be a float tensor [N, ...], got %s of %d dimensions",
                         op, cg_dtype_name(x->dtype), x->ndim);
    int64_t n = x->shape[0], m = cg__shape_numel(x->ndim - 1, x->shape + 1);
    cg_tensor *mu = cg__tensor_alloc(NULL, x->dtype, x->ndim - 1, x->shape + 1);
    cg_tensor *sd = mu ? cg__tensor_alloc(NULL, x->dtype, x->ndim - 1, x->shape + 1) : NULL;
    if (!sd) {
        cg_tensor_free(mu);
        return cg_last_status();
    }
    for (int64_t j = 0; j < m; j++) {
        double a, b;
        column_stats(x, n, m, j, &a, &b);
        cg__store(mu, j, a);
        cg__store(sd, j, b);
    }
    *mean = mu;
    *std = sd;
    return CG_OK;
}

cg_tensor *cg_standardize(cg_tensor *x, cg_tensor *mean, cg_tensor *std, double eps)
{
    const char *op = "standardize";
    if (!check_input(op, x, 1) || !cg__check_tensor(mean, op) || !cg__check_tensor(std, op))
        return NULL;
    if (!check_param(op, "mean", mean, x, x->ndim - 1, x->shape + 1) ||
        !check_param(op, "std", std, x, x->ndim - 1, x->shape + 1))
        return NULL;
    return cg_div(cg_sub(x, mean), cg_add_scalar(std, eps));
}
