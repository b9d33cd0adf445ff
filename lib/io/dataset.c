/* Datasets: the cg_dataset rules, Fashion-MNIST, seeded splits and standardization.
 *
 * Standardization is done here on the data rather than with nn.h's cg_feature_stats and
 * cg_standardize: those record ops on a tape and walk one feature at a time, while a
 * dataset is standardized once, in place, with statistics gathered row by row (one pass
 * over memory per statistic), and needs a floor on std for constant border pixels. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "data_impl.h"

/* ---- the dataset rules ---- */

bool cg__dataset_check(const cg_dataset *ds, const char *who)
{
    if (!ds) {
        cg__error(CG_ERR_NULL, "%s: NULL dataset", who);
        return false;
    }
    const cg_tensor *x = ds->images, *y = ds->labels;
    if (!cg__check_tensor(x, who) || !cg__check_tensor(y, who))
        return false;
    if (x->pool || y->pool) {
        cg__error(CG_ERR_STATE, "%s: dataset tensors must be caller-owned, not tape-owned", who);
        return false;
    }
    if (x->dtype != CG_F32 || y->dtype != CG_I64) {
        cg__error(CG_ERR_DTYPE, "%s: images must be f32 and labels i64, got %s and %s", who,
                  cg_dtype_name(x->dtype), cg_dtype_name(y->dtype));
        return false;
    }
    if (x->ndim < 1 || y->ndim != 1 || x->shape[0] != y->shape[0] ||
        !cg_tensor_is_contiguous(x) || !cg_tensor_is_contiguous(y)) {
        char a[96], b[96];
        cg__error(CG_ERR_SHAPE, "%s: need contiguous images [N, ...] and labels [N], got %s and %s",
                  who, cg__shape_str(x->ndim, x->shape, a, sizeof a),
                  cg__shape_str(y->ndim, y->shape, b, sizeof b));
        return false;
    }
    return true;
}

int64_t cg__dataset_row(const cg_dataset *ds)
{
    return cg__shape_numel(ds->images->ndim - 1, ds->images->shape + 1);
}

void cg_dataset_free(cg_dataset *ds)
{
    if (!ds)
        return;
    cg_tensor_free(ds->images);
    cg_tensor_free(ds->labels);
    ds->images = ds->labels = NULL;
}

int64_t cg_dataset_size(const cg_dataset *ds)
{
    return ds && ds->labels ? cg_tensor_size(ds->labels, 0) : 0;
}

/* ---- permutations and copies ---- */

/* j uniform in [0, i] from a 53-bit uniform: the bias, about i / 2^53, is far below any
 * statistical use; the clamp guards against rounding up to i + 1. */
void cg__permutation(uint64_t seed, uint64_t base, int64_t n, int64_t *perm)
{
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        double u = cg__rng_uniform_at(seed, base + (uint64_t)i, 0);
        int64_t j = (int64_t)(u * (double)(i + 1));
        j = j > i ? i : j;
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

void cg__dataset_gather(const cg_dataset *ds, const int64_t *idx, int64_t b, float *img,
                        int64_t *lab)
{
    int64_t row = cg__dataset_row(ds);
    const float *x = cg_tensor_data(ds->images);
    const int64_t *y = cg_tensor_data(ds->labels);
    for (int64_t i = 0; i < b; i++) {
        memcpy(img + i * row, x + idx[i] * row, (size_t)row * sizeof *img);
        lab[i] = y[idx[i]];
    }
}

/* A new dataset holding samples idx[0..n) of ds. */
static cg_status subset(const cg_dataset *ds, const int64_t *idx, int64_t n, cg_dataset *out)
{
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, ds->images->shape, sizeof shape);
    shape[0] = n;
    out->images = cg__tensor_alloc(NULL, CG_F32, ds->images->ndim, shape);
    out->labels = out->images ? cg__tensor_alloc(NULL, CG_I64, 1, &n) : NULL;
    if (!out->labels) {
        cg_dataset_free(out);
        return cg_last_status();
    }
    cg__dataset_gather(ds, idx, n, cg_tensor_data(out->images), cg_tensor_data(out->labels));
    return CG_OK;
}

