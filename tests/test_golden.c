/*
 * Golden test: every op of lib/ops/op_list.h, through its public builder, against PyTorch.
 *
 * tests/golden/make_golden.py (run with Debian's /usr/bin/python3 and its torch) writes
 * golden/<family>.txt; the files are committed, so this test needs no Python. The test runs
 * with the working directory tests/.
 *
 * This file holds only the table mapping each golden case to a C function that builds the
 * same expression with the public API; the reader, the comparison (tolerance rule, worst
 * element, largest differences per dtype) and the runner live in golden_reader.h/.c, which
 * also describe the file format and how a new family of ops adds its own golden suite
 * (tests/golden/make_golden_<family>.py and tests/test_golden_<family>.c). The test
 * "test_golden_table" fails when a golden case has no C builder or a C builder has no golden
 * case.
 */
#include "golden_reader.h"

/* ---- the builders: case name -> the expression built with the public API ---- */

typedef golden_builder builder;

/* Table rows: B(name, fn), or R(name, fn, designated fields) for reductions. */
#define B(n, f) {.name = (n), .fn = (f)}
#define R(n, f, ...) {.name = (n), .fn = (f), __VA_ARGS__}
#define AXES GOLDEN_AXES

static cg_tensor *T(cg_tensor *x) { return cg_transpose(x, 0, 1); }

/* elementwise: binary */
static cg_tensor *b_add(cg_tensor *const *x, const builder *b) { (void)b; return cg_add(x[0], x[1]); }
static cg_tensor *b_sub(cg_tensor *const *x, const builder *b) { (void)b; return cg_sub(x[0], x[1]); }
static cg_tensor *b_mul(cg_tensor *const *x, const builder *b) { (void)b; return cg_mul(x[0], x[1]); }
static cg_tensor *b_div(cg_tensor *const *x, const builder *b) { (void)b; return cg_div(x[0], x[1]); }
static cg_tensor *b_pow(cg_tensor *const *x, const builder *b) { (void)b; return cg_pow(x[0], x[1]); }
static cg_tensor *b_maximum(cg_tensor *const *x, const builder *b) { (void)b; return cg_maximum(x[0], x[1]); }
static cg_tensor *b_minimum(cg_tensor *const *x, const builder *b) { (void)b; return cg_minimum(x[0], x[1]); }
static cg_tensor *b_add_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_add(T(x[0]), x[1]); }
static cg_tensor *b_sub_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_sub(T(x[0]), x[1]); }
static cg_tensor *b_mul_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_mul(T(x[0]), x[1]); }
static cg_tensor *b_div_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_div(T(x[0]), x[1]); }
static cg_tensor *b_pow_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_pow(T(x[0]), x[1]); }
static cg_tensor *b_maximum_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_maximum(T(x[0]), x[1]); }
static cg_tensor *b_minimum_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_minimum(T(x[0]), x[1]); }
static cg_tensor *b_mul_tt(cg_tensor *const *x, const builder *b) { (void)b; return cg_mul(T(x[0]), T(x[1])); }
static cg_tensor *b_square(cg_tensor *const *x, const builder *b) { (void)b; return cg_mul(x[0], x[0]); }
static cg_tensor *b_eq(cg_tensor *const *x, const builder *b) { (void)b; return cg_eq(x[0], x[1]); }
static cg_tensor *b_ne(cg_tensor *const *x, const builder *b) { (void)b; return cg_ne(x[0], x[1]); }
static cg_tensor *b_lt(cg_tensor *const *x, const builder *b) { (void)b; return cg_lt(x[0], x[1]); }
static cg_tensor *b_le(cg_tensor *const *x, const builder *b) { (void)b; return cg_le(x[0], x[1]); }
static cg_tensor *b_gt(cg_tensor *const *x, const builder *b) { (void)b; return cg_gt(x[0], x[1]); }
static cg_tensor *b_ge(cg_tensor *const *x, const builder *b) { (void)b; return cg_ge(x[0], x[1]); }
static cg_tensor *b_where(cg_tensor *const *x, const builder *b) { (void)b; return cg_where(x[0], x[1], x[2]); }
static cg_tensor *b_where_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_where(x[0], T(x[1]), x[2]); }

