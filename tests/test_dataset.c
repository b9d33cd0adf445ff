/* Datasets: the Fashion-MNIST loader on small files the test writes (and on the real files
 * when dataset-fashion-mnist is installed), seeded splits, standardization fitted on the
 * training set, the minibatch iterator (coverage, shuffling, drop_last, resuming, no
 * allocation per batch) and augmentation. */
#include <time.h>

#include "io_files.h"
#include "test_util.h"

/* A dataset of n samples of shape [c, h, w]: pixel j of sample i is i + j / 1000, label i,
 * so every row says which sample it is. */
static cg_dataset make_dataset(int64_t n, int64_t c, int64_t h, int64_t w)
{
    int64_t shape[4] = {n, c, h, w}, row = c * h * w;
    cg_dataset ds = {.images = cg_tensor_zeros(CG_F32, 4, shape),
                     .labels = cg_tensor_zeros(CG_I64, 1, &n)};
    assert_tensor(ds.images);
    assert_tensor(ds.labels);
    float *x = cg_tensor_data(ds.images);
    int64_t *y = cg_tensor_data(ds.labels);
    for (int64_t i = 0; i < n; i++) {
        y[i] = i;
        for (int64_t j = 0; j < row; j++)
            x[i * row + j] = (float)i + (float)j / 1000.0f;
    }
    return ds;
}

/* Each image row of ds is the sample its label names. */
static void assert_rows_match(const cg_tensor *x, const cg_tensor *y)
{
    int64_t n = cg_tensor_size(y, 0), row = n ? cg_tensor_numel(x) / n : 0;
    const float *px = cg_tensor_data(x);
    const int64_t *py = cg_tensor_data(y);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < row; j++)
            assert_close(px[i * row + j], (float)py[i] + (float)j / 1000.0f, 0, 0);
}

/* ---- Fashion-MNIST from files the test writes ---- */

/* Write the four-file layout for a set with n images of h x 28 and the given labels. */
static void write_fashion(const char *set, uint32_t n, uint32_t h, const double *labels,
                          uint32_t nlab, bool gz)
{
    char buf[512], name[64];
    uint32_t dims[3] = {n, h, 28};
    snprintf(name, sizeof name, "%s-images-idx3-ubyte%s", set, gz ? ".gz" : "");
    assert_non_null(io_file(buf, name, io_idx(0x08, 3, dims, NULL), gz));
    snprintf(name, sizeof name, "%s-labels-idx1-ubyte%s", set, gz ? ".gz" : "");
    assert_non_null(io_file(buf, name, io_idx(0x08, 1, &nlab, labels), gz));
}

static void remove_fashion(void)
{
    char buf[512];
    const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    for (int i = 0; i < 4; i++) {
        char gz[80];
        snprintf(gz, sizeof gz, "%s.gz", names[i]);
        unlink(io_path(buf, names[i]));
        unlink(io_path(buf, gz));
    }
}

static void expect_load_error(bool train, cg_status want, const char *text)
{
    cg_dataset ds = {(cg_tensor *)1, (cg_tensor *)1, (cg_bytes *)1, (cg_tensor *)1};
    cg_status st = cg_fashion_mnist_load(io_dir, train, &ds);
    if (st != want)
        fail_msg("got %s (%s), expected %s", cg_status_string(st), cg_last_error(),
                 cg_status_string(want));
    assert_null(ds.images);
    assert_null(ds.labels);
    assert_null(ds.bytes);
    assert_null(ds.index);
    assert_error_contains(text);
}

static void test_fashion_small(void **state)
{
    (void)state;
    const double labels[6] = {9, 0, 3, 3, 1, 8};
    for (int gz = 0; gz < 2; gz++) {
        remove_fashion();
        write_fashion("t10k", 6, 28, labels, 6, gz);
        cg_dataset ds;
        assert_ok(cg_fashion_mnist_load(io_dir, false, &ds));
        assert_int_equal(cg_dataset_size(&ds), 6);
        assert_null(ds.images); /* the files' bytes, a quarter of f32's memory */
        assert_null(ds.index);
        assert_int_equal(cg_bytes_ndim(ds.bytes), 4);
        const int64_t *shape = cg_bytes_shape(ds.bytes);
        assert_int_equal(shape[0], 6);
        assert_int_equal(shape[1], 1);
        assert_int_equal(shape[2], 28);
        assert_int_equal(shape[3], 28);
        int nd;
        int64_t sample[CG_MAX_DIMS];
        assert_ok(cg_dataset_sample_shape(&ds, &nd, sample));
        assert_int_equal(nd, 3);
        assert_int_equal(sample[0], 1);
        assert_int_equal(sample[2], 28);
        const uint8_t *x = cg_bytes_data(ds.bytes);
        assert_int_equal(x[784 + 5], (784 + 5) % 251); /* raw values, no scaling */
        const int64_t *y = cg_tensor_data(ds.labels);
        for (int i = 0; i < 6; i++)
            assert_int_equal(y[i], (int64_t)labels[i]);
        /* batches without a standardizer hold the raw values as f32 */
        cg_batch_iter *it = cg_batch_iter_new(&ds, &(cg_batch_iter_options){.batch_size = 4});
        cg_tensor *bx, *by;
        assert_true(cg_batch_iter_next(it, &bx, &by));
        assert_int_equal(cg_tensor_dtype(bx), CG_F32);
        assert_int_equal(cg_tensor_ndim(bx), 4);
        assert_close(((float *)cg_tensor_data(bx))[784 + 5], (784 + 5) % 251, 0, 0);
        cg_batch_iter_free(it);
        cg_dataset_free(&ds);
        assert_null(ds.bytes);
        assert_null(ds.labels);
    }
    remove_fashion();
}