cg_status cg_dataset_split(const cg_dataset *ds, int64_t n_val, uint64_t seed,
                           cg_dataset *train, cg_dataset *val)
{
    const char *who = "dataset_split";
    if (!train || !val)
        return cg__error(CG_ERR_NULL, "%s: NULL result", who);
    *train = *val = (cg_dataset){NULL, NULL};
    if (!cg__dataset_check(ds, who))
        return cg_last_status();
    int64_t n = cg_dataset_size(ds);
    if (n_val < 0 || n_val > n)
        return cg__error(CG_ERR_VALUE, "%s: n_val %lld outside [0, %lld]", who,
                         (long long)n_val, (long long)n);
    int64_t *perm = cg__malloc((size_t)(n ? n : 1) * sizeof *perm);
    if (!perm)
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    cg__permutation(seed, CG__STREAM_SPLIT, n, perm);
    cg_status st = subset(ds, perm, n_val, val);
    if (st == CG_OK && (st = subset(ds, perm + n_val, n - n_val, train)) != CG_OK)
        cg_dataset_free(val);
    cg__free(perm, (size_t)(n ? n : 1) * sizeof *perm);
    return st;
}

/* ---- Fashion-MNIST ---- */

/* Read dir/name.gz, or dir/name when only the uncompressed file is there. */
static cg_status load_file(const char *dir, const char *name, cg_dtype dtype, cg_tensor **out)
{
    char gz[4096], plain[4096];
    int a = snprintf(gz, sizeof gz, "%s/%s.gz", dir, name);
    int b = snprintf(plain, sizeof plain, "%s/%s", dir, name);
    *out = NULL;
    if (a < 0 || b < 0 || (size_t)a >= sizeof gz)
        return cg__error(CG_ERR_VALUE, "fashion_mnist: folder name too long: %s", dir);
    if (access(gz, F_OK) != 0 && access(plain, F_OK) == 0)
        return cg_idx_read_as(plain, dtype, out);
    if (access(gz, F_OK) != 0)
        return cg__error(CG_ERR_IO,
                         "fashion_mnist: %s not found (nor %s): install Debian's "
                         "dataset-fashion-mnist, or pass the folder holding the files", gz, plain);
    return cg_idx_read_as(gz, dtype, out);
}

/* Images [N, 28, 28] and labels [N] in [0, 10). */
static cg_status check_fashion(const cg_tensor *x, const cg_tensor *y)
{
    char a[96], b[96];
    if (x->ndim != 3 || x->shape[1] != 28 || x->shape[2] != 28 || y->ndim != 1 ||
        y->shape[0] != x->shape[0])
        return cg__error(CG_ERR_FORMAT,
                         "fashion_mnist: images %s and labels %s, expected [N, 28, 28] and [N]",
                         cg__shape_str(x->ndim, x->shape, a, sizeof a),
                         cg__shape_str(y->ndim, y->shape, b, sizeof b));
    const int64_t *lab = cg_tensor_data(y);
    for (int64_t i = 0; i < y->shape[0]; i++)
        if (lab[i] < 0 || lab[i] >= 10)
            return cg__error(CG_ERR_FORMAT, "fashion_mnist: label %lld of sample %lld is "
                             "outside [0, 10)", (long long)lab[i], (long long)i);
    return CG_OK;
}

/* [N, 28, 28] -> [N, 1, 28, 28]: a view on the same storage replaces the tensor. */
static cg_tensor *add_channel(cg_tensor *x)
{
    int64_t shape[4] = {x->shape[0], 1, 28, 28}, strides[4];
    cg__contiguous_strides(4, shape, strides);
    cg_tensor *v = cg__tensor_view(NULL, x, 4, shape, strides, 0);
    cg_tensor_free(x);
    return v;
}

