/*
 * Curvature tools: Hessian-vector products by double backward, extreme Hessian eigenvalues
 * by Lanczos or power iteration, the quadratic model's step size along -g, and the
 * second-order test at a stationary point.
 *
 * Everything is built on one operator, x -> H x on flat double vectors (hess_op below),
 * which evaluates the loss on a private tape. The tape is reset before each product, so its
 * pooled memory is reused and an iteration allocates nothing after the first. The linear
 * algebra works on double vectors in the layout of theta (the parameters concatenated).
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "core.h"
#include "cgrad/curvature.h"
#include "cgrad/ops.h"

/* ---- memory: each call owns a few blocks, freed together ---- */

typedef struct block {
    void *p;
    size_t bytes;
} block;

/* rows * cols elements of size bytes, or NULL with CG_ERR_NOMEM (also when the size
 * overflows: rows * dim can be large for a big model). */
static void *block_alloc(block *b, int64_t rows, int64_t cols, size_t size, const char *who)
{
    b->p = NULL, b->bytes = 0;
    rows = rows < 1 ? 1 : rows, cols = cols < 1 ? 1 : cols;
    if ((uint64_t)rows > SIZE_MAX / size / (uint64_t)cols ||
        !(b->p = cg__malloc((size_t)rows * (size_t)cols * size))) {
        cg__error(CG_ERR_NOMEM, "%s: out of memory (%lld x %lld elements of %zu bytes)", who,
                  (long long)rows, (long long)cols, size);
        return NULL;
    }
    b->bytes = (size_t)rows * (size_t)cols * size;
    return b->p;
}

static void block_free(block *b)
{
    cg__free(b->p, b->bytes);
    b->p = NULL, b->bytes = 0;
}

/* ---- dense vector helpers (double, length dim) ---- */

static double dot(const double *a, const double *b, int64_t dim)
{
    double s = 0;
    for (int64_t i = 0; i < dim; i++)
        s += a[i] * b[i];
    return s;
}

static double norm2(const double *a, int64_t dim) { return sqrt(dot(a, a, dim)); }

/* y += a x */
static void axpy(double a, const double *x, double *y, int64_t dim)
{
    for (int64_t i = 0; i < dim; i++)
        y[i] += a * x[i];
}

static void scale(double a, double *x, int64_t dim)
{
    for (int64_t i = 0; i < dim; i++)
        x[i] *= a;
}

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

/* ---- checking arguments ---- */

/* The function and its parameters; *dim receives N, the number of parameter elements. */
static cg_status check_problem(const char *who, cg_grad_fn fn, cg_tensor *const *params, int n,
                               int64_t *dim)
{
    if (!fn || !params)
        return cg__error(CG_ERR_NULL, "%s: NULL %s", who, fn ? "params" : "fn");
    if (n <= 0)
        return cg__error(CG_ERR_VALUE, "%s: n = %d; need at least one parameter", who, n);
    int64_t total = 0;
    for (int j = 0; j < n; j++) {
        const cg_tensor *p = params[j];
        if (!p)
            return cg__error(CG_ERR_NULL, "%s: params[%d] is NULL", who, j);
        if (!cg__check_tensor(p, who))
            return cg_last_status();
        if (!p->requires_grad)
            return cg__error(CG_ERR_VALUE, "%s: params[%d] does not require grad", who, j);
        if (p->node)
            return cg__error(CG_ERR_VALUE, "%s: params[%d] is not a leaf tensor", who, j);
        for (int i = 0; i < j; i++)
            if (params[i] == p)
                return cg__error(CG_ERR_VALUE, "%s: params[%d] repeats params[%d]", who, j, i);
        total += cg__shape_numel(p->ndim, p->shape);
    }
    if (total == 0)
        return cg__error(CG_ERR_VALUE, "%s: the parameters have no elements", who);
    *dim = total;
    return CG_OK;
}

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

