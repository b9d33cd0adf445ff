/* Core layer: tensors, views' storage sharing, RNG, errors, allocator, tape lifetime. */
#include <string.h>

#include "test_util.h"

static void test_zeros_and_shape(void **state)
{
    (void)state;
    int64_t shape[] = {2, 3, 4};
    cg_tensor *t = cg_tensor_zeros(CG_F32, 3, shape);
    assert_tensor(t);
    assert_int_equal(cg_tensor_numel(t), 24);
    assert_int_equal(cg_tensor_size(t, -1), 4);
    assert_true(cg_tensor_is_contiguous(t));
    assert_int_equal(cg_tensor_strides(t)[0], 12);
    cg_tensor_free(t);
}

static void test_add_backward(void **state)
{
    (void)state;
    double xs[] = {1, 2, 3};
    int64_t n = 3;
    cg_tensor *x = cg_tensor_from_data(CG_F64, 1, &n, xs);
    assert_ok(cg_tensor_set_requires_grad(x, true));
    cg_tensor *y = cg_mul(x, x);
    assert_tensor(y);
    cg_tensor *g = cg_tensor_ones(CG_F64, 1, &n);
    assert_ok(cg_backward(y, g));
    cg_tensor *gx = cg_tensor_grad(x);
    assert_tensor(gx);
    for (int64_t i = 0; i < 3; i++)
        assert_close(cg_tensor_get(gx, &i), 2 * xs[i], 0, 0);
    cg_tensor_free(g);
    cg_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_zeros_and_shape),
        CG_TEST(test_add_backward),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
