/*
 * The training run: data, model, optimizer and schedule; the loop of steps and epochs;
 * evaluation; checkpoints and resuming.
 *
 * Resuming is exact. Everything a step depends on is either rebuilt the same way from the
 * options (data split, standardization, the network's structure) or saved in the
 * checkpoint: the weights and buffers, the optimizer's and the schedule's states, the
 * dropout generator (the checkpoint's rng), and the position of the batch iterator, whose
 * shuffles and augmentations are pure functions of (seed, epoch, position). The loop's own
 * counters (the epoch's running loss, early stopping) go into the checkpoint's metadata as
 * exact decimal text. No clock reading enters a checkpoint, so an interrupted run and an
 * uninterrupted one write byte-identical files (same seed, same thread count).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

enum { MAX_PARAMS = 128, EVAL_BATCH = 500, PATH_LEN = 4096 };

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

typedef struct run {
    const train_opts *o;
    char out[PATH_LEN], path_last[PATH_LEN], path_best[PATH_LEN], path_metrics[PATH_LEN];
    cg_dataset train, val, test;   /* the images as bytes */
    cg_standardizer st;            /* fitted on train, applied by the batch iterators */
    float fill; /* the standardized value of a blank pixel, for shifted-in pixels */
    cg_module *net;
    cg_tensor *params[MAX_PARAMS];
    int nparams;
    cg_optimizer *opt;
    cg_schedule *sched;
    cg_batch_iter *it;
    cg_augment_options augment;
    cg_rng rng; /* dropout's generator */
    cg_tape *tape;
    cg_metrics *metrics;
    train_config cfg;
    int64_t steps_per_epoch;
    /* Saved in checkpoints. */
    int64_t epoch, step;           /* epochs completed, optimizer steps taken */
    double loss_sum;               /* this epoch so far: sum of batch mean losses x sizes */
    int64_t correct, seen;
    double best_acc;               /* best validation accuracy (-1: none yet) */
    int64_t best_epoch, bad_epochs;
    /* Not saved. */
    double seconds0, start;        /* seconds logged by earlier sessions, this one's start */
} run;

static int error(const char *what)
{
    fprintf(stderr, TRAIN_PROG ": %s: %s\n", what, cg_last_error());
    return 1;
}

/* ---- data ---- */

/* ds cut to its first n samples (n >= its size: unchanged): a view, nothing copied. */
static cg_status truncate_dataset(cg_dataset *ds, int64_t n)
{
    if (n <= 0 || n >= cg_dataset_size(ds))
        return CG_OK;
    int64_t *first = malloc((size_t)n * sizeof *first);
    if (!first)
        return CG_ERR_NOMEM;
    for (int64_t i = 0; i < n; i++)
        first[i] = i;
    cg_dataset cut;
    cg_status s = cg_dataset_select(ds, first, n, &cut);
    free(first);
    if (s == CG_OK) {
        cg_dataset_free(ds);
        *ds = cut;
    }
    return s;
}

/* The images stay as the files' bytes (47 MB for the training set, where f32 would take
 * 188): the split holds views of their rows, and the batch iterators scale and standardize
 * each batch as they copy it out. */
static int load_data(run *r)
{
    const train_opts *o = r->o;
    const char *dir = o->data ? o->data : CG_FASHION_MNIST_DIR;
    cg_dataset full = {0};
    for (int part = 0; part < 2; part++) {
        cg_dataset *ds = part == 0 ? &full : &r->test;
        if (cg_fashion_mnist_load(dir, part == 0, ds) != CG_OK) {
            /* The library's message names the missing file and the Debian package. */
            fprintf(stderr, TRAIN_PROG ": cannot load Fashion-MNIST (--data %s): %s\n", dir,
                    cg_last_error());
            cg_dataset_free(&full);
            return 1;
        }
    }
    if (truncate_dataset(&full, o->limit_train) != CG_OK ||
        truncate_dataset(&r->test, o->limit_test) != CG_OK) {
        cg_dataset_free(&full);
        return error("cutting the data sets");
    }
    int64_t n = cg_dataset_size(&full);
    if (o->val_size + o->batch_size > n) {
        fprintf(stderr, TRAIN_PROG ": %" PRId64 " training samples cannot hold --val-size %" PRId64
                " plus one batch of %" PRId64 "\n", n, o->val_size, o->batch_size);
        cg_dataset_free(&full);
        return 1;
    }
    cg_status s = cg_dataset_split(&full, o->val_size, train_seed(o->seed, SEED_SPLIT), &r->train,
                                   &r->val);
    cg_dataset_free(&full);
    if (s != CG_OK)
        return error("splitting off the validation set");
    /* Statistics of the training split only, applied to every set. */
    double min_std = o->standardize == CG_STANDARDIZE_FEATURE ? 0.05 : 0.0;
    s = cg_standardizer_fit(&r->train, o->standardize, 1.0 / 255.0, min_std, &r->st);
    r->fill = 0;
    if (s == CG_OK && o->standardize == CG_STANDARDIZE_GLOBAL)
        r->fill = (float)(-cg_tensor_item(r->st.mean) / cg_tensor_item(r->st.std));
    return s == CG_OK ? 0 : error("standardizing the images");
}

