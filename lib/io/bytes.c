/* Byte arrays: 8-bit values with a shape, shared by reference count between a dataset, the
 * splits made from it and the iterators over them (lib/io/dataset.c, batch.c). */
#include <string.h>

#include "data_impl.h"

cg_bytes *cg__bytes_wrap(int ndim, const int64_t *shape, uint8_t *data)
{
    cg_bytes *b = cg__calloc(1, sizeof *b);
    if (!b) {
        cg__error(CG_ERR_NOMEM, "bytes: out of memory");
        return NULL;
    }
    b->refs = 1;
    b->ndim = ndim;
    memcpy(b->shape, shape, (size_t)ndim * sizeof *shape);
    b->numel = cg__shape_numel(ndim, shape);
    b->data = data;
    return b;
}

cg_bytes *cg_bytes_new(int ndim, const int64_t *shape)
{
    if (ndim < 1) {
        cg__error(CG_ERR_VALUE, "bytes_new: ndim %d outside [1, %d]", ndim, CG_MAX_DIMS);
        return NULL;
    }
    if (!cg__check_shape_args(ndim, shape, "bytes_new"))
        return NULL;
    int64_t n = cg__shape_numel(ndim, shape);
    uint8_t *data = cg__calloc((size_t)(n ? n : 1), 1);
    if (!data) {
        cg__error(CG_ERR_NOMEM, "bytes_new: out of memory (%lld bytes)", (long long)n);
        return NULL;
    }
    cg_bytes *b = cg__bytes_wrap(ndim, shape, data);
    if (!b)
        cg__free(data, (size_t)(n ? n : 1));
    return b;
}

void cg__bytes_retain(cg_bytes *b)
{
    if (b)
        b->refs++;
}

void cg_bytes_free(cg_bytes *b)
{
    if (!b || --b->refs > 0)
        return;
    cg__free(b->data, (size_t)(b->numel ? b->numel : 1));
    cg__free(b, sizeof *b);
}

uint8_t *cg_bytes_data(const cg_bytes *b)
{
    return b ? b->data : NULL;
}

int cg_bytes_ndim(const cg_bytes *b)
{
    return b ? b->ndim : 0;
}

const int64_t *cg_bytes_shape(const cg_bytes *b)
{
    return b ? b->shape : NULL;
}

int64_t cg_bytes_numel(const cg_bytes *b)
{
    return b ? b->numel : 0;
}