/* elementwise: unary */
static cg_tensor *b_neg(cg_tensor *const *x, const builder *b) { (void)b; return cg_neg(x[0]); }
static cg_tensor *b_exp(cg_tensor *const *x, const builder *b) { (void)b; return cg_exp(x[0]); }
static cg_tensor *b_log(cg_tensor *const *x, const builder *b) { (void)b; return cg_log(x[0]); }
static cg_tensor *b_sqrt(cg_tensor *const *x, const builder *b) { (void)b; return cg_sqrt(x[0]); }
static cg_tensor *b_rsqrt(cg_tensor *const *x, const builder *b) { (void)b; return cg_rsqrt(x[0]); }
static cg_tensor *b_abs(cg_tensor *const *x, const builder *b) { (void)b; return cg_abs(x[0]); }
static cg_tensor *b_sign(cg_tensor *const *x, const builder *b) { (void)b; return cg_sign(x[0]); }
static cg_tensor *b_neg_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_neg(T(x[0])); }
static cg_tensor *b_exp_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_exp(T(x[0])); }
static cg_tensor *b_log_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_log(T(x[0])); }
static cg_tensor *b_sqrt_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_sqrt(T(x[0])); }
static cg_tensor *b_rsqrt_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_rsqrt(T(x[0])); }
static cg_tensor *b_abs_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_abs(T(x[0])); }
static cg_tensor *b_sign_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_sign(T(x[0])); }
static cg_tensor *b_clamp(cg_tensor *const *x, const builder *b) { (void)b; return cg_clamp(x[0], -0.5, 0.5); }
static cg_tensor *b_clamp_lo(cg_tensor *const *x, const builder *b) { (void)b; return cg_clamp(x[0], -0.3, INFINITY); }
static cg_tensor *b_clamp_hi(cg_tensor *const *x, const builder *b) { (void)b; return cg_clamp(x[0], -INFINITY, 0.2); }
static cg_tensor *b_clamp_crossed(cg_tensor *const *x, const builder *b) { (void)b; return cg_clamp(x[0], 0.5, -0.5); }
static cg_tensor *b_clamp_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_clamp(T(x[0]), -0.5, 0.5); }
static cg_tensor *b_add_scalar(cg_tensor *const *x, const builder *b) { (void)b; return cg_add_scalar(x[0], 0.75); }
static cg_tensor *b_mul_scalar(cg_tensor *const *x, const builder *b) { (void)b; return cg_mul_scalar(x[0], -1.25); }
static cg_tensor *b_add_scalar_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_add_scalar(T(x[0]), 0.1); }
static cg_tensor *b_mul_scalar_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_mul_scalar(T(x[0]), 0.3); }
static cg_tensor *b_pow_2(cg_tensor *const *x, const builder *b) { (void)b; return cg_pow_scalar(x[0], 2.0); }
static cg_tensor *b_pow_3(cg_tensor *const *x, const builder *b) { (void)b; return cg_pow_scalar(x[0], 3.0); }
static cg_tensor *b_pow_half(cg_tensor *const *x, const builder *b) { (void)b; return cg_pow_scalar(x[0], 0.5); }
static cg_tensor *b_pow_neg1(cg_tensor *const *x, const builder *b) { (void)b; return cg_pow_scalar(x[0], -1.0); }
static cg_tensor *b_pow_0(cg_tensor *const *x, const builder *b) { (void)b; return cg_pow_scalar(x[0], 0.0); }
static cg_tensor *b_pow_neg1p5(cg_tensor *const *x, const builder *b) { (void)b; return cg_pow_scalar(x[0], -1.5); }
static cg_tensor *b_pow_2p5(cg_tensor *const *x, const builder *b) { (void)b; return cg_pow_scalar(x[0], 2.5); }
static cg_tensor *b_pow_scalar_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_pow_scalar(T(x[0]), 1.5); }
static cg_tensor *b_to_f64(cg_tensor *const *x, const builder *b) { (void)b; return cg_to_dtype(x[0], CG_F64); }
static cg_tensor *b_to_f32(cg_tensor *const *x, const builder *b) { (void)b; return cg_to_dtype(x[0], CG_F32); }
static cg_tensor *b_to_f64_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_to_dtype(T(x[0]), CG_F64); }
static cg_tensor *b_contiguous(cg_tensor *const *x, const builder *b) { (void)b; return cg_contiguous(x[0]); }
static cg_tensor *b_contiguous_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_contiguous(T(x[0])); }

/* reduce.c: axes, keepdim and correction come from the table row */
static cg_tensor *b_sum(cg_tensor *const *x, const builder *b) { return cg_sum(x[0], b->axes, b->naxes, b->keep); }
static cg_tensor *b_mean(cg_tensor *const *x, const builder *b) { return cg_mean(x[0], b->axes, b->naxes, b->keep); }
static cg_tensor *b_max(cg_tensor *const *x, const builder *b) { return cg_max(x[0], b->axes, b->naxes, b->keep); }
static cg_tensor *b_min(cg_tensor *const *x, const builder *b) { return cg_min(x[0], b->axes, b->naxes, b->keep); }
static cg_tensor *b_var(cg_tensor *const *x, const builder *b) { return cg_var(x[0], b->axes, b->naxes, b->corr, b->keep); }
static cg_tensor *b_logsumexp(cg_tensor *const *x, const builder *b) { return cg_logsumexp(x[0], b->axes, b->naxes, b->keep); }
static cg_tensor *b_sum_t(cg_tensor *const *x, const builder *b) { return cg_sum(T(x[0]), b->axes, b->naxes, b->keep); }
static cg_tensor *b_mean_t(cg_tensor *const *x, const builder *b) { return cg_mean(T(x[0]), b->axes, b->naxes, b->keep); }
static cg_tensor *b_max_t(cg_tensor *const *x, const builder *b) { return cg_max(T(x[0]), b->axes, b->naxes, b->keep); }
static cg_tensor *b_min_t(cg_tensor *const *x, const builder *b) { return cg_min(T(x[0]), b->axes, b->naxes, b->keep); }
static cg_tensor *b_var_t(cg_tensor *const *x, const builder *b) { return cg_var(T(x[0]), b->axes, b->naxes, b->corr, b->keep); }
static cg_tensor *b_logsumexp_t(cg_tensor *const *x, const builder *b) { return cg_logsumexp(T(x[0]), b->axes, b->naxes, b->keep); }
static cg_tensor *b_sum_to_31(cg_tensor *const *x, const builder *b) { (void)b; return cg_sum_to(x[0], 2, (int64_t[]){3, 1}); }
static cg_tensor *b_sum_to_3(cg_tensor *const *x, const builder *b) { (void)b; return cg_sum_to(x[0], 1, (int64_t[]){3}); }
static cg_tensor *b_sum_to_23(cg_tensor *const *x, const builder *b) { (void)b; return cg_sum_to(x[0], 2, (int64_t[]){2, 3}); }
static cg_tensor *b_sum_to_0d(cg_tensor *const *x, const builder *b) { (void)b; return cg_sum_to(x[0], 0, NULL); }
static cg_tensor *b_sum_to_214(cg_tensor *const *x, const builder *b) { (void)b; return cg_sum_to(x[0], 3, (int64_t[]){2, 1, 4}); }
static cg_tensor *b_sum_to_14_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_sum_to(T(x[0]), 2, (int64_t[]){1, 4}); }

