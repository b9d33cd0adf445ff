/*
 * Internal interface of the curvature tools. Nothing here is public.
 *
 * curvature_hvp.c    the operator x -> H x on flat vectors (hess_op), parameter flattening,
 *                    the problem's checks and cg_hvp
 * curvature_eigen.c  extreme eigenpairs of that operator: Lanczos (with the tridiagonal QL
 *                    solver) and power iteration
 * curvature.c        the eigenvalue, step-size and stationary-point functions
 */
#ifndef CG_OPTIM_CURVATURE_IMPL_H
#define CG_OPTIM_CURVATURE_IMPL_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgrad/curvature.h"

/* ---- memory: each call owns a few blocks, freed together ---- */

typedef struct block {
    void *p;
    size_t bytes;
} block;

/* rows * cols elements of size bytes, or NULL with CG_ERR_NOMEM (also when the size
 * overflows: rows * dim can be large for a big model). */
void *cg__curv_block_alloc(block *b, int64_t rows, int64_t cols, size_t size, const char *who);
void cg__curv_block_free(block *b);

/* ---- dense vector helpers (double, length dim), inline in every file ---- */

static inline double dot(const double *a, const double *b, int64_t dim)
{
    double s = 0;
    for (int64_t i = 0; i < dim; i++)
        s += a[i] * b[i];
    return s;
}

static inline double norm2(const double *a, int64_t dim) { return sqrt(dot(a, a, dim)); }

/* y += a x */
static inline void axpy(double a, const double *x, double *y, int64_t dim)
{
    for (int64_t i = 0; i < dim; i++)
        y[i] += a * x[i];
}

static inline void scale(double a, double *x, int64_t dim)
{
    for (int64_t i = 0; i < dim; i++)
        x[i] *= a;
}

/* ---- the operator x -> H x (curvature_hvp.c) ---- */

typedef struct hess_op {
    const char *who;
    cg_grad_fn fn;
    cg_tensor *const *params;
    int n;
    void *ctx;
    int64_t dim;
    cg_tape *tape;
    cg_tensor **dir;   /* the direction v, one caller-owned tensor per parameter */
    cg_tensor **ptrs;  /* 4n scratch pointers: gradients, outputs, seeds, products */
    block ptr_block;
    double norm_est;   /* largest ||H x|| / ||x|| seen: a lower bound of ||H||, scales tolerances */
} hess_op;

/* The function and its parameters checked; *dim receives N, the number of parameter
 * elements (the length of the flat vectors). */
cg_status cg__curv_check_problem(const char *who, cg_grad_fn fn, cg_tensor *const *params,
                                 int n, int64_t *dim);
/* op set up for a checked problem; records the error and leaves nothing to free on failure. */
cg_status cg__curv_op_init(hess_op *op, const char *who, cg_grad_fn fn,
                           cg_tensor *const *params, int n, void *ctx, int64_t dim);
void cg__curv_op_free(hess_op *op);
/* y = H x (x and y of op->dim doubles, distinct). */
cg_status cg__curv_op_apply(hess_op *op, const double *x, double *y);
/* g = grad f at the current point, flat. */
cg_status cg__curv_op_gradient(hess_op *op, double *g);

/* ---- eigenpairs (curvature_eigen.c) ---- */

/* The k eigenvalues of H that o->which ranks first, best first, into vals and, if vecs,
 * their unit eigenvectors into vecs' k rows of op->dim, by o->method (o already checked). */
cg_status cg__curv_eigen(hess_op *op, const cg_eig_options *o, int k, double *vals,
                         double *vecs);

#endif
