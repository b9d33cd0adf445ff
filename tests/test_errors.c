/* Bad input never aborts: each case returns NULL or a status, with a message naming the
 * op and the shapes; NULL propagates through a chain keeping the first message; failed
 * allocations are reported, not crashed on. */
#include <string.h>

#include "test_util.h"

static cg_tensor *mat(cg_dtype dtype, int64_t r, int64_t c)
{
    return cg_tensor_ones(dtype, 2, (int64_t[]){r, c});
}

static void test_shape_mismatch_names_op_and_shapes(void **state)
{
    (void)state;
    cg_tensor *a = mat(CG_F32, 2, 3), *b = mat(CG_F32, 4, 5);
    assert_null(cg_add(a, b));
    assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
    assert_error_contains("add");
    assert_error_contains("[2, 3]");
    assert_error_contains("[4, 5]");
    cg_tensor_free(a);
    cg_tensor_free(b);
}

static void test_dtype_mismatch(void **state)
{
    (void)state;
    cg_tensor *a = mat(CG_F32, 2, 3), *b = mat(CG_F64, 2, 3), *i = mat(CG_I64, 2, 3);
    assert_null(cg_mul(a, b));
    assert_int_equal(cg_last_status(), CG_ERR_DTYPE);
    assert_error_contains("mul");
    assert_error_contains("f32");
    assert_error_contains("f64");
    assert_null(cg_exp(i));
    assert_int_equal(cg_last_status(), CG_ERR_DTYPE);
    assert_error_contains("exp");
    assert_int_equal(cg_tensor_set_requires_grad(i, true), CG_ERR_DTYPE);
    cg_tensor_free(a);
    cg_tensor_free(b);
    cg_tensor_free(i);
}

static void test_null_propagates_keeping_first_error(void **state)
{
    (void)state;
    cg_tensor *a = mat(CG_F64, 2, 3), *b = mat(CG_F64, 3, 2);
    cg_tensor *bad = cg_sub(a, b); /* fails: shapes */
    char first[512];
    snprintf(first, sizeof first, "%s", cg_last_error());
    cg_tensor *y = cg_exp(cg_mul_scalar(cg_neg(bad), 2.0));
    assert_null(y);
    assert_string_equal(cg_last_error(), first);
    assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
    assert_int_equal(cg_backward(y, NULL), CG_ERR_SHAPE);
    cg_clear_error();
    assert_null(cg_exp(NULL));
    assert_int_equal(cg_last_status(), CG_ERR_NULL);
    assert_error_contains("exp");
    cg_tensor_free(a);
    cg_tensor_free(b);
}

static void test_backward_from_non_scalar_needs_grad_output(void **state)
{
    (void)state;
    cg_tensor *x = mat(CG_F64, 2, 2);
    cg_tensor_set_requires_grad(x, true);
    cg_tensor *y = cg_mul(x, x);
    assert_int_equal(cg_backward(y, NULL), CG_ERR_SHAPE);
    assert_error_contains("one-element");
    assert_error_contains("[2, 2]");
    cg_tensor *g = mat(CG_F64, 2, 3);
    assert_int_equal(cg_backward(y, g), CG_ERR_SHAPE);
    assert_error_contains("grad_output");
    cg_tensor_free(g);
    cg_tensor_free(x);
}

static void test_no_active_tape(void **state)
{
    test_ctx *ctx = *state;
    cg_tensor *a = mat(CG_F64, 1, 1);
    cg_tape_use(NULL);
    assert_null(cg_exp(a));
    assert_int_equal(cg_last_status(), CG_ERR_STATE);
    assert_error_contains("no active tape");
    cg_tape_use(ctx->tape);
    cg_tensor_free(a);
}

static void test_bad_constructor_arguments(void **state)
{
    (void)state;
    assert_null(cg_tensor_zeros(CG_F32, 2, (int64_t[]){2, -1}));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_error_contains("negative size");
    assert_null(cg_tensor_zeros(CG_F32, CG_MAX_DIMS + 1, (int64_t[CG_MAX_DIMS + 1]){0}));
    assert_null(cg_tensor_zeros(CG_F32, 2, NULL));
    assert_int_equal(cg_last_status(), CG_ERR_NULL);
    assert_null(cg_tensor_zeros(CG_F32, 3, (int64_t[]){1 << 20, 1 << 20, 1 << 20}));
    assert_error_contains("too many elements");
    assert_null(cg_tensor_arange(CG_F64, 0, 1, 0));
    assert_null(cg_tensor_from_data(CG_F64, 1, (int64_t[]){2}, NULL));
    cg_rng rng = cg_rng_init(1);
    assert_null(cg_tensor_normal(&rng, CG_F64, 1, (int64_t[]){2}, 0, -1));
    assert_null(cg_tensor_uniform(NULL, CG_F64, 1, (int64_t[]){2}, 0, 1));
    cg_tensor *t = mat(CG_F64, 2, 2);
    assert_true(isnan(cg_tensor_item(t)));
    assert_error_contains("not one element");
    assert_true(isnan(cg_tensor_get(t, (int64_t[]){0, 2})));
    assert_error_contains("out of range");
    cg_tensor_free(t);
}

static void test_freeing_tape_tensor_is_refused(void **state)
{
    (void)state;
    cg_tensor *a = mat(CG_F64, 2, 2);
    cg_tensor *y = cg_exp(a);
    cg_tensor_free(y);
    assert_int_equal(cg_last_status(), CG_ERR_STATE);
    assert_error_contains("belongs to a tape");
    assert_tensor(cg_exp(y)); /* still alive */
    cg_tensor_free(a);
}

/* Every allocation an op makes may fail: walk the failure point forward until the op
 * succeeds, checking each failure is reported and leaks nothing. */
static void test_out_of_memory_paths(void **state)
{
    test_ctx *ctx = *state;
    cg_tensor *x = mat(CG_F64, 3, 3);
    cg_tensor_set_requires_grad(x, true);
    cg_tensor *go = cg_tensor_ones(CG_F64, 2, (int64_t[]){3, 3});
    bool succeeded = false;
    for (int64_t n = 1; n < 200 && !succeeded; n++) {
        cg_tape_reset(ctx->tape);
        cg_tensor_zero_grad(x);
        cg_clear_error();
        cg_alloc_fail_after(n);
        cg_tensor *y = cg_mul(cg_exp(x), cg_add_scalar(x, 1.0));
        cg_status st = y ? cg_backward(y, go) : CG_ERR_NOMEM;
        cg_alloc_fail_after(0);
        succeeded = y && st == CG_OK && cg_tensor_grad(x);
        if (!succeeded)
            assert_int_equal(cg_last_status(), CG_ERR_NOMEM);
    }
    assert_true(succeeded);
    cg_tensor_free(go);
    cg_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_shape_mismatch_names_op_and_shapes),
        CG_TEST(test_dtype_mismatch),
        CG_TEST(test_null_propagates_keeping_first_error),
        CG_TEST(test_backward_from_non_scalar_needs_grad_output),
        CG_TEST(test_no_active_tape),
        CG_TEST(test_bad_constructor_arguments),
        CG_TEST(test_freeing_tape_tensor_is_refused),
        CG_TEST(test_out_of_memory_paths),
    };
    return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
