/* Shape ops: views share storage (no copies), reshape copies only when strides cannot
 * express the result, Python slicing rules, expand's zero strides, the composites, detach,
 * gradients through each op (hand-computed), and errors for every bad argument. */
#include <string.h>

#include "test_util.h"

/* A caller-owned f64 tensor holding 0, 1, 2, ... */
static cg_tensor *iota(int ndim, const int64_t *shape)
{
    cg_tensor *t = cg_tensor_zeros(CG_F64, ndim, shape);
    double *d = cg_tensor_data(t);
    for (int64_t i = 0; i < cg_tensor_numel(t); i++)
        d[i] = (double)i;
    return t;
}

/* t's values in row-major order equal want[0..n). */
static void assert_values(const cg_tensor *t, const double *want, int64_t n)
{
    assert_int_equal(cg_tensor_numel(t), n);
    double got[64];
    assert_true(n <= 64);
    assert_ok(cg_tensor_to_f64(t, got));
    for (int64_t i = 0; i < n; i++)
        assert_close(got[i], want[i], 0, 0);
}

static void assert_shape(const cg_tensor *t, int ndim, const int64_t *shape)
{
    assert_int_equal(cg_tensor_ndim(t), ndim);
    for (int d = 0; d < ndim; d++)
        assert_int_equal(cg_tensor_size(t, d), shape[d]);
}

static void assert_strides(const cg_tensor *t, const int64_t *strides)
{
    for (int d = 0; d < cg_tensor_ndim(t); d++)
        assert_int_equal(cg_tensor_strides(t)[d], strides[d]);
}

/* A failed call returned NULL with this status and a message containing text. */
static void assert_fails(const cg_tensor *t, cg_status status, const char *text)
{
    assert_null(t);
    assert_int_equal(cg_last_status(), status);
    assert_error_contains(text);
    cg_clear_error();
}

/* ---- reshape ---- */

static void test_reshape_is_a_view(void **state)
{
    (void)state;
    int64_t s6 = 6, s23[] = {2, 3};
    cg_tensor *x = iota(1, &s6);
    cg_tensor *y = cg_reshape(x, 2, s23);
    assert_tensor(y);
    assert_shape(y, 2, s23);
    assert_strides(y, (int64_t[]){3, 1});
    assert_ptr_equal(cg_tensor_data(y), cg_tensor_data(x));
    /* A write through the view shows in the base: same storage, no copy. */
    assert_ok(cg_tensor_set(y, (int64_t[]){1, 2}, 42.0));
    assert_close(cg_tensor_get(x, (int64_t[]){5}), 42.0, 0, 0);
    assert_string_equal(cg_tensor_op_name(y), "leaf"); /* nothing requires grad */
    cg_tensor_free(x);
}

/* A view on the tape keeps the storage of a caller-owned base alive after it is freed. */
static void test_view_outlives_its_base(void **state)
{
    (void)state;
    int64_t s6 = 6;
    cg_tensor *x = iota(1, &s6);
    cg_tensor *y = cg_slice(cg_reshape(x, 2, (int64_t[]){3, 2}), 1, 1, 2, 1);
    cg_tensor_free(x);
    assert_values(y, (double[]){1, 3, 5}, 3);
}

static void test_reshape_infers_minus_one(void **state)
{
    (void)state;
    int64_t s234[] = {2, 3, 4};
    cg_tensor *x = iota(3, s234);
    cg_tensor *y = cg_reshape(x, 2, (int64_t[]){-1, 6});
    assert_tensor(y);
    assert_shape(y, 2, (int64_t[]){4, 6});
    y = cg_reshape(x, 3, (int64_t[]){2, -1, 1});
    assert_tensor(y);
    assert_shape(y, 3, (int64_t[]){2, 12, 1});
    y = cg_reshape(x, 1, (int64_t[]){-1});
    assert_shape(y, 1, (int64_t[]){24});
    /* one element: reshape to 0-d and back */
    cg_tensor *one = cg_tensor_scalar(CG_F32, 3.0);
    cg_tensor *r = cg_reshape(one, 3, (int64_t[]){1, -1, 1});
    assert_tensor(r);
    assert_shape(r, 3, (int64_t[]){1, 1, 1});
    r = cg_reshape(r, 0, NULL);
    assert_tensor(r);
    assert_int_equal(cg_tensor_ndim(r), 0);
    assert_close(cg_tensor_item(r), 3.0, 0, 0);
    cg_tensor_free(one);
    cg_tensor_free(x);
}

