/* Gradient-check cases of the conv ops (lib/nn/conv.c): every table op of the family
 * (im2col, col2im, max_pool2d_indices, max_pool2d, max_unpool2d) through the public
 * functions that use them, and every public function (conv2d with each option, the
 * poolings, linear). Inputs are RANDN, so max-pool windows have no near-ties. */
#include "gradcheck_cases.h"

/* options: kernel, stride, padding, dilation, groups */
static const cg_conv2d_options k3 = {{3, 3}, {1, 1}, {0, 0}, {1, 1}, 1};
static const cg_conv2d_options k3_s2_p1 = {{3, 3}, {2, 2}, {1, 1}, {1, 1}, 1};
static const cg_conv2d_options k2_d2_p10 = {{2, 2}, {1, 1}, {1, 0}, {2, 2}, 1};
static const cg_conv2d_options k3_g2 = {{3, 3}, {1, 1}, {0, 0}, {1, 1}, 2};
static const cg_conv2d_options k3_dw_p1 = {{3, 3}, {1, 1}, {1, 1}, {1, 1}, 3};
static const cg_conv2d_options k1 = {{1, 1}, {1, 1}, {0, 0}, {1, 1}, 1};
static const cg_conv2d_options k23_s21_p10 = {{2, 3}, {2, 1}, {1, 0}, {1, 1}, 1};
static const cg_conv2d_options pool2 = {{2, 2}, {2, 2}, {0, 0}, {1, 1}, 1};
static const cg_conv2d_options pool3_s2_p1 = {{3, 3}, {2, 2}, {1, 1}, {1, 1}, 1};
static const cg_conv2d_options pool2_s1_d2 = {{2, 2}, {1, 1}, {1, 1}, {2, 2}, 1};
static const cg_conv2d_options pool23_s12 = {{2, 3}, {1, 2}, {1, 1}, {1, 1}, 1};

static cg_tensor *f_conv_k3(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_conv2d(A, B, C, &k3); }
static cg_tensor *f_conv_s2_p1(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_conv2d(A, B, C, &k3_s2_p1); }
static cg_tensor *f_conv_dil(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_conv2d(A, B, NULL, &k2_d2_p10); }
static cg_tensor *f_conv_g2(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_conv2d(A, B, C, &k3_g2); }
static cg_tensor *f_conv_dw(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_conv2d(A, B, C, &k3_dw_p1); }
static cg_tensor *f_conv_1x1(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_conv2d(A, B, NULL, &k1); }
static cg_tensor *f_conv_rect(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_conv2d(A, B, C, &k23_s21_p10); }
/* A transposed (strided) view as input: the kernels must honour strides. */
static cg_tensor *f_conv_view(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_conv2d(cg_transpose(A, 2, 3), B, NULL, NULL);
}
static cg_tensor *f_avg2(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_avg_pool2d(A, &pool2); }
static cg_tensor *f_avg3_p1(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_avg_pool2d(A, &pool3_s2_p1); }
static cg_tensor *f_avg_rect(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_avg_pool2d(A, &pool23_s12); }
static cg_tensor *f_max2(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_max_pool2d(A, &pool2); }
static cg_tensor *f_max3_p1(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_max_pool2d(A, &pool3_s2_p1); }
/* Overlapping dilated windows: one element can be the maximum of several windows. */
static cg_tensor *f_max_dil(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_max_pool2d(A, &pool2_s1_d2); }
static cg_tensor *f_max_view(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    return cg_max_pool2d(cg_transpose(A, 2, 3), &pool23_s12);
}
static cg_tensor *f_gap(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_global_avg_pool2d(A); }
static cg_tensor *f_linear(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_linear(A, B, C); }
static cg_tensor *f_linear_nobias(cg_tensor *const *in, int n, void *ctx) { UNUSED; return cg_linear(A, B, NULL); }
/* A small CNN (conv, max pool, linear head), second order included. */
static cg_tensor *f_cnn(cg_tensor *const *in, int n, void *ctx)
{
    UNUSED;
    cg_tensor *h = cg_max_pool2d(cg_conv2d(A, B, NULL, &k3_s2_p1), &pool2);
    return cg_linear(cg_flatten(h, 1, -1), C, NULL);
}

