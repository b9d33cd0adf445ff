/*
 * libcgrad io: datasets (IDX files, Fashion-MNIST, splits, standardization, minibatches,
 * augmentation) and checkpoints.
 *
 * Nothing here needs a tape or records anything: tensors made by these functions belong
 * to the caller (or to the object that says it owns them) and are plain data. Errors
 * follow tensor.h: a failing call returns NULL or a status other than CG_OK and records a
 * message naming the file or the argument (cg_last_error()).
 *
 * Randomness is counter-based (Philox, see cg_rng): every shuffle, split and augmentation
 * is a pure function of its seed and position, so runs repeat exactly for a given seed and
 * thread count, and an interrupted run can resume from (seed, epoch, position). No
 * function here keeps global state.
 */
#ifndef CGRAD_IO_H
#define CGRAD_IO_H

#include "cgrad/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ================== datasets: IDX files (lib/io/idx.c) ================== */

/* Most elements an IDX file may declare (2^31): a header claiming more is refused before
 * anything is allocated. */
#define CG_IDX_MAX_ELEMENTS ((int64_t)1 << 31)

/*
 * Read an IDX file (LeCun's MNIST format), plain or gzip-compressed (recognised by its
 * 1f 8b magic, whatever the file name), into a new caller-owned contiguous tensor whose
 * shape is the file's dimensions.
 *
 * The file is: bytes 0 0, an element type code, ndims; ndims big-endian uint32 sizes;
 * then the elements, big-endian, row-major. Element types: 0x08 uint8, 0x09 int8,
 * 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.
 *
 * cg_idx_read picks the dtype: i64 for 1-d integer files (labels), f64 for float64 and for
 * int32 files of 2 or more dimensions (f32 would round them), f32 otherwise (images keep
 * their raw values, 0..255 for uint8: no scaling).
 *
 * Errors (*out is set to NULL, nothing leaks):
 *  - CG_ERR_NULL    path or out NULL;
 *  - CG_ERR_IO      the file cannot be opened or read (the message names it and says why);
 *  - CG_ERR_FORMAT  a bad magic number, an unknown type code, ndims outside
 *                   1..CG_MAX_DIMS, a zero dimension, more than CG_IDX_MAX_ELEMENTS
 *                   elements, a truncated header or data (the message gives the bytes
 *                   expected and available), bytes after the data, a corrupt or truncated
 *                   gzip stream;
 *  - CG_ERR_NOMEM   out of memory.
 * A header is checked against the real amount of data before the tensor is allocated: a
 * plain file against its size, a gzip file by reading it in chunks into a buffer that
 * doubles as data arrives, so a hostile header costs at most 1 MiB or twice its actual
 * data, whichever is larger.
 */
CG_API cg_status cg_idx_read(const char *path, cg_tensor **out);
/* As cg_idx_read, into the given dtype: any type into f32 or f64 (int32 and float64 may
 * round in f32), integer types into i64; float files into i64 are CG_ERR_DTYPE. */
CG_API cg_status cg_idx_read_as(const char *path, cg_dtype dtype, cg_tensor **out);

/* ================== datasets: samples and splits (lib/io/dataset.c) ================== */

/*
 * A supervised dataset: images [N, ...] f32 (contiguous) and labels [N] i64 (contiguous),
 * with the same N. A plain struct the caller owns together with both tensors: free them
 * with cg_dataset_free. Every function taking a cg_dataset checks these rules and refuses
 * another layout with CG_ERR_SHAPE / CG_ERR_DTYPE, and tape-owned tensors with
 * CG_ERR_STATE.
 */
typedef struct cg_dataset {
    cg_tensor *images;
    cg_tensor *labels;
} cg_dataset;

/* Free both tensors and set them to NULL; a NULL ds or NULL members are ignored. */
CG_API void cg_dataset_free(cg_dataset *ds);
/* Number of samples N (0 for NULL or an empty dataset). */
CG_API int64_t cg_dataset_size(const cg_dataset *ds);

