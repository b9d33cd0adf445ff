/* Gradient checks in the manner of torch.autograd.gradcheck: the Jacobian backward
 * computes, row by row (one vector-Jacobian product per output element), against central
 * differences, column by column (two evaluations per input element). Large Jacobians are
 * checked on a sample of rows and columns. */
#include <math.h>
#include <string.h>

#include "op.h"

cg_gradcheck_options cg_gradcheck_defaults(void)
{
    cg_gradcheck_options o;
    memset(&o, 0, sizeof o);
    o.eps = 1e-6;
    o.atol = 1e-5;
    o.rtol = 1e-3;
    o.max_entries = 1000000;
    o.samples = 64;
    return o;
}

/* What one check works on: the function, its inputs, and the rows/columns compared. */
typedef struct check {
    cg_grad_fn fn;
    cg_tensor *const *inputs;
    int ninputs;
    void *ctx;
    cg_gradcheck_options opt;
    cg_tape *tape;
    const char *label;
    char label_buf[64];
    int64_t nout;
} check;

/* Run fn on the private tape; NULL with an error naming the check if it fails. */
static cg_tensor *evaluate(check *c)
{
    cg_tape_reset(c->tape);
    cg_tensor *y = c->fn(c->inputs, c->ninputs, c->ctx);
    if (!y) {
        if (cg_last_status() == CG_OK)
            cg__error(CG_ERR_NULL, "gradcheck: the function returned NULL");
        return NULL;
    }
    if (!cg__check_tensor(y, "gradcheck"))
        return NULL;
    if (!cg__is_float(y->dtype)) {
        cg__error(CG_ERR_DTYPE, "gradcheck: the function's output has dtype %s",
                  cg_dtype_name(y->dtype));
        return NULL;
    }
    return y;
}

/* Indices 0..n-1, or `samples` of them drawn from rng when n * other > max_entries. */
static int64_t pick(int64_t n, int64_t other, const cg_gradcheck_options *o, cg_rng *rng,
                    int64_t *out)
{
    if (n * (other > 0 ? other : 1) <= o->max_entries || n <= o->samples) {
        for (int64_t i = 0; i < n; i++)
            out[i] = i;
        return n;
    }
    for (int64_t i = 0; i < o->samples; i++)
        out[i] = (int64_t)(cg_rng_uniform(rng) * (double)n);
    return o->samples;
}

/* Analytical Jacobian rows: jac[j][r * ncols_j + c] for each checked input j. */
static cg_status analytical(check *c, const int64_t *rows, int64_t nrows, int64_t *const *cols,
                            const int64_t *ncols, double **jac)
{
    int k = 0;
    cg_tensor *wrt[64];
    int which[64];
    for (int j = 0; j < c->ninputs; j++)
        if (c->inputs[j]->requires_grad)
            wrt[k] = c->inputs[j], which[k++] = j;
    for (int64_t r = 0; r < nrows; r++) {
        cg_tensor *y = evaluate(c);
        if (!y)
            return cg_last_status();
        if (!y->requires_grad)
            continue; /* nothing depends on the inputs: the rows stay zero */
        cg_tensor *go = cg__tensor_alloc(c->tape->pool, y->dtype, y->ndim, y->shape);
        if (!go)
            return cg_last_status();
        memset(go->storage->data, 0, go->storage->nbytes);
        cg__store(go, rows[r], 1.0);
        cg_tensor *grads[64];
        cg_grad_options gopt = {false, true};
        if (cg_grad(&y, 1, &go, wrt, k, grads, &gopt) != CG_OK)
            return cg_last_status();
        for (int q = 0; q < k; q++) {
            int j = which[q];
            for (int64_t i = 0; grads[q] && i < ncols[j]; i++)
                jac[j][r * ncols[j] + i] =
                    cg__load(grads[q], cg__storage_index(grads[q], cols[j][i]));
        }
    }
    return CG_OK;
}