static void test_fashion_errors(void **state)
{
    (void)state;
    remove_fashion();
    expect_load_error(true, CG_ERR_IO, "train-images-idx3-ubyte.gz not found");
    assert_error_contains(io_dir);
    assert_error_contains("dataset-fashion-mnist");
    const double labels[4] = {0, 1, 2, 10};
    write_fashion("train", 4, 28, labels, 3, true); /* 3 labels for 4 images */
    expect_load_error(true, CG_ERR_FORMAT, "[4, 28, 28] and labels [3]");
    write_fashion("train", 4, 28, labels, 4, true); /* a label 10 */
    expect_load_error(true, CG_ERR_FORMAT, "label 10 of sample 3");
    write_fashion("train", 4, 27, labels, 3, true); /* 27 x 28 images */
    expect_load_error(true, CG_ERR_FORMAT, "expected [N, 28, 28]");
    char buf[512];
    unlink(io_path(buf, "train-labels-idx1-ubyte.gz"));
    expect_load_error(true, CG_ERR_IO, "train-labels-idx1-ubyte.gz not found");
    /* plain files are found too; a gzipped one is preferred, and its errors name it */
    remove_fashion();
    const double ok[4] = {0, 1, 2, 9};
    write_fashion("train", 4, 28, ok, 4, false);
    cg_dataset ds;
    assert_ok(cg_fashion_mnist_load(io_dir, true, &ds));
    assert_int_equal(cg_dataset_size(&ds), 4);
    cg_dataset_free(&ds);
    uint32_t dims[3] = {4, 28, 28};
    io_bytes b = io_idx(0x08, 3, dims, NULL);
    b.n -= 100;
    io_file(buf, "train-images-idx3-ubyte.gz", b, true);
    expect_load_error(true, CG_ERR_FORMAT, "train-images-idx3-ubyte.gz: truncated data");
    assert_int_equal(cg_fashion_mnist_load(io_dir, true, NULL), CG_ERR_NULL);
    remove_fashion();
}

