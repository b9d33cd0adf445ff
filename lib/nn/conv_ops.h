/* Op-table rows of lib/nn/conv.c, in the format of lib/ops/op_list.h.
 *
 * im2col and col2im are adjoint (each is the other's backward rule), and so are
 * max_pool2d and max_unpool2d; max_pool2d_indices finds the windows' first maxima. */
#ifndef CG_NN_CONV_OPS_H
#define CG_NN_CONV_OPS_H

#define CG_OPS_CONV(X)                                                                  \
    X(IM2COL, "im2col", 1, im2col_forward, im2col_backward, SAVES_NONE)                 \
    X(COL2IM, "col2im", 1, col2im_forward, col2im_backward, SAVES_NONE)                 \
    X(MAX_POOL2D_INDICES, "max_pool2d_indices", 1, max_pool2d_indices_forward,          \
      no_backward, SAVES_NONE)                                                          \
    X(MAX_POOL2D, "max_pool2d", 2, max_pool2d_forward, max_pool2d_backward, SAVES_IN1)  \
    X(MAX_UNPOOL2D, "max_unpool2d", 2, max_unpool2d_forward, max_unpool2d_backward,     \
      SAVES_IN1)

#endif
