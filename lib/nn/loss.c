/* Losses, as torch.nn.functional computes them: regression losses (mse, l1, huber,
 * smooth_l1), classification losses (nll, cross-entropy with class or probability targets,
 * weights, ignore_index and label smoothing) and binary cross-entropy (from probabilities
 * and from logits).
 *
 * Everything is a composition of differentiable ops, so double backward works through
 * every loss, with one exception: bce is a fused table op (see loss_ops.h for why), whose
 * rule is itself written with ops. The composites follow PyTorch 1.13's own formulas term
 * by term, so they agree with it to rounding, including its edge cases (a mean over no
 * counted target is NaN; label smoothing is normalised by the same target weights as the
 * NLL term).
 */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "cgrad/nn.h"
#include "op.h"

/* ---- shared checks ---- */

static bool check_reduction(const char *op, cg_reduction r)
{
    if ((unsigned)r <= (unsigned)CG_REDUCTION_NONE)
        return true;
    cg__error(CG_ERR_VALUE, "%s: reduction %d is not mean (%d), sum (%d) or none (%d)", op,
              (int)r, CG_REDUCTION_MEAN, CG_REDUCTION_SUM, CG_REDUCTION_NONE);
    return false;
}

static bool same_shape(const cg_tensor *a, const cg_tensor *b)
{
    return a->ndim == b->ndim && !memcmp(a->shape, b->shape, sizeof(int64_t) * (size_t)a->ndim);
}

static bool shape_error(const char *op, const char *what_a, const cg_tensor *a,
                        const char *what_b, const cg_tensor *b)
{
    char sa[160], sb[160];
    cg__error(CG_ERR_SHAPE, "%s: %s shape %s and %s shape %s differ", op, what_a,
              cg__shape_str(a->ndim, a->shape, sa, sizeof sa), what_b,
              cg__shape_str(b->ndim, b->shape, sb, sizeof sb));
    return false;
}

/* b must be a float tensor of a's dtype. */
static bool check_dtype(const char *op, const char *what, const cg_tensor *a,
                        const cg_tensor *b)
{
    if (cg__is_float(b->dtype) && b->dtype == a->dtype)
        return true;
    cg__error(CG_ERR_DTYPE, "%s: %s has dtype %s; expected the input's %s", op, what,
              cg_dtype_name(b->dtype), cg_dtype_name(a->dtype));
    return false;
}

/* input and target of an elementwise loss: live, one float dtype, one shape (PyTorch
 * only warns when they broadcast, but that is almost always a bug). */
static bool check_pair(const char *op, cg_tensor *in, const cg_tensor *tg, cg_reduction r)
{
    if (!cg__check_tensor(in, op) || !cg__check_tensor(tg, op) || !check_reduction(op, r))
        return false;
    if (!cg__check_float_dtypes(op, &in, 1) || !check_dtype(op, "target", in, tg))
        return false;
    return same_shape(in, tg) || shape_error(op, "input", in, "target", tg);
}

/* An optional tensor (weight, pos_weight) that must broadcast to x's shape. */
static bool check_broadcast_to(const char *op, const char *what, const cg_tensor *w,
                               const cg_tensor *x)
{
    if (!w)
        return true;
    if (!cg__check_tensor(w, op) || !check_dtype(op, what, x, w))
        return false;
    int nd;
    int64_t shape[CG_MAX_DIMS];
    if (w->ndim > x->ndim ||
        !cg__broadcast_shapes(op, w->ndim, w->shape, x->ndim, x->shape, &nd, shape) ||
        memcmp(shape, x->shape, sizeof(int64_t) * (size_t)x->ndim)) {
        char sw[160], sx[160];
        cg__error(CG_ERR_SHAPE, "%s: %s shape %s does not broadcast to input shape %s", op,
                  what, cg__shape_str(w->ndim, w->shape, sw, sizeof sw),
                  cg__shape_str(x->ndim, x->shape, sx, sizeof sx));
        return false;
    }
    return true;
}

static cg_tensor *reduce(cg_tensor *loss, cg_reduction r)
{
    switch (r) {
    case CG_REDUCTION_MEAN: return cg_mean(loss, NULL, 0, false);
    case CG_REDUCTION_SUM: return cg_sum(loss, NULL, 0, false);
    case CG_REDUCTION_NONE: break;
    }
    return loss;
}

