/*
 * L-BFGS as torch.optim.LBFGS (itself after minFunc and torch/optim's lbfgs.lua): the
 * two-loop recursion over a limited history, an optional strong-Wolfe line search with
 * cubic interpolation (PyTorch's _strong_wolfe and _cubic_interpolate, ported branch for
 * branch), and the same stopping tests in the same order. All parameters form one flat f64
 * vector. The state lives in optimizer-wide entries so that it saves and loads like any
 * other; scratch vectors are allocated once, at construction.
 *
 * The differentiable mode runs one iteration per call without line search (lbfgs_diff at
 * the end), the same arithmetic written with ops.
 */
#include <string.h>

#include "optimizer_impl.h"

/* The state entries, in the order they are declared (and named "0.<name>", as PyTorch
 * keeps L-BFGS's state under the first parameter). */
enum { S_D, S_T, S_DIRS, S_STPS, S_RO, S_HDIAG, S_PREV_G, S_PREV_LOSS, S_NITER, S_EVALS,
       S_NUM_OLD, S_COUNT };

/* Scratch vectors of n doubles. */
enum { V_G, V_X0, V_Q, V_LS_G0, V_LS_GNEW, V_LS_GPREV, V_LS_B0, V_LS_B1, V_COUNT };

typedef struct lbfgs_diff {
    bool live;
    cg_tensor *d, *t, *prev_g, *h_diag;
    cg_tensor **dirs, **stps, **ro; /* history_size each, oldest first */
    cg_tensor **al;                 /* the two-loop recursion's coefficients */
    int num_old;
    double n_iter;
} lbfgs_diff;

typedef struct lbfgs {
    int64_t n;
    int hist;
    double *v[V_COUNT];
    double *al;
    lbfgs_diff diff;
} lbfgs;

static lbfgs *ext(const cg_optimizer *opt) { return opt->ext; }
static double *vec(const cg_optimizer *opt, int s) { return cg_tensor_data(opt->global[s]); }
static double scal(const cg_optimizer *opt, int s) { return cg__sv(opt->global[s]); }
static void set_scal(cg_optimizer *opt, int s, double v) { cg__sv_set(opt->global[s], v); }

static const cg__hyper_def lbfgs_hypers[] = {{"lr", CG__H_NONNEG}, {NULL, CG__H_FINITE}};

cg_lbfgs_options cg_lbfgs_defaults(void)
{
    cg_lbfgs_options o = {1.0, 20, 0, 1e-7, 1e-9, 100, CG_LINE_SEARCH_NONE};
    return o;
}

/* ================= construction ================= */

static cg_status check_options(cg_optimizer *opt)
{
    cg_lbfgs_options *o = &opt->o.lbfgs;
    if (opt->ngroups != 1)
        return cg__error(CG_ERR_VALUE, "%s: LBFGS doesn't support per-parameter options "
                                       "(parameter groups)", opt->who);
    if (o->max_iter < 1)
        return cg__opt_bad(opt, "max_iter", o->max_iter, "must be >= 1");
    if (o->max_eval == 0)
        o->max_eval = o->max_iter * 5 / 4;
    if (o->max_eval < 1)
        return cg__opt_bad(opt, "max_eval", o->max_eval, "must be >= 1 (or 0 for the default)");
    if (o->history_size < 1)
        return cg__opt_bad(opt, "history_size", o->history_size, "must be >= 1");
    if (!(o->tolerance_grad >= 0) || !(o->tolerance_change >= 0))
        return cg__opt_bad(opt, "tolerance", isnan(o->tolerance_grad) || o->tolerance_grad < 0
                                                 ? o->tolerance_grad : o->tolerance_change,
                           "tolerances must be >= 0");
    if ((unsigned)o->line_search > CG_LINE_SEARCH_STRONG_WOLFE)
        return cg__error(CG_ERR_VALUE, "%s: unknown line search %d (only 'strong_wolfe' is "
                                       "supported)", opt->who, (int)o->line_search);
    return CG_OK;
}

