/* The one GEMM wrapper: every matrix product in libcgrad goes through cg__gemm, which calls
 * BLIS's typed expert API with row and column strides (so transposed and strided views
 * need no copies) and passes the thread count explicitly, never through BLIS's globals. */
#ifndef CG_GEMM_H
#define CG_GEMM_H

#include "core.h"

/* An operand: its first element and its row and column strides, in elements. */
typedef struct cg__mat {
    void *data;
    int64_t rs, cs;
} cg__mat;

/* Whether BLIS takes a rows x cols operand with strides (rs, cs) as it is. Strides of
 * size-1 dimensions do not matter. Zero (broadcast), negative and overlapping strides are
 * refused: such an operand must be copied to contiguous memory first. */
bool cg__gemm_strides_ok(int64_t rows, int64_t cols, int64_t rs, int64_t cs);

/* C = alpha A B + beta C for f32 or f64, A m x k, B k x n, C m x n; every operand must pass
 * cg__gemm_strides_ok. With beta == 0, C is written without being read. k == 0 gives
 * beta C (zeros for beta == 0); m == 0 or n == 0 does nothing. BLIS runs on at most
 * max_threads threads (fewer for small products). */
void cg__gemm(cg_dtype dtype, int64_t m, int64_t n, int64_t k, double alpha, cg__mat a,
              cg__mat b, double beta, cg__mat c, int max_threads);

#endif
