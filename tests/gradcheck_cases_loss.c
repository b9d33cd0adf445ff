/* Gradient-check cases of the losses (lib/nn/loss.c): every public loss, with its options,
 * and the fused bce op. Class targets are fixed INDEX inputs; every other input, targets
 * included, is checked (the composites are differentiable in all of them). Each case is
 * filed under the table op that characterises it; the label names the function. */
#include "gradcheck_cases.h"

static cg_class_loss_options opts(cg_tensor *weight, cg_reduction r, double ls)
{
    cg_class_loss_options o = cg_class_loss_defaults();
    o.weight = weight;
    o.reduction = r;
    o.label_smoothing = ls;
    return o;
}

static cg_tensor *f_mse(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_mse_loss(A, B, CG_REDUCTION_MEAN); }
static cg_tensor *f_mse_none(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_mse_loss(A, B, CG_REDUCTION_NONE); }
static cg_tensor *f_l1(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_l1_loss(A, B, CG_REDUCTION_SUM); }
static cg_tensor *f_huber(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_huber_loss(A, B, 0.8, CG_REDUCTION_MEAN); }
static cg_tensor *f_huber_none(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_huber_loss(A, B, 1.5, CG_REDUCTION_NONE); }
static cg_tensor *f_smooth_l1(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_smooth_l1_loss(A, B, 0.7, CG_REDUCTION_SUM); }
static cg_tensor *f_smooth_l1_0(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_smooth_l1_loss(A, B, 0.0, CG_REDUCTION_MEAN); }

static cg_tensor *f_ce(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_cross_entropy(A, B, NULL); }
static cg_tensor *f_ce_weight_sum(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    cg_class_loss_options o = opts(C, CG_REDUCTION_SUM, 0.0);
    return cg_cross_entropy(A, B, &o);
}
static cg_tensor *f_ce_weight_ignore(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    cg_class_loss_options o = opts(C, CG_REDUCTION_MEAN, 0.0);
    return cg_cross_entropy(A, B, &o);
}
static cg_tensor *f_ce_smooth(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    cg_class_loss_options o = opts(C, CG_REDUCTION_MEAN, 0.2);
    return cg_cross_entropy(A, B, &o);
}
static cg_tensor *f_ce_smooth_none(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    cg_class_loss_options o = opts(NULL, CG_REDUCTION_NONE, 0.3);
    o.ignore_index = 1;
    return cg_cross_entropy(A, B, &o);
}
static cg_tensor *f_ce_spatial(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    cg_class_loss_options o = opts(NULL, CG_REDUCTION_NONE, 0.0);
    return cg_cross_entropy(A, B, &o);
}
static cg_tensor *f_ce_probs(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    cg_class_loss_options o = opts(C, CG_REDUCTION_MEAN, 0.15);
    return cg_cross_entropy(A, B, &o);
}
static cg_tensor *f_ce_probs_none(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    cg_class_loss_options o = opts(NULL, CG_REDUCTION_NONE, 0.0);
    return cg_cross_entropy(A, B, &o);
}
static cg_tensor *f_nll(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    cg_class_loss_options o = opts(C, CG_REDUCTION_MEAN, 0.0);
    return cg_nll_loss(A, B, &o);
}
static cg_tensor *f_nll_sum(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    cg_class_loss_options o = opts(NULL, CG_REDUCTION_SUM, 0.0);
    return cg_nll_loss(cg_log_softmax(A, 1), B, &o);
}

static cg_tensor *f_bce(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_bce_loss(A, B, NULL, CG_REDUCTION_NONE); }
static cg_tensor *f_bce_weight(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_bce_loss(A, B, C, CG_REDUCTION_MEAN); }
static cg_tensor *f_bcel(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_bce_with_logits(A, B, NULL, NULL, CG_REDUCTION_NONE); }
static cg_tensor *f_bcel_pos(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_bce_with_logits(A, B, in[3], C, CG_REDUCTION_MEAN);
}
/* Large logits: the stable form keeps gradients exact where e^|x| overflows. */
static cg_tensor *f_bcel_big(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_bce_with_logits(cg_mul_scalar(A, 400.0), B, NULL, C, CG_REDUCTION_SUM);
}

