/* Walks the op table: every op must have gradient-check cases here, and each case runs
 * cg_gradcheck and cg_gradgradcheck (float64, central differences, PyTorch's tolerances)
 * over broadcasting, non-contiguous views, size-1 and zero-size dimensions. An op in the
 * table with no case fails the suite. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "gradcheck_cases.h"

static const int64_t flat_shape[] = {-1};

/* ---- case functions ---- */

static cg_tensor *f_add(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_add(A, B); }
static cg_tensor *f_sub(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_sub(A, B); }
static cg_tensor *f_mul(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_mul(A, B); }
static cg_tensor *f_div(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_div(A, B); }
static cg_tensor *f_pow(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_pow(A, B); }
static cg_tensor *f_maximum(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_maximum(A, B); }
static cg_tensor *f_minimum(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_minimum(A, B); }
static cg_tensor *f_eq(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_eq(A, B); }
static cg_tensor *f_ne(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_ne(A, B); }
static cg_tensor *f_lt(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_lt(A, B); }
static cg_tensor *f_le(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_le(A, B); }
static cg_tensor *f_gt(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_gt(A, B); }
static cg_tensor *f_ge(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_ge(A, B); }
static cg_tensor *f_where(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_where(cg_gt(A, cg_mul_scalar(A, 0.0)), B, C);
}
/* Transposed operands: the kernels must honour strides. */
static cg_tensor *f_mul_t(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_mul(cg_transpose(A, 0, 1), B);
}
static cg_tensor *f_add_slice(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_add(cg_slice(A, 1, 0, 6, 2), B);
}

static cg_tensor *f_neg(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_neg(A); }
static cg_tensor *f_exp(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_exp(A); }
static cg_tensor *f_log(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_log(A); }
static cg_tensor *f_sqrt(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_sqrt(A); }
static cg_tensor *f_rsqrt(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_rsqrt(A); }
static cg_tensor *f_abs(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_abs(A); }
static cg_tensor *f_sign(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_sign(A); }
static cg_tensor *f_clamp(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_clamp(A, -0.5, 0.7); }
static cg_tensor *f_clamp_lo(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_clamp(A, -0.3, INFINITY);
}
static cg_tensor *f_add_scalar(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_add_scalar(A, 2.5); }
static cg_tensor *f_mul_scalar(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_mul_scalar(A, -1.5); }
static cg_tensor *f_pow_scalar(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_pow_scalar(A, 2.7); }
static cg_tensor *f_pow_scalar_int(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_pow_scalar(A, 3.0); }
static cg_tensor *f_pow_scalar_zero(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_pow_scalar(A, 0.0); }
/* f64 -> f32 -> f64 loses precision, so the check goes f64 -> f64 through an f32 stage
 * only where the tolerance allows it: a round trip through i64 is not differentiable. */
static cg_tensor *f_to_dtype(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_to_dtype(A, CG_F64);
}
static cg_tensor *f_contiguous(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_contiguous(cg_permute(A, (int[]){2, 0, 1}));
}

static cg_tensor *f_sum_all(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_sum(A, NULL, 0, false); }
static cg_tensor *f_sum_axes(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_sum(A, (int[]){0, -1}, 2, true); }
static cg_tensor *f_sum_t(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_sum(cg_transpose(A, 0, 1), (int[]){1}, 1, false);
}
static cg_tensor *f_mean(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_mean(A, (int[]){1}, 1, false); }
static cg_tensor *f_mean_all(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_mean(A, NULL, 0, true); }
static cg_tensor *f_max(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_max(A, (int[]){1}, 1, false); }
static cg_tensor *f_max_all(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_max(A, NULL, 0, false); }
static cg_tensor *f_min(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_min(A, (int[]){0, 2}, 2, true); }
static cg_tensor *f_var(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_var(A, (int[]){1}, 1, 1, false); }
static cg_tensor *f_var0(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_var(A, NULL, 0, 0, true); }
static cg_tensor *f_logsumexp(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_logsumexp(A, (int[]){-1}, 1, false); }
static cg_tensor *f_logsumexp_big(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_logsumexp(cg_add_scalar(A, 800.0), (int[]){0}, 1, true);
}
static cg_tensor *f_softmax(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_softmax(A, 1); }
static cg_tensor *f_softmax_last(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_softmax(cg_transpose(A, 0, 2), -1); }
static cg_tensor *f_log_softmax(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_log_softmax(A, -1); }
static cg_tensor *f_log_softmax_big(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_log_softmax(cg_mul_scalar(A, 300.0), 0);
}