static void test_reshape_of_permuted_copies(void **state)
{
    (void)state;
    int64_t s23[] = {2, 3};
    cg_tensor *x = iota(2, s23);
    cg_tensor *t = cg_transpose(x, 0, 1); /* [[0,3],[1,4],[2,5]] */
    assert_tensor(t);
    assert_false(cg_tensor_is_contiguous(t));
    cg_tensor *flat = cg_reshape(t, 1, (int64_t[]){6});
    assert_tensor(flat);
    assert_true(cg_tensor_is_contiguous(flat));
    assert_ptr_not_equal(cg_tensor_data(flat), cg_tensor_data(x));
    assert_values(flat, (double[]){0, 3, 1, 4, 2, 5}, 6);
    /* A shape the strides can express is still a view of the transposed tensor. */
    cg_tensor *v = cg_reshape(t, 3, (int64_t[]){3, 1, 2});
    assert_ptr_equal(cg_tensor_data(v), cg_tensor_data(x));
    assert_int_equal(cg_tensor_strides(v)[0], 1);
    assert_int_equal(cg_tensor_strides(v)[2], 3);
    cg_tensor_free(x);
}

static void test_reshape_of_slices(void **state)
{
    (void)state;
    int64_t s46[] = {4, 6};
    cg_tensor *x = iota(2, s46);
    /* Every other column of 6 is every other element: evenly spaced, so a flat view. */
    cg_tensor *even = cg_slice(x, 1, 0, 6, 2); /* [4, 3], strides [6, 2] */
    assert_strides(even, (int64_t[]){6, 2});
    cg_tensor *flat = cg_reshape(even, 1, (int64_t[]){12});
    assert_strides(flat, (int64_t[]){2});
    assert_ptr_equal(cg_tensor_data(flat), cg_tensor_data(x));
    assert_values(flat, (double[]){0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22}, 12);
    /* Columns 0 and 2 of each row leave a gap between rows. */
    cg_tensor *s = cg_slice(x, 1, 0, 4, 2); /* [4, 2], strides [6, 2] */
    /* Splitting the outer dimension keeps a view. */
    cg_tensor *v = cg_reshape(s, 3, (int64_t[]){2, 2, 2});
    assert_tensor(v);
    assert_strides(v, (int64_t[]){12, 6, 2});
    assert_ptr_equal(cg_tensor_data(v), cg_tensor_data(x));
    /* Merging across the gap needs a copy. */
    cg_tensor *c = cg_reshape(s, 1, (int64_t[]){8});
    assert_ptr_not_equal(cg_tensor_data(c), cg_tensor_data(x));
    assert_true(cg_tensor_is_contiguous(c));
    assert_values(c, (double[]){0, 2, 6, 8, 12, 14, 18, 20}, 8);
    cg_tensor_free(x);
}

static void test_reshape_zero_size(void **state)
{
    (void)state;
    int64_t s203[] = {2, 0, 3};
    cg_tensor *x = cg_tensor_zeros(CG_F64, 3, s203);
    cg_tensor *y = cg_reshape(x, 2, (int64_t[]){0, 5});
    assert_tensor(y);
    assert_shape(y, 2, (int64_t[]){0, 5});
    y = cg_reshape(x, 3, s203);
    assert_strides(y, cg_tensor_strides(x));
    /* -1 next to a 0 could be anything: refused, as in PyTorch */
    assert_fails(cg_reshape(x, 2, (int64_t[]){0, -1}), CG_ERR_SHAPE, "reshape");
    cg_tensor_free(x);
}

