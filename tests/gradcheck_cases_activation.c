/* Gradient-check cases of the activation ops, their fused gradients and the composites
 * (lib/nn/activation.c) and of
 * dropout (lib/nn/dropout.c). Inputs stay off the kinks: AWAY_FROM_ZERO where the
 * function bends at 0, bounds that random normals do not come near. Dropout is checked
 * with a generator re-seeded inside the case function, so every evaluation draws the same
 * mask and the function is an ordinary (linear) one. */
#include "gradcheck_cases.h"

static cg_tensor *f_sigmoid(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_sigmoid(A); }
/* Saturated inputs: the gradient is tiny but must not be NaN. */
static cg_tensor *f_sigmoid_big(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_sigmoid(cg_mul_scalar(A, 20.0));
}
static cg_tensor *f_tanh(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_tanh(A); }
static cg_tensor *f_tanh_t(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_tanh(cg_transpose(A, 0, 1)); }
static cg_tensor *f_relu(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_relu(A); }
static cg_tensor *f_relu_t(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_relu(cg_transpose(A, 0, 2)); }
static cg_tensor *f_leaky_relu(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_leaky_relu(A, 0.01); }
static cg_tensor *f_leaky_relu_big(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_leaky_relu(A, -0.7); }
static cg_tensor *f_elu(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_elu(A, 1.0); }
static cg_tensor *f_elu_alpha(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_elu(A, 0.3); }
static cg_tensor *f_selu(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_selu(A); }
static cg_tensor *f_gelu(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_gelu(A, false); }
static cg_tensor *f_gelu_tanh(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_gelu(A, true); }
static cg_tensor *f_gelu_wide(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_gelu(cg_mul_scalar(A, 4.0), false);
}
static cg_tensor *f_erf(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_erf(A); }
static cg_tensor *f_softplus(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_softplus(A, 1.0, 20.0); }
/* beta 2, threshold 1: inputs above 0.5 take the linear side. */
static cg_tensor *f_softplus_threshold(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_softplus(A, 2.0, 1.0);
}
static cg_tensor *f_silu(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_silu(A); }
static cg_tensor *f_hardtanh(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_hardtanh(A, -1.0, 1.0); }
static cg_tensor *f_hardtanh_narrow(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_hardtanh(A, -0.35, 0.6);
}
/* The fused gradient ops: d<act(A), B>/dA = act_backward(., B), recorded (create_graph)
 * so that the check differentiates the gradient op itself, to first and second order. */
static cg_tensor *grad_through(cg_tensor *y, cg_tensor *x, cg_tensor *v)
{
    cg_tensor *g = NULL;
    cg_grad_options opt = {.create_graph = true};
    if (!y || cg_grad(&y, 1, &v, &x, 1, &g, &opt) != CG_OK)
        return NULL;
    return g;
}
static cg_tensor *f_relu_grad(cg_tensor *const *in, int n, void *ctx) { UNUSED; return grad_through(cg_relu(A), A, B); }
static cg_tensor *f_relu_grad_t(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    cg_tensor *x = cg_transpose(A, 0, 1);
    return grad_through(cg_relu(x), A, cg_transpose(B, 0, 1));
}
static cg_tensor *f_leaky_relu_grad(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return grad_through(cg_leaky_relu(A, 0.2), A, B);
}
static cg_tensor *f_hardtanh_grad(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return grad_through(cg_hardtanh(A, -0.5, 0.6), A, B);
}
static cg_tensor *f_prelu(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_prelu(A, B); }
static cg_tensor *f_maxout(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_maxout(A, 3, 1); }
static cg_tensor *f_maxout_last(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_maxout(A, 2, -1); }
static cg_tensor *f_dropout(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    cg_rng rng = cg_rng_init(42);
    return cg_dropout(A, 0.4, true, &rng);
}
static cg_tensor *f_dropout2d(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    cg_rng rng = cg_rng_init(43);
    return cg_dropout2d(A, 0.5, true, &rng);
}
static cg_tensor *f_dropout_p1(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_dropout(A, 1.0, true, NULL);
}

