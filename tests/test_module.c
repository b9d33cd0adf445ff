/* Modules: the module core (names, order, ownership, train/eval, zero_grad, forward errors,
 * weight norm) with modules written here from ops, then the built-in layers. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define SHAPE(...) (int64_t[]){__VA_ARGS__}

/* ---- modules written by a user, from ops ---- */

/* y = x W^T + b, W [out, in], b [out] */
static cg_tensor *dense_forward(cg_module *self, cg_tensor *x)
{
    cg_tensor *w = cg_module_find(self, "weight"), *b = cg_module_find(self, "bias");
    return cg_add(cg_matmul(x, cg_transpose(w, 0, 1)), b);
}

static cg_module *dense_new(int64_t in, int64_t out, cg_rng *rng)
{
    cg_module *m = cg_module_new("Dense", dense_forward, NULL, NULL);
    cg_tensor *w = cg_tensor_uniform(rng, CG_F64, 2, SHAPE(out, in), -1, 1);
    cg_tensor *b = cg_tensor_uniform(rng, CG_F64, 1, SHAPE(out), -1, 1);
    /* a failed add leaves the tensor with the caller */
    bool ok_w = cg_module_add_parameter(m, "weight", w) == CG_OK;
    if (!ok_w)
        cg_tensor_free(w);
    bool ok_b = cg_module_add_parameter(m, "bias", b) == CG_OK;
    if (!ok_b)
        cg_tensor_free(b);
    if (!ok_w || !ok_b) {
        cg_module_free(m);
        return NULL;
    }
    return m;
}

static cg_tensor *clamp_forward(cg_module *self, cg_tensor *x)
{
    (void)self;
    return cg_clamp(x, 0, INFINITY);
}

/* scale * fc(x): a parameter and a child. */
static cg_tensor *scaled_forward(cg_module *self, cg_tensor *x)
{
    cg_module *fc = cg_module_child(self, 0, NULL);
    return cg_mul(cg_module_forward(fc, x), cg_module_find(self, "scale"));
}

static cg_module *scaled_new(cg_rng *rng)
{
    cg_module *m = cg_module_new("Scaled", scaled_forward, NULL, NULL);
    assert_non_null(m);
    assert_ok(cg_module_add_child(m, "fc", dense_new(3, 2, rng)));
    assert_ok(cg_module_add_parameter(m, "scale", cg_tensor_full(CG_F64, 1, SHAPE(1), 1.5)));
    return m;
}

static cg_module *mlp_new(cg_rng *rng)
{
    cg_module *mods[] = {dense_new(4, 5, rng), cg_module_new("Clamp", clamp_forward, NULL, NULL),
                         dense_new(5, 2, rng)};
    return cg_sequential_new(mods, 3);
}

static void assert_names(const cg_module *m, const char *const *want, int n)
{
    assert_int_equal(cg_module_num_parameters(m), n);
    for (int i = 0; i < n; i++) {
        const char *name = NULL;
        assert_non_null(cg_module_parameter(m, i, &name));
        assert_string_equal(name, want[i]);
    }
}

/* ---- module core ---- */

