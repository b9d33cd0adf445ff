/* Op-table rows of lib/nn/conv.c, in the format of lib/ops/op_list.h. */
#ifndef CG_NN_CONV_OPS_H
#define CG_NN_CONV_OPS_H

#define CG_OPS_CONV(X)

#endif
