/*
 * Golden trajectories of every optimizer against torch.optim (tests/golden/optim.txt, made by
 * tests/golden/make_golden_optim.py). Each case runs the optimizer described by its row in
 * tests/optim_cases.h for as many steps as the stored trajectory has rows, recomputing the
 * gradient of the golden loss at each step, and returns the largest relative difference
 * from PyTorch's parameters over all steps and elements; the golden output is 0 and the
 * tolerance 1e-6, so every element of every step must agree to 1e-6 relative. The L-BFGS
 * cases run optimizer.step(closure) on Rosenbrock and compare the point, the returned loss
 * and the evaluation and iteration counts after each call. The largest difference of each
 * case is printed at the end (TAP comments).
 */
#include <stdlib.h>

#include "golden_reader.h"
#include "optim_cases.h"

enum { MAX_REPORT = 128 };
static struct {
    const char *name;
    double rel;
} report[MAX_REPORT];
static int nreport;

static void note(const char *name, double rel)
{
    if (nreport < MAX_REPORT) {
        report[nreport].name = name;
        report[nreport++].rel = rel;
    }
}

/* max |got - exp| / |exp| over n values (rows of cols); an exact match counts 0 even at
 * exp = 0. Column loss_col (-1: none) holds losses, compared as |got - exp| / max(|exp|, 1):
 * near a minimum the loss is the difference of nearly equal numbers, and a 1e-9 relative
 * change of the point changes a loss of 1e-12 by 1e-3 of itself. */
static double max_rel(const double *got, const double *exp, int64_t n, int loss_col, int cols)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs(got[i] - exp[i]), scale = fabs(exp[i]);
        if (i % cols == loss_col && scale < 1)
            scale = 1;
        double r = d == 0 ? 0 : scale != 0 ? d / scale : INFINITY;
        if (!(r <= m))
            m = r;
    }
    return m;
}

/* The result the runner compares with 0: max relative difference, as a 0-d tape tensor. */
static cg_tensor *result(cg_tensor *traj, const double *got, const char *name, int loss_col)
{
    int cols = (int)cg_tensor_size(traj, 1);
    int64_t n = cg_tensor_numel(traj);
    double *exp = malloc(sizeof *exp * (size_t)n);
    if (!exp || cg_tensor_to_f64(traj, exp) != CG_OK) {
        free(exp);
        return NULL;
    }
    double rel = max_rel(got, exp, n, loss_col, cols);
    free(exp);
    note(name, rel);
    /* The runner wants a tape tensor: 0 * sum(traj) + rel is rel itself. */
    return cg_add_scalar(cg_mul_scalar(cg_sum(traj, NULL, 0, false), 0.0), rel);
}

/* ---- trajectory cases ---- */

static const optim_case *find_case(const char *golden_name)
{
    for (int i = 0; i < OPTIM_NCASES; i++) {
        size_t len = strlen(optim_cases[i].name);
        if (!strncmp(golden_name, optim_cases[i].name, len) && !strcmp(golden_name + len, "_f64"))
            return &optim_cases[i];
    }
    return NULL;
}

/* Run the optimizer on a private tape, recording the parameters after each step. */
static bool run_trajectory(const optim_case *c, cg_tensor *const *x, int64_t steps, double *got)
{
    cg_tensor *p[2] = {cg_tensor_clone(x[0]), cg_tensor_clone(x[1])};
    optim_problem pr = {x[2], x[3], x[4], x[5]};
    cg_tape *tape = cg_tape_new(), *prev = cg_tape_use(tape);
    cg_set_grad_enabled(true);
    cg_tensor_set_requires_grad(p[0], true);
    cg_tensor_set_requires_grad(p[1], true);
    cg_optimizer *opt = optim_case_make(c, p, 2);
    bool ok = opt != NULL;
    for (int64_t s = 0; s < steps && ok; s++) {
        cg_optim_zero_grad(opt, false);
        ok = cg_backward(optim_problem_loss(&pr, p[0], p[1], c->sign), NULL) == CG_OK &&
             cg_optim_step(opt) == CG_OK;
        cg_tape_reset(tape);
        ok = ok && cg_tensor_to_f64(p[0], got + 10 * s) == CG_OK &&
             cg_tensor_to_f64(p[1], got + 10 * s + 6) == CG_OK;
    }
    cg_optim_free(opt);
    cg_tape_use(prev);
    cg_tape_free(tape);
    cg_tensor_free(p[0]);
    cg_tensor_free(p[1]);
    return ok;
}

static cg_tensor *b_trajectory(cg_tensor *const *x, const golden_builder *b)
{
    const optim_case *c = find_case(b->name);
    if (!c)
        fail_msg("no row for %s in tests/optim_cases.h", b->name);
    int64_t steps = cg_tensor_size(x[6], 0);
    double *got = calloc((size_t)(steps * 10), sizeof *got);
    bool ok = got && run_trajectory(c, x, steps, got);
    cg_tensor *out = ok ? result(x[6], got, b->name, -1) : NULL;
    free(got);
    return out;
}

