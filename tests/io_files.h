/* Test helpers for the io suites (test_idx.c, test_dataset.c): a scratch folder made per
 * suite, and IDX files built in memory and written plain or gzipped (with zlib's gzopen,
 * as the real datasets are). The memory here is the tests' own (malloc), not the
 * library's, so the leak check after each case sees only what the library holds. */
#ifndef CG_IO_FILES_H
#define CG_IO_FILES_H

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "test_util.h"

static char io_dir[64];

/* Where the real Fashion-MNIST files are looked for: CGRAD_TEST_FASHION_DIR if set (point it
 * at an empty folder to check that the real-data cases skip), else NULL, the library's
 * default (Debian's dataset-fashion-mnist folder). */
static inline const char *io_fashion_dir(void)
{
    const char *d = getenv("CGRAD_TEST_FASHION_DIR");
    return d && *d ? d : NULL;
}

/* cmocka group setup / teardown: make and remove the scratch folder. */
static int io_dir_setup(void **state)
{
    (void)state;
    strcpy(io_dir, "/tmp/cgrad-io-XXXXXX");
    return mkdtemp(io_dir) ? 0 : -1;
}

static int io_dir_teardown(void **state)
{
    (void)state;
    DIR *d = opendir(io_dir);
    if (!d)
        return -1;
    struct dirent *e;
    char p[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(p, sizeof p, "%s/%s", io_dir, e->d_name);
            unlink(p);
        }
    }
    closedir(d);
    return rmdir(io_dir);
}

/* path of name in the scratch folder, into buf[512] */
static inline const char *io_path(char *buf, const char *name)
{
    snprintf(buf, 512, "%s/%s", io_dir, name);
    return buf;
}

/* An in-memory file. */
typedef struct io_bytes {
    uint8_t *p;
    size_t n;
} io_bytes;

static inline void io_put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline size_t io_type_size(uint8_t type)
{
    switch (type) {
    case 0x0B: return 2;
    case 0x0C: case 0x0D: return 4;
    case 0x0E: return 8;
    default: return 1;
    }
}

/* value v encoded big-endian as IDX type `type` at p */
static inline void io_encode(uint8_t type, double v, uint8_t *p)
{
    uint64_t u = 0;
    size_t n = io_type_size(type);
    if (type == 0x0D) {
        float f = (float)v;
        uint32_t w;
        memcpy(&w, &f, 4);
        u = w;
    } else if (type == 0x0E) {
        memcpy(&u, &v, 8);
    } else {
        u = (uint64_t)(int64_t)v;
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(u >> (8 * (n - 1 - i)));
}

/* An IDX file: magic, dims, then numel(dims) values (NULL: value i is i % 251). */
static inline io_bytes io_idx(uint8_t type, int ndim, const uint32_t *dims, const double *values)
{
    size_t numel = 1, es = io_type_size(type);
    for (int i = 0; i < ndim; i++)
        numel *= dims[i];
    io_bytes b;
    b.n = 4 + 4 * (size_t)ndim + numel * es;
    b.p = calloc(b.n, 1);
    b.p[2] = type;
    b.p[3] = (uint8_t)ndim;
    for (int i = 0; i < ndim; i++)
        io_put_be32(b.p + 4 + 4 * i, dims[i]);
    for (size_t i = 0; i < numel; i++)
        io_encode(type, values ? values[i] : (double)(i % 251), b.p + 4 + 4 * ndim + i * es);
    return b;
}

/* Write n bytes to path, through gzip when gz; returns 0 on success. */
static inline int io_write(const char *path, const void *p, size_t n, bool gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f)
            return -1;
        int ok = n == 0 || gzwrite(f, p, (unsigned)n) == (int)n;
        return gzclose(f) == Z_OK && ok ? 0 : -1;
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

/* Read a whole file into memory (the caller frees .p). */
static inline io_bytes io_slurp(const char *path)
{
    io_bytes b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return b;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b.p = malloc(n > 0 ? (size_t)n : 1);
    b.n = fread(b.p, 1, (size_t)n, f);
    fclose(f);
    return b;
}

/* Write b (plain or gzipped) as name in the scratch folder, free b, return the path. */
static inline const char *io_file(char *buf, const char *name, io_bytes b, bool gz)
{
    io_path(buf, name);
    int rc = io_write(buf, b.p, b.n, gz);
    free(b.p);
    return rc == 0 ? buf : NULL;
}

/* Run a suite: the cases, plus the real-data cases when the four Fashion-MNIST files are
 * there. Without them those cases are left out with a note rather than run with cmocka's
 * skip(): cmocka 1.1.5 reports a skip as "not ok N # SKIP", which meson counts as a failure,
 * and the suite must pass where dataset-fashion-mnist is not installed. */
static inline int io_run_suite(const char *name, const struct CMUnitTest *cases, size_t n,
                               const struct CMUnitTest *real, size_t nreal)
{
    const char *files[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    const char *dir = io_fashion_dir() ? io_fashion_dir() : "/usr/share/datasets/fashion-mnist";
    bool present = true;
    for (int i = 0; i < 4; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        present = present && access(p, R_OK) == 0;
    }
    struct CMUnitTest *all = malloc((n + nreal) * sizeof *all);
    if (!all)
        return 1;
    memcpy(all, cases, n * sizeof *all);
    if (present)
        memcpy(all + n, real, nreal * sizeof *all);
    else
        printf("# %zu real-data case(s) left out: no Fashion-MNIST files in %s "
               "(Debian package dataset-fashion-mnist)\n", nreal, dir);
    int rc = _cmocka_run_group_tests(name, all, present ? n + nreal : n, io_dir_setup,
                                     io_dir_teardown);
    free(all);
    return rc;
}

#endif
