/* Losses (lib/nn/loss.c): values against hand computation, identities between the losses
 * (huber and smooth L1, one-hot probabilities and class indices, bce with logits and bce
 * of a sigmoid), PyTorch's edge cases (ignore_index, empty means, clamped logs, huge
 * logits), and every bad input giving NULL with a message naming the op and the shapes. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define M CG_REDUCTION_MEAN
#define S CG_REDUCTION_SUM
#define NONE CG_REDUCTION_NONE

/* Caller-owned f64 tensor from a literal list: vec(2, 3, (double[]){...}). */
static cg_tensor *vec(int64_t r, int64_t c, const double *v)
{
    cg_tensor *t = r > 0 ? cg_tensor_from_data(CG_F64, 2, (int64_t[]){r, c}, v)
                         : cg_tensor_from_data(CG_F64, 1, (int64_t[]){c}, v);
    assert_tensor(t);
    return t;
}

static cg_tensor *labels(int64_t n, const int64_t *v)
{
    cg_tensor *t = cg_tensor_from_data(CG_I64, 1, &n, v);
    assert_tensor(t);
    return t;
}

static cg_tensor *randn(cg_dtype dt, int ndim, const int64_t *shape, uint64_t seed, double sd)
{
    cg_rng rng = cg_rng_init(seed);
    cg_tensor *t = cg_tensor_normal(&rng, dt, ndim, shape, 0.0, sd);
    assert_tensor(t);
    return t;
}

static double item(cg_tensor *t)
{
    assert_tensor(t);
    return cg_tensor_item(t);
}

/* Element i (row-major) of t. */
static double at(const cg_tensor *t, int64_t i)
{
    double *v = malloc(sizeof(double) * (size_t)cg_tensor_numel(t));
    assert_non_null(v);
    assert_ok(cg_tensor_to_f64(t, v));
    double r = v[i];
    free(v);
    return r;
}

static void assert_all_close(const cg_tensor *a, const cg_tensor *b, double tol)
{
    assert_tensor(a);
    assert_tensor(b);
    int64_t n = cg_tensor_numel(a);
    assert_int_equal(n, cg_tensor_numel(b));
    double *x = malloc(sizeof(double) * (size_t)(n + 1)), *y = malloc(sizeof(double) * (size_t)(n + 1));
    assert_ok(cg_tensor_to_f64(a, x));
    assert_ok(cg_tensor_to_f64(b, y));
    for (int64_t i = 0; i < n; i++)
        assert_close(x[i], y[i], tol, tol);
    free(x);
    free(y);
}

/* ---- regression losses ---- */

static void test_mse_l1_values(void **state)
{
    (void)state;
    cg_tensor *x = vec(2, 2, (double[]){1, 2, 3, 4}), *t = vec(2, 2, (double[]){0, 2, 5, 3.5});
    /* d = 1, 0, -2, 0.5 */
    assert_close(item(cg_mse_loss(x, t, M)), (1 + 0 + 4 + 0.25) / 4, 1e-15, 0);
    assert_close(item(cg_mse_loss(x, t, S)), 5.25, 1e-15, 0);
    cg_tensor *none = cg_mse_loss(x, t, NONE);
    assert_tensor(none);
    assert_int_equal(cg_tensor_ndim(none), 2);
    assert_close(at(none, 2), 4, 0, 0);
    assert_close(item(cg_l1_loss(x, t, M)), 3.5 / 4, 1e-15, 0);
    assert_close(item(cg_l1_loss(x, t, S)), 3.5, 1e-15, 0);
    assert_close(at(cg_l1_loss(x, t, NONE), 3), 0.5, 0, 0);
    cg_tensor_free(x);
    cg_tensor_free(t);
}

static void test_empty_mean_is_nan(void **state)
{
    (void)state;
    cg_tensor *e = cg_tensor_zeros(CG_F64, 2, (int64_t[]){0, 3});
    assert_true(isnan(item(cg_mse_loss(e, e, M))));
    assert_close(item(cg_l1_loss(e, e, S)), 0, 0, 0);
    cg_tensor_free(e);
}