/* softmax.c */
static cg_tensor *b_softmax0(cg_tensor *const *x, const builder *b) { (void)b; return cg_softmax(x[0], 0); }
static cg_tensor *b_softmax1(cg_tensor *const *x, const builder *b) { (void)b; return cg_softmax(x[0], 1); }
static cg_tensor *b_softmax_neg1(cg_tensor *const *x, const builder *b) { (void)b; return cg_softmax(x[0], -1); }
static cg_tensor *b_softmax1_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_softmax(T(x[0]), 1); }
static cg_tensor *b_log_softmax0(cg_tensor *const *x, const builder *b) { (void)b; return cg_log_softmax(x[0], 0); }
static cg_tensor *b_log_softmax1(cg_tensor *const *x, const builder *b) { (void)b; return cg_log_softmax(x[0], 1); }
static cg_tensor *b_log_softmax_neg1(cg_tensor *const *x, const builder *b) { (void)b; return cg_log_softmax(x[0], -1); }
static cg_tensor *b_log_softmax1_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_log_softmax(T(x[0]), 1); }

/* matmul.c */
static cg_tensor *b_matmul(cg_tensor *const *x, const builder *b) { (void)b; return cg_matmul(x[0], x[1]); }
static cg_tensor *b_matmul_ta(cg_tensor *const *x, const builder *b) { (void)b; return cg_matmul(T(x[0]), x[1]); }
static cg_tensor *b_matmul_tb(cg_tensor *const *x, const builder *b) { (void)b; return cg_matmul(x[0], T(x[1])); }
static cg_tensor *b_matmul_tab(cg_tensor *const *x, const builder *b) { (void)b; return cg_matmul(T(x[0]), T(x[1])); }
static cg_tensor *b_matmul_same(cg_tensor *const *x, const builder *b) { (void)b; return cg_matmul(x[0], x[0]); }

