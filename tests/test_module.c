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


/* ---- built-in layers ---- */

/* Same shape and values within atol + rtol |b|. */
static void assert_same(cg_tensor *a, cg_tensor *b, double atol, double rtol)
{
    assert_tensor(a);
    assert_tensor(b);
    int64_t n = cg_tensor_numel(b);
    assert_int_equal(cg_tensor_ndim(a), cg_tensor_ndim(b));
    assert_memory_equal(cg_tensor_shape(a), cg_tensor_shape(b),
                        sizeof(int64_t) * (size_t)cg_tensor_ndim(b));
    double *va = malloc((size_t)n * sizeof *va), *vb = malloc((size_t)n * sizeof *vb);
    assert_ok(cg_tensor_to_f64(a, va));
    assert_ok(cg_tensor_to_f64(b, vb));
    for (int64_t i = 0; i < n; i++)
        assert_close(va[i], vb[i], atol, rtol);
    free(va);
    free(vb);
}

static void assert_shape(const cg_tensor *t, int ndim, const int64_t *shape)
{
    assert_non_null(t);
    assert_int_equal(cg_tensor_ndim(t), ndim);
    for (int i = 0; i < ndim; i++)
        assert_int_equal(cg_tensor_size(t, i), shape[i]);
}

static void test_mlp_as_pytorch(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(20);
    cg_module *mods[] = {cg_linear_new(4, 8, true, CG_F32, &rng),
                         cg_activation_new(CG_ACT_RELU, 0, 0),
                         cg_linear_new(8, 3, true, CG_F32, &rng)};
    cg_module *seq = cg_sequential_new(mods, 3);
    assert_non_null(seq);
    assert_names(seq, (const char *[]){"0.weight", "0.bias", "2.weight", "2.bias"}, 4);
    assert_shape(cg_module_find(seq, "0.weight"), 2, SHAPE(8, 4));
    assert_shape(cg_module_find(seq, "2.bias"), 1, SHAPE(3));
    assert_int_equal(cg_module_num_elements(seq), 32 + 8 + 24 + 3);
    assert_int_equal(cg_module_num_buffers(seq), 0);
    assert_string_equal(cg_module_type(cg_module_child(seq, 0, NULL)), "Linear");
    assert_string_equal(cg_module_type(cg_module_child(seq, 1, NULL)), "ReLU");
    cg_tensor *x = cg_tensor_normal(&rng, CG_F32, 2, SHAPE(5, 4), 0, 1);
    cg_tensor *y = cg_module_forward(seq, x);
    cg_tensor *manual =
        cg_linear(cg_relu(cg_linear(x, cg_module_find(seq, "0.weight"),
                                    cg_module_find(seq, "0.bias"))),
                  cg_module_find(seq, "2.weight"), cg_module_find(seq, "2.bias"));
    assert_same(y, manual, 0, 0);
    assert_ok(cg_backward(cg_sum(y, NULL, 0, false), NULL));
    for (int i = 0; i < 4; i++)
        assert_non_null(cg_tensor_grad(cg_module_parameter(seq, i, NULL)));
    cg_tensor_free(x);
    cg_module_free(seq);
}

static cg_module *conv_stack(cg_rng *rng, cg_dtype dtype)
{
    cg_conv2d_options conv = cg_conv2d_defaults(3, 3), pool = cg_pool2d_defaults(2, 2);
    conv.padding[0] = conv.padding[1] = 1;
    cg_module *mods[] = {cg_conv2d_new(3, 8, &conv, true, dtype, rng),
                         cg_batch_norm2d_new(8, NULL, dtype),
                         cg_activation_new(CG_ACT_RELU, 0, 0),
                         cg_max_pool2d_new(&pool),
                         cg_flatten_new(1, -1),
                         cg_linear_new(8 * 4 * 4, 10, true, dtype, rng)};
    return cg_sequential_new(mods, 6);
}