static cg_status lbfgs_setup(cg_optimizer *opt)
{
    cg_status st = check_options(opt);
    if (st != CG_OK)
        return st;
    lbfgs *x = cg__calloc(1, sizeof *x);
    if (!(opt->ext = x))
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", opt->who);
    for (int i = 0; i < opt->nparams; i++)
        x->n += cg_tensor_numel(opt->params[i].p);
    x->hist = opt->o.lbfgs.history_size;
    int64_t n = x->n, h = x->hist, hn[2] = {h, n};
    static const char *const names[S_COUNT] = {
        "0.d", "0.t", "0.old_dirs", "0.old_stps", "0.ro", "0.H_diag", "0.prev_flat_grad",
        "0.prev_loss", "0.n_iter", "0.func_evals", "0.num_old"};
    for (int s = 0; s < S_COUNT; s++) {
        cg_tensor *t = s == S_D || s == S_PREV_G ? cg_tensor_zeros(CG_F64, 1, &n)
                       : s == S_DIRS || s == S_STPS ? cg_tensor_zeros(CG_F64, 2, hn)
                       : s == S_RO                  ? cg_tensor_zeros(CG_F64, 1, &h)
                                                    : cg_tensor_scalar(CG_F64, 0.0);
        cg__opt_global(opt, names[s], t, s >= S_NITER);
    }
    for (int k = 0; k < V_COUNT; k++)
        if (!(x->v[k] = cg__malloc(sizeof(double) * (size_t)(n + 1))))
            return cg__error(CG_ERR_NOMEM, "%s: out of memory", opt->who);
    if (!(x->al = cg__calloc((size_t)h, sizeof *x->al)) ||
        !(x->diff.dirs = cg__calloc((size_t)h * 4, sizeof(cg_tensor *))))
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", opt->who);
    x->diff.stps = x->diff.dirs + h;
    x->diff.ro = x->diff.dirs + 2 * h;
    x->diff.al = x->diff.dirs + 3 * h;
    return CG_OK;
}

static void lbfgs_free(cg_optimizer *opt)
{
    lbfgs *x = ext(opt);
    if (!x)
        return;
    for (int k = 0; k < V_COUNT; k++)
        cg__free(x->v[k], sizeof(double) * (size_t)(x->n + 1));
    cg__free(x->al, sizeof *x->al * (size_t)x->hist);
    cg__free(x->diff.dirs, sizeof(cg_tensor *) * (size_t)x->hist * 4);
    cg__free(x, sizeof *x);
}

/* ================= flat vectors ================= */

/* sum a[i] b[i] (b NULL: sum |a[i]|) with four accumulators associated as cg_sum does, so
 * that the differentiable mode, which sums with cg_sum, agrees to the last bit on vectors
 * below cg_sum's threading threshold. */
static double dot(const double *a, const double *b, int64_t n)
{
    double s[4] = {0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 4 <= n; i += 4)
        for (int k = 0; k < 4; k++)
            s[k] += b ? a[i + k] * b[i + k] : fabs(a[i + k]);
    for (; i < n; i++)
        s[0] += b ? a[i] * b[i] : fabs(a[i]);
    return (s[0] + s[1]) + (s[2] + s[3]);
}

static double abs_max(const double *a, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(a[i]) <= m)) /* NaN wins, as torch's max */
            m = fabs(a[i]);
    return m;
}

/* y += alpha x */
static void axpy(double *y, double alpha, const double *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = y[i] + alpha * x[i];
}

/* The gradients of all parameters, zeros where there is none (PyTorch's _gather_flat_grad). */
static void gather_flat_grad(const cg_optimizer *opt, double *out)
{
    for (int i = 0; i < opt->nparams; i++) {
        const cg_tensor *p = opt->params[i].p, *g = p->grad;
        int64_t m = cg_tensor_numel(p);
        if (!g || cg_tensor_to_f64(g, out) != CG_OK)
            memset(out, 0, sizeof *out * (size_t)m);
        out += m;
    }
}

/* p += t d over the flat view (PyTorch's _add_grad), or p = x when x is given. */
static void write_params(cg_optimizer *opt, double t, const double *d, const double *x)
{
    for (int i = 0; i < opt->nparams; i++) {
        cg_tensor *p = opt->params[i].p;
        int64_t m = cg_tensor_numel(p);
        for (int64_t k = 0; k < m; k++) {
            double v = x ? x[k] : cg__load(p, p->offset + k) + t * d[k];
            cg__store(p, p->offset + k, v);
        }
        cg__bump_version(p);
        d += m;
        x = x ? x + m : NULL;
    }
}