static void test_user_module_names_and_grads(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(1);
    cg_module *m = scaled_new(&rng);
    /* PyTorch's order: own parameters first, then each child's */
    assert_names(m, (const char *[]){"scale", "fc.weight", "fc.bias"}, 3);
    assert_int_equal(cg_module_num_elements(m), 1 + 6 + 2);
    assert_string_equal(cg_module_type(m), "Scaled");
    const char *cname;
    assert_string_equal(cg_module_type(cg_module_child(m, 0, &cname)), "Dense");
    assert_string_equal(cname, "fc");
    assert_true(cg_tensor_requires_grad(cg_module_find(m, "fc.weight")));

    cg_tensor *x = cg_tensor_uniform(&rng, CG_F64, 2, SHAPE(4, 3), -1, 1);
    cg_tensor *y = cg_module_forward(m, x);
    assert_tensor(y);
    assert_ok(cg_backward(cg_sum(y, NULL, 0, false), NULL));
    /* d sum(s fc(x)) / ds = sum(fc(x)) = sum(y) / s */
    double sy = cg_tensor_item(cg_sum(y, NULL, 0, false));
    assert_close(cg_tensor_item(cg_tensor_grad(cg_module_find(m, "scale"))), sy / 1.5, 1e-12, 0);
    /* d/db_j = s * N */
    cg_tensor *gb = cg_tensor_grad(cg_module_find(m, "fc.bias"));
    assert_close(cg_tensor_get(gb, SHAPE(1)), 1.5 * 4, 1e-12, 0);
    cg_module_zero_grad(m);
    for (int i = 0; i < 3; i++)
        assert_null(cg_tensor_grad(cg_module_parameter(m, i, NULL)));
    cg_tensor_free(x);
    cg_module_free(m);
}

/* Gradients through a user module match central differences. */
static cg_tensor *module_sum(cg_tensor *const *inputs, int n, void *ctx)
{
    (void)inputs, (void)n;
    cg_module *m = ((void **)ctx)[0];
    cg_tensor *x = ((void **)ctx)[1];
    return cg_sum(cg_mul(cg_module_forward(m, x), cg_module_forward(m, x)), NULL, 0, false);
}

static void gradcheck_module(cg_module *m, cg_tensor *x)
{
    int n = cg_module_num_parameters(m);
    cg_tensor **params = malloc((size_t)n * sizeof *params);
    for (int i = 0; i < n; i++)
        params[i] = cg_module_parameter(m, i, NULL);
    void *ctx[2] = {m, x};
    assert_ok(cg_gradcheck(module_sum, params, n, ctx, NULL));
    free(params);
}

static void test_user_module_gradcheck(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(2);
    cg_module *m = scaled_new(&rng);
    cg_tensor *x = cg_tensor_uniform(&rng, CG_F64, 2, SHAPE(4, 3), -1, 1);
    gradcheck_module(m, x);
    cg_tensor_free(x);
    cg_module_free(m);
}

static void test_sequential_names_and_find(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(3);
    cg_module *seq = mlp_new(&rng);
    assert_non_null(seq);
    assert_string_equal(cg_module_type(seq), "Sequential");
    assert_names(seq, (const char *[]){"0.weight", "0.bias", "2.weight", "2.bias"}, 4);
    assert_int_equal(cg_module_num_children(seq), 3);
    const char *name;
    cg_module_child(seq, 2, &name);
    assert_string_equal(name, "2");
    assert_int_equal(cg_tensor_size(cg_module_find(seq, "2.weight"), 0), 2);
    assert_true(cg_module_find(seq, "0.bias") == cg_module_parameter(seq, 1, NULL));
    /* buffers get dotted names the same way, in their own list */
    cg_module *clamp = cg_module_child(seq, 1, NULL);
    assert_ok(cg_module_add_buffer(clamp, "running_mean", cg_tensor_zeros(CG_F32, 1, SHAPE(5))));
    assert_ok(cg_module_add_buffer(seq, "steps", cg_tensor_zeros(CG_I64, 0, NULL)));
    assert_int_equal(cg_module_num_buffers(seq), 2);
    cg_module_buffer(seq, 0, &name);
    assert_string_equal(name, "steps");
    cg_tensor *rm = cg_module_buffer(seq, 1, &name);
    assert_string_equal(name, "1.running_mean");
    assert_true(cg_module_find(seq, "1.running_mean") == rm);
    assert_false(cg_tensor_requires_grad(rm));
    assert_int_equal(cg_module_num_parameters(seq), 4);
    /* misses */
    assert_null(cg_module_find(seq, "3.weight"));
    assert_error_contains("3.weight");
    assert_null(cg_module_find(seq, "0.weight.x"));
    assert_null(cg_module_find(seq, "0."));
    assert_null(cg_module_find(seq, "weight"));
    assert_null(cg_module_parameter(seq, 4, &name));
    assert_null(name);
    assert_null(cg_module_child(seq, 3, NULL));
    cg_module_free(seq);
}