static void test_conv_bn_stack_as_pytorch(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(21);
    cg_module *net = conv_stack(&rng, CG_F32);
    assert_non_null(net);
    assert_names(net, (const char *[]){"0.weight", "0.bias", "1.weight", "1.bias", "5.weight",
                                       "5.bias"}, 6);
    assert_shape(cg_module_find(net, "0.weight"), 4, SHAPE(8, 3, 3, 3));
    assert_shape(cg_module_find(net, "5.weight"), 2, SHAPE(10, 128));
    const char *bufs[] = {"1.running_mean", "1.running_var", "1.num_batches_tracked"};
    assert_int_equal(cg_module_num_buffers(net), 3);
    for (int i = 0; i < 3; i++) {
        const char *name;
        cg_module_buffer(net, i, &name);
        assert_string_equal(name, bufs[i]);
    }
    cg_tensor *nbt = cg_module_find(net, "1.num_batches_tracked");
    assert_int_equal(cg_tensor_dtype(nbt), CG_I64);
    assert_int_equal(cg_tensor_ndim(nbt), 0);
    const char *types[] = {"Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Flatten", "Linear"};
    for (int i = 0; i < 6; i++)
        assert_string_equal(cg_module_type(cg_module_child(net, i, NULL)), types[i]);
    cg_tensor *x = cg_tensor_normal(&rng, CG_F32, 4, SHAPE(2, 3, 8, 8), 0, 1);
    cg_tensor *y = cg_module_forward(net, x);
    assert_shape(y, 2, SHAPE(2, 10));
    assert_ok(cg_backward(cg_sum(y, NULL, 0, false), NULL));
    for (int i = 0; i < 6; i++)
        assert_non_null(cg_tensor_grad(cg_module_parameter(net, i, NULL)));
    assert_close(cg_tensor_item(nbt), 1, 0, 0);
    cg_tensor_free(x);
    cg_module_free(net);
}

/* Per-channel mean and unbiased variance of x [N, C] (f64). */
static void column_stats(cg_tensor *x, int64_t c, double *mean, double *var)
{
    int64_t n = cg_tensor_size(x, 0);
    for (int64_t j = 0; j < c; j++) {
        double s = 0, q = 0;
        for (int64_t i = 0; i < n; i++)
            s += cg_tensor_get(x, SHAPE(i, j));
        mean[j] = s / (double)n;
        for (int64_t i = 0; i < n; i++) {
            double d = cg_tensor_get(x, SHAPE(i, j)) - mean[j];
            q += d * d;
        }
        var[j] = q / (double)(n - 1);
    }
}

static void test_batch_norm_running_stats(void **state)
{
    test_ctx *ctx = *state;
    enum { N = 16, C = 3 };
    cg_rng rng = cg_rng_init(22);
    cg_module *bn = cg_batch_norm1d_new(C, NULL, CG_F64);
    assert_names(bn, (const char *[]){"weight", "bias"}, 2);
    cg_tensor *gamma = cg_module_find(bn, "weight"), *beta = cg_module_find(bn, "bias");
    assert_ok(cg_init_uniform(gamma, &rng, 0.5, 2));
    assert_ok(cg_init_uniform(beta, &rng, -1, 1));
    double rm[C] = {0, 0, 0}, rv[C] = {1, 1, 1}, mean[C], var[C];
    cg_tensor *x = NULL;
    for (int step = 0; step < 3; step++) {
        cg_tensor_free(x);
        x = cg_tensor_normal(&rng, CG_F64, 2, SHAPE(N, C), step, 1 + step);
        cg_tensor *y = cg_module_forward(bn, x);
        assert_tensor(y);
        column_stats(x, C, mean, var);
        for (int j = 0; j < C; j++) {
            rm[j] = 0.9 * rm[j] + 0.1 * mean[j];
            rv[j] = 0.9 * rv[j] + 0.1 * var[j];
            /* training normalises with the batch's biased variance */
            double bvar = var[j] * (N - 1) / N, g = cg_tensor_get(gamma, SHAPE(j));
            double want = (cg_tensor_get(x, SHAPE(5, j)) - mean[j]) / sqrt(bvar + 1e-5) * g +
                          cg_tensor_get(beta, SHAPE(j));
            assert_close(cg_tensor_get(y, SHAPE(5, j)), want, 1e-12, 1e-12);
        }
        cg_tape_reset(ctx->tape);
    }
    cg_tensor *run_mean = cg_module_find(bn, "running_mean");
    cg_tensor *run_var = cg_module_find(bn, "running_var");
    for (int j = 0; j < C; j++) {
        assert_close(cg_tensor_get(run_mean, SHAPE(j)), rm[j], 1e-13, 1e-13);
        assert_close(cg_tensor_get(run_var, SHAPE(j)), rv[j], 1e-13, 1e-13);
    }
    assert_close(cg_tensor_item(cg_module_find(bn, "num_batches_tracked")), 3, 0, 0);
    /* eval: the running statistics, which stay put */
    cg_module_train(bn, false);
    cg_tensor *y = cg_module_forward(bn, x);
    assert_tensor(y);
    for (int64_t i = 0; i < N; i++)
        for (int j = 0; j < C; j++) {
            double want = (cg_tensor_get(x, SHAPE(i, j)) - rm[j]) / sqrt(rv[j] + 1e-5) *
                              cg_tensor_get(gamma, SHAPE(j)) + cg_tensor_get(beta, SHAPE(j));
            assert_close(cg_tensor_get(y, SHAPE(i, j)), want, 1e-12, 1e-12);
        }
    assert_close(cg_tensor_get(run_mean, SHAPE(0)), rm[0], 1e-13, 1e-13);
    assert_close(cg_tensor_item(cg_module_find(bn, "num_batches_tracked")), 3, 0, 0);
    cg_tensor_free(x);
    cg_module_free(bn);
}

