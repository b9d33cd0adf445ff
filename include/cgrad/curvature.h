/*
 * libcgrad curvature: second-order information about a scalar loss f(θ) through
 * Hessian-vector products computed by double backward (Pearlmutter's trick: H v is the
 * gradient of <∇f, v>), never by forming the Hessian.
 *
 * The loss. Every function here takes the loss as a callback of type cg_grad_fn
 * (autograd.h): fn(params, n, ctx) builds f from params[0..n-1] with ops on the active tape
 * and returns it, a one-element f32/f64 tensor (NULL on error). ctx is passed through. The
 * callback is evaluated at the parameters' current values, possibly many times.
 *
 * The parameters. params[0..n-1] are caller-owned leaf tensors (made by the cg_tensor_*
 * constructors) of dtype f32 or f64 with requires_grad set, all distinct. θ is their
 * concatenation, each flattened in row-major order: θ has N = Σ numel(params[j]) elements,
 * and H is the N × N Hessian of f. Products are computed in each parameter's own dtype;
 * the linear algebra around them (dot products, norms, Krylov bases) runs in double.
 * Parameters are read, never changed; their .grad is left alone.
 *
 * Tapes. Each call runs on a private tape that it frees before returning, and restores the
 * caller's active tape and grad mode: nothing is recorded on the caller's tape, and nothing
 * the call allocates outlives it. Iterative methods reset their tape between products, so
 * memory stays flat however many iterations run.
 *
 * Errors, as everywhere in libcgrad: a status other than CG_OK, with a message naming the
 * function (cg_last_error). Common to all functions: CG_ERR_NULL for a NULL fn, params,
 * parameter or output pointer; CG_ERR_VALUE for n <= 0, a parameter that is not a leaf, does
 * not require grad or appears twice, N == 0, or a bad option; CG_ERR_SHAPE when the loss is
 * not one-element; CG_ERR_DTYPE when it is not f32/f64; a callback's NULL result passes on
 * the callback's error (CG_ERR_NULL if it recorded none); CG_ERR_NOMEM on out of memory.
 */
#ifndef CGRAD_CURVATURE_H
#define CGRAD_CURVATURE_H