static void clone_params(const cg_optimizer *opt, double *x)
{
    for (int i = 0; i < opt->nparams; i++) {
        cg_tensor_to_f64(opt->params[i].p, x);
        x += cg_tensor_numel(opt->params[i].p);
    }
}

/* ================= closure evaluations ================= */

typedef struct evaluator {
    cg_optimizer *opt;
    cg_closure_fn fn;
    void *ctx;
    cg_status st; /* first failure of the closure */
} evaluator;

static double evaluate(evaluator *e)
{
    bool prev = cg_set_grad_enabled(true);
    uint64_t errors = cg__error_count();
    double f = e->fn(e->ctx);
    cg_set_grad_enabled(prev);
    if (isnan(f) && cg__error_count() != errors && e->st == CG_OK)
        e->st = cg_last_status();
    return f;
}

/* Loss and gradient at x + t d, parameters restored to x afterwards. */
static double directional(evaluator *e, const double *x, double t, const double *d, double *g)
{
    if (e->st != CG_OK) /* the closure failed: the search winds down without calling it */
        return NAN;
    write_params(e->opt, t, d, NULL);
    double f = evaluate(e);
    gather_flat_grad(e->opt, g);
    write_params(e->opt, 0, d, x);
    return f;
}

/* ================= the strong Wolfe line search ================= */

/* Python's min and max on two numbers: the first unless the second compares beyond it. */
static double pymin(double a, double b) { return b < a ? b : a; }
static double pymax(double a, double b) { return b > a ? b : a; }

/* Minimiser of the cubic through (x1, f1, g1), (x2, f2, g2), clamped to [lo, hi]. */
static double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2,
                                const double *bounds)
{
    double lo = bounds ? bounds[0] : x1 <= x2 ? x1 : x2;
    double hi = bounds ? bounds[1] : x1 <= x2 ? x2 : x1;
    double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
    double d2_square = d1 * d1 - g1 * g2;
    if (!(d2_square >= 0))
        return (lo + hi) / 2.;
    double d2 = sqrt(d2_square), min_pos;
    if (x1 <= x2)
        min_pos = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2));
    else
        min_pos = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    return pymin(pymax(min_pos, lo), hi);
}

/* A bracket of the zoom phase: step, loss, gradient and directional derivative at each end. */
typedef struct bracket {
    int len;
    double t[2], f[2], gtd[2];
    double *g[2];
} bracket;

typedef struct line_search {
    evaluator *e;
    const double *x, *d;
    double f, gtd; /* at t = 0 */
    int64_t n;
    int evals, iter;
} line_search;

enum { MAX_LS = 25 };
static const double C1 = 1e-4, C2 = 0.9;

static void set_end(bracket *b, int k, double t, double f, const double *g, double gtd, int64_t n)
{
    b->t[k] = t;
    b->f[k] = f;
    b->gtd[k] = gtd;
    memcpy(b->g[k], g, sizeof(double) * (size_t)n);
}

static double ls_eval(line_search *ls, double t, double *g, double *gtd)
{
    double f = directional(ls->e, ls->x, t, ls->d, g);
    ls->evals++;
    *gtd = dot(g, ls->d, ls->n);
    return f;
}

