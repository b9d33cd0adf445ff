/* Core layer: constructors, element access, copies, printing, RNG, allocator counters. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

static void test_zeros_and_shape(void **state)
{
    (void)state;
    int64_t shape[] = {2, 3, 4};
    cg_tensor *t = cg_tensor_zeros(CG_F32, 3, shape);
    assert_tensor(t);
    assert_int_equal(cg_tensor_ndim(t), 3);
    assert_int_equal(cg_tensor_numel(t), 24);
    assert_int_equal(cg_tensor_size(t, -1), 4);
    assert_int_equal(cg_tensor_size(t, 3), -1);
    assert_true(cg_tensor_is_contiguous(t));
    assert_int_equal(cg_tensor_strides(t)[0], 12);
    assert_int_equal(cg_tensor_strides(t)[2], 1);
    assert_int_equal(cg_tensor_dtype(t), CG_F32);
    const float *d = cg_tensor_data(t);
    for (int i = 0; i < 24; i++)
        assert_true(d[i] == 0.0f);
    cg_tensor_free(t);
}

static void test_constructors(void **state)
{
    (void)state;
    cg_tensor *s = cg_tensor_scalar(CG_F64, 2.5);
    assert_int_equal(cg_tensor_ndim(s), 0);
    assert_int_equal(cg_tensor_numel(s), 1);
    assert_close(cg_tensor_item(s), 2.5, 0, 0);
    cg_tensor *f = cg_tensor_full(CG_I64, 1, (int64_t[]){3}, 7);
    assert_close(cg_tensor_get(f, (int64_t[]){-1}), 7, 0, 0);
    /* torch.arange(0, 1, 0.1) has 10 elements; arange(5, 0, -2) is 5, 3, 1 */
    cg_tensor *a = cg_tensor_arange(CG_F64, 0, 1, 0.1);
    assert_int_equal(cg_tensor_numel(a), 10);
    assert_close(cg_tensor_get(a, (int64_t[]){9}), 0.9, 1e-15, 0);
    cg_tensor *b = cg_tensor_arange(CG_I64, 5, 0, -2);
    assert_int_equal(cg_tensor_numel(b), 3);
    assert_close(cg_tensor_get(b, (int64_t[]){2}), 1, 0, 0);
    cg_tensor *e = cg_tensor_zeros(CG_F32, 2, (int64_t[]){0, 5});
    assert_int_equal(cg_tensor_numel(e), 0);
    float data[] = {1, 2, 3, 4, 5, 6};
    cg_tensor *m = cg_tensor_from_data(CG_F32, 2, (int64_t[]){2, 3}, data);
    assert_close(cg_tensor_get(m, (int64_t[]){1, 0}), 4, 0, 0);
    assert_close(cg_tensor_get(m, (int64_t[]){-1, -1}), 6, 0, 0);
    cg_tensor *all[] = {s, f, a, b, e, m};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++)
        cg_tensor_free(all[i]);
}

static void test_copy_clone_and_versions(void **state)
{
    (void)state;
    double v[] = {1.5, -2, 3};
    cg_tensor *x = cg_tensor_from_data(CG_F64, 1, (int64_t[]){3}, v);
    cg_tensor *y = cg_tensor_zeros(CG_F32, 1, (int64_t[]){3});
    uint64_t v0 = cg_tensor_version(y);
    assert_ok(cg_tensor_copy_(y, x));
    assert_true(cg_tensor_version(y) == v0 + 1);
    assert_close(cg_tensor_get(y, (int64_t[]){0}), 1.5, 0, 0);
    cg_tensor *c = cg_tensor_clone(x);
    assert_ok(cg_tensor_set(x, (int64_t[]){0}, 9));
    assert_close(cg_tensor_get(c, (int64_t[]){0}), 1.5, 0, 0);
    double out[3];
    assert_ok(cg_tensor_to_f64(y, out));
    assert_close(out[2], 3, 0, 0);
    cg_tensor *z = cg_tensor_zeros(CG_F32, 1, (int64_t[]){4});
    assert_int_equal(cg_tensor_copy_(z, x), CG_ERR_SHAPE);
    assert_error_contains("[4]");
    assert_ok(cg_tensor_fill_(z, -1));
    assert_close(cg_tensor_get(z, (int64_t[]){3}), -1, 0, 0);
    cg_tensor_free(x);
    cg_tensor_free(y);
    cg_tensor_free(c);
    cg_tensor_free(z);
}

/* Expected contents of x's storage after filling the elements view covers with v: the
 * view's elements hold v as the dtype stores it, the rest keep their old value. */
static void expect_filled(const cg_tensor *x, const double *old, const cg_tensor *view, double v)
{
    int64_t n = cg_tensor_numel(x), nv = cg_tensor_numel(view);
    const int64_t *shape = cg_tensor_shape(view), *strides = cg_tensor_strides(view);
    char *covered = calloc((size_t)n, 1);
    /* the view's storage offset, from its data pointer */
    int64_t off = ((const char *)cg_tensor_data(view) - (const char *)cg_tensor_data(x)) /
                  (int64_t)cg_dtype_size(cg_tensor_dtype(x));
    for (int64_t i = 0; i < nv; i++) {
        int64_t s = off, flat = i;
        for (int d = cg_tensor_ndim(view) - 1; d >= 0; d--) {
            s += (flat % shape[d]) * strides[d];
            flat /= shape[d];
        }
        covered[s] = 1;
    }
    double got[2048];
    assert_true(n <= 2048);
    assert_ok(cg_tensor_to_f64(x, got));
    cg_dtype dt = cg_tensor_dtype(x);
    double want_v = dt == CG_F32 ? (double)(float)v : dt == CG_F64 ? v : (double)(int64_t)v;
    for (int64_t i = 0; i < n; i++) {
        double want = covered[i] ? want_v : old[i];
        if (memcmp(&got[i], &want, sizeof want))
            fail_msg("%s element %lld: %.17g, expected %.17g", cg_dtype_name(dt), (long long)i,
                     got[i], want);
    }
    free(covered);
}

