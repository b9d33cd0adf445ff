/*
 * libcgrad nn: activations, losses, normalizations, dropout, layers, initializers and
 * modules, all built from differentiable ops (so gradients of gradients work through them).
 *
 * Functional forms (cg_relu, cg_conv2d, cg_batch_norm, cg_cross_entropy, ...) return
 * tape-owned tensors like every op. Modules are caller-owned objects (free them with
 * cg_module_free) that own their parameters and buffers.
 *
 * Defaults, shapes and train/eval behaviour follow torch.nn; where a function takes an
 * options struct, cg_*_defaults() returns PyTorch's defaults.
 */
#ifndef CGRAD_NN_H
#define CGRAD_NN_H

#include "cgrad/autograd.h"
#include "cgrad/ops.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ======================= activations (lib/nn/activation.c) ======================= */

/* 1 / (1 + e^-x) */
CG_API cg_tensor *cg_sigmoid(cg_tensor *x);
/* tanh x */
CG_API cg_tensor *cg_tanh(cg_tensor *x);
/* max(x, 0); gradient 0 at 0, as PyTorch */
CG_API cg_tensor *cg_relu(cg_tensor *x);
/* x if x > 0 else slope x (PyTorch's default slope is 0.01; slope finite); gradient slope
 * at 0 */
CG_API cg_tensor *cg_leaky_relu(cg_tensor *x, double slope);
/* x if x > 0 else w x, with w of shape [1] (or 0-d) or [C] (C = size of dimension 1 of x,
 * 1 for a 1-d x), broadcast over the other dimensions; gradient w at 0. Another weight
 * shape is CG_ERR_SHAPE. */
CG_API cg_tensor *cg_prelu(cg_tensor *x, cg_tensor *weight);
/* x if x > 0 else alpha (e^x - 1) (default alpha 1; alpha finite); gradient alpha at 0,
 * as PyTorch */
CG_API cg_tensor *cg_elu(cg_tensor *x, double alpha);
/* scale * elu(x, alpha) with the constants of Klambauer et al. (2017):
 * alpha = 1.6732632423543772848170429916717, scale = 1.0507009873554804934193349852946 */
CG_API cg_tensor *cg_selu(cg_tensor *x);
/* x Phi(x) with Phi the standard normal CDF (exact, erf form); with tanh_approx,
 * 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) as GELU(approximate='tanh') */
CG_API cg_tensor *cg_gelu(cg_tensor *x, bool tanh_approx);
/* erf x */
CG_API cg_tensor *cg_erf(cg_tensor *x);
/* log(1 + e^(beta x)) / beta, and x itself where beta x > threshold (defaults 1, 20);
 * beta finite and nonzero, threshold not NaN (inf: never linear, still no overflow) */
CG_API cg_tensor *cg_softplus(cg_tensor *x, double beta, double threshold);
/* x sigmoid(x) (swish) */
CG_API cg_tensor *cg_silu(cg_tensor *x);
/* clamp(x, lo, hi) with gradient 1 strictly inside (lo, hi), as nn.Hardtanh (defaults -1, 1);
 * lo > hi gives hi everywhere, as F.hardtanh; NaN bounds are an error */
CG_API cg_tensor *cg_hardtanh(cg_tensor *x, double lo, double hi);
/* Maxout (Goodfellow et al. 2013): dimension axis (size C, a multiple of k) is split into
 * C/k groups of k consecutive entries and each group reduced by max: size C/k results.
 * Ties share the gradient (as cg_max). k < 1 or C not a multiple of k: CG_ERR_VALUE. */
CG_API cg_tensor *cg_maxout(cg_tensor *x, int k, int axis);

/* ======================= losses (lib/nn/loss.c) ======================= */

/* How a loss reduces its per-element values: mean (PyTorch's default), sum, or none.
 * Any other value is CG_ERR_VALUE. A mean over zero elements is NaN, as PyTorch. */
typedef enum cg_reduction { CG_REDUCTION_MEAN, CG_REDUCTION_SUM, CG_REDUCTION_NONE } cg_reduction;