static void test_huber_smooth_l1_values(void **state)
{
    (void)state;
    cg_tensor *x = vec(0, 5, (double[]){0.5, -1.0, 3.0, -0.2, 1.0}), *t = cg_tensor_zeros(CG_F64, 1, (int64_t[]){5});
    cg_tensor *h = cg_huber_loss(x, t, 1.0, NONE);
    double want_h[5] = {0.125, 0.5, 2.5, 0.02, 0.5}; /* |d| == delta takes the linear branch */
    for (int i = 0; i < 5; i++)
        assert_close(at(h, i), want_h[i], 1e-15, 0);
    cg_tensor *s = cg_smooth_l1_loss(x, t, 2.0, NONE);
    double want_s[5] = {0.0625, 0.25, 2.0, 0.01, 0.25};
    for (int i = 0; i < 5; i++)
        assert_close(at(s, i), want_s[i], 1e-15, 0);
    /* beta 0 is exactly L1 (PyTorch's special case) */
    assert_all_close(cg_smooth_l1_loss(x, t, 0.0, NONE), cg_l1_loss(x, t, NONE), 0);
    cg_tensor_free(x);
    cg_tensor_free(t);
}

/* huber(delta) == beta * smooth_l1(beta) when delta == beta, values and gradients. */
static void test_huber_is_scaled_smooth_l1(void **state)
{
    (void)state;
    int64_t shape[2] = {6, 7};
    for (int k = 0; k < 2; k++) {
        cg_dtype dt = k ? CG_F32 : CG_F64;
        cg_tensor *x = randn(dt, 2, shape, 3, 2.0), *t = randn(dt, 2, shape, 4, 1.0);
        assert_ok(cg_tensor_set_requires_grad(x, true));
        double beta = 0.7;
        cg_tensor *h = cg_huber_loss(x, t, beta, S);
        cg_tensor *s = cg_mul_scalar(cg_smooth_l1_loss(x, t, beta, S), beta);
        assert_close(item(h), item(s), 1e-5, 1e-5);
        cg_tensor *gh, *gs;
        assert_ok(cg_grad(&h, 1, NULL, &x, 1, &gh, NULL));
        assert_ok(cg_grad(&s, 1, NULL, &x, 1, &gs, NULL));
        assert_all_close(gh, gs, 1e-5);
        cg_tensor_free(x);
        cg_tensor_free(t);
    }
}

/* ---- cross-entropy and nll ---- */

static void test_cross_entropy_hand_values(void **state)
{
    (void)state;
    cg_tensor *x = vec(2, 3, (double[]){1, 2, 3, 0, 0, 0});
    int64_t tv[2] = {2, 0};
    cg_tensor *t = labels(2, tv);
    double l0 = log(exp(1) + exp(2) + exp(3)) - 3, l1 = log(3.0);
    assert_close(item(cg_cross_entropy(x, t, NULL)), (l0 + l1) / 2, 1e-15, 1e-15);
    cg_class_loss_options o = cg_class_loss_defaults();
    o.reduction = NONE;
    cg_tensor *none = cg_cross_entropy(x, t, &o);
    assert_close(at(none, 0), l0, 1e-15, 1e-15);
    assert_close(at(none, 1), l1, 1e-15, 1e-15);
    /* class weights: the mean divides by the weights of the targets */
    cg_tensor *w = vec(0, 3, (double[]){0.5, 1.0, 2.0});
    o.weight = w;
    o.reduction = M;
    assert_close(item(cg_cross_entropy(x, t, &o)), (2.0 * l0 + 0.5 * l1) / 2.5, 1e-15, 1e-15);
    /* gradient: softmax - onehot, divided by N */
    assert_ok(cg_tensor_set_requires_grad(x, true));
    cg_tensor *loss = cg_cross_entropy(x, t, NULL), *g;
    assert_ok(cg_grad(&loss, 1, NULL, &x, 1, &g, NULL));
    double p2 = exp(3) / (exp(1) + exp(2) + exp(3));
    assert_close(at(g, 2), (p2 - 1) / 2, 1e-15, 1e-14);
    assert_close(at(g, 4), (1.0 / 3) / 2, 1e-15, 1e-14);
    cg_tensor_free(x);
    cg_tensor_free(t);
    cg_tensor_free(w);
}