/* v or hv of cg_hvp: tensors shaped like the parameters, of a float dtype. */
static cg_status check_like_params(const char *who, const char *name, cg_tensor *const *t,
                                   cg_tensor *const *params, int n)
{
    char a[96], b[96];
    if (!t)
        return cg__error(CG_ERR_NULL, "%s: NULL %s", who, name);
    for (int j = 0; j < n; j++) {
        if (!t[j])
            return cg__error(CG_ERR_NULL, "%s: %s[%d] is NULL", who, name, j);
        if (!cg__check_tensor(t[j], who))
            return cg_last_status();
        const cg_tensor *p = params[j];
        if (t[j]->ndim != p->ndim ||
            memcmp(t[j]->shape, p->shape, sizeof(int64_t) * (size_t)p->ndim))
            return cg__error(CG_ERR_SHAPE, "%s: %s[%d] has shape %s but params[%d] has %s", who,
                             name, j, cg__shape_str(t[j]->ndim, t[j]->shape, a, sizeof a), j,
                             cg__shape_str(p->ndim, p->shape, b, sizeof b));
        if (!cg__is_float(t[j]->dtype))
            return cg__error(CG_ERR_DTYPE, "%s: %s[%d] has dtype %s; need f32 or f64", who,
                             name, j, cg_dtype_name(t[j]->dtype));
    }
    return CG_OK;
}

/* ---- the operator x -> H x ---- */

typedef struct hess_op {
    const char *who;
    cg_grad_fn fn;
    cg_tensor *const *params;
    int n;
    void *ctx;
    int64_t dim;
    cg_tape *tape;
    cg_tensor **dir;   /* the direction v, one caller-owned tensor per parameter */
    cg_tensor **ptrs;  /* 4n scratch pointers: gradients, outputs, seeds, products */
    block ptr_block;
    double norm_est;   /* largest ||H x|| / ||x|| seen: a lower bound of ||H||, scales tolerances */
} hess_op;

static void op_free(hess_op *op)
{
    for (int j = 0; op->dir && j < op->n; j++)
        cg_tensor_free(op->dir[j]);
    block_free(&op->ptr_block);
    cg_tape_free(op->tape);
    memset(op, 0, sizeof *op);
}

static cg_status op_init(hess_op *op, const char *who, cg_grad_fn fn, cg_tensor *const *params,
                         int n, void *ctx, int64_t dim)
{
    memset(op, 0, sizeof *op);
    op->who = who, op->fn = fn, op->params = params, op->n = n, op->ctx = ctx, op->dim = dim;
    cg_tensor **p = block_alloc(&op->ptr_block, 5, n, sizeof *p, who);
    if (!p)
        return cg_last_status();
    memset(p, 0, op->ptr_block.bytes);
    op->dir = p, op->ptrs = p + n;
    op->tape = cg_tape_new();
    for (int j = 0; op->tape && j < n; j++)
        if (!(op->dir[j] = cg_tensor_zeros(params[j]->dtype, params[j]->ndim, params[j]->shape)))
            break;
    if (!op->tape || !op->dir[n - 1]) {
        op_free(op);
        return cg_last_status();
    }
    return CG_OK;
}

/* The private tape active and grad mode on, for the length of one product. */
typedef struct scope {
    cg_tape *tape;
    bool grad_mode;
} scope;

static scope scope_enter(const hess_op *op)
{
    scope s = {cg_tape_use(op->tape), cg_set_grad_enabled(true)};
    return s;
}

static void scope_leave(scope s)
{
    cg_set_grad_enabled(s.grad_mode);
    cg_tape_use(s.tape);
}

/* A fresh evaluation of the loss on the private tape; NULL with an error if it is unusable. */
static cg_tensor *eval_loss(const hess_op *op)
{
    char buf[96];
    cg_tape_reset(op->tape);
    uint64_t errors = cg__error_count();
    cg_tensor *y = op->fn(op->params, op->n, op->ctx);
    if (!y) {
        if (cg__error_count() == errors)
            cg__error(CG_ERR_NULL, "%s: the loss function returned NULL", op->who);
        return NULL;
    }
    if (!cg__check_tensor(y, op->who))
        return NULL;
    if (!cg__is_float(y->dtype)) {
        cg__error(CG_ERR_DTYPE, "%s: the loss has dtype %s; need f32 or f64", op->who,
                  cg_dtype_name(y->dtype));
        return NULL;
    }
    if (cg__shape_numel(y->ndim, y->shape) != 1) {
        cg__error(CG_ERR_SHAPE, "%s: the loss must have one element; it has shape %s", op->who,
                  cg__shape_str(y->ndim, y->shape, buf, sizeof buf));
        return NULL;
    }
    return y;
}

/* g[j] = df/dparams[j] on the private tape (NULL where f does not depend on it). */
static cg_status loss_grad(const hess_op *op, bool create_graph, cg_tensor **g)
{
    cg_tensor *y = eval_loss(op);
    for (int j = 0; j < op->n; j++)
        g[j] = NULL;
    if (!y)
        return cg_last_status();
    if (!y->requires_grad) /* a constant loss: every derivative is zero */
        return CG_OK;
    cg_grad_options o = {create_graph, true};
    return cg_grad(&y, 1, NULL, op->params, op->n, g, &o);
}

