/* The cases of cgrad-bench. Each mirrors a function of tools/bench_torch.py line for line:
 * same model, batch, initial data sizes, optimizer (Adam, lr 1e-3, PyTorch's defaults),
 * loss, and a training step of the same shape: zero the gradients in place (PyTorch
 * 1.13's zero_grad), reset the tape, forward, cross-entropy, backward, optimizer step.
 * Inputs are f32 and already in memory; steps cycle through a few fixed batches (except
 * the epoch case, which holds its images as bytes and converts each batch, as cgrad-train
 * does). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <blis.h>

#include <cgrad/cgrad.h>

#include "bench.h"

static void *fail(const char *what)
{
    fprintf(stderr, "cgrad-bench: %s: %s\n", what, cg_last_error());
    return NULL;
}

/* Labels in [0, classes) as an i64 tensor of n entries, drawn from rng. */
static cg_tensor *labels(cg_rng *rng, int64_t n, int64_t classes)
{
    int64_t *v = malloc((size_t)n * sizeof *v);
    if (!v)
        return NULL;
    for (int64_t i = 0; i < n; i++)
        v[i] = (int64_t)(cg_rng_uniform(rng) * (double)classes) % classes;
    cg_tensor *t = cg_tensor_from_data(CG_I64, 1, &n, v);
    free(v);
    return t;
}

/* ================= training steps of a model with Adam ================= */

enum { MAX_BATCHES = 4 };

typedef struct trainer {
    cg_tape *tape;
    cg_module *model;
    cg_optimizer *opt;
    cg_tensor *x[MAX_BATCHES], *y[MAX_BATCHES];
    int nbatches, next;
    /* epoch: the dataset (its images as bytes) and its batch iterator */
    cg_dataset ds;
    cg_batch_iter *it;
} trainer;

static void trainer_free(void *ctx)
{
    trainer *t = ctx;
    if (!t)
        return;
    cg_optim_free(t->opt);
    cg_module_free(t->model);
    for (int i = 0; i < t->nbatches; i++) {
        cg_tensor_free(t->x[i]);
        cg_tensor_free(t->y[i]);
    }
    cg_batch_iter_free(t->it);
    cg_dataset_free(&t->ds);
    cg_tape_use(NULL);
    cg_tape_free(t->tape);
    free(t);
}

/* Take ownership of model, make Adam over its parameters and a tape. */
static trainer *trainer_new(cg_module *model)
{
    trainer *t = calloc(1, sizeof *t);
    if (!t || !model) {
        cg_module_free(model);
        free(t);
        return fail("model");
    }
    t->model = model;
    cg_module_train(model, true);
    int n = cg_module_num_parameters(model);
    cg_tensor **params = malloc((size_t)n * sizeof *params);
    for (int i = 0; params && i < n; i++)
        params[i] = cg_module_parameter(model, i, NULL);
    cg_adam_options ao = cg_adam_defaults(); /* lr 1e-3, as torch.optim.Adam */
    t->opt = params ? cg_optim_adam_new(params, n, &ao) : NULL;
    free(params);
    t->tape = cg_tape_new();
    if (!t->opt || !t->tape) {
        trainer_free(t);
        return fail("optimizer");
    }
    cg_tape_use(t->tape);
    return t;
}

/* nbatches fixed batches of inputs shaped [batch, rest...] and labels in [0, classes). */
static bool trainer_batches(trainer *t, int nbatches, int ndim, const int64_t *shape,
                            int64_t classes, cg_rng *rng)
{
    t->nbatches = nbatches;
    for (int i = 0; i < nbatches; i++) {
        t->x[i] = cg_tensor_normal(rng, CG_F32, ndim, shape, 0.0, 1.0);
        t->y[i] = labels(rng, shape[0], classes);
        if (!t->x[i] || !t->y[i])
            return false;
    }
    return true;
}

/* One step on (x, y), recorded on a tape the caller has reset: the order of torch's
 * zero_grad, forward, backward, step. */