static cg_tensor *f_matmul(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_matmul(A, B); }
static cg_tensor *f_matmul_tt(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_matmul(cg_transpose(A, 0, 1), cg_transpose(B, 0, 1));
}

static cg_tensor *f_reshape(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_reshape(A, 3, (int64_t[]){3, -1, 2});
}
static cg_tensor *f_reshape_copy(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_reshape(cg_transpose(A, 0, 1), 1, flat_shape);
}
static cg_tensor *f_flatten(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_flatten(A, 1, 2); }
static cg_tensor *f_squeeze(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_unsqueeze(cg_squeeze(A, 1), 0); }
static cg_tensor *f_permute(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_permute(A, (int[]){1, 2, 0}); }
static cg_tensor *f_transpose(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_transpose(A, -1, 0); }
static cg_tensor *f_slice(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_slice(A, 1, 1, -1, 2); }
static cg_tensor *f_slice_neg(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_slice(A, 0, -2, 100, 1); }
static cg_tensor *f_expand(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_expand(A, 3, (int64_t[]){2, 3, 4});
}
static cg_tensor *f_slice_scatter(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_slice_scatter(A, 2, (int64_t[]){3, 7}, 1, 1, 7, 2);
}
static cg_tensor *f_sum_to(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_sum_to(A, 2, (int64_t[]){1, 4});
}

static cg_tensor *f_concat(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    cg_tensor *xs[3] = {A, B, C};
    return cg_concat(xs, 3, 1);
}
static cg_tensor *f_stack(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    cg_tensor *xs[2] = {A, B};
    return cg_stack(xs, 2, -1);
}
static cg_tensor *f_index_select(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_index_select(A, 0, B); }
static cg_tensor *f_gather(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_gather(A, 1, B); }
static cg_tensor *f_index_add(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_index_add(A, 0, B, C); }
static cg_tensor *f_scatter_add(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_scatter_add(A, 1, B, C); }

/* A composite: softmax cross-entropy written with table ops, second order included. */
static cg_tensor *f_chain(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    cg_tensor *h = cg_matmul(A, B);
    cg_tensor *p = cg_log_softmax(cg_mul(h, cg_exp(h)), 1);
    return cg_mean(cg_pow_scalar(p, 2.0), NULL, 0, false);
}

/* ---- the cases ---- */