static void test_fashion_real(void **state)
{
    (void)state;
    /* registered only when the files are there (io_run_suite) */
    const char *dir = io_fashion_dir(); /* NULL: the library's default folder */
    cg_dataset train, test;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_ok(cg_fashion_mnist_load(dir, true, &train));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    print_message("# loaded the training set in %.3f s\n",
                  (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
    assert_ok(cg_fashion_mnist_load(dir, false, &test));
    assert_int_equal(cg_dataset_size(&train), 60000);
    assert_int_equal(cg_dataset_size(&test), 10000);
    assert_int_equal(cg_bytes_shape(train.bytes)[1], 1);
    /* the usual global statistics of Fashion-MNIST scaled to [0, 1] */
    cg_standardizer s;
    assert_ok(cg_standardizer_fit(&train, CG_STANDARDIZE_GLOBAL, 1.0 / 255, 1e-3, &s));
    assert_close(cg_tensor_item(s.mean), 0.2860, 5e-4, 0);
    assert_close(cg_tensor_item(s.std), 0.3530, 5e-4, 0);
    /* applied on the fly to the test set: close to mean 0, std 1 there too */
    cg_batch_iter_options bo = {.batch_size = 1000, .standardize = &s};
    cg_batch_iter *it = cg_batch_iter_new(&test, &bo);
    cg_tensor *x, *y;
    double s1 = 0, s2 = 0;
    while (cg_batch_iter_next(it, &x, &y)) {
        const float *v = cg_tensor_data(x);
        for (int64_t i = 0; i < cg_tensor_numel(x); i++)
            s1 += v[i], s2 += (double)v[i] * v[i];
    }
    assert_close(s1 / (10000.0 * 784), 0, 0.02, 0);
    assert_close(s2 / (10000.0 * 784), 1, 0.03, 0);
    cg_batch_iter_free(it);
    cg_standardizer_free(&s);
    cg_dataset_free(&train);
    cg_dataset_free(&test);
}

/* ---- split ---- */

static void test_split(void **state)
{
    (void)state;
    cg_dataset ds = make_dataset(50, 1, 2, 3), tr, va, tr2, va2, tr3, va3;
    assert_ok(cg_dataset_split(&ds, 12, 42, &tr, &va));
    assert_int_equal(cg_dataset_size(&tr), 38);
    assert_int_equal(cg_dataset_size(&va), 12);
    assert_int_equal(cg_tensor_ndim(va.images), 4);
    assert_rows_match(tr.images, tr.labels);
    assert_rows_match(va.images, va.labels);
    int seen[50] = {0};
    const int64_t *a = cg_tensor_data(tr.labels), *b = cg_tensor_data(va.labels);
    for (int i = 0; i < 38; i++)
        seen[a[i]]++;
    for (int i = 0; i < 12; i++)
        seen[b[i]]++;
    for (int i = 0; i < 50; i++)
        assert_int_equal(seen[i], 1); /* disjoint, and together all of ds */
    /* same seed, same split; another seed, another split */
    assert_ok(cg_dataset_split(&ds, 12, 42, &tr2, &va2));
    assert_memory_equal(cg_tensor_data(va.labels), cg_tensor_data(va2.labels), 12 * 8);
    assert_memory_equal(cg_tensor_data(tr.labels), cg_tensor_data(tr2.labels), 38 * 8);
    assert_ok(cg_dataset_split(&ds, 12, 43, &tr3, &va3));
    assert_memory_not_equal(cg_tensor_data(va.labels), cg_tensor_data(va3.labels), 12 * 8);
    bool shuffled = false; /* not just the first or last samples */
    for (int i = 1; i < 12; i++)
        shuffled |= b[i] != b[i - 1] + 1;
    assert_true(shuffled);
    cg_dataset_free(&tr), cg_dataset_free(&va), cg_dataset_free(&tr2), cg_dataset_free(&va2);
    cg_dataset_free(&tr3), cg_dataset_free(&va3);
    cg_dataset_free(&ds);
}

static void test_split_edges(void **state)
{
    (void)state;
    cg_dataset ds = make_dataset(7, 1, 1, 2), tr, va;
    assert_ok(cg_dataset_split(&ds, 0, 1, &tr, &va));
    assert_int_equal(cg_dataset_size(&va), 0);
    assert_int_equal(cg_dataset_size(&tr), 7);
    cg_dataset_free(&tr), cg_dataset_free(&va);
    assert_ok(cg_dataset_split(&ds, 7, 1, &tr, &va));
    assert_int_equal(cg_dataset_size(&tr), 0);
    assert_int_equal(cg_tensor_size(tr.images, 3), 2);
    cg_dataset_free(&tr), cg_dataset_free(&va);
    assert_int_equal(cg_dataset_split(&ds, 8, 1, &tr, &va), CG_ERR_VALUE);
    assert_null(tr.images);
    assert_int_equal(cg_dataset_split(&ds, -1, 1, &tr, &va), CG_ERR_VALUE);
    assert_int_equal(cg_dataset_split(NULL, 1, 1, &tr, &va), CG_ERR_NULL);
    assert_int_equal(cg_dataset_split(&ds, 1, 1, NULL, &va), CG_ERR_NULL);
    /* layout rules: labels must be i64 [N] with the images' N */
    cg_tensor *lab = ds.labels;
    int64_t six = 6;
    ds.labels = cg_tensor_zeros(CG_I64, 1, &six);
    assert_int_equal(cg_dataset_split(&ds, 1, 1, &tr, &va), CG_ERR_SHAPE);
    cg_tensor_free(ds.labels);
    ds.labels = cg_tensor_zeros(CG_F32, 1, (int64_t[]){7});
    assert_int_equal(cg_dataset_split(&ds, 1, 1, &tr, &va), CG_ERR_DTYPE);
    cg_tensor_free(ds.labels);
    ds.labels = lab;
    cg_dataset_free(&ds);
}

/* ---- standardization ---- */

static void test_standardize_global(void **state)
{
    (void)state;
    cg_dataset tr = make_dataset(10, 1, 2, 2), te = make_dataset(4, 1, 2, 2);
    const int64_t m = 40;
    const float *x = cg_tensor_data(tr.images);
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < m; i++)
        sum += x[i] * 0.5;
    double mean = sum / m;
    for (int64_t i = 0; i < m; i++)
        sq += (x[i] * 0.5 - mean) * (x[i] * 0.5 - mean);
    double sd = sqrt(sq / m);
    cg_standardizer s;
    assert_ok(cg_standardizer_fit(&tr, CG_STANDARDIZE_GLOBAL, 0.5, 1e-3, &s));
    assert_int_equal(cg_tensor_ndim(s.mean), 0);
    assert_close(cg_tensor_item(s.mean), mean, 0, 1e-6);
    assert_close(cg_tensor_item(s.std), sd, 0, 1e-6);
    /* the test set uses the training statistics, not its own */
    float before = ((float *)cg_tensor_data(te.images))[3];
    assert_ok(cg_standardizer_apply(&s, &te));
    assert_close(((float *)cg_tensor_data(te.images))[3], (before * 0.5 - mean) / sd, 1e-6, 1e-5);
    /* the training set standardized: mean 0, population std 1 */
    assert_ok(cg_standardizer_apply(&s, &tr));
    double s1 = 0, s2 = 0;
    for (int64_t i = 0; i < m; i++)
        s1 += x[i], s2 += x[i] * x[i];
    assert_close(s1 / m, 0, 1e-6, 0);
    assert_close(s2 / m, 1, 0, 1e-5);
    cg_standardizer_free(&s);
    cg_dataset_free(&tr), cg_dataset_free(&te);
}

static void test_standardize_feature(void **state)
{
    (void)state;
    cg_dataset tr = make_dataset(9, 1, 2, 3);
    float *x = cg_tensor_data(tr.images);
    for (int i = 0; i < 9; i++)
        x[i * 6 + 5] = 0; /* a constant feature, as image borders are */
    cg_standardizer s;
    assert_ok(cg_standardizer_fit(&tr, CG_STANDARDIZE_FEATURE, 1.0, 0.01, &s));
    assert_int_equal(cg_tensor_ndim(s.mean), 3);
    assert_int_equal(cg_tensor_size(s.std, 2), 3);
    const float *mu = cg_tensor_data(s.mean), *sd = cg_tensor_data(s.std);
    /* feature j over samples 0..8: values i + j/1000, mean 4 + j/1000, std sqrt(60/9) */
    for (int j = 0; j < 5; j++) {
        assert_close(mu[j], 4 + j / 1000.0, 1e-6, 0);
        assert_close(sd[j], sqrt(60.0 / 9), 0, 1e-6);
    }
    assert_close(mu[5], 0, 0, 0);
    assert_close(sd[5], 0.01, 0, 1e-6); /* floored */
    assert_ok(cg_standardizer_apply(&s, &tr));
    for (int j = 0; j < 6; j++) {
        double s1 = 0;
        for (int i = 0; i < 9; i++)
            s1 += x[i * 6 + j];
        assert_close(s1 / 9, 0, 1e-5, 0);
    }
    assert_close(x[5], 0, 0, 0);
    cg_standardizer_free(&s);
    /* statistics of another shape do not fit */
    cg_dataset other = make_dataset(3, 1, 3, 2);
    assert_ok(cg_standardizer_fit(&tr, CG_STANDARDIZE_FEATURE, 1.0, 0.01, &s));
    assert_int_equal(cg_standardizer_apply(&s, &other), CG_ERR_SHAPE);
    cg_standardizer_free(&s);
    /* no floor and a constant feature (still 0 after standardizing): apply refuses to
     * divide by 0 */
    assert_ok(cg_standardizer_fit(&tr, CG_STANDARDIZE_FEATURE, 1.0, 0, &s));
    assert_close(((float *)cg_tensor_data(s.std))[5], 0, 0, 0);
    assert_int_equal(cg_standardizer_apply(&s, &tr), CG_ERR_VALUE);
    assert_error_contains("std[5]");
    cg_standardizer_free(&s);
    cg_dataset_free(&other);
    cg_dataset_free(&tr);
}

static void test_standardize_errors(void **state)
{
    (void)state;
    cg_dataset tr = make_dataset(3, 1, 1, 2), empty = make_dataset(0, 1, 1, 2);
    cg_standardizer s;
    assert_int_equal(cg_standardizer_fit(&tr, CG_STANDARDIZE_GLOBAL, 0, 0, &s), CG_ERR_VALUE);
    assert_null(s.mean);
    assert_int_equal(cg_standardizer_fit(&tr, CG_STANDARDIZE_GLOBAL, 1, -1, &s), CG_ERR_VALUE);
    assert_int_equal(cg_standardizer_fit(&tr, CG_STANDARDIZE_GLOBAL, NAN, 0, &s), CG_ERR_VALUE);
    assert_int_equal(cg_standardizer_fit(&tr, (cg_standardize_mode)5, 1, 0, &s), CG_ERR_VALUE);
    assert_int_equal(cg_standardizer_fit(&empty, CG_STANDARDIZE_GLOBAL, 1, 0, &s), CG_ERR_VALUE);
    assert_int_equal(cg_standardizer_fit(&tr, CG_STANDARDIZE_GLOBAL, 1, 0, NULL), CG_ERR_NULL);
    assert_int_equal(cg_standardizer_apply(NULL, &tr), CG_ERR_NULL);
    cg_standardizer_free(NULL);
    cg_dataset_free(&tr), cg_dataset_free(&empty);
}

/* ---- the iterator ---- */

/* Run one epoch, appending each batch's labels to order[] (if not NULL); returns the number
 * of samples served and checks each batch's rows against its labels. */
static int64_t run_epoch(cg_batch_iter *it, int64_t *order, int64_t *nbatches)
{
    cg_tensor *x, *y;
    int64_t served = 0, k = 0;
    while (cg_batch_iter_next(it, &x, &y)) {
        int64_t b = cg_tensor_size(y, 0);
        assert_int_equal(cg_tensor_size(x, 0), b);
        assert_rows_match(x, y);
        if (order)
            memcpy(order + served, cg_tensor_data(y), (size_t)b * sizeof *order);
        served += b;
        k++;
    }
    assert_null(x);
    assert_null(y);
    if (nbatches)
        *nbatches = k;
    return served;
}

static void test_iter_covers_epoch(void **state)
{
    (void)state;
    cg_dataset ds = make_dataset(23, 1, 2, 2);
    cg_batch_iter_options o = {.batch_size = 5, .shuffle = true, .seed = 7};
    cg_batch_iter *it = cg_batch_iter_new(&ds, &o);
    assert_non_null(it);
    assert_int_equal(cg_batch_iter_num_batches(it), 5);
    int64_t e0[23], e1[23], nb;
    assert_int_equal(run_epoch(it, e0, &nb), 23);
    assert_int_equal(nb, 5);
    assert_int_equal(cg_batch_iter_epoch(it), 1);
    assert_int_equal(cg_batch_iter_position(it), 0);
    assert_int_equal(run_epoch(it, e1, NULL), 23);
    for (int e = 0; e < 2; e++) {
        int seen[23] = {0};
        for (int i = 0; i < 23; i++)
            seen[(e ? e1 : e0)[i]]++;
        for (int i = 0; i < 23; i++)
            assert_int_equal(seen[i], 1); /* every sample exactly once */
    }
    assert_memory_not_equal(e0, e1, sizeof e0); /* a new order each epoch */
    /* the same seed gives the same orders; another seed another */
    cg_batch_iter *same = cg_batch_iter_new(&ds, &o);
    int64_t s0[23];
    run_epoch(same, s0, NULL);
    assert_memory_equal(e0, s0, sizeof e0);
    o.seed = 8;
    cg_batch_iter *other = cg_batch_iter_new(&ds, &o);
    run_epoch(other, s0, NULL);
    assert_memory_not_equal(e0, s0, sizeof e0);
    cg_batch_iter_free(same), cg_batch_iter_free(other), cg_batch_iter_free(it);
    cg_dataset_free(&ds);
}

static void test_iter_in_order_and_drop_last(void **state)
{
    (void)state;
    cg_dataset ds = make_dataset(23, 1, 1, 3);
    cg_batch_iter_options o = {.batch_size = 5};
    cg_batch_iter *it = cg_batch_iter_new(&ds, &o);
    int64_t order[23], nb;
    assert_int_equal(run_epoch(it, order, &nb), 23);
    assert_int_equal(nb, 5);
    for (int i = 0; i < 23; i++)
        assert_int_equal(order[i], i);
    cg_batch_iter_free(it);
    o.drop_last = true;
    o.shuffle = true;
    it = cg_batch_iter_new(&ds, &o);
    assert_int_equal(cg_batch_iter_num_batches(it), 4);
    for (int e = 0; e < 3; e++) {
        assert_int_equal(run_epoch(it, order, &nb), 20); /* 4 full batches, no partial one */
        assert_int_equal(nb, 4);
        int seen[23] = {0};
        for (int i = 0; i < 20; i++)
            assert_int_equal(seen[order[i]]++, 0);
    }
    cg_batch_iter_free(it);
    /* fewer samples than one batch */
    o.batch_size = 64;
    it = cg_batch_iter_new(&ds, &o);
    assert_int_equal(run_epoch(it, NULL, &nb), 0);
    assert_int_equal(nb, 0);
    cg_batch_iter_free(it);
    o.drop_last = false;
    it = cg_batch_iter_new(&ds, &o);
    assert_int_equal(run_epoch(it, NULL, &nb), 23);
    assert_int_equal(nb, 1);
    cg_batch_iter_free(it);
    cg_dataset_free(&ds);
}

/* Batches of epochs 0..2 from the start, against a second iterator resumed at (1, 10). */
static void test_iter_resume(void **state)
{
    (void)state;
    cg_dataset ds = make_dataset(23, 1, 4, 4);
    cg_augment_options aug = {.flip_p = 0.5, .max_shift = 1};
    cg_batch_iter_options o = {.batch_size = 5, .shuffle = true, .seed = 99, .augment = &aug};
    cg_batch_iter *a = cg_batch_iter_new(&ds, &o), *b = cg_batch_iter_new(&ds, &o);
    float xa[3][23 * 16];
    int64_t ya[3][23];
    cg_tensor *x, *y;
    for (int e = 0; e < 3; e++) {
        int64_t pos = 0;
        while (cg_batch_iter_next(a, &x, &y)) {
            int64_t n = cg_tensor_size(y, 0);
            memcpy(xa[e] + pos * 16, cg_tensor_data(x), (size_t)n * 16 * sizeof(float));
            memcpy(ya[e] + pos, cg_tensor_data(y), (size_t)n * sizeof(int64_t));
            pos += n;
        }
    }
    assert_ok(cg_batch_iter_seek(b, 1, 10));
    assert_int_equal(cg_batch_iter_epoch(b), 1);
    assert_int_equal(cg_batch_iter_position(b), 10);
    int64_t pos = 10;
    for (int e = 1; e < 3; e++) {
        while (cg_batch_iter_next(b, &x, &y)) {
            int64_t n = cg_tensor_size(y, 0);
            assert_memory_equal(ya[e] + pos, cg_tensor_data(y), (size_t)n * sizeof(int64_t));
            assert_memory_equal(xa[e] + pos * 16, cg_tensor_data(x), (size_t)n * 16 * 4);
            pos += n;
        }
        assert_int_equal(pos, 23);
        pos = 0;
    }
    assert_int_equal(cg_batch_iter_seek(b, 0, 3), CG_ERR_VALUE);
    assert_int_equal(cg_batch_iter_seek(b, 0, 25), CG_ERR_VALUE);
    assert_int_equal(cg_batch_iter_seek(b, -1, 0), CG_ERR_VALUE);
    assert_ok(cg_batch_iter_seek(b, 2, 23)); /* the end: the next call ends the epoch */
    assert_false(cg_batch_iter_next(b, &x, &y));
    assert_int_equal(cg_batch_iter_epoch(b), 3);
    cg_batch_iter_free(a), cg_batch_iter_free(b);
    cg_dataset_free(&ds);
}

/* After creation, batches allocate nothing; the iterator keeps the dataset alive. */
static void test_iter_no_alloc(void **state)
{
    (void)state;
    cg_dataset ds = make_dataset(17, 1, 3, 3);
    cg_augment_options aug = {.flip_p = 0.5, .max_shift = 2};
    cg_batch_iter_options o = {.batch_size = 4, .shuffle = true, .seed = 3, .augment = &aug};
    cg_batch_iter *it = cg_batch_iter_new(&ds, &o);
    cg_dataset_free(&ds); /* the iterator holds its own reference */
    uint64_t calls = cg_alloc_get_stats().malloc_calls;
    cg_tensor *x, *y;
    uint64_t v = 0;
    for (int e = 0; e < 3; e++)
        while (cg_batch_iter_next(it, &x, &y)) {
            assert_true(cg_tensor_version(x) > v); /* overwritten in place: version bumped */
            v = cg_tensor_version(x);
        }
    assert_int_equal(cg_alloc_get_stats().malloc_calls, calls);
    cg_batch_iter_free(it);
}

static void test_iter_errors(void **state)
{
    (void)state;
    cg_dataset ds = make_dataset(4, 1, 1, 1);
    cg_batch_iter_options o = {.batch_size = 0};
    assert_null(cg_batch_iter_new(&ds, &o));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    assert_null(cg_batch_iter_new(&ds, NULL));
    assert_null(cg_batch_iter_new(NULL, &o));
    cg_augment_options aug = {.flip_p = 2};
    o = (cg_batch_iter_options){.batch_size = 2, .augment = &aug};
    assert_null(cg_batch_iter_new(&ds, &o));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    cg_tensor *x, *y;
    assert_false(cg_batch_iter_next(NULL, &x, &y));
    assert_int_equal(cg_last_status(), CG_ERR_NULL);
    assert_int_equal(cg_batch_iter_epoch(NULL), -1);
    assert_int_equal(cg_batch_iter_num_batches(NULL), -1);
    cg_batch_iter_free(NULL);
    cg_dataset_free(&ds);
}

/* ---- byte features and views ---- */

/* Twins of n samples [c, h, w] holding the same 8-bit values (sample i, value j: (7 i + 3 j +
 * i j) mod 256, so no two rows agree), labels i: *b with bytes, *f with f32. */
static void make_twins(int64_t n, int64_t c, int64_t h, int64_t w, cg_dataset *b, cg_dataset *f)
{
    int64_t shape[4] = {n, c, h, w}, row = c * h * w;
    *f = make_dataset(n, c, h, w);
    *b = (cg_dataset){.bytes = cg_bytes_new(4, shape), .labels = cg_tensor_clone(f->labels)};
    assert_non_null(b->bytes);
    uint8_t *xb = cg_bytes_data(b->bytes);
    float *xf = cg_tensor_data(f->images);
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < row; j++)
            xf[i * row + j] = xb[i * row + j] = (uint8_t)((7 * i + 3 * j + i * j) % 256);
}

