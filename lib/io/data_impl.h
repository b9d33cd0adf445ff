/* Internal helpers shared by lib/io's dataset files (dataset.c, batch.c). */
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

/* Check the cg_dataset layout rules (io.h), recording an error naming who if broken. */
bool cg__dataset_check(const cg_dataset *ds, const char *who);
/* Floats per sample: numel(images) / N (the product of images.shape[1:]). */
int64_t cg__dataset_row(const cg_dataset *ds);
/* A Fisher-Yates permutation of 0..n-1 into perm; step i draws at Philox counter base + i. */
void cg__permutation(uint64_t seed, uint64_t base, int64_t n, int64_t *perm);
/* Copy samples idx[0..b) of ds into img (b rows of cg__dataset_row floats) and lab[b]. */
void cg__dataset_gather(const cg_dataset *ds, const int64_t *idx, int64_t b, float *img,
                        int64_t *lab);
/* cg_augment's work on a checked batch, sample i drawing at Philox counter counter + i. */
void cg__augment_at(cg_tensor *images, const cg_augment_options *opt, uint64_t seed,
                    uint64_t counter);
/* Validate augmentation options, recording an error naming who if bad. */
bool cg__augment_check(const cg_augment_options *opt, const char *who);

#endif
