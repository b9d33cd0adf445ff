/*
 * Initializers (torch.nn.init): in-place fills drawn from a caller's cg_rng.
 *
 * Fans and gains are torch.nn.init's (_calculate_fan_in_and_fan_out, calculate_gain). The
 * uniform and normal fills go through cg_tensor_uniform / cg_tensor_normal, whose element
 * i depends only on (seed, offset + i), so results do not depend on the thread count.
 * Fills that draw a variable number of values (truncated normal, sparse) draw them in
 * order on one thread; the orthogonal fill splits its work by matrix columns, whose
 * arithmetic is the same whatever thread runs it.
 *
 * The orthogonal fill needs one QR factorisation. It is a Householder QR written here
 * rather than LAPACK's dgeqrf: one small factorisation at init time is not worth a new
 * dependency, and with the signs fixed by diag(R) the factor Q is unique, so the result
 * matches torch.nn.init.orthogonal_ for the same normal matrix whichever algorithm made it.
 */
#include <math.h>
#include <string.h>

#include "core.h"
#include "cgrad/nn.h"

/* A trunc_normal interval holding less probability than this would need too many redraws
 * per element (1/p on average); it is refused instead of running for minutes. */
static const double TRUNC_MIN_MASS = 1e-3;
/* Redraws of one element before giving up: at the smallest mass allowed, reaching this is
 * a 1e-43 event, so it only stops intervals without a value of the tensor's dtype. */
enum { TRUNC_MAX_DRAWS = 100000 };

/* ---- checks and plain fills ---- */

static cg_status check_target(const cg_tensor *t, const cg_rng *rng, const char *who)
{
    if (!cg__check_tensor(t, who))
        return cg_last_status();
    if (!cg__is_float(t->dtype))
        return cg__error(CG_ERR_DTYPE, "%s: tensor has dtype %s; expected f32 or f64", who,
                         cg_dtype_name(t->dtype));
    if (!rng)
        return cg__error(CG_ERR_NULL, "%s: NULL rng", who);
    return CG_OK;
}

/* Copy a freshly drawn caller-owned tensor src into t and free src. */
static cg_status fill_from(cg_tensor *t, cg_tensor *src)
{
    if (!src)
        return cg_last_status();
    cg_status st = cg_tensor_copy_(t, src);
    cg_tensor_free(src);
    return st;
}

static cg_status uniform(cg_tensor *t, cg_rng *rng, double low, double high, const char *who)
{
    cg_status st = check_target(t, rng, who);
    if (st != CG_OK)
        return st;
    if (!isfinite(low) || !isfinite(high) || low > high)
        return cg__error(CG_ERR_VALUE, "%s: bad interval [%g, %g)", who, low, high);
    return fill_from(t, cg_tensor_uniform(rng, t->dtype, t->ndim, t->shape, low, high));
}

static cg_status normal(cg_tensor *t, cg_rng *rng, double mean, double std, const char *who)
{
    cg_status st = check_target(t, rng, who);
    if (st != CG_OK)
        return st;
    if (!isfinite(mean) || !isfinite(std) || std < 0)
        return cg__error(CG_ERR_VALUE, "%s: bad mean %g or std %g", who, mean, std);
    return fill_from(t, cg_tensor_normal(rng, t->dtype, t->ndim, t->shape, mean, std));
}

cg_status cg_init_constant(cg_tensor *t, double value)
{
    if (!cg__check_tensor(t, "cg_init_constant"))
        return cg_last_status();
    return cg_tensor_fill_(t, value);
}

cg_status cg_init_uniform(cg_tensor *t, cg_rng *rng, double low, double high)
{
    return uniform(t, rng, low, high, "cg_init_uniform");
}

cg_status cg_init_normal(cg_tensor *t, cg_rng *rng, double mean, double std)
{
    return normal(t, rng, mean, std, "cg_init_normal");
}

/* ---- fans and gains ---- */

