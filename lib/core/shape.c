/* Shape arithmetic shared by constructors and ops. */
#include <stdio.h>

#include "core.h"

int64_t cg__shape_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return -1;
        if (shape[i] != 0 && n > INT64_MAX / shape[i])
            return -1;
        n *= shape[i];
    }
    return n;
}

void cg__contiguous_strides(int ndim, const int64_t *shape, int64_t *strides)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        strides[i] = s;
        s *= shape[i] > 1 ? shape[i] : 1;
    }
}

char *cg__shape_str(int ndim, const int64_t *shape, char *buf, size_t size)
{
    size_t used = 0;
    used += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, i ? ", %lld" : "%lld",
                                 (long long)shape[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
    return buf;
}

bool cg__check_shape_args(int ndim, const int64_t *shape, const char *who)
{
    if (ndim < 0 || ndim > CG_MAX_DIMS) {
        cg__error(CG_ERR_VALUE, "%s: ndim %d outside [0, %d]", who, ndim, CG_MAX_DIMS);
        return false;
    }
    if (ndim > 0 && shape == NULL) {
        cg__error(CG_ERR_NULL, "%s: NULL shape", who);
        return false;
    }
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            cg__error(CG_ERR_VALUE, "%s: negative size %lld in dimension %d", who,
                      (long long)shape[i], i);
            return false;
        }
    }
    /* Cap at 2^48 elements: no machine here holds more, and it keeps byte counts exact. */
    int64_t n = cg__shape_numel(ndim, shape);
    if (n < 0 || n > ((int64_t)1 << 48)) {
        char b[160];
        cg__error(CG_ERR_VALUE, "%s: shape %s has too many elements", who,
                  cg__shape_str(ndim, shape, b, sizeof b));
        return false;
    }
    return true;
}

int cg__norm_axis(int axis, int ndim, const char *who)
{
    int lo = -(ndim > 0 ? ndim : 1), hi = (ndim > 0 ? ndim : 1) - 1;
    if (axis < lo || axis > hi) {
        cg__error(CG_ERR_VALUE, "%s: axis %d out of range [%d, %d] for a %d-d tensor", who, axis,
                  lo, hi, ndim);
        return -1;
    }
    return axis < 0 ? axis + (ndim > 0 ? ndim : 1) : axis;
}