/* Every batch of two iterators (over one epoch, after a seek to epoch 1) is bit-identical. */
static void assert_same_batches(cg_batch_iter *a, cg_batch_iter *b)
{
    assert_ok(cg_batch_iter_seek(a, 1, 0));
    assert_ok(cg_batch_iter_seek(b, 1, 0));
    cg_tensor *xa, *ya, *xb, *yb;
    int64_t batches = 0;
    while (cg_batch_iter_next(a, &xa, &ya)) {
        assert_true(cg_batch_iter_next(b, &xb, &yb));
        assert_int_equal(cg_tensor_numel(xa), cg_tensor_numel(xb));
        assert_memory_equal(cg_tensor_data(xa), cg_tensor_data(xb),
                            (size_t)cg_tensor_numel(xa) * sizeof(float));
        assert_memory_equal(cg_tensor_data(ya), cg_tensor_data(yb),
                            (size_t)cg_tensor_numel(ya) * sizeof(int64_t));
        batches++;
    }
    assert_false(cg_batch_iter_next(b, &xb, &yb));
    assert_true(batches > 1);
}

/* Bytes standardized on the fly give the floats that f32 features standardized in place
 * give, bit for bit, in both modes, through a split (views of the bytes, copies of the
 * floats), with shuffling, augmentation and a partial batch; the statistics too. */