static void test_reshape_errors(void **state)
{
    (void)state;
    int64_t s23[] = {2, 3};
    cg_tensor *x = iota(2, s23);
    assert_fails(cg_reshape(x, 2, (int64_t[]){4, 2}), CG_ERR_SHAPE, "[4, 2]");
    assert_fails(cg_reshape(x, 2, (int64_t[]){4, -1}), CG_ERR_SHAPE, "[2, 3]");
    assert_fails(cg_reshape(x, 2, (int64_t[]){-1, -1}), CG_ERR_VALUE, "reshape");
    assert_fails(cg_reshape(x, 2, (int64_t[]){-2, -3}), CG_ERR_VALUE, "reshape");
    assert_fails(cg_reshape(x, 2, NULL), CG_ERR_NULL, "reshape");
    assert_fails(cg_reshape(x, CG_MAX_DIMS + 1, (int64_t[9]){0}), CG_ERR_VALUE, "reshape");
    assert_fails(cg_reshape(x, -1, NULL), CG_ERR_VALUE, "reshape");
    assert_fails(cg_reshape(NULL, 1, (int64_t[]){6}), CG_ERR_NULL, "reshape");
    cg_tensor_free(x);
}

static void test_reshape_backward(void **state)
{
    (void)state;
    int64_t s23[] = {2, 3}, s32[] = {3, 2};
    cg_tensor *x = iota(2, s23);
    assert_ok(cg_tensor_set_requires_grad(x, true));
    /* the copy path: reshape of a transpose */
    cg_tensor *y = cg_reshape(cg_transpose(x, 0, 1), 2, s23); /* [[0,3,1],[4,2,5]] */
    assert_string_equal(cg_tensor_op_name(y), "reshape");
    cg_tensor *g = iota(2, s23);
    assert_ok(cg_backward(y, g));
    /* y[i][j] = x^T flat[3i + j]; g flat k lands on x^T flat k = x[k % 2][k / 2] */
    assert_values(cg_tensor_grad(x), (double[]){0, 2, 4, 1, 3, 5}, 6);
    cg_tensor_zero_grad(x);
    /* the view path */
    cg_tensor *z = cg_reshape(x, 2, s32);
    cg_tensor *gz = iota(2, s32);
    assert_ok(cg_backward(z, gz));
    assert_values(cg_tensor_grad(x), (double[]){0, 1, 2, 3, 4, 5}, 6);
    cg_tensor_free(gz);
    cg_tensor_free(g);
    cg_tensor_free(x);
}

/* ---- permute and transpose ---- */

static void test_permute_view_and_backward(void **state)
{
    (void)state;
    int64_t s234[] = {2, 3, 4}, s423[] = {4, 2, 3};
    cg_tensor *x = iota(3, s234);
    assert_ok(cg_tensor_set_requires_grad(x, true));
    cg_tensor *y = cg_permute(x, (int[]){2, 0, 1});
    assert_tensor(y);
    assert_shape(y, 3, s423);
    assert_strides(y, (int64_t[]){1, 12, 4});
    assert_ptr_equal(cg_tensor_data(y), cg_tensor_data(x));
    assert_close(cg_tensor_get(y, (int64_t[]){3, 1, 2}), 12 + 8 + 3, 0, 0);
    /* negative entries count from the end */
    cg_tensor *y2 = cg_permute(x, (int[]){-1, 0, -2});
    assert_strides(y2, (int64_t[]){1, 12, 4});
    cg_tensor *g = iota(3, s423);
    assert_ok(cg_backward(y, g));
    /* x.grad[i][j][k] = g[k][i][j] = 6k + 3i + j */
    cg_tensor *gx = cg_tensor_grad(x);
    for (int64_t i = 0; i < 2; i++)
        for (int64_t j = 0; j < 3; j++)
            for (int64_t k = 0; k < 4; k++)
                assert_close(cg_tensor_get(gx, (int64_t[]){i, j, k}), 6 * k + 3 * i + j, 0, 0);
    cg_tensor_free(g);
    cg_tensor_free(x);
}

static void test_permute_errors(void **state)
{
    (void)state;
    int64_t s23[] = {2, 3};
    cg_tensor *x = iota(2, s23);
    assert_fails(cg_permute(x, (int[]){1, 1}), CG_ERR_VALUE, "permute");
    assert_fails(cg_permute(x, (int[]){0, 2}), CG_ERR_VALUE, "[2, 3]");
    assert_fails(cg_permute(x, (int[]){-3, 0}), CG_ERR_VALUE, "permute");
    assert_fails(cg_permute(x, NULL), CG_ERR_NULL, "permute");
    assert_fails(cg_transpose(x, 0, 2), CG_ERR_VALUE, "transpose");
    cg_tensor_free(x);
}

