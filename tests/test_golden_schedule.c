/* Learning-rate schedules and gradient clipping against PyTorch: golden data written by
 * tests/golden/make_golden_schedule.py (format in its docstring). One cmocka test per case:
 * a schedule case replays the lr sequence (relative error <= 1e-12), then replays it again
 * through a save at mid-sequence and a load into a fresh schedule, which must continue with
 * the very same bits. The largest difference per schedule kind is printed at the end. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define TOL 1e-12
#define TOL_F32 1e-6
#define MAX_KEYS 12

/* ---- the data file ---- */

typedef struct gs_array {
    char key[16];
    int n;
    double *v;
} gs_array;

typedef struct gs_case {
    char name[64];
    int nkeys;
    gs_array keys[MAX_KEYS];
} gs_case;

static gs_case *cases;
static int ncases;

static const gs_array *gs_find(const gs_case *c, const char *key)
{
    for (int i = 0; i < c->nkeys; i++)
        if (!strcmp(c->keys[i].key, key))
            return &c->keys[i];
    return NULL;
}

/* Read one "KEY N V1 .. VN" array into c; false on malformed input. */
static bool gs_read_array(FILE *f, gs_case *c, const char *key)
{
    if (c->nkeys == MAX_KEYS || strlen(key) >= sizeof c->keys[0].key)
        return false;
    gs_array *a = &c->keys[c->nkeys++];
    strcpy(a->key, key);
    if (fscanf(f, "%d", &a->n) != 1 || a->n < 0)
        return false;
    a->v = malloc(sizeof(double) * (size_t)(a->n + 1));
    char tok[64];
    for (int i = 0; i < a->n; i++) {
        if (fscanf(f, "%63s", tok) != 1)
            return false;
        a->v[i] = strtod(tok, NULL);
    }
    return true;
}

static bool gs_load(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char tok[128];
    bool ok = true;
    while (ok && fscanf(f, "%127s", tok) == 1) {
        if (tok[0] == '#') {
            ok = fscanf(f, "%*[^\n]") >= 0;
        } else if (!strcmp(tok, "case")) {
            cases = realloc(cases, sizeof *cases * (size_t)(ncases + 1));
            memset(&cases[ncases], 0, sizeof *cases);
            ok = fscanf(f, "%63s", cases[ncases++].name) == 1;
        } else if (strcmp(tok, "end")) {
            ok = ncases > 0 && gs_read_array(f, &cases[ncases - 1], tok);
        }
    }
    fclose(f);
    return ok && ncases > 0;
}

static void gs_free(void)
{
    for (int i = 0; i < ncases; i++)
        for (int k = 0; k < cases[i].nkeys; k++)
            free(cases[i].keys[k].v);
    free(cases);
}

static const gs_case *gs_get(const char *name)
{
    for (int i = 0; i < ncases; i++)
        if (!strcmp(cases[i].name, name))
            return &cases[i];
    return NULL;
}

/* ---- the schedules, named as the generator names its cases ---- */

typedef cg_schedule *(*make_fn)(void);

static cg_schedule *cyclic(double lo, double hi, int64_t up, int64_t down, cg_cyclic_mode mode,
                           double gamma)
{
    cg_cyclic_options o = cg_cyclic_defaults();
    o.step_size_up = up;
    o.step_size_down = down;
    o.mode = mode;
    o.gamma = gamma;
    return cg_schedule_cyclic_new(lo, hi, &o);
}

static cg_schedule *onecycle(double max_lr, int64_t total, bool three, cg_anneal how)
{
    cg_onecycle_options o = cg_onecycle_defaults();
    o.three_phase = three;
    o.anneal = how;
    return cg_schedule_onecycle_new(max_lr, total, &o);
}

