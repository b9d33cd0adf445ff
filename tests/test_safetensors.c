/* Safetensors files: round trips of every dtype and shape kind, the atomic write, hostile
 * files rejected with CG_ERR_FORMAT, and a file read back by PyTorch
 * (tests/read_safetensors.py, skipped when /usr/bin/python3 has no torch). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

static char dir[64];

static int dir_setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/cgrad-st-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int dir_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *file(const char *name)
{
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

/* Number of entries of dir whose name contains ".tmp-". */
static int temp_files(const char *d)
{
    DIR *dp = opendir(d);
    int n = 0;
    struct dirent *e;
    while (dp && (e = readdir(dp)))
        n += strstr(e->d_name, ".tmp-") != NULL;
    if (dp)
        closedir(dp);
    return n;
}

static long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* Write an 8-byte length (given), the header text and len_data bytes of data. */
static void write_raw(const char *path, uint64_t hlen, const char *header, size_t len_data)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    unsigned char p[8];
    for (int k = 0; k < 8; k++)
        p[k] = (unsigned char)(hlen >> (8 * k));
    fwrite(p, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    for (size_t i = 0; i < len_data; i++)
        fputc((int)(i & 0xff), f);
    fclose(f);
}

/* A file whose header is exactly `header` followed by len_data bytes. */
static void write_file(const char *path, const char *header, size_t len_data)
{
    write_raw(path, strlen(header), header, len_data);
}

static void expect_format_error(const char *path, const char *text)
{
    cg_clear_error();
    cg_safetensors *st = cg_safetensors_open(path);
    if (st) {
        cg_safetensors_close(st);
        fail_msg("%s: accepted, expected an error containing \"%s\"", path, text);
    }
    assert_int_equal(cg_last_status(), CG_ERR_FORMAT);
    assert_error_contains(text);
}

static void assert_same_tensor(const cg_tensor *a, const cg_tensor *b)
{
    assert_int_equal(cg_tensor_dtype(a), cg_tensor_dtype(b));
    assert_int_equal(cg_tensor_ndim(a), cg_tensor_ndim(b));
    for (int d = 0; d < cg_tensor_ndim(a); d++)
        assert_int_equal(cg_tensor_size(a, d), cg_tensor_size(b, d));
    int64_t n = cg_tensor_numel(a);
    cg_tensor *ca = cg_tensor_clone(a), *cb = cg_tensor_clone(b);
    assert_memory_equal(cg_tensor_data(ca), cg_tensor_data(cb),
                        (size_t)n * cg_dtype_size(cg_tensor_dtype(a)));
    cg_tensor_free(ca);
    cg_tensor_free(cb);
}

/* ---- round trips ---- */

/* Seven tensors covering the dtypes, 0-d, zero-size and a strided view; caller frees t[0..6). */
static void make_tensors(cg_tensor **t, const char **names)
{
    cg_rng rng = cg_rng_init(7);
    int64_t s23[2] = {2, 3}, s4[1] = {4}, s0[2] = {3, 0}, s32[2] = {3, 2};
    t[0] = cg_tensor_uniform(&rng, CG_F32, 2, s23, -1, 1);
    t[1] = cg_tensor_normal(&rng, CG_F64, 1, s4, 0, 1);
    t[2] = cg_tensor_from_data(CG_I64, 1, s4, (int64_t[]){-5, 0, 9007199254740993LL, INT64_MIN});
    t[3] = cg_tensor_scalar(CG_F64, -0.0);
    t[4] = cg_tensor_zeros(CG_F32, 2, s0);
    t[5] = cg_tensor_from_data(CG_F64, 2, s32, (double[]){1, 2, 3, 4, 5, NAN});
    t[6] = cg_tensor_scalar(CG_I64, 42);
    names[0] = "layer.weight";
    names[1] = "f64 vector";
    names[2] = "indices";
    names[3] = "scalar";
    names[4] = "empty";
    names[5] = "nan and more";
    names[6] = "\xc3\xa9t\xc3\xa9"; /* "été" in UTF-8 */
    for (int i = 0; i < 7; i++)
        assert_tensor(t[i]);
}

