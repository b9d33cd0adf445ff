/* Op-table rows of lib/nn/batch_norm.c, in the format of lib/ops/op_list.h: batch
 * normalization in training, fused (statistics in one pass, the affine form in one more,
 * PyTorch's closed-form backward in two). stats is not differentiable: each rule returns
 * the total derivative with respect to x, through the statistics too (see batch_norm.c).
 * f[0] of the attrs is eps. The other normalizations are compositions of table ops. */
#ifndef CG_NN_NORM_OPS_H
#define CG_NN_NORM_OPS_H

#define SAVES_IN3 8u
#define SAVES_IN4 16u

#define CG_OPS_NORM(X)                                                                  \
    X(BATCH_NORM_STATS, "batch_norm_stats", 1, batch_norm_stats_forward, no_backward,   \
      SAVES_NONE)                                                                       \
    X(BATCH_NORM, "batch_norm", 4, batch_norm_forward, batch_norm_backward,             \
      SAVES_IN0 | SAVES_IN1 | SAVES_IN2)                                                \
    X(BATCH_NORM_GRAD_SUMS, "batch_norm_grad_sums", 3, batch_norm_grad_sums_forward,    \
      batch_norm_grad_sums_backward, SAVES_IN0 | SAVES_IN1)                             \
    X(BATCH_NORM_GRAD_INPUT, "batch_norm_grad_input", 5, batch_norm_grad_input_forward, \
      batch_norm_grad_input_backward, SAVES_IN0 | SAVES_IN1 | SAVES_IN3 | SAVES_IN4)

struct cg_tensor;
/* Whether x ([N, C, ...]) has a layout the fused kernels take: its trailing dimensions
 * form one run of constant stride. Others are made contiguous first. */
bool cg__batch_norm_layout_ok(const struct cg_tensor *x);
/* [C] viewed as [1, C, 1, ...] to broadcast along dimension 1 of an ndim tensor; NULL for
 * NULL (lib/nn/norm.c). */
struct cg_tensor *cg__channel_view(struct cg_tensor *p, int ndim);
/* The axes from first to ndim - 1, skipping axis 1 when skip1, into axes; returns how many
 * (lib/nn/norm.c). */
int cg__axes_from(int first, int ndim, bool skip1, int *axes);

#endif
