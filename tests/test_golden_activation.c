/*
 * Golden test of the activations and dropout (lib/nn/activation.c, lib/nn/dropout.c)
 * against torch.nn.functional: tests/golden/make_golden_activation.py writes
 * golden/activation.txt (case list in its docstring); golden_reader.h runs one cmocka test
 * per case (output and gradients, tolerance rule there).
 *
 * Every case exists in f64 and f32; BOTH() makes the two rows of one builder.
 */
#include "golden_reader.h"

/* The scalars a builder passes on; which ones it reads depends on the function. */
typedef struct act_args {
    double a, b;
    int k, axis;
} act_args;

#define BOTH(n, f, args)                                                                    \
    {.name = n "_f64", .fn = (f), .params = (args)}, {.name = n "_f32", .fn = (f), .params = (args)}

static const act_args *A(const golden_builder *b) { return b->params; }
static cg_tensor *T(cg_tensor *x) { return cg_transpose(x, 0, 1); }

static cg_tensor *b_sigmoid(cg_tensor *const *x, const golden_builder *b) { (void)b; return cg_sigmoid(x[0]); }
static cg_tensor *b_tanh(cg_tensor *const *x, const golden_builder *b) { (void)b; return cg_tanh(x[0]); }
static cg_tensor *b_relu(cg_tensor *const *x, const golden_builder *b) { (void)b; return cg_relu(x[0]); }
static cg_tensor *b_leaky(cg_tensor *const *x, const golden_builder *b) { return cg_leaky_relu(x[0], A(b)->a); }
static cg_tensor *b_elu(cg_tensor *const *x, const golden_builder *b) { return cg_elu(x[0], A(b)->a); }
static cg_tensor *b_selu(cg_tensor *const *x, const golden_builder *b) { (void)b; return cg_selu(x[0]); }
static cg_tensor *b_gelu(cg_tensor *const *x, const golden_builder *b) { (void)b; return cg_gelu(x[0], false); }
static cg_tensor *b_gelu_tanh(cg_tensor *const *x, const golden_builder *b) { (void)b; return cg_gelu(x[0], true); }
static cg_tensor *b_erf(cg_tensor *const *x, const golden_builder *b) { (void)b; return cg_erf(x[0]); }
static cg_tensor *b_softplus(cg_tensor *const *x, const golden_builder *b) { return cg_softplus(x[0], A(b)->a, A(b)->b); }
static cg_tensor *b_silu(cg_tensor *const *x, const golden_builder *b) { (void)b; return cg_silu(x[0]); }
static cg_tensor *b_hardtanh(cg_tensor *const *x, const golden_builder *b) { return cg_hardtanh(x[0], A(b)->a, A(b)->b); }

static cg_tensor *b_sigmoid_t(cg_tensor *const *x, const golden_builder *b) { (void)b; return cg_sigmoid(T(x[0])); }
static cg_tensor *b_relu_t(cg_tensor *const *x, const golden_builder *b) { (void)b; return cg_relu(T(x[0])); }
static cg_tensor *b_gelu_t(cg_tensor *const *x, const golden_builder *b) { (void)b; return cg_gelu(T(x[0]), false); }
static cg_tensor *b_softplus_t(cg_tensor *const *x, const golden_builder *b) { (void)b; return cg_softplus(T(x[0]), 1, 20); }

static cg_tensor *b_prelu(cg_tensor *const *x, const golden_builder *b) { (void)b; return cg_prelu(x[0], x[1]); }
static cg_tensor *b_maxout(cg_tensor *const *x, const golden_builder *b) { return cg_maxout(x[0], A(b)->k, A(b)->axis); }

/* Dropout in its deterministic modes (a = p, k = training); no rng is needed there. */
static cg_tensor *b_dropout(cg_tensor *const *x, const golden_builder *b)
{
    return cg_dropout(x[0], A(b)->a, A(b)->k != 0, NULL);
}
static cg_tensor *b_dropout2d(cg_tensor *const *x, const golden_builder *b)
{
    return cg_dropout2d(x[0], A(b)->a, A(b)->k != 0, NULL);
}