static cg_status fans(const cg_tensor *t, int64_t *fan_in, int64_t *fan_out, const char *who)
{
    if (!cg__check_tensor(t, who))
        return cg_last_status();
    if (t->ndim < 2) {
        char b[160];
        return cg__error(CG_ERR_SHAPE, "%s: fan in and fan out need a tensor of at least 2 "
                                       "dimensions, not %s", who,
                         cg__shape_str(t->ndim, t->shape, b, sizeof b));
    }
    int64_t receptive = 1;
    for (int d = 2; d < t->ndim; d++)
        receptive *= t->shape[d];
    if (fan_in)
        *fan_in = t->shape[1] * receptive;
    if (fan_out)
        *fan_out = t->shape[0] * receptive;
    return CG_OK;
}

cg_status cg_init_fans(const cg_tensor *t, int64_t *fan_in, int64_t *fan_out)
{
    return fans(t, fan_in, fan_out, "cg_init_fans");
}

double cg_init_gain(cg_nonlinearity nl, double param)
{
    switch (nl) {
    case CG_NL_LINEAR:
    case CG_NL_SIGMOID: return 1.0;
    case CG_NL_TANH: return 5.0 / 3.0;
    case CG_NL_RELU: return sqrt(2.0);
    case CG_NL_LEAKY_RELU: {
        double slope = isnan(param) ? 0.01 : param; /* NaN stands for PyTorch's None */
        return sqrt(2.0 / (1.0 + slope * slope));
    }
    case CG_NL_SELU: return 0.75;
    }
    cg__error(CG_ERR_VALUE, "cg_init_gain: unknown nonlinearity %d", (int)nl);
    return NAN;
}

/* The checks every fan-based init makes, then its fan (fan_out or fan_in). *fan is 0 for
 * a tensor without elements, which is left alone as in PyTorch. */
static cg_status fan_target(cg_tensor *t, cg_rng *rng, bool use_out, int64_t *fan,
                            const char *who)
{
    cg_status st = check_target(t, rng, who);
    int64_t in = 0, out = 0;
    if (st == CG_OK)
        st = fans(t, &in, &out, who);
    *fan = cg_tensor_numel(t) == 0 ? 0 : use_out ? out : in;
    return st;
}

cg_status cg_init_lecun_uniform(cg_tensor *t, cg_rng *rng)
{
    int64_t fan;
    cg_status st = fan_target(t, rng, false, &fan, "cg_init_lecun_uniform");
    if (st != CG_OK || fan == 0)
        return st;
    double bound = sqrt(3.0 / (double)fan);
    return uniform(t, rng, -bound, bound, "cg_init_lecun_uniform");
}

cg_status cg_init_lecun_normal(cg_tensor *t, cg_rng *rng)
{
    int64_t fan;
    cg_status st = fan_target(t, rng, false, &fan, "cg_init_lecun_normal");
    if (st != CG_OK || fan == 0)
        return st;
    return normal(t, rng, 0.0, 1.0 / sqrt((double)fan), "cg_init_lecun_normal");
}

/* Xavier's std: gain sqrt(2 / (fan_in + fan_out)); 0 for a tensor without elements. */
static cg_status xavier_std(cg_tensor *t, cg_rng *rng, double gain, double *std,
                            const char *who)
{
    int64_t in = 0, out = 0;
    cg_status st = check_target(t, rng, who);
    if (st == CG_OK)
        st = fans(t, &in, &out, who);
    if (st == CG_OK && !isfinite(gain))
        st = cg__error(CG_ERR_VALUE, "%s: gain %g is not finite", who, gain);
    *std = in + out > 0 ? gain * sqrt(2.0 / (double)(in + out)) : 0.0;
    return st;
}

cg_status cg_init_xavier_uniform(cg_tensor *t, cg_rng *rng, double gain)
{
    double std;
    cg_status st = xavier_std(t, rng, gain, &std, "cg_init_xavier_uniform");
    if (st != CG_OK || cg_tensor_numel(t) == 0)
        return st;
    double bound = sqrt(3.0) * fabs(std);
    return uniform(t, rng, -bound, bound, "cg_init_xavier_uniform");
}

cg_status cg_init_xavier_normal(cg_tensor *t, cg_rng *rng, double gain)
{
    double std;
    cg_status st = xavier_std(t, rng, gain, &std, "cg_init_xavier_normal");
    if (st != CG_OK || cg_tensor_numel(t) == 0)
        return st;
    return normal(t, rng, 0.0, fabs(std), "cg_init_xavier_normal");
}

