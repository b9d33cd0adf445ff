/*
 * Extreme eigenpairs of the Hessian operator (curvature_hvp.c): Lanczos with full
 * reorthogonalisation, whose tridiagonal matrix T is solved by implicit QL, or power
 * iteration with deflation and shifts. Both work on double vectors of op->dim and touch
 * the Hessian only through cg__curv_op_apply.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core.h"
#include "curvature_impl.h"

/* ---- the basis ---- */

/* Remove from w its components along the m orthonormal rows of basis. Two classical
 * Gram-Schmidt passes: one loses orthogonality when w lies nearly in their span (which is
 * exactly when Lanczos converges), and a second is enough (Kahan, Parlett). */
static void orthogonalize(double *w, const double *basis, int m, int64_t dim)
{
    for (int pass = 0; pass < 2; pass++)
        for (int r = 0; r < m; r++)
            axpy(-dot(basis + r * dim, w, dim), basis + r * dim, w, dim);
}

/* A random unit vector orthogonal to the m rows of basis; false when they span the space. */
static bool random_start(cg_rng *rng, double *x, const double *basis, int m, int64_t dim)
{
    for (int attempt = 0; attempt < 3 && m < dim; attempt++) {
        for (int64_t i = 0; i < dim; i++)
            x[i] = 2 * cg_rng_uniform(rng) - 1;
        double before = norm2(x, dim);
        orthogonalize(x, basis, m, dim);
        double after = norm2(x, dim);
        if (after > 1e-8 * before) {
            scale(1 / after, x, dim);
            return true;
        }
    }
    return false;
}

/* ---- the symmetric tridiagonal eigenproblem ---- */

/*
 * One implicit QL step on the unreduced block l..end: a shift from the leading 2x2 block
 * (its eigenvalue nearer d[l]), then Givens rotations chasing the bulge from the bottom of
 * the block to its top. The rotations are applied to the columns of the r rows of z.
 */
static void ql_step(double *d, double *e, double *z, int r, int m, int l, int end)
{
    double t = (d[l + 1] - d[l]) / (2 * e[l]);
    double shift = d[l] - e[l] / (t + copysign(hypot(t, 1.0), t));
    double g = d[end] - shift, s = 1, c = 1, p = 0;
    for (int i = end - 1; i >= l; i--) {
        double f = s * e[i], b = c * e[i], h = hypot(f, g);
        e[i + 1] = h;
        if (h == 0) { /* underflow split the block: undo the partial shift, scan again */
            d[i + 1] -= p;
            e[end] = 0;
            return;
        }
        s = f / h, c = g / h;
        g = d[i + 1] - p;
        h = (d[i] - g) * s + 2 * c * b;
        p = s * h;
        d[i + 1] = g + p;
        g = c * h - b;
        for (int k = 0; k < r; k++) {
            double *zk = z + (size_t)k * (size_t)m;
            double zi = zk[i], zi1 = zk[i + 1];
            zk[i + 1] = s * zi + c * zi1;
            zk[i] = c * zi - s * zi1;
        }
    }
    d[l] -= p;
    e[l] = g;
    e[end] = 0;
}

/*
 * Eigenvalues of the symmetric tridiagonal matrix with diagonal d[0..m) and off-diagonal
 * e[0..m-1) (e[i] joins rows i and i+1), by implicit QL with shifts: d receives them
 * (unsorted); e, which needs m entries, is destroyed. Rows of the identity in z (r x m)
 * become the same rows of the eigenvector matrix: the last row alone gives Lanczos'
 * residual estimates in O(m^2). False if an eigenvalue needs more than 60 steps.
 */
static bool tridiag_eigen(int m, double *d, double *e, double *z, int r)
{
    e[m - 1] = 0;
    for (int l = 0; l < m; l++) {
        for (int iter = 0;; iter++) {
            int end = l;
            while (end < m - 1 && fabs(e[end]) > DBL_EPSILON * (fabs(d[end]) + fabs(d[end + 1])))
                end++;
            if (end == l)
                break; /* e[l] negligible: d[l] is an eigenvalue */
            if (iter == 60)
                return false;
            ql_step(d, e, z, r, m, l, end);
        }
    }
    return true;
}

/* Whether eigenvalue a comes before b in the order of `which`. */
static bool ranks_before(cg_eig_which which, double a, double b)
{
    switch (which) {
    case CG_EIG_LARGEST:
        return a > b;
    case CG_EIG_SMALLEST:
        return a < b;
    default:
        return fabs(a) > fabs(b);
    }
}

