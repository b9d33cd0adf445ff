/* Elementwise ops: binary arithmetic with broadcasting, comparisons, where, and unary
 * functions, each with its backward rule. The loops are stamped out per dtype by
 * BINARY_KERNEL / UNARY_KERNEL from one expression; <tgmath.h> picks expf or exp by type. */
#include <string.h>
#include <tgmath.h>

#include "op.h"

/* ---- kernels ---- */

/* Contiguous and scalar-broadcast runs get their own loops so the compiler vectorizes. */
#define BINARY_LOOP(T, EXPR)                                                                \
    {                                                                                       \
        const char *pa = p[0], *pb = p[1];                                                  \
        T *o = (T *)p[2];                                                                   \
        const int64_t es = (int64_t)sizeof(T);                                              \
        if (s[0] == es && s[1] == es && s[2] == es) {                                       \
            const T *A = (const T *)pa, *B = (const T *)pb;                                 \
            for (int64_t i = 0; i < n; i++) {                                               \
                T x = A[i], y = B[i];                                                       \
                o[i] = (T)(EXPR);                                                           \
            }                                                                               \
        } else if (s[0] == es && s[1] == 0 && s[2] == es) {                                 \
            const T *A = (const T *)pa;                                                     \
            const T y = *(const T *)pb;                                                     \
            for (int64_t i = 0; i < n; i++) {                                               \
                T x = A[i];                                                                 \
                o[i] = (T)(EXPR);                                                           \
            }                                                                               \
        } else {                                                                            \
            for (int64_t i = 0; i < n; i++) {                                               \
                T x = *(const T *)(pa + i * s[0]), y = *(const T *)(pb + i * s[1]);         \
                *(T *)((char *)o + i * s[2]) = (T)(EXPR);                                   \
            }                                                                               \
        }                                                                                   \
    }

#define BINARY_KERNEL(name, EXPR)                                                           \
    static void name##_f32(int64_t n, char *const *p, const int64_t *s, const void *c)      \
    {                                                                                       \
        (void)c;                                                                            \
        BINARY_LOOP(float, EXPR)                                                            \
    }                                                                                       \
    static void name##_f64(int64_t n, char *const *p, const int64_t *s, const void *c)      \
    {                                                                                       \
        (void)c;                                                                            \
        BINARY_LOOP(double, EXPR)                                                           \
    }

BINARY_KERNEL(k_add, x + y)
BINARY_KERNEL(k_sub, x - y)
BINARY_KERNEL(k_mul, x * y)
BINARY_KERNEL(k_div, x / y)
BINARY_KERNEL(k_pow, pow(x, y))
/* NaN propagates, as in torch.maximum. */
BINARY_KERNEL(k_maximum, (x != x || y != y) ? x + y : (x > y ? x : y))
BINARY_KERNEL(k_minimum, (x != x || y != y) ? x + y : (x < y ? x : y))
BINARY_KERNEL(k_eq, x == y)
BINARY_KERNEL(k_ne, x != y)
BINARY_KERNEL(k_lt, x < y)
BINARY_KERNEL(k_le, x <= y)
BINARY_KERNEL(k_gt, x > y)
BINARY_KERNEL(k_ge, x >= y)

typedef struct binary_kernel {
    int op;
    cg__loop_fn f32, f64;
} binary_kernel;

static const binary_kernel binary_kernels[] = {
    {CG_OP_ADD, k_add_f32, k_add_f64},          {CG_OP_SUB, k_sub_f32, k_sub_f64},
    {CG_OP_MUL, k_mul_f32, k_mul_f64},          {CG_OP_DIV, k_div_f32, k_div_f64},
    {CG_OP_POW, k_pow_f32, k_pow_f64},          {CG_OP_MAXIMUM, k_maximum_f32, k_maximum_f64},
    {CG_OP_MINIMUM, k_minimum_f32, k_minimum_f64}, {CG_OP_EQ, k_eq_f32, k_eq_f64},
    {CG_OP_NE, k_ne_f32, k_ne_f64},             {CG_OP_LT, k_lt_f32, k_lt_f64},
    {CG_OP_LE, k_le_f32, k_le_f64},             {CG_OP_GT, k_gt_f32, k_gt_f64},
    {CG_OP_GE, k_ge_f32, k_ge_f64},
};

