/*
 * cgrad-optim-study: the optimizer comparison of the course (CS231n's "Training neural
 * networks", the contour pictures of Goodfellow et al. ch. 8), run through libcgrad's
 * optimizers on two functions of two variables.
 *
 * SGD, SGD with momentum 0.9, Nesterov 0.9, AdaGrad, RMSProp, Adam and L-BFGS (strong
 * Wolfe line search) minimize an ill-conditioned quadratic 0.5 (x² + 100 y²) (condition
 * number 100) and the Rosenbrock function (1 - x)² + 100 (y - x²)². For each optimizer and
 * problem the learning rate is tuned on a fixed grid: the value that reaches the tolerance
 * ‖p - p*‖ < 1e-6 in the fewest updates wins (if none does, the smallest final error).
 * The parameters are two 0-d f64 leaf tensors; the loss is built from ops on a tape and
 * differentiated by cg_backward, and every update is the library's own
 * (cg_optim_step_closure).
 *
 * Output: Markdown tables on stdout. With an output path (docs/optim-study.md) it also
 * writes the report there, and next to it, for each problem, the trajectories over the
 * contour lines (<stem>-<problem>.png and .svg, drawn with PLplot here because the
 * library's cg_plot_curves draws curves over steps only) and the error against the step
 * (<stem>-<problem>-error.png, through cg_plot_curves). Every file goes to a
 * temporary name and is renamed into place, so an interrupted run never leaves half a file.
 * The build's `optim-study` target regenerates docs/ this way.
 *
 * Usage: cgrad-optim-study [--steps N] [--quick] [output.md]
 * --steps caps the updates of each run (10000); --quick tunes over three learning rates.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <plplot.h>

#include <cgrad/cgrad.h>

enum { NOPT = 7, NPROB = 2, MAX_GRID = 16, TRAJ_POINTS = 200, GRID_N = 101 };

static const double TOLERANCE = 1e-6; /* on the distance to the minimizer */
static const double DIVERGED = 1e8;   /* a distance past which a run counts as diverged */

typedef enum opt_kind {
    OPT_SGD,
    OPT_MOMENTUM,
    OPT_NESTEROV,
    OPT_ADAGRAD,
    OPT_RMSPROP,
    OPT_ADAM,
    OPT_LBFGS
} opt_kind;

static const char *const opt_names[NOPT] = {"SGD", "SGD + momentum 0.9", "Nesterov 0.9",
                                            "AdaGrad", "RMSProp", "Adam",
                                            "L-BFGS (strong Wolfe)"};

/* The learning-rate grids: one 1-2-5 grid shared by every first-order method, and the step
 * scales L-BFGS's line search starts from. --quick keeps three values of each. */
static const double grid_first[] = {1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02,
                                    0.05, 0.1,  0.2,  0.5,  1.0,  2.0,  5.0,  10.0};
static const double grid_lbfgs[] = {0.1, 0.2, 0.5, 1.0};
static const double quick_first[] = {1e-3, 0.01, 0.1};
static const double quick_lbfgs[] = {0.5, 1.0};

typedef struct problem {
    const char *name, *slug, *formula;
    double start[2], argmin[2], fmin;
    double view[4]; /* the picture's window: x from, x to, y from, y to */
    cg_tensor *(*loss)(cg_tensor *x, cg_tensor *y);
    double (*value)(double x, double y);
} problem;

/* 0.5 (x² + 100 y²), built from ops. */
static cg_tensor *quadratic_loss(cg_tensor *x, cg_tensor *y)
{
    return cg_add(cg_mul_scalar(cg_mul(x, x), 0.5), cg_mul_scalar(cg_mul(y, y), 50.0));
}

static double quadratic_value(double x, double y)
{
    return 0.5 * (x * x + 100 * y * y);
}

/* (1 - x)² + 100 (y - x²)², built from ops. */
static cg_tensor *rosenbrock_loss(cg_tensor *x, cg_tensor *y)
{
    cg_tensor *a = cg_add_scalar(cg_neg(x), 1.0);
    cg_tensor *b = cg_sub(y, cg_mul(x, x));
    return cg_add(cg_mul(a, a), cg_mul_scalar(cg_mul(b, b), 100.0));
}

static double rosenbrock_value(double x, double y)
{
    return (1 - x) * (1 - x) + 100 * (y - x * x) * (y - x * x);
}

static const problem problems[NPROB] = {
    {"Ill-conditioned quadratic", "quadratic", "f(x, y) = 0.5 (x² + 100 y²)", {-1.5, 1.0},
     {0, 0}, 0, {-2.0, 2.0, -1.25, 1.25}, quadratic_loss, quadratic_value},
    {"Rosenbrock", "rosenbrock", "f(x, y) = (1 - x)² + 100 (y - x²)²", {-1.5, 2.0}, {1, 1}, 0,
     {-2.0, 2.0, -1.0, 3.0}, rosenbrock_loss, rosenbrock_value},
};

