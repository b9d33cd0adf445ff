/* IDX reader: round trips of small files the test writes (plain and gzipped, every element
 * type), every malformed-file error, hostile headers without huge allocations, allocation
 * failures, and the real Fashion-MNIST files when Debian's dataset-fashion-mnist is
 * installed (skipped otherwise). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "io_files.h"
#include "test_util.h"

/* Read path, expecting status `want` and a message holding `text` (when not OK). */
static void expect_error(const char *path, cg_status want, const char *text)
{
    cg_tensor *t = (cg_tensor *)1;
    cg_status st = cg_idx_read(path, &t);
    if (st != want)
        fail_msg("%s: got %s (%s), expected %s", path, cg_status_string(st), cg_last_error(),
                 cg_status_string(want));
    assert_null(t);
    assert_error_contains(text);
}

/* ---- round trips ---- */

static void roundtrip_images(bool gz)
{
    char buf[512];
    uint32_t dims[3] = {4, 3, 5};
    const char *path = io_file(buf, gz ? "img3.idx.gz" : "img3.idx", io_idx(0x08, 3, dims, NULL),
                               gz);
    assert_non_null(path);
    cg_tensor *t = NULL;
    assert_ok(cg_idx_read(path, &t));
    assert_int_equal(cg_tensor_dtype(t), CG_F32);
    assert_int_equal(cg_tensor_ndim(t), 3);
    assert_int_equal(cg_tensor_size(t, 0), 4);
    assert_int_equal(cg_tensor_size(t, 1), 3);
    assert_int_equal(cg_tensor_size(t, 2), 5);
    assert_true(cg_tensor_is_contiguous(t));
    const float *v = cg_tensor_data(t);
    for (int i = 0; i < 60; i++)
        assert_close(v[i], i % 251, 0, 0);
    cg_tensor_free(t);
}

static void test_images_plain(void **state) { (void)state; roundtrip_images(false); }
static void test_images_gzip(void **state) { (void)state; roundtrip_images(true); }

static void test_labels_i64(void **state)
{
    (void)state;
    char buf[512];
    uint32_t n = 300;
    for (int gz = 0; gz < 2; gz++) {
        const char *path = io_file(buf, "labels.idx", io_idx(0x08, 1, &n, NULL), gz);
        cg_tensor *t = NULL;
        assert_ok(cg_idx_read(path, &t));
        assert_int_equal(cg_tensor_dtype(t), CG_I64);
        assert_int_equal(cg_tensor_ndim(t), 1);
        assert_int_equal(cg_tensor_size(t, 0), 300);
        const int64_t *v = cg_tensor_data(t);
        assert_int_equal(v[0], 0);
        assert_int_equal(v[255], 255 % 251);
        assert_int_equal(v[299], 299 % 251);
        cg_tensor_free(t);
    }
}

/* Each element type: values that need every byte (signs, big-endian order) come back. */
typedef struct type_case {
    uint8_t code;
    int ndim;
    cg_dtype dtype; /* cg_idx_read's choice */
    double values[6];
} type_case;

static const type_case TYPE_CASES[] = {
    {0x08, 2, CG_F32, {0, 1, 127, 128, 254, 255}},
    {0x09, 2, CG_F32, {-128, -1, 0, 1, 100, 127}},
    {0x09, 1, CG_I64, {-128, -1, 0, 1, 100, 127}},
    {0x0B, 2, CG_F32, {-32768, -258, -1, 0, 513, 32767}},
    {0x0B, 1, CG_I64, {-32768, -258, -1, 0, 513, 32767}},
    {0x0C, 2, CG_F64, {-2147483648.0, -65536 - 3, -1, 0, 16777217, 2147483647}},
    {0x0C, 1, CG_I64, {-2147483648.0, -65536 - 3, -1, 0, 16777217, 2147483647}},
    {0x0D, 2, CG_F32, {-1.5, 0.25, 3.4e38, -1e-30, 0, 65504.5}},
    {0x0D, 1, CG_F32, {-1.5, 0.25, 3.4e38, -1e-30, 0, 65504.5}},
    {0x0E, 2, CG_F64, {-1.5, 0.1, 1e300, -1e-300, 0, 1.0 / 3}},
};

