/*
 * cgrad-dot: the diagram of a built-in model, drawn by libcgrad's DOT exporter and rendered
 * by Graphviz in-process (include/cgrad/viz.h).
 *
 * The model runs one forward pass on a random batch and its cross-entropy loss is
 * recorded; the diagram shows what the tape recorded, with the model's parameters named as
 * in cg_module_parameter ("0.weight") and its modules as clusters.
 *
 * Usage: cgrad-dot [options]
 *   --model mlp|cnn     the model (mlp): an MLP 4 -> 16 (x layers) -> 3, or a small CNN
 *                       (two conv-relu-maxpool blocks and a linear layer on 1x12x12 images)
 *   --layers N          hidden layers of the MLP (2)
 *   --act tanh|relu|sigmoid   the MLP's activation (tanh)
 *   --format F          dot, svg, png or pdf (from the output's extension, else svg)
 *   -o PATH             output file (<model>.<format>)
 *   --backward          also draw the backward graph
 *   --optimizer         also record one SGD step in scope "optim" and draw it
 *   --collapse N        draw every module at depth N as one box (1: the model, 2: layers)
 *   --flat              no module clusters
 *   --no-legend         no legend
 *   --lr                lay out left to right
 *   --overlay           colour by gradient norm, flag vanishing and exploding gradients
 *   --vanishing X       lower threshold of the overlay (1e-7)
 *   --exploding X       upper threshold of the overlay (1e3)
 *   --stats             show each activation's mean and standard deviation
 *   --seed N            seed of the weights and the batch (1)
 *   --docs DIR          write the diagrams of docs/diagrams.md into DIR and exit
 *
 * Exit status: 0 on success, 1 on a library error (the message is printed), 2 on bad
 * arguments.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cgrad/cgrad.h>

typedef struct args {
    const char *model, *act, *format, *out, *docs;
    int layers, collapse;
    bool backward, optimizer, flat, no_legend, lr, overlay, stats;
    double vanishing, exploding;
    uint64_t seed;
} args;

static void usage(FILE *f)
{
    fputs("usage: cgrad-dot [--model mlp|cnn] [--layers N] [--act tanh|relu|sigmoid]\n"
          "                 [--format dot|svg|png|pdf] [-o PATH] [--backward] [--optimizer]\n"
          "                 [--collapse N] [--flat] [--no-legend] [--lr] [--overlay]\n"
          "                 [--vanishing X] [--exploding X] [--stats] [--seed N] [--docs DIR]\n",
          f);
}

/* ---- arguments ---- */