static void test_transpose(void **state)
{
    (void)state;
    int64_t s23[] = {2, 3};
    cg_tensor *x = iota(2, s23);
    cg_tensor *t = cg_transpose(x, -1, -2);
    assert_tensor(t);
    assert_shape(t, 2, (int64_t[]){3, 2});
    assert_strides(t, (int64_t[]){1, 3});
    assert_values(t, (double[]){0, 3, 1, 4, 2, 5}, 6);
    cg_tensor *same = cg_transpose(x, 1, 1);
    assert_strides(same, (int64_t[]){3, 1});
    cg_tensor *s = cg_tensor_scalar(CG_F64, 2.0);
    cg_tensor *ts = cg_transpose(s, 0, -1);
    assert_tensor(ts);
    assert_int_equal(cg_tensor_ndim(ts), 0);
    cg_tensor_free(s);
    cg_tensor_free(x);
}

static void test_permute_negative_is_valid(void **state)
{
    (void)state;
    int64_t s23[] = {2, 3};
    cg_tensor *x = iota(2, s23);
    cg_tensor *y = cg_permute(x, (int[]){-1, 0});
    assert_tensor(y);
    assert_shape(y, 2, (int64_t[]){3, 2});
    cg_tensor_free(x);
}

/* ---- slice and slice_scatter ---- */

static void test_slice_python_rules(void **state)
{
    (void)state;
    int64_t n = 10;
    cg_tensor *x = iota(1, &n);
    double *base = cg_tensor_data(x);
    cg_tensor *s = cg_slice(x, 0, 2, 8, 2);
    assert_values(s, (double[]){2, 4, 6}, 3);
    assert_strides(s, (int64_t[]){2});
    assert_ptr_equal(cg_tensor_data(s), base + 2);
    assert_values(cg_slice(x, 0, -3, 100, 1), (double[]){7, 8, 9}, 3);
    assert_values(cg_slice(x, -1, -100, -5, 1), (double[]){0, 1, 2, 3, 4}, 5);
    assert_values(cg_slice(x, 0, 1, -1, 3), (double[]){1, 4, 7}, 3);
    assert_values(cg_slice(x, 0, 0, 10, 100), (double[]){0}, 1);
    assert_values(cg_slice(x, 0, 9, INT64_MAX, INT64_MAX), (double[]){9}, 1);
    /* empty ranges */
    assert_int_equal(cg_tensor_numel(cg_slice(x, 0, 5, 2, 1)), 0);
    assert_int_equal(cg_tensor_numel(cg_slice(x, 0, 10, 20, 1)), 0);
    assert_int_equal(cg_tensor_numel(cg_slice(x, 0, -2, -2, 1)), 0);
    /* writes through a strided slice reach the base */
    assert_ok(cg_tensor_set(s, (int64_t[]){1}, -4.0));
    assert_close(base[4], -4.0, 0, 0);
    cg_tensor_free(x);
}

static void test_slice_2d_and_backward(void **state)
{
    (void)state;
    int64_t s35[] = {3, 5};
    cg_tensor *x = iota(2, s35);
    assert_ok(cg_tensor_set_requires_grad(x, true));
    cg_tensor *y = cg_slice(x, 1, 1, 5, 2); /* columns 1 and 3 */
    assert_shape(y, 2, (int64_t[]){3, 2});
    assert_strides(y, (int64_t[]){5, 2});
    assert_values(y, (double[]){1, 3, 6, 8, 11, 13}, 6);
    int64_t s32[] = {3, 2};
    cg_tensor *g = iota(2, s32);
    cg_tensor_set(g, (int64_t[]){0, 0}, 7.0);
    assert_ok(cg_backward(y, g));
    assert_values(cg_tensor_grad(x),
                  (double[]){0, 7, 0, 1, 0, 0, 2, 0, 3, 0, 0, 4, 0, 5, 0}, 15);
    cg_tensor_free(g);
    cg_tensor_free(x);
}

static void test_slice_zero_size_backward(void **state)
{
    (void)state;
    int64_t s23[] = {2, 3};
    cg_tensor *x = iota(2, s23);
    assert_ok(cg_tensor_set_requires_grad(x, true));
    cg_tensor *y = cg_slice(x, 0, 2, 5, 1);
    assert_tensor(y);
    assert_shape(y, 2, (int64_t[]){0, 3});
    cg_tensor *g = cg_tensor_zeros(CG_F64, 2, (int64_t[]){0, 3});
    assert_ok(cg_backward(y, g));
    assert_values(cg_tensor_grad(x), (double[]){0, 0, 0, 0, 0, 0}, 6);
    cg_tensor_free(g);
    cg_tensor_free(x);
}