typedef struct config {
    int64_t steps;
    bool quick;
    const char *output;
} config;

/* One run of one optimizer with one learning rate. */
typedef struct run {
    double lr;
    int64_t reached; /* updates (L-BFGS: iterations) until the tolerance; -1 if never */
    int64_t evals;   /* loss and gradient evaluations at new points until then (or in all) */
    int64_t taken;   /* updates made */
    double err, f;   /* at the end */
    bool diverged;
    double *path;    /* NULL, or room for 2 (steps + 1) coordinates: the iterates */
    double *errs;    /* NULL, or room for steps + 1 distances to the minimizer */
} run;

typedef struct result {
    int ngrid;
    const double *grid;
    int64_t grid_reached[MAX_GRID];
    run best;
} result;

typedef struct study {
    config cfg;
    result r[NPROB][NOPT];
} study;

static int fail(const char *what)
{
    fprintf(stderr, "cgrad-optim-study: %s: %s\n", what, cg_last_error());
    return 1;
}

/* ---- the runs ---- */

typedef struct eval_ctx {
    const problem *p;
    cg_tensor *x, *y;
    cg_tape *tape;
    cg_optimizer *opt;
    int64_t evals;
    double last[2]; /* the point last evaluated */
} eval_ctx;

/* The closure: loss and gradient at the current point. L-BFGS, stepped one iteration per
 * call, re-evaluates at the start of each call the point its line search ended on; such a
 * repeat is not counted as an evaluation. */
static double evaluate(void *vctx)
{
    eval_ctx *c = vctx;
    cg_tape_reset(c->tape);
    cg_optim_zero_grad(c->opt, false);
    cg_tensor *f = c->p->loss(c->x, c->y);
    if (!f || cg_backward(f, NULL) != CG_OK)
        return NAN;
    double px = cg_tensor_item(c->x), py = cg_tensor_item(c->y);
    if (c->evals == 0 || px != c->last[0] || py != c->last[1])
        c->evals++;
    c->last[0] = px;
    c->last[1] = py;
    return cg_tensor_item(f);
}

static cg_optimizer *make_optimizer(opt_kind k, cg_tensor *const *params, double lr)
{
    switch (k) {
    case OPT_SGD:
    case OPT_MOMENTUM:
    case OPT_NESTEROV: {
        cg_sgd_options o = cg_sgd_defaults();
        o.lr = lr;
        o.momentum = k == OPT_SGD ? 0.0 : 0.9;
        o.nesterov = k == OPT_NESTEROV;
        return cg_optim_sgd_new(params, 2, &o);
    }
    case OPT_ADAGRAD: {
        cg_adagrad_options o = cg_adagrad_defaults();
        o.lr = lr;
        return cg_optim_adagrad_new(params, 2, &o);
    }
    case OPT_RMSPROP: {
        cg_rmsprop_options o = cg_rmsprop_defaults();
        o.lr = lr;
        return cg_optim_rmsprop_new(params, 2, &o);
    }
    case OPT_ADAM: {
        cg_adam_options o = cg_adam_defaults();
        o.lr = lr;
        return cg_optim_adam_new(params, 2, &o);
    }
    case OPT_LBFGS: {
        /* One iteration per call, so that every iterate can be recorded; the stopping
         * tolerances are set below the study's so that only the study decides when to stop. */
        cg_lbfgs_options o = cg_lbfgs_defaults();
        o.lr = lr;
        o.max_iter = 1;
        o.max_eval = 25;
        o.tolerance_grad = 1e-15;
        o.tolerance_change = 1e-20;
        o.history_size = 10;
        o.line_search = CG_LINE_SEARCH_STRONG_WOLFE;
        return cg_optim_lbfgs_new(params, 2, &o);
    }
    }
    return NULL;
}

/* Run optimizer k with learning rate lr on p for at most cap updates, or until the
 * distance to the minimizer falls below the tolerance. */
