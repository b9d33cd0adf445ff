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

static bool check_owned(const cg_tensor *t, const char *who)
{
    if (!cg__check_tensor(t, who))
        return false;
    if (t->pool) {
        cg__error(CG_ERR_STATE, "%s: dataset tensors must be caller-owned, not tape-owned", who);
        return false;
    }
    return true;
}

/* Exactly one kind of features, f32 or bytes, of rank >= 1. */
static bool check_features(const cg_dataset *ds, const char *who)
{
    if (!ds->images == !ds->bytes) {
        cg__error(ds->images ? CG_ERR_VALUE : CG_ERR_NULL, "%s: a dataset holds either f32 "
                  "images or bytes, %s", who, ds->images ? "not both" : "got neither");
        return false;
    }
    if (ds->bytes)
        return true; /* cg_bytes_new and the IDX reader give rank >= 1 */
    const cg_tensor *x = ds->images;
    if (!check_owned(x, who))
        return false;
    if (x->dtype != CG_F32) {
        cg__error(CG_ERR_DTYPE, "%s: images must be f32, got %s", who, cg_dtype_name(x->dtype));
        return false;
    }
    if (x->ndim < 1 || !cg_tensor_is_contiguous(x)) {
        char a[96];
        cg__error(CG_ERR_SHAPE, "%s: need contiguous images [N, ...], got %s", who,
                  cg__shape_str(x->ndim, x->shape, a, sizeof a));
        return false;
    }
    return true;
}

/* A contiguous 1-d i64 tensor (labels, index). */
static bool check_vector(const cg_tensor *t, const char *what, const char *who)
{
    if (!check_owned(t, who))
        return false;
    if (t->dtype != CG_I64) {
        cg__error(CG_ERR_DTYPE, "%s: %s must be i64, got %s", who, what, cg_dtype_name(t->dtype));
        return false;
    }
    if (t->ndim != 1 || !cg_tensor_is_contiguous(t)) {
        char a[96];
        cg__error(CG_ERR_SHAPE, "%s: need contiguous %s [N], got %s", who, what,
                  cg__shape_str(t->ndim, t->shape, a, sizeof a));
        return false;
    }
    return true;
}

/* Labels [N]; and index [N] with rows in [0, R), or R = N without an index. */
static bool check_rows(const cg_dataset *ds, const char *who)
{
    int64_t n = ds->labels->shape[0], r = cg__dataset_shape(ds)[0];
    if (!ds->index && r == n)
        return true;
    char a[96], b[96];
    if (!ds->index || ds->index->shape[0] != n) {
        const cg_tensor *t = ds->index ? ds->index : ds->labels;
        cg__error(CG_ERR_SHAPE, "%s: features %s and %s %s: need one %s per sample", who,
                  cg__shape_str(cg__dataset_ndim(ds), cg__dataset_shape(ds), a, sizeof a),
                  ds->index ? "index" : "labels", cg__shape_str(1, t->shape, b, sizeof b),
                  ds->index ? "index entry and label" : "label");
        return false;
    }
    const int64_t *idx = cg_tensor_data(ds->index);
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= r) {
            cg__error(CG_ERR_VALUE, "%s: index[%lld] = %lld is outside the %lld feature rows",
                      who, (long long)i, (long long)idx[i], (long long)r);
            return false;
        }
    return true;
}

bool cg__dataset_check(const cg_dataset *ds, const char *who)
{
    if (!ds) {
        cg__error(CG_ERR_NULL, "%s: NULL dataset", who);
        return false;
    }
    return check_features(ds, who) && check_vector(ds->labels, "labels", who) &&
           (!ds->index || check_vector(ds->index, "index", who)) && check_rows(ds, who);
}

int cg__dataset_ndim(const cg_dataset *ds)
{
    return ds->images ? ds->images->ndim : ds->bytes->ndim;
}

const int64_t *cg__dataset_shape(const cg_dataset *ds)
{
    return ds->images ? ds->images->shape : ds->bytes->shape;
}

int64_t cg__dataset_row(const cg_dataset *ds)
{
    return cg__shape_numel(cg__dataset_ndim(ds) - 1, cg__dataset_shape(ds) + 1);
}

void cg_dataset_free(cg_dataset *ds)
{
    if (!ds)
        return;
    cg_tensor_free(ds->images);
    cg_tensor_free(ds->labels);
    cg_bytes_free(ds->bytes);
    cg_tensor_free(ds->index);
    *ds = (cg_dataset){0};
}

int64_t cg_dataset_size(const cg_dataset *ds)
{
    return ds && ds->labels ? cg_tensor_size(ds->labels, 0) : 0;
}

