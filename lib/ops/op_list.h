/* The op table: every op libcgrad records, declared once.
 *
 * X(ENUM, name, arity, forward, backward, saved)
 *   ENUM      CG_OP_<ENUM> in the op enum
 *   name      the name printed in errors, reports and diagrams
 *   arity     number of tensor inputs, -1 for a list (concat)
 *   forward   kernel: validates inputs, allocates and computes the output
 *   backward  rule written with differentiable ops (no_backward: not differentiable)
 *   saved     what backward reads: bit i for input i, SAVES_OUT for the output. Backward
 *             refuses to run if one of these was changed in place after recording.
 */
#ifndef CG_OP_LIST_H
#define CG_OP_LIST_H

#define SAVES_NONE 0u
#define SAVES_IN0 1u
#define SAVES_IN1 2u
#define SAVES_IN2 4u
#define SAVES_OUT 0x80u

#define CG_OP_LIST_CORE(X)                                                              \
    /* elementwise.c: binary arithmetic with broadcasting */                            \
    X(ADD, "add", 2, binary_forward, add_backward, SAVES_NONE)                          \
    X(SUB, "sub", 2, binary_forward, sub_backward, SAVES_NONE)                          \
    X(MUL, "mul", 2, binary_forward, mul_backward, SAVES_IN0 | SAVES_IN1)               \
    X(DIV, "div", 2, binary_forward, div_backward, SAVES_IN0 | SAVES_IN1)               \
    X(POW, "pow", 2, binary_forward, pow_backward, SAVES_IN0 | SAVES_IN1 | SAVES_OUT)   \
    X(MAXIMUM, "maximum", 2, binary_forward, maximum_backward, SAVES_IN0 | SAVES_IN1)   \
    X(MINIMUM, "minimum", 2, binary_forward, minimum_backward, SAVES_IN0 | SAVES_IN1)   \
    X(EQ, "eq", 2, binary_forward, no_backward, SAVES_NONE)                                    \
    X(NE, "ne", 2, binary_forward, no_backward, SAVES_NONE)                                    \
    X(LT, "lt", 2, binary_forward, no_backward, SAVES_NONE)                                    \
    X(LE, "le", 2, binary_forward, no_backward, SAVES_NONE)                                    \
    X(GT, "gt", 2, binary_forward, no_backward, SAVES_NONE)                                    \
    X(GE, "ge", 2, binary_forward, no_backward, SAVES_NONE)                                    \
    X(WHERE, "where", 3, where_forward, where_backward, SAVES_IN0)                      \
    /* elementwise.c: unary functions */                                                \
    X(NEG, "neg", 1, unary_forward, neg_backward, SAVES_NONE)                           \
    X(EXP, "exp", 1, unary_forward, exp_backward, SAVES_OUT)                            \
    X(LOG, "log", 1, unary_forward, log_backward, SAVES_IN0)                            \
    X(SQRT, "sqrt", 1, unary_forward, sqrt_backward, SAVES_OUT)                         \
    X(RSQRT, "rsqrt", 1, unary_forward, rsqrt_backward, SAVES_OUT)                      \
    X(ABS, "abs", 1, unary_forward, abs_backward, SAVES_IN0)                            \
    X(SIGN, "sign", 1, unary_forward, sign_backward, SAVES_NONE)                        \
    X(CLAMP, "clamp", 1, unary_forward, clamp_backward, SAVES_IN0)                      \
    X(ADD_SCALAR, "add_scalar", 1, unary_forward, add_scalar_backward, SAVES_NONE)      \
    X(MUL_SCALAR, "mul_scalar", 1, unary_forward, mul_scalar_backward, SAVES_NONE)      \
    X(POW_SCALAR, "pow_scalar", 1, unary_forward, pow_scalar_backward, SAVES_IN0)       \
    X(TO_DTYPE, "to_dtype", 1, to_dtype_forward, to_dtype_backward, SAVES_NONE)         \
    X(CONTIGUOUS, "contiguous", 1, contiguous_forward, contiguous_backward, SAVES_NONE) \
    /* reduce.c */                                                                      \
    X(SUM, "sum", 1, reduce_forward, sum_backward, SAVES_NONE)                          \
    X(MEAN, "mean", 1, reduce_forward, mean_backward, SAVES_NONE)                       \
    X(MAX, "max", 1, reduce_forward, extremum_backward, SAVES_IN0 | SAVES_OUT)          \
    X(MIN, "min", 1, reduce_forward, extremum_backward, SAVES_IN0 | SAVES_OUT)          \
    X(VAR, "var", 1, var_forward, var_backward, SAVES_IN0)                              \
    X(LOGSUMEXP, "logsumexp", 1, logsumexp_forward, logsumexp_backward,                 \
      SAVES_IN0 | SAVES_OUT)                                                            \
    /* softmax.c */                                                                     \
    X(SOFTMAX, "softmax", 1, softmax_forward, softmax_backward, SAVES_OUT)              \
    X(LOG_SOFTMAX, "log_softmax", 1, softmax_forward, log_softmax_backward, SAVES_OUT)  \
    /* matmul.c */                                                                      \
    X(MATMUL, "matmul", 2, matmul_forward, matmul_backward, SAVES_IN0 | SAVES_IN1)      \
    /* shape.c: views and their adjoints */                                             \
    X(RESHAPE, "reshape", 1, reshape_forward, reshape_backward, SAVES_NONE)             \
    X(PERMUTE, "permute", 1, permute_forward, permute_backward, SAVES_NONE)             \
    X(SLICE, "slice", 1, slice_forward, slice_backward, SAVES_NONE)                     \
    X(EXPAND, "expand", 1, expand_forward, expand_backward, SAVES_NONE)                 \
    X(SLICE_SCATTER, "slice_scatter", 1, slice_scatter_forward, slice_scatter_backward, \
      SAVES_NONE)                                                                       \
    /* index.c: joining, gathering and scattering */                                    \
    X(CONCAT, "concat", -1, concat_forward, concat_backward, SAVES_NONE)                \
    X(INDEX_SELECT, "index_select", 2, index_select_forward, index_select_backward,     \
      SAVES_IN1)                                                                        \
    X(GATHER, "gather", 2, gather_forward, gather_backward, SAVES_IN1)                  \
    X(INDEX_ADD, "index_add", 3, index_add_forward, index_add_backward, SAVES_IN1)      \
    X(SCATTER_ADD, "scatter_add", 3, scatter_add_forward, scatter_add_backward,         \
      SAVES_IN1)

/* The ops of lib/nn, one list per family file. */
#include "nn/activation_ops.h"
#include "nn/conv_ops.h"
#include "nn/loss_ops.h"
#include "nn/norm_ops.h"

#define CG_OP_LIST(X)                                                                   \
    CG_OP_LIST_CORE(X)                                                                  \
    CG_OPS_ACTIVATION(X)                                                                \
    CG_OPS_CONV(X)                                                                      \
    CG_OPS_LOSS(X)                                                                      \
    CG_OPS_NORM(X)

#endif