static cg_tensor *scalar_like(const cg_tensor *t, double v)
{
    return t ? cg__const(t->dtype, v) : NULL;
}

/* ---- regression losses ---- */

cg_tensor *cg_mse_loss(cg_tensor *input, cg_tensor *target, cg_reduction reduction)
{
    if (!check_pair("mse_loss", input, target, reduction))
        return NULL;
    cg_tensor *d = cg_sub(input, target);
    return reduce(cg_mul(d, d), reduction);
}

cg_tensor *cg_l1_loss(cg_tensor *input, cg_tensor *target, cg_reduction reduction)
{
    if (!check_pair("l1_loss", input, target, reduction))
        return NULL;
    return reduce(cg_abs(cg_sub(input, target)), reduction);
}

cg_tensor *cg_huber_loss(cg_tensor *input, cg_tensor *target, double delta,
                         cg_reduction reduction)
{
    if (!check_pair("huber_loss", input, target, reduction))
        return NULL;
    if (!(delta > 0)) {
        cg__error(CG_ERR_VALUE, "huber_loss: delta must be positive, got %g", delta);
        return NULL;
    }
    /* z < delta ? 0.5 z^2 : delta (z - 0.5 delta), PyTorch's kernel term by term */
    cg_tensor *z = cg_abs(cg_sub(input, target));
    cg_tensor *quad = cg_mul_scalar(cg_mul(z, z), 0.5);
    cg_tensor *lin = cg_mul_scalar(cg_add_scalar(z, -0.5 * delta), delta);
    return reduce(cg_where(cg_lt(z, scalar_like(z, delta)), quad, lin), reduction);
}

cg_tensor *cg_smooth_l1_loss(cg_tensor *input, cg_tensor *target, double beta,
                             cg_reduction reduction)
{
    if (!check_pair("smooth_l1_loss", input, target, reduction))
        return NULL;
    if (!(beta >= 0)) {
        cg__error(CG_ERR_VALUE, "smooth_l1_loss: beta must not be negative, got %g", beta);
        return NULL;
    }
    if (beta == 0) /* PyTorch's special case: exactly L1, no division by zero */
        return cg_l1_loss(input, target, reduction);
    /* z < beta ? 0.5 z^2 / beta : z - 0.5 beta */
    cg_tensor *z = cg_abs(cg_sub(input, target));
    cg_tensor *quad = cg_div(cg_mul_scalar(cg_mul(z, z), 0.5), scalar_like(z, beta));
    cg_tensor *lin = cg_add_scalar(z, -0.5 * beta);
    return reduce(cg_where(cg_lt(z, scalar_like(z, beta)), quad, lin), reduction);
}

/* ---- class targets ---- */

cg_class_loss_options cg_class_loss_defaults(void)
{
    cg_class_loss_options o = {NULL, -100, 0.0, CG_REDUCTION_MEAN};
    return o;
}

/* i64 class targets prepared for gather: ignored entries point at class 0 (any valid
 * class) and are masked out by valid. All three are unrecorded tape tensors. */
typedef struct class_targets {
    cg_tensor *index; /* [N, 1, d...]: one class per sample and position */
    cg_tensor *flat;  /* the same values as a 1-d view, to pick class weights */
    cg_tensor *valid; /* [N, d...] in the input's dtype: 1 where the target counts */
} class_targets;

/* target must have input's shape without dimension 1. */
static bool check_target_shape(const char *op, const cg_tensor *in, const cg_tensor *tg)
{
    bool ok = tg->ndim == in->ndim - 1 && tg->shape[0] == in->shape[0];
    for (int d = 1; ok && d < tg->ndim; d++)
        ok = tg->shape[d] == in->shape[d + 1];
    if (!ok) {
        char si[160], st[160];
        cg__error(CG_ERR_SHAPE,
                  "%s: target shape %s does not match input shape %s (expected the input's "
                  "shape without dimension 1)",
                  op, cg__shape_str(tg->ndim, tg->shape, st, sizeof st),
                  cg__shape_str(in->ndim, in->shape, si, sizeof si));
    }
    return ok;
}

