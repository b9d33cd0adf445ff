/* The DOT exporter and Graphviz rendering: Graphviz's own parser (agmemread) counts the
 * nodes, edges and clusters of small graphs drawn forward, with backward, with module
 * scopes nested or collapsed, and with the optimizer's cluster; golden DOT files pin the
 * exact text; equal graphs give equal bytes; the overlay flags vanishing and exploding
 * gradients; a 100,000-op chain exports; bad input fails cleanly, leaving no file.
 *
 * Set CGRAD_UPDATE_GOLDEN=1 to rewrite tests/golden/viz_*.dot from the current output. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <graphviz/cgraph.h>

#include "test_util.h"

/* ---- helpers ---- */

typedef struct counts {
    int nodes, edges, clusters;
} counts;

static int count_clusters(Agraph_t *g)
{
    int n = 0;
    for (Agraph_t *s = agfstsubg(g); s; s = agnxtsubg(s))
        n += (strncmp(agnameof(s), "cluster", 7) == 0) + count_clusters(s);
    return n;
}

/* Parse dot with Graphviz and count what it holds. */
static counts parse_counts(const char *dot)
{
    Agraph_t *g = agmemread(dot);
    if (!g)
        fail_msg("Graphviz could not parse:\n%s", dot);
    counts c = {agnnodes(g), agnedges(g), count_clusters(g)};
    agclose(g);
    return c;
}

static void assert_counts(counts got, int nodes, int edges, int clusters)
{
    if (got.nodes != nodes || got.edges != edges || got.clusters != clusters)
        fail_msg("got %d nodes, %d edges, %d clusters; expected %d, %d, %d", got.nodes,
                 got.edges, got.clusters, nodes, edges, clusters);
}

static cg_dot_options quiet(void)
{
    cg_dot_options o = cg_dot_defaults();
    o.legend = false;
    return o;
}

static counts export_counts(cg_tensor *root, const cg_dot_options *o)
{
    cg_viz_buffer b;
    assert_ok(cg_dot_export(&root, 1, o, &b));
    assert_int_equal(strlen(b.data), b.len);
    counts c = parse_counts(b.data);
    cg_viz_buffer_free(&b);
    assert_null(b.data);
    return c;
}

/* A caller-owned f64 tensor of the given shape holding 0.1, 0.2, ... (named parameter
 * when name is not NULL). */
static cg_tensor *make(int ndim, const int64_t *shape, const char *name)
{
    cg_tensor *t = cg_tensor_zeros(CG_F64, ndim, shape);
    double *d = cg_tensor_data(t);
    for (int64_t i = 0; i < cg_tensor_numel(t); i++)
        d[i] = 0.1 * (double)(i + 1);
    if (name) {
        assert_ok(cg_tensor_set_name(t, name));
        assert_ok(cg_tensor_set_requires_grad(t, true));
    }
    return t;
}

/* A caller-owned unnamed leaf that requires grad: an input. */
static cg_tensor *make_input(int ndim, const int64_t *shape)
{
    cg_tensor *t = make(ndim, shape, NULL);
    assert_ok(cg_tensor_set_requires_grad(t, true));
    return t;
}

/* A small net: loss = mean(exp(0.1 (x @ w1 + b1)) @ w2), in scopes net.fc1, net.act,
 * net.fc2. Walk order: x n0, w1 n1, matmul n2, b1 n3, add n4, mul_scalar n5, exp n6,
 * w2 n7, matmul n8, mean n9. */
typedef struct net {
    cg_tensor *x, *w1, *b1, *w2, *loss;
} net;

static net make_net(void)
{
    net m;
    m.x = make(2, (int64_t[]){4, 3}, NULL);
    m.w1 = make(2, (int64_t[]){3, 5}, "fc1.weight");
    m.b1 = make(1, (int64_t[]){5}, "fc1.bias");
    m.w2 = make(2, (int64_t[]){5, 1}, "fc2.weight");
    assert_ok(cg_tape_push_scope("net"));
    assert_ok(cg_tape_push_scope("fc1"));
    cg_tensor *h = cg_add(cg_matmul(m.x, m.w1), m.b1);
    assert_ok(cg_tape_pop_scope());
    assert_ok(cg_tape_push_scope("act"));
    cg_tensor *a = cg_exp(cg_mul_scalar(h, 0.1));
    assert_ok(cg_tape_pop_scope());
    assert_ok(cg_tape_push_scope("fc2"));
    cg_tensor *o = cg_matmul(a, m.w2);
    assert_ok(cg_tape_pop_scope());
    assert_ok(cg_tape_pop_scope());
    m.loss = cg_mean(o, NULL, 0, false);
    assert_tensor(m.loss);
    return m;
}

static void free_net(net *m)
{
    cg_tensor_free(m->x);
    cg_tensor_free(m->w1);
    cg_tensor_free(m->b1);
    cg_tensor_free(m->w2);
}

