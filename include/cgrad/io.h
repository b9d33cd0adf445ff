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

/* ================== datasets: bytes (lib/io/bytes.c) ================== */

/*
 * An array of 8-bit unsigned values with a shape, as IDX files store pixels: a quarter of
 * the memory of f32. Datasets hold their features as bytes and convert them to f32 one
 * batch at a time (cg_batch_iter_next). Reference-counted: the datasets split from one
 * set and the iterators over them share it, and it is freed when the last of them lets go.
 * The values may be written until the array is put in a dataset; after that they are
 * read-only (splits share them).
 */
typedef struct cg_bytes cg_bytes;

/* A new zeroed array of shape[0..ndim) (ndim in 1..CG_MAX_DIMS, sizes >= 0); NULL with
 * CG_ERR_VALUE (shape) or CG_ERR_NOMEM. The caller holds one reference: cg_bytes_free. */
CG_API cg_bytes *cg_bytes_new(int ndim, const int64_t *shape);
/* Drop the caller's reference (the array lives on while a dataset or an iterator holds
 * it); NULL is ignored. */
CG_API void cg_bytes_free(cg_bytes *b);
/* The values, row-major, numel entries (NULL for NULL); as cg_tensor_data. */
CG_API uint8_t *cg_bytes_data(const cg_bytes *b);
/* Rank, shape (ndim entries, owned by b) and element count; 0 / NULL / 0 for NULL. */
CG_API int cg_bytes_ndim(const cg_bytes *b);
CG_API const int64_t *cg_bytes_shape(const cg_bytes *b);
CG_API int64_t cg_bytes_numel(const cg_bytes *b);

/* Read a uint8 (type 0x08) IDX file, plain or gzipped, into a new caller-owned byte array
 * of the file's shape, with the checks and errors of cg_idx_read; a file of another
 * element type is CG_ERR_DTYPE. */
CG_API cg_status cg_idx_read_bytes(const char *path, cg_bytes **out);

/* ================== datasets: samples and splits (lib/io/dataset.c) ================== */

/*
 * A supervised dataset of N samples: features, one row per sample, and labels [N] i64
 * (contiguous). The features are held one of two ways:
 *   images  an f32 tensor [R, ...] (contiguous, caller-owned), bytes NULL; or
 *   bytes   a byte array [R, ...] (cg_bytes), images NULL: 8-bit values such as pixels,
 *           converted to f32 (and standardized, when the iterator is given a
 *           standardizer) as each batch is copied out.
 * index NULL: sample i is feature row i (R = N). Otherwise index is an i64 tensor [N]
 * (contiguous) and sample i is feature row index[i], in [0, R): a view of some rows of a
 * larger set, as cg_dataset_split makes them without copying the features.
 *
 * A plain struct the caller owns together with what it points to: free it with
 * cg_dataset_free (the byte array is reference-counted, so views of one set are freed
 * one by one). Every function taking a cg_dataset checks these rules and refuses another
 * layout with CG_ERR_SHAPE / CG_ERR_DTYPE / CG_ERR_VALUE (an index out of range), and
 * tape-owned tensors with CG_ERR_STATE. (cg_dataset){.images = x, .labels = y} is a
 * dataset of f32 features x.
 */
typedef struct cg_dataset {
    cg_tensor *images;  /* f32 features, or NULL */
    cg_tensor *labels;  /* [N] i64 */
    cg_bytes *bytes;    /* byte features, or NULL */
    cg_tensor *index;   /* [N] i64 rows of the features, or NULL: rows 0..N-1 */
} cg_dataset;

/* Free the tensors, drop the byte array's reference and set the members to NULL; a NULL ds
 * or NULL members are ignored. */
CG_API void cg_dataset_free(cg_dataset *ds);
/* Number of samples N (0 for NULL or an empty dataset). */
CG_API int64_t cg_dataset_size(const cg_dataset *ds);
/* Rank and shape of one sample's features (the features' shape without its first
 * dimension): *ndim receives the rank, shape[0..ndim) the sizes (shape may be NULL);
 * CG_ERR_NULL / the dataset rules' errors otherwise. */