/* The losses follow torch.nn.functional (PyTorch 1.13) formula for formula, defaults and
 * edge cases included, and are built from differentiable ops (bce is a fused op with its
 * own rule written with ops), so they can be differentiated twice. Inputs and float
 * targets share one float dtype (else CG_ERR_DTYPE); the messages of shape errors
 * (CG_ERR_SHAPE) name the function and both shapes. */

/* (input - target)^2, reduced; shapes must match (broadcasting is refused, unlike a
 * warning in PyTorch, because it is almost always a bug). */
CG_API cg_tensor *cg_mse_loss(cg_tensor *input, cg_tensor *target, cg_reduction reduction);
/* |input - target|, reduced (gradient 0 where they are equal) */
CG_API cg_tensor *cg_l1_loss(cg_tensor *input, cg_tensor *target, cg_reduction reduction);
/* 0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta); d = input - target; delta > 0
 * (else CG_ERR_VALUE; PyTorch's default 1). */
CG_API cg_tensor *cg_huber_loss(cg_tensor *input, cg_tensor *target, double delta,
                                cg_reduction reduction);
/* 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta; beta >= 0 (else CG_ERR_VALUE;
 * PyTorch's default 1). beta 0 is exactly cg_l1_loss. huber(delta) = delta smooth_l1(delta). */
CG_API cg_tensor *cg_smooth_l1_loss(cg_tensor *input, cg_tensor *target, double beta,
                                    cg_reduction reduction);

/* Options of the classification losses; cg_class_loss_defaults() gives PyTorch's. */
typedef struct cg_class_loss_options {
    cg_tensor *weight;      /* per-class weights [C], or NULL; unlike PyTorch, a weight
                             * that requires grad gets a gradient */
    int64_t ignore_index;   /* class targets equal to this are skipped (-100); with
                             * probability targets it must be negative */
    double label_smoothing; /* in [0, 1] (0); cross-entropy only: nll_loss refuses
                             * anything else */
    cg_reduction reduction; /* mean: for class targets the weighted mean over the counted
                             * targets, sum(loss) / sum(weight[target]), NaN when no
                             * target counts, as PyTorch */
} cg_class_loss_options;
CG_API cg_class_loss_options cg_class_loss_defaults(void);

/* Cross-entropy from logits [N, C] or [N, C, d1, ...], or one sample [C] (computed through
 * log_softmax, so stable for large logits). options may be NULL (the defaults).
 *  - Class targets: i64 [N] / [N, d1, ...] (a 0-d target for [C] logits), each in [0, C)
 *    or equal to ignore_index; anything else is CG_ERR_VALUE naming the value. With label
 *    smoothing ls, PyTorch 1.13's (1 - ls) nll + ls / C * S, where S reduces
 *    -sum_c weight_c log p_c over the counted targets and its mean divides by the same
 *    sum(weight[target]) as nll's.
 *  - Probability targets: float, the logits' shape: -sum_c weight_c t_c log p_c with t
 *    replaced by (1 - ls) t + ls / C; the mean divides by N d1 ... whatever the weights.
 * reduction none gives [N, d1, ...] ([] for one sample). */
CG_API cg_tensor *cg_cross_entropy(cg_tensor *logits, cg_tensor *target,
                                   const cg_class_loss_options *options);
/* Negative log-likelihood: -weight[t] log_probs[t] at i64 targets t, with log_probs
 * [N, C], [N, C, d1, ...] or [C], reduced as cross-entropy's class targets. */
CG_API cg_tensor *cg_nll_loss(cg_tensor *log_probs, cg_tensor *target,
                              const cg_class_loss_options *options);
/* Binary cross-entropy -(t log p + (1 - t) log(1 - p)) of probabilities p against target
 * t (same shape), the logs clamped at -100 as in PyTorch; p outside [0, 1] (or NaN) is
 * CG_ERR_VALUE. The gradient is PyTorch's (p - t) / max(p (1 - p), 1e-12), finite where
 * p is exactly 0 or 1 (a saturated f32 sigmoid). weight (broadcast to p) may be NULL. */
CG_API cg_tensor *cg_bce_loss(cg_tensor *p, cg_tensor *target, cg_tensor *weight,
                              cg_reduction reduction);
