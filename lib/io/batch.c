/* Minibatches and augmentation.
 *
 * Every random choice is a Philox block at a counter computed from (epoch, position), never
 * a running generator state: the order of epoch e is a permutation drawn from counters
 * (shuffle stream, e, i), and the augmentation of the sample at position p of epoch e from
 * counter (augment stream, e, p). So seeking to (epoch, position) reproduces a run exactly,
 * and nothing depends on how many batches were drawn before. */
#include <math.h>
#include <string.h>

#include "data_impl.h"

/* Largest max_shift accepted: keeps 2 max_shift + 1 exact in the draw below. */
#define MAX_SHIFT ((int64_t)1 << 30)

/* ---- augmentation ---- */

bool cg__augment_check(const cg_augment_options *opt, const char *who)
{
    if (!opt) {
        cg__error(CG_ERR_NULL, "%s: NULL augmentation options", who);
        return false;
    }
    if (!(opt->flip_p >= 0 && opt->flip_p <= 1) || opt->max_shift < 0 ||
        opt->max_shift > MAX_SHIFT || !isfinite(opt->fill)) {
        cg__error(CG_ERR_VALUE, "%s: need flip_p in [0, 1], max_shift in [0, 2^30] and a finite "
                  "fill, got %g, %lld, %g", who, opt->flip_p, (long long)opt->max_shift,
                  opt->fill);
        return false;
    }
    return true;
}

static void fill_n(float *p, int64_t n, float v)
{
    for (int64_t i = 0; i < n; i++)
        p[i] = v;
}

/* dst[x] = src[x - dx] where 0 <= x - dx < w, else fill. dst may be src (memmove). */
static void shift_row(float *dst, const float *src, int64_t w, int64_t dx, float fill)
{
    if (dx >= w || dx <= -w) {
        fill_n(dst, w, fill);
    } else if (dx >= 0) {
        memmove(dst + dx, src, (size_t)(w - dx) * sizeof *dst);
        fill_n(dst, dx, fill);
    } else {
        memmove(dst, src - dx, (size_t)(w + dx) * sizeof *dst);
        fill_n(dst + w + dx, -dx, fill);
    }
}

/* img[y][x] = old img[y - dy][x - dx], in place: rows are visited so that each source row is
 * read before it is overwritten (from the bottom up when moving down). */
static void translate(float *img, int64_t h, int64_t w, int64_t dy, int64_t dx, float fill)
{
    for (int64_t k = 0; k < h; k++) {
        int64_t y = dy > 0 ? h - 1 - k : k, sy = y - dy;
        if (sy < 0 || sy >= h)
            fill_n(img + y * w, w, fill);
        else
            shift_row(img + y * w, img + sy * w, w, dx, fill);
    }
}

static void flip(float *img, int64_t h, int64_t w)
{
    for (int64_t y = 0; y < h; y++) {
        float *r = img + y * w;
        for (int64_t a = 0, b = w - 1; a < b; a++, b--) {
            float t = r[a];
            r[a] = r[b];
            r[b] = t;
        }
    }
}

/* A draw in [-k, k] from a 32-bit word: floor(u (2k + 1)) - k with u = word / 2^32. */
static int64_t shift_draw(uint32_t word, int64_t k)
{
    return (int64_t)floor(word * 0x1p-32 * (double)(2 * k + 1)) - k;
}

void cg__augment_at(cg_tensor *images, const cg_augment_options *opt, uint64_t seed,
                    uint64_t counter)
{
    int nd = images->ndim;
    int64_t n = images->shape[0], c = nd == 4 ? images->shape[1] : 1;
    int64_t h = images->shape[nd - 2], w = images->shape[nd - 1];
    float *x = cg_tensor_data(images);
    float fill = (float)opt->fill;
    for (int64_t i = 0; i < n; i++) {
        uint32_t r[4];
        cg__philox(seed, counter + (uint64_t)i, r);
        bool flipped = r[0] < opt->flip_p * 0x1p32;
        int64_t dx = shift_draw(r[1], opt->max_shift), dy = shift_draw(r[2], opt->max_shift);
        for (int64_t ch = 0; ch < c; ch++) {
            float *img = x + (i * c + ch) * h * w;
            if (flipped)
                flip(img, h, w);
            if (dx || dy)
                translate(img, h, w, dy, dx, fill);
        }
    }
    cg__bump_version(images);
}