/* nll of log-probabilities picks -logp[target], weighted. */
static void test_nll_values(void **state)
{
    (void)state;
    cg_tensor *lp = vec(3, 2, (double[]){-0.1, -2.0, -0.5, -0.9, -3.0, -0.05});
    int64_t tv[3] = {1, -100, 0};
    cg_tensor *t = labels(3, tv), *w = vec(0, 2, (double[]){3.0, 0.5});
    cg_class_loss_options o = cg_class_loss_defaults();
    assert_close(item(cg_nll_loss(lp, t, &o)), (2.0 + 3.0) / 2, 1e-15, 0);
    o.weight = w;
    assert_close(item(cg_nll_loss(lp, t, &o)), (0.5 * 2.0 + 3.0 * 3.0) / 3.5, 1e-15, 0);
    o.reduction = S;
    assert_close(item(cg_nll_loss(lp, t, &o)), 10.0, 1e-15, 0);
    o.reduction = NONE;
    cg_tensor *none = cg_nll_loss(lp, t, &o);
    assert_close(at(none, 1), 0.0, 0, 0);
    cg_tensor_free(lp);
    cg_tensor_free(t);
    cg_tensor_free(w);
}

/* A mean over no counted target is 0/0 = NaN, as PyTorch; a sum is 0. */
static void test_all_ignored(void **state)
{
    (void)state;
    cg_tensor *x = randn(CG_F64, 2, (int64_t[]){3, 4}, 5, 1.0);
    int64_t tv[3] = {-100, -100, -100};
    cg_tensor *t = labels(3, tv);
    cg_class_loss_options o = cg_class_loss_defaults();
    assert_true(isnan(item(cg_cross_entropy(x, t, &o))));
    o.label_smoothing = 0.1;
    assert_true(isnan(item(cg_cross_entropy(x, t, &o))));
    o.reduction = S;
    assert_close(item(cg_cross_entropy(x, t, &o)), 0, 0, 0);
    cg_tensor_free(x);
    cg_tensor_free(t);
}

/* An ignore_index inside [0, C) skips that class's targets: the loss equals the loss of
 * the remaining rows alone. */
static void test_ignore_index_in_range(void **state)
{
    (void)state;
    cg_tensor *x = randn(CG_F64, 2, (int64_t[]){4, 3}, 6, 1.0);
    int64_t tv[4] = {1, 2, 1, 0}, kept[2] = {2, 0}, rows[2] = {1, 3};
    cg_tensor *t = labels(4, tv), *tk = labels(2, kept), *ri = labels(2, rows);
    cg_class_loss_options o = cg_class_loss_defaults();
    o.ignore_index = 1;
    o.label_smoothing = 0.25;
    cg_tensor *sub = cg_index_select(x, 0, ri);
    assert_close(item(cg_cross_entropy(x, t, &o)), item(cg_cross_entropy(sub, tk, &o)), 1e-15,
                 1e-14);
    cg_tensor_free(x);
    cg_tensor_free(t);
    cg_tensor_free(tk);
    cg_tensor_free(ri);
}

/* One-hot probability targets give the loss of class targets: plain, with label
 * smoothing, and with weights under the sum (the means differ by design: the weighted
 * class mean divides by the target weights, the probability mean by N). */
static void test_one_hot_equals_index(void **state)
{
    (void)state;
    int64_t n = 5, c = 4, tv[5] = {3, 0, 2, 2, 1};
    cg_tensor *x = randn(CG_F64, 2, (int64_t[]){n, c}, 7, 2.0), *t = labels(n, tv);
    cg_tensor *oh = cg_tensor_zeros(CG_F64, 2, (int64_t[]){n, c});
    for (int64_t i = 0; i < n; i++)
        assert_ok(cg_tensor_set(oh, (int64_t[]){i, tv[i]}, 1.0));
    cg_tensor *w = vec(0, 4, (double[]){0.2, 1.0, 1.5, 3.0});
    cg_class_loss_options o = cg_class_loss_defaults();
    assert_close(item(cg_cross_entropy(x, oh, &o)), item(cg_cross_entropy(x, t, &o)), 1e-14, 1e-14);
    o.label_smoothing = 0.3;
    assert_close(item(cg_cross_entropy(x, oh, &o)), item(cg_cross_entropy(x, t, &o)), 1e-14, 1e-14);
    o.weight = w;
    o.label_smoothing = 0;
    o.reduction = S;
    assert_close(item(cg_cross_entropy(x, oh, &o)), item(cg_cross_entropy(x, t, &o)), 1e-14, 1e-14);
    o.reduction = NONE;
    assert_all_close(cg_cross_entropy(x, oh, &o), cg_cross_entropy(x, t, &o), 1e-14);
    cg_tensor_free(x);
    cg_tensor_free(t);
    cg_tensor_free(oh);
    cg_tensor_free(w);
}