static void test_element_types(void **state)
{
    (void)state;
    char buf[512];
    for (size_t k = 0; k < sizeof TYPE_CASES / sizeof TYPE_CASES[0]; k++) {
        const type_case *c = &TYPE_CASES[k];
        uint32_t dims[2] = {c->ndim == 1 ? 6 : 2, 3};
        const char *path = io_file(buf, "types.idx.gz", io_idx(c->code, c->ndim, dims, c->values),
                                   k % 2 == 0);
        cg_tensor *t = NULL;
        assert_ok(cg_idx_read(path, &t));
        if (cg_tensor_dtype(t) != c->dtype)
            fail_msg("type 0x%02x, %d-d: dtype %s", c->code, c->ndim,
                     cg_dtype_name(cg_tensor_dtype(t)));
        assert_int_equal(cg_tensor_numel(t), 6);
        double got[6];
        assert_ok(cg_tensor_to_f64(t, got));
        for (int i = 0; i < 6; i++) {
            double want = c->dtype == CG_F32 ? (double)(float)c->values[i] : c->values[i];
            if (c->code == 0x0D)
                want = (double)(float)c->values[i];
            assert_close(got[i], want, 0, 0);
        }
        cg_tensor_free(t);
    }
}

static void test_read_as(void **state)
{
    (void)state;
    char buf[512];
    uint32_t dims[2] = {2, 3};
    const double v[6] = {0, 1, 2, 200, 254, 255};
    const char *path = io_file(buf, "as.idx", io_idx(0x08, 2, dims, v), false);
    const cg_dtype dts[3] = {CG_F32, CG_F64, CG_I64};
    for (int k = 0; k < 3; k++) {
        cg_tensor *t = NULL;
        assert_ok(cg_idx_read_as(path, dts[k], &t));
        assert_int_equal(cg_tensor_dtype(t), dts[k]);
        double got[6];
        assert_ok(cg_tensor_to_f64(t, got));
        for (int i = 0; i < 6; i++)
            assert_close(got[i], v[i], 0, 0);
        cg_tensor_free(t);
    }
    path = io_file(buf, "float.idx", io_idx(0x0D, 2, dims, v), false);
    cg_tensor *t = (cg_tensor *)1;
    assert_int_equal(cg_idx_read_as(path, CG_I64, &t), CG_ERR_DTYPE);
    assert_null(t);
    assert_error_contains("float32");
    assert_int_equal(cg_idx_read_as(path, (cg_dtype)7, &t), CG_ERR_VALUE);
    assert_null(t);
}

/* ---- errors ---- */

static void test_missing_and_null(void **state)
{
    (void)state;
    char buf[512];
    expect_error(io_path(buf, "no-such-file.idx"), CG_ERR_IO, "no-such-file.idx");
    assert_error_contains(strerror(ENOENT));
    expect_error(io_dir, CG_ERR_IO, io_dir); /* a directory */
    cg_tensor *t = (cg_tensor *)1;
    assert_int_equal(cg_idx_read(NULL, &t), CG_ERR_NULL);
    assert_null(t);
    assert_int_equal(cg_idx_read(buf, NULL), CG_ERR_NULL);
}