static int run_one(const problem *p, opt_kind k, double lr, int64_t cap, cg_tape *tape, run *out)
{
    cg_tensor *x = cg_tensor_scalar(CG_F64, p->start[0]);
    cg_tensor *y = cg_tensor_scalar(CG_F64, p->start[1]);
    cg_tensor *params[2] = {x, y};
    int status = 0;
    if (!x || !y || cg_tensor_set_requires_grad(x, true) != CG_OK ||
        cg_tensor_set_requires_grad(y, true) != CG_OK) {
        status = fail("making the parameters");
        goto done;
    }
    eval_ctx c = {p, x, y, tape, make_optimizer(k, params, lr), 0, {0, 0}};
    if (!c.opt) {
        status = fail("making the optimizer");
        goto done;
    }
    out->lr = lr;
    out->reached = -1;
    out->diverged = false;
    double px = p->start[0], py = p->start[1];
    double err = hypot(px - p->argmin[0], py - p->argmin[1]);
    if (out->path)
        out->path[0] = px, out->path[1] = py;
    if (out->errs)
        out->errs[0] = err;
    int64_t t = 0;
    while (t < cap && err >= TOLERANCE) {
        if (cg_optim_step_closure(c.opt, evaluate, &c, NULL) != CG_OK) {
            status = fail(opt_names[k]);
            break;
        }
        t++;
        px = cg_tensor_item(x);
        py = cg_tensor_item(y);
        err = hypot(px - p->argmin[0], py - p->argmin[1]);
        if (out->path)
            out->path[2 * t] = px, out->path[2 * t + 1] = py;
        if (out->errs)
            out->errs[t] = err;
        if (!(err < DIVERGED)) {
            out->diverged = true;
            break;
        }
    }
    out->taken = t;
    out->evals = c.evals;
    out->err = err;
    out->f = p->value(px, py);
    if (!out->diverged && err < TOLERANCE)
        out->reached = t;
    cg_tape_reset(tape);
    cg_optim_free(c.opt);
done:
    cg_tensor_free(x);
    cg_tensor_free(y);
    return status;
}

/* Is a better than b: it reaches the tolerance in fewer updates (then fewer evaluations),
 * or, when neither reaches it, it ends closer to the minimizer without diverging. */
static bool better(const run *a, const run *b)
{
    if (a->reached >= 0 || b->reached >= 0) {
        if (a->reached < 0 || b->reached < 0)
            return a->reached >= 0;
        return a->reached < b->reached || (a->reached == b->reached && a->evals < b->evals);
    }
    if (a->diverged != b->diverged)
        return !a->diverged;
    return a->err < b->err;
}

/* Tune k's learning rate on p over its grid, then rerun the best one recording its path. */
static int tune(const study *st, const problem *p, opt_kind k, cg_tape *tape, result *r)
{
    bool lbfgs = k == OPT_LBFGS, quick = st->cfg.quick;
    r->grid = lbfgs ? (quick ? quick_lbfgs : grid_lbfgs) : (quick ? quick_first : grid_first);
    r->ngrid = lbfgs ? (quick ? 2 : 4) : (quick ? 3 : 16);
    run best = {0};
    for (int i = 0; i < r->ngrid; i++) {
        run one = {0};
        if (run_one(p, k, r->grid[i], st->cfg.steps, tape, &one) != 0)
            return 1;
        r->grid_reached[i] = one.reached;
        if (i == 0 || better(&one, &best))
            best = one;
    }
    size_t n = (size_t)st->cfg.steps + 1;
    r->best.path = malloc(2 * n * sizeof *r->best.path);
    r->best.errs = malloc(n * sizeof *r->best.errs);
    if (!r->best.path || !r->best.errs) {
        fprintf(stderr, "cgrad-optim-study: out of memory\n");
        return 1;
    }
    return run_one(p, k, best.lr, st->cfg.steps, tape, &r->best);
}

static int run_study(study *st)
{
    cg_tape *tape = cg_tape_new();
    if (!tape)
        return fail("making the tape");
    cg_tape *prev = cg_tape_use(tape);
    int status = 0;
    for (int p = 0; p < NPROB && status == 0; p++)
        for (int k = 0; k < NOPT && status == 0; k++)
            status = tune(st, &problems[p], (opt_kind)k, tape, &st->r[p][k]);
    cg_tape_use(prev);
    cg_tape_free(tape);
    return status;
}

static void free_study(study *st)
{
    for (int p = 0; p < NPROB; p++)
        for (int k = 0; k < NOPT; k++) {
            free(st->r[p][k].best.path);
            free(st->r[p][k].best.errs);
        }
}

/* ---- the pictures ---- */

/* Colours 2.. of PLplot's map 0: Okabe-Ito (readable by colour-blind readers), as the
 * library's curves; 0 the background, 1 axes and text, last the contour lines. */
static const unsigned char palette[][3] = {
    {255, 255, 255}, {0, 0, 0},     {0, 114, 178},  {213, 94, 0},   {0, 158, 115},
    {204, 121, 167}, {230, 159, 0}, {86, 180, 233}, {120, 60, 20},  {175, 175, 175},
};
enum { NCOLORS = (int)(sizeof palette / sizeof palette[0]), FIRST_COLOR = 2, CONTOUR_COLOR = 9 };

