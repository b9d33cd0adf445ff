/*
 * The operator x -> H x on flat double vectors, in the layout of theta (the parameters
 * concatenated), on which every curvature tool is built. A product evaluates the loss on a
 * private tape, records its gradient (create_graph) and differentiates the gradient's inner
 * product with the direction: double backward. The tape is reset before each product, so
 * its pooled memory is reused and an iteration allocates nothing after the first.
 */
#include <string.h>

#include "core.h"
#include "cgrad/ops.h"
#include "curvature_impl.h"

/* ---- memory: each call owns a few blocks, freed together ---- */

void *cg__curv_block_alloc(block *b, int64_t rows, int64_t cols, size_t size, const char *who)
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

void cg__curv_block_free(block *b)
{
    cg__free(b->p, b->bytes);
    b->p = NULL, b->bytes = 0;
}

/* ---- checking arguments ---- */

/* The function and its parameters; *dim receives N, the number of parameter elements. */
cg_status cg__curv_check_problem(const char *who, cg_grad_fn fn, cg_tensor *const *params,
                                 int n, int64_t *dim)
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

void cg__curv_op_free(hess_op *op)
{
    for (int j = 0; op->dir && j < op->n; j++)
        cg_tensor_free(op->dir[j]);
    cg__curv_block_free(&op->ptr_block);
    cg_tape_free(op->tape);
    memset(op, 0, sizeof *op);
}

cg_status cg__curv_op_init(hess_op *op, const char *who, cg_grad_fn fn,
                           cg_tensor *const *params, int n, void *ctx, int64_t dim)
{
    memset(op, 0, sizeof *op);
    op->who = who, op->fn = fn, op->params = params, op->n = n, op->ctx = ctx, op->dim = dim;
    cg_tensor **p = cg__curv_block_alloc(&op->ptr_block, 5, n, sizeof *p, who);
    if (!p)
        return cg_last_status();
    memset(p, 0, op->ptr_block.bytes);
    op->dir = p, op->ptrs = p + n;
    op->tape = cg_tape_new();
    for (int j = 0; op->tape && j < n; j++)
        if (!(op->dir[j] = cg_tensor_zeros(params[j]->dtype, params[j]->ndim, params[j]->shape)))
            break;
    if (!op->tape || !op->dir[n - 1]) {
        cg__curv_op_free(op);
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
cg_status cg__curv_op_apply(hess_op *op, const double *x, double *y)
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
cg_status cg__curv_op_gradient(hess_op *op, double *g)
{
    scope s = scope_enter(op);
    cg_status st = loss_grad(op, false, op->ptrs);
    if (st == CG_OK)
        gather(op, op->ptrs, g);
    scope_leave(s);
    return st;
}

/* ---- cg_hvp ---- */

cg_status cg_hvp(cg_grad_fn fn, cg_tensor *const *params, int n, void *ctx, cg_tensor *const *v,
                 cg_tensor *const *hv)
{
    const char *who = "cg_hvp";
    int64_t dim;
    if (cg__curv_check_problem(who, fn, params, n, &dim) != CG_OK ||
        check_like_params(who, "v", v, params, n) != CG_OK ||
        check_like_params(who, "hv", hv, params, n) != CG_OK)
        return cg_last_status();
    for (int j = 0; j < n; j++)
        for (int i = 0; i < n; i++)
            if (hv[j] == params[i])
                return cg__error(CG_ERR_VALUE, "%s: hv[%d] is params[%d]", who, j, i);
    hess_op op;
    block b;
    if (cg__curv_op_init(&op, who, fn, params, n, ctx, dim) != CG_OK)
        return cg_last_status();
    double *x = cg__curv_block_alloc(&b, 2, dim, sizeof(double), who);
    cg_status st = x ? CG_OK : cg_last_status();
    if (x) {
        gather(&op, v, x);
        st = cg__curv_op_apply(&op, x, x + dim);
    }
    if (st == CG_OK)
        scatter(&op, x + dim, hv);
    cg__curv_block_free(&b);
    cg__curv_op_free(&op);
    return st;
}