/* He's std: gain(nl, a) / sqrt(fan). */
static cg_status kaiming_std(cg_tensor *t, cg_rng *rng, double a, bool fan_out,
                             cg_nonlinearity nl, double *std, const char *who)
{
    int64_t fan;
    cg_status st = fan_target(t, rng, fan_out, &fan, who);
    *std = 0.0;
    if (st != CG_OK || fan == 0)
        return st;
    double gain = cg_init_gain(nl, a);
    if (!isfinite(gain))
        return cg__error(CG_ERR_VALUE, "%s: no gain for nonlinearity %d with a = %g", who,
                         (int)nl, a);
    *std = gain / sqrt((double)fan);
    return CG_OK;
}

cg_status cg_init_kaiming_uniform(cg_tensor *t, cg_rng *rng, double a, bool fan_out,
                                  cg_nonlinearity nl)
{
    const char *who = "cg_init_kaiming_uniform";
    double std;
    cg_status st = kaiming_std(t, rng, a, fan_out, nl, &std, who);
    if (st != CG_OK || cg_tensor_numel(t) == 0)
        return st;
    double bound = sqrt(3.0) * std;
    return uniform(t, rng, -bound, bound, who);
}

cg_status cg_init_kaiming_normal(cg_tensor *t, cg_rng *rng, double a, bool fan_out,
                                 cg_nonlinearity nl)
{
    const char *who = "cg_init_kaiming_normal";
    double std;
    cg_status st = kaiming_std(t, rng, a, fan_out, nl, &std, who);
    if (st != CG_OK || cg_tensor_numel(t) == 0)
        return st;
    return normal(t, rng, 0.0, std, who);
}

/* ---- fills computed here ---- */

/* Write vals (row-major logical order) into t, whatever its strides. */
static void store_all(cg_tensor *t, const double *vals)
{
    int64_t n = cg_tensor_numel(t);
    for (int64_t i = 0; i < n; i++)
        cg__store(t, cg__storage_index(t, i), vals[i]);
    cg__bump_version(t);
}

/* One N(0, 1) draw: Box-Muller on one counter, as cg_tensor_normal draws an element. */
static double normal_draw(cg_rng *rng)
{
    uint64_t c = rng->offset++;
    double u1 = cg__rng_uniform_at(rng->seed, c, 0), u2 = cg__rng_uniform_at(rng->seed, c, 1);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
}

/* x as t's dtype stores it (so bounds hold for the stored value, not just the draw). */
static double as_stored(const cg_tensor *t, double x)
{
    return t->dtype == CG_F32 ? (double)(float)x : x;
}

static double normal_cdf(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }

static cg_status trunc_check(double mean, double std, double a, double b, const char *who)
{
    if (!isfinite(mean) || !isfinite(std) || std < 0 || isnan(a) || isnan(b))
        return cg__error(CG_ERR_VALUE, "%s: bad mean %g or std %g", who, mean, std);
    if (!(b > a))
        return cg__error(CG_ERR_VALUE, "%s: empty interval [%g, %g] (need a < b)", who, a, b);
    double mass = std > 0 ? normal_cdf((b - mean) / std) - normal_cdf((a - mean) / std)
                          : (a <= mean && mean <= b);
    if (mass < TRUNC_MIN_MASS)
        return cg__error(CG_ERR_VALUE, "%s: [%g, %g] holds only %.3g of N(%g, %g^2); redrawing "
                                       "would take too long", who, a, b, mass, mean, std);
    return CG_OK;
}

cg_status cg_init_trunc_normal(cg_tensor *t, cg_rng *rng, double mean, double std, double a,
                               double b)
{
    const char *who = "cg_init_trunc_normal";
    cg_status st = check_target(t, rng, who);
    if (st == CG_OK)
        st = trunc_check(mean, std, a, b, who);
    int64_t n = cg_tensor_numel(t);
    double *vals = st == CG_OK ? cg__malloc((size_t)n * sizeof *vals) : NULL;
    if (st != CG_OK || !vals)
        return st != CG_OK ? st : cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    for (int64_t i = 0; i < n && st == CG_OK; i++) {
        double x = NAN;
        for (int k = 0; k < TRUNC_MAX_DRAWS && !(a <= x && x <= b); k++)
            x = as_stored(t, mean + std * normal_draw(rng));
        if (!(a <= x && x <= b))
            st = cg__error(CG_ERR_VALUE, "%s: no %s value of N(%g, %g^2) found in [%g, %g]", who,
                           cg_dtype_name(t->dtype), mean, std, a, b);
        vals[i] = x;
    }
    if (st == CG_OK)
        store_all(t, vals);
    cg__free(vals, (size_t)n * sizeof *vals);
    return st;
}