static const op_case loss_cases[] = {
    {"mul", "mse_loss mean", f_mse, 2, {IN(RANDN, 2, 3, 4), IN(RANDN, 2, 3, 4)}, false},
    {"mul", "mse_loss none", f_mse_none, 2, {IN(RANDN, 1, 5), IN(RANDN, 1, 5)}, false},
    {"abs", "l1_loss sum", f_l1, 2, {IN(RANDN, 2, 3, 4), IN(RANDN, 2, 3, 4)}, false},
    {"where", "huber_loss mean", f_huber, 2, {IN(RANDN, 2, 4, 3), IN(RANDN, 2, 4, 3)}, false},
    {"where", "huber_loss none", f_huber_none, 2, {IN(RANDN, 1, 8), IN(RANDN, 1, 8)}, false},
    {"where", "smooth_l1_loss sum", f_smooth_l1, 2, {IN(RANDN, 2, 4, 3), IN(RANDN, 2, 4, 3)}, false},
    {"abs", "smooth_l1_loss beta 0", f_smooth_l1_0, 2, {IN(RANDN, 1, 6), IN(RANDN, 1, 6)}, false},
    {"log_softmax", "cross_entropy", f_ce, 2, {IN(RANDN, 2, 4, 3), IDX1(4, 0, 2, 1, 2)}, false},
    {"log_softmax", "cross_entropy weight sum", f_ce_weight_sum, 3,
     {IN(RANDN, 2, 4, 3), IDX1(4, 1, 0, 2, 1), IN(POSITIVE, 1, 3)}, false},
    {"gather", "cross_entropy weight ignore_index mean", f_ce_weight_ignore, 3,
     {IN(RANDN, 2, 5, 3), IDX1(5, 2, -100, 0, 1, -100), IN(POSITIVE, 1, 3)}, false},
    {"log_softmax", "cross_entropy label_smoothing weight ignore_index", f_ce_smooth, 3,
     {IN(RANDN, 2, 4, 3), IDX1(4, 2, 0, -100, 1), IN(POSITIVE, 1, 3)}, false},
    {"log_softmax", "cross_entropy label_smoothing none ignore_index 1", f_ce_smooth_none, 2,
     {IN(RANDN, 2, 4, 3), IDX1(4, 2, 1, 0, 1)}, false},
    {"gather", "cross_entropy [N,C,d] none", f_ce_spatial, 2,
     {IN(RANDN, 3, 2, 3, 2), IDX2(2, 2, 0, 2, 1, 1)}, false},
    {"log_softmax", "cross_entropy probabilities weight label_smoothing", f_ce_probs, 3,
     {IN(RANDN, 2, 3, 4), IN(PROBABILITY, 2, 3, 4), IN(POSITIVE, 1, 4)}, false},
    {"log_softmax", "cross_entropy probabilities [C] none", f_ce_probs_none, 2,
     {IN(RANDN, 1, 4), IN(PROBABILITY, 1, 4)}, false},
    {"gather", "nll_loss weight mean", f_nll, 3,
     {IN(RANDN, 2, 4, 3), IDX1(4, 2, 0, -100, 2), IN(POSITIVE, 1, 3)}, false},
    {"gather", "nll_loss of log_softmax sum", f_nll_sum, 2,
     {IN(RANDN, 2, 3, 5), IDX1(3, 4, 0, 4)}, false},
    {"bce", "bce_loss none", f_bce, 2, {IN(PROBABILITY, 2, 3, 4), IN(PROBABILITY, 2, 3, 4)}, false},
    {"bce", "bce_loss weight mean", f_bce_weight, 3,
     {IN(PROBABILITY, 2, 2, 3), IN(PROBABILITY, 2, 2, 3), IN(POSITIVE, 1, 3)}, false},
    {"log", "bce_with_logits none", f_bcel, 2, {IN(RANDN, 2, 3, 4), IN(PROBABILITY, 2, 3, 4)}, false},
    {"log", "bce_with_logits pos_weight weight mean", f_bcel_pos, 4,
     {IN(RANDN, 2, 2, 3), IN(PROBABILITY, 2, 2, 3), IN(POSITIVE, 1, 3), IN(POSITIVE, 2, 2, 1)},
     false},
    {"exp", "bce_with_logits large logits", f_bcel_big, 3,
     {IN(AWAY_FROM_ZERO, 1, 6), IN(PROBABILITY, 1, 6), IN(POSITIVE, 1, 6)}, false},
};

case_list gradcheck_cases_loss(void)
{
    case_list l = {loss_cases, sizeof loss_cases / sizeof loss_cases[0]};
    return l;
}