cg_status cg_fashion_mnist_load(const char *dir, bool train, cg_dataset *out)
{
    if (!out)
        return cg__error(CG_ERR_NULL, "fashion_mnist: NULL result");
    *out = (cg_dataset){NULL, NULL};
    dir = dir ? dir : CG_FASHION_MNIST_DIR;
    const char *set = train ? "train" : "t10k";
    char name[64];
    cg_tensor *x = NULL, *y = NULL;
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", set);
    cg_status st = load_file(dir, name, CG_F32, &x);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", set);
    if (st == CG_OK)
        st = load_file(dir, name, CG_I64, &y);
    if (st == CG_OK)
        st = check_fashion(x, y);
    if (st == CG_OK && !(x = add_channel(x)))
        st = cg_last_status();
    if (st != CG_OK) {
        cg_tensor_free(x);
        cg_tensor_free(y);
        return st;
    }
    out->images = x;
    out->labels = y;
    return CG_OK;
}

/* ---- standardization ---- */

/* Mean and population variance of each of m features over `rows` rows of x * scale, two
 * passes in double (the second around the mean, which keeps the variance accurate). For
 * global statistics the caller passes rows = every value and m = 1. */
static void moments(const float *x, int64_t rows, int64_t m, double scale, double *mean,
                    double *var)
{
    for (int64_t j = 0; j < m; j++)
        mean[j] = var[j] = 0;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < m; j++)
            mean[j] += x[i * m + j] * scale;
    for (int64_t j = 0; j < m; j++)
        mean[j] /= (double)rows;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < m; j++) {
            double d = x[i * m + j] * scale - mean[j];
            var[j] += d * d;
        }
    for (int64_t j = 0; j < m; j++)
        var[j] /= (double)rows;
}

static bool check_fit_args(const cg_dataset *train, cg_standardize_mode mode, double scale,
                           double min_std)
{
    const char *who = "standardizer_fit";
    if (!cg__dataset_check(train, who))
        return false;
    if (mode != CG_STANDARDIZE_GLOBAL && mode != CG_STANDARDIZE_FEATURE)
        cg__error(CG_ERR_VALUE, "%s: unknown mode %d", who, (int)mode);
    else if (!isfinite(scale) || scale == 0 || !(min_std >= 0) || !isfinite(min_std))
        cg__error(CG_ERR_VALUE, "%s: need a finite nonzero scale and a finite min_std >= 0, "
                  "got %g and %g", who, scale, min_std);
    else if (cg_dataset_size(train) < 1)
        cg__error(CG_ERR_VALUE, "%s: empty training set", who);
    else
        return true;
    return false;
}

cg_status cg_standardizer_fit(const cg_dataset *train, cg_standardize_mode mode, double scale,
                              double min_std, cg_standardizer *out)
{
    if (!out)
        return cg__error(CG_ERR_NULL, "standardizer_fit: NULL result");
    *out = (cg_standardizer){.mode = mode, .scale = scale};
    if (!check_fit_args(train, mode, scale, min_std))
        return cg_last_status();
    const cg_tensor *x = train->images;
    bool global = mode == CG_STANDARDIZE_GLOBAL;
    int64_t m = global ? 1 : cg__dataset_row(train);
    int64_t rows = global ? cg_tensor_numel(x) : x->shape[0];
    int nd = global ? 0 : x->ndim - 1;
    out->mean = cg__tensor_alloc(NULL, CG_F32, nd, x->shape + 1);
    out->std = out->mean ? cg__tensor_alloc(NULL, CG_F32, nd, x->shape + 1) : NULL;
    double *acc = out->std ? cg__malloc(2 * (size_t)m * sizeof *acc) : NULL;
    if (!acc) {
        if (out->std)
            cg__error(CG_ERR_NOMEM, "standardizer_fit: out of memory");
        cg_standardizer_free(out);
        return cg_last_status();
    }
    moments(cg_tensor_data(x), rows, m, scale, acc, acc + m);
    float *mu = cg_tensor_data(out->mean), *sd = cg_tensor_data(out->std);
    for (int64_t j = 0; j < m; j++) {
        mu[j] = (float)acc[j];
        sd[j] = (float)fmax(sqrt(acc[m + j]), min_std);
    }
    cg__free(acc, 2 * (size_t)m * sizeof *acc);
    return CG_OK;
}