/* Compare dot with tests/golden/<name> (tests run in tests/), or rewrite it. */
static void check_golden(const char *name, const char *dot)
{
    char path[256];
    snprintf(path, sizeof path, "golden/%s", name);
    const char *update = getenv("CGRAD_UPDATE_GOLDEN");
    if (update && *update && strcmp(update, "0") != 0) {
        assert_ok(cg_dot_save(dot, "dot", path));
        return;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("missing %s (run with CGRAD_UPDATE_GOLDEN=1 to make it)", path);
    static char want[1 << 16];
    size_t n = fread(want, 1, sizeof want - 1, f);
    fclose(f);
    want[n] = '\0';
    if (strcmp(want, dot) != 0) {
        size_t i = 0;
        while (want[i] && want[i] == dot[i])
            i++;
        fail_msg("%s differs at byte %zu:\n--- golden ---\n%.200s\n--- got ---\n%.200s", path,
                 i, want + i, dot + i);
    }
}

/* Number of entries in dir besides . and .. */
static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char path[512];
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0)
            rmdir(path);
    }
    closedir(d);
    rmdir(dir);
}

/* The attribute attr of node name in dot, copied into out. */
static void node_attr(const char *dot, const char *name, const char *attr, char *out, size_t n)
{
    Agraph_t *g = agmemread(dot);
    assert_non_null(g);
    Agnode_t *v = agnode(g, (char *)name, 0);
    if (!v)
        fail_msg("no node %s in:\n%s", name, dot);
    char *value = agget(v, (char *)attr);
    snprintf(out, n, "%s", value ? value : "");
    agclose(g);
}

static void assert_node_attr(const char *dot, const char *name, const char *attr,
                             const char *want)
{
    char got[512];
    node_attr(dot, name, attr, got, sizeof got);
    if (strcmp(got, want) != 0)
        fail_msg("%s.%s = \"%s\", expected \"%s\"", name, attr, got, want);
}

static void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part))
        fail_msg("\"%s\" not found in:\n%s", part, text);
}

/* ---- counts through Graphviz's parser ---- */

static void test_counts_forward(void **state)
{
    (void)state;
    net m = make_net();
    cg_dot_options o = quiet();
    /* 10 nodes: x, w1, matmul, b1, add, mul_scalar, exp, w2, matmul, mean;
     * 9 edges; 4 clusters: net, net.fc1, net.act, net.fc2. */
    assert_counts(export_counts(m.loss, &o), 10, 9, 4);
    o.modules = false;
    assert_counts(export_counts(m.loss, &o), 10, 9, 0);
    /* The legend adds 6 sample nodes stacked by 5 invisible edges, in its own cluster. */
    assert_counts(export_counts(m.loss, NULL), 16, 14, 5);
    free_net(&m);
}

static void test_counts_backward(void **state)
{
    (void)state;
    net m = make_net();
    cg_dot_options o = quiet();
    o.backward = true;
    /* Backward: 6 <op>Backward + 3 AccumulateGrad (x needs no gradient); 8 gradient
     * edges (none into x's); plus the backward cluster. */
    assert_counts(export_counts(m.loss, &o), 10 + 9, 9 + 8, 4 + 1);
    free_net(&m);
}

static void test_counts_collapsed(void **state)
{
    (void)state;
    net m = make_net();
    cg_dot_options o = quiet();
    o.collapse_depth = 2; /* net.fc1, net.act, net.fc2 become one box each */
    /* x, 3 boxes, mean; x -> fc1 -> act -> fc2 -> mean; the cluster "net" remains. */
    assert_counts(export_counts(m.loss, &o), 5, 4, 1);
    o.backward = true; /* 4 backward nodes (x has none), 3 edges between them */
    assert_counts(export_counts(m.loss, &o), 9, 7, 2);
    o.backward = false;
    o.collapse_depth = 1; /* the whole net is one box */
    assert_counts(export_counts(m.loss, &o), 3, 2, 0);
    o.collapse_depth = 3; /* deeper than any scope: nothing to collapse */
    assert_counts(export_counts(m.loss, &o), 10, 9, 4);
    free_net(&m);
}

/* x * x: both edges are drawn, labelled with their argument positions; collapsed, the
 * box's output feeds the two arguments as two labelled edges too. */
