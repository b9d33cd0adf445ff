/* Initializers: sample moments against each formula (5 standard errors), bounds, the
 * orthogonal and sparse structures, gains and fans, thread-count independence, errors. */
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#define SHAPE(...) (int64_t[]){__VA_ARGS__}

/* Moments of a sample: mean, variance (biased) and fourth central moment. */
typedef struct moments {
    double mean, var, m4, min, max;
    int64_t n;
} moments;

static moments sample_moments(const cg_tensor *t)
{
    moments s = {0, 0, 0, INFINITY, -INFINITY, cg_tensor_numel(t)};
    double *v = malloc((size_t)s.n * sizeof *v);
    assert_ok(cg_tensor_to_f64(t, v));
    for (int64_t i = 0; i < s.n; i++) {
        s.mean += v[i];
        s.min = fmin(s.min, v[i]);
        s.max = fmax(s.max, v[i]);
    }
    s.mean /= (double)s.n;
    for (int64_t i = 0; i < s.n; i++) {
        double d = (v[i] - s.mean) * (v[i] - s.mean);
        s.var += d;
        s.m4 += d * d;
    }
    s.var /= (double)s.n;
    s.m4 /= (double)s.n;
    free(v);
    return s;
}

/* Mean within 5 standard errors sqrt(var/n) of mean, variance within 5 standard errors
 * sqrt((m4 - var^2)/n) of var (m4 from the sample, so any distribution works). */
static void assert_moments(const cg_tensor *t, double mean, double var)
{
    moments s = sample_moments(t);
    double n = (double)s.n;
    assert_close(s.mean, mean, 5 * sqrt(var / n), 0);
    assert_close(s.var, var, 5 * sqrt((s.m4 - s.var * s.var) / n), 0);
}

static void assert_bounds(const cg_tensor *t, double lo, double hi)
{
    moments s = sample_moments(t);
    if (!(s.min >= lo && s.max <= hi))
        fail_msg("values in [%.17g, %.17g], outside [%.17g, %.17g]", s.min, s.max, lo, hi);
}

static void test_gains(void **state)
{
    (void)state;
    assert_close(cg_init_gain(CG_NL_LINEAR, NAN), 1, 0, 0);
    assert_close(cg_init_gain(CG_NL_SIGMOID, NAN), 1, 0, 0);
    assert_close(cg_init_gain(CG_NL_TANH, NAN), 5.0 / 3.0, 0, 0);
    assert_close(cg_init_gain(CG_NL_RELU, NAN), sqrt(2.0), 0, 0);
    assert_close(cg_init_gain(CG_NL_SELU, NAN), 0.75, 0, 0);
    /* leaky_relu: sqrt(2 / (1 + slope^2)); no slope (NaN, PyTorch's None) means 0.01 */
    assert_close(cg_init_gain(CG_NL_LEAKY_RELU, 0.2), sqrt(2.0 / 1.04), 1e-15, 0);
    assert_close(cg_init_gain(CG_NL_LEAKY_RELU, NAN), sqrt(2.0 / 1.0001), 1e-15, 0);
    assert_close(cg_init_gain(CG_NL_LEAKY_RELU, sqrt(5.0)), sqrt(1.0 / 3.0), 1e-15, 0);
    cg_clear_error();
    assert_true(isnan(cg_init_gain((cg_nonlinearity)99, 0)));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
}

static void test_fans(void **state)
{
    (void)state;
    cg_tensor *lin = cg_tensor_zeros(CG_F32, 2, SHAPE(3, 4));
    cg_tensor *conv = cg_tensor_zeros(CG_F32, 4, SHAPE(16, 8, 3, 5));
    cg_tensor *vec = cg_tensor_zeros(CG_F32, 1, SHAPE(5));
    int64_t in = 0, out = 0;
    assert_ok(cg_init_fans(lin, &in, &out));
    assert_int_equal(in, 4);
    assert_int_equal(out, 3);
    assert_ok(cg_init_fans(conv, &in, &out));
    assert_int_equal(in, 8 * 15);
    assert_int_equal(out, 16 * 15);
    assert_int_equal(cg_init_fans(vec, &in, &out), CG_ERR_SHAPE);
    assert_error_contains("[5]");
    cg_tensor_free(lin);
    cg_tensor_free(conv);
    cg_tensor_free(vec);
}