static void test_bytes_match_f32(void **state)
{
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        cg_dataset b, f, btr, bva, ftr, fva;
        make_twins(41, 2, 5, 3, &b, &f);
        assert_ok(cg_dataset_split(&b, 9, 5, &btr, &bva));
        assert_ok(cg_dataset_split(&f, 9, 5, &ftr, &fva));
        assert_true(btr.bytes == b.bytes && bva.bytes == b.bytes); /* shared, not copied */
        assert_non_null(btr.index);
        assert_null(ftr.index);
        assert_memory_equal(cg_tensor_data(btr.labels), cg_tensor_data(ftr.labels), 32 * 8);
        cg_standardizer sb, sf;
        cg_standardize_mode m = (cg_standardize_mode)mode;
        assert_ok(cg_standardizer_fit(&btr, m, 1.0 / 255, 0.01, &sb));
        assert_ok(cg_standardizer_fit(&ftr, m, 1.0 / 255, 0.01, &sf));
        size_t nb = (size_t)cg_tensor_numel(sb.mean) * sizeof(float);
        assert_memory_equal(cg_tensor_data(sb.mean), cg_tensor_data(sf.mean), nb);
        assert_memory_equal(cg_tensor_data(sb.std), cg_tensor_data(sf.std), nb);
        cg_augment_options aug = {.flip_p = 0.5, .max_shift = 1, .fill = -0.5};
        cg_batch_iter_options o = {.batch_size = 6, .shuffle = true, .seed = 11,
                                   .augment = &aug, .standardize = &sb};
        for (int set = 0; set < 2; set++) {
            cg_dataset *bs = set ? &bva : &btr, *fs = set ? &fva : &ftr;
            /* f32 features standardized on the fly, then in place: the same floats */
            cg_batch_iter *ib = cg_batch_iter_new(bs, &o), *ifly = cg_batch_iter_new(fs, &o);
            assert_non_null(ib);
            assert_non_null(ifly);
            assert_same_batches(ib, ifly);
            assert_ok(cg_standardizer_apply(&sf, fs));
            o.standardize = NULL;
            cg_batch_iter *iplace = cg_batch_iter_new(fs, &o);
            o.standardize = &sb;
            assert_same_batches(ib, iplace);
            cg_batch_iter_free(ib), cg_batch_iter_free(ifly), cg_batch_iter_free(iplace);
        }
        cg_standardizer_free(&sb), cg_standardizer_free(&sf);
        cg_dataset_free(&b), cg_dataset_free(&f);
        cg_dataset_free(&btr), cg_dataset_free(&bva), cg_dataset_free(&ftr), cg_dataset_free(&fva);
    }
}