static int train_on(trainer *t, cg_tensor *x, cg_tensor *y)
{
    cg_optim_zero_grad(t->opt, false);
    cg_tensor *loss = cg_cross_entropy(cg_module_forward(t->model, x), y, NULL);
    if (!loss || cg_backward(loss, NULL) != CG_OK || cg_optim_step(t->opt) != CG_OK) {
        fprintf(stderr, "cgrad-bench: step failed: %s\n", cg_last_error());
        return -1;
    }
    return 0;
}

static int trainer_step(void *ctx)
{
    trainer *t = ctx;
    int i = t->next;
    t->next = (t->next + 1) % t->nbatches;
    cg_tape_reset(t->tape);
    return train_on(t, t->x[i], t->y[i]);
}

/* Linear layers of the given widths with ReLU between them (nn.Sequential of nn.Linear
 * and nn.ReLU), and Dropout(dropout) after each ReLU when dropout > 0, PyTorch's default
 * initialisation. */
static cg_module *mlp(const int64_t *sizes, int nsizes, double dropout, cg_rng *rng)
{
    cg_module *mods[16];
    int n = 0;
    for (int i = 0; i + 1 < nsizes; i++) {
        mods[n++] = cg_linear_new(sizes[i], sizes[i + 1], true, CG_F32, rng);
        if (i + 2 < nsizes)
            mods[n++] = cg_activation_new(CG_ACT_RELU, 0, 0);
        if (i + 2 < nsizes && dropout > 0)
            mods[n++] = cg_dropout_new(dropout, 7 + (uint64_t)i);
    }
    return cg_sequential_new(mods, n);
}

static void *mlp_setup(const int64_t *sizes, int nsizes, int64_t batch, int nbatches)
{
    cg_rng rng = cg_rng_init(1);
    trainer *t = trainer_new(mlp(sizes, nsizes, 0, &rng));
    if (!t)
        return NULL;
    int64_t shape[2] = {batch, sizes[0]};
    if (!trainer_batches(t, nbatches, 2, shape, sizes[nsizes - 1], &rng)) {
        trainer_free(t);
        return fail("data");
    }
    return t;
}

static const int64_t MLP_SIZES[4] = {784, 256, 128, 10};
static const int64_t WIDE_SIZES[4] = {784, 2048, 2048, 10};
enum { WIDE_BATCH = 256 };

static void *mlp128_setup(const bench_opts *o, bench_info *info)
{
    (void)o, (void)info;
    return mlp_setup(MLP_SIZES, 4, 128, 4);
}

static void *mlp32_setup(const bench_opts *o, bench_info *info)
{
    (void)o, (void)info;
    return mlp_setup(MLP_SIZES, 4, 32, 4);
}

static void *wide256_setup(const bench_opts *o, bench_info *info)
{
    (void)o;
    info->flops = bench_wide_flops();
    return mlp_setup(WIDE_SIZES, 4, WIDE_BATCH, 2);
}

/* The CNN of cgrad-train (tools/train/model.c, its defaults): two blocks of conv3x3
 * (padding 1, no bias: BatchNorm's shift replaces it) + BatchNorm + ReLU + maxpool2 (32
 * then 64 channels), then FC 3136 -> 128 + ReLU + Dropout(0.3), FC 128 -> 10. */
static cg_module *cnn(cg_rng *rng)
{
    cg_conv2d_options conv = cg_conv2d_defaults(3, 3);
    conv.padding[0] = conv.padding[1] = 1;
    cg_conv2d_options pool = cg_pool2d_defaults(2, 2);
    cg_module *mods[] = {
        cg_conv2d_new(1, 32, &conv, false, CG_F32, rng),
        cg_batch_norm2d_new(32, NULL, CG_F32),
        cg_activation_new(CG_ACT_RELU, 0, 0),
        cg_max_pool2d_new(&pool),
        cg_conv2d_new(32, 64, &conv, false, CG_F32, rng),
        cg_batch_norm2d_new(64, NULL, CG_F32),
        cg_activation_new(CG_ACT_RELU, 0, 0),
        cg_max_pool2d_new(&pool),
        cg_flatten_new(1, -1),
        cg_linear_new(3136, 128, true, CG_F32, rng),
        cg_activation_new(CG_ACT_RELU, 0, 0),
        cg_dropout_new(0.3, 7),
        cg_linear_new(128, 10, true, CG_F32, rng),
    };
    return cg_sequential_new(mods, (int)(sizeof mods / sizeof mods[0]));
}

