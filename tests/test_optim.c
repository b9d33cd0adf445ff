/*
 * The optimizer API: PyTorch 1.13's defaults, bad input and its messages, parameter
 * groups and hyperparameters, stepping semantics (skipped parameters, zero_grad, closures),
 * state save/load round trips that continue bit for bit, the course's momentum forms and
 * their relation to PyTorch's, noise-injected GD escaping a saddle, convergence on an
 * ill-conditioned quadratic, allocation-free steady state and thread-count independence.
 * Trajectories against PyTorch are in test_golden_optim.c, the differentiable mode in
 * test_optim_diff.c, L-BFGS's own behaviour in test_lbfgs.c.
 */
#include <stdlib.h>

#include "optim_cases.h"

/* A 1-d f64 leaf requiring grad holding v[0..n). */
static cg_tensor *leaf(const double *v, int64_t n)
{
    cg_tensor *t = cg_tensor_from_data(CG_F64, 1, &n, v);
    cg_tensor_set_requires_grad(t, true);
    return t;
}

/* Set p's .grad to g by backward of sum(p * g). */
static void set_grad(cg_tensor *p, const double *g)
{
    int64_t n = cg_tensor_numel(p);
    cg_tensor *gt = cg_tensor_from_data(CG_F64, 1, &n, g);
    cg_tensor_zero_grad(p);
    assert_ok(cg_backward(cg_sum(cg_mul(p, gt), NULL, 0, false), NULL));
    cg_tensor_free(gt);
}

/* ================= defaults ================= */

static void test_defaults_are_pytorch(void **state)
{
    (void)state;
    cg_sgd_options sgd = cg_sgd_defaults();
    assert_true(isnan(sgd.lr));
    assert_true(sgd.momentum == 0 && sgd.dampening == 0 && sgd.weight_decay == 0);
    assert_true(!sgd.nesterov && !sgd.maximize && sgd.form == CG_MOMENTUM_TORCH);
    cg_adam_options adam = cg_adam_defaults(), adamw = cg_adamw_defaults();
    assert_true(adam.lr == 1e-3 && adam.beta1 == 0.9 && adam.beta2 == 0.999 && adam.eps == 1e-8);
    assert_true(adam.weight_decay == 0 && !adam.amsgrad && !adam.maximize);
    assert_true(adamw.weight_decay == 0.01 && adamw.lr == 1e-3);
    cg_adagrad_options ag = cg_adagrad_defaults();
    assert_true(ag.lr == 0.01 && ag.lr_decay == 0 && ag.initial_accumulator_value == 0 &&
                ag.eps == 1e-10);
    cg_rmsprop_options rms = cg_rmsprop_defaults();
    assert_true(rms.lr == 0.01 && rms.alpha == 0.99 && rms.eps == 1e-8 && rms.momentum == 0 &&
                !rms.centered);
    cg_adadelta_options ad = cg_adadelta_defaults();
    assert_true(ad.lr == 1.0 && ad.rho == 0.9 && ad.eps == 1e-6);
    cg_adamax_options ax = cg_adamax_defaults();
    assert_true(ax.lr == 2e-3 && ax.beta1 == 0.9 && ax.beta2 == 0.999 && ax.eps == 1e-8);
    cg_nadam_options na = cg_nadam_defaults();
    assert_true(na.lr == 2e-3 && na.momentum_decay == 4e-3 && na.eps == 1e-8);
    cg_radam_options ra = cg_radam_defaults();
    assert_true(ra.lr == 1e-3 && ra.beta2 == 0.999);
    cg_rprop_options rp = cg_rprop_defaults();
    assert_true(rp.lr == 0.01 && rp.eta_minus == 0.5 && rp.eta_plus == 1.2 &&
                rp.step_size_min == 1e-6 && rp.step_size_max == 50);
    cg_asgd_options as = cg_asgd_defaults();
    assert_true(as.lr == 0.01 && as.lambd == 1e-4 && as.alpha == 0.75 && as.t0 == 1e6);
    cg_lbfgs_options lb = cg_lbfgs_defaults();
    assert_true(lb.lr == 1 && lb.max_iter == 20 && lb.max_eval == 0 && lb.history_size == 100);
    assert_true(lb.tolerance_grad == 1e-7 && lb.tolerance_change == 1e-9 &&
                lb.line_search == CG_LINE_SEARCH_NONE);
}

/* ================= bad input ================= */

typedef cg_optimizer *(*maker)(cg_tensor *const *params, int n);

#define MAKER(fname, type, defaults, ctor, field, value)                                    \
    static cg_optimizer *fname(cg_tensor *const *params, int n)                             \
    {                                                                                       \
        type o = defaults();                                                                \
        o.field = value;                                                                    \
        return ctor(params, n, &o);                                                         \
    }

MAKER(sgd_neg_lr, cg_sgd_options, cg_sgd_defaults, cg_optim_sgd_new, lr, -0.1)
MAKER(sgd_no_lr, cg_sgd_options, cg_sgd_defaults, cg_optim_sgd_new, momentum, 0.5)
MAKER(adam_neg_lr, cg_adam_options, cg_adam_defaults, cg_optim_adam_new, lr, -1)
MAKER(adam_beta1_one, cg_adam_options, cg_adam_defaults, cg_optim_adam_new, beta1, 1.0)
MAKER(adam_beta2_neg, cg_adam_options, cg_adam_defaults, cg_optim_adam_new, beta2, -0.1)
MAKER(adam_neg_eps, cg_adam_options, cg_adam_defaults, cg_optim_adam_new, eps, -1e-8)
MAKER(adam_nan_lr, cg_adam_options, cg_adam_defaults, cg_optim_adam_new, lr, NAN)
MAKER(adamw_neg_wd, cg_adam_options, cg_adamw_defaults, cg_optim_adamw_new, weight_decay, -1)
MAKER(adagrad_neg_decay, cg_adagrad_options, cg_adagrad_defaults, cg_optim_adagrad_new,
      lr_decay, -1)
MAKER(adagrad_neg_init, cg_adagrad_options, cg_adagrad_defaults, cg_optim_adagrad_new,
      initial_accumulator_value, -1)
MAKER(rmsprop_neg_alpha, cg_rmsprop_options, cg_rmsprop_defaults, cg_optim_rmsprop_new, alpha,
      -0.5)
MAKER(rmsprop_neg_momentum, cg_rmsprop_options, cg_rmsprop_defaults, cg_optim_rmsprop_new,
      momentum, -0.5)
