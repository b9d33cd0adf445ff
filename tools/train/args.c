/*
 * cgrad-train's command line: one table of options (name, letter, kind of value, where it
 * goes, its range or names, and the message for a bad value) drives getopt_long; numbers
 * are parsed strictly (the whole argument must be a finite number in range), names looked
 * up in the lists below, and the defaults that depend on the model applied after parsing.
 * Every error prints one line naming the option, then the usage, on stderr, and exits with
 * status 2.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
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

static bool parse_uint64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s || *end || errno || s[0] == '-')
        return false;
    *out = (uint64_t)v;
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

/* ---- the option table ---- */

/* What parsing fills: the options, and whether --augment or --no-augment came last (-1:
 * neither, so the model's default). */
typedef struct parse_state {
    train_opts o;
    int augment;
} parse_state;

typedef enum arg_kind {
    ARG_NAME,   /* one of names[]: its index, into an enum */
    ARG_INT,    /* an integer in [ilo, ihi], into an int or int64_t */
    ARG_UINT,   /* any unsigned 64-bit integer */
    ARG_DOUBLE, /* a finite number between lo and hi, each bound open or closed */
    ARG_LIST,   /* ilo to ihi comma-separated widths in [1, 65536], into an int array; their
                 * count into count_at when it is not 0 */
    ARG_STRING, /* kept as given; non-empty when ilo is 1 */
    ARG_FLAG,   /* no value: stores ilo, into an int or a bool */
    ARG_HELP,
} arg_kind;

typedef struct opt_spec {
    const char *name; /* --name */
    char letter;      /* -letter, or 0 */
    arg_kind kind;
    size_t at, size;  /* the destination: offset and size in parse_state */
    const char *const *names;
    int64_t ilo, ihi;
    double lo, hi;
    bool lo_open, hi_open;
    size_t count_at;
    /* The message for a bad value: "<option> wants <wants>, not '<value>'", or, when
     * unknown is set, that format with the value. */
    const char *wants, *unknown;
} opt_spec;

/* Enumerations are stored as ints (each kind's enum has int's size). */
_Static_assert(sizeof(model_kind) == sizeof(int) && sizeof(optim_kind) == sizeof(int) &&
               sizeof(sched_kind) == sizeof(int) && sizeof(init_kind) == sizeof(int) &&
               sizeof(norm_kind) == sizeof(int) && sizeof(act_kind) == sizeof(int) &&
               sizeof(progress_kind) == sizeof(int) &&
               sizeof(cg_standardize_mode) == sizeof(int), "enums stored as int");
_Static_assert(TRAIN_MAX_HIDDEN == 8, "--hidden's message says 1 to 8 widths");

#define AT(field) offsetof(parse_state, field), sizeof(((parse_state *)0)->field)
#define NAME(field, list) ARG_NAME, AT(o.field), .names = list
#define INT(field, a, b) ARG_INT, AT(o.field), .ilo = a, .ihi = b
#define REAL(field, a, b) ARG_DOUBLE, AT(o.field), .lo = a, .hi = b

