/* Tensor structs: allocation, views, element access and caller-owned constructors. */
#include <math.h>
#include <string.h>

#include "core.h"

size_t cg_dtype_size(cg_dtype d) { return d == CG_F32 ? 4 : 8; }

const char *cg_dtype_name(cg_dtype d)
{
    switch (d) {
    case CG_F32: return "f32";
    case CG_F64: return "f64";
    case CG_I64: return "i64";
    }
    return "unknown";
}

bool cg__is_float(cg_dtype d) { return d == CG_F32 || d == CG_F64; }

static void set_geometry(cg_tensor *t, cg_dtype dtype, int ndim, const int64_t *shape,
                         const int64_t *strides, int64_t offset)
{
    t->magic = CG__ALIVE;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->strides[i] = strides[i];
    }
    t->offset = offset;
}

cg_tensor *cg__tensor_alloc(cg_pool *pool, cg_dtype dtype, int ndim, const int64_t *shape)
{
    size_t nbytes = (size_t)cg__shape_numel(ndim, shape) * cg_dtype_size(dtype);
    cg_tensor *t = pool ? cg__pool_tensor(pool) : cg__calloc(1, sizeof *t);
    cg_storage *s = t ? (pool ? cg__pool_storage(pool, nbytes) : cg__storage_new(nbytes)) : NULL;
    if (!s) {
        if (t && !pool)
            cg__free(t, sizeof *t);
        /* A pooled struct without storage stays on the live list; the reset reclaims it. */
        if (t && pool)
            t->magic = CG__ALIVE, t->storage = NULL;
        cg__error(CG_ERR_NOMEM, "out of memory allocating %zu bytes", nbytes);
        return NULL;
    }
    int64_t strides[CG_MAX_DIMS];
    cg__contiguous_strides(ndim, shape, strides);
    set_geometry(t, dtype, ndim, shape, strides, 0);
    t->storage = s;
    t->refs = 1;
    return t;
}

cg_tensor *cg__tensor_view(cg_pool *pool, const cg_tensor *src, int ndim, const int64_t *shape,
                           const int64_t *strides, int64_t offset)
{
    cg_tensor *t = pool ? cg__pool_tensor(pool) : cg__calloc(1, sizeof *t);
    if (!t) {
        cg__error(CG_ERR_NOMEM, "out of memory allocating a view");
        return NULL;
    }
    set_geometry(t, src->dtype, ndim, shape, strides, offset);
    t->storage = src->storage;
    if (!t->storage->pool)
        t->storage->refs++;
    t->refs = 1;
    return t;
}

void cg__tensor_retain(cg_tensor *t)
{
    if (!t->pool)
        t->refs++;
}

void cg__tensor_release(cg_tensor *t)
{
    if (t->pool || --t->refs > 0)
        return;
    if (t->grad)
        cg__tensor_release(t->grad);
    if (t->grad_spare)
        cg__tensor_release(t->grad_spare);
    if (t->name)
        cg__free(t->name, strlen(t->name) + 1);
    cg__storage_release(t->storage);
    t->magic = CG__DEAD;
    cg__free(t, sizeof *t);
}

void cg_tensor_free(cg_tensor *t)
{
    if (!t)
        return;
    if (!cg__check_tensor(t, "cg_tensor_free"))
        return;
    if (t->pool) {
        cg__error(CG_ERR_STATE, "cg_tensor_free: tensor belongs to a tape; reset the tape instead");
        return;
    }
    cg__tensor_release(t);
}

/* ---- element access ---- */

double cg__load(const cg_tensor *t, int64_t i)
{
    const void *base = t->storage->data;
    switch (t->dtype) {
    case CG_F32: return ((const float *)base)[i];
    case CG_F64: return ((const double *)base)[i];
    case CG_I64: return (double)((const int64_t *)base)[i];
    }
    return NAN;
}

void cg__store(cg_tensor *t, int64_t i, double v)
{
    void *base = t->storage->data;
    switch (t->dtype) {
    case CG_F32: ((float *)base)[i] = (float)v; break;
    case CG_F64: ((double *)base)[i] = v; break;
    case CG_I64: ((int64_t *)base)[i] = (int64_t)v; break;
    }
}