/* Copy the targets into ct, checking each against [0, C) unless it is ignore. */
static bool fill_targets(const char *op, const cg_tensor *tg, int64_t classes, int64_t ignore,
                         class_targets *ct)
{
    const int64_t *src = cg__storage_base(tg);
    int64_t *idx = cg_tensor_data(ct->index);
    int64_t n = cg__shape_numel(tg->ndim, tg->shape);
    for (int64_t i = 0; i < n; i++) {
        int64_t t = src[cg__storage_index(tg, i)];
        bool counted = t != ignore;
        if (counted && (t < 0 || t >= classes)) {
            cg__error(CG_ERR_VALUE, "%s: target %lld is out of bounds for %lld classes", op,
                      (long long)t, (long long)classes);
            return false;
        }
        idx[i] = counted ? t : 0;
        cg__store(ct->valid, i, counted ? 1.0 : 0.0);
    }
    return true;
}

static bool class_targets_make(const char *op, const cg_tensor *in, const cg_tensor *tg,
                               int64_t ignore, class_targets *ct)
{
    if (tg->dtype != CG_I64) {
        cg__error(CG_ERR_DTYPE, "%s: class targets must be i64, got %s", op,
                  cg_dtype_name(tg->dtype));
        return false;
    }
    if (!check_target_shape(op, in, tg))
        return false;
    cg_tape *tape = cg__tape_require(op);
    if (!tape)
        return false;
    int64_t shape[CG_MAX_DIMS], n = cg__shape_numel(tg->ndim, tg->shape);
    for (int d = 0; d < in->ndim; d++)
        shape[d] = d == 1 ? 1 : in->shape[d];
    ct->index = cg__tensor_alloc(tape->pool, CG_I64, in->ndim, shape);
    ct->valid = cg__tensor_alloc(tape->pool, in->dtype, tg->ndim, tg->shape);
    ct->flat = ct->index ? cg__tensor_view(tape->pool, ct->index, 1, &n, (int64_t[]){1}, 0)
                         : NULL;
    if (!ct->index || !ct->valid || !ct->flat)
        return false;
    return fill_targets(op, tg, in->shape[1], ignore, ct);
}

/* The weight of each counted target (w[target], or 1) and 0 for ignored ones: [N, d...]. */
static cg_tensor *target_weights(const class_targets *ct, cg_tensor *weight)
{
    if (!weight)
        return ct->valid;
    cg_tensor *w = cg_index_select(weight, 0, ct->flat);
    return cg_mul(cg_reshape(w, ct->valid->ndim, ct->valid->shape), ct->valid);
}

/* [C] viewed as [1, C, 1, ...] to broadcast along dimension 1 of an ndim tensor. */
static cg_tensor *class_view(cg_tensor *w, int ndim)
{
    int64_t shape[CG_MAX_DIMS];
    for (int d = 0; d < ndim; d++)
        shape[d] = d == 1 ? w->shape[0] : 1;
    return cg_reshape(w, ndim, shape);
}

/* Per-target losses reduced as PyTorch does: the mean divides by the total weight of the
 * counted targets, so it is NaN when there are none. */
static cg_tensor *reduce_weighted(cg_tensor *per, cg_tensor *tw, cg_reduction r)
{
    if (r == CG_REDUCTION_MEAN)
        return cg_div(cg_sum(per, NULL, 0, false), cg_sum(tw, NULL, 0, false));
    return reduce(per, r);
}

/* -w[t] logp[t] at each counted target (where, not a product with 0, so that an ignored
 * entry holding -inf gives 0 and no NaN), and the target weights for the mean. */
static cg_tensor *nll_terms(cg_tensor *logp, const class_targets *ct, cg_tensor *weight,
                            cg_tensor **tw)
{
    *tw = target_weights(ct, weight);
    cg_tensor *picked = cg_squeeze(cg_gather(logp, 1, ct->index), 1);
    return cg_where(ct->valid, cg_neg(cg_mul(picked, *tw)), scalar_like(logp, 0.0));
}

/* ---- options and the single-sample form ---- */

static bool check_class_weight(const char *op, const cg_tensor *w, const cg_tensor *in)
{
    if (!cg__check_tensor(w, op) || !check_dtype(op, "weight", in, w))
        return false;
    int64_t classes = in->shape[in->ndim == 1 ? 0 : 1];
    if (w->ndim == 1 && w->shape[0] == classes)
        return true;
    char sw[160], si[160];
    cg__error(CG_ERR_SHAPE, "%s: weight shape %s does not give one weight per class of input "
                            "shape %s (expected [%lld])",
              op, cg__shape_str(w->ndim, w->shape, sw, sizeof sw),
              cg__shape_str(in->ndim, in->shape, si, sizeof si), (long long)classes);
    return false;
}

