/* The GEMM wrapper over BLIS (see gemm.h). BLIS checks the strides it is given and aborts
 * on combinations it does not accept, so strides are normalised and checked here first:
 * callers copy an operand BLIS would refuse (a broadcast view) before calling. */
#include <assert.h>

#include <blis.h>

#include "gemm.h"

/* BLIS reads a size-1 dimension's stride when it classifies storage, so give such a
 * dimension the stride that makes the operand plainly row- or column-stored. */
static void normalise(int64_t rows, int64_t cols, int64_t *rs, int64_t *cs)
{
    if (rows == 1 && cols == 1) {
        *rs = 1;
        *cs = 1;
    } else if (rows == 1) {
        *rs = cols * *cs;
    } else if (cols == 1) {
        *cs = rows * *rs;
    }
}

/* BLIS's own rules (bli_check_matrix_strides), applied to normalised strides. */
static bool strides_valid(int64_t rows, int64_t cols, int64_t rs, int64_t cs)
{
    if (rows == 0 || cols == 0)
        return true;
    if (rs <= 0 || cs <= 0)
        return false;
    if (rs == 1 && cs == 1)
        return rows == 1 || cols == 1;
    if (rs == 1)
        return cs >= rows;
    if (cs == 1)
        return rs >= cols;
    if (rs == cs)
        return rows == 1 || cols == 1;
    return rs < cs ? cs >= rows * rs : rs >= cols * cs;
}

bool cg__gemm_strides_ok(int64_t rows, int64_t cols, int64_t rs, int64_t cs)
{
    normalise(rows, cols, &rs, &cs);
    return strides_valid(rows, cols, rs, cs);
}

/* C = beta C for an empty inner dimension, without BLIS (k == 0 is a no-op there). */
static void scale_c(cg_dtype dtype, int64_t m, int64_t n, double beta, cg__mat c)
{
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            int64_t at = i * c.rs + j * c.cs;
            if (dtype == CG_F32) {
                float *p = (float *)c.data + at;
                *p = beta == 0 ? 0.0f : (float)(beta * *p);
            } else {
                double *p = (double *)c.data + at;
                *p = beta == 0 ? 0.0 : beta * *p;
            }
        }
    }
}

/* BLIS 0.9 sends every product whose dimensions fall under its thresholds to its small
 * ("sup") code, which does not pack the operands: fine when one dimension is tiny (the
 * 10-column layers), but at under half the packed path's rate when m is a batch and n
 * and k are wide (256x2048x2048: 32 against 78 GFLOP/s on one thread, 65 against 145 on
 * two; Zen 3, BLIS 0.9). On one thread the packed path wins at every shape of the MLPs'
 * and the CNN's products once m, n and k are all at least 64. On two it loses on the
 * small ones (128x256x784: 132 against 143), where its extra barriers weigh, so there it
 * also needs about 1e8 multiply-adds (the MLP's products have 2.6e7, wide256's 4e8 to
 * 1e9). */
enum { PACKED_MIN_DIM = 64 };
static const double PACKED_MIN_VOLUME_THREADED = 1e8;

static bool use_packed(int64_t m, int64_t n, int64_t k, int threads)
{
    if (m < PACKED_MIN_DIM || n < PACKED_MIN_DIM || k < PACKED_MIN_DIM)
        return false;
    return threads <= 1 || (double)m * (double)n * (double)k >= PACKED_MIN_VOLUME_THREADED;
}

void cg__gemm(cg_dtype dtype, int64_t m, int64_t n, int64_t k, double alpha, cg__mat a,
              cg__mat b, double beta, cg__mat c, int max_threads)
{
    if (m == 0 || n == 0)
        return;
    if (k == 0) {
        scale_c(dtype, m, n, beta, c);
        return;
    }
    normalise(m, k, &a.rs, &a.cs);
    normalise(k, n, &b.rs, &b.cs);
    normalise(m, n, &c.rs, &c.cs);
    assert(strides_valid(m, k, a.rs, a.cs) && strides_valid(k, n, b.rs, b.cs) &&
           strides_valid(m, n, c.rs, c.cs));
    /* Threads only pay off above a few tens of thousands of multiply-adds. */
    int threads = cg__threads_for(m * n, k);
    if (threads > max_threads)
        threads = max_threads;
    rntm_t rntm;
    bli_rntm_init(&rntm);
    bli_rntm_set_num_threads(threads >= 1 ? threads : 1, &rntm);
    if (use_packed(m, n, k, threads))
        bli_rntm_disable_l3_sup(&rntm);
    if (dtype == CG_F32) {
        float al = (float)alpha, be = (float)beta;
        bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &al, a.data, a.rs, a.cs,
                     b.data, b.rs, b.cs, &be, c.data, c.rs, c.cs, NULL, &rntm);
    } else {
        double al = alpha, be = beta;
        bli_dgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, m, n, k, &al, a.data, a.rs, a.cs,
                     b.data, b.rs, b.cs, &be, c.data, c.rs, c.cs, NULL, &rntm);
    }
}