/* idx[0..m) ordered as `which` ranks vals, best first (insertion sort: m is small). */
static void rank_values(const double *vals, int m, cg_eig_which which, int *idx)
{
    for (int i = 0; i < m; i++) {
        int j = i;
        for (; j > 0 && ranks_before(which, vals[i], vals[idx[j - 1]]); j--)
            idx[j] = idx[j - 1];
        idx[j] = i;
    }
}

/* ---- Lanczos with full reorthogonalisation ---- */

typedef struct lanczos_ws {
    double *q;           /* mmax rows of dim: the orthonormal basis */
    double *w;           /* the next basis vector before normalisation */
    double *alpha, *beta;/* T's diagonal and off-diagonal; beta 0 where a restart began */
    double *d, *e, *z;   /* tridiagonal work: values, off-diagonal, eigenvector rows */
    int *idx;            /* Ritz values ranked */
    double ritz_max;     /* largest |Ritz value|: a better estimate of |H| than products give */
    int mmax;
} lanczos_ws;

/*
 * Ritz values of T_j ranked into ws->idx; the largest residual estimate |b z_last| among
 * the k wanted in *worst (b: the norm of the vector that would extend the basis). With
 * full_z, ws->z receives all j rows of T_j's eigenvectors, for the Ritz vectors.
 */
static cg_status ritz(lanczos_ws *ws, int j, double b, int k, cg_eig_which which, bool full_z,
                      double *worst)
{
    int r = full_z ? j : 1;
    memcpy(ws->d, ws->alpha, sizeof(double) * (size_t)j);
    memcpy(ws->e, ws->beta, sizeof(double) * (size_t)j);
    memset(ws->z, 0, sizeof(double) * (size_t)r * (size_t)j);
    for (int i = 0; i < r; i++) /* rows j-r..j-1 of the identity */
        ws->z[(size_t)i * (size_t)j + (size_t)(j - r + i)] = 1;
    if (!tridiag_eigen(j, ws->d, ws->e, ws->z, r))
        return cg__error(CG_ERR_STATE, "cg_hessian_eigenvalues: the tridiagonal eigensolver "
                                       "did not converge (order %d)",
                         j);
    rank_values(ws->d, j, which, ws->idx);
    for (int i = 0; i < j; i++)
        ws->ritz_max = fmax(ws->ritz_max, fabs(ws->d[i]));
    const double *last = ws->z + (size_t)(r - 1) * (size_t)j;
    *worst = 0;
    for (int i = 0; i < k && i < j; i++)
        *worst = fmax(*worst, fabs(b * last[ws->idx[i]]));
    return CG_OK;
}

/* Outputs: the k wanted Ritz values and, if vecs, Ritz vectors y = Q s normalised. */
static cg_status lanczos_output(lanczos_ws *ws, int j, int k, cg_eig_which which, int64_t dim,
                                double *vals, double *vecs)
{
    double unused;
    cg_status st = ritz(ws, j, 0, k, which, vecs != NULL, &unused);
    for (int i = 0; st == CG_OK && i < k; i++) {
        double *y = vecs ? vecs + (size_t)i * (size_t)dim : NULL;
        if (y)
            memset(y, 0, sizeof(double) * (size_t)dim);
        vals[i] = NAN; /* fewer Ritz values than wanted (the caller reports it) */
        if (i >= j)
            continue;
        int c = ws->idx[i];
        vals[i] = ws->d[c];
        if (!y)
            continue;
        for (int row = 0; row < j; row++)
            axpy(ws->z[(size_t)row * (size_t)j + (size_t)c], ws->q + (size_t)row * (size_t)dim,
                 y, dim);
        double nrm = norm2(y, dim);
        if (nrm > 0)
            scale(1 / nrm, y, dim);
    }
    return st;
}

/*
 * Extend the basis by one vector: q_{j+1} from the new direction w and its norm b. When b
 * is negligible the Krylov space is invariant (its Ritz values are exact); a random vector
 * orthogonal to the basis starts a new block (beta 0 decouples it in T), so eigenvalues the
 * first start vector could not reach are still found. False when the basis fills the space.
 */
static bool lanczos_extend(lanczos_ws *ws, hess_op *op, cg_rng *rng, int j, double b)
{
    double *next = ws->q + (size_t)j * (size_t)op->dim;
    if (b > 1e-12 * op->norm_est) {
        memcpy(next, ws->w, sizeof(double) * (size_t)op->dim);
        scale(1 / b, next, op->dim);
        return true;
    }
    ws->beta[j - 1] = 0;
    return random_start(rng, next, ws->q, j, op->dim);
}

