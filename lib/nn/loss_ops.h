/* Op-table rows of lib/nn/loss.c, in the format of lib/ops/op_list.h. */
#ifndef CG_NN_LOSS_OPS_H
#define CG_NN_LOSS_OPS_H

#define CG_OPS_LOSS(X)

#endif
