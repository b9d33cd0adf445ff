/* Curvature tools: Hessian-vector products against explicit Hessians (exact and by finite
 * differences of gradients), extreme eigenvalues against known spectra for both methods,
 * the step size against an exact line search, the second-order test, tape hygiene, flat
 * memory across iterations, out-of-memory paths and bad input. */
#include <string.h>

#include "test_util.h"

#define NMAX 64

/* ---- helpers ---- */

/* A caller-owned tensor of dtype dt holding v (row-major), with requires_grad. */
static cg_tensor *param(cg_dtype dt, int ndim, const int64_t *shape, const double *v)
{
    cg_tensor *src = cg_tensor_from_data(CG_F64, ndim, shape, v), *t = src;
    if (dt != CG_F64) {
        t = cg_tensor_zeros(dt, ndim, shape);
        cg_tensor_copy_(t, src);
        cg_tensor_free(src);
    }
    cg_tensor_set_requires_grad(t, true);
    return t;
}

static cg_tensor *vec1(cg_dtype dt, int64_t n, const double *v) { return param(dt, 1, &n, v); }

static double *flat_data(cg_tensor *t) { return cg_tensor_data(t); }

/* y = A x for a dense row-major n x n A. */
static void matvec(const double *a, const double *x, double *y, int n)
{
    for (int i = 0; i < n; i++) {
        y[i] = 0;
        for (int j = 0; j < n; j++)
            y[i] += a[i * n + j] * x[j];
    }
}

/* A = Q diag(lambda) Q^T with Q orthonormal (Gram-Schmidt twice on random columns); q
 * receives Q's columns as rows (q[i*n..] is the eigenvector of lambda[i]). */
static void known_spectrum(const double *lambda, int n, uint64_t seed, double *a, double *q)
{
    cg_rng rng = cg_rng_init(seed);
    for (int i = 0; i < n; i++) {
        double *qi = q + i * n;
        for (int j = 0; j < n; j++)
            qi[j] = 2 * cg_rng_uniform(&rng) - 1;
        for (int pass = 0; pass < 2; pass++)
            for (int r = 0; r < i; r++) {
                double d = 0;
                for (int j = 0; j < n; j++)
                    d += q[r * n + j] * qi[j];
                for (int j = 0; j < n; j++)
                    qi[j] -= d * q[r * n + j];
            }
        double nrm = 0;
        for (int j = 0; j < n; j++)
            nrm += qi[j] * qi[j];
        for (int j = 0; j < n; j++)
            qi[j] /= sqrt(nrm);
    }
    for (int r = 0; r < n; r++)
        for (int c = 0; c < n; c++) {
            a[r * n + c] = 0;
            for (int i = 0; i < n; i++)
                a[r * n + c] += lambda[i] * q[i * n + r] * q[i * n + c];
        }
}

/* ---- losses ---- */

/* f(x) = 0.5 x^T A x + b^T x. */
typedef struct quad {
    cg_tensor *a, *b;
    double av[NMAX * NMAX], bv[NMAX];
    int n;
} quad;

static void quad_init(quad *q, int n, cg_dtype dt, const double *a, const double *b)
{
    q->n = n;
    memcpy(q->av, a, sizeof(double) * (size_t)(n * n));
    memcpy(q->bv, b, sizeof(double) * (size_t)n);
    int64_t sa[2] = {n, n}, sb = n;
    cg_tensor *a64 = cg_tensor_from_data(CG_F64, 2, sa, a), *b64 = cg_tensor_from_data(CG_F64, 1, &sb, b);
    q->a = cg_tensor_zeros(dt, 2, sa), q->b = cg_tensor_zeros(dt, 1, &sb);
    cg_tensor_copy_(q->a, a64);
    cg_tensor_copy_(q->b, b64);
    cg_tensor_free(a64);
    cg_tensor_free(b64);
}

static void quad_free(quad *q)
{
    cg_tensor_free(q->a);
    cg_tensor_free(q->b);
}

static cg_tensor *quad_fn(cg_tensor *const *p, int n, void *ctx)
{
    (void)n;
    quad *q = ctx;
    cg_tensor *x = p[0];
    cg_tensor *xax = cg_matmul(x, cg_matmul(q->a, x));
    return cg_add(cg_mul_scalar(xax, 0.5), cg_matmul(q->b, x));
}

/* Plain-C value of the quadratic. */
static double quad_value(const quad *q, const double *x)
{
    double ax[NMAX], f = 0;
    matvec(q->av, x, ax, q->n);
    for (int i = 0; i < q->n; i++)
        f += 0.5 * x[i] * ax[i] + q->bv[i] * x[i];
    return f;
}

/* f(x, y) = sum(x^3) + (x . y)^2 */
static cg_tensor *cubic_fn(cg_tensor *const *p, int n, void *ctx)
{
    (void)n, (void)ctx;
    return cg_add(cg_sum(cg_pow_scalar(p[0], 3), NULL, 0, false),
                  cg_pow_scalar(cg_matmul(p[0], p[1]), 2));
}

/* A tiny MLP: mean((tanh(X W1) W2 - Y)^2) with W1 [3,4], W2 [4,2]. */
typedef struct mlp {
    cg_tensor *x, *y;
} mlp;