MAKER(adadelta_rho, cg_adadelta_options, cg_adadelta_defaults, cg_optim_adadelta_new, rho, 1.5)
MAKER(adamax_beta1, cg_adamax_options, cg_adamax_defaults, cg_optim_adamax_new, beta1, 1.0)
MAKER(nadam_decay, cg_nadam_options, cg_nadam_defaults, cg_optim_nadam_new, momentum_decay, -1)
MAKER(radam_beta2, cg_radam_options, cg_radam_defaults, cg_optim_radam_new, beta2, 1.0)
MAKER(rprop_eta_minus, cg_rprop_options, cg_rprop_defaults, cg_optim_rprop_new, eta_minus, 1.0)
MAKER(rprop_eta_plus, cg_rprop_options, cg_rprop_defaults, cg_optim_rprop_new, eta_plus, 0.9)
MAKER(rprop_steps, cg_rprop_options, cg_rprop_defaults, cg_optim_rprop_new, step_size_max, 1e-9)
MAKER(asgd_neg_lr, cg_asgd_options, cg_asgd_defaults, cg_optim_asgd_new, lr, -0.01)
MAKER(lbfgs_iter, cg_lbfgs_options, cg_lbfgs_defaults, cg_optim_lbfgs_new, max_iter, 0)
MAKER(lbfgs_history, cg_lbfgs_options, cg_lbfgs_defaults, cg_optim_lbfgs_new, history_size, 0)
#undef MAKER

static cg_optimizer *sgd_neg_momentum(cg_tensor *const *params, int n)
{
    cg_sgd_options o = cg_sgd_defaults();
    o.lr = 0.1, o.momentum = -0.5;
    return cg_optim_sgd_new(params, n, &o);
}

static cg_optimizer *noisy_neg_sigma(cg_tensor *const *params, int n)
{
    cg_noisy_gd_options o = cg_noisy_gd_defaults();
    o.lr = 0.1, o.sigma = -1;
    return cg_optim_noisy_gd_new(params, n, &o);
}

static cg_optimizer *sgd_nesterov_dampening(cg_tensor *const *params, int n)
{
    cg_sgd_options o = cg_sgd_defaults();
    o.lr = 0.1, o.momentum = 0.9, o.dampening = 0.1, o.nesterov = true;
    return cg_optim_sgd_new(params, n, &o);
}

static cg_optimizer *sgd_nesterov_no_momentum(cg_tensor *const *params, int n)
{
    cg_sgd_options o = cg_sgd_defaults();
    o.lr = 0.1, o.nesterov = true;
    return cg_optim_sgd_new(params, n, &o);
}

static cg_optimizer *sgd_averaged_nesterov(cg_tensor *const *params, int n)
{
    cg_sgd_options o = cg_sgd_defaults();
    o.lr = 0.1, o.momentum = 0.9, o.form = CG_MOMENTUM_AVERAGED, o.nesterov = true;
    return cg_optim_sgd_new(params, n, &o);
}

static cg_optimizer *gd_neg(cg_tensor *const *params, int n)
{
    return cg_optim_gd_new(params, n, -1);
}

static void test_bad_hyperparameters(void **state)
{
    (void)state;
    static const struct {
        maker make;
        const char *text;
    } cases[] = {
        {sgd_neg_lr, "cg_optim_sgd_new: Invalid learning rate: -0.1"},
        {sgd_no_lr, "lr is required"},
        {sgd_neg_momentum, "Invalid momentum value: -0.5"},
        {adam_neg_lr, "cg_optim_adam_new: Invalid learning rate: -1"},
        {adam_beta1_one, "Invalid beta parameter at index 0: 1 (beta1 must be in [0, 1))"},
        {adam_beta2_neg, "Invalid beta parameter at index 1: -0.1"},
        {adam_neg_eps, "Invalid epsilon value: -1e-08"},
        {adam_nan_lr, "lr is required"},
        {adamw_neg_wd, "cg_optim_adamw_new: Invalid weight_decay value: -1"},
        {adagrad_neg_decay, "Invalid lr_decay value: -1"},
        {adagrad_neg_init, "Invalid initial_accumulator_value value: -1"},
        {rmsprop_neg_alpha, "Invalid alpha value: -0.5"},
        {rmsprop_neg_momentum, "Invalid momentum value: -0.5"},
        {adadelta_rho, "Invalid rho value: 1.5 (must be in [0, 1])"},
        {adamax_beta1, "cg_optim_adamax_new: Invalid beta parameter at index 0: 1"},
        {nadam_decay, "Invalid momentum_decay value: -1"},
        {radam_beta2, "Invalid beta parameter at index 1: 1"},
        {rprop_eta_minus, "Invalid eta value at index 0: 1"},
        {rprop_eta_plus, "Invalid eta value at index 1: 0.9"},
        {rprop_steps, "step_size_max"},
        {asgd_neg_lr, "cg_optim_asgd_new: Invalid learning rate"},
        {lbfgs_iter, "cg_optim_lbfgs_new: Invalid max_iter: 0"},
        {lbfgs_history, "Invalid history_size: 0"},
        {noisy_neg_sigma, "Invalid sigma value: -1"},
        {sgd_nesterov_dampening, "Nesterov momentum requires a momentum and zero dampening"},
        {sgd_nesterov_no_momentum, "Nesterov momentum requires a momentum and zero dampening"},
        {sgd_averaged_nesterov, "take no nesterov"},
        {gd_neg, "cg_optim_gd_new: Invalid learning rate: -1"},
    };
    double v[3] = {1, 2, 3};
    cg_tensor *p = leaf(v, 3);
    int64_t live = cg_alloc_get_stats().live_bytes;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cg_clear_error();
        cg_optimizer *opt = cases[i].make(&p, 1);
        if (opt)
            fail_msg("case %zu (%s) was accepted", i, cases[i].text);
        assert_int_equal(cg_last_status(), CG_ERR_VALUE);
        assert_error_contains(cases[i].text);
        assert_int_equal(cg_alloc_get_stats().live_bytes, live); /* nothing left behind */
    }
    cg_tensor_free(p);
}

