/* Activations (lib/nn/activation.c): values and first derivatives against formulas written
 * independently with libm, in f64 and f32; saturation at large |x|; PyTorch's choices at
 * the special points (kinks, bounds, NaN, infinities); prelu and maxout; second
 * derivatives that must stay finite; the fused gradient ops of relu, leaky_relu and
 * hardtanh against the where rules they replace; thread-count independence; and errors
 * that name the op. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define SELU_ALPHA 1.6732632423543772848170429916717
#define SELU_SCALE 1.0507009873554804934193349852946
#define SQRT_2_PI 0.79788456080286535588 /* sqrt(2/pi) */

/* ---- helpers ---- */

/* A caller-owned 1-d tensor of dtype holding v[0..n). */
static cg_tensor *vec(cg_dtype dtype, const double *v, int64_t n, bool grad)
{
    cg_tensor *t = cg_tensor_zeros(dtype, 1, &n);
    assert_tensor(t);
    for (int64_t i = 0; i < n; i++)
        assert_ok(cg_tensor_set(t, &i, v[i]));
    if (grad)
        assert_ok(cg_tensor_set_requires_grad(t, true));
    return t;
}

static double at(const cg_tensor *t, int64_t i) { return cg_tensor_get(t, &i); }

/* d(sum f(x))/dx, tape-owned. */
static cg_tensor *grad_of(cg_tensor *y, cg_tensor *x)
{
    assert_tensor(y);
    cg_tensor *s = cg_sum(y, NULL, 0, false), *g = NULL;
    assert_ok(cg_grad(&s, 1, NULL, &x, 1, &g, NULL));
    return g;
}

/* ---- the activations and their references ---- */

typedef cg_tensor *(*act_fn)(cg_tensor *x);
typedef double (*ref_fn)(double x);

static double sigm(double x) { return 1.0 / (1.0 + exp(-x)); }
static double phi(double x) { return exp(-0.5 * x * x) / sqrt(2.0 * M_PI); }

static cg_tensor *a_sigmoid(cg_tensor *x) { return cg_sigmoid(x); }
static double r_sigmoid(double x) { return sigm(x); }
static double d_sigmoid(double x) { return sigm(x) * sigm(-x); }

static cg_tensor *a_tanh(cg_tensor *x) { return cg_tanh(x); }
static double r_tanh(double x) { return tanh(x); }
static double d_tanh(double x) { return 1.0 / (cosh(x) * cosh(x)); }

static cg_tensor *a_relu(cg_tensor *x) { return cg_relu(x); }
static double r_relu(double x) { return x > 0 ? x : 0.0; }
static double d_relu(double x) { return x > 0 ? 1.0 : 0.0; }

static cg_tensor *a_leaky(cg_tensor *x) { return cg_leaky_relu(x, 0.2); }
static double r_leaky(double x) { return x > 0 ? x : 0.2 * x; }
static double d_leaky(double x) { return x > 0 ? 1.0 : 0.2; }

/* At 0 the exponential side's slope, alpha: PyTorch tests x <= 0. */
static cg_tensor *a_elu(cg_tensor *x) { return cg_elu(x, 0.7); }
static double r_elu(double x) { return x > 0 ? x : 0.7 * expm1(x); }
static double d_elu(double x) { return x > 0 ? 1.0 : 0.7 * exp(x); }

static cg_tensor *a_selu(cg_tensor *x) { return cg_selu(x); }
static double r_selu(double x) { return SELU_SCALE * (x > 0 ? x : SELU_ALPHA * expm1(x)); }
static double d_selu(double x) { return SELU_SCALE * (x > 0 ? 1.0 : SELU_ALPHA * exp(x)); }

/* Phi through erfc, a different route from the library's 1 + erf. */
static cg_tensor *a_gelu(cg_tensor *x) { return cg_gelu(x, false); }
static double r_gelu(double x) { return 0.5 * x * erfc(-x / sqrt(2.0)); }
static double d_gelu(double x) { return 0.5 * erfc(-x / sqrt(2.0)) + x * phi(x); }

static cg_tensor *a_gelu_tanh(cg_tensor *x) { return cg_gelu(x, true); }
static double r_gelu_tanh(double x)
{
    return 0.5 * x * (1.0 + tanh(SQRT_2_PI * (x + 0.044715 * x * x * x)));
}
static double d_gelu_tanh(double x)
{
    double u = SQRT_2_PI * (x + 0.044715 * x * x * x), t = tanh(u);
    return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * SQRT_2_PI * (1.0 + 3 * 0.044715 * x * x);
}

static cg_tensor *a_erf(cg_tensor *x) { return cg_erf(x); }
static double r_erf(double x) { return erf(x); }
static double d_erf(double x) { return 2.0 / sqrt(M_PI) * exp(-x * x); }