/* ---- optimizer and schedule ---- */

static cg_optimizer *make_optimizer(run *r)
{
    const train_opts *o = r->o;
    /* Weight decay on the weights (2-d and more), not on biases and normalization scales. */
    cg_tensor *decay[MAX_PARAMS], *plain[MAX_PARAMS];
    int nd = 0, np = 0;
    for (int i = 0; i < r->nparams; i++) {
        if (cg_tensor_ndim(r->params[i]) >= 2)
            decay[nd++] = r->params[i];
        else
            plain[np++] = r->params[i];
    }
    cg_param_group groups[2];
    int ng = 0;
    if (nd)
        groups[ng++] = (cg_param_group){decay, nd, NAN, o->weight_decay};
    if (np)
        groups[ng++] = (cg_param_group){plain, np, NAN, 0.0};
    switch (o->optimizer) {
    case OPT_SGD:
    case OPT_NESTEROV: {
        cg_sgd_options so = cg_sgd_defaults();
        so.lr = o->lr;
        so.momentum = o->momentum;
        so.nesterov = o->optimizer == OPT_NESTEROV;
        return cg_optim_sgd_new_groups(groups, ng, &so);
    }
    case OPT_ADAM:
    case OPT_ADAMW: {
        cg_adam_options ao = o->optimizer == OPT_ADAM ? cg_adam_defaults() : cg_adamw_defaults();
        ao.lr = o->lr;
        return o->optimizer == OPT_ADAM ? cg_optim_adam_new_groups(groups, ng, &ao)
                                        : cg_optim_adamw_new_groups(groups, ng, &ao);
    }
    case OPT_RMSPROP: {
        cg_rmsprop_options ro = cg_rmsprop_defaults();
        ro.lr = o->lr;
        return cg_optim_rmsprop_new_groups(groups, ng, &ro);
    }
    case OPT_ADAGRAD: {
        cg_adagrad_options ao = cg_adagrad_defaults();
        ao.lr = o->lr;
        return cg_optim_adagrad_new_groups(groups, ng, &ao);
    }
    case OPT_ADADELTA: {
        cg_adadelta_options ao = cg_adadelta_defaults();
        ao.lr = o->lr;
        return cg_optim_adadelta_new_groups(groups, ng, &ao);
    }
    case OPT_ADAMAX: {
        cg_adamax_options ao = cg_adamax_defaults();
        ao.lr = o->lr;
        return cg_optim_adamax_new_groups(groups, ng, &ao);
    }
    case OPT_NADAM: {
        cg_nadam_options no = cg_nadam_defaults();
        no.lr = o->lr;
        return cg_optim_nadam_new_groups(groups, ng, &no);
    }
    case OPT_RADAM: {
        cg_radam_options ro = cg_radam_defaults();
        ro.lr = o->lr;
        return cg_optim_radam_new_groups(groups, ng, &ro);
    }
    }
    return NULL;
}