/* cg_tensor_fill_ on whole tensors (the contiguous fast path: memset for +0, a typed loop
 * otherwise, -0.0 keeping its sign), on a contiguous view with an offset, and on strided
 * views (the general path), in every dtype and with sizes that are no multiple of a vector. */
static void test_fill(void **state)
{
    (void)state;
    static const cg_dtype dts[] = {CG_F32, CG_F64, CG_I64};
    static const double values[] = {0.0, -0.0, 1.5, -2.75, 1e300, 0.1};
    for (size_t k = 0; k < sizeof dts / sizeof *dts; k++)
        for (size_t j = 0; j < sizeof values / sizeof *values; j++) {
            cg_dtype dt = dts[k];
            double v = values[j];
            if (dt == CG_I64 && fabs(v) > 1e18)
                continue; /* out of int64's range */
            for (int view_kind = 0; view_kind < 4; view_kind++) {
                int64_t shape[] = {37, 29};
                double old[37 * 29];
                for (int i = 0; i < 37 * 29; i++)
                    old[i] = (double)(i % 13) - 6;
                cg_tensor *x = cg_tensor_from_data(CG_F64, 2, shape, old);
                cg_tensor *xd = cg_to_dtype(x, dt);
                cg_tensor *y = cg_tensor_clone(xd);
                cg_tensor *view = view_kind == 0   ? y
                                  : view_kind == 1 ? cg_slice(y, 0, 3, 20, 1)
                                  : view_kind == 2 ? cg_slice(y, 1, 1, 28, 2)
                                                   : cg_transpose(y, 0, 1);
                assert_tensor(view);
                assert_true(cg_tensor_is_contiguous(view) == (view_kind < 2));
                uint64_t v0 = cg_tensor_version(y);
                assert_ok(cg_tensor_fill_(view, v));
                assert_true(cg_tensor_version(y) == v0 + 1);
                expect_filled(y, old, view, v);
                cg_tensor_free(x);
                cg_tensor_free(y);
                cg_tape_reset(cg_tape_active());
            }
        }
    /* the constructors share the fast path: full(-0.0) keeps the sign, zeros is +0 */
    cg_tensor *m = cg_tensor_full(CG_F32, 1, (int64_t[]){19}, -0.0);
    cg_tensor *z = cg_tensor_zeros(CG_F64, 1, (int64_t[]){19});
    assert_true(signbit(((const float *)cg_tensor_data(m))[18]));
    assert_false(signbit(((const double *)cg_tensor_data(z))[18]));
    cg_tensor_free(m);
    cg_tensor_free(z);
}

static void test_print(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cg_tensor *t = cg_tensor_arange(CG_F32, 0, 6, 1);
    cg_tensor *m = cg_tensor_arange(CG_F64, 0, 20, 1);
    assert_ok(cg_tensor_print(t, f));
    assert_ok(cg_tensor_print(m, f));
    fclose(f);
    assert_non_null(strstr(buf, "tensor([0.0000, 1.0000, 2.0000, 3.0000, 4.0000, 5.0000], "
                                "shape=[6], dtype=f32)"));
    assert_non_null(strstr(buf, "[0.0000, 1.0000, 2.0000, ..., 17.0000, 18.0000, 19.0000]"));
    free(buf);
    cg_tensor_free(t);
    cg_tensor_free(m);
}

static void test_rng_is_reproducible(void **state)
{
    (void)state;
    cg_rng a = cg_rng_init(123), b = cg_rng_init(123), c = cg_rng_init(124);
    double x = cg_rng_uniform(&a), y = cg_rng_uniform(&b), z = cg_rng_uniform(&c);
    assert_true(x == y);
    assert_true(x != z);
    assert_true(x >= 0 && x < 1);
    assert_int_equal(a.offset, 1);
    /* Drawing a tensor of n advances the offset by n, so draws never overlap. */
    cg_tensor *t = cg_tensor_uniform(&a, CG_F64, 1, (int64_t[]){5}, 0, 1);
    assert_int_equal(a.offset, 6);
    double first = cg_tensor_get(t, (int64_t[]){0});
    /* Element i of a tensor is the scalar stream at offset + i: b is at offset 1 too. */
    assert_true(first == cg_rng_uniform(&b));
    cg_tensor_free(t);
}

static void test_allocator_counts(void **state)
{
    (void)state;
    cg_alloc_stats s0 = cg_alloc_get_stats();
    cg_tensor *t = cg_tensor_zeros(CG_F64, 1, (int64_t[]){1000});
    cg_alloc_stats s1 = cg_alloc_get_stats();
    assert_true(s1.live_bytes - s0.live_bytes >= 8000);
    assert_true(s1.malloc_calls > s0.malloc_calls);
    assert_true(s1.peak_bytes >= s1.live_bytes);
    cg_tensor_free(t);
    assert_int_equal(cg_alloc_get_stats().live_bytes, s0.live_bytes);
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
    assert_string_equal(cg_tensor_op_name(y), "mul");
    assert_string_equal(cg_tensor_op_name(x), "leaf");
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
        CG_TEST(test_constructors),
        CG_TEST(test_copy_clone_and_versions),
        CG_TEST(test_fill),
        CG_TEST(test_print),
        CG_TEST(test_rng_is_reproducible),
        CG_TEST(test_allocator_counts),
        CG_TEST(test_add_backward),
    };
    return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
