/* A linear layer's weight gradient in every layout the weight can reach cg_linear in:
 * a contiguous parameter, the transpose of one, strided views (columns with a step, a
 * column range, every other row), against dW = G^T X computed in double by loops. Also
 * 3-d inputs, an input that is itself a transposed view, a strided grad_output,
 * accumulation over two backward calls, gradients of gradients (values and
 * gradgradcheck), and f32 and f64. Then accumulation into an existing .grad: over
 * several passes, after zero_grad either way, when the graph itself reads that .grad (as
 * grad_output, or saved by a rule: it must keep its old values until the pass ends),
 * cg_grad leaving .grad alone, and results that do not depend on the thread count. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

/* How the weight the layer sees is made from the leaf that receives the gradient. */
typedef enum layout {
    CONTIGUOUS, /* the leaf itself, [out, in] */
    TRANSPOSED, /* the transpose of an [in, out] leaf */
    COL_STEP,   /* every other column of an [out, 2 in] leaf */
    COL_RANGE,  /* the first in columns of an [out, in + 3] leaf */
    ROW_STEP,   /* every other row of a [2 out, in] leaf */
    NLAYOUTS
} layout;

static const char *const layout_names[NLAYOUTS] = {"contiguous", "transposed", "column step",
                                                   "column range", "row step"};

static cg_tensor *new_leaf(cg_dtype dtype, layout l, int64_t out, int64_t in, uint64_t seed)
{
    int64_t shape[2] = {out, in};
    if (l == TRANSPOSED)
        shape[0] = in, shape[1] = out;
    else if (l == COL_STEP)
        shape[1] = 2 * in;
    else if (l == COL_RANGE)
        shape[1] = in + 3;
    else if (l == ROW_STEP)
        shape[0] = 2 * out;
    cg_tensor *t = cg_test_rand(dtype, 2, shape, seed);
    assert_ok(cg_tensor_set_requires_grad(t, true));
    return t;
}

/* The [out, in] weight the layer multiplies by, a view of the leaf. */
static cg_tensor *weight_of(cg_tensor *leaf, layout l, int64_t in)
{
    switch (l) {
    case TRANSPOSED:
        return cg_transpose(leaf, 0, 1);
    case COL_STEP:
        return cg_slice(leaf, 1, 0, 2 * in, 2);
    case COL_RANGE:
        return cg_slice(leaf, 1, 0, in, 1);
    case ROW_STEP:
        return cg_slice(leaf, 0, 0, cg_tensor_size(leaf, 0), 2);
    default:
        return leaf;
    }
}

/* Index in the leaf (row-major) of the weight's element [o, i]. */
static int64_t leaf_index(layout l, int64_t out, int64_t in, int64_t o, int64_t i)
{
    switch (l) {
    case TRANSPOSED:
        return i * out + o;
    case COL_STEP:
        return o * 2 * in + 2 * i;
    case COL_RANGE:
        return o * (in + 3) + i;
    case ROW_STEP:
        return 2 * o * in + i;
    default:
        return o * in + i;
    }
}

/* want[leaf_index(o, i)] += scale * sum_r g[r, o] x[r, i] over the rows of x and g
 * flattened to [rows, in] and [rows, out]. */
static void add_reference(double *want, layout l, const double *x, const double *g, int64_t rows,
                          int64_t out, int64_t in, double scale)
{
    for (int64_t o = 0; o < out; o++) {
        for (int64_t i = 0; i < in; i++) {
            double s = 0;
            for (int64_t r = 0; r < rows; r++)
                s += g[r * out + o] * x[r * in + i];
            want[leaf_index(l, out, in, o, i)] += scale * s;
        }
    }
}

static void check_values(const cg_tensor *t, const double *want, double tol, const char *what,
                         const char *name)
{
    assert_tensor(t);
    double *got = cg_test_values(t);
    for (int64_t j = 0; j < cg_tensor_numel(t); j++) {
        if (!(fabs(got[j] - want[j]) <= tol + tol * fabs(want[j])))
            fail_msg("%s, %s weight: element %lld is %.17g, want %.17g", what, name,
                     (long long)j, got[j], want[j]);
    }
    free(got);
}