/* Bracketing phase: returns whether the strong Wolfe conditions already hold (done). */
static bool ls_bracket(line_search *ls, lbfgs *x, double t, const double *g0, bracket *b)
{
    double *g_new = x->v[V_LS_GNEW], *g_prev = x->v[V_LS_GPREV], gtd_new;
    int64_t n = ls->n;
    double f_new = ls_eval(ls, t, g_new, &gtd_new);
    double t_prev = 0, f_prev = ls->f, gtd_prev = ls->gtd;
    memcpy(g_prev, g0, sizeof(double) * (size_t)n);
    b->len = 2;
    while (ls->iter < MAX_LS) {
        if (f_new > ls->f + C1 * t * ls->gtd || (ls->iter > 1 && f_new >= f_prev) ||
            (!(fabs(gtd_new) <= -C2 * ls->gtd) && gtd_new >= 0)) {
            set_end(b, 0, t_prev, f_prev, g_prev, gtd_prev, n);
            set_end(b, 1, t, f_new, g_new, gtd_new, n);
            return false;
        }
        if (fabs(gtd_new) <= -C2 * ls->gtd) {
            b->len = 1;
            set_end(b, 0, t, f_new, g_new, gtd_new, n);
            return true;
        }
        double bounds[2] = {t + 0.01 * (t - t_prev), t * 10}, tmp = t;
        t = cubic_interpolate(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, bounds);
        t_prev = tmp;
        f_prev = f_new;
        memcpy(g_prev, g_new, sizeof(double) * (size_t)n);
        gtd_prev = gtd_new;
        f_new = ls_eval(ls, t, g_new, &gtd_new);
        ls->iter++;
    }
    /* Out of evaluations: bracket [0, t] (PyTorch leaves the gtd of this bracket unset; the
     * zoom does not run then). */
    set_end(b, 0, 0, ls->f, g0, NAN, n);
    set_end(b, 1, t, f_new, g_new, NAN, n);
    return false;
}

/* One zoom trial point t in the bracket, moved away from its ends when progress stalls. */
static double zoom_trial(const bracket *b, bool *insuf_progress)
{
    double t = cubic_interpolate(b->t[0], b->f[0], b->gtd[0], b->t[1], b->f[1], b->gtd[1], NULL);
    double hi = pymax(b->t[0], b->t[1]), lo = pymin(b->t[0], b->t[1]);
    double eps = 0.1 * (hi - lo);
    if (pymin(hi - t, t - lo) < eps) {
        if (*insuf_progress || t >= hi || t <= lo) {
            t = fabs(t - hi) < fabs(t - lo) ? hi - eps : lo + eps;
            *insuf_progress = false;
        } else {
            *insuf_progress = true;
        }
    } else {
        *insuf_progress = false;
    }
    return t;
}

/* Zoom phase: shrink the bracket until a point satisfies the strong Wolfe conditions.
 * Returns the index of the bracket's low end, the result. */
static int ls_zoom(line_search *ls, lbfgs *x, bracket *b, bool done, double d_norm,
                    double tolerance_change)
{
    double *g_new = x->v[V_LS_GNEW], gtd_new;
    bool insuf_progress = false;
    int low = b->f[0] <= b->f[b->len - 1] ? 0 : 1, high = 1 - low;
    while (!done && ls->iter < MAX_LS) {
        if (fabs(b->t[1] - b->t[0]) * d_norm < tolerance_change)
            break;
        double t = zoom_trial(b, &insuf_progress);
        double f_new = ls_eval(ls, t, g_new, &gtd_new);
        ls->iter++;
        if (f_new > ls->f + C1 * t * ls->gtd || f_new >= b->f[low]) {
            set_end(b, high, t, f_new, g_new, gtd_new, ls->n);
            low = b->f[0] <= b->f[1] ? 0 : 1;
            high = 1 - low;
            continue;
        }
        if (fabs(gtd_new) <= -C2 * ls->gtd)
            done = true;
        else if (gtd_new * (b->t[high] - b->t[low]) >= 0)
            set_end(b, high, b->t[low], b->f[low], b->g[low], b->gtd[low], ls->n);
        set_end(b, low, t, f_new, g_new, gtd_new, ls->n);
    }
    return low;
}

/* PyTorch's _strong_wolfe from step t along d: the loss there (returned), its gradient in
 * g (in: the gradient at x), the step in *t and the evaluations in *evals. */
static double strong_wolfe(evaluator *e, lbfgs *x, const double *x0, double *t, const double *d,
                           double f, double *g, double gtd, int *evals)
{
    line_search ls = {e, x0, d, f, gtd, x->n, 0, 0};
    bracket b = {0, {0, 0}, {0, 0}, {0, 0}, {x->v[V_LS_B0], x->v[V_LS_B1]}};
    double *g0 = x->v[V_LS_G0];
    memcpy(g0, g, sizeof(double) * (size_t)x->n);
    bool done = ls_bracket(&ls, x, *t, g0, &b);
    int low = ls_zoom(&ls, x, &b, done, abs_max(d, x->n), e->opt->o.lbfgs.tolerance_change);
    *t = b.t[low];
    memcpy(g, b.g[low], sizeof(double) * (size_t)x->n);
    *evals = ls.evals;
    return b.f[low];
}

