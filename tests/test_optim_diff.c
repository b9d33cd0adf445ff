/*
 * The differentiable mode of every optimizer:
 *  - fused and differentiable modes give the same trajectory (f64: 25 steps to 1e-12
 *    relative; f32: the fused kernel computes in double, or for SGD and Adam(W) in float
 *    with PyTorch's fused multiply-adds, the ops in float without them, so 5 steps to 1e-4
 *    relative),
 *  - hypergradients: d(loss after 8 unrolled steps) / d(every hyperparameter that enters
 *    the update, and every element of the initial parameters) by cg_grad through
 *    cg_optim_diff_step, against central finite differences of the fused mode in f64,
 *  - the mode's contract: out of place, scope "optim", skipped parameters, reset, errors.
 * One cmocka test per optimizer configuration (tests/optim_cases.h and the extra rows
 * below); the largest differences are printed at the end.
 */
#include <stdlib.h>

#include "optim_cases.h"

/* Configurations without golden data: the course's momentum forms, GD, noisy GD, L-BFGS. */
static const optim_case extra_cases[] = {
    {"gd", "gd", 1, {{"lr", .05}}, G_NONE},
    {"sgd_velocity", "sgd", 1, {{"lr", .05}, {"momentum", .9}, {"form", CG_MOMENTUM_VELOCITY}},
     G_NONE},
    {"sgd_averaged", "sgd", 1, {{"lr", .1}, {"momentum", .8}, {"form", CG_MOMENTUM_AVERAGED}},
     G_NONE},
    {"noisy_gd", "noisy_gd", 1, {{"lr", .05}, {"sigma", .05}, {"seed", 7}}, G_NONE},
    {"noisy_gd_decay", "noisy_gd", 1,
     {{"lr", .05}, {"sigma", .05}, {"gamma", 1.0}, {"weight_decay", .1}}, G_NONE},
    {"lbfgs", "lbfgs", 1, {{"lr", .1}, {"max_iter", 1}}, G_NONE},
    {"lbfgs_history", "lbfgs", 1, {{"lr", .2}, {"max_iter", 1}, {"history_size", 2}}, G_NONE},
};
#define NEXTRA ((int)(sizeof extra_cases / sizeof extra_cases[0]))

enum { NP = 10, K_EQUAL = 25, K_EQUAL_F32 = 5, K_HYPER = 8 };

static const optim_case *case_at(int i)
{
    return i < OPTIM_NCASES ? &optim_cases[i] : &extra_cases[i - OPTIM_NCASES];
}

/* ---- the problem: random data of the golden problem's shapes ---- */

typedef struct prob {
    optim_problem pr;
    cg_tensor *p0, *p1;
} prob;

static void prob_make(prob *b, cg_dtype dt) { optim_problem_random(&b->pr, &b->p0, &b->p1, dt); }

static void prob_free(prob *b)
{
    optim_problem_free(&b->pr);
    cg_tensor_free(b->p0);
    cg_tensor_free(b->p1);
}

/* ---- the fused mode, through cg_optim_step_closure ---- */

typedef struct closure_ctx {
    cg_optimizer *opt;
    cg_tensor **p;
    const prob *b;
    double sign;
    cg_tape *tape;
} closure_ctx;

static double closure(void *vc)
{
    closure_ctx *c = vc;
    cg_tape_reset(c->tape);
    cg_optim_zero_grad(c->opt, false);
    cg_tensor *loss = optim_problem_loss(&c->b->pr, c->p[0], c->p[1], c->sign);
    return cg_backward(loss, NULL) == CG_OK ? cg_tensor_item(loss) : NAN;
}

/* A change to a run: hyperparameter (group, name) += dh, or initial element elem += dp. */
typedef struct perturb {
    int group;
    const char *hyper;
    double dh;
    int elem;
    double dp;
} perturb;

static const perturb NO_PERTURB = {0, NULL, 0, -1, 0};