static cg_tensor *mlp_fn(cg_tensor *const *p, int n, void *ctx)
{
    (void)n;
    mlp *m = ctx;
    cg_tensor *out = cg_matmul(cg_tanh(cg_matmul(m->x, p[0])), p[1]);
    cg_tensor *d = cg_sub(out, m->y);
    return cg_mean(cg_mul(d, d), NULL, 0, false);
}

/* sum(c * p^2) for a 2-vector p: x^2 + y^2, -x^2 - y^2, x^2 - y^2 ... */
static cg_tensor *diag_quad_fn(cg_tensor *const *p, int n, void *ctx)
{
    (void)n;
    return cg_sum(cg_mul(cg_mul(p[0], p[0]), ctx), NULL, 0, false);
}

static cg_tensor *quartic_fn(cg_tensor *const *p, int n, void *ctx)
{
    (void)n, (void)ctx;
    return cg_sum(cg_pow_scalar(p[0], 4), NULL, 0, false);
}

/* Rosenbrock (1 - x)^2 + 100 (y - x^2)^2 with x, y 0-d parameters. */
static cg_tensor *rosenbrock_fn(cg_tensor *const *p, int n, void *ctx)
{
    (void)n, (void)ctx;
    cg_tensor *a = cg_add_scalar(cg_neg(p[0]), 1.0);
    cg_tensor *b = cg_sub(p[1], cg_mul(p[0], p[0]));
    return cg_add(cg_mul(a, a), cg_mul_scalar(cg_mul(b, b), 100.0));
}

static cg_tensor *vector_loss_fn(cg_tensor *const *p, int n, void *ctx)
{
    (void)n, (void)ctx;
    return cg_mul(p[0], p[0]);
}

static cg_tensor *null_fn(cg_tensor *const *p, int n, void *ctx)
{
    (void)p, (void)n, (void)ctx;
    return NULL;
}

/* ---- explicit Hessians from products ---- */

/* H column by column: H e_j through cg_hvp, with v and hv tensors shaped like params. */
static void hessian_by_hvp(cg_grad_fn fn, cg_tensor *const *params, int n, void *ctx,
                           double *h, int dim)
{
    cg_tensor *v[4], *hv[4];
    for (int j = 0; j < n; j++) {
        v[j] = cg_tensor_zeros(CG_F64, cg_tensor_ndim(params[j]), cg_tensor_shape(params[j]));
        hv[j] = cg_tensor_zeros(CG_F64, cg_tensor_ndim(params[j]), cg_tensor_shape(params[j]));
    }
    for (int c = 0; c < dim; c++) {
        for (int j = 0, off = 0; j < n; off += (int)cg_tensor_numel(params[j]), j++)
            for (int i = 0; i < cg_tensor_numel(params[j]); i++)
                flat_data(v[j])[i] = off + i == c;
        assert_ok(cg_hvp(fn, params, n, ctx, v, hv));
        for (int j = 0, off = 0; j < n; off += (int)cg_tensor_numel(params[j]), j++)
            assert_ok(cg_tensor_to_f64(hv[j], h + (size_t)c * (size_t)dim + (size_t)off));
    }
    for (int j = 0; j < n; j++) {
        cg_tensor_free(v[j]);
        cg_tensor_free(hv[j]);
    }
}

/* The gradient at the current point, flat, on the active tape (then reset). */
static void gradient(cg_grad_fn fn, cg_tensor *const *params, int n, void *ctx, double *g)
{
    cg_tensor *y = fn(params, n, ctx), *gr[4];
    assert_tensor(y);
    assert_ok(cg_grad(&y, 1, NULL, params, n, gr, NULL));
    for (int j = 0, off = 0; j < n; off += (int)cg_tensor_numel(params[j]), j++)
        assert_ok(cg_tensor_to_f64(gr[j], g + off));
    cg_tape_reset(cg_tape_active());
}

/* H by central differences of gradients: column c = (g(θ + h e_c) - g(θ - h e_c)) / 2h. */
static void hessian_by_fd(cg_grad_fn fn, cg_tensor *const *params, int n, void *ctx, double *h,
                          int dim)
{
    const double step = 1e-5;
    double gp[NMAX], gm[NMAX];
    for (int j = 0, c = 0; j < n; j++)
        for (int i = 0; i < cg_tensor_numel(params[j]); i++, c++) {
            double *x = flat_data(params[j]) + i, x0 = *x;
            *x = x0 + step;
            gradient(fn, params, n, ctx, gp);
            *x = x0 - step;
            gradient(fn, params, n, ctx, gm);
            *x = x0;
            for (int r = 0; r < dim; r++)
                h[c * dim + r] = (gp[r] - gm[r]) / (2 * step);
        }
}

static void assert_matrix_close(const double *a, const double *b, int n, double atol, double rtol)
{
    for (int i = 0; i < n * n; i++)
        assert_close(a[i], b[i], atol, rtol);
}

/* ---- Hessian-vector products ---- */