/* Unary kernels see the op's scalars as a = f[0], b = f[1], converted to T. */
#define UNARY_LOOP(T, EXPR)                                                                 \
    {                                                                                       \
        const double *f = c;                                                                \
        const T a = (T)f[0], b = (T)f[1];                                                   \
        (void)a, (void)b;                                                                   \
        const int64_t es = (int64_t)sizeof(T);                                              \
        if (s[0] == es && s[1] == es) {                                                     \
            const T *X = (const T *)p[0];                                                   \
            T *o = (T *)p[1];                                                               \
            for (int64_t i = 0; i < n; i++) {                                               \
                T x = X[i];                                                                 \
                o[i] = (T)(EXPR);                                                           \
            }                                                                               \
        } else {                                                                            \
            for (int64_t i = 0; i < n; i++) {                                               \
                T x = *(const T *)(p[0] + i * s[0]);                                        \
                *(T *)(p[1] + i * s[1]) = (T)(EXPR);                                        \
            }                                                                               \
        }                                                                                   \
    }

#define UNARY_KERNEL(name, EXPR)                                                            \
    static void name##_f32(int64_t n, char *const *p, const int64_t *s, const void *c)      \
        UNARY_LOOP(float, EXPR)                                                             \
    static void name##_f64(int64_t n, char *const *p, const int64_t *s, const void *c)      \
        UNARY_LOOP(double, EXPR)

UNARY_KERNEL(k_neg, -x)
UNARY_KERNEL(k_exp, exp(x))
UNARY_KERNEL(k_log, log(x))
UNARY_KERNEL(k_sqrt, sqrt(x))
UNARY_KERNEL(k_rsqrt, 1 / sqrt(x))
UNARY_KERNEL(k_abs, fabs(x))
UNARY_KERNEL(k_sign, (x > 0) - (x < 0) + x * 0) /* x * 0 keeps NaN */
/* torch.clamp: min first, then max, so lo > hi gives hi; NaN stays NaN. */
UNARY_KERNEL(k_clamp, x != x ? x : (x < a ? a : x) > b ? b : (x < a ? a : x))
UNARY_KERNEL(k_add_scalar, x + a)
UNARY_KERNEL(k_mul_scalar, x * a)
UNARY_KERNEL(k_pow_scalar, pow(x, a))

typedef struct unary_kernel {
    int op;
    cg__loop_fn f32, f64;
    int64_t work; /* rough cost per element, for the threading threshold */
} unary_kernel;

static const unary_kernel unary_kernels[] = {
    {CG_OP_NEG, k_neg_f32, k_neg_f64, 1},
    {CG_OP_EXP, k_exp_f32, k_exp_f64, 8},
    {CG_OP_LOG, k_log_f32, k_log_f64, 8},
    {CG_OP_SQRT, k_sqrt_f32, k_sqrt_f64, 4},
    {CG_OP_RSQRT, k_rsqrt_f32, k_rsqrt_f64, 4},
    {CG_OP_ABS, k_abs_f32, k_abs_f64, 1},
    {CG_OP_SIGN, k_sign_f32, k_sign_f64, 1},
    {CG_OP_CLAMP, k_clamp_f32, k_clamp_f64, 1},
    {CG_OP_ADD_SCALAR, k_add_scalar_f32, k_add_scalar_f64, 1},
    {CG_OP_MUL_SCALAR, k_mul_scalar_f32, k_mul_scalar_f64, 1},
    {CG_OP_POW_SCALAR, k_pow_scalar_f32, k_pow_scalar_f64, 8},
};

/* where: the condition may have any dtype (nonzero is true); ctx points to it. */
static inline bool cond_at(const char *p, cg_dtype d)
{
    switch (d) {
    case CG_F32: return *(const float *)p != 0;
    case CG_F64: return *(const double *)p != 0;
    case CG_I64: return *(const int64_t *)p != 0;
    }
    return false;
}