/* The schedule over the whole run, stepped once per optimizer step; warmup in front. */
static cg_schedule *make_schedule(run *r)
{
    const train_opts *o = r->o;
    int64_t total = (int64_t)o->epochs * r->steps_per_epoch;
    int64_t warm = (int64_t)llround(o->warmup * (double)r->steps_per_epoch);
    if (warm >= total)
        warm = total - 1;
    int64_t rest = total - warm > 0 ? total - warm : 1;
    cg_schedule *s = NULL;
    switch (o->schedule) {
    case SCHED_CONSTANT: s = cg_schedule_constant_new(o->lr, 1.0, 1); break;
    case SCHED_COSINE: s = cg_schedule_cosine_new(o->lr, rest, 0.0); break;
    case SCHED_STEP:
        s = cg_schedule_step_new(o->lr, (int64_t)o->step_epochs * r->steps_per_epoch, o->gamma);
        break;
    case SCHED_EXPONENTIAL:
        s = cg_schedule_exponential_new(o->lr, pow(o->gamma, 1.0 / (double)r->steps_per_epoch));
        break;
    case SCHED_LINEAR: s = cg_schedule_linear_new(o->lr, 1.0, 0.0, rest); break;
    case SCHED_ONECYCLE: return cg_schedule_onecycle_new(o->lr, total, NULL);
    }
    return warm > 0 ? cg_schedule_warmup_new(s, warm, 0.1) : s;
}

/* ---- steps and evaluation ---- */

/* Samples of the batch whose largest logit is at the label. */
static int64_t count_correct(cg_tensor *logits, const cg_tensor *labels)
{
    if (!cg_tensor_is_contiguous(logits))
        logits = cg_contiguous(logits);
    if (!logits)
        return 0;
    const float *z = cg_tensor_data(logits);
    const int64_t *y = cg_tensor_data(labels);
    int64_t b = cg_tensor_size(logits, 0), c = cg_tensor_size(logits, 1), correct = 0;
    for (int64_t i = 0; i < b; i++) {
        int64_t best = 0;
        for (int64_t k = 1; k < c; k++)
            if (z[i * c + k] > z[i * c + best])
                best = k;
        correct += best == y[i];
    }
    return correct;
}

/* Mean cross-entropy and accuracy of the model (eval mode, no gradients) on ds. */
static cg_status evaluate(run *r, const cg_dataset *ds, double *loss, double *acc)
{
    *loss = *acc = NAN;
    if (cg_dataset_size(ds) == 0)
        return CG_OK;
    cg_batch_iter_options bo = {.batch_size = EVAL_BATCH, .standardize = &r->st};
    cg_batch_iter *it = cg_batch_iter_new(ds, &bo);
    if (!it)
        return cg_last_status();
    cg_class_loss_options sum = cg_class_loss_defaults();
    sum.reduction = CG_REDUCTION_SUM;
    cg_module_train(r->net, false);
    bool grad = cg_set_grad_enabled(false);
    cg_tensor *x, *y;
    double total = 0;
    int64_t correct = 0;
    cg_status s = CG_OK;
    while (cg_batch_iter_next(it, &x, &y)) {
        cg_tape_reset(r->tape);
        cg_tensor *logits = cg_module_forward(r->net, x);
        cg_tensor *l = cg_cross_entropy(logits, y, &sum);
        if (!l) {
            s = cg_last_status();
            break;
        }
        total += cg_tensor_item(l);
        correct += count_correct(logits, y);
    }
    cg_tape_reset(r->tape);
    cg_set_grad_enabled(grad);
    cg_module_train(r->net, true);
    cg_batch_iter_free(it);
    int64_t n = cg_dataset_size(ds);
    *loss = total / (double)n;
    *acc = (double)correct / (double)n;
    return s;
}