/* Without running statistics, batch statistics are used in eval too (PyTorch). */
static void test_batch_norm_untracked(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(23);
    cg_norm_options o = cg_batch_norm_defaults();
    assert_close(o.eps, 1e-5, 0, 0);
    assert_close(o.momentum, 0.1, 0, 0);
    assert_true(o.affine && o.track_running_stats);
    o.track_running_stats = false;
    o.affine = false;
    cg_module *bn = cg_batch_norm2d_new(2, &o, CG_F64);
    assert_int_equal(cg_module_num_parameters(bn), 0);
    assert_int_equal(cg_module_num_buffers(bn), 0);
    cg_module_train(bn, false);
    cg_tensor *x = cg_tensor_normal(&rng, CG_F64, 4, SHAPE(4, 2, 3, 3), 3, 2);
    cg_tensor *y = cg_module_forward(bn, x);
    cg_tensor *m = cg_mean(y, (int[]){0, 2, 3}, 3, false);
    cg_tensor *v = cg_var(y, (int[]){0, 2, 3}, 3, 0, false);
    for (int64_t c = 0; c < 2; c++) {
        assert_close(cg_tensor_get(m, &c), 0, 1e-12, 0);
        assert_close(cg_tensor_get(v, &c), 1, 1e-4, 0);
    }
    cg_tensor_free(x);
    cg_module_free(bn);
}