CG_API cg_status cg_dataset_sample_shape(const cg_dataset *ds, int *ndim, int64_t *shape);

/* Where Debian's dataset-fashion-mnist package installs the files. */
#define CG_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/*
 * Load Fashion-MNIST's training set (train: 60000 samples, train-*-ubyte files) or test set
 * (10000, t10k-*-ubyte files) from dir (NULL: CG_FASHION_MNIST_DIR). Each file is looked
 * for gzipped (name.gz, as Debian ships them), then plain. out receives the images as the
 * files' bytes, [N, 1, 28, 28] with raw values 0..255 (47 MB for the training set where
 * f32 would take 188), and labels [N] i64 in [0, 10); the caller frees it with
 * cg_dataset_free. Pass a standardizer to the batch iterator to get f32 batches scaled and
 * standardized. A missing file is CG_ERR_IO naming it; images that are not [N, 28, 28]
 * or not uint8, a label count differing from N or a label outside [0, 10) is
 * CG_ERR_FORMAT. On failure out is left empty (every member NULL).
 */
CG_API cg_status cg_fashion_mnist_load(const char *dir, bool train, cg_dataset *out);

/*
 * A new caller-owned dataset of samples[0..n) of ds, in that order (n >= 0; each in
 * [0, N), repeats allowed; else CG_ERR_VALUE): sample i of out is sample samples[i] of ds.
 * Byte features are read-only, so out shares ds's byte array and holds an index of its rows
 * (8 bytes per sample, plus the labels): nothing is copied. f32 features may be changed in
 * place (cg_standardizer_apply), so out gets a copy of its rows. ds is unchanged.
 */
CG_API cg_status cg_dataset_select(const cg_dataset *ds, const int64_t *samples, int64_t n,
                                   cg_dataset *out);

/*
 * Split ds into train and val (new caller-owned datasets): a permutation of the N samples
 * drawn from seed (Fisher-Yates, Philox counters 0..N-1) puts its first n_val samples, in
 * permutation order, into val and the other N - n_val into train. The same seed gives the
 * same split; the two parts are disjoint and together are ds. 0 <= n_val <= N (an empty
 * part has N 0), else CG_ERR_VALUE. ds is unchanged. The parts are made as
 * cg_dataset_select makes them: views sharing byte features, copies of f32 ones.
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
 * global mode, the sample shape (the features' shape[1:]) in feature mode. std is the
 * population standard deviation (divide by N, like numpy's default) of x * scale, floored
 * at min_std.
 *
 * Two ways to apply it, with bit-identical f32 results: on the fly, by the batch iterator
 * as it copies each batch out (cg_batch_iter_options.standardize; the only way for byte
 * features, and it leaves the data as it is), or once, in place, on f32 features
 * (cg_standardizer_apply). Either computes, per value, in double,
 * (float)(x * (scale / std) - mean / std).
 */
typedef struct cg_standardizer {
    cg_standardize_mode mode;
    double scale;   /* applied first: 1/255 maps 8-bit pixels to [0, 1] */
    cg_tensor *mean;
    cg_tensor *std;
} cg_standardizer;

/* Fit a standardizer on train's samples (not changed; f32 or byte features, views
 * included: the sums run over the samples in their order). scale finite and nonzero,
 * min_std >= 0 (0: no floor; a constant feature then has std 0 and applying refuses it),
 * N >= 1, else CG_ERR_VALUE. out is the caller's: free its tensors with
 * cg_standardizer_free. */
CG_API cg_status cg_standardizer_fit(const cg_dataset *train, cg_standardize_mode mode,
                                     double scale, double min_std, cg_standardizer *out);
/* Standardize ds's f32 features in place. Byte features (standardize them on the fly
 * instead) and views (an index: their rows may be shared) are CG_ERR_VALUE; features whose
 * sample shape differs from a feature-mode fit are CG_ERR_SHAPE; a std of 0 is
 * CG_ERR_VALUE. */
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
    /* NULL: batches hold the features' values (bytes as 0..255). Otherwise each batch is
     * standardized as it is copied out, before augmentation (see cg_standardizer); its
     * coefficients are taken at creation, so st may be freed after. */
    const cg_standardizer *standardize;
} cg_batch_iter_options;