/* (a) 0.5 x^T A x + b^T x with A random SPD: H = A exactly, and a random v gives A v. */
static void test_hvp_quadratic(void **state)
{
    (void)state;
    const int n = 6;
    double lam[6] = {0.6, 1.1, 1.7, 2.4, 3.2, 4.9}, a[36], q[36], b[6], x[6], h[36];
    known_spectrum(lam, n, 11, a, q);
    cg_rng rng = cg_rng_init(5);
    for (int i = 0; i < n; i++)
        b[i] = cg_rng_uniform(&rng) - 0.5, x[i] = cg_rng_uniform(&rng) * 2 - 1;
    quad qd;
    quad_init(&qd, n, CG_F64, a, b);
    cg_tensor *p = vec1(CG_F64, n, x);
    hessian_by_hvp(quad_fn, &p, 1, &qd, h, n);
    assert_matrix_close(h, a, n, 1e-13, 1e-12);

    double vv[6] = {0.3, -1.2, 0.5, 2.0, -0.7, 1.1}, av[6];
    matvec(a, vv, av, n);
    cg_tensor *v = cg_tensor_from_data(CG_F32, 1, (int64_t[]){6}, (float[]){0.3f, -1.2f, 0.5f, 2.0f, -0.7f, 1.1f});
    cg_tensor *hv = cg_tensor_zeros(CG_F64, 1, (int64_t[]){6});
    assert_ok(cg_hvp(quad_fn, &p, 1, &qd, &v, &hv)); /* v in f32: converted */
    for (int64_t i = 0; i < n; i++)
        assert_close(cg_tensor_get(hv, &i), av[i], 1e-6, 1e-6);
    /* hv may be v itself. */
    cg_tensor *w = cg_tensor_from_data(CG_F64, 1, (int64_t[]){6}, vv);
    assert_ok(cg_hvp(quad_fn, &p, 1, &qd, &w, &w));
    for (int64_t i = 0; i < n; i++)
        assert_close(cg_tensor_get(w, &i), av[i], 1e-13, 1e-12);
    assert_null(cg_tensor_grad(p)); /* .grad untouched */
    cg_tensor_free(w);
    cg_tensor_free(v);
    cg_tensor_free(hv);
    cg_tensor_free(p);
    quad_free(&qd);
}

/* (b) f(x, y) = sum(x^3) + (x . y)^2 with s = x . y:
 * H_xx = diag(6x) + 2 y y^T, H_yy = 2 x x^T, H_xy = 2 s I + 2 y x^T. */
static void test_hvp_cubic_two_params(void **state)
{
    (void)state;
    enum { m = 4, dim = 8 };
    double xs[m] = {0.5, -1.0, 1.5, 0.25}, ys[m] = {1.0, 0.5, -0.75, 2.0}, s = 0;
    double h[dim * dim], want[dim * dim];
    for (int i = 0; i < m; i++)
        s += xs[i] * ys[i];
    for (int i = 0; i < m; i++)
        for (int j = 0; j < m; j++) {
            double d = i == j;
            want[i * dim + j] = 6 * xs[i] * d + 2 * ys[i] * ys[j];
            want[(m + i) * dim + (m + j)] = 2 * xs[i] * xs[j];
            want[i * dim + (m + j)] = 2 * s * d + 2 * ys[i] * xs[j];
            want[(m + j) * dim + i] = want[i * dim + (m + j)];
        }
    cg_tensor *p[2] = {vec1(CG_F64, m, xs), vec1(CG_F64, m, ys)};
    hessian_by_hvp(cubic_fn, p, 2, NULL, h, dim);
    assert_matrix_close(h, want, dim, 1e-12, 1e-12);
    cg_tensor_free(p[0]);
    cg_tensor_free(p[1]);
}

/* (c) A tiny MLP with two weight tensors: H from products against H from finite
 * differences of gradients, and symmetric. */
static void test_hvp_mlp_against_finite_differences(void **state)
{
    (void)state;
    enum { dim = 12 + 8 };
    cg_rng rng = cg_rng_init(3);
    mlp m = {cg_tensor_normal(&rng, CG_F64, 2, (int64_t[]){5, 3}, 0, 1),
             cg_tensor_normal(&rng, CG_F64, 2, (int64_t[]){5, 2}, 0, 1)};
    cg_tensor *p[2] = {cg_tensor_normal(&rng, CG_F64, 2, (int64_t[]){3, 4}, 0, 0.7),
                       cg_tensor_normal(&rng, CG_F64, 2, (int64_t[]){4, 2}, 0, 0.7)};
    cg_tensor_set_requires_grad(p[0], true);
    cg_tensor_set_requires_grad(p[1], true);
    double h[dim * dim], fd[dim * dim];
    hessian_by_hvp(mlp_fn, p, 2, &m, h, dim);
    hessian_by_fd(mlp_fn, p, 2, &m, fd, dim);
    assert_matrix_close(h, fd, dim, 1e-7, 1e-6);
    for (int i = 0; i < dim; i++)
        for (int j = 0; j < i; j++)
            assert_close(h[i * dim + j], h[j * dim + i], 1e-13, 1e-12);
    for (int j = 0; j < 2; j++)
        cg_tensor_free(p[j]);
    cg_tensor_free(m.x);
    cg_tensor_free(m.y);
}