/* ---- orthogonal ---- */

static double dot(const double *x, const double *y, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += x[i] * y[i];
    return s;
}

/* col -= 2 v (v . col): the reflection I - 2 v v^T for a unit vector v. */
static void reflect(const double *v, double *col, int64_t n)
{
    double d = 2.0 * dot(v, col, n);
    for (int64_t i = 0; i < n; i++)
        col[i] -= d * v[i];
}

/* Apply reflector v (rows k..m-1) to columns from..n-1 of the column-major m x n matrix c. */
static void reflect_columns(const double *v, double *c, int64_t m, int64_t k, int64_t from,
                            int64_t n)
{
    int threads = cg__threads_for(n - from, 2 * (m - k));
    /* One thread runs the loop itself: libgomp would allocate a team for a region of one. */
    if (threads > 1) {
#pragma omp parallel for num_threads(threads) schedule(static)
        for (int64_t j = from; j < n; j++)
            reflect(v, c + j * m + k, m - k);
    } else {
        for (int64_t j = from; j < n; j++)
            reflect(v, c + j * m + k, m - k);
    }
}

/* Householder QR of the column-major m x n matrix a (m >= n): column k ends up holding
 * the unit reflector v_k in rows k..m-1 (zero when the column was already zero), r[k] is
 * R's diagonal. */
static void householder_qr(double *a, int64_t m, int64_t n, double *r)
{
    for (int64_t k = 0; k < n; k++) {
        double *x = a + k * m + k;
        double nx = sqrt(dot(x, x, m - k));
        r[k] = 0.0;
        if (nx == 0.0)
            continue;
        /* The sign choice keeps x0 - alpha away from cancellation. */
        double alpha = x[0] > 0 ? -nx : nx;
        x[0] -= alpha;
        double nv = sqrt(dot(x, x, m - k));
        for (int64_t i = 0; i < m - k; i++)
            x[i] /= nv;
        r[k] = alpha;
        reflect_columns(x, a, m, k, k + 1, n);
    }
}

/* Q (m x n, column-major) = H_0 ... H_{n-1} [I; 0], each column times sign(R_kk) so that
 * R's diagonal is positive and Q unique (PyTorch: q *= diag(r).sign()). */
static void form_q(const double *a, const double *r, double *q, int64_t m, int64_t n)
{
    memset(q, 0, (size_t)(m * n) * sizeof *q);
    for (int64_t j = 0; j < n; j++)
        q[j * m + j] = 1.0;
    /* H_k touches rows k.. only; columns j < k are still e_j there, so start at k. */
    for (int64_t k = n - 1; k >= 0; k--)
        reflect_columns(a + k * m + k, q, m, k, k, n);
    for (int64_t j = 0; j < n; j++)
        if (r[j] < 0)
            for (int64_t i = 0; i < m; i++)
                q[j * m + i] = -q[j * m + i];
}

/* A normal [rows, cols] matrix F (drawn in row-major order, as PyTorch's new(rows,
 * cols).normal_()), made into the tall matrix A = F or F^T, stored column-major. */
static cg_status tall_normal(cg_rng *rng, int64_t rows, int64_t cols, double *a)
{
    int64_t shape[2] = {rows, cols};
    cg_tensor *f = cg_tensor_normal(rng, CG_F64, 2, shape, 0.0, 1.0);
    if (!f)
        return cg_last_status();
    const double *fd = cg_tensor_data(f);
    if (rows < cols) /* A = F^T (cols x rows): its columns are F's rows */
        memcpy(a, fd, (size_t)(rows * cols) * sizeof *a);
    else
        for (int64_t r = 0; r < rows; r++)
            for (int64_t c = 0; c < cols; c++)
                a[c * rows + r] = fd[r * cols + c];
    cg_tensor_free(f);
    return CG_OK;
}

