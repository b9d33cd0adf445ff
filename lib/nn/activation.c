/* Activation functions: the table ops (sigmoid, tanh, relu, leaky_relu, elu, gelu, erf,
 * softplus, silu, hardtanh), each a fast kernel stamped per dtype with its backward rule
 * written in differentiable ops, and the composites built from ops (prelu, maxout, selu).
 *
 * Kernels follow PyTorch's CPU formulas in the input's precision (float maths for f32),
 * including what they do with NaN, infinities and the points where branches meet; the
 * backward rules reproduce PyTorch's *_backward masks (which side a tie falls on, what a
 * NaN input passes back), so gradients match at those points too. */
#include <string.h>
#include <tgmath.h>

#include "cgrad/nn.h"
#include "op.h"

/* ---- kernels ---- */

/* EXPR sees the element x, the op's scalars a = f[0], b = f[1], c = f[2], and `real`, the
 * element type, for constants that must stay in the input's precision. */
#define ACT_LOOP(T, EXPR)                                                                   \
    {                                                                                       \
        typedef T real;                                                                     \
        const double *f = ctx;                                                              \
        const real a = (real)f[0], b = (real)f[1], c = (real)f[2];                          \
        (void)a, (void)b, (void)c;                                                          \
        const int64_t es = (int64_t)sizeof(real);                                           \
        if (s[0] == es && s[1] == es) {                                                     \
            const real *X = (const real *)p[0];                                             \
            real *o = (real *)p[1];                                                         \
            for (int64_t i = 0; i < n; i++) {                                               \
                real x = X[i];                                                              \
                o[i] = (real)(EXPR);                                                        \
            }                                                                               \
        } else {                                                                            \
            for (int64_t i = 0; i < n; i++) {                                               \
                real x = *(const real *)(p[0] + i * s[0]);                                  \
                *(real *)(p[1] + i * s[1]) = (real)(EXPR);                                  \
            }                                                                               \
        }                                                                                   \
    }

#define ACT_KERNEL(name, EXPR)                                                              \
    static void name##_f32(int64_t n, char *const *p, const int64_t *s, const void *ctx)    \
        ACT_LOOP(float, EXPR)                                                               \
    static void name##_f64(int64_t n, char *const *p, const int64_t *s, const void *ctx)    \
        ACT_LOOP(double, EXPR)

/* sqrt(2/pi) and the cubic coefficient of GELU's tanh approximation. */
#define GELU_BETA (M_SQRT2 * M_2_SQRTPI * 0.5)
#define GELU_KAPPA 0.044715

/* 1/(1+e^-x) saturates cleanly: e^1000 is inf and 1/inf is 0, never NaN. */
ACT_KERNEL(k_sigmoid, 1 / (1 + exp(-x)))
ACT_KERNEL(k_tanh, tanh(x))
/* clamp_min(x, 0): NaN and -0.0 pass through, as in PyTorch. */
ACT_KERNEL(k_relu, x < 0 ? 0 : x)
ACT_KERNEL(k_leaky_relu, x > 0 ? x : x * a)
/* x <= 0 takes the exponential side (a NaN takes the linear one), as PyTorch's elu. expm1
 * rather than PyTorch 1.13's exp() - 1: the same function, without the cancellation. */
ACT_KERNEL(k_elu, x <= 0 ? expm1(x * c) * (a * b) : x * b)
ACT_KERNEL(k_gelu_erf, x * (real)0.5 * (1 + erf(x * (real)M_SQRT1_2)))
ACT_KERNEL(k_gelu_tanh,
           (real)0.5 * x * (1 + tanh((real)GELU_BETA * (x + (real)GELU_KAPPA * (x * x * x)))))
ACT_KERNEL(k_erf, erf(x))
/* Linear where beta x > threshold (PyTorch's test, in the input's precision); elsewhere
 * log(1 + e^z) / beta with z = beta x, as z + log1p(e^-z) for z > 0 so that a large
 * threshold cannot make e^z overflow. */