static bool device_available(const char *dev)
{
    enum { MAX_DEVICES = 128 };
    const char *menus[MAX_DEVICES], *names[MAX_DEVICES];
    const char **pm = menus, **pn = names;
    int n = MAX_DEVICES;
    plgDevs(&pm, &pn, &n);
    for (int i = 0; i < n; i++)
        if (names[i] && strcmp(names[i], dev) == 0)
            return true;
    return false;
}

/* Contour lines of p at levels spaced evenly in log10 f, over the picture's window. */
static int draw_contours(const problem *p)
{
    enum { NLEV = 12 };
    PLFLT xg[GRID_N], yg[GRID_N], levels[NLEV];
    PLFLT *rows[GRID_N];
    PLFLT *z = malloc(sizeof(PLFLT) * GRID_N * GRID_N);
    if (!z)
        return 1;
    const double *v = p->view;
    for (int i = 0; i < GRID_N; i++) {
        xg[i] = v[0] + (v[1] - v[0]) * i / (GRID_N - 1);
        yg[i] = v[2] + (v[3] - v[2]) * i / (GRID_N - 1);
    }
    for (int i = 0; i < GRID_N; i++) {
        rows[i] = z + (size_t)i * GRID_N;
        for (int j = 0; j < GRID_N; j++)
            rows[i][j] = p->value(xg[i], yg[j]);
    }
    /* from 1e-2 up to the largest value in the window, 12 levels */
    double top = 0;
    for (int i = 0; i < GRID_N * GRID_N; i++)
        top = fmax(top, z[i]);
    double lo = -2, hi = log10(top);
    for (int l = 0; l < NLEV; l++)
        levels[l] = pow(10, lo + (hi - lo) * l / NLEV);
    PLcGrid cgrid = {xg, yg, NULL, GRID_N, GRID_N, 0};
    plcol0(CONTOUR_COLOR);
    plwidth(1);
    plcont((PLFLT_MATRIX)rows, GRID_N, GRID_N, 1, GRID_N, 1, GRID_N, levels, NLEV, pltr1, &cgrid);
    free(z);
    return 0;
}

/* Every optimizer's first TRAJ_POINTS iterates (with a dot at each when markers), the start
 * and the minimizer, and a legend. */
static void draw_paths(const study *st, int pi, bool markers)
{
    const problem *p = &problems[pi];
    PLFLT px[TRAJ_POINTS + 1], py[TRAJ_POINTS + 1];
    PLINT opts[NOPT], colors[NOPT], text_colors[NOPT], styles[NOPT];
    PLFLT widths[NOPT];
    const char *labels[NOPT];
    char label_buf[NOPT][96];
    for (int k = 0; k < NOPT; k++) {
        const run *r = &st->r[pi][k].best;
        int n = 0;
        for (int64_t t = 0; t <= r->taken && t <= TRAJ_POINTS; t++, n++) {
            double a = r->path[2 * t], b = r->path[2 * t + 1];
            if (!isfinite(a) || !isfinite(b) || fabs(a) > 1e6 || fabs(b) > 1e6)
                break;
            px[n] = a;
            py[n] = b;
        }
        colors[k] = FIRST_COLOR + k % (NCOLORS - FIRST_COLOR - 1);
        styles[k] = k == OPT_NESTEROV ? 2 : 1; /* Nesterov dashed over momentum's path */
        plcol0(colors[k]);
        pllsty(styles[k]);
        plwidth(k == OPT_LBFGS ? 2.5 : 1.8);
        if (n > 1)
            plline(n, px, py);
        if (markers) { /* PNG only: in an SVG each marker is an element of its own */
            plssym(0, 0.5);
            plpoin(n, px, py, 17);
        }
        opts[k] = PL_LEGEND_LINE;
        widths[k] = 2;
        text_colors[k] = 1;
        snprintf(label_buf[k], sizeof label_buf[k], "%s, lr %g", opt_names[k], r->lr);
        labels[k] = label_buf[k];
    }
    pllsty(1);
    plcol0(1);
    plssym(0, 1.2);
    PLFLT sx = p->start[0], sy = p->start[1], mx = p->argmin[0], my = p->argmin[1];
    plpoin(1, &sx, &sy, 5);  /* the start: a cross */
    plpoin(1, &mx, &my, 18); /* the minimizer: a star */
    plptex(sx, sy, 0, 0, -0.15, " start");
    PLFLT lw, lh;
    plschr(0, 0.8);
    /* to the right of the frame, so that it hides no path */
    pllegend(&lw, &lh, 0, PL_POSITION_RIGHT | PL_POSITION_OUTSIDE, 0.02, 0.0,
             0.06, 0, 1, 1, 0, 0, NOPT, opts, 1.0, 0.8, 2.0, 0.0, text_colors, labels, NULL,
             NULL, NULL, NULL, colors, styles, widths, NULL, NULL, NULL, NULL);
}