int64_t cg__storage_index(const cg_tensor *t, int64_t flat)
{
    int64_t idx = t->offset;
    for (int d = t->ndim - 1; d >= 0; d--) {
        int64_t n = t->shape[d];
        if (n == 0)
            return t->offset;
        idx += (flat % n) * t->strides[d];
        flat /= n;
    }
    return idx;
}

/* Store value, converted as cg__store converts it, into n consecutive elements. memset only
 * where its bytes are the value's: +0 (a -0.0 keeps its sign bit in a float). */
static void fill_flat(void *base, cg_dtype dtype, int64_t n, double value)
{
    if (n <= 0)
        return;
    if (value == 0 && (dtype == CG_I64 || !signbit(value))) {
        memset(base, 0, (size_t)n * cg_dtype_size(dtype));
        return;
    }
    switch (dtype) {
    case CG_F32: {
        float *restrict p = base, v = (float)value;
        for (int64_t i = 0; i < n; i++)
            p[i] = v;
        break;
    }
    case CG_F64: {
        double *restrict p = base;
        for (int64_t i = 0; i < n; i++)
            p[i] = value;
        break;
    }
    case CG_I64: {
        int64_t *restrict p = base, v = (int64_t)value;
        for (int64_t i = 0; i < n; i++)
            p[i] = v;
        break;
    }
    }
}

/* ---- caller-owned constructors ---- */

static cg_tensor *new_filled(cg_dtype dtype, int ndim, const int64_t *shape, double value,
                             const char *who)
{
    if (dtype != CG_F32 && dtype != CG_F64 && dtype != CG_I64) {
        cg__error(CG_ERR_DTYPE, "%s: unknown dtype %d", who, (int)dtype);
        return NULL;
    }
    if (!cg__check_shape_args(ndim, shape, who))
        return NULL;
    cg_tensor *t = cg__tensor_alloc(NULL, dtype, ndim, shape);
    if (!t)
        return NULL;
    fill_flat(t->storage->data, dtype, cg__shape_numel(ndim, shape), value);
    return t;
}

cg_tensor *cg_tensor_zeros(cg_dtype dtype, int ndim, const int64_t *shape)
{
    return new_filled(dtype, ndim, shape, 0.0, "cg_tensor_zeros");
}

cg_tensor *cg_tensor_ones(cg_dtype dtype, int ndim, const int64_t *shape)
{
    return new_filled(dtype, ndim, shape, 1.0, "cg_tensor_ones");
}

cg_tensor *cg_tensor_full(cg_dtype dtype, int ndim, const int64_t *shape, double value)
{
    return new_filled(dtype, ndim, shape, value, "cg_tensor_full");
}

cg_tensor *cg_tensor_scalar(cg_dtype dtype, double value)
{
    return new_filled(dtype, 0, NULL, value, "cg_tensor_scalar");
}

cg_tensor *cg_tensor_from_data(cg_dtype dtype, int ndim, const int64_t *shape, const void *data)
{
    if (!data) {
        cg__error(CG_ERR_NULL, "cg_tensor_from_data: NULL data");
        return NULL;
    }
    cg_tensor *t = new_filled(dtype, ndim, shape, 0.0, "cg_tensor_from_data");
    if (t)
        memcpy(t->storage->data, data, t->storage->nbytes);
    return t;
}

cg_tensor *cg_tensor_arange(cg_dtype dtype, double start, double end, double step)
{
    if (step == 0 || !isfinite(start) || !isfinite(end) || !isfinite(step) ||
        (end - start) / step < 0) {
        cg__error(CG_ERR_VALUE, "cg_tensor_arange: bad range start=%g end=%g step=%g", start, end,
                  step);
        return NULL;
    }
    int64_t n = (int64_t)ceil((end - start) / step);
    cg_tensor *t = new_filled(dtype, 1, &n, 0.0, "cg_tensor_arange");
    for (int64_t i = 0; t && i < n; i++)
        cg__store(t, i, start + (double)i * step);
    return t;
}