static void test_dropout_modules(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(24);
    cg_module *d = cg_dropout_new(0.5, 42);
    assert_string_equal(cg_module_type(d), "Dropout");
    assert_int_equal(cg_module_num_parameters(d), 0);
    cg_tensor *x = cg_tensor_uniform(&rng, CG_F64, 2, SHAPE(50, 40), 1, 2);
    /* training: the module's own generator, seeded with seed, advancing per call */
    cg_rng same = cg_rng_init(42);
    cg_tensor *a = cg_module_forward(d, x), *b = cg_module_forward(d, x);
    cg_tensor *ref = cg_dropout(x, 0.5, true, &same);
    assert_same(a, ref, 0, 0);
    int zeros = 0, differ = 0;
    for (int64_t i = 0; i < 2000; i++) {
        int64_t at[2] = {i / 40, i % 40};
        double va = cg_tensor_get(a, at), xi = cg_tensor_get(x, at);
        zeros += va == 0;
        differ += va != cg_tensor_get(b, at);
        assert_true(va == 0 || fabs(va - 2 * xi) < 1e-12);
    }
    assert_true(zeros > 850 && zeros < 1150);
    assert_true(differ > 500);
    /* eval: the identity */
    cg_module_train(d, false);
    assert_same(cg_module_forward(d, x), x, 0, 0);
    /* Dropout2d zeroes whole channels */
    cg_module *d2 = cg_dropout2d_new(0.5, 7);
    assert_string_equal(cg_module_type(d2), "Dropout2d");
    cg_tensor *img = cg_tensor_uniform(&rng, CG_F64, 4, SHAPE(4, 8, 3, 3), 1, 2);
    cg_tensor *z = cg_module_forward(d2, img);
    assert_tensor(z);
    for (int64_t n = 0; n < 4; n++)
        for (int64_t c = 0; c < 8; c++) {
            bool zero = cg_tensor_get(z, SHAPE(n, c, 0, 0)) == 0;
            for (int64_t k = 0; k < 9; k++)
                assert_true((cg_tensor_get(z, SHAPE(n, c, k / 3, k % 3)) == 0) == zero);
        }
    cg_module_train(d2, false);
    assert_same(cg_module_forward(d2, img), img, 0, 0);
    cg_tensor_free(x);
    cg_tensor_free(img);
    cg_module_free(d);
    cg_module_free(d2);
}

static void test_weight_norm_layers(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(25);
    cg_module *lin = cg_linear_new(5, 4, true, CG_F64, &rng);
    cg_tensor *x = cg_tensor_normal(&rng, CG_F64, 2, SHAPE(3, 5), 0, 1);
    cg_tensor *before = cg_module_forward(lin, x);
    assert_ok(cg_weight_norm(lin, "weight", 0));
    assert_names(lin, (const char *[]){"bias", "weight_g", "weight_v"}, 3);
    assert_shape(cg_module_find(lin, "weight_g"), 2, SHAPE(4, 1));
    assert_shape(cg_module_find(lin, "weight_v"), 2, SHAPE(4, 5));
    assert_same(cg_module_forward(lin, x), before, 1e-14, 1e-14);
    gradcheck_module(lin, x);
    /* Conv2d: g is [out, 1, 1, 1] */
    cg_conv2d_options o = cg_conv2d_defaults(2, 2);
    cg_module *conv = cg_conv2d_new(2, 3, &o, false, CG_F64, &rng);
    cg_tensor *img = cg_tensor_normal(&rng, CG_F64, 4, SHAPE(1, 2, 3, 3), 0, 1);
    cg_tensor *cbefore = cg_module_forward(conv, img);
    assert_ok(cg_weight_norm(conv, "weight", 0));
    assert_shape(cg_module_find(conv, "weight_g"), 4, SHAPE(3, 1, 1, 1));
    assert_same(cg_module_forward(conv, img), cbefore, 1e-14, 1e-14);
    gradcheck_module(conv, img);
    /* a weight-normalised layer has no plain weight to fold */
    cg_module *bn = cg_batch_norm2d_new(3, NULL, CG_F64);
    assert_null(cg_fold_batch_norm(conv, bn));
    assert_error_contains("weight");
    cg_tensor_free(x);
    cg_tensor_free(img);
    cg_module_free(lin);
    cg_module_free(conv);
    cg_module_free(bn);
}

/* Random running statistics and affine parameters for a BatchNorm in eval mode. */
static void randomize_bn(cg_module *bn, cg_rng *rng)
{
    const char *names[] = {"running_mean", "running_var", "weight", "bias"};
    const double lo[] = {-1, 0.2, 0.5, -1}, hi[] = {1, 3, 2, 1};
    for (int i = 0; i < 4; i++) {
        cg_tensor *t = cg_module_find(bn, names[i]);
        if (t)
            assert_ok(cg_init_uniform(t, rng, lo[i], hi[i]));
    }
    cg_clear_error();
    cg_module_train(bn, false);
}