/* The trajectory picture of problem pi into path with a PLplot cairo device. PLplot writes
 * the temporary file tmp (created here first, so a bad path is our error, not PLplot's
 * prompt); the caller renames it. */
static int draw_picture(const study *st, int pi, const char *tmp, const char *device)
{
    const problem *p = &problems[pi];
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        perror(tmp);
        return 1;
    }
    fclose(f);
    if (!device_available(device)) {
        fprintf(stderr, "cgrad-optim-study: PLplot device %s missing (plplot-driver-cairo)\n",
                device);
        return 1;
    }
    PLINT old = 0, mine = 0;
    plgstrm(&old);
    plmkstrm(&mine);
    plsdev(device);
    plsfnam(tmp);
    plspage(0, 0, 1150, 720, 0, 0);
    for (int c = 0; c < NCOLORS; c++)
        plscol0(c, palette[c][0], palette[c][1], palette[c][2]);
    plscolbg(255, 255, 255);
    plinit();
    pladv(0);
    plvpor(0.07, 0.64, 0.09, 0.93);
    plwind(p->view[0], p->view[1], p->view[2], p->view[3]);
    int status = draw_contours(p);
    plcol0(1);
    plwidth(1);
    plschr(0, 0.9);
    plbox("bcnst", 0, 0, "bcnstv", 0, 0);
    char title[160];
    snprintf(title, sizeof title, "%s from (%g, %g): first %d iterates", p->formula,
             p->start[0], p->start[1], TRAJ_POINTS);
    plmtex("t", 1.5, 0.5, 0.5, title);
    plmtex("b", 3.0, 0.5, 0.5, "x");
    plmtex("l", 3.5, 0.5, 0.5, "y");
    if (status == 0)
        draw_paths(st, pi, strcmp(device, "pngcairo") == 0);
    plend1();
    plsstrm(old);
    return status;
}

/* "<stem><suffix>" where stem is output without its ".md". */
static char *derived_path(const char *output, const char *suffix)
{
    size_t n = strlen(output);
    if (n > 3 && strcmp(output + n - 3, ".md") == 0)
        n -= 3;
    size_t m = n + strlen(suffix) + 1;
    char *s = malloc(m);
    if (s)
        snprintf(s, m, "%.*s%s", (int)n, output, suffix);
    return s;
}

/* path.tmp-<pid>: the temporary name a file is written under before its rename. */
static char *temp_path(const char *path)
{
    size_t m = strlen(path) + 32;
    char *s = malloc(m);
    if (s)
        snprintf(s, m, "%s.tmp-%ld", path, (long)getpid());
    return s;
}

static int commit(const char *tmp, const char *path, int status)
{
    if (status == 0 && rename(tmp, path) != 0) {
        perror(path);
        status = 1;
    }
    if (status != 0)
        remove(tmp);
    return status;
}

static int write_trajectories(const study *st, int pi, const char *output)
{
    static const char *const exts[2] = {".png", ".svg"};
    static const char *const devices[2] = {"pngcairo", "svgcairo"};
    int status = 0;
    for (int e = 0; e < 2 && status == 0; e++) {
        char suffix[64];
        snprintf(suffix, sizeof suffix, "-%s%s", problems[pi].slug, exts[e]);
        char *path = derived_path(output, suffix), *tmp = path ? temp_path(path) : NULL;
        status = tmp ? commit(tmp, path, draw_picture(st, pi, tmp, devices[e])) : 1;
        free(tmp);
        free(path);
    }
    return status;
}

/* Distance to the minimizer against the update (L-BFGS: iteration), log scale, through
 * the library's cg_plot_curves (which writes atomically itself). */