static const op_case core_cases[] = {
    {"add", "same shape", f_add, 2, {IN(RANDN, 2, 3, 4), IN(RANDN, 2, 3, 4)}, false},
    {"add", "broadcast [3,1]+[4]", f_add, 2, {IN(RANDN, 2, 3, 1), IN(RANDN, 1, 4)}, false},
    {"add", "0-d + [2,3]", f_add, 2, {IN(RANDN, 0, 0), IN(RANDN, 2, 2, 3)}, false},
    {"add", "zero-size [0,3]", f_add, 2, {IN(RANDN, 2, 0, 3), IN(RANDN, 1, 3)}, false},
    {"add", "strided slice", f_add_slice, 2, {IN(RANDN, 2, 2, 6), IN(RANDN, 2, 2, 3)}, false},
    {"sub", "broadcast", f_sub, 2, {IN(RANDN, 3, 2, 1, 3), IN(RANDN, 2, 4, 1)}, false},
    {"mul", "broadcast", f_mul, 2, {IN(RANDN, 2, 3, 1), IN(RANDN, 2, 1, 4)}, false},
    {"mul", "transposed", f_mul_t, 2, {IN(RANDN, 2, 4, 3), IN(RANDN, 2, 3, 4)}, false},
    {"div", "broadcast", f_div, 2, {IN(RANDN, 2, 3, 4), IN(AWAY_FROM_ZERO, 1, 4)}, false},
    {"pow", "positive base", f_pow, 2, {IN(POSITIVE, 2, 3, 4), IN(RANDN, 2, 3, 4)}, false},
    {"pow", "broadcast exponent", f_pow, 2, {IN(POSITIVE, 2, 2, 3), IN(RANDN, 0, 0)}, false},
    {"maximum", "broadcast", f_maximum, 2, {IN(RANDN, 2, 3, 4), IN(RANDN, 1, 4)}, false},
    {"minimum", "same shape", f_minimum, 2, {IN(RANDN, 2, 3, 4), IN(RANDN, 2, 3, 4)}, false},
    {"eq", "zero gradient", f_eq, 2, {IN(RANDN, 1, 5), IN(RANDN, 1, 5)}, false},
    {"ne", "zero gradient", f_ne, 2, {IN(RANDN, 1, 5), IN(RANDN, 1, 5)}, false},
    {"lt", "zero gradient", f_lt, 2, {IN(RANDN, 2, 2, 3), IN(RANDN, 1, 3)}, false},
    {"le", "zero gradient", f_le, 2, {IN(RANDN, 1, 5), IN(RANDN, 1, 5)}, false},
    {"gt", "zero gradient", f_gt, 2, {IN(RANDN, 1, 5), IN(RANDN, 0, 0)}, false},
    {"ge", "zero gradient", f_ge, 2, {IN(RANDN, 1, 5), IN(RANDN, 1, 5)}, false},
    {"where", "three-way broadcast", f_where, 3, {IN(AWAY_FROM_ZERO, 2, 4, 1), IN(RANDN, 0, 0), IN(RANDN, 3, 2, 4, 3)}, false},
    {"pow", "broadcast both", f_pow, 2, {IN(POSITIVE, 3, 2, 1, 3), IN(RANDN, 2, 4, 1)}, false},
    {"where", "broadcast", f_where, 3, {IN(AWAY_FROM_ZERO, 2, 3, 4), IN(RANDN, 2, 3, 4), IN(RANDN, 1, 4)}, false},
    {"neg", "3-d", f_neg, 1, T1(RANDN, 3, 2, 3, 2), false},
    {"exp", "2-d", f_exp, 1, T1(RANDN, 2, 3, 4), false},
    {"exp", "zero-size", f_exp, 1, T1(RANDN, 2, 3, 0), false},
    {"log", "positive", f_log, 1, T1(POSITIVE, 2, 3, 4), false},
    {"sqrt", "positive", f_sqrt, 1, T1(POSITIVE, 2, 3, 4), false},
    {"rsqrt", "positive", f_rsqrt, 1, T1(POSITIVE, 1, 7), false},
    {"abs", "away from 0", f_abs, 1, T1(AWAY_FROM_ZERO, 2, 3, 4), false},
    {"sign", "zero gradient", f_sign, 1, T1(AWAY_FROM_ZERO, 2, 3, 4), false},
    {"clamp", "both bounds", f_clamp, 1, T1(RANDN, 2, 4, 5), false},
    {"clamp", "lower bound", f_clamp_lo, 1, T1(RANDN, 1, 9), false},
    {"add_scalar", "2-d", f_add_scalar, 1, T1(RANDN, 2, 3, 4), false},
    {"mul_scalar", "size-1 dims", f_mul_scalar, 1, T1(RANDN, 3, 1, 4, 1), false},
    {"pow_scalar", "fractional", f_pow_scalar, 1, T1(POSITIVE, 2, 3, 4), false},
    {"pow_scalar", "cube of any sign", f_pow_scalar_int, 1, T1(RANDN, 2, 3, 4), false},
    {"pow_scalar", "exponent 0", f_pow_scalar_zero, 1, T1(RANDN, 1, 4), false},
    {"to_dtype", "f64 to f64", f_to_dtype, 1, T1(RANDN, 2, 3, 4), false},
    {"contiguous", "of a permutation", f_contiguous, 1, T1(RANDN, 3, 2, 3, 4), false},
    {"sum", "all", f_sum_all, 1, T1(RANDN, 3, 2, 3, 4), false},
    {"sum", "two axes keepdim", f_sum_axes, 1, T1(RANDN, 3, 2, 3, 4), false},
    {"sum", "transposed", f_sum_t, 1, T1(RANDN, 2, 3, 5), false},
    {"sum", "zero-size", f_sum_all, 1, T1(RANDN, 2, 0, 4), false},
    {"mean", "one axis", f_mean, 1, T1(RANDN, 3, 2, 3, 4), false},
    {"mean", "all keepdim", f_mean_all, 1, T1(RANDN, 2, 3, 4), false},
    {"max", "one axis", f_max, 1, T1(RANDN, 2, 3, 5), false},
    {"max", "all", f_max_all, 1, T1(RANDN, 2, 4, 4), false},
    {"min", "two axes", f_min, 1, T1(RANDN, 3, 2, 3, 4), false},
    {"var", "unbiased", f_var, 1, T1(RANDN, 2, 3, 5), false},
    {"var", "biased all", f_var0, 1, T1(RANDN, 3, 2, 2, 3), false},
    {"logsumexp", "last axis", f_logsumexp, 1, T1(RANDN, 2, 3, 4), false},
    {"logsumexp", "large inputs", f_logsumexp_big, 1, T1(RANDN, 2, 4, 3), false},
    {"softmax", "axis 1", f_softmax, 1, T1(RANDN, 3, 2, 4, 3), false},
    {"softmax", "transposed input", f_softmax_last, 1, T1(RANDN, 3, 2, 3, 4), false},
    {"log_softmax", "last axis", f_log_softmax, 1, T1(RANDN, 2, 3, 5), false},
    {"log_softmax", "large inputs", f_log_softmax_big, 1, T1(RANDN, 2, 4, 2), false},
    {"matmul", "2-d", f_matmul, 2, {IN(RANDN, 2, 3, 4), IN(RANDN, 2, 4, 5)}, false},
    {"matmul", "transposed views", f_matmul_tt, 2, {IN(RANDN, 2, 4, 3), IN(RANDN, 2, 5, 4)}, false},
    {"matmul", "batched broadcast", f_matmul, 2, {IN(RANDN, 3, 2, 3, 4), IN(RANDN, 2, 4, 2)}, false},
    {"matmul", "vector-matrix", f_matmul, 2, {IN(RANDN, 1, 4), IN(RANDN, 3, 2, 4, 3)}, false},
    {"matmul", "dot", f_matmul, 2, {IN(RANDN, 1, 5), IN(RANDN, 1, 5)}, false},
    {"matmul", "k = 0", f_matmul, 2, {IN(RANDN, 2, 3, 0), IN(RANDN, 2, 0, 2)}, false},
    {"reshape", "inferred size", f_reshape, 1, T1(RANDN, 2, 4, 3), false},
    {"reshape", "non-contiguous copy", f_reshape_copy, 1, T1(RANDN, 2, 3, 4), false},
    {"reshape", "flatten", f_flatten, 1, T1(RANDN, 4, 2, 3, 2, 2), false},
    {"reshape", "squeeze/unsqueeze", f_squeeze, 1, T1(RANDN, 3, 3, 1, 2), false},
    {"permute", "3-d", f_permute, 1, T1(RANDN, 3, 2, 3, 4), false},
    {"permute", "transpose", f_transpose, 1, T1(RANDN, 3, 2, 3, 4), false},
    {"slice", "step 2", f_slice, 1, T1(RANDN, 2, 3, 7), false},
    {"slice", "negative start", f_slice_neg, 1, T1(RANDN, 2, 5, 2), false},
    {"expand", "new and size-1 dims", f_expand, 1, T1(RANDN, 2, 3, 1), false},
    {"sum", "sum_to", f_sum_to, 1, T1(RANDN, 3, 2, 3, 4), false},
    {"slice_scatter", "step 2", f_slice_scatter, 1, T1(RANDN, 2, 3, 3), false},
    {"concat", "three pieces", f_concat, 3, {IN(RANDN, 2, 2, 3), IN(RANDN, 2, 2, 1), IN(RANDN, 2, 2, 2)}, false},
    {"concat", "zero-size piece", f_concat, 3, {IN(RANDN, 2, 2, 3), IN(RANDN, 2, 2, 0), IN(RANDN, 2, 2, 2)}, false},
    {"concat", "stack", f_stack, 2, {IN(RANDN, 2, 2, 3), IN(RANDN, 2, 2, 3)}, false},
    {"index_select", "repeated index", f_index_select, 2, {IN(RANDN, 2, 4, 3), IDX1(4, 3, 0, 3, 1)}, false},
    {"gather", "axis 1", f_gather, 2, {IN(RANDN, 2, 3, 4), IDX2(2, 3, 0, 3, 3, 1, 1, 2)}, false},
    {"index_add", "duplicates", f_index_add, 3, {IN(RANDN, 2, 4, 2), IDX1(3, 1, 3, 1), IN(RANDN, 2, 3, 2)}, false},
    {"scatter_add", "duplicates", f_scatter_add, 3, {IN(RANDN, 2, 2, 4), IDX2(2, 3, 0, 3, 0, 2, 2, 1), IN(RANDN, 2, 2, 3)}, false},
    {"matmul", "composite chain", f_chain, 2, {IN(RANDN, 2, 3, 4), IN(RANDN, 2, 4, 3)}, false},
};

