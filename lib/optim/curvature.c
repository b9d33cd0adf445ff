/*
 * Curvature tools: Hessian-vector products by double backward, extreme Hessian eigenvalues
 * by Lanczos or power iteration, the quadratic model's step size along -g, and the
 * second-order test at a stationary point.
 *
 * Everything is built on one operator, x -> H x on flat double vectors (hess_op, in
 * curvature_hvp.c with cg_hvp), which evaluates the loss on a private tape; the eigensolvers
 * are in curvature_eigen.c. This file holds the eigenvalue, step-size and stationary-point
 * functions of cgrad/curvature.h.
 */
#include <math.h>

#include "core.h"
#include "curvature_impl.h"

/* ---- checking arguments ---- */

static bool bad_tol(double t) { return !(t >= 0); } /* negative or NaN */

static cg_status check_eig(const char *who, const cg_eig_options *o, int k, int64_t dim)
{
    if (k < 1 || k > dim)
        return cg__error(CG_ERR_VALUE, "%s: k = %d; need 1 <= k <= N = %lld", who, k,
                         (long long)dim);
    if ((int)o->method < 0 || (int)o->method > (int)CG_EIG_POWER)
        return cg__error(CG_ERR_VALUE, "%s: unknown method %d", who, (int)o->method);
    if ((int)o->which < 0 || (int)o->which > (int)CG_EIG_LARGEST_MAGNITUDE)
        return cg__error(CG_ERR_VALUE, "%s: unknown which %d", who, (int)o->which);
    if (o->max_iter < 1)
        return cg__error(CG_ERR_VALUE, "%s: max_iter = %d; need >= 1", who, o->max_iter);
    /* Lanczos yields at most max_iter Ritz values (all N of them once the space is full). */
    if (o->method == CG_EIG_LANCZOS && o->max_iter < k && o->max_iter < dim)
        return cg__error(CG_ERR_VALUE, "%s: max_iter = %d is below k = %d; Lanczos needs a "
                                       "Krylov space of dimension at least k",
                         who, o->max_iter, k);
    if (bad_tol(o->tol))
        return cg__error(CG_ERR_VALUE, "%s: tol = %g; need tol >= 0", who, o->tol);
    return CG_OK;
}

/* ---- public functions ---- */

cg_eig_options cg_eig_defaults(void)
{
    cg_eig_options o = {CG_EIG_LANCZOS, CG_EIG_LARGEST, 100, 1e-6, 0};
    return o;
}

cg_status cg_hessian_eigenvalues(cg_grad_fn fn, cg_tensor *const *params, int n, void *ctx,
                                 int k, const cg_eig_options *options, double *eigenvalues,
                                 double *eigenvectors)
{
    const char *who = "cg_hessian_eigenvalues";
    cg_eig_options o = options ? *options : cg_eig_defaults();
    int64_t dim;
    hess_op op;
    if (cg__curv_check_problem(who, fn, params, n, &dim) != CG_OK)
        return cg_last_status();
    if (!eigenvalues)
        return cg__error(CG_ERR_NULL, "%s: NULL eigenvalues", who);
    if (check_eig(who, &o, k, dim) != CG_OK ||
        cg__curv_op_init(&op, who, fn, params, n, ctx, dim) != CG_OK)
        return cg_last_status();
    cg_status st = cg__curv_eigen(&op, &o, k, eigenvalues, eigenvectors);
    cg__curv_op_free(&op);
    return st;
}

/* alpha = |g|^2 / g^T H g with g and H g computed into x[0..dim) and x[dim..2 dim). */
static cg_status step_size(hess_op *op, double *x, double *alpha)
{
    double *g = x, *hg = x + op->dim;
    cg_status st = cg__curv_op_gradient(op, g);
    if (st != CG_OK)
        return st;
    double gg = dot(g, g, op->dim);
    if (gg == 0)
        return cg__error(CG_ERR_VALUE, "%s: the gradient is zero; the point is already "
                                       "stationary",
                         op->who);
    if ((st = cg__curv_op_apply(op, g, hg)) != CG_OK)
        return st;
    double ghg = dot(g, hg, op->dim);
    if (!(ghg > 0))
        return cg__error(CG_ERR_VALUE, "%s: g^T H g = %.6g <= 0 (|g|^2 = %.6g): the quadratic "
                                       "model has no minimum along -g",
                         op->who, ghg, gg);
    *alpha = gg / ghg;
    return CG_OK;
}