/* Binary cross-entropy of sigmoid(logits), computed stably for any |logits| (PyTorch's
 * max(-x, 0) form): -(pos_weight t log s + (1 - t) log(1 - s)). pos_weight and weight
 * broadcast against the logits (a [C] pos_weight applies along the last dimension, as
 * PyTorch) and may be NULL. */
CG_API cg_tensor *cg_bce_with_logits(cg_tensor *logits, cg_tensor *target, cg_tensor *weight,
                                     cg_tensor *pos_weight, cg_reduction reduction);

/* ======================= normalization (lib/nn/norm.c) ======================= */

/* As torch.nn.functional, built from differentiable ops. weight, bias and running
 * statistics share x's float dtype; wrong shapes are CG_ERR_SHAPE naming the function and
 * the shapes. */

/* Batch normalization over dimension 1 of x ([N, C], [N, C, L], [N, C, H, W], ...).
 * training: normalise with the batch's mean and biased variance and, when running_mean /
 * running_var [C] are given (both or neither), update them in place (no gradient):
 *   running = (1 - momentum) running + momentum batch_stat, with the unbiased variance.
 * The update bumps their versions, but in training they are not inputs of the recorded
 * graph, so backward is unaffected. As PyTorch, training with one value per channel
 * (N times the spatial size is 1) is CG_ERR_VALUE.
 * Not training: normalise with the running statistics (which must be given, else
 * CG_ERR_VALUE). The graph keeps its own copy of their values: updating them in place
 * later changes neither the result nor the gradients of that graph (PyTorch refuses such
 * a backward instead).
 * weight and bias [C] may be NULL (affine=False). PyTorch defaults: momentum 0.1, eps 1e-5. */
CG_API cg_tensor *cg_batch_norm(cg_tensor *x, cg_tensor *running_mean, cg_tensor *running_var,
                                cg_tensor *weight, cg_tensor *bias, bool training,
                                double momentum, double eps);
/* Layer normalization over the trailing nshape >= 1 dimensions, which must equal shape:
 * (x - mean) / sqrt(var + eps) with the biased variance, times weight plus bias (of that
 * shape, each may be NULL). Default eps 1e-5. */
CG_API cg_tensor *cg_layer_norm(cg_tensor *x, int nshape, const int64_t *shape,
                                cg_tensor *weight, cg_tensor *bias, double eps);
/* Group normalization of [N, C, ...]: each sample's C / groups consecutive channels are
 * normalised together (biased variance, eps inside the square root), then scaled and
 * shifted per channel by weight, bias [C] (or NULL). C not divisible by groups (or
 * groups < 1) is CG_ERR_VALUE; so is one value per statistic, as PyTorch. */
CG_API cg_tensor *cg_group_norm(cg_tensor *x, int64_t groups, cg_tensor *weight,
                                cg_tensor *bias, double eps);
/* Instance normalization of [N, C, ...] (each sample and channel over the remaining
 * dimensions; a single spatial element is CG_ERR_VALUE), as F.instance_norm. With
 * use_input_stats false the running statistics [C] (then required) are used instead, as
 * batch norm in evaluation; with use_input_stats and running statistics, they are updated
 * as PyTorch does: the average over the batch of each instance's batch-norm update. */
CG_API cg_tensor *cg_instance_norm(cg_tensor *x, cg_tensor *running_mean,
                                   cg_tensor *running_var, cg_tensor *weight, cg_tensor *bias,
                                   bool use_input_stats, double momentum, double eps);

/* Feature-wise statistics of a dataset x [N, ...]: mean and std (unbiased, like
 * torch.std: NaN when N is 1) over dimension 0, as new caller-owned tensors of shape
 * x.shape[1:]. Needs no tape and records nothing. */
CG_API cg_status cg_feature_stats(const cg_tensor *x, cg_tensor **mean, cg_tensor **std);
/* (x - mean) / (std + eps) with mean and std of shape x.shape[1:], broadcast over the
 * batch dimension. */
CG_API cg_tensor *cg_standardize(cg_tensor *x, cg_tensor *mean, cg_tensor *std, double eps);

/* ======================= dropout (lib/nn/dropout.c) ======================= */

