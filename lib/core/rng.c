/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11):
 * a counter-based generator, so element i of a random tensor is a pure function of
 * (seed, offset + i) and filling in parallel gives the same numbers as filling in order. */
#include <math.h>

#include "core.h"

enum { PHILOX_ROUNDS = 10 };
static const uint32_t PHILOX_M0 = 0xD2511F53u, PHILOX_M1 = 0xCD9E8D57u;
static const uint32_t PHILOX_W0 = 0x9E3779B9u, PHILOX_W1 = 0xBB67AE85u;

static inline uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t *hi)
{
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

void cg__philox(uint64_t seed, uint64_t counter, uint32_t out[4])
{
    uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int r = 0; r < PHILOX_ROUNDS; r++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = mulhilo(PHILOX_M0, c0, &hi0);
        uint32_t lo1 = mulhilo(PHILOX_M1, c2, &hi1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0, c1 = lo1, c2 = n2, c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0, out[1] = c1, out[2] = c2, out[3] = c3;
}

cg_rng cg_rng_init(uint64_t seed)
{
    cg_rng r = {seed, 0};
    return r;
}

/* 53-bit uniform in [0, 1) from two 32-bit words. */
static inline double to_unit(uint32_t a, uint32_t b)
{
    return (double)(((uint64_t)a << 21) ^ (b >> 11)) * 0x1p-53;
}

double cg__rng_uniform_at(uint64_t seed, uint64_t counter, int which)
{
    uint32_t w[4];
    cg__philox(seed, counter, w);
    return which ? to_unit(w[2], w[3]) : to_unit(w[0], w[1]);
}

double cg_rng_uniform(cg_rng *rng)
{
    if (!rng)
        return NAN;
    return cg__rng_uniform_at(rng->seed, rng->offset++, 0);
}

/* Element `counter` of a uniform [a, b) or normal (mean a, std b) stream. */
static double draw(uint64_t seed, uint64_t counter, double a, double b, bool normal)
{
    double u = cg__rng_uniform_at(seed, counter, 0);
    if (normal) {
        /* Box-Muller on the counter's other two words; 1 - u keeps log away from 0. */
        double u2 = cg__rng_uniform_at(seed, counter, 1);
        return a + b * sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * M_PI * u2);
    }
    double v = a + (b - a) * u;
    if (v >= b && b > a) /* rounding can reach high; keep the interval half-open */
        v = nextafter(b, a);
    return v;
}

static cg_tensor *random_tensor(cg_rng *rng, cg_dtype dtype, int ndim, const int64_t *shape,
                                double a, double b, bool normal, const char *who)
{
    if (!rng) {
        cg__error(CG_ERR_NULL, "%s: NULL rng", who);
        return NULL;
    }
    if (!cg__is_float(dtype)) {
        cg__error(CG_ERR_DTYPE, "%s: dtype must be f32 or f64, not %s", who, cg_dtype_name(dtype));
        return NULL;
    }
    if (!isfinite(a) || !isfinite(b) || (normal ? b < 0 : b < a)) {
        cg__error(CG_ERR_VALUE, "%s: bad parameters %g, %g", who, a, b);
        return NULL;
    }
    cg_tensor *t = cg_tensor_zeros(dtype, ndim, shape);
    if (!t)
        return NULL;
    int64_t n = cg_tensor_numel(t);
    uint64_t seed = rng->seed, base = rng->offset;
    int threads = cg__threads_for(n, 16);
    /* One thread runs the loop itself: libgomp would allocate a team for a region of one. */
    if (threads > 1) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t i = 0; i < n; i++)
            cg__store(t, i, draw(seed, base + (uint64_t)i, a, b, normal));
    } else {
        for (int64_t i = 0; i < n; i++)
            cg__store(t, i, draw(seed, base + (uint64_t)i, a, b, normal));
    }
    rng->offset += (uint64_t)n;
    return t;
}

cg_tensor *cg_tensor_uniform(cg_rng *rng, cg_dtype dtype, int ndim, const int64_t *shape,
                             double low, double high)
{
    return random_tensor(rng, dtype, ndim, shape, low, high, false, "cg_tensor_uniform");
}

cg_tensor *cg_tensor_normal(cg_rng *rng, cg_dtype dtype, int ndim, const int64_t *shape,
                            double mean, double std)
{
    return random_tensor(rng, dtype, ndim, shape, mean, std, true, "cg_tensor_normal");
}