static void test_slice_errors(void **state)
{
    (void)state;
    int64_t n = 4;
    cg_tensor *x = iota(1, &n);
    assert_fails(cg_slice(x, 0, 0, 4, 0), CG_ERR_VALUE, "step");
    assert_fails(cg_slice(x, 0, 4, 0, -1), CG_ERR_VALUE, "slice");
    assert_fails(cg_slice(x, 1, 0, 4, 1), CG_ERR_VALUE, "slice");
    assert_fails(cg_slice(x, -2, 0, 4, 1), CG_ERR_VALUE, "axis");
    cg_tensor *s = cg_tensor_scalar(CG_F64, 1.0);
    assert_fails(cg_slice(s, 0, 0, 1, 1), CG_ERR_SHAPE, "0-d");
    assert_fails(cg_slice(NULL, 0, 0, 1, 1), CG_ERR_NULL, "slice");
    cg_tensor_free(s);
    cg_tensor_free(x);
}

static void test_slice_scatter(void **state)
{
    (void)state;
    int64_t s22[] = {2, 2}, s24[] = {2, 4};
    cg_tensor *x = iota(2, s22);
    assert_ok(cg_tensor_set_requires_grad(x, true));
    cg_tensor *y = cg_slice_scatter(x, 2, s24, 1, -3, 4, 2); /* columns 1 and 3 */
    assert_tensor(y);
    assert_string_equal(cg_tensor_op_name(y), "slice_scatter");
    assert_values(y, (double[]){0, 0, 0, 1, 0, 2, 0, 3}, 8);
    cg_tensor *g = iota(2, s24);
    assert_ok(cg_backward(y, g));
    assert_values(cg_tensor_grad(x), (double[]){1, 3, 5, 7}, 4);
    /* errors: the source must match the slice exactly */
    assert_fails(cg_slice_scatter(x, 2, s24, 1, 0, 4, 1), CG_ERR_SHAPE, "[2, 4]");
    assert_fails(cg_slice_scatter(x, 2, s24, 1, 0, 4, 0), CG_ERR_VALUE, "step");
    assert_fails(cg_slice_scatter(x, 2, s24, 2, 0, 2, 1), CG_ERR_VALUE, "axis");
    assert_fails(cg_slice_scatter(x, 2, NULL, 0, 0, 2, 1), CG_ERR_NULL, "slice_scatter");
    assert_fails(cg_slice_scatter(x, 3, (int64_t[]){2, 4, 1}, 1, 0, 2, 1), CG_ERR_SHAPE,
                 "slice_scatter");
    assert_fails(cg_slice_scatter(x, 2, (int64_t[]){2, -4}, 1, 0, 2, 1), CG_ERR_VALUE,
                 "slice_scatter");
    cg_tensor_free(g);
    cg_tensor_free(x);
}

/* Double backward through slice: y = s(x)^2 elementwise, gx = slice_scatter(2 s(x) u);
 * d<gx, v>/dx = slice_scatter(2 u s(v)). */
static void test_slice_double_backward(void **state)
{
    (void)state;
    int64_t n = 5, m = 2;
    cg_tensor *x = iota(1, &n);
    assert_ok(cg_tensor_set_requires_grad(x, true));
    cg_tensor *s = cg_slice(x, 0, 1, 5, 2); /* x1, x3 */
    cg_tensor *y = cg_mul(s, s);
    cg_tensor *u = cg_tensor_from_data(CG_F64, 1, &m, (double[]){10, 100});
    cg_tensor *gx = NULL;
    cg_grad_options opt = {.create_graph = true};
    assert_ok(cg_grad(&y, 1, &u, &x, 1, &gx, &opt));
    assert_values(gx, (double[]){0, 20, 0, 600, 0}, 5);
    cg_tensor *v = cg_tensor_from_data(CG_F64, 1, &n, (double[]){1, 2, 3, 4, 5});
    assert_ok(cg_backward(gx, v));
    assert_values(cg_tensor_grad(x), (double[]){0, 40, 0, 800, 0}, 5);
    cg_tensor_free(v);
    cg_tensor_free(u);
    cg_tensor_free(x);
}

