/* Matrix products: values against a naive triple loop (f32 and f64, strided views,
 * broadcast batches, 1-d operands, zero sizes), gradients against hand-computed
 * products, and shape and dtype errors. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* Offset of batch index b (row-major over out's batch dims) into a tensor with nd dims
 * whose matrices hold mat elements, honouring broadcast (size-1 or missing) dims. */
static int64_t batch_offset(int64_t b, int onb, const int64_t *oshape, int nd,
                            const int64_t *shape, int64_t mat)
{
    int tnb = nd - 2;
    int64_t off = 0, stride = mat;
    for (int d = onb - 1; d >= 0; d--) {
        int64_t i = b % oshape[d];
        b /= oshape[d];
        int td = d - (onb - tnb);
        if (td >= 0) {
            off += (shape[td] == 1 ? 0 : i) * stride;
            stride *= shape[td];
        }
    }
    return off;
}

/* Check c = a @ b for operands of >= 2 dims with a triple loop over logical values. */
static void check_product(cg_tensor *a, cg_tensor *b, double tol)
{
    cg_tensor *c = cg_matmul(a, b);
    assert_tensor(c);
    int na = cg_tensor_ndim(a), nb = cg_tensor_ndim(b), nc = cg_tensor_ndim(c);
    const int64_t *sa = cg_tensor_shape(a), *sb = cg_tensor_shape(b), *sc = cg_tensor_shape(c);
    int64_t m = sa[na - 2], k = sa[na - 1], n = sb[nb - 1];
    assert_int_equal(sc[nc - 2], m);
    assert_int_equal(sc[nc - 1], n);
    double *av = cg_test_values(a), *bv = cg_test_values(b), *cv = cg_test_values(c);
    int64_t batch = cg_tensor_numel(c) / (m * n > 0 ? m * n : 1);
    if (m * n == 0)
        batch = 0;
    for (int64_t t = 0; t < batch; t++) {
        const double *A = av + batch_offset(t, nc - 2, sc, na, sa, m * k);
        const double *B = bv + batch_offset(t, nc - 2, sc, nb, sb, k * n);
        for (int64_t i = 0; i < m; i++) {
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t p = 0; p < k; p++)
                    s += A[i * k + p] * B[p * n + j];
                assert_close(cv[t * m * n + i * n + j], s, tol, tol);
            }
        }
    }
    free(av);
    free(bv);
    free(cv);
}

static void test_matrix_products(void **state)
{
    (void)state;
    static const int64_t dims[][3] = {{5, 7, 3}, {1, 4, 1}, {65, 33, 70}, {3, 1, 4}, {1, 1, 1}};
    for (int dt = 0; dt < 2; dt++) {
        for (size_t s = 0; s < sizeof dims / sizeof *dims; s++) {
            int64_t as[] = {dims[s][0], dims[s][1]}, bs[] = {dims[s][1], dims[s][2]};
            cg_tensor *a = cg_test_rand(dt ? CG_F64 : CG_F32, 2, as, 2 * s);
            cg_tensor *b = cg_test_rand(dt ? CG_F64 : CG_F32, 2, bs, 2 * s + 1);
            check_product(a, b, dt ? 1e-13 : 1e-5);
            cg_tensor_free(a);
            cg_tensor_free(b);
        }
    }
}

/* A larger product that BLIS runs on several threads, checked on 1 and 2 threads. */
static void test_large_product(void **state)
{
    (void)state;
    int64_t as[] = {200, 300}, bs[] = {300, 150};
    cg_tensor *a = cg_test_rand(CG_F64, 2, as, 1), *b = cg_test_rand(CG_F64, 2, bs, 2);
    for (int t = 1; t <= 2; t++) {
        cg_set_num_threads(t);
        check_product(a, b, 1e-12);
    }
    cg_set_num_threads(0);
    cg_tensor_free(a);
    cg_tensor_free(b);
}