static void test_bad_parameters(void **state)
{
    (void)state;
    double v[3] = {1, 2, 3};
    cg_tensor *p = leaf(v, 3), *q = leaf(v, 3);
    cg_adam_options o = cg_adam_defaults();
    /* empty list */
    assert_null(cg_optim_adam_new(&p, 0, &o));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_error_contains("optimizer got an empty parameter list");
    cg_param_group empty[2] = {{&p, 0, NAN, NAN}, {&q, 0, NAN, NAN}};
    assert_null(cg_optim_adam_new_groups(empty, 2, &o));
    assert_error_contains("empty parameter list");
    assert_null(cg_optim_adam_new_groups(NULL, 0, &o));
    /* NULL parameter */
    cg_tensor *with_null[2] = {p, NULL};
    assert_null(cg_optim_adam_new(with_null, 2, &o));
    assert_int_equal(cg_last_status(), CG_ERR_NULL);
    assert_error_contains("parameter 1 of group 0 is NULL");
    /* non-leaf: an op's result */
    cg_tensor *y = cg_mul_scalar(p, 2.0);
    assert_null(cg_optim_adam_new(&y, 1, &o));
    assert_int_equal(cg_last_status(), CG_ERR_STATE);
    assert_error_contains("can't optimize a non-leaf Tensor");
    /* non-float */
    int64_t three = 3, iv[3] = {1, 2, 3};
    cg_tensor *ints = cg_tensor_from_data(CG_I64, 1, &three, iv);
    assert_null(cg_optim_adam_new(&ints, 1, &o));
    assert_int_equal(cg_last_status(), CG_ERR_DTYPE);
    assert_error_contains("dtype i64");
    /* duplicates, within and across groups */
    cg_tensor *twice[2] = {p, p};
    assert_null(cg_optim_adam_new(twice, 2, &o));
    assert_error_contains("more than one parameter group");
    cg_param_group dup[2] = {{&p, 1, NAN, NAN}, {&p, 1, 0.1, NAN}};
    assert_null(cg_optim_adam_new_groups(dup, 2, &o));
    assert_error_contains("parameter 0 of group 1 is also parameter 0 of group 0");
    /* a group's bad lr, a weight decay where the algorithm has none */
    cg_param_group bad_lr[2] = {{&p, 1, NAN, NAN}, {&q, 1, -0.5, NAN}};
    assert_null(cg_optim_adam_new_groups(bad_lr, 2, &o));
    assert_error_contains("Invalid learning rate: -0.5");
    cg_param_group rp[1] = {{&p, 1, NAN, 0.1}};
    assert_null(cg_optim_rprop_new_groups(rp, 1, NULL));
    assert_error_contains("sets weight_decay, which rprop does not have");
    cg_tensor_free(ints);
    cg_tensor_free(p);
    cg_tensor_free(q);
}

/* ================= groups and hyperparameters ================= */

static void test_groups_and_hypers(void **state)
{
    (void)state;
    double v[2] = {1, -1};
    cg_tensor *a = leaf(v, 2), *b = leaf(v, 2), *c = leaf(v, 2);
    cg_tensor *ga[2] = {a, b};
    cg_param_group groups[2] = {{ga, 2, NAN, NAN}, {&c, 1, 0.5, 0.25}};
    cg_sgd_options o = cg_sgd_defaults();
    o.lr = 0.1;
    o.momentum = 0.9;
    cg_optimizer *opt = cg_optim_sgd_new_groups(groups, 2, &o);
    assert_non_null(opt);
    assert_string_equal(cg_optim_name(opt), "sgd");
    assert_int_equal(cg_optim_num_groups(opt), 2);
    assert_int_equal(cg_optim_num_params(opt), 3);
    int g;
    assert_ptr_equal(cg_optim_param(opt, 2, &g), c);
    assert_int_equal(g, 1);
    assert_null(cg_optim_param(opt, 3, NULL));
    assert_close(cg_optim_lr(opt, 0), 0.1, 0, 0);
    assert_close(cg_optim_lr(opt, 1), 0.5, 0, 0);
    assert_close(cg_tensor_item(cg_optim_hyper(opt, 1, "weight_decay")), 0.25, 0, 0);
    assert_close(cg_tensor_item(cg_optim_hyper(opt, 1, "momentum")), 0.9, 0, 0);
    assert_true(isnan(cg_optim_lr(opt, 2)));
    assert_error_contains("no group 2");
    assert_null(cg_optim_hyper(opt, 0, "beta1"));
    assert_error_contains("sgd has no hyperparameter \"beta1\"");
    assert_ok(cg_optim_set_lr(opt, 0, 0.2));
    assert_close(cg_optim_lr(opt, 0), 0.2, 0, 0);
    assert_int_equal(cg_optim_set_lr(opt, 0, -1), CG_ERR_VALUE);
    assert_close(cg_optim_lr(opt, 0), 0.2, 0, 0);
    assert_int_equal(cg_optim_set_hyper(opt, 1, "momentum", -0.1), CG_ERR_VALUE);
    assert_ok(cg_optim_set_hyper(opt, 1, "momentum", 0.5));
    /* each group steps with its own lr: p = v - lr * grad on the first step */
    double grad[2] = {1, 2};
    set_grad(a, grad), set_grad(b, grad), set_grad(c, grad);
    assert_ok(cg_optim_step(opt));
    double got[2];
    cg_tensor_to_f64(a, got);
    assert_close(got[0], 1 - 0.2 * 1, 0, 1e-15);
    cg_tensor_to_f64(c, got); /* weight decay 0.25: d = g + 0.25 p */
    assert_close(got[1], -1 - 0.5 * (2 + 0.25 * -1), 0, 1e-15);
    cg_optim_free(opt);
    cg_tensor_free(a), cg_tensor_free(b), cg_tensor_free(c);
}

/* Momentum set on an SGD made without: no buffer, a clear error rather than a wrong step. */
static void test_momentum_needs_buffer(void **state)
{
    (void)state;
    double v[2] = {1, 2};
    cg_tensor *p = leaf(v, 2);
    cg_optimizer *opt = cg_optim_gd_new(&p, 1, 0.1);
    assert_string_equal(cg_optim_name(opt), "gd");
    set_grad(p, v);
    assert_ok(cg_optim_set_hyper(opt, 0, "momentum", 0.9));
    assert_int_equal(cg_optim_step(opt), CG_ERR_STATE);
    assert_error_contains("no momentum buffer");
    cg_optim_free(opt);
    cg_tensor_free(p);
}

/* ================= stepping ================= */