/* One optimizer step on the batch (x, y); *loss receives the batch's mean loss. */
static cg_status train_step(run *r, cg_tensor *x, cg_tensor *y, double *loss)
{
    const train_opts *o = r->o;
    cg_class_loss_options ce = cg_class_loss_defaults();
    ce.label_smoothing = o->label_smoothing;
    cg_tape_reset(r->tape);
    cg_optim_zero_grad(r->opt, false);
    cg_tensor *logits = cg_module_forward(r->net, x);
    cg_tensor *l = cg_cross_entropy(logits, y, &ce);
    if (!l || cg_backward(l, NULL) != CG_OK)
        return cg_last_status();
    *loss = cg_tensor_item(l);
    if (!isfinite(*loss)) {
        fprintf(stderr, TRAIN_PROG ": the loss is %g at step %" PRId64 " (try a smaller --lr "
                "or --clip)\n", *loss, r->step + 1);
        return CG_ERR_VALUE;
    }
    r->correct += count_correct(logits, y);
    if (o->clip > 0 && cg_clip_grad_norm(r->params, r->nparams, o->clip, 2.0, NULL) != CG_OK)
        return cg_last_status();
    double lr = cg_schedule_lr(r->sched);
    for (int g = 0; g < cg_optim_num_groups(r->opt); g++)
        if (cg_optim_set_lr(r->opt, g, lr) != CG_OK)
            return cg_last_status();
    if (cg_optim_step(r->opt) != CG_OK || cg_schedule_step(r->sched) != CG_OK)
        return cg_last_status();
    r->step++;
    return CG_OK;
}

/* ---- checkpoints ---- */

enum { NSTATE = 8, STATE_LEN = 40 };

static cg_status save_checkpoint(run *r, const char *path)
{
    static const char *const state_keys[NSTATE] = {
        "train.position", "train.loss_sum", "train.correct",    "train.seen",
        "train.best_accuracy", "train.best_epoch", "train.bad_epochs", "train.threads",
    };
    char state[NSTATE][STATE_LEN];
    snprintf(state[0], STATE_LEN, "%" PRId64, cg_batch_iter_position(r->it));
    snprintf(state[1], STATE_LEN, "%.17g", r->loss_sum);
    snprintf(state[2], STATE_LEN, "%" PRId64, r->correct);
    snprintf(state[3], STATE_LEN, "%" PRId64, r->seen);
    snprintf(state[4], STATE_LEN, "%.17g", r->best_acc);
    snprintf(state[5], STATE_LEN, "%" PRId64, r->best_epoch);
    snprintf(state[6], STATE_LEN, "%" PRId64, r->bad_epochs);
    snprintf(state[7], STATE_LEN, "%d", cg_get_num_threads());
    const char *keys[TRAIN_MAX_CONFIG + NSTATE], *values[TRAIN_MAX_CONFIG + NSTATE];
    int n = 0;
    for (int i = 0; i < r->cfg.n; i++, n++)
        keys[n] = r->cfg.keys[i], values[n] = r->cfg.values[i];
    for (int i = 0; i < NSTATE; i++, n++)
        keys[n] = state_keys[i], values[n] = state[i];
    cg_checkpoint_meta meta = {
        .epoch = r->epoch,
        .step = r->step,
        .rng = r->rng,
        .extra_keys = keys,
        .extra_values = values,
        .nextra = n,
    };
    return cg_checkpoint_save(path, r->net, r->opt, r->sched, &meta);
}

static bool meta_int(const cg_safetensors *st, const char *key, int64_t *out)
{
    const char *v = cg_safetensors_metadata(st, key);
    char *end;
    if (!v)
        return false;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end || errno)
        return false;
    *out = x;
    return true;
}

static bool meta_double(const cg_safetensors *st, const char *key, double *out)
{
    const char *v = cg_safetensors_metadata(st, key);
    char *end;
    if (!v)
        return false;
    *out = strtod(v, &end);
    return end != v && !*end;
}

/* Restore the run from o->resume: check that it was made with the same settings, then
 * load every state. */