ACT_KERNEL(k_softplus, x * a > b ? x
                                 : (x * a > 0 ? x * a + log1p(exp(-(x * a))) : log1p(exp(x * a))) / a)
ACT_KERNEL(k_silu, x / (1 + exp(-x)))
/* torch.clamp's order (min first, then max), so lo > hi gives hi; NaN stays NaN. */
ACT_KERNEL(k_hardtanh, x != x ? x : (x < a ? a : x) > b ? b : (x < a ? a : x))

typedef struct act_kernel {
    int op;
    cg__loop_fn f32, f64;
    int64_t work; /* rough cost per element, for the threading threshold */
} act_kernel;

static const act_kernel act_kernels[] = {
    {CG_OP_SIGMOID, k_sigmoid_f32, k_sigmoid_f64, 8},
    {CG_OP_TANH, k_tanh_f32, k_tanh_f64, 8},
    {CG_OP_RELU, k_relu_f32, k_relu_f64, 1},
    {CG_OP_LEAKY_RELU, k_leaky_relu_f32, k_leaky_relu_f64, 1},
    {CG_OP_ELU, k_elu_f32, k_elu_f64, 8},
    {CG_OP_GELU, k_gelu_erf_f32, k_gelu_erf_f64, 16},
    {CG_OP_ERF, k_erf_f32, k_erf_f64, 8},
    {CG_OP_SOFTPLUS, k_softplus_f32, k_softplus_f64, 16},
    {CG_OP_SILU, k_silu_f32, k_silu_f64, 8},
    {CG_OP_HARDTANH, k_hardtanh_f32, k_hardtanh_f64, 1},
};

/* GELU's tanh form is the same op with another kernel. */
static const act_kernel gelu_tanh_kernel = {CG_OP_GELU, k_gelu_tanh_f32, k_gelu_tanh_f64, 16};

static const act_kernel *find_kernel(int op, const cg__attrs *attrs)
{
    if (op == CG_OP_GELU && attrs->f[0] != 0)
        return &gelu_tanh_kernel;
    for (size_t i = 0; i < sizeof act_kernels / sizeof *act_kernels; i++)
        if (act_kernels[i].op == op)
            return &act_kernels[i];
    return NULL;
}

cg_tensor *cg__activation_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                                  const cg__attrs *attrs)
{
    (void)n;
    cg_tensor *x = in[0];
    if (!cg__check_float_dtypes(cg__ops[op].name, &x, 1))
        return NULL;
    cg_tensor *out = cg__tensor_alloc(pool, x->dtype, x->ndim, x->shape);
    if (!out)
        return NULL;
    const act_kernel *k = find_kernel(op, attrs);
    int64_t st[2][CG_MAX_DIMS];
    cg__broadcast_strides(x, x->ndim, st[0]);
    cg__broadcast_strides(out, x->ndim, st[1]);
    char *base[2] = {cg__ptr(x), cg__ptr(out)};
    cg__foreach(x->ndim, x->shape, 2, base, (const int64_t(*)[CG_MAX_DIMS])st,
                x->dtype == CG_F32 ? k->f32 : k->f64, attrs->f, k->work);
    return out;
}

/* ---- fused gradients of the piecewise-linear activations ---- */

/* out = EXPR of the mask operand m and the gradient g, contiguous runs first: this is
 * the backward pass of every ReLU network, and one pass replaces a comparison tensor and
 * a strided where. The scalars come from the forward op's attrs (a = f[0], b = f[1]). */
#define GRAD_LOOP(T, EXPR)                                                                  \
    {                                                                                       \
        typedef T real;                                                                     \
        const double *f = ctx;                                                              \
        const real a = (real)f[0], b = (real)f[1];                                          \
        (void)a, (void)b;                                                                   \
        const int64_t es = (int64_t)sizeof(real);                                           \
        if (s[0] == es && s[1] == es && s[2] == es) {                                       \
            const real *restrict M = (const real *)p[0], *restrict G = (const real *)p[1];  \
            real *restrict o = (real *)p[2];                                                \
            for (int64_t i = 0; i < n; i++) {                                               \
                real m = M[i], g = G[i];                                                    \
                o[i] = (EXPR);                                                              \
            }                                                                               \
        } else {                                                                            \
            for (int64_t i = 0; i < n; i++) {                                               \
                real m = *(const real *)(p[0] + i * s[0]);                                  \
                real g = *(const real *)(p[1] + i * s[1]);                                  \
                *(real *)(p[2] + i * s[2]) = (EXPR);                                        \
            }                                                                               \
        }                                                                                   \
    }

