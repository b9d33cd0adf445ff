/*
 * What cgrad-train shows and writes besides the training itself: the progress bar (or
 * plain lines), the metrics log's rewind on resume, the curves drawn from the log, and the
 * diagram of the model's graph.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "train.h"

double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- progress ---- */

void progress_init(progress *p, progress_kind kind, int epochs, int64_t steps_per_epoch)
{
    if (kind == PROGRESS_AUTO)
        kind = isatty(STDERR_FILENO) ? PROGRESS_BAR : PROGRESS_LINES;
    *p = (progress){
        .kind = kind,
        .epochs = epochs,
        .steps_per_epoch = steps_per_epoch,
        .total_steps = (int64_t)epochs * steps_per_epoch,
        .start = now_seconds(),
    };
}

static void format_duration(char *buf, size_t n, double s)
{
    if (!isfinite(s) || s < 0)
        snprintf(buf, n, "?");
    else if (s >= 3600)
        snprintf(buf, n, "%d:%02d:%02d", (int)(s / 3600), (int)fmod(s / 60, 60), (int)fmod(s, 60));
    else
        snprintf(buf, n, "%d:%02d", (int)(s / 60), (int)fmod(s, 60));
}

void progress_step(progress *p, int epoch, int64_t step_in_epoch, int64_t global_step,
                   int64_t batch, double loss, double acc)
{
    p->session_steps++;
    p->session_samples += batch;
    if (p->kind == PROGRESS_NONE)
        return;
    double t = now_seconds();
    bool last = step_in_epoch == p->steps_per_epoch;
    if (p->kind == PROGRESS_BAR) {
        if (!last && t - p->last_draw < 0.1)
            return;
    } else {
        int64_t every = p->steps_per_epoch >= 5 ? p->steps_per_epoch / 5 : 1;
        if (!last && step_in_epoch % every)
            return;
    }
    p->last_draw = t;
    double elapsed = t - p->start;
    double rate = elapsed > 0 ? (double)p->session_samples / elapsed : 0;
    double per_step = (double)p->session_steps > 0 ? elapsed / (double)p->session_steps : 0;
    char eta[32];
    format_duration(eta, sizeof eta, per_step * (double)(p->total_steps - global_step));
    if (p->kind == PROGRESS_BAR) {
        enum { WIDTH = 24 };
        char bar[WIDTH + 1];
        int fill = (int)(WIDTH * step_in_epoch / (p->steps_per_epoch ? p->steps_per_epoch : 1));
        for (int i = 0; i < WIDTH; i++)
            bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
        bar[WIDTH] = '\0';
        fprintf(stderr, "\repoch %d/%d [%s] %lld/%lld  loss %.4f  acc %.4f  %.0f samples/s  "
                "ETA %s\033[K", epoch + 1, p->epochs, bar, (long long)step_in_epoch,
                (long long)p->steps_per_epoch, loss, acc, rate, eta);
        p->drawn = true;
    } else {
        fprintf(stderr, "epoch %d/%d  step %lld/%lld  loss %.4f  acc %.4f  %.0f samples/s  "
                "ETA %s\n", epoch + 1, p->epochs, (long long)step_in_epoch,
                (long long)p->steps_per_epoch, loss, acc, rate, eta);
    }
    fflush(stderr);
}

void progress_clear(progress *p)
{
    if (p->drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->drawn = false;
    }
}

/* ---- files ---- */

bool join_path(char *buf, size_t n, const char *dir, const char *name)
{
    int len = snprintf(buf, n, "%s/%s", dir, name);
    return len > 0 && (size_t)len < n;
}

int make_dirs(const char *dir)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path) {
        fprintf(stderr, TRAIN_PROG ": output folder name too long\n");
        return -1;
    }
    for (char *p = path + 1;; p++) {
        bool end = *p == '\0';
        if (*p == '/' || end) {
            *p = '\0';
            if (mkdir(path, 0777) != 0 && errno != EEXIST) {
                fprintf(stderr, TRAIN_PROG ": cannot create %s: %s\n", path, strerror(errno));
                return -1;
            }
            if (end)
                break;
            *p = '/';
        }
    }
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, TRAIN_PROG ": %s is not a folder\n", dir);
        return -1;
    }
    return 0;
}

/* ---- metrics ---- */

cg_status metrics_rewind(const char *path, int64_t max_step, double *last_seconds)
{
    *last_seconds = 0;
    if (access(path, F_OK) != 0)
        return CG_OK; /* nothing logged yet: the log starts here */
    cg_metrics_table *t = cg_metrics_read(path);
    if (!t)
        return cg_last_status();
    const double *step = cg_metrics_table_column(t, "step");
    const double *seconds = cg_metrics_table_column(t, "seconds");
    if (!step || !seconds) {
        cg_metrics_table_free(t);
        fprintf(stderr, TRAIN_PROG ": %s has no step or seconds column\n", path);
        return CG_ERR_FORMAT;
    }
    int64_t keep = 0;
    while (keep < t->nrows && step[keep] <= (double)max_step)
        keep++;
    if (keep > 0)
        *last_seconds = seconds[keep - 1];
    cg_status s = CG_OK;
    if (keep < t->nrows) {
        /* Rewrite the log with the rows up to the checkpoint (a new log replaces the old one
         * atomically). */
        cg_metrics *m = cg_metrics_open(path, (const char *const *)t->columns, t->ncols, false);
        double row[64];
        if (!m || t->ncols > 64)
            s = m ? CG_ERR_FORMAT : cg_last_status();
        for (int64_t r = 0; s == CG_OK && r < keep; r++) {
            for (int c = 0; c < t->ncols; c++)
                row[c] = t->values[(int64_t)c * t->nrows + r];
            s = cg_metrics_row(m, row);
        }
        cg_status sc = cg_metrics_close(m);
        if (s == CG_OK)
            s = sc;
    }
    cg_metrics_table_free(t);
    return s;
}