static void test_sequential_forward_is_composition(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(4);
    cg_module *seq = mlp_new(&rng);
    cg_tensor *x = cg_tensor_uniform(&rng, CG_F64, 2, SHAPE(6, 4), -1, 1);
    cg_tensor *y = cg_module_forward(seq, x);
    cg_tensor *h = x;
    for (int i = 0; i < cg_module_num_children(seq); i++)
        h = cg_module_forward(cg_module_child(seq, i, NULL), h);
    assert_tensor(y);
    assert_tensor(h);
    /* ops carry the module path as their tape scope */
    assert_string_equal(cg_tensor_scope(y), "Sequential.2");
    assert_string_equal(cg_tensor_scope(h), "2");
    assert_null(cg_tape_scope());
    for (int64_t i = 0; i < 12; i++)
        assert_close(cg_tensor_get(y, SHAPE(i / 2, i % 2)), cg_tensor_get(h, SHAPE(i / 2, i % 2)),
                     0, 0);
    /* an empty Sequential is the identity; append numbers children on */
    cg_module *empty = cg_sequential_new(NULL, 0);
    assert_true(cg_module_forward(empty, x) == x);
    assert_ok(cg_sequential_append(empty, cg_module_new("Clamp", clamp_forward, NULL, NULL)));
    assert_ok(cg_sequential_append(empty, cg_module_new("Clamp", clamp_forward, NULL, NULL)));
    const char *name;
    cg_module_child(empty, 1, &name);
    assert_string_equal(name, "1");
    cg_module_free(empty);
    cg_tensor_free(x);
    cg_module_free(seq);
}

static void test_train_eval(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(5);
    cg_module *outer = cg_module_new("Outer", NULL, NULL, NULL);
    cg_module *seq = mlp_new(&rng);
    assert_ok(cg_module_add_child(outer, "body", seq));
    assert_true(cg_module_is_training(outer)); /* modules start in training mode */
    cg_module_train(outer, false);
    assert_false(cg_module_is_training(outer));
    assert_false(cg_module_is_training(seq));
    for (int i = 0; i < 3; i++)
        assert_false(cg_module_is_training(cg_module_child(seq, i, NULL)));
    cg_module_train(seq, true); /* a subtree alone */
    assert_false(cg_module_is_training(outer));
    assert_true(cg_module_is_training(cg_module_child(seq, 2, NULL)));
    assert_names(outer, (const char *[]){"body.0.weight", "body.0.bias", "body.2.weight",
                                         "body.2.bias"}, 4);
    /* no forward function: an error naming the type */
    cg_tensor *x = cg_tensor_zeros(CG_F64, 2, SHAPE(1, 4));
    assert_null(cg_module_forward(outer, x));
    assert_error_contains("Outer");
    cg_tensor_free(x);
    cg_module_free(outer);
}