/* beta 1.5, threshold 3: x = 2 sits exactly on the threshold (not above: log side). */
static cg_tensor *a_softplus(cg_tensor *x) { return cg_softplus(x, 1.5, 3.0); }
static double r_softplus(double x) { return 1.5 * x > 3.0 ? x : log1p(exp(1.5 * x)) / 1.5; }
static double d_softplus(double x) { return 1.5 * x > 3.0 ? 1.0 : sigm(1.5 * x); }

static cg_tensor *a_silu(cg_tensor *x) { return cg_silu(x); }
static double r_silu(double x) { return x * sigm(x); }
static double d_silu(double x) { return sigm(x) * (1.0 + x * sigm(-x)); }

/* Gradient 1 strictly inside (-0.5, 1.5): the points -0.5 and 1.5 get 0. */
static cg_tensor *a_hardtanh(cg_tensor *x) { return cg_hardtanh(x, -0.5, 1.5); }
static double r_hardtanh(double x) { return x < -0.5 ? -0.5 : x > 1.5 ? 1.5 : x; }
static double d_hardtanh(double x) { return x > -0.5 && x < 1.5 ? 1.0 : 0.0; }

typedef struct act_case {
    const char *name;
    act_fn f;
    ref_fn y, dy;
} act_case;

static const act_case acts[] = {
    {"sigmoid", a_sigmoid, r_sigmoid, d_sigmoid},
    {"tanh", a_tanh, r_tanh, d_tanh},
    {"relu", a_relu, r_relu, d_relu},
    {"leaky_relu", a_leaky, r_leaky, d_leaky},
    {"elu", a_elu, r_elu, d_elu},
    {"selu", a_selu, r_selu, d_selu},
    {"gelu", a_gelu, r_gelu, d_gelu},
    {"gelu tanh", a_gelu_tanh, r_gelu_tanh, d_gelu_tanh},
    {"erf", a_erf, r_erf, d_erf},
    {"softplus", a_softplus, r_softplus, d_softplus},
    {"silu", a_silu, r_silu, d_silu},
    {"hardtanh", a_hardtanh, r_hardtanh, d_hardtanh},
};
enum { NACTS = sizeof acts / sizeof acts[0] };

static const double points[] = {-8,  -3,   -1.5, -0.5, -1e-3, 0,   1e-3,
                                0.25, 0.5, 1,    1.5,  2,     2.5, 7};
enum { NPOINTS = sizeof points / sizeof points[0] };

/* Values and gradients at every point, compared with |got - ref| <= atol + rtol |ref|. */
static void check_all(cg_dtype dtype, bool grads, double atol, double rtol)
{
    for (int a = 0; a < NACTS; a++) {
        cg_tensor *x = vec(dtype, points, NPOINTS, grads);
        cg_tensor *y = acts[a].f(x);
        assert_tensor(y);
        assert_int_equal(cg_tensor_dtype(y), dtype);
        cg_tensor *g = grads ? grad_of(y, x) : y;
        for (int64_t i = 0; i < NPOINTS; i++) {
            double xi = at(x, i); /* the point as the dtype holds it */
            double want = grads ? acts[a].dy(xi) : acts[a].y(xi), got = at(g, i);
            if (!(fabs(got - want) <= atol + rtol * fabs(want)))
                fail_msg("%s %s(%g) in %s: got %.17g, want %.17g", acts[a].name,
                         grads ? "gradient" : "value", xi, cg_dtype_name(dtype), got, want);
        }
        cg_tensor_free(x);
    }
}

static void test_values_f64(void **state) { (void)state; check_all(CG_F64, false, 1e-15, 1e-14); }
static void test_values_f32(void **state) { (void)state; check_all(CG_F32, false, 1e-7, 2e-6); }
static void test_grads_f64(void **state) { (void)state; check_all(CG_F64, true, 1e-15, 1e-14); }
static void test_grads_f32(void **state) { (void)state; check_all(CG_F32, true, 1e-7, 4e-6); }

/* A transposed (strided) input gives the values of the contiguous one. */
static void test_strided_input(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(3);
    cg_tensor *x = cg_tensor_normal(&rng, CG_F64, 2, (int64_t[]){3, 5}, 0, 2);
    cg_tensor *xt = cg_transpose(x, 0, 1);
    for (int a = 0; a < NACTS; a++) {
        cg_tensor *y = acts[a].f(xt), *yc = acts[a].f(cg_contiguous(xt));
        assert_tensor(y);
        for (int64_t i = 0; i < 5; i++)
            for (int64_t j = 0; j < 3; j++)
                assert_true(cg_tensor_get(y, (int64_t[]){i, j}) ==
                            cg_tensor_get(yc, (int64_t[]){i, j}));
    }
    cg_tensor_free(x);
}

