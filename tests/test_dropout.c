/* Dropout and Dropout2d (lib/nn/dropout.c): identities (the mask keeps the expectation,
 * the fraction dropped is p), the documented stream (element i kept iff the i-th uniform
 * of the rng is >= p), eval / p = 0 / p = 1, whole channels for dropout2d, masks that do
 * not depend on the thread count, the gradient, and errors. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* |got - want| within 5 standard deviations. */
static void assert_within_5_sigma(double got, double want, double sigma, const char *what)
{
    if (fabs(got - want) > 5 * sigma)
        fail_msg("%s: %.6f is more than 5 sigma (%.2g) from %.6f", what, got, sigma, want);
}

/* mean(dropout(ones)) ~ 1 and the fraction of zeros ~ p, over many elements. */
static void check_expectation(cg_dtype dtype, double p)
{
    int64_t n = 200000;
    cg_tensor *x = cg_tensor_ones(dtype, 1, &n);
    cg_rng rng = cg_rng_init(2024);
    cg_tensor *y = cg_dropout(x, p, true, &rng);
    assert_tensor(y);
    double *v = cg_test_values(y), sum = 0, zeros = 0;
    double scale = dtype == CG_F32 ? (double)(1.0f / (float)(1.0 - p)) : 1.0 / (1.0 - p);
    for (int64_t i = 0; i < n; i++) {
        sum += v[i];
        zeros += v[i] == 0;
        if (v[i] != 0 && v[i] != scale)
            fail_msg("element %lld is %.17g, neither 0 nor 1/(1-p) = %.17g", (long long)i, v[i],
                     scale);
    }
    /* each element is 1/(1-p) with probability 1-p: mean 1, variance p/(1-p) */
    assert_within_5_sigma(sum / n, 1.0, sqrt(p / (1 - p) / n), "mean of dropout(ones)");
    assert_within_5_sigma(zeros / n, p, sqrt(p * (1 - p) / n), "fraction zeroed");
    free(v);
    cg_tensor_free(x);
}

static void test_expectation_f64(void **state)
{
    (void)state;
    check_expectation(CG_F64, 0.3);
    check_expectation(CG_F64, 0.9);
}

static void test_expectation_f32(void **state)
{
    (void)state;
    check_expectation(CG_F32, 0.5);
    check_expectation(CG_F32, 0.05);
}

/* The documented stream: element i is kept iff the i-th draw of the same generator is
 * >= p, and the generator advances by the number of elements. */
static void test_mask_follows_the_rng(void **state)
{
    (void)state;
    int64_t n = 1000;
    double p = 0.25;
    cg_tensor *x = cg_tensor_ones(CG_F64, 1, &n);
    cg_rng rng = cg_rng_init(77), ref = rng;
    rng.offset = ref.offset = 5; /* anywhere in the stream */
    cg_tensor *y = cg_dropout(x, p, true, &rng);
    assert_tensor(y);
    assert_int_equal(rng.offset, 5 + n);
    double *v = cg_test_values(y);
    for (int64_t i = 0; i < n; i++) {
        bool keep = cg_rng_uniform(&ref) >= p;
        if (keep != (v[i] != 0))
            fail_msg("element %lld: mask %d, rng says %d", (long long)i, v[i] != 0, keep);
    }
    /* the next call continues the stream: another mask */
    cg_tensor *y2 = cg_dropout(x, p, true, &rng);
    double *v2 = cg_test_values(y2);
    assert_true(memcmp(v, v2, sizeof(double) * (size_t)n) != 0);
    free(v);
    free(v2);
    cg_tensor_free(x);
}

/* Not training, or p = 0: x itself, whatever the rng (even NULL). */
static void test_identity(void **state)
{
    (void)state;
    cg_tensor *x = cg_tensor_ones(CG_F64, 2, (int64_t[]){3, 4});
    cg_tensor *x4 = cg_tensor_ones(CG_F32, 4, (int64_t[]){2, 3, 2, 2});
    cg_rng rng = cg_rng_init(1);
    assert_ptr_equal(cg_dropout(x, 0.5, false, NULL), x);
    assert_ptr_equal(cg_dropout(x, 0.0, true, &rng), x);
    assert_ptr_equal(cg_dropout(x, 0.0, true, NULL), x);
    assert_ptr_equal(cg_dropout(x, 1.0, false, NULL), x);
    assert_ptr_equal(cg_dropout2d(x4, 0.5, false, NULL), x4);
    assert_ptr_equal(cg_dropout2d(x4, 0.0, true, &rng), x4);
    assert_int_equal(rng.offset, 0); /* nothing drawn */
    /* an empty input has nothing to drop */
    cg_tensor *e = cg_tensor_zeros(CG_F64, 2, (int64_t[]){0, 3});
    assert_ptr_equal(cg_dropout(e, 0.5, true, &rng), e);
    cg_tensor_free(e);
    cg_tensor_free(x);
    cg_tensor_free(x4);
}