/* A grad_output shaped like y, its values in [rows, out] order; with strided set, a
 * transposed view of an [out, rows] tensor (only for 2-d y). */
static cg_tensor *grad_output(cg_dtype dtype, int ndim, const int64_t *yshape, bool strided,
                              uint64_t seed, cg_tensor **owned)
{
    if (!strided) {
        *owned = cg_test_rand(dtype, ndim, yshape, seed);
        return *owned;
    }
    *owned = cg_test_rand(dtype, 2, (int64_t[]){yshape[1], yshape[0]}, seed);
    cg_tensor *g = cg_transpose(*owned, 0, 1);
    assert_tensor(g);
    return g;
}

typedef struct shape_case {
    int xdim;
    int64_t xshape[3]; /* the input's shape; its last size is in */
    int64_t out;
    bool strided_g;    /* grad_output is a transposed view */
    bool transposed_x; /* the input is the transpose of an [in, rows] tensor */
} shape_case;

/* Two backward passes through y = linear(x, W) with different grad_outputs: the leaf's
 * .grad holds the first gradient after one, their sum after two. */
static void check_case(cg_dtype dtype, layout l, const shape_case *c)
{
    int64_t in = c->xshape[c->xdim - 1], out = c->out, rows = 1;
    for (int d = 0; d < c->xdim - 1; d++)
        rows *= c->xshape[d];
    double tol = dtype == CG_F32 ? 1e-4 : 1e-12;
    cg_tensor *leaf = new_leaf(dtype, l, out, in, 11 + (uint64_t)l);
    cg_tensor *xs, *x;
    if (c->transposed_x) {
        xs = cg_test_rand(dtype, 2, (int64_t[]){in, rows}, 7);
        assert_ok(cg_tensor_set_requires_grad(xs, true));
        x = cg_transpose(xs, 0, 1);
    } else {
        x = xs = cg_test_rand(dtype, c->xdim, c->xshape, 7);
    }
    cg_tensor *y = cg_linear(x, weight_of(leaf, l, in), NULL);
    assert_tensor(y);
    int64_t numel = cg_tensor_numel(leaf);
    double *want = calloc((size_t)numel, sizeof(double));
    assert_non_null(want);
    double *xv = cg_test_values(x);
    for (int pass = 0; pass < 2; pass++) {
        cg_tensor *owned;
        cg_tensor *g = grad_output(dtype, cg_tensor_ndim(y), cg_tensor_shape(y), c->strided_g,
                                   100 + (uint64_t)pass, &owned);
        double *gv = cg_test_values(g);
        add_reference(want, l, xv, gv, rows, out, in, 1.0);
        assert_ok(cg_backward(y, g));
        check_values(cg_tensor_grad(leaf), want, tol, pass ? "second pass" : "first pass",
                     layout_names[l]);
        free(gv);
        cg_tensor_free(owned);
    }
    free(xv);
    free(want);
    cg_tensor_free(leaf);
    cg_tensor_free(xs);
}

static const shape_case shape_cases[] = {
    {2, {6, 5}, 7, false, false},
    {2, {70, 66}, 65, false, false}, /* all three sizes >= 64: BLIS's packed path */
    {3, {2, 3, 5}, 4, false, false},
    {2, {6, 5}, 7, true, false},
    {2, {6, 5}, 7, false, true},
    {2, {1, 5}, 7, false, false},
    {2, {6, 5}, 1, false, false},
};

static void test_weight_grad_layouts(void **state)
{
    (void)state;
    for (int dt = 0; dt < 2; dt++)
        for (int l = 0; l < NLAYOUTS; l++)
            for (size_t c = 0; c < sizeof shape_cases / sizeof shape_cases[0]; c++)
                check_case(dt ? CG_F64 : CG_F32, (layout)l, &shape_cases[c]);
}

/* The input's gradient when the input is a transposed view takes the same storage-order
 * route as the weight's: check dX = G W against loops. */