static bool flag(const char *arg, args *a)
{
    static const struct {
        const char *name;
        size_t offset;
    } flags[] = {
        {"--backward", offsetof(args, backward)}, {"--optimizer", offsetof(args, optimizer)},
        {"--flat", offsetof(args, flat)},         {"--no-legend", offsetof(args, no_legend)},
        {"--lr", offsetof(args, lr)},             {"--overlay", offsetof(args, overlay)},
        {"--stats", offsetof(args, stats)},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (!strcmp(arg, flags[i].name)) {
            *(bool *)((char *)a + flags[i].offset) = true;
            return true;
        }
    return false;
}

static bool number(const char *s, double *out)
{
    char *end;
    *out = strtod(s, &end);
    return *s && !*end;
}

/* An option taking a value: false when arg is not one or its value is bad. */
static bool option(const char *arg, const char *value, args *a)
{
    double v;
    if (!strcmp(arg, "--model"))
        a->model = value;
    else if (!strcmp(arg, "--act"))
        a->act = value;
    else if (!strcmp(arg, "--format"))
        a->format = value;
    else if (!strcmp(arg, "-o"))
        a->out = value;
    else if (!strcmp(arg, "--docs"))
        a->docs = value;
    else if (!number(value, &v))
        return false;
    else if (!strcmp(arg, "--layers") && v >= 0 && v <= 64)
        a->layers = (int)v;
    else if (!strcmp(arg, "--collapse") && v >= 0 && v <= 64)
        a->collapse = (int)v;
    else if (!strcmp(arg, "--vanishing"))
        a->vanishing = v;
    else if (!strcmp(arg, "--exploding"))
        a->exploding = v;
    else if (!strcmp(arg, "--seed") && v >= 0)
        a->seed = (uint64_t)v;
    else
        return false;
    return true;
}

static bool parse_args(int argc, char **argv, args *a)
{
    *a = (args){.model = "mlp", .act = "tanh", .layers = 2, .vanishing = 1e-7,
                .exploding = 1e3, .seed = 1};
    for (int i = 1; i < argc; i++) {
        if (flag(argv[i], a))
            continue;
        if (i + 1 >= argc || !option(argv[i], argv[i + 1], a)) {
            fprintf(stderr, "cgrad-dot: bad argument %s\n", argv[i]);
            return false;
        }
        i++;
    }
    bool ok = (!strcmp(a->model, "mlp") || !strcmp(a->model, "cnn")) &&
              (!strcmp(a->act, "tanh") || !strcmp(a->act, "relu") || !strcmp(a->act, "sigmoid"));
    if (!ok)
        fprintf(stderr, "cgrad-dot: unknown model or activation\n");
    return ok;
}

/* ---- the models ---- */

static cg_activation activation(const char *name)
{
    return !strcmp(name, "relu") ? CG_ACT_RELU : !strcmp(name, "sigmoid") ? CG_ACT_SIGMOID
                                                                          : CG_ACT_TANH;
}

/* Linear(4, 16), act, (Linear(16, 16), act) x (layers - 1), Linear(16, 3). */
static cg_module *make_mlp(const args *a, cg_rng *rng)
{
    cg_module *seq = cg_sequential_new(NULL, 0);
    int64_t width = 4;
    for (int l = 0; seq && l < a->layers; l++) {
        if (cg_sequential_append(seq, cg_linear_new(width, 16, true, CG_F32, rng)) != CG_OK ||
            cg_sequential_append(seq, cg_activation_new(activation(a->act), 0, 0)) != CG_OK)
            break;
        width = 16;
    }
    if (seq && cg_sequential_append(seq, cg_linear_new(width, 3, true, CG_F32, rng)) != CG_OK) {
        cg_module_free(seq);
        return NULL;
    }
    return seq;
}

/* Two blocks conv 3x3 (padding 1), ReLU, max-pool 2x2, then flatten and Linear(72, 10). */
static cg_module *make_cnn(cg_rng *rng)
{
    cg_conv2d_options conv = cg_conv2d_defaults(3, 3), pool = cg_pool2d_defaults(2, 2);
    conv.padding[0] = conv.padding[1] = 1;
    cg_module *mods[] = {
        cg_conv2d_new(1, 4, &conv, true, CG_F32, rng), cg_activation_new(CG_ACT_RELU, 0, 0),
        cg_max_pool2d_new(&pool),
        cg_conv2d_new(4, 8, &conv, true, CG_F32, rng), cg_activation_new(CG_ACT_RELU, 0, 0),
        cg_max_pool2d_new(&pool),
        cg_flatten_new(1, -1), cg_linear_new(8 * 3 * 3, 10, true, CG_F32, rng),
    };
    int n = (int)(sizeof mods / sizeof mods[0]);
    for (int i = 0; i < n; i++)
        if (!mods[i]) {
            for (int j = 0; j < n; j++)
                cg_module_free(mods[j]);
            return NULL;
        }
    return cg_sequential_new(mods, n);
}

/* A random batch for the model and random class targets. Caller-owned. */
static bool make_batch(const args *a, cg_rng *rng, cg_tensor **x, cg_tensor **y)
{
    bool cnn = !strcmp(a->model, "cnn");
    int64_t n = cnn ? 2 : 8, classes = cnn ? 10 : 3;
    int64_t cnn_shape[4] = {n, 1, 12, 12}, mlp_shape[2] = {n, 4};
    *x = cnn ? cg_tensor_normal(rng, CG_F32, 4, cnn_shape, 0, 1)
             : cg_tensor_normal(rng, CG_F32, 2, mlp_shape, 0, 1);
    int64_t labels[8];
    for (int64_t i = 0; i < n; i++)
        labels[i] = (int64_t)(cg_rng_uniform(rng) * (double)classes) % classes;
    *y = cg_tensor_from_data(CG_I64, 1, &n, labels);
    return *x && *y;
}

/* ---- drawing ---- */

/* One step of plain SGD recorded in the optimizer's scope: p - 0.1 dloss/dp for every
 * parameter (the gradients themselves are not recorded, so the step's inputs are the
 * parameters and constants). */
static cg_status record_sgd_step(cg_module *m, cg_tensor *loss)
{
    int n = cg_module_num_parameters(m);
    cg_tensor **params = calloc((size_t)n, sizeof *params);
    cg_tensor **grads = calloc((size_t)n, sizeof *grads);
    cg_status st = params && grads ? CG_OK : CG_ERR_NOMEM;
    for (int i = 0; st == CG_OK && i < n; i++)
        params[i] = cg_module_parameter(m, i, NULL);
    if (st == CG_OK)
        st = cg_grad(&loss, 1, NULL, params, n, grads, NULL);
    if (st == CG_OK)
        st = cg_tape_push_scope("optim");
    for (int i = 0; st == CG_OK && i < n; i++)
        if (!cg_sub(params[i], cg_mul_scalar(grads[i], 0.1)))
            st = cg_last_status();
    if (st == CG_OK)
        st = cg_tape_pop_scope();
    free(params);
    free(grads);
    return st;
}

static cg_dot_options options_for(const args *a, const cg_module *m)
{
    cg_dot_options o = cg_dot_defaults();
    o.backward = a->backward;
    o.optimizer = a->optimizer;
    o.modules = !a->flat;
    o.collapse_depth = a->collapse;
    o.legend = !a->no_legend;
    o.left_to_right = a->lr;
    o.module = m;
    o.grad_overlay = a->overlay;
    o.vanishing = a->vanishing;
    o.exploding = a->exploding;
    o.activation_stats = a->stats;
    return o;
}

/* The format: --format, else the output's extension, else svg. */
static const char *format_of(const args *a)
{
    const char *dot = a->out ? strrchr(a->out, '.') : NULL;
    return a->format ? a->format : dot ? dot + 1 : "svg";
}

/* Record the model on tape and write its diagram to path. */
static cg_status draw_model(const args *a, cg_module *m, cg_tape *tape, const char *path)
{
    cg_rng rng = cg_rng_init(a->seed + 1000);
    cg_tensor *x = NULL, *y = NULL;
    cg_status st = make_batch(a, &rng, &x, &y) ? CG_OK : cg_last_status();
    cg_tensor *loss = st == CG_OK ? cg_cross_entropy(cg_module_forward(m, x), y, NULL) : NULL;
    if (st == CG_OK && !loss)
        st = cg_last_status();
    if (st == CG_OK && a->optimizer)
        st = record_sgd_step(m, loss);
    cg_dot_options o = options_for(a, m);
    cg_viz_buffer dot = {NULL, 0};
    if (st == CG_OK)
        st = a->optimizer ? cg_dot_export_tape(tape, &o, &dot) : cg_dot_export(&loss, 1, &o, &dot);
    if (st == CG_OK)
        st = cg_dot_save(dot.data, format_of(a), path);
    cg_viz_buffer_free(&dot);
    cg_tensor_free(x);
    cg_tensor_free(y);
    return st;
}

static cg_status draw(const args *a, const char *path)
{
    cg_rng rng = cg_rng_init(a->seed);
    cg_module *m = !strcmp(a->model, "cnn") ? make_cnn(&rng) : make_mlp(a, &rng);
    cg_tape *tape = m ? cg_tape_new() : NULL;
    if (!tape) {
        cg_module_free(m);
        return cg_last_status();
    }
    cg_tape *prev = cg_tape_use(tape);
    cg_status st = draw_model(a, m, tape, path);
    cg_tape_use(prev);
    cg_tape_free(tape);
    cg_module_free(m);
    return st;
}

/* The diagrams docs/diagrams.md shows, each with the arguments that make it. */
static int write_docs(const char *dir)
{
    static const struct {
        const char *file;
        const char *argv[12];
    } docs[] = {
        {"mlp.svg", {"--model", "mlp"}},
        {"mlp-backward.svg", {"--model", "mlp", "--backward"}},
        {"cnn.svg", {"--model", "cnn"}},
        {"cnn-backward.svg", {"--model", "cnn", "--backward"}},
        {"cnn-collapsed.svg", {"--model", "cnn", "--collapse", "2", "--backward", "--optimizer"}},
        {"mlp-sigmoid-overlay.svg",
         {"--model", "mlp", "--act", "sigmoid", "--layers", "8", "--overlay", "--stats",
          "--collapse", "2"}},
    };
    char path[4096];
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        char *argv[14] = {(char *)"cgrad-dot"};
        int argc = 1;
        for (int k = 0; docs[i].argv[k]; k++)
            argv[argc++] = (char *)docs[i].argv[k];
        args a;
        snprintf(path, sizeof path, "%s/%s", dir, docs[i].file);
        if (!parse_args(argc, argv, &a))
            return 2;
        if (draw(&a, path) != CG_OK) {
            fprintf(stderr, "cgrad-dot: %s: %s\n", docs[i].file, cg_last_error());
            return 1;
        }
        printf("wrote %s\n", path);
    }
    return 0;
}

int main(int argc, char **argv)
{
    args a;
    if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        usage(stdout);
        return 0;
    }
    if (!parse_args(argc, argv, &a)) {
        usage(stderr);
        return 2;
    }
    if (a.docs)
        return write_docs(a.docs);
    char path[4096];
    snprintf(path, sizeof path, "%s.%s", a.model, format_of(&a));
    const char *out = a.out ? a.out : path;
    if (draw(&a, out) != CG_OK) {
        fprintf(stderr, "cgrad-dot: %s\n", cg_last_error());
        return 1;
    }
    printf("wrote %s\n", out);
    return 0;
}