#include "cgrad/autograd.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Hessian-vector product: hv[j] = (H v)_j, the part of H v belonging to params[j], where v
 * is the concatenation of v[0..n-1]. Computed as g = ∇f with create_graph, then H v =
 * ∇<g, v>: one forward and two backward passes, about three times the cost of a gradient.
 * v[j] and hv[j] are caller-owned f32/f64 tensors shaped like params[j] (dtypes may differ
 * from the parameter's: values are converted); hv[j] is written in place and may be v[j],
 * but not a parameter. A loss that does not depend on the parameters gives H v = 0.
 * Errors: CG_ERR_NULL for a NULL v, hv or entry; CG_ERR_SHAPE / CG_ERR_DTYPE for a v[j] or
 * hv[j] of the wrong shape or a non-float dtype; CG_ERR_VALUE when hv[j] is a parameter.
 * hv is unchanged on error.
 */
CG_API cg_status cg_hvp(cg_grad_fn fn, cg_tensor *const *params, int n, void *ctx,
                        cg_tensor *const *v, cg_tensor *const *hv);

/* How cg_hessian_eigenvalues iterates. */
typedef enum cg_eig_method {
    /* Lanczos with full reorthogonalisation: builds an orthonormal Krylov basis q_1..q_m of
     * span{q_1, H q_1, ..., H^(m-1) q_1} and the tridiagonal T = Qᵀ H Q, whose eigenvalues
     * (Ritz values) approach H's extremes, both ends at once, in far fewer products than
     * power iteration. Memory: min(max_iter, N) + 2 vectors of N doubles. */
    CG_EIG_LANCZOS,
    /* Power iteration, one eigenvalue after another, each iterate kept orthogonal to the
     * eigenvectors already found (deflation). Memory: k + 2 vectors of N doubles. For the
     * largest or smallest algebraic eigenvalues it iterates on H + cI or H − cI, where c is
     * slightly above ‖H‖ (estimated by a first power iteration on H), so that the wanted end
     * of the spectrum becomes the largest in magnitude. Slower than Lanczos, but it finds
     * every copy of a repeated eigenvalue. */
    CG_EIG_POWER
} cg_eig_method;

/* Which end of the spectrum cg_hessian_eigenvalues returns, and in which order. */
typedef enum cg_eig_which {
    CG_EIG_LARGEST,           /* the k largest algebraic eigenvalues, largest first */
    CG_EIG_SMALLEST,          /* the k smallest algebraic (most negative), smallest first */
    CG_EIG_LARGEST_MAGNITUDE  /* the k largest |λ|, largest |λ| first */
} cg_eig_which;

/* Options of cg_hessian_eigenvalues; cg_eig_defaults() gives the values in brackets. */
typedef struct cg_eig_options {
    cg_eig_method method; /* [CG_EIG_LANCZOS] */
    cg_eig_which which;   /* [CG_EIG_LARGEST] */
    /* >= 1. Lanczos: the largest Krylov dimension (products in all), at least k unless
     * N <= max_iter. Power: products per eigenvalue (plus as many for the shift estimate). [100] */
    int max_iter;
    /* >= 0. An eigenpair (λ, u) with unit u counts as converged when ‖H u − λ u‖ <= tol ‖H‖
     * (‖H‖ estimated from the products seen). The eigenvalue's own error is then about
     * (tol ‖H‖)² / gap. Products in f32 leave a residual of roughly 1e-7 ‖H‖, so keep tol
     * well above that for f32 parameters. [1e-6] */
    double tol;
    uint64_t seed;        /* seed of the random starting vectors [0] */
} cg_eig_options;

/* The defaults: Lanczos, largest, max_iter 100, tol 1e-6, seed 0. */
CG_API cg_eig_options cg_eig_defaults(void);

/*
 * The k extreme eigenvalues of H chosen by options->which, ordered as cg_eig_which says,
 * written to eigenvalues[0..k-1]. If eigenvectors is not NULL it receives the matching unit
 * eigenvectors as the rows of a k × N row-major array of doubles (row i belongs to
 * eigenvalues[i], laid out like θ; the sign of each is arbitrary). 1 <= k <= N; options may
 * be NULL for the defaults.
 *
 * Why no LAPACK: the only dense eigenproblem here is Lanczos' tridiagonal T, of order at
 * most max_iter (around 100). An implicit QL iteration solves it in a few dozen lines, in
 * O(m²) per step for the values and residual estimates (O(m³) once for the vectors), which
 * costs nothing next to m Hessian-vector products: not worth a dependency.
 *
 * Limits: a single-vector Krylov method sees one copy of a repeated eigenvalue until its
 * Krylov space is exhausted, so Lanczos asked for k > 1 may return the next distinct
 * eigenvalue where a copy belongs; use CG_EIG_POWER if repeated eigenvalues matter.
 *
 * Errors (besides the common ones): CG_ERR_NULL for a NULL eigenvalues; CG_ERR_VALUE for k
 * out of range, max_iter < 1 (or Lanczos' max_iter < k < N), a negative or NaN tol, an
 * unknown method or which; CG_ERR_STATE when the iteration has not converged within
 * max_iter — the outputs then hold the current estimates and the message the residual.
 */
CG_API cg_status cg_hessian_eigenvalues(cg_grad_fn fn, cg_tensor *const *params, int n,
                                        void *ctx, int k, const cg_eig_options *options,
                                        double *eigenvalues, double *eigenvectors);

/*
 * The exact line-search step of the local quadratic model along the steepest descent
 * direction: with g = ∇f at the current point, *alpha = ‖g‖² / gᵀHg, the minimiser over α of
 * f(θ) − α‖g‖² + ½ α² gᵀHg (the exact minimiser of f(θ − α g) when f is quadratic). One
 * gradient and one Hessian-vector product.
 * Errors (besides the common ones): CG_ERR_NULL for a NULL alpha; CG_ERR_VALUE when g = 0
 * (already stationary) or gᵀHg <= 0 (zero or negative curvature along g: the model has no
 * minimum along −g), the message giving gᵀHg and ‖g‖². *alpha is NaN on error.
 */
CG_API cg_status cg_optimal_step_size(cg_grad_fn fn, cg_tensor *const *params, int n, void *ctx,
                                      double *alpha);

/* What the second-order test says about a point. */
typedef enum cg_point_kind {
    CG_POINT_NOT_STATIONARY, /* ‖g‖ > grad_tol */
    CG_POINT_MINIMUM,        /* λ_min > curvature_tol: a strict local minimum */
    CG_POINT_MAXIMUM,        /* λ_max < −curvature_tol: a strict local maximum */
    CG_POINT_STRICT_SADDLE,  /* λ_min < −curvature_tol and λ_max > curvature_tol */
    CG_POINT_DEGENERATE      /* otherwise: some |λ| <= curvature_tol, the others of one sign;
                              * the second-order test cannot decide (x⁴, x³ and −x⁴ at 0) */
} cg_point_kind;

/* Short name of a kind ("minimum", "strict saddle", ...); "unknown" when out of range. */
CG_API const char *cg_point_kind_name(cg_point_kind kind);

/* Options of cg_classify_stationary_point; cg_stationary_defaults() gives the brackets. */
typedef struct cg_stationary_options {
    double grad_tol;      /* >= 0: the point is stationary when ‖g‖₂ <= grad_tol [1e-6] */
    double curvature_tol; /* >= 0: an eigenvalue with |λ| <= curvature_tol counts as zero;
                           * absolute, so scale it with the loss [1e-6] */
    cg_eig_options eig;   /* how λ_min and λ_max are found (which is ignored) [cg_eig_defaults] */
} cg_stationary_options;

/* The defaults in the brackets above. */
CG_API cg_stationary_options cg_stationary_defaults(void);

/* What cg_classify_stationary_point found. */
typedef struct cg_stationary_point {
    cg_point_kind kind;
    double grad_norm;        /* ‖g‖₂ */
    double lambda_min;       /* smallest eigenvalue of H */
    double lambda_max;       /* largest eigenvalue of H */
    /* λ_min < −curvature_tol: a direction of negative curvature exists, so the point is a
     * strict saddle in the sense of the optimisation literature (Ge et al. 2015), which
     * counts maxima and degenerate points with a negative eigenvalue too: perturbed
     * gradient descent escapes along the eigenvector of λ_min. */
    bool negative_curvature;
} cg_stationary_point;

/*
 * Classify the current point by its gradient norm and the extreme eigenvalues of H (two
 * eigenvalue runs, for the largest and the smallest). The eigenvalues are computed, and
 * result filled, for non-stationary points too. options may be NULL for the defaults.
 * Errors (besides the common ones): CG_ERR_NULL for a NULL result; CG_ERR_VALUE for a
 * negative or NaN tolerance; those of cg_hessian_eigenvalues. On error *result holds
 * what was computed before it (NaN elsewhere) and kind CG_POINT_NOT_STATIONARY.
 */
CG_API cg_status cg_classify_stationary_point(cg_grad_fn fn, cg_tensor *const *params, int n,
                                              void *ctx, const cg_stationary_options *options,
                                              cg_stationary_point *result);

#ifdef __cplusplus
}
#endif

#endif