static void test_skip_and_zero_grad(void **state)
{
    (void)state;
    double v[2] = {1, 2}, g[2] = {0.5, -0.5};
    cg_tensor *a = leaf(v, 2), *b = leaf(v, 2), *ps[2] = {a, b};
    cg_optimizer *opt = cg_optim_adam_new(ps, 2, NULL);
    set_grad(a, g);
    assert_ok(cg_optim_step(opt));
    double got[2];
    cg_tensor_to_f64(b, got); /* no grad: skipped, its step stays 0 */
    assert_close(got[0], 1, 0, 0);
    const char *name;
    assert_close(cg_tensor_item(cg_optim_state_get(opt, 0, &name)), 1, 0, 0);
    assert_string_equal(name, "0.step");
    assert_close(cg_tensor_item(cg_optim_state_get(opt, 3, &name)), 0, 0, 0);
    assert_string_equal(name, "1.step");
    cg_tensor_to_f64(a, got); /* Adam's first step moves by lr in the sign of -g */
    assert_close(got[0], 1 - 1e-3, 0, 1e-9);
    /* zero_grad: in place (PyTorch 1.13's default), or dropped */
    cg_tensor *grad = cg_tensor_grad(a);
    cg_optim_zero_grad(opt, false);
    assert_ptr_equal(cg_tensor_grad(a), grad);
    cg_tensor_to_f64(grad, got);
    assert_close(got[0], 0, 0, 0);
    cg_optim_zero_grad(opt, true);
    assert_null(cg_tensor_grad(a));
    cg_optim_free(opt);
    cg_tensor_free(a), cg_tensor_free(b);
}

typedef struct quad_ctx {
    cg_tensor *p;
    int calls;
    bool fail;
} quad_ctx;

/* sum p^2 with its gradient; fails (NaN and an error) when asked. */
static double quad_closure(void *vc)
{
    quad_ctx *c = vc;
    c->calls++;
    if (c->fail) {
        cg_clear_error();
        cg_add(c->p, NULL); /* records an error */
        return NAN;
    }
    assert_true(cg_grad_enabled());
    cg_tensor_zero_grad(c->p);
    cg_tensor *f = cg_sum(cg_mul(c->p, c->p), NULL, 0, false);
    cg_backward(f, NULL);
    return cg_tensor_item(f);
}

static void test_step_closure(void **state)
{
    (void)state;
    double v[2] = {1, 2};
    quad_ctx c = {leaf(v, 2), 0, false};
    cg_optimizer *opt = cg_optim_sgd_new(&c.p, 1, &(cg_sgd_options){.lr = 0.25});
    double loss;
    bool prev = cg_set_grad_enabled(false); /* the closure runs with grad on regardless */
    assert_ok(cg_optim_step_closure(opt, quad_closure, &c, &loss));
    cg_set_grad_enabled(prev);
    assert_close(loss, 5, 0, 0);
    assert_int_equal(c.calls, 1);
    double got[2];
    cg_tensor_to_f64(c.p, got);
    assert_close(got[1], 2 - 0.25 * 4, 0, 0);
    c.fail = true;
    assert_int_equal(cg_optim_step_closure(opt, quad_closure, &c, &loss), CG_ERR_NULL);
    assert_int_equal(cg_optim_step_closure(opt, NULL, &c, &loss), CG_ERR_NULL);
    assert_int_equal(cg_optim_step(NULL), CG_ERR_NULL);
    cg_optim_free(opt);
    cg_tensor_free(c.p);
}

/* ================= state ================= */

static void test_state_names(void **state)
{
    (void)state;
    cg_tensor *p0, *p1;
    optim_problem pr;
    optim_problem_random(&pr, &p0, &p1, CG_F32);
    cg_tensor *ps[2] = {p0, p1};
    cg_adam_options o = cg_adam_defaults();
    o.amsgrad = true;
    cg_optimizer *opt = cg_optim_adam_new(ps, 2, &o);
    static const char *const want[] = {
        "0.step", "0.exp_avg", "0.exp_avg_sq", "0.max_exp_avg_sq", "1.step", "1.exp_avg",
        "1.exp_avg_sq", "1.max_exp_avg_sq", "param_groups.0.lr", "param_groups.0.beta1",
        "param_groups.0.beta2", "param_groups.0.eps", "param_groups.0.weight_decay"};
    assert_int_equal(cg_optim_state_count(opt), 13);
    for (int i = 0; i < 13; i++) {
        const char *name;
        cg_tensor *t = cg_optim_state_get(opt, i, &name);
        assert_string_equal(name, want[i]);
        bool buffer = strstr(name, "exp_avg") != NULL;
        assert_int_equal(cg_tensor_dtype(t), buffer ? CG_F32 : CG_F64);
        assert_int_equal(cg_tensor_ndim(t), buffer ? cg_tensor_ndim(ps[name[0] - '0']) : 0);
    }
    assert_null(cg_optim_state_get(opt, 13, NULL));
    cg_optim_free(opt);
    optim_problem_free(&pr);
    cg_tensor_free(p0), cg_tensor_free(p1);
}

/* A caller-owned snapshot of an optimizer's state. */
typedef struct snapshot {
    int n;
    const char *names[64];
    cg_tensor *t[64];
} snapshot;

static void snap(const cg_optimizer *opt, snapshot *s)
{
    s->n = cg_optim_state_count(opt);
    assert_true(s->n <= 64);
    for (int i = 0; i < s->n; i++)
        s->t[i] = cg_tensor_clone(cg_optim_state_get(opt, i, &s->names[i]));
}

static void snap_free(snapshot *s)
{
    for (int i = 0; i < s->n; i++)
        cg_tensor_free(s->t[i]);
}

typedef struct trainer {
    const optim_case *c;
    optim_problem pr;
    cg_tensor *p[2];
    cg_optimizer *opt;
} trainer;

static void train(trainer *t, int steps)
{
    for (int k = 0; k < steps; k++) {
        cg_optim_zero_grad(t->opt, false);
        assert_ok(cg_backward(optim_problem_loss(&t->pr, t->p[0], t->p[1], t->c->sign), NULL));
        assert_ok(cg_optim_step(t->opt));
        cg_tape_reset(cg_tape_active());
    }
}

/* Save mid-training, keep going; load into a fresh optimizer over copies of the saved
 * parameters and go on the same number of steps: the same bits. */
static void round_trip(const optim_case *c)
{
    trainer a = {c, {0}, {0}, 0}, b = {c, {0}, {0}, 0};
    optim_problem_random(&a.pr, &a.p[0], &a.p[1], CG_F64);
    for (int i = 0; i < 2; i++)
        cg_tensor_set_requires_grad(a.p[i], true);
    a.opt = optim_case_make(c, a.p, 2);
    train(&a, 7);
    snapshot s;
    snap(a.opt, &s);
    b.pr = a.pr;
    for (int i = 0; i < 2; i++) {
        b.p[i] = cg_tensor_clone(a.p[i]);
        cg_tensor_set_requires_grad(b.p[i], true);
    }
    b.opt = optim_case_make(c, b.p, 2);
    assert_ok(cg_optim_state_load(b.opt, s.names, s.t, s.n));
    train(&a, 6);
    train(&b, 6);
    for (int i = 0; i < 2; i++) {
        double x[6], y[6];
        cg_tensor_to_f64(a.p[i], x);
        cg_tensor_to_f64(b.p[i], y);
        if (memcmp(x, y, sizeof(double) * (size_t)cg_tensor_numel(a.p[i])))
            fail_msg("%s: the reloaded optimizer diverged from the original", c->name);
    }
    snap_free(&s);
    cg_optim_free(a.opt), cg_optim_free(b.opt);
    optim_problem_free(&a.pr);
    for (int i = 0; i < 2; i++)
        cg_tensor_free(a.p[i]), cg_tensor_free(b.p[i]);
}