/* Lanczos steps until the k wanted Ritz pairs converge, the basis fills the space, or
 * max_iter steps; *steps receives the basis size and *resid the worst wanted residual. */
static cg_status lanczos_iterate(lanczos_ws *ws, hess_op *op, const cg_eig_options *o, int k,
                                 int *steps, double *resid)
{
    int64_t dim = op->dim;
    cg_rng rng = cg_rng_init(o->seed);
    random_start(&rng, ws->q, NULL, 0, dim);
    for (int j = 0;; j++) {
        const double *qj = ws->q + (size_t)j * (size_t)dim;
        cg_status st = cg__curv_op_apply(op, qj, ws->w);
        if (st != CG_OK)
            return st;
        ws->alpha[j] = dot(qj, ws->w, dim);
        axpy(-ws->alpha[j], qj, ws->w, dim);
        if (j > 0)
            axpy(-ws->beta[j - 1], qj - dim, ws->w, dim);
        orthogonalize(ws->w, ws->q, j + 1, dim);
        double b = norm2(ws->w, dim);
        ws->beta[j] = b;
        *steps = j + 1;
        st = ritz(ws, j + 1, b, k, o->which, false, resid);
        if (st != CG_OK)
            return st;
        op->norm_est = fmax(op->norm_est, ws->ritz_max);
        bool converged = j + 1 >= k && *resid <= o->tol * op->norm_est;
        if (converged || j + 1 == ws->mmax || !lanczos_extend(ws, op, &rng, j + 1, b))
            return CG_OK;
    }
}

static cg_status lanczos(hess_op *op, const cg_eig_options *o, int k, double *vals, double *vecs)
{
    const char *who = op->who;
    int64_t dim = op->dim;
    lanczos_ws ws;
    ws.ritz_max = 0;
    ws.mmax = (int)(o->max_iter < dim ? o->max_iter : dim);
    int64_t m = ws.mmax;
    block basis = {NULL, 0}, small = {NULL, 0}, ints = {NULL, 0};
    ws.q = cg__curv_block_alloc(&basis, m + 1, dim, sizeof(double), who);
    ws.alpha = ws.q ? cg__curv_block_alloc(&small, m + 4, m, sizeof(double), who) : NULL;
    ws.idx = ws.alpha ? cg__curv_block_alloc(&ints, 1, m, sizeof(int), who) : NULL;
    if (!ws.idx) {
        cg__curv_block_free(&small);
        cg__curv_block_free(&basis);
        return cg_last_status();
    }
    ws.w = ws.q + m * dim;
    ws.beta = ws.alpha + m, ws.d = ws.beta + m, ws.e = ws.d + m, ws.z = ws.e + m;
    int steps = 0;
    double resid = 0;
    cg_status st = lanczos_iterate(&ws, op, o, k, &steps, &resid);
    if (st == CG_OK)
        st = lanczos_output(&ws, steps, k, o->which, dim, vals, vecs);
    /* A full basis (or an exhausted space) is exact whatever the residual estimate says. */
    if (st == CG_OK && steps < dim && (steps < k || resid > o->tol * op->norm_est))
        st = cg__error(CG_ERR_STATE, "%s: Lanczos did not converge in %d steps (residual %.3g > "
                                     "tol %.3g x |H| %.3g)",
                       who, steps, resid, o->tol, op->norm_est);
    cg__curv_block_free(&ints);
    cg__curv_block_free(&small);
    cg__curv_block_free(&basis);
    return st;
}

/* ---- power iteration with deflation ---- */

/* A value just above |H| = max |lambda|, for the shifts: power iteration on H until ||H x||
 * (nondecreasing for symmetric H) settles, plus a 5% margin because it approaches from
 * below, and the shifted spectrum must keep the wanted end dominant. */
static cg_status spectral_bound(hess_op *op, const cg_eig_options *o, cg_rng *rng, double *x,
                                double *w, double *bound)
{
    int64_t dim = op->dim;
    random_start(rng, x, NULL, 0, dim);
    double prev = 0;
    for (int it = 0; it < o->max_iter; it++) {
        cg_status st = cg__curv_op_apply(op, x, w);
        if (st != CG_OK)
            return st;
        double nu = norm2(w, dim);
        if (nu == 0 || (it > 0 && nu - prev <= o->tol * nu))
            break;
        prev = nu;
        memcpy(x, w, sizeof(double) * (size_t)dim);
        scale(1 / nu, x, dim);
    }
    *bound = 1.05 * op->norm_est;
    return CG_OK;
}