static cg_schedule *plateau(double lr, cg_metric_mode mode, double factor, int64_t patience,
                            double threshold, cg_threshold_mode tmode, int64_t cooldown,
                            double min_lr, double eps)
{
    cg_plateau_options o = {mode, factor, patience, threshold, tmode, cooldown, min_lr, eps};
    return cg_schedule_plateau_new(lr, &o);
}

static cg_schedule *chain2(cg_schedule *a, cg_schedule *b)
{
    return cg_schedule_chain_new((cg_schedule *[]){a, b}, 2);
}

/* One function per case keeps each builder a one-liner a reader can hold next to the
 * generator's line. */
#define S(name, expr) static cg_schedule *make_##name(void) { return expr; }
S(constant_default, cg_schedule_constant_new(0.1, 1.0 / 3, 5))
S(constant_half_10, cg_schedule_constant_new(0.05, 0.5, 10))
S(constant_plain, cg_schedule_constant_new(0.3, 1.0, 1))
S(step_7_half, cg_schedule_step_new(0.1, 7, 0.5))
S(step_3_default, cg_schedule_step_new(1.0, 3, 0.1))
S(step_1_09, cg_schedule_step_new(0.2, 1, 0.9))
S(multistep_3, cg_schedule_multistep_new(0.1, (int64_t[]){5, 12, 30}, 3, 0.3))
S(multistep_zero, cg_schedule_multistep_new(0.5, (int64_t[]){0, 10, 40}, 3, 0.1))
S(exponential_095, cg_schedule_exponential_new(0.1, 0.95))
S(exponential_05, cg_schedule_exponential_new(1.0, 0.5))
S(inverse_time_01, cg_schedule_inverse_time_new(0.1, 0.1))
S(inverse_time_05, cg_schedule_inverse_time_new(0.3, 0.5))
S(robbins_monro_1_10, cg_schedule_robbins_monro_new(1.0, 10.0))
S(robbins_monro_05_3, cg_schedule_robbins_monro_new(0.5, 3.0))
S(inv_sqrt_t, cg_schedule_sqrt_decay_new(0.1))
S(inverse_sqrt_10, cg_schedule_inverse_sqrt_new(0.01, 10, 1.0))
S(inverse_sqrt_1, cg_schedule_inverse_sqrt_new(0.5, 1, 0.5))
S(inverse_sqrt_warm, cg_schedule_inverse_sqrt_new(1e-3, 16, 0.0))
S(inverse_sqrt_warm_start, cg_schedule_inverse_sqrt_new(0.1, 7, 0.3))
S(polynomial_default, cg_schedule_polynomial_new(0.1, 5, 1.0))
S(polynomial_40_2, cg_schedule_polynomial_new(0.1, 40, 2.0))
S(polynomial_30_05, cg_schedule_polynomial_new(0.3, 30, 0.5))
S(cosine_10, cg_schedule_cosine_new(0.1, 10, 0))
S(cosine_25_min, cg_schedule_cosine_new(0.1, 25, 1e-3))
S(cosine_7_min, cg_schedule_cosine_new(0.05, 7, 0.01))
S(cosine_1, cg_schedule_cosine_new(0.1, 1, 0))
S(cosine_60_long, cg_schedule_cosine_new(0.1, 60, 1e-4))
S(sgdr_10, cg_schedule_cosine_restarts_new(0.1, 10, 1, 0))
S(sgdr_3_x2_min, cg_schedule_cosine_restarts_new(0.1, 3, 2, 1e-3))
S(sgdr_1_x3, cg_schedule_cosine_restarts_new(0.5, 1, 3, 0))
S(linear_default, cg_schedule_linear_new(0.1, 1.0 / 3, 1.0, 5))
S(linear_down, cg_schedule_linear_new(0.2, 0.5, 0.1, 30))
S(linear_to_zero, cg_schedule_linear_new(0.1, 1.0, 0.0, 20))
S(warmup_cosine, cg_schedule_warmup_new(cg_schedule_cosine_new(0.1, 50, 0), 5, 0.1))
S(warmup_cosine_min, cg_schedule_warmup_new(cg_schedule_cosine_new(0.1, 30, 0.003), 8, 0.25))
S(warmup_exponential, cg_schedule_warmup_new(cg_schedule_exponential_new(0.1, 0.9), 10, 0.01))
S(warmup_step, cg_schedule_warmup_new(cg_schedule_step_new(0.1, 10, 0.5), 3, 0.5))
S(warmup_constant, cg_schedule_warmup_new(cg_schedule_constant_new(0.1, 0.5, 20), 4, 0.2))
S(warmup_linear, cg_schedule_warmup_new(cg_schedule_linear_new(0.1, 1.0, 0.05, 40), 6, 0.1))
S(warmup_inverse_sqrt, cg_schedule_warmup_new(cg_schedule_inverse_sqrt_new(1e-3, 8, 1.0), 8, 1e-3))
S(warmup_sgdr, cg_schedule_warmup_new(cg_schedule_cosine_restarts_new(0.1, 10, 2, 0), 5, 0.1))
S(warmup_polynomial, cg_schedule_warmup_new(cg_schedule_polynomial_new(0.1, 50, 2.0), 10, 0.1))
S(warmup_multistep, cg_schedule_warmup_new(
      cg_schedule_multistep_new(0.1, (int64_t[]){0, 20, 40}, 3, 0.5), 5, 0.3))