static bool check_class_options(const char *op, const cg_class_loss_options *o,
                                cg_tensor *in)
{
    if (!check_reduction(op, o->reduction) || !cg__check_float_dtypes(op, &in, 1))
        return false;
    if (!(o->label_smoothing >= 0 && o->label_smoothing <= 1)) {
        cg__error(CG_ERR_VALUE, "%s: label_smoothing must be in [0, 1], got %g", op,
                  o->label_smoothing);
        return false;
    }
    if (in->ndim < 1) {
        cg__error(CG_ERR_SHAPE, "%s: input must have a class dimension, got shape []", op);
        return false;
    }
    return !o->weight || check_class_weight(op, o->weight, in);
}

/* PyTorch also takes one sample: input [C] with a 0-d class target (or [C] probabilities).
 * It runs as a batch of one; with reduction none the batch dimension is dropped again. */
typedef struct single {
    bool on;
    cg_tensor *in, *tg;
} single;

static bool promote_single(const char *op, cg_tensor *in, cg_tensor *tg, bool probs,
                           single *s)
{
    s->on = in->ndim == 1;
    s->in = in;
    s->tg = tg;
    if (!s->on)
        return true;
    if (probs ? !same_shape(in, tg) : tg->ndim != 0)
        return shape_error(op, "input", in, "target", tg);
    s->in = cg_unsqueeze(in, 0);
    s->tg = cg_unsqueeze(tg, 0);
    return s->in && s->tg;
}

static cg_tensor *demote_single(const single *s, cg_tensor *loss, cg_reduction r)
{
    return s->on && r == CG_REDUCTION_NONE ? cg_squeeze(loss, 0) : loss;
}

/* ---- nll and cross-entropy ---- */

cg_tensor *cg_nll_loss(cg_tensor *log_probs, cg_tensor *target,
                       const cg_class_loss_options *options)
{
    const char *op = "nll_loss";
    cg_class_loss_options o = options ? *options : cg_class_loss_defaults();
    if (!cg__check_tensor(log_probs, op) || !cg__check_tensor(target, op) ||
        !check_class_options(op, &o, log_probs))
        return NULL;
    if (o.label_smoothing != 0) {
        cg__error(CG_ERR_VALUE, "nll_loss: label_smoothing is for cross_entropy only (got %g)",
                  o.label_smoothing);
        return NULL;
    }
    single s;
    class_targets ct;
    if (!promote_single(op, log_probs, target, false, &s) ||
        !class_targets_make(op, s.in, s.tg, o.ignore_index, &ct))
        return NULL;
    cg_tensor *tw, *per = nll_terms(s.in, &ct, o.weight, &tw);
    return demote_single(&s, reduce_weighted(per, tw, o.reduction), o.reduction);
}

/* PyTorch 1.13's label smoothing for class targets:
 *   (1 - ls) nll + ls / C * reduce(-sum_c w_c logp_c)
 * with ignored targets contributing 0 and the mean divided by the same total target
 * weight as nll's (not by the sum of all class weights). */
static cg_tensor *ce_classes(cg_tensor *logits, cg_tensor *target,
                             const cg_class_loss_options *o)
{
    class_targets ct;
    if (!class_targets_make("cross_entropy", logits, target, o->ignore_index, &ct))
        return NULL;
    int axis = 1;
    cg_tensor *logp = cg_log_softmax(logits, axis);
    cg_tensor *tw, *per = nll_terms(logp, &ct, o->weight, &tw);
    cg_tensor *nll = reduce_weighted(per, tw, o->reduction);
    double ls = o->label_smoothing;
    if (ls == 0)
        return nll;
    cg_tensor *wlogp = o->weight ? cg_mul(logp, class_view(o->weight, logp->ndim)) : logp;
    cg_tensor *smooth = cg_neg(cg_sum(wlogp, &axis, 1, false));
    smooth = cg_where(ct.valid, smooth, scalar_like(logp, 0.0));
    cg_tensor *ret = reduce_weighted(smooth, tw, o->reduction);
    double classes = (double)logits->shape[1];
    return cg_add(cg_mul_scalar(nll, 1 - ls), cg_mul_scalar(ret, ls / classes));
}

