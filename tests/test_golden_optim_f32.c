/*
 * Float32 steps of the optimizers with a float kernel (Adam, AdamW, SGD) against torch.optim,
 * bit for bit (tests/golden/optim_f32.txt, made by tests/golden/make_golden_optim_f32.py).
 * Each case gives f32 parameters stored gradients step after step (a gradient computed by
 * both libraries would differ in its sums' order, which is not what this suite checks) and
 * returns the largest distance of the parameters from PyTorch's, in units in the last
 * place, over every step and element; the golden output is 0 and the tolerance below lets
 * only 0 pass. The distance of each case is printed at the end (TAP comments).
 */
#include <stdlib.h>

#include "golden_reader.h"
#include "optim_cases.h"

enum { NP0 = 35, NP = 54 }; /* p0 [5, 7], then p1 [19] */

/* The rows of CASES in make_golden_optim_f32.py. */
static const optim_case f32_cases[] = {
    {"adam_default", "adam", 1, {{"lr", .05}}, G_NONE},
    {"adam_amsgrad", "adam", 1, {{"lr", .05}, {"amsgrad", 1}}, G_NONE},
    {"adam_weight_decay", "adam", 1, {{"lr", .05}, {"weight_decay", .1}}, G_NONE},
    {"adam_maximize", "adam", 1, {{"lr", .05}, {"maximize", 1}}, G_NONE},
    {"adam_all", "adam", 1,
     {{"lr", .05}, {"beta1", .8}, {"beta2", .99}, {"eps", 1e-6}, {"weight_decay", .1},
      {"amsgrad", 1}},
     G_NONE},
    {"adamw_default", "adamw", 1, {{"lr", .05}}, G_NONE},
    {"adamw_amsgrad_maximize", "adamw", 1,
     {{"lr", .05}, {"weight_decay", .3}, {"amsgrad", 1}, {"maximize", 1}}, G_NONE},
    {"sgd_plain", "sgd", 1, {{"lr", .05}}, G_NONE},
    {"sgd_plain_wd_maximize", "sgd", 1, {{"lr", .05}, {"weight_decay", .1}, {"maximize", 1}},
     G_NONE},
    {"sgd_momentum", "sgd", 1, {{"lr", .05}, {"momentum", .9}}, G_NONE},
    {"sgd_dampening_wd", "sgd", 1,
     {{"lr", .05}, {"momentum", .9}, {"dampening", .3}, {"weight_decay", .1}}, G_NONE},
    {"sgd_nesterov_wd_maximize", "sgd", 1,
     {{"lr", .05}, {"momentum", .9}, {"nesterov", 1}, {"weight_decay", .1}, {"maximize", 1}},
     G_NONE},
};
#define NCASES ((int)(sizeof f32_cases / sizeof f32_cases[0]))

/* adam_all has seven options, one more than a row holds: maximize comes as the extra. */
static const optim_kv maximize_on = {"maximize", 1};

static double distance[NCASES];

/* Floats as integers that order like the values, so that their difference counts ulps. */
static int64_t ordered(float x)
{
    int32_t i;
    memcpy(&i, &x, sizeof i);
    return i < 0 ? -(int64_t)(i & 0x7fffffff) : i;
}

/* got and exp hold float values. */
static double ulps(const double *got, const double *exp, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        float a = (float)got[i], e = (float)exp[i];
        double d = isnan(a) ? INFINITY : (double)llabs(ordered(a) - ordered(e));
        if (d > m)
            m = d;
    }
    return m;
}

/* The gradients of row k as each parameter's .grad: d/dp sum(p * g) is g exactly. */
static bool set_grads(cg_tensor *const *p, const double *grads)
{
    int64_t s0[2] = {5, 7}, s1 = NP - NP0;
    float row[NP];
    for (int i = 0; i < NP; i++)
        row[i] = (float)grads[i];
    cg_tensor *g0 = cg_tensor_from_data(CG_F32, 2, s0, row);
    cg_tensor *g1 = cg_tensor_from_data(CG_F32, 1, &s1, row + NP0);
    cg_tensor *f = cg_add(cg_sum(cg_mul(p[0], g0), NULL, 0, false),
                          cg_sum(cg_mul(p[1], g1), NULL, 0, false));
    bool ok = cg_backward(f, NULL) == CG_OK;
    cg_tensor_free(g0);
    cg_tensor_free(g1);
    return ok;
}

/* Steps the optimizer of row c with the stored gradients, on a private tape; got receives
 * the parameters after each step. */
static bool run(const optim_case *c, cg_tensor *const *x, int64_t steps, double *got)
{
    cg_tensor *p[2] = {cg_tensor_clone(x[0]), cg_tensor_clone(x[1])};
    double *grads = malloc(sizeof *grads * (size_t)(steps * NP));
    cg_tape *tape = cg_tape_new(), *prev = cg_tape_use(tape);
    cg_set_grad_enabled(true);
    cg_tensor_set_requires_grad(p[0], true);
    cg_tensor_set_requires_grad(p[1], true);
    bool all = !strcmp(c->name, "adam_all");
    cg_optimizer *opt = optim_case_make_kv(c, p, 2, all ? &maximize_on : NULL);
    bool ok = opt && grads && cg_tensor_to_f64(x[2], grads) == CG_OK;
    for (int64_t s = 0; s < steps && ok; s++) {
        cg_optim_zero_grad(opt, false);
        ok = set_grads(p, grads + NP * s) && cg_optim_step(opt) == CG_OK;
        cg_tape_reset(tape);
        ok = ok && cg_tensor_to_f64(p[0], got + NP * s) == CG_OK &&
             cg_tensor_to_f64(p[1], got + NP * s + NP0) == CG_OK;
    }
    cg_optim_free(opt);
    cg_tape_use(prev);
    cg_tape_free(tape);
    cg_tensor_free(p[0]);
    cg_tensor_free(p[1]);
    free(grads);
    return ok;
}

static cg_tensor *b_steps(cg_tensor *const *x, const golden_builder *b)
{
    const optim_case *c = b->params;
    int64_t steps = cg_tensor_size(x[3], 0), n = steps * NP;
    double *got = calloc((size_t)n, sizeof *got);
    double *exp = malloc(sizeof *exp * (size_t)n);
    bool ok = got && exp && run(c, x, steps, got) && cg_tensor_to_f64(x[3], exp) == CG_OK;
    double d = ok ? ulps(got, exp, n) : NAN;
    free(got);
    free(exp);
    if (!ok)
        return NULL;
    distance[c - f32_cases] = d;
    /* The runner wants a tape tensor of the golden output's dtype: 0 * sum(traj) + d. */
    cg_tensor *zero = cg_mul_scalar(cg_sum(cg_to_dtype(x[3], CG_F64), NULL, 0, false), 0.0);
    return cg_add_scalar(zero, d);
}

int main(void)
{
    static golden_builder builders[NCASES];
    static char names[NCASES][96];
    for (int i = 0; i < NCASES; i++) {
        snprintf(names[i], sizeof names[i], "%s_f32", f32_cases[i].name);
        /* |ulps - 0| <= tol (1 + 0): only 0 passes. */
        builders[i] = (golden_builder){
            .name = names[i], .fn = b_steps, .params = &f32_cases[i], .tol = 0.5};
    }
    static const char *const files[] = {"golden/optim_f32.txt"};
    int failed = golden_run("golden_optim_f32", files, 1, builders, NCASES);
    for (int i = 0; i < NCASES; i++)
        fprintf(stderr, "# %-32s largest distance from PyTorch %g ulps\n", names[i],
                distance[i]);
    return failed;
}