static void test_argument_labels(void **state)
{
    (void)state;
    cg_tensor *x = make_input(1, (int64_t[]){3});
    assert_ok(cg_tape_push_scope("sq"));
    cg_tensor *e = cg_exp(x);
    assert_ok(cg_tape_pop_scope());
    cg_tensor *y = cg_sum(cg_mul(e, e), NULL, 0, false);
    cg_dot_options o = quiet();
    cg_viz_buffer b;
    assert_ok(cg_dot_export(&y, 1, &o, &b));
    /* Walk: x n0, exp n1, mul n2, sum n3. mul saves both inputs: bold edges. */
    assert_contains(b.data, "n1 -> n2 [label=\"0\", penwidth=2.2];");
    assert_contains(b.data, "n1 -> n2 [label=\"1\", penwidth=2.2];");
    assert_contains(b.data, "n2 -> n3;\n"); /* sum has one input: no label */
    cg_viz_buffer_free(&b);
    o.collapse_depth = 1;
    assert_counts(export_counts(y, &o), 4, 4, 0); /* x, box, mul, sum; x->box, 2x box->mul */
    cg_tensor_free(x);
}

/* ---- what nodes look like ---- */

static void test_leaf_kinds_and_saved_marks(void **state)
{
    (void)state;
    cg_tensor *w = make(1, (int64_t[]){3}, "w");      /* parameter */
    cg_tensor *x = make(1, (int64_t[]){3}, NULL);     /* input */
    cg_tensor *c = cg_tensor_scalar(CG_F64, 2.5);     /* constant (0-d) */
    cg_tensor *d = cg_detach(cg_exp(x));              /* constant made by the tape */
    cg_tensor *y = cg_mul(cg_add(cg_mul(w, x), d), c); /* mul saves both inputs */
    cg_tensor *z = cg_sum(cg_exp(y), NULL, 0, false);  /* exp saves its output */
    /* Walk: w n0, x n1, mul n2, d n3, add n4, c n5, mul n6, exp n7, sum n8. */
    cg_viz_buffer b;
    cg_dot_options o = quiet();
    assert_ok(cg_dot_export(&z, 1, &o, &b));
    assert_node_attr(b.data, "n0", "shape", "box");
    assert_node_attr(b.data, "n0", "style", "filled");
    assert_node_attr(b.data, "n0", "label", "w\\n[3] f64");
    assert_node_attr(b.data, "n1", "shape", "ellipse");
    assert_node_attr(b.data, "n3", "style", "dashed,filled");
    assert_node_attr(b.data, "n5", "style", "dashed,filled");
    assert_node_attr(b.data, "n5", "label", "const 2.5\\n[] f64");
    assert_node_attr(b.data, "n2", "label", "mul\\n[3] f64");
    assert_node_attr(b.data, "n2", "style", "rounded,filled");
    /* Saved for backward: mul's inputs (w, x, add's output, c) and exp's output. */
    assert_node_attr(b.data, "n0", "peripheries", "2");
    assert_node_attr(b.data, "n1", "peripheries", "2");
    assert_node_attr(b.data, "n4", "peripheries", "2");
    assert_node_attr(b.data, "n5", "peripheries", "2");
    assert_node_attr(b.data, "n7", "peripheries", "2");
    assert_node_attr(b.data, "n2", "peripheries", ""); /* read by nobody's backward */
    assert_node_attr(b.data, "n3", "peripheries", ""); /* add saves nothing */
    assert_contains(b.data, "n3 -> n4 [label=\"1\"];");
    assert_contains(b.data, "n4 -> n6 [label=\"0\", penwidth=2.2];");
    cg_viz_buffer_free(&b);
    cg_tensor_free(w);
    cg_tensor_free(x);
    cg_tensor_free(c);
}

/* Names and scope paths are user text: quotes and backslashes are escaped, so the DOT
 * stays parseable and the label shows them literally. */
static void test_names_are_escaped(void **state)
{
    (void)state;
    cg_tensor *w = make(1, (int64_t[]){2}, "w\"\\n{x}");
    assert_ok(cg_tape_push_scope("a\"b"));
    cg_tensor *y = cg_sum(w, NULL, 0, false);
    assert_ok(cg_tape_pop_scope());
    cg_dot_options o = quiet();
    cg_viz_buffer b;
    assert_ok(cg_dot_export(&y, 1, &o, &b));
    assert_counts(parse_counts(b.data), 2, 1, 1); /* the cluster's label is the path */
    assert_node_attr(b.data, "n0", "label", "w\"\\\\n{x}\\n[2] f64");
    cg_viz_buffer_free(&b);
    o.modules = false; /* without clusters, a parameter's label names its module */
    assert_ok(cg_dot_export(&y, 1, &o, &b));
    assert_node_attr(b.data, "n0", "label", "w\"\\\\n{x}\\n[2] f64\\nin a\"b");
    cg_viz_buffer_free(&b);
    cg_tensor_free(w);
}

/* A model's parameters carry no names of their own; options.module supplies the dotted
 * names and makes them parameters, inside their layers' clusters and boxes. */