static void test_state_round_trip(void **state)
{
    (void)state;
    static const optim_case extra[] = {
        {"gd", "gd", 1, {{"lr", .05}}, G_NONE},
        {"sgd_velocity", "sgd", 1, {{"lr", .05}, {"momentum", .9}, {"form", 1}}, G_NONE},
        {"noisy_gd", "noisy_gd", 1, {{"lr", .05}, {"sigma", .1}, {"seed", 3}}, G_NONE},
    };
    for (int i = 0; i < OPTIM_NCASES; i++)
        round_trip(&optim_cases[i]);
    for (int i = 0; i < 3; i++)
        round_trip(&extra[i]);
}

static void test_state_load_errors(void **state)
{
    (void)state;
    double v[3] = {1, 2, 3};
    cg_tensor *p = leaf(v, 3), *q = leaf(v, 2);
    cg_optimizer *opt = cg_optim_adam_new(&p, 1, NULL);
    snapshot s;
    snap(opt, &s);
    assert_int_equal(s.n, 8);
    cg_tensor *saved = s.t[1];
    /* mismatched shape, naming the entry */
    s.t[1] = q;
    assert_int_equal(cg_optim_state_load(opt, s.names, s.t, s.n), CG_ERR_VALUE);
    assert_error_contains("entry \"0.exp_avg\" is f64 [2] but the optimizer's is f64 [3]");
    /* mismatched dtype */
    cg_tensor *f32 = cg_tensor_zeros(CG_F32, 1, (int64_t[]){3});
    s.t[1] = f32;
    assert_int_equal(cg_optim_state_load(opt, s.names, s.t, s.n), CG_ERR_VALUE);
    assert_error_contains("is f32 [3]");
    s.t[1] = saved;
    /* missing, unknown, duplicated entries */
    assert_int_equal(cg_optim_state_load(opt, s.names, s.t, s.n - 1), CG_ERR_VALUE);
    assert_error_contains("state entry \"param_groups.0.weight_decay\" is missing");
    const char *renamed = s.names[2];
    s.names[2] = "0.exp_avg_squared";
    assert_int_equal(cg_optim_state_load(opt, s.names, s.t, s.n), CG_ERR_VALUE);
    assert_error_contains("adam has no state entry \"0.exp_avg_squared\"");
    s.names[2] = s.names[1];
    assert_int_equal(cg_optim_state_load(opt, s.names, s.t, s.n), CG_ERR_VALUE);
    assert_error_contains("given twice");
    s.names[2] = renamed;
    /* invalid values: a negative learning rate, a fractional step count */
    cg_tensor *bad = cg_tensor_scalar(CG_F64, -1), *keep = s.t[3];
    s.t[3] = bad;
    assert_int_equal(cg_optim_state_load(opt, s.names, s.t, s.n), CG_ERR_VALUE);
    assert_error_contains("param_groups.0.lr");
    assert_error_contains("Invalid learning rate: -1");
    s.t[3] = keep;
    keep = s.t[0];
    cg_tensor *half = cg_tensor_scalar(CG_F64, 2.5);
    s.t[0] = half;
    assert_int_equal(cg_optim_state_load(opt, s.names, s.t, s.n), CG_ERR_VALUE);
    assert_error_contains("entry \"0.step\" holds 2.5, not a count");
    s.t[0] = keep;
    /* nothing changed by the failed loads; a good one works */
    assert_close(cg_optim_lr(opt, 0), 1e-3, 0, 0);
    assert_ok(cg_optim_state_load(opt, s.names, s.t, s.n));
    cg_tensor_free(bad), cg_tensor_free(half), cg_tensor_free(f32);
    snap_free(&s);
    cg_optim_free(opt);
    cg_tensor_free(p), cg_tensor_free(q);
}

/* ================= the course's momentum forms ================= */

/* Run SGD with the given form on the golden problem; trajectory into x (steps rows of 10).
 * lr_change: from step 5 on, lr is halved. preload: load buffer 0 and step 1 first. */
static void run_sgd(cg_momentum_form form, double momentum, double dampening, bool lr_change,
                    bool preload, int steps, double *x)
{
    cg_tensor *p[2];
    optim_problem pr;
    optim_problem_random(&pr, &p[0], &p[1], CG_F64);
    cg_tensor_set_requires_grad(p[0], true), cg_tensor_set_requires_grad(p[1], true);
    cg_sgd_options o = cg_sgd_defaults();
    o.lr = 0.05, o.momentum = momentum, o.dampening = dampening, o.form = form;
    cg_optimizer *opt = cg_optim_sgd_new(p, 2, &o);
    assert_non_null(opt);
    if (preload)
        for (int i = 0; i < cg_optim_state_count(opt); i++) {
            const char *n;
            cg_tensor *t = cg_optim_state_get(opt, i, &n);
            if (strstr(n, ".step"))
                cg_tensor_fill_(t, 1);
        }
    for (int k = 0; k < steps; k++) {
        if (lr_change && k == 5)
            cg_optim_set_lr(opt, 0, 0.025);
        cg_optim_zero_grad(opt, false);
        assert_ok(cg_backward(optim_problem_loss(&pr, p[0], p[1], 1), NULL));
        assert_ok(cg_optim_step(opt));
        cg_tape_reset(cg_tape_active());
        cg_tensor_to_f64(p[0], x + 10 * k);
        cg_tensor_to_f64(p[1], x + 10 * k + 6);
    }
    cg_optim_free(opt);
    optim_problem_free(&pr);
    cg_tensor_free(p[0]), cg_tensor_free(p[1]);
}

static double max_rel(const double *a, const double *b, int n)
{
    double m = 0;
    for (int i = 0; i < n; i++)
        m = fmax(m, fabs(a[i] - b[i]) / fabs(b[i]));
    return m;
}

