/* Op-table rows of lib/nn/norm.c, in the format of lib/ops/op_list.h. */
#ifndef CG_NN_NORM_OPS_H
#define CG_NN_NORM_OPS_H

#define CG_OPS_NORM(X)

#endif