/* Probability targets: -sum_c w_c t_c logp_c with t smoothed towards uniform; the mean is
 * over samples and positions (N d1 ...), whatever the weights, as PyTorch. */
static cg_tensor *ce_probs(cg_tensor *logits, cg_tensor *target,
                           const cg_class_loss_options *o)
{
    const char *op = "cross_entropy";
    if (!check_dtype(op, "probability target", logits, target))
        return NULL;
    if (o->ignore_index >= 0) {
        cg__error(CG_ERR_VALUE, "%s: ignore_index (%lld) is not supported for probability "
                                "targets", op, (long long)o->ignore_index);
        return NULL;
    }
    int axis = 1;
    int64_t classes = logits->shape[1];
    double ls = o->label_smoothing;
    cg_tensor *logp = cg_log_softmax(logits, axis);
    cg_tensor *t = ls > 0 ? cg_add_scalar(cg_mul_scalar(target, 1 - ls), ls / (double)classes)
                          : target;
    cg_tensor *prod = cg_mul(logp, t);
    if (o->weight)
        prod = cg_mul(prod, class_view(o->weight, logits->ndim));
    if (o->reduction == CG_REDUCTION_NONE)
        return cg_neg(cg_sum(prod, &axis, 1, false));
    cg_tensor *total = cg_neg(cg_sum(prod, NULL, 0, false));
    if (o->reduction == CG_REDUCTION_SUM)
        return total;
    int64_t count = classes > 0 ? cg__shape_numel(logits->ndim, logits->shape) / classes : 0;
    return cg_div(total, scalar_like(logits, (double)count)); /* 0 / 0 = NaN when empty */
}

cg_tensor *cg_cross_entropy(cg_tensor *logits, cg_tensor *target,
                            const cg_class_loss_options *options)
{
    const char *op = "cross_entropy";
    cg_class_loss_options o = options ? *options : cg_class_loss_defaults();
    if (!cg__check_tensor(logits, op) || !cg__check_tensor(target, op) ||
        !check_class_options(op, &o, logits))
        return NULL;
    /* As PyTorch: a target of the logits' shape holds probabilities. */
    bool probs = same_shape(logits, target);
    if (probs && target->dtype == CG_I64) {
        cg__error(CG_ERR_DTYPE, "%s: a target of the input's shape holds class probabilities "
                                "and must be float, got i64", op);
        return NULL;
    }
    if (!probs && cg__is_float(target->dtype)) {
        shape_error(op, "probability target", target, "input", logits);
        return NULL;
    }
    single s;
    if (!promote_single(op, logits, target, probs, &s))
        return NULL;
    cg_tensor *loss = probs ? ce_probs(s.in, s.tg, &o) : ce_classes(s.in, s.tg, &o);
    return demote_single(&s, loss, o.reduction);
}

/* ---- binary cross-entropy: the fused op ---- */

/* Set by a kernel that met an input outside [0, 1] (NaN included, as PyTorch). */
typedef struct bce_ctx {
    atomic_int bad;
} bce_ctx;

/* PyTorch's kernel: (t - 1) max(log(1 - p), -100) - t max(log p, -100), in T. */
#define BCE_LOOP(T, LOG, LOG1P, NAME)                                                       \
    static void NAME(int64_t n, char *const *p, const int64_t *s, const void *c)            \
    {                                                                                       \
        bce_ctx *ctx = (bce_ctx *)c;                                                        \
        for (int64_t i = 0; i < n; i++) {                                                   \
            T x = *(const T *)(p[0] + i * s[0]), y = *(const T *)(p[1] + i * s[1]);         \
            if (!(x >= 0 && x <= 1))                                                        \
                atomic_store_explicit(&ctx->bad, 1, memory_order_relaxed);                  \
            T l1 = LOG1P(-x), l0 = LOG(x);                                                  \
            l1 = l1 > (T)-100 ? l1 : (T)-100;                                               \
            l0 = l0 > (T)-100 ? l0 : (T)-100;                                               \
            *(T *)(p[2] + i * s[2]) = (y - 1) * l1 - y * l0;                                \
        }                                                                                   \
    }

BCE_LOOP(float, logf, log1pf, bce_f32)
BCE_LOOP(double, log, log1p, bce_f64)