cg_status cg_dataset_sample_shape(const cg_dataset *ds, int *ndim, int64_t *shape)
{
    if (!ndim)
        return cg__error(CG_ERR_NULL, "dataset_sample_shape: NULL ndim");
    *ndim = 0;
    if (!cg__dataset_check(ds, "dataset_sample_shape"))
        return cg_last_status();
    *ndim = cg__dataset_ndim(ds) - 1;
    if (shape)
        memcpy(shape, cg__dataset_shape(ds) + 1, (size_t)*ndim * sizeof *shape);
    return CG_OK;
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

/* The feature row of sample i. */
static inline int64_t row_of(const cg_dataset *ds, int64_t i)
{
    return ds->index ? ((const int64_t *)cg_tensor_data(ds->index))[i] : i;
}

/* One sample's values into dst, converted and mapped. The map's expression is the one
 * cg_standardizer_apply uses, so both give the same floats. */
static void copy_row(const cg_dataset *ds, int64_t r, int64_t row, const cg__affine *aff,
                     float *dst)
{
    const float *xf = ds->images ? (const float *)cg_tensor_data(ds->images) + r * row : NULL;
    const uint8_t *xb = ds->bytes ? ds->bytes->data + r * row : NULL;
    if (!aff && xf) {
        memcpy(dst, xf, (size_t)row * sizeof *dst);
    } else if (!aff) {
        for (int64_t j = 0; j < row; j++)
            dst[j] = xb[j];
    } else if (aff->m == 1) {
        double a = aff->a[0], b = aff->b[0];
        if (xb)
            for (int64_t j = 0; j < row; j++)
                dst[j] = (float)(xb[j] * a - b);
        else
            for (int64_t j = 0; j < row; j++)
                dst[j] = (float)(xf[j] * a - b);
    } else if (xb) {
        for (int64_t j = 0; j < row; j++)
            dst[j] = (float)(xb[j] * aff->a[j] - aff->b[j]);
    } else {
        for (int64_t j = 0; j < row; j++)
            dst[j] = (float)(xf[j] * aff->a[j] - aff->b[j]);
    }
}

void cg__dataset_gather(const cg_dataset *ds, const int64_t *idx, int64_t b,
                        const cg__affine *aff, float *img, int64_t *lab)
{
    int64_t row = cg__dataset_row(ds);
    const int64_t *y = cg_tensor_data(ds->labels);
    for (int64_t i = 0; i < b; i++) {
        copy_row(ds, row_of(ds, idx[i]), row, aff, img + i * row);
        lab[i] = y[idx[i]];
    }
}

/* A new dataset holding samples idx[0..n) of ds: byte features shared through an index of
 * their rows, f32 features copied. */
static cg_status subset(const cg_dataset *ds, const int64_t *idx, int64_t n, cg_dataset *out)
{
    out->labels = cg__tensor_alloc(NULL, CG_I64, 1, &n);
    if (out->labels && ds->bytes) {
        out->index = cg__tensor_alloc(NULL, CG_I64, 1, &n);
        out->bytes = out->index ? ds->bytes : NULL;
        cg__bytes_retain(out->bytes);
    } else if (out->labels) {
        int64_t shape[CG_MAX_DIMS];
        memcpy(shape, ds->images->shape, sizeof shape);
        shape[0] = n;
        out->images = cg__tensor_alloc(NULL, CG_F32, ds->images->ndim, shape);
    }
    if (!out->images && !out->bytes) {
        cg_dataset_free(out);
        return cg_last_status();
    }
    int64_t *lab = cg_tensor_data(out->labels);
    const int64_t *y = cg_tensor_data(ds->labels);
    if (out->bytes) {
        int64_t *rows = cg_tensor_data(out->index);
        for (int64_t i = 0; i < n; i++) {
            rows[i] = row_of(ds, idx[i]);
            lab[i] = y[idx[i]];
        }
    } else {
        cg__dataset_gather(ds, idx, n, NULL, cg_tensor_data(out->images), lab);
    }
    return CG_OK;
}

cg_status cg_dataset_select(const cg_dataset *ds, const int64_t *samples, int64_t n,
                            cg_dataset *out)
{
    const char *who = "dataset_select";
    if (!out)
        return cg__error(CG_ERR_NULL, "%s: NULL result", who);
    *out = (cg_dataset){0};
    if (!cg__dataset_check(ds, who))
        return cg_last_status();
    if (n > 0 && !samples)
        return cg__error(CG_ERR_NULL, "%s: NULL samples", who);
    if (n < 0)
        return cg__error(CG_ERR_VALUE, "%s: n %lld < 0", who, (long long)n);
    int64_t size = cg_dataset_size(ds);
    for (int64_t i = 0; i < n; i++)
        if (samples[i] < 0 || samples[i] >= size)
            return cg__error(CG_ERR_VALUE, "%s: samples[%lld] = %lld outside [0, %lld)", who,
                             (long long)i, (long long)samples[i], (long long)size);
    return subset(ds, samples, n, out);
}

cg_status cg_dataset_split(const cg_dataset *ds, int64_t n_val, uint64_t seed,
                           cg_dataset *train, cg_dataset *val)
{
    const char *who = "dataset_split";
    if (!train || !val)
        return cg__error(CG_ERR_NULL, "%s: NULL result", who);
    *train = *val = (cg_dataset){0};
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

/* dir/name.gz, or dir/name when only the uncompressed file is there, into path. */
static cg_status find_file(const char *dir, const char *name, char path[4096])
{
    char plain[4096];
    int a = snprintf(path, 4096, "%s/%s.gz", dir, name);
    int b = snprintf(plain, sizeof plain, "%s/%s", dir, name);
    if (a < 0 || b < 0 || a >= 4096)
        return cg__error(CG_ERR_VALUE, "fashion_mnist: folder name too long: %s", dir);
    if (access(path, F_OK) == 0)
        return CG_OK;
    if (access(plain, F_OK) == 0) {
        memcpy(path, plain, (size_t)b + 1);
        return CG_OK;
    }
    return cg__error(CG_ERR_IO, "fashion_mnist: %s not found (nor %s): install Debian's "
                     "dataset-fashion-mnist, or pass the folder holding the files", path, plain);
}

/* Images [N, 28, 28] and labels [N] in [0, 10). */
static cg_status check_fashion(const cg_bytes *x, const cg_tensor *y)
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

cg_status cg_fashion_mnist_load(const char *dir, bool train, cg_dataset *out)
{
    if (!out)
        return cg__error(CG_ERR_NULL, "fashion_mnist: NULL result");
    *out = (cg_dataset){0};
    dir = dir ? dir : CG_FASHION_MNIST_DIR;
    const char *set = train ? "train" : "t10k";
    char name[64], path[4096];
    cg_bytes *x = NULL;
    cg_tensor *y = NULL;
    snprintf(name, sizeof name, "%s-images-idx3-ubyte", set);
    cg_status st = find_file(dir, name, path);
    if (st == CG_OK)
        st = cg_idx_read_bytes(path, &x);
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte", set);
    if (st == CG_OK)
        st = find_file(dir, name, path);
    if (st == CG_OK)
        st = cg_idx_read_as(path, CG_I64, &y);
    if (st == CG_OK)
        st = check_fashion(x, y);
    if (st != CG_OK) {
        cg_bytes_free(x);
        cg_tensor_free(y);
        return st;
    }
    /* [N, 28, 28] -> [N, 1, 28, 28]: one channel, as the convolutions take it */
    x->ndim = 4;
    x->shape[3] = x->shape[2];
    x->shape[2] = x->shape[1];
    x->shape[1] = 1;
    out->bytes = x;
    out->labels = y;
    return CG_OK;
}

/* ---- standardization ---- */

/* Mean and population variance of each of m features (m = 1: one over every value) of
 * x * scale over ds's samples, in their order: two passes in double (the second around the
 * mean, which keeps the variance accurate). Each sample's row goes through tmp (row
 * doubles, x * scale), so f32 and byte features share the sums. */
static void moments(const cg_dataset *ds, int64_t m, double scale, double *tmp, double *mean,
                    double *var)
{
    int64_t n = cg_dataset_size(ds), row = cg__dataset_row(ds);
    const float *xf = ds->images ? cg_tensor_data(ds->images) : NULL;
    const uint8_t *xb = ds->bytes ? ds->bytes->data : NULL;
    for (int64_t j = 0; j < m; j++)
        mean[j] = var[j] = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t i = 0; i < n; i++) {
            int64_t r = row_of(ds, i) * row;
            for (int64_t j = 0; j < row; j++)
                tmp[j] = (xf ? xf[r + j] : xb[r + j]) * scale;
            for (int64_t j = 0; j < row; j++) {
                int64_t k = m == 1 ? 0 : j;
                double d = tmp[j] - mean[k];
                if (pass == 0)
                    mean[k] += tmp[j];
                else
                    var[k] += d * d;
            }
        }
        double count = m == 1 ? (double)n * (double)row : (double)n;
        for (int64_t j = 0; j < m; j++)
            *(pass == 0 ? &mean[j] : &var[j]) /= count;
    }
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
    bool global = mode == CG_STANDARDIZE_GLOBAL;
    int64_t row = cg__dataset_row(train), m = global ? 1 : row;
    int nd = global ? 0 : cg__dataset_ndim(train) - 1;
    const int64_t *shape = cg__dataset_shape(train) + 1;
    out->mean = cg__tensor_alloc(NULL, CG_F32, nd, shape);
    out->std = out->mean ? cg__tensor_alloc(NULL, CG_F32, nd, shape) : NULL;
    size_t nacc = 2 * (size_t)m + (size_t)row;
    double *acc = out->std ? cg__malloc(nacc * sizeof *acc) : NULL;
    if (!acc) {
        if (out->std)
            cg__error(CG_ERR_NOMEM, "standardizer_fit: out of memory");
        cg_standardizer_free(out);
        return cg_last_status();
    }
    moments(train, m, scale, acc + 2 * m, acc, acc + m);
    float *mu = cg_tensor_data(out->mean), *sd = cg_tensor_data(out->std);
    for (int64_t j = 0; j < m; j++) {
        mu[j] = (float)acc[j];
        sd[j] = (float)fmax(sqrt(acc[m + j]), min_std);
    }
    cg__free(acc, nacc * sizeof *acc);
    return CG_OK;
}