/* PyTorch 1.13's label smoothing with weights and ignore_index, written out by hand:
 * (1 - ls) nll + ls / C * sum_i(-sum_c w_c logp_ic) / sum_i w[t_i] over counted i. */
static void test_label_smoothing_formula(void **state)
{
    (void)state;
    int64_t n = 3, c = 3, tv[3] = {0, -100, 2};
    cg_tensor *x = vec(3, 3, (double[]){0.5, -1.0, 2.0, 1.0, 1.0, 0.0, -0.3, 0.8, 0.1});
    cg_tensor *t = labels(n, tv), *w = vec(0, 3, (double[]){2.0, 0.5, 1.0});
    const double *xv = cg_tensor_data(x), *wv = cg_tensor_data(w);
    double nll = 0, smooth = 0, wsum = 0, ls = 0.2;
    for (int64_t i = 0; i < n; i++) {
        if (tv[i] < 0)
            continue;
        double lse = log(exp(xv[i * c]) + exp(xv[i * c + 1]) + exp(xv[i * c + 2]));
        nll += -wv[tv[i]] * (xv[i * c + tv[i]] - lse);
        for (int64_t k = 0; k < c; k++)
            smooth += -wv[k] * (xv[i * c + k] - lse);
        wsum += wv[tv[i]];
    }
    double want = (1 - ls) * nll / wsum + ls / (double)c * smooth / wsum;
    cg_class_loss_options o = cg_class_loss_defaults();
    o.weight = w;
    o.label_smoothing = ls;
    assert_close(item(cg_cross_entropy(x, t, &o)), want, 1e-15, 1e-14);
    cg_tensor_free(x);
    cg_tensor_free(t);
    cg_tensor_free(w);
}

/* Logits [N, C, d] equal the same rows laid out as [N d, C]. */
static void test_cross_entropy_spatial(void **state)
{
    (void)state;
    int64_t tv[6] = {0, 2, 1, 1, 0, 2};
    cg_tensor *x = randn(CG_F64, 3, (int64_t[]){2, 3, 3}, 8, 1.0);
    cg_tensor *t = cg_tensor_from_data(CG_I64, 2, (int64_t[]){2, 3}, tv), *tf = labels(6, tv);
    cg_tensor *rows = cg_reshape(cg_permute(x, (int[]){0, 2, 1}), 2, (int64_t[]){6, 3});
    cg_class_loss_options o = cg_class_loss_defaults();
    o.label_smoothing = 0.1;
    assert_close(item(cg_cross_entropy(x, t, &o)), item(cg_cross_entropy(rows, tf, &o)), 1e-15, 1e-14);
    o.reduction = NONE;
    cg_tensor *none = cg_cross_entropy(x, t, &o);
    assert_tensor(none);
    assert_int_equal(cg_tensor_ndim(none), 2);
    assert_all_close(cg_reshape(none, 1, (int64_t[]){6}), cg_cross_entropy(rows, tf, &o), 1e-14);
    cg_tensor_free(x);
    cg_tensor_free(t);
    cg_tensor_free(tf);
}

/* A single sample: logits [C] with a 0-d target (none gives a 0-d loss). */
static void test_cross_entropy_single_sample(void **state)
{
    (void)state;
    cg_tensor *x = vec(0, 3, (double[]){0.1, 0.2, 0.3});
    int64_t one = 1;
    cg_tensor *t = cg_tensor_from_data(CG_I64, 0, NULL, &one);
    cg_class_loss_options o = cg_class_loss_defaults();
    o.reduction = NONE;
    cg_tensor *l = cg_cross_entropy(x, t, &o);
    assert_tensor(l);
    assert_int_equal(cg_tensor_ndim(l), 0);
    assert_close(item(l), log(exp(0.1) + exp(0.2) + exp(0.3)) - 0.2, 1e-15, 1e-15);
    cg_tensor_free(x);
    cg_tensor_free(t);
}