/* Numerical Jacobian columns of input j by central differences. */
static cg_status numerical(check *c, int j, const int64_t *rows, int64_t nrows,
                           const int64_t *cols, int64_t ncols, double *jac)
{
    cg_tensor *x = c->inputs[j];
    double eps = c->opt.eps;
    for (int64_t i = 0; i < ncols; i++) {
        int64_t at = cg__storage_index(x, cols[i]);
        double v = cg__load(x, at);
        for (int side = 0; side < 2; side++) {
            cg__store(x, at, side == 0 ? v + eps : v - eps);
            cg_tensor *y = evaluate(c);
            /* Read y before restoring x: y may be a view of x's storage. */
            for (int64_t r = 0; y && r < nrows; r++) {
                double val = cg__load(y, cg__storage_index(y, rows[r]));
                if (side == 0)
                    jac[r * ncols + i] = val;
                else
                    jac[r * ncols + i] = (jac[r * ncols + i] - val) / (2 * eps);
            }
            cg__store(x, at, v);
            if (!y)
                return cg_last_status();
        }
    }
    return CG_OK;
}

/* Compare and report the worst mismatch of input j. */
static cg_status compare(const check *c, int j, const int64_t *rows, int64_t nrows,
                         const int64_t *cols, int64_t ncols, const double *a, const double *n)
{
    double worst = 0;
    int64_t worst_at = -1, bad = 0;
    for (int64_t e = 0; e < nrows * ncols; e++) {
        double diff = fabs(a[e] - n[e]), allowed = c->opt.atol + c->opt.rtol * fabs(n[e]);
        bool ok = diff <= allowed || (isnan(a[e]) && isnan(n[e]));
        if (!ok) {
            bad++;
            double excess = isnan(diff) ? INFINITY : diff / allowed;
            if (worst_at < 0 || excess > worst)
                worst = excess, worst_at = e;
        }
    }
    if (!bad)
        return CG_OK;
    int64_t r = worst_at / ncols, i = worst_at % ncols;
    return cg__error(CG_ERR_GRADCHECK,
                     "gradcheck failed for %s: input %d, output element %lld, input element %lld: "
                     "analytical %.10g, numerical %.10g (%lld of %lld entries mismatch; atol %g, "
                     "rtol %g)",
                     c->label, j, (long long)rows[r], (long long)cols[i], a[worst_at],
                     n[worst_at], (long long)bad, (long long)(nrows * ncols), c->opt.atol,
                     c->opt.rtol);
}

static cg_status validate(const check *c)
{
    if (!c->fn || !c->inputs || c->ninputs <= 0 || c->ninputs > 64)
        return cg__error(CG_ERR_VALUE, "gradcheck: need a function and 1 to 64 inputs");
    if (!(c->opt.eps > 0) || !(c->opt.atol >= 0) || !(c->opt.rtol >= 0) || c->opt.samples < 1)
        return cg__error(CG_ERR_VALUE, "gradcheck: eps must be > 0, atol and rtol >= 0, "
                                       "samples >= 1");
    bool any = false;
    for (int j = 0; j < c->ninputs; j++) {
        if (!cg__check_tensor(c->inputs[j], "gradcheck"))
            return cg_last_status();
        if (!c->inputs[j]->requires_grad)
            continue;
        any = true;
        if (c->inputs[j]->dtype != CG_F64)
            return cg__error(CG_ERR_DTYPE, "gradcheck: input %d is %s; gradcheck needs f64 "
                                           "inputs for precision",
                             j, cg_dtype_name(c->inputs[j]->dtype));
        if (c->inputs[j]->node)
            return cg__error(CG_ERR_VALUE, "gradcheck: input %d is not a leaf tensor", j);
    }
    if (!any)
        return cg__error(CG_ERR_VALUE, "gradcheck: no input requires grad");
    return CG_OK;
}