/* All cases: the core ones above and each family's, gathered in main. */
static op_case *cases;
static size_t ncases;

static bool gather_cases(void)
{
    case_list lists[] = {
        {core_cases, sizeof core_cases / sizeof core_cases[0]},
        gradcheck_cases_activation(),
        gradcheck_cases_conv(),
        gradcheck_cases_norm(),
        gradcheck_cases_loss(),
    };
    size_t total = 0, k = 0;
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        total += lists[i].n;
    cases = calloc(total, sizeof *cases);
    if (!cases)
        return false;
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
        for (size_t j = 0; j < lists[i].n; j++)
            cases[k++] = lists[i].cases[j];
    ncases = total;
    return true;
}

/* Inputs of a case: f64, seeded, shaped to avoid kinks (|x| >= 0.1 where asked). */
static cg_tensor *make_input(const input_spec *spec, cg_rng *rng)
{
    if (spec->kind == INDEX)
        return cg_tensor_from_data(CG_I64, spec->ndim, spec->shape, spec->index);
    cg_tensor *t = spec->kind == POSITIVE
                       ? cg_tensor_uniform(rng, CG_F64, spec->ndim, spec->shape, 0.5, 2.0)
                   : spec->kind == PROBABILITY
                       ? cg_tensor_uniform(rng, CG_F64, spec->ndim, spec->shape, 0.05, 0.95)
                       : cg_tensor_normal(rng, CG_F64, spec->ndim, spec->shape, 0.0, 1.0);
    if (t && spec->kind == AWAY_FROM_ZERO) {
        double *d = cg_tensor_data(t);
        for (int64_t i = 0; i < cg_tensor_numel(t); i++)
            d[i] = d[i] < 0 ? d[i] - 0.1 : d[i] + 0.1;
    }
    if (t)
        cg_tensor_set_requires_grad(t, true);
    return t;
}