S(cyclic_triangular, cyclic(0.01, 0.1, 5, 0, CG_CYCLIC_TRIANGULAR, 1.0))
S(cyclic_triangular_updown, cyclic(0.01, 0.1, 10, 3, CG_CYCLIC_TRIANGULAR, 1.0))
S(cyclic_triangular2, cyclic(0.001, 0.01, 4, 6, CG_CYCLIC_TRIANGULAR2, 1.0))
S(cyclic_exp_range, cyclic(0.01, 0.2, 5, 0, CG_CYCLIC_EXP_RANGE, 0.99))
S(onecycle_cos, onecycle(0.1, 79, false, CG_ANNEAL_COS))
S(onecycle_linear, onecycle(0.1, 79, false, CG_ANNEAL_LINEAR))
S(onecycle_three_cos, onecycle(0.1, 79, true, CG_ANNEAL_COS))
S(onecycle_three_linear, onecycle(0.1, 79, true, CG_ANNEAL_LINEAR))
S(onecycle_opts, cg_schedule_onecycle_new(1.0, 60, &(cg_onecycle_options){
      .pct_start = 0.25, .anneal = CG_ANNEAL_COS, .div_factor = 10, .final_div_factor = 100}))
S(chain_constant_exponential, chain2(cg_schedule_constant_new(1.0, 0.1, 2),
                                     cg_schedule_exponential_new(1.0, 0.9)))
S(chain_step_exponential, chain2(cg_schedule_step_new(0.1, 5, 0.5),
                                 cg_schedule_exponential_new(0.1, 0.95)))
S(chain_cosine_linear, chain2(cg_schedule_cosine_new(0.1, 20, 0.001),
                              cg_schedule_linear_new(0.1, 0.5, 1.0, 10)))
S(chain_warmup_exponential, chain2(cg_schedule_warmup_new(cg_schedule_cosine_new(0.1, 30, 0),
                                                          5, 0.2),
                                   cg_schedule_exponential_new(0.1, 0.97)))
S(chain_three, cg_schedule_chain_new((cg_schedule *[]){
      cg_schedule_multistep_new(0.1, (int64_t[]){10, 30}, 2, 0.5),
      cg_schedule_exponential_new(0.1, 0.99), cg_schedule_polynomial_new(0.1, 60, 1.0)}, 3))