static const op_case cases[] = {
    {"sigmoid", "2-d", f_sigmoid, 1, T1(RANDN, 2, 3, 4), false},
    {"sigmoid", "saturated", f_sigmoid_big, 1, T1(RANDN, 1, 6), false},
    {"tanh", "3-d", f_tanh, 1, T1(RANDN, 3, 2, 3, 2), false},
    {"tanh", "transposed", f_tanh_t, 1, T1(RANDN, 2, 3, 4), false},
    {"tanh", "zero-size", f_tanh, 1, T1(RANDN, 2, 0, 3), false},
    {"relu", "away from 0", f_relu, 1, T1(AWAY_FROM_ZERO, 2, 3, 4), false},
    {"relu", "permuted view", f_relu_t, 1, T1(AWAY_FROM_ZERO, 3, 2, 3, 2), false},
    {"leaky_relu", "slope 0.01", f_leaky_relu, 1, T1(AWAY_FROM_ZERO, 2, 3, 4), false},
    {"leaky_relu", "negative slope", f_leaky_relu_big, 1, T1(AWAY_FROM_ZERO, 1, 7), false},
    {"elu", "alpha 1", f_elu, 1, T1(AWAY_FROM_ZERO, 2, 3, 4), false},
    {"elu", "alpha 0.3", f_elu_alpha, 1, T1(AWAY_FROM_ZERO, 2, 4, 3), false},
    {"elu", "selu", f_selu, 1, T1(AWAY_FROM_ZERO, 2, 3, 4), false},
    {"gelu", "erf form", f_gelu, 1, T1(RANDN, 2, 3, 4), false},
    {"gelu", "tanh form", f_gelu_tanh, 1, T1(RANDN, 2, 3, 4), false},
    {"gelu", "wide inputs", f_gelu_wide, 1, T1(RANDN, 1, 8), false},
    {"erf", "2-d", f_erf, 1, T1(RANDN, 2, 3, 4), false},
    {"softplus", "defaults", f_softplus, 1, T1(RANDN, 2, 3, 4), false},
    {"softplus", "beta 2 threshold 1", f_softplus_threshold, 1, T1(RANDN, 2, 4, 4), false},
    {"silu", "2-d", f_silu, 1, T1(RANDN, 2, 3, 4), false},
    {"hardtanh", "defaults", f_hardtanh, 1, T1(RANDN, 2, 4, 5), false},
    {"hardtanh", "narrow bounds", f_hardtanh_narrow, 1, T1(RANDN, 1, 12), false},
    {"relu_backward", "d relu(x) . v / dx", f_relu_grad, 2, {IN(AWAY_FROM_ZERO, 2, 3, 5), IN(RANDN, 2, 3, 5)}, false},
    {"relu_backward", "transposed views", f_relu_grad_t, 2, {IN(AWAY_FROM_ZERO, 2, 4, 3), IN(RANDN, 2, 4, 3)}, false},
    {"relu_backward", "zero-size", f_relu_grad, 2, {IN(AWAY_FROM_ZERO, 2, 0, 3), IN(RANDN, 2, 0, 3)}, false},
    {"leaky_relu_backward", "slope 0.2", f_leaky_relu_grad, 2, {IN(AWAY_FROM_ZERO, 2, 3, 5), IN(RANDN, 2, 3, 5)}, false},
    {"hardtanh_backward", "bounds -0.5, 0.6", f_hardtanh_grad, 2, {IN(AWAY_FROM_ZERO, 1, 13), IN(RANDN, 1, 13)}, false},
    {"where", "prelu per channel", f_prelu, 2, {IN(AWAY_FROM_ZERO, 3, 2, 3, 4), IN(RANDN, 1, 3)}, false},
    {"where", "prelu one slope", f_prelu, 2, {IN(AWAY_FROM_ZERO, 4, 2, 2, 2, 3), IN(RANDN, 1, 1)}, false},
    {"where", "prelu 1-d input", f_prelu, 2, {IN(AWAY_FROM_ZERO, 1, 5), IN(RANDN, 1, 1)}, false},
    {"max", "maxout k 3 axis 1", f_maxout, 1, T1(RANDN, 3, 2, 6, 2), false},
    {"max", "maxout last axis", f_maxout_last, 1, T1(RANDN, 2, 3, 4), false},
    {"mul", "dropout p 0.4", f_dropout, 1, T1(RANDN, 2, 4, 5), false},
    {"mul", "dropout2d p 0.5", f_dropout2d, 1, T1(RANDN, 4, 3, 4, 2, 2), false},
    {"mul", "dropout p 1", f_dropout_p1, 1, T1(RANDN, 2, 3, 3), false},
};

case_list gradcheck_cases_activation(void)
{
    case_list l = {cases, sizeof cases / sizeof cases[0]};
    return l;
}