/* The caller's tape records nothing, stays active, and grad mode is restored. */
static void test_hvp_leaves_caller_state(void **state)
{
    test_ctx *ctx = *state;
    double xs[2] = {1, 2}, c[2] = {1, -3};
    cg_tensor *p = vec1(CG_F64, 2, xs);
    cg_tensor *coef = cg_tensor_from_data(CG_F64, 1, (int64_t[]){2}, c);
    cg_tensor *v = cg_tensor_ones(CG_F64, 1, (int64_t[]){2});
    cg_tensor *hv = cg_tensor_zeros(CG_F32, 1, (int64_t[]){2});
    bool prev = cg_set_grad_enabled(false);
    assert_ok(cg_hvp(diag_quad_fn, &p, 1, coef, &v, &hv));
    assert_false(cg_grad_enabled());
    cg_set_grad_enabled(prev);
    assert_ptr_equal(cg_tape_active(), ctx->tape);
    assert_int_equal(cg_tape_num_nodes(ctx->tape), 0);
    assert_int_equal(cg_tape_num_tensors(ctx->tape), 0);
    assert_close(cg_tensor_get(hv, (int64_t[]){0}), 2, 0, 0);
    assert_close(cg_tensor_get(hv, (int64_t[]){1}), -6, 0, 0);
    cg_tensor_free(hv);
    cg_tensor_free(v);
    cg_tensor_free(coef);
    cg_tensor_free(p);
}

/* ---- eigenvalues ---- */

static const double spectrum6[6] = {6.0, 3.5, 2.0, 0.75, -1.25, -4.5};

/* Values, order and eigenvectors of one (method, which) pair on the known spectrum. */
static void check_top(const quad *qd, cg_tensor *p, const double *q, cg_eig_method method,
                      cg_eig_which which, int k, const double *want_vals, const int *want_idx)
{
    const int n = qd->n;
    cg_eig_options o = cg_eig_defaults();
    o.method = method, o.which = which, o.tol = 1e-9, o.max_iter = method == CG_EIG_POWER ? 2000 : 100;
    double vals[6], vecs[36], au[6];
    assert_ok(cg_hessian_eigenvalues(quad_fn, &p, 1, (void *)qd, k, &o, vals, vecs));
    for (int i = 0; i < k; i++) {
        assert_close(vals[i], want_vals[i], 1e-10, 1e-10);
        const double *u = vecs + i * n, *qi = q + want_idx[i] * n;
        double d = 0, nrm = 0, res = 0;
        matvec(qd->av, u, au, n);
        for (int j = 0; j < n; j++) {
            d += u[j] * qi[j], nrm += u[j] * u[j];
            res += (au[j] - vals[i] * u[j]) * (au[j] - vals[i] * u[j]);
        }
        assert_close(nrm, 1, 1e-12, 0);
        assert_close(fabs(d), 1, 1e-8, 0);
        assert_true(sqrt(res) < 1e-7);
    }
}

static void test_eigenvalues_known_spectrum(void **state)
{
    (void)state;
    double a[36], q[36], b[6] = {0}, x[6] = {0.1, 0.2, 0.3, -0.4, 0.5, -0.6};
    known_spectrum(spectrum6, 6, 21, a, q);
    quad qd;
    quad_init(&qd, 6, CG_F64, a, b);
    cg_tensor *p = vec1(CG_F64, 6, x);
    for (int m = 0; m < 2; m++) {
        cg_eig_method method = m ? CG_EIG_POWER : CG_EIG_LANCZOS;
        check_top(&qd, p, q, method, CG_EIG_LARGEST, 3, (double[]){6, 3.5, 2}, (int[]){0, 1, 2});
        check_top(&qd, p, q, method, CG_EIG_SMALLEST, 2, (double[]){-4.5, -1.25}, (int[]){5, 4});
        check_top(&qd, p, q, method, CG_EIG_LARGEST_MAGNITUDE, 3, (double[]){6, -4.5, 3.5},
                  (int[]){0, 5, 1});
        check_top(&qd, p, q, method, CG_EIG_LARGEST, 6, spectrum6, (int[]){0, 1, 2, 3, 4, 5});
    }
    /* Without eigenvectors, with default options. */
    double top;
    assert_ok(cg_hessian_eigenvalues(quad_fn, &p, 1, &qd, 1, NULL, &top, NULL));
    assert_close(top, 6, 1e-9, 0);
    cg_tensor_free(p);
    quad_free(&qd);
}

/* N = 60 with a Krylov space of 40: Lanczos must converge before the space is full. */
static void test_lanczos_converges_early(void **state)
{
    (void)state;
    enum { n = 60 };
    static double lam[n], a[n * n], q[n * n];
    double b[n] = {0}, x[n] = {0};
    /* Separated ends (10, 9, 8.2 and -9, -8) around a dense middle from 5 down to -6. */
    for (int i = 0; i < n; i++)
        lam[i] = 5.0 - 11.0 * (i - 3) / (n - 6);
    lam[0] = 10, lam[1] = 9, lam[2] = 8.2, lam[n - 2] = -8, lam[n - 1] = -9;
    known_spectrum(lam, n, 8, a, q);
    quad qd;
    quad_init(&qd, n, CG_F64, a, b);
    cg_tensor *p = vec1(CG_F64, n, x);
    cg_eig_options o = cg_eig_defaults();
    o.max_iter = 40;
    double vals[3];
    assert_ok(cg_hessian_eigenvalues(quad_fn, &p, 1, &qd, 3, &o, vals, NULL));
    for (int i = 0; i < 3; i++)
        assert_close(vals[i], lam[i], 1e-8, 0);
    o.which = CG_EIG_SMALLEST;
    assert_ok(cg_hessian_eigenvalues(quad_fn, &p, 1, &qd, 2, &o, vals, NULL));
    assert_close(vals[0], lam[n - 1], 1e-8, 0);
    assert_close(vals[1], lam[n - 2], 1e-8, 0);
    /* Too small a space to converge: CG_ERR_STATE with estimates in the output. */
    o.max_iter = 4, o.tol = 1e-12;
    assert_int_equal(cg_hessian_eigenvalues(quad_fn, &p, 1, &qd, 2, &o, vals, NULL), CG_ERR_STATE);
    assert_error_contains("did not converge");
    assert_true(vals[0] < 0 && vals[0] >= lam[n - 1] - 1e-9); /* Ritz values interlace */
    cg_tensor_free(p);
    quad_free(&qd);
}