cg_status plot_from_metrics(const char *metrics_path, const char *dir, const char *title)
{
    cg_metrics_table *t = cg_metrics_read(metrics_path);
    if (!t)
        return cg_last_status();
    const double *epoch = cg_metrics_table_column(t, "epoch");
    cg_plot_series series[] = {
        {"train loss", cg_metrics_table_column(t, "train_loss"), CG_PLOT_LEFT},
        {"val loss", cg_metrics_table_column(t, "val_loss"), CG_PLOT_LEFT},
        {"val accuracy", cg_metrics_table_column(t, "val_accuracy"), CG_PLOT_RIGHT},
    };
    cg_status s = CG_OK;
    if (!epoch || !series[0].y || !series[1].y || !series[2].y) {
        fprintf(stderr, TRAIN_PROG ": %s lacks the training columns\n", metrics_path);
        s = CG_ERR_FORMAT;
    }
    cg_plot_options po = {
        .title = title,
        .xlabel = "epoch",
        .left_label = "cross-entropy loss",
        .right_label = "accuracy",
    };
    const char *const names[] = {"curves.png", "curves.svg"};
    for (int i = 0; s == CG_OK && t->nrows > 0 && i < 2; i++) {
        char path[4096];
        if (!join_path(path, sizeof path, dir, names[i]))
            s = CG_ERR_VALUE;
        else
            s = cg_plot_curves(path, epoch, t->nrows, series, 3, &po);
    }
    cg_metrics_table_free(t);
    return s;
}

/* ---- the diagram ---- */

/* Caller-owned copies of ds's first batch (at most batch samples), standardized by st. */
static cg_status first_batch(const cg_dataset *ds, const cg_standardizer *st, int64_t batch,
                             cg_tensor **x, cg_tensor **y)
{
    cg_batch_iter_options bo = {.batch_size = batch, .standardize = st};
    cg_batch_iter *it = cg_batch_iter_new(ds, &bo);
    cg_tensor *bx, *by;
    if (it && cg_batch_iter_next(it, &bx, &by)) {
        *x = cg_tensor_clone(bx);
        *y = cg_tensor_clone(by);
    }
    cg_batch_iter_free(it);
    return *x && *y ? CG_OK : cg_last_status() != CG_OK ? cg_last_status() : CG_ERR_VALUE;
}

cg_status write_diagram(cg_module *net, const cg_dataset *ds, const cg_standardizer *st,
                        int64_t batch, const char *dir)
{
    /* One training-mode forward, so the diagram shows what a step computes (batch
     * statistics, dropout). Training mode changes state — running statistics, the dropout
     * generator — so both are saved first and put back after: the diagram must not change
     * the run (a resumed run draws it again). */
    int nb = cg_module_num_buffers(net);
    cg_tensor *saved[64];
    if (nb > 64)
        return CG_ERR_VALUE;
    cg_status s = CG_OK;
    for (int i = 0; i < nb; i++) {
        saved[i] = cg_tensor_clone(cg_module_buffer(net, i, NULL));
        if (!saved[i])
            s = cg_last_status();
    }
    cg_tensor *x = NULL, *y = NULL;
    if (s == CG_OK)
        s = first_batch(ds, st, batch, &x, &y);
    cg_tape *tape = cg_tape_new();
    cg_tape *prev = cg_tape_use(tape);
    bool grad = cg_set_grad_enabled(true);
    cg_viz_buffer dot = {0};
    /* Ops record only when an input requires grad: without this the first layer's work on
     * the images (a flatten, an im2col) would not be recorded and the images not drawn. */
    if (x && cg_tensor_set_requires_grad(x, true) != CG_OK)
        s = cg_last_status();
    if (s == CG_OK && tape && x && y) {
        cg_module_train(net, true);
        cg_tensor *logits = cg_module_forward(net, x);
        /* The loss in a scope of depth 2 too, so it collapses into one box like a layer. */
        cg_tape_push_scope("loss");
        cg_tape_push_scope("cross_entropy");
        cg_tensor *loss = cg_cross_entropy(logits, y, NULL);
        cg_tape_pop_scope();
        cg_tape_pop_scope();
        cg_dot_options opt = cg_dot_defaults();
        opt.collapse_depth = 2; /* each layer ("MLP.fc1", ...) as one box */
        s = loss ? cg_dot_export(&loss, 1, &opt, &dot) : cg_last_status();
    } else if (s == CG_OK) {
        s = cg_last_status() != CG_OK ? cg_last_status() : CG_ERR_NOMEM;
    }
    char path[4096];
    if (s == CG_OK)
        s = join_path(path, sizeof path, dir, "model.dot") ? cg_dot_save(dot.data, "dot", path)
                                                           : CG_ERR_VALUE;
    if (s == CG_OK)
        s = join_path(path, sizeof path, dir, "model.svg") ? cg_dot_save(dot.data, "svg", path)
                                                           : CG_ERR_VALUE;
    cg_viz_buffer_free(&dot);
    cg_set_grad_enabled(grad);
    cg_tape_use(prev);
    cg_tape_free(tape);
    for (int i = 0; i < nb; i++) {
        if (saved[i] && cg_tensor_copy_(cg_module_buffer(net, i, NULL), saved[i]) != CG_OK &&
            s == CG_OK)
            s = cg_last_status();
        cg_tensor_free(saved[i]);
    }
    cg_tensor_free(x);
    cg_tensor_free(y);
    return s;
}
