/*
 * cgrad-train's command line: getopt_long, strict number parsing (the whole argument must
 * be a finite number in range), names looked up in the tables below, and the defaults that
 * depend on the model applied after parsing. Every error prints one line naming the option,
 * then the usage, on stderr, and exits with status 2.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

const char *const model_names[] = {"mlp", "cnn", NULL};
const char *const optim_names[] = {"sgd",     "nesterov", "adam",   "adamw", "rmsprop",
                                   "adagrad", "adadelta", "adamax", "nadam", "radam", NULL};
const char *const sched_names[] = {"constant", "cosine", "step", "exponential", "linear",
                                   "onecycle", NULL};
const char *const init_names[] = {"default",        "kaiming-uniform", "kaiming-normal",
                                  "xavier-uniform", "xavier-normal",   "lecun-normal",
                                  "orthogonal",     NULL};
const char *const norm_names[] = {"none", "batch", "layer", "group", NULL};
const char *const act_names[] = {"relu", "leaky-relu", "elu",  "selu",
                                 "gelu", "silu",       "tanh", "sigmoid", NULL};
const char *const standardize_names[] = {"global", "feature", NULL};
static const char *const progress_names[] = {"auto", "bar", "lines", "none", NULL};

/* The defaults of each model, measured on a 2-core machine (docs/training.md). */
typedef struct model_defaults {
    int epochs;
    double dropout;
    norm_kind norm;
    bool augment;
} model_defaults;
static const model_defaults defaults_of[] = {
    [MODEL_MLP] = {.epochs = 20, .dropout = 0.2, .norm = NORM_NONE, .augment = false},
    [MODEL_CNN] = {.epochs = 10, .dropout = 0.3, .norm = NORM_BATCH, .augment = false},
};

/* Learning rates that work for each optimizer on these models (PyTorch's defaults for the
 * adaptive ones; SGD has none). */
static const double default_lr[] = {
    [OPT_SGD] = 0.05,   [OPT_NESTEROV] = 0.05, [OPT_ADAM] = 0.001,    [OPT_ADAMW] = 0.001,
    [OPT_RMSPROP] = 0.001, [OPT_ADAGRAD] = 0.01, [OPT_ADADELTA] = 1.0, [OPT_ADAMAX] = 0.002,
    [OPT_NADAM] = 0.002, [OPT_RADAM] = 0.001,
};

