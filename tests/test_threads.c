/* The thread setting: one number for OpenMP loops and BLIS, from the API or
 * CGRAD_NUM_THREADS, and results that do not depend on it. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static void test_setting_and_environment(void **state)
{
    (void)state;
    cg_set_num_threads(3);
    assert_int_equal(cg_get_num_threads(), 3);
    setenv("CGRAD_NUM_THREADS", "5", 1);
    cg_set_num_threads(0); /* back to the default, which reads the environment */
    assert_int_equal(cg_get_num_threads(), 5);
    setenv("CGRAD_NUM_THREADS", "not a number", 1);
    cg_set_num_threads(0);
    assert_true(cg_get_num_threads() >= 1);
    unsetenv("CGRAD_NUM_THREADS");
    cg_set_num_threads(0);
    assert_true(cg_get_num_threads() >= 1);
}

/* Same seed, same numbers, whatever the thread count. */
static void test_random_tensors_independent_of_threads(void **state)
{
    (void)state;
    int64_t shape[] = {300, 700};
    cg_tensor *t[2];
    for (int k = 0; k < 2; k++) {
        cg_set_num_threads(k + 1);
        cg_rng rng = cg_rng_init(42);
        t[k] = cg_tensor_normal(&rng, CG_F32, 2, shape, 0.0, 1.0);
        assert_tensor(t[k]);
        assert_int_equal(rng.offset, 300 * 700);
    }
    assert_memory_equal(cg_tensor_data(t[0]), cg_tensor_data(t[1]), 300 * 700 * sizeof(float));
    cg_set_num_threads(0);
    cg_tensor_free(t[0]);
    cg_tensor_free(t[1]);
}

/* Normal samples have the right moments, uniform samples stay in [low, high). */
static void test_random_moments(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(7);
    int64_t n = 200000;
    cg_tensor *z = cg_tensor_normal(&rng, CG_F64, 1, &n, 1.0, 2.0);
    cg_tensor *u = cg_tensor_uniform(&rng, CG_F64, 1, &n, -1.0, 3.0);
    const double *zd = cg_tensor_data(z), *ud = cg_tensor_data(u);
    double m = 0, v = 0, um = 0;
    for (int64_t i = 0; i < n; i++) {
        m += zd[i] / n;
        um += ud[i] / n;
        assert_true(ud[i] >= -1.0 && ud[i] < 3.0);
    }
    for (int64_t i = 0; i < n; i++)
        v += (zd[i] - m) * (zd[i] - m) / (n - 1);
    /* standard errors: 2/sqrt(n) ~ 0.0045 for the mean; 5 sigma bounds */
    assert_close(m, 1.0, 0.023, 0);
    assert_close(v, 4.0, 0.07, 0);
    assert_close(um, 1.0, 0.013, 0);
    cg_tensor_free(z);
    cg_tensor_free(u);
}

/* A large elementwise chain gives bit-identical results on 1 and 2 threads. */
static void test_elementwise_independent_of_threads(void **state)
{
    (void)state;
    int64_t shape[] = {512, 1024};
    cg_rng rng = cg_rng_init(9);
    cg_tensor *a = cg_tensor_normal(&rng, CG_F32, 2, shape, 0, 1);
    cg_tensor *b = cg_tensor_uniform(&rng, CG_F32, 1, shape + 1, 0.5, 1.5);
    cg_tensor *out[2];
    for (int k = 0; k < 2; k++) {
        cg_set_num_threads(k + 1);
        out[k] = cg_exp(cg_div(cg_mul(a, a), b));
        assert_tensor(out[k]);
    }
    assert_memory_equal(cg_tensor_data(out[0]), cg_tensor_data(out[1]), 512 * 1024 * sizeof(float));
    cg_set_num_threads(0);
    cg_tensor_free(a);
    cg_tensor_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_setting_and_environment),
        CG_TEST(test_random_tensors_independent_of_threads),
        CG_TEST(test_random_moments),
        CG_TEST(test_elementwise_independent_of_threads),
    };
    return cmocka_run_group_tests_name("threads", tests, NULL, NULL);
}