static void test_module_parameters(void **state)
{
    (void)state;
    cg_rng rng = cg_rng_init(3);
    cg_module *mods[] = {cg_linear_new(3, 4, true, CG_F64, &rng),
                         cg_activation_new(CG_ACT_TANH, 0, 0),
                         cg_linear_new(4, 2, true, CG_F64, &rng)};
    cg_module *m = cg_sequential_new(mods, 3);
    assert_non_null(m);
    cg_tensor *x = make(2, (int64_t[]){5, 3}, NULL);
    cg_tensor *y = cg_sum(cg_module_forward(m, x), NULL, 0, false);
    assert_tensor(y);
    cg_dot_options o = quiet();
    cg_viz_buffer b;
    assert_ok(cg_dot_export(&y, 1, &o, &b));
    assert_null(strstr(b.data, "0.weight")); /* unnamed: drawn as inputs */
    cg_viz_buffer_free(&b);
    o.module = m;
    assert_ok(cg_dot_export(&y, 1, &o, &b));
    assert_contains(b.data, "[label=\"0.weight\\n[4, 3] f64\", shape=box, style=filled");
    assert_contains(b.data, "[label=\"2.bias\\n[2] f64\", shape=box, style=filled");
    /* x; each Linear is weight, bias, permute, matmul and add; tanh; sum. Clusters:
     * Sequential, Sequential.0, .1, .2. */
    assert_counts(parse_counts(b.data), 1 + 2 * 5 + 1 + 1, 2 * 5 + 1 + 1, 4);
    cg_viz_buffer_free(&b);
    o.collapse_depth = 2;
    assert_ok(cg_dot_export(&y, 1, &o, &b));
    assert_contains(b.data, "Sequential.0\\n3 ops, 2 params\\nout [5, 4] f64");
    assert_counts(parse_counts(b.data), 5, 4, 1);
    cg_viz_buffer_free(&b);
    cg_tensor_free(x);
    cg_module_free(m);
}

/* ---- tapes, optimizer updates, create_graph ---- */

static void test_tape_export_and_optimizer_cluster(void **state)
{
    test_ctx *ctx = *state;
    cg_tensor *w = make(1, (int64_t[]){3}, "w");
    cg_tensor *loss = cg_sum(cg_mul(w, w), NULL, 0, false);
    cg_tensor *g;
    assert_ok(cg_grad(&loss, 1, NULL, &w, 1, &g, NULL));
    /* A differentiable SGD step recorded in the optimizer's scope: w - 0.1 g. */
    assert_ok(cg_tape_push_scope("optim"));
    assert_ok(cg_tape_push_scope("sgd"));
    cg_tensor *w_new = cg_sub(w, cg_mul_scalar(cg_detach(g), 0.1));
    assert_tensor(w_new);
    assert_ok(cg_tape_pop_scope());
    assert_ok(cg_tape_pop_scope());
    cg_dot_options o = quiet();
    cg_viz_buffer b;
    /* Left out by default: w, mul, sum. */
    assert_ok(cg_dot_export_tape(ctx->tape, &o, &b));
    assert_counts(parse_counts(b.data), 3, 3, 0);
    cg_viz_buffer_free(&b);
    /* On request, in their own cluster: + sub and its operand 0.1 g (a constant: the
     * detached gradient's product was not recorded). */
    o.optimizer = true;
    assert_ok(cg_dot_export_tape(ctx->tape, &o, &b));
    assert_counts(parse_counts(b.data), 5, 5, 1);
    assert_contains(b.data, "subgraph cluster_optim {");
    cg_viz_buffer_free(&b);
    /* The overlay's loss on a tape: the one forward result nothing uses (the sum). */
    o.grad_overlay = true;
    assert_ok(cg_dot_export_tape(ctx->tape, &o, &b));
    assert_contains(b.data, "sum\\n[] f64\\n|grad| 1\"");
    cg_viz_buffer_free(&b);
    /* An empty tape: an empty diagram. */
    cg_tape *empty = cg_tape_new();
    o = quiet();
    assert_ok(cg_dot_export_tape(empty, &o, &b));
    assert_counts(parse_counts(b.data), 0, 0, 0);
    cg_viz_buffer_free(&b);
    cg_tape_free(empty);
    cg_tensor_free(w);
}

/* With create_graph the gradient's ops are on the tape: a tape export draws them as the
 * ordinary ops they are, and the graph of a gradient penalty contains them. */
