/*
 * Golden test of the losses (lib/nn/loss.c) against torch.nn.functional:
 * tests/golden/make_golden_loss.py writes golden/loss.txt (case list in its docstring);
 * golden_reader.h runs one cmocka test per case (output and gradients, tolerance rule
 * there).
 *
 * Every loss case exists for each reduction and dtype: RED() makes the six rows
 * (NAME_{mean,sum,none}_{f64,f32}) of one builder, which reads the reduction from the
 * case name. Inputs come in PyTorch's order: input, target, then the optional weight and
 * pos_weight the row's arguments announce.
 */
#include <string.h>

#include "golden_reader.h"

typedef struct loss_args {
    double a;       /* huber delta, smooth_l1 beta */
    bool weight;    /* x[2] is the (class) weight */
    bool pos;       /* the last input is pos_weight */
    int64_t ignore; /* ignore_index */
    double ls;      /* label smoothing */
} loss_args;

#define ROW(n, f, args) {.name = n, .fn = (f), .params = (args)}
#define BOTH(n, f, args) ROW(n "_f64", f, args), ROW(n "_f32", f, args)
#define RED(n, f, args) BOTH(n "_mean", f, args), BOTH(n "_sum", f, args), BOTH(n "_none", f, args)

static const loss_args *ARGS(const golden_builder *b) { return b->params; }

/* The reduction named in the case name. */
static cg_reduction red(const golden_builder *b)
{
    if (strstr(b->name, "_sum_"))
        return CG_REDUCTION_SUM;
    return strstr(b->name, "_none_") ? CG_REDUCTION_NONE : CG_REDUCTION_MEAN;
}

static cg_class_loss_options class_opts(cg_tensor *const *x, const golden_builder *b)
{
    cg_class_loss_options o = cg_class_loss_defaults();
    o.weight = ARGS(b)->weight ? x[2] : NULL;
    o.ignore_index = ARGS(b)->ignore;
    o.label_smoothing = ARGS(b)->ls;
    o.reduction = red(b);
    return o;
}

static cg_tensor *b_mse(cg_tensor *const *x, const golden_builder *b) { return cg_mse_loss(x[0], x[1], red(b)); }
static cg_tensor *b_l1(cg_tensor *const *x, const golden_builder *b) { return cg_l1_loss(x[0], x[1], red(b)); }
static cg_tensor *b_huber(cg_tensor *const *x, const golden_builder *b) { return cg_huber_loss(x[0], x[1], ARGS(b)->a, red(b)); }
static cg_tensor *b_smooth_l1(cg_tensor *const *x, const golden_builder *b) { return cg_smooth_l1_loss(x[0], x[1], ARGS(b)->a, red(b)); }

static cg_tensor *b_ce(cg_tensor *const *x, const golden_builder *b)
{
    cg_class_loss_options o = class_opts(x, b);
    return cg_cross_entropy(x[0], x[1], &o);
}

static cg_tensor *b_nll(cg_tensor *const *x, const golden_builder *b)
{
    cg_class_loss_options o = class_opts(x, b);
    return cg_nll_loss(cg_log_softmax(x[0], 1), x[1], &o);
}

static cg_tensor *b_bce(cg_tensor *const *x, const golden_builder *b)
{
    return cg_bce_loss(x[0], x[1], ARGS(b)->weight ? x[2] : NULL, red(b));
}

static cg_tensor *b_bcel(cg_tensor *const *x, const golden_builder *b)
{
    const loss_args *a = ARGS(b);
    cg_tensor *w = a->weight ? x[2] : NULL, *pw = a->pos ? x[a->weight ? 3 : 2] : NULL;
    return cg_bce_with_logits(x[0], x[1], w, pw, red(b));
}

static const loss_args plain = {.ignore = -100};
static const loss_args d1 = {.a = 1.0, .ignore = -100}, d05 = {.a = 0.5, .ignore = -100},
                       d0 = {.a = 0.0, .ignore = -100};
static const loss_args w = {.weight = true, .ignore = -100};
static const loss_args ii1 = {.ignore = 1};
static const loss_args ls01 = {.ignore = -100, .ls = 0.1}, ls02_w = {.weight = true, .ignore = -100, .ls = 0.2},
                       ls03_w = {.weight = true, .ignore = -100, .ls = 0.3},
                       ls015_w = {.weight = true, .ignore = -100, .ls = 0.15};
static const loss_args pos = {.pos = true}, w_pos = {.weight = true, .pos = true};

static const golden_builder builders[] = {
    RED("mse", b_mse, &plain),
    RED("l1", b_l1, &plain),
    RED("huber", b_huber, &d1),
    RED("huber_d05", b_huber, &d05),
    RED("smooth_l1", b_smooth_l1, &d1),
    RED("smooth_l1_b05", b_smooth_l1, &d05),
    RED("smooth_l1_b0", b_smooth_l1, &d0),
    RED("ce", b_ce, &plain),
    RED("ce_w", b_ce, &w),
    RED("ce_ign", b_ce, &plain),
    RED("ce_ign_w", b_ce, &w),
    RED("ce_ii1", b_ce, &ii1),
    RED("ce_ls", b_ce, &ls01),
    RED("ce_ls_w_ign", b_ce, &ls02_w),
    RED("ce_sp", b_ce, &plain),
    RED("ce_sp_ls_w_ign", b_ce, &ls03_w),
    RED("ce_prob", b_ce, &plain),
    RED("ce_prob_ls_w", b_ce, &ls015_w),
    RED("ce_single", b_ce, &plain),
    RED("ce_all_ign", b_ce, &ls01),
    RED("nll", b_nll, &plain),
    RED("nll_w_ign", b_nll, &w),
    RED("nll_sp", b_nll, &plain),
    RED("bce", b_bce, &plain),
    RED("bce_w", b_bce, &w),
    RED("bce_edge", b_bce, &plain),
    RED("bcel", b_bcel, &plain),
    RED("bcel_pw", b_bcel, &pos),
    RED("bcel_w_pw", b_bcel, &w_pos),
    RED("bcel_big", b_bcel, &pos),
};

int main(void)
{
    static const char *const files[] = {"golden/loss.txt"};
    return golden_run("golden_loss", files, 1, builders,
                      (int)(sizeof builders / sizeof builders[0]));
}