cg_tensor *cg__bce_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                           const cg__attrs *attrs)
{
    (void)op, (void)n, (void)attrs;
    if (!cg__check_float_dtypes("bce", in, 2))
        return NULL;
    if (!same_shape(in[0], in[1])) {
        shape_error("bce", "input", in[0], "target", in[1]);
        return NULL;
    }
    cg_tensor *out = cg__tensor_alloc(pool, in[0]->dtype, in[0]->ndim, in[0]->shape);
    if (!out)
        return NULL;
    int nd = out->ndim;
    int64_t st[3][CG_MAX_DIMS];
    for (int k = 0; k < 3; k++)
        cg__broadcast_strides(k < 2 ? in[k] : out, nd, st[k]);
    char *base[3] = {cg__ptr(in[0]), cg__ptr(in[1]), cg__ptr(out)};
    bce_ctx ctx;
    atomic_init(&ctx.bad, 0);
    cg__foreach(nd, out->shape, 3, base, (const int64_t(*)[CG_MAX_DIMS])st,
                out->dtype == CG_F32 ? bce_f32 : bce_f64, &ctx, 16);
    if (atomic_load(&ctx.bad)) {
        cg__error(CG_ERR_VALUE, "bce_loss: all elements of the input should be between 0 and 1");
        return NULL;
    }
    return out;
}

/* PyTorch's rules: d/dp = (p - t) / max((1 - p) p, eps), finite at p = 0 and 1, with its
 * eps, the float nearest 1e-12; d/dt = -logit(p) = -log(p / (1 - p)). */
cg_status cg__bce_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    cg_tensor *p = node->inputs[0], *t = node->inputs[1];
    cg_tensor *one_minus_p = cg_add_scalar(cg_neg(p), 1.0);
    if (cg__needs(node, 0)) {
        cg_tensor *den = cg_clamp(cg_mul(one_minus_p, p), (double)1e-12f, INFINITY);
        gin[0] = cg_div(cg_mul(g, cg_sub(p, t)), den);
    }
    if (cg__needs(node, 1))
        gin[1] = cg_mul(g, cg_neg(cg_log(cg_div(p, one_minus_p))));
    return CG_OK;
}

cg_tensor *cg_bce_loss(cg_tensor *p, cg_tensor *target, cg_tensor *weight,
                       cg_reduction reduction)
{
    const char *op = "bce_loss";
    if (!check_pair(op, p, target, reduction) || !check_broadcast_to(op, "weight", weight, p))
        return NULL;
    cg_tensor *loss = cg__apply(CG_OP_BCE, (cg_tensor *const[]){p, target}, 2, NULL);
    if (weight)
        loss = cg_mul(loss, weight);
    return reduce(loss, reduction);
}

/* PyTorch 1.13's stable form, op for op: with m = max(-x, 0),
 *   loss = (1 - t) x + lw (log(e^-m + e^(-x-m)) + m),  lw = 1 + (pos_weight - 1) t
 * (without pos_weight: (1 - t) x + m + log(...)). m's gradient through the sum of the
 * last two terms is zero at every order, so the kink of max(-x, 0) does not show. */
cg_tensor *cg_bce_with_logits(cg_tensor *logits, cg_tensor *target, cg_tensor *weight,
                              cg_tensor *pos_weight, cg_reduction reduction)
{
    const char *op = "bce_with_logits";
    if (!check_pair(op, logits, target, reduction) ||
        !check_broadcast_to(op, "weight", weight, logits) ||
        !check_broadcast_to(op, "pos_weight", pos_weight, logits))
        return NULL;
    cg_tensor *x = logits, *t = target;
    cg_tensor *m = cg_clamp(cg_neg(x), 0.0, INFINITY);
    cg_tensor *lse = cg_log(cg_add(cg_exp(cg_neg(m)), cg_exp(cg_sub(cg_neg(x), m))));
    cg_tensor *loss = cg_mul(cg_add_scalar(cg_neg(t), 1.0), x);
    if (pos_weight) {
        cg_tensor *lw = cg_add_scalar(cg_mul(cg_add_scalar(pos_weight, -1.0), t), 1.0);
        loss = cg_add(loss, cg_mul(lw, cg_add(lse, m)));
    } else {
        loss = cg_add(cg_add(loss, m), lse);
    }
    if (weight)
        loss = cg_mul(loss, weight);
    return reduce(loss, reduction);
}