/* ---- large |x|: saturation without NaN ---- */

static void check_saturation(cg_dtype dt)
{
    double xs[] = {-1000, 1000, -40, 40};
    cg_tensor *x = vec(dt, xs, 4, true);
    cg_tensor *s = cg_sigmoid(x), *t = cg_tanh(x), *sp = cg_softplus(x, 1.0, 20.0);
    cg_tensor *sp_inf = cg_softplus(x, 1.0, INFINITY), *si = cg_silu(x), *e = cg_elu(x, 1.0);
    cg_tensor *ge = cg_gelu(x, false), *gt = cg_gelu(x, true), *er = cg_erf(x);
    double want[][4] = {
        {0, 1, 0, 1},              /* sigmoid; sigmoid(40) rounds to 1 in both dtypes */
        {-1, 1, -1, 1},            /* tanh */
        {0, 1000, 0, 40},          /* softplus, linear above the threshold */
        {0, 1000, 0, 40},          /* softplus with no threshold: log(1 + e^1000) */
        {0, 1000, 0, 40},          /* silu */
        {-1, 1000, -1, 40},        /* elu */
        {0, 1000, 0, 40},          /* gelu */
        {0, 1000, 0, 40},          /* gelu tanh */
        {-1, 1, -1, 1},            /* erf */
    };
    cg_tensor *ys[] = {s, t, sp, sp_inf, si, e, ge, gt, er};
    for (int k = 0; k < 9; k++) {
        assert_tensor(ys[k]);
        for (int64_t i = 0; i < 4; i++)
            assert_close(at(ys[k], i), want[k][i], 1e-12, 1e-6);
    }
    /* e^-40 is representable: softplus(-40) and sigmoid(-40) are tiny, not zero. */
    assert_true(at(sp, 2) > 0);
    /* The gradients saturate too. */
    cg_tensor *ys2[] = {s, t, sp, sp_inf, si, e, ge, gt, er};
    double dwant[][4] = {{0, 0, 0, 0}, {0, 0, 0, 0}, {0, 1, 0, 1}, {0, 1, 0, 1}, {0, 1, 0, 1},
                         {0, 1, 0, 1}, {0, 1, 0, 1}, {0, 1, 0, 1}, {0, 0, 0, 0}};
    for (int k = 0; k < 9; k++) {
        cg_tensor *g = grad_of(ys2[k], x);
        for (int64_t i = 0; i < 4; i++)
            assert_close(at(g, i), dwant[k][i], 1e-12, 1e-6);
    }
    cg_tensor_free(x);
}

static void test_saturation_f64(void **state) { (void)state; check_saturation(CG_F64); }
static void test_saturation_f32(void **state) { (void)state; check_saturation(CG_F32); }

/* softplus(1000) is exactly 1000 (linear side), and stays 1000 with an infinite threshold
 * (the stable log form cannot overflow). */
static void test_softplus_exact(void **state)
{
    (void)state;
    double xs[] = {1000, 30, 20, 20.5};
    cg_tensor *x = vec(CG_F64, xs, 4, false);
    cg_tensor *y = cg_softplus(x, 1.0, 20.0), *z = cg_softplus(x, 1.0, INFINITY);
    assert_true(at(y, 0) == 1000.0);
    assert_true(at(z, 0) == 1000.0);
    assert_true(at(y, 1) == 30.0);
    assert_close(at(y, 2), log1p(exp(20.0)), 0, 1e-15); /* 20 is not above 20 */
    assert_true(at(y, 3) == 20.5);
    /* beta scales the threshold test: beta x = 2 * 20.5 > 20. */
    cg_tensor *w = cg_softplus(x, 2.0, 20.0);
    assert_true(at(w, 3) == 20.5);
    cg_tensor_free(x);
}

/* GELU's tails: x Phi(x) underflows to a signed zero far left; no NaN. */
static void test_gelu_tails(void **state)
{
    (void)state;
    double xs[] = {-40, -10, 10, -6};
    cg_tensor *x = vec(CG_F64, xs, 4, true);
    cg_tensor *y = cg_gelu(x, false);
    assert_true(at(y, 0) == 0.0);
    /* 1 + erf(-10/sqrt 2) is exactly 0 in double: -0, as PyTorch's formula gives, while
     * the gradient's x phi(x) term keeps the tail. */
    assert_true(at(y, 1) == 0.0);
    assert_true(at(y, 2) == 10.0);
    assert_close(at(y, 3), r_gelu(-6), 1e-22, 1e-5);
    cg_tensor *g = grad_of(y, x);
    assert_true(at(g, 0) == 0.0);
    assert_close(at(g, 1), -10 * phi(-10), 0, 1e-12);
    assert_close(at(g, 2), 1.0, 1e-15, 0);
    cg_tensor_free(x);
}