/* Minibatches over a dataset: an opaque object the caller frees with cg_batch_iter_free. */
typedef struct cg_batch_iter cg_batch_iter;

/*
 * An iterator over ds starting at epoch 0, position 0. The samples are not copied: the
 * iterator holds a reference to ds's features, labels and index (freeing the dataset while
 * it lives is safe) and reads their current values at each batch. Epoch e visits the
 * samples in the order of a Fisher-Yates permutation drawn from (seed, e) (shuffle), or in
 * order; every sample exactly once. The batch buffers are allocated here, once. NULL with
 * an error on a bad dataset or options (a standardizer whose statistics do not fit the
 * sample shape: CG_ERR_SHAPE; a std of 0: CG_ERR_VALUE).
 */
CG_API cg_batch_iter *cg_batch_iter_new(const cg_dataset *ds, const cg_batch_iter_options *opt);
/* Free the iterator and its batch tensors; NULL is ignored. */
CG_API void cg_batch_iter_free(cg_batch_iter *it);
/*
 * The next minibatch of the current epoch: true, with *images [B, ...] f32 (the sample
 * shape; bytes converted, then standardized and augmented as the options say) and *labels
 * [B] i64 holding the next B samples (B = batch_size, or fewer for a final partial batch
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

/* ============ checkpoints: safetensors (lib/io/safetensors.c, lib/io/checkpoint.c) ============ */

/* Declared by nn.h and optim.h; repeated here so this header stands alone. */
typedef struct cg_module cg_module;
typedef struct cg_optimizer cg_optimizer;
typedef struct cg_schedule cg_schedule;

/*
 * Safetensors files (the format of Hugging Face's safetensors, read by PyTorch, NumPy,
 * JAX...): an unsigned 64-bit little-endian header length N, N bytes of UTF-8 JSON
 *     {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
 *      "__metadata__": {"key": "value", ...}}
 * (padded with spaces so the data starts at a multiple of 8 bytes), then the tensors' bytes,
 * little-endian and row-major, at [begin, end) of the data buffer. libcgrad writes F32, F64
 * and I64 tensors of up to CG_MAX_DIMS dimensions, including 0-d and zero-size ones. The
 * JSON is parsed and printed by cJSON. Big-endian hosts are not supported (every call
 * fails with CG_ERR_STATE there).
 *
 * Writes are atomic: the file goes to a temporary name in the same directory
 * ("<path>.tmp-<pid>-<k>"), is fsync'd, renamed over path, and the directory is fsync'd;
 * a crash or an error leaves the old file (or none) at path, never a part of the new one,
 * and no temporary file after an error.
 */

/* Write tensors[0..n) under names[0..n) (n >= 0; any tensor: views are written in
 * row-major order, tape-owned ones too) and the string pairs meta_keys/meta_values[0..nmeta)
 * (nmeta >= 0; NULL arrays when 0) to path, tensors in the given order. Errors:
 * CG_ERR_NULL (NULL path, array, name or tensor), CG_ERR_VALUE (empty or duplicate name,
 * the reserved name "__metadata__", a name or metadata string that is not valid UTF-8, a
 * duplicate metadata key), CG_ERR_IO naming path and the system's reason (directory
 * missing or not writable, disk full, ...), CG_ERR_NOMEM. */
CG_API cg_status cg_safetensors_save(const char *path, const char *const *names,
                                     cg_tensor *const *tensors, int n,
                                     const char *const *meta_keys,
                                     const char *const *meta_values, int nmeta);

/*
 * A safetensors file opened for reading: its header is read and validated at open, the
 * tensors' bytes are read on demand. Caller-owned; close with cg_safetensors_close. Not
 * for use by two threads at once.
 */
typedef struct cg_safetensors cg_safetensors;