/* Transposed and permuted views go to BLIS with their strides. */
static void test_strided_operands(void **state)
{
    (void)state;
    int64_t as[] = {7, 5}, bs[] = {4, 7}, cs[] = {7, 2, 3};
    for (int dt = 0; dt < 2; dt++) {
        cg_dtype d = dt ? CG_F64 : CG_F32;
        double tol = dt ? 1e-13 : 1e-5;
        cg_tensor *a = cg_test_rand(d, 2, as, 3), *b = cg_test_rand(d, 2, bs, 4);
        cg_tensor *c = cg_test_rand(d, 3, cs, 5);
        cg_tensor *at = cg_transpose(a, 0, 1), *bt = cg_transpose(b, 0, 1);
        assert_false(cg_tensor_is_contiguous(at));
        check_product(at, bt, tol);            /* [5, 7] @ [7, 4] */
        check_product(b, a, tol);              /* [4, 7] @ [7, 5] */
        check_product(at, a, tol);             /* [5, 7] @ [7, 5]: A^T A */
        int perm[] = {1, 2, 0};
        cg_tensor *cp = cg_permute(c, perm); /* [2, 3, 7], strides (3, 1, 6) */
        check_product(cp, a, tol);                      /* [2, 3, 7] @ [7, 5] */
        check_product(b, cg_transpose(cp, 1, 2), tol); /* [4, 7] @ [2, 7, 3] */
        cg_tensor_free(a);
        cg_tensor_free(b);
        cg_tensor_free(c);
    }
}

/* A broadcast (stride-0) operand is copied before BLIS sees it. */
static void test_broadcast_view_operand(void **state)
{
    (void)state;
    int64_t rs[] = {1, 4}, full[] = {3, 4}, bs[] = {4, 2};
    cg_tensor *r = cg_test_rand(CG_F64, 2, rs, 6), *b = cg_test_rand(CG_F64, 2, bs, 7);
    cg_tensor *a = cg_expand(r, 2, full);
    assert_tensor(a);
    assert_int_equal(cg_tensor_strides(a)[0], 0);
    check_product(a, b, 1e-13);
    int64_t cs[] = {4, 1}, wide[] = {4, 5};
    cg_tensor *col = cg_test_rand(CG_F64, 2, cs, 8);
    check_product(cg_transpose(b, 0, 1), cg_expand(col, 2, wide), 1e-13); /* column stride 0 */
    cg_tensor_free(r);
    cg_tensor_free(b);
    cg_tensor_free(col);
}

static void test_batched_broadcast(void **state)
{
    (void)state;
    int64_t as[] = {2, 1, 3, 4}, bs[] = {5, 4, 2}, cs[] = {4, 6}, ds[] = {3, 2, 4, 6};
    for (int dt = 0; dt < 2; dt++) {
        cg_dtype d = dt ? CG_F64 : CG_F32;
        double tol = dt ? 1e-13 : 1e-5;
        cg_tensor *a = cg_test_rand(d, 4, as, 9), *b = cg_test_rand(d, 3, bs, 10);
        cg_tensor *c = cg_test_rand(d, 2, cs, 11), *e = cg_test_rand(d, 4, ds, 12);
        cg_tensor *ab = cg_matmul(a, b);
        assert_tensor(ab);
        int64_t want[] = {2, 5, 3, 2};
        assert_int_equal(cg_tensor_ndim(ab), 4);
        assert_memory_equal(cg_tensor_shape(ab), want, sizeof want);
        check_product(a, b, tol);
        check_product(a, c, tol); /* batch from a only */
        check_product(e, cg_transpose(e, 2, 3), tol);
        cg_tensor_free(a);
        cg_tensor_free(b);
        cg_tensor_free(c);
        cg_tensor_free(e);
    }
}

/* Many small products run one per thread; the results match the loop on any count. */
static void test_many_small_products(void **state)
{
    (void)state;
    int64_t s[] = {256, 8, 8};
    cg_tensor *a = cg_test_rand(CG_F32, 3, s, 13), *b = cg_test_rand(CG_F32, 3, s, 14);
    cg_tensor *c[2];
    for (int t = 0; t < 2; t++) {
        cg_set_num_threads(t + 1);
        check_product(a, b, 1e-5);
        c[t] = cg_matmul(a, b);
        assert_tensor(c[t]);
    }
    assert_memory_equal(cg_tensor_data(c[0]), cg_tensor_data(c[1]), 256 * 64 * sizeof(float));
    cg_set_num_threads(0);
    cg_tensor_free(a);
    cg_tensor_free(b);
}