bool cg__standardizer_check(const cg_standardizer *st, const cg_dataset *ds, const char *who)
{
    if (!st) {
        cg__error(CG_ERR_NULL, "%s: NULL standardizer", who);
        return false;
    }
    if (!cg__check_tensor(st->mean, who) || !cg__check_tensor(st->std, who))
        return false;
    const cg_tensor *mu = st->mean, *sd = st->std;
    int nd = st->mode == CG_STANDARDIZE_GLOBAL ? 0 : cg__dataset_ndim(ds) - 1;
    const int64_t *shape = cg__dataset_shape(ds);
    size_t nb = (size_t)nd * sizeof(int64_t);
    if (mu->ndim == nd && sd->ndim == nd && !memcmp(mu->shape, shape + 1, nb) &&
        !memcmp(sd->shape, shape + 1, nb) && mu->dtype == CG_F32 && sd->dtype == CG_F32 &&
        cg_tensor_is_contiguous(mu) && cg_tensor_is_contiguous(sd))
        return true;
    char a[96], b[96];
    cg__error(CG_ERR_SHAPE, "%s: statistics of shape %s (%s) do not fit images %s", who,
              cg__shape_str(mu->ndim, mu->shape, a, sizeof a), cg_dtype_name(mu->dtype),
              cg__shape_str(cg__dataset_ndim(ds), shape, b, sizeof b));
    return false;
}

