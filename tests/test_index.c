/* Joining and indexing ops: concat/stack values and gradients, index_select, gather,
 * index_add and scatter_add including duplicate indices, results independent of the thread
 * count, double backward through a selection, and errors for every bad argument. */
#include <string.h>

#include "test_util.h"

/* A caller-owned f64 tensor holding start, start + 1, ... */
static cg_tensor *iota_from(int ndim, const int64_t *shape, double start)
{
    cg_tensor *t = cg_tensor_zeros(CG_F64, ndim, shape);
    double *d = cg_tensor_data(t);
    for (int64_t i = 0; i < cg_tensor_numel(t); i++)
        d[i] = start + (double)i;
    return t;
}

static cg_tensor *iota(int ndim, const int64_t *shape) { return iota_from(ndim, shape, 0.0); }

/* A caller-owned i64 tensor from values. */
static cg_tensor *indices(int ndim, const int64_t *shape, const int64_t *values)
{
    return cg_tensor_from_data(CG_I64, ndim, shape, values);
}

static void assert_values(const cg_tensor *t, const double *want, int64_t n)
{
    assert_non_null(t);
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

static void assert_fails(const cg_tensor *t, cg_status status, const char *text)
{
    assert_null(t);
    assert_int_equal(cg_last_status(), status);
    assert_error_contains(text);
    cg_clear_error();
}

/* ---- concat and stack ---- */

static void test_concat_values_and_grads(void **state)
{
    (void)state;
    int64_t s22[] = {2, 2}, s23[] = {2, 3}, s20[] = {2, 0}, s25[] = {2, 5};
    cg_tensor *a = iota(2, s22), *b = iota_from(2, s23, 10), *e = iota(2, s20);
    assert_ok(cg_tensor_set_requires_grad(a, true));
    assert_ok(cg_tensor_set_requires_grad(b, true));
    assert_ok(cg_tensor_set_requires_grad(e, true));
    cg_tensor *xs[] = {a, e, b};
    cg_tensor *y = cg_concat(xs, 3, -1);
    assert_tensor(y);
    assert_shape(y, 2, s25);
    assert_values(y, (double[]){0, 1, 10, 11, 12, 2, 3, 13, 14, 15}, 10);
    cg_tensor *g = iota_from(2, s25, 100);
    assert_ok(cg_backward(y, g));
    assert_values(cg_tensor_grad(a), (double[]){100, 101, 105, 106}, 4);
    assert_values(cg_tensor_grad(b), (double[]){102, 103, 104, 107, 108, 109}, 6);
    assert_shape(cg_tensor_grad(e), 2, s20);
    /* along axis 0, and a single input */
    cg_tensor *rows[] = {a, a};
    assert_values(cg_concat(rows, 2, 0), (double[]){0, 1, 2, 3, 0, 1, 2, 3}, 8);
    assert_values(cg_concat(rows, 1, 1), (double[]){0, 1, 2, 3}, 4);
    cg_tensor_free(g);
    cg_tensor_free(a);
    cg_tensor_free(b);
    cg_tensor_free(e);
}

/* Inputs that are views (a transpose, a stride-0 expand) are read through their strides. */
static void test_concat_of_views(void **state)
{
    (void)state;
    int64_t s23[] = {2, 3}, s1 = 1;
    cg_tensor *x = iota(2, s23);
    cg_tensor *one = cg_tensor_from_data(CG_F32, 1, &s1, (float[]){7});
    cg_tensor *xf = cg_to_dtype(x, CG_F32);
    cg_tensor *xs[] = {cg_transpose(xf, 0, 1), cg_expand(one, 2, (int64_t[]){3, 2})};
    cg_tensor *y = cg_concat(xs, 2, 1);
    assert_int_equal(cg_tensor_dtype(y), CG_F32);
    assert_values(y, (double[]){0, 3, 7, 7, 1, 4, 7, 7, 2, 5, 7, 7}, 12);
    cg_tensor_free(one);
    cg_tensor_free(x);
}

static void test_concat_errors(void **state)
{
    (void)state;
    int64_t s22[] = {2, 2}, s32[] = {3, 2}, s2 = 2;
    cg_tensor *a = iota(2, s22), *b = iota(2, s32), *v = iota(1, &s2);
    cg_tensor *f = cg_tensor_zeros(CG_F32, 2, s22), *s = cg_tensor_scalar(CG_F64, 1.0);
    cg_tensor *ab[] = {a, b}, *af[] = {a, f}, *av[] = {a, v}, *ss[] = {s, s}, *an[] = {a, NULL};
    assert_fails(cg_concat(ab, 2, 1), CG_ERR_SHAPE, "[3, 2]");
    assert_fails(cg_concat(af, 2, 0), CG_ERR_DTYPE, "concat");
    assert_fails(cg_concat(av, 2, 0), CG_ERR_SHAPE, "concat");
    assert_fails(cg_concat(ss, 2, 0), CG_ERR_SHAPE, "0-d");
    assert_fails(cg_concat(ab, 2, 2), CG_ERR_VALUE, "axis");
    assert_fails(cg_concat(ab, 0, 0), CG_ERR_VALUE, "concat");
    assert_fails(cg_concat(NULL, 2, 0), CG_ERR_NULL, "concat");
    assert_fails(cg_concat(an, 2, 0), CG_ERR_NULL, "concat");
    /* concat along 0 of [2,2] and [3,2] is fine */
    assert_tensor(cg_concat(ab, 2, 0));
    cg_tensor_free(a);
    cg_tensor_free(b);
    cg_tensor_free(v);
    cg_tensor_free(f);
    cg_tensor_free(s);
}

static void test_stack_values_and_grads(void **state)
{
    (void)state;
    int64_t s2 = 2, s32[] = {3, 2}, s23[] = {2, 3};
    cg_tensor *a = iota(1, &s2), *b = iota_from(1, &s2, 10), *c = iota_from(1, &s2, 20);
    assert_ok(cg_tensor_set_requires_grad(b, true));
    cg_tensor *xs[] = {a, b, c};
    cg_tensor *y0 = cg_stack(xs, 3, 0);
    assert_shape(y0, 2, s32);
    assert_values(y0, (double[]){0, 1, 10, 11, 20, 21}, 6);
    cg_tensor *y1 = cg_stack(xs, 3, -1);
    assert_shape(y1, 2, s23);
    assert_values(y1, (double[]){0, 10, 20, 1, 11, 21}, 6);
    cg_tensor *g = iota(2, s23);
    assert_ok(cg_backward(y1, g));
    assert_values(cg_tensor_grad(b), (double[]){1, 4}, 2);
    assert_null(cg_tensor_grad(a)); /* a does not require grad */
    cg_clear_error();
    /* 0-d inputs stack into a vector */
    cg_tensor *s = cg_tensor_scalar(CG_F64, 5.0);
    cg_tensor *ss[] = {s, s};
    assert_values(cg_stack(ss, 2, 0), (double[]){5, 5}, 2);
    cg_tensor_free(s);
    cg_tensor_free(g);
    cg_tensor_free(a);
    cg_tensor_free(b);
    cg_tensor_free(c);
}

static void test_stack_errors(void **state)
{
    (void)state;
    int64_t s2 = 2, s3 = 3;
    cg_tensor *a = iota(1, &s2), *b = iota(1, &s3);
    cg_tensor *f = cg_tensor_zeros(CG_F32, 1, &s2);
    cg_tensor *ab[] = {a, b}, *af[] = {a, f}, *an[] = {a, NULL};
    assert_fails(cg_stack(ab, 2, 0), CG_ERR_SHAPE, "[3]");
    assert_fails(cg_stack(af, 2, 0), CG_ERR_DTYPE, "f32");
    assert_fails(cg_stack(ab, 0, 0), CG_ERR_VALUE, "stack");
    assert_fails(cg_stack(NULL, 1, 0), CG_ERR_NULL, "stack");
    assert_fails(cg_stack(an, 2, 0), CG_ERR_NULL, "stack");
    cg_tensor *aa[] = {a, a};
    assert_fails(cg_stack(aa, 2, 2), CG_ERR_VALUE, "axis");
    assert_fails(cg_stack(aa, 2, -3), CG_ERR_VALUE, "axis");
    cg_tensor_free(a);
    cg_tensor_free(b);
    cg_tensor_free(f);
}

/* ---- index_select ---- */

static void test_index_select_values(void **state)
{
    (void)state;
    int64_t s34[] = {3, 4}, s3 = 3, s2 = 2;
    cg_tensor *x = iota(2, s34);
    cg_tensor *rows = indices(1, &s3, (int64_t[]){2, 0, 2});
    cg_tensor *y = cg_index_select(x, 0, rows);
    assert_shape(y, 2, (int64_t[]){3, 4});
    assert_values(y, (double[]){8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11}, 12);
    cg_tensor *cols = indices(1, &s2, (int64_t[]){3, 1});
    assert_values(cg_index_select(x, -1, cols), (double[]){3, 1, 7, 5, 11, 9}, 6);
    /* a strided input (transpose) and a 0-d index */
    cg_tensor *one = indices(0, NULL, (int64_t[]){1});
    cg_tensor *t = cg_index_select(cg_transpose(x, 0, 1), 0, one);
    assert_shape(t, 2, (int64_t[]){1, 3});
    assert_values(t, (double[]){1, 5, 9}, 3);
    /* an empty index and i64 data */
    cg_tensor *none = cg_tensor_zeros(CG_I64, 1, (int64_t[]){0});
    assert_shape(cg_index_select(x, 1, none), 2, (int64_t[]){3, 0});
    cg_tensor *xi = indices(1, &s3, (int64_t[]){INT64_MAX, -5, 7});
    cg_tensor *first = indices(1, &s2, (int64_t[]){0, 1});
    cg_tensor *yi = cg_index_select(xi, 0, first);
    assert_int_equal(cg_tensor_dtype(yi), CG_I64);
    assert_int_equal(((const int64_t *)cg_tensor_data(yi))[0], INT64_MAX);
    cg_tensor *s = cg_tensor_scalar(CG_F64, 4.0);
    cg_tensor *zero = indices(1, (int64_t[]){1}, (int64_t[]){0});
    cg_tensor *ys = cg_index_select(s, 0, zero);
    assert_int_equal(cg_tensor_ndim(ys), 0);
    assert_close(cg_tensor_item(ys), 4.0, 0, 0);
    cg_tensor_free(zero);
    cg_tensor_free(s);
    cg_tensor_free(first);
    cg_tensor_free(xi);
    cg_tensor_free(none);
    cg_tensor_free(one);
    cg_tensor_free(cols);
    cg_tensor_free(rows);
    cg_tensor_free(x);
}

static void test_index_select_backward_duplicates(void **state)
{
    (void)state;
    int64_t s32[] = {3, 2}, s4 = 4, s42[] = {4, 2};
    cg_tensor *x = iota(2, s32);
    assert_ok(cg_tensor_set_requires_grad(x, true));
    cg_tensor *idx = indices(1, &s4, (int64_t[]){2, 0, 2, 2});
    cg_tensor *y = cg_index_select(x, 0, idx);
    cg_tensor *g = iota_from(2, s42, 1);
    assert_ok(cg_backward(y, g));
    /* row 0 gets g row 1; row 1 nothing; row 2 gets g rows 0, 2, 3 */
    assert_values(cg_tensor_grad(x), (double[]){3, 4, 0, 0, 1 + 5 + 7, 2 + 6 + 8}, 6);
    cg_tensor_free(g);
    cg_tensor_free(idx);
    cg_tensor_free(x);
}

static void test_index_select_errors(void **state)
{
    (void)state;
    int64_t s34[] = {3, 4}, s2 = 2, s22[] = {2, 2};
    cg_tensor *x = iota(2, s34);
    cg_tensor *big = indices(1, &s2, (int64_t[]){0, 3});
    cg_tensor *neg = indices(1, &s2, (int64_t[]){-1, 0});
    cg_tensor *flt = iota(1, &s2);
    cg_tensor *mat = indices(2, s22, (int64_t[]){0, 1, 1, 0});
    /* the message names the op, the index value and the size */
    assert_null(cg_index_select(x, 0, big));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_error_contains("index_select: index 3");
    assert_error_contains("size 3");
    cg_clear_error();
    assert_tensor(cg_index_select(x, 1, big)); /* 3 is fine along the axis of size 4 */
    assert_fails(cg_index_select(x, 1, neg), CG_ERR_VALUE, "index -1");
    assert_fails(cg_index_select(x, 0, flt), CG_ERR_DTYPE, "i64");
    assert_fails(cg_index_select(x, 0, mat), CG_ERR_SHAPE, "[2, 2]");
    assert_fails(cg_index_select(x, 2, big), CG_ERR_VALUE, "axis");
    assert_fails(cg_index_select(x, 0, NULL), CG_ERR_NULL, "index_select");
    assert_fails(cg_index_select(NULL, 0, big), CG_ERR_NULL, "index_select");
    cg_tensor *s = cg_tensor_scalar(CG_F64, 1.0);
    assert_fails(cg_index_select(s, 0, big), CG_ERR_SHAPE, "index_select");
    cg_tensor_free(s);
    cg_tensor_free(mat);
    cg_tensor_free(flt);
    cg_tensor_free(neg);
    cg_tensor_free(big);
    cg_tensor_free(x);
}

/* d<gx, v>/dx where gx = d<x[idx]^2, u>/dx = index_add(0, idx, 2 x[idx] u):
 * = index_add(0, idx, 2 u v[idx]). */
static void test_index_select_double_backward(void **state)
{
    (void)state;
    int64_t s3 = 3, s2 = 2;
    cg_tensor *x = cg_tensor_from_data(CG_F64, 1, &s3, (double[]){1, 2, 3});
    assert_ok(cg_tensor_set_requires_grad(x, true));
    cg_tensor *idx = indices(1, &s2, (int64_t[]){2, 2});
    cg_tensor *s = cg_index_select(x, 0, idx);
    cg_tensor *y = cg_mul(s, s);
    cg_tensor *u = cg_tensor_from_data(CG_F64, 1, &s2, (double[]){10, 100});
    cg_tensor *gx = NULL;
    cg_grad_options opt = {.create_graph = true};
    assert_ok(cg_grad(&y, 1, &u, &x, 1, &gx, &opt));
    assert_values(gx, (double[]){0, 0, 2 * 3 * 110}, 3);
    cg_tensor *v = cg_tensor_from_data(CG_F64, 1, &s3, (double[]){1, 2, 3});
    assert_ok(cg_backward(gx, v));
    assert_values(cg_tensor_grad(x), (double[]){0, 0, 2 * 110 * 3}, 3);
    cg_tensor_free(v);
    cg_tensor_free(u);
    cg_tensor_free(idx);
    cg_tensor_free(x);
}

/* ---- gather ---- */

static void test_gather_values_and_backward(void **state)
{
    (void)state;
    int64_t s23[] = {2, 3}, s22[] = {2, 2};
    cg_tensor *x = iota_from(2, s23, 1); /* [[1,2,3],[4,5,6]] */
    assert_ok(cg_tensor_set_requires_grad(x, true));
    cg_tensor *idx = indices(2, s22, (int64_t[]){0, 0, 2, 1});
    cg_tensor *y = cg_gather(x, 1, idx);
    assert_shape(y, 2, s22);
    assert_values(y, (double[]){1, 1, 6, 5}, 4);
    cg_tensor *g = iota_from(2, s22, 1);
    assert_ok(cg_backward(y, g));
    assert_values(cg_tensor_grad(x), (double[]){1 + 2, 0, 0, 0, 4, 3}, 6);
    /* along axis 0, with an index smaller than x in the other dimension */
    cg_tensor *idx0 = indices(2, (int64_t[]){3, 2}, (int64_t[]){1, 0, 0, 0, 1, 1});
    cg_tensor *y0 = cg_gather(x, 0, idx0);
    assert_shape(y0, 2, (int64_t[]){3, 2});
    assert_values(y0, (double[]){4, 2, 1, 2, 4, 5}, 6);
    /* on a transposed input */
    cg_tensor *yt = cg_gather(cg_transpose(x, 0, 1), 0, idx);
    assert_values(yt, (double[]){1, 4, 3, 5}, 4);
    cg_tensor_free(idx0);
    cg_tensor_free(g);
    cg_tensor_free(idx);
    cg_tensor_free(x);
}

static void test_gather_errors(void **state)
{
    (void)state;
    int64_t s23[] = {2, 3}, s2 = 2;
    cg_tensor *x = iota(2, s23);
    cg_tensor *vec = indices(1, &s2, (int64_t[]){0, 1});
    cg_tensor *wide = indices(2, (int64_t[]){1, 4}, (int64_t[]){0, 0, 0, 0});
    cg_tensor *out = indices(2, (int64_t[]){1, 2}, (int64_t[]){0, 3});
    cg_tensor *neg = indices(2, (int64_t[]){1, 2}, (int64_t[]){0, -1});
    cg_tensor *flt = cg_tensor_zeros(CG_F64, 2, (int64_t[]){1, 2});
    assert_fails(cg_gather(x, 1, vec), CG_ERR_SHAPE, "[2, 3]");
    assert_fails(cg_gather(x, 0, wide), CG_ERR_SHAPE, "[1, 4]");
    assert_tensor(cg_gather(x, 1, wide)); /* the axis itself may be longer */
    assert_fails(cg_gather(x, 1, out), CG_ERR_VALUE, "index 3");
    assert_fails(cg_gather(x, 1, neg), CG_ERR_VALUE, "index -1");
    assert_fails(cg_gather(x, 1, flt), CG_ERR_DTYPE, "gather");
    assert_fails(cg_gather(x, -3, out), CG_ERR_VALUE, "axis");
    assert_fails(cg_gather(x, 0, NULL), CG_ERR_NULL, "gather");
    cg_tensor_free(flt);
    cg_tensor_free(neg);
    cg_tensor_free(out);
    cg_tensor_free(wide);
    cg_tensor_free(vec);
    cg_tensor_free(x);
}

/* ---- index_add ---- */

static void test_index_add_values_and_backward(void **state)
{
    (void)state;
    int64_t s32[] = {3, 2}, s3 = 3;
    cg_tensor *x = cg_tensor_ones(CG_F64, 2, s32);
    cg_tensor *src = iota_from(2, s32, 10); /* [[10,11],[12,13],[14,15]] */
    assert_ok(cg_tensor_set_requires_grad(x, true));
    assert_ok(cg_tensor_set_requires_grad(src, true));
    cg_tensor *idx = indices(1, &s3, (int64_t[]){0, 2, 0});
    cg_tensor *y = cg_index_add(x, 0, idx, src);
    assert_values(y, (double[]){1 + 10 + 14, 1 + 11 + 15, 1, 1, 1 + 12, 1 + 13}, 6);
    /* x itself is untouched */
    assert_values(x, (double[]){1, 1, 1, 1, 1, 1}, 6);
    cg_tensor *g = iota(2, s32);
    assert_ok(cg_backward(y, g));
    assert_values(cg_tensor_grad(x), (double[]){0, 1, 2, 3, 4, 5}, 6);
    assert_values(cg_tensor_grad(src), (double[]){0, 1, 4, 5, 0, 1}, 6);
    /* along axis 1 */
    cg_tensor *cols = indices(1, (int64_t[]){1}, (int64_t[]){1});
    cg_tensor *c = cg_tensor_full(CG_F64, 2, (int64_t[]){3, 1}, 5.0);
    assert_values(cg_index_add(x, 1, cols, c), (double[]){1, 6, 1, 6, 1, 6}, 6);
    cg_tensor_free(c);
    cg_tensor_free(cols);
    cg_tensor_free(g);
    cg_tensor_free(idx);
    cg_tensor_free(src);
    cg_tensor_free(x);
}

static void test_index_add_errors(void **state)
{
    (void)state;
    int64_t s32[] = {3, 2}, s2 = 2;
    cg_tensor *x = cg_tensor_ones(CG_F64, 2, s32);
    cg_tensor *idx = indices(1, &s2, (int64_t[]){0, 1});
    cg_tensor *src = iota(2, (int64_t[]){2, 2});
    cg_tensor *src3 = iota(2, (int64_t[]){2, 3});
    cg_tensor *srcf = cg_tensor_zeros(CG_F32, 2, (int64_t[]){2, 2});
    cg_tensor *bad = indices(1, &s2, (int64_t[]){0, 3});
    cg_tensor *xi = cg_tensor_zeros(CG_I64, 2, s32);
    assert_tensor(cg_index_add(x, 0, idx, src));
    assert_fails(cg_index_add(x, 0, idx, src3), CG_ERR_SHAPE, "[2, 3]");
    assert_fails(cg_index_add(x, 1, idx, src), CG_ERR_SHAPE, "index_add");
    assert_fails(cg_index_add(x, 0, idx, srcf), CG_ERR_DTYPE, "index_add");
    assert_fails(cg_index_add(xi, 0, idx, src), CG_ERR_DTYPE, "index_add");
    assert_fails(cg_index_add(x, 0, bad, src), CG_ERR_VALUE, "index 3");
    assert_fails(cg_index_add(x, 0, src, src), CG_ERR_DTYPE, "i64");
    assert_fails(cg_index_add(x, 5, idx, src), CG_ERR_VALUE, "axis");
    assert_fails(cg_index_add(x, 0, idx, NULL), CG_ERR_NULL, "index_add");
    cg_tensor_free(xi);
    cg_tensor_free(bad);
    cg_tensor_free(srcf);
    cg_tensor_free(src3);
    cg_tensor_free(src);
    cg_tensor_free(idx);
    cg_tensor_free(x);
}

/* ---- scatter_add ---- */

static void test_scatter_add_values_and_backward(void **state)
{
    (void)state;
    int64_t s23[] = {2, 3}, s24[] = {2, 4};
    cg_tensor *x = cg_tensor_zeros(CG_F64, 2, s23);
    cg_tensor *src = iota_from(2, s24, 1); /* [[1,2,3,4],[5,6,7,8]]; last column unused */
    assert_ok(cg_tensor_set_requires_grad(x, true));
    assert_ok(cg_tensor_set_requires_grad(src, true));
    cg_tensor *idx = indices(2, s23, (int64_t[]){0, 1, 0, 2, 2, 2});
    cg_tensor *y = cg_scatter_add(x, 1, idx, src);
    assert_values(y, (double[]){1 + 3, 2, 0, 0, 0, 5 + 6 + 7}, 6);
    cg_tensor *g = iota_from(2, s23, 1);
    assert_ok(cg_backward(y, g));
    assert_values(cg_tensor_grad(x), (double[]){1, 2, 3, 4, 5, 6}, 6);
    /* src gets gather(g): g[0][0], g[0][1], g[0][0], 0 | g[1][2] x 3, 0 */
    assert_values(cg_tensor_grad(src), (double[]){1, 2, 1, 0, 6, 6, 6, 0}, 8);
    /* along axis 0 on f32 */
    cg_tensor *xf = cg_tensor_ones(CG_F32, 1, (int64_t[]){2});
    cg_tensor *sf = cg_tensor_full(CG_F32, 1, (int64_t[]){3}, 0.5);
    cg_tensor *i3 = indices(1, (int64_t[]){3}, (int64_t[]){1, 1, 0});
    cg_tensor *yf = cg_scatter_add(xf, 0, i3, sf);
    assert_int_equal(cg_tensor_dtype(yf), CG_F32);
    assert_values(yf, (double[]){1.5, 2.0}, 2);
    cg_tensor_free(i3);
    cg_tensor_free(sf);
    cg_tensor_free(xf);
    cg_tensor_free(g);
    cg_tensor_free(idx);
    cg_tensor_free(src);
    cg_tensor_free(x);
}

static void test_scatter_add_errors(void **state)
{
    (void)state;
    int64_t s23[] = {2, 3};
    cg_tensor *x = cg_tensor_zeros(CG_F64, 2, s23);
    cg_tensor *idx = indices(2, (int64_t[]){1, 2}, (int64_t[]){0, 1});
    cg_tensor *src = iota(2, (int64_t[]){1, 2});
    cg_tensor *tiny = iota(2, (int64_t[]){1, 1});
    cg_tensor *vec = iota(1, (int64_t[]){2});
    cg_tensor *srcf = cg_tensor_zeros(CG_F32, 2, (int64_t[]){1, 2});
    cg_tensor *bad = indices(2, (int64_t[]){1, 2}, (int64_t[]){3, 0});
    assert_tensor(cg_scatter_add(x, 1, idx, src));
    assert_fails(cg_scatter_add(x, 1, idx, tiny), CG_ERR_SHAPE, "[1, 1]");
    assert_fails(cg_scatter_add(x, 1, idx, vec), CG_ERR_SHAPE, "scatter_add");
    assert_fails(cg_scatter_add(x, 1, idx, srcf), CG_ERR_DTYPE, "scatter_add");
    assert_fails(cg_scatter_add(x, 1, bad, src), CG_ERR_VALUE, "index 3");
    assert_tensor(cg_scatter_add(x, 0, idx, src)); /* 3 would fail along axis 0 (size 2) */
    assert_fails(cg_scatter_add(x, 0, bad, src), CG_ERR_VALUE, "size 2");
    assert_fails(cg_scatter_add(x, 1, src, src), CG_ERR_DTYPE, "i64");
    assert_fails(cg_scatter_add(x, 2, idx, src), CG_ERR_VALUE, "axis");
    assert_fails(cg_scatter_add(NULL, 0, idx, src), CG_ERR_NULL, "scatter_add");
    cg_tensor_free(bad);
    cg_tensor_free(srcf);
    cg_tensor_free(vec);
    cg_tensor_free(tiny);
    cg_tensor_free(src);
    cg_tensor_free(idx);
    cg_tensor_free(x);
}

/* 0-d inputs count as one element along axis 0 or -1, as in PyTorch. */
static void test_zero_dim_inputs(void **state)
{
    (void)state;
    cg_tensor *x = cg_tensor_scalar(CG_F64, 5.0), *src = cg_tensor_scalar(CG_F64, 2.0);
    cg_tensor *i0 = indices(0, NULL, (int64_t[]){0}), *i1 = indices(0, NULL, (int64_t[]){1});
    assert_ok(cg_tensor_set_requires_grad(x, true));
    cg_tensor *y = cg_gather(x, -1, i0);
    assert_int_equal(cg_tensor_ndim(y), 0);
    assert_close(cg_tensor_item(y), 5.0, 0, 0);
    assert_close(cg_tensor_item(cg_scatter_add(x, 0, i0, src)), 7.0, 0, 0);
    assert_close(cg_tensor_item(cg_index_add(x, 0, i0, src)), 7.0, 0, 0);
    assert_fails(cg_gather(x, 0, i1), CG_ERR_VALUE, "size 1");
    assert_fails(cg_index_add(x, 0, i1, src), CG_ERR_VALUE, "index 1");
    cg_tensor *g = cg_tensor_scalar(CG_F64, 3.0);
    assert_ok(cg_backward(y, g));
    assert_close(cg_tensor_item(cg_tensor_grad(x)), 3.0, 0, 0);
    cg_tensor_free(g);
    cg_tensor_free(i1);
    cg_tensor_free(i0);
    cg_tensor_free(src);
    cg_tensor_free(x);
}

/* ---- threads ---- */

/* Many duplicates into few rows, large enough for the parallel loops: the f32 sums must
 * match bit for bit whatever the thread count. */
static void test_accumulation_independent_of_threads(void **state)
{
    (void)state;
    enum { ROWS = 4, COLS = 50000, N = 64 };
    cg_rng rng = cg_rng_init(3);
    cg_tensor *src = cg_tensor_uniform(&rng, CG_F32, 2, (int64_t[]){N, COLS}, -1, 1);
    cg_tensor *x = cg_tensor_uniform(&rng, CG_F32, 2, (int64_t[]){ROWS, COLS}, -1, 1);
    int64_t rows[N], n = N;
    for (int i = 0; i < N; i++)
        rows[i] = (i * 7) % ROWS;
    cg_tensor *idx = indices(1, &n, rows);
    cg_tensor *sidx = cg_tensor_zeros(CG_I64, 2, (int64_t[]){N, COLS});
    int64_t *sd = cg_tensor_data(sidx);
    for (int64_t i = 0; i < N * (int64_t)COLS; i++)
        sd[i] = (i * 13) % ROWS;
    cg_tensor *out[2][2];
    for (int k = 0; k < 2; k++) {
        cg_set_num_threads(k == 0 ? 1 : 4);
        out[k][0] = cg_index_add(x, 0, idx, src);
        out[k][1] = cg_scatter_add(x, 0, sidx, src);
        assert_tensor(out[k][0]);
        assert_tensor(out[k][1]);
    }
    cg_set_num_threads(0);
    for (int j = 0; j < 2; j++)
        assert_memory_equal(cg_tensor_data(out[0][j]), cg_tensor_data(out[1][j]),
                            ROWS * COLS * sizeof(float));
    cg_tensor_free(sidx);
    cg_tensor_free(idx);
    cg_tensor_free(x);
    cg_tensor_free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_concat_values_and_grads),
        CG_TEST(test_concat_of_views),
        CG_TEST(test_concat_errors),
        CG_TEST(test_stack_values_and_grads),
        CG_TEST(test_stack_errors),
        CG_TEST(test_index_select_values),
        CG_TEST(test_index_select_backward_duplicates),
        CG_TEST(test_index_select_errors),
        CG_TEST(test_index_select_double_backward),
        CG_TEST(test_gather_values_and_backward),
        CG_TEST(test_gather_errors),
        CG_TEST(test_index_add_values_and_backward),
        CG_TEST(test_index_add_errors),
        CG_TEST(test_scatter_add_values_and_backward),
        CG_TEST(test_scatter_add_errors),
        CG_TEST(test_zero_dim_inputs),
        CG_TEST(test_accumulation_independent_of_threads),
    };
    return cmocka_run_group_tests_name("index", tests, NULL, NULL);
}