static void test_round_trip(void **state)
{
    (void)state;
    cg_tensor *t[8];
    const char *names[8];
    make_tensors(t, names);
    /* A transposed (non-contiguous) view is written in row-major order. */
    cg_tensor *view = cg_transpose(t[5], 0, 1);
    assert_tensor(view);
    assert_false(cg_tensor_is_contiguous(view));
    t[7] = view;
    names[7] = "transposed";
    const char *keys[] = {"format", "note"}, *values[] = {"pt", "quote \" and \\ and \xe2\x82\xac"};
    const char *path = file("round.safetensors");
    assert_ok(cg_safetensors_save(path, names, t, 8, keys, values, 2));
    assert_int_equal(temp_files(dir), 0);

    /* The data starts 8-byte aligned, after a header that begins with '{'. */
    FILE *f = fopen(path, "rb");
    unsigned char head[9];
    assert_int_equal(fread(head, 1, 9, f), 9);
    fclose(f);
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--)
        hlen = hlen << 8 | head[k];
    assert_int_equal(hlen % 8, 0);
    assert_int_equal(head[8], '{');

    cg_safetensors *st = cg_safetensors_open(path);
    assert_non_null(st);
    assert_int_equal(cg_safetensors_count(st), 8);
    for (int i = 0; i < 8; i++) {
        assert_string_equal(cg_safetensors_name(st, i), names[i]);
        assert_int_equal(cg_safetensors_find(st, names[i]), i);
        cg_tensor *r = cg_safetensors_read(st, i);
        assert_tensor(r);
        assert_same_tensor(r, t[i]);
        cg_tensor_free(r);
    }
    assert_string_equal(cg_safetensors_dtype_name(st, 2), "I64");
    assert_int_equal(cg_safetensors_find(st, "absent"), -1);
    assert_int_equal(cg_safetensors_num_metadata(st), 2);
    assert_string_equal(cg_safetensors_metadata_key(st, 1), "note");
    assert_string_equal(cg_safetensors_metadata_value(st, 1), values[1]);
    assert_string_equal(cg_safetensors_metadata(st, "format"), "pt");
    assert_null(cg_safetensors_metadata(st, "absent"));
    assert_null(cg_safetensors_name(st, 8));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);

    /* Reading in place: into a strided view, and a refusal on another shape or dtype. */
    int64_t s23[2] = {2, 3};
    cg_tensor *dst = cg_tensor_zeros(CG_F64, 2, s23);
    cg_tensor *dst_t = cg_transpose(dst, 0, 1); /* [3, 2] view of dst */
    uint64_t version = cg_tensor_version(dst);
    assert_ok(cg_safetensors_read_into(st, 5, dst_t));
    assert_true(cg_tensor_version(dst) > version);
    assert_same_tensor(dst_t, t[5]);
    assert_int_equal(cg_safetensors_read_into(st, 5, dst), CG_ERR_VALUE);
    assert_error_contains("nan and more");
    assert_int_equal(cg_safetensors_read_into(st, 0, dst), CG_ERR_VALUE); /* f32 vs f64 */
    cg_tensor_free(dst);
    cg_safetensors_close(st);
    for (int i = 0; i < 7; i++)
        cg_tensor_free(t[i]);
}