/* ---- L-BFGS on Rosenbrock ---- */

typedef struct rosen {
    cg_tensor *x;
    cg_tape *tape;
} rosen;

/* (1 - x)^2 + 100 (y - x^2)^2 with its gradient in x's .grad. */
static double rosen_closure(void *ctx)
{
    rosen *r = ctx;
    cg_tape_reset(r->tape);
    cg_tensor_zero_grad(r->x);
    cg_tensor *x0 = cg_slice(r->x, 0, 0, 1, 1), *x1 = cg_slice(r->x, 0, 1, 2, 1);
    cg_tensor *a = cg_add_scalar(cg_neg(x0), 1.0), *b = cg_sub(x1, cg_mul(x0, x0));
    cg_tensor *f = cg_sum(cg_add(cg_mul(a, a), cg_mul_scalar(cg_mul(b, b), 100.0)), NULL, 0, false);
    if (cg_backward(f, NULL) != CG_OK)
        return NAN;
    return cg_tensor_item(f);
}

static double state_value(const cg_optimizer *opt, const char *name)
{
    for (int i = 0; i < cg_optim_state_count(opt); i++) {
        const char *n;
        cg_tensor *t = cg_optim_state_get(opt, i, &n);
        if (!strcmp(n, name))
            return cg_tensor_item(t);
    }
    return NAN;
}

static bool run_lbfgs(const cg_lbfgs_options *o, cg_tensor *x0, int64_t calls, double *got)
{
    rosen r = {cg_tensor_clone(x0), cg_tape_new()};
    cg_tape *prev = cg_tape_use(r.tape);
    cg_tensor_set_requires_grad(r.x, true);
    cg_optimizer *opt = cg_optim_lbfgs_new(&r.x, 1, o);
    bool ok = opt != NULL;
    for (int64_t k = 0; k < calls && ok; k++) {
        double *row = got + 5 * k;
        ok = cg_optim_step_closure(opt, rosen_closure, &r, &row[2]) == CG_OK &&
             cg_tensor_to_f64(r.x, row) == CG_OK;
        row[3] = state_value(opt, "0.func_evals");
        row[4] = state_value(opt, "0.n_iter");
    }
    cg_optim_free(opt);
    cg_tape_use(prev);
    cg_tape_free(r.tape);
    cg_tensor_free(r.x);
    return ok;
}

static cg_tensor *b_lbfgs(cg_tensor *const *x, const golden_builder *b)
{
    const cg_lbfgs_options *o = b->params;
    int64_t calls = cg_tensor_size(x[1], 0);
    double *got = calloc((size_t)(calls * 5), sizeof *got);
    cg_tensor *out = got && run_lbfgs(o, x[0], calls, got) ? result(x[1], got, b->name, 2) : NULL;
    free(got);
    return out;
}

static cg_lbfgs_options lbfgs_opts[4];

static void init_lbfgs_opts(void)
{
    for (int i = 0; i < 4; i++) {
        lbfgs_opts[i] = cg_lbfgs_defaults();
        lbfgs_opts[i].line_search = CG_LINE_SEARCH_STRONG_WOLFE;
    }
    lbfgs_opts[1].history_size = 3;
    lbfgs_opts[2].max_iter = 4;
    lbfgs_opts[3].line_search = CG_LINE_SEARCH_NONE;
    lbfgs_opts[3].lr = 0.1;
    lbfgs_opts[3].max_iter = 10;
}

int main(void)
{
    static golden_builder builders[OPTIM_NCASES + 4];
    static char names[OPTIM_NCASES][96];
    static const char *const lbfgs_names[4] = {
        "lbfgs_strong_wolfe_f64", "lbfgs_strong_wolfe_history_f64",
        "lbfgs_strong_wolfe_max_iter_f64", "lbfgs_fixed_step_f64"};
    const double tol = 1e-6;
    for (int i = 0; i < OPTIM_NCASES; i++) {
        snprintf(names[i], sizeof names[i], "%s_f64", optim_cases[i].name);
        builders[i] = (golden_builder){.name = names[i], .fn = b_trajectory, .tol = tol};
    }
    init_lbfgs_opts();
    for (int i = 0; i < 4; i++)
        builders[OPTIM_NCASES + i] = (golden_builder){
            .name = lbfgs_names[i], .fn = b_lbfgs, .params = &lbfgs_opts[i], .tol = tol};
    static const char *const files[] = {"golden/optim.txt"};
    int failed = golden_run("golden_optim", files, 1, builders, OPTIM_NCASES + 4);
    for (int i = 0; i < nreport; i++)
        fprintf(stderr, "# %-40s largest relative difference from PyTorch %.3g\n",
                report[i].name, report[i].rel);
    return failed;
}