static void check_fold(cg_module *layer, cg_module *bn, cg_tensor *x, double tol)
{
    cg_tensor *w0 = cg_tensor_clone(cg_module_find(layer, "weight"));
    cg_module *folded = cg_fold_batch_norm(layer, bn);
    assert_non_null(folded);
    assert_string_equal(cg_module_type(folded), cg_module_type(layer));
    assert_names(folded, (const char *[]){"weight", "bias"}, 2);
    cg_module_train(layer, false);
    assert_same(cg_module_forward(folded, x), cg_module_forward(bn, cg_module_forward(layer, x)),
                tol, tol);
    assert_same(cg_module_find(layer, "weight"), w0, 0, 0); /* inputs unchanged */
    cg_tensor_free(w0);
    cg_module_free(folded);
}

static void test_fold_batch_norm(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(26);
    for (int k = 0; k < 8; k++) {
        cg_dtype dt = k & 1 ? CG_F64 : CG_F32;
        bool bias = k & 2, affine = k & 4;
        double tol = dt == CG_F64 ? 1e-12 : 1e-6;
        cg_norm_options o = cg_batch_norm_defaults();
        o.affine = affine;
        cg_module *lin = cg_linear_new(6, 5, bias, dt, &rng);
        cg_module *bn1 = cg_batch_norm1d_new(5, &o, dt);
        randomize_bn(bn1, &rng);
        cg_tensor *x = cg_tensor_normal(&rng, dt, 2, SHAPE(7, 6), 0, 1);
        check_fold(lin, bn1, x, tol);
        cg_conv2d_options co = cg_conv2d_defaults(3, 3);
        co.padding[0] = co.padding[1] = 1;
        co.groups = 2;
        cg_module *conv = cg_conv2d_new(4, 6, &co, bias, dt, &rng);
        cg_module *bn2 = cg_batch_norm2d_new(6, &o, dt);
        randomize_bn(bn2, &rng);
        cg_tensor *img = cg_tensor_normal(&rng, dt, 4, SHAPE(2, 4, 5, 5), 0, 1);
        check_fold(conv, bn2, img, tol);
        /* mismatches */
        assert_null(cg_fold_batch_norm(lin, bn2));
        assert_error_contains("features");
        assert_null(cg_fold_batch_norm(bn1, bn1));
        assert_error_contains("Linear or Conv2d");
        cg_tensor_free(x);
        cg_tensor_free(img);
        cg_module_free(lin);
        cg_module_free(bn1);
        cg_module_free(conv);
        cg_module_free(bn2);
    }
    cg_norm_options o = cg_batch_norm_defaults();
    o.track_running_stats = false;
    cg_module *lin = cg_linear_new(2, 2, true, CG_F32, &rng);
    cg_module *bn = cg_batch_norm1d_new(2, &o, CG_F32);
    assert_null(cg_fold_batch_norm(lin, bn));
    assert_error_contains("running statistics");
    cg_module_free(lin);
    cg_module_free(bn);
}