static void test_add_errors(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(6);
    cg_module *m = dense_new(2, 2, &rng);
    cg_tensor *t = cg_tensor_zeros(CG_F32, 1, SHAPE(2));
    cg_tensor *i64 = cg_tensor_zeros(CG_I64, 1, SHAPE(2));
    assert_int_equal(cg_module_add_parameter(m, "weight", t), CG_ERR_VALUE);
    assert_error_contains("already has a member named \"weight\"");
    assert_int_equal(cg_module_add_parameter(m, "a.b", t), CG_ERR_VALUE);
    assert_error_contains("dot");
    assert_int_equal(cg_module_add_parameter(m, NULL, t), CG_ERR_VALUE);
    assert_int_equal(cg_module_add_parameter(m, "", t), CG_ERR_VALUE);
    assert_int_equal(cg_module_add_parameter(NULL, "x", t), CG_ERR_NULL);
    cg_clear_error();
    assert_int_equal(cg_module_add_parameter(m, "x", NULL), CG_ERR_NULL);
    assert_int_equal(cg_module_add_parameter(m, "x", i64), CG_ERR_DTYPE);
    assert_int_equal(cg_module_add_parameter(m, "x", cg_mul_scalar(t, 2)), CG_ERR_STATE);
    assert_error_contains("tape");
    assert_int_equal(cg_module_add_parameter(m, "x", cg_module_find(m, "bias")), CG_ERR_STATE);
    assert_int_equal(cg_module_add_buffer(m, "bias", t), CG_ERR_VALUE);
    assert_ok(cg_module_add_buffer(m, "count", i64)); /* buffers may be integer */
    assert_ok(cg_module_add_parameter(m, "extra", t));
    assert_int_equal(cg_module_add_buffer(m, "again", t), CG_ERR_STATE);
    /* children: names shared with tensors, one parent only, no cycles */
    cg_module *c = cg_module_new("Clamp", clamp_forward, NULL, NULL);
    assert_int_equal(cg_module_add_child(m, "count", c), CG_ERR_VALUE);
    assert_ok(cg_module_add_child(m, "act", c));
    assert_int_equal(cg_module_add_child(m, "act2", c), CG_ERR_STATE);
    assert_error_contains("already belongs");
    assert_int_equal(cg_module_add_child(c, "loop", m), CG_ERR_STATE);
    assert_int_equal(cg_module_add_child(m, "self", m), CG_ERR_STATE);
    assert_int_equal(cg_sequential_append(m, cg_module_new("Clamp", clamp_forward, NULL, NULL)),
                     CG_ERR_VALUE); /* not a Sequential: the module passed is freed */
    cg_clear_error();
    assert_null(cg_module_new(NULL, NULL, NULL, NULL));
    cg_module *mods[] = {cg_module_new("Clamp", clamp_forward, NULL, NULL), NULL};
    assert_null(cg_sequential_new(mods, 2)); /* a NULL entry: the others are freed */
    assert_null(cg_sequential_new(NULL, 2));
    cg_module_free(m);
}

/* Names handed out stay valid while the module lives, however the model grows; a
 * rebuilt list reuses the strings of entries that did not change. */
static void test_names_stay_valid(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(7);
    cg_module *seq = mlp_new(&rng);
    const char *first, *last;
    cg_module_parameter(seq, 0, &first);
    cg_module_parameter(seq, 3, &last);
    for (int i = 0; i < 300; i++) /* no fixed limits */
        assert_ok(cg_sequential_append(seq, dense_new(2, 2, &rng)));
    assert_int_equal(cg_module_num_parameters(seq), 4 + 600);
    assert_string_equal(first, "0.weight");
    assert_string_equal(last, "2.bias");
    const char *again, *end;
    cg_module_parameter(seq, 0, &again);
    assert_true(again == first);
    cg_module_parameter(seq, 603, &end);
    assert_string_equal(end, "302.bias");
    assert_non_null(cg_module_find(seq, "302.weight"));
    cg_module_free(seq);
}

static void test_forward_errors_name_the_module(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(8);
    cg_module *seq = mlp_new(&rng);
    cg_tensor *x = cg_tensor_zeros(CG_F64, 2, SHAPE(3, 7)); /* 7 features, not 4 */
    cg_clear_error();
    assert_null(cg_module_forward(seq, x));
    assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
    assert_error_contains("Sequential: Dense: ");
    /* NULL in, NULL out, keeping the first error */
    assert_null(cg_module_forward(seq, NULL));
    assert_error_contains("Sequential: Dense: ");
    assert_null(cg_module_forward(NULL, x));
    assert_error_contains("Sequential: Dense: ");
    cg_tensor_free(x);
    cg_module_free(seq);
}