cg_tensor *cg_tensor_clone(const cg_tensor *src)
{
    if (!cg__check_tensor(src, "cg_tensor_clone"))
        return NULL;
    cg_tensor *t = cg__tensor_alloc(NULL, src->dtype, src->ndim, src->shape);
    if (t && cg_tensor_copy_(t, src) != CG_OK) {
        cg__tensor_release(t);
        return NULL;
    }
    return t;
}

/* ---- in-place ---- */

cg_status cg_tensor_fill_(cg_tensor *t, double value)
{
    if (!cg__check_tensor(t, "cg_tensor_fill_"))
        return cg_last_status();
    int64_t n = cg__shape_numel(t->ndim, t->shape);
    if (cg_tensor_is_contiguous(t))
        fill_flat(cg_tensor_data(t), t->dtype, n, value);
    else
        for (int64_t i = 0; i < n; i++)
            cg__store(t, cg__storage_index(t, i), value);
    cg__bump_version(t);
    return CG_OK;
}

cg_status cg_tensor_copy_(cg_tensor *dst, const cg_tensor *src)
{
    if (!cg__check_tensor(dst, "cg_tensor_copy_") || !cg__check_tensor(src, "cg_tensor_copy_"))
        return cg_last_status();
    if (dst->ndim != src->ndim || memcmp(dst->shape, src->shape, sizeof(int64_t) * (size_t)dst->ndim)) {
        char a[160], b[160];
        return cg__error(CG_ERR_SHAPE, "cg_tensor_copy_: destination %s, source %s",
                         cg__shape_str(dst->ndim, dst->shape, a, sizeof a),
                         cg__shape_str(src->ndim, src->shape, b, sizeof b));
    }
    int64_t n = cg__shape_numel(dst->ndim, dst->shape);
    bool flat = cg_tensor_is_contiguous(dst) && cg_tensor_is_contiguous(src) &&
                dst->dtype == src->dtype;
    if (flat && n > 0)
        memmove((char *)dst->storage->data + dst->offset * (int64_t)cg_dtype_size(dst->dtype),
                (const char *)src->storage->data + src->offset * (int64_t)cg_dtype_size(src->dtype),
                (size_t)n * cg_dtype_size(dst->dtype));
    else
        for (int64_t i = 0; i < n; i++)
            cg__store(dst, cg__storage_index(dst, i), cg__load(src, cg__storage_index(src, i)));
    cg__bump_version(dst);
    return CG_OK;
}

static bool flat_index(const cg_tensor *t, const int64_t *idx, int64_t *out, const char *who)
{
    if (t->ndim > 0 && !idx) {
        cg__error(CG_ERR_NULL, "%s: NULL index", who);
        return false;
    }
    int64_t s = t->offset;
    for (int d = 0; d < t->ndim; d++) {
        int64_t i = idx[d] < 0 ? idx[d] + t->shape[d] : idx[d];
        if (i < 0 || i >= t->shape[d]) {
            cg__error(CG_ERR_VALUE, "%s: index %lld out of range for dimension %d of size %lld",
                      who, (long long)idx[d], d, (long long)t->shape[d]);
            return false;
        }
        s += i * t->strides[d];
    }
    *out = s;
    return true;
}

cg_status cg_tensor_set(cg_tensor *t, const int64_t *idx, double value)
{
    int64_t s;
    if (!cg__check_tensor(t, "cg_tensor_set") || !flat_index(t, idx, &s, "cg_tensor_set"))
        return cg_last_status();
    cg__store(t, s, value);
    cg__bump_version(t);
    return CG_OK;
}

/* ---- reading ---- */

cg_dtype cg_tensor_dtype(const cg_tensor *t) { return t ? t->dtype : CG_F32; }
int cg_tensor_ndim(const cg_tensor *t) { return t ? t->ndim : -1; }
const int64_t *cg_tensor_shape(const cg_tensor *t) { return t ? t->shape : NULL; }
const int64_t *cg_tensor_strides(const cg_tensor *t) { return t ? t->strides : NULL; }

int64_t cg_tensor_size(const cg_tensor *t, int dim)
{
    if (!t || dim < -t->ndim || dim >= t->ndim)
        return -1;
    return t->shape[dim < 0 ? dim + t->ndim : dim];
}

