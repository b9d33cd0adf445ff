/*
 * cgrad-train's parts: the options (args.c), the networks (model.c), the training loop with
 * its checkpoints (loop.c) and what it shows and writes besides (report.c). Like every
 * program under tools/, it uses libcgrad's public API only.
 */
#ifndef CGRAD_TRAIN_H
#define CGRAD_TRAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cgrad/cgrad.h>

#define TRAIN_PROG "cgrad-train"

enum { TRAIN_MAX_HIDDEN = 8 };

/* Exit statuses: 2 for usage errors (as getopt-based tools do), 130 after SIGINT. */
enum { EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };

typedef enum model_kind { MODEL_MLP, MODEL_CNN } model_kind;
typedef enum optim_kind {
    OPT_SGD, OPT_NESTEROV, OPT_ADAM, OPT_ADAMW, OPT_RMSPROP, OPT_ADAGRAD, OPT_ADADELTA,
    OPT_ADAMAX, OPT_NADAM, OPT_RADAM
} optim_kind;
typedef enum sched_kind {
    SCHED_CONSTANT, SCHED_COSINE, SCHED_STEP, SCHED_EXPONENTIAL, SCHED_LINEAR, SCHED_ONECYCLE
} sched_kind;
typedef enum init_kind {
    INIT_DEFAULT, INIT_KAIMING_UNIFORM, INIT_KAIMING_NORMAL, INIT_XAVIER_UNIFORM,
    INIT_XAVIER_NORMAL, INIT_LECUN_NORMAL, INIT_ORTHOGONAL
} init_kind;
typedef enum norm_kind { NORM_NONE, NORM_BATCH, NORM_LAYER, NORM_GROUP } norm_kind;
typedef enum act_kind {
    ACT_RELU, ACT_LEAKY_RELU, ACT_ELU, ACT_SELU, ACT_GELU, ACT_SILU, ACT_TANH, ACT_SIGMOID
} act_kind;
typedef enum progress_kind { PROGRESS_AUTO, PROGRESS_BAR, PROGRESS_LINES, PROGRESS_NONE } progress_kind;

/* Names accepted on the command line, indexed by the enums above. */
extern const char *const model_names[];
extern const char *const optim_names[];
extern const char *const sched_names[];
extern const char *const init_names[];
extern const char *const norm_names[];
extern const char *const act_names[];
extern const char *const standardize_names[];

typedef struct train_opts {
    model_kind model;
    int hidden[TRAIN_MAX_HIDDEN]; /* mlp: widths of the hidden layers */
    int nhidden;
    int channels[2];              /* cnn: output channels of the two conv blocks */
    int fc;                       /* cnn: width of the hidden fully connected layer */
    optim_kind optimizer;
    double lr, momentum, weight_decay, clip, dropout, label_smoothing;
    sched_kind schedule;
    double warmup;                /* epochs of linear warmup (may be fractional) */
    double gamma;                 /* step/exponential decay factor */
    int step_epochs;              /* step schedule: epochs between decays */
    init_kind init;
    norm_kind norm;
    act_kind activation;
    cg_standardize_mode standardize;
    bool augment;
    int64_t batch_size;
    int epochs;
    int patience;                 /* early stopping: epochs without improvement; 0: off */
    int threads;                  /* 0: every core */
    uint64_t seed;
    int64_t val_size;             /* -1: the default (5000, or a tenth of --limit-train) */
    int64_t limit_train, limit_test; /* 0: the whole set */
    int64_t stop_after_steps;     /* 0: never */
    const char *out;              /* NULL: runs/<model> */
    const char *data;             /* NULL: CG_FASHION_MNIST_DIR */
    const char *resume;           /* NULL: a fresh run */
    progress_kind progress;
    bool no_plot;
} train_opts;

/* ---- args.c ---- */

/* Parse argv into o (defaults first, then the model's own defaults for whatever was not
 * given). Returns 0 to run, 1 after --help (printed on stdout), EXIT_USAGE after printing
 * a message and the usage on stderr. */
int train_parse_args(int argc, char **argv, train_opts *o);
/* The settings a checkpoint records and a resumed run must repeat, as key/value pairs
 * ("train.model" = "mlp", ...): up to TRAIN_MAX_CONFIG of them, strings owned by cfg. */
enum { TRAIN_MAX_CONFIG = 40, TRAIN_CONFIG_LEN = 96 };
typedef struct train_config {
    int n;
    const char *keys[TRAIN_MAX_CONFIG];
    const char *values[TRAIN_MAX_CONFIG];
    char buf[TRAIN_MAX_CONFIG][TRAIN_CONFIG_LEN];
} train_config;
void train_config_make(const train_opts *o, train_config *cfg);

/* ---- model.c ---- */

/* Derived seeds, so that the split, the shuffling, the initial weights and dropout each
 * draw from their own Philox stream. */
typedef enum seed_use { SEED_SPLIT = 1, SEED_BATCHES, SEED_INIT, SEED_DROPOUT } seed_use;
uint64_t train_seed(uint64_t seed, seed_use use);

/* The network for o, initialised from seed; its dropout layers draw from *dropout_rng
 * (the training loop's generator, saved in checkpoints), not from a private one. Every
 * parameter is named after its dotted name (for diagrams). NULL with the library's error
 * recorded (or a message of ours) on failure. */
cg_module *model_build(const train_opts *o, cg_rng *dropout_rng);

/* ---- loop.c ---- */

/* Everything a run does, after the options are parsed: returns the process's exit status. */
int train_run(const train_opts *o);

/* ---- report.c ---- */

/* Progress of the training steps: a line redrawn in place on a terminal, plain lines
 * otherwise, nothing with PROGRESS_NONE. */
typedef struct progress {
    progress_kind kind;          /* resolved: BAR, LINES or NONE */
    int epochs;
    int64_t steps_per_epoch, total_steps;
    double start, last_draw;     /* monotonic seconds */
    int64_t session_steps;       /* steps since this process started training */
    int64_t session_samples;
    bool drawn;                  /* a bar is on the screen */
} progress;

double now_seconds(void);
void progress_init(progress *p, progress_kind kind, int epochs, int64_t steps_per_epoch);
/* After each step: epoch (0-based), step within the epoch (1-based), global step,
 * the epoch's mean loss and accuracy so far. */
void progress_step(progress *p, int epoch, int64_t step_in_epoch, int64_t global_step,
                   int64_t batch, double loss, double acc);
/* Clear a bar before other output. */
void progress_clear(progress *p);

/* Create dir and its parents (mkdir -p). 0 or -1 with a message on stderr. */
int make_dirs(const char *dir);
/* path = dir + "/" + name into buf[n]; false if it does not fit. */
bool join_path(char *buf, size_t n, const char *dir, const char *name);

/* Drop the rows of the metrics log at path whose step is above max_step (left by a run
 * interrupted after logging them), so a resumed run appends after its checkpoint; *last_seconds
 * receives the seconds column of the last row kept (0 without one). */
cg_status metrics_rewind(const char *path, int64_t max_step, double *last_seconds);
/* curves.png and curves.svg in dir from the metrics log at path. */
cg_status plot_from_metrics(const char *metrics_path, const char *dir, const char *title);
/* model.dot and model.svg in dir: the graph of one forward of net and its loss on the first
 * samples of ds, modules collapsed to boxes. Runs in eval mode on a private tape, so no
 * training state changes. */
cg_status write_diagram(cg_module *net, const cg_dataset *ds, const cg_standardizer *st,
                        int64_t batch, const char *dir);

#endif