/* ---- weight norm on a user module ---- */

static void test_weight_norm_user_module(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(9);
    cg_module *m = dense_new(4, 3, &rng);
    cg_tensor *x = cg_tensor_uniform(&rng, CG_F64, 2, SHAPE(5, 4), -1, 1);
    cg_tensor *before = cg_tensor_clone(cg_module_forward(m, x));
    const char *wname;
    cg_module_parameter(m, 0, &wname);
    assert_ok(cg_weight_norm(m, "weight", 0));
    assert_string_equal(wname, "weight"); /* names handed out survive the change */
    assert_names(m, (const char *[]){"bias", "weight_g", "weight_v"}, 3);
    cg_tensor *g = cg_module_find(m, "weight_g");
    assert_int_equal(cg_tensor_ndim(g), 2);
    assert_int_equal(cg_tensor_size(g, 0), 3);
    assert_int_equal(cg_tensor_size(g, 1), 1);
    assert_int_equal(cg_module_num_elements(m), 3 + 3 + 12);
    /* the weight exists only during a forward */
    assert_null(cg_module_find(m, "weight"));
    assert_int_equal(cg_last_status(), CG_ERR_STATE);
    cg_tensor *after = cg_module_forward(m, x);
    assert_tensor(after);
    for (int64_t i = 0; i < 15; i++)
        assert_close(cg_tensor_get(after, SHAPE(i / 3, i % 3)),
                     cg_tensor_get(before, SHAPE(i / 3, i % 3)), 1e-14, 1e-14);
    gradcheck_module(m, x);
    /* whole-tensor norm (dim -1, PyTorch's dim=None): g is 0-d */
    assert_ok(cg_weight_norm(m, "bias", -1));
    assert_int_equal(cg_tensor_ndim(cg_module_find(m, "bias_g")), 0);
    gradcheck_module(m, x);
    /* errors */
    assert_int_equal(cg_weight_norm(m, "weight", 0), CG_ERR_VALUE); /* no longer a parameter */
    assert_int_equal(cg_weight_norm(m, "weight_v", 2), CG_ERR_VALUE);
    assert_error_contains("dim 2");
    assert_int_equal(cg_weight_norm(NULL, "weight", 0), CG_ERR_NULL);
    cg_tensor_free(before);
    cg_tensor_free(x);
    cg_module_free(m);
}

/* Out of memory anywhere while building and naming a model: NULL or an error, never a
 * crash or a leak (the teardown checks the bytes). */
static void test_out_of_memory(void **state)
{
    (void)state;
    int n;
    for (n = 1; n < 2000; n++) {
        cg_rng rng = cg_rng_init(10);
        cg_alloc_fail_after(n);
        cg_module *seq = mlp_new(&rng);
        cg_module *outer = cg_sequential_new(&seq, seq ? 1 : 0); /* takes seq, even on failure */
        bool complete = outer && cg_module_num_parameters(outer) == 4 &&
                        cg_module_num_buffers(outer) == 0 &&
                        cg_weight_norm(cg_module_child(seq, 0, NULL), "weight", 0) == CG_OK &&
                        cg_module_num_parameters(outer) == 5;
        cg_alloc_fail_after(0);
        cg_module_free(outer);
        if (complete) /* every allocation before the n-th failed once in an earlier round */
            break;
    }
    assert_true(n > 10 && n < 2000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_user_module_names_and_grads),
        CG_TEST(test_user_module_gradcheck),
        CG_TEST(test_sequential_names_and_find),
        CG_TEST(test_sequential_forward_is_composition),
        CG_TEST(test_train_eval),
        CG_TEST(test_add_errors),
        CG_TEST(test_names_stay_valid),
        CG_TEST(test_forward_errors_name_the_module),
        CG_TEST(test_weight_norm_user_module),
        CG_TEST(test_out_of_memory),
    };
    return cmocka_run_group_tests_name("module", tests, NULL, NULL);
}