/* Inverted dropout (F.dropout): in training, zero each element with probability p and
 * scale the rest by 1/(1-p). Element i (row-major) is kept when the i-th uniform drawn from
 * rng is >= p, so the mask depends on the seed and offset only, never on the thread count;
 * rng advances by numel(x). The gradient is the same mask times 1/(1-p).
 * Not training, p = 0 or an empty x: x itself is returned and nothing is drawn.
 * p = 1: x * 0 (zeros, NaN kept), nothing drawn. p outside [0, 1] or NaN: CG_ERR_VALUE;
 * a NULL rng in training with 0 < p < 1: CG_ERR_NULL (elsewhere rng may be NULL). */
CG_API cg_tensor *cg_dropout(cg_tensor *x, double p, bool training, cg_rng *rng);
/* Channel-wise dropout (F.dropout2d of torch 1.13) of x [N, C, ...], at least 2-d: one draw
 * per (n, c), broadcast over the other dimensions, so whole channels are zeroed; rng
 * advances by N*C. A 3-d x is read as (N, C, L), as torch 1.13 does (not as an unbatched
 * (C, H, W)); a 2-d x as (N, C), one draw per element. Otherwise as cg_dropout. */
CG_API cg_tensor *cg_dropout2d(cg_tensor *x, double p, bool training, cg_rng *rng);

/* ======================= convolution and pooling (lib/nn/conv.c) ======================= */

/* Geometry of a 2-d convolution or pooling window: [height, width] pairs. Output sizes
 * are floor((H + 2 padding - dilation (kernel - 1) - 1) / stride) + 1 (ceil_mode=False).
 * kernel, stride and dilation must be >= 1 and padding >= 0, else CG_ERR_VALUE. */
typedef struct cg_conv2d_options {
    int64_t kernel[2];
    int64_t stride[2];   /* default: 1 for convolutions, the kernel for pooling */
    int64_t padding[2];  /* zeros on both sides (default 0) */
    int64_t dilation[2]; /* default 1 */
    int64_t groups;      /* convolutions only (pooling ignores it); >= 1, must divide both
                          * channel counts (default 1) */
} cg_conv2d_options;
/* Convolution defaults for a kh x kw kernel: stride 1, padding 0, dilation 1, groups 1. */
CG_API cg_conv2d_options cg_conv2d_defaults(int64_t kh, int64_t kw);
/* Pooling defaults for a kh x kw window: stride = kernel, padding 0, dilation 1. */
CG_API cg_conv2d_options cg_pool2d_defaults(int64_t kh, int64_t kw);

/* cg_conv2d and the window poolings return contiguous [N, C', Ho, Wo] results. Their
 * inputs x (and cg_global_avg_pool2d's) are 4-d [N, C, H, W] with C, H, W >= 1 (N may be
 * 0). Shape errors (CG_ERR_SHAPE, the message naming the function and the shapes): x not
 * 4-d or with an empty C, H or W; a window larger than the padded input (an output size
 * < 1). The poolings need options (NULL: CG_ERR_NULL). */

/* Cross-correlation of x [N, C, H, W] with weight [O, C/groups, kh, kw] plus bias [O]
 * (or NULL), like torch.nn.functional.conv2d. options may be NULL: cg_conv2d_defaults for
 * the weight's kernel; otherwise options->kernel must be the weight's [kh, kw]. Further
 * CG_ERR_SHAPE: C != weight's dimension 1 times groups, groups not dividing C and O, a
 * bias not of shape [O]. The products run through BLIS, one per group over the whole
 * batch (im2col). */
CG_API cg_tensor *cg_conv2d(cg_tensor *x, cg_tensor *weight, cg_tensor *bias,
                            const cg_conv2d_options *options);
/* Max over each window of x [N, C, H, W] (padding counts as -inf; a NaN in a window wins);
 * the gradient goes to the first maximum of each window in row-major order, as PyTorch,
 * so ties (zeros after a ReLU) match it. padding must be at most half the kernel
 * (CG_ERR_VALUE otherwise, as PyTorch). */
CG_API cg_tensor *cg_max_pool2d(cg_tensor *x, const cg_conv2d_options *options);
/* Mean over each window, padding zeros counted (count_include_pad=True, PyTorch's default):
 * every window sum is divided by kh * kw. padding at most half the kernel and dilation 1
 * (PyTorch's avg_pool2d has none), else CG_ERR_VALUE. */
