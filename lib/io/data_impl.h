/* Internal helpers shared by lib/io's dataset files (bytes.c, idx.c, dataset.c, batch.c). */
#ifndef CG_IO_DATA_IMPL_H
#define CG_IO_DATA_IMPL_H

#include "core.h"
#include "cgrad/io.h"

/* Philox counter layout: bits 62-63 name the use, so split, shuffle and augmentation never
 * draw the same numbers from one seed; below them bits 32-61 hold the epoch and bits 0-31
 * the sample (datasets hold fewer than 2^31 samples). */
#define CG__STREAM_SPLIT ((uint64_t)0 << 62)
#define CG__STREAM_SHUFFLE ((uint64_t)1 << 62)
#define CG__STREAM_AUGMENT ((uint64_t)2 << 62)
#define CG__EPOCH_MASK (((uint64_t)1 << 30) - 1)

struct cg_bytes {
    int refs;   /* the caller's, each dataset's and each iterator's */
    int ndim;
    int64_t shape[CG_MAX_DIMS];
    int64_t numel;
    uint8_t *data; /* numel bytes (1 when numel is 0), from cg__malloc */
};

/* A byte array taking over data (numel(shape) bytes, or 1 when that is 0, from cg__malloc);
 * NULL with an error, data then still the caller's. */
cg_bytes *cg__bytes_wrap(int ndim, const int64_t *shape, uint8_t *data);
/* Take one more reference (NULL is ignored). */
void cg__bytes_retain(cg_bytes *b);

/* Check the cg_dataset layout rules (io.h), recording an error naming who if broken. */
bool cg__dataset_check(const cg_dataset *ds, const char *who);
/* The features' rank and shape [R, ...] (images' or bytes'). */
int cg__dataset_ndim(const cg_dataset *ds);
const int64_t *cg__dataset_shape(const cg_dataset *ds);
/* Values per sample: the product of the features' shape[1:]. */
int64_t cg__dataset_row(const cg_dataset *ds);
/* A Fisher-Yates permutation of 0..n-1 into perm; step i draws at Philox counter base + i. */
void cg__permutation(uint64_t seed, uint64_t base, int64_t n, int64_t *perm);

/* x -> (float)(x a[j] - b[j]) with j the feature (m = values per sample) or 0 (m = 1): a
 * standardizer's coefficients, a = scale / std and b = mean / std. */
typedef struct cg__affine {
    const double *a, *b;
    int64_t m;
} cg__affine;

/* Check that st's statistics fit ds's sample shape, recording an error naming who. */
bool cg__standardizer_check(const cg_standardizer *st, const cg_dataset *ds, const char *who);
/* st's coefficients for ds (checked): 2 m doubles, a then b, the caller frees them
 * (cg__free(p, 2 m sizeof(double))); *m receives m. NULL with an error if a std is not
 * positive or memory runs out. */
double *cg__standardizer_coefficients(const cg_standardizer *st, const cg_dataset *ds,
                                      int64_t *m, const char *who);

/* Copy samples idx[0..b) of ds into img (b rows of cg__dataset_row floats, converted from
 * bytes and mapped by aff when it is not NULL) and lab[b]. */
void cg__dataset_gather(const cg_dataset *ds, const int64_t *idx, int64_t b,
                        const cg__affine *aff, float *img, int64_t *lab);
/* cg_augment's work on a checked batch, sample i drawing at Philox counter counter + i. */
void cg__augment_at(cg_tensor *images, const cg_augment_options *opt, uint64_t seed,
                    uint64_t counter);
/* Validate augmentation options, recording an error naming who if bad. */
bool cg__augment_check(const cg_augment_options *opt, const char *who);

#endif