#define GRAD_KERNEL(name, EXPR)                                                             \
    static void name##_f32(int64_t n, char *const *p, const int64_t *s, const void *ctx)    \
        GRAD_LOOP(float, EXPR)                                                              \
    static void name##_f64(int64_t n, char *const *p, const int64_t *s, const void *ctx)    \
        GRAD_LOOP(double, EXPR)

/* PyTorch's threshold_backward on the output: 0 where y <= 0, g elsewhere (a NaN y
 * passes g). */
GRAD_KERNEL(k_relu_grad, m <= 0 ? (real)0 : g)
/* g where x > 0, else slope g (a NaN x takes the slope). */
GRAD_KERNEL(k_leaky_relu_grad, m > 0 ? g : g * a)
/* 0 where x <= lo or x >= hi, g elsewhere (so g for a NaN x). */
GRAD_KERNEL(k_hardtanh_grad, m <= a || m >= b ? (real)0 : g)

static cg__loop_fn grad_kernel(int op, bool f32)
{
    switch (op) {
    case CG_OP_RELU_BACKWARD: return f32 ? k_relu_grad_f32 : k_relu_grad_f64;
    case CG_OP_LEAKY_RELU_BACKWARD: return f32 ? k_leaky_relu_grad_f32 : k_leaky_relu_grad_f64;
    default: return f32 ? k_hardtanh_grad_f32 : k_hardtanh_grad_f64;
    }
}

/* in = {m, g}: one float dtype and one shape (g may be a broadcast view of that shape). */
cg_tensor *cg__act_grad_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                                const cg__attrs *attrs)
{
    (void)n;
    cg_tensor *m = in[0], *g = in[1];
    const char *name = cg__ops[op].name;
    if (!cg__check_float_dtypes(name, in, 2))
        return NULL;
    if (m->ndim != g->ndim || memcmp(m->shape, g->shape, (size_t)m->ndim * sizeof *m->shape)) {
        char a[160], b[160];
        cg__error(CG_ERR_SHAPE, "%s: gradient of shape %s does not match shape %s", name,
                  cg__shape_str(g->ndim, g->shape, a, sizeof a),
                  cg__shape_str(m->ndim, m->shape, b, sizeof b));
        return NULL;
    }
    cg_tensor *out = cg__tensor_alloc(pool, m->dtype, m->ndim, m->shape);
    if (!out)
        return NULL;
    int64_t st[3][CG_MAX_DIMS];
    cg__broadcast_strides(m, m->ndim, st[0]);
    cg__broadcast_strides(g, m->ndim, st[1]);
    cg__broadcast_strides(out, m->ndim, st[2]);
    char *base[3] = {cg__ptr(m), cg__ptr(g), cg__ptr(out)};
    cg__foreach(m->ndim, m->shape, 3, base, (const int64_t(*)[CG_MAX_DIMS])st,
                grad_kernel(op, m->dtype == CG_F32), attrs->f, 1);
    return out;
}

/* ---- public builders ---- */

static cg_tensor *activation(int op, cg_tensor *x, double a, double b, double c)
{
    cg__attrs at;
    memset(&at, 0, sizeof at);
    at.f[0] = a;
    at.f[1] = b;
    at.f[2] = c;
    return cg__apply(op, &x, 1, &at);
}

/* A bad hyperparameter is an error, unless the input is already NULL: then the op keeps
 * the first error, which explains the NULL. */