static void test_transposed_input_grad(void **state)
{
    (void)state;
    int64_t rows = 6, in = 5, out = 7;
    cg_tensor *xs = cg_test_rand(CG_F64, 2, (int64_t[]){in, rows}, 3);
    cg_tensor *w = cg_test_rand(CG_F64, 2, (int64_t[]){out, in}, 4);
    cg_tensor *g = cg_test_rand(CG_F64, 2, (int64_t[]){rows, out}, 5);
    assert_ok(cg_tensor_set_requires_grad(xs, true));
    assert_ok(cg_backward(cg_linear(cg_transpose(xs, 0, 1), w, NULL), g));
    double *wv = cg_test_values(w), *gv = cg_test_values(g);
    double *got = cg_test_values(cg_tensor_grad(xs));
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t i = 0; i < in; i++) {
            double s = 0;
            for (int64_t o = 0; o < out; o++)
                s += gv[r * out + o] * wv[o * in + i];
            assert_close(got[i * rows + r], s, 1e-12, 1e-12);
        }
    }
    free(wv);
    free(gv);
    free(got);
    cg_tensor_free(xs);
    cg_tensor_free(w);
    cg_tensor_free(g);
}

/* Second order by value: with create_graph, dW = G^T X is recorded, and the gradient of
 * <dW, V> with respect to X is G V (3-d input, so the rows come from a reshape). */
static void test_weight_grad_second_order(void **state)
{
    (void)state;
    int64_t in = 5, out = 4, rows = 6;
    for (int l = 0; l < NLAYOUTS; l++) {
        cg_tensor *leaf = new_leaf(CG_F64, (layout)l, out, in, 21);
        cg_tensor *x = cg_test_rand(CG_F64, 3, (int64_t[]){2, 3, in}, 22);
        cg_tensor *g = cg_test_rand(CG_F64, 3, (int64_t[]){2, 3, out}, 23);
        cg_tensor *v = cg_test_rand(CG_F64, 2, cg_tensor_shape(leaf), 24);
        assert_ok(cg_tensor_set_requires_grad(x, true));
        cg_tensor *y = cg_linear(x, weight_of(leaf, (layout)l, in), NULL);
        cg_tensor *dw;
        cg_grad_options opt = {true, false};
        assert_ok(cg_grad(&y, 1, &g, &leaf, 1, &dw, &opt));
        double *xv = cg_test_values(x), *gv = cg_test_values(g), *vv = cg_test_values(v);
        double *want = calloc((size_t)cg_tensor_numel(leaf), sizeof(double));
        assert_non_null(want);
        add_reference(want, (layout)l, xv, gv, rows, out, in, 1.0);
        check_values(dw, want, 1e-12, "create_graph gradient", layout_names[l]);
        assert_ok(cg_backward(cg_sum(cg_mul(dw, v), NULL, 0, false), NULL));
        double *got = cg_test_values(cg_tensor_grad(x));
        for (int64_t r = 0; r < rows; r++) {
            for (int64_t i = 0; i < in; i++) {
                double s = 0;
                for (int64_t o = 0; o < out; o++)
                    s += gv[r * out + o] * vv[leaf_index((layout)l, out, in, o, i)];
                assert_close(got[r * in + i], s, 1e-12, 1e-12);
            }
        }
        assert_null(cg_tensor_grad(leaf)); /* dW does not depend on W */
        free(xv);
        free(gv);
        free(vv);
        free(want);
        free(got);
        cg_tensor_free(leaf);
        cg_tensor_free(x);
        cg_tensor_free(g);
        cg_tensor_free(v);
    }
}

typedef struct gg_ctx {
    layout l;
    int64_t in;
} gg_ctx;

static cg_tensor *linear_of_view(cg_tensor *const *in, int n, void *ctx)
{
    (void)n;
    const gg_ctx *c = ctx;
    return cg_linear(in[0], weight_of(in[1], c->l, c->in), in[2]);
}