double *cg__standardizer_coefficients(const cg_standardizer *st, const cg_dataset *ds,
                                      int64_t *m, const char *who)
{
    *m = st->mode == CG_STANDARDIZE_GLOBAL ? 1 : cg__dataset_row(ds);
    const float *mu = cg_tensor_data(st->mean), *sd = cg_tensor_data(st->std);
    for (int64_t j = 0; j < *m; j++)
        if (!(sd[j] > 0)) {
            cg__error(CG_ERR_VALUE, "%s: std[%lld] is %g; fit with min_std > 0", who,
                      (long long)j, sd[j]);
            return NULL;
        }
    double *ab = cg__malloc(2 * (size_t)*m * sizeof *ab);
    if (!ab) {
        cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
        return NULL;
    }
    for (int64_t j = 0; j < *m; j++) {
        ab[j] = st->scale / sd[j];
        ab[*m + j] = mu[j] / (double)sd[j];
    }
    return ab;
}

cg_status cg_standardizer_apply(const cg_standardizer *st, cg_dataset *ds)
{
    const char *who = "standardizer_apply";
    if (!st)
        return cg__error(CG_ERR_NULL, "%s: NULL standardizer", who);
    if (!cg__dataset_check(ds, who))
        return cg_last_status();
    if (ds->bytes || ds->index)
        return cg__error(CG_ERR_VALUE, "%s: %s; standardize on the fly instead "
                         "(cg_batch_iter_options.standardize)", who,
                         ds->bytes ? "byte features cannot hold standardized values"
                                   : "a view's rows may be shared with other datasets");
    if (!cg__standardizer_check(st, ds, who))
        return cg_last_status();
    int64_t m, n = cg_dataset_size(ds), row = cg__dataset_row(ds);
    double *ab = cg__standardizer_coefficients(st, ds, &m, who);
    if (!ab)
        return cg_last_status();
    cg__affine aff = {ab, ab + m, m};
    float *x = cg_tensor_data(ds->images);
    for (int64_t i = 0; i < n; i++)
        copy_row(ds, i, row, &aff, x + i * row);
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