static void test_activation_modules(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(27);
    cg_tensor *x = cg_tensor_normal(&rng, CG_F64, 2, SHAPE(3, 4), 0, 2);
    struct {
        cg_activation kind;
        double a, b;
        const char *type;
        cg_tensor *want;
    } cases[] = {
        {CG_ACT_SIGMOID, 0, 0, "Sigmoid", cg_sigmoid(x)},
        {CG_ACT_TANH, 0, 0, "Tanh", cg_tanh(x)},
        {CG_ACT_RELU, 0, 0, "ReLU", cg_relu(x)},
        {CG_ACT_LEAKY_RELU, 0.2, 0, "LeakyReLU", cg_leaky_relu(x, 0.2)},
        {CG_ACT_ELU, 0.7, 0, "ELU", cg_elu(x, 0.7)},
        {CG_ACT_SELU, 0, 0, "SELU", cg_selu(x)},
        {CG_ACT_GELU, 0, 0, "GELU", cg_gelu(x, false)},
        {CG_ACT_GELU, 1, 0, "GELU", cg_gelu(x, true)},
        {CG_ACT_SOFTPLUS, 2, 5, "Softplus", cg_softplus(x, 2, 5)},
        {CG_ACT_SILU, 0, 0, "SiLU", cg_silu(x)},
        {CG_ACT_HARDTANH, -0.5, 0.5, "Hardtanh", cg_hardtanh(x, -0.5, 0.5)},
        {CG_ACT_SOFTMAX, 1, 0, "Softmax", cg_softmax(x, 1)},
        {CG_ACT_LOG_SOFTMAX, 0, 0, "LogSoftmax", cg_log_softmax(x, 0)},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cg_module *m = cg_activation_new(cases[i].kind, cases[i].a, cases[i].b);
        assert_non_null(m);
        assert_string_equal(cg_module_type(m), cases[i].type);
        assert_same(cg_module_forward(m, x), cases[i].want, 0, 0);
        cg_module_free(m);
    }
    cg_module *p = cg_prelu_new(4, 0.25, CG_F64);
    assert_names(p, (const char *[]){"weight"}, 1);
    assert_shape(cg_module_find(p, "weight"), 1, SHAPE(4));
    assert_close(cg_tensor_get(cg_module_find(p, "weight"), SHAPE(3)), 0.25, 0, 0);
    assert_same(cg_module_forward(p, x), cg_prelu(x, cg_module_find(p, "weight")), 0, 0);
    cg_module *mo = cg_maxout_new(2);
    assert_string_equal(cg_module_type(mo), "Maxout");
    assert_same(cg_module_forward(mo, x), cg_maxout(x, 2, 1), 0, 0);
    cg_tensor_free(x);
    cg_module_free(p);
    cg_module_free(mo);
}

static void test_norm_and_pool_modules(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(28);
    cg_tensor *x = cg_tensor_normal(&rng, CG_F64, 4, SHAPE(2, 4, 4, 4), 1, 2);
    cg_module *ln = cg_layer_norm_new(2, SHAPE(4, 4), 1e-5, true, CG_F64);
    assert_names(ln, (const char *[]){"weight", "bias"}, 2);
    assert_shape(cg_module_find(ln, "weight"), 2, SHAPE(4, 4));
    assert_same(cg_module_forward(ln, x), cg_layer_norm(x, 2, SHAPE(4, 4), NULL, NULL, 1e-5),
                1e-14, 0);
    cg_module *gn = cg_group_norm_new(2, 4, 1e-5, true, CG_F64);
    assert_string_equal(cg_module_type(gn), "GroupNorm");
    assert_shape(cg_module_find(gn, "bias"), 1, SHAPE(4));
    assert_same(cg_module_forward(gn, x), cg_group_norm(x, 2, NULL, NULL, 1e-5), 1e-14, 0);
    /* InstanceNorm2d: no parameters or buffers by default */
    cg_norm_options io = cg_instance_norm_defaults();
    assert_false(io.affine || io.track_running_stats);
    cg_module *in = cg_instance_norm2d_new(4, NULL, CG_F64);
    assert_int_equal(cg_module_num_parameters(in) + cg_module_num_buffers(in), 0);
    assert_same(cg_module_forward(in, x), cg_instance_norm(x, NULL, NULL, NULL, NULL, true, 0.1,
                                                           1e-5), 0, 0);
    io.affine = io.track_running_stats = true;
    cg_module *in2 = cg_instance_norm2d_new(4, &io, CG_F64);
    assert_names(in2, (const char *[]){"weight", "bias"}, 2);
    assert_int_equal(cg_module_num_buffers(in2), 3);
    assert_tensor(cg_module_forward(in2, x)); /* training: updates the running mean */
    assert_true(cg_tensor_get(cg_module_find(in2, "running_mean"), SHAPE(0)) != 0);
    cg_module_train(in2, false);
    assert_same(cg_module_forward(in2, x),
                cg_batch_norm(x, cg_module_find(in2, "running_mean"),
                              cg_module_find(in2, "running_var"), NULL, NULL, false, 0.1, 1e-5),
                1e-14, 0);
    /* pooling and flattening */
    cg_conv2d_options po = cg_pool2d_defaults(2, 2);
    cg_module *mp = cg_max_pool2d_new(&po), *ap = cg_avg_pool2d_new(&po);
    cg_module *gp = cg_global_avg_pool2d_new(), *fl = cg_flatten_new(1, -1);
    assert_same(cg_module_forward(mp, x), cg_max_pool2d(x, &po), 0, 0);
    assert_same(cg_module_forward(ap, x), cg_avg_pool2d(x, &po), 0, 0);
    assert_same(cg_module_forward(gp, x), cg_global_avg_pool2d(x), 0, 0);
    assert_shape(cg_module_forward(fl, x), 2, SHAPE(2, 64));
    cg_module *all[] = {ln, gn, in, in2, mp, ap, gp, fl};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        cg_module_free(all[i]);
    cg_tensor_free(x);
}