static void test_momentum_forms(void **state)
{
    (void)state;
    enum { K = 30 };
    double torch[K * 10], velocity[K * 10], averaged[K * 10];
    /* u = momentum u - lr g, p = p + u is PyTorch's form (u = -lr buf) while lr is constant */
    run_sgd(CG_MOMENTUM_TORCH, 0.9, 0, false, false, K, torch);
    run_sgd(CG_MOMENTUM_VELOCITY, 0.9, 0, false, false, K, velocity);
    assert_true(max_rel(velocity, torch, K * 10) < 1e-12);
    /* ... and not when lr changes: u keeps the old lr in it */
    run_sgd(CG_MOMENTUM_TORCH, 0.9, 0, true, false, K, torch);
    run_sgd(CG_MOMENTUM_VELOCITY, 0.9, 0, true, false, K, velocity);
    assert_true(max_rel(velocity, torch, K * 10) > 1e-3);
    /* The averaged form equals PyTorch's with dampening = momentum once PyTorch's buffer
     * starts from 0 instead of the first gradient (load buffer 0, step 1): bit for bit */
    run_sgd(CG_MOMENTUM_TORCH, 0.8, 0.8, false, true, K, torch);
    run_sgd(CG_MOMENTUM_AVERAGED, 0.8, 0, false, false, K, averaged);
    assert_memory_equal(averaged, torch, sizeof averaged);
    run_sgd(CG_MOMENTUM_TORCH, 0.8, 0.8, false, false, K, torch);
    assert_true(max_rel(averaged, torch, K * 10) > 1e-3);
}

/* ================= noise-injected gradient descent ================= */

/* f(x, y) = x^2 - y^2 from the saddle (0, 0), where the gradient is exactly zero. */
static void run_saddle(cg_optimizer *opt, cg_tensor *p, int steps)
{
    cg_tensor *sign = cg_tensor_from_data(CG_F64, 1, (int64_t[]){2}, (double[]){1, -1});
    for (int k = 0; k < steps; k++) {
        cg_optim_zero_grad(opt, false);
        assert_ok(cg_backward(cg_sum(cg_mul(cg_mul(p, p), sign), NULL, 0, false), NULL));
        assert_ok(cg_optim_step(opt));
        cg_tape_reset(cg_tape_active());
    }
    cg_tensor_free(sign);
}

static void test_noisy_gd_escapes_saddle(void **state)
{
    (void)state;
    double zero[2] = {0, 0}, got[2];
    cg_tensor *p = leaf(zero, 2);
    cg_optimizer *gd = cg_optim_gd_new(&p, 1, 0.05);
    run_saddle(gd, p, 200);
    cg_tensor_to_f64(p, got);
    assert_true(got[0] == 0 && got[1] == 0); /* plain GD never leaves */
    cg_optim_free(gd);
    cg_tensor_free(p);
    p = leaf(zero, 2);
    cg_noisy_gd_options o = cg_noisy_gd_defaults();
    o.lr = 0.05, o.sigma = 0.01, o.seed = 42;
    cg_optimizer *noisy = cg_optim_noisy_gd_new(&p, 1, &o);
    run_saddle(noisy, p, 200);
    cg_tensor_to_f64(p, got);
    /* y grows like (1 + 2 lr)^t along the negative curvature; x stays near 0 */
    assert_true(fabs(got[1]) > 1.0);
    assert_true(fabs(got[0]) < 0.1);
    cg_optim_free(noisy);
    cg_tensor_free(p);
}

/* The noise is cg_tensor_normal's numbers at the generator's offset, scaled by
 * sigma / (1 + k)^gamma at the (k+1)-th step; rng_offset advances by numel. */
static void test_noisy_gd_noise(void **state)
{
    (void)state;
    double zero[5] = {0}, got[5], g[5] = {0};
    cg_tensor *p = leaf(zero, 5);
    cg_noisy_gd_options o = cg_noisy_gd_defaults();
    o.lr = 0.5, o.sigma = 0.3, o.gamma = 1.0, o.seed = 9;
    cg_optimizer *opt = cg_optim_noisy_gd_new(&p, 1, &o);
    cg_rng rng = cg_rng_init(9);
    cg_tensor *eps0 = cg_tensor_normal(&rng, CG_F64, 1, (int64_t[]){5}, 0, 1);
    cg_tensor *eps1 = cg_tensor_normal(&rng, CG_F64, 1, (int64_t[]){5}, 0, 1);
    double e0[5], e1[5];
    cg_tensor_to_f64(eps0, e0), cg_tensor_to_f64(eps1, e1);
    set_grad(p, g);
    assert_ok(cg_optim_step(opt));
    assert_ok(cg_optim_step(opt));
    cg_tensor_to_f64(p, got);
    for (int i = 0; i < 5; i++)
        assert_close(got[i], 0.3 * e0[i] + 0.3 / 2 * e1[i], 0, 1e-15);
    assert_close(cg_tensor_item(cg_optim_state_get(opt, 1, NULL)), 10, 0, 0); /* rng_offset */
    cg_tensor_free(eps0), cg_tensor_free(eps1);
    cg_optim_free(opt);
    cg_tensor_free(p);
}

/* ================= convergence on an ill-conditioned quadratic ================= */

enum { QD = 10 };

/* f(x) = 0.5 (x - x*)^T A (x - x*) with A = H diag(1 .. 100) H, H a Householder
 * reflection: condition number 100, not axis-aligned. */
typedef struct quadratic {
    cg_tensor *a, *xstar;
} quadratic;

static quadratic quadratic_make(void)
{
    double h[QD][QD], v[QD], a[QD * QD], xs[QD], vv = 0;
    for (int i = 0; i < QD; i++)
        v[i] = 1 + i % 3, vv += v[i] * v[i], xs[i] = 1.0 - 0.2 * i;
    for (int i = 0; i < QD; i++)
        for (int j = 0; j < QD; j++)
            h[i][j] = (i == j) - 2 * v[i] * v[j] / vv;
    for (int i = 0; i < QD; i++)
        for (int j = 0; j < QD; j++) {
            double s = 0;
            for (int k = 0; k < QD; k++)
                s += h[i][k] * (1 + 99.0 * k / (QD - 1)) * h[k][j];
            a[i * QD + j] = s;
        }
    quadratic q = {cg_tensor_from_data(CG_F64, 2, (int64_t[]){QD, QD}, a),
                   cg_tensor_from_data(CG_F64, 1, (int64_t[]){QD}, xs)};
    return q;
}

static cg_tensor *quadratic_loss(const quadratic *q, cg_tensor *x)
{
    cg_tensor *d = cg_sub(x, q->xstar);
    return cg_mul_scalar(cg_sum(cg_mul(d, cg_matmul(q->a, d)), NULL, 0, false), 0.5);
}