/* A [400, 600] weight: fan_in 600, fan_out 400, 240000 samples. */
static cg_tensor *weight(cg_dtype dtype)
{
    return cg_tensor_zeros(dtype, 2, SHAPE(400, 600));
}

static void test_uniform_and_normal(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(1);
    cg_tensor *w = weight(CG_F64);
    uint64_t v0 = cg_tensor_version(w);
    assert_ok(cg_init_uniform(w, &rng, -2, 3));
    assert_true(cg_tensor_version(w) > v0);
    assert_bounds(w, -2, 3);
    assert_moments(w, 0.5, 25.0 / 12);
    assert_ok(cg_init_normal(w, &rng, 1.5, 0.5));
    assert_moments(w, 1.5, 0.25);
    assert_ok(cg_init_constant(w, 0.25));
    assert_bounds(w, 0.25, 0.25);
    cg_tensor_free(w);
}

static void test_lecun(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(2);
    cg_tensor *w = weight(CG_F32);
    double b = sqrt(3.0 / 600);
    assert_ok(cg_init_lecun_uniform(w, &rng));
    assert_bounds(w, -b, b);
    assert_moments(w, 0, b * b / 3);
    assert_ok(cg_init_lecun_normal(w, &rng));
    assert_moments(w, 0, 1.0 / 600);
    cg_tensor_free(w);
}

static void test_xavier(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(3);
    cg_tensor *w = weight(CG_F32);
    double gain = 5.0 / 3.0, var = gain * gain * 2.0 / 1000, b = sqrt(3 * var);
    assert_ok(cg_init_xavier_uniform(w, &rng, gain));
    assert_bounds(w, -b, b);
    assert_moments(w, 0, var);
    assert_ok(cg_init_xavier_normal(w, &rng, gain));
    assert_moments(w, 0, var);
    cg_tensor_free(w);
}

static void test_kaiming(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(4);
    cg_tensor *w = weight(CG_F64);
    /* PyTorch's defaults (a 0, fan_in, leaky_relu): std sqrt(2 / fan_in) */
    double var = 2.0 / 600, b = sqrt(3 * var);
    assert_ok(cg_init_kaiming_uniform(w, &rng, 0, false, CG_NL_LEAKY_RELU));
    assert_bounds(w, -b, b);
    assert_moments(w, 0, var);
    assert_ok(cg_init_kaiming_normal(w, &rng, 0, false, CG_NL_RELU));
    assert_moments(w, 0, var);
    /* fan_out with tanh: std (5/3) / sqrt(400) */
    var = 25.0 / 9 / 400;
    assert_ok(cg_init_kaiming_normal(w, &rng, 0, true, CG_NL_TANH));
    assert_moments(w, 0, var);
    /* a = sqrt(5) (nn.Linear's): bound 1 / sqrt(fan_in) */
    b = 1 / sqrt(600.0);
    assert_ok(cg_init_kaiming_uniform(w, &rng, sqrt(5.0), false, CG_NL_LEAKY_RELU));
    assert_bounds(w, -b, b);
    assert_moments(w, 0, b * b / 3);
    cg_tensor_free(w);
}

/* Moments of N(mu, s^2) truncated to [a, b]. */
static void trunc_moments(double mu, double s, double a, double b, double *mean, double *var)
{
    double al = (a - mu) / s, be = (b - mu) / s;
    double pa = exp(-al * al / 2) / sqrt(2 * M_PI), pb = exp(-be * be / 2) / sqrt(2 * M_PI);
    double z = 0.5 * (erfc(-be / sqrt(2.0)) - erfc(-al / sqrt(2.0)));
    double d = (pa - pb) / z;
    *mean = mu + s * d;
    *var = s * s * (1 + (al * pa - be * pb) / z - d * d);
}