static void test_create_graph_ops_are_drawn(void **state)
{
    test_ctx *ctx = *state;
    cg_tensor *x = make(1, (int64_t[]){2}, "x");
    cg_tensor *y = cg_sum(cg_pow_scalar(x, 3.0), NULL, 0, false);
    int64_t before = cg_tape_num_nodes(ctx->tape);
    cg_tensor *gx;
    cg_grad_options go = {.create_graph = true};
    assert_ok(cg_grad(&y, 1, NULL, &x, 1, &gx, &go));
    cg_tensor *penalty = cg_sum(cg_mul(gx, gx), NULL, 0, false);
    int64_t nodes = cg_tape_num_nodes(ctx->tape);
    assert_true(nodes >= before + 2);
    cg_dot_options o = quiet();
    cg_viz_buffer b;
    assert_ok(cg_dot_export_tape(ctx->tape, &o, &b));
    counts c = parse_counts(b.data);
    cg_viz_buffer_free(&b);
    assert_true(c.nodes >= nodes + 1); /* every recorded op, plus x and any constants */
    /* The penalty's own graph reaches back through the recorded gradient to x. */
    assert_ok(cg_dot_export(&penalty, 1, &o, &b));
    assert_contains(b.data, "pow_scalar");
    cg_viz_buffer_free(&b);
    cg_tensor_free(x);
}

/* ---- determinism and goldens ---- */

static void test_same_graph_same_bytes(void **state)
{
    test_ctx *ctx = *state;
    cg_dot_options o = cg_dot_defaults();
    o.backward = true;
    net m = make_net();
    cg_viz_buffer a, b, c;
    assert_ok(cg_dot_export(&m.loss, 1, &o, &a));
    assert_ok(cg_dot_export(&m.loss, 1, &o, &b));
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    /* Rebuilt after a reset (new addresses, new sequence numbers): the same text. */
    free_net(&m);
    cg_tape_reset(ctx->tape);
    cg_tape *other = cg_tape_new();
    cg_tape_use(other);
    cg_tensor *pad = make(1, (int64_t[]){1}, "pad");
    assert_tensor(cg_exp(pad)); /* shifts the addresses and sequence numbers */
    m = make_net();
    assert_ok(cg_dot_export(&m.loss, 1, &o, &c));
    assert_string_equal(a.data, c.data);
    cg_viz_buffer_free(&a);
    cg_viz_buffer_free(&b);
    cg_viz_buffer_free(&c);
    free_net(&m);
    cg_tensor_free(pad);
    cg_tape_use(ctx->tape);
    cg_tape_free(other);
}

/* The 5-node example: y = sum(w * x + b). */
static void test_golden_small(void **state)
{
    (void)state;
    cg_tensor *w = make(1, (int64_t[]){3}, "w"), *b = make(1, (int64_t[]){3}, "b");
    cg_tensor *x = make(1, (int64_t[]){3}, NULL);
    cg_tensor *y = cg_sum(cg_add(cg_mul(w, x), b), NULL, 0, false);
    cg_viz_buffer dot;
    assert_ok(cg_dot_export(&y, 1, NULL, &dot));
    check_golden("viz_small.dot", dot.data);
    cg_viz_buffer_free(&dot);
    cg_tensor_free(w);
    cg_tensor_free(b);
    cg_tensor_free(x);
}

static void test_golden_modules(void **state)
{
    (void)state;
    net m = make_net();
    cg_viz_buffer dot;
    assert_ok(cg_dot_export(&m.loss, 1, NULL, &dot));
    check_golden("viz_modules.dot", dot.data);
    cg_viz_buffer_free(&dot);
    free_net(&m);
}

static void test_golden_backward_collapsed(void **state)
{
    (void)state;
    net m = make_net();
    cg_dot_options o = quiet();
    o.backward = true;
    o.collapse_depth = 2;
    cg_viz_buffer dot;
    assert_ok(cg_dot_export(&m.loss, 1, &o, &dot));
    check_golden("viz_backward_collapsed.dot", dot.data);
    cg_viz_buffer_free(&dot);
    free_net(&m);
}

/* ---- gradient-health overlay ---- */

/* sigmoid(x) = 1 / (1 + e^-x) from core ops. */
static cg_tensor *sigmoid_like(cg_tensor *x)
{
    return cg_pow_scalar(cg_add_scalar(cg_exp(cg_neg(x)), 1.0), -1.0);
}