/* f32 follows f64 to single precision, and stays finite for large logits. */
static void test_cross_entropy_f32_large(void **state)
{
    (void)state;
    int64_t shape[2] = {4, 5}, tv[4] = {4, 0, 1, 3};
    cg_tensor *x64 = randn(CG_F64, 2, shape, 9, 300.0), *t = labels(4, tv);
    cg_tensor *x32 = cg_tensor_zeros(CG_F32, 2, shape);
    assert_ok(cg_tensor_copy_(x32, x64));
    double a = item(cg_cross_entropy(x64, t, NULL)), b = item(cg_cross_entropy(x32, t, NULL));
    assert_true(isfinite(a));
    assert_close(b, a, 1e-3, 1e-5);
    cg_tensor_free(x64);
    cg_tensor_free(x32);
    cg_tensor_free(t);
}

/* ---- binary cross-entropy ---- */

static void test_bce_values_and_clamp(void **state)
{
    (void)state;
    cg_tensor *p = vec(0, 4, (double[]){0.2, 0.9, 0.0, 1.0}), *t = vec(0, 4, (double[]){0, 1, 1, 0.25});
    assert_ok(cg_tensor_set_requires_grad(p, true));
    cg_tensor *l = cg_bce_loss(p, t, NULL, NONE);
    assert_close(at(l, 0), -log(0.8), 1e-15, 1e-15);
    assert_close(at(l, 1), -log(0.9), 1e-15, 1e-15);
    assert_close(at(l, 2), 100.0, 0, 0);  /* log 0 clamped at -100 */
    assert_close(at(l, 3), 75.0, 0, 1e-15); /* 0.75 * 100 */
    /* PyTorch's gradient (p - t) / max(p (1 - p), 1e-12 as a float): finite at 0 and 1 */
    cg_tensor *g, *ls = cg_sum(l, NULL, 0, false);
    assert_ok(cg_grad(&ls, 1, NULL, &p, 1, &g, NULL));
    assert_close(at(g, 0), 0.2 / (0.2 * 0.8), 1e-15, 1e-14);
    assert_close(at(g, 2), -1.0 / (double)1e-12f, 0, 1e-15);
    assert_close(at(g, 3), 0.75 / (double)1e-12f, 0, 1e-15);
    cg_tensor *w = vec(0, 4, (double[]){1, 2, 0, 0});
    assert_close(item(cg_bce_loss(p, t, w, M)), (-log(0.8) - 2 * log(0.9)) / 4, 1e-15, 1e-14);
    cg_tensor_free(p);
    cg_tensor_free(t);
    cg_tensor_free(w);
}

/* bce_with_logits(x) == bce(sigmoid(x)) for moderate logits, values and gradients, with
 * and without pos_weight (then p's log is weighted: -pw t log s - (1 - t) log(1 - s)). */
static void test_bce_with_logits_matches_bce(void **state)
{
    (void)state;
    int64_t shape[2] = {3, 4};
    cg_tensor *x = randn(CG_F64, 2, shape, 10, 2.0);
    cg_rng rng = cg_rng_init(11);
    cg_tensor *t = cg_tensor_uniform(&rng, CG_F64, 2, shape, 0, 1);
    cg_tensor *pw = vec(0, 4, (double[]){1.0, 2.0, 0.5, 3.0});
    assert_ok(cg_tensor_set_requires_grad(x, true));
    cg_tensor *a = cg_bce_with_logits(x, t, NULL, NULL, S);
    cg_tensor *b = cg_bce_loss(cg_sigmoid(x), t, NULL, S);
    assert_close(item(a), item(b), 1e-12, 1e-12);
    cg_tensor *ga, *gb;
    assert_ok(cg_grad(&a, 1, NULL, &x, 1, &ga, NULL));
    assert_ok(cg_grad(&b, 1, NULL, &x, 1, &gb, NULL));
    assert_all_close(ga, gb, 1e-12);
    /* pos_weight by hand */
    cg_tensor *s = cg_sigmoid(x);
    cg_tensor *hand = cg_neg(cg_add(cg_mul(cg_mul(pw, t), cg_log(s)),
                                    cg_mul(cg_add_scalar(cg_neg(t), 1), cg_log(cg_add_scalar(cg_neg(s), 1)))));
    assert_all_close(cg_bce_with_logits(x, t, NULL, pw, NONE), hand, 1e-12);
    cg_tensor_free(x);
    cg_tensor_free(t);
    cg_tensor_free(pw);
}