static void test_trunc_normal(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(5);
    cg_tensor *w = weight(CG_F32);
    double mean, var;
    assert_ok(cg_init_trunc_normal(w, &rng, 0, 1, -2, 2));
    assert_bounds(w, -2, 2);
    trunc_moments(0, 1, -2, 2, &mean, &var);
    assert_moments(w, mean, var);
    /* asymmetric: N(0.5, 2^2) inside [-1, 0.1] (f32 0.1 is rounded: the stored values
     * must still be <= 0.1) */
    assert_ok(cg_init_trunc_normal(w, &rng, 0.5, 2, -1, 0.1));
    assert_bounds(w, -1, 0.1);
    trunc_moments(0.5, 2, -1, 0.1, &mean, &var);
    assert_moments(w, mean, var);
    assert_int_equal(cg_init_trunc_normal(w, &rng, 0, 1, 1, 1), CG_ERR_VALUE);
    assert_int_equal(cg_init_trunc_normal(w, &rng, 0, 1, 2, -2), CG_ERR_VALUE);
    assert_int_equal(cg_init_trunc_normal(w, &rng, 0, 1, 10, 11), CG_ERR_VALUE);
    assert_error_contains("holds only");
    cg_tensor_free(w);
}

/* max |W W^T - gain^2 I| (rows <= cols) or |W^T W - gain^2 I| (rows > cols) of w seen as
 * [rows, numel/rows]. */
static double orthogonality_error(const cg_tensor *w, double gain)
{
    int64_t rows = cg_tensor_size(w, 0), cols = cg_tensor_numel(w) / rows;
    double *v = malloc((size_t)(rows * cols) * sizeof *v), worst = 0;
    assert_ok(cg_tensor_to_f64(w, v));
    bool wide = rows <= cols;
    int64_t k = wide ? rows : cols, len = wide ? cols : rows;
    for (int64_t i = 0; i < k; i++)
        for (int64_t j = 0; j < k; j++) {
            double s = 0;
            for (int64_t l = 0; l < len; l++)
                s += wide ? v[i * cols + l] * v[j * cols + l] : v[l * cols + i] * v[l * cols + j];
            worst = fmax(worst, fabs(s - (i == j ? gain * gain : 0)));
        }
    free(v);
    return worst;
}

static void test_orthogonal(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(6);
    cg_tensor *wide = cg_tensor_zeros(CG_F64, 2, SHAPE(30, 50));
    cg_tensor *tall = cg_tensor_zeros(CG_F64, 2, SHAPE(50, 30));
    cg_tensor *conv = cg_tensor_zeros(CG_F32, 4, SHAPE(8, 3, 2, 2));
    cg_tensor *square = cg_tensor_zeros(CG_F64, 2, SHAPE(64, 64));
    assert_ok(cg_init_orthogonal(wide, &rng, 1));
    assert_true(orthogonality_error(wide, 1) < 1e-12);
    assert_ok(cg_init_orthogonal(tall, &rng, 2));
    assert_true(orthogonality_error(tall, 2) < 1e-12);
    assert_ok(cg_init_orthogonal(conv, &rng, 1)); /* [8, 12]: rows < cols */
    assert_true(orthogonality_error(conv, 1) < 1e-5);
    assert_ok(cg_init_orthogonal(square, &rng, sqrt(2.0)));
    assert_true(orthogonality_error(square, sqrt(2.0)) < 1e-12);
    cg_tensor_free(wide);
    cg_tensor_free(tall);
    cg_tensor_free(conv);
    cg_tensor_free(square);
}

/* Q from a normal matrix A with signs fixed by diag(R): R = Q^T A is upper triangular with
 * a positive diagonal. A is redrawn from a copy of the generator. */
static void test_orthogonal_sign_convention(void **state)
{
    (void)state;
    enum { ROWS = 12, COLS = 7 };
    cg_rng rng = cg_rng_init(7), replay = rng;
    cg_tensor *w = cg_tensor_zeros(CG_F64, 2, SHAPE(ROWS, COLS));
    assert_ok(cg_init_orthogonal(w, &rng, 1));
    cg_tensor *a = cg_tensor_normal(&replay, CG_F64, 2, SHAPE(ROWS, COLS), 0, 1);
    assert_true(replay.offset == rng.offset);
    const double *q = cg_tensor_data(w), *av = cg_tensor_data(a);
    for (int i = 0; i < COLS; i++)
        for (int j = 0; j < COLS; j++) {
            double r = 0;
            for (int l = 0; l < ROWS; l++)
                r += q[l * COLS + i] * av[l * COLS + j];
            if (i > j)
                assert_close(r, 0, 1e-12, 0);
            if (i == j)
                assert_true(r > 0);
        }
    cg_tensor_free(w);
    cg_tensor_free(a);
}