cg_status cg_augment(cg_tensor *images, const cg_augment_options *opt, cg_rng *rng)
{
    const char *who = "augment";
    if (!rng)
        return cg__error(CG_ERR_NULL, "%s: NULL rng", who);
    if (!cg__check_tensor(images, who) || !cg__augment_check(opt, who))
        return cg_last_status();
    if (images->dtype != CG_F32)
        return cg__error(CG_ERR_DTYPE, "%s: images must be f32, not %s", who,
                         cg_dtype_name(images->dtype));
    if ((images->ndim != 3 && images->ndim != 4) || !cg_tensor_is_contiguous(images)) {
        char buf[96];
        cg__shape_str(images->ndim, images->shape, buf, sizeof buf);
        return cg__error(CG_ERR_SHAPE, "%s: need contiguous images [B, C, H, W] or [B, H, W], "
                         "got %s", who, buf);
    }
    cg__augment_at(images, opt, rng->seed, rng->offset);
    rng->offset += (uint64_t)images->shape[0];
    return CG_OK;
}

/* ---- the iterator ---- */

struct cg_batch_iter {
    cg_dataset ds;             /* the dataset's members, retained while the iterator lives */
    cg_batch_iter_options opt;
    cg_augment_options aug;    /* copy of *opt.augment */
    bool aug_on;
    double *coef;              /* the standardizer's 2 m coefficients, or NULL */
    cg__affine aff;            /* over coef */
    int64_t n, epoch, pos;
    int64_t *order;            /* the current epoch's order of samples */
    cg_tensor *x, *y;          /* full batch buffers [B, ...] and [B] */
    cg_tensor *x_part, *y_part; /* views of their first N % B rows for the final batch */
};

/* Samples served per epoch: all of them, or the whole batches only with drop_last. */
static int64_t epoch_end(const cg_batch_iter *it)
{
    return it->opt.drop_last ? it->n - it->n % it->opt.batch_size : it->n;
}

static void start_epoch(cg_batch_iter *it, int64_t epoch)
{
    it->epoch = epoch;
    it->pos = 0;
    if (it->opt.shuffle)
        cg__permutation(it->opt.seed, CG__STREAM_SHUFFLE | ((uint64_t)epoch & CG__EPOCH_MASK) << 32,
                        it->n, it->order);
}

static bool check_iter_args(const cg_dataset *ds, const cg_batch_iter_options *opt)
{
    const char *who = "batch_iter_new";
    if (!opt) {
        cg__error(CG_ERR_NULL, "%s: NULL options", who);
        return false;
    }
    if (!cg__dataset_check(ds, who))
        return false;
    if (opt->batch_size < 1) {
        cg__error(CG_ERR_VALUE, "%s: batch_size %lld < 1", who, (long long)opt->batch_size);
        return false;
    }
    if (opt->augment && !cg__augment_check(opt->augment, who))
        return false;
    int nd = cg__dataset_ndim(ds);
    if (opt->augment && nd != 3 && nd != 4) {
        cg__error(CG_ERR_SHAPE, "%s: augmentation needs images [N, C, H, W] or [N, H, W]", who);
        return false;
    }
    return !opt->standardize || cg__standardizer_check(opt->standardize, ds, who);
}

/* The batch buffers, and the views for a final partial batch when there is one. */
static bool alloc_buffers(cg_batch_iter *it)
{
    int nd = cg__dataset_ndim(&it->ds);
    int64_t b = it->opt.batch_size, part = it->opt.drop_last ? 0 : it->n % b;
    int64_t shape[CG_MAX_DIMS];
    memcpy(shape, cg__dataset_shape(&it->ds), (size_t)nd * sizeof *shape);
    shape[0] = b;
    it->x = cg__tensor_alloc(NULL, CG_F32, nd, shape);
    it->y = it->x ? cg__tensor_alloc(NULL, CG_I64, 1, &b) : NULL;
    if (!it->y || part == 0)
        return it->y != NULL;
    shape[0] = part;
    it->x_part = cg__tensor_view(NULL, it->x, nd, shape, it->x->strides, 0);
    it->y_part = it->x_part ? cg__tensor_view(NULL, it->y, 1, &part, it->y->strides, 0) : NULL;
    return it->y_part != NULL;
}