/* |x| = 1000: finite values and gradients sigmoid(x) - t; at x = 0 exactly the gradient
 * is 0.5 - t (the kink of max(-x, 0) does not show). */
static void test_bce_with_logits_extremes(void **state)
{
    (void)state;
    cg_tensor *x = vec(0, 4, (double[]){1000, -1000, 0, 0}), *t = vec(0, 4, (double[]){0.25, 0.25, 0, 1});
    cg_tensor *pw = vec(0, 1, (double[]){3.0});
    assert_ok(cg_tensor_set_requires_grad(x, true));
    cg_tensor *l = cg_bce_with_logits(x, t, NULL, NULL, NONE), *g;
    assert_close(at(l, 0), 750.0, 0, 1e-15);
    assert_close(at(l, 1), 250.0, 0, 1e-15);
    assert_close(at(l, 2), log(2.0), 1e-15, 0);
    l = cg_sum(l, NULL, 0, false);
    assert_ok(cg_grad(&l, 1, NULL, &x, 1, &g, NULL));
    double want[4] = {0.75, -0.25, 0.5, -0.5};
    for (int i = 0; i < 4; i++)
        assert_close(at(g, i), want[i], 1e-15, 0);
    l = cg_sum(cg_bce_with_logits(x, t, NULL, pw, NONE), NULL, 0, false);
    assert_ok(cg_grad(&l, 1, NULL, &x, 1, &g, NULL));
    /* lw s - pw t with lw = 1 + (pw - 1) t */
    double want_pw[4] = {1.5 * 1.0 - 0.75, -0.75, 0.5, 3 * 0.5 - 3};
    for (int i = 0; i < 4; i++)
        assert_close(at(g, i), want_pw[i], 1e-15, 0);
    cg_tensor_free(x);
    cg_tensor_free(t);
    cg_tensor_free(pw);
}

/* ---- errors ---- */

static void expect_error(cg_tensor *r, cg_status st, const char *a, const char *b, const char *c)
{
    assert_null(r);
    if (cg_last_status() != st)
        fail_msg("status %s, expected %s: %s", cg_status_string(cg_last_status()),
                 cg_status_string(st), cg_last_error());
    assert_error_contains(a);
    if (b)
        assert_error_contains(b);
    if (c)
        assert_error_contains(c);
    cg_clear_error();
}

static void test_regression_errors(void **state)
{
    (void)state;
    cg_tensor *a = cg_tensor_ones(CG_F64, 2, (int64_t[]){2, 3});
    cg_tensor *b = cg_tensor_ones(CG_F64, 2, (int64_t[]){3, 2});
    cg_tensor *f = cg_tensor_ones(CG_F32, 2, (int64_t[]){2, 3});
    expect_error(cg_mse_loss(a, b, M), CG_ERR_SHAPE, "mse_loss", "[2, 3]", "[3, 2]");
    expect_error(cg_l1_loss(a, b, S), CG_ERR_SHAPE, "l1_loss", "[2, 3]", "[3, 2]");
    expect_error(cg_huber_loss(a, b, 1, M), CG_ERR_SHAPE, "huber_loss", "[2, 3]", "[3, 2]");
    expect_error(cg_smooth_l1_loss(a, b, 1, M), CG_ERR_SHAPE, "smooth_l1_loss", "[3, 2]", NULL);
    expect_error(cg_mse_loss(a, f, M), CG_ERR_DTYPE, "mse_loss", "f32", "f64");
    expect_error(cg_mse_loss(a, a, (cg_reduction)7), CG_ERR_VALUE, "mse_loss", "reduction 7", NULL);
    expect_error(cg_huber_loss(a, a, 0.0, M), CG_ERR_VALUE, "huber_loss", "delta", NULL);
    expect_error(cg_huber_loss(a, a, NAN, M), CG_ERR_VALUE, "huber_loss", "delta", NULL);
    expect_error(cg_smooth_l1_loss(a, a, -0.5, M), CG_ERR_VALUE, "smooth_l1_loss", "beta", NULL);
    /* NULL propagates and keeps the first error */
    cg_tensor *bad = cg_add(a, b);
    char first[512];
    snprintf(first, sizeof first, "%s", cg_last_error());
    assert_null(cg_mse_loss(bad, a, M));
    assert_string_equal(cg_last_error(), first);
    cg_clear_error();
    cg_tensor_free(a);
    cg_tensor_free(b);
    cg_tensor_free(f);
}