/* ---- PyTorch's choices at special points ---- */

static void test_special_points(void **state)
{
    (void)state;
    double xs[] = {0, NAN, INFINITY, -INFINITY, -0.0};
    cg_tensor *x = vec(CG_F64, xs, 5, true);
    /* relu: 0 at 0, NaN kept, -0.0 kept (clamp_min); gradient 0 at 0, g for NaN */
    cg_tensor *r = cg_relu(x), *gr = grad_of(r, x);
    assert_true(at(r, 0) == 0 && isnan(at(r, 1)) && at(r, 2) == INFINITY && at(r, 3) == 0);
    assert_true(signbit(at(r, 4)));
    assert_true(at(gr, 0) == 0 && at(gr, 1) == 1 && at(gr, 2) == 1 && at(gr, 3) == 0);
    /* leaky_relu: the slope at 0 and for NaN */
    cg_tensor *gl = grad_of(cg_leaky_relu(x, 0.1), x);
    assert_true(at(gl, 0) == 0.1 && at(gl, 1) == 0.1 && at(gl, 2) == 1.0);
    /* elu / selu: alpha scale at 0, scale for NaN, 0 at -inf */
    cg_tensor *e = cg_elu(x, 1.0), *ge = grad_of(e, x), *gs = grad_of(cg_selu(x), x);
    assert_true(at(e, 3) == -1.0 && isnan(at(e, 1)));
    assert_true(at(ge, 0) == 1.0 && at(ge, 1) == 1.0 && at(ge, 3) == 0.0);
    assert_close(at(gs, 0), SELU_ALPHA * SELU_SCALE, 0, 1e-15);
    assert_close(at(gs, 1), SELU_SCALE, 0, 1e-15);
    /* hardtanh: the bounds are outside; NaN passes the gradient (not <= lo, not >= hi) */
    double hs[] = {-1, 1, 0.999, -0.999, NAN};
    cg_tensor *h = vec(CG_F64, hs, 5, true);
    cg_tensor *gh = grad_of(cg_hardtanh(h, -1, 1), h);
    assert_true(at(gh, 0) == 0 && at(gh, 1) == 0 && at(gh, 2) == 1 && at(gh, 3) == 1);
    assert_true(at(gh, 4) == 1);
    /* gelu: NaN at -inf (-inf * 0), as PyTorch; gradient 0.5 at 0 */
    cg_tensor *g = cg_gelu(x, false), *gg = grad_of(g, x);
    assert_true(isnan(at(g, 3)) && at(g, 2) == INFINITY && at(gg, 0) == 0.5);
    /* softplus: gradient 1 at +inf (linear side), 0 at -inf, NaN for NaN */
    cg_tensor *gsp = grad_of(cg_softplus(x, 1, 20), x);
    assert_true(at(gsp, 2) == 1 && at(gsp, 3) == 0 && isnan(at(gsp, 1)) && at(gsp, 0) == 0.5);
    /* sigmoid / tanh: saturated at +-inf with zero gradient */
    cg_tensor *gsg = grad_of(cg_sigmoid(x), x);
    assert_true(at(gsg, 0) == 0.25 && at(gsg, 2) == 0 && at(gsg, 3) == 0);
    cg_tensor_free(h);
    cg_tensor_free(x);
}

/* hardtanh with lo > hi is hi everywhere (torch.clamp's order) with zero gradient. */
static void test_hardtanh_crossed(void **state)
{
    (void)state;
    double xs[] = {-2, 0, 2};
    cg_tensor *x = vec(CG_F64, xs, 3, true);
    cg_tensor *y = cg_hardtanh(x, 1, -1), *g = grad_of(y, x);
    for (int64_t i = 0; i < 3; i++) {
        assert_true(at(y, i) == -1);
        assert_true(at(g, i) == 0);
    }
    cg_tensor_free(x);
}

/* Second derivatives through the backward rules stay finite where the forward saturates:
 * elu'' is 0 for x > 0 even at 1000 (e^1000 is never formed), alpha e^x for x <= 0. */