/* ---- expand ---- */

static void test_expand_strides(void **state)
{
    (void)state;
    int64_t s31[] = {3, 1};
    cg_tensor *x = iota(2, s31);
    cg_tensor *y = cg_expand(x, 3, (int64_t[]){2, 3, 4});
    assert_tensor(y);
    assert_shape(y, 3, (int64_t[]){2, 3, 4});
    assert_strides(y, (int64_t[]){0, 1, 0});
    assert_ptr_equal(cg_tensor_data(y), cg_tensor_data(x));
    assert_close(cg_tensor_get(y, (int64_t[]){1, 2, 3}), 2.0, 0, 0);
    cg_tensor *k = cg_expand(x, 2, (int64_t[]){-1, 5});
    assert_shape(k, 2, (int64_t[]){3, 5});
    cg_tensor *z = cg_expand(x, 2, (int64_t[]){3, 0});
    assert_shape(z, 2, (int64_t[]){3, 0});
    cg_tensor *s = cg_tensor_scalar(CG_F32, 1.5);
    cg_tensor *e = cg_expand(s, 2, (int64_t[]){2, 2});
    assert_strides(e, (int64_t[]){0, 0});
    assert_close(cg_tensor_get(e, (int64_t[]){1, 1}), 1.5, 0, 0);
    cg_tensor_free(s);
    cg_tensor_free(x);
}

static void test_expand_errors(void **state)
{
    (void)state;
    int64_t s31[] = {3, 1};
    cg_tensor *x = iota(2, s31);
    assert_fails(cg_expand(x, 2, (int64_t[]){4, 2}), CG_ERR_SHAPE, "[3, 1]");
    assert_fails(cg_expand(x, 1, (int64_t[]){3}), CG_ERR_SHAPE, "expand");
    assert_fails(cg_expand(x, 3, (int64_t[]){-1, 3, 2}), CG_ERR_VALUE, "expand");
    assert_fails(cg_expand(x, 2, (int64_t[]){3, -2}), CG_ERR_VALUE, "expand");
    assert_fails(cg_expand(x, 2, NULL), CG_ERR_NULL, "expand");
    assert_fails(cg_expand(x, CG_MAX_DIMS + 1, (int64_t[9]){0}), CG_ERR_SHAPE, "expand");
    cg_tensor_free(x);
}

/* Needs cg_sum_to (reduce.c). */
static void test_expand_backward(void **state)
{
    (void)state;
    int64_t s31[] = {3, 1}, s234[] = {2, 3, 4};
    cg_tensor *x = iota(2, s31);
    assert_ok(cg_tensor_set_requires_grad(x, true));
    cg_tensor *y = cg_expand(x, 3, s234);
    cg_tensor *g = iota(3, s234);
    assert_ok(cg_backward(y, g));
    /* x.grad[j] = sum over i < 2, k < 4 of (12i + 4j + k) = 32j + 48 + 12 */
    assert_values(cg_tensor_grad(x), (double[]){60, 92, 124}, 3);
    cg_tensor_free(g);
    cg_tensor_free(x);
}

/* ---- composites ---- */