/* Repeated eigenvalues: power iteration with deflation finds both copies; Lanczos finds
 * the second copy after its Krylov space (4 distinct eigenvalues) breaks down and restarts. */
static void test_repeated_eigenvalues(void **state)
{
    (void)state;
    double lam[5] = {3, 3, 1, -0.5, -2}, a[25], q[25], b[5] = {0}, x[5] = {0}, vals[5];
    known_spectrum(lam, 5, 2, a, q);
    quad qd;
    quad_init(&qd, 5, CG_F64, a, b);
    cg_tensor *p = vec1(CG_F64, 5, x);
    cg_eig_options o = cg_eig_defaults();
    o.method = CG_EIG_POWER, o.max_iter = 2000, o.tol = 1e-10;
    assert_ok(cg_hessian_eigenvalues(quad_fn, &p, 1, &qd, 3, &o, vals, NULL));
    for (int i = 0; i < 3; i++)
        assert_close(vals[i], lam[i], 1e-10, 0);
    o.method = CG_EIG_LANCZOS;
    assert_ok(cg_hessian_eigenvalues(quad_fn, &p, 1, &qd, 5, &o, vals, NULL));
    for (int i = 0; i < 5; i++)
        assert_close(vals[i], lam[i], 1e-10, 0);
    cg_tensor_free(p);
    quad_free(&qd);
}

/* f32 parameters: products in f32, defaults still converge to f32 accuracy. */
static void test_eigenvalues_f32(void **state)
{
    (void)state;
    double a[36], q[36], b[6] = {0}, x[6] = {0}, vals[2];
    known_spectrum(spectrum6, 6, 21, a, q);
    quad qd;
    quad_init(&qd, 6, CG_F32, a, b);
    cg_tensor *p = vec1(CG_F32, 6, x);
    cg_eig_options o = cg_eig_defaults();
    for (int m = 0; m < 2; m++) {
        o.method = m ? CG_EIG_POWER : CG_EIG_LANCZOS, o.max_iter = m ? 500 : 100;
        o.which = CG_EIG_LARGEST;
        assert_ok(cg_hessian_eigenvalues(quad_fn, &p, 1, &qd, 2, &o, vals, NULL));
        assert_close(vals[0], 6, 0, 1e-5);
        assert_close(vals[1], 3.5, 0, 1e-5);
        o.which = CG_EIG_SMALLEST;
        assert_ok(cg_hessian_eigenvalues(quad_fn, &p, 1, &qd, 1, &o, vals, NULL));
        assert_close(vals[0], -4.5, 0, 1e-5);
    }
    cg_tensor_free(p);
    quad_free(&qd);
}

/* Iterations reuse the private tape's memory: 15 iterations make no more allocations than
 * 5 (all stop at max_iter with tol 0), for both methods. */
static void test_iterations_allocate_nothing(void **state)
{
    (void)state;
    enum { n = 20 };
    double lam[n], a[n * n], q[n * n], b[n] = {0.1}, x[n] = {0.3, 0.1, -0.2, 0.5}, val;
    for (int i = 0; i < n; i++)
        lam[i] = 1.0 + 0.25 * i;
    known_spectrum(lam, n, 4, a, q);
    quad qd;
    quad_init(&qd, n, CG_F64, a, b);
    cg_tensor *p = vec1(CG_F64, n, x);
    cg_eig_options o = cg_eig_defaults();
    o.tol = 0;
    for (int m = 0; m < 2; m++) {
        uint64_t calls[2];
        o.method = m ? CG_EIG_POWER : CG_EIG_LANCZOS;
        for (int r = 0; r < 2; r++) {
            o.max_iter = r ? 15 : 5;
            uint64_t before = cg_alloc_get_stats().malloc_calls;
            assert_int_equal(cg_hessian_eigenvalues(quad_fn, &p, 1, &qd, 1, &o, &val, NULL),
                             CG_ERR_STATE);
            calls[r] = cg_alloc_get_stats().malloc_calls - before;
        }
        assert_int_equal(calls[0], calls[1]);
    }
    cg_tensor_free(p);
    quad_free(&qd);
}

/* ---- step size ---- */

/* On a quadratic, alpha* is the exact minimiser of phi(t) = f(x - t g), found here from
 * three values of phi (exact for a parabola), without the library. */