cg_status cg_optimal_step_size(cg_grad_fn fn, cg_tensor *const *params, int n, void *ctx,
                               double *alpha)
{
    const char *who = "cg_optimal_step_size";
    int64_t dim;
    if (alpha)
        *alpha = NAN;
    if (cg__curv_check_problem(who, fn, params, n, &dim) != CG_OK)
        return cg_last_status();
    if (!alpha)
        return cg__error(CG_ERR_NULL, "%s: NULL alpha", who);
    hess_op op;
    block b;
    if (cg__curv_op_init(&op, who, fn, params, n, ctx, dim) != CG_OK)
        return cg_last_status();
    double *x = cg__curv_block_alloc(&b, 2, dim, sizeof(double), who);
    cg_status st = x ? step_size(&op, x, alpha) : cg_last_status();
    cg__curv_block_free(&b);
    cg__curv_op_free(&op);
    return st;
}

const char *cg_point_kind_name(cg_point_kind kind)
{
    static const char *const names[] = {"not stationary", "minimum", "maximum", "strict saddle",
                                        "degenerate"};
    unsigned i = (unsigned)kind;
    return i < sizeof names / sizeof *names ? names[i] : "unknown";
}

cg_stationary_options cg_stationary_defaults(void)
{
    cg_stationary_options o = {1e-6, 1e-6, cg_eig_defaults()};
    return o;
}

/* The second-order test on res's gradient norm and extreme eigenvalues. */
static void classify(cg_stationary_point *res, const cg_stationary_options *o)
{
    double tol = o->curvature_tol;
    res->negative_curvature = res->lambda_min < -tol;
    if (!(res->grad_norm <= o->grad_tol))
        res->kind = CG_POINT_NOT_STATIONARY;
    else if (res->lambda_min > tol)
        res->kind = CG_POINT_MINIMUM;
    else if (res->lambda_max < -tol)
        res->kind = CG_POINT_MAXIMUM;
    else if (res->lambda_min < -tol && res->lambda_max > tol)
        res->kind = CG_POINT_STRICT_SADDLE;
    else
        res->kind = CG_POINT_DEGENERATE;
}

/* Gradient norm, then lambda_max and lambda_min by two runs of the eigensolver. */
static cg_status examine(hess_op *op, const cg_stationary_options *o, cg_stationary_point *res)
{
    block b;
    double *g = cg__curv_block_alloc(&b, 1, op->dim, sizeof(double), op->who);
    cg_status st = g ? cg__curv_op_gradient(op, g) : cg_last_status();
    if (st == CG_OK)
        res->grad_norm = norm2(g, op->dim);
    cg__curv_block_free(&b);
    cg_eig_options e = o->eig;
    e.which = CG_EIG_LARGEST;
    if (st == CG_OK)
        st = cg__curv_eigen(op, &e, 1, &res->lambda_max, NULL);
    e.which = CG_EIG_SMALLEST;
    if (st == CG_OK)
        st = cg__curv_eigen(op, &e, 1, &res->lambda_min, NULL);
    return st;
}

cg_status cg_classify_stationary_point(cg_grad_fn fn, cg_tensor *const *params, int n, void *ctx,
                                       const cg_stationary_options *options,
                                       cg_stationary_point *result)
{
    const char *who = "cg_classify_stationary_point";
    cg_stationary_options o = options ? *options : cg_stationary_defaults();
    cg_stationary_point res = {CG_POINT_NOT_STATIONARY, NAN, NAN, NAN, false};
    int64_t dim;
    if (result)
        *result = res;
    if (cg__curv_check_problem(who, fn, params, n, &dim) != CG_OK)
        return cg_last_status();
    if (!result)
        return cg__error(CG_ERR_NULL, "%s: NULL result", who);
    if (bad_tol(o.grad_tol) || bad_tol(o.curvature_tol))
        return cg__error(CG_ERR_VALUE, "%s: grad_tol = %g, curvature_tol = %g; need both >= 0",
                         who, o.grad_tol, o.curvature_tol);
    o.eig.which = CG_EIG_LARGEST;
    hess_op op;
    if (check_eig(who, &o.eig, 1, dim) != CG_OK ||
        cg__curv_op_init(&op, who, fn, params, n, ctx, dim) != CG_OK)
        return cg_last_status();
    cg_status st = examine(&op, &o, &res);
    cg__curv_op_free(&op);
    if (st == CG_OK)
        classify(&res, &o);
    *result = res;
    return st;
}
