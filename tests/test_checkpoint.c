/* Training checkpoints: a model, its optimizer and schedule saved mid-training and loaded
 * into fresh objects continue bit for bit as the originals; mismatched modules and
 * optimizers are refused without changing anything. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_util.h"

static char dir[64];

static int dir_setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/cgrad-ckpt-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int dir_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *file(const char *name)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s/%s", dir, name);
    return buf;
}

/* Linear(3, hidden) -> BatchNorm1d (buffers, one of them i64) -> Tanh -> Linear(hidden, 1). */
static cg_module *make_model(uint64_t seed, int64_t hidden)
{
    cg_rng rng = cg_rng_init(seed);
    cg_module *mods[4] = {
        cg_linear_new(3, hidden, true, CG_F64, &rng),
        cg_batch_norm1d_new(hidden, NULL, CG_F64),
        cg_activation_new(CG_ACT_TANH, 0, 0),
        cg_linear_new(hidden, 1, true, CG_F64, &rng),
    };
    cg_module *m = cg_sequential_new(mods, 4);
    assert_non_null(m);
    return m;
}

static cg_tensor *params[16];

typedef enum { OPT_ADAM, OPT_SGD } opt_kind;

static cg_optimizer *make_optimizer(cg_module *m, opt_kind kind)
{
    int n = cg_module_num_parameters(m);
    assert_true(n <= 16);
    for (int i = 0; i < n; i++)
        params[i] = cg_module_parameter(m, i, NULL);
    cg_optimizer *opt;
    if (kind == OPT_ADAM) {
        cg_adam_options o = cg_adam_defaults();
        o.lr = 0.01;
        o.amsgrad = true;
        opt = cg_optim_adam_new(params, n, &o);
    } else {
        cg_sgd_options o = cg_sgd_defaults();
        o.lr = 0.05;
        o.momentum = 0.9;
        o.nesterov = true;
        opt = cg_optim_sgd_new(params, n, &o);
    }
    if (!opt)
        fail_msg("optimizer: %s", cg_last_error());
    return opt;
}

static cg_schedule *make_schedule(void)
{
    cg_schedule *s = cg_schedule_warmup_new(cg_schedule_cosine_new(0.05, 20, 0.001), 3, 0.1);
    assert_non_null(s);
    return s;
}

/* n training steps on batches drawn from rng (so resuming needs the generator too). */
static void train(cg_module *m, cg_optimizer *opt, cg_schedule *s, cg_rng *rng, int n)
{
    int64_t xs[2] = {16, 3}, ys[2] = {16, 1};
    for (int k = 0; k < n; k++) {
        cg_tensor *x = cg_tensor_normal(rng, CG_F64, 2, xs, 0, 1);
        cg_tensor *y = cg_tensor_normal(rng, CG_F64, 2, ys, 0, 1);
        assert_ok(cg_optim_set_lr(opt, 0, cg_schedule_lr(s)));
        cg_optim_zero_grad(opt, true);
        cg_tensor *loss = cg_mse_loss(cg_module_forward(m, x), y, CG_REDUCTION_MEAN);
        assert_tensor(loss);
        assert_ok(cg_backward(loss, NULL));
        assert_ok(cg_optim_step(opt));
        assert_ok(cg_schedule_step(s));
        cg_tape_reset(cg_tape_active());
        cg_tensor_free(x);
        cg_tensor_free(y);
    }
}

/* Every parameter and buffer of a and b, bit for bit. */
static void assert_same_module(const cg_module *a, const cg_module *b)
{
    int np = cg_module_num_parameters(a), nb = cg_module_num_buffers(a);
    assert_int_equal(np, cg_module_num_parameters(b));
    assert_int_equal(nb, cg_module_num_buffers(b));
    for (int i = 0; i < np + nb; i++) {
        const char *name;
        cg_tensor *ta = i < np ? cg_module_parameter(a, i, &name) : cg_module_buffer(a, i - np, &name);
        cg_tensor *tb = i < np ? cg_module_parameter(b, i, NULL) : cg_module_buffer(b, i - np, NULL);
        size_t bytes = (size_t)cg_tensor_numel(ta) * cg_dtype_size(cg_tensor_dtype(ta));
        if (memcmp(cg_tensor_data(ta), cg_tensor_data(tb), bytes))
            fail_msg("'%s' differs", name);
    }
}