static int write_errors(const study *st, int pi, const char *output)
{
    int64_t n = 1;
    for (int k = 0; k < NOPT; k++)
        n = st->r[pi][k].best.taken + 1 > n ? st->r[pi][k].best.taken + 1 : n;
    double *xs = malloc((size_t)n * sizeof *xs), *ys = malloc((size_t)(n * NOPT) * sizeof *ys);
    cg_plot_series series[NOPT];
    char labels[NOPT][96];
    int status = xs && ys ? 0 : 1;
    for (int64_t t = 0; status == 0 && t < n; t++)
        xs[t] = (double)t;
    for (int k = 0; status == 0 && k < NOPT; k++) {
        const run *r = &st->r[pi][k].best;
        for (int64_t t = 0; t < n; t++)
            ys[k * n + t] = t <= r->taken && isfinite(r->errs[t]) ? r->errs[t] : NAN;
        snprintf(labels[k], sizeof labels[k], "%s, lr %g", opt_names[k], r->lr);
        series[k] = (cg_plot_series){labels[k], ys + k * n, CG_PLOT_LEFT};
    }
    char title[160];
    snprintf(title, sizeof title, "%s: distance to the minimizer", problems[pi].name);
    cg_plot_options o = {title, "update (L-BFGS: iteration)", "|p - p*|", NULL, 900, 560, true};
    /* PNG only: 10000 points a curve make a large SVG */
    char suffix[64];
    snprintf(suffix, sizeof suffix, "-%s-error.png", problems[pi].slug);
    char *path = status == 0 ? derived_path(output, suffix) : NULL;
    if (status == 0 && (!path || cg_plot_curves(path, xs, n, series, NOPT, &o) != CG_OK))
        status = path ? fail(path) : 1;
    free(path);
    free(xs);
    free(ys);
    return status;
}

/* ---- the report ---- */

static void fmt_steps(char *buf, size_t n, const run *r)
{
    if (r->reached >= 0)
        snprintf(buf, n, "%lld", (long long)r->reached);
    else if (r->diverged)
        snprintf(buf, n, "diverged");
    else
        snprintf(buf, n, "not reached (error %.2g)", r->err);
}

static void print_grid(FILE *f, const result *r)
{
    for (int i = 0; i < r->ngrid; i++) {
        char steps[24];
        if (r->grid_reached[i] >= 0)
            snprintf(steps, sizeof steps, "%lld", (long long)r->grid_reached[i]);
        else
            snprintf(steps, sizeof steps, "–");
        fprintf(f, "%s%s%g: %s%s", i ? ", " : "", r->grid[i] == r->best.lr ? "**" : "",
                r->grid[i], steps, r->grid[i] == r->best.lr ? "**" : "");
    }
}

static void print_table(FILE *f, const study *st, int pi)
{
    fprintf(f, "| optimizer | lr | steps to ‖p − p*‖ < 1e-6 | f, ∇f evaluations | final "
               "‖p − p*‖ | final f |\n");
    fprintf(f, "| --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (int k = 0; k < NOPT; k++) {
        const run *r = &st->r[pi][k].best;
        char steps[64];
        fmt_steps(steps, sizeof steps, r);
        fprintf(f, "| %s | %g | %s | %lld | %.2g | %.3g |\n", opt_names[k], r->lr, steps,
                (long long)r->evals, r->err, r->f);
    }
    fprintf(f, "\nSteps to the tolerance for every learning rate of the grid (– : not reached "
               "in %lld steps, or diverged; the chosen one in bold):\n\n",
            (long long)st->cfg.steps);
    for (int k = 0; k < NOPT; k++) {
        fprintf(f, "- %s: ", opt_names[k]);
        print_grid(f, &st->r[pi][k]);
        fprintf(f, "\n");
    }
}

static const run *best_of(const study *st, int pi, opt_kind k)
{
    return &st->r[pi][k].best;
}

static void print_intro(FILE *f, const study *st)
{
    fprintf(f, "# Optimizer study\n\n"
               "Generated by `tools/cgrad-optim-study` (`meson compile -C build optim-study`); "
               "do not edit by hand.\n\n"
               "Seven of libcgrad's optimizers minimize two functions of two parameters "
               "p = (x, y), each a 0-d f64 leaf tensor: the loss is built from ops, "
               "differentiated by `cg_backward`, and every update is the library's own "
               "(`cg_optim_step_closure`). The problems:\n\n"
               "- %s, condition number 100, from (%g, %g); minimizer (0, 0).\n"
               "- %s, from (%g, %g); minimizer (1, 1), at the end of a long curved valley.\n\n",
            problems[0].formula, problems[0].start[0], problems[0].start[1], problems[1].formula,
            problems[1].start[0], problems[1].start[1]);
    fprintf(f, "**Protocol.** Each run stops when the distance to the minimizer "
               "‖p − p*‖ falls below 1e-6 (checked after every update; the distance rather than "
               "f − f* < 1e-10, which on the quadratic would stop at |y| ~ 1e-6 but |x| ~ 1e-5) "
               "or after %lld updates. SGD, momentum and Nesterov are `cg_optim_sgd_new` "
               "(PyTorch's form, momentum 0.9, dampening 0), AdaGrad, RMSProp and Adam use "
               "PyTorch's defaults (RMSProp: alpha 0.99, eps 1e-8; Adam: betas 0.9, 0.999) "
               "but for the learning rate. Each first-order method's lr is tuned on the grid "
               "{",
            (long long)st->cfg.steps);
    const result *r0 = &st->r[0][0], *rl = &st->r[0][OPT_LBFGS];
    for (int i = 0; i < r0->ngrid; i++)
        fprintf(f, "%s%g", i ? ", " : "", r0->grid[i]);
    fprintf(f, "} separately for each problem: the lr that reaches the tolerance in the fewest "
               "updates wins (if none does, the one that ends closest). L-BFGS (history 10, "
               "PyTorch's strong Wolfe line search, one iteration per "
               "`cg_optim_step_closure` call so that every iterate is recorded) takes its "
               "initial step scale from {");
    for (int i = 0; i < rl->ngrid; i++)
        fprintf(f, "%s%g", i ? ", " : "", rl->grid[i]);
    fprintf(f, "}; its steps are iterations, and the evaluations column counts the loss "
               "and gradient evaluations at distinct points (the line search's trials; the "
               "re-evaluation of the accepted point at the start of the next call is not "
               "counted). Every other method evaluates once per update.\n\n");
}