static void test_second_derivatives(void **state)
{
    (void)state;
    double xs[] = {1000, -1000, 0.5, -0.5};
    cg_tensor *x = vec(CG_F64, xs, 4, true);
    cg_tensor *y = cg_sum(cg_elu(x, 0.7), NULL, 0, false), *g, *h;
    cg_grad_options opt = {.create_graph = true};
    assert_ok(cg_grad(&y, 1, NULL, &x, 1, &g, &opt));
    cg_tensor *gs = cg_sum(g, NULL, 0, false);
    assert_ok(cg_grad(&gs, 1, NULL, &x, 1, &h, NULL));
    assert_true(at(h, 0) == 0 && at(h, 1) == 0 && at(h, 2) == 0);
    assert_close(at(h, 3), 0.7 * exp(-0.5), 0, 1e-15);
    /* sigmoid'' = s (1 - s) (1 - 2 s) */
    y = cg_sum(cg_sigmoid(x), NULL, 0, false);
    assert_ok(cg_grad(&y, 1, NULL, &x, 1, &g, &opt));
    gs = cg_sum(g, NULL, 0, false);
    assert_ok(cg_grad(&gs, 1, NULL, &x, 1, &h, NULL));
    double s = sigm(0.5);
    assert_close(at(h, 2), s * (1 - s) * (1 - 2 * s), 0, 1e-14);
    assert_true(at(h, 0) == 0 && at(h, 1) == 0);
    cg_tensor_free(x);
}

/* ---- the fused gradients of relu, leaky_relu and hardtanh ---- */

/* The rules as they were written before the fused ops, from comparisons and where;
 * k holds the constants 0, -0.5 and 0.6. */
static cg_tensor *where_grad(int act, cg_tensor *x, cg_tensor *y, cg_tensor *g, cg_tensor **k)
{
    switch (act) {
    case 0: return cg_where(cg_le(y, k[0]), k[0], g);
    case 1: return cg_where(cg_gt(x, k[0]), g, cg_mul_scalar(g, 0.2));
    default: return cg_where(cg_add(cg_le(x, k[1]), cg_ge(x, k[2])), k[0], g);
    }
}

static cg_tensor *fused_act(int act, cg_tensor *x)
{
    return act == 0 ? cg_relu(x) : act == 1 ? cg_leaky_relu(x, 0.2) : cg_hardtanh(x, -0.5, 0.6);
}

/* Bit for bit the where rules, in f32 and f64, at the special points (signed zeros, the
 * bounds, NaN, infinities), on sizes that are not multiples of a vector, for a contiguous
 * gradient, a transposed one and an input that is itself a transposed view. */
static void check_fused_grads(cg_dtype dt)
{
    enum { R = 7, C = 13 };
    const double special[] = {0.0, -0.0, NAN, INFINITY, -INFINITY, -0.5, 0.6, 1e-30, -1e-30};
    cg_rng rng = cg_rng_init(5);
    cg_tensor *x = cg_tensor_normal(&rng, dt, 2, (int64_t[]){R, C}, 0, 1);
    cg_tensor *gc = cg_tensor_normal(&rng, dt, 2, (int64_t[]){R, C}, 0, 1);
    cg_tensor *gt = cg_tensor_normal(&rng, dt, 2, (int64_t[]){C, R}, 0, 1);
    for (int64_t i = 0; i < 9; i++)
        assert_ok(cg_tensor_set(x, (int64_t[]){i % R, (3 * i) % C}, special[i]));
    assert_ok(cg_tensor_set_requires_grad(x, true));
    cg_tensor *grads[2] = {gc, cg_transpose(gt, 0, 1)};
    cg_tensor *k3[3] = {cg_tensor_scalar(dt, 0), cg_tensor_scalar(dt, -0.5),
                        cg_tensor_scalar(dt, 0.6)};
    for (int act = 0; act < 3; act++) {
        for (int view = 0; view < 2; view++) {
            for (int k = 0; k < 2; k++) {
                cg_tensor *xin = view ? cg_transpose(cg_transpose(x, 0, 1), 0, 1) : x;
                cg_tensor *y = fused_act(act, xin), *gx = NULL;
                /* Recorded, so the result names the op that made it (for a view, the
                 * view's backward). */
                assert_ok(cg_grad(&y, 1, &grads[k], &x, 1, &gx,
                                  &(cg_grad_options){.create_graph = true}));
                if (!view)
                    assert_string_equal(cg_tensor_op_name(gx), act == 0   ? "relu_backward"
                                                               : act == 1 ? "leaky_relu_backward"
                                                                          : "hardtanh_backward");
                cg_tensor *want = cg_contiguous(where_grad(act, xin, y, grads[k], k3));
                cg_tensor *got = cg_contiguous(gx);
                assert_tensor(want);
                assert_tensor(got);
                size_t bytes = (size_t)(R * C) * cg_dtype_size(dt);
                if (memcmp(cg_tensor_data(want), cg_tensor_data(got), bytes))
                    fail_msg("fused gradient %d (view %d, gradient %d) differs from where", act,
                             view, k);
            }
        }
    }
    cg_tensor_free(x);
    cg_tensor_free(gc);
    cg_tensor_free(gt);
    for (int i = 0; i < 3; i++)
        cg_tensor_free(k3[i]);
}

static void test_fused_grads_f32(void **state) { (void)state; check_fused_grads(CG_F32); }
static void test_fused_grads_f64(void **state) { (void)state; check_fused_grads(CG_F64); }