/* ================= the L-BFGS direction ================= */

/* Append (y, s, 1 / ys) to the history, dropping the oldest when full. */
static void push_history(cg_optimizer *opt, const double *y, const double *s, double ys)
{
    lbfgs *x = ext(opt);
    int64_t n = x->n;
    double *dirs = vec(opt, S_DIRS), *stps = vec(opt, S_STPS), *ro = vec(opt, S_RO);
    int num = (int)scal(opt, S_NUM_OLD);
    if (num == x->hist) {
        memmove(dirs, dirs + n, sizeof *dirs * (size_t)(n * (num - 1)));
        memmove(stps, stps + n, sizeof *stps * (size_t)(n * (num - 1)));
        memmove(ro, ro + 1, sizeof *ro * (size_t)(num - 1));
        num--;
    }
    memcpy(dirs + n * num, y, sizeof *dirs * (size_t)n);
    memcpy(stps + n * num, s, sizeof *stps * (size_t)n);
    ro[num] = 1. / ys;
    set_scal(opt, S_NUM_OLD, num + 1);
}

/* d = -H g by the two-loop recursion, after updating the history with the last step. */
static void lbfgs_direction(cg_optimizer *opt, const double *g)
{
    lbfgs *x = ext(opt);
    int64_t n = x->n;
    double *d = vec(opt, S_D), *prev = vec(opt, S_PREV_G), *y = x->v[V_Q], t = scal(opt, S_T);
    for (int64_t i = 0; i < n; i++) {
        y[i] = g[i] - prev[i];
        d[i] = d[i] * t; /* d becomes s; it is overwritten by the new direction below */
    }
    double ys = dot(y, d, n);
    if (ys > 1e-10) {
        push_history(opt, y, d, ys);
        set_scal(opt, S_HDIAG, ys / dot(y, y, n));
    }
    int num = (int)scal(opt, S_NUM_OLD);
    const double *dirs = vec(opt, S_DIRS), *stps = vec(opt, S_STPS), *ro = vec(opt, S_RO);
    for (int64_t i = 0; i < n; i++)
        d[i] = -g[i];
    for (int i = num - 1; i >= 0; i--) {
        x->al[i] = dot(stps + n * i, d, n) * ro[i];
        axpy(d, -x->al[i], dirs + n * i, n);
    }
    double h = scal(opt, S_HDIAG);
    for (int64_t i = 0; i < n; i++)
        d[i] = d[i] * h;
    for (int i = 0; i < num; i++) {
        double be = dot(dirs + n * i, d, n) * ro[i];
        axpy(d, x->al[i] - be, stps + n * i, n);
    }
}

/* ================= the step ================= */

/* The first direction (-g) or the L-BFGS one, and the trial step t (PyTorch's initial
 * guess on the very first iteration); both kept in the state. */
static double lbfgs_prepare(cg_optimizer *opt, double state_iter, const double *g, double loss)
{
    lbfgs *x = ext(opt);
    int64_t n = x->n;
    double *d = vec(opt, S_D), lr = cg__hv(opt, 0, 0), t = lr;
    if (state_iter == 1) {
        for (int64_t i = 0; i < n; i++)
            d[i] = -g[i];
        set_scal(opt, S_NUM_OLD, 0);
        set_scal(opt, S_HDIAG, 1);
        t = pymin(1., 1. / dot(g, NULL, n)) * lr;
    } else {
        lbfgs_direction(opt, g);
    }
    memcpy(vec(opt, S_PREV_G), g, sizeof *g * (size_t)n);
    set_scal(opt, S_PREV_LOSS, loss);
    set_scal(opt, S_T, t);
    return t;
}

/* Move along d by the line search's step or the fixed t; *loss and g follow the point.
 * Returns the evaluations made; *opt_cond says whether the gradient is below tolerance. */