static int resume(run *r)
{
    const char *path = r->o->resume;
    cg_safetensors *st = cg_safetensors_open(path);
    if (!st)
        return error("--resume");
    for (int i = 0; i < r->cfg.n; i++) {
        const char *saved = cg_safetensors_metadata(st, r->cfg.keys[i]);
        if (!saved) {
            fprintf(stderr, TRAIN_PROG ": --resume: %s is not a " TRAIN_PROG " checkpoint (no %s)\n",
                    path, r->cfg.keys[i]);
            cg_safetensors_close(st);
            return 1;
        }
        if (strcmp(saved, r->cfg.values[i])) {
            char opt[64];
            snprintf(opt, sizeof opt, "--%s", r->cfg.keys[i] + strlen("train."));
            for (char *p = opt; *p; p++)
                *p = *p == '_' ? '-' : *p;
            fprintf(stderr, TRAIN_PROG ": --resume: %s was made with %s %s, not %s: resume "
                    "with the options of the interrupted run\n", path, opt, saved,
                    r->cfg.values[i]);
            cg_safetensors_close(st);
            return 1;
        }
    }
    int64_t position = 0, threads = 0;
    bool ok = meta_int(st, "train.position", &position) &&
              meta_double(st, "train.loss_sum", &r->loss_sum) &&
              meta_int(st, "train.correct", &r->correct) && meta_int(st, "train.seen", &r->seen) &&
              meta_double(st, "train.best_accuracy", &r->best_acc) &&
              meta_int(st, "train.best_epoch", &r->best_epoch) &&
              meta_int(st, "train.bad_epochs", &r->bad_epochs) &&
              meta_int(st, "train.threads", &threads);
    cg_safetensors_close(st);
    if (!ok) {
        fprintf(stderr, TRAIN_PROG ": --resume: %s lacks the loop's state (train.position, ...)\n",
                path);
        return 1;
    }
    cg_checkpoint_meta meta;
    if (cg_checkpoint_load(path, r->net, r->opt, r->sched, &meta) != CG_OK)
        return error("--resume");
    r->epoch = meta.epoch;
    r->step = meta.step;
    r->rng = meta.rng;
    if (cg_batch_iter_seek(r->it, r->epoch, position) != CG_OK)
        return error("--resume");
    if (threads != cg_get_num_threads())
        fprintf(stderr, TRAIN_PROG ": note: the checkpoint was written with %" PRId64 " threads, "
                "this run has %d: the result will differ in the last bits from an uninterrupted "
                "run\n", threads, cg_get_num_threads());
    printf("resumed from %s: epoch %" PRId64 ", step %" PRId64 "\n", path, r->epoch, r->step);
    return 0;
}

/* ---- the run ---- */

static int setup(run *r)
{
    const train_opts *o = r->o;
    cg_set_num_threads(o->threads);
    snprintf(r->out, sizeof r->out, "%s", o->out ? o->out : "");
    if (!o->out)
        snprintf(r->out, sizeof r->out, "runs/%s", model_names[o->model]);
    if (!join_path(r->path_last, PATH_LEN, r->out, "last.safetensors") ||
        !join_path(r->path_best, PATH_LEN, r->out, "checkpoint.safetensors") ||
        !join_path(r->path_metrics, PATH_LEN, r->out, "metrics.csv")) {
        fprintf(stderr, TRAIN_PROG ": output folder name too long\n");
        return 1;
    }
    if (load_data(r) != 0 || make_dirs(r->out) != 0)
        return 1;
    train_config_make(o, &r->cfg);

    r->rng = cg_rng_init(train_seed(o->seed, SEED_DROPOUT));
    r->net = model_build(o, &r->rng);
    if (!r->net)
        return error("building the model");
    r->nparams = cg_module_num_parameters(r->net);
    if (r->nparams > MAX_PARAMS) {
        fprintf(stderr, TRAIN_PROG ": too many parameter tensors\n");
        return 1;
    }
    for (int i = 0; i < r->nparams; i++)
        r->params[i] = cg_module_parameter(r->net, i, NULL);

    r->augment = (cg_augment_options){.flip_p = 0.5, .max_shift = 2, .fill = r->fill};
    cg_batch_iter_options bo = {
        .batch_size = o->batch_size,
        .shuffle = true,
        .drop_last = true, /* no batch of one sample for batch norm */
        .seed = train_seed(o->seed, SEED_BATCHES),
        .augment = o->augment ? &r->augment : NULL,
        .standardize = &r->st,
    };
    r->it = cg_batch_iter_new(&r->train, &bo);
    if (!r->it)
        return error("batches");
    r->steps_per_epoch = cg_batch_iter_num_batches(r->it);
    if (!(r->opt = make_optimizer(r)))
        return error("optimizer");
    if (!(r->sched = make_schedule(r)))
        return error("schedule");
    if (!(r->tape = cg_tape_new()))
        return error("tape");
    cg_tape_use(r->tape);
    r->best_acc = -1;
    r->best_epoch = -1;
    if (o->resume && resume(r) != 0)
        return 1;

    /* The metrics log continues a resumed run's (rows after its checkpoint dropped). */
    if (o->resume && metrics_rewind(r->path_metrics, r->step, &r->seconds0) != CG_OK)
        return error(r->path_metrics);
    int ncols;
    const char *const *cols = cg_metrics_training_columns(&ncols);
    r->metrics = cg_metrics_open(r->path_metrics, cols, ncols, o->resume != NULL);
    if (!r->metrics)
        return error("metrics log");

    cg_rng keep = r->rng; /* the diagram's forward draws dropout masks: put the generator back */
    if (write_diagram(r->net, &r->train, &r->st, o->batch_size, r->out) != CG_OK)
        fprintf(stderr, TRAIN_PROG ": warning: no diagram: %s\n", cg_last_error());
    r->rng = keep;
    cg_tape_use(r->tape);
    return 0;
}

