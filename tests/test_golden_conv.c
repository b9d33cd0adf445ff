/*
 * Golden test of convolution, pooling and linear (lib/nn/conv.c) against
 * torch.nn.functional: tests/golden/make_golden_conv.py writes golden/conv.txt (case list
 * in its docstring); golden_reader.h runs one cmocka test per case (output and gradients,
 * tolerance rule there).
 *
 * Every case exists in f64 and f32; BOTH() makes the two rows of one builder. The options
 * below repeat the generator's, kernel/stride/padding/dilation/groups.
 */
#include "golden_reader.h"

#define BOTH(n, f, opt)                                                                     \
    {.name = n "_f64", .fn = (f), .params = (opt)}, {.name = n "_f32", .fn = (f), .params = (opt)}

static const cg_conv2d_options *O(const golden_builder *b) { return b->params; }

/* Inputs x, weight and, when the file has a third input, bias. */
static cg_tensor *b_conv(cg_tensor *const *x, const golden_builder *b)
{
    return cg_conv2d(x[0], x[1], x[2], O(b));
}
static cg_tensor *b_conv_nobias(cg_tensor *const *x, const golden_builder *b)
{
    return cg_conv2d(x[0], x[1], NULL, O(b));
}
static cg_tensor *b_conv_t(cg_tensor *const *x, const golden_builder *b)
{
    return cg_conv2d(cg_transpose(x[0], 2, 3), x[1], NULL, O(b));
}
static cg_tensor *b_max(cg_tensor *const *x, const golden_builder *b) { return cg_max_pool2d(x[0], O(b)); }
static cg_tensor *b_max_t(cg_tensor *const *x, const golden_builder *b)
{
    return cg_max_pool2d(cg_transpose(x[0], 2, 3), O(b));
}
static cg_tensor *b_avg(cg_tensor *const *x, const golden_builder *b) { return cg_avg_pool2d(x[0], O(b)); }
static cg_tensor *b_gap(cg_tensor *const *x, const golden_builder *b) { (void)b; return cg_global_avg_pool2d(x[0]); }
static cg_tensor *b_linear(cg_tensor *const *x, const golden_builder *b) { (void)b; return cg_linear(x[0], x[1], x[2]); }
static cg_tensor *b_linear_nobias(cg_tensor *const *x, const golden_builder *b)
{
    (void)b;
    return cg_linear(x[0], x[1], NULL);
}

static const cg_conv2d_options c3 = {{3, 3}, {1, 1}, {0, 0}, {1, 1}, 1};
static const cg_conv2d_options c3_s2_p1 = {{3, 3}, {2, 2}, {1, 1}, {1, 1}, 1};
static const cg_conv2d_options c3_p2_d2 = {{3, 3}, {1, 1}, {2, 2}, {2, 2}, 1};
static const cg_conv2d_options c3_p1_g2 = {{3, 3}, {1, 1}, {1, 1}, {1, 1}, 2};
static const cg_conv2d_options c3_p1_g3 = {{3, 3}, {1, 1}, {1, 1}, {1, 1}, 3};
static const cg_conv2d_options c1 = {{1, 1}, {1, 1}, {0, 0}, {1, 1}, 1};
static const cg_conv2d_options c23_all = {{2, 3}, {2, 1}, {1, 2}, {2, 1}, 2};
static const cg_conv2d_options c3_p1 = {{3, 3}, {1, 1}, {1, 1}, {1, 1}, 1};
static const cg_conv2d_options p2 = {{2, 2}, {2, 2}, {0, 0}, {1, 1}, 1};
static const cg_conv2d_options p3_s2_p1 = {{3, 3}, {2, 2}, {1, 1}, {1, 1}, 1};
static const cg_conv2d_options p3_s1_p1 = {{3, 3}, {1, 1}, {1, 1}, {1, 1}, 1};
static const cg_conv2d_options p2_s1_p1_d2 = {{2, 2}, {1, 1}, {1, 1}, {2, 2}, 1};
static const cg_conv2d_options p23_s12_p1 = {{2, 3}, {1, 2}, {1, 1}, {1, 1}, 1};

static const golden_builder builders[] = {
    BOTH("conv_3x3", b_conv, &c3),
    BOTH("conv_s2_p1", b_conv, &c3_s2_p1),
    BOTH("conv_d2_p2", b_conv_nobias, &c3_p2_d2),
    BOTH("conv_g2", b_conv, &c3_p1_g2),
    BOTH("conv_depthwise", b_conv, &c3_p1_g3),
    BOTH("conv_1x1", b_conv, &c1),
    BOTH("conv_all", b_conv, &c23_all),
    BOTH("conv_t", b_conv_t, &c3_p1),
    BOTH("max_2x2", b_max, &p2),
    BOTH("max_3x3_s2_p1", b_max, &p3_s2_p1),
    BOTH("max_2x2_s1_p1_d2", b_max, &p2_s1_p1_d2),
    BOTH("max_2x3_s12_p1", b_max, &p23_s12_p1),
    BOTH("max_3x3_s1_p1_relu", b_max, &p3_s1_p1),
    BOTH("max_2x2_relu", b_max, &p2),
    BOTH("max_3x3_s2_p1_ints", b_max, &p3_s2_p1),
    BOTH("max_t", b_max_t, &p2),
    BOTH("avg_2x2", b_avg, &p2),
    BOTH("avg_3x3_s2_p1", b_avg, &p3_s2_p1),
    BOTH("avg_2x3_s12_p1", b_avg, &p23_s12_p1),
    BOTH("gap", b_gap, NULL),
    BOTH("linear", b_linear, NULL),
    BOTH("linear_3d", b_linear, NULL),
    BOTH("linear_nobias", b_linear_nobias, NULL),
    BOTH("linear_1d", b_linear, NULL),
};

int main(void)
{
    static const char *const files[] = {"golden/conv.txt"};
    return golden_run("golden_conv", files, 1, builders,
                      (int)(sizeof builders / sizeof builders[0]));
}