#define WHERE_LOOP(T)                                                                       \
    {                                                                                       \
        const cg_dtype cd = *(const cg_dtype *)c;                                           \
        for (int64_t i = 0; i < n; i++) {                                                   \
            bool k = cond_at(p[0] + i * s[0], cd);                                          \
            *(T *)(p[3] + i * s[3]) = k ? *(const T *)(p[1] + i * s[1])                     \
                                        : *(const T *)(p[2] + i * s[2]);                    \
        }                                                                                   \
    }

static void where_f32(int64_t n, char *const *p, const int64_t *s, const void *c) WHERE_LOOP(float)
static void where_f64(int64_t n, char *const *p, const int64_t *s, const void *c) WHERE_LOOP(double)

/* ---- forward kernels ---- */

cg_tensor *cg__binary_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                              const cg__attrs *attrs)
{
    (void)n, (void)attrs;
    const char *name = cg__ops[op].name;
    int nd;
    int64_t shape[CG_MAX_DIMS];
    if (!cg__check_float_dtypes(name, in, 2) ||
        !cg__broadcast_shapes(name, in[0]->ndim, in[0]->shape, in[1]->ndim, in[1]->shape, &nd,
                              shape))
        return NULL;
    cg_tensor *out = cg__tensor_alloc(pool, in[0]->dtype, nd, shape);
    if (!out)
        return NULL;
    const binary_kernel *k = NULL;
    for (size_t i = 0; i < sizeof binary_kernels / sizeof *binary_kernels; i++)
        if (binary_kernels[i].op == op)
            k = &binary_kernels[i];
    int64_t st[3][CG_MAX_DIMS];
    cg__broadcast_strides(in[0], nd, st[0]);
    cg__broadcast_strides(in[1], nd, st[1]);
    cg__broadcast_strides(out, nd, st[2]);
    char *base[3] = {cg__ptr(in[0]), cg__ptr(in[1]), cg__ptr(out)};
    cg__foreach(nd, shape, 3, base, (const int64_t(*)[CG_MAX_DIMS])st,
                out->dtype == CG_F32 ? k->f32 : k->f64, NULL, op == CG_OP_POW ? 8 : 1);
    return out;
}

static cg_tensor *run_unary(int op, cg_pool *pool, cg_tensor *x, const double *scalars)
{
    if (!cg__check_float_dtypes(cg__ops[op].name, &x, 1))
        return NULL;
    cg_tensor *out = cg__tensor_alloc(pool, x->dtype, x->ndim, x->shape);
    if (!out)
        return NULL;
    const unary_kernel *k = NULL;
    for (size_t i = 0; i < sizeof unary_kernels / sizeof *unary_kernels; i++)
        if (unary_kernels[i].op == op)
            k = &unary_kernels[i];
    int64_t st[2][CG_MAX_DIMS];
    cg__broadcast_strides(x, x->ndim, st[0]);
    cg__broadcast_strides(out, x->ndim, st[1]);
    char *base[2] = {cg__ptr(x), cg__ptr(out)};
    cg__foreach(x->ndim, x->shape, 2, base, (const int64_t(*)[CG_MAX_DIMS])st,
                x->dtype == CG_F32 ? k->f32 : k->f64, scalars, k->work);
    return out;
}

cg_tensor *cg__unary_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                             const cg__attrs *attrs)
{
    (void)n;
    static const double none[3] = {0, 0, 0};
    return run_unary(op, pool, in[0], attrs ? attrs->f : none);
}

cg_tensor *cg__where_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                             const cg__attrs *attrs)
{
    (void)op, (void)n, (void)attrs;
    int nd01, nd;
    int64_t shape01[CG_MAX_DIMS], shape[CG_MAX_DIMS];
    if (!cg__check_float_dtypes("where", in + 1, 2) ||
        !cg__broadcast_shapes("where", in[0]->ndim, in[0]->shape, in[1]->ndim, in[1]->shape,
                              &nd01, shape01) ||
        !cg__broadcast_shapes("where", nd01, shape01, in[2]->ndim, in[2]->shape, &nd, shape))
        return NULL;
    cg_tensor *out = cg__tensor_alloc(pool, in[1]->dtype, nd, shape);
    if (!out)
        return NULL;
    int64_t st[4][CG_MAX_DIMS];
    for (int k = 0; k < 3; k++)
        cg__broadcast_strides(in[k], nd, st[k]);
    cg__broadcast_strides(out, nd, st[3]);
    char *base[4] = {cg__ptr(in[0]), cg__ptr(in[1]), cg__ptr(in[2]), cg__ptr(out)};
    cg__foreach(nd, shape, 4, base, (const int64_t(*)[CG_MAX_DIMS])st,
                out->dtype == CG_F32 ? where_f32 : where_f64, &in[0]->dtype, 1);
    return out;
}

