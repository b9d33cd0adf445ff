/* Dropout and channel-wise dropout (nn.Dropout, nn.Dropout2d), as PyTorch's
 * _dropout_impl: noise = bernoulli(1 - p) / (1 - p), output = x * noise.
 *
 * The noise is a constant on the tape (no node): the product is an ordinary cg_mul, so
 * the gradient is g * noise and double backward needs nothing more. Noise element i is
 * drawn from the rng's counter offset + i (kept when u >= p, which has probability 1 - p),
 * so the mask depends on the seed and offset only, never on the thread count; the rng
 * advances by the number of noise elements. */
#include "cgrad/nn.h"
#include "op.h"

/* Checks shared by both forms; the input first, so a NULL keeps the first error. */
static bool check_args(const char *who, cg_tensor *x, double p, bool training,
                       const cg_rng *rng)
{
    if (!cg__check_tensor(x, who) || !cg__check_float_dtypes(who, &x, 1))
        return false;
    if (!(p >= 0 && p <= 1)) { /* NaN fails too */
        cg__error(CG_ERR_VALUE, "%s: probability p must be in [0, 1], got %g", who, p);
        return false;
    }
    if (training && p > 0 && p < 1 && !rng) {
        cg__error(CG_ERR_NULL, "%s: NULL rng (needed in training with 0 < p < 1)", who);
        return false;
    }
    return true;
}

/* Noise elements [i0, i1) into m (contiguous, of m's dtype). */
static void noise_range(void *m, bool f32, uint64_t seed, uint64_t base, double p, int64_t i0,
                        int64_t i1)
{
    float scale_f = 1.0f / (float)(1.0 - p);
    double scale_d = 1.0 / (1.0 - p);
    float *mf = m;
    double *md = m;
    for (int64_t i = i0; i < i1; i++) {
        bool keep = cg__rng_uniform_at(seed, base + (uint64_t)i, 0) >= p;
        if (f32)
            mf[i] = keep ? scale_f : 0.0f;
        else
            md[i] = keep ? scale_d : 0.0;
    }
}

/* Tape-owned noise of the given shape: 1/(1-p) (computed in the dtype, as PyTorch's
 * div_) where kept, 0 where dropped. */
static cg_tensor *make_noise(const char *who, cg_dtype dtype, int ndim, const int64_t *shape,
                             double p, cg_rng *rng)
{
    cg_tape *tape = cg__tape_require(who);
    cg_tensor *m = tape ? cg__tensor_alloc(tape->pool, dtype, ndim, shape) : NULL;
    if (!m)
        return NULL;
    int64_t n = cg__shape_numel(ndim, shape);
    uint64_t seed = rng->seed, base = rng->offset;
    bool f32 = dtype == CG_F32;
    void *data = cg__ptr(m);
    int threads = cg__threads_for(n, 16);
    /* One thread runs the loop itself: libgomp would allocate a team for a region of one.
     * Each element depends on its index only, so any split gives the same mask. */
    if (threads > 1) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int t = 0; t < threads; t++)
            noise_range(data, f32, seed, base, p, n * t / threads, n * (t + 1) / threads);
    } else {
        noise_range(data, f32, seed, base, p, 0, n);
    }
    rng->offset += (uint64_t)n;
    return m;
}

/* The shared body; noise of shape (ndim, shape), which broadcasts against x. */
static cg_tensor *dropout(const char *who, cg_tensor *x, double p, cg_rng *rng, int ndim,
                          const int64_t *shape)
{
    if (p == 1) /* x * 0, as PyTorch: zeros (NaN stays NaN) and a zero gradient */
        return cg_mul(x, cg__const(x->dtype, 0.0));
    cg_tensor *noise = make_noise(who, x->dtype, ndim, shape, p, rng);
    return noise ? cg_mul(x, noise) : NULL;
}

cg_tensor *cg_dropout(cg_tensor *x, double p, bool training, cg_rng *rng)
{
    if (!check_args("dropout", x, p, training, rng))
        return NULL;
    if (!training || p == 0 || cg__shape_numel(x->ndim, x->shape) == 0)
        return x;
    return dropout("dropout", x, p, rng, x->ndim, x->shape);
}

cg_tensor *cg_dropout2d(cg_tensor *x, double p, bool training, cg_rng *rng)
{
    if (!check_args("dropout2d", x, p, training, rng))
        return NULL;
    if (x->ndim < 2) {
        char a[160];
        cg__error(CG_ERR_SHAPE, "dropout2d: input of shape %s has fewer than 2 dimensions "
                                "(expected [N, C, ...])",
                  cg__shape_str(x->ndim, x->shape, a, sizeof a));
        return NULL;
    }
    if (!training || p == 0 || cg__shape_numel(x->ndim, x->shape) == 0)
        return x;
    /* One value per (n, c), broadcast over the rest: torch's feature_dropout noise. */
    int64_t shape[CG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++)
        shape[d] = d < 2 ? x->shape[d] : 1;
    return dropout("dropout2d", x, p, rng, x->ndim, shape);
}