static void test_unsqueeze_squeeze(void **state)
{
    (void)state;
    int64_t s23[] = {2, 3};
    cg_tensor *x = iota(2, s23);
    cg_tensor *u = cg_unsqueeze(x, 1);
    assert_shape(u, 3, (int64_t[]){2, 1, 3});
    assert_ptr_equal(cg_tensor_data(u), cg_tensor_data(x));
    assert_shape(cg_unsqueeze(x, -1), 3, (int64_t[]){2, 3, 1});
    assert_shape(cg_unsqueeze(x, 0), 3, (int64_t[]){1, 2, 3});
    assert_shape(cg_unsqueeze(x, -3), 3, (int64_t[]){1, 2, 3});
    cg_tensor *q = cg_squeeze(u, -2);
    assert_shape(q, 2, s23);
    assert_ptr_equal(cg_tensor_data(q), cg_tensor_data(x));
    /* a dimension whose size is not 1 is left alone, as torch.squeeze(x, dim) */
    assert_shape(cg_squeeze(x, 0), 2, s23);
    cg_tensor *s = cg_tensor_scalar(CG_F64, 4.0);
    assert_int_equal(cg_tensor_ndim(cg_squeeze(s, 0)), 0);
    assert_shape(cg_unsqueeze(s, 0), 1, (int64_t[]){1});
    /* transposed input: still views */
    cg_tensor *t = cg_transpose(x, 0, 1);
    cg_tensor *tu = cg_unsqueeze(t, 1);
    assert_ptr_equal(cg_tensor_data(tu), cg_tensor_data(x));
    assert_values(tu, (double[]){0, 3, 1, 4, 2, 5}, 6);
    assert_fails(cg_unsqueeze(x, 3), CG_ERR_VALUE, "unsqueeze");
    assert_fails(cg_unsqueeze(x, -4), CG_ERR_VALUE, "unsqueeze");
    assert_fails(cg_squeeze(x, 2), CG_ERR_VALUE, "squeeze");
    int64_t s8[CG_MAX_DIMS] = {1, 1, 1, 1, 1, 1, 1, 1};
    cg_tensor *big = cg_reshape(s, CG_MAX_DIMS, s8);
    assert_fails(cg_unsqueeze(big, 0), CG_ERR_VALUE, "unsqueeze");
    cg_tensor_free(s);
    cg_tensor_free(x);
}

static void test_flatten(void **state)
{
    (void)state;
    int64_t s234[] = {2, 3, 4};
    cg_tensor *x = iota(3, s234);
    cg_tensor *f = cg_flatten(x, 0, -1);
    assert_shape(f, 1, (int64_t[]){24});
    assert_ptr_equal(cg_tensor_data(f), cg_tensor_data(x));
    assert_shape(cg_flatten(x, 1, 2), 2, (int64_t[]){2, 12});
    assert_shape(cg_flatten(x, 0, 1), 2, (int64_t[]){6, 4});
    assert_shape(cg_flatten(x, 1, 1), 3, s234);
    /* a permuted input cannot be merged in place: torch.flatten copies */
    cg_tensor *p = cg_permute(x, (int[]){2, 1, 0});
    cg_tensor *pf = cg_flatten(p, 0, 1);
    assert_shape(pf, 2, (int64_t[]){12, 2});
    assert_ptr_not_equal(cg_tensor_data(pf), cg_tensor_data(x));
    assert_close(cg_tensor_get(pf, (int64_t[]){5, 1}), 12 + 4 * 2 + 1, 0, 0);
    cg_tensor *s = cg_tensor_scalar(CG_F64, 4.0);
    assert_shape(cg_flatten(s, 0, -1), 1, (int64_t[]){1});
    assert_fails(cg_flatten(x, 2, 1), CG_ERR_VALUE, "flatten");
    assert_fails(cg_flatten(x, 0, 3), CG_ERR_VALUE, "flatten");
    cg_tensor_free(s);
    cg_tensor_free(x);
}

static void test_composites_backward(void **state)
{
    (void)state;
    int64_t s23[] = {2, 3}, s6 = 6;
    cg_tensor *x = iota(2, s23);
    assert_ok(cg_tensor_set_requires_grad(x, true));
    cg_tensor *y = cg_flatten(cg_squeeze(cg_unsqueeze(cg_transpose(x, 0, 1), 0), 0), 0, 1);
    assert_tensor(y);
    assert_values(y, (double[]){0, 3, 1, 4, 2, 5}, 6);
    cg_tensor *g = iota(1, &s6);
    assert_ok(cg_backward(y, g));
    assert_values(cg_tensor_grad(x), (double[]){0, 2, 4, 1, 3, 5}, 6);
    cg_tensor_free(g);
    cg_tensor_free(x);
}

/* ---- detach ---- */

static void test_detach(void **state)
{
    (void)state;
    int64_t n = 3;
    cg_tensor *x = cg_tensor_from_data(CG_F64, 1, &n, (double[]){1, 2, 3});
    assert_ok(cg_tensor_set_requires_grad(x, true));
    cg_tensor *d = cg_detach(x);
    assert_tensor(d);
    assert_false(cg_tensor_requires_grad(d));
    assert_string_equal(cg_tensor_op_name(d), "leaf");
    assert_ptr_equal(cg_tensor_data(d), cg_tensor_data(x));
    /* d(x * detach(x))/dx = detach(x), not 2x */
    cg_tensor *y = cg_mul(x, d);
    cg_tensor *g = cg_tensor_ones(CG_F64, 1, &n);
    assert_ok(cg_backward(y, g));
    assert_values(cg_tensor_grad(x), (double[]){1, 2, 3}, 3);
    assert_null(cg_detach(NULL));
    cg_clear_error();
    cg_tensor_free(g);
    cg_tensor_free(x);
}