/* p = 1: x * 0, so zeros (NaN stays NaN, as PyTorch) and a zero gradient; no rng needed. */
static void test_p_one(void **state)
{
    (void)state;
    double xv[4] = {1, -2, 3, NAN};
    cg_tensor *x = cg_tensor_from_data(CG_F64, 1, (int64_t[]){4}, xv);
    cg_tensor_set_requires_grad(x, true);
    cg_tensor *y = cg_dropout(x, 1.0, true, NULL), *y2 = cg_dropout2d(x, 1.0, true, NULL);
    assert_tensor(y);
    assert_null(y2); /* dropout2d still wants [N, C, ...] */
    for (int64_t i = 0; i < 3; i++)
        assert_true(cg_tensor_get(y, &i) == 0.0);
    assert_true(isnan(cg_tensor_get(y, (int64_t[]){3})));
    cg_tensor *s = cg_sum(y, NULL, 0, false), *g;
    assert_ok(cg_grad(&s, 1, NULL, &x, 1, &g, NULL));
    for (int64_t i = 0; i < 4; i++)
        assert_true(cg_tensor_get(g, &i) == 0.0);
    cg_tensor_free(x);
}

/* Dropout2d: every (n, c) slice is all kept or all dropped; about p of them dropped. */
static void test_dropout2d_whole_channels(void **state)
{
    (void)state;
    int64_t N = 64, C = 32, H = 5, W = 3, HW = H * W;
    double p = 0.4;
    cg_tensor *x = cg_tensor_ones(CG_F64, 4, (int64_t[]){N, C, H, W});
    cg_rng rng = cg_rng_init(5);
    cg_tensor *y = cg_dropout2d(x, p, true, &rng);
    assert_tensor(y);
    assert_int_equal(rng.offset, N * C); /* one draw per channel */
    double *v = cg_test_values(y), dropped = 0;
    for (int64_t ch = 0; ch < N * C; ch++) {
        for (int64_t k = 1; k < HW; k++)
            if (v[ch * HW + k] != v[ch * HW])
                fail_msg("channel %lld is partly dropped", (long long)ch);
        dropped += v[ch * HW] == 0;
    }
    assert_within_5_sigma(dropped / (N * C), p, sqrt(p * (1 - p) / (N * C)), "channels dropped");
    free(v);
    cg_tensor_free(x);
}

/* 3-d input is (N, C, L) (torch 1.13's dropout2d); 2-d is (N, C): one draw per element. */
static void test_dropout2d_ranks(void **state)
{
    (void)state;
    cg_tensor *x3 = cg_tensor_ones(CG_F64, 3, (int64_t[]){6, 7, 9});
    cg_rng rng = cg_rng_init(8);
    cg_tensor *y3 = cg_dropout2d(x3, 0.5, true, &rng);
    assert_tensor(y3);
    assert_int_equal(rng.offset, 42);
    double *v = cg_test_values(y3);
    for (int64_t ch = 0; ch < 42; ch++)
        for (int64_t k = 1; k < 9; k++)
            assert_true(v[ch * 9 + k] == v[ch * 9]);
    free(v);
    cg_tensor *x2 = cg_tensor_ones(CG_F64, 2, (int64_t[]){6, 7});
    assert_tensor(cg_dropout2d(x2, 0.5, true, &rng));
    assert_int_equal(rng.offset, 84);
    cg_tensor *x1 = cg_tensor_ones(CG_F64, 1, (int64_t[]){6});
    cg_clear_error();
    assert_null(cg_dropout2d(x1, 0.5, true, &rng));
    assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
    assert_error_contains("dropout2d");
    assert_error_contains("[6]");
    cg_tensor_free(x1);
    cg_tensor_free(x2);
    cg_tensor_free(x3);
}