/* Double backward through relu_backward: d/dv of d<relu(x), v>/dx is the mask, and x gets
 * no gradient from it (as where's condition). */
static void test_relu_double_backward(void **state)
{
    (void)state;
    double xs[] = {-1, 0, 2, NAN}, vs[] = {3, 4, 5, 6};
    cg_tensor *x = vec(CG_F64, xs, 4, true), *v = vec(CG_F64, vs, 4, true);
    cg_tensor *y = cg_relu(x), *g = NULL, *h[2] = {NULL, NULL};
    cg_grad_options opt = {.create_graph = true};
    assert_ok(cg_grad(&y, 1, &v, &x, 1, &g, &opt));
    assert_string_equal(cg_tensor_op_name(g), "relu_backward");
    cg_tensor *s = cg_sum(g, NULL, 0, false);
    cg_tensor *wrt[2] = {x, v};
    assert_ok(cg_grad(&s, 1, NULL, wrt, 2, h, &(cg_grad_options){.allow_unused = true}));
    assert_null(h[0]);
    assert_true(at(h[1], 0) == 0 && at(h[1], 1) == 0 && at(h[1], 2) == 1 && at(h[1], 3) == 1);
    cg_tensor_free(x);
    cg_tensor_free(v);
}

/* ---- prelu ---- */

static void test_prelu_per_channel(void **state)
{
    (void)state;
    /* x [2, 3, 2]: channel c's slope is w[c] */
    double xv[12] = {-1, 2, 0, -3, 4, -5, 6, -7, -8, 9, -10, 0};
    cg_tensor *x = cg_tensor_from_data(CG_F64, 3, (int64_t[]){2, 3, 2}, xv);
    cg_tensor *w = cg_tensor_from_data(CG_F64, 1, (int64_t[]){3}, (double[]){0.1, -0.5, 2});
    cg_tensor_set_requires_grad(x, true);
    cg_tensor_set_requires_grad(w, true);
    cg_tensor *y = cg_prelu(x, w);
    assert_tensor(y);
    assert_int_equal(cg_tensor_ndim(y), 3);
    double wv[3] = {0.1, -0.5, 2}, gw[3] = {0, 0, 0};
    cg_tensor *s = cg_sum(y, NULL, 0, false), *g[2];
    cg_tensor *in[2] = {x, w};
    assert_ok(cg_grad(&s, 1, NULL, in, 2, g, NULL));
    for (int64_t i = 0; i < 12; i++) {
        int c = (int)(i / 2) % 3;
        double want = xv[i] > 0 ? xv[i] : wv[c] * xv[i];
        int64_t idx[3] = {i / 6, (i / 2) % 3, i % 2};
        assert_close(cg_tensor_get(y, idx), want, 0, 1e-15);
        /* d/dx: 1 where x > 0, the slope elsewhere (x = 0 included, as PyTorch) */
        assert_close(cg_tensor_get(g[0], idx), xv[i] > 0 ? 1.0 : wv[c], 0, 0);
        if (xv[i] <= 0)
            gw[c] += xv[i];
    }
    for (int64_t c = 0; c < 3; c++)
        assert_close(at(g[1], c), gw[c], 0, 1e-15);
    cg_tensor_free(x);
    cg_tensor_free(w);
}

static void test_prelu_shapes(void **state)
{
    (void)state;
    cg_tensor *one = cg_tensor_full(CG_F64, 1, (int64_t[]){1}, 0.25);
    cg_tensor *scalar = cg_tensor_scalar(CG_F64, 0.25);
    cg_tensor *x0 = cg_tensor_scalar(CG_F64, -4.0);
    cg_tensor *x1 = cg_tensor_full(CG_F64, 1, (int64_t[]){5}, -2.0);
    cg_tensor *x4 = cg_tensor_full(CG_F64, 4, (int64_t[]){2, 3, 2, 2}, -1.0);
    /* one slope fits any input, 0-d ones included, and keeps the input's shape */
    cg_tensor *y0 = cg_prelu(x0, one), *y1 = cg_prelu(x1, scalar), *y4 = cg_prelu(x4, one);
    assert_tensor(y0);
    assert_int_equal(cg_tensor_ndim(y0), 0);
    assert_close(cg_tensor_item(y0), -1.0, 0, 0);
    assert_int_equal(cg_tensor_ndim(y1), 1);
    assert_close(at(y1, 4), -0.5, 0, 0);
    assert_int_equal(cg_tensor_ndim(y4), 4);
    /* a wrong number of slopes names both shapes */
    cg_tensor *w2 = cg_tensor_ones(CG_F64, 1, (int64_t[]){2});
    cg_clear_error();
    assert_null(cg_prelu(x4, w2));
    assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
    assert_error_contains("prelu");
    assert_error_contains("[2]");
    assert_error_contains("[2, 3, 2, 2]");
    /* a 1-d input has one channel; a 2-d weight is refused */
    cg_tensor *w3 = cg_tensor_ones(CG_F64, 1, (int64_t[]){3});
    cg_tensor *w31 = cg_tensor_ones(CG_F64, 2, (int64_t[]){3, 1});
    cg_clear_error();
    assert_null(cg_prelu(x1, w3));
    assert_error_contains("prelu");
    cg_clear_error();
    assert_null(cg_prelu(x4, w31));
    assert_error_contains("[3, 1]");
    cg_tensor *free_list[] = {one, scalar, x0, x1, x4, w2, w3, w31};
    for (size_t i = 0; i < sizeof free_list / sizeof *free_list; i++)
        cg_tensor_free(free_list[i]);
}