/* gradcheck and gradgradcheck of linear with the weight in each layout, a 3-d input. */
static void test_layouts_gradgradcheck(void **state)
{
    (void)state;
    int64_t in = 4, out = 3;
    for (int l = 0; l < NLAYOUTS; l++) {
        gg_ctx c = {(layout)l, in};
        cg_tensor *inputs[3] = {cg_test_rand(CG_F64, 3, (int64_t[]){2, 3, in}, 31),
                                new_leaf(CG_F64, (layout)l, out, in, 32),
                                cg_test_rand(CG_F64, 1, (int64_t[]){out}, 33)};
        assert_ok(cg_tensor_set_requires_grad(inputs[0], true));
        assert_ok(cg_tensor_set_requires_grad(inputs[2], true));
        cg_gradcheck_options opt = cg_gradcheck_defaults();
        opt.label = layout_names[l];
        cg_status first = cg_gradcheck(linear_of_view, inputs, 3, &c, &opt);
        char msg[600];
        snprintf(msg, sizeof msg, "%s", cg_last_error());
        cg_status second = first == CG_OK ? cg_gradgradcheck(linear_of_view, inputs, 3, &c, &opt)
                                          : CG_OK;
        if (second != CG_OK)
            snprintf(msg, sizeof msg, "%s", cg_last_error());
        for (int j = 0; j < 3; j++)
            cg_tensor_free(inputs[j]);
        if (first != CG_OK || second != CG_OK)
            fail_msg("%s", msg);
    }
}

/* want += x^T g: want[i, j] += sum_r x[r, i] g[r, j], for x [rows, in], g [rows, out]. */
static void add_xt_g(double *want, const double *x, const double *g, int64_t rows,
                     int64_t in, int64_t out)
{
    for (int64_t i = 0; i < in; i++)
        for (int64_t j = 0; j < out; j++)
            for (int64_t r = 0; r < rows; r++)
                want[i * out + j] += x[r * in + i] * g[r * out + j];
}

/* y = x @ w with both leaves: from the second cg_backward on, .grad is present and the
 * gradients accumulate into it; before the third, w.grad is filled with zeros (zero_grad keeping
 * the buffer), before the fourth dropped (zero_grad to None); x.grad keeps accumulating.
 * Each result against loops. */
static void test_products_add_into_grads(void **state)
{
    (void)state;
    int64_t rows = 9, in = 7, out = 5;
    for (int dt = 0; dt < 2; dt++) {
        cg_dtype dtype = dt ? CG_F64 : CG_F32;
        double tol = dt ? 1e-12 : 1e-5;
        cg_tensor *x = cg_test_rand(dtype, 2, (int64_t[]){rows, in}, 41);
        cg_tensor *w = cg_test_rand(dtype, 2, (int64_t[]){in, out}, 42);
        assert_ok(cg_tensor_set_requires_grad(x, true));
        assert_ok(cg_tensor_set_requires_grad(w, true));
        cg_tensor *y = cg_matmul(x, w);
        double *xv = cg_test_values(x), *wv = cg_test_values(w);
        double *want = calloc((size_t)(in * out), sizeof(double));
        double *want_x = calloc((size_t)(rows * in), sizeof(double)); /* sum of g w^T */
        assert_non_null(want);
        assert_non_null(want_x);
        for (int pass = 0; pass < 4; pass++) {
            if (pass == 2)
                assert_ok(cg_tensor_fill_(cg_tensor_grad(w), 0.0));
            if (pass == 3)
                cg_tensor_zero_grad(w);
            if (pass >= 2)
                memset(want, 0, sizeof(double) * (size_t)(in * out));
            cg_tensor *g = cg_test_rand(dtype, 2, (int64_t[]){rows, out}, 50 + (uint64_t)pass);
            double *gv = cg_test_values(g);
            add_xt_g(want, xv, gv, rows, in, out);
            for (int64_t r = 0; r < rows; r++)
                for (int64_t i = 0; i < in; i++)
                    for (int64_t j = 0; j < out; j++)
                        want_x[r * in + i] += gv[r * out + j] * wv[i * out + j];
            uint64_t version = cg_tensor_grad(w) ? cg_tensor_version(cg_tensor_grad(w)) : 0;
            assert_ok(cg_backward(y, g));
            check_values(cg_tensor_grad(w), want, tol, "w.grad", "plain");
            check_values(cg_tensor_grad(x), want_x, tol, "x.grad", "plain");
            if (pass == 1)
                assert_true(cg_tensor_version(cg_tensor_grad(w)) > version);
            free(gv);
            cg_tensor_free(g);
        }
        free(xv);
        free(wv);
        free(want);
        free(want_x);
        cg_tensor_free(x);
        cg_tensor_free(w);
    }
}

