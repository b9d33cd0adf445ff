/*
 * Golden data shared by every golden suite (tests/test_golden*.c): the reader of the
 * files tests/golden/<family>.txt, the comparison with the tolerance rule, and a runner
 * that makes one cmocka test per case. golden_reader.c is compiled into every
 * tests/test_golden*.c suite (tests/meson.build).
 *
 * File format (full description in tests/golden/golden_writer.py): whitespace-separated
 * tokens, '#' comments to the end of the line.
 *   case NAME
 *   in DTYPE grad|nograd NDIM D1..DNDIM V1..Vnumel    (one per input, in op order)
 *   out DTYPE NDIM D.. V..
 *   gout DTYPE NDIM D.. V..                           (absent: op not differentiable)
 *   grad K DTYPE NDIM D.. V..                         (one per "grad" input K)
 *   end
 * f32/f64 values are hex floats (strtod reads them bit-exactly), i64 values decimal.
 *
 * Each case makes its inputs as tensors the test owns (requires_grad on "grad" inputs),
 * calls its builder, compares the output, then runs cg_grad with the stored grad_output and
 * compares each input's gradient. A value passes when
 *     |got - expected| <= tol * (1 + |expected|)
 * with tol = GOLDEN_TOL_F64 for f64 tensors and GOLDEN_TOL_F32 for f32 tensors unless the
 * builder gives its own tol; NaN must meet NaN and an infinity the same infinity. A failure
 * names the case, the tensor and the worst element.
 *
 * ADDING A FAMILY OF GOLDEN TESTS (e.g. "conv"):
 *  1. tests/golden/make_golden_conv.py imports golden_writer (see that module's docstring)
 *     and writes tests/golden/conv.txt; commit the generator and the file. Case names are
 *     unique within a suite.
 *  2. tests/test_golden_conv.c holds the builders and a main calling the runner:
 *         #include "golden_reader.h"
 *         static const cg_conv2d_options s1 = {{3, 3}, {1, 1}, {0, 0}, {1, 1}, 1};
 *         static cg_tensor *b_conv(cg_tensor *const *x, const golden_builder *b)
 *         {
 *             return cg_conv2d(x[0], x[1], x[2], b->params);
 *         }
 *         static const golden_builder builders[] = {
 *             {.name = "conv_s1_f64", .fn = b_conv, .params = &s1},
 *             {.name = "conv_s1_f32", .fn = b_conv, .params = &s1, .tol = 1e-4},
 *         };
 *         int main(void)
 *         {
 *             static const char *const files[] = {"golden/conv.txt"};
 *             return golden_run("golden_conv", files, 1, builders,
 *                               (int)(sizeof builders / sizeof builders[0]));
 *         }
 *     Then `meson setup --reconfigure build`: the suite is found and built with
 *     golden_reader.c; it runs in tests/, so the paths are relative to tests/.
 */
#ifndef CG_GOLDEN_READER_H
#define CG_GOLDEN_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "test_util.h"

#define GOLDEN_TOL_F64 1e-12
#define GOLDEN_TOL_F32 1e-5
#define GOLDEN_MAX_INPUTS 8

typedef struct golden_builder golden_builder;

/* Builds the case's output from its inputs x (in file order) with ops on the active tape.
 * Intermediates belong to the tape; the inputs belong to the runner. */
typedef cg_tensor *(*golden_build_fn)(cg_tensor *const *x, const golden_builder *b);

/* One row of a suite's table: the golden case it builds, and the attributes its fn reads.
 * axes/naxes/keep/corr serve reductions; params points at anything else a family needs. */
struct golden_builder {
    const char *name; /* the golden case */
    golden_build_fn fn;
    int axes[4];
    int naxes;
    bool keep;
    int corr;
    const void *params;
    double tol; /* 0: GOLDEN_TOL_F64 / GOLDEN_TOL_F32 by the dtype of the compared tensor */
};

/* Declares a builder's axes: GOLDEN_AXES(0, 2) gives axes {0, 2} and naxes 2. */
#define GOLDEN_AXES(...)                                                                    \
    .axes = {__VA_ARGS__}, .naxes = (int)(sizeof((int[]){__VA_ARGS__}) / sizeof(int))

/* A tensor read from a file (plain malloc: not counted by the library's allocator). */
typedef struct golden_tensor {
    cg_dtype dtype;
    bool grad; /* inputs: requires_grad */
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    int64_t numel;
    double *f;  /* f32/f64 values */
    int64_t *i; /* i64 values */
} golden_tensor;

/* One case read from a file; b is the builder whose name matches (NULL: none). */
typedef struct golden_case {
    char name[96];
    const char *file;
    int line;
    int nin;
    golden_tensor in[GOLDEN_MAX_INPUTS];
    golden_tensor out;
    bool has_gout;
    golden_tensor gout;
    bool has_grad[GOLDEN_MAX_INPUTS];
    golden_tensor grad[GOLDEN_MAX_INPUTS];
    const golden_builder *b;
} golden_case;

/* Runs a golden suite and returns the number of failed tests (main's exit status).
 * Loads the files (paths relative to tests/), matches each case to the builder of the same
 * name, and runs the cmocka group `suite`: first "test_<suite>_table" (the files load, every
 * case has a builder, every builder a case, no builder listed twice), then one test per case
 * named after it. Afterwards prints the case count and, per dtype, the largest absolute and
 * relative differences to stderr as TAP comments. The builders must outlive the call. */
int golden_run(const char *suite, const char *const *files, int nfiles,
               const golden_builder *builders, int nbuilders);

/* The pieces the runner uses, for a suite's own extra checks. */

/* A caller-owned tensor holding t's values (f32 values rounded from the stored doubles). */
cg_tensor *golden_make_tensor(const golden_tensor *t);

/* Compares got with exp under c's tolerance (c->b->tol, else the dtype default) and adds
 * the differences to the per-dtype statistics. On failure appends to err a line naming the
 * case, `what` and the worst element (or the dtype/shape mismatch, or got == NULL). */
bool golden_compare(const golden_case *c, const char *what, cg_tensor *got,
                    const golden_tensor *exp, char *err, size_t errsize);

#endif