static void test_optimal_step_size_is_exact_line_search(void **state)
{
    (void)state;
    const int n = 6;
    double lam[6] = {0.5, 1, 2, 3, 5, 8}, a[36], q[36], b[6], x[6], g[6], xt[6];
    known_spectrum(lam, n, 9, a, q);
    cg_rng rng = cg_rng_init(17);
    for (int i = 0; i < n; i++)
        b[i] = cg_rng_uniform(&rng) - 0.5, x[i] = 2 * cg_rng_uniform(&rng) - 1;
    quad qd;
    quad_init(&qd, n, CG_F64, a, b);
    cg_tensor *p = vec1(CG_F64, n, x);
    double alpha;
    assert_ok(cg_optimal_step_size(quad_fn, &p, 1, &qd, &alpha));
    matvec(a, x, g, n);
    for (int i = 0; i < n; i++)
        g[i] += b[i];
    double phi[3];
    for (int s = -1; s <= 1; s++) {
        for (int i = 0; i < n; i++)
            xt[i] = x[i] - s * g[i];
        phi[s + 1] = quad_value(&qd, xt);
    }
    double best = (phi[0] - phi[2]) / (2 * (phi[2] - 2 * phi[1] + phi[0]));
    assert_close(alpha, best, 1e-12, 1e-10);
    assert_true(alpha >= 1 / 8.0 - 1e-12 && alpha <= 1 / 0.5 + 1e-12); /* in [1/λmax, 1/λmin] */
    cg_tensor_free(p);
    quad_free(&qd);
}

/* Negative curvature along g, and a zero gradient, are errors that say why. */
static void test_optimal_step_size_errors(void **state)
{
    (void)state;
    double c[2] = {1, -1};
    cg_tensor *coef = cg_tensor_from_data(CG_F64, 1, (int64_t[]){2}, c);
    cg_tensor *p = vec1(CG_F64, 2, (double[]){0, 1}); /* g = (0, -2), g^T H g = -8 */
    double alpha = 0;
    assert_int_equal(cg_optimal_step_size(diag_quad_fn, &p, 1, coef, &alpha), CG_ERR_VALUE);
    assert_error_contains("-8");
    assert_true(isnan(alpha));
    flat_data(p)[1] = 0;
    assert_int_equal(cg_optimal_step_size(diag_quad_fn, &p, 1, coef, &alpha), CG_ERR_VALUE);
    assert_error_contains("gradient is zero");
    assert_int_equal(cg_optimal_step_size(diag_quad_fn, &p, 1, coef, NULL), CG_ERR_NULL);
    cg_tensor_free(p);
    cg_tensor_free(coef);
}

/* ---- the second-order test ---- */

static cg_stationary_point classify_with(cg_grad_fn fn, cg_tensor *const *p, int n, void *ctx,
                                         cg_eig_method method)
{
    cg_stationary_options o = cg_stationary_defaults();
    o.eig.method = method;
    o.eig.max_iter = 500;
    cg_stationary_point r;
    assert_ok(cg_classify_stationary_point(fn, p, n, ctx, &o, &r));
    return r;
}

static void test_classify_quadratic_points(void **state)
{
    (void)state;
    struct {
        double c[2];
        cg_point_kind kind;
        bool negative;
    } cases[] = {
        {{1, -1}, CG_POINT_STRICT_SADDLE, true},
        {{1, 1}, CG_POINT_MINIMUM, false},
        {{-1, -1}, CG_POINT_MAXIMUM, true},
    };
    cg_tensor *p = vec1(CG_F64, 2, (double[]){0, 0});
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int m = 0; m < 2; m++) {
            cg_tensor *coef = cg_tensor_from_data(CG_F64, 1, (int64_t[]){2}, cases[i].c);
            cg_stationary_point r =
                classify_with(diag_quad_fn, &p, 1, coef, m ? CG_EIG_POWER : CG_EIG_LANCZOS);
            assert_string_equal(cg_point_kind_name(r.kind), cg_point_kind_name(cases[i].kind));
            assert_int_equal(r.negative_curvature, cases[i].negative);
            assert_close(r.grad_norm, 0, 0, 0);
            assert_close(r.lambda_min, 2 * fmin(cases[i].c[0], cases[i].c[1]), 1e-10, 0);
            assert_close(r.lambda_max, 2 * fmax(cases[i].c[0], cases[i].c[1]), 1e-10, 0);
            cg_tensor_free(coef);
        }
    /* Away from the origin x^2 + y^2 is not stationary; the curvature is still reported. */
    cg_tensor *coef = cg_tensor_from_data(CG_F64, 1, (int64_t[]){2}, (double[]){1, 1});
    flat_data(p)[0] = 1, flat_data(p)[1] = 0.5;
    cg_stationary_point r = classify_with(diag_quad_fn, &p, 1, coef, CG_EIG_LANCZOS);
    assert_int_equal(r.kind, CG_POINT_NOT_STATIONARY);
    assert_close(r.grad_norm, sqrt(4 + 1), 1e-14, 1e-14);
    assert_close(r.lambda_min, 2, 1e-10, 0);
    cg_tensor_free(coef);
    cg_tensor_free(p);
}

/* x^4 at 0: H = 0, the second-order test cannot decide. */
static void test_classify_degenerate(void **state)
{
    (void)state;
    cg_tensor *p = vec1(CG_F64, 1, (double[]){0});
    for (int m = 0; m < 2; m++) {
        cg_stationary_point r =
            classify_with(quartic_fn, &p, 1, NULL, m ? CG_EIG_POWER : CG_EIG_LANCZOS);
        assert_int_equal(r.kind, CG_POINT_DEGENERATE);
        assert_string_equal(cg_point_kind_name(r.kind), "degenerate");
        assert_close(r.lambda_min, 0, 1e-12, 0);
        assert_close(r.lambda_max, 0, 1e-12, 0);
        assert_false(r.negative_curvature);
    }
    cg_tensor_free(p);
}