cg_tensor *cg__to_dtype_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                                const cg__attrs *attrs)
{
    (void)op, (void)n;
    cg_dtype to = attrs->dtype;
    if (!cg__is_float(to) && to != CG_I64) {
        cg__error(CG_ERR_DTYPE, "to_dtype: unknown dtype %d", (int)to);
        return NULL;
    }
    cg_tensor *out = cg__tensor_alloc(pool, to, in[0]->ndim, in[0]->shape);
    if (out)
        cg__copy_into(out, in[0]);
    return out;
}

cg_tensor *cg__contiguous_forward(int op, cg_pool *pool, cg_tensor *const *in, int n,
                                  const cg__attrs *attrs)
{
    (void)op, (void)n, (void)attrs;
    cg_tensor *out = cg__tensor_alloc(pool, in[0]->dtype, in[0]->ndim, in[0]->shape);
    if (out)
        cg__copy_into(out, in[0]);
    return out;
}

void cg__add_into(cg_tensor *dst, const cg_tensor *src)
{
    int64_t st[3][CG_MAX_DIMS];
    cg__broadcast_strides(dst, dst->ndim, st[0]);
    cg__broadcast_strides(src, dst->ndim, st[1]);
    cg__broadcast_strides(dst, dst->ndim, st[2]);
    char *base[3] = {cg__ptr(dst), cg__ptr(src), cg__ptr(dst)};
    cg__foreach(dst->ndim, dst->shape, 3, base, (const int64_t(*)[CG_MAX_DIMS])st,
                dst->dtype == CG_F32 ? k_add_f32 : k_add_f64, NULL, 1);
    cg__bump_version(dst);
}

/* ---- public builders ---- */

static cg_tensor *binary(int op, cg_tensor *a, cg_tensor *b)
{
    cg_tensor *in[2] = {a, b};
    return cg__apply(op, in, 2, NULL);
}

cg_tensor *cg_add(cg_tensor *a, cg_tensor *b) { return binary(CG_OP_ADD, a, b); }
cg_tensor *cg_sub(cg_tensor *a, cg_tensor *b) { return binary(CG_OP_SUB, a, b); }
cg_tensor *cg_mul(cg_tensor *a, cg_tensor *b) { return binary(CG_OP_MUL, a, b); }
cg_tensor *cg_div(cg_tensor *a, cg_tensor *b) { return binary(CG_OP_DIV, a, b); }
cg_tensor *cg_pow(cg_tensor *a, cg_tensor *b) { return binary(CG_OP_POW, a, b); }
cg_tensor *cg_maximum(cg_tensor *a, cg_tensor *b) { return binary(CG_OP_MAXIMUM, a, b); }
cg_tensor *cg_minimum(cg_tensor *a, cg_tensor *b) { return binary(CG_OP_MINIMUM, a, b); }
cg_tensor *cg_eq(cg_tensor *a, cg_tensor *b) { return binary(CG_OP_EQ, a, b); }
cg_tensor *cg_ne(cg_tensor *a, cg_tensor *b) { return binary(CG_OP_NE, a, b); }
cg_tensor *cg_lt(cg_tensor *a, cg_tensor *b) { return binary(CG_OP_LT, a, b); }
cg_tensor *cg_le(cg_tensor *a, cg_tensor *b) { return binary(CG_OP_LE, a, b); }
cg_tensor *cg_gt(cg_tensor *a, cg_tensor *b) { return binary(CG_OP_GT, a, b); }
cg_tensor *cg_ge(cg_tensor *a, cg_tensor *b) { return binary(CG_OP_GE, a, b); }