static void *cnn128_setup(const bench_opts *o, bench_info *info)
{
    (void)o, (void)info;
    cg_rng rng = cg_rng_init(1);
    trainer *t = trainer_new(cnn(&rng));
    if (!t)
        return NULL;
    int64_t shape[4] = {128, 1, 28, 28};
    if (!trainer_batches(t, 2, 4, shape, 10, &rng)) {
        trainer_free(t);
        return fail("data");
    }
    return t;
}

/* ---- an epoch: the peak memory of training over a dataset held in memory ---- */

/* cgrad-train's MLP epoch as cgrad-train runs it (tools/train/loop.c, model.c, its
 * defaults), with the data as it holds it: the images as bytes [N, 1, 28, 28] (as the IDX
 * files store them: 47 MB for 60000, where f32 would take 188), a fresh shuffle each
 * epoch, each batch of 128 scaled by 1/255 and standardized with the set's global
 * statistics by the batch iterator as it copies it out, the last partial batch dropped;
 * Flatten, then 784-512-256-10 with ReLU and Dropout(0.2) after each hidden layer, Adam.
 * Not mirrored: the learning-rate schedule and the running loss and accuracy, which cost
 * neither memory nor time worth measuring. The bytes are random, not Fashion-MNIST's, so
 * the case needs no data package. */
enum { EPOCH_N = 60000, EPOCH_QUICK_N = 6000, EPOCH_BATCH = 128 };
static const int64_t TRAIN_MLP_SIZES[4] = {784, 512, 256, 10};
static const double EPOCH_DROPOUT = 0.2;

/* n random images as bytes and labels in [0, 10). */
static cg_status epoch_data(int64_t n, cg_rng *rng, cg_dataset *ds)
{
    int64_t shape[4] = {n, 1, 28, 28};
    ds->bytes = cg_bytes_new(4, shape);
    ds->labels = labels(rng, n, 10);
    if (!ds->bytes || !ds->labels)
        return CG_ERR_NOMEM;
    uint8_t *v = cg_bytes_data(ds->bytes);
    for (int64_t i = 0; i < n * 784; i++)
        v[i] = (uint8_t)(cg_rng_uniform(rng) * 256.0);
    return CG_OK;
}

static void *epoch_setup(const bench_opts *o, bench_info *info)
{
    info->single_run = true;
    cg_rng rng = cg_rng_init(1);
    cg_module *layers[2] = {cg_flatten_new(1, -1), mlp(TRAIN_MLP_SIZES, 4, EPOCH_DROPOUT, &rng)};
    trainer *t = trainer_new(cg_sequential_new(layers, 2));
    if (!t)
        return NULL;
    cg_standardizer st = {0};
    cg_batch_iter_options bo = {.batch_size = EPOCH_BATCH, .shuffle = true, .drop_last = true,
                                .seed = 1, .standardize = &st};
    if (epoch_data(o->quick ? EPOCH_QUICK_N : EPOCH_N, &rng, &t->ds) != CG_OK ||
        cg_standardizer_fit(&t->ds, CG_STANDARDIZE_GLOBAL, 1.0 / 255.0, 0.0, &st) != CG_OK ||
        !(t->it = cg_batch_iter_new(&t->ds, &bo))) {
        cg_standardizer_free(&st);
        trainer_free(t);
        return fail("data");
    }
    cg_standardizer_free(&st);
    return t;
}