/* shape.c */
static cg_tensor *b_reshape_6_4(cg_tensor *const *x, const builder *b) { (void)b; return cg_reshape(x[0], 2, (int64_t[]){6, 4}); }
static cg_tensor *b_reshape_infer(cg_tensor *const *x, const builder *b) { (void)b; return cg_reshape(x[0], 2, (int64_t[]){-1, 2}); }
static cg_tensor *b_reshape_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_reshape(T(x[0]), 2, (int64_t[]){2, 6}); }
static cg_tensor *b_reshape_0d(cg_tensor *const *x, const builder *b) { (void)b; return cg_reshape(x[0], 0, NULL); }
static cg_tensor *b_reshape_111(cg_tensor *const *x, const builder *b) { (void)b; return cg_reshape(x[0], 3, (int64_t[]){1, 1, 1}); }
static cg_tensor *b_reshape_3_0(cg_tensor *const *x, const builder *b) { (void)b; return cg_reshape(x[0], 2, (int64_t[]){3, 0}); }
static cg_tensor *b_permute_201(cg_tensor *const *x, const builder *b) { (void)b; return cg_permute(x[0], (int[]){2, 0, 1}); }
static cg_tensor *b_permute_3d_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_permute(cg_transpose(x[0], 0, 2), (int[]){1, 2, 0}); }
static cg_tensor *b_transpose_02(cg_tensor *const *x, const builder *b) { (void)b; return cg_transpose(x[0], 0, 2); }
static cg_tensor *b_transpose_neg(cg_tensor *const *x, const builder *b) { (void)b; return cg_transpose(x[0], -1, -2); }
static cg_tensor *b_slice_step2(cg_tensor *const *x, const builder *b) { (void)b; return cg_slice(x[0], 1, 0, 5, 2); }
static cg_tensor *b_slice(cg_tensor *const *x, const builder *b) { (void)b; return cg_slice(x[0], 1, 1, 4, 1); }
static cg_tensor *b_slice_neg(cg_tensor *const *x, const builder *b) { (void)b; return cg_slice(x[0], 0, -3, -1, 1); }
static cg_tensor *b_slice_clamp(cg_tensor *const *x, const builder *b) { (void)b; return cg_slice(x[0], 1, -100, 100, 3); }
static cg_tensor *b_slice_empty(cg_tensor *const *x, const builder *b) { (void)b; return cg_slice(x[0], 1, 3, 1, 1); }
static cg_tensor *b_slice_axneg(cg_tensor *const *x, const builder *b) { (void)b; return cg_slice(x[0], -1, 1, 4, 2); }
static cg_tensor *b_slice_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_slice(T(x[0]), 0, 1, 3, 1); }
static cg_tensor *b_slice_twice(cg_tensor *const *x, const builder *b) { (void)b; return cg_slice(cg_slice(x[0], 0, 1, 5, 2), 0, 1, 2, 1); }
static cg_tensor *b_expand_34(cg_tensor *const *x, const builder *b) { (void)b; return cg_expand(x[0], 2, (int64_t[]){3, 4}); }
static cg_tensor *b_expand_234(cg_tensor *const *x, const builder *b) { (void)b; return cg_expand(x[0], 3, (int64_t[]){2, 3, 4}); }
static cg_tensor *b_expand_keep(cg_tensor *const *x, const builder *b) { (void)b; return cg_expand(x[0], 2, (int64_t[]){-1, 4}); }
static cg_tensor *b_expand_23(cg_tensor *const *x, const builder *b) { (void)b; return cg_expand(x[0], 2, (int64_t[]){2, 3}); }
static cg_tensor *b_expand_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_expand(T(x[0]), 3, (int64_t[]){2, 3, 4}); }
static cg_tensor *b_slice_scatter(cg_tensor *const *x, const builder *b) { (void)b; return cg_slice_scatter(x[0], 2, (int64_t[]){2, 5}, 1, 1, 5, 2); }
static cg_tensor *b_slice_scatter_neg(cg_tensor *const *x, const builder *b) { (void)b; return cg_slice_scatter(x[0], 2, (int64_t[]){5, 3}, 0, -3, -1, 1); }
static cg_tensor *b_slice_scatter_3d(cg_tensor *const *x, const builder *b) { (void)b; return cg_slice_scatter(x[0], 3, (int64_t[]){2, 3, 7}, -1, 1, 7, 3); }
static cg_tensor *b_slice_scatter_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_slice_scatter(T(x[0]), 2, (int64_t[]){2, 5}, 1, 0, 3, 1); }
static cg_tensor *b_unsqueeze0(cg_tensor *const *x, const builder *b) { (void)b; return cg_unsqueeze(x[0], 0); }
static cg_tensor *b_unsqueeze1(cg_tensor *const *x, const builder *b) { (void)b; return cg_unsqueeze(x[0], 1); }
static cg_tensor *b_unsqueeze_neg1(cg_tensor *const *x, const builder *b) { (void)b; return cg_unsqueeze(x[0], -1); }
static cg_tensor *b_squeeze0(cg_tensor *const *x, const builder *b) { (void)b; return cg_squeeze(x[0], 0); }
static cg_tensor *b_squeeze1(cg_tensor *const *x, const builder *b) { (void)b; return cg_squeeze(x[0], 1); }
static cg_tensor *b_squeeze_neg1(cg_tensor *const *x, const builder *b) { (void)b; return cg_squeeze(x[0], -1); }
static cg_tensor *b_flatten01(cg_tensor *const *x, const builder *b) { (void)b; return cg_flatten(x[0], 0, 1); }
static cg_tensor *b_flatten_all(cg_tensor *const *x, const builder *b) { (void)b; return cg_flatten(x[0], 0, -1); }
static cg_tensor *b_flatten12(cg_tensor *const *x, const builder *b) { (void)b; return cg_flatten(x[0], 1, 2); }
static cg_tensor *b_flatten_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_flatten(T(x[0]), 0, 1); }

/* index.c */
static cg_tensor *b_concat3_0(cg_tensor *const *x, const builder *b) { (void)b; return cg_concat(x, 3, 0); }
static cg_tensor *b_concat2_1(cg_tensor *const *x, const builder *b) { (void)b; return cg_concat(x, 2, 1); }
static cg_tensor *b_concat2_neg1(cg_tensor *const *x, const builder *b) { (void)b; return cg_concat(x, 2, -1); }
static cg_tensor *b_concat1(cg_tensor *const *x, const builder *b) { (void)b; return cg_concat(x, 1, 0); }
static cg_tensor *b_concat_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_concat((cg_tensor *[]){T(x[0]), x[1]}, 2, 0); }
static cg_tensor *b_concat_same(cg_tensor *const *x, const builder *b) { (void)b; return cg_concat((cg_tensor *[]){x[0], x[0]}, 2, 1); }
static cg_tensor *b_concat6(cg_tensor *const *x, const builder *b) { (void)b; return cg_concat(x, 6, 0); }
static cg_tensor *b_stack3_0(cg_tensor *const *x, const builder *b) { (void)b; return cg_stack(x, 3, 0); }
static cg_tensor *b_stack2_1(cg_tensor *const *x, const builder *b) { (void)b; return cg_stack(x, 2, 1); }
static cg_tensor *b_stack2_2(cg_tensor *const *x, const builder *b) { (void)b; return cg_stack(x, 2, 2); }
static cg_tensor *b_stack2_neg1(cg_tensor *const *x, const builder *b) { (void)b; return cg_stack(x, 2, -1); }
static cg_tensor *b_index_select0(cg_tensor *const *x, const builder *b) { (void)b; return cg_index_select(x[0], 0, x[1]); }
static cg_tensor *b_index_select1(cg_tensor *const *x, const builder *b) { (void)b; return cg_index_select(x[0], 1, x[1]); }
static cg_tensor *b_index_select_neg1(cg_tensor *const *x, const builder *b) { (void)b; return cg_index_select(x[0], -1, x[1]); }
static cg_tensor *b_index_select_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_index_select(T(x[0]), 0, x[1]); }
static cg_tensor *b_gather0(cg_tensor *const *x, const builder *b) { (void)b; return cg_gather(x[0], 0, x[1]); }
static cg_tensor *b_gather1(cg_tensor *const *x, const builder *b) { (void)b; return cg_gather(x[0], 1, x[1]); }
static cg_tensor *b_gather_neg1(cg_tensor *const *x, const builder *b) { (void)b; return cg_gather(x[0], -1, x[1]); }
static cg_tensor *b_gather_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_gather(T(x[0]), 0, x[1]); }
static cg_tensor *b_index_add0(cg_tensor *const *x, const builder *b) { (void)b; return cg_index_add(x[0], 0, x[1], x[2]); }
static cg_tensor *b_index_add1(cg_tensor *const *x, const builder *b) { (void)b; return cg_index_add(x[0], 1, x[1], x[2]); }
static cg_tensor *b_index_add_neg1(cg_tensor *const *x, const builder *b) { (void)b; return cg_index_add(x[0], -1, x[1], x[2]); }
static cg_tensor *b_index_add_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_index_add(T(x[0]), 0, x[1], x[2]); }
static cg_tensor *b_scatter_add0(cg_tensor *const *x, const builder *b) { (void)b; return cg_scatter_add(x[0], 0, x[1], x[2]); }
static cg_tensor *b_scatter_add1(cg_tensor *const *x, const builder *b) { (void)b; return cg_scatter_add(x[0], 1, x[1], x[2]); }
static cg_tensor *b_scatter_add_neg1(cg_tensor *const *x, const builder *b) { (void)b; return cg_scatter_add(x[0], -1, x[1], x[2]); }
static cg_tensor *b_scatter_add_t(cg_tensor *const *x, const builder *b) { (void)b; return cg_scatter_add(T(x[0]), 0, x[1], x[2]); }