static void test_class_errors(void **state)
{
    (void)state;
    cg_tensor *x = cg_tensor_zeros(CG_F64, 2, (int64_t[]){2, 3});
    int64_t ok[2] = {0, 2}, high[2] = {0, 3}, neg[2] = {-1, 0}, three[3] = {0, 1, 2};
    cg_tensor *t = labels(2, ok), *th = labels(2, high), *tn = labels(2, neg), *t3 = labels(3, three);
    cg_tensor *w4 = cg_tensor_ones(CG_F64, 1, (int64_t[]){4});
    cg_tensor *pf = cg_tensor_ones(CG_F64, 1, (int64_t[]){2});
    cg_tensor *pi = cg_tensor_zeros(CG_I64, 2, (int64_t[]){2, 3});
    cg_tensor *probs = cg_tensor_ones(CG_F64, 2, (int64_t[]){2, 3});
    cg_class_loss_options o = cg_class_loss_defaults();
    expect_error(cg_cross_entropy(x, th, NULL), CG_ERR_VALUE, "cross_entropy", "target 3", "3 classes");
    expect_error(cg_cross_entropy(x, tn, NULL), CG_ERR_VALUE, "cross_entropy", "target -1", NULL);
    expect_error(cg_nll_loss(x, th, NULL), CG_ERR_VALUE, "nll_loss", "target 3", NULL);
    expect_error(cg_cross_entropy(x, t3, NULL), CG_ERR_SHAPE, "cross_entropy", "[3]", "[2, 3]");
    expect_error(cg_nll_loss(x, t3, NULL), CG_ERR_SHAPE, "nll_loss", "[3]", "[2, 3]");
    expect_error(cg_cross_entropy(x, pf, NULL), CG_ERR_SHAPE, "cross_entropy", "[2]", "[2, 3]");
    expect_error(cg_cross_entropy(x, pi, NULL), CG_ERR_DTYPE, "cross_entropy", "i64", NULL);
    expect_error(cg_nll_loss(x, pf, NULL), CG_ERR_DTYPE, "nll_loss", "i64", NULL);
    o.weight = w4;
    expect_error(cg_cross_entropy(x, t, &o), CG_ERR_SHAPE, "cross_entropy", "[4]", "[2, 3]");
    o = cg_class_loss_defaults();
    o.reduction = (cg_reduction)-1;
    expect_error(cg_cross_entropy(x, t, &o), CG_ERR_VALUE, "cross_entropy", "reduction", NULL);
    o = cg_class_loss_defaults();
    o.label_smoothing = 1.5;
    expect_error(cg_cross_entropy(x, t, &o), CG_ERR_VALUE, "cross_entropy", "label_smoothing", NULL);
    o.label_smoothing = 0.1;
    expect_error(cg_nll_loss(x, t, &o), CG_ERR_VALUE, "nll_loss", "label_smoothing", NULL);
    o = cg_class_loss_defaults();
    o.ignore_index = 0;
    expect_error(cg_cross_entropy(x, probs, &o), CG_ERR_VALUE, "cross_entropy", "ignore_index", NULL);
    cg_tensor *s = cg_tensor_scalar(CG_F64, 1);
    expect_error(cg_cross_entropy(s, t, NULL), CG_ERR_SHAPE, "cross_entropy", "class dimension", NULL);
    cg_tensor *objs[] = {x, t, th, tn, t3, w4, pf, pi, probs, s};
    for (size_t i = 0; i < sizeof objs / sizeof *objs; i++)
        cg_tensor_free(objs[i]);
}