static int lbfgs_move(cg_optimizer *opt, evaluator *e, int n_iter, double t, double gtd,
                      double *loss, double *g, bool *opt_cond)
{
    const cg_lbfgs_options *o = &opt->o.lbfgs;
    lbfgs *x = ext(opt);
    double *d = vec(opt, S_D);
    int evals = 0;
    if (o->line_search == CG_LINE_SEARCH_STRONG_WOLFE) {
        clone_params(opt, x->v[V_X0]);
        *loss = strong_wolfe(e, x, x->v[V_X0], &t, d, *loss, g, gtd, &evals);
        if (e->st != CG_OK) /* the closure failed: leave the parameters where they were */
            return evals;
        set_scal(opt, S_T, t);
        write_params(opt, t, d, NULL);
        *opt_cond = abs_max(g, x->n) <= o->tolerance_grad;
    } else {
        write_params(opt, t, d, NULL);
        if (n_iter != o->max_iter) { /* PyTorch skips the evaluation after the last one */
            *loss = evaluate(e);
            gather_flat_grad(opt, g);
            *opt_cond = abs_max(g, x->n) <= o->tolerance_grad;
            evals = 1;
        }
    }
    return evals;
}

/* One iteration from the gradient g at the current point. Returns false when the loop must
 * stop, after PyTorch's tests in PyTorch's order. */
static bool lbfgs_iterate(cg_optimizer *opt, evaluator *e, int n_iter, int *evals, double *loss,
                          double *g)
{
    const cg_lbfgs_options *o = &opt->o.lbfgs;
    int64_t n = ext(opt)->n;
    double state_iter = scal(opt, S_NITER) + 1, prev_loss = *loss;
    set_scal(opt, S_NITER, state_iter);
    double t = lbfgs_prepare(opt, state_iter, g, prev_loss), *d = vec(opt, S_D);
    double gtd = dot(g, d, n);
    if (gtd > -o->tolerance_change)
        return false;
    bool opt_cond = false;
    int ls_evals = lbfgs_move(opt, e, n_iter, t, gtd, loss, g, &opt_cond);
    t = scal(opt, S_T);
    *evals += ls_evals;
    set_scal(opt, S_EVALS, scal(opt, S_EVALS) + ls_evals);
    if (e->st != CG_OK || n_iter == o->max_iter || *evals >= o->max_eval || opt_cond)
        return false;
    double step_max = 0; /* max |d t|, NaN winning as in torch's max */
    for (int64_t i = 0; i < n; i++)
        if (!(fabs(d[i] * t) <= step_max))
            step_max = fabs(d[i] * t);
    return !(step_max <= o->tolerance_change) && !(fabs(*loss - prev_loss) < o->tolerance_change);
}

static cg_status lbfgs_step(cg_optimizer *opt, cg_closure_fn fn, void *ctx, double *loss_out)
{
    lbfgs *x = ext(opt);
    if (scal(opt, S_NUM_OLD) > x->hist)
        return cg__error(CG_ERR_STATE, "lbfgs: the loaded state has %g history entries, more "
                                       "than history_size %d", scal(opt, S_NUM_OLD), x->hist);
    evaluator e = {opt, fn, ctx, CG_OK};
    double orig = evaluate(&e), loss = orig, *g = x->v[V_G];
    if (e.st != CG_OK)
        return e.st;
    if (loss_out)
        *loss_out = orig;
    set_scal(opt, S_EVALS, scal(opt, S_EVALS) + 1);
    gather_flat_grad(opt, g);
    if (abs_max(g, x->n) <= opt->o.lbfgs.tolerance_grad)
        return CG_OK;
    int evals = 1;
    for (int n_iter = 1; n_iter <= opt->o.lbfgs.max_iter; n_iter++)
        if (!lbfgs_iterate(opt, &e, n_iter, &evals, &loss, g))
            break;
    return e.st;
}

/* ================= the differentiable mode: one iteration with ops ================= */