static void perturb_params(cg_tensor **p, const perturb *pt)
{
    if (pt->elem < 0)
        return;
    cg_tensor *t = pt->elem < 6 ? p[0] : p[1];
    int64_t k = pt->elem < 6 ? pt->elem : pt->elem - 6;
    double *d = cg_tensor_data(t);
    d[k] += pt->dp;
}

/* K fused steps; the trajectory (K rows of NP) into traj when not NULL; the loss after. */
static double fused_run(const optim_case *c, const prob *b, int K, const perturb *pt,
                        double *traj)
{
    cg_tensor *p[2] = {cg_tensor_clone(b->p0), cg_tensor_clone(b->p1)};
    cg_tensor_set_requires_grad(p[0], true);
    cg_tensor_set_requires_grad(p[1], true);
    perturb_params(p, pt);
    cg_tape *tape = cg_tape_new(), *prev = cg_tape_use(tape);
    cg_optimizer *opt = optim_case_make(c, p, 2);
    assert_non_null(opt);
    if (pt->hyper) {
        cg_tensor *h = cg_optim_hyper(opt, pt->group, pt->hyper);
        *(double *)cg_tensor_data(h) += pt->dh; /* bypasses validation: FD may cross 0 */
    }
    closure_ctx cc = {opt, p, b, c->sign, tape};
    for (int k = 0; k < K; k++) {
        assert_ok(cg_optim_step_closure(opt, closure, &cc, NULL));
        if (traj) {
            cg_tensor_to_f64(p[0], traj + NP * k);
            cg_tensor_to_f64(p[1], traj + NP * k + 6);
        }
    }
    cg_tape_reset(tape);
    double loss = cg_tensor_item(optim_problem_loss(&b->pr, p[0], p[1], c->sign));
    cg_optim_free(opt);
    cg_tape_use(prev);
    cg_tape_free(tape);
    cg_tensor_free(p[0]);
    cg_tensor_free(p[1]);
    return loss;
}

/* ---- the differentiable mode, on the test's tape ---- */

/* K differentiable steps from the leaves p (requiring grad); the loss after them. */
static cg_tensor *diff_run(cg_optimizer *opt, const optim_case *c, const prob *b, cg_tensor **p,
                           int K, bool create_graph, double *traj)
{
    cg_tensor *q[2] = {p[0], p[1]}, *g[2], *next[2];
    cg_grad_options go = {create_graph, false};
    for (int k = 0; k < K; k++) {
        cg_tensor *loss = optim_problem_loss(&b->pr, q[0], q[1], c->sign);
        assert_ok(cg_grad(&loss, 1, NULL, q, 2, g, &go));
        assert_ok(cg_optim_diff_step(opt, q, g, next));
        q[0] = next[0];
        q[1] = next[1];
        if (traj) {
            cg_tensor_to_f64(q[0], traj + NP * k);
            cg_tensor_to_f64(q[1], traj + NP * k + 6);
        }
    }
    return optim_problem_loss(&b->pr, q[0], q[1], c->sign);
}

/* ---- reporting ---- */

static struct {
    double equal, equal_f32, hyper;
    int nhyper, nunused;
} results[OPTIM_NCASES + NEXTRA];
static const optim_case *current;
static int current_index;

/* max |a - e| / max(|e|, floor) */
static double max_rel(const double *a, const double *e, int n, double floor)
{
    double m = 0;
    for (int i = 0; i < n; i++) {
        double r = fabs(a[i] - e[i]) / fmax(fabs(e[i]), floor);
        if (!(r <= m))
            m = r;
    }
    return m;
}

/* ---- the tests ---- */