static void test_sparse(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(8);
    enum { OUT = 300, IN = 40, K = 7 };
    cg_tensor *w = cg_tensor_full(CG_F32, 2, SHAPE(OUT, IN), 5);
    assert_ok(cg_init_sparse(w, &rng, K, 0.5));
    const float *v = cg_tensor_data(w);
    double sum = 0, sq = 0;
    int col_hits[IN] = {0};
    for (int r = 0; r < OUT; r++) {
        int nz = 0;
        for (int c = 0; c < IN; c++)
            if (v[r * IN + c] != 0) {
                nz++;
                col_hits[c]++;
                sum += v[r * IN + c];
                sq += v[r * IN + c] * v[r * IN + c];
            }
        assert_int_equal(nz, K);
    }
    /* columns are chosen uniformly: each is hit OUT K / IN = 52.5 times on average */
    for (int c = 0; c < IN; c++)
        assert_true(col_hits[c] > 20 && col_hits[c] < 90);
    double n = OUT * K, mean = sum / n, var = sq / n - mean * mean;
    assert_close(mean, 0, 5 * 0.5 / sqrt(n), 0);
    assert_close(var, 0.25, 5 * 0.25 * sqrt(2 / n), 0);
    assert_ok(cg_init_sparse(w, &rng, 0, 0.5));
    assert_bounds(w, 0, 0);
    assert_ok(cg_init_sparse(w, &rng, IN, 0.5));
    v = cg_tensor_data(w);
    for (int i = 0; i < OUT * IN; i++)
        assert_true(v[i] != 0);
    assert_int_equal(cg_init_sparse(w, &rng, IN + 1, 0.5), CG_ERR_VALUE);
    assert_int_equal(cg_init_sparse(w, &rng, -1, 0.5), CG_ERR_VALUE);
    cg_tensor_free(w);
}

/* The same generator state gives the same weights with 1 or 2 threads. */
static void test_thread_independence(void **state)
{
    (void)state;
    cg_tensor *w[2][2];
    for (int k = 0; k < 2; k++) {
        cg_set_num_threads(k + 1);
        cg_rng rng = cg_rng_init(9);
        w[k][0] = cg_tensor_zeros(CG_F64, 2, SHAPE(300, 200));
        w[k][1] = cg_tensor_zeros(CG_F32, 2, SHAPE(256, 256));
        assert_ok(cg_init_orthogonal(w[k][0], &rng, 1));
        assert_ok(cg_init_kaiming_normal(w[k][1], &rng, 0, false, CG_NL_RELU));
        assert_ok(cg_init_trunc_normal(w[k][1], &rng, 0, 1, -1, 1));
    }
    cg_set_num_threads(0);
    assert_memory_equal(cg_tensor_data(w[0][0]), cg_tensor_data(w[1][0]), 300 * 200 * 8);
    assert_memory_equal(cg_tensor_data(w[0][1]), cg_tensor_data(w[1][1]), 256 * 256 * 4);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 2; i++)
            cg_tensor_free(w[k][i]);
}