/* The parameters (or gradients, zeros for NULL) as one flat f64 tape vector. */
static cg_tensor *flatten(const cg_optimizer *opt, cg_tensor *const *ts, bool zeros_for_null)
{
    size_t size = sizeof(cg_tensor *) * (size_t)opt->nparams;
    cg_tensor *parts[64] = {NULL}, **p = opt->nparams <= 64 ? parts : cg__malloc(size);
    if (!p) {
        cg__error(CG_ERR_NOMEM, "lbfgs: out of memory");
        return NULL;
    }
    int64_t minus1 = -1;
    for (int i = 0; i < opt->nparams; i++) {
        cg_tensor *t = ts[i];
        const cg_tensor *pi = opt->params[i].p;
        if (!t && zeros_for_null) /* PyTorch's _gather_flat_grad: zeros for a missing grad */
            t = cg__opt_tape_full(pi->dtype, pi->ndim, pi->shape, 0.0);
        t = cg_reshape(t, 1, &minus1);
        p[i] = t && t->dtype != CG_F64 ? cg_to_dtype(t, CG_F64) : t;
    }
    cg_tensor *flat = cg_concat(p, opt->nparams, 0);
    if (p != parts)
        cg__free(p, size);
    return flat;
}

static cg_tensor *dotop(cg_tensor *a, cg_tensor *b) { return cg_sum(cg_mul(a, b), NULL, 0, false); }

static double value(cg_tensor *t) { return t ? cg_tensor_item(t) : NAN; }

/* Copy of an owned state tensor on the tape (row `row` of a matrix when row >= 0). */
static cg_tensor *tape_copy(cg_tensor *t, int row)
{
    if (row >= 0)
        t = cg_squeeze(cg_slice(t, 0, row, row + 1, 1), 0);
    return cg_contiguous(t);
}

static cg_status diff_start(cg_optimizer *opt)
{
    lbfgs_diff *df = &ext(opt)->diff;
    df->n_iter = scal(opt, S_NITER);
    df->num_old = (int)scal(opt, S_NUM_OLD);
    df->d = tape_copy(opt->global[S_D], -1);
    df->t = tape_copy(opt->global[S_T], -1);
    df->prev_g = tape_copy(opt->global[S_PREV_G], -1);
    df->h_diag = tape_copy(opt->global[S_HDIAG], -1);
    bool ok = df->d && df->t && df->prev_g && df->h_diag;
    for (int i = 0; i < df->num_old && ok; i++) {
        df->dirs[i] = tape_copy(opt->global[S_DIRS], i);
        df->stps[i] = tape_copy(opt->global[S_STPS], i);
        df->ro[i] = tape_copy(opt->global[S_RO], i);
        ok = df->dirs[i] && df->stps[i] && df->ro[i];
    }
    df->live = ok;
    return ok ? CG_OK : cg_last_status();
}

static void diff_push(lbfgs_diff *df, int hist, cg_tensor *y, cg_tensor *s, cg_tensor *ro)
{
    if (df->num_old == hist) {
        memmove(df->dirs, df->dirs + 1, sizeof *df->dirs * (size_t)(hist - 1));
        memmove(df->stps, df->stps + 1, sizeof *df->stps * (size_t)(hist - 1));
        memmove(df->ro, df->ro + 1, sizeof *df->ro * (size_t)(hist - 1));
        df->num_old--;
    }
    df->dirs[df->num_old] = y;
    df->stps[df->num_old] = s;
    df->ro[df->num_old++] = ro;
}

/* The two-loop recursion with ops; al[] holds tape scalars. */
static cg_tensor *diff_direction(cg_optimizer *opt, cg_tensor *g)
{
    lbfgs *x = ext(opt);
    lbfgs_diff *df = &x->diff;
    cg_tensor *y = cg_sub(g, df->prev_g), *s = cg_mul(df->d, df->t), *ys = dotop(y, s);
    if (value(ys) > 1e-10) {
        diff_push(df, x->hist, y, s, cg_div(cg__opt_tape_full(CG_F64, 0, NULL, 1), ys));
        df->h_diag = cg_div(ys, dotop(y, y));
    }
    cg_tensor **al = df->al;
    cg_tensor *q = cg_neg(g);
    for (int i = df->num_old - 1; i >= 0; i--) {
        al[i] = cg_mul(dotop(df->stps[i], q), df->ro[i]);
        q = cg_add(q, cg_mul(df->dirs[i], cg_neg(al[i])));
    }
    cg_tensor *r = cg_mul(q, df->h_diag);
    for (int i = 0; i < df->num_old; i++) {
        cg_tensor *be = cg_mul(dotop(df->dirs[i], r), df->ro[i]);
        r = cg_add(r, cg_mul(df->stps[i], cg_sub(al[i], be)));
    }
    return r;
}