S(plateau_default, cg_schedule_plateau_new(0.1, NULL))
S(plateau_min_rel_p3, plateau(0.1, CG_METRIC_MIN, 0.5, 3, 1e-4, CG_THRESHOLD_REL, 0, 0, 1e-8))
S(plateau_min_abs_cool, plateau(0.1, CG_METRIC_MIN, 0.5, 2, 1e-3, CG_THRESHOLD_ABS, 4, 0, 1e-8))
S(plateau_max_rel, plateau(1.0, CG_METRIC_MAX, 0.3, 2, 0.01, CG_THRESHOLD_REL, 0, 0, 1e-8))
S(plateau_max_abs_minlr, plateau(1.0, CG_METRIC_MAX, 0.2, 1, 0.005, CG_THRESHOLD_ABS, 0, 0.01,
                                 1e-8))
S(plateau_eps, plateau(1e-6, CG_METRIC_MIN, 0.5, 0, 1e-4, CG_THRESHOLD_REL, 0, 0, 1e-7))
S(plateau_flat, plateau(0.1, CG_METRIC_MIN, 0.1, 4, 1e-4, CG_THRESHOLD_REL, 2, 0, 1e-8))
#undef S

typedef struct sched_case {
    const char *name;
    make_fn make;
} sched_case;

#define C(name) {"sched_" #name, make_##name}
static const sched_case sched_cases[] = {
    C(constant_default), C(constant_half_10), C(constant_plain), C(step_7_half),
    C(step_3_default), C(step_1_09), C(multistep_3), C(multistep_zero), C(exponential_095),
    C(exponential_05), C(inverse_time_01), C(inverse_time_05), C(robbins_monro_1_10),
    C(robbins_monro_05_3), C(inv_sqrt_t), C(inverse_sqrt_10), C(inverse_sqrt_1),
    C(inverse_sqrt_warm), C(inverse_sqrt_warm_start),
    C(polynomial_default), C(polynomial_40_2), C(polynomial_30_05), C(cosine_10),
    C(cosine_25_min), C(cosine_7_min), C(cosine_1), C(cosine_60_long), C(sgdr_10),
    C(sgdr_3_x2_min), C(sgdr_1_x3), C(linear_default), C(linear_down), C(linear_to_zero),
    C(warmup_cosine), C(warmup_cosine_min), C(warmup_exponential), C(warmup_step),
    C(warmup_constant), C(warmup_linear), C(warmup_inverse_sqrt), C(warmup_sgdr),
    C(warmup_polynomial), C(warmup_multistep), C(cyclic_triangular),
    C(cyclic_triangular_updown), C(cyclic_triangular2), C(cyclic_exp_range), C(onecycle_cos),
    C(onecycle_linear), C(onecycle_three_cos), C(onecycle_three_linear), C(onecycle_opts),
    C(chain_constant_exponential), C(chain_step_exponential), C(chain_cosine_linear),
    C(chain_warmup_exponential), C(chain_three), C(plateau_default), C(plateau_min_rel_p3),
    C(plateau_min_abs_cool), C(plateau_max_rel), C(plateau_max_abs_minlr), C(plateau_eps),
    C(plateau_flat),
};
#undef C
enum { NSCHED = sizeof sched_cases / sizeof sched_cases[0] };

/* ---- comparisons ---- */

/* Relative difference (absolute where the expected value is 0). */
static double rel_diff(double got, double want)
{
    if (got == want)
        return 0;
    return want == 0 ? fabs(got) : fabs(got - want) / fabs(want);
}

/* Largest difference seen per case, for the summary. */
static double worst[NSCHED];
static const char *kind_of[NSCHED];

static cg_status advance(cg_schedule *s, const gs_array *metrics, int k)
{
    return metrics ? cg_schedule_step_metric(s, metrics->v[k - 1]) : cg_schedule_step(s);
}