static void test_vector_operands(void **state)
{
    (void)state;
    int64_t k = 4, kn[] = {4, 3}, mk[] = {2, 4}, bkn[] = {5, 4, 3}, bmk[] = {5, 2, 4};
    double xs[] = {1, 2, 3, 4}, ys[] = {-1, 0.5, 2, 1};
    cg_tensor *x = cg_tensor_from_data(CG_F64, 1, &k, xs);
    cg_tensor *y = cg_tensor_from_data(CG_F64, 1, &k, ys);
    cg_tensor *d = cg_matmul(x, y);
    assert_tensor(d);
    assert_int_equal(cg_tensor_ndim(d), 0);
    assert_close(cg_tensor_item(d), -1 + 1 + 6 + 4, 0, 0);
    cg_tensor *b = cg_test_rand(CG_F64, 2, kn, 15), *a = cg_test_rand(CG_F64, 2, mk, 16);
    cg_tensor *bb = cg_test_rand(CG_F64, 3, bkn, 17), *ba = cg_test_rand(CG_F64, 3, bmk, 18);
    double *bv = cg_test_values(b), *av = cg_test_values(a);
    double *bbv = cg_test_values(bb), *bav = cg_test_values(ba);
    /* [4] @ [4, 3] -> [3] */
    cg_tensor *xb = cg_matmul(x, b);
    assert_tensor(xb);
    assert_int_equal(cg_tensor_ndim(xb), 1);
    assert_int_equal(cg_tensor_size(xb, 0), 3);
    for (int64_t j = 0; j < 3; j++) {
        double s = 0;
        for (int p = 0; p < 4; p++)
            s += xs[p] * bv[p * 3 + j];
        assert_close(cg_tensor_get(xb, &j), s, 1e-14, 0);
    }
    /* [2, 4] @ [4] -> [2] */
    cg_tensor *ax = cg_matmul(a, x);
    assert_tensor(ax);
    assert_int_equal(cg_tensor_ndim(ax), 1);
    for (int64_t i = 0; i < 2; i++) {
        double s = 0;
        for (int p = 0; p < 4; p++)
            s += av[i * 4 + p] * xs[p];
        assert_close(cg_tensor_get(ax, &i), s, 1e-14, 0);
    }
    /* [4] @ [5, 4, 3] -> [5, 3] and [5, 2, 4] @ [4] -> [5, 2] */
    cg_tensor *xbb = cg_matmul(x, bb), *bax = cg_matmul(ba, x);
    assert_tensor(xbb);
    assert_tensor(bax);
    assert_int_equal(cg_tensor_ndim(xbb), 2);
    assert_int_equal(cg_tensor_size(xbb, 1), 3);
    assert_int_equal(cg_tensor_ndim(bax), 2);
    assert_int_equal(cg_tensor_size(bax, 1), 2);
    for (int64_t t = 0; t < 5; t++) {
        for (int64_t j = 0; j < 3; j++) {
            double s = 0;
            for (int p = 0; p < 4; p++)
                s += xs[p] * bbv[t * 12 + p * 3 + j];
            int64_t idx[] = {t, j};
            assert_close(cg_tensor_get(xbb, idx), s, 1e-14, 0);
        }
        for (int64_t i = 0; i < 2; i++) {
            double s = 0;
            for (int p = 0; p < 4; p++)
                s += bav[t * 8 + i * 4 + p] * xs[p];
            int64_t idx[] = {t, i};
            assert_close(cg_tensor_get(bax, idx), s, 1e-14, 0);
        }
    }
    free(bv);
    free(av);
    free(bbv);
    free(bav);
    cg_tensor *objs[] = {x, y, a, b, ba, bb};
    for (int i = 0; i < 6; i++)
        cg_tensor_free(objs[i]);
}

