/* Op-table rows of lib/nn/activation.c, in the format of lib/ops/op_list.h. */
#ifndef CG_NN_ACTIVATION_OPS_H
#define CG_NN_ACTIVATION_OPS_H

#define CG_OPS_ACTIVATION(X)

#endif