/* PyTorch's defaults and the cases' parameters. */
static const act_args none = {0, 0, 0, 0};
static const act_args slope_default = {0.01, 0, 0, 0}, slope_02 = {0.2, 0, 0, 0};
static const act_args alpha_1 = {1.0, 0, 0, 0}, alpha_05 = {0.5, 0, 0, 0};
static const act_args sp_default = {1.0, 20.0, 0, 0}, sp_b2_t5 = {2.0, 5.0, 0, 0},
                      sp_b05_t1 = {0.5, 1.0, 0, 0};
static const act_args ht_default = {-1.0, 1.0, 0, 0}, ht_m05_2 = {-0.5, 2.0, 0, 0};
static const act_args mo_k2_1 = {0, 0, 2, 1}, mo_k3_last = {0, 0, 3, -1},
                      mo_k4_0 = {0, 0, 4, 0}, mo_k3_1 = {0, 0, 3, 1};
static const act_args eval_05 = {0.5, 0, 0, 0}, train_p0 = {0.0, 0, 1, 0},
                      train_p1 = {1.0, 0, 1, 0}, eval_03 = {0.3, 0, 0, 0};

/* Each unary function: its normal-input case and its special-values case. */
#define UNARY(n, f, args) BOTH(n, f, args), BOTH(n "_special", f, args)

static const golden_builder builders[] = {
    UNARY("sigmoid", b_sigmoid, &none),
    UNARY("tanh", b_tanh, &none),
    UNARY("relu", b_relu, &none),
    UNARY("leaky_relu", b_leaky, &slope_default),
    UNARY("leaky_relu_02", b_leaky, &slope_02),
    UNARY("elu", b_elu, &alpha_1),
    UNARY("elu_05", b_elu, &alpha_05),
    UNARY("selu", b_selu, &none),
    UNARY("gelu", b_gelu, &none),
    UNARY("gelu_tanh", b_gelu_tanh, &none),
    UNARY("erf", b_erf, &none),
    UNARY("softplus", b_softplus, &sp_default),
    UNARY("softplus_b2_t5", b_softplus, &sp_b2_t5),
    UNARY("softplus_b05_t1", b_softplus, &sp_b05_t1),
    UNARY("silu", b_silu, &none),
    UNARY("hardtanh", b_hardtanh, &ht_default),
    UNARY("hardtanh_m05_2", b_hardtanh, &ht_m05_2),
    BOTH("sigmoid_t", b_sigmoid_t, &none),
    BOTH("relu_t", b_relu_t, &none),
    BOTH("gelu_t", b_gelu_t, &none),
    BOTH("softplus_t", b_softplus_t, &none),
    BOTH("hardtanh_grid", b_hardtanh, &ht_default),
    BOTH("prelu_channels", b_prelu, &none),
    BOTH("prelu_channels_randn", b_prelu, &none),
    BOTH("prelu_one", b_prelu, &none),
    BOTH("prelu_2d", b_prelu, &none),
    BOTH("prelu_1d", b_prelu, &none),
    BOTH("maxout_k2_axis1", b_maxout, &mo_k2_1),
    BOTH("maxout_k3_last", b_maxout, &mo_k3_last),
    BOTH("maxout_k4_axis0", b_maxout, &mo_k4_0),
    BOTH("maxout_ties", b_maxout, &mo_k3_1),
    BOTH("dropout_eval", b_dropout, &eval_05),
    BOTH("dropout_p0", b_dropout, &train_p0),
    BOTH("dropout_p1", b_dropout, &train_p1),
    BOTH("dropout2d_eval", b_dropout2d, &eval_03),
    BOTH("dropout2d_p1", b_dropout2d, &train_p1),
};

int main(void)
{
    static const char *const files[] = {"golden/activation.txt"};
    return golden_run("golden_activation", files, 1, builders,
                      (int)(sizeof builders / sizeof builders[0]));
}