/* One epoch: the iterator's batches (torch: a uint8 gather, .float(), the same affine map). */
static int epoch_step(void *ctx)
{
    trainer *t = ctx;
    cg_tensor *x, *y;
    while (cg_batch_iter_next(t->it, &x, &y)) {
        cg_tape_reset(t->tape);
        if (train_on(t, x, y) != 0)
            return -1;
    }
    return 0;
}

/* ================= opchain: the cost of one small op ================= */

enum { CHAIN_N = 16, CHAIN_REPS = 20 };

typedef struct chain {
    cg_tape *tape;
    cg_tensor *x, *w, *b;
} chain;

static void chain_free(void *ctx)
{
    chain *c = ctx;
    if (!c)
        return;
    cg_tensor_free(c->x);
    cg_tensor_free(c->w);
    cg_tensor_free(c->b);
    cg_tape_use(NULL);
    cg_tape_free(c->tape);
    free(c);
}

static void *opchain_setup(const bench_opts *o, bench_info *info)
{
    (void)o;
    info->ops = 5 * CHAIN_REPS;
    chain *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    cg_rng rng = cg_rng_init(1);
    const int64_t n = CHAIN_N;
    c->x = cg_tensor_normal(&rng, CG_F32, 1, &n, 0, 1);
    c->w = cg_tensor_normal(&rng, CG_F32, 1, &n, 0, 1);
    c->b = cg_tensor_normal(&rng, CG_F32, 1, &n, 0, 1);
    c->tape = cg_tape_new();
    if (!c->x || !c->w || !c->b || !c->tape || cg_tensor_set_requires_grad(c->x, true) ||
        cg_tensor_set_requires_grad(c->w, true) || cg_tensor_set_requires_grad(c->b, true)) {
        chain_free(c);
        return fail("opchain");
    }
    cg_tape_use(c->tape);
    return c;
}

/* 100 ops (mul, add, tanh, scale, exp; 20 times), sum, backward; gradients set to none
 * first, as torch's t.grad = None. */
static int opchain_step(void *ctx)
{
    chain *c = ctx;
    cg_tape_reset(c->tape);
    cg_tensor_zero_grad(c->x);
    cg_tensor_zero_grad(c->w);
    cg_tensor_zero_grad(c->b);
    cg_tensor *h = c->x;
    for (int i = 0; i < CHAIN_REPS; i++) {
        h = cg_mul(h, c->w);
        h = cg_add(h, c->b);
        h = cg_tanh(h);
        h = cg_mul_scalar(h, 1.5);
        h = cg_exp(h);
    }
    cg_tensor *s = cg_sum(h, NULL, 0, false);
    if (!s || cg_backward(s, NULL) != CG_OK) {
        fprintf(stderr, "cgrad-bench: opchain failed: %s\n", cg_last_error());
        return -1;
    }
    return 0;
}

/* ================= gemm: BLIS sgemm at the sizes of wide256 ================= */

/* One product of a wide256 step, C [m, n] = A [m, k] B [k, n], with the layouts cg_linear
 * and its backward hand BLIS: fwd X W^T (B column-stored: W^T is a view), dx G W (both
 * row-stored), dw X^T G (A column-stored: X^T is a view). */
typedef struct product {
    int64_t m, n, k;
    int64_t ars, acs, brs, bcs;
    float *a, *b, *c;
} product;

enum { MAX_PRODUCTS = 8 };

typedef struct gemm_bench {
    product p[MAX_PRODUCTS];
    int n, threads;
} gemm_bench;

/* The products of wide256, in the order of bench_torch.py's wide_products(). */
static int wide_products(product *p)
{
    int n = 0;
    for (int i = 0; i < 3; i++) {
        int64_t in = WIDE_SIZES[i], out = WIDE_SIZES[i + 1], b = WIDE_BATCH;
        p[n++] = (product){b, out, in, in, 1, 1, in, NULL, NULL, NULL};  /* X W^T */
        p[n++] = (product){in, out, b, 1, in, out, 1, NULL, NULL, NULL}; /* X^T G */
        if (i > 0)
            p[n++] = (product){b, in, out, out, 1, in, 1, NULL, NULL, NULL}; /* G W */
    }
    return n;
}