typedef struct quad_closure_ctx {
    const quadratic *q;
    cg_tensor *x;
} quad_closure_ctx;

static double quadratic_closure(void *vc)
{
    quad_closure_ctx *c = vc;
    cg_tape_reset(cg_tape_active());
    cg_tensor_zero_grad(c->x);
    cg_tensor *f = quadratic_loss(c->q, c->x);
    cg_backward(f, NULL);
    return cg_tensor_item(f);
}

typedef cg_optimizer *(*quad_maker)(cg_tensor **x);

static cg_optimizer *q_gd(cg_tensor **x) { return cg_optim_gd_new(x, 1, 0.019); }
static cg_optimizer *q_heavy_ball(cg_tensor **x)
{
    /* Polyak's tuning for eigenvalues in [1, 100]: lr 4 / (sqrt 100 + 1)^2,
     * momentum ((sqrt 100 - 1) / (sqrt 100 + 1))^2 */
    cg_sgd_options o = cg_sgd_defaults();
    o.lr = 4.0 / 121, o.momentum = 81.0 / 121;
    return cg_optim_sgd_new(x, 1, &o);
}
static cg_optimizer *q_nesterov(cg_tensor **x)
{
    cg_sgd_options o = cg_sgd_defaults();
    o.lr = 0.01, o.momentum = 0.9, o.nesterov = true;
    return cg_optim_sgd_new(x, 1, &o);
}
static cg_optimizer *q_adam(cg_tensor **x)
{
    cg_adam_options o = cg_adam_defaults();
    o.lr = 0.02;
    return cg_optim_adam_new(x, 1, &o);
}
static cg_optimizer *q_adamw(cg_tensor **x)
{
    cg_adam_options o = cg_adamw_defaults();
    o.lr = 0.02, o.weight_decay = 0;
    return cg_optim_adamw_new(x, 1, &o);
}
static cg_optimizer *q_rmsprop(cg_tensor **x)
{
    cg_rmsprop_options o = cg_rmsprop_defaults();
    o.lr = 0.01, o.momentum = 0.5;
    return cg_optim_rmsprop_new(x, 1, &o);
}
static cg_optimizer *q_adagrad(cg_tensor **x)
{
    cg_adagrad_options o = cg_adagrad_defaults();
    o.lr = 0.5;
    return cg_optim_adagrad_new(x, 1, &o);
}
static cg_optimizer *q_nadam(cg_tensor **x)
{
    cg_nadam_options o = cg_nadam_defaults();
    o.lr = 0.02;
    return cg_optim_nadam_new(x, 1, &o);
}
static cg_optimizer *q_lbfgs(cg_tensor **x)
{
    cg_lbfgs_options o = cg_lbfgs_defaults(); /* tolerances tight enough to go all the way */
    o.line_search = CG_LINE_SEARCH_STRONG_WOLFE;
    o.tolerance_change = 1e-20, o.tolerance_grad = 1e-12;
    return cg_optim_lbfgs_new(x, 1, &o);
}

static void test_convergence_ill_conditioned(void **state)
{
    (void)state;
    /* f / f0 and max |x - x*| to reach. The adaptive methods with a constant lr end in a
     * small oscillation whose size depends on rounding (RMSprop: f / f0 4e-12 with gcc,
     * 4e-10 with clang's contracted multiply-adds); torch 1.13's NAdam on this problem
     * stands at f / f0 = 1.6e-5 after 3000 steps, as ours. */
    static const struct {
        const char *name;
        quad_maker make;
        int steps;
        double ftol, xtol;
    } runs[] = {
        {"gd", q_gd, 1500, 1e-20, 1e-9},
        {"heavy ball", q_heavy_ball, 300, 1e-20, 1e-9},
        {"nesterov", q_nesterov, 1000, 1e-20, 1e-9},
        {"adam", q_adam, 3000, 1e-15, 1e-7},
        {"adamw", q_adamw, 3000, 1e-15, 1e-7},
        {"rmsprop", q_rmsprop, 3000, 1e-8, 1e-4},
        {"adagrad", q_adagrad, 3000, 1e-20, 1e-9},
        {"nadam", q_nadam, 3000, 1e-4, 1e-2},
        {"lbfgs", q_lbfgs, 3, 1e-20, 1e-9},
    };
    quadratic q = quadratic_make();
    double zero[QD] = {0};
    for (size_t r = 0; r < sizeof runs / sizeof runs[0]; r++) {
        cg_tensor *x = leaf(zero, QD);
        cg_optimizer *opt = runs[r].make(&x);
        quad_closure_ctx c = {&q, x};
        double f0 = quadratic_closure(&c);
        for (int k = 0; k < runs[r].steps; k++)
            assert_ok(cg_optim_step_closure(opt, quadratic_closure, &c, NULL));
        double f = quadratic_closure(&c), xs[QD], got[QD], err = 0;
        cg_tensor_to_f64(q.xstar, xs);
        cg_tensor_to_f64(x, got);
        for (int i = 0; i < QD; i++)
            err = fmax(err, fabs(got[i] - xs[i]));
        if (!(f < runs[r].ftol * f0 && err < runs[r].xtol))
            fail_msg("%s: after %d steps f = %g (from %g), max |x - x*| = %g", runs[r].name,
                     runs[r].steps, f, f0, err);
        cg_optim_free(opt);
        cg_tensor_free(x);
    }
    cg_tape_reset(cg_tape_active());
    cg_tensor_free(q.a), cg_tensor_free(q.xstar);
}

/* ================= steady state and threads ================= */