/* Fused and differentiable trajectories agree over K_EQUAL steps. */
static void check_equal(cg_dtype dt, int K, double tol, double *out)
{
    prob b;
    prob_make(&b, dt);
    double fused[K_EQUAL * NP], diff[K_EQUAL * NP];
    fused_run(current, &b, K, &NO_PERTURB, fused);
    cg_tensor *p[2] = {cg_tensor_clone(b.p0), cg_tensor_clone(b.p1)};
    cg_tensor_set_requires_grad(p[0], true);
    cg_tensor_set_requires_grad(p[1], true);
    cg_optimizer *opt = optim_case_make(current, p, 2);
    assert_non_null(opt);
    assert_tensor(diff_run(opt, current, &b, p, K, false, diff));
    cg_optim_free(opt);
    cg_tensor_free(p[0]);
    cg_tensor_free(p[1]);
    prob_free(&b);
    *out = max_rel(diff, fused, K * NP, 1e-2);
    if (!(*out <= tol))
        fail_msg("%s (%s): fused and differentiable trajectories differ by %.3g relative",
                 current->name, dt == CG_F64 ? "f64" : "f32", *out);
}

static void test_fused_equals_diff(void **state)
{
    (void)state;
    check_equal(CG_F64, K_EQUAL, 1e-12, &results[current_index].equal);
    check_equal(CG_F32, K_EQUAL_F32, 1e-4, &results[current_index].equal_f32);
}

/* Central difference of the loss after K_HYPER fused steps with step h. */
static double central(const prob *b, perturb pt, double h)
{
    double *d = pt.hyper ? &pt.dh : &pt.dp;
    *d = h;
    double up = fused_run(current, b, K_HYPER, &pt, NULL);
    *d = -h;
    return (up - fused_run(current, b, K_HYPER, &pt, NULL)) / (2 * h);
}

/* The derivative by central differences with one Richardson extrapolation (error O(h^4)),
 * so that h can stay large enough for rounding not to matter. */
static double fd(const prob *b, perturb pt, double h)
{
    return (4 * central(b, pt, h / 2) - central(b, pt, h)) / 3;
}

/* The finite difference for a hyperparameter at value v closest to the analytical a, over
 * three steps: one small against v (and against the edge of [0, 1) for the betas, since
 * beta2 = 0.999 is 1e-3 from it), and two absolute ones. No single step suits every
 * hyperparameter: Adam's eps = 1e-8 needs a step far above 1e-8 for rounding not to
 * swamp the difference, Adadelta's eps = 1e-6 one far below 1e-6, as it enters through
 * sqrt(eps) on the first step. A wrong derivative disagrees with all three. */
static double fd_hyper(const prob *b, perturb pt, double v, double a)
{
    double scale = fabs(v);
    if (!strncmp(pt.hyper, "beta", 4) || !strcmp(pt.hyper, "rho") || !strcmp(pt.hyper, "alpha"))
        scale = fmin(scale, fabs(1 - v));
    const double steps[3] = {scale > 0 ? 1e-3 * scale : 1e-5, 1e-5, 1e-7};
    double best = NAN;
    for (int i = 0; i < 3; i++) {
        double n = fd(b, pt, steps[i]);
        if (!(fabs(n - a) >= fabs(best - a)))
            best = n;
    }
    return best;
}

/* Compare one analytical derivative with its finite difference; returns the relative error. */
static double compare(const char *what, double a, double n)
{
    double rel = fabs(a - n) / fmax(fabs(n), 1e-6);
    if (!(fabs(a - n) <= 1e-7 + 1e-5 * fabs(n)))
        fail_msg("%s: d loss / d %s = %.12g by cg_grad, %.12g by finite differences", current->name,
                 what, a, n);
    return rel;
}

/* The hyperparameters: the entries "param_groups.G.NAME" of the state. */
static int list_hypers(const cg_optimizer *opt, int *group, const char **name, int cap)
{
    int n = 0;
    for (int i = 0; i < cg_optim_state_count(opt) && n < cap; i++) {
        const char *e;
        cg_optim_state_get(opt, i, &e);
        if (strncmp(e, "param_groups.", 13))
            continue;
        group[n] = atoi(e + 13);
        name[n++] = strchr(e + 13, '.') + 1;
    }
    return n;
}