static void describe(const run *r)
{
    const train_opts *o = r->o;
    char arch[256];
    size_t len = 0;
    if (o->model == MODEL_MLP) {
        len += (size_t)snprintf(arch, sizeof arch, "mlp 784");
        for (int i = 0; i < o->nhidden && len < sizeof arch; i++)
            len += (size_t)snprintf(arch + len, sizeof arch - len, "-%d", o->hidden[i]);
        snprintf(arch + len, sizeof arch - len, "-10");
    } else {
        snprintf(arch, sizeof arch, "cnn conv%d-conv%d-fc%d-10", o->channels[0], o->channels[1],
                 o->fc);
    }
    printf("%s, %s norm, %s, dropout %g: %" PRId64 " parameters\n", arch, norm_names[o->norm],
           act_names[o->activation], o->dropout, cg_module_num_elements(r->net));
    printf("%s lr %g, %s schedule, warmup %g epochs, weight decay %g, batch %" PRId64
           ", %d epochs, %d threads, seed %" PRIu64 "\n", optim_names[o->optimizer], o->lr,
           sched_names[o->schedule], o->warmup, o->weight_decay, o->batch_size, o->epochs,
           cg_get_num_threads(), o->seed);
    printf("data: %" PRId64 " training, %" PRId64 " validation, %" PRId64 " test samples%s; "
           "outputs in %s\n", cg_dataset_size(&r->train), cg_dataset_size(&r->val),
           cg_dataset_size(&r->test), o->augment ? " (augmented)" : "", r->out);
    fflush(stdout);
}

/* End of an epoch: evaluate, log, keep the best model, save the state to resume from. */
static int end_epoch(run *r, progress *p)
{
    const train_opts *o = r->o;
    r->epoch++;
    double train_loss = r->seen ? r->loss_sum / (double)r->seen : NAN;
    double train_acc = r->seen ? (double)r->correct / (double)r->seen : NAN;
    double val_loss, val_acc;
    if (evaluate(r, &r->val, &val_loss, &val_acc) != CG_OK)
        return error("validation");
    bool improved = cg_dataset_size(&r->val) == 0 || val_acc > r->best_acc;
    if (improved) {
        r->best_acc = cg_dataset_size(&r->val) ? val_acc : r->best_acc;
        r->best_epoch = r->epoch;
        r->bad_epochs = 0;
    } else {
        r->bad_epochs++;
    }
    r->loss_sum = 0;
    r->correct = r->seen = 0;
    double seconds = r->seconds0 + now_seconds() - r->start;
    double row[7] = {(double)r->epoch, (double)r->step, train_loss, val_loss, val_acc,
                     cg_schedule_lr(r->sched), seconds};
    if (cg_metrics_row(r->metrics, row) != CG_OK)
        return error("metrics log");
    if (improved && save_checkpoint(r, r->path_best) != CG_OK)
        return error("checkpoint");
    if (save_checkpoint(r, r->path_last) != CG_OK)
        return error("checkpoint");
    char title[64];
    snprintf(title, sizeof title, TRAIN_PROG " %s on Fashion-MNIST", model_names[o->model]);
    if (!o->no_plot && plot_from_metrics(r->path_metrics, r->out, title) != CG_OK)
        fprintf(stderr, TRAIN_PROG ": warning: no curves: %s\n", cg_last_error());
    progress_clear(p);
    printf("epoch %3" PRId64 "/%d  train loss %.4f acc %.4f  val loss %.4f acc %.4f%s  lr %.3g  "
           "%.0fs\n", r->epoch, o->epochs, train_loss, train_acc, val_loss, val_acc,
           improved ? " *" : "  ", row[5], seconds);
    fflush(stdout);
    return 0;
}