/*
 * Open path and validate it against the format; NULL with an error otherwise. Rejected
 * with CG_ERR_FORMAT and a message naming the file and the offending entry: a file
 * shorter than 8 bytes, a header length beyond the file or above 100 MB, a header that is
 * not valid UTF-8 JSON (an object, first byte '{', only whitespace after it), a missing or
 * ill-typed field, an unknown dtype, more than CG_MAX_DIMS dimensions, a dimension that is
 * not an integer in [0, 2^53), a shape whose byte size overflows, data_offsets that are not
 * [begin, end] with end - begin = numel * element size, tensors that overlap, leave a gap
 * or lie outside the data buffer (the tensors must tile it exactly, as the format
 * requires), bytes after the buffer, duplicate names, metadata values that are not
 * strings. Nothing is allocated from a size before it is checked against the file's size.
 * CG_ERR_IO when the file cannot be opened or read, CG_ERR_NOMEM.
 * Tensors of the format's other dtypes (F16, BF16, I32, U8, BOOL, ...) are accepted here;
 * reading one gives CG_ERR_DTYPE.
 */
CG_API cg_safetensors *cg_safetensors_open(const char *path);
/* Close the file and free the handle (names and strings it returned die with it). NULL is
 * ignored. */
CG_API void cg_safetensors_close(cg_safetensors *st);
/* Number of tensors (0 when st is NULL). */
CG_API int cg_safetensors_count(const cg_safetensors *st);
/* Name of tensor i in [0, count), in the header's order; NULL with CG_ERR_VALUE if out of
 * range. Owned by st. */
CG_API const char *cg_safetensors_name(const cg_safetensors *st, int i);
/* Index of the tensor named name, or -1 (no error recorded) when there is none. */
CG_API int cg_safetensors_find(const cg_safetensors *st, const char *name);
/* Dtype, rank and shape (ndim entries written to shape[CG_MAX_DIMS]) of tensor i, without
 * reading its data. Any pointer may be NULL. CG_ERR_DTYPE (with ndim and shape filled)
 * when the dtype is one libcgrad does not hold; the format's name is then available from
 * cg_safetensors_dtype_name. */
CG_API cg_status cg_safetensors_info(const cg_safetensors *st, int i, cg_dtype *dtype,
                                     int *ndim, int64_t *shape);
/* The format's dtype name of tensor i ("F32", "BF16", ...); NULL if out of range. */
CG_API const char *cg_safetensors_dtype_name(const cg_safetensors *st, int i);
/* A new caller-owned tensor holding tensor i. NULL with CG_ERR_VALUE (index), CG_ERR_DTYPE,
 * CG_ERR_IO (the file changed under the handle, a read failed) or CG_ERR_NOMEM. */
CG_API cg_tensor *cg_safetensors_read(cg_safetensors *st, int i);
/* Read tensor i into dst in place (dst's version is bumped; any strides). dst must have
 * the same shape and dtype: CG_ERR_VALUE naming the tensor otherwise, and dst is unchanged.
 * Other errors as cg_safetensors_read. */
CG_API cg_status cg_safetensors_read_into(cg_safetensors *st, int i, cg_tensor *dst);
/* Metadata pairs ("__metadata__"), in the header's order: count, key and value of pair i
 * (NULL if out of range), and the value of a key (NULL, no error, when absent). The
 * strings are owned by st. */
CG_API int cg_safetensors_num_metadata(const cg_safetensors *st);
CG_API const char *cg_safetensors_metadata_key(const cg_safetensors *st, int i);
CG_API const char *cg_safetensors_metadata_value(const cg_safetensors *st, int i);
CG_API const char *cg_safetensors_metadata(const cg_safetensors *st, const char *key);

/*
 * Training checkpoints: one safetensors file holding everything needed to resume a run
 * bit for bit:
 *   "model.<name>"  every parameter and buffer of the module (dotted names as
 *                   cg_module_parameter/cg_module_buffer give them), in their own dtype;
 *   "optim.<name>"  every state entry of the optimizer (cg_optim_state_get: moments, step
 *                   counts, hyperparameters per group);
 *   "schedule"      the schedule's state (cg_schedule_save) as a 1-d F64 tensor;
 * and metadata strings "cgrad.format" ("checkpoint-1"), "cgrad.epoch", "cgrad.step",
 * "cgrad.rng_seed", "cgrad.rng_offset" (decimal), "cgrad.optimizer" and "cgrad.schedule"
 * (their kinds' names, when saved), plus the caller's own pairs. The file is written
 * atomically (see above); PyTorch reads its tensors (tests/read_safetensors.py).
 *
 * The random state saved is the caller's training generator (data shuffling, noise). A
 * Dropout module's own generator is private to the module and is not saved.
 */