double bench_wide_flops(void)
{
    product p[MAX_PRODUCTS];
    int n = wide_products(p);
    double f = 0;
    for (int i = 0; i < n; i++)
        f += 2.0 * (double)p[i].m * (double)p[i].n * (double)p[i].k;
    return f;
}

static void gemm_free(void *ctx)
{
    gemm_bench *g = ctx;
    if (!g)
        return;
    for (int i = 0; i < g->n; i++) {
        free(g->p[i].a);
        free(g->p[i].b);
        free(g->p[i].c);
    }
    free(g);
}

static float *random_floats(int64_t n, cg_rng *rng)
{
    float *v = malloc((size_t)n * sizeof *v);
    for (int64_t i = 0; v && i < n; i++)
        v[i] = (float)(2 * cg_rng_uniform(rng) - 1);
    return v;
}

static void *gemm_setup(const bench_opts *o, bench_info *info)
{
    info->flops = bench_wide_flops();
    gemm_bench *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->threads = o->threads;
    g->n = wide_products(g->p);
    cg_rng rng = cg_rng_init(3);
    for (int i = 0; i < g->n; i++) {
        product *p = &g->p[i];
        p->a = random_floats(p->m * p->k, &rng);
        p->b = random_floats(p->k * p->n, &rng);
        p->c = random_floats(p->m * p->n, &rng);
        if (!p->a || !p->b || !p->c) {
            gemm_free(g);
            return NULL;
        }
    }
    return g;
}

/* The products through BLIS's typed expert API with the thread count set in an rntm_t,
 * as lib/ops/gemm.c calls it, each on BLIS's faster path at its shape: packed unless a
 * dimension is under 64 (the 10-column layer's), where the small-matrix path wins. */
static int gemm_step(void *ctx)
{
    gemm_bench *g = ctx;
    float one = 1.0f, zero = 0.0f;
    for (int i = 0; i < g->n; i++) {
        product *p = &g->p[i];
        rntm_t rntm;
        bli_rntm_init(&rntm);
        bli_rntm_set_num_threads(g->threads, &rntm);
        if (p->m >= 64 && p->n >= 64 && p->k >= 64)
            bli_rntm_disable_l3_sup(&rntm);
        bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, p->m, p->n, p->k, &one, p->a, p->ars,
                     p->acs, p->b, p->brs, p->bcs, &zero, p->c, p->n, 1, NULL, &rntm);
    }
    return 0;
}

/* ================= the table ================= */

const bench_case bench_cases[] = {
    {"mlp128", "MLP 784-256-128-10, batch 128: forward, backward, Adam", 0.5, mlp128_setup,
     trainer_step, trainer_free},
    {"mlp32", "MLP 784-256-128-10, batch 32: forward, backward, Adam", 0.4, mlp32_setup,
     trainer_step, trainer_free},
    {"wide256", "MLP 784-2048-2048-10, batch 256: forward, backward, Adam", 0.9, wide256_setup,
     trainer_step, trainer_free},
    {"cnn128", "cgrad-train's CNN, batch 128: forward, backward, Adam", 1.0, cnn128_setup,
     trainer_step, trainer_free},
    {"opchain", "100 elementwise ops on 16 elements, forward and backward", 0.1,
     opchain_setup, opchain_step, chain_free},
    {"gemm", "the 8 sgemm products of a wide256 step (BLIS vs torch.mm on OpenBLAS)", 0,
     gemm_setup, gemm_step, gemm_free},
    {"epoch", "an epoch of cgrad-train's MLP over 60000 images held as bytes (peak RSS)", 0,
     epoch_setup, epoch_step, trainer_free},
};
const int bench_ncases = (int)(sizeof bench_cases / sizeof bench_cases[0]);

const bench_case *bench_find(const char *name)
{
    for (int i = 0; i < bench_ncases; i++)
        if (!strcmp(bench_cases[i].name, name))
            return &bench_cases[i];
    return NULL;
}
