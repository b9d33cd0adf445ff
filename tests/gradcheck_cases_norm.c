/* Gradient-check cases of the normalizations (lib/nn/norm.c, lib/nn/batch_norm.c): batch
 * norm in training (the fused ops: batch statistics, with and without running statistics,
 * strided inputs the kernels take as they are and ones they copy first, and the two ops of
 * its backward, checked through gradients taken with create_graph, so their own rules are
 * checked to second order) and in evaluation (running statistics as checked inputs),
 * layer, group and instance norm, and standardize. Composite cases are filed under the
 * table op that characterises them (var: the batch statistics; rsqrt: the running ones);
 * the label names the function. cg_feature_stats is not differentiable (it returns
 * caller-owned tensors) and is tested in test_norm.c. */
#include "gradcheck_cases.h"

static cg_tensor *f_bn_train(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_batch_norm(A, NULL, NULL, B, C, true, 0.1, 1e-5);
}
static cg_tensor *f_bn_train_plain(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_batch_norm(A, NULL, NULL, NULL, NULL, true, 0.1, 1e-3);
}
/* Running statistics are updated on every evaluation and freed before the graph is used:
 * in training they must not be inputs of recorded ops. */
static cg_tensor *f_bn_train_running(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    int64_t c = cg_tensor_size(A, 1);
    cg_tensor *rm = cg_tensor_zeros(CG_F64, 1, &c), *rv = cg_tensor_ones(CG_F64, 1, &c);
    cg_tensor *y = cg_batch_norm(A, rm, rv, B, C, true, 0.3, 1e-5);
    cg_tensor_free(rm);
    cg_tensor_free(rv);
    return y;
}
/* [N, H, W, C] seen as [N, C, H, W]: trailing dimensions of stride C, taken as they are. */
static cg_tensor *f_bn_channels_last(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_batch_norm(cg_permute(A, (int[]){0, 3, 1, 2}), NULL, NULL, B, C, true, 0.1, 1e-5);
}
/* Trailing dimensions swapped: they do not merge, so the input is copied first. */
static cg_tensor *f_bn_swapped(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_batch_norm(cg_transpose(A, 2, 3), NULL, NULL, B, NULL, true, 0.1, 1e-5);
}
/* A gradient of batch norm with create_graph, as a function of x, weight, bias and the
 * incoming gradient in[3]: of the input (grad_input's output) when ctx is NULL, else of
 * the weight and bias (grad_sums' rows). */
static cg_tensor *bn_grad(cg_tensor *const *in, bool params)
{
    cg_tensor *y = cg_batch_norm(A, NULL, NULL, B, C, true, 0.1, 1e-3), *g[3];
    cg_grad_options opt = {.create_graph = true};
    if (!y || cg_grad(&y, 1, &in[3], in, 3, g, &opt) != CG_OK)
        return NULL;
    return params ? cg_concat(&g[1], 2, 0) : g[0];
}
static cg_tensor *f_bn_grad_input(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return bn_grad(in, false);
}
static cg_tensor *f_bn_grad_params(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return bn_grad(in, true);
}
static cg_tensor *f_bn_eval(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_batch_norm(A, B, C, in[3], in[4], false, 0.1, 1e-5);
}
static cg_tensor *f_ln(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_layer_norm(A, 1, (int64_t[]){4}, B, C, 1e-5);
}
static cg_tensor *f_ln2(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_layer_norm(A, 2, (int64_t[]){3, 4}, NULL, NULL, 1e-5);
}
static cg_tensor *f_gn(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_group_norm(A, 2, B, C, 1e-5);
}
static cg_tensor *f_gn_t(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_group_norm(cg_transpose(A, 1, 2), 3, NULL, NULL, 1e-5);
}
static cg_tensor *f_in(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_instance_norm(A, NULL, NULL, B, C, true, 0.1, 1e-5);
}
static cg_tensor *f_in_eval(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_instance_norm(A, B, C, NULL, NULL, false, 0.1, 1e-5);
}
static cg_tensor *f_standardize(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_standardize(A, B, C, 1e-3);
}