cg_tensor *cg_where(cg_tensor *cond, cg_tensor *a, cg_tensor *b)
{
    cg_tensor *in[3] = {cond, a, b};
    return cg__apply(CG_OP_WHERE, in, 3, NULL);
}

static cg_tensor *unary(int op, cg_tensor *x, double a, double b)
{
    cg__attrs at;
    memset(&at, 0, sizeof at);
    at.f[0] = a;
    at.f[1] = b;
    return cg__apply(op, &x, 1, &at);
}

cg_tensor *cg_neg(cg_tensor *x) { return unary(CG_OP_NEG, x, 0, 0); }
cg_tensor *cg_exp(cg_tensor *x) { return unary(CG_OP_EXP, x, 0, 0); }
cg_tensor *cg_log(cg_tensor *x) { return unary(CG_OP_LOG, x, 0, 0); }
cg_tensor *cg_sqrt(cg_tensor *x) { return unary(CG_OP_SQRT, x, 0, 0); }
cg_tensor *cg_rsqrt(cg_tensor *x) { return unary(CG_OP_RSQRT, x, 0, 0); }
cg_tensor *cg_abs(cg_tensor *x) { return unary(CG_OP_ABS, x, 0, 0); }
cg_tensor *cg_sign(cg_tensor *x) { return unary(CG_OP_SIGN, x, 0, 0); }
cg_tensor *cg_add_scalar(cg_tensor *x, double c) { return unary(CG_OP_ADD_SCALAR, x, c, 0); }
cg_tensor *cg_mul_scalar(cg_tensor *x, double c) { return unary(CG_OP_MUL_SCALAR, x, c, 0); }
cg_tensor *cg_pow_scalar(cg_tensor *x, double c) { return unary(CG_OP_POW_SCALAR, x, c, 0); }

cg_tensor *cg_clamp(cg_tensor *x, double lo, double hi)
{
    if (lo != lo || hi != hi) {
        cg__error(CG_ERR_VALUE, "clamp: bounds must not be NaN");
        return NULL;
    }
    return unary(CG_OP_CLAMP, x, lo, hi);
}

cg_tensor *cg_to_dtype(cg_tensor *x, cg_dtype dtype)
{
    cg__attrs at;
    memset(&at, 0, sizeof at);
    at.dtype = dtype;
    return cg__apply(CG_OP_TO_DTYPE, &x, 1, &at);
}

cg_tensor *cg_contiguous(cg_tensor *x) { return cg__apply(CG_OP_CONTIGUOUS, &x, 1, NULL); }

/* ---- backward rules ---- */

#define IN(k) (node->inputs[k])
#define OUT (node->out)

cg_status cg__add_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg__needs(node, 0) ? cg__sum_to_like(g, IN(0)) : NULL;
    gin[1] = cg__needs(node, 1) ? cg__sum_to_like(g, IN(1)) : NULL;
    return CG_OK;
}

cg_status cg__sub_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg__needs(node, 0) ? cg__sum_to_like(g, IN(0)) : NULL;
    gin[1] = cg__needs(node, 1) ? cg__sum_to_like(cg_neg(g), IN(1)) : NULL;
    return CG_OK;
}

cg_status cg__mul_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg__needs(node, 0) ? cg__sum_to_like(cg_mul(g, IN(1)), IN(0)) : NULL;
    gin[1] = cg__needs(node, 1) ? cg__sum_to_like(cg_mul(g, IN(0)), IN(1)) : NULL;
    return CG_OK;
}

cg_status cg__div_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg__needs(node, 0) ? cg__sum_to_like(cg_div(g, IN(1)), IN(0)) : NULL;
    /* -g * ((a / b) / b), PyTorch's order of operations */
    gin[1] = cg__needs(node, 1)
                 ? cg__sum_to_like(cg_mul(cg_neg(g), cg_div(cg_div(IN(0), IN(1)), IN(1))), IN(1))
                 : NULL;
    return CG_OK;
}