typedef struct cg_checkpoint_meta {
    int64_t epoch;   /* epochs completed */
    int64_t step;    /* optimizer steps taken */
    cg_rng rng;      /* the training loop's generator */
    /* Extra string pairs saved as metadata (keys must not start with "cgrad."). Not filled
     * by cg_checkpoint_load: read them with cg_safetensors_open/cg_safetensors_metadata. */
    const char *const *extra_keys;
    const char *const *extra_values;
    int nextra;
} cg_checkpoint_meta;

/* Save module's parameters and buffers, optimizer's state and schedule's state (each may
 * be NULL, and is then left out) with meta (may be NULL: zeros) to path, atomically.
 * Errors: those of cg_safetensors_save, CG_ERR_VALUE for an extra key starting with
 * "cgrad.". Tensors are written as they are at the call. */
CG_API cg_status cg_checkpoint_save(const char *path, const cg_module *module,
                                    const cg_optimizer *optimizer, const cg_schedule *schedule,
                                    const cg_checkpoint_meta *meta);
/*
 * Load a checkpoint written by cg_checkpoint_save into existing objects made as the saved
 * ones were (same architecture, optimizer kind and parameters, schedule kind and
 * hyperparameters): parameter and buffer values are copied in place, the optimizer's and
 * schedule's states replaced, and *meta (may be NULL) receives epoch, step and rng (its
 * extra fields are set to NULL/0). module, optimizer and schedule may each be NULL to skip
 * that part; a part given must be in the file.
 * Errors (format and I/O errors as cg_safetensors_open): CG_ERR_FORMAT when the file is not
 * a libcgrad checkpoint; CG_ERR_VALUE naming the tensor when a parameter or buffer is
 * missing from the file, has another shape or dtype, or the file holds a "model." tensor
 * the module lacks; CG_ERR_VALUE when the optimizer or schedule is of another kind than the
 * saved one or the file holds none, and the errors of cg_optim_state_load and
 * cg_schedule_load. Everything is validated before anything changes: on such an error the
 * module, optimizer and schedule are unchanged (a read failing midway, from a file changed
 * under the call, may leave the module partly loaded: CG_ERR_IO).
 */
CG_API cg_status cg_checkpoint_load(const char *path, cg_module *module, cg_optimizer *optimizer,
                                    cg_schedule *schedule, cg_checkpoint_meta *meta);

/* ============ metrics: CSV logs and plots (lib/io/metrics.c, lib/io/plot.c) ============ */

/*
 * A metrics log: a CSV file with a header line of column names and one line of numbers per
 * row, e.g. the training columns of cg_metrics_training_columns:
 *     epoch,step,train_loss,val_loss,val_accuracy,lr,seconds
 *     1,469,0.3174,0.1612,0.9519,0.1,4.25
 * Numbers are written in the shortest form that reads back to the same double (up to 17
 * significant digits); NaN as "nan", infinities as "inf" and "-inf" (read as such by
 * Python's float(), NumPy and pandas). Use NaN for "not measured at this row".
 *
 * Durability: each row is written with one write and flushed to the kernel before
 * cg_metrics_row returns, so a crash of the process loses no row already logged; close
 * fsyncs the file. A new log (not appending) is created atomically: the header goes to a
 * temporary file that is fsync'd and renamed over path, so an old log at path is replaced
 * whole, never truncated halfway. In append mode (to resume a run), rows go after the
 * existing ones; a last line cut short by a crash (no newline) is dropped first.
 */
typedef struct cg_metrics cg_metrics;

/* The 7 standard training columns above ("epoch", ..., "seconds"); *n (may be NULL)
 * receives 7. The array is static. */