/* Copy the n tensors t (NULL meaning zeros) into the flat vector out. */
static void gather(const hess_op *op, cg_tensor *const *t, double *out)
{
    int64_t off = 0;
    for (int j = 0; j < op->n; j++) {
        int64_t m = cg_tensor_numel(op->params[j]);
        if (t[j])
            cg_tensor_to_f64(t[j], out + off);
        else
            memset(out + off, 0, sizeof(double) * (size_t)m);
        off += m;
    }
}

/* Write the flat vector x into the n tensors t, converting to their dtypes. */
static void scatter(const hess_op *op, const double *x, cg_tensor *const *t)
{
    int64_t off = 0;
    for (int j = 0; j < op->n; j++) {
        int64_t m = cg_tensor_numel(t[j]);
        for (int64_t i = 0; i < m; i++)
            cg__store(t[j], cg__storage_index(t[j], i), x[off + i]);
        cg__bump_version(t[j]);
        off += m;
    }
}

/* H v with v in op->dir: g = grad f recorded (create_graph), then grad <g, v>. Passing the
 * g's as outputs and the v's as their grad_outputs lets cg_grad form the sum of the inner
 * products itself, so parameters of different dtypes need no common scalar. */
static cg_status hvp_on_tape(const hess_op *op, double *y)
{
    int n = op->n, m = 0;
    cg_tensor **g = op->ptrs, **outs = g + n, **seeds = outs + n, **hv = seeds + n;
    cg_status st = loss_grad(op, true, g);
    for (int j = 0; j < n; j++) {
        hv[j] = NULL;
        if (g[j] && g[j]->requires_grad) /* a g that is constant contributes nothing */
            outs[m] = g[j], seeds[m++] = op->dir[j];
    }
    if (st == CG_OK && m > 0) {
        cg_grad_options o = {false, true};
        st = cg_grad(outs, m, seeds, op->params, n, hv, &o);
    }
    if (st == CG_OK)
        gather(op, hv, y);
    return st;
}

/* y = H x (x and y of op->dim doubles, distinct). */
static cg_status op_apply(hess_op *op, const double *x, double *y)
{
    scatter(op, x, op->dir);
    scope s = scope_enter(op);
    cg_status st = hvp_on_tape(op, y);
    scope_leave(s);
    if (st != CG_OK)
        return st;
    double nx = norm2(x, op->dim), ny = norm2(y, op->dim);
    if (nx > 0 && ny / nx > op->norm_est)
        op->norm_est = ny / nx;
    return CG_OK;
}