/* Cases where the computation sees .grad during the pass: it is the grad_output, or an op
 * of the graph saved it. The results must be those of adding into it at the end. */
static void test_grad_read_by_the_graph(void **state)
{
    (void)state;
    int64_t n = 300; /* k above BLIS's block of k: an aliased .grad would be read half updated */
    int64_t sq[2] = {n, n};
    cg_tensor *x = cg_test_rand(CG_F64, 2, sq, 61);
    cg_tensor *w = cg_test_rand(CG_F64, 2, sq, 62);
    assert_ok(cg_tensor_set_requires_grad(x, true));
    assert_ok(cg_tensor_set_requires_grad(w, true));
    cg_tensor *g0 = cg_test_rand(CG_F64, 2, sq, 63);
    assert_ok(cg_backward(cg_matmul(x, w), g0)); /* w.grad = x^T g0 */
    double *xv = cg_test_values(x), *old = cg_test_values(cg_tensor_grad(w));

    /* grad_output is w.grad itself: w.grad = old + x^T old */
    double *want = cg_test_values(cg_tensor_grad(w));
    add_xt_g(want, xv, old, n, n, n);
    assert_ok(cg_backward(cg_matmul(x, w), cg_tensor_grad(w)));
    check_values(cg_tensor_grad(w), want, 1e-10, "grad_output = w.grad", "plain");
    free(old);
    old = cg_test_values(cg_tensor_grad(w));

    /* y = (x @ w) * s + z @ u with grad_output w.grad: the add hands w.grad itself to
     * z @ u, whose rule runs after the product with w, so w.grad must still hold its old
     * values then: u.grad = z^T old, w.grad = old + x^T (old * s). */
    {
        cg_tensor *z = cg_test_rand(CG_F64, 2, sq, 64), *u = cg_test_rand(CG_F64, 2, sq, 65);
        cg_tensor *s = cg_test_rand(CG_F64, 2, sq, 66);
        assert_ok(cg_tensor_set_requires_grad(u, true));
        cg_tensor *zu = cg_matmul(z, u);
        cg_tensor *y = cg_add(cg_mul(cg_matmul(x, w), s), zu);
        double *zv = cg_test_values(z), *sv = cg_test_values(s);
        double *os = cg_test_values(cg_tensor_grad(w));
        for (int64_t j = 0; j < n * n; j++)
            os[j] *= sv[j];
        double *want_u = calloc((size_t)(n * n), sizeof(double));
        assert_non_null(want_u);
        add_xt_g(want_u, zv, old, n, n, n);
        add_xt_g(want, xv, os, n, n, n);
        assert_ok(cg_backward(y, cg_tensor_grad(w)));
        check_values(cg_tensor_grad(u), want_u, 1e-10, "u.grad, grad_output = w.grad", "plain");
        check_values(cg_tensor_grad(w), want, 1e-10, "w.grad, grad_output = w.grad", "plain");
        free(zv);
        free(sv);
        free(os);
        free(want_u);
        cg_tensor_free(z);
        cg_tensor_free(u);
        cg_tensor_free(s);
        free(old);
        old = cg_test_values(cg_tensor_grad(w));
    }

    /* h = x * w.grad is recorded before the product and reads w.grad in its rule:
     * y = h @ w, grad_output ones: w.grad += h^T 1, x.grad += (1 w^T) * old. */
    cg_tensor_zero_grad(x);
    cg_tensor *h = cg_mul(x, cg_tensor_grad(w));
    cg_tensor *ones = cg_tensor_ones(CG_F64, 2, sq);
    double *hv = cg_test_values(h), *wv = cg_test_values(w), *onev = cg_test_values(ones);
    add_xt_g(want, hv, onev, n, n, n);
    assert_ok(cg_backward(cg_matmul(h, w), ones));
    check_values(cg_tensor_grad(w), want, 1e-10, "w.grad read by a rule", "plain");
    double *gx = cg_test_values(cg_tensor_grad(x));
    for (int64_t r = 0; r < n; r++) {
        for (int64_t i = 0; i < n; i++) {
            double s = 0;
            for (int64_t j = 0; j < n; j++)
                s += wv[i * n + j];
            assert_close(gx[r * n + i], s * old[r * n + i], 1e-10, 1e-10);
        }
    }
    free(xv);
    free(old);
    free(want);
    free(hv);
    free(wv);
    free(onev);
    free(gx);
    cg_tensor_free(x);
    cg_tensor_free(w);
    cg_tensor_free(g0);
    cg_tensor_free(ones);
}