static void usage(FILE *f)
{
    fputs(
        "usage: " TRAIN_PROG " [options]\n"
        "Train a classifier on Fashion-MNIST with libcgrad; the last line of standard output\n"
        "is test_accuracy=0.XXXX (the best model on the validation split, on the test set).\n"
        "\n"
        "model:\n"
        "  -m, --model NAME        mlp or cnn (mlp)\n"
        "      --hidden W1,W2,...  mlp hidden widths, 1 to 8 layers (512,256)\n"
        "      --channels C1,C2    cnn channels of the two conv blocks (32,64)\n"
        "      --fc N              cnn width of the hidden fully connected layer (128)\n"
        "      --activation NAME   relu, leaky-relu, elu, selu, gelu, silu, tanh, sigmoid (relu)\n"
        "      --norm NAME         none, batch, layer (mlp) or group (cnn)\n"
        "                          (mlp: none; cnn: batch)\n"
        "      --dropout P         dropout before the last layer(s), in [0, 1) (mlp 0.2; cnn 0.3)\n"
        "      --init NAME         default (PyTorch's), kaiming-uniform, kaiming-normal,\n"
        "                          xavier-uniform, xavier-normal, lecun-normal, orthogonal\n"
        "optimization:\n"
        "  -O, --optimizer NAME    sgd, nesterov, adam, adamw, rmsprop, adagrad, adadelta,\n"
        "                          adamax, nadam, radam (adam)\n"
        "  -l, --lr X              peak learning rate, > 0 (sgd, nesterov 0.05; adam, adamw,\n"
        "                          rmsprop, radam 0.001; adamax, nadam 0.002; adagrad 0.01;\n"
        "                          adadelta 1)\n"
        "      --momentum X        sgd and nesterov momentum, in [0, 1) (0.9)\n"
        "      --weight-decay X    L2 (decoupled for adamw) on weights, not on biases and\n"
        "                          norms; >= 0 (adamw 0.01, others 0)\n"
        "      --clip X            clip the gradients' global 2-norm to X; 0: off (0)\n"
        "      --label-smoothing X cross-entropy label smoothing, in [0, 1) (0)\n"
        "  -s, --schedule NAME     constant, cosine, step, exponential, linear, onecycle (cosine)\n"
        "      --warmup EPOCHS     linear warmup from lr/10, may be fractional; 0: none (1;\n"
        "                          not with onecycle, which has its own)\n"
        "      --gamma X           step/exponential decay factor per step-epochs/epoch (0.1/0.9)\n"
        "      --step-epochs N     step schedule: epochs between decays (epochs/3)\n"
        "  -b, --batch-size N      training batch size (128)\n"
        "  -e, --epochs N          epochs (mlp 20; cnn 10)\n"
        "      --patience N        stop after N epochs without a better validation accuracy;\n"
        "                          0: never (5)\n"
        "data:\n"
        "      --data DIR          Fashion-MNIST's IDX files (" CG_FASHION_MNIST_DIR ")\n"
        "      --val-size N        validation samples split off the training set (5000)\n"
        "      --standardize NAME  global or feature statistics of the training split (global)\n"
        "      --augment           random horizontal flips and shifts of up to 2 pixels\n"
        "      --no-augment        no augmentation (the default)\n"
        "      --limit-train N     use the first N training samples only (tests, quick runs)\n"
        "      --limit-test N      evaluate on the first N test samples only\n"
        "run:\n"
        "  -o, --out DIR           output folder (runs/<model>)\n"
        "  -j, --threads N         threads; 0: every core (0)\n"
        "      --seed N            seed of the split, shuffling, initialization, dropout (1)\n"
        "      --resume FILE       continue from a checkpoint (DIR/last.safetensors) with the\n"
        "                          same options; ends bit-identical to an uninterrupted run\n"
        "      --stop-after-steps N  save DIR/last.safetensors and stop after step N\n"
        "      --progress MODE     auto (a bar on a terminal, lines otherwise), bar, lines, none\n"
        "      --no-plot           skip curves.png and curves.svg\n"
        "  -h, --help              this help\n"
        "\n"
        "Outputs in DIR: metrics.csv, curves.png, curves.svg, model.dot, model.svg,\n"
        "checkpoint.safetensors (best validation accuracy), last.safetensors (to resume).\n"
        "Exit status: 0 done, 1 error, 2 bad usage, 130 interrupted (state saved).\n",
        f);
}

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs(TRAIN_PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n", stderr);
    usage(stderr);
    return EXIT_USAGE;
}

/* Index of s in names (NULL-terminated), or -1. */
static int lookup(const char *const *names, const char *s)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(names[i], s))
            return i;
    return -1;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool parse_int64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* "256,128": 1..max positive integers up to 65536. */
static int parse_list(const char *s, int *out, int max)
{
    int n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (end == p || errno || v < 1 || v > 65536 || n == max)
            return -1;
        out[n++] = (int)v;
        if (*end == '\0')
            return n;
        if (*end != ',')
            return -1;
        p = end + 1;
    }
}

enum {
    OPT_HIDDEN = 256, OPT_CHANNELS, OPT_FC, OPT_ACTIVATION, OPT_NORM, OPT_DROPOUT, OPT_INIT,
    OPT_MOMENTUM, OPT_WEIGHT_DECAY, OPT_CLIP, OPT_LABEL_SMOOTHING, OPT_WARMUP, OPT_GAMMA,
    OPT_STEP_EPOCHS, OPT_PATIENCE, OPT_DATA, OPT_VAL_SIZE, OPT_STANDARDIZE, OPT_AUGMENT,
    OPT_NO_AUGMENT, OPT_LIMIT_TRAIN, OPT_LIMIT_TEST, OPT_SEED, OPT_RESUME, OPT_STOP_AFTER,
    OPT_PROGRESS, OPT_NO_PLOT
};