/* cg_dataset_select: views of bytes (composed through views), copies of floats; views
 * outlive the dataset they came from; errors. */
static void test_select(void **state)
{
    (void)state;
    cg_dataset b, f, v, w, g;
    make_twins(10, 1, 2, 2, &b, &f);
    const int64_t pick[4] = {7, 2, 2, 9};
    assert_ok(cg_dataset_select(&b, pick, 4, &v));
    assert_true(v.bytes == b.bytes);
    assert_null(v.images);
    assert_int_equal(cg_dataset_size(&v), 4);
    assert_memory_equal(cg_tensor_data(v.index), pick, sizeof pick);
    assert_memory_equal(cg_tensor_data(v.labels), pick, sizeof pick); /* label i is sample i */
    const int64_t again[2] = {3, 0}; /* samples 9 and 7 of b */
    assert_ok(cg_dataset_select(&v, again, 2, &w));
    assert_int_equal(((int64_t *)cg_tensor_data(w.index))[0], 9);
    assert_int_equal(((int64_t *)cg_tensor_data(w.index))[1], 7);
    cg_dataset_free(&b); /* w and v keep the bytes alive */
    cg_dataset_free(&v);
    cg_batch_iter *it = cg_batch_iter_new(&w, &(cg_batch_iter_options){.batch_size = 2});
    cg_tensor *x, *y;
    assert_true(cg_batch_iter_next(it, &x, &y));
    const float *fx = cg_tensor_data(f.images), *bx = cg_tensor_data(x);
    assert_memory_equal(bx, fx + 9 * 4, 4 * sizeof(float));
    assert_memory_equal(bx + 4, fx + 7 * 4, 4 * sizeof(float));
    cg_dataset_free(&w); /* and the iterator keeps them too */
    assert_ok(cg_batch_iter_seek(it, 0, 0));
    assert_true(cg_batch_iter_next(it, &x, &y));
    assert_memory_equal(cg_tensor_data(x), fx + 9 * 4, 4 * sizeof(float));
    cg_batch_iter_free(it);
    /* f32: a copy of the rows */
    assert_ok(cg_dataset_select(&f, pick, 4, &g));
    assert_null(g.index);
    assert_true(g.images != f.images);
    for (int k = 0; k < 4; k++)
        assert_memory_equal((float *)cg_tensor_data(g.images) + 4 * k, fx + 4 * pick[k],
                            4 * sizeof(float));
    cg_dataset_free(&g);
    assert_ok(cg_dataset_select(&f, NULL, 0, &g));
    assert_int_equal(cg_dataset_size(&g), 0);
    cg_dataset_free(&g);
    /* errors */
    assert_int_equal(cg_dataset_select(&f, (int64_t[]){10}, 1, &g), CG_ERR_VALUE);
    assert_error_contains("samples[0] = 10");
    assert_null(g.images);
    assert_int_equal(cg_dataset_select(&f, (int64_t[]){-1}, 1, &g), CG_ERR_VALUE);
    assert_int_equal(cg_dataset_select(&f, pick, -1, &g), CG_ERR_VALUE);
    assert_int_equal(cg_dataset_select(&f, NULL, 1, &g), CG_ERR_NULL);
    assert_int_equal(cg_dataset_select(&f, pick, 1, NULL), CG_ERR_NULL);
    assert_int_equal(cg_dataset_select(NULL, pick, 1, &g), CG_ERR_NULL);
    cg_dataset_free(&f);
}