static void test_zero_sizes(void **state)
{
    (void)state;
    int64_t s0[] = {0, 3}, s1[] = {3, 4}, s2[] = {2, 0}, s3[] = {0, 3}, s4[] = {3, 0};
    int64_t b0[] = {0, 2, 3}, b1[] = {3, 4};
    cg_tensor *a0 = cg_tensor_ones(CG_F32, 2, s0), *b = cg_tensor_ones(CG_F32, 2, s1);
    cg_tensor *a2 = cg_tensor_ones(CG_F32, 2, s2), *b3 = cg_tensor_ones(CG_F32, 2, s3);
    cg_tensor *a3 = cg_tensor_ones(CG_F32, 2, s1), *b4 = cg_tensor_ones(CG_F32, 2, s4);
    cg_tensor *bz = cg_tensor_ones(CG_F32, 3, b0), *bw = cg_tensor_ones(CG_F32, 2, b1);
    cg_tensor *c = cg_matmul(a0, b); /* [0, 4] */
    assert_tensor(c);
    assert_int_equal(cg_tensor_size(c, 0), 0);
    assert_int_equal(cg_tensor_size(c, 1), 4);
    c = cg_matmul(a2, b3); /* [2, 0] @ [0, 3]: k == 0 gives zeros */
    assert_tensor(c);
    assert_int_equal(cg_tensor_numel(c), 6);
    double *cv = cg_test_values(c);
    for (int i = 0; i < 6; i++)
        assert_close(cv[i], 0.0, 0, 0);
    free(cv);
    c = cg_matmul(a3, b4); /* [3, 4] @ [3, 0] is a mismatch */
    assert_null(c);
    c = cg_matmul(cg_transpose(a3, 0, 1), b4); /* [4, 3] @ [3, 0] -> [4, 0] */
    assert_tensor(c);
    assert_int_equal(cg_tensor_size(c, 1), 0);
    c = cg_matmul(bz, bw); /* batch of zero */
    assert_tensor(c);
    assert_int_equal(cg_tensor_size(c, 0), 0);
    assert_int_equal(cg_tensor_size(c, 2), 4);
    cg_tensor *objs[] = {a0, b, a2, b3, a3, b4, bz, bw};
    for (int i = 0; i < 8; i++)
        cg_tensor_free(objs[i]);
}

/* dA = g B^T, dB = A^T g, worked out by hand. */
static void test_backward_values(void **state)
{
    (void)state;
    int64_t as[] = {2, 3}, bs[] = {3, 2};
    double av[] = {1, 2, 3, 4, 5, 6}, bv[] = {1, -1, 0, 2, 3, 1}, gv[] = {1, 2, -1, 0.5};
    cg_tensor *a = cg_tensor_from_data(CG_F64, 2, as, av);
    cg_tensor *b = cg_tensor_from_data(CG_F64, 2, bs, bv);
    int64_t gs[] = {2, 2};
    cg_tensor *g = cg_tensor_from_data(CG_F64, 2, gs, gv);
    assert_ok(cg_tensor_set_requires_grad(a, true));
    assert_ok(cg_tensor_set_requires_grad(b, true));
    assert_ok(cg_backward(cg_matmul(a, b), g));
    /* g B^T: rows of g times rows of B */
    double da[] = {1 * 1 + 2 * -1, 1 * 0 + 2 * 2, 1 * 3 + 2 * 1,
                   -1 * 1 + 0.5 * -1, -1 * 0 + 0.5 * 2, -1 * 3 + 0.5 * 1};
    /* A^T g */
    double db[] = {1 * 1 + 4 * -1, 1 * 2 + 4 * 0.5, 2 * 1 + 5 * -1,
                   2 * 2 + 5 * 0.5, 3 * 1 + 6 * -1, 3 * 2 + 6 * 0.5};
    double *ga = cg_test_values(cg_tensor_grad(a)), *gb = cg_test_values(cg_tensor_grad(b));
    for (int i = 0; i < 6; i++) {
        assert_close(ga[i], da[i], 1e-15, 0);
        assert_close(gb[i], db[i], 1e-15, 0);
    }
    free(ga);
    free(gb);
    cg_tensor_free(a);
    cg_tensor_free(b);
    cg_tensor_free(g);
}

/* A broadcast batch operand gets its gradient summed over the batch; 1-d operands get
 * gradients of their own shape. */