/* cg_grad, with or without create_graph, never touches .grad, even when it exists. */
static void test_grad_leaves_dot_grad_alone(void **state)
{
    (void)state;
    cg_tensor *x = cg_test_rand(CG_F64, 2, (int64_t[]){4, 3}, 71);
    cg_tensor *w = cg_test_rand(CG_F64, 2, (int64_t[]){2, 3}, 72);
    cg_tensor *g = cg_test_rand(CG_F64, 2, (int64_t[]){4, 2}, 73);
    assert_ok(cg_tensor_set_requires_grad(w, true));
    cg_tensor *y = cg_linear(x, w, NULL);
    assert_ok(cg_backward(y, g));
    double *before = cg_test_values(cg_tensor_grad(w));
    for (int cg = 0; cg < 2; cg++) {
        cg_grad_options opt = {cg == 1, false};
        cg_tensor *dw;
        assert_ok(cg_grad(&y, 1, &g, &w, 1, &dw, &opt));
        check_values(dw, before, 1e-12, "cg_grad's result", "contiguous");
        check_values(cg_tensor_grad(w), before, 0, "w.grad after cg_grad", "contiguous");
    }
    free(before);
    cg_tensor_free(x);
    cg_tensor_free(w);
    cg_tensor_free(g);
}

/* The accumulated .grad of an f32 layer does not depend on the thread count (for a
 * product that takes BLIS's small-matrix path on any thread count: out < 64). */
static void test_accumulation_thread_independent(void **state)
{
    (void)state;
    int64_t rows = 130, in = 96, out = 10;
    float *result[2];
    int threads_before = cg_get_num_threads();
    for (int t = 0; t < 2; t++) {
        cg_set_num_threads(t + 1);
        cg_tensor *x = cg_test_rand(CG_F32, 2, (int64_t[]){rows, in}, 81);
        cg_tensor *w = cg_test_rand(CG_F32, 2, (int64_t[]){out, in}, 82);
        cg_tensor *g = cg_test_rand(CG_F32, 2, (int64_t[]){rows, out}, 83);
        assert_ok(cg_tensor_set_requires_grad(w, true));
        cg_tensor *y = cg_linear(x, w, NULL);
        for (int pass = 0; pass < 3; pass++)
            assert_ok(cg_backward(y, g));
        result[t] = malloc(sizeof(float) * (size_t)(out * in));
        assert_non_null(result[t]);
        memcpy(result[t], cg_tensor_data(cg_tensor_grad(w)), sizeof(float) * (size_t)(out * in));
        cg_tensor_free(x);
        cg_tensor_free(w);
        cg_tensor_free(g);
    }
    cg_set_num_threads(threads_before);
    assert_memory_equal(result[0], result[1], sizeof(float) * (size_t)(out * in));
    free(result[0]);
    free(result[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_weight_grad_layouts),
        CG_TEST(test_transposed_input_grad),
        CG_TEST(test_weight_grad_second_order),
        CG_TEST(test_layouts_gradgradcheck),
        CG_TEST(test_products_add_into_grads),
        CG_TEST(test_grad_read_by_the_graph),
        CG_TEST(test_grad_leaves_dot_grad_alone),
        CG_TEST(test_accumulation_thread_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