/* The layout rules with bytes and an index, and what in-place standardization refuses. */
static void test_dataset_rules(void **state)
{
    (void)state;
    cg_dataset b, f, tr, va;
    make_twins(6, 1, 1, 2, &b, &f);
    cg_standardizer s;
    assert_ok(cg_standardizer_fit(&f, CG_STANDARDIZE_GLOBAL, 1, 0.01, &s));
    /* bytes hold raw values: standardize them on the fly */
    assert_int_equal(cg_standardizer_apply(&s, &b), CG_ERR_VALUE);
    assert_error_contains("on the fly");
    /* a view's rows may be shared: no in-place change either */
    cg_dataset view = {.images = f.images, .labels = f.labels,
                       .index = cg_tensor_from_data(CG_I64, 1, (int64_t[]){6},
                                                    (int64_t[]){5, 4, 3, 2, 1, 0})};
    assert_int_equal(cg_standardizer_apply(&s, &view), CG_ERR_VALUE);
    /* ... but everything else reads it: sample 0 is row 5 */
    cg_batch_iter *it = cg_batch_iter_new(&view, &(cg_batch_iter_options){.batch_size = 6});
    cg_tensor *x, *y;
    assert_true(cg_batch_iter_next(it, &x, &y));
    assert_memory_equal(cg_tensor_data(x), (float *)cg_tensor_data(f.images) + 10, 8);
    cg_batch_iter_free(it);
    /* an index entry outside the rows, an index of another length */
    ((int64_t *)cg_tensor_data(view.index))[3] = 6;
    assert_int_equal(cg_dataset_split(&view, 1, 1, &tr, &va), CG_ERR_VALUE);
    assert_error_contains("index[3] = 6");
    cg_tensor_free(view.index);
    view.index = cg_tensor_zeros(CG_I64, 1, (int64_t[]){5});
    assert_int_equal(cg_dataset_split(&view, 1, 1, &tr, &va), CG_ERR_SHAPE);
    cg_tensor_free(view.index);
    /* both kinds of features, or neither */
    cg_dataset both = {.images = f.images, .labels = f.labels, .bytes = b.bytes};
    assert_int_equal(cg_dataset_split(&both, 1, 1, &tr, &va), CG_ERR_VALUE);
    assert_error_contains("not both");
    cg_dataset none = {.labels = f.labels};
    assert_int_equal(cg_dataset_split(&none, 1, 1, &tr, &va), CG_ERR_NULL);
    assert_int_equal(cg_dataset_size(&none), 6);
    /* a standardizer of another sample shape does not fit the iterator's dataset */
    cg_standardizer_free(&s);
    assert_ok(cg_standardizer_fit(&f, CG_STANDARDIZE_FEATURE, 1, 0.01, &s));
    cg_dataset other, ob;
    make_twins(4, 1, 2, 1, &ob, &other);
    assert_null(cg_batch_iter_new(&ob, &(cg_batch_iter_options){.batch_size = 2,
                                                                .standardize = &s}));
    assert_int_equal(cg_last_status(), CG_ERR_SHAPE);
    ((float *)cg_tensor_data(s.std))[1] = 0;
    assert_null(cg_batch_iter_new(&b, &(cg_batch_iter_options){.batch_size = 2,
                                                               .standardize = &s}));
    assert_int_equal(cg_last_status(), CG_ERR_VALUE);
    int nd = 7;
    assert_int_equal(cg_dataset_sample_shape(&none, &nd, NULL), CG_ERR_NULL);
    assert_int_equal(nd, 0);
    assert_int_equal(cg_dataset_sample_shape(&b, NULL, NULL), CG_ERR_NULL);
    cg_standardizer_free(&s);
    cg_dataset_free(&other), cg_dataset_free(&ob);
    cg_dataset_free(&b), cg_dataset_free(&f);
}

/* Bytes through a view, standardized and augmented: still no allocation per batch. */
static void test_iter_bytes_no_alloc(void **state)
{
    (void)state;
    cg_dataset b, f, tr, va;
    make_twins(30, 1, 4, 4, &b, &f);
    assert_ok(cg_dataset_split(&b, 5, 2, &tr, &va));
    cg_standardizer s;
    assert_ok(cg_standardizer_fit(&tr, CG_STANDARDIZE_FEATURE, 1.0 / 255, 0.05, &s));
    cg_augment_options aug = {.flip_p = 0.5, .max_shift = 2};
    cg_batch_iter_options o = {.batch_size = 4, .shuffle = true, .seed = 3, .augment = &aug,
                               .standardize = &s};
    cg_batch_iter *it = cg_batch_iter_new(&tr, &o);
    cg_standardizer_free(&s); /* its coefficients were taken */
    cg_dataset_free(&b), cg_dataset_free(&tr), cg_dataset_free(&va), cg_dataset_free(&f);
    uint64_t calls = cg_alloc_get_stats().malloc_calls;
    cg_tensor *x, *y;
    int64_t served = 0;
    for (int e = 0; e < 3; e++)
        while (cg_batch_iter_next(it, &x, &y))
            served += cg_tensor_size(y, 0);
    assert_int_equal(served, 75);
    assert_int_equal(cg_alloc_get_stats().malloc_calls, calls);
    cg_batch_iter_free(it);
}

/* ---- augmentation ---- */

static void test_augment_flip(void **state)
{
    (void)state;
    cg_dataset ds = make_dataset(6, 2, 3, 4);
    cg_tensor *orig = cg_tensor_clone(ds.images);
    cg_augment_options flip = {.flip_p = 1};
    cg_rng rng = cg_rng_init(5);
    assert_ok(cg_augment(ds.images, &flip, &rng));
    assert_int_equal(rng.offset, 6);
    const float *a = cg_tensor_data(ds.images), *o = cg_tensor_data(orig);
    for (int p = 0; p < 6 * 2 * 3; p++) /* every row of every channel mirrored */
        for (int c = 0; c < 4; c++)
            assert_close(a[p * 4 + c], o[p * 4 + 3 - c], 0, 0);
    assert_ok(cg_augment(ds.images, &flip, &rng)); /* twice: the identity */
    assert_memory_equal(a, o, 6 * 24 * sizeof(float));
    /* the default options change nothing */
    cg_augment_options none = {0};
    assert_ok(cg_augment(ds.images, &none, &rng));
    assert_memory_equal(a, o, 6 * 24 * sizeof(float));
    /* p = 0.5: some samples flipped, some not, the same ones for the same rng */
    cg_rng r1 = cg_rng_init(11);
    flip.flip_p = 0.5;
    cg_dataset big = make_dataset(64, 1, 1, 2);
    assert_ok(cg_augment(big.images, &flip, &r1));
    const float *bx = cg_tensor_data(big.images);
    int flipped = 0;
    for (int i = 0; i < 64; i++)
        flipped += bx[2 * i] > bx[2 * i + 1];
    assert_in_range(flipped, 16, 48);
    cg_tensor_free(orig);
    cg_dataset_free(&big);
    cg_dataset_free(&ds);
}

/* One bright pixel per image: a translation moves it by at most k in each direction, fills
 * with `fill`, and every shift in [-k, k] occurs. */
