/* Op-table rows of lib/nn/activation.c, in the format of lib/ops/op_list.h.
 *
 * One forward (activation_forward) serves every row; the scalars live in attrs.f:
 *   leaky_relu f[0] slope; elu f[0] alpha, f[1] scale, f[2] input_scale (selu is an elu);
 *   gelu f[0] != 0 for the tanh approximation; softplus f[0] beta, f[1] threshold;
 *   hardtanh f[0] lo, f[1] hi.
 *
 * The *_backward rows are the fused gradients of the piecewise-linear activations:
 * grad(m, g) masks or scales g by where m (relu: its output; leaky_relu, hardtanh: their
 * input) lies, in one pass, with the forward op's scalars. Linear in g, each is its own
 * adjoint; m gets no gradient (the mask is piecewise constant). */
#ifndef CG_NN_ACTIVATION_OPS_H
#define CG_NN_ACTIVATION_OPS_H

#define CG_OPS_ACTIVATION(X)                                                            \
    X(SIGMOID, "sigmoid", 1, activation_forward, sigmoid_backward, SAVES_OUT)           \
    X(TANH, "tanh", 1, activation_forward, tanh_backward, SAVES_OUT)                    \
    X(RELU, "relu", 1, activation_forward, relu_backward, SAVES_OUT)                    \
    X(LEAKY_RELU, "leaky_relu", 1, activation_forward, leaky_relu_backward, SAVES_IN0)  \
    X(ELU, "elu", 1, activation_forward, elu_backward, SAVES_IN0)                       \
    X(GELU, "gelu", 1, activation_forward, gelu_backward, SAVES_IN0)                    \
    X(ERF, "erf", 1, activation_forward, erf_backward, SAVES_IN0)                       \
    X(SOFTPLUS, "softplus", 1, activation_forward, softplus_backward, SAVES_IN0)        \
    X(SILU, "silu", 1, activation_forward, silu_backward, SAVES_IN0)                    \
    X(HARDTANH, "hardtanh", 1, activation_forward, hardtanh_backward, SAVES_IN0)        \
    X(RELU_BACKWARD, "relu_backward", 2, act_grad_forward, act_grad_backward, SAVES_IN0) \
    X(LEAKY_RELU_BACKWARD, "leaky_relu_backward", 2, act_grad_forward, act_grad_backward, \
      SAVES_IN0)                                                                        \
    X(HARDTANH_BACKWARD, "hardtanh_backward", 2, act_grad_forward, act_grad_backward,   \
      SAVES_IN0)

#endif