/* Scratch of one check: index lists and Jacobians, freed together. */
typedef struct scratch {
    int64_t *rows, *cols[64], ncols[64];
    double *an[64], *nu[64];
    size_t bytes_rows, bytes_cols[64], bytes_jac[64];
} scratch;

static void scratch_free(scratch *s, int n)
{
    cg__free(s->rows, s->bytes_rows);
    for (int j = 0; j < n; j++) {
        cg__free(s->cols[j], s->bytes_cols[j]);
        cg__free(s->an[j], s->bytes_jac[j]);
        cg__free(s->nu[j], s->bytes_jac[j]);
    }
}

static cg_status run_check(check *c)
{
    scratch s;
    memset(&s, 0, sizeof s);
    cg_rng rng = cg_rng_init(c->opt.seed);
    int64_t nin_total = 0;
    for (int j = 0; j < c->ninputs; j++)
        if (c->inputs[j]->requires_grad)
            nin_total += cg__shape_numel(c->inputs[j]->ndim, c->inputs[j]->shape);
    s.bytes_rows = sizeof(int64_t) * (size_t)(c->nout > 0 ? c->nout : 1);
    s.rows = cg__malloc(s.bytes_rows);
    int64_t nrows = s.rows ? pick(c->nout, nin_total, &c->opt, &rng, s.rows) : 0;
    cg_status st = s.rows ? CG_OK : cg__error(CG_ERR_NOMEM, "gradcheck: out of memory");
    for (int j = 0; st == CG_OK && j < c->ninputs; j++) {
        if (!c->inputs[j]->requires_grad)
            continue;
        int64_t n = cg__shape_numel(c->inputs[j]->ndim, c->inputs[j]->shape);
        s.bytes_cols[j] = sizeof(int64_t) * (size_t)(n > 0 ? n : 1);
        s.cols[j] = cg__malloc(s.bytes_cols[j]);
        s.ncols[j] = s.cols[j] ? pick(n, c->nout, &c->opt, &rng, s.cols[j]) : 0;
        s.bytes_jac[j] = sizeof(double) * (size_t)(nrows * s.ncols[j] > 0 ? nrows * s.ncols[j] : 1);
        s.an[j] = cg__calloc(1, s.bytes_jac[j]);
        s.nu[j] = cg__calloc(1, s.bytes_jac[j]);
        if (!s.cols[j] || !s.an[j] || !s.nu[j])
            st = cg__error(CG_ERR_NOMEM, "gradcheck: out of memory");
    }
    if (st == CG_OK)
        st = analytical(c, s.rows, nrows, s.cols, s.ncols, s.an);
    for (int j = 0; st == CG_OK && j < c->ninputs; j++)
        if (c->inputs[j]->requires_grad)
            st = numerical(c, j, s.rows, nrows, s.cols[j], s.ncols[j], s.nu[j]);
    for (int j = 0; st == CG_OK && j < c->ninputs; j++)
        if (c->inputs[j]->requires_grad)
            st = compare(c, j, s.rows, nrows, s.cols[j], s.ncols[j], s.an[j], s.nu[j]);
    scratch_free(&s, c->ninputs);
    return st;
}

cg_status cg_gradcheck(cg_grad_fn fn, cg_tensor *const *inputs, int ninputs, void *ctx,
                       const cg_gradcheck_options *options)
{
    check c;
    memset(&c, 0, sizeof c);
    c.fn = fn, c.inputs = inputs, c.ninputs = ninputs, c.ctx = ctx;
    c.opt = options ? *options : cg_gradcheck_defaults();
    if (validate(&c) != CG_OK)
        return cg_last_status();
    c.tape = cg_tape_new();
    if (!c.tape)
        return cg_last_status();
    cg_tape *prev_tape = cg_tape_use(c.tape);
    bool prev_mode = cg_set_grad_enabled(true);
    cg_tensor *y = evaluate(&c);
    cg_status st = y ? CG_OK : cg_last_status();
    if (y) {
        c.nout = cg__shape_numel(y->ndim, y->shape);
        snprintf(c.label_buf, sizeof c.label_buf, "%s", cg_tensor_op_name(y));
        c.label = c.opt.label ? c.opt.label : c.label_buf;
        st = run_check(&c);
    }
    cg_set_grad_enabled(prev_mode);
    cg_tape_use(prev_tape);
    cg_tape_free(c.tape);
    return st;
}