/* The paragraphs explaining the tables, with their numbers. */
static void print_findings(FILE *f, const study *st)
{
    const run *q[NOPT], *r[NOPT];
    char qs[NOPT][64], rs[NOPT][64];
    for (int k = 0; k < NOPT; k++) {
        q[k] = best_of(st, 0, (opt_kind)k);
        r[k] = best_of(st, 1, (opt_kind)k);
        fmt_steps(qs[k], sizeof qs[k], q[k]);
        fmt_steps(rs[k], sizeof rs[k], r[k]);
    }
    /* Adam's steps on the quadratic over the large learning rates, where they level off */
    const result *adam = &st->r[0][OPT_ADAM];
    int64_t adam_lo = -1, adam_hi = -1;
    for (int i = 0; i < adam->ngrid; i++) {
        int64_t n = adam->grid_reached[i];
        if (adam->grid[i] < 0.05 || n < 0)
            continue;
        adam_lo = adam_lo < 0 || n < adam_lo ? n : adam_lo;
        adam_hi = n > adam_hi ? n : adam_hi;
    }
    fprintf(f,
            "**What the numbers show.** On the quadratic, gradient descent's lr is capped by "
            "the steep direction (stable only for lr < 2/100, the curvature along y being "
            "100), so along the shallow x direction (curvature 1) each step removes only a "
            "fraction lr of the error: with lr %g the x error shrinks by a factor %g per step "
            "and SGD needs %s steps. Momentum accumulates the x component of the gradient, "
            "which keeps its sign, while the y component, which flips from step to step, "
            "cancels in the velocity. In numbers: heavy ball with momentum β contracts every "
            "direction whose lr·curvature lies in [(1 − √β)², (1 + √β)²] = [0.0026, 3.8] by "
            "√β ≈ 0.95 per step, so lr up to 0.038 stays stable and x shrinks by 0.95 per step "
            "instead of 0.99: SGD + momentum (lr %g) needs %s steps, although its path "
            "zig-zags across the valley. Nesterov takes the gradient at the look-ahead point, "
            "which damps that oscillation (its path drops to the axis and stays there) but "
            "narrows the stable range of lr; at lr %g it needs %s steps. AdaGrad and RMSProp "
            "divide each coordinate's step by the root of its (accumulated or averaged) "
            "squared gradients, here proportional to the coordinate's curvature times its "
            "distance, so on this axis-aligned quadratic they act as a diagonal Newton method "
            "and the condition number disappears: AdaGrad needs %s steps and RMSProp %s, the "
            "best of the first-order methods, each at the top of the grid (lr %g and %g; the "
            "first step is lr·sign(g), which throws them far out, and the scaling brings them "
            "straight back). Adam scales the same way but also carries a momentum (β1 = 0.9): "
            "for every lr of the grid from 0.05 up it needs %lld to %lld steps, about what "
            "momentum's √0.9 contraction per step predicts (%s at lr %g).\n\n",
            q[OPT_SGD]->lr, 1 - q[OPT_SGD]->lr, qs[OPT_SGD], q[OPT_MOMENTUM]->lr,
            qs[OPT_MOMENTUM], q[OPT_NESTEROV]->lr, qs[OPT_NESTEROV], qs[OPT_ADAGRAD],
            qs[OPT_RMSPROP], q[OPT_ADAGRAD]->lr, q[OPT_RMSPROP]->lr, (long long)adam_lo,
            (long long)adam_hi, qs[OPT_ADAM], q[OPT_ADAM]->lr);
    fprintf(f,
            "Rosenbrock's valley is curved, so no fixed per-coordinate scaling fits it, and its "
            "curvature across the valley (up to ~2000 at the start) caps the lr of the plain "
            "methods. SGD (lr %g) creeps along the flat floor: %s after %lld steps. Momentum "
            "gains speed along the floor (%s steps at lr %g), Nesterov needs a smaller lr "
            "(%g) and %s steps. AdaGrad never forgets the large gradients of its first steps "
            "(|∇f| ≈ 160 at the start), so its steps along the floor stay tiny: %s at lr %g. "
            "RMSProp forgets (α = 0.99, a memory of about 100 steps), so its step stays near "
            "lr whatever the gradient, and it ends up hovering about lr away from the minimum: "
            "%s at lr %g. Adam's bias-corrected, momentum-smoothed steps get there: %s steps "
            "at lr %g. L-BFGS builds a model of the curvature from the last gradient differences "
            "and its line search picks the step length (initial scale lr %g and %g): "
            "%lld iterations (%lld evaluations) on the quadratic and %lld iterations (%lld "
            "evaluations) on Rosenbrock, the last few each gaining about a digit or two "
            "(superlinear convergence once the model fits).\n\n",
            r[OPT_SGD]->lr, rs[OPT_SGD], (long long)r[OPT_SGD]->taken, rs[OPT_MOMENTUM],
            r[OPT_MOMENTUM]->lr, r[OPT_NESTEROV]->lr, rs[OPT_NESTEROV], rs[OPT_ADAGRAD],
            r[OPT_ADAGRAD]->lr, rs[OPT_RMSPROP], r[OPT_RMSPROP]->lr, rs[OPT_ADAM], r[OPT_ADAM]->lr,
            q[OPT_LBFGS]->lr, r[OPT_LBFGS]->lr, (long long)q[OPT_LBFGS]->taken, (long long)q[OPT_LBFGS]->evals,
            (long long)r[OPT_LBFGS]->taken, (long long)r[OPT_LBFGS]->evals);
}