/* Construction errors name the module type and return NULL. */
static void expect_refused(cg_module *m, const char *text)
{
    if (m) {
        cg_module_free(m);
        fail_msg("expected NULL with \"%s\"", text);
    }
    assert_error_contains(text);
}

static void test_layer_construction_errors(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(29);
    cg_conv2d_options co = cg_conv2d_defaults(3, 3);
    expect_refused(cg_linear_new(0, 3, true, CG_F32, &rng), "Linear");
    expect_refused(cg_linear_new(3, 3, true, CG_F32, NULL), "Linear: NULL rng");
    expect_refused(cg_linear_new(3, 3, true, CG_I64, &rng), "Linear: dtype");
    co.groups = 2;
    expect_refused(cg_conv2d_new(3, 4, &co, true, CG_F32, &rng), "Conv2d: groups");
    co.groups = 1;
    co.kernel[1] = 0;
    expect_refused(cg_conv2d_new(3, 4, &co, true, CG_F32, &rng), "Conv2d");
    expect_refused(cg_conv2d_new(3, 4, NULL, true, CG_F32, &rng), "Conv2d");
    expect_refused(cg_max_pool2d_new(&co), "MaxPool2d");
    expect_refused(cg_dropout_new(1.5, 0), "Dropout: ");
    expect_refused(cg_dropout_new(-0.1, 0), "Dropout: ");
    expect_refused(cg_dropout2d_new(NAN, 0), "Dropout2d: ");
    expect_refused(cg_maxout_new(0), "Maxout");
    expect_refused(cg_group_norm_new(3, 4, 1e-5, true, CG_F32), "GroupNorm");
    expect_refused(cg_batch_norm2d_new(0, NULL, CG_F32), "BatchNorm2d");
    expect_refused(cg_batch_norm1d_new(4, NULL, CG_I64), "BatchNorm1d");
    expect_refused(cg_layer_norm_new(0, SHAPE(1), 1e-5, true, CG_F32), "LayerNorm");
    expect_refused(cg_layer_norm_new(1, SHAPE(0), 1e-5, true, CG_F32), "LayerNorm");
    expect_refused(cg_prelu_new(0, 0.25, CG_F32), "PReLU");
    expect_refused(cg_activation_new((cg_activation)99, 0, 0), "unknown");
    expect_refused(cg_activation_new(CG_ACT_HARDTANH, 1, -1), "Hardtanh");
    expect_refused(cg_activation_new(CG_ACT_SOFTMAX, 0.5, 0), "Softmax");
    /* p = 0 and p = 1 are fine */
    cg_module *d0 = cg_dropout_new(0, 0), *d1 = cg_dropout_new(1, 0);
    assert_non_null(d0);
    assert_non_null(d1);
    cg_module_free(d0);
    cg_module_free(d1);
}

/* Forward errors come from the functional forms, prefixed with the module type. */
static void expect_forward_error(cg_module *m, cg_tensor *x, const char *text)
{
    cg_clear_error();
    assert_non_null(m);
    assert_null(cg_module_forward(m, x));
    assert_error_contains(text);
    cg_module_free(m);
}