static const op_case conv_cases[] = {
    {"im2col", "conv2d 3x3 + bias", f_conv_k3, 3, {IN(RANDN, 4, 2, 2, 5, 5), IN(RANDN, 4, 3, 2, 3, 3), IN(RANDN, 1, 3)}, false},
    {"im2col", "conv2d stride 2, padding 1", f_conv_s2_p1, 3, {IN(RANDN, 4, 2, 2, 5, 5), IN(RANDN, 4, 3, 2, 3, 3), IN(RANDN, 1, 3)}, false},
    {"col2im", "conv2d dilation 2, padding [1, 0], no bias", f_conv_dil, 2, {IN(RANDN, 4, 1, 2, 5, 5), IN(RANDN, 4, 2, 2, 2, 2)}, false},
    {"col2im", "conv2d groups 2", f_conv_g2, 3, {IN(RANDN, 4, 2, 4, 5, 5), IN(RANDN, 4, 4, 2, 3, 3), IN(RANDN, 1, 4)}, false},
    {"col2im", "conv2d depthwise, padding 1", f_conv_dw, 3, {IN(RANDN, 4, 2, 3, 4, 4), IN(RANDN, 4, 3, 1, 3, 3), IN(RANDN, 1, 3)}, false},
    {"im2col", "conv2d 1x1 on a non-square input", f_conv_1x1, 2, {IN(RANDN, 4, 2, 3, 4, 5), IN(RANDN, 4, 2, 3, 1, 1)}, false},
    {"col2im", "conv2d 2x3 kernel, stride [2, 1], padding [1, 0]", f_conv_rect, 3, {IN(RANDN, 4, 1, 2, 5, 6), IN(RANDN, 4, 2, 2, 2, 3), IN(RANDN, 1, 2)}, false},
    {"im2col", "conv2d of a transposed view, default options", f_conv_view, 2, {IN(RANDN, 4, 2, 2, 5, 4), IN(RANDN, 4, 2, 2, 2, 2)}, false},
    {"im2col", "avg_pool2d 2x2", f_avg2, 1, T1(RANDN, 4, 2, 2, 4, 4), false},
    {"im2col", "avg_pool2d 3x3 stride 2 padding 1", f_avg3_p1, 1, T1(RANDN, 4, 2, 2, 5, 5), false},
    {"col2im", "avg_pool2d 2x3 stride [1, 2] padding 1", f_avg_rect, 1, T1(RANDN, 4, 1, 2, 4, 5), false},
    {"max_pool2d", "2x2", f_max2, 1, T1(RANDN, 4, 2, 2, 4, 4), false},
    {"max_pool2d_indices", "3x3 stride 2 padding 1", f_max3_p1, 1, T1(RANDN, 4, 2, 2, 5, 5), false},
    {"max_unpool2d", "overlapping dilated windows", f_max_dil, 1, T1(RANDN, 4, 1, 2, 5, 5), false},
    {"max_pool2d", "2x3 of a transposed view", f_max_view, 1, T1(RANDN, 4, 2, 2, 5, 4), false},
    {"mean", "global_avg_pool2d", f_gap, 1, T1(RANDN, 4, 2, 3, 3, 4), false},
    {"matmul", "linear + bias", f_linear, 3, {IN(RANDN, 2, 3, 4), IN(RANDN, 2, 2, 4), IN(RANDN, 1, 2)}, false},
    {"matmul", "linear of a 3-d input", f_linear, 3, {IN(RANDN, 3, 2, 3, 4), IN(RANDN, 2, 5, 4), IN(RANDN, 1, 5)}, false},
    {"matmul", "linear of a 1-d input, no bias", f_linear_nobias, 2, {IN(RANDN, 1, 4), IN(RANDN, 2, 3, 4)}, false},
    {"im2col", "conv, max pool, linear", f_cnn, 3, {IN(RANDN, 4, 2, 1, 8, 8), IN(RANDN, 4, 2, 1, 3, 3), IN(RANDN, 2, 3, 8)}, false},
};

case_list gradcheck_cases_conv(void)
{
    case_list l = {conv_cases, sizeof conv_cases / sizeof conv_cases[0]};
    return l;
}