/* Where Debian's dataset-fashion-mnist package installs the files. */
#define CG_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/*
 * Load Fashion-MNIST's training set (train: 60000 samples, train-*-ubyte files) or test set
 * (10000, t10k-*-ubyte files) from dir (NULL: CG_FASHION_MNIST_DIR). Each file is looked
 * for gzipped (name.gz, as Debian ships them), then plain. out receives images
 * [N, 1, 28, 28] f32 with raw values 0..255 and labels [N] i64 in [0, 10); the caller frees
 * it with cg_dataset_free. A missing file is CG_ERR_IO naming it; images that are not
 * [N, 28, 28], a label count differing from N or a label outside [0, 10) is
 * CG_ERR_FORMAT. On failure out is left empty (both members NULL).
 */
CG_API cg_status cg_fashion_mnist_load(const char *dir, bool train, cg_dataset *out);

/*
 * Split ds into train and val (new caller-owned datasets, copies): a permutation of the N
 * samples drawn from seed (Fisher-Yates, Philox counters 0..N-1) puts its first n_val
 * samples, in permutation order, into val and the other N - n_val into train. The same
 * seed gives the same split; the two parts are disjoint and together are ds.
 * 0 <= n_val <= N (an empty part has shape [0, ...]), else CG_ERR_VALUE. ds is unchanged.
 */
CG_API cg_status cg_dataset_split(const cg_dataset *ds, int64_t n_val, uint64_t seed,
                                  cg_dataset *train, cg_dataset *val);

/* ================== datasets: standardization (lib/io/dataset.c) ================== */

/* Which statistics standardize the images. */
typedef enum cg_standardize_mode {
    /* One mean and std over every value of every training image (the default; for
     * Fashion-MNIST scaled to [0, 1] they are about 0.2860 and 0.3530). Every pixel is
     * treated alike, which suits convolutions and translations. */
    CG_STANDARDIZE_GLOBAL,
    /* A mean and std per feature (per pixel and channel), over the training samples;
     * constant features (image borders) would divide by ~0, so std is floored at min_std. */
    CG_STANDARDIZE_FEATURE,
} cg_standardize_mode;

/*
 * x -> (x * scale - mean) / std, with statistics fitted on a training set and applied
 * unchanged to every set (training, validation, test), so no information flows from the
 * held-out sets into the model. mean and std are f32 tensors owned by the struct: 0-d in
 * global mode, images.shape[1:] in feature mode. std is the population standard deviation
 * (divide by N, like numpy's default) of x * scale, floored at min_std.
 */
typedef struct cg_standardizer {
    cg_standardize_mode mode;
    double scale;   /* applied first: 1/255 maps 8-bit pixels to [0, 1] */
    cg_tensor *mean;
    cg_tensor *std;
} cg_standardizer;

/* Fit a standardizer on train's images (not changed). scale finite and nonzero, min_std
 * >= 0 (0: no floor; a constant feature then has std 0 and apply refuses it), N >= 1,
 * else CG_ERR_VALUE. out is the caller's: free its tensors with cg_standardizer_free. */
CG_API cg_status cg_standardizer_fit(const cg_dataset *train, cg_standardize_mode mode,
                                     double scale, double min_std, cg_standardizer *out);
/* Standardize ds's images in place (f32 results). Images whose trailing shape differs
 * from a feature-mode fit are CG_ERR_SHAPE; a std of 0 is CG_ERR_VALUE. */
CG_API cg_status cg_standardizer_apply(const cg_standardizer *st, cg_dataset *ds);
/* Free mean and std and set them to NULL; NULL is ignored. */
CG_API void cg_standardizer_free(cg_standardizer *st);

/* ================== datasets: augmentation (lib/io/batch.c) ================== */

/* Random horizontal flips and translations, drawn per sample; all-zero options (flip_p 0,
 * max_shift 0) change nothing. */
typedef struct cg_augment_options {
    double flip_p;      /* probability of mirroring a sample left-right, in [0, 1] */
    int64_t max_shift;  /* shift by dy, dx drawn uniformly from [-max_shift, max_shift],
                         * max_shift in [0, 2^30] */
    double fill;        /* value of the pixels shifted in: 0, or the standardized
                         * background, (0 - mean) / std after global standardization */
} cg_augment_options;