static bool check_param(const cg_tensor *x, const char *op, const char *what, double v,
                        bool finite)
{
    if (x && (v != v || (finite && !isfinite(v)))) {
        cg__error(CG_ERR_VALUE, "%s: %s must be %s, got %g", op, what,
                  finite ? "finite" : "a number", v);
        return false;
    }
    return true;
}

/* For composites, whose errors would otherwise name the inner ops. */
static bool check_input(cg_tensor *x, const char *op)
{
    return cg__check_tensor(x, op) && cg__check_float_dtypes(op, &x, 1);
}

cg_tensor *cg_sigmoid(cg_tensor *x) { return activation(CG_OP_SIGMOID, x, 0, 0, 0); }
cg_tensor *cg_tanh(cg_tensor *x) { return activation(CG_OP_TANH, x, 0, 0, 0); }
cg_tensor *cg_relu(cg_tensor *x) { return activation(CG_OP_RELU, x, 0, 0, 0); }
cg_tensor *cg_erf(cg_tensor *x) { return activation(CG_OP_ERF, x, 0, 0, 0); }
cg_tensor *cg_silu(cg_tensor *x) { return activation(CG_OP_SILU, x, 0, 0, 0); }
cg_tensor *cg_gelu(cg_tensor *x, bool tanh_approx)
{
    return activation(CG_OP_GELU, x, tanh_approx ? 1 : 0, 0, 0);
}

cg_tensor *cg_leaky_relu(cg_tensor *x, double slope)
{
    if (!check_param(x, "leaky_relu", "slope", slope, true))
        return NULL;
    return activation(CG_OP_LEAKY_RELU, x, slope, 0, 0);
}

cg_tensor *cg_elu(cg_tensor *x, double alpha)
{
    if (!check_param(x, "elu", "alpha", alpha, true))
        return NULL;
    return activation(CG_OP_ELU, x, alpha, 1.0, 1.0);
}

/* Klambauer et al. (2017), to the digits PyTorch uses. */
#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE 1.0507009873554804934193349852946

cg_tensor *cg_selu(cg_tensor *x)
{
    if (!check_input(x, "selu"))
        return NULL;
    return activation(CG_OP_ELU, x, SELU_ALPHA, SELU_SCALE, 1.0);
}

cg_tensor *cg_softplus(cg_tensor *x, double beta, double threshold)
{
    if (!check_param(x, "softplus", "beta", beta, true) ||
        !check_param(x, "softplus", "threshold", threshold, false))
        return NULL;
    if (x && beta == 0) {
        cg__error(CG_ERR_VALUE, "softplus: beta must not be 0");
        return NULL;
    }
    return activation(CG_OP_SOFTPLUS, x, beta, threshold, 0);
}

cg_tensor *cg_hardtanh(cg_tensor *x, double lo, double hi)
{
    if (!check_param(x, "hardtanh", "lo", lo, false) || !check_param(x, "hardtanh", "hi", hi, false))
        return NULL;
    return activation(CG_OP_HARDTANH, x, lo, hi, 0);
}

/* ---- composites ---- */

/* PyTorch's rule: a single slope fits any input; otherwise one slope per channel, the
 * channel count being size(1) (1 for a 1-d input), and a 0-d input takes only one. */
static bool prelu_weight_fits(const cg_tensor *x, const cg_tensor *w)
{
    int64_t wn = cg__shape_numel(w->ndim, w->shape);
    if (w->ndim > 1)
        return false;
    if (wn == 1)
        return true;
    return x->ndim >= 1 && wn == (x->ndim >= 2 ? x->shape[1] : 1);
}