CG_API cg_tensor *cg_avg_pool2d(cg_tensor *x, const cg_conv2d_options *options);
/* Mean over H and W of [N, C, H, W], giving [N, C]. */
CG_API cg_tensor *cg_global_avg_pool2d(cg_tensor *x);
/* x @ weight^T + bias with x [*, in] (1-d included), weight [out, in] and bias [out] or
 * NULL (F.linear); the result is [*, out]. Other shapes: CG_ERR_SHAPE. */
CG_API cg_tensor *cg_linear(cg_tensor *x, cg_tensor *weight, cg_tensor *bias);

/* ======================= initializers (lib/nn/init.c) ======================= */

/* Fills change the tensor in place (bumping its version) and draw from rng; they return
 * CG_OK or an error for bad arguments (wrong ndim for fan computations, NULL rng, ...).
 * fan_in / fan_out are computed as torch.nn.init does: for a weight [out, in, k...],
 * fan_in = in * prod(k) and fan_out = out * prod(k). */

/* Nonlinearities known to cg_init_gain. */
typedef enum cg_nonlinearity {
    CG_NL_LINEAR, CG_NL_SIGMOID, CG_NL_TANH, CG_NL_RELU, CG_NL_LEAKY_RELU, CG_NL_SELU
} cg_nonlinearity;
/* The recommended gain of torch.nn.init.calculate_gain (param: leaky_relu's slope). */
CG_API double cg_init_gain(cg_nonlinearity nl, double param);
/* fan_in and fan_out of a weight of at least 2 dimensions. */
CG_API cg_status cg_init_fans(const cg_tensor *t, int64_t *fan_in, int64_t *fan_out);

CG_API cg_status cg_init_constant(cg_tensor *t, double value);
CG_API cg_status cg_init_uniform(cg_tensor *t, cg_rng *rng, double low, double high);
CG_API cg_status cg_init_normal(cg_tensor *t, cg_rng *rng, double mean, double std);
/* Normal(mean, std) redrawn until inside [a, b] (torch.nn.init.trunc_normal_). */
CG_API cg_status cg_init_trunc_normal(cg_tensor *t, cg_rng *rng, double mean, double std,
                                      double a, double b);
/* LeCun: U(-sqrt(3/fan_in), sqrt(3/fan_in)) and N(0, 1/fan_in). */
CG_API cg_status cg_init_lecun_uniform(cg_tensor *t, cg_rng *rng);
CG_API cg_status cg_init_lecun_normal(cg_tensor *t, cg_rng *rng);
/* Xavier/Glorot: U(-a, a) with a = gain sqrt(6/(fan_in+fan_out)); N(0, gain^2 2/(fan_in+fan_out)). */
CG_API cg_status cg_init_xavier_uniform(cg_tensor *t, cg_rng *rng, double gain);
CG_API cg_status cg_init_xavier_normal(cg_tensor *t, cg_rng *rng, double gain);
/* He/Kaiming: std = gain(nl, a) / sqrt(fan), fan = fan_in or fan_out; uniform bound
 * sqrt(3) std. PyTorch's defaults: a = 0, fan_in, leaky_relu. */
CG_API cg_status cg_init_kaiming_uniform(cg_tensor *t, cg_rng *rng, double a, bool fan_out,
                                         cg_nonlinearity nl);
CG_API cg_status cg_init_kaiming_normal(cg_tensor *t, cg_rng *rng, double a, bool fan_out,
                                        cg_nonlinearity nl);
/* (Semi-)orthogonal matrix times gain (Saxe et al. 2014) for a weight flattened to
 * [rows, prod(rest)]: QR of a normal matrix, signs fixed by diag(R). */
CG_API cg_status cg_init_orthogonal(cg_tensor *t, cg_rng *rng, double gain);
/* Sparse initialization (Martens 2010) of a 2-d weight [out, in]: each unit (row) gets
 * exactly k non-zero incoming weights drawn from N(0, std), at random columns. */
CG_API cg_status cg_init_sparse(cg_tensor *t, cg_rng *rng, int64_t k, double std);

/* ======================= modules (lib/nn/module.c, lib/nn/layers.c) ======================= */