static void test_empty_file_and_bad_arguments(void **state)
{
    (void)state;
    const char *path = file("nothing.safetensors");
    assert_ok(cg_safetensors_save(path, NULL, NULL, 0, NULL, NULL, 0));
    cg_safetensors *st = cg_safetensors_open(path);
    assert_non_null(st);
    assert_int_equal(cg_safetensors_count(st), 0);
    assert_int_equal(cg_safetensors_num_metadata(st), 0);
    cg_safetensors_close(st);
    assert_int_equal(file_size(path), 16); /* "{}" padded to 8 bytes */

    cg_tensor *a = cg_tensor_scalar(CG_F32, 1);
    cg_tensor *two[2] = {a, a};
    const char *dup[2] = {"x", "x"}, *reserved[1] = {"__metadata__"}, *empty[1] = {""};
    const char *bad_utf8[1] = {"\xff"}, *null_name[1] = {NULL};
    assert_int_equal(cg_safetensors_save(path, dup, two, 2, NULL, NULL, 0), CG_ERR_VALUE);
    assert_error_contains("duplicate tensor name \"x\"");
    assert_int_equal(cg_safetensors_save(path, reserved, two, 1, NULL, NULL, 0), CG_ERR_VALUE);
    assert_int_equal(cg_safetensors_save(path, empty, two, 1, NULL, NULL, 0), CG_ERR_VALUE);
    assert_int_equal(cg_safetensors_save(path, bad_utf8, two, 1, NULL, NULL, 0), CG_ERR_VALUE);
    assert_int_equal(cg_safetensors_save(path, null_name, two, 1, NULL, NULL, 0), CG_ERR_NULL);
    const char *keys[2] = {"k", "k"}, *vals[2] = {"1", "2"};
    assert_int_equal(cg_safetensors_save(path, NULL, NULL, 0, keys, vals, 2), CG_ERR_VALUE);
    assert_error_contains("duplicate metadata key");
    cg_tensor *nul[1] = {NULL};
    assert_int_equal(cg_safetensors_save(path, dup, nul, 1, NULL, NULL, 0), CG_ERR_NULL);
    assert_int_equal(cg_safetensors_save(NULL, dup, two, 1, NULL, NULL, 0), CG_ERR_NULL);
    assert_null(cg_safetensors_open(NULL));
    assert_null(cg_safetensors_open(file("does-not-exist")));
    assert_int_equal(cg_last_status(), CG_ERR_IO);
    assert_error_contains("does-not-exist");
    assert_null(cg_safetensors_open(dir)); /* a directory */
    assert_int_equal(cg_last_status(), CG_ERR_IO);
    assert_int_equal(temp_files(dir), 0);
    cg_tensor_free(a);
}

/* ---- the atomic write ---- */

static void test_atomic_write(void **state)
{
    (void)state;
    int64_t big = 4096, small = 3;
    cg_tensor *b = cg_tensor_ones(CG_F64, 1, &big), *s = cg_tensor_full(CG_F64, 1, &small, 2);
    const char *name[1] = {"t"};
    const char *path = file("atomic.safetensors");

    /* Overwriting replaces the file whole: a large file, then a small one. */
    assert_ok(cg_safetensors_save(path, name, &b, 1, NULL, NULL, 0));
    long large = file_size(path);
    assert_ok(cg_safetensors_save(path, name, &s, 1, NULL, NULL, 0));
    assert_true(file_size(path) < large);
    cg_safetensors *st = cg_safetensors_open(path);
    assert_non_null(st);
    cg_tensor *r = cg_safetensors_read(st, 0);
    assert_same_tensor(r, s);
    cg_tensor_free(r);
    cg_safetensors_close(st);

    /* A directory that does not exist, and a "directory" that is a file: CG_ERR_IO naming
     * the path, nothing left behind. */
    assert_int_equal(cg_safetensors_save(file("no-such-dir/x.safetensors"), name, &s, 1, NULL, NULL, 0),
                     CG_ERR_IO);
    assert_error_contains("no-such-dir/x.safetensors");
    assert_error_contains("No such file or directory");
    char under_file[300];
    snprintf(under_file, sizeof under_file, "%s/x.safetensors", path);
    assert_int_equal(cg_safetensors_save(under_file, name, &s, 1, NULL, NULL, 0), CG_ERR_IO);
    assert_error_contains("Not a directory");

    /* A write failing midway (the file size limit stands in for a full disk): CG_ERR_IO,
     * the temporary file removed, the old file intact. */
    struct rlimit old;
    getrlimit(RLIMIT_FSIZE, &old);
    struct rlimit lim = {4096, old.rlim_max};
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &lim);
    cg_status st_big = cg_safetensors_save(path, name, &b, 1, NULL, NULL, 0);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, prev);
    assert_int_equal(st_big, CG_ERR_IO);
    assert_error_contains(path);
    assert_int_equal(temp_files(dir), 0);
    st = cg_safetensors_open(path);
    assert_non_null(st);
    r = cg_safetensors_read(st, 0);
    assert_same_tensor(r, s);
    cg_tensor_free(r);
    cg_safetensors_close(st);

    cg_tensor_free(b);
    cg_tensor_free(s);
}

/* ---- hostile files ---- */