/* Steps through the whole sequence comparing with the golden lr; fills got[]. */
static void replay(cg_schedule *s, const gs_array *lr, const gs_array *metrics, double *got,
                   int idx)
{
    for (int k = 0; k < lr->n; k++) {
        if (k > 0)
            assert_ok(advance(s, metrics, k));
        got[k] = cg_schedule_lr(s);
        double d = rel_diff(got[k], lr->v[k]);
        if (d > worst[idx])
            worst[idx] = d;
        if (!(d <= TOL))
            fail_msg("%s: lr at step %d = %.17g, PyTorch %.17g (rel diff %.3g)",
                     sched_cases[idx].name, k, got[k], lr->v[k], d);
        assert_int_equal(cg_schedule_steps(s), k);
    }
}

static int current;

static void test_schedule_case(void **state)
{
    (void)state;
    const sched_case *sc = &sched_cases[current];
    const gs_case *gc = gs_get(sc->name);
    if (!gc)
        fail_msg("no golden case %s in golden/schedule.txt (rerun the generator)", sc->name);
    const gs_array *lr = gs_find(gc, "lr"), *metrics = gs_find(gc, "metrics");
    assert_non_null(lr);
    double *got = calloc((size_t)lr->n, sizeof *got);
    cg_schedule *s = sc->make();
    assert_non_null(s);
    kind_of[current] = cg_schedule_name(s);
    replay(s, lr, metrics, got, current);

    /* Save mid-way into a fresh schedule: it must continue with the same bits. */
    int mid = lr->n / 2;
    cg_schedule *a = sc->make(), *b = sc->make();
    for (int k = 1; k <= mid; k++)
        assert_ok(advance(a, metrics, k));
    size_t n = cg_schedule_state_size(a);
    double *buf = malloc(sizeof(double) * n);
    assert_ok(cg_schedule_save(a, buf, n));
    assert_ok(cg_schedule_load(b, buf, n));
    for (int k = mid; k < lr->n; k++) {
        if (k > mid)
            assert_ok(advance(b, metrics, k));
        if (memcmp(&got[k], &(double){cg_schedule_lr(b)}, sizeof(double)))
            fail_msg("%s: after load, lr at step %d = %.17g, uninterrupted %.17g", sc->name, k,
                     cg_schedule_lr(b), got[k]);
    }
    free(buf);
    free(got);
    cg_schedule_free(s);
    cg_schedule_free(a);
    cg_schedule_free(b);
}

/* Every case in the file has a builder (a new generator case cannot go untested). */
static void test_every_case_has_a_builder(void **state)
{
    (void)state;
    for (int i = 0; i < ncases; i++) {
        if (strncmp(cases[i].name, "sched_", 6))
            continue;
        bool found = false;
        for (int j = 0; j < NSCHED; j++)
            found = found || !strcmp(sched_cases[j].name, cases[i].name);
        if (!found)
            fail_msg("golden case %s has no builder in test_golden_schedule.c", cases[i].name);
    }
}

/* ---- clipping ---- */

/* Caller-owned 1-d parameters whose .grad holds g (set through a backward pass). */
static void make_params(const gs_case *gc, bool f32, cg_tensor **p, int *np)
{
    char key[16];
    cg_dtype dt = f32 ? CG_F32 : CG_F64;
    cg_tensor *loss = NULL;
    *np = 0;
    for (int k = 0; k < 4; k++) {
        snprintf(key, sizeof key, "g%d", k);
        const gs_array *g = gs_find(gc, key);
        if (!g)
            break;
        int64_t shape[1] = {g->n};
        p[k] = cg_tensor_zeros(dt, 1, shape);
        assert_ok(cg_tensor_set_requires_grad(p[k], true));
        cg_tensor *c = cg_tensor_from_data(CG_F64, 1, shape, g->v);
        cg_tensor *term = cg_sum(cg_mul(p[k], f32 ? cg_to_dtype(c, dt) : c), NULL, 0, false);
        loss = k == 0 ? term : cg_add(loss, term);
        cg_tensor_free(c);
        *np = k + 1;
    }
    assert_tensor(loss);
    assert_ok(cg_backward(loss, NULL));
}

static double clip_worst;