/* ---- maxout ---- */

static void test_maxout(void **state)
{
    (void)state;
    double xv[12] = {1, 5, 3, -1, -2, -3, 0, 0, 9, 4, 8, 2};
    cg_tensor *x = cg_tensor_from_data(CG_F64, 2, (int64_t[]){2, 6}, xv);
    cg_tensor_set_requires_grad(x, true);
    /* groups of 3 consecutive entries along axis 1 */
    cg_tensor *y = cg_maxout(x, 3, 1);
    assert_tensor(y);
    assert_int_equal(cg_tensor_size(y, 0), 2);
    assert_int_equal(cg_tensor_size(y, 1), 2);
    double want[4] = {5, -1, 9, 8};
    for (int64_t i = 0; i < 4; i++)
        assert_close(cg_tensor_get(y, (int64_t[]){i / 2, i % 2}), want[i], 0, 0);
    /* the gradient goes to each group's maximum */
    cg_tensor *g = grad_of(y, x);
    double gwant[12] = {0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0};
    for (int64_t i = 0; i < 12; i++)
        assert_close(cg_tensor_get(g, (int64_t[]){i / 6, i % 6}), gwant[i], 0, 0);
    /* along axis 0 of the transpose (a strided view): the same numbers */
    cg_tensor *yt = cg_maxout(cg_transpose(x, 0, 1), 3, 0);
    assert_tensor(yt);
    for (int64_t i = 0; i < 4; i++)
        assert_close(cg_tensor_get(yt, (int64_t[]){i % 2, i / 2}), want[i], 0, 0);
    /* k = 1 is the identity, k = C a max over the axis */
    cg_tensor *y1 = cg_maxout(x, 1, -1), *y6 = cg_maxout(x, 6, 1);
    assert_int_equal(cg_tensor_size(y1, 1), 6);
    assert_close(cg_tensor_get(y6, (int64_t[]){1, 0}), 9, 0, 0);
    cg_tensor_free(x);
}

static void test_maxout_errors(void **state)
{
    (void)state;
    cg_tensor *x = cg_tensor_zeros(CG_F64, 2, (int64_t[]){2, 6});
    cg_clear_error();
    assert_null(cg_maxout(x, 4, 1));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_error_contains("maxout");
    assert_error_contains("k = 4");
    cg_clear_error();
    assert_null(cg_maxout(x, 0, 1));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    cg_clear_error();
    assert_null(cg_maxout(x, 2, 2));
    assert_error_contains("maxout");
    cg_tensor *s = cg_tensor_scalar(CG_F64, 1.0);
    cg_clear_error();
    assert_null(cg_maxout(s, 1, 0));
    assert_error_contains("maxout");
    cg_tensor_free(s);
    cg_tensor_free(x);
}

/* ---- errors ---- */

static cg_tensor *e_sigmoid(cg_tensor *x) { return cg_sigmoid(x); }
static cg_tensor *e_prelu(cg_tensor *x) { return cg_prelu(x, x); }
static cg_tensor *e_maxout(cg_tensor *x) { return cg_maxout(x, 1, 0); }

static void test_bad_input(void **state)
{
    (void)state;
    struct {
        const char *name;
        act_fn f;
    } ops[] = {
        {"sigmoid", e_sigmoid}, {"tanh", a_tanh},         {"relu", a_relu},
        {"leaky_relu", a_leaky}, {"elu", a_elu},           {"selu", a_selu},
        {"gelu", a_gelu},       {"gelu", a_gelu_tanh},    {"erf", a_erf},
        {"softplus", a_softplus}, {"silu", a_silu},       {"hardtanh", a_hardtanh},
        {"prelu", e_prelu},     {"maxout", e_maxout},
    };
    cg_tensor *idx = cg_tensor_zeros(CG_I64, 1, (int64_t[]){3});
    for (size_t k = 0; k < sizeof ops / sizeof *ops; k++) {
        cg_clear_error();
        if (ops[k].f(idx) != NULL)
            fail_msg("%s accepted an i64 input", ops[k].name);
        assert_int_equal(cg_last_status(), CG_ERR_DTYPE);
        assert_error_contains(ops[k].name);
        cg_clear_error();
        if (ops[k].f(NULL) != NULL)
            fail_msg("%s accepted NULL", ops[k].name);
        assert_int_equal(cg_last_status(), CG_ERR_NULL);
        assert_error_contains(ops[k].name);
    }
    cg_tensor_free(idx);
}