static void test_layer_forward_errors(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(30);
    cg_conv2d_options co = cg_conv2d_defaults(3, 3);
    cg_tensor *x = cg_tensor_normal(&rng, CG_F32, 4, SHAPE(2, 4, 6, 6), 0, 1);
    cg_tensor *flat = cg_tensor_normal(&rng, CG_F32, 2, SHAPE(2, 5), 0, 1);
    expect_forward_error(cg_linear_new(4, 2, true, CG_F32, &rng), flat, "Linear: ");
    expect_forward_error(cg_conv2d_new(3, 2, &co, true, CG_F32, &rng), x, "Conv2d: ");
    expect_forward_error(cg_batch_norm2d_new(8, NULL, CG_F32), x, "BatchNorm2d: ");
    expect_forward_error(cg_batch_norm2d_new(4, NULL, CG_F32), flat, "BatchNorm2d: ");
    expect_forward_error(cg_batch_norm1d_new(4, NULL, CG_F32), flat, "BatchNorm1d: ");
    expect_forward_error(cg_group_norm_new(2, 6, 1e-5, true, CG_F32), x, "GroupNorm: ");
    expect_forward_error(cg_maxout_new(3), x, "Maxout: ");
    expect_forward_error(cg_layer_norm_new(1, SHAPE(5), 1e-5, true, CG_F32), x, "LayerNorm: ");
    expect_forward_error(cg_linear_new(5, 2, true, CG_F64, &rng), flat, "Linear: ");
    cg_tensor_free(x);
    cg_tensor_free(flat);
}

/* Out of memory while building a conv stack: NULL, never a crash or a leak. */
static void test_layers_out_of_memory(void **state)
{
    (void)state;
    int n;
    for (n = 1; n < 2000; n++) {
        cg_rng rng = cg_rng_init(31);
        cg_alloc_fail_after(n);
        cg_module *net = conv_stack(&rng, CG_F32);
        cg_alloc_fail_after(0);
        bool complete = net != NULL;
        cg_module_free(net);
        if (complete)
            break;
    }
    assert_true(n > 10 && n < 2000);
}

/* Dropout's generator state is a buffer: copying it into a fresh module resumes the
 * same masks, which is what a checkpoint does. */
static void test_dropout_state_resumes(void **state)
{
    test_ctx *ctx = *state;
    cg_module *a = cg_dropout_new(0.5, 42), *b = cg_dropout_new(0.5, 7);
    cg_tensor *x = cg_tensor_ones(CG_F64, 1, (int64_t[]){64});
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(cg_module_num_buffers(a), 1);
    assert_tensor(cg_module_forward(a, x));
    cg_tensor *saved = cg_tensor_clone(cg_module_find(a, "rng_state"));
    assert_close(cg_tensor_get(saved, (int64_t[]){1}), 64, 0, 0);
    cg_tensor *ya = cg_tensor_clone(cg_module_forward(a, x));
    assert_ok(cg_tensor_copy_(cg_module_find(b, "rng_state"), saved));
    cg_tensor *yb = cg_module_forward(b, x);
    assert_tensor(yb);
    assert_memory_equal(cg_tensor_data(ya), cg_tensor_data(yb), 64 * sizeof(double));
    cg_module_train(a, false); /* eval draws nothing */
    assert_tensor(cg_module_forward(a, x));
    assert_close(cg_tensor_get(cg_module_find(a, "rng_state"), (int64_t[]){1}), 128, 0, 0);
    cg_tape_reset(ctx->tape);
    cg_tensor_free(saved);
    cg_tensor_free(ya);
    cg_tensor_free(x);
    cg_module_free(a);
    cg_module_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_dropout_state_resumes),
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
        CG_TEST(test_mlp_as_pytorch),
        CG_TEST(test_conv_bn_stack_as_pytorch),
        CG_TEST(test_batch_norm_running_stats),
        CG_TEST(test_batch_norm_untracked),
        CG_TEST(test_dropout_modules),
        CG_TEST(test_weight_norm_layers),
        CG_TEST(test_fold_batch_norm),
        CG_TEST(test_activation_modules),
        CG_TEST(test_norm_and_pool_modules),
        CG_TEST(test_layer_construction_errors),
        CG_TEST(test_layer_forward_errors),
        CG_TEST(test_layers_out_of_memory),
    };
    return cmocka_run_group_tests_name("module", tests, NULL, NULL);
}