static void test_bce_errors(void **state)
{
    (void)state;
    cg_tensor *p = vec(0, 3, (double[]){0.5, 1.5, 0.2}), *q = vec(0, 3, (double[]){0.5, NAN, 0.2});
    cg_tensor *t = vec(0, 3, (double[]){0, 1, 0}), *t2 = vec(0, 2, (double[]){0, 1});
    cg_tensor *w = cg_tensor_ones(CG_F64, 2, (int64_t[]){2, 3});
    expect_error(cg_bce_loss(p, t, NULL, M), CG_ERR_VALUE, "bce_loss", "between 0 and 1", NULL);
    expect_error(cg_bce_loss(q, t, NULL, M), CG_ERR_VALUE, "bce_loss", "between 0 and 1", NULL);
    expect_error(cg_bce_loss(t, t2, NULL, M), CG_ERR_SHAPE, "bce_loss", "[3]", "[2]");
    expect_error(cg_bce_loss(t, t, w, M), CG_ERR_SHAPE, "bce_loss", "weight", "[2, 3]");
    expect_error(cg_bce_with_logits(p, t2, NULL, NULL, M), CG_ERR_SHAPE, "bce_with_logits", "[3]", "[2]");
    expect_error(cg_bce_with_logits(p, t, NULL, t2, M), CG_ERR_SHAPE, "bce_with_logits", "pos_weight", "[2]");
    expect_error(cg_bce_with_logits(p, t, NULL, NULL, (cg_reduction)3), CG_ERR_VALUE, "bce_with_logits", "reduction", NULL);
    cg_tensor_free(p);
    cg_tensor_free(q);
    cg_tensor_free(t);
    cg_tensor_free(t2);
    cg_tensor_free(w);
}

/* Double backward runs through the losses (the fused bce included). */
static void test_double_backward(void **state)
{
    (void)state;
    cg_tensor *p = vec(0, 3, (double[]){0.2, 0.5, 0.7}), *t = vec(0, 3, (double[]){0.1, 1, 0});
    assert_ok(cg_tensor_set_requires_grad(p, true));
    cg_tensor *l = cg_bce_loss(p, t, NULL, S), *g, *h;
    cg_grad_options go = {true, false};
    assert_ok(cg_grad(&l, 1, NULL, &p, 1, &g, &go));
    cg_tensor *gs = cg_sum(g, NULL, 0, false);
    assert_ok(cg_grad(&gs, 1, NULL, &p, 1, &h, NULL));
    /* d/dp (p - t) / (p (1 - p)) = (p^2 - 2 p t + t) / (p (1 - p))^2 */
    const double *pv = cg_tensor_data(p), *tv = cg_tensor_data(t);
    for (int i = 0; i < 3; i++) {
        double x = pv[i], y = tv[i], d = x * (1 - x);
        assert_close(at(h, i), (x * x - 2 * x * y + y) / (d * d), 1e-12, 1e-12);
    }
    cg_tensor_free(p);
    cg_tensor_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_mse_l1_values),
        CG_TEST(test_empty_mean_is_nan),
        CG_TEST(test_huber_smooth_l1_values),
        CG_TEST(test_huber_is_scaled_smooth_l1),
        CG_TEST(test_cross_entropy_hand_values),
        CG_TEST(test_nll_values),
        CG_TEST(test_all_ignored),
        CG_TEST(test_ignore_index_in_range),
        CG_TEST(test_one_hot_equals_index),
        CG_TEST(test_label_smoothing_formula),
        CG_TEST(test_cross_entropy_spatial),
        CG_TEST(test_cross_entropy_single_sample),
        CG_TEST(test_cross_entropy_f32_large),
        CG_TEST(test_bce_values_and_clamp),
        CG_TEST(test_bce_with_logits_matches_bce),
        CG_TEST(test_bce_with_logits_extremes),
        CG_TEST(test_regression_errors),
        CG_TEST(test_class_errors),
        CG_TEST(test_bce_errors),
        CG_TEST(test_double_backward),
    };
    return cmocka_run_group_tests_name("loss", tests, NULL, NULL);
}