static void resume_bit_identical(opt_kind kind)
{
    cg_module *m = make_model(1, 8);
    cg_optimizer *opt = make_optimizer(m, kind);
    cg_schedule *s = make_schedule();
    cg_rng rng = cg_rng_init(99);
    train(m, opt, s, &rng, 5);

    const char *ek[] = {"run"}, *ev[] = {"resume-test"};
    cg_checkpoint_meta meta = {.epoch = 2, .step = 5, .rng = rng,
                               .extra_keys = ek, .extra_values = ev, .nextra = 1};
    const char *path = file("mid.safetensors");
    assert_ok(cg_checkpoint_save(path, m, opt, s, &meta));

    /* Fresh objects, initialised differently, then loaded. */
    cg_module *m2 = make_model(12345, 8);
    cg_optimizer *opt2 = make_optimizer(m2, kind);
    cg_schedule *s2 = make_schedule();
    cg_checkpoint_meta got;
    assert_ok(cg_checkpoint_load(path, m2, opt2, s2, &got));
    assert_int_equal(got.epoch, 2);
    assert_int_equal(got.step, 5);
    assert_int_equal(got.rng.seed, rng.seed);
    assert_int_equal(got.rng.offset, rng.offset);
    assert_int_equal(got.nextra, 0);
    assert_same_module(m, m2);
    assert_true(cg_schedule_lr(s) == cg_schedule_lr(s2));
    assert_int_equal(cg_schedule_steps(s), cg_schedule_steps(s2));

    /* Both continue for 7 steps: the same bits. */
    cg_rng rng2 = got.rng;
    train(m, opt, s, &rng, 7);
    train(m2, opt2, s2, &rng2, 7);
    assert_same_module(m, m2);
    assert_true(cg_schedule_lr(s) == cg_schedule_lr(s2));

    /* The metadata is in the file for any reader. */
    cg_safetensors *st = cg_safetensors_open(path);
    assert_non_null(st);
    assert_string_equal(cg_safetensors_metadata(st, "run"), "resume-test");
    assert_string_equal(cg_safetensors_metadata(st, "cgrad.optimizer"), cg_optim_name(opt));
    assert_true(cg_safetensors_find(st, "model.1.running_mean") >= 0);
    assert_true(cg_safetensors_find(st, "schedule") >= 0);
    cg_safetensors_close(st);

    cg_optim_free(opt);
    cg_optim_free(opt2);
    cg_schedule_free(s);
    cg_schedule_free(s2);
    cg_module_free(m);
    cg_module_free(m2);
}

static void test_resume_adam(void **state)
{
    (void)state;
    resume_bit_identical(OPT_ADAM);
}

static void test_resume_sgd_momentum(void **state)
{
    (void)state;
    resume_bit_identical(OPT_SGD);
}

/* Module only (inference), optional parts left out, and meta NULL. */
static void test_module_only(void **state)
{
    (void)state;
    cg_module *m = make_model(3, 4), *m2 = make_model(4, 4);
    const char *path = file("model.safetensors");
    assert_ok(cg_checkpoint_save(path, m, NULL, NULL, NULL));
    assert_ok(cg_checkpoint_load(path, m2, NULL, NULL, NULL));
    assert_same_module(m, m2);
    /* Asking for parts the file does not hold. */
    cg_schedule *s = make_schedule();
    assert_int_equal(cg_checkpoint_load(path, m2, NULL, s, NULL), CG_ERR_VALUE);
    assert_error_contains("no schedule state");
    cg_optimizer *opt = make_optimizer(m2, OPT_ADAM);
    assert_int_equal(cg_checkpoint_load(path, m2, opt, NULL, NULL), CG_ERR_VALUE);
    assert_error_contains("no optimizer state");
    cg_optim_free(opt);
    cg_schedule_free(s);
    cg_module_free(m);
    cg_module_free(m2);
}