/* g = grad f at the current point, flat. */
static cg_status op_gradient(hess_op *op, double *g)
{
    scope s = scope_enter(op);
    cg_status st = loss_grad(op, false, op->ptrs);
    if (st == CG_OK)
        gather(op, op->ptrs, g);
    scope_leave(s);
    return st;
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
        cg_status st = op_apply(op, qj, ws->w);
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
    ws.q = block_alloc(&basis, m + 1, dim, sizeof(double), who);
    ws.alpha = ws.q ? block_alloc(&small, m + 4, m, sizeof(double), who) : NULL;
    ws.idx = ws.alpha ? block_alloc(&ints, 1, m, sizeof(int), who) : NULL;
    if (!ws.idx) {
        block_free(&small);
        block_free(&basis);
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
    block_free(&ints);
    block_free(&small);
    block_free(&basis);
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
        cg_status st = op_apply(op, x, w);
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
        cg_status st = op_apply(op, x, w);
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
    double *p = block_alloc(&b, vecs ? 2 : k + 2, dim, sizeof(double), op->who);
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
    block_free(&b);
    return st;
}

/* ---- public functions ---- */

cg_eig_options cg_eig_defaults(void)
{
    cg_eig_options o = {CG_EIG_LANCZOS, CG_EIG_LARGEST, 100, 1e-6, 0};
    return o;
}

static cg_status run_eig(hess_op *op, const cg_eig_options *o, int k, double *vals, double *vecs)
{
    return o->method == CG_EIG_LANCZOS ? lanczos(op, o, k, vals, vecs)
                                       : power(op, o, k, vals, vecs);
}

cg_status cg_hessian_eigenvalues(cg_grad_fn fn, cg_tensor *const *params, int n, void *ctx,
                                 int k, const cg_eig_options *options, double *eigenvalues,
                                 double *eigenvectors)
{
    const char *who = "cg_hessian_eigenvalues";
    cg_eig_options o = options ? *options : cg_eig_defaults();
    int64_t dim;
    hess_op op;
    if (check_problem(who, fn, params, n, &dim) != CG_OK)
        return cg_last_status();
    if (!eigenvalues)
        return cg__error(CG_ERR_NULL, "%s: NULL eigenvalues", who);
    if (check_eig(who, &o, k, dim) != CG_OK || op_init(&op, who, fn, params, n, ctx, dim) != CG_OK)
        return cg_last_status();
    cg_status st = run_eig(&op, &o, k, eigenvalues, eigenvectors);
    op_free(&op);
    return st;
}

cg_status cg_hvp(cg_grad_fn fn, cg_tensor *const *params, int n, void *ctx, cg_tensor *const *v,
                 cg_tensor *const *hv)
{
    const char *who = "cg_hvp";
    int64_t dim;
    if (check_problem(who, fn, params, n, &dim) != CG_OK ||
        check_like_params(who, "v", v, params, n) != CG_OK ||
        check_like_params(who, "hv", hv, params, n) != CG_OK)
        return cg_last_status();
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++)
            if (hv[j] == params[i])
                return cg__error(CG_ERR_VALUE, "%s: hv[%d] is params[%d]", who, j, i);
    hess_op op;
    block b;
    if (op_init(&op, who, fn, params, n, ctx, dim) != CG_OK)
        return cg_last_status();
    double *x = block_alloc(&b, 2, dim, sizeof(double), who);
    cg_status st = x ? CG_OK : cg_last_status();
    if (x) {
        gather(&op, v, x);
        st = op_apply(&op, x, x + dim);
    }
    if (st == CG_OK)
        scatter(&op, x + dim, hv);
    block_free(&b);
    op_free(&op);
    return st;
}

/* alpha = |g|^2 / g^T H g with g and H g computed into x[0..dim) and x[dim..2 dim). */
static cg_status step_size(hess_op *op, double *x, double *alpha)
{
    double *g = x, *hg = x + op->dim;
    cg_status st = op_gradient(op, g);
    if (st != CG_OK)
        return st;
    double gg = dot(g, g, op->dim);
    if (gg == 0)
        return cg__error(CG_ERR_VALUE, "%s: the gradient is zero; the point is already "
                                       "stationary",
                         op->who);
    if ((st = op_apply(op, g, hg)) != CG_OK)
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
    if (check_problem(who, fn, params, n, &dim) != CG_OK)
        return cg_last_status();
    if (!alpha)
        return cg__error(CG_ERR_NULL, "%s: NULL alpha", who);
    hess_op op;
    block b;
    if (op_init(&op, who, fn, params, n, ctx, dim) != CG_OK)
        return cg_last_status();
    double *x = block_alloc(&b, 2, dim, sizeof(double), who);
    cg_status st = x ? step_size(&op, x, alpha) : cg_last_status();
    block_free(&b);
    op_free(&op);
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
    double *g = block_alloc(&b, 1, op->dim, sizeof(double), op->who);
    cg_status st = g ? op_gradient(op, g) : cg_last_status();
    if (st == CG_OK)
        res->grad_norm = norm2(g, op->dim);
    block_free(&b);
    cg_eig_options e = o->eig;
    e.which = CG_EIG_LARGEST;
    if (st == CG_OK)
        st = run_eig(op, &e, 1, &res->lambda_max, NULL);
    e.which = CG_EIG_SMALLEST;
    if (st == CG_OK)
        st = run_eig(op, &e, 1, &res->lambda_min, NULL);
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
    if (check_problem(who, fn, params, n, &dim) != CG_OK)
        return cg_last_status();
    if (!result)
        return cg__error(CG_ERR_NULL, "%s: NULL result", who);
    if (bad_tol(o.grad_tol) || bad_tol(o.curvature_tol))
        return cg__error(CG_ERR_VALUE, "%s: grad_tol = %g, curvature_tol = %g; need both >= 0",
                         who, o.grad_tol, o.curvature_tol);
    o.eig.which = CG_EIG_LARGEST;
    hess_op op;
    if (check_eig(who, &o.eig, 1, dim) != CG_OK ||
        op_init(&op, who, fn, params, n, ctx, dim) != CG_OK)
        return cg_last_status();
    cg_status st = examine(&op, &o, &res);
    op_free(&op);
    if (st == CG_OK)
        classify(&res, &o);
    *result = res;
    return st;
}