typedef struct cg_module cg_module;

/* Forward of a module written by the user: build the output from ops (see
 * cg_module_new). */
typedef cg_tensor *(*cg_module_forward_fn)(cg_module *self, cg_tensor *x);

/* A new empty module of the given type name with a user forward; state is the module's
 * own data (freed with free_state, which may be NULL). Add parameters, buffers and
 * children with the cg_module_add_* calls. */
CG_API cg_module *cg_module_new(const char *type, cg_module_forward_fn forward, void *state,
                                void (*free_state)(void *state));
/* Free a module, its children, parameters and buffers. NULL is ignored. */
CG_API void cg_module_free(cg_module *m);
/* Run the module (its training flag decides train/eval behaviour). */
CG_API cg_tensor *cg_module_forward(cg_module *m, cg_tensor *x);
/* Set train (true) or eval (false) mode of m and all its children. */
CG_API void cg_module_train(cg_module *m, bool training);
CG_API bool cg_module_is_training(const cg_module *m);
CG_API const char *cg_module_type(const cg_module *m);
CG_API void *cg_module_state(const cg_module *m);

/* Take ownership of a caller-owned tensor as parameter / buffer / child named name
 * (unique among the module's own names; no dots). Parameters are set to require grad. */
CG_API cg_status cg_module_add_parameter(cg_module *m, const char *name, cg_tensor *t);
CG_API cg_status cg_module_add_buffer(cg_module *m, const char *name, cg_tensor *t);
CG_API cg_status cg_module_add_child(cg_module *m, const char *name, cg_module *child);

/* All parameters of m and its children, depth first in insertion order, with dotted names
 * as PyTorch's named_parameters ("0.weight", "fc.bias"). Index i in [0, count). The name
 * string is owned by m and stays valid while m lives (even if m grows afterwards). */
CG_API int cg_module_num_parameters(const cg_module *m);
CG_API cg_tensor *cg_module_parameter(const cg_module *m, int i, const char **name);
/* Buffers (running statistics, ...) the same way. */
CG_API int cg_module_num_buffers(const cg_module *m);
CG_API cg_tensor *cg_module_buffer(const cg_module *m, int i, const char **name);
/* A parameter or buffer by dotted name, or NULL with a CG_ERR_VALUE message naming it. */
CG_API cg_tensor *cg_module_find(const cg_module *m, const char *name);
/* Direct children. */
CG_API int cg_module_num_children(const cg_module *m);
CG_API cg_module *cg_module_child(const cg_module *m, int i, const char **name);
/* Drop the accumulated gradients of all parameters. */
CG_API void cg_module_zero_grad(cg_module *m);
/* Total number of parameter elements. */
CG_API int64_t cg_module_num_elements(const cg_module *m);

/* Children applied in order (nn.Sequential); takes ownership of mods[0..n) — also when it
 * fails, so a nested constructor expression never leaks (unlike cg_module_add_child, which
 * leaves the child with the caller on failure). Children are named "0", "1", ... */
CG_API cg_module *cg_sequential_new(cg_module *const *mods, int n);
/* Append m as the next child; takes ownership of m, also on failure. */
CG_API cg_status cg_sequential_append(cg_module *seq, cg_module *m);

/* nn.Linear(in, out, bias): weight [out, in] and bias [out], initialised as PyTorch does
 * (kaiming_uniform with a = sqrt(5), bias U(-1/sqrt(in), 1/sqrt(in))) from rng. */
CG_API cg_module *cg_linear_new(int64_t in, int64_t out, bool bias, cg_dtype dtype,
                                cg_rng *rng);
/* nn.Conv2d(in, out, kernel, ...) with weight [out, in/groups, kh, kw] and PyTorch's
 * default initialisation. */
CG_API cg_module *cg_conv2d_new(int64_t in, int64_t out, const cg_conv2d_options *options,
                                bool bias, cg_dtype dtype, cg_rng *rng);
CG_API cg_module *cg_max_pool2d_new(const cg_conv2d_options *options);
CG_API cg_module *cg_avg_pool2d_new(const cg_conv2d_options *options);
CG_API cg_module *cg_global_avg_pool2d_new(void);
/* Flatten dimensions start..end (nn.Flatten defaults: 1, -1). */
CG_API cg_module *cg_flatten_new(int start, int end);