cg_tensor *cg_prelu(cg_tensor *x, cg_tensor *weight)
{
    cg_tensor *in[2] = {x, weight};
    if (!cg__check_tensor(x, "prelu") || !cg__check_tensor(weight, "prelu") ||
        !cg__check_float_dtypes("prelu", in, 2))
        return NULL;
    if (!prelu_weight_fits(x, weight)) {
        char a[160], b[160];
        cg__error(CG_ERR_SHAPE,
                  "prelu: weight of shape %s does not fit input of shape %s (expected one "
                  "slope, or one per channel: [C] with C the size of dimension 1)",
                  cg__shape_str(weight->ndim, weight->shape, a, sizeof a),
                  cg__shape_str(x->ndim, x->shape, b, sizeof b));
        return NULL;
    }
    /* The slopes as [C, 1, ..., 1] so they broadcast along dimension 1 (0-d for one). */
    int64_t shape[CG_MAX_DIMS];
    int nd = 0;
    if (cg__shape_numel(weight->ndim, weight->shape) != 1) {
        nd = x->ndim - 1;
        shape[0] = x->shape[1];
        for (int d = 1; d < nd; d++)
            shape[d] = 1;
    }
    cg_tensor *w = cg_reshape(weight, nd, shape);
    /* PyTorch's x > 0 ? x : w x, so the gradient at 0 is w and a NaN input gives NaN. */
    return cg_where(cg_gt(x, cg__const(x->dtype, 0.0)), x, cg_mul(w, x));
}

cg_tensor *cg_maxout(cg_tensor *x, int k, int axis)
{
    if (!check_input(x, "maxout"))
        return NULL;
    if (k < 1) {
        cg__error(CG_ERR_VALUE, "maxout: k must be >= 1, got %d", k);
        return NULL;
    }
    if (x->ndim < 1 || x->ndim >= CG_MAX_DIMS) {
        cg__error(CG_ERR_SHAPE, "maxout: input must have 1 to %d dimensions, got %d",
                  CG_MAX_DIMS - 1, x->ndim);
        return NULL;
    }
    int ax = cg__norm_axis(axis, x->ndim, "maxout");
    if (ax < 0)
        return NULL;
    if (x->shape[ax] % k != 0) {
        cg__error(CG_ERR_VALUE, "maxout: size %lld of dimension %d is not a multiple of k = %d",
                  (long long)x->shape[ax], ax, k);
        return NULL;
    }
    /* Split the axis into [C/k, k] (groups of k consecutive entries) and reduce the k. */
    int64_t shape[CG_MAX_DIMS];
    for (int d = 0, e = 0; d < x->ndim; d++, e++) {
        shape[e] = x->shape[d];
        if (d == ax) {
            shape[e] = x->shape[d] / k;
            shape[++e] = k;
        }
    }
    int red = ax + 1;
    return cg_max(cg_reshape(x, x->ndim + 1, shape), &red, 1, false);
}

/* ---- backward rules ---- */

#define IN(k) (node->inputs[k])
#define OUT (node->out)
#define F(i) (node->attrs.f[i])

/* A 0-d constant of t's dtype. */
static cg_tensor *K(const cg_tensor *t, double v) { return cg__const(t->dtype, v); }

/* g (1 - y) y, PyTorch's order */
cg_status cg__sigmoid_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg_mul(cg_mul(g, cg_sub(K(g, 1.0), OUT)), OUT);
    return CG_OK;
}

/* g (1 - y^2) */
cg_status cg__tanh_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg_mul(g, cg_sub(K(g, 1.0), cg_mul(OUT, OUT)));
    return CG_OK;
}

/* The fused gradient op of a piecewise-linear activation: op(m, g) with the forward
 * node's scalars. */
static cg_tensor *act_grad(int op, const cg_node *node, cg_tensor *m, cg_tensor *g)
{
    cg_tensor *in[2] = {m, g};
    return cg__apply(op, in, 2, &node->attrs);
}

/* threshold_backward on the result: 0 where y <= 0, so 0 at x = 0 and g for a NaN. */
cg_status cg__relu_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = act_grad(CG_OP_RELU_BACKWARD, node, OUT, g);
    return CG_OK;
}

/* g where x > 0, else slope g (a NaN takes the slope, as in PyTorch). */
cg_status cg__leaky_relu_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = act_grad(CG_OP_LEAKY_RELU_BACKWARD, node, IN(0), g);
    return CG_OK;
}