static void test_backward_broadcast_and_vectors(void **state)
{
    (void)state;
    int64_t as[] = {3, 2, 4}, ws[] = {4, 2}, k = 4;
    cg_tensor *a = cg_test_rand(CG_F64, 3, as, 19), *w = cg_test_rand(CG_F64, 2, ws, 20);
    assert_ok(cg_tensor_set_requires_grad(w, true));
    assert_ok(cg_backward(cg_sum(cg_matmul(a, w), NULL, 0, false), NULL));
    cg_tensor *gw = cg_tensor_grad(w);
    assert_tensor(gw);
    assert_int_equal(cg_tensor_ndim(gw), 2);
    /* d sum(A W) / dW[p][j] = sum over batch and rows of A[..][p] */
    double *av = cg_test_values(a), *gv = cg_test_values(gw);
    for (int p = 0; p < 4; p++) {
        double s = 0;
        for (int r = 0; r < 6; r++)
            s += av[r * 4 + p];
        assert_close(gv[p * 2], s, 1e-13, 0);
        assert_close(gv[p * 2 + 1], s, 1e-13, 0);
    }
    free(av);
    free(gv);
    double xs[] = {1, 2, 3, 4}, ys[] = {0.5, -1, 2, 0};
    cg_tensor *x = cg_tensor_from_data(CG_F64, 1, &k, xs);
    cg_tensor *y = cg_tensor_from_data(CG_F64, 1, &k, ys);
    assert_ok(cg_tensor_set_requires_grad(x, true));
    assert_ok(cg_tensor_set_requires_grad(y, true));
    assert_ok(cg_backward(cg_matmul(x, y), NULL));
    cg_tensor *gx = cg_tensor_grad(x), *gy = cg_tensor_grad(y);
    assert_int_equal(cg_tensor_ndim(gx), 1);
    for (int64_t i = 0; i < 4; i++) {
        assert_close(cg_tensor_get(gx, &i), ys[i], 0, 0);
        assert_close(cg_tensor_get(gy, &i), xs[i], 0, 0);
    }
    cg_tensor_free(a);
    cg_tensor_free(w);
    cg_tensor_free(x);
    cg_tensor_free(y);
}

static void test_errors(void **state)
{
    (void)state;
    int64_t s23[] = {2, 3}, s45[] = {4, 5}, b1[] = {2, 2, 3}, b2[] = {3, 3, 4}, k3 = 3;
    cg_tensor *a = cg_tensor_ones(CG_F32, 2, s23), *b = cg_tensor_ones(CG_F32, 2, s45);
    assert_null(cg_matmul(a, b));
    assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
    assert_string_equal(cg_last_error(), "matmul: shapes [2, 3] and [4, 5] cannot be multiplied");
    cg_tensor *c = cg_tensor_ones(CG_F32, 3, b1), *d = cg_tensor_ones(CG_F32, 3, b2);
    assert_null(cg_matmul(c, d));
    assert_error_contains("matmul: shapes [2, 2, 3] and [3, 3, 4]");
    cg_tensor *v = cg_tensor_ones(CG_F32, 1, &k3), *s = cg_tensor_scalar(CG_F32, 1);
    assert_null(cg_matmul(v, b));
    assert_error_contains("matmul: shapes [3] and [4, 5]");
    assert_null(cg_matmul(s, v));
    assert_error_contains("matmul");
    cg_tensor *i = cg_tensor_zeros(CG_I64, 2, s23), *f = cg_tensor_ones(CG_F64, 2, s45);
    assert_null(cg_matmul(i, a));
    assert_int_equal(cg_last_status(), CG_ERR_DTYPE);
    assert_error_contains("matmul");
    assert_null(cg_matmul(a, f));
    assert_int_equal(cg_last_status(), CG_ERR_DTYPE);
    cg_clear_error();
    assert_null(cg_matmul(NULL, a));
    assert_int_equal(cg_last_status(), CG_ERR_NULL);
    cg_tensor *objs[] = {a, b, c, d, v, s, i, f};
    for (int n = 0; n < 8; n++)
        cg_tensor_free(objs[n]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_matrix_products),
        CG_TEST(test_large_product),
        CG_TEST(test_strided_operands),
        CG_TEST(test_broadcast_view_operand),
        CG_TEST(test_batched_broadcast),
        CG_TEST(test_many_small_products),
        CG_TEST(test_vector_operands),
        CG_TEST(test_zero_sizes),
        CG_TEST(test_backward_values),
        CG_TEST(test_backward_broadcast_and_vectors),
        CG_TEST(test_errors),
    };
    return cmocka_run_group_tests_name("matmul", tests, NULL, NULL);
}