static void test_mismatches_rejected(void **state)
{
    (void)state;
    cg_module *m = make_model(1, 8);
    cg_optimizer *opt = make_optimizer(m, OPT_ADAM);
    cg_schedule *s = make_schedule();
    const char *path = file("ref.safetensors");
    assert_ok(cg_checkpoint_save(path, m, opt, s, NULL));

    /* Another hidden size: a shape mismatch, named; nothing changes. */
    cg_module *wide = make_model(5, 6), *wide_copy = make_model(5, 6);
    assert_int_equal(cg_checkpoint_load(path, wide, NULL, NULL, NULL), CG_ERR_VALUE);
    assert_error_contains("'0.weight'");
    assert_error_contains("[8, 3]");
    assert_same_module(wide, wide_copy);

    /* A module with fewer layers: the file's extra tensors are refused. */
    cg_rng rng = cg_rng_init(1);
    cg_module *lin = cg_linear_new(3, 8, true, CG_F64, &rng);
    cg_module *small = cg_sequential_new(&lin, 1);
    assert_int_equal(cg_checkpoint_load(path, small, NULL, NULL, NULL), CG_ERR_VALUE);
    assert_error_contains("no counterpart in the module");

    /* A module with a tensor the file lacks. */
    cg_module *more = make_model(1, 8);
    int64_t two = 2;
    assert_ok(cg_module_add_buffer(more, "extra", cg_tensor_zeros(CG_F64, 1, &two)));
    assert_int_equal(cg_checkpoint_load(path, more, NULL, NULL, NULL), CG_ERR_VALUE);
    assert_error_contains("buffer 'extra'");

    /* Another optimizer kind, and a dtype mismatch. */
    cg_module *m2 = make_model(2, 8), *m2_copy = make_model(2, 8);
    cg_optimizer *sgd = make_optimizer(m2, OPT_SGD);
    assert_int_equal(cg_checkpoint_load(path, m2, sgd, NULL, NULL), CG_ERR_VALUE);
    assert_error_contains("optimizer");
    assert_same_module(m2, m2_copy);
    cg_rng r32 = cg_rng_init(1);
    cg_module *l32 = cg_linear_new(3, 8, true, CG_F32, &r32);
    cg_module *f32 = cg_sequential_new(&l32, 1);
    assert_int_equal(cg_checkpoint_load(path, f32, NULL, NULL, NULL), CG_ERR_VALUE);
    assert_error_contains("f64");

    /* A safetensors file that is not a checkpoint, and reserved metadata keys. */
    const char *plain = file("plain.safetensors");
    assert_ok(cg_safetensors_save(plain, NULL, NULL, 0, NULL, NULL, 0));
    assert_int_equal(cg_checkpoint_load(plain, m2, NULL, NULL, NULL), CG_ERR_FORMAT);
    assert_error_contains("not a libcgrad checkpoint");
    const char *rk[] = {"cgrad.epoch"}, *rv[] = {"1"};
    cg_checkpoint_meta bad = {.extra_keys = rk, .extra_values = rv, .nextra = 1};
    assert_int_equal(cg_checkpoint_save(plain, m, NULL, NULL, &bad), CG_ERR_VALUE);
    assert_int_equal(cg_checkpoint_load(file("missing"), m2, NULL, NULL, NULL), CG_ERR_IO);

    cg_optim_free(sgd);
    cg_optim_free(opt);
    cg_schedule_free(s);
    cg_module_free(m);
    cg_module_free(m2);
    cg_module_free(m2_copy);
    cg_module_free(wide);
    cg_module_free(wide_copy);
    cg_module_free(small);
    cg_module_free(more);
    cg_module_free(f32);
}

/* A schedule of another kind is refused and the optimizer's state is left alone. */
static void test_schedule_mismatch(void **state)
{
    (void)state;
    cg_module *m = make_model(1, 4);
    cg_optimizer *opt = make_optimizer(m, OPT_ADAM);
    cg_schedule *s = make_schedule();
    const char *path = file("sched.safetensors");
    assert_ok(cg_checkpoint_save(path, m, opt, s, NULL));
    cg_schedule *other = cg_schedule_step_new(0.1, 2, 0.5);
    assert_int_equal(cg_checkpoint_load(path, m, opt, other, NULL), CG_ERR_VALUE);
    assert_error_contains("schedule");
    assert_int_equal(cg_schedule_steps(other), 0);
    cg_schedule_free(other);
    cg_schedule_free(s);
    cg_optim_free(opt);
    cg_module_free(m);
}

/* Every allocation of a save and a load may fail without leaking. */
static void test_out_of_memory(void **state)
{
    (void)state;
    cg_module *m = make_model(1, 4);
    cg_optimizer *opt = make_optimizer(m, OPT_ADAM);
    cg_schedule *s = make_schedule();
    const char *path = file("oom.safetensors");
    assert_ok(cg_checkpoint_save(path, m, opt, s, NULL));
    for (int k = 1; k < 400; k++) {
        cg_alloc_fail_after(k);
        cg_status st = cg_checkpoint_save(path, m, opt, s, NULL);
        cg_alloc_fail_after(0);
        if (st == CG_OK)
            break;
        assert_int_equal(st, CG_ERR_NOMEM);
    }
    for (int k = 1; k < 400; k++) {
        cg_alloc_fail_after(k);
        cg_status st = cg_checkpoint_load(path, m, opt, s, NULL);
        cg_alloc_fail_after(0);
        if (st == CG_OK)
            break;
        assert_int_equal(st, CG_ERR_NOMEM);
    }
    cg_schedule_free(s);
    cg_optim_free(opt);
    cg_module_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_resume_adam),
        CG_TEST(test_resume_sgd_momentum),
        CG_TEST(test_module_only),
        CG_TEST(test_mismatches_rejected),
        CG_TEST(test_schedule_mismatch),
        CG_TEST(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, dir_setup, dir_teardown);
}