static int count_class(const char *dot, const char *cls)
{
    char needle[64];
    snprintf(needle, sizeof needle, "class=\"%s\"", cls);
    int n = 0;
    for (const char *p = dot; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* loss = sum(x * 1e-9 + w * 1e5): d loss/dx = 1e-9 (vanishing), d loss/dw = 1e5 (exploding). */
static void test_overlay_flags_vanishing_and_exploding(void **state)
{
    (void)state;
    cg_tensor *x = make(1, (int64_t[]){4}, "x"), *w = make(1, (int64_t[]){4}, "w");
    cg_tensor *loss =
        cg_sum(cg_add(cg_mul_scalar(x, 1e-9), cg_mul_scalar(w, 1e5)), NULL, 0, false);
    assert_ok(cg_backward(loss, NULL));
    cg_dot_options o = quiet();
    o.grad_overlay = true;
    cg_viz_buffer b;
    /* Walk: x n0, mul_scalar n1, w n2, mul_scalar n3, add n4, sum n5. */
    assert_ok(cg_dot_export(&loss, 1, &o, &b));
    assert_node_attr(b.data, "n0", "class", "vanishing");
    assert_node_attr(b.data, "n2", "class", "exploding");
    assert_node_attr(b.data, "n5", "class", "healthy"); /* d loss/d loss = 1 */
    assert_node_attr(b.data, "n0", "label", "x\\n[4] f64\\n|grad| 2e-09 VANISHING");
    assert_int_equal(count_class(b.data, "vanishing"), 1);
    assert_int_equal(count_class(b.data, "exploding"), 1);
    cg_viz_buffer_free(&b);
    /* The thresholds are the caller's. */
    o.vanishing = 1e-12;
    o.exploding = 1e6;
    assert_ok(cg_dot_export(&loss, 1, &o, &b));
    assert_int_equal(count_class(b.data, "vanishing"), 0);
    assert_int_equal(count_class(b.data, "exploding"), 0);
    cg_viz_buffer_free(&b);
    cg_tensor_free(x);
    cg_tensor_free(w);
}

/* Twenty sigmoids deep, the gradient at the bottom is below 0.25^20 ~ 1e-12: the overlay
 * shows where it dies; collapsed, each layer's box counts the flagged ops inside. */
static void test_overlay_deep_sigmoid_chain(void **state)
{
    (void)state;
    cg_tensor *x = make_input(1, (int64_t[]){2});
    cg_tensor *h = x;
    char name[16];
    for (int layer = 0; layer < 20; layer++) {
        snprintf(name, sizeof name, "l%d", layer);
        assert_ok(cg_tape_push_scope(name));
        h = sigmoid_like(cg_mul_scalar(h, 1.0));
        assert_ok(cg_tape_pop_scope());
    }
    cg_tensor *loss = cg_sum(h, NULL, 0, false);
    cg_dot_options o = quiet();
    o.grad_overlay = true;
    o.activation_stats = true;
    cg_viz_buffer b;
    assert_ok(cg_dot_export(&loss, 1, &o, &b));
    assert_node_attr(b.data, "n0", "class", "vanishing");
    assert_contains(b.data, "mean ");
    int vanishing = count_class(b.data, "vanishing");
    assert_true(vanishing > 1);
    cg_viz_buffer_free(&b);
    o.collapse_depth = 1;
    assert_ok(cg_dot_export(&loss, 1, &o, &b));
    assert_contains(b.data, "vanishing inside");
    assert_counts(parse_counts(b.data), 1 + 20 + 1, 21, 0);
    cg_viz_buffer_free(&b);
    /* No one-element loss to pick: the caller must name one. */
    cg_tensor *roots[2] = {loss, h};
    o.collapse_depth = 0;
    assert_int_equal(cg_dot_export(roots, 2, &o, &b), CG_ERR_VALUE);
    assert_error_contains("one-element loss");
    o.loss = loss;
    assert_ok(cg_dot_export(roots, 2, &o, &b));
    cg_viz_buffer_free(&b);
    cg_tensor_free(x);
}

static void test_activation_stats(void **state)
{
    (void)state;
    cg_tensor *x = cg_tensor_from_data(CG_F64, 1, (int64_t[]){4}, (double[]){1, 2, 3, 4});
    assert_ok(cg_tensor_set_requires_grad(x, true));
    cg_tensor *y = cg_mul_scalar(x, 2.0); /* 2 4 6 8: mean 5, std sqrt(5) */
    cg_dot_options o = quiet();
    o.activation_stats = true;
    cg_viz_buffer b;
    assert_ok(cg_dot_export(&y, 1, &o, &b));
    assert_node_attr(b.data, "n1", "label", "mul_scalar\\n[4] f64\\nmean 5 std 2.24");
    cg_viz_buffer_free(&b);
    cg_tensor_free(x);
}

/* ---- scale ---- */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Occurrences of part in b, in one pass (strstr in a loop is quadratic under ASan's
 * strict_string_checks, which measure the whole haystack at every call). */
static int count_text(const cg_viz_buffer *b, const char *part)
{
    size_t n = strlen(part);
    int count = 0;
    for (size_t i = 0; i + n <= b->len; i++)
        if (b->data[i] == part[0] && memcmp(b->data + i, part, n) == 0)
            count++;
    return count;
}

static void test_chain_of_100000_ops(void **state)
{
    (void)state;
    cg_tensor *x = make(1, (int64_t[]){1}, "x");
    cg_tensor *y = x;
    for (int i = 0; i < 100000; i++)
        y = (i % 2) ? cg_add_scalar(y, 1e-3) : cg_mul_scalar(y, 1.0);
    assert_tensor(y);
    cg_dot_options o = quiet();
    o.backward = true;
    cg_viz_buffer b;
    double t0 = now_seconds();
    assert_ok(cg_dot_export(&y, 1, &o, &b));
    double t1 = now_seconds();
    int edges = count_text(&b, " -> "), backward_nodes = count_text(&b, "Backward\"");
    assert_int_equal(edges, 2 * 100000);
    assert_int_equal(backward_nodes, 100000);
    fprintf(stderr, "# exported a 100,000-op chain with its backward graph in %.3f s "
                    "(%zu bytes of DOT)\n", t1 - t0, b.len);
    cg_viz_buffer_free(&b);
    cg_tensor_free(x);
}

/* ---- rendering ---- */

static bool has_prefix(const cg_viz_buffer *b, const char *magic, size_t n)
{
    return b->len >= n && memcmp(b->data, magic, n) == 0;
}

static bool file_starts_with(const char *path, const char *magic, size_t n)
{
    char head[16] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t got = fread(head, 1, n, f);
    fclose(f);
    return got == n && memcmp(head, magic, n) == 0;
}

static bool is_svg_file(const char *path)
{
    return file_starts_with(path, "<?xml", 5) || file_starts_with(path, "<svg", 4);
}

static const char png_magic[8] = {(char)0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

static void test_render_svg_png_pdf(void **state)
{
    (void)state;
    net m = make_net();
    assert_ok(cg_backward(m.loss, NULL));
    cg_dot_options o = cg_dot_defaults();
    o.backward = true;
    o.grad_overlay = true;
    char dir[] = "/tmp/cgrad-viz-XXXXXX", path[256];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/net.svg", dir);
    assert_ok(cg_dot_save_graph(&m.loss, 1, &o, "svg", path));
    assert_true(is_svg_file(path));
    snprintf(path, sizeof path, "%s/net.png", dir);
    assert_ok(cg_dot_save_graph(&m.loss, 1, &o, "png", path));
    assert_true(file_starts_with(path, png_magic, 8));
    snprintf(path, sizeof path, "%s/net.pdf", dir);
    assert_ok(cg_dot_save_graph(&m.loss, 1, &o, "pdf", path));
    assert_true(file_starts_with(path, "%PDF", 4));
    snprintf(path, sizeof path, "%s/net.dot", dir);
    assert_ok(cg_dot_save_graph(&m.loss, 1, &o, "dot", path));
    assert_true(file_starts_with(path, "// libcgrad", 11));
    assert_int_equal(dir_entries(dir), 4); /* no temporary file left over */
    /* In memory. */
    cg_viz_buffer dot, img;
    assert_ok(cg_dot_export(&m.loss, 1, &o, &dot));
    assert_ok(cg_dot_render(dot.data, "png", &img));
    assert_true(has_prefix(&img, png_magic, 8));
    cg_viz_buffer_free(&img);
    assert_ok(cg_dot_render(dot.data, "svg", &img));
    assert_true(has_prefix(&img, "<?xml", 5) || has_prefix(&img, "<svg", 4));
    assert_contains(img.data, "</svg>");
    cg_viz_buffer_free(&img);
    cg_viz_buffer_free(&dot);
    remove_dir(dir);
    free_net(&m);
}

/* ---- errors ---- */

static void test_export_errors(void **state)
{
    test_ctx *ctx = *state;
    cg_viz_buffer b = {(char *)"x", 1};
    cg_tensor *w = make(1, (int64_t[]){2}, "w");
    cg_tensor *y = cg_exp(w);
    assert_int_equal(cg_dot_export(NULL, 1, NULL, &b), CG_ERR_NULL);
    assert_null(b.data); /* cleared on failure */
    cg_clear_error();
    cg_tensor *none = NULL;
    assert_int_equal(cg_dot_export(&none, 1, NULL, &b), CG_ERR_NULL);
    assert_error_contains("NULL tensor");
    assert_int_equal(cg_dot_export(&y, 0, NULL, &b), CG_ERR_VALUE);
    assert_int_equal(cg_dot_export(&y, 1, NULL, NULL), CG_ERR_NULL);
    assert_int_equal(cg_dot_export_tape(NULL, NULL, &b), CG_ERR_NULL);
    cg_dot_options o = cg_dot_defaults();
    o.collapse_depth = -1;
    assert_int_equal(cg_dot_export(&y, 1, &o, &b), CG_ERR_VALUE);
    o = cg_dot_defaults();
    o.grad_overlay = true;
    o.vanishing = 1e3;
    o.exploding = 1;
    assert_int_equal(cg_dot_export(&y, 1, &o, &b), CG_ERR_VALUE);
    assert_error_contains("vanishing < exploding");
    o = cg_dot_defaults();
    o.grad_overlay = true; /* y has two elements: no loss to differentiate */
    assert_int_equal(cg_dot_export(&y, 1, &o, &b), CG_ERR_VALUE);
    o.loss = cg_sum(y, NULL, 0, false);
    cg_tape *active = cg_tape_use(NULL);
    assert_int_equal(cg_dot_export(&y, 1, &o, &b), CG_ERR_STATE);
    assert_error_contains("active tape");
    cg_tape_use(active);
    /* A tensor of a tape that has been reset. */
    cg_tape_reset(ctx->tape);
    assert_int_equal(cg_dot_export(&y, 1, NULL, &b), CG_ERR_STATE);
    assert_error_contains("reset");
    assert_null(b.data);
    cg_tensor_free(w);
}

static void test_render_errors_leave_no_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/cgrad-viz-XXXXXX", path[256];
    assert_non_null(mkdtemp(dir));
    const char *dot = "digraph { a -> b; }";
    cg_viz_buffer img = {(char *)"x", 1};
    /* Unknown format: nothing is written. */
    snprintf(path, sizeof path, "%s/g.gif", dir);
    assert_int_equal(cg_dot_save(dot, "gif", path), CG_ERR_VALUE);
    assert_error_contains("unknown format \"gif\"");
    assert_int_equal(cg_dot_render(dot, "jpeg", &img), CG_ERR_VALUE);
    assert_null(img.data);
    /* A missing directory. */
    snprintf(path, sizeof path, "%s/missing/g.svg", dir);
    assert_int_equal(cg_dot_save(dot, "svg", path), CG_ERR_IO);
    assert_error_contains("missing/g.svg");
    assert_error_contains("No such file or directory");
    /* The target is a directory: the temporary file is written, the rename fails, and
     * the temporary file is removed. */
    snprintf(path, sizeof path, "%s/sub", dir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_int_equal(cg_dot_save(dot, "svg", path), CG_ERR_IO);
    assert_error_contains("rename");
    /* DOT that Graphviz cannot parse. */
    snprintf(path, sizeof path, "%s/bad.svg", dir);
    assert_int_equal(cg_dot_save("digraph { a -> ", "svg", path), CG_ERR_FORMAT);
    assert_error_contains("could not parse");
    assert_int_equal(cg_dot_render("graph {", "png", &img), CG_ERR_FORMAT);
    /* NULL arguments. */
    assert_int_equal(cg_dot_save(NULL, "svg", path), CG_ERR_NULL);
    assert_int_equal(cg_dot_save(dot, NULL, path), CG_ERR_NULL);
    assert_int_equal(cg_dot_save(dot, "svg", NULL), CG_ERR_NULL);
    assert_int_equal(cg_dot_render(NULL, "svg", &img), CG_ERR_NULL);
    assert_int_equal(cg_dot_render(dot, "svg", NULL), CG_ERR_NULL);
    assert_int_equal(cg_dot_save_graph(NULL, 1, NULL, "svg", path), CG_ERR_NULL);
    assert_int_equal(dir_entries(dir), 1); /* only sub/: no file, no temporary file */
    cg_viz_buffer_free(NULL);
    remove_dir(dir);
}

/* Out of memory at every allocation of an export: a clean error and no leak. */
static void test_export_out_of_memory(void **state)
{
    (void)state;
    net m = make_net();
    cg_dot_options o = cg_dot_defaults();
    o.backward = true;
    o.collapse_depth = 2;
    cg_viz_buffer b;
    int failures = 0;
    for (int64_t k = 1; k < 200; k++) {
        cg_alloc_fail_after(k);
        cg_status st = cg_dot_export(&m.loss, 1, &o, &b);
        cg_alloc_fail_after(0);
        if (st == CG_OK) {
            cg_viz_buffer_free(&b);
            break;
        }
        assert_int_equal(st, CG_ERR_NOMEM);
        assert_null(b.data);
        failures++;
    }
    assert_true(failures > 5);
    free_net(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        CG_TEST(test_counts_forward),
        CG_TEST(test_counts_backward),
        CG_TEST(test_counts_collapsed),
        CG_TEST(test_argument_labels),
        CG_TEST(test_leaf_kinds_and_saved_marks),
        CG_TEST(test_names_are_escaped),
        CG_TEST(test_module_parameters),
        CG_TEST(test_tape_export_and_optimizer_cluster),
        CG_TEST(test_create_graph_ops_are_drawn),
        CG_TEST(test_same_graph_same_bytes),
        CG_TEST(test_golden_small),
        CG_TEST(test_golden_modules),
        CG_TEST(test_golden_backward_collapsed),
        CG_TEST(test_overlay_flags_vanishing_and_exploding),
        CG_TEST(test_overlay_deep_sigmoid_chain),
        CG_TEST(test_activation_stats),
        CG_TEST(test_chain_of_100000_ops),
        CG_TEST(test_render_svg_png_pdf),
        CG_TEST(test_export_errors),
        CG_TEST(test_render_errors_leave_no_file),
        CG_TEST(test_export_out_of_memory),
    };
    return cmocka_run_group_tests_name("viz", tests, NULL, NULL);
}