static void print_report(FILE *f, const study *st, const char *stem)
{
    print_intro(f, st);
    print_findings(f, st);
    for (int p = 0; p < NPROB; p++) {
        fprintf(f, "## %s: %s\n\n", problems[p].name, problems[p].formula);
        print_table(f, st, p);
        if (stem)
            fprintf(f, "\n![Trajectories on %s](%s-%s.svg)\n\n"
                       "![Distance to the minimizer on %s](%s-%s-error.png)\n",
                    problems[p].name, stem, problems[p].slug, problems[p].name, stem,
                    problems[p].slug);
        fprintf(f, "\n");
    }
}

/* Write the report to path through a temporary file and a rename; the pictures it links
 * are named after path's file name. */
static int write_report(const char *path, const study *st)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char *stem = derived_path(base, ""), *tmp = temp_path(path);
    int status = stem && tmp ? 0 : 1;
    FILE *f = status == 0 ? fopen(tmp, "w") : NULL;
    if (status == 0 && !f) {
        perror(tmp);
        status = 1;
    }
    if (f) {
        print_report(f, st, stem);
        status = ferror(f) | (fclose(f) != 0);
    }
    if (tmp)
        status = commit(tmp, path, status);
    free(stem);
    free(tmp);
    return status;
}

/* Create output's directory when it does not exist (one level, as for a test's scratch
 * directory). */
static int make_parent(const char *output)
{
    const char *slash = strrchr(output, '/');
    if (!slash || slash == output)
        return 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", (int)(slash - output), output);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        perror(dir);
        return 1;
    }
    return 0;
}

/* ---- main ---- */

static int parse_args(int argc, char **argv, config *cfg)
{
    *cfg = (config){10000, false, NULL};
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && strcmp(argv[i], "--steps") == 0)
            cfg->steps = atoll(argv[++i]);
        else if (strcmp(argv[i], "--quick") == 0)
            cfg->quick = true;
        else if (argv[i][0] != '-' && !cfg->output)
            cfg->output = argv[i];
        else
            return -1;
    }
    return cfg->steps >= 1 && cfg->steps <= 100000000 ? 0 : -1;
}

int main(int argc, char **argv)
{
    static study st;
    if (parse_args(argc, argv, &st.cfg) != 0) {
        fprintf(stderr, "usage: %s [--steps N] [--quick] [output.md]\n", argv[0]);
        return 2;
    }
    int status = run_study(&st);
    if (status == 0) {
        print_report(stdout, &st, NULL);
        const char *out = st.cfg.output;
        if (out) {
            status = make_parent(out);
            for (int p = 0; p < NPROB && status == 0; p++)
                status = write_trajectories(&st, p, out) || write_errors(&st, p, out);
            if (status == 0)
                status = write_report(out, &st);
        }
    }
    free_study(&st);
    return status;
}