static void test_bad_magic_and_type(void **state)
{
    (void)state;
    char buf[512];
    uint32_t n = 4;
    for (int gz = 0; gz < 2; gz++) {
        io_bytes b = io_idx(0x08, 1, &n, NULL);
        b.p[0] = 0x01;
        expect_error(io_file(buf, "magic.idx", b, gz), CG_ERR_FORMAT, "not an IDX file");
        b = io_idx(0x08, 1, &n, NULL);
        b.p[1] = 0x08;
        expect_error(io_file(buf, "magic.idx", b, gz), CG_ERR_FORMAT, "not an IDX file");
        b = io_idx(0x08, 1, &n, NULL);
        b.p[2] = 0x0A;
        expect_error(io_file(buf, "type.idx", b, gz), CG_ERR_FORMAT, "element type 0x0a");
        b = io_idx(0x08, 1, &n, NULL);
        b.p[2] = 0x00;
        expect_error(io_file(buf, "type.idx", b, gz), CG_ERR_FORMAT, "element type 0x00");
    }
}

static void test_bad_ndims(void **state)
{
    (void)state;
    char buf[512];
    uint32_t dims[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    io_bytes b = io_idx(0x08, 1, dims, NULL);
    b.p[3] = 0; /* ndims 0 */
    expect_error(io_file(buf, "nd0.idx", b, false), CG_ERR_FORMAT, "0 dimensions");
    expect_error(io_file(buf, "nd9.idx", io_idx(0x08, 9, dims, NULL), true), CG_ERR_FORMAT,
                 "9 dimensions");
    /* 8 dimensions is the most a tensor has, and reads */
    cg_tensor *t = NULL;
    assert_ok(cg_idx_read(io_file(buf, "nd8.idx", io_idx(0x08, 8, dims, NULL), true), &t));
    assert_int_equal(cg_tensor_ndim(t), 8);
    cg_tensor_free(t);
}

static void test_zero_dimension(void **state)
{
    (void)state;
    char buf[512];
    uint32_t dims[3] = {3, 0, 2};
    for (int gz = 0; gz < 2; gz++)
        expect_error(io_file(buf, "zero.idx", io_idx(0x08, 3, dims, NULL), gz), CG_ERR_FORMAT,
                     "dimension 1 is 0");
}

/* Dropping the last byte of the data: the message gives both byte counts. */
static void test_truncated_data(void **state)
{
    (void)state;
    char buf[512];
    uint32_t dims[2] = {6, 10}; /* int16: 120 data bytes */
    for (int gz = 0; gz < 2; gz++) {
        io_bytes b = io_idx(0x0B, 2, dims, NULL);
        b.n -= 1;
        expect_error(io_file(buf, "short.idx", b, gz), CG_ERR_FORMAT, "truncated data");
        assert_error_contains("promises 120 bytes, the file holds 119");
        assert_error_contains("short.idx");
        b = io_idx(0x0B, 2, dims, NULL);
        b.n = 4 + 8; /* header only */
        expect_error(io_file(buf, "short.idx", b, gz), CG_ERR_FORMAT, "the file holds 0");
    }
}

static void test_truncated_header(void **state)
{
    (void)state;
    char buf[512];
    uint32_t dims[3] = {2, 2, 2};
    for (int gz = 0; gz < 2; gz++) {
        io_bytes b = io_idx(0x08, 3, dims, NULL);
        b.n = 10; /* magic and 1.5 of 3 sizes */
        expect_error(io_file(buf, "hdr.idx", b, gz), CG_ERR_FORMAT, "truncated header: 6 of 12");
        b = io_idx(0x08, 3, dims, NULL);
        b.n = 3;
        expect_error(io_file(buf, "hdr.idx", b, gz), CG_ERR_FORMAT, "truncated header: 3 of 4");
        b = io_idx(0x08, 3, dims, NULL);
        b.n = 0; /* an empty file */
        expect_error(io_file(buf, "hdr.idx", b, gz), CG_ERR_FORMAT, "truncated header: 0 of 4");
    }
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    char buf[512];
    uint32_t n = 5;
    for (int gz = 0; gz < 2; gz++) {
        io_bytes b = io_idx(0x08, 1, &n, NULL);
        b.p = realloc(b.p, b.n + 3);
        memset(b.p + b.n, 0xAB, 3);
        b.n += 3;
        expect_error(io_file(buf, "trail.idx", b, gz), CG_ERR_FORMAT, "unexpected");
        assert_error_contains("after the 5 bytes of data");
    }
}

/* Headers claiming far more data than the file holds: refused before any allocation of
 * that size (the library's peak stays small). Runs before the real-data cases, whose large
 * tensors would hide a large peak. */
static void test_hostile_sizes(void **state)
{
    (void)state;
    char buf[512];
    cg_alloc_stats before = cg_alloc_get_stats();
    io_bytes b = {calloc(12 + 16, 1), 12 + 16}; /* 2^20 x 2^20 = 2^40 elements, 16 bytes */
    b.p[2] = 0x08, b.p[3] = 2;
    io_put_be32(b.p + 4, 1u << 20);
    io_put_be32(b.p + 8, 1u << 20);
    io_bytes copy = {malloc(b.n), b.n};
    memcpy(copy.p, b.p, b.n);
    expect_error(io_file(buf, "huge.idx", b, false), CG_ERR_FORMAT, "exceed 2147483648 elements");
    expect_error(io_file(buf, "huge.idx.gz", copy, true), CG_ERR_FORMAT, "exceed");
    /* Under the cap (2^30 float64 = 8 GiB of data) but a tiny file: plain files are checked
     * against their size, gzip files read in chunks until the data runs out. */
    uint32_t big[2] = {1u << 15, 1u << 15};
    for (int gz = 0; gz < 2; gz++) {
        io_bytes h = {calloc(12 + 100, 1), 12 + 100};
        h.p[2] = 0x0E, h.p[3] = 2;
        io_put_be32(h.p + 4, big[0]);
        io_put_be32(h.p + 8, big[1]);
        expect_error(io_file(buf, "big.idx", h, gz), CG_ERR_FORMAT, "the file holds 100");
        assert_error_contains("promises 8589934592 bytes");
    }
    cg_alloc_stats after = cg_alloc_get_stats();
    int64_t bound = before.live_bytes + (4 << 20); /* one 1 MiB read chunk, plus slack */
    if (after.peak_bytes > before.peak_bytes && after.peak_bytes > bound)
        fail_msg("peak rose to %lld bytes (bound %lld)", (long long)after.peak_bytes,
                 (long long)bound);
}

static void test_gzip_cut_short(void **state)
{
    (void)state;
    char buf[512];
    uint32_t dims[2] = {50, 40};
    const char *path = io_file(buf, "cut.idx.gz", io_idx(0x08, 2, dims, NULL), true);
    io_bytes z = io_slurp(path);
    assert_true(z.n > 20);
    /* cut inside the deflate data: the stream ends early */
    assert_int_equal(io_write(path, z.p, z.n / 2, false), 0);
    expect_error(path, CG_ERR_FORMAT, "cut short");
    /* cut inside the 8-byte trailer (CRC and size): all data there, the end marker missing */
    assert_int_equal(io_write(path, z.p, z.n - 3, false), 0);
    expect_error(path, CG_ERR_FORMAT, "cut short");
    free(z.p);
}

static void test_gzip_corrupt(void **state)
{
    (void)state;
    char buf[512];
    uint32_t dims[2] = {64, 64};
    double *v = malloc(64 * 64 * sizeof *v);
    for (int i = 0; i < 64 * 64; i++)
        v[i] = (i * 2654435761u >> 13) % 256; /* not too compressible */
    const char *path = io_file(buf, "bad.idx.gz", io_idx(0x08, 2, dims, v), true);
    free(v);
    io_bytes z = io_slurp(path);
    /* a wrong CRC in the trailer: every byte decompresses, the check fails */
    z.p[z.n - 8] ^= 0xFF;
    assert_int_equal(io_write(path, z.p, z.n, false), 0);
    expect_error(path, CG_ERR_FORMAT, "corrupt gzip stream");
    z.p[z.n - 8] ^= 0xFF;
    /* an unknown compression method in the gzip header */
    z.p[2] = 7;
    assert_int_equal(io_write(path, z.p, z.n, false), 0);
    expect_error(path, CG_ERR_FORMAT, "corrupt gzip stream");
    z.p[2] = 8;
    /* garbage in the middle of the deflate data: some error, never a crash or a tensor */
    for (size_t k = 0; k < 64; k++)
        z.p[z.n / 3 + k] ^= (uint8_t)(0x5A + k);
    assert_int_equal(io_write(path, z.p, z.n, false), 0);
    cg_tensor *t = (cg_tensor *)1;
    assert_int_equal(cg_idx_read(path, &t), CG_ERR_FORMAT);
    assert_null(t);
    free(z.p);
}

/* Every allocation in turn fails: CG_ERR_NOMEM, nothing leaks (checked after the case). */
static void test_out_of_memory(void **state)
{
    (void)state;
    char buf[512];
    uint32_t dims[3] = {3, 4, 5};
    const char *files[2] = {"oom.idx", "oom.idx.gz"};
    for (int gz = 0; gz < 2; gz++) {
        const char *path = io_file(buf, files[gz], io_idx(0x08, 3, dims, NULL), gz);
        for (int k = 1;; k++) {
            cg_tensor *t = NULL;
            cg_alloc_fail_after(k);
            cg_status st = cg_idx_read(path, &t);
            cg_alloc_fail_after(0);
            if (st == CG_OK) {
                cg_tensor_free(t);
                assert_true(k > 1);
                break;
            }
            assert_int_equal(st, CG_ERR_NOMEM);
            assert_null(t);
        }
    }
}

/* uint8 files as bytes: the same values, no conversion; other types refused; allocation
 * failures leak nothing. */
static void test_read_bytes(void **state)
{
    (void)state;
    char buf[512];
    uint32_t dims[3] = {4, 3, 5};
    for (int gz = 0; gz < 2; gz++) {
        const char *path = io_file(buf, "bytes.idx", io_idx(0x08, 3, dims, NULL), gz);
        cg_bytes *b = NULL;
        assert_ok(cg_idx_read_bytes(path, &b));
        assert_int_equal(cg_bytes_ndim(b), 3);
        assert_int_equal(cg_bytes_shape(b)[0], 4);
        assert_int_equal(cg_bytes_shape(b)[2], 5);
        assert_int_equal(cg_bytes_numel(b), 60);
        const uint8_t *v = cg_bytes_data(b);
        for (int i = 0; i < 60; i++)
            assert_int_equal(v[i], i % 251);
        cg_bytes_free(b);
        for (int k = 1;; k++) {
            b = (cg_bytes *)1;
            cg_alloc_fail_after(k);
            cg_status st = cg_idx_read_bytes(path, &b);
            cg_alloc_fail_after(0);
            if (st == CG_OK) {
                cg_bytes_free(b);
                break;
            }
            assert_int_equal(st, CG_ERR_NOMEM);
            assert_null(b);
        }
    }
    const char *path = io_file(buf, "int16.idx", io_idx(0x0B, 3, dims, NULL), false);
    cg_bytes *b = (cg_bytes *)1;
    assert_int_equal(cg_idx_read_bytes(path, &b), CG_ERR_DTYPE);
    assert_null(b);
    assert_error_contains("int16");
    b = (cg_bytes *)1;
    assert_int_equal(cg_idx_read_bytes(io_path(buf, "no-such-file.idx"), &b), CG_ERR_IO);
    assert_null(b);
    assert_int_equal(cg_idx_read_bytes(path, NULL), CG_ERR_NULL);
    assert_int_equal(cg_idx_read_bytes(NULL, &b), CG_ERR_NULL);
    /* cg_bytes_new: zeroed, any rank 1..CG_MAX_DIMS, sizes >= 0 */
    b = cg_bytes_new(2, (int64_t[]){3, 0});
    assert_non_null(b);
    assert_int_equal(cg_bytes_numel(b), 0);
    cg_bytes_free(b);
    b = cg_bytes_new(1, (int64_t[]){5});
    for (int i = 0; i < 5; i++)
        assert_int_equal(cg_bytes_data(b)[i], 0);
    cg_bytes_free(b);
    assert_null(cg_bytes_new(0, NULL));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_null(cg_bytes_new(2, (int64_t[]){3, -1}));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_null(cg_bytes_new(2, NULL));
    assert_int_equal(cg_last_status(), CG_ERR_NULL);
    assert_null(cg_bytes_data(NULL));
    assert_int_equal(cg_bytes_ndim(NULL), 0);
    assert_null(cg_bytes_shape(NULL));
    assert_int_equal(cg_bytes_numel(NULL), 0);
    cg_bytes_free(NULL);
}

/* ---- the real files ---- */

/* Registered only when the files are there (io_run_suite). */
static const char *fashion_file(char *buf, const char *name)
{
    const char *dir = io_fashion_dir();
    snprintf(buf, 512, "%s/%s", dir ? dir : CG_FASHION_MNIST_DIR, name);
    return buf;
}

static void check_real(const char *images, const char *labels, int64_t n)
{
    char a[512], b[512];
    fashion_file(a, images);
    fashion_file(b, labels);
    cg_tensor *x = NULL, *y = NULL;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_ok(cg_idx_read(a, &x));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_ok(cg_idx_read(b, &y));
    print_message("# read %s in %.3f s\n", images,
                  (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    assert_int_equal(cg_tensor_dtype(x), CG_F32);
    assert_int_equal(cg_tensor_ndim(x), 3);
    assert_int_equal(cg_tensor_size(x, 0), n);
    assert_int_equal(cg_tensor_size(x, 1), 28);
    assert_int_equal(cg_tensor_size(x, 2), 28);
    assert_int_equal(cg_tensor_dtype(y), CG_I64);
    assert_int_equal(cg_tensor_size(y, 0), n);
    const float *px = cg_tensor_data(x);
    float lo = 255, hi = 0;
    for (int64_t i = 0; i < n * 784; i++)
        lo = px[i] < lo ? px[i] : lo, hi = px[i] > hi ? px[i] : hi;
    assert_close(lo, 0, 0, 0);
    assert_close(hi, 255, 0, 0);
    const int64_t *py = cg_tensor_data(y);
    int64_t count[10] = {0};
    for (int64_t i = 0; i < n; i++) {
        assert_in_range(py[i], 0, 9);
        count[py[i]]++;
    }
    for (int c = 0; c < 10; c++)
        assert_int_equal(count[c], n / 10); /* Fashion-MNIST is balanced */
    cg_tensor_free(x);
    cg_tensor_free(y);
}

static void test_real_train(void **state)
{
    (void)state;
    check_real("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000);
}

static void test_real_test(void **state)
{
    (void)state;
    check_real("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_hostile_sizes),
        CG_TEST(test_images_plain),
        CG_TEST(test_images_gzip),
        CG_TEST(test_labels_i64),
        CG_TEST(test_element_types),
        CG_TEST(test_read_as),
        CG_TEST(test_missing_and_null),
        CG_TEST(test_bad_magic_and_type),
        CG_TEST(test_bad_ndims),
        CG_TEST(test_zero_dimension),
        CG_TEST(test_truncated_data),
        CG_TEST(test_truncated_header),
        CG_TEST(test_trailing_bytes),
        CG_TEST(test_gzip_cut_short),
        CG_TEST(test_gzip_corrupt),
        CG_TEST(test_out_of_memory),
        CG_TEST(test_read_bytes),
    };
    const struct CMUnitTest real[] = {
        CG_TEST(test_real_train),
        CG_TEST(test_real_test),
    };
    return io_run_suite(__FILE__, tests, sizeof tests / sizeof tests[0], real,
                        sizeof real / sizeof real[0]);
}