static void run_case(const op_case *c, size_t number)
{
    cg_rng rng = cg_rng_init(1000 + number);
    cg_tensor *in[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
    for (int j = 0; j < c->ninputs; j++) {
        in[j] = make_input(&c->in[j], &rng);
        assert_tensor(in[j]);
    }
    char label[96];
    snprintf(label, sizeof label, "%s (%s)", c->op, c->label);
    cg_gradcheck_options opt = cg_gradcheck_defaults();
    opt.label = label;
    cg_status first = cg_gradcheck(c->fn, in, c->ninputs, NULL, &opt);
    char first_msg[600];
    snprintf(first_msg, sizeof first_msg, "%s", cg_last_error());
    cg_status second = CG_OK;
    char second_msg[600] = "";
    if (!c->first_order_only) {
        second = cg_gradgradcheck(c->fn, in, c->ninputs, NULL, &opt);
        snprintf(second_msg, sizeof second_msg, "%s", cg_last_error());
    }
    for (int j = 0; j < c->ninputs; j++)
        cg_tensor_free(in[j]);
    if (first != CG_OK)
        fail_msg("gradcheck %s: %s", label, first_msg);
    if (second != CG_OK)
        fail_msg("gradgradcheck %s: %s", label, second_msg);
}

/* Every op in the table has a case, and every case names an op in the table. */
static void test_every_op_has_a_case(void **state)
{
    (void)state;
    for (int k = 0; k < cg_op_count(); k++) {
        bool found = false;
        for (size_t i = 0; i < ncases && !found; i++)
            found = strcmp(cases[i].op, cg_op_name(k)) == 0;
        if (!found)
            fail_msg("op \"%s\" is in the op table but has no gradcheck case", cg_op_name(k));
    }
    for (size_t i = 0; i < ncases; i++) {
        bool found = false;
        for (int k = 0; k < cg_op_count() && !found; k++)
            found = strcmp(cases[i].op, cg_op_name(k)) == 0;
        if (!found)
            fail_msg("case \"%s\" names op \"%s\", which is not in the op table", cases[i].label,
                     cases[i].op);
    }
}

/* One cmocka test per case, so the counts are real; the state carries the case number. */
static void test_case(void **state)
{
    size_t i = (size_t)(uintptr_t) * state;
    run_case(&cases[i], i);
}

static int case_setup(void **state)
{
    static size_t next;
    size_t i = next++;
    cg_clear_error();
    *state = (void *)(uintptr_t)i;
    return 0;
}

static int64_t live_at_start;

static int case_teardown(void **state)
{
    (void)state;
    int64_t leaked = cg_alloc_get_stats().live_bytes - live_at_start;
    if (leaked != 0) {
        fprintf(stderr, "leak: %lld bytes\n", (long long)leaked);
        return -1;
    }
    return 0;
}

/* A failing gradient is caught: a deliberately wrong rule (via a non-differentiable
 * comparison used as if it were the function) must not pass as differentiable. */
static cg_tensor *f_wrong(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    /* Forward x^2, but the gradient flowing back is that of x * detach(x) = x, not 2x. */
    return cg_mul(A, cg_detach(A));
}

static void test_gradcheck_catches_wrong_gradient(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(7);
    cg_tensor *x = cg_tensor_normal(&rng, CG_F64, 1, (int64_t[]){4}, 0, 1);
    cg_tensor_set_requires_grad(x, true);
    cg_status st = cg_gradcheck(f_wrong, &x, 1, NULL, NULL);
    cg_tensor_free(x);
    assert_int_equal(st, CG_ERR_GRADCHECK);
    assert_error_contains("input 0");
    assert_error_contains("mul");
}

/* Above max_entries the check samples rows and columns, and still catches errors. */
static void test_sampled_jacobian(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(11);
    cg_tensor *a = cg_tensor_normal(&rng, CG_F64, 2, (int64_t[]){30, 20}, 0, 1);
    cg_tensor *b = cg_tensor_normal(&rng, CG_F64, 2, (int64_t[]){20, 25}, 0, 1);
    cg_tensor_set_requires_grad(a, true);
    cg_tensor_set_requires_grad(b, true);
    cg_tensor *in[2] = {a, b};
    cg_gradcheck_options opt = cg_gradcheck_defaults();
    opt.max_entries = 1000;
    opt.samples = 16;
    cg_status good = cg_gradcheck(f_matmul, in, 2, NULL, &opt);
    char msg[600];
    snprintf(msg, sizeof msg, "%s", cg_last_error());
    cg_status bad = cg_gradcheck(f_wrong, in, 1, NULL, &opt);
    cg_tensor_free(a);
    cg_tensor_free(b);
    if (good != CG_OK)
        fail_msg("sampled gradcheck of matmul: %s", msg);
    assert_int_equal(bad, CG_ERR_GRADCHECK);
}

int main(void)
{
    if (!gather_cases())
        return 1;
    live_at_start = cg_alloc_get_stats().live_bytes;
    enum { FIXED = 3 };
    struct CMUnitTest *tests = calloc(ncases + FIXED, sizeof *tests);
    tests[0] = (struct CMUnitTest)cmocka_unit_test(test_every_op_has_a_case);
    tests[1] = (struct CMUnitTest)cmocka_unit_test(test_gradcheck_catches_wrong_gradient);
    tests[2] = (struct CMUnitTest)cmocka_unit_test(test_sampled_jacobian);
    char (*names)[128] = calloc(ncases, sizeof *names);
    for (size_t i = 0; i < ncases; i++) {
        snprintf(names[i], sizeof names[i], "%s: %s", cases[i].op, cases[i].label);
        tests[i + FIXED] = (struct CMUnitTest){names[i], test_case, case_setup, case_teardown, NULL};
    }
    int failed = _cmocka_run_group_tests("gradcheck_ops", tests, ncases + FIXED, NULL, NULL);
    free(names);
    free(tests);
    free(cases);
    return failed;
}
