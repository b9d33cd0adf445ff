/* Op-table rows of lib/nn/norm.c, in the format of lib/ops/op_list.h. None so far: every
 * normalization is a composition of table ops (mean, var, rsqrt, broadcasting arithmetic),
 * which already gives double backward and a two-pass affine form for batch norm. */
#ifndef CG_NN_NORM_OPS_H
#define CG_NN_NORM_OPS_H

#define CG_OPS_NORM(X)

#endif