/* Rosenbrock's minimum (1, 1): H = [[802, -400], [-400, 200]], trace 1002, det 400. */
static void test_classify_rosenbrock_minimum(void **state)
{
    (void)state;
    cg_tensor *p[2] = {param(CG_F64, 0, NULL, (double[]){1}), param(CG_F64, 0, NULL, (double[]){1})};
    double disc = sqrt(1002.0 * 1002.0 - 4 * 400.0);
    double lmax = (1002 + disc) / 2, lmin = 400 / lmax; /* lmin from det: no cancellation */
    for (int m = 0; m < 2; m++) {
        cg_stationary_point r =
            classify_with(rosenbrock_fn, p, 2, NULL, m ? CG_EIG_POWER : CG_EIG_LANCZOS);
        assert_int_equal(r.kind, CG_POINT_MINIMUM);
        assert_close(r.lambda_max, lmax, 0, 1e-10);
        assert_close(r.lambda_min, lmin, 0, 1e-6);
        assert_close(r.lambda_max, 1001.6006, 1e-4, 0);
        assert_close(r.grad_norm, 0, 0, 0);
    }
    cg_tensor_free(p[0]);
    cg_tensor_free(p[1]);
}

/* ---- failures ---- */

static void test_bad_inputs(void **state)
{
    test_ctx *ctx = *state;
    cg_tensor *x = vec1(CG_F64, 2, (double[]){1, 2});
    cg_tensor *plain = cg_tensor_ones(CG_F64, 1, (int64_t[]){2});
    cg_tensor *v = cg_tensor_ones(CG_F64, 1, (int64_t[]){2});
    cg_tensor *hv = cg_tensor_zeros(CG_F64, 1, (int64_t[]){2});
    cg_tensor *wrong = cg_tensor_zeros(CG_F64, 1, (int64_t[]){3});
    cg_tensor *ints = cg_tensor_zeros(CG_I64, 1, (int64_t[]){2});
    cg_tensor *coef = cg_tensor_ones(CG_F64, 1, (int64_t[]){2});
    cg_tensor *twice[2] = {x, x};
    double val[3], alpha;
    cg_stationary_point r;
    assert_int_equal(cg_hvp(NULL, &x, 1, coef, &v, &hv), CG_ERR_NULL);
    assert_int_equal(cg_hvp(diag_quad_fn, NULL, 1, coef, &v, &hv), CG_ERR_NULL);
    assert_int_equal(cg_hvp(diag_quad_fn, &x, 0, coef, &v, &hv), CG_ERR_VALUE);
    assert_int_equal(cg_hvp(diag_quad_fn, &plain, 1, coef, &v, &hv), CG_ERR_VALUE);
    assert_error_contains("does not require grad");
    assert_int_equal(cg_hvp(diag_quad_fn, twice, 2, coef, &v, &hv), CG_ERR_VALUE);
    assert_error_contains("repeats");
    cg_tensor *nonleaf = cg_mul_scalar(x, 2.0);
    assert_int_equal(cg_hvp(diag_quad_fn, &nonleaf, 1, coef, &v, &hv), CG_ERR_VALUE);
    assert_error_contains("not a leaf");
    assert_int_equal(cg_hvp(diag_quad_fn, &x, 1, coef, NULL, &hv), CG_ERR_NULL);
    assert_int_equal(cg_hvp(diag_quad_fn, &x, 1, coef, &v, &wrong), CG_ERR_SHAPE);
    assert_int_equal(cg_hvp(diag_quad_fn, &x, 1, coef, &ints, &hv), CG_ERR_DTYPE);
    assert_int_equal(cg_hvp(diag_quad_fn, &x, 1, coef, &v, &x), CG_ERR_VALUE);
    assert_int_equal(cg_hvp(vector_loss_fn, &x, 1, NULL, &v, &hv), CG_ERR_SHAPE);
    assert_error_contains("one element");
    assert_int_equal(cg_hvp(null_fn, &x, 1, NULL, &v, &hv), CG_ERR_NULL);
    assert_error_contains("returned NULL");
    assert_int_equal(cg_hvp(diag_quad_fn, &x, 1, wrong, &v, &hv), CG_ERR_SHAPE); /* fn's error */
    assert_close(cg_tensor_get(hv, (int64_t[]){0}), 0, 0, 0); /* hv unchanged */

    cg_eig_options o = cg_eig_defaults();
    assert_int_equal(cg_hessian_eigenvalues(diag_quad_fn, &x, 1, coef, 0, &o, val, NULL), CG_ERR_VALUE);
    assert_int_equal(cg_hessian_eigenvalues(diag_quad_fn, &x, 1, coef, 3, &o, val, NULL), CG_ERR_VALUE);
    assert_error_contains("k = 3");
    assert_int_equal(cg_hessian_eigenvalues(diag_quad_fn, &x, 1, coef, 1, &o, NULL, NULL), CG_ERR_NULL);
    o.tol = -1;
    assert_int_equal(cg_hessian_eigenvalues(diag_quad_fn, &x, 1, coef, 1, &o, val, NULL), CG_ERR_VALUE);
    o.tol = NAN;
    assert_int_equal(cg_hessian_eigenvalues(diag_quad_fn, &x, 1, coef, 1, &o, val, NULL), CG_ERR_VALUE);
    o = cg_eig_defaults(), o.max_iter = 0;
    assert_int_equal(cg_hessian_eigenvalues(diag_quad_fn, &x, 1, coef, 1, &o, val, NULL), CG_ERR_VALUE);
    o = cg_eig_defaults(), o.method = (cg_eig_method)7;
    assert_int_equal(cg_hessian_eigenvalues(diag_quad_fn, &x, 1, coef, 1, &o, val, NULL), CG_ERR_VALUE);
    o = cg_eig_defaults(), o.which = (cg_eig_which)-1;
    assert_int_equal(cg_hessian_eigenvalues(diag_quad_fn, &x, 1, coef, 1, &o, val, NULL), CG_ERR_VALUE);
    assert_int_equal(cg_hessian_eigenvalues(vector_loss_fn, &x, 1, NULL, 1, NULL, val, NULL), CG_ERR_SHAPE);

    assert_int_equal(cg_optimal_step_size(NULL, &x, 1, NULL, &alpha), CG_ERR_NULL);
    cg_stationary_options so = cg_stationary_defaults();
    so.grad_tol = -1;
    assert_int_equal(cg_classify_stationary_point(diag_quad_fn, &x, 1, coef, &so, &r), CG_ERR_VALUE);
    assert_int_equal(r.kind, CG_POINT_NOT_STATIONARY);
    assert_true(isnan(r.lambda_min));
    so = cg_stationary_defaults(), so.curvature_tol = NAN;
    assert_int_equal(cg_classify_stationary_point(diag_quad_fn, &x, 1, coef, &so, &r), CG_ERR_VALUE);
    assert_int_equal(cg_classify_stationary_point(diag_quad_fn, &x, 1, coef, NULL, NULL), CG_ERR_NULL);
    assert_string_equal(cg_point_kind_name((cg_point_kind)42), "unknown");

    assert_ptr_equal(cg_tape_active(), ctx->tape);
    cg_tensor *all[] = {x, plain, v, hv, wrong, ints, coef};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        cg_tensor_free(all[i]);
}

