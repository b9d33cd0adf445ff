/* Op-table rows of lib/nn/loss.c, in the format of lib/ops/op_list.h. */
#ifndef CG_NN_LOSS_OPS_H
#define CG_NN_LOSS_OPS_H

/* bce(p, t): the unreduced, unweighted binary cross-entropy. Fused because the composite
 * log(p) would give NaN gradients wherever p is exactly 0 or 1 (a saturated f32 sigmoid);
 * its rule is PyTorch's (p - t) / max(p (1 - p), 1e-12), finite there. */
#define CG_OPS_LOSS(X) X(BCE, "bce", 2, bce_forward, bce_backward, SAVES_IN0 | SAVES_IN1)

#endif