/* W [rows, cols] (row-major, times gain) from Q, undoing the transpose of tall_normal. */
static void q_to_weight(const double *q, int64_t rows, int64_t cols, double gain, double *w)
{
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++)
            w[r * cols + c] = gain * (rows < cols ? q[r * cols + c] : q[c * rows + r]);
}

cg_status cg_init_orthogonal(cg_tensor *t, cg_rng *rng, double gain)
{
    const char *who = "cg_init_orthogonal";
    cg_status st = check_target(t, rng, who);
    if (st == CG_OK)
        st = fans(t, NULL, NULL, who);
    if (st == CG_OK && !isfinite(gain))
        st = cg__error(CG_ERR_VALUE, "%s: gain %g is not finite", who, gain);
    int64_t numel = cg_tensor_numel(t);
    if (st != CG_OK || numel == 0)
        return st;
    int64_t rows = t->shape[0], cols = numel / rows;
    int64_t m = rows > cols ? rows : cols, n = rows > cols ? cols : rows;
    size_t bytes = (size_t)numel * sizeof(double);
    double *a = cg__malloc(bytes), *q = cg__malloc(bytes);
    double *r = cg__malloc((size_t)n * sizeof *r);
    if (!a || !q || !r)
        st = cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    if (st == CG_OK)
        st = tall_normal(rng, rows, cols, a);
    if (st == CG_OK) {
        householder_qr(a, m, n, r);
        form_q(a, r, q, m, n);
        q_to_weight(q, rows, cols, gain, a);
        store_all(t, a);
    }
    cg__free(a, bytes);
    cg__free(q, bytes);
    cg__free(r, (size_t)n * sizeof *r);
    return st;
}

/* ---- sparse ---- */

/* Row r of w [out, in]: k distinct random columns (a partial Fisher-Yates shuffle of perm,
 * which stays a permutation from row to row) get N(0, std) values that are non-zero as
 * stored. */
static void sparse_row(const cg_tensor *t, cg_rng *rng, int64_t *perm, int64_t in, int64_t k,
                       double std, double *row)
{
    for (int64_t j = 0; j < k; j++) {
        int64_t pick = j + (int64_t)(cg_rng_uniform(rng) * (double)(in - j));
        if (pick >= in)
            pick = in - 1;
        int64_t tmp = perm[j];
        perm[j] = perm[pick];
        perm[pick] = tmp;
        double x;
        do
            x = as_stored(t, std * normal_draw(rng));
        while (x == 0.0);
        row[perm[j]] = x;
    }
}

cg_status cg_init_sparse(cg_tensor *t, cg_rng *rng, int64_t k, double std)
{
    const char *who = "cg_init_sparse";
    cg_status st = check_target(t, rng, who);
    if (st == CG_OK && t->ndim != 2)
        st = cg__error(CG_ERR_SHAPE, "%s: needs a 2-d weight [out, in], not %d-d", who, t->ndim);
    if (st != CG_OK)
        return st;
    int64_t out = t->shape[0], in = t->shape[1];
    if (k < 0 || k > in)
        return cg__error(CG_ERR_VALUE, "%s: k = %lld non-zeros per row, but rows have %lld "
                                       "entries", who, (long long)k, (long long)in);
    if (!isfinite(std) || !(std > 0))
        return cg__error(CG_ERR_VALUE, "%s: std %g must be positive", who, std);
    size_t bytes = (size_t)(out * in) * sizeof(double), pbytes = (size_t)in * sizeof(int64_t);
    double *w = cg__calloc((size_t)(out * in), sizeof *w);
    int64_t *perm = cg__malloc(pbytes);
    if (w && perm) {
        for (int64_t c = 0; c < in; c++)
            perm[c] = c;
        for (int64_t r = 0; r < out; r++)
            sparse_row(t, rng, perm, in, k, std, w + r * in);
        store_all(t, w);
    } else {
        st = cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    }
    cg__free(w, bytes);
    cg__free(perm, pbytes);
    return st;
}