/* Every golden case and its builder. Each name appears once and must match one case. */
static const builder builders[] = {
    /* elementwise.c: binary */
    B("add_same_f64", b_add), B("add_same_f32", b_add),
    B("add_bcast_f64", b_add), B("add_bcast_f32", b_add),
    B("add_t_f64", b_add_t), B("add_0d_f64", b_add),
    B("add_size1_f64", b_add), B("add_zero_f64", b_add),
    B("sub_same_f64", b_sub), B("sub_same_f32", b_sub),
    B("sub_bcast_f64", b_sub), B("sub_bcast_f32", b_sub),
    B("sub_t_f64", b_sub_t), B("sub_0d_first_f64", b_sub),
    B("mul_same_f64", b_mul), B("mul_same_f32", b_mul),
    B("mul_bcast_f64", b_mul), B("mul_bcast_f32", b_mul),
    B("mul_t_f64", b_mul_t), B("mul_tt_f32", b_mul_tt),
    B("mul_square_f64", b_square),
    B("div_same_f64", b_div), B("div_same_f32", b_div),
    B("div_bcast_f64", b_div), B("div_bcast_f32", b_div),
    B("div_t_f64", b_div_t), B("div_0d_f64", b_div),
    B("pow_same_f64", b_pow), B("pow_same_f32", b_pow),
    B("pow_bcast_f64", b_pow), B("pow_t_f64", b_pow_t),
    B("maximum_same_f64", b_maximum), B("maximum_same_f32", b_maximum),
    B("maximum_bcast_f64", b_maximum), B("maximum_bcast_f32", b_maximum),
    B("maximum_t_f64", b_maximum_t), B("maximum_tie_f64", b_maximum),
    B("maximum_tie_f32", b_maximum),
    B("minimum_same_f64", b_minimum), B("minimum_same_f32", b_minimum),
    B("minimum_bcast_f64", b_minimum), B("minimum_bcast_f32", b_minimum),
    B("minimum_t_f64", b_minimum_t), B("minimum_tie_f64", b_minimum),
    B("eq_bcast_f64", b_eq), B("eq_same_f32", b_eq),
    B("ne_bcast_f64", b_ne), B("ne_same_f32", b_ne),
    B("lt_bcast_f64", b_lt), B("lt_same_f32", b_lt),
    B("le_bcast_f64", b_le), B("le_same_f32", b_le),
    B("gt_bcast_f64", b_gt), B("gt_same_f32", b_gt),
    B("ge_bcast_f64", b_ge), B("ge_same_f32", b_ge),
    B("where_same_f64", b_where), B("where_same_f32", b_where),
    B("where_bcast_f64", b_where), B("where_bcast3_f64", b_where),
    B("where_i64cond_f64", b_where),
    B("where_t_f64", b_where_t),
    /* elementwise.c: unary */
    B("neg_f64", b_neg), B("neg_f32", b_neg), B("neg_t_f64", b_neg_t),
    B("exp_f64", b_exp), B("exp_f32", b_exp), B("exp_t_f64", b_exp_t),
    B("exp_0d_f64", b_exp), B("exp_zero_f64", b_exp),
    B("log_f64", b_log), B("log_f32", b_log), B("log_t_f64", b_log_t),
    B("sqrt_f64", b_sqrt), B("sqrt_f32", b_sqrt), B("sqrt_t_f64", b_sqrt_t),
    B("rsqrt_f64", b_rsqrt), B("rsqrt_f32", b_rsqrt), B("rsqrt_t_f64", b_rsqrt_t),
    B("abs_f64", b_abs), B("abs_f32", b_abs), B("abs_t_f64", b_abs_t),
    B("sign_f64", b_sign), B("sign_f32", b_sign), B("sign_t_f64", b_sign_t),
    B("clamp_f64", b_clamp), B("clamp_f32", b_clamp),
    B("clamp_lo_f64", b_clamp_lo), B("clamp_lo_f32", b_clamp_lo),
    B("clamp_hi_f64", b_clamp_hi), B("clamp_hi_f32", b_clamp_hi),
    B("clamp_tie_f64", b_clamp), B("clamp_crossed_f64", b_clamp_crossed),
    B("clamp_t_f64", b_clamp_t),
    B("add_scalar_f64", b_add_scalar), B("add_scalar_f32", b_add_scalar),
    B("add_scalar_t_f64", b_add_scalar_t),
    B("mul_scalar_f64", b_mul_scalar), B("mul_scalar_f32", b_mul_scalar),
    B("mul_scalar_t_f64", b_mul_scalar_t),
    B("pow_scalar_2_f64", b_pow_2), B("pow_scalar_3_f64", b_pow_3),
    B("pow_scalar_3_f32", b_pow_3), B("pow_scalar_half_f64", b_pow_half),
    B("pow_scalar_neg1_f64", b_pow_neg1), B("pow_scalar_0_f64", b_pow_0),
    B("pow_scalar_neg1p5_f64", b_pow_neg1p5), B("pow_scalar_2p5_f64", b_pow_2p5),
    B("pow_scalar_2p5_f32", b_pow_2p5), B("pow_scalar_t_f64", b_pow_scalar_t),
    B("to_dtype_to_f64_f32", b_to_f64), B("to_dtype_to_f32_f64", b_to_f32),
    B("to_dtype_t_f32", b_to_f64_t),
    B("contiguous_f64", b_contiguous), B("contiguous_t_f64", b_contiguous_t),
    B("contiguous_t_f32", b_contiguous_t),

    /* reduce.c (naxes 0 reduces every axis) */
    B("sum_all_f64", b_sum), B("sum_all_f32", b_sum),
    R("sum_ax0_f64", b_sum, AXES(0)),
    R("sum_ax1_keep_f64", b_sum, AXES(1), .keep = true),
    R("sum_ax1_keep_f32", b_sum, AXES(1), .keep = true),
    R("sum_axneg1_f64", b_sum, AXES(-1)),
    R("sum_ax02_f64", b_sum, AXES(0, 2)), R("sum_ax02_f32", b_sum, AXES(0, 2)),
    R("sum_ax02_keep_f64", b_sum, AXES(0, 2), .keep = true),
    R("sum_ax_neg3_neg1_keep_f64", b_sum, AXES(-3, -1), .keep = true),
    R("sum_size1_f64", b_sum, AXES(1)),
    B("sum_0d_f64", b_sum),
    R("sum_t_ax1_f64", b_sum_t, AXES(1)),
    R("sum_empty_ax0_f64", b_sum, AXES(0)),
    B("sum_empty_all_f64", b_sum),
    B("mean_all_f64", b_mean), B("mean_all_f32", b_mean),
    R("mean_ax0_f64", b_mean, AXES(0)),
    R("mean_ax1_keep_f64", b_mean, AXES(1), .keep = true),
    R("mean_ax1_keep_f32", b_mean, AXES(1), .keep = true),
    R("mean_axneg1_f64", b_mean, AXES(-1)),
    R("mean_ax02_f64", b_mean, AXES(0, 2)), R("mean_ax02_f32", b_mean, AXES(0, 2)),
    R("mean_ax02_keep_f64", b_mean, AXES(0, 2), .keep = true),
    R("mean_ax_neg3_neg1_keep_f64", b_mean, AXES(-3, -1), .keep = true),
    R("mean_size1_f64", b_mean, AXES(1)),
    R("mean_t_ax0_f64", b_mean_t, AXES(0)),
    R("mean_empty_ax0_f64", b_mean, AXES(0)),
    B("max_all_f64", b_max), B("max_all_f32", b_max),
    R("max_ax0_f64", b_max, AXES(0)),
    R("max_ax1_keep_f64", b_max, AXES(1), .keep = true),
    R("max_ax1_keep_f32", b_max, AXES(1), .keep = true),
    R("max_axneg1_f64", b_max, AXES(-1)),
    R("max_ax02_f64", b_max, AXES(0, 2)), R("max_ax02_f32", b_max, AXES(0, 2)),
    R("max_ax02_keep_f64", b_max, AXES(0, 2), .keep = true),
    R("max_ax_neg3_neg1_keep_f64", b_max, AXES(-3, -1), .keep = true),
    R("max_size1_f64", b_max, AXES(1)),
    R("max_t_ax1_f64", b_max_t, AXES(1)),
    R("max_tie_ax1_f64", b_max, AXES(1)),
    B("max_tie_all_f64", b_max),
    R("max_tie_ax0_f32", b_max, AXES(0)),
    B("min_all_f64", b_min), B("min_all_f32", b_min),
    R("min_ax0_f64", b_min, AXES(0)),
    R("min_ax1_keep_f64", b_min, AXES(1), .keep = true),
    R("min_ax1_keep_f32", b_min, AXES(1), .keep = true),
    R("min_axneg1_f64", b_min, AXES(-1)),
    R("min_ax02_f64", b_min, AXES(0, 2)), R("min_ax02_f32", b_min, AXES(0, 2)),
    R("min_ax02_keep_f64", b_min, AXES(0, 2), .keep = true),
    R("min_ax_neg3_neg1_keep_f64", b_min, AXES(-3, -1), .keep = true),
    R("min_size1_f64", b_min, AXES(1)),
    B("min_t_all_f32", b_min_t),
    R("min_tie_ax1_f64", b_min, AXES(1)),
    R("min_tie_ax0_keep_f64", b_min, AXES(0), .keep = true),
    B("logsumexp_all_f64", b_logsumexp), B("logsumexp_all_f32", b_logsumexp),
    R("logsumexp_ax0_f64", b_logsumexp, AXES(0)),
    R("logsumexp_ax1_keep_f64", b_logsumexp, AXES(1), .keep = true),
    R("logsumexp_ax1_keep_f32", b_logsumexp, AXES(1), .keep = true),
    R("logsumexp_axneg1_f64", b_logsumexp, AXES(-1)),
    R("logsumexp_ax02_f64", b_logsumexp, AXES(0, 2)),
    R("logsumexp_ax02_f32", b_logsumexp, AXES(0, 2)),
    R("logsumexp_ax02_keep_f64", b_logsumexp, AXES(0, 2), .keep = true),
    R("logsumexp_ax_neg3_neg1_keep_f64", b_logsumexp, AXES(-3, -1), .keep = true),
    R("logsumexp_size1_f64", b_logsumexp, AXES(1)),
    R("logsumexp_t_ax0_f64", b_logsumexp_t, AXES(0)),
    R("logsumexp_large_f64", b_logsumexp, AXES(1)),
    R("logsumexp_large_f32", b_logsumexp, AXES(1)),
    R("var_all_f64", b_var, .corr = 1), R("var_all_f32", b_var, .corr = 1),
    R("var_ax1_f64", b_var, AXES(1), .corr = 1),
    R("var_ax0_c0_keep_f64", b_var, AXES(0), .corr = 0, .keep = true),
    R("var_ax0_c0_keep_f32", b_var, AXES(0), .corr = 0, .keep = true),
    R("var_ax02_c1_f64", b_var, AXES(0, 2), .corr = 1),
    R("var_ax02_c1_f32", b_var, AXES(0, 2), .corr = 1),
    R("var_axneg1_c2_f64", b_var, AXES(-1), .corr = 2),
    R("var_ax_neg2_keep_f64", b_var, AXES(-2), .corr = 1, .keep = true),
    R("var_t_ax1_f64", b_var_t, AXES(1), .corr = 1),
    R("var_n1_f64", b_var, AXES(1), .corr = 1),
    R("var_n1_c0_f64", b_var, AXES(1), .corr = 0),
    B("sum_to_f64", b_sum_to_31), B("sum_to_lead_f64", b_sum_to_3),
    B("sum_to_same_f64", b_sum_to_23), B("sum_to_0d_f64", b_sum_to_0d),
    B("sum_to_mid_f32", b_sum_to_214), B("sum_to_t_f64", b_sum_to_14_t),

    /* softmax.c */
    B("softmax_ax1_f64", b_softmax1), B("softmax_ax1_f32", b_softmax1),
    B("softmax_axneg1_3d_f64", b_softmax_neg1), B("softmax_axneg1_3d_f32", b_softmax_neg1),
    B("softmax_ax0_f64", b_softmax0), B("softmax_ax1_3d_f64", b_softmax1),
    B("softmax_large_f64", b_softmax1), B("softmax_large_f32", b_softmax1),
    B("softmax_t_f64", b_softmax1_t), B("softmax_size1_f64", b_softmax1),
    B("softmax_1d_f64", b_softmax0), B("softmax_zero_f64", b_softmax1),
    B("log_softmax_ax1_f64", b_log_softmax1), B("log_softmax_ax1_f32", b_log_softmax1),
    B("log_softmax_axneg1_3d_f64", b_log_softmax_neg1),
    B("log_softmax_axneg1_3d_f32", b_log_softmax_neg1),
    B("log_softmax_ax0_f64", b_log_softmax0), B("log_softmax_ax1_3d_f64", b_log_softmax1),
    B("log_softmax_large_f64", b_log_softmax1), B("log_softmax_large_f32", b_log_softmax1),
    B("log_softmax_t_f64", b_log_softmax1_t), B("log_softmax_size1_f64", b_log_softmax1),
    B("log_softmax_1d_f64", b_log_softmax0), B("log_softmax_zero_f64", b_log_softmax1),

    /* matmul.c */
    B("matmul_2d_f64", b_matmul), B("matmul_2d_f32", b_matmul),
    B("matmul_tab_f64", b_matmul_tab), B("matmul_tab_f32", b_matmul_tab),
    B("matmul_batched_f64", b_matmul), B("matmul_batched_f32", b_matmul),
    B("matmul_vv_f64", b_matmul), B("matmul_vv_f32", b_matmul),
    B("matmul_ta_f64", b_matmul_ta), B("matmul_tb_f64", b_matmul_tb),
    B("matmul_bcast_f64", b_matmul), B("matmul_bcast_f32", b_matmul),
    B("matmul_bcast_2d_rhs_f64", b_matmul), B("matmul_bcast_2d_lhs_f64", b_matmul),
    B("matmul_mv_f64", b_matmul), B("matmul_vm_f64", b_matmul),
    B("matmul_bv_f64", b_matmul), B("matmul_vb_f64", b_matmul),
    B("matmul_tv_f64", b_matmul_ta), B("matmul_outer_f64", b_matmul),
    B("matmul_k0_f64", b_matmul), B("matmul_m0_f64", b_matmul),
    B("matmul_same_f64", b_matmul_same),
    B("matmul_big_f64", b_matmul), B("matmul_big_f32", b_matmul),

    /* shape.c */
    B("reshape_f64", b_reshape_6_4), B("reshape_f32", b_reshape_6_4),
    B("reshape_infer_f64", b_reshape_infer), B("reshape_t_f64", b_reshape_t),
    B("reshape_to_0d_f64", b_reshape_0d), B("reshape_from_0d_f64", b_reshape_111),
    B("reshape_zero_f64", b_reshape_3_0),
    B("permute_f64", b_permute_201), B("permute_f32", b_permute_201),
    B("permute_3d_t_f64", b_permute_3d_t),
    B("transpose_f64", b_transpose_02), B("transpose_neg_f64", b_transpose_neg),
    B("slice_step2_f64", b_slice_step2), B("slice_step2_f32", b_slice_step2),
    B("slice_f64", b_slice), B("slice_neg_f64", b_slice_neg),
    B("slice_clamp_f64", b_slice_clamp), B("slice_empty_f64", b_slice_empty),
    B("slice_axneg_f64", b_slice_axneg), B("slice_t_f64", b_slice_t),
    B("slice_twice_f64", b_slice_twice),
    B("expand_f64", b_expand_34), B("expand_f32", b_expand_34),
    B("expand_new_dims_f64", b_expand_234), B("expand_keep_f64", b_expand_keep),
    B("expand_0d_f64", b_expand_23), B("expand_t_f64", b_expand_t),
    B("slice_scatter_f64", b_slice_scatter), B("slice_scatter_f32", b_slice_scatter),
    B("slice_scatter_neg_f64", b_slice_scatter_neg),
    B("slice_scatter_3d_f64", b_slice_scatter_3d),
    B("slice_scatter_t_f64", b_slice_scatter_t),
    B("unsqueeze_0_f64", b_unsqueeze0), B("unsqueeze_1_f64", b_unsqueeze1),
    B("unsqueeze_neg1_f32", b_unsqueeze_neg1), B("unsqueeze_0d_f64", b_unsqueeze0),
    B("squeeze_1_f64", b_squeeze1), B("squeeze_neg1_f64", b_squeeze_neg1),
    B("squeeze_to_0d_f32", b_squeeze0),
    B("flatten_f64", b_flatten01), B("flatten_f32", b_flatten01),
    B("flatten_all_f64", b_flatten_all), B("flatten_tail_f64", b_flatten12),
    B("flatten_t_f64", b_flatten_t),

    /* index.c */
    B("concat_ax0_f64", b_concat3_0), B("concat_ax0_f32", b_concat3_0),
    B("concat_ax1_f64", b_concat2_1), B("concat_neg_f64", b_concat2_neg1),
    B("concat_empty_f64", b_concat3_0), B("concat_single_f64", b_concat1),
    B("concat_t_f64", b_concat_t), B("concat_same_f64", b_concat_same),
    B("concat_many_f64", b_concat6),
    B("stack_ax0_f64", b_stack3_0), B("stack_ax0_f32", b_stack3_0),
    B("stack_ax1_f64", b_stack2_1), B("stack_last_f64", b_stack2_2),
    B("stack_neg_f64", b_stack2_neg1), B("stack_0d_f64", b_stack3_0),
    B("index_select_ax0_f64", b_index_select0), B("index_select_ax0_f32", b_index_select0),
    B("index_select_ax1_f64", b_index_select1), B("index_select_neg_f64", b_index_select_neg1),
    B("index_select_empty_f64", b_index_select0), B("index_select_t_f64", b_index_select_t),
    B("gather_ax1_f64", b_gather1), B("gather_ax1_f32", b_gather1),
    B("gather_ax0_f64", b_gather0), B("gather_small_f64", b_gather1),
    B("gather_neg_f64", b_gather_neg1), B("gather_t_f64", b_gather_t),
    B("index_add_ax0_f64", b_index_add0), B("index_add_ax0_f32", b_index_add0),
    B("index_add_ax1_f64", b_index_add1), B("index_add_neg_f64", b_index_add_neg1),
    B("index_add_t_f64", b_index_add_t),
    B("scatter_add_ax0_f64", b_scatter_add0), B("scatter_add_ax0_f32", b_scatter_add0),
    B("scatter_add_ax1_f64", b_scatter_add1), B("scatter_add_small_f64", b_scatter_add1),
    B("scatter_add_neg_f64", b_scatter_add_neg1), B("scatter_add_t_f64", b_scatter_add_t),
};

#define NBUILDERS ((int)(sizeof builders / sizeof builders[0]))

int main(void)
{
    static const char *const files[] = {
        "golden/elementwise.txt", "golden/reduce.txt", "golden/softmax.txt",
        "golden/matmul.txt",      "golden/shape.txt",  "golden/index.txt",
    };
    return golden_run("golden", files, (int)(sizeof files / sizeof files[0]), builders,
                      NBUILDERS);
}