static void test_errors(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(10);
    cg_tensor *vec = cg_tensor_zeros(CG_F32, 1, SHAPE(10));
    cg_tensor *w = cg_tensor_zeros(CG_F32, 2, SHAPE(3, 4));
    cg_tensor *idx = cg_tensor_zeros(CG_I64, 2, SHAPE(3, 4));
    cg_tensor *empty = cg_tensor_zeros(CG_F32, 2, SHAPE(0, 4));
    /* fan-based inits need 2 dimensions */
    assert_int_equal(cg_init_kaiming_uniform(vec, &rng, 0, false, CG_NL_RELU), CG_ERR_SHAPE);
    assert_error_contains("cg_init_kaiming_uniform");
    assert_int_equal(cg_init_kaiming_normal(vec, &rng, 0, false, CG_NL_RELU), CG_ERR_SHAPE);
    assert_int_equal(cg_init_xavier_uniform(vec, &rng, 1), CG_ERR_SHAPE);
    assert_int_equal(cg_init_xavier_normal(vec, &rng, 1), CG_ERR_SHAPE);
    assert_int_equal(cg_init_lecun_uniform(vec, &rng), CG_ERR_SHAPE);
    assert_int_equal(cg_init_lecun_normal(vec, &rng), CG_ERR_SHAPE);
    assert_int_equal(cg_init_orthogonal(vec, &rng, 1), CG_ERR_SHAPE);
    assert_int_equal(cg_init_sparse(vec, &rng, 1, 0.1), CG_ERR_SHAPE);
    /* NULL rng, NULL tensor, integer tensor, bad parameters */
    assert_int_equal(cg_init_normal(w, NULL, 0, 1), CG_ERR_NULL);
    assert_error_contains("rng");
    assert_int_equal(cg_init_orthogonal(w, NULL, 1), CG_ERR_NULL);
    cg_clear_error();
    assert_int_equal(cg_init_uniform(NULL, &rng, 0, 1), CG_ERR_NULL);
    assert_int_equal(cg_init_uniform(idx, &rng, 0, 1), CG_ERR_DTYPE);
    assert_int_equal(cg_init_uniform(w, &rng, 1, 0), CG_ERR_VALUE);
    assert_int_equal(cg_init_normal(w, &rng, 0, -1), CG_ERR_VALUE);
    assert_int_equal(cg_init_sparse(w, &rng, 1, 0), CG_ERR_VALUE);
    assert_int_equal(cg_init_kaiming_normal(w, &rng, 0, false, (cg_nonlinearity)42),
                     CG_ERR_VALUE);
    /* failures leave the generator where it was; zero-element tensors are a no-op */
    assert_true(rng.offset == 0);
    assert_ok(cg_init_kaiming_uniform(empty, &rng, 0, false, CG_NL_RELU));
    assert_ok(cg_init_xavier_normal(empty, &rng, 1));
    assert_ok(cg_init_orthogonal(empty, &rng, 1));
    cg_tensor_free(vec);
    cg_tensor_free(w);
    cg_tensor_free(idx);
    cg_tensor_free(empty);
}

/* nn.Linear / nn.Conv2d defaults: weight and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
static void test_default_layer_init(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(11);
    cg_module *lin = cg_linear_new(1000, 400, true, CG_F64, &rng);
    double b = 1 / sqrt(1000.0);
    assert_bounds(cg_module_find(lin, "weight"), -b, b);
    assert_moments(cg_module_find(lin, "weight"), 0, b * b / 3);
    assert_bounds(cg_module_find(lin, "bias"), -b, b);
    assert_moments(cg_module_find(lin, "bias"), 0, b * b / 3);
    /* grouped convolution: fan_in = in / groups * kh * kw = 8 * 9 */
    cg_conv2d_options o = cg_conv2d_defaults(3, 3);
    o.groups = 2;
    cg_module *conv = cg_conv2d_new(16, 512, &o, true, CG_F32, &rng);
    cg_tensor *w = cg_module_find(conv, "weight");
    assert_int_equal(cg_tensor_size(w, 1), 8);
    b = 1 / sqrt(72.0);
    assert_bounds(w, -b, b);
    assert_moments(w, 0, b * b / 3);
    assert_bounds(cg_module_find(conv, "bias"), -b, b);
    cg_module_free(lin);
    cg_module_free(conv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_gains),
        CG_TEST(test_fans),
        CG_TEST(test_uniform_and_normal),
        CG_TEST(test_lecun),
        CG_TEST(test_xavier),
        CG_TEST(test_kaiming),
        CG_TEST(test_trunc_normal),
        CG_TEST(test_orthogonal),
        CG_TEST(test_orthogonal_sign_convention),
        CG_TEST(test_sparse),
        CG_TEST(test_thread_independence),
        CG_TEST(test_errors),
        CG_TEST(test_default_layer_init),
    };
    return cmocka_run_group_tests_name("init", tests, NULL, NULL);
}
