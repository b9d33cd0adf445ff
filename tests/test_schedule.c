/* Learning-rate schedules: hyperparameter errors, stepping rules, composition, save/load
 * errors, out-of-memory paths, and identities with the closed forms. The sequences
 * themselves are checked against PyTorch in test_golden_schedule.c. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* Assert a constructor failed with CG_ERR_VALUE and a message naming `what`. */
#define assert_refused(expr, what)                                                          \
    do {                                                                                    \
        cg_clear_error();                                                                   \
        cg_schedule *s_ = (expr);                                                           \
        if (s_) {                                                                           \
            cg_schedule_free(s_);                                                           \
            fail_msg("%s was accepted", #expr);                                             \
        }                                                                                   \
        assert_int_equal(cg_last_status(), CG_ERR_VALUE);                                   \
        assert_error_contains(what);                                                        \
    } while (0)

static void test_bad_hyperparameters(void **state)
{
    (void)state;
    assert_refused(cg_schedule_step_new(-0.1, 5, 0.1), "base_lr");
    assert_refused(cg_schedule_step_new(NAN, 5, 0.1), "base_lr");
    assert_refused(cg_schedule_step_new(INFINITY, 5, 0.1), "base_lr");
    assert_refused(cg_schedule_step_new(0.1, 0, 0.1), "step_size");
    assert_refused(cg_schedule_step_new(0.1, 5, 0), "gamma");
    assert_refused(cg_schedule_step_new(0.1, 5, -0.5), "gamma");
    assert_refused(cg_schedule_constant_new(0.1, 0, 5), "factor");
    assert_refused(cg_schedule_constant_new(0.1, 1.5, 5), "factor");
    assert_refused(cg_schedule_constant_new(0.1, 0.5, 0), "total_iters");
    assert_refused(cg_schedule_multistep_new(0.1, NULL, 0, 0.1), "milestones");
    assert_refused(cg_schedule_multistep_new(0.1, (int64_t[]){5}, 0, 0.1), "milestones");
    assert_refused(cg_schedule_multistep_new(0.1, (int64_t[]){5, 3}, 2, 0.1), "increasing");
    assert_refused(cg_schedule_multistep_new(0.1, (int64_t[]){5, 5}, 2, 0.1), "increasing");
    assert_refused(cg_schedule_multistep_new(0.1, (int64_t[]){-1, 5}, 2, 0.1), "milestones");
    assert_refused(cg_schedule_multistep_new(0.1, (int64_t[]){5}, 1, 0), "gamma");
    assert_refused(cg_schedule_exponential_new(0.1, 0), "gamma");
    assert_refused(cg_schedule_polynomial_new(0.1, 0, 1), "total_iters");
    assert_refused(cg_schedule_polynomial_new(0.1, 5, -1), "power");
    assert_refused(cg_schedule_linear_new(0.1, 0, 1, 5), "start_factor");
    assert_refused(cg_schedule_linear_new(0.1, 1.2, 1, 5), "start_factor");
    assert_refused(cg_schedule_linear_new(0.1, 0.5, -0.1, 5), "end_factor");
    assert_refused(cg_schedule_linear_new(0.1, 0.5, 1, 0), "total_iters");
    assert_refused(cg_schedule_cosine_new(0.1, 0, 0), "T_max");
    assert_refused(cg_schedule_cosine_new(0.1, 10, -1e-3), "eta_min");
    assert_refused(cg_schedule_cosine_restarts_new(0.1, 0, 1, 0), "T_0");
    assert_refused(cg_schedule_cosine_restarts_new(0.1, 5, 0, 0), "T_mult");
    assert_refused(cg_schedule_inverse_time_new(0.1, -1), "k");
    assert_refused(cg_schedule_robbins_monro_new(-1, 1), "a");
    assert_refused(cg_schedule_robbins_monro_new(1, 0), "b");
    assert_refused(cg_schedule_sqrt_decay_new(-1), "base_lr");
    assert_refused(cg_schedule_inverse_sqrt_new(0.1, 0, 1), "warmup_steps");
    assert_refused(cg_schedule_inverse_sqrt_new(0.1, 5, -0.1), "start_factor");
    assert_refused(cg_schedule_inverse_sqrt_new(0.1, 5, 1.1), "start_factor");
}

static void test_bad_cyclic_onecycle_plateau(void **state)
{
    (void)state;
    cg_cyclic_options c = cg_cyclic_defaults();
    assert_refused(cg_schedule_cyclic_new(0.1, 0.01, NULL), "max_lr");
    c.step_size_up = 0;
    assert_refused(cg_schedule_cyclic_new(0.01, 0.1, &c), "step_size_up");
    c = cg_cyclic_defaults();
    c.step_size_down = -1;
    assert_refused(cg_schedule_cyclic_new(0.01, 0.1, &c), "step_size_down");
    c = cg_cyclic_defaults();
    c.mode = (cg_cyclic_mode)7;
    assert_refused(cg_schedule_cyclic_new(0.01, 0.1, &c), "mode");
    c = cg_cyclic_defaults();
    c.gamma = 0;
    assert_refused(cg_schedule_cyclic_new(0.01, 0.1, &c), "gamma");

    cg_onecycle_options o = cg_onecycle_defaults();
    assert_refused(cg_schedule_onecycle_new(-1, 100, NULL), "max_lr");
    assert_refused(cg_schedule_onecycle_new(0.1, 0, NULL), "total_steps");
    double bad_pct[] = {0, 1, -0.1, 1.5, NAN};
    for (int i = 0; i < 5; i++) {
        o.pct_start = bad_pct[i];
        assert_refused(cg_schedule_onecycle_new(0.1, 100, &o), "pct_start");
    }
    o = cg_onecycle_defaults();
    o.div_factor = 0;
    assert_refused(cg_schedule_onecycle_new(0.1, 100, &o), "div_factor");
    o = cg_onecycle_defaults();
    o.final_div_factor = -1;
    assert_refused(cg_schedule_onecycle_new(0.1, 100, &o), "final_div_factor");
    o = cg_onecycle_defaults();
    o.anneal = (cg_anneal)3;
    assert_refused(cg_schedule_onecycle_new(0.1, 100, &o), "anneal");
    /* 0.3 * 3 - 1 < 0: the rising phase would last no step (PyTorch divides 0 by 0) */
    assert_refused(cg_schedule_onecycle_new(0.1, 3, NULL), "phase 1");
    o = cg_onecycle_defaults();
    o.three_phase = true;
    o.pct_start = 0.6; /* the third phase would run backwards */
    assert_refused(cg_schedule_onecycle_new(0.1, 100, &o), "phase 3");

    cg_plateau_options p = cg_plateau_defaults();
    p.factor = 1.0;
    assert_refused(cg_schedule_plateau_new(0.1, &p), "factor");
    p = cg_plateau_defaults();
    p.patience = -1;
    assert_refused(cg_schedule_plateau_new(0.1, &p), "patience");
    p = cg_plateau_defaults();
    p.cooldown = -1;
    assert_refused(cg_schedule_plateau_new(0.1, &p), "cooldown");
    p = cg_plateau_defaults();
    p.min_lr = -1;
    assert_refused(cg_schedule_plateau_new(0.1, &p), "min_lr");
    p = cg_plateau_defaults();
    p.threshold_mode = (cg_threshold_mode)2;
    assert_refused(cg_schedule_plateau_new(0.1, &p), "threshold_mode");
    p = cg_plateau_defaults();
    p.mode = (cg_metric_mode)2;
    assert_refused(cg_schedule_plateau_new(0.1, &p), "mode");
    assert_refused(cg_schedule_plateau_new(-0.1, NULL), "base_lr");
}

static void test_defaults_are_pytorchs(void **state)
{
    (void)state;
    cg_cyclic_options c = cg_cyclic_defaults();
    assert_int_equal(c.step_size_up, 2000);
    assert_int_equal(c.step_size_down, 0);
    assert_int_equal(c.mode, CG_CYCLIC_TRIANGULAR);
    assert_true(c.gamma == 1.0);
    cg_onecycle_options o = cg_onecycle_defaults();
    assert_true(o.pct_start == 0.3 && o.div_factor == 25 && o.final_div_factor == 1e4);
    assert_true(o.anneal == CG_ANNEAL_COS && !o.three_phase);
    cg_plateau_options p = cg_plateau_defaults();
    assert_true(p.mode == CG_METRIC_MIN && p.factor == 0.1 && p.patience == 10);
    assert_true(p.threshold == 1e-4 && p.threshold_mode == CG_THRESHOLD_REL);
    assert_true(p.cooldown == 0 && p.min_lr == 0 && p.eps == 1e-8);
    /* NULL options mean the defaults: a cyclic schedule peaks after 2000 steps */
    cg_schedule *s = cg_schedule_cyclic_new(0.0, 1.0, NULL);
    for (int i = 0; i < 2000; i++)
        assert_ok(cg_schedule_step(s));
    assert_close(cg_schedule_lr(s), 1.0, 0, 1e-15);
    cg_schedule_free(s);
}

static void test_null_and_wrong_kind(void **state)
{
    (void)state;
    assert_int_equal(cg_schedule_step(NULL), CG_ERR_NULL);
    assert_int_equal(cg_schedule_step_metric(NULL, 1), CG_ERR_NULL);
    assert_true(isnan(cg_schedule_lr(NULL)));
    assert_int_equal(cg_schedule_steps(NULL), -1);
    assert_string_equal(cg_schedule_name(NULL), "");
    assert_int_equal(cg_schedule_state_size(NULL), 0);
    cg_schedule_free(NULL);

    cg_schedule *p = cg_schedule_plateau_new(0.1, NULL);
    assert_int_equal(cg_schedule_step(p), CG_ERR_STATE);
    assert_error_contains("cg_schedule_step_metric");
    assert_int_equal(cg_schedule_steps(p), 0);
    cg_schedule *e = cg_schedule_exponential_new(0.1, 0.5);
    assert_int_equal(cg_schedule_step_metric(e, 1.0), CG_ERR_STATE);
    assert_error_contains("exponential");
    assert_close(cg_schedule_lr(e), 0.1, 0, 0);
    assert_string_equal(cg_schedule_name(e), "exponential");
    assert_string_equal(cg_schedule_name(p), "plateau");
    cg_schedule_free(p);
    cg_schedule_free(e);
}

/* OneCycleLR may reach t = total_steps (PyTorch extrapolates the last phase there) and no
 * further; the refused step changes nothing, alone or inside a composite. */
static void test_onecycle_end(void **state)
{
    (void)state;
    cg_schedule *s = cg_schedule_onecycle_new(0.1, 10, NULL);
    for (int i = 0; i < 10; i++)
        assert_ok(cg_schedule_step(s));
    double lr = cg_schedule_lr(s);
    assert_int_equal(cg_schedule_step(s), CG_ERR_STATE);
    assert_error_contains("total_steps = 10");
    assert_true(cg_schedule_lr(s) == lr);
    assert_int_equal(cg_schedule_steps(s), 10);
    cg_schedule_free(s);

    cg_schedule *c = cg_schedule_chain_new(
        (cg_schedule *[]){cg_schedule_exponential_new(0.004, 0.99),
                          cg_schedule_onecycle_new(0.1, 5, &(cg_onecycle_options){
                              .pct_start = 0.4, .div_factor = 25, .final_div_factor = 1e4})},
        2);
    assert_non_null(c);
    for (int i = 0; i < 5; i++)
        assert_ok(cg_schedule_step(c));
    assert_int_equal(cg_schedule_step(c), CG_ERR_STATE);
    assert_int_equal(cg_schedule_steps(c), 5);
    cg_schedule_free(c);

    cg_schedule *w = cg_schedule_warmup_new(cg_schedule_onecycle_new(0.1, 4, &(cg_onecycle_options){
                                                .pct_start = 0.5, .div_factor = 25,
                                                .final_div_factor = 1e4}),
                                            3, 0.5);
    assert_non_null(w);
    for (int i = 0; i < 3 + 4; i++) /* the ramp, the restart at t = 3, then 4 steps */
        assert_ok(cg_schedule_step(w));
    assert_int_equal(cg_schedule_step(w), CG_ERR_STATE);
    cg_schedule_free(w);
}

/* Composites own their children: refused compositions free them (the leak check at
 * teardown proves it), and a NULL child keeps the first error. */
static void test_composite_ownership(void **state)
{
    (void)state;
    cg_clear_error();
    assert_null(cg_schedule_warmup_new(cg_schedule_plateau_new(0.1, NULL), 5, 0.1));
    assert_error_contains("plateau");
    assert_null(cg_schedule_warmup_new(cg_schedule_exponential_new(0.1, 0.9), 0, 0.1));
    assert_error_contains("warmup_steps");
    assert_null(cg_schedule_warmup_new(cg_schedule_exponential_new(0.1, 0.9), 5, 0));
    assert_error_contains("start_factor");
    cg_schedule *inner_chain = cg_schedule_chain_new(
        (cg_schedule *[]){cg_schedule_exponential_new(0.1, 0.9)}, 1);
    assert_null(cg_schedule_warmup_new(inner_chain, 5, 0.1));
    assert_error_contains("chain");
    assert_null(cg_schedule_warmup_new(
        cg_schedule_warmup_new(cg_schedule_exponential_new(0.1, 0.9), 2, 0.5), 5, 0.1));

    cg_clear_error();
    assert_null(cg_schedule_warmup_new(cg_schedule_cosine_new(0.1, 0, 0), 5, 0.1));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_error_contains("T_max"); /* the first error, not "NULL inner" */

    cg_clear_error();
    assert_null(cg_schedule_chain_new(
        (cg_schedule *[]){cg_schedule_exponential_new(0.1, 0.9), cg_schedule_step_new(0.1, 0, 1)},
        2));
    assert_error_contains("step_size");
    assert_null(cg_schedule_chain_new(
        (cg_schedule *[]){cg_schedule_exponential_new(0.1, 0.9), cg_schedule_plateau_new(0.1, NULL)},
        2));
    assert_error_contains("plateau");
    assert_null(cg_schedule_chain_new(NULL, 0));
    assert_error_contains("at least one");
    cg_clear_error();
    assert_null(cg_schedule_chain_new((cg_schedule *[]){NULL}, 1));
    assert_int_equal(cg_last_status(), CG_ERR_NULL);
}

/* A chain restarts its children: a child stepped before is taken from its step 0. */
static void test_chain_restarts_children(void **state)
{
    (void)state;
    cg_schedule *stepped = cg_schedule_step_new(1.0, 2, 0.5);
    for (int i = 0; i < 5; i++)
        assert_ok(cg_schedule_step(stepped));
    cg_schedule *c = cg_schedule_chain_new((cg_schedule *[]){stepped}, 1);
    cg_schedule *fresh = cg_schedule_step_new(1.0, 2, 0.5);
    for (int i = 0; i < 9; i++) {
        assert_true(cg_schedule_lr(c) == cg_schedule_lr(fresh));
        assert_ok(cg_schedule_step(c));
        assert_ok(cg_schedule_step(fresh));
    }
    cg_schedule_free(c);
    cg_schedule_free(fresh);
}

/* Relative differences between PyTorch's recursive updates and the closed forms stay at
 * rounding level (so either reading of the formulas in optim.h holds). */
static void test_closed_forms(void **state)
{
    (void)state;
    cg_schedule *cosine = cg_schedule_cosine_new(0.1, 25, 1e-3);
    cg_schedule *step = cg_schedule_step_new(0.1, 3, 0.7);
    cg_schedule *lin = cg_schedule_linear_new(0.1, 0.25, 0.8, 40);
    cg_schedule *poly = cg_schedule_polynomial_new(0.1, 50, 2.0);
    cg_schedule *exp_ = cg_schedule_exponential_new(0.1, 0.97);
    cg_schedule *ms = cg_schedule_multistep_new(0.1, (int64_t[]){4, 9, 30}, 3, 0.5);
    for (int t = 0; t < 200; t++) {
        double c = 1e-3 + (0.1 - 1e-3) * (1 + cos(M_PI * t / 25)) / 2;
        assert_close(cg_schedule_lr(cosine), c, 0, 1e-13);
        assert_close(cg_schedule_lr(step), 0.1 * pow(0.7, t / 3), 0, 1e-13);
        double f = 0.25 + (0.8 - 0.25) * (t < 40 ? t : 40) / 40.0;
        assert_close(cg_schedule_lr(lin), 0.1 * f, 0, 1e-13);
        double q = t < 50 ? 1 - t / 50.0 : 0;
        assert_close(cg_schedule_lr(poly), 0.1 * q * q, 1e-17, 1e-12);
        assert_close(cg_schedule_lr(exp_), 0.1 * pow(0.97, t), 0, 1e-13);
        int passed = (t >= 4) + (t >= 9) + (t >= 30);
        assert_close(cg_schedule_lr(ms), 0.1 * pow(0.5, passed), 0, 1e-15);
        cg_schedule *all[] = {cosine, step, lin, poly, exp_, ms};
        for (int i = 0; i < 6; i++)
            assert_ok(cg_schedule_step(all[i]));
    }
    cg_schedule *all[] = {cosine, step, lin, poly, exp_, ms};
    for (int i = 0; i < 6; i++)
        cg_schedule_free(all[i]);
}

/* The Transformer schedule rises linearly to base_lr at t = w and decays as sqrt(w / t)
 * afterwards; Robbins-Monro, 1/t and c/sqrt(t) decays follow their formulas. */
static void test_decays(void **state)
{
    (void)state;
    cg_schedule *tr = cg_schedule_inverse_sqrt_new(1.0, 100, 0.01);
    cg_schedule *rm = cg_schedule_robbins_monro_new(2.0, 4.0);
    cg_schedule *it = cg_schedule_inverse_time_new(0.5, 0.25);
    cg_schedule *sq = cg_schedule_sqrt_decay_new(0.3);
    for (int t = 0; t <= 400; t++) {
        double want = t < 100 ? 0.01 + 0.99 * t / 100.0 : sqrt(100.0 / t);
        assert_close(cg_schedule_lr(tr), want, 0, 1e-12);
        assert_close(cg_schedule_lr(rm), 2.0 / (4.0 + t), 0, 1e-15);
        assert_close(cg_schedule_lr(it), 0.5 / (1 + 0.25 * t), 0, 1e-15);
        assert_close(cg_schedule_lr(sq), 0.3 / sqrt(t + 1.0), 0, 1e-15);
        cg_schedule *all[] = {tr, rm, it, sq};
        for (int i = 0; i < 4; i++)
            assert_ok(cg_schedule_step(all[i]));
    }
    cg_schedule *all[] = {tr, rm, it, sq};
    for (int i = 0; i < 4; i++)
        cg_schedule_free(all[i]);
}

/* SGDR restarts at t = T_0, T_0 + T_0 T_mult, ... and the lr there is base_lr again. */
static void test_sgdr_restarts(void **state)
{
    (void)state;
    cg_schedule *s = cg_schedule_cosine_restarts_new(0.5, 3, 2, 0.01);
    int restarts[] = {0, 3, 9, 21, 45};
    for (int t = 0, r = 0; t < 46; t++) {
        bool at_restart = r < 5 && t == restarts[r];
        if (at_restart)
            assert_close(cg_schedule_lr(s), 0.5, 0, 1e-15);
        else
            assert_true(cg_schedule_lr(s) < 0.5 - 1e-4);
        r += at_restart;
        assert_true(cg_schedule_lr(s) >= 0.01);
        assert_ok(cg_schedule_step(s));
    }
    cg_schedule_free(s);
}

/* Plateau: a constant metric reduces the lr every patience + 1 + cooldown steps, down to
 * min_lr; max mode with an improving metric never reduces. */
static void test_plateau_rules(void **state)
{
    (void)state;
    cg_plateau_options o = cg_plateau_defaults();
    o.patience = 2;
    o.cooldown = 1;
    o.factor = 0.5;
    o.min_lr = 0.02;
    cg_schedule *s = cg_schedule_plateau_new(0.1, &o);
    double want[] = {0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.025, 0.02};
    for (int k = 0; k < 13; k++) {
        assert_close(cg_schedule_lr(s), want[k], 0, 1e-15);
        assert_ok(cg_schedule_step_metric(s, 1.0));
    }
    assert_close(cg_schedule_lr(s), 0.02, 0, 0);
    cg_schedule_free(s);

    o = cg_plateau_defaults();
    o.mode = CG_METRIC_MAX;
    o.patience = 0;
    s = cg_schedule_plateau_new(0.1, &o);
    for (int k = 0; k < 50; k++)
        assert_ok(cg_schedule_step_metric(s, 1.0 + k));
    assert_true(cg_schedule_lr(s) == 0.1);
    assert_ok(cg_schedule_step_metric(s, NAN)); /* NaN is no improvement */
    assert_close(cg_schedule_lr(s), 0.01, 0, 1e-15);
    cg_schedule_free(s);
}

/* ---- save and load ---- */

static double *save(const cg_schedule *s, size_t *n)
{
    *n = cg_schedule_state_size(s);
    double *buf = malloc(sizeof(double) * *n);
    assert_ok(cg_schedule_save(s, buf, *n));
    return buf;
}

static void test_load_errors(void **state)
{
    (void)state;
    cg_schedule *a = cg_schedule_cosine_new(0.1, 10, 0);
    for (int i = 0; i < 4; i++)
        assert_ok(cg_schedule_step(a));
    size_t n;
    double *buf = save(a, &n);
    double lr = cg_schedule_lr(a);

    cg_schedule *other_kind = cg_schedule_exponential_new(0.1, 0.9);
    assert_int_equal(cg_schedule_load(other_kind, buf, n), CG_ERR_STATE);
    assert_error_contains("cosine schedule, this is a exponential");
    cg_schedule *other_t = cg_schedule_cosine_new(0.1, 20, 0);
    assert_int_equal(cg_schedule_load(other_t, buf, n), CG_ERR_STATE);
    assert_error_contains("T_max = 10");
    cg_schedule *other_base = cg_schedule_cosine_new(0.2, 10, 0);
    assert_int_equal(cg_schedule_load(other_base, buf, n), CG_ERR_STATE);
    assert_error_contains("base_lr");
    assert_true(cg_schedule_lr(other_base) == 0.2 && cg_schedule_steps(other_base) == 0);

    cg_schedule *b = cg_schedule_cosine_new(0.1, 10, 0);
    assert_int_equal(cg_schedule_load(b, buf, n - 1), CG_ERR_VALUE);
    assert_int_equal(cg_schedule_load(b, buf, 2), CG_ERR_FORMAT);
    assert_int_equal(cg_schedule_load(b, NULL, n), CG_ERR_NULL);
    assert_int_equal(cg_schedule_load(NULL, buf, n), CG_ERR_NULL);
    double saved0 = buf[0];
    buf[0] = 1.0;
    assert_int_equal(cg_schedule_load(b, buf, n), CG_ERR_FORMAT);
    buf[0] = saved0;
    double saved_t = buf[5]; /* header 3, kind, base_lr, then t */
    buf[5] = 2.5;
    assert_int_equal(cg_schedule_load(b, buf, n), CG_ERR_FORMAT);
    assert_error_contains("saved t = 2.5");
    buf[5] = saved_t;
    double saved_kind = buf[1];
    buf[1] = 99;
    assert_int_equal(cg_schedule_load(b, buf, n), CG_ERR_FORMAT);
    assert_true(cg_schedule_steps(b) == 0 && cg_schedule_lr(b) == 0.1); /* untouched */
    buf[1] = saved_kind;
    assert_ok(cg_schedule_load(b, buf, n));
    assert_true(cg_schedule_lr(b) == lr && cg_schedule_steps(b) == 4);

    double small[4];
    assert_int_equal(cg_schedule_save(a, small, 4), CG_ERR_VALUE);
    assert_error_contains("cg_schedule_state_size");
    free(buf);
    cg_schedule *all[] = {a, b, other_kind, other_t, other_base};
    for (int i = 0; i < 5; i++)
        cg_schedule_free(all[i]);
}

/* Composite states hold their children's: a chain of a different shape is refused. */
static void test_load_composite_mismatch(void **state)
{
    (void)state;
    cg_schedule *a = cg_schedule_chain_new(
        (cg_schedule *[]){cg_schedule_step_new(0.1, 5, 0.5), cg_schedule_exponential_new(0.1, 0.9)},
        2);
    cg_schedule *b = cg_schedule_chain_new(
        (cg_schedule *[]){cg_schedule_step_new(0.1, 5, 0.5), cg_schedule_linear_new(0.1, 0.5, 1, 5)},
        2);
    cg_schedule *c = cg_schedule_chain_new((cg_schedule *[]){cg_schedule_step_new(0.1, 5, 0.5)}, 1);
    size_t n;
    double *buf = save(a, &n);
    assert_int_equal(cg_schedule_load(b, buf, n), CG_ERR_STATE);
    assert_error_contains("exponential schedule, this is a linear");
    assert_int_equal(cg_schedule_load(c, buf, n), CG_ERR_STATE);
    free(buf);
    cg_schedule_free(a);
    cg_schedule_free(b);
    cg_schedule_free(c);
}

/* Plateau state includes best and the counters: a reload mid-patience keeps counting. */
static void test_plateau_save_load(void **state)
{
    (void)state;
    cg_plateau_options o = cg_plateau_defaults();
    o.patience = 3;
    cg_schedule *a = cg_schedule_plateau_new(1.0, &o), *b = cg_schedule_plateau_new(1.0, &o);
    assert_ok(cg_schedule_step_metric(a, 5.0));
    assert_ok(cg_schedule_step_metric(a, 6.0));
    assert_ok(cg_schedule_step_metric(a, 6.0));
    size_t n;
    double *buf = save(a, &n);
    assert_ok(cg_schedule_load(b, buf, n));
    assert_ok(cg_schedule_step_metric(b, 6.0));
    assert_true(cg_schedule_lr(b) == 1.0);
    assert_ok(cg_schedule_step_metric(b, 6.0)); /* the 4th bad step in a row */
    assert_close(cg_schedule_lr(b), 0.1, 0, 1e-15);
    free(buf);
    cg_schedule_free(a);
    cg_schedule_free(b);
}

/* ---- out of memory ---- */

static cg_schedule *make_nested(void)
{
    return cg_schedule_chain_new(
        (cg_schedule *[]){cg_schedule_warmup_new(cg_schedule_cosine_new(0.1, 10, 0), 3, 0.1),
                          cg_schedule_multistep_new(0.1, (int64_t[]){3, 6}, 2, 0.5)},
        2);
}

/* Failing the k-th allocation for every k: NULL with CG_ERR_NOMEM, nothing leaked. */
static void test_out_of_memory(void **state)
{
    (void)state;
    int k = 1;
    for (;; k++) {
        cg_clear_error();
        cg_alloc_fail_after(k);
        cg_schedule *s = make_nested();
        cg_alloc_fail_after(0);
        if (s) {
            cg_schedule_free(s);
            break;
        }
        assert_int_equal(cg_last_status(), CG_ERR_NOMEM);
        assert_error_contains("out of memory");
    }
    assert_true(k > 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_bad_hyperparameters),
        CG_TEST(test_bad_cyclic_onecycle_plateau),
        CG_TEST(test_defaults_are_pytorchs),
        CG_TEST(test_null_and_wrong_kind),
        CG_TEST(test_onecycle_end),
        CG_TEST(test_composite_ownership),
        CG_TEST(test_chain_restarts_children),
        CG_TEST(test_closed_forms),
        CG_TEST(test_decays),
        CG_TEST(test_sgdr_restarts),
        CG_TEST(test_plateau_rules),
        CG_TEST(test_load_errors),
        CG_TEST(test_load_composite_mismatch),
        CG_TEST(test_plateau_save_load),
        CG_TEST(test_out_of_memory),
    };
    return cmocka_run_group_tests_name("schedule", tests, NULL, NULL);
}