static const op_case norm_cases[] = {
    {"batch_norm", "train [N,C] affine", f_bn_train, 3,
     {IN(RANDN, 2, 4, 3), IN(RANDN, 1, 3), IN(RANDN, 1, 3)}, false},
    {"batch_norm", "train [N,C,L] plain", f_bn_train_plain, 1, T1(RANDN, 3, 2, 3, 4), false},
    {"batch_norm", "channels-last view", f_bn_channels_last, 3,
     {IN(RANDN, 4, 2, 2, 3, 3), IN(RANDN, 1, 3), IN(RANDN, 1, 3)}, false},
    {"batch_norm", "swapped trailing dims, no bias", f_bn_swapped, 2,
     {IN(RANDN, 4, 2, 2, 3, 2), IN(RANDN, 1, 2)}, false},
    {"batch_norm_stats", "train [N,C,H,W] running stats", f_bn_train_running, 3,
     {IN(RANDN, 4, 2, 2, 2, 3), IN(RANDN, 1, 2), IN(RANDN, 1, 2)}, false},
    {"batch_norm_grad_input", "[N,C,L] input gradient", f_bn_grad_input, 4,
     {IN(RANDN, 3, 3, 2, 4), IN(RANDN, 1, 2), IN(RANDN, 1, 2), IN(RANDN, 3, 3, 2, 4)}, false},
    {"batch_norm_grad_input", "[N,C] input gradient", f_bn_grad_input, 4,
     {IN(RANDN, 2, 5, 3), IN(RANDN, 1, 3), IN(RANDN, 1, 3), IN(RANDN, 2, 5, 3)}, false},
    {"batch_norm_grad_sums", "[N,C,H,W] weight and bias gradients", f_bn_grad_params, 4,
     {IN(RANDN, 4, 2, 2, 2, 3), IN(RANDN, 1, 2), IN(RANDN, 1, 2), IN(RANDN, 4, 2, 2, 2, 3)},
     false},
    {"rsqrt", "batch_norm eval", f_bn_eval, 5,
     {IN(RANDN, 3, 3, 2, 2), IN(RANDN, 1, 2), IN(POSITIVE, 1, 2), IN(RANDN, 1, 2),
      IN(RANDN, 1, 2)},
     false},
    {"var", "layer_norm last dim affine", f_ln, 3,
     {IN(RANDN, 3, 2, 3, 4), IN(RANDN, 1, 4), IN(RANDN, 1, 4)}, false},
    {"var", "layer_norm last two dims", f_ln2, 1, T1(RANDN, 3, 2, 3, 4), false},
    {"var", "group_norm 2 groups affine", f_gn, 3,
     {IN(RANDN, 3, 2, 4, 3), IN(RANDN, 1, 4), IN(RANDN, 1, 4)}, false},
    {"var", "group_norm transposed input", f_gn_t, 1, T1(RANDN, 3, 2, 2, 3), false},
    {"var", "instance_norm input stats affine", f_in, 3,
     {IN(RANDN, 4, 2, 3, 2, 2), IN(RANDN, 1, 3), IN(RANDN, 1, 3)}, false},
    {"rsqrt", "instance_norm running stats", f_in_eval, 3,
     {IN(RANDN, 3, 2, 3, 4), IN(RANDN, 1, 3), IN(POSITIVE, 1, 3)}, false},
    {"div", "standardize", f_standardize, 3,
     {IN(RANDN, 3, 4, 2, 3), IN(RANDN, 2, 2, 3), IN(POSITIVE, 2, 2, 3)}, false},
};

case_list gradcheck_cases_norm(void)
{
    case_list l = {norm_cases, sizeof norm_cases / sizeof norm_cases[0]};
    return l;
}