cg_batch_iter *cg_batch_iter_new(const cg_dataset *ds, const cg_batch_iter_options *opt)
{
    if (!check_iter_args(ds, opt))
        return NULL;
    cg_batch_iter *it = cg__calloc(1, sizeof *it);
    if (!it) {
        cg__error(CG_ERR_NOMEM, "batch_iter_new: out of memory");
        return NULL;
    }
    it->ds = *ds;
    if (ds->images)
        cg__tensor_retain(ds->images);
    cg__tensor_retain(ds->labels);
    cg__bytes_retain(ds->bytes);
    if (ds->index)
        cg__tensor_retain(ds->index);
    it->opt = *opt;
    it->opt.augment = NULL;     /* it->aug holds the copy */
    it->opt.standardize = NULL; /* it->coef holds what is needed */
    if (opt->augment)
        it->aug = *opt->augment;
    it->aug_on = opt->augment != NULL;
    it->n = cg_dataset_size(ds);
    if (opt->standardize) {
        int64_t m;
        it->coef = cg__standardizer_coefficients(opt->standardize, ds, &m, "batch_iter_new");
        if (!it->coef) {
            cg_batch_iter_free(it);
            return NULL;
        }
        it->aff = (cg__affine){it->coef, it->coef + m, m};
    }
    it->order = cg__malloc((size_t)it->n * sizeof *it->order);
    if (!it->order || !alloc_buffers(it)) {
        if (!it->order)
            cg__error(CG_ERR_NOMEM, "batch_iter_new: out of memory");
        cg_batch_iter_free(it);
        return NULL;
    }
    for (int64_t i = 0; i < it->n; i++)
        it->order[i] = i;
    start_epoch(it, 0);
    return it;
}

void cg_batch_iter_free(cg_batch_iter *it)
{
    if (!it)
        return;
    cg_tensor_free(it->x_part);
    cg_tensor_free(it->y_part);
    cg_tensor_free(it->x);
    cg_tensor_free(it->y);
    cg__free(it->order, (size_t)it->n * sizeof *it->order);
    if (it->coef)
        cg__free(it->coef, 2 * (size_t)it->aff.m * sizeof *it->coef);
    if (it->ds.images)
        cg__tensor_release(it->ds.images);
    cg__tensor_release(it->ds.labels);
    cg_bytes_free(it->ds.bytes);
    if (it->ds.index)
        cg__tensor_release(it->ds.index);
    cg__free(it, sizeof *it);
}

bool cg_batch_iter_next(cg_batch_iter *it, cg_tensor **images, cg_tensor **labels)
{
    if (images)
        *images = NULL;
    if (labels)
        *labels = NULL;
    if (!it || !images || !labels) {
        cg__error(CG_ERR_NULL, "batch_iter_next: NULL argument");
        return false;
    }
    int64_t end = epoch_end(it), b = it->opt.batch_size;
    if (it->pos >= end) {
        start_epoch(it, it->epoch + 1);
        return false;
    }
    bool full = end - it->pos >= b;
    cg_tensor *x = full ? it->x : it->x_part, *y = full ? it->y : it->y_part;
    b = full ? b : end - it->pos;
    cg__dataset_gather(&it->ds, it->order + it->pos, b, it->coef ? &it->aff : NULL,
                       cg_tensor_data(x), cg_tensor_data(y));
    cg__bump_version(x);
    cg__bump_version(y);
    if (it->aug_on) {
        uint64_t epoch = (uint64_t)it->epoch & CG__EPOCH_MASK;
        cg__augment_at(x, &it->aug, it->opt.seed,
                       CG__STREAM_AUGMENT | epoch << 32 | (uint64_t)it->pos);
    }
    it->pos += b;
    *images = x;
    *labels = y;
    return true;
}

cg_status cg_batch_iter_seek(cg_batch_iter *it, int64_t epoch, int64_t position)
{
    if (!it)
        return cg__error(CG_ERR_NULL, "batch_iter_seek: NULL iterator");
    int64_t end = epoch_end(it);
    if (epoch < 0 || (uint64_t)epoch > CG__EPOCH_MASK || position < 0 || position > end ||
        (position % it->opt.batch_size != 0 && position != end))
        return cg__error(CG_ERR_VALUE, "batch_iter_seek: epoch %lld, position %lld: need an "
                         "epoch in [0, 2^30) and a multiple of the batch size %lld in [0, %lld]",
                         (long long)epoch, (long long)position,
                         (long long)it->opt.batch_size, (long long)end);
    start_epoch(it, epoch);
    it->pos = position;
    return CG_OK;
}

int64_t cg_batch_iter_epoch(const cg_batch_iter *it)
{
    return it ? it->epoch : -1;
}

int64_t cg_batch_iter_position(const cg_batch_iter *it)
{
    return it ? it->pos : -1;
}

int64_t cg_batch_iter_num_batches(const cg_batch_iter *it)
{
    if (!it)
        return -1;
    int64_t b = it->opt.batch_size;
    return it->opt.drop_last ? it->n / b : (it->n + b - 1) / b;
}