CG_API const char *const *cg_metrics_training_columns(int *n);
/*
 * Open a log at path with columns[0..ncols) (ncols >= 1; names non-empty, unique, without
 * commas, quotes, or control characters). append false: a new file (replacing any file at
 * path). append true: continue the file at path when it exists, whose header must list the
 * same columns (CG_ERR_FORMAT otherwise), else create it. Caller-owned; close with
 * cg_metrics_close. NULL with an error: CG_ERR_NULL, CG_ERR_VALUE (columns), CG_ERR_IO
 * naming the path and the reason, CG_ERR_FORMAT, CG_ERR_NOMEM.
 */
CG_API cg_metrics *cg_metrics_open(const char *path, const char *const *columns, int ncols,
                                   bool append);
/* Append one row: values[0..ncols) in the columns' order. CG_ERR_IO (the file is then
 * broken: every later row fails too), CG_ERR_NULL. */
CG_API cg_status cg_metrics_row(cg_metrics *m, const double *values);
/* Rows written through m (not counting those that were in an appended file). */
CG_API int64_t cg_metrics_num_rows(const cg_metrics *m);
/* fsync and close the file and free m. CG_ERR_IO if a write or the sync failed (the rows
 * flushed before stay in the file). NULL gives CG_OK. */
CG_API cg_status cg_metrics_close(cg_metrics *m);

/* A metrics CSV read back (to plot a resumed run's whole history, say): ncols column
 * names and nrows rows, values column by column: values[c * nrows + r]. Empty fields read
 * as NaN. Caller-owned; free with cg_metrics_table_free. */
typedef struct cg_metrics_table {
    int ncols;
    int64_t nrows;
    char **columns;
    double *values;
} cg_metrics_table;

/* Read a metrics CSV (a header line, then lines of numbers, as cg_metrics writes). NULL with
 * CG_ERR_IO (cannot read), CG_ERR_FORMAT (a line with another number of fields or a field
 * that is not a number, naming the line), CG_ERR_NOMEM. */
CG_API cg_metrics_table *cg_metrics_read(const char *path);
/* The nrows values of the column named name, or NULL (no error recorded). Owned by t. */
CG_API const double *cg_metrics_table_column(const cg_metrics_table *t, const char *name);
/* Free a table; NULL is ignored. */
CG_API void cg_metrics_table_free(cg_metrics_table *t);

/*
 * Curves (losses, accuracies, learning rates) against a common x (epochs, steps), drawn
 * with PLplot's cairo devices: a PNG ("pngcairo") or an SVG ("svgcairo") picked by the
 * extension of path (".png" or ".svg", any case). Series on the left axis and on the
 * right axis get separate scales (a loss on the left, an accuracy on the right, say); a
 * legend names every series. NaN values leave gaps; a series whose every value is NaN is
 * listed in the legend but draws nothing.
 */
typedef enum cg_plot_axis { CG_PLOT_LEFT, CG_PLOT_RIGHT } cg_plot_axis;

typedef struct cg_plot_series {
    const char *name; /* legend label (UTF-8) */
    const double *y;  /* npoints values */
    cg_plot_axis axis;
} cg_plot_series;

typedef struct cg_plot_options {
    const char *title;       /* NULL: none */
    const char *xlabel;      /* NULL: "epoch" */
    const char *left_label;  /* NULL: none */
    const char *right_label; /* NULL: none */
    int width, height;       /* pixels for PNG, points for SVG; 0 means 800 x 500 */
    bool log_left;           /* log10 scale on the left axis (values <= 0 leave gaps) */
} cg_plot_options;

/*
 * Draw series[0..nseries) (1 <= nseries <= 16) against x[0..npoints) (npoints >= 1,
 * finite) into path, written atomically (temporary file, fsync, rename). options may be
 * NULL for the defaults. Errors: CG_ERR_NULL; CG_ERR_VALUE (extension, counts, non-finite
 * x, size out of [64, 8192]); CG_ERR_IO (path not writable, named with the reason; PLplot
 * or its cairo driver missing or failing, with PLplot's message). PLplot never ends the
 * process: its exit handler is caught. PLplot is not thread-safe, so calls are serialised
 * by a lock inside the library, and PLplot's current stream is restored afterwards.
 */
CG_API cg_status cg_plot_curves(const char *path, const double *x, int64_t npoints,
                                const cg_plot_series *series, int nseries,
                                const cg_plot_options *options);

#ifdef __cplusplus
}
#endif

#endif