/*
 * Augment a batch of images [B, C, H, W] or [B, H, W] (f32, contiguous) in place: each
 * sample is flipped (all channels alike) with probability flip_p, then translated by
 * (dy, dx), pixels shifted in taking the value fill. Sample b uses the Philox block at
 * counter rng->offset + b (words: flip, dx, dy), so the result depends on the seed and
 * offset only; rng advances by B. Allocates nothing.
 * Errors: CG_ERR_NULL, CG_ERR_SHAPE (not 3-d or 4-d), CG_ERR_DTYPE, CG_ERR_VALUE (flip_p
 * outside [0, 1], max_shift < 0, fill not finite).
 */
CG_API cg_status cg_augment(cg_tensor *images, const cg_augment_options *opt, cg_rng *rng);

/* ================== datasets: minibatches (lib/io/batch.c) ================== */

typedef struct cg_batch_iter_options {
    int64_t batch_size;   /* >= 1 */
    bool shuffle;         /* a new permutation every epoch, from (seed, epoch) */
    bool drop_last;       /* skip the final batch when it has fewer than batch_size samples */
    uint64_t seed;        /* drives shuffling and augmentation */
    /* NULL: none. Otherwise each batch is augmented with draws from (seed, epoch, position
     * of the sample in the epoch), so resuming reproduces it. Copied at creation. */
    const cg_augment_options *augment;
} cg_batch_iter_options;

/* Minibatches over a dataset: an opaque object the caller frees with cg_batch_iter_free. */
typedef struct cg_batch_iter cg_batch_iter;

/*
 * An iterator over ds starting at epoch 0, position 0. The samples are not copied: the
 * iterator holds a reference to ds's tensors (freeing the dataset while it lives is safe)
 * and reads their current values at each batch. Epoch e visits the samples in the order of a
 * Fisher-Yates permutation drawn from (seed, e) (shuffle), or in order; every sample
 * exactly once. The batch buffers are allocated here, once. NULL with an error on a bad
 * dataset or options.
 */
CG_API cg_batch_iter *cg_batch_iter_new(const cg_dataset *ds, const cg_batch_iter_options *opt);
/* Free the iterator and its batch tensors; NULL is ignored. */
CG_API void cg_batch_iter_free(cg_batch_iter *it);
/*
 * The next minibatch of the current epoch: true, with *images [B, ...] f32 and *labels [B]
 * i64 holding the next B samples (B = batch_size, or fewer for a final partial batch
 * unless drop_last). Both tensors belong to the iterator and are overwritten in place
 * (their version bumped) by the next call: clone them to keep them. At the end of the
 * epoch: false, *images and *labels NULL, and the iterator moves to the next epoch, so
 *     while (cg_batch_iter_next(it, &x, &y)) { ... }
 * runs one epoch. No allocation. False with an error for a NULL argument.
 */
CG_API bool cg_batch_iter_next(cg_batch_iter *it, cg_tensor **images, cg_tensor **labels);
/* Move to sample position `position` of epoch `epoch`: the batches that follow are those a
 * run from the start produces from there, so training resumes exactly. epoch in [0, 2^30)
 * (orders would repeat after that), position a multiple of batch_size or the epoch's end,
 * at most N (N - N % batch_size with drop_last); else CG_ERR_VALUE. */
CG_API cg_status cg_batch_iter_seek(cg_batch_iter *it, int64_t epoch, int64_t position);
/* The current epoch and the position (samples already served in it); -1 for NULL. */
CG_API int64_t cg_batch_iter_epoch(const cg_batch_iter *it);
CG_API int64_t cg_batch_iter_position(const cg_batch_iter *it);
/* Batches per epoch: ceil(N / batch_size), or floor with drop_last; -1 for NULL. */
CG_API int64_t cg_batch_iter_num_batches(const cg_batch_iter *it);

/* ================== checkpoints (safetensors) ================== */

#ifdef __cplusplus
}
#endif

#endif