/* Activations as modules (nn.ReLU, nn.Tanh, ...). a and b are the kind's parameters:
 * LEAKY_RELU slope (a), ELU alpha (a), SOFTPLUS beta (a) and threshold (b), HARDTANH lo (a)
 * and hi (b), GELU tanh approximation when a != 0, SOFTMAX/LOG_SOFTMAX axis (a). */
typedef enum cg_activation {
    CG_ACT_SIGMOID, CG_ACT_TANH, CG_ACT_RELU, CG_ACT_LEAKY_RELU, CG_ACT_ELU, CG_ACT_SELU,
    CG_ACT_GELU, CG_ACT_SOFTPLUS, CG_ACT_SILU, CG_ACT_HARDTANH, CG_ACT_SOFTMAX,
    CG_ACT_LOG_SOFTMAX
} cg_activation;
CG_API cg_module *cg_activation_new(cg_activation kind, double a, double b);
/* nn.PReLU(num_parameters, init): a learnable slope, one or one per channel (dimension 1). */
CG_API cg_module *cg_prelu_new(int64_t num_parameters, double init, cg_dtype dtype);
/* Maxout over dimension 1 with k pieces. */
CG_API cg_module *cg_maxout_new(int k);

/* Options of the batch/instance normalization modules; defaults are PyTorch's. */
typedef struct cg_norm_options {
    double eps;               /* 1e-5 */
    double momentum;          /* 0.1 */
    bool affine;              /* true for batch norm, false for instance norm */
    bool track_running_stats; /* true for batch norm, false for instance norm */
} cg_norm_options;
CG_API cg_norm_options cg_batch_norm_defaults(void);
CG_API cg_norm_options cg_instance_norm_defaults(void);
/* nn.BatchNorm1d / nn.BatchNorm2d(num_features): weight 1, bias 0, running_mean 0,
 * running_var 1, num_batches_tracked 0 (buffers). options may be NULL. */
CG_API cg_module *cg_batch_norm1d_new(int64_t features, const cg_norm_options *options,
                                      cg_dtype dtype);
CG_API cg_module *cg_batch_norm2d_new(int64_t features, const cg_norm_options *options,
                                      cg_dtype dtype);
CG_API cg_module *cg_instance_norm2d_new(int64_t features, const cg_norm_options *options,
                                         cg_dtype dtype);
/* nn.LayerNorm(shape, eps, elementwise_affine). */
CG_API cg_module *cg_layer_norm_new(int nshape, const int64_t *shape, double eps, bool affine,
                                    cg_dtype dtype);
/* nn.GroupNorm(groups, channels, eps, affine). */
CG_API cg_module *cg_group_norm_new(int64_t groups, int64_t channels, double eps, bool affine,
                                    cg_dtype dtype);
/* nn.Dropout(p) / nn.Dropout2d(p) with their own generator seeded with seed. Its state
 * (seed, offset) is an i64 buffer "rng_state" [2], advanced by each training forward, so a
 * checkpoint resumes the same masks (PyTorch saves its global generator instead). */
CG_API cg_module *cg_dropout_new(double p, uint64_t seed);
CG_API cg_module *cg_dropout2d_new(double p, uint64_t seed);

/* Weight normalization (Salimans & Kingma 2016) of module m's parameter name: replaces it
 * by name_g (the norm over all dimensions but dim, PyTorch's default dim 0; dim -1 means
 * the norm over the whole tensor, PyTorch's dim=None) and name_v (the direction),
 * recomputing name = g v / ||v|| on the active tape at each forward. Outside a forward,
 * cg_module_find(m, name) gives NULL: the computed weight lives on a tape. */
CG_API cg_status cg_weight_norm(cg_module *m, const char *name, int dim);

/* For inference: a copy of the Linear or Conv2d module `layer` with the BatchNorm `bn`
 * (in eval mode, its running statistics) folded into its weight and bias, so that
 * fold(x) == bn(layer(x)). The inputs are left unchanged. */
CG_API cg_module *cg_fold_batch_norm(const cg_module *layer, const cg_module *bn);

#ifdef __cplusplus
}
#endif

#endif