cg_status cg__pow_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    cg_tensor *a = IN(0), *b = IN(1);
    cg_tensor *zero = cg__const(g->dtype, 0.0);
    if (cg__needs(node, 0)) {
        /* where(b == 0, 0, g * b * a^(b-1)) */
        cg_tensor *d = cg_mul(g, cg_mul(b, cg_pow(a, cg_add_scalar(b, -1.0))));
        gin[0] = cg__sum_to_like(cg_where(cg_eq(b, zero), zero, d), a);
    }
    if (cg__needs(node, 1)) {
        /* where(a == 0 and b >= 0, 0, g * a^b * log a) */
        cg_tensor *mask = cg_mul(cg_eq(a, zero), cg_ge(b, zero));
        cg_tensor *d = cg_mul(g, cg_mul(OUT, cg_log(a)));
        gin[1] = cg__sum_to_like(cg_where(mask, zero, d), b);
    }
    return CG_OK;
}

/* Ties split the gradient in halves, as torch.maximum/minimum do. */
static cg_status extremum2_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin,
                                    cg_tensor *a_wins)
{
    cg_tensor *half = cg_mul_scalar(cg_eq(IN(0), IN(1)), 0.5);
    cg_tensor *wa = cg_add(a_wins, half);
    if (cg__needs(node, 0))
        gin[0] = cg__sum_to_like(cg_mul(g, wa), IN(0));
    if (cg__needs(node, 1))
        gin[1] = cg__sum_to_like(cg_mul(g, cg_add_scalar(cg_neg(wa), 1.0)), IN(1));
    return CG_OK;
}

cg_status cg__maximum_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    return extremum2_backward(node, g, gin, cg_gt(IN(0), IN(1)));
}

cg_status cg__minimum_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    return extremum2_backward(node, g, gin, cg_lt(IN(0), IN(1)));
}

cg_status cg__where_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    cg_tensor *zero = cg__const(g->dtype, 0.0);
    gin[0] = NULL;
    if (cg__needs(node, 1))
        gin[1] = cg__sum_to_like(cg_where(IN(0), g, zero), IN(1));
    if (cg__needs(node, 2))
        gin[2] = cg__sum_to_like(cg_where(IN(0), zero, g), IN(2));
    return CG_OK;
}

cg_status cg__neg_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    (void)node;
    gin[0] = cg_neg(g);
    return CG_OK;
}

cg_status cg__exp_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg_mul(g, OUT);
    return CG_OK;
}

cg_status cg__log_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg_div(g, IN(0));
    return CG_OK;
}

cg_status cg__sqrt_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg_div(g, cg_mul_scalar(OUT, 2.0));
    return CG_OK;
}

cg_status cg__rsqrt_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg_mul(cg_mul_scalar(g, -0.5), cg_pow_scalar(OUT, 3.0));
    return CG_OK;
}

cg_status cg__abs_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg_mul(g, cg_sign(IN(0)));
    return CG_OK;
}

cg_status cg__sign_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    (void)node;
    gin[0] = cg_mul_scalar(g, 0.0);
    return CG_OK;
}

cg_status cg__clamp_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    cg_tensor *x = IN(0);
    cg_tensor *lo = cg__const(x->dtype, node->attrs.f[0]);
    cg_tensor *hi = cg__const(x->dtype, node->attrs.f[1]);
    cg_tensor *inside = cg_mul(cg_ge(x, lo), cg_le(x, hi));
    gin[0] = cg_where(inside, g, cg__const(g->dtype, 0.0));
    return CG_OK;
}

cg_status cg__add_scalar_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    (void)node;
    gin[0] = g;
    return CG_OK;
}

cg_status cg__mul_scalar_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg_mul_scalar(g, node->attrs.f[0]);
    return CG_OK;
}

cg_status cg__pow_scalar_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    double c = node->attrs.f[0];
    if (c == 0.0)
        gin[0] = cg_mul_scalar(g, 0.0);
    else
        gin[0] = cg_mul(g, cg_mul_scalar(cg_pow_scalar(IN(0), c - 1.0), c));
    return CG_OK;
}

cg_status cg__to_dtype_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    gin[0] = cg_to_dtype(g, IN(0)->dtype);
    return CG_OK;
}

cg_status cg__contiguous_backward(const cg_node *node, cg_tensor *g, cg_tensor **gin)
{
    (void)node;
    gin[0] = g;
    return CG_OK;
}