static void test_detach_needs_tape(void **state)
{
    (void)state;
    int64_t n = 3;
    cg_tensor *x = iota(1, &n);
    cg_tape *prev = cg_tape_use(NULL);
    assert_fails(cg_detach(x), CG_ERR_STATE, "detach");
    assert_fails(cg_reshape(x, 1, &n), CG_ERR_STATE, "reshape");
    cg_tape_use(prev);
    cg_tensor_free(x);
}

/* ---- f32 and NULL propagation ---- */

static void test_f32_views(void **state)
{
    (void)state;
    int64_t s23[] = {2, 3};
    float data[] = {1, 2, 3, 4, 5, 6};
    cg_tensor *x = cg_tensor_from_data(CG_F32, 2, s23, data);
    assert_ok(cg_tensor_set_requires_grad(x, true));
    cg_tensor *y = cg_slice(cg_transpose(x, 0, 1), 0, 1, 3, 1); /* [[2,5],[3,6]] */
    assert_int_equal(cg_tensor_dtype(y), CG_F32);
    assert_values(y, (double[]){2, 5, 3, 6}, 4);
    cg_tensor *g = cg_tensor_ones(CG_F32, 2, (int64_t[]){2, 2});
    assert_ok(cg_backward(y, g));
    assert_int_equal(cg_tensor_dtype(cg_tensor_grad(x)), CG_F32);
    assert_values(cg_tensor_grad(x), (double[]){0, 1, 1, 0, 1, 1}, 6);
    cg_tensor_free(g);
    cg_tensor_free(x);
}

static void test_null_keeps_first_error(void **state)
{
    (void)state;
    int64_t n = 4;
    cg_tensor *x = iota(1, &n);
    cg_tensor *bad = cg_slice(x, 0, 0, 4, 0);
    cg_tensor *y = cg_flatten(cg_transpose(cg_expand(cg_reshape(bad, 1, &n), 1, &n), 0, 0), 0, 0);
    assert_null(y);
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_error_contains("slice: step");
    cg_clear_error();
    assert_null(cg_permute(NULL, NULL));
    assert_null(cg_unsqueeze(NULL, 0));
    assert_null(cg_squeeze(NULL, 0));
    assert_null(cg_slice_scatter(NULL, 1, &n, 0, 0, 1, 1));
    assert_int_equal(cg_last_status(), CG_ERR_NULL);
    cg_clear_error();
    cg_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_reshape_is_a_view),
        CG_TEST(test_view_outlives_its_base),
        CG_TEST(test_reshape_infers_minus_one),
        CG_TEST(test_reshape_of_permuted_copies),
        CG_TEST(test_reshape_of_slices),
        CG_TEST(test_reshape_zero_size),
        CG_TEST(test_reshape_errors),
        CG_TEST(test_reshape_backward),
        CG_TEST(test_permute_view_and_backward),
        CG_TEST(test_permute_errors),
        CG_TEST(test_permute_negative_is_valid),
        CG_TEST(test_transpose),
        CG_TEST(test_slice_python_rules),
        CG_TEST(test_slice_2d_and_backward),
        CG_TEST(test_slice_zero_size_backward),
        CG_TEST(test_slice_errors),
        CG_TEST(test_slice_scatter),
        CG_TEST(test_slice_double_backward),
        CG_TEST(test_expand_strides),
        CG_TEST(test_expand_errors),
        CG_TEST(test_expand_backward),
        CG_TEST(test_unsqueeze_squeeze),
        CG_TEST(test_flatten),
        CG_TEST(test_composites_backward),
        CG_TEST(test_detach),
        CG_TEST(test_detach_needs_tape),
        CG_TEST(test_f32_views),
        CG_TEST(test_null_keeps_first_error),
    };
    return cmocka_run_group_tests_name("shape", tests, NULL, NULL);
}