static void test_rejects_truncated(void **state)
{
    (void)state;
    const char *p = file("bad.safetensors");
    FILE *f = fopen(p, "wb");
    fwrite("\x10\0\0", 1, 3, f);
    fclose(f);
    expect_format_error(p, "shorter than the 8-byte header length");
    write_raw(p, 1000, "{}", 0);
    expect_format_error(p, "exceeds the file");
    write_raw(p, 200000000, "{}", 0);
    expect_format_error(p, "100 MB");
    write_raw(p, UINT64_MAX, "{}", 0);
    expect_format_error(p, "exceeds");
    /* A valid file cut short inside its data. */
    write_file(p, "{\"a\":{\"dtype\":\"F64\",\"shape\":[4],\"data_offsets\":[0,32]}}", 20);
    expect_format_error(p, "out of the data buffer");
    write_raw(p, 0, "", 0);
    expect_format_error(p, "does not start with '{'");
}

static void test_rejects_bad_json(void **state)
{
    (void)state;
    const char *p = file("bad.safetensors");
    static const struct {
        const char *header;
        const char *error;
    } cases[] = {
        {"{\"a\":", "not valid JSON"},
        {" {}", "does not start with '{'"},
        {"[1]", "does not start with '{'"},
        {"{} x", "data after its JSON object"},
        {"{}{}", "data after its JSON object"},
        {"{\"a\":\"\xff\"}", "not valid UTF-8"},
        {"{\"a\":\"\xc0\xaf\"}", "not valid UTF-8"}, /* overlong '/' */
        {"{\"a\":1}", "entry is not an object"},
        {"{\"a\":{\"shape\":[],\"data_offsets\":[0,4]}}", "missing or ill-typed \"dtype\""},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", "missing or ill-typed \"shape\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[]}}", "\"data_offsets\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":{},\"data_offsets\":[0,4]}}", "\"shape\""},
        {"{\"a\":{\"dtype\":7,\"shape\":[],\"data_offsets\":[0,4]}}", "\"dtype\""},
        {"{\"a\":{\"dtype\":\"F128\",\"shape\":[],\"data_offsets\":[0,4]}}", "unknown dtype \"F128\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "dimension 0"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", "dimension 0"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", "dimension 0"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1e300],\"data_offsets\":[0,4]}}", "dimension 1"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
         "\"data_offsets\":[0,4]}}", "overflow"},
        {"{\"a\":{\"dtype\":\"F64\",\"shape\":[4503599627370495,4096],\"data_offsets\":[0,4]}}",
         "overflow"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
         "9 dimensions"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0]}}", "data_offsets must be"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4,8]}}", "data_offsets must be"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[4,0]}}", "data_offsets must be"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[-4,0]}}", "data_offsets must be"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", "need 8"},
        {"{\"__metadata__\":{\"k\":1}}", "metadata \"k\" is not a string"},
        {"{\"__metadata__\":[]}", "\"__metadata__\" is not an object"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", "duplicate \"__metadata__\""},
        {"{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", "duplicate metadata key \"k\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        write_file(p, cases[i].header, 4);
        expect_format_error(p, cases[i].error);
    }
    /* Nesting deeper than cJSON's limit is refused, not recursed into. */
    char deep[4100];
    size_t k = 0;
    deep[k++] = '{';
    memcpy(deep + k, "\"a\":", 4);
    k += 4;
    for (int d = 0; d < 2000; d++)
        deep[k++] = '[';
    for (int d = 0; d < 2000; d++)
        deep[k++] = ']';
    deep[k++] = '}';
    deep[k] = '\0';
    write_file(p, deep, 0);
    expect_format_error(p, "not valid JSON");
}