/* Split the flat vector back into the parameters' shapes and dtypes. */
static void unflatten(const cg_optimizer *opt, cg_tensor *flat, cg_tensor **out)
{
    int64_t off = 0;
    for (int i = 0; i < opt->nparams; i++) {
        const cg_tensor *p = opt->params[i].p;
        int64_t m = cg_tensor_numel(p);
        cg_tensor *t = cg_reshape(cg_slice(flat, 0, off, off + m, 1), p->ndim, p->shape);
        out[i] = p->dtype == CG_F64 ? t : cg_to_dtype(t, p->dtype);
        off += m;
    }
}

/* The first iteration's direction and step: d = -g, t = min(1, 1 / sum |g|) lr. */
static cg_tensor *diff_first(lbfgs_diff *df, cg_tensor *g, cg_tensor *lr, cg_tensor **t)
{
    df->num_old = 0;
    df->h_diag = cg__opt_tape_full(CG_F64, 0, NULL, 1);
    cg_tensor *one = cg__opt_tape_full(CG_F64, 0, NULL, 1);
    cg_tensor *inv = cg_div(one, cg_sum(cg_abs(g), NULL, 0, false));
    *t = cg_mul(cg_minimum(one, inv), lr);
    return cg_neg(g);
}

static cg_status lbfgs_diff_step(cg_optimizer *opt, cg_tensor *const *params,
                                 cg_tensor *const *grads, cg_tensor **new_params)
{
    const cg_lbfgs_options *o = &opt->o.lbfgs;
    lbfgs_diff *df = &ext(opt)->diff;
    if (o->max_iter != 1 || o->line_search != CG_LINE_SEARCH_NONE)
        return cg__error(CG_ERR_STATE, "cg_optim_diff_step: lbfgs runs one iteration per step "
                                       "without line search (make it with max_iter 1 and "
                                       "CG_LINE_SEARCH_NONE)");
    if (!df->live && diff_start(opt) != CG_OK)
        return cg_last_status();
    for (int i = 0; i < opt->nparams; i++)
        new_params[i] = params[i];
    cg_tensor *g = flatten(opt, grads, true), *lr = opt->groups[0].hyper[0], *t = lr;
    if (!g)
        return cg_last_status();
    if (ext(opt)->n == 0 || value(cg_max(cg_abs(g), NULL, 0, false)) <= o->tolerance_grad)
        return CG_OK;
    df->n_iter += 1;
    cg_tensor *d = df->n_iter == 1 ? diff_first(df, g, lr, &t) : diff_direction(opt, g);
    if (!d || !t)
        return cg_last_status();
    df->d = d;
    df->t = t;
    df->prev_g = g;
    if (value(dotop(g, d)) > -o->tolerance_change) /* PyTorch's gtd test: no update */
        return CG_OK;
    unflatten(opt, cg_add(flatten(opt, params, false), cg_mul(d, t)), new_params);
    for (int i = 0; i < opt->nparams; i++)
        if (!new_params[i])
            return cg_last_status();
    return CG_OK;
}

static void lbfgs_diff_reset(cg_optimizer *opt)
{
    if (opt->ext)
        ext(opt)->diff.live = false;
}

const cg__opt_algo cg__algo_lbfgs = {
    .name = "lbfgs", .hypers = lbfgs_hypers, .wd = -1, .setup = lbfgs_setup,
    .step_all = lbfgs_step, .diff_all = lbfgs_diff_step, .diff_reset = lbfgs_diff_reset,
    .free_ext = lbfgs_free,
};

cg_optimizer *cg_optim_lbfgs_new(cg_tensor *const *params, int n, const cg_lbfgs_options *options)
{
    cg_lbfgs_options o = options ? *options : cg_lbfgs_defaults();
    double h[] = {o.lr};
    cg_param_group g = cg__opt_one_group(params, n);
    return cg__opt_new(&cg__algo_lbfgs, "cg_optim_lbfgs_new", &g, 1, h, &o, sizeof o);
}
