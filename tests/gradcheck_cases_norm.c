/* Gradient-check cases of the normalizations (lib/nn/norm.c): batch norm in training (batch
 * statistics, with and without running statistics) and in evaluation (running statistics
 * as checked inputs), layer, group and instance norm, and standardize. Each case is filed
 * under the table op that characterises it (var: the batch statistics; rsqrt: the running
 * ones); the label names the function. cg_feature_stats is not differentiable (it returns
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
    {"var", "batch_norm train [N,C] affine", f_bn_train, 3,
     {IN(RANDN, 2, 4, 3), IN(RANDN, 1, 3), IN(RANDN, 1, 3)}, false},
    {"var", "batch_norm train [N,C,L] plain", f_bn_train_plain, 1, T1(RANDN, 3, 2, 3, 4), false},
    {"var", "batch_norm train [N,C,H,W] running stats", f_bn_train_running, 3,
     {IN(RANDN, 4, 2, 2, 2, 3), IN(RANDN, 1, 2), IN(RANDN, 1, 2)}, false},
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