static void test_hypergradients(void **state)
{
    (void)state;
    prob b;
    prob_make(&b, CG_F64);
    cg_tensor *p[2] = {cg_tensor_clone(b.p0), cg_tensor_clone(b.p1)};
    cg_tensor_set_requires_grad(p[0], true);
    cg_tensor_set_requires_grad(p[1], true);
    cg_optimizer *opt = optim_case_make(current, p, 2);
    assert_non_null(opt);
    int group[16];
    const char *name[16];
    cg_tensor *wrt[18];
    int nh = list_hypers(opt, group, name, 16);
    for (int k = 0; k < nh; k++) {
        wrt[k] = cg_optim_hyper(opt, group[k], name[k]);
        assert_ok(cg_tensor_set_requires_grad(wrt[k], true));
    }
    wrt[nh] = p[0];
    wrt[nh + 1] = p[1];
    cg_tensor *loss = diff_run(opt, current, &b, p, K_HYPER, true, NULL), *grads[18];
    cg_grad_options go = {false, true};
    assert_ok(cg_grad(&loss, 1, NULL, wrt, nh + 2, grads, &go));
    double worst = 0;
    for (int k = 0; k < nh; k++) {
        if (!grads[k]) { /* not in the update (e.g. SGD's momentum when made without) */
            results[current_index].nunused++;
            continue;
        }
        double a = cg_tensor_item(grads[k]);
        perturb pt = {group[k], name[k], 0, -1, 0};
        char what[64];
        snprintf(what, sizeof what, "%s (group %d)", name[k], group[k]);
        worst = fmax(worst, compare(what, a, fd_hyper(&b, pt, cg_tensor_item(wrt[k]), a)));
        results[current_index].nhyper++;
    }
    double gp[NP];
    cg_tensor_to_f64(grads[nh], gp);
    cg_tensor_to_f64(grads[nh + 1], gp + 6);
    for (int e = 0; e < NP; e++) {
        perturb pt = {0, NULL, 0, e, 0};
        char what[64];
        snprintf(what, sizeof what, "initial parameter element %d", e);
        worst = fmax(worst, compare(what, gp[e], fd(&b, pt, 1e-4)));
    }
    results[current_index].hyper = worst;
    cg_optim_free(opt);
    cg_tensor_free(p[0]);
    cg_tensor_free(p[1]);
    prob_free(&b);
}

/* ---- the contract of the mode ---- */

static void test_contract(void **state)
{
    (void)state;
    prob b;
    prob_make(&b, CG_F64);
    cg_tensor *p[2] = {cg_tensor_clone(b.p0), cg_tensor_clone(b.p1)}, *g[2], *q[2];
    cg_tensor_set_requires_grad(p[0], true);
    cg_tensor_set_requires_grad(p[1], true);
    cg_adam_options o = cg_adam_defaults();
    cg_optimizer *opt = cg_optim_adam_new(p, 2, &o);
    double before = cg_tensor_item(cg_sum(p[0], NULL, 0, false));
    uint64_t version = cg_tensor_version(p[0]);
    cg_tensor *loss = optim_problem_loss(&b.pr, p[0], p[1], 1);
    assert_ok(cg_grad(&loss, 1, NULL, p, 2, g, NULL));
    cg_tensor *only_first[2] = {g[0], NULL};
    assert_ok(cg_optim_diff_step(opt, p, only_first, q));
    /* out of place, recorded in the scope "optim"; a NULL gradient skips the parameter */
    assert_ptr_equal(q[1], p[1]);
    assert_ptr_not_equal(q[0], p[0]);
    assert_string_equal(cg_tensor_scope(q[0]), "optim");
    assert_null(cg_tape_scope());
    assert_int_equal(cg_tensor_version(p[0]), version);
    assert_close(cg_tensor_item(cg_sum(p[0], NULL, 0, false)), before, 0, 0);
    /* the fused state is untouched: step counts still 0 */
    for (int i = 0; i < cg_optim_state_count(opt); i++) {
        const char *n;
        cg_tensor *t = cg_optim_state_get(opt, i, &n);
        if (strstr(n, ".step"))
            assert_close(cg_tensor_item(t), 0, 0, 0);
    }
    /* errors: a shape mismatch, NULL arrays */
    cg_tensor *wrong[2] = {p[1], p[1]};
    assert_int_equal(cg_optim_diff_step(opt, wrong, g, q), CG_ERR_SHAPE);
    assert_error_contains("params[0]");
    assert_int_equal(cg_optim_diff_step(opt, p, NULL, q), CG_ERR_NULL);
    /* after a tape reset, reset the mode and start again */
    cg_tape_reset(cg_tape_active());
    cg_optim_diff_reset(opt);
    loss = optim_problem_loss(&b.pr, p[0], p[1], 1);
    assert_ok(cg_grad(&loss, 1, NULL, p, 2, g, NULL));
    assert_ok(cg_optim_diff_step(opt, p, g, q));
    cg_optim_free(opt);
    cg_tensor_free(p[0]);
    cg_tensor_free(p[1]);
    prob_free(&b);
}