int64_t cg_tensor_numel(const cg_tensor *t)
{
    return t ? cg__shape_numel(t->ndim, t->shape) : 0;
}

bool cg_tensor_is_contiguous(const cg_tensor *t)
{
    if (!t)
        return false;
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] == 0)
            return true;
        if (t->shape[d] != 1 && t->strides[d] != expect)
            return false;
        expect *= t->shape[d];
    }
    return true;
}

void *cg_tensor_data(const cg_tensor *t)
{
    if (!cg__check_tensor(t, "cg_tensor_data"))
        return NULL;
    return (char *)t->storage->data + t->offset * (int64_t)cg_dtype_size(t->dtype);
}

double cg_tensor_get(const cg_tensor *t, const int64_t *idx)
{
    int64_t s;
    if (!cg__check_tensor(t, "cg_tensor_get") || !flat_index(t, idx, &s, "cg_tensor_get"))
        return NAN;
    return cg__load(t, s);
}

double cg_tensor_item(const cg_tensor *t)
{
    if (!cg__check_tensor(t, "cg_tensor_item"))
        return NAN;
    if (cg__shape_numel(t->ndim, t->shape) != 1) {
        char b[160];
        cg__error(CG_ERR_SHAPE, "cg_tensor_item: tensor of shape %s has not one element",
                  cg__shape_str(t->ndim, t->shape, b, sizeof b));
        return NAN;
    }
    return cg__load(t, t->offset);
}

cg_status cg_tensor_to_f64(const cg_tensor *t, double *out)
{
    if (!cg__check_tensor(t, "cg_tensor_to_f64"))
        return cg_last_status();
    if (!out)
        return cg__error(CG_ERR_NULL, "cg_tensor_to_f64: NULL output buffer");
    int64_t n = cg__shape_numel(t->ndim, t->shape);
    for (int64_t i = 0; i < n; i++)
        out[i] = cg__load(t, cg__storage_index(t, i));
    return CG_OK;
}

/* ---- autograd flags ---- */

cg_status cg_tensor_set_requires_grad(cg_tensor *t, bool requires_grad)
{
    if (!cg__check_tensor(t, "cg_tensor_set_requires_grad"))
        return cg_last_status();
    if (t->node)
        return cg__error(CG_ERR_STATE, "cg_tensor_set_requires_grad: only leaf tensors can change "
                                       "requires_grad (this one was made by an op)");
    if (requires_grad && !cg__is_float(t->dtype))
        return cg__error(CG_ERR_DTYPE, "cg_tensor_set_requires_grad: only f32/f64 tensors can "
                                       "require gradients, not %s", cg_dtype_name(t->dtype));
    t->requires_grad = requires_grad;
    return CG_OK;
}

bool cg_tensor_requires_grad(const cg_tensor *t) { return t && t->requires_grad; }

cg_tensor *cg_tensor_grad(const cg_tensor *t)
{
    if (!cg__check_tensor(t, "cg_tensor_grad"))
        return NULL;
    return t->grad;
}

void cg_tensor_zero_grad(cg_tensor *t)
{
    if (!cg__check_tensor(t, "cg_tensor_zero_grad") || !t->grad)
        return;
    /* Keep the buffer: the next backward refills it, so a training loop that zeroes
     * gradients every step allocates nothing. */
    if (t->grad_spare)
        cg__tensor_release(t->grad_spare);
    t->grad_spare = t->grad;
    t->grad = NULL;
}

uint64_t cg_tensor_version(const cg_tensor *t)
{
    return cg__check_tensor(t, "cg_tensor_version") ? t->storage->version : 0;
}

cg_status cg_tensor_set_name(cg_tensor *t, const char *name)
{
    if (!cg__check_tensor(t, "cg_tensor_set_name"))
        return cg_last_status();
    char *copy = NULL;
    if (name && !(copy = cg__strdup(name)))
        return cg__error(CG_ERR_NOMEM, "cg_tensor_set_name: out of memory");
    if (t->name)
        cg__free(t->name, strlen(t->name) + 1);
    t->name = copy;
    return CG_OK;
}

const char *cg_tensor_name(const cg_tensor *t) { return t ? t->name : NULL; }