/*
 * One eigenpair by power iteration on P (H + shift I) P, P projecting out the i rows of U
 * (the eigenvectors found so far). x ends as the unit eigenvector, *lambda = x^T H x.
 * Converged when the deflated residual ||P H x - lambda x|| <= tol |H|.
 */
static cg_status power_one(hess_op *op, const cg_eig_options *o, cg_rng *rng, const double *U,
                           int i, double shift, double *x, double *w, double *lambda)
{
    int64_t dim = op->dim;
    double resid = INFINITY;
    if (!random_start(rng, x, U, i, dim))
        return cg__error(CG_ERR_STATE, "%s: no start vector orthogonal to %d eigenvectors",
                         op->who, i);
    for (int it = 0; it < o->max_iter; it++) {
        cg_status st = cg__curv_op_apply(op, x, w);
        if (st != CG_OK)
            return st;
        orthogonalize(w, U, i, dim);
        *lambda = dot(x, w, dim);
        axpy(-*lambda, x, w, dim); /* w = P H x - lambda x: the residual */
        resid = norm2(w, dim);
        if (resid <= o->tol * op->norm_est)
            return CG_OK;
        axpy(*lambda + shift, x, w, dim); /* w = P (H + shift I) x */
        double nrm = norm2(w, dim);
        if (nrm == 0) /* x spans the null space of the shifted operator: an eigenvector */
            return CG_OK;
        memcpy(x, w, sizeof(double) * (size_t)dim);
        scale(1 / nrm, x, dim);
    }
    return cg__error(CG_ERR_STATE, "%s: power iteration did not converge for eigenvalue %d in "
                                   "%d iterations (residual %.3g > tol %.3g x |H| %.3g)",
                     op->who, i, o->max_iter, resid, o->tol, op->norm_est);
}

/* Reorder vals and the rows of U as `which` ranks them (selection sort with row swaps). */
static void sort_pairs(double *vals, double *U, int k, int64_t dim, cg_eig_which which,
                       double *tmp)
{
    for (int i = 0; i < k; i++) {
        int best = i;
        for (int j = i + 1; j < k; j++)
            if (ranks_before(which, vals[j], vals[best]))
                best = j;
        if (best == i)
            continue;
        double v = vals[i];
        vals[i] = vals[best], vals[best] = v;
        size_t row = sizeof(double) * (size_t)dim;
        memcpy(tmp, U + (size_t)i * (size_t)dim, row);
        memcpy(U + (size_t)i * (size_t)dim, U + (size_t)best * (size_t)dim, row);
        memcpy(U + (size_t)best * (size_t)dim, tmp, row);
    }
}

static cg_status power(hess_op *op, const cg_eig_options *o, int k, double *vals, double *vecs)
{
    int64_t dim = op->dim;
    block b;
    double *p = cg__curv_block_alloc(&b, vecs ? 2 : k + 2, dim, sizeof(double), op->who);
    if (!p)
        return cg_last_status();
    double *x = p, *w = p + dim, *U = vecs ? vecs : p + 2 * dim;
    cg_rng rng = cg_rng_init(o->seed);
    double shift = 0, bound = 0;
    cg_status st = CG_OK;
    for (int i = 0; i < k; i++)
        vals[i] = NAN;
    /* Largest (smallest) algebraic: H + cI (H - cI) has that end as its largest magnitude. */
    if (o->which != CG_EIG_LARGEST_MAGNITUDE) {
        st = spectral_bound(op, o, &rng, x, w, &bound);
        shift = o->which == CG_EIG_LARGEST ? bound : -bound;
    }
    for (int i = 0; st == CG_OK && i < k; i++) {
        st = power_one(op, o, &rng, U, i, shift, x, w, &vals[i]);
        memcpy(U + (size_t)i * (size_t)dim, x, sizeof(double) * (size_t)dim);
    }
    if (st == CG_OK)
        sort_pairs(vals, U, k, dim, o->which, w);
    cg__curv_block_free(&b);
    return st;
}

/* ---- dispatch ---- */

cg_status cg__curv_eigen(hess_op *op, const cg_eig_options *o, int k, double *vals,
                         double *vecs)
{
    return o->method == CG_EIG_LANCZOS ? lanczos(op, o, k, vals, vecs)
                                       : power(op, o, k, vals, vecs);
}