/* The standardizer's statistics must match ds's images: shape [] (global) or
 * images.shape[1:] (per feature), f32. */
static bool check_apply_args(const cg_standardizer *st, const cg_dataset *ds)
{
    const char *who = "standardizer_apply";
    if (!st) {
        cg__error(CG_ERR_NULL, "%s: NULL standardizer", who);
        return false;
    }
    if (!cg__dataset_check(ds, who) || !cg__check_tensor(st->mean, who) ||
        !cg__check_tensor(st->std, who))
        return false;
    const cg_tensor *x = ds->images, *mu = st->mean, *sd = st->std;
    int nd = st->mode == CG_STANDARDIZE_GLOBAL ? 0 : x->ndim - 1;
    size_t nb = (size_t)nd * sizeof(int64_t);
    if (mu->ndim == nd && sd->ndim == nd && !memcmp(mu->shape, x->shape + 1, nb) &&
        !memcmp(sd->shape, x->shape + 1, nb) && mu->dtype == CG_F32 && sd->dtype == CG_F32 &&
        cg_tensor_is_contiguous(mu) && cg_tensor_is_contiguous(sd))
        return true;
    char a[96], b[96];
    cg__error(CG_ERR_SHAPE, "%s: statistics of shape %s (%s) do not fit images %s", who,
              cg__shape_str(mu->ndim, mu->shape, a, sizeof a), cg_dtype_name(mu->dtype),
              cg__shape_str(x->ndim, x->shape, b, sizeof b));
    return false;
}

/* Per feature: x -> x a - b with a = scale / std, b = mean / std; NULL with an error if a
 * std is not positive. The caller frees the 2 m doubles. */
static double *affine_coefficients(const cg_standardizer *st, int64_t m)
{
    const float *mu = cg_tensor_data(st->mean), *sd = cg_tensor_data(st->std);
    for (int64_t j = 0; j < m; j++)
        if (!(sd[j] > 0)) {
            cg__error(CG_ERR_VALUE, "standardizer_apply: std[%lld] is %g; fit with min_std > 0",
                      (long long)j, sd[j]);
            return NULL;
        }
    double *ab = cg__malloc(2 * (size_t)m * sizeof *ab);
    if (!ab) {
        cg__error(CG_ERR_NOMEM, "standardizer_apply: out of memory");
        return NULL;
    }
    for (int64_t j = 0; j < m; j++) {
        ab[j] = st->scale / sd[j];
        ab[m + j] = mu[j] / (double)sd[j];
    }
    return ab;
}

cg_status cg_standardizer_apply(const cg_standardizer *st, cg_dataset *ds)
{
    if (!check_apply_args(st, ds))
        return cg_last_status();
    bool global = st->mode == CG_STANDARDIZE_GLOBAL;
    int64_t m = global ? 1 : cg__dataset_row(ds);
    int64_t rows = global ? cg_tensor_numel(ds->images) : cg_dataset_size(ds);
    double *ab = affine_coefficients(st, m);
    if (!ab)
        return cg_last_status();
    float *x = cg_tensor_data(ds->images);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < m; j++)
            x[i * m + j] = (float)(x[i * m + j] * ab[j] - ab[m + j]);
    cg__free(ab, 2 * (size_t)m * sizeof *ab);
    cg__bump_version(ds->images);
    return CG_OK;
}

void cg_standardizer_free(cg_standardizer *st)
{
    if (!st)
        return;
    cg_tensor_free(st->mean);
    cg_tensor_free(st->std);
    st->mean = st->std = NULL;
}