/* After the first step, a training step (forward, backward, step, reset) allocates nothing. */
static void test_no_allocation_after_first_step(void **state)
{
    (void)state;
    static const char *const names[] = {"sgd_nesterov", "adam_amsgrad",
                                        "rmsprop_centered_momentum", "nadam_default",
                                        "rprop_default", "asgd_t0"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        for (int f32 = 0; f32 < 2; f32++) {
            const optim_case *c = optim_case_find(names[i]);
            trainer t = {c, {0}, {0}, 0};
            optim_problem_random(&t.pr, &t.p[0], &t.p[1], f32 ? CG_F32 : CG_F64);
            cg_tensor_set_requires_grad(t.p[0], true), cg_tensor_set_requires_grad(t.p[1], true);
            t.opt = optim_case_make(c, t.p, 2);
            train(&t, 2);
            uint64_t before = cg_alloc_get_stats().malloc_calls;
            train(&t, 10);
            if (cg_alloc_get_stats().malloc_calls != before)
                fail_msg("%s: %llu allocations in 10 steady steps", c->name,
                         (unsigned long long)(cg_alloc_get_stats().malloc_calls - before));
            cg_optim_free(t.opt);
            optim_problem_free(&t.pr);
            cg_tensor_free(t.p[0]), cg_tensor_free(t.p[1]);
        }
}

/* A parameter large enough for the fused kernels to split over threads: the same bits with
 * one thread and with four, in f64 and f32. */
static void test_threads_same_bits(void **state)
{
    (void)state;
    enum { N = 200003 };
    static const char *const names[] = {"sgd_nesterov", "adam_amsgrad", "rmsprop_weight_decay",
                                        "adadelta_default", "rprop_step_sizes",
                                        "asgd_weight_decay", "nadam_default", "adamax_default"};
    int saved = cg_get_num_threads();
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        for (int f32 = 0; f32 < 2; f32++) {
            const optim_case *c = optim_case_find(names[i]);
            cg_dtype dt = f32 ? CG_F32 : CG_F64;
            double *out[2];
            for (int run = 0; run < 2; run++) {
                cg_set_num_threads(run ? 4 : 1);
                cg_rng rng = cg_rng_init(5);
                cg_tensor *p[2] = {cg_tensor_normal(&rng, dt, 1, (int64_t[]){N}, 0, 1),
                                   cg_tensor_normal(&rng, dt, 1, (int64_t[]){3}, 0, 1)};
                cg_tensor *target = cg_tensor_normal(&rng, dt, 1, (int64_t[]){N}, 0, 1);
                cg_tensor_set_requires_grad(p[0], true), cg_tensor_set_requires_grad(p[1], true);
                cg_optimizer *opt = optim_case_make(c, p, 2);
                for (int k = 0; k < 3; k++) {
                    cg_optim_zero_grad(opt, false);
                    cg_tensor *d = cg_sub(p[0], target);
                    cg_tensor *f = cg_add(cg_sum(cg_mul(cg_mul(d, d), d), NULL, 0, false),
                                          cg_sum(cg_mul(p[1], p[1]), NULL, 0, false));
                    assert_ok(cg_backward(f, NULL));
                    assert_ok(cg_optim_step(opt));
                    cg_tape_reset(cg_tape_active());
                }
                out[run] = malloc(sizeof(double) * N);
                cg_tensor_to_f64(p[0], out[run]);
                cg_optim_free(opt);
                cg_tensor_free(p[0]), cg_tensor_free(p[1]), cg_tensor_free(target);
            }
            bool same = !memcmp(out[0], out[1], sizeof(double) * N);
            free(out[0]), free(out[1]);
            if (!same)
                fail_msg("%s (%s): results depend on the thread count", c->name,
                         f32 ? "f32" : "f64");
        }
    cg_set_num_threads(saved);
}

/* Schedules set the lr before each step (cg_schedule_lr), PyTorch's order. */
static void test_with_schedule(void **state)
{
    (void)state;
    double v[1] = {1}, g[1] = {1}, got;
    cg_tensor *p = leaf(v, 1);
    cg_optimizer *opt = cg_optim_sgd_new(&p, 1, &(cg_sgd_options){.lr = 1});
    cg_schedule *s = cg_schedule_step_new(0.1, 2, 0.5);
    double expect = 1;
    for (int k = 0; k < 6; k++) {
        assert_ok(cg_optim_set_lr(opt, 0, cg_schedule_lr(s)));
        set_grad(p, g);
        assert_ok(cg_optim_step(opt));
        expect -= cg_schedule_lr(s);
        assert_ok(cg_schedule_step(s));
    }
    cg_tensor_to_f64(p, &got);
    assert_close(got, expect, 0, 1e-15);
    assert_close(got, 1 - 2 * (0.1 + 0.05 + 0.025), 0, 1e-15);
    cg_schedule_free(s);
    cg_optim_free(opt);
    cg_tensor_free(p);
}

/* Every allocation of construction and of a first step failing in turn: NULL or an error
 * with CG_ERR_NOMEM, never a crash or a leak (the teardown checks). */
static void test_out_of_memory(void **state)
{
    (void)state;
    static const char *const names[] = {"adam_amsgrad", "sgd_groups", "rmsprop_centered"};
    for (size_t c = 0; c < sizeof names / sizeof names[0]; c++) {
        const optim_case *oc = optim_case_find(names[c]);
        bool completed = false;
        for (int64_t n = 1; n < 400 && !completed; n++) {
            trainer t = {oc, {0}, {0}, 0};
            optim_problem_random(&t.pr, &t.p[0], &t.p[1], CG_F64);
            cg_tensor_set_requires_grad(t.p[0], true), cg_tensor_set_requires_grad(t.p[1], true);
            cg_clear_error();
            cg_alloc_fail_after(n);
            t.opt = optim_case_make(oc, t.p, 2);
            cg_status st = CG_ERR_NOMEM;
            if (t.opt) {
                cg_tensor *loss = optim_problem_loss(&t.pr, t.p[0], t.p[1], 1);
                st = loss ? cg_backward(loss, NULL) : cg_last_status();
                if (st == CG_OK)
                    st = cg_optim_step(t.opt);
            }
            cg_alloc_fail_after(0);
            completed = st == CG_OK;
            if (!completed)
                assert_int_equal(cg_last_status(), CG_ERR_NOMEM);
            cg_tape_reset(cg_tape_active());
            cg_optim_free(t.opt);
            optim_problem_free(&t.pr);
            cg_tensor_free(t.p[0]), cg_tensor_free(t.p[1]);
        }
        assert_true(completed);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_defaults_are_pytorch),
        CG_TEST(test_bad_hyperparameters),
        CG_TEST(test_bad_parameters),
        CG_TEST(test_groups_and_hypers),
        CG_TEST(test_momentum_needs_buffer),
        CG_TEST(test_skip_and_zero_grad),
        CG_TEST(test_step_closure),
        CG_TEST(test_state_names),
        CG_TEST(test_state_round_trip),
        CG_TEST(test_state_load_errors),
        CG_TEST(test_momentum_forms),
        CG_TEST(test_noisy_gd_escapes_saddle),
        CG_TEST(test_noisy_gd_noise),
        CG_TEST(test_convergence_ill_conditioned),
        CG_TEST(test_no_allocation_after_first_step),
        CG_TEST(test_threads_same_bits),
        CG_TEST(test_with_schedule),
        CG_TEST(test_out_of_memory),
    };
    return cmocka_run_group_tests_name("optim", tests, NULL, NULL);
}