static void test_bad_parameters(void **state)
{
    (void)state;
    cg_tensor *x = cg_tensor_ones(CG_F64, 1, (int64_t[]){3});
    cg_clear_error();
    assert_null(cg_leaky_relu(x, NAN));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_error_contains("leaky_relu");
    cg_clear_error();
    assert_null(cg_elu(x, INFINITY));
    assert_error_contains("elu");
    cg_clear_error();
    assert_null(cg_softplus(x, 0.0, 20));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_error_contains("softplus");
    cg_clear_error();
    assert_null(cg_softplus(x, 1.0, NAN));
    assert_error_contains("threshold");
    cg_clear_error();
    assert_null(cg_hardtanh(x, NAN, 1));
    assert_error_contains("hardtanh");
    /* a NULL input keeps the first error even with a bad parameter */
    cg_clear_error();
    assert_null(cg_leaky_relu(cg_tanh(NULL), NAN));
    assert_int_equal(cg_last_status(), CG_ERR_NULL);
    assert_error_contains("tanh");
    cg_tensor_free(x);
}

/* ---- threads ---- */

/* Elementwise kernels split the range over threads; the bits must not change. */
static void test_thread_count_independent(void **state)
{
    (void)state;
    int64_t n = 300000;
    cg_rng rng = cg_rng_init(9);
    cg_tensor *x = cg_tensor_normal(&rng, CG_F32, 1, &n, 0, 3);
    float *first = malloc(sizeof(float) * (size_t)n);
    for (int threads = 1; threads <= 4; threads += 3) {
        cg_set_num_threads(threads);
        for (int a = 0; a < NACTS; a++) {
            cg_tensor *y = acts[a].f(x);
            assert_tensor(y);
            if (threads == 1 && a == 6)
                memcpy(first, cg_tensor_data(y), sizeof(float) * (size_t)n);
            else if (a == 6 && memcmp(first, cg_tensor_data(y), sizeof(float) * (size_t)n))
                fail_msg("gelu differs between 1 and %d threads", threads);
        }
    }
    cg_set_num_threads(0);
    free(first);
    cg_tensor_free(x);
}

/* Every op's name is in the table, so diagrams and reports can print it. */
static void test_op_names(void **state)
{
    (void)state;
    const char *names[] = {"sigmoid", "tanh", "relu", "leaky_relu", "elu",
                           "gelu", "erf", "softplus", "silu", "hardtanh"};
    double xs[] = {0.5};
    cg_tensor *x = vec(CG_F64, xs, 1, true);
    cg_tensor *ys[] = {cg_sigmoid(x), cg_tanh(x), cg_relu(x), cg_leaky_relu(x, 0.01),
                       cg_elu(x, 1), cg_gelu(x, true), cg_erf(x), cg_softplus(x, 1, 20),
                       cg_silu(x), cg_hardtanh(x, -1, 1)};
    for (int k = 0; k < 10; k++)
        assert_string_equal(cg_tensor_op_name(ys[k]), names[k]);
    assert_string_equal(cg_tensor_op_name(cg_selu(x)), "elu");
    cg_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_values_f64),
        CG_TEST(test_values_f32),
        CG_TEST(test_grads_f64),
        CG_TEST(test_grads_f32),
        CG_TEST(test_strided_input),
        CG_TEST(test_saturation_f64),
        CG_TEST(test_saturation_f32),
        CG_TEST(test_softplus_exact),
        CG_TEST(test_gelu_tails),
        CG_TEST(test_special_points),
        CG_TEST(test_hardtanh_crossed),
        CG_TEST(test_second_derivatives),
        CG_TEST(test_fused_grads_f32),
        CG_TEST(test_fused_grads_f64),
        CG_TEST(test_relu_double_backward),
        CG_TEST(test_prelu_per_channel),
        CG_TEST(test_prelu_shapes),
        CG_TEST(test_maxout),
        CG_TEST(test_maxout_errors),
        CG_TEST(test_bad_input),
        CG_TEST(test_bad_parameters),
        CG_TEST(test_thread_count_independent),
        CG_TEST(test_op_names),
    };
    return cmocka_run_group_tests_name("activation", tests, NULL, NULL);
}