static const opt_spec specs[] = {
    {"model", 'm', NAME(model, model_names), .unknown = "unknown model '%s' (mlp or cnn)"},
    {"hidden", 0, ARG_LIST, AT(o.hidden), .ilo = 1, .ihi = TRAIN_MAX_HIDDEN,
     .count_at = offsetof(parse_state, o.nhidden),
     .wants = "1 to 8 widths in [1, 65536] separated by commas"},
    {"channels", 0, ARG_LIST, AT(o.channels), .ilo = 2, .ihi = 2,
     .wants = "two channel counts like 32,64"},
    {"fc", 0, INT(fc, 1, 65536), .wants = "a width in [1, 65536]"},
    {"activation", 0, NAME(activation, act_names), .unknown = "unknown activation '%s'"},
    {"norm", 0, NAME(norm, norm_names), .unknown = "unknown normalization '%s'"},
    {"dropout", 0, REAL(dropout, 0, 1), .hi_open = true, .wants = "a probability in [0, 1)"},
    {"init", 0, NAME(init, init_names), .unknown = "unknown initializer '%s'"},
    {"optimizer", 'O', NAME(optimizer, optim_names), .unknown = "unknown optimizer '%s'"},
    {"lr", 'l', REAL(lr, 0, INFINITY), .lo_open = true, .wants = "a learning rate > 0"},
    {"momentum", 0, REAL(momentum, 0, 1), .hi_open = true, .wants = "a value in [0, 1)"},
    {"weight-decay", 0, REAL(weight_decay, 0, INFINITY), .wants = "a value >= 0"},
    {"clip", 0, REAL(clip, 0, INFINITY), .wants = "a norm >= 0 (0: off)"},
    {"label-smoothing", 0, REAL(label_smoothing, 0, 1), .hi_open = true,
     .wants = "a value in [0, 1)"},
    {"schedule", 's', NAME(schedule, sched_names), .unknown = "unknown schedule '%s'"},
    {"warmup", 0, REAL(warmup, 0, 1e6), .wants = "epochs >= 0"},
    {"gamma", 0, REAL(gamma, 0, 1), .lo_open = true, .wants = "a factor in (0, 1]"},
    {"step-epochs", 0, INT(step_epochs, 1, 1000000), .wants = "epochs >= 1"},
    {"batch-size", 'b', INT(batch_size, 1, 1 << 20), .wants = "a batch size in [1, 1048576]"},
    {"epochs", 'e', INT(epochs, 1, 1000000), .wants = "epochs >= 1"},
    {"patience", 0, INT(patience, 0, 1000000), .wants = "epochs >= 0 (0: never stop early)"},
    {"data", 0, ARG_STRING, AT(o.data), .ilo = 0 /* may be empty */},
    {"val-size", 0, INT(val_size, 0, INT64_MAX), .wants = "a sample count >= 0"},
    {"standardize", 0, NAME(standardize, standardize_names), .wants = "global or feature"},
    {"augment", 0, ARG_FLAG, AT(augment), .ilo = 1},
    {"no-augment", 0, ARG_FLAG, AT(augment), .ilo = 0},
    {"limit-train", 0, INT(limit_train, 1, INT64_MAX), .wants = "a sample count >= 1"},
    {"limit-test", 0, INT(limit_test, 1, INT64_MAX), .wants = "a sample count >= 1"},
    {"out", 'o', ARG_STRING, AT(o.out), .ilo = 1, .wants = "a folder"},
    {"threads", 'j', INT(threads, 0, 4096), .wants = "a thread count in [0, 4096]"},
    {"seed", 0, ARG_UINT, AT(o.seed), .wants = "an unsigned integer"},
    {"resume", 0, ARG_STRING, AT(o.resume), .ilo = 0},
    {"stop-after-steps", 0, INT(stop_after_steps, 1, INT64_MAX), .wants = "a step >= 1"},
    {"progress", 0, NAME(progress, progress_names), .wants = "auto, bar, lines or none"},
    {"no-plot", 0, ARG_FLAG, AT(o.no_plot), .ilo = 1},
    {"help", 'h', ARG_HELP, 0, 0, .ilo = 0},
};
enum { NSPECS = (int)(sizeof specs / sizeof specs[0]), SPEC_BASE = 256 };

#undef AT
#undef NAME
#undef INT
#undef REAL

static void store_int(void *dst, size_t size, int64_t v)
{
    if (size == sizeof(int64_t))
        *(int64_t *)dst = v;
    else if (size == sizeof(int))
        *(int *)dst = (int)v; /* ints and enums */
    else
        *(bool *)dst = v != 0;
}

static bool in_range(const opt_spec *s, double x)
{
    return (s->lo_open ? x > s->lo : x >= s->lo) && (s->hi_open ? x < s->hi : x <= s->hi);
}

/* Parse arg as s says into st: true, or false when the value is bad. */
static bool parse_value(const opt_spec *s, const char *arg, parse_state *st)
{
    void *dst = (char *)st + s->at;
    int64_t n;
    double x;
    int k;
    switch (s->kind) {
    case ARG_NAME:
        if ((k = lookup(s->names, arg)) < 0)
            return false;
        store_int(dst, s->size, k);
        return true;
    case ARG_INT:
        if (!parse_int64(arg, s->ilo, s->ihi, &n))
            return false;
        store_int(dst, s->size, n);
        return true;
    case ARG_UINT:
        return parse_uint64(arg, dst);
    case ARG_DOUBLE:
        if (!parse_double(arg, &x) || !in_range(s, x))
            return false;
        *(double *)dst = x;
        return true;
    case ARG_LIST:
        if ((k = parse_list(arg, dst, (int)s->ihi)) < s->ilo)
            return false;
        if (s->count_at)
            *(int *)((char *)st + s->count_at) = k;
        return true;
    case ARG_STRING:
        if (s->ilo && !*arg)
            return false;
        *(const char **)dst = arg;
        return true;
    case ARG_FLAG:
        store_int(dst, s->size, s->ilo);
        return true;
    case ARG_HELP:
        break;
    }
    return true;
}