static void check_clipped(const gs_case *gc, cg_tensor *const *p, int np, double tol)
{
    char key[16];
    for (int k = 0; k < np; k++) {
        snprintf(key, sizeof key, "c%d", k);
        const gs_array *c = gs_find(gc, key);
        assert_non_null(c);
        double got[64];
        assert_true(c->n <= 64);
        assert_ok(cg_tensor_to_f64(cg_tensor_grad(p[k]), got));
        for (int i = 0; i < c->n; i++) {
            double d = fabs(got[i] - c->v[i]) / (1 + fabs(c->v[i]));
            clip_worst = d > clip_worst ? d : clip_worst;
            if (!(d <= tol))
                fail_msg("%s: grad %d[%d] = %.17g, PyTorch %.17g", gc->name, k, i, got[i],
                         c->v[i]);
        }
    }
}

static void test_clip_cases(void **state)
{
    (void)state;
    int done = 0;
    for (int i = 0; i < ncases; i++) {
        const gs_case *gc = &cases[i];
        if (strncmp(gc->name, "clip_", 5))
            continue;
        bool f32 = gs_find(gc, "f32")->v[0] != 0;
        double tol = f32 ? TOL_F32 : TOL;
        cg_tensor *p[4];
        int np;
        make_params(gc, f32, p, &np);
        const gs_array *opts = gs_find(gc, "opts");
        if (opts) {
            double total = NAN;
            assert_ok(cg_clip_grad_norm(p, np, opts->v[0], opts->v[1], &total));
            double want = gs_find(gc, "total")->v[0];
            if (!(fabs(total - want) <= tol * want))
                fail_msg("%s: total norm %.17g, PyTorch %.17g", gc->name, total, want);
        } else {
            assert_ok(cg_clip_grad_value(p, np, gs_find(gc, "value")->v[0], NULL));
        }
        check_clipped(gc, p, np, tol);
        for (int k = 0; k < np; k++)
            cg_tensor_free(p[k]);
        done++;
    }
    assert_true(done >= 12);
}

/* ---- the suite ---- */

static int case_setup(void **state)
{
    current = (int)(intptr_t)*state;
    return cg_test_setup(state);
}

static void print_summary(void)
{
    /* Largest relative difference from PyTorch per schedule kind (TAP comments). */
    const char *seen[NSCHED];
    int nseen = 0;
    for (int i = 0; i < NSCHED; i++) {
        if (!kind_of[i])
            continue;
        bool dup = false;
        for (int j = 0; j < nseen; j++)
            dup = dup || !strcmp(seen[j], kind_of[i]);
        if (dup)
            continue;
        seen[nseen++] = kind_of[i];
        double w = 0;
        for (int j = 0; j < NSCHED; j++)
            if (kind_of[j] && !strcmp(kind_of[j], kind_of[i]) && worst[j] > w)
                w = worst[j];
        printf("# %-16s largest relative difference from PyTorch: %.3g\n", kind_of[i], w);
    }
    printf("# clipping         largest difference from PyTorch: %.3g\n", clip_worst);
}

int main(void)
{
    if (!gs_load("golden/schedule.txt")) {
        fprintf(stderr, "cannot read golden/schedule.txt (run from tests/)\n");
        return 1;
    }
    struct CMUnitTest tests[NSCHED + 2];
    for (int i = 0; i < NSCHED; i++)
        tests[i] = (struct CMUnitTest){sched_cases[i].name, test_schedule_case, case_setup,
                                       cg_test_teardown, (void *)(intptr_t)i};
    tests[NSCHED] = (struct CMUnitTest)CG_TEST(test_every_case_has_a_builder);
    tests[NSCHED + 1] = (struct CMUnitTest)CG_TEST(test_clip_cases);
    int rc = _cmocka_run_group_tests("golden_schedule", tests, NSCHED + 2, NULL, NULL);
    print_summary();
    gs_free();
    return rc;
}