/* Train until the last epoch, early stopping, --stop-after-steps or a signal. Returns 0,
 * 1 on error, or -1 (stopped: state saved) / -2 (interrupted: state saved). */
static int train_loop(run *r)
{
    const train_opts *o = r->o;
    progress p;
    progress_init(&p, o->progress, o->epochs, r->steps_per_epoch);
    r->start = now_seconds();
    while (r->epoch < o->epochs) {
        if (o->patience > 0 && cg_dataset_size(&r->val) > 0 && r->bad_epochs >= o->patience) {
            printf("early stop: no better validation accuracy in %d epochs\n", o->patience);
            break;
        }
        cg_tensor *x, *y;
        int64_t in_epoch = cg_batch_iter_position(r->it) / o->batch_size;
        while (cg_batch_iter_next(r->it, &x, &y)) {
            double loss = 0;
            if (train_step(r, x, y, &loss) != CG_OK)
                return error("training step");
            int64_t b = cg_tensor_size(x, 0);
            r->loss_sum += loss * (double)b;
            r->seen += b;
            in_epoch++;
            progress_step(&p, (int)r->epoch, in_epoch, r->step, b, r->loss_sum / (double)r->seen,
                          (double)r->correct / (double)r->seen);
            bool stop = o->stop_after_steps && r->step >= o->stop_after_steps;
            if (stop || interrupted) {
                progress_clear(&p);
                if (save_checkpoint(r, r->path_last) != CG_OK)
                    return error("checkpoint");
                printf("%s after step %" PRId64 "; the state is in %s: continue with "
                       "--resume %s and the same options\n", stop ? "stopped" : "interrupted",
                       r->step, r->path_last, r->path_last);
                return stop ? -1 : -2;
            }
        }
        if (end_epoch(r, &p) != 0)
            return 1;
        if (interrupted) {
            printf("interrupted after epoch %" PRId64 "; continue with --resume %s and the same "
                   "options\n", r->epoch, r->path_last);
            return -2;
        }
    }
    return 0;
}

/* The test set, on the best model on the validation split. */
static int finish(run *r)
{
    if (cg_dataset_size(&r->val) > 0 && r->best_epoch >= 0) {
        if (cg_checkpoint_load(r->path_best, r->net, NULL, NULL, NULL) != CG_OK)
            return error("loading the best checkpoint");
        printf("best validation accuracy %.4f at epoch %" PRId64 "\n", r->best_acc, r->best_epoch);
    }
    double test_loss, test_acc;
    if (evaluate(r, &r->test, &test_loss, &test_acc) != CG_OK)
        return error("test");
    printf("outputs: %s/{metrics.csv, curves.png, curves.svg, model.dot, model.svg, "
           "checkpoint.safetensors, last.safetensors}\n", r->out);
    printf("test_loss=%.4f\n", test_loss);
    printf("test_accuracy=%.4f\n", test_acc);
    fflush(stdout);
    return 0;
}

int train_run(const train_opts *o)
{
    run *r = calloc(1, sizeof *r);
    if (!r) {
        fprintf(stderr, TRAIN_PROG ": out of memory\n");
        return 1;
    }
    r->o = o;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C ends the process at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    int status = setup(r);
    if (status == 0) {
        describe(r);
        int t = train_loop(r);
        status = t == 0 ? finish(r) : t == -1 ? 0 : t == -2 ? EXIT_INTERRUPTED : t;
    }
    if (r->metrics && cg_metrics_close(r->metrics) != CG_OK && status == 0)
        status = error("metrics log");
    cg_tape_use(NULL);
    cg_tape_free(r->tape);
    cg_batch_iter_free(r->it);
    cg_schedule_free(r->sched);
    cg_optim_free(r->opt);
    cg_module_free(r->net);
    cg_dataset_free(&r->train);
    cg_dataset_free(&r->val);
    cg_dataset_free(&r->test);
    cg_standardizer_free(&r->st);
    free(r);
    return status;
}