/* The same seed gives the same mask with 1 or 4 threads (the mask is counter-based). */
static void test_thread_count_independent(void **state)
{
    (void)state;
    int64_t n = 300000;
    cg_tensor *x = cg_tensor_ones(CG_F32, 1, &n);
    float *first = malloc(sizeof(float) * (size_t)n);
    for (int threads = 1; threads <= 4; threads += 3) {
        cg_set_num_threads(threads);
        cg_rng rng = cg_rng_init(99);
        cg_tensor *y = cg_dropout(x, 0.5, true, &rng);
        assert_tensor(y);
        if (threads == 1)
            memcpy(first, cg_tensor_data(y), sizeof(float) * (size_t)n);
        else if (memcmp(first, cg_tensor_data(y), sizeof(float) * (size_t)n))
            fail_msg("the mask differs between 1 and %d threads", threads);
    }
    cg_set_num_threads(0);
    free(first);
    cg_tensor_free(x);
}

/* d(sum dropout(x))/dx is the mask scaled by 1/(1-p), for dropout and dropout2d. */
static void test_gradient_is_the_mask(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(12);
    cg_tensor *x = cg_tensor_uniform(&rng, CG_F64, 3, (int64_t[]){4, 5, 6}, 0.5, 2.0);
    cg_tensor_set_requires_grad(x, true);
    double p = 0.3;
    for (int form = 0; form < 2; form++) {
        cg_tensor *y = form ? cg_dropout2d(x, p, true, &rng) : cg_dropout(x, p, true, &rng);
        cg_tensor *s = cg_sum(y, NULL, 0, false), *g;
        assert_ok(cg_grad(&s, 1, NULL, &x, 1, &g, NULL));
        double *vy = cg_test_values(y), *vg = cg_test_values(g), *vx = cg_test_values(x);
        for (int64_t i = 0; i < 120; i++) {
            double want = vy[i] != 0 ? 1.0 / (1.0 - p) : 0.0;
            if (vg[i] != want)
                fail_msg("form %d element %lld: gradient %.17g, want %.17g", form, (long long)i,
                         vg[i], want);
            if (vy[i] != vx[i] * vg[i])
                fail_msg("form %d element %lld: output is not x * mask", form, (long long)i);
        }
        free(vy);
        free(vg);
        free(vx);
    }
    cg_tensor_free(x);
}

static void test_errors(void **state)
{
    (void)state;
    cg_tensor *x = cg_tensor_ones(CG_F64, 2, (int64_t[]){2, 3});
    cg_rng rng = cg_rng_init(1);
    double bad[] = {-0.1, 1.5, NAN, INFINITY};
    for (int k = 0; k < 4; k++) {
        cg_clear_error();
        assert_null(cg_dropout(x, bad[k], true, &rng));
        assert_int_equal(cg_last_status(), CG_ERR_VALUE);
        assert_error_contains("dropout");
        cg_clear_error();
        assert_null(cg_dropout2d(x, bad[k], false, &rng)); /* checked in eval too */
        assert_int_equal(cg_last_status(), CG_ERR_VALUE);
        assert_error_contains("dropout2d");
    }
    cg_clear_error();
    assert_null(cg_dropout(x, 0.5, true, NULL));
    assert_int_equal(cg_last_status(), CG_ERR_NULL);
    assert_error_contains("rng");
    cg_clear_error();
    assert_null(cg_dropout2d(x, 0.5, true, NULL));
    assert_int_equal(cg_last_status(), CG_ERR_NULL);
    cg_tensor *idx = cg_tensor_zeros(CG_I64, 1, (int64_t[]){3});
    cg_clear_error();
    assert_null(cg_dropout(idx, 0.5, true, &rng));
    assert_int_equal(cg_last_status(), CG_ERR_DTYPE);
    assert_error_contains("dropout");
    /* a NULL input keeps the first error */
    cg_clear_error();
    assert_null(cg_dropout(cg_relu(NULL), 2.0, true, &rng));
    assert_int_equal(cg_last_status(), CG_ERR_NULL);
    assert_error_contains("relu");
    assert_int_equal(rng.offset, 0); /* failures draw nothing */
    cg_tensor_free(idx);
    cg_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_expectation_f64),
        CG_TEST(test_expectation_f32),
        CG_TEST(test_mask_follows_the_rng),
        CG_TEST(test_identity),
        CG_TEST(test_p_one),
        CG_TEST(test_dropout2d_whole_channels),
        CG_TEST(test_dropout2d_ranks),
        CG_TEST(test_thread_count_independent),
        CG_TEST(test_gradient_is_the_mask),
        CG_TEST(test_errors),
    };
    return cmocka_run_group_tests_name("dropout", tests, NULL, NULL);
}