/* elu_backward on the input: x <= 0 gives g input_scale alpha scale e^(input_scale x),
 * else g scale. The exponent is clamped at 0 so that the unused side cannot overflow to
 * inf, which would turn its zero gradient into NaN under double backward. */
cg_status cg__elu_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    cg_tensor *x = IN(0);
    double alpha = F(0), scale = F(1), input_scale = F(2);
    cg_tensor *e = cg_exp(cg_mul_scalar(cg_clamp(x, -INFINITY, 0.0), input_scale));
    cg_tensor *neg = cg_mul(cg_mul_scalar(g, input_scale * alpha * scale), e);
    gin[0] = cg_where(cg_le(x, K(x, 0.0)), neg, cg_mul_scalar(g, scale));
    return CG_OK;
}

/* Erf form: g (Phi(x) + x phi(x)). Tanh form, with t = tanh(beta (x + kappa x^3)):
 * g (0.5 (1 + t) + 0.5 x (1 - t^2) beta (1 + 3 kappa x^2)). */
cg_status cg__gelu_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    cg_tensor *x = IN(0), *x2 = cg_mul(x, x), *d;
    if (F(0) == 0) {
        cg_tensor *cdf = cg_mul_scalar(cg_add_scalar(cg_erf(cg_mul_scalar(x, M_SQRT1_2)), 1.0), 0.5);
        cg_tensor *pdf = cg_mul_scalar(cg_exp(cg_mul_scalar(x2, -0.5)), 0.5 * M_2_SQRTPI * M_SQRT1_2);
        d = cg_add(cdf, cg_mul(x, pdf));
    } else {
        cg_tensor *inner = cg_mul_scalar(cg_add(x, cg_mul_scalar(cg_mul(x2, x), GELU_KAPPA)),
                                         GELU_BETA);
        cg_tensor *t = cg_tanh(inner);
        cg_tensor *left = cg_mul_scalar(cg_add_scalar(t, 1.0), 0.5);
        cg_tensor *dinner = cg_mul_scalar(cg_add_scalar(cg_mul_scalar(x2, 3 * GELU_KAPPA), 1.0),
                                          GELU_BETA);
        cg_tensor *right = cg_mul(cg_mul(cg_mul_scalar(x, 0.5), cg_sub(K(x, 1.0), cg_mul(t, t))),
                                  dinner);
        d = cg_add(left, right);
    }
    gin[0] = cg_mul(g, d);
    return CG_OK;
}

/* g 2/sqrt(pi) e^(-x^2) */
cg_status cg__erf_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    cg_tensor *x = IN(0);
    gin[0] = cg_mul(cg_mul_scalar(cg_exp(cg_neg(cg_mul(x, x))), M_2_SQRTPI), g);
    return CG_OK;
}

/* g where beta x > threshold (the linear side), else g sigmoid(beta x). */
cg_status cg__softplus_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    cg_tensor *z = cg_mul_scalar(IN(0), F(0));
    gin[0] = cg_where(cg_gt(z, K(z, F(1))), g, cg_mul(g, cg_sigmoid(z)));
    return CG_OK;
}

/* g s (1 + x (1 - s)) with s = sigmoid(x) */
cg_status cg__silu_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    cg_tensor *x = IN(0), *s = cg_sigmoid(x);
    cg_tensor *one = K(x, 1.0);
    gin[0] = cg_mul(cg_mul(g, s), cg_add(one, cg_mul(x, cg_sub(one, s))));
    return CG_OK;
}

/* hardtanh_backward: 0 where x <= lo or x >= hi, g elsewhere (so g for a NaN). */
cg_status cg__hardtanh_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = act_grad(CG_OP_HARDTANH_BACKWARD, node, IN(0), g);
    return CG_OK;
}

/* Linear in g with a diagonal mask: the gradient for g is the same op on the incoming
 * gradient; the mask operand gets none (piecewise constant, as where's condition). */
cg_status cg__act_grad_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = NULL;
    gin[1] = act_grad(node->op, node, IN(0), g);
    return CG_OK;
}