/* getopt_long's tables from specs: a long option's value is SPEC_BASE + its index. */
static void getopt_tables(struct option *longs, char *shorts)
{
    char *p = shorts;
    *p++ = ':'; /* report a missing value as ':' */
    for (int i = 0; i < NSPECS; i++) {
        bool value = specs[i].kind != ARG_FLAG && specs[i].kind != ARG_HELP;
        longs[i] = (struct option){specs[i].name, value ? required_argument : no_argument,
                                   NULL, SPEC_BASE + i};
        if (specs[i].letter) {
            *p++ = specs[i].letter;
            if (value)
                *p++ = ':';
        }
    }
    longs[NSPECS] = (struct option){NULL, 0, NULL, 0};
    *p = '\0';
}

static const opt_spec *find_spec(int c)
{
    if (c >= SPEC_BASE && c < SPEC_BASE + NSPECS)
        return &specs[c - SPEC_BASE];
    for (int i = 0; i < NSPECS; i++)
        if (specs[i].letter && specs[i].letter == c)
            return &specs[i];
    return NULL;
}

/* The option's name as the user typed it, for messages. */
static const char *option_name(int c, int long_index)
{
    static char buf[40];
    if (long_index >= 0)
        snprintf(buf, sizeof buf, "--%s", specs[long_index].name);
    else
        snprintf(buf, sizeof buf, "-%c", c);
    return buf;
}

static int bad_value(const opt_spec *s, const char *name, const char *arg)
{
    if (s->unknown)
        return usage_error(s->unknown, arg);
    if (s->kind == ARG_STRING)
        return usage_error("%s wants %s", name, s->wants);
    return usage_error("%s wants %s, not '%s'", name, s->wants, arg);
}

/* Defaults that depend on other choices, and the checks across options. */
static int finish(train_opts *o, int augment)
{
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

static const train_opts DEFAULTS = {
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
    .norm = (norm_kind)-1, /* the model's */
    .activation = ACT_RELU,
    .standardize = CG_STANDARDIZE_GLOBAL,
    .batch_size = 128,
    .epochs = 0,         /* the model's */
    .patience = 5,
    .threads = 0,
    .seed = 1,
    .val_size = -1,      /* 5000, or a tenth of --limit-train */
    .progress = PROGRESS_AUTO,
};

int train_parse_args(int argc, char **argv, train_opts *o)
{
    parse_state st = {.o = DEFAULTS, .augment = -1};
    struct option longs[NSPECS + 1];
    char shorts[2 * NSPECS + 2];
    getopt_tables(longs, shorts);
    *o = st.o;
    optind = 1;
    opterr = 0; /* our own messages */
    for (;;) {
        int long_index = -1;
        int c = getopt_long(argc, argv, shorts, longs, &long_index);
        if (c == -1)
            break;
        if (c == ':')
            return usage_error("option %s needs a value", argv[optind - 1]);
        /* '?': an unknown option, or a value given to one that takes none (--no-plot=1),
         * when getopt sets optopt to that option's value */
        if (c == '?' && find_spec(optopt))
            return usage_error("option --%s takes no value", find_spec(optopt)->name);
        if (c == '?' && optopt)
            return usage_error("unknown option -%c", optopt);
        const opt_spec *s = find_spec(c);
        if (!s)
            return usage_error("unknown option %s", argv[optind - 1]);
        if (s->kind == ARG_HELP) {
            usage(stdout);
            return 1;
        }
        if (!parse_value(s, optarg, &st))
            return bad_value(s, option_name(c, long_index), optarg);
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    *o = st.o;
    return finish(o, st.augment);
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