/* ---- second order ---- */

typedef struct gg_ctx {
    cg_grad_fn fn;
    void *ctx;
    int n; /* inputs of fn; the wrapped function's last input is v */
} gg_ctx;

/* (inputs, v) -> concatenated d<fn(inputs), v>/d(inputs), recorded so it differentiates. */
static cg_tensor *grad_of_fn(cg_tensor *const *in, int nin, void *vctx)
{
    const gg_ctx *g = vctx;
    (void)nin;
    cg_tensor *y = g->fn(in, g->n, g->ctx);
    if (!y)
        return NULL;
    cg_tensor *wrt[64], *grads[64], *flat[64];
    int k = 0;
    for (int j = 0; j < g->n; j++)
        if (in[j]->requires_grad)
            wrt[k++] = in[j];
    cg_tensor *v = in[g->n];
    if (!y->requires_grad) /* constant output: every gradient is zero */
        return cg_mul_scalar(cg_reshape(v, 1, (int64_t[]){-1}), 0.0);
    cg_grad_options opt = {true, true};
    if (cg_grad(&y, 1, &v, wrt, k, grads, &opt) != CG_OK)
        return NULL;
    for (int q = 0; q < k; q++) {
        cg_tensor *gq = grads[q] ? grads[q] : cg_mul_scalar(wrt[q], 0.0);
        flat[q] = cg_reshape(gq, 1, (int64_t[]){-1});
    }
    return k == 1 ? flat[0] : cg_concat(flat, k, 0);
}

cg_status cg_gradgradcheck(cg_grad_fn fn, cg_tensor *const *inputs, int ninputs, void *ctx,
                           const cg_gradcheck_options *options)
{
    cg_gradcheck_options opt = options ? *options : cg_gradcheck_defaults();
    check probe;
    memset(&probe, 0, sizeof probe);
    probe.fn = fn, probe.inputs = inputs, probe.ninputs = ninputs, probe.opt = opt;
    if (validate(&probe) != CG_OK)
        return cg_last_status();
    /* One evaluation to learn the output's shape, for the random grad_output v. */
    cg_tape *tape = cg_tape_new();
    if (!tape)
        return cg_last_status();
    cg_tape *prev = cg_tape_use(tape);
    cg_tensor *y = fn(inputs, ninputs, ctx);
    cg_tensor *v = NULL;
    char label[64] = "";
    if (y && cg__check_tensor(y, "gradgradcheck")) {
        cg_rng rng = cg_rng_init(opt.seed + 1);
        v = cg_tensor_normal(&rng, CG_F64, y->ndim, y->shape, 0.0, 1.0);
        snprintf(label, sizeof label, "%s (second order)", cg_tensor_op_name(y));
    } else if (cg_last_status() == CG_OK) {
        cg__error(CG_ERR_NULL, "gradgradcheck: the function returned NULL");
    }
    cg_tape_use(prev);
    cg_tape_free(tape);
    if (!v)
        return cg_last_status();
    cg_tensor_set_requires_grad(v, true);
    cg_tensor *all[65];
    memcpy(all, inputs, sizeof *all * (size_t)ninputs);
    all[ninputs] = v;
    gg_ctx g = {fn, ctx, ninputs};
    if (!opt.label)
        opt.label = label;
    cg_status st = cg_gradcheck(grad_of_fn, all, ninputs + 1, &g, &opt);
    cg_tensor_free(v);
    return st;
}