static void test_rejects_bad_layout(void **state)
{
    (void)state;
    const char *p = file("bad.safetensors");
#define T(name, b, e) "\"" name "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[" #b "," #e "]}"
    write_file(p, "{" T("a", 0, 4) "," T("b", 4, 8) "}", 12);
    expect_format_error(p, "4 bytes after the last tensor's data");
    write_file(p, "{" T("a", 0, 4) "," T("b", 2, 6) "}", 8);
    expect_format_error(p, "overlap");
    write_file(p, "{" T("a", 0, 4) "," T("b", 0, 4) "}", 4);
    expect_format_error(p, "overlap");
    write_file(p, "{" T("a", 0, 4) "," T("b", 8, 12) "}", 12);
    expect_format_error(p, "gap of 4 bytes");
    write_file(p, "{" T("a", 0, 4) "," T("b", 4, 8) "}", 6);
    expect_format_error(p, "tensor 'b': data_offsets [4, 8] out of the data buffer (6 bytes)");
    write_file(p, "{" T("a", 0, 4) "," T("a", 4, 8) "}", 8);
    expect_format_error(p, "duplicate tensor name 'a'");
    write_file(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[9007199254740980,"
                  "9007199254740984]}}", 4);
    expect_format_error(p, "out of the data buffer");
#undef T
    /* The same layouts, fixed, are accepted; padding spaces after the JSON too. */
    write_file(p, "{\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]},"
                  "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                  "\"z\":{\"dtype\":\"I64\",\"shape\":[0,5],\"data_offsets\":[8,8]}}   ", 8);
    cg_safetensors *st = cg_safetensors_open(p);
    assert_non_null(st);
    assert_int_equal(cg_safetensors_count(st), 3);
    cg_safetensors_close(st);
}

static void test_unsupported_dtype(void **state)
{
    (void)state;
    const char *p = file("f16.safetensors");
    write_file(p, "{\"h\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}", 8);
    cg_safetensors *st = cg_safetensors_open(p);
    assert_non_null(st);
    int ndim = 0;
    int64_t shape[CG_MAX_DIMS];
    assert_int_equal(cg_safetensors_info(st, 0, NULL, &ndim, shape), CG_ERR_DTYPE);
    assert_int_equal(ndim, 2);
    assert_int_equal(shape[1], 2);
    assert_string_equal(cg_safetensors_dtype_name(st, 0), "BF16");
    assert_null(cg_safetensors_read(st, 0));
    assert_int_equal(cg_last_status(), CG_ERR_DTYPE);
    assert_error_contains("BF16");
    cg_safetensors_close(st);
}

/* A file whose data shrinks after open: reading reports CG_ERR_IO, nothing leaks. */
static void test_file_changed_under_handle(void **state)
{
    (void)state;
    const char *p = file("shrink.safetensors");
    int64_t n = 64;
    cg_tensor *t = cg_tensor_ones(CG_F64, 1, &n);
    const char *name[1] = {"t"};
    assert_ok(cg_safetensors_save(p, name, &t, 1, NULL, NULL, 0));
    cg_safetensors *st = cg_safetensors_open(p);
    assert_non_null(st);
    assert_int_equal(truncate(p, 100), 0);
    assert_null(cg_safetensors_read(st, 0));
    assert_int_equal(cg_last_status(), CG_ERR_IO);
    assert_int_equal(cg_safetensors_read_into(st, 0, t), CG_ERR_IO);
    cg_safetensors_close(st);
    cg_tensor_free(t);
}

/* Out-of-memory paths: every allocation of a save and an open may fail without leaking. */
static void test_out_of_memory(void **state)
{
    (void)state;
    cg_tensor *t[8];
    const char *names[8];
    make_tensors(t, names);
    const char *keys[1] = {"k"}, *vals[1] = {"v"};
    const char *p = file("oom.safetensors");
    assert_ok(cg_safetensors_save(p, names, t, 7, keys, vals, 1));
    for (int k = 1; k < 200; k++) {
        cg_alloc_fail_after(k);
        cg_status s = cg_safetensors_save(p, names, t, 7, keys, vals, 1);
        cg_alloc_fail_after(0);
        if (s == CG_OK)
            break;
        assert_int_equal(s, CG_ERR_NOMEM);
    }
    for (int k = 1; k < 200; k++) {
        cg_alloc_fail_after(k);
        cg_safetensors *st = cg_safetensors_open(p);
        cg_alloc_fail_after(0);
        if (st) {
            cg_safetensors_close(st);
            break;
        }
        assert_int_equal(cg_last_status(), CG_ERR_NOMEM);
    }
    assert_int_equal(temp_files(dir), 0);
    for (int i = 0; i < 7; i++)
        cg_tensor_free(t[i]);
}

/* ---- PyTorch reads the file ---- */

/* Parse the comma-separated values of a reader line and compare them with t, exactly. */
static void compare_values(const cg_tensor *t, char *csv, const char *name)
{
    int64_t n = cg_tensor_numel(t);
    cg_tensor *c = cg_tensor_clone(t);
    char *save = NULL, *tok = strtok_r(csv, ",", &save);
    for (int64_t i = 0; i < n; i++, tok = strtok_r(NULL, ",", &save)) {
        if (!tok)
            fail_msg("%s: PyTorch gave %lld values, expected %lld", name, (long long)i, (long long)n);
        if (cg_tensor_dtype(t) == CG_I64) {
            long long v = strtoll(tok, NULL, 10);
            assert_int_equal(v, ((int64_t *)cg_tensor_data(c))[i]);
        } else {
            double v = strtod(tok, NULL);
            double w = cg_tensor_dtype(t) == CG_F32 ? ((float *)cg_tensor_data(c))[i]
                                                    : ((double *)cg_tensor_data(c))[i];
            if (!(v == w && signbit(v) == signbit(w)) && !(isnan(v) && isnan(w)))
                fail_msg("%s[%lld]: PyTorch %s, libcgrad %.17g", name, (long long)i, tok, w);
        }
    }
    cg_tensor_free(c);
}

static void test_pytorch_reads_file(void **state)
{
    (void)state;
    if (access("/usr/bin/python3", X_OK) != 0) {
        fprintf(stderr, "# skipped: no /usr/bin/python3\n");
        skip();
    }
    cg_tensor *t[8];
    const char *names[8];
    make_tensors(t, names);
    const char *keys[] = {"epoch"}, *values[] = {"12"};
    const char *p = file("torch.safetensors");
    assert_ok(cg_safetensors_save(p, names, t, 7, keys, values, 1));
    char cmd[512];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 read_safetensors.py '%s'", p);
    FILE *pipe = popen(cmd, "r");
    assert_non_null(pipe);
    static const char *const torch_dtypes[] = {"torch.float32", "torch.float64", "torch.int64"};
    char line[4096];
    int seen = 0, meta = 0;
    while (fgets(line, sizeof line, pipe)) {
        line[strcspn(line, "\n")] = '\0';
        char *save = NULL, *kind = strtok_r(line, "|", &save);
        if (!strcmp(kind, "meta")) {
            assert_string_equal(strtok_r(NULL, "|", &save), "epoch");
            assert_string_equal(strtok_r(NULL, "|", &save), "12");
            meta++;
            continue;
        }
        const char *name = strtok_r(NULL, "|", &save);
        int i = 0;
        while (i < 7 && strcmp(names[i], name))
            i++;
        assert_true(i < 7);
        assert_string_equal(strtok_r(NULL, "|", &save), torch_dtypes[cg_tensor_dtype(t[i])]);
        /* Shape (possibly empty for 0-d) and values (empty for zero-size) may be empty
         * fields, so split by hand. */
        char *shape = save, *bar = strchr(shape, '|');
        assert_non_null(bar);
        *bar = '\0';
        char expect[128] = "";
        for (int d = 0; d < cg_tensor_ndim(t[i]); d++)
            snprintf(expect + strlen(expect), sizeof expect - strlen(expect), "%s%lld",
                     d ? "," : "", (long long)cg_tensor_size(t[i], d));
        assert_string_equal(shape, expect);
        compare_values(t[i], bar + 1, name);
        seen++;
    }
    int status = pclose(pipe);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 77 && seen == 0) {
        fprintf(stderr, "# skipped: /usr/bin/python3 has no torch\n");
        for (int i = 0; i < 7; i++)
            cg_tensor_free(t[i]);
        skip();
    }
    assert_int_equal(status, 0);
    assert_int_equal(seen, 7);
    assert_int_equal(meta, 1);
    for (int i = 0; i < 7; i++)
        cg_tensor_free(t[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_round_trip),
        CG_TEST(test_empty_file_and_bad_arguments),
        CG_TEST(test_atomic_write),
        CG_TEST(test_rejects_truncated),
        CG_TEST(test_rejects_bad_json),
        CG_TEST(test_rejects_bad_layout),
        CG_TEST(test_unsupported_dtype),
        CG_TEST(test_file_changed_under_handle),
        CG_TEST(test_out_of_memory),
        CG_TEST(test_pytorch_reads_file),
    };
    return cmocka_run_group_tests(tests, dir_setup, dir_teardown);
}