/* One call of each public function, chosen by which (0..4). */
static cg_status call_each(int which, const quad *qd, cg_tensor *p)
{
    cg_eig_options o = cg_eig_defaults();
    o.method = which == 1 ? CG_EIG_POWER : CG_EIG_LANCZOS, o.max_iter = 500;
    double vals[2], alpha;
    cg_stationary_point r;
    cg_tensor *v = cg_tensor_ones(CG_F64, 1, (int64_t[]){6});
    cg_tensor *hv = cg_tensor_zeros(CG_F64, 1, (int64_t[]){6});
    cg_status st = !v || !hv ? CG_ERR_NOMEM
                   : which < 2 ? cg_hessian_eigenvalues(quad_fn, &p, 1, (void *)qd, 2, &o, vals, NULL)
                   : which == 2 ? cg_classify_stationary_point(quad_fn, &p, 1, (void *)qd, NULL, &r)
                   : which == 3 ? cg_optimal_step_size(quad_fn, &p, 1, (void *)qd, &alpha)
                                : cg_hvp(quad_fn, &p, 1, (void *)qd, &v, &hv);
    cg_tensor_free(v);
    cg_tensor_free(hv);
    return st;
}

/* Every allocation failure is reported as CG_ERR_NOMEM, leaks nothing and leaves the
 * caller's tape active; with enough allocations the call succeeds. */
static void test_out_of_memory(void **state)
{
    test_ctx *ctx = *state;
    double lam[6] = {0.5, 1, 2, 3, 5, 8}, a[36], q[36], b[6] = {0.1, 0, 0, 0, 0, 0};
    double x[6] = {0.5, 0, 0, 0.3, 0, 0};
    known_spectrum(lam, 6, 21, a, q);
    quad qd;
    quad_init(&qd, 6, CG_F64, a, b);
    cg_tensor *p = vec1(CG_F64, 6, x);
    int64_t live = cg_alloc_get_stats().live_bytes;
    for (int which = 0; which < 5; which++) {
        cg_status st = CG_ERR_NOMEM;
        int fail = 1;
        for (; st == CG_ERR_NOMEM && fail < 5000; fail++) {
            cg_alloc_fail_after(fail);
            st = call_each(which, &qd, p);
            cg_alloc_fail_after(0);
            assert_int_equal(cg_alloc_get_stats().live_bytes, live);
            assert_ptr_equal(cg_tape_active(), ctx->tape);
        }
        assert_ok(st);
        assert_true(fail > 3);
    }
    cg_tensor_free(p);
    quad_free(&qd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_hvp_quadratic),
        CG_TEST(test_hvp_cubic_two_params),
        CG_TEST(test_hvp_mlp_against_finite_differences),
        CG_TEST(test_hvp_leaves_caller_state),
        CG_TEST(test_eigenvalues_known_spectrum),
        CG_TEST(test_lanczos_converges_early),
        CG_TEST(test_repeated_eigenvalues),
        CG_TEST(test_eigenvalues_f32),
        CG_TEST(test_iterations_allocate_nothing),
        CG_TEST(test_optimal_step_size_is_exact_line_search),
        CG_TEST(test_optimal_step_size_errors),
        CG_TEST(test_classify_quadratic_points),
        CG_TEST(test_classify_degenerate),
        CG_TEST(test_classify_rosenbrock_minimum),
        CG_TEST(test_bad_inputs),
        CG_TEST(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