static void test_augment_translate(void **state)
{
    (void)state;
    enum { N = 200, H = 9, W = 9, K = 2 };
    int64_t shape[3] = {N, H, W};
    cg_tensor *x = cg_tensor_zeros(CG_F32, 3, shape);
    float *p = cg_tensor_data(x);
    for (int i = 0; i < N; i++)
        p[i * H * W + 4 * W + 4] = 1;
    cg_tensor *copy = cg_tensor_clone(x);
    cg_augment_options t = {.max_shift = K, .fill = 0};
    cg_rng rng = cg_rng_init(21), again = rng;
    assert_ok(cg_augment(x, &t, &rng));
    int seen_dx[2 * K + 1] = {0}, seen_dy[2 * K + 1] = {0};
    for (int i = 0; i < N; i++) {
        int where = -1, ones = 0;
        for (int j = 0; j < H * W; j++)
            if (p[i * H * W + j] == 1)
                where = j, ones++;
        assert_int_equal(ones, 1);
        int dy = where / W - 4, dx = where % W - 4;
        assert_in_range(dy + K, 0, 2 * K);
        assert_in_range(dx + K, 0, 2 * K);
        seen_dy[dy + K]++, seen_dx[dx + K]++;
    }
    for (int k = 0; k < 2 * K + 1; k++)
        assert_true(seen_dx[k] > 0 && seen_dy[k] > 0);
    /* deterministic: the same rng gives the same result */
    assert_ok(cg_augment(copy, &t, &again));
    assert_memory_equal(cg_tensor_data(copy), p, sizeof(float) * N * H * W);
    cg_tensor_free(copy);
    cg_tensor_free(x);
}

/* A known shift moves a known pixel; what is shifted in is `fill`; all channels alike. */
static void test_augment_fill_and_channels(void **state)
{
    (void)state;
    int64_t shape[4] = {1, 3, 5, 5};
    cg_tensor *x = cg_tensor_ones(CG_F32, 4, shape);
    cg_augment_options t = {.max_shift = 3, .fill = -7};
    cg_rng rng = cg_rng_init(1);
    /* draw until a nonzero shift has filled a border */
    int filled = 0;
    for (int tries = 0; tries < 20 && filled == 0; tries++) {
        cg_tensor_fill_(x, 1);
        assert_ok(cg_augment(x, &t, &rng));
        const float *p = cg_tensor_data(x);
        for (int j = 0; j < 25; j++)
            filled += p[j] == -7;
        for (int c = 1; c < 3; c++)
            assert_memory_equal(p, p + 25 * c, 25 * sizeof(float));
        for (int j = 0; j < 25; j++)
            assert_true(p[j] == 1 || p[j] == -7);
    }
    assert_true(filled > 0);
    cg_tensor_free(x);
    /* errors */
    int64_t bad[2] = {2, 3};
    cg_tensor *flat = cg_tensor_zeros(CG_F32, 2, bad);
    cg_rng r = cg_rng_init(0);
    assert_int_equal(cg_augment(flat, &t, &r), CG_ERR_SHAPE);
    t.max_shift = -1;
    assert_int_equal(cg_augment(flat, &t, &r), CG_ERR_VALUE);
    t.max_shift = 0;
    t.fill = NAN;
    assert_int_equal(cg_augment(flat, &t, &r), CG_ERR_VALUE);
    assert_int_equal(cg_augment(flat, NULL, &r), CG_ERR_NULL);
    assert_int_equal(cg_augment(flat, &t, NULL), CG_ERR_NULL);
    cg_tensor_free(flat);
    cg_tensor *f64 = cg_tensor_zeros(CG_F64, 3, (int64_t[]){1, 2, 2});
    t.fill = 0;
    assert_int_equal(cg_augment(f64, &t, &r), CG_ERR_DTYPE);
    cg_tensor_free(f64);
    assert_int_equal(r.offset, 0); /* failures draw nothing */
}

/* The exact geometry of one shift: compare with a direct computation. */
static void test_augment_matches_reference(void **state)
{
    (void)state;
    enum { N = 40, H = 5, W = 6, K = 3 };
    int64_t shape[3] = {N, H, W};
    cg_tensor *x = cg_tensor_zeros(CG_F32, 3, shape);
    float *p = cg_tensor_data(x);
    for (int i = 0; i < N * H * W; i++)
        p[i] = (float)(i % (H * W)) + 1;
    cg_augment_options t = {.flip_p = 0.5, .max_shift = K, .fill = 0};
    cg_rng rng = cg_rng_init(77);
    assert_ok(cg_augment(x, &t, &rng));
    /* each result is the original (values 1..30 by position, optionally mirrored) moved by
     * some (dy, dx) with |dy|, |dx| <= K: find one that explains every pixel */
    for (int i = 0; i < N; i++) {
        const float *r = p + i * H * W;
        bool found = false;
        for (int f = 0; f < 2 && !found; f++)
            for (int dy = -K; dy <= K && !found; dy++)
                for (int dx = -K; dx <= K && !found; dx++) {
                    bool ok = true;
                    for (int y = 0; y < H && ok; y++)
                        for (int c = 0; c < W && ok; c++) {
                            int sy = y - dy, sc = c - dx;
                            float want = 0;
                            if (sy >= 0 && sy < H && sc >= 0 && sc < W)
                                want = (float)(sy * W + (f ? W - 1 - sc : sc)) + 1;
                            ok = r[y * W + c] == want;
                        }
                    found = ok;
                }
        if (!found)
            fail_msg("sample %d is no flip-and-shift of the original", i);
    }
    cg_tensor_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_fashion_small),
        CG_TEST(test_fashion_errors),
        CG_TEST(test_split),
        CG_TEST(test_split_edges),
        CG_TEST(test_standardize_global),
        CG_TEST(test_standardize_feature),
        CG_TEST(test_standardize_errors),
        CG_TEST(test_iter_covers_epoch),
        CG_TEST(test_iter_in_order_and_drop_last),
        CG_TEST(test_iter_resume),
        CG_TEST(test_iter_no_alloc),
        CG_TEST(test_iter_errors),
        CG_TEST(test_bytes_match_f32),
        CG_TEST(test_select),
        CG_TEST(test_dataset_rules),
        CG_TEST(test_iter_bytes_no_alloc),
        CG_TEST(test_augment_flip),
        CG_TEST(test_augment_translate),
        CG_TEST(test_augment_fill_and_channels),
        CG_TEST(test_augment_matches_reference),
    };
    const struct CMUnitTest real[] = {
        CG_TEST(test_fashion_real),
    };
    return io_run_suite(__FILE__, tests, sizeof tests / sizeof tests[0], real,
                        sizeof real / sizeof real[0]);
}