static const struct option long_options[] = {
    {"model", required_argument, NULL, 'm'},
    {"hidden", required_argument, NULL, OPT_HIDDEN},
    {"channels", required_argument, NULL, OPT_CHANNELS},
    {"fc", required_argument, NULL, OPT_FC},
    {"activation", required_argument, NULL, OPT_ACTIVATION},
    {"norm", required_argument, NULL, OPT_NORM},
    {"dropout", required_argument, NULL, OPT_DROPOUT},
    {"init", required_argument, NULL, OPT_INIT},
    {"optimizer", required_argument, NULL, 'O'},
    {"lr", required_argument, NULL, 'l'},
    {"momentum", required_argument, NULL, OPT_MOMENTUM},
    {"weight-decay", required_argument, NULL, OPT_WEIGHT_DECAY},
    {"clip", required_argument, NULL, OPT_CLIP},
    {"label-smoothing", required_argument, NULL, OPT_LABEL_SMOOTHING},
    {"schedule", required_argument, NULL, 's'},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"gamma", required_argument, NULL, OPT_GAMMA},
    {"step-epochs", required_argument, NULL, OPT_STEP_EPOCHS},
    {"batch-size", required_argument, NULL, 'b'},
    {"epochs", required_argument, NULL, 'e'},
    {"patience", required_argument, NULL, OPT_PATIENCE},
    {"data", required_argument, NULL, OPT_DATA},
    {"val-size", required_argument, NULL, OPT_VAL_SIZE},
    {"standardize", required_argument, NULL, OPT_STANDARDIZE},
    {"augment", no_argument, NULL, OPT_AUGMENT},
    {"no-augment", no_argument, NULL, OPT_NO_AUGMENT},
    {"limit-train", required_argument, NULL, OPT_LIMIT_TRAIN},
    {"limit-test", required_argument, NULL, OPT_LIMIT_TEST},
    {"out", required_argument, NULL, 'o'},
    {"threads", required_argument, NULL, 'j'},
    {"seed", required_argument, NULL, OPT_SEED},
    {"resume", required_argument, NULL, OPT_RESUME},
    {"stop-after-steps", required_argument, NULL, OPT_STOP_AFTER},
    {"progress", required_argument, NULL, OPT_PROGRESS},
    {"no-plot", no_argument, NULL, OPT_NO_PLOT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* The option's name as the user typed it, for messages. */
static const char *option_name(int c, int long_index)
{
    static char buf[40];
    if (long_index >= 0)
        snprintf(buf, sizeof buf, "--%s", long_options[long_index].name);
    else
        snprintf(buf, sizeof buf, "-%c", c);
    return buf;
}

int train_parse_args(int argc, char **argv, train_opts *o)
{
    *o = (train_opts){
        .model = MODEL_MLP,
        .hidden = {512, 256},
        .nhidden = 2,
        .channels = {32, 64},
        .fc = 128,
        .optimizer = OPT_ADAM,
        .lr = NAN,           /* the optimizer's */
        .momentum = 0.9,
        .weight_decay = NAN, /* the optimizer's */
        .clip = 0,
        .dropout = NAN,      /* the model's */
        .label_smoothing = 0,
        .schedule = SCHED_COSINE,
        .warmup = 1,
        .gamma = NAN,        /* the schedule's */
        .step_epochs = 0,    /* epochs / 3 */
        .init = INIT_DEFAULT,
        .norm = (norm_kind)-1,
        .activation = ACT_RELU,
        .standardize = CG_STANDARDIZE_GLOBAL,
        .batch_size = 128,
        .epochs = 0,
        .patience = 5,
        .threads = 0,
        .seed = 1,
        .val_size = -1,
        .progress = PROGRESS_AUTO,
    };
    int augment = -1;
    optind = 1;
    opterr = 0; /* our own messages */
    for (;;) {
        int long_index = -1;
        int c = getopt_long(argc, argv, ":m:O:l:s:b:e:o:j:h", long_options, &long_index);
        if (c == -1)
            break;
        const char *name = option_name(c, long_index);
        int64_t n;
        double x;
        int k;
        switch (c) {
        case 'h':
            usage(stdout);
            return 1;
        case ':':
            return usage_error("option %s needs a value", argv[optind - 1]);
        case '?':
            if (optopt)
                return usage_error("unknown option -%c", optopt);
            return usage_error("unknown option %s", argv[optind - 1]);
        case 'm':
            if ((k = lookup(model_names, optarg)) < 0)
                return usage_error("unknown model '%s' (mlp or cnn)", optarg);
            o->model = (model_kind)k;
            break;
        case OPT_HIDDEN:
            if ((o->nhidden = parse_list(optarg, o->hidden, TRAIN_MAX_HIDDEN)) < 0)
                return usage_error("%s wants 1 to %d widths in [1, 65536] separated by commas, "
                                   "not '%s'", name, TRAIN_MAX_HIDDEN, optarg);
            break;
        case OPT_CHANNELS:
            if (parse_list(optarg, o->channels, 2) != 2)
                return usage_error("%s wants two channel counts like 32,64, not '%s'", name,
                                   optarg);
            break;
        case OPT_FC:
            if (!parse_int64(optarg, 1, 65536, &n))
                return usage_error("%s wants a width in [1, 65536], not '%s'", name, optarg);
            o->fc = (int)n;
            break;
        case OPT_ACTIVATION:
            if ((k = lookup(act_names, optarg)) < 0)
                return usage_error("unknown activation '%s'", optarg);
            o->activation = (act_kind)k;
            break;
        case OPT_NORM:
            if ((k = lookup(norm_names, optarg)) < 0)
                return usage_error("unknown normalization '%s'", optarg);
            o->norm = (norm_kind)k;
            break;
        case OPT_DROPOUT:
            if (!parse_double(optarg, &x) || x < 0 || x >= 1)
                return usage_error("%s wants a probability in [0, 1), not '%s'", name, optarg);
            o->dropout = x;
            break;
        case OPT_INIT:
            if ((k = lookup(init_names, optarg)) < 0)
                return usage_error("unknown initializer '%s'", optarg);
            o->init = (init_kind)k;
            break;
        case 'O':
            if ((k = lookup(optim_names, optarg)) < 0)
                return usage_error("unknown optimizer '%s'", optarg);
            o->optimizer = (optim_kind)k;
            break;
        case 'l':
            if (!parse_double(optarg, &x) || x <= 0)
                return usage_error("%s wants a learning rate > 0, not '%s'", name, optarg);
            o->lr = x;
            break;
        case OPT_MOMENTUM:
            if (!parse_double(optarg, &x) || x < 0 || x >= 1)
                return usage_error("%s wants a value in [0, 1), not '%s'", name, optarg);
            o->momentum = x;
            break;
        case OPT_WEIGHT_DECAY:
            if (!parse_double(optarg, &x) || x < 0)
                return usage_error("%s wants a value >= 0, not '%s'", name, optarg);
            o->weight_decay = x;
            break;
        case OPT_CLIP:
            if (!parse_double(optarg, &x) || x < 0)
                return usage_error("%s wants a norm >= 0 (0: off), not '%s'", name, optarg);
            o->clip = x;
            break;
        case OPT_LABEL_SMOOTHING:
            if (!parse_double(optarg, &x) || x < 0 || x >= 1)
                return usage_error("%s wants a value in [0, 1), not '%s'", name, optarg);
            o->label_smoothing = x;
            break;
        case 's':
            if ((k = lookup(sched_names, optarg)) < 0)
                return usage_error("unknown schedule '%s'", optarg);
            o->schedule = (sched_kind)k;
            break;
        case OPT_WARMUP:
            if (!parse_double(optarg, &x) || x < 0 || x > 1e6)
                return usage_error("%s wants epochs >= 0, not '%s'", name, optarg);
            o->warmup = x;
            break;
        case OPT_GAMMA:
            if (!parse_double(optarg, &x) || x <= 0 || x > 1)
                return usage_error("%s wants a factor in (0, 1], not '%s'", name, optarg);
            o->gamma = x;
            break;
        case OPT_STEP_EPOCHS:
            if (!parse_int64(optarg, 1, 1000000, &n))
                return usage_error("%s wants epochs >= 1, not '%s'", name, optarg);
            o->step_epochs = (int)n;
            break;
        case 'b':
            if (!parse_int64(optarg, 1, 1 << 20, &n))
                return usage_error("%s wants a batch size in [1, 1048576], not '%s'", name,
                                   optarg);
            o->batch_size = n;
            break;
        case 'e':
            if (!parse_int64(optarg, 1, 1000000, &n))
                return usage_error("%s wants epochs >= 1, not '%s'", name, optarg);
            o->epochs = (int)n;
            break;
        case OPT_PATIENCE:
            if (!parse_int64(optarg, 0, 1000000, &n))
                return usage_error("%s wants epochs >= 0 (0: never stop early), not '%s'", name,
                                   optarg);
            o->patience = (int)n;
            break;
        case OPT_DATA:
            o->data = optarg;
            break;
        case OPT_VAL_SIZE:
            if (!parse_int64(optarg, 0, INT64_MAX, &n))
                return usage_error("%s wants a sample count >= 0, not '%s'", name, optarg);
            o->val_size = n;
            break;
        case OPT_STANDARDIZE:
            if ((k = lookup(standardize_names, optarg)) < 0)
                return usage_error("%s wants global or feature, not '%s'", name, optarg);
            o->standardize = (cg_standardize_mode)k;
            break;
        case OPT_AUGMENT:
            augment = 1;
            break;
        case OPT_NO_AUGMENT:
            augment = 0;
            break;
        case OPT_LIMIT_TRAIN:
        case OPT_LIMIT_TEST:
            if (!parse_int64(optarg, 1, INT64_MAX, &n))
                return usage_error("%s wants a sample count >= 1, not '%s'", name, optarg);
            *(c == OPT_LIMIT_TRAIN ? &o->limit_train : &o->limit_test) = n;
            break;
        case 'o':
            if (!*optarg)
                return usage_error("%s wants a folder", name);
            o->out = optarg;
            break;
        case 'j':
            if (!parse_int64(optarg, 0, 4096, &n))
                return usage_error("%s wants a thread count in [0, 4096], not '%s'", name, optarg);
            o->threads = (int)n;
            break;
        case OPT_SEED: {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (end == optarg || *end || errno || optarg[0] == '-')
                return usage_error("%s wants an unsigned integer, not '%s'", name, optarg);
            o->seed = (uint64_t)v;
            break;
        }
        case OPT_RESUME:
            o->resume = optarg;
            break;
        case OPT_STOP_AFTER:
            if (!parse_int64(optarg, 1, INT64_MAX, &n))
                return usage_error("%s wants a step >= 1, not '%s'", name, optarg);
            o->stop_after_steps = n;
            break;
        case OPT_PROGRESS:
            if ((k = lookup(progress_names, optarg)) < 0)
                return usage_error("%s wants auto, bar, lines or none, not '%s'", name, optarg);
            o->progress = (progress_kind)k;
            break;
        case OPT_NO_PLOT:
            o->no_plot = true;
            break;
        default:
            return usage_error("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);

    /* Defaults that depend on other choices. */
    const model_defaults *d = &defaults_of[o->model];
    if (o->epochs == 0)
        o->epochs = d->epochs;
    if (isnan(o->dropout))
        o->dropout = d->dropout;
    if ((int)o->norm < 0)
        o->norm = d->norm;
    o->augment = augment < 0 ? d->augment : augment == 1;
    if (isnan(o->lr))
        o->lr = default_lr[o->optimizer];
    if (isnan(o->weight_decay))
        o->weight_decay = o->optimizer == OPT_ADAMW ? 0.01 : 0.0;
    if (isnan(o->gamma))
        o->gamma = o->schedule == SCHED_EXPONENTIAL ? 0.9 : 0.1;
    if (o->schedule == SCHED_ONECYCLE)
        o->warmup = 0; /* one-cycle rises over its first 30% itself */
    if (o->step_epochs == 0)
        o->step_epochs = o->epochs >= 3 ? o->epochs / 3 : 1;
    if (o->model == MODEL_MLP && o->norm == NORM_GROUP)
        return usage_error("--norm group is for the cnn (mlp: none, batch or layer)");
    if (o->model == MODEL_CNN && o->norm == NORM_LAYER)
        return usage_error("--norm layer is for the mlp (cnn: none, batch or group)");
    if (o->model == MODEL_CNN && o->norm == NORM_GROUP &&
        (o->channels[0] % 8 || o->channels[1] % 8))
        return usage_error("--norm group uses 8 groups: --channels must be multiples of 8");
    if (o->val_size < 0)
        o->val_size = o->limit_train ? o->limit_train / 10 : 5000;
    if (o->limit_train && o->val_size >= o->limit_train)
        return usage_error("--val-size %" PRId64 " leaves no training samples out of "
                           "--limit-train %" PRId64, o->val_size, o->limit_train);
    return 0;
}

/* ---- the settings a checkpoint records ---- */

static void add(train_config *cfg, const char *key, const char *fmt, ...)
{
    if (cfg->n == TRAIN_MAX_CONFIG)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cfg->buf[cfg->n], TRAIN_CONFIG_LEN, fmt, ap);
    va_end(ap);
    cfg->keys[cfg->n] = key;
    cfg->values[cfg->n] = cfg->buf[cfg->n];
    cfg->n++;
}

static void format_list(char *buf, size_t n, const int *v, int count)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < count && len < n; i++)
        len += (size_t)snprintf(buf + len, n - len, "%s%d", i ? "," : "", v[i]);
}

void train_config_make(const train_opts *o, train_config *cfg)
{
    char list[TRAIN_CONFIG_LEN];
    cfg->n = 0;
    add(cfg, "train.model", "%s", model_names[o->model]);
    if (o->model == MODEL_MLP) {
        format_list(list, sizeof list, o->hidden, o->nhidden);
        add(cfg, "train.hidden", "%s", list);
    } else {
        format_list(list, sizeof list, o->channels, 2);
        add(cfg, "train.channels", "%s", list);
        add(cfg, "train.fc", "%d", o->fc);
    }
    add(cfg, "train.activation", "%s", act_names[o->activation]);
    add(cfg, "train.norm", "%s", norm_names[o->norm]);
    add(cfg, "train.dropout", "%.17g", o->dropout);
    add(cfg, "train.init", "%s", init_names[o->init]);
    add(cfg, "train.optimizer", "%s", optim_names[o->optimizer]);
    add(cfg, "train.lr", "%.17g", o->lr);
    add(cfg, "train.momentum", "%.17g", o->momentum);
    add(cfg, "train.weight_decay", "%.17g", o->weight_decay);
    add(cfg, "train.clip", "%.17g", o->clip);
    add(cfg, "train.label_smoothing", "%.17g", o->label_smoothing);
    add(cfg, "train.schedule", "%s", sched_names[o->schedule]);
    add(cfg, "train.warmup", "%.17g", o->warmup);
    add(cfg, "train.gamma", "%.17g", o->gamma);
    add(cfg, "train.step_epochs", "%d", o->step_epochs);
    add(cfg, "train.batch_size", "%" PRId64, o->batch_size);
    add(cfg, "train.epochs", "%d", o->epochs);
    add(cfg, "train.patience", "%d", o->patience);
    add(cfg, "train.seed", "%" PRIu64, o->seed);
    add(cfg, "train.val_size", "%" PRId64, o->val_size);
    add(cfg, "train.standardize", "%s", standardize_names[o->standardize]);
    add(cfg, "train.augment", "%s", o->augment ? "yes" : "no");
    add(cfg, "train.limit_train", "%" PRId64, o->limit_train);
}