/* L-BFGS's differentiable mode needs max_iter 1 and no line search. */
static void test_lbfgs_diff_needs_one_iteration(void **state)
{
    (void)state;
    cg_tensor *x = cg_tensor_zeros(CG_F64, 1, (int64_t[]){3}), *g, *q;
    cg_tensor_set_requires_grad(x, true);
    cg_optimizer *opt = cg_optim_lbfgs_new(&x, 1, NULL);
    cg_tensor *loss = cg_sum(cg_mul(x, x), NULL, 0, false);
    assert_ok(cg_grad(&loss, 1, NULL, &x, 1, &g, NULL));
    assert_int_equal(cg_optim_diff_step(opt, &x, &g, &q), CG_ERR_STATE);
    assert_error_contains("max_iter 1");
    cg_optim_free(opt);
    cg_tensor_free(x);
}

/* ---- main: one test per configuration and kind ---- */

static int case_setup(void **state)
{
    current_index = (int)(intptr_t)*state;
    current = case_at(current_index);
    return cg_test_setup(state);
}

int main(void)
{
    enum { N = OPTIM_NCASES + NEXTRA };
    static struct CMUnitTest tests[2 * N + 2];
    static char names[2 * N][96];
    int nt = 0;
    for (int i = 0; i < N; i++) {
        snprintf(names[2 * i], sizeof names[0], "fused_equals_diff_%s", case_at(i)->name);
        snprintf(names[2 * i + 1], sizeof names[0], "hypergradients_%s", case_at(i)->name);
        tests[nt++] = (struct CMUnitTest){names[2 * i], test_fused_equals_diff, case_setup,
                                          cg_test_teardown, (void *)(intptr_t)i};
        tests[nt++] = (struct CMUnitTest){names[2 * i + 1], test_hypergradients, case_setup,
                                          cg_test_teardown, (void *)(intptr_t)i};
    }
    tests[nt++] = (struct CMUnitTest)CG_TEST(test_contract);
    tests[nt++] = (struct CMUnitTest)CG_TEST(test_lbfgs_diff_needs_one_iteration);
    int failed = _cmocka_run_group_tests("optim_diff", tests, (size_t)nt, NULL, NULL);
    fprintf(stderr, "# %-28s %-12s %-12s %-12s %s\n", "configuration", "fused~diff", "f32",
            "hypergrad", "hyperparameters checked (unused)");
    for (int i = 0; i < N; i++)
        fprintf(stderr, "# %-28s %-12.3g %-12.3g %-12.3g %d (%d)\n", case_at(i)->name,
                results[i].equal, results[i].equal_f32, results[i].hyper, results[i].nhyper,
                results[i].nunused);
    return failed;
}
