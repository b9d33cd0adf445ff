/* Writing a classified graph as DOT. Shape says what a node is (rounded box: op, box:
 * parameter, ellipse: input, dashed box: constant, 3-d box: collapsed module); colour says
 * the kind too, or the gradient health when the overlay is on. Output order follows the
 * item numbering only, so equal graphs give equal bytes. */
#include <string.h>

#include "viz_impl.h"

typedef struct writer {
    vz_graph *g;
    vz_text *t;
} writer;

static const char *const kind_shape[] = {
    [VZ_OP] = "shape=box, style=\"rounded,filled\"",
    [VZ_PARAM] = "shape=box, style=filled",
    [VZ_INPUT] = "shape=ellipse, style=filled",
    [VZ_CONST] = "shape=box, style=\"dashed,filled\", fontcolor=\"#525252\"",
};
static const char *const kind_fill[] = {
    [VZ_OP] = "#fff2cc", [VZ_PARAM] = "#c7e9c0", [VZ_INPUT] = "#c6dbef", [VZ_CONST] = "#f0f0f0"};
static const char *const box_style = "shape=box3d, style=filled";
static const char *const box_fill = "#dadaeb";
static const char *const backward_style = "shape=box, style=\"rounded,filled\"";
static const char *const backward_fill = "#e0e0e0";

static const char *const health_fill[] = {
    [VZ_NO_GRAD] = "#ffffff", [VZ_VANISHING] = "#6baed6", [VZ_WEAK] = "#e5f5e0",
    [VZ_HEALTHY] = "#74c476", [VZ_STRONG] = "#fdae6b", [VZ_EXPLODING] = "#ef3b2c"};
static const char *const health_name[] = {
    [VZ_NO_GRAD] = "no gradient", [VZ_VANISHING] = "vanishing", [VZ_WEAK] = "weak",
    [VZ_HEALTHY] = "healthy", [VZ_STRONG] = "strong", [VZ_EXPLODING] = "exploding"};

/* ---- labels ---- */

static void put_str(writer *w, const char *s) { vz_put_escaped(w->t, s, strlen(s)); }

/* "<prefix>[2, 3] f32" */
static void put_shape(writer *w, const char *prefix, const cg_tensor *t)
{
    char buf[160];
    cg__shape_str(t->ndim, t->shape, buf, sizeof buf);
    vz_printf(w->t, "%s%s %s", prefix, buf, cg_dtype_name(t->dtype));
}

static void put_health(writer *w, const vz_item *it)
{
    if (it->health == VZ_NONE)
        return;
    if (it->health == VZ_NO_GRAD) {
        vz_puts(w->t, "\\nno gradient");
        return;
    }
    vz_printf(w->t, "\\n|grad| %.3g", it->gnorm);
    if (it->health == VZ_VANISHING)
        vz_puts(w->t, " VANISHING");
    else if (it->health == VZ_EXPLODING)
        vz_puts(w->t, " EXPLODING");
}

/* Fill colour, health class and, for flagged nodes, a heavy border. */
static void put_colour(writer *w, int health, const char *fill)
{
    if (health == VZ_NONE) {
        vz_printf(w->t, ", fillcolor=\"%s\"", fill);
        return;
    }
    vz_printf(w->t, ", fillcolor=\"%s\", class=\"%s\"", health_fill[health],
              health == VZ_NO_GRAD ? "no-grad" : health_name[health]);
    if (health == VZ_VANISHING)
        vz_puts(w->t, ", color=\"#08306b\", penwidth=2.5");
    else if (health == VZ_EXPLODING)
        vz_puts(w->t, ", color=\"#67000d\", penwidth=2.5");
}

static void unit_name(const vz_graph *g, int u, char *buf, size_t n)
{
    snprintf(buf, n, vz_unit_is_box(g, u) ? "m%d" : "n%d", vz_unit_is_box(g, u) ? u - g->n : u);
}

static void put_leaf_title(writer *w, const vz_item *it)
{
    const cg_tensor *t = it->t;
    bool named = it->name && it->name[0];
    if (it->kind == VZ_CONST && cg__shape_numel(t->ndim, t->shape) == 1 && !named) {
        vz_printf(w->t, "const %.4g", cg__load(t, cg__storage_index(t, 0)));
        return;
    }
    put_str(w, named ? it->name : it->kind == VZ_CONST ? "const" : "input");
}

static void write_item(writer *w, int i, int indent)
{
    const vz_item *it = &w->g->items[i];
    vz_printf(w->t, "%*sn%d [label=\"", indent, "", i);
    if (it->kind == VZ_OP)
        put_str(w, cg__ops[it->t->node->op].name);
    else
        put_leaf_title(w, it);
    put_shape(w, "\\n", it->t);
    /* In a module cluster the cluster names the module; drawn flat, the label does. */
    if (it->kind == VZ_PARAM && it->scope >= 0 && !w->g->opt.modules) {
        const vz_scope *s = &w->g->scopes[it->scope];
        vz_puts(w->t, "\\nin ");
        vz_put_escaped(w->t, s->path, s->len);
    }
    if (it->has_stats)
        vz_printf(w->t, "\\nmean %.3g std %.3g", it->mean, it->std);
    put_health(w, it);
    vz_printf(w->t, "\", %s", kind_shape[it->kind]);
    put_colour(w, it->health, kind_fill[it->kind]);
    if (it->saved)
        vz_puts(w->t, ", peripheries=2");
    vz_puts(w->t, "];\n");
}

static void write_box(writer *w, int s, int indent)
{
    const vz_scope *sc = &w->g->scopes[s];
    const vz_item *out = sc->last_out >= 0 ? &w->g->items[sc->last_out] : NULL;
    vz_printf(w->t, "%*sm%d [label=\"", indent, "", s);
    vz_put_escaped(w->t, sc->path, sc->len);
    vz_printf(w->t, "\\n%d op%s", sc->nops, sc->nops == 1 ? "" : "s");
    if (sc->nparams)
        vz_printf(w->t, ", %d param%s", sc->nparams, sc->nparams == 1 ? "" : "s");
    if (out) {
        put_shape(w, "\\nout ", out->t);
        if (out->has_stats)
            vz_printf(w->t, "\\nmean %.3g std %.3g", out->mean, out->std);
        put_health(w, out);
    }
    if (sc->nvanishing)
        vz_printf(w->t, "\\n%d vanishing inside", sc->nvanishing);
    if (sc->nexploding)
        vz_printf(w->t, "\\n%d exploding inside", sc->nexploding);
    vz_printf(w->t, "\", %s", box_style);
    put_colour(w, out ? out->health : VZ_NONE, box_fill);
    vz_puts(w->t, "];\n");
}

static void write_unit(writer *w, int u, int indent)
{
    if (vz_unit_is_box(w->g, u))
        write_box(w, u - w->g->n, indent);
    else
        write_item(w, u, indent);
}

/* ---- where each drawn node goes ---- */

/* Slot of the cluster a unit is drawn in: 0 top level, 1 the optimizer cluster, 2 + s
 * module scope s. */
static int home_slot(const vz_graph *g, int u)
{
    if (vz_unit_is_box(g, u)) {
        int parent = g->scopes[u - g->n].parent;
        return g->opt.modules && parent >= 0 ? 2 + parent : 0;
    }
    const vz_item *it = &g->items[u];
    if (it->part == VZ_OPTIM)
        return 1;
    return g->opt.modules && it->scope >= 0 ? 2 + it->scope : 0;
}

/* Drawn units grouped by home slot, each group in first-appearance order (a counting
 * sort): slot k holds units[start[k] .. start[k + 1]). */
typedef struct layout {
    int *units, *start;
    int nunits, cap, nslots;
} layout;

static void layout_free(layout *l)
{
    cg__free(l->units, (size_t)l->cap * sizeof *l->units);
    cg__free(l->start, (size_t)(l->nslots + 2) * sizeof *l->start);
}

/* Units in order of their first item; `seen` is scratch of n + nscopes flags. */
static int list_units(const vz_graph *g, unsigned char *seen, int *order)
{
    int k = 0;
    for (int i = 0; i < g->n; i++) {
        int u = g->items[i].unit;
        if (g->items[i].part != VZ_HIDDEN && !seen[u]) {
            seen[u] = 1;
            order[k++] = u;
        }
    }
    return k;
}

static bool make_layout(vz_graph *g, layout *l)
{
    l->cap = g->n + g->nscopes > 0 ? g->n + g->nscopes : 1;
    l->nslots = 2 + g->nscopes;
    unsigned char *seen = cg__calloc((size_t)l->cap, 1);
    int *order = cg__malloc((size_t)l->cap * sizeof *order);
    l->units = cg__malloc((size_t)l->cap * sizeof *l->units);
    l->start = cg__calloc((size_t)l->nslots + 2, sizeof *l->start);
    bool ok = seen && order && l->units && l->start;
    if (ok) {
        /* Count into start[slot + 2] and sum, so start[slot + 1] is where the slot begins
         * and can serve as its fill cursor, ending as the slot's end. */
        l->nunits = list_units(g, seen, order);
        for (int k = 0; k < l->nunits; k++)
            l->start[home_slot(g, order[k]) + 2]++;
        for (int s = 2; s <= l->nslots; s++)
            l->start[s] += l->start[s - 1];
        for (int k = 0; k < l->nunits; k++)
            l->units[l->start[home_slot(g, order[k]) + 1]++] = order[k];
    }
    cg__free(seen, (size_t)l->cap);
    cg__free(order, (size_t)l->cap * sizeof *order);
    return ok;
}

/* Mark every scope that holds a drawn unit, and its ancestors. */
static void mark_used_scopes(vz_graph *g, const layout *l)
{
    for (int s = 0; s < g->nscopes; s++)
        if (l->start[s + 3] > l->start[s + 2])
            for (int p = s; p >= 0 && !g->scopes[p].used; p = g->scopes[p].parent)
                g->scopes[p].used = true;
}

static void write_slot(writer *w, const layout *l, int slot, int indent)
{
    for (int k = l->start[slot]; k < l->start[slot + 1]; k++)
        write_unit(w, l->units[k], indent);
}

static void open_cluster(writer *w, const layout *l, int s)
{
    const vz_scope *sc = &w->g->scopes[s];
    int indent = 2 * sc->depth;
    vz_printf(w->t, "%*ssubgraph cluster_s%d {\n%*slabel=\"", indent, "", s, indent + 2, "");
    vz_put_escaped(w->t, sc->path, sc->len);
    vz_printf(w->t, "\"; style=rounded; color=\"#969696\"; fontcolor=\"#525252\";\n");
    write_slot(w, l, 2 + s, indent + 2);
}

/* Nested module clusters, depth first with an explicit stack. first_child serves as each
 * scope's cursor over its children (the graph is discarded after writing). */
static bool write_modules(writer *w, const layout *l)
{
    vz_graph *g = w->g;
    int *stack = cg__malloc((size_t)(g->nscopes ? g->nscopes : 1) * sizeof *stack);
    if (!stack)
        return false;
    for (int top = g->first_top_scope; top >= 0; top = g->scopes[top].next_sibling) {
        if (!g->scopes[top].used)
            continue;
        int sp = 0;
        stack[sp++] = top;
        open_cluster(w, l, top);
        while (sp > 0) {
            vz_scope *sc = &g->scopes[stack[sp - 1]];
            int c = sc->first_child;
            while (c >= 0 && !g->scopes[c].used)
                c = g->scopes[c].next_sibling;
            if (c < 0) {
                vz_printf(w->t, "%*s}\n", 2 * sc->depth, "");
                sp--;
                continue;
            }
            sc->first_child = g->scopes[c].next_sibling;
            stack[sp++] = c;
            open_cluster(w, l, c);
        }
    }
    cg__free(stack, (size_t)(g->nscopes ? g->nscopes : 1) * sizeof *stack);
    return true;
}

static void write_optim(writer *w, const layout *l)
{
    if (l->start[2] == l->start[1])
        return;
    vz_puts(w->t, "  subgraph cluster_optim {\n    label=\"optimizer\"; style=\"rounded,filled\"; "
                  "fillcolor=\"#fff5eb\"; color=\"#fd8d3c\";\n");
    write_slot(w, l, 1, 4);
    vz_puts(w->t, "  }\n");
}

/* ---- backward ---- */

/* The health shown on unit u's nodes: its own, or its output's for a box. */
static const vz_item *face_of(const vz_graph *g, int u)
{
    if (!vz_unit_is_box(g, u))
        return &g->items[u];
    int out = g->scopes[u - g->n].last_out;
    return out >= 0 ? &g->items[out] : NULL;
}

static void write_backward_node(writer *w, int i)
{
    const vz_graph *g = w->g;
    const vz_item *it = &g->items[i];
    char name[32];
    unit_name(g, it->unit, name, sizeof name);
    vz_printf(w->t, "    b%s [label=\"", name);
    if (vz_unit_is_box(g, it->unit)) {
        const vz_scope *sc = &g->scopes[it->unit - g->n];
        vz_put_escaped(w->t, sc->path, sc->len);
        vz_puts(w->t, "Backward");
    } else if (it->kind == VZ_OP) {
        put_str(w, cg__ops[it->t->node->op].name);
        vz_puts(w->t, "Backward");
    } else {
        vz_puts(w->t, "AccumulateGrad\\n");
        put_leaf_title(w, it);
    }
    const vz_item *face = face_of(g, it->unit);
    vz_printf(w->t, "\", %s", backward_style);
    put_colour(w, face ? face->health : VZ_NONE, backward_fill);
    vz_puts(w->t, "];\n");
}

/* One backward node per drawn forward unit that gradients reach: ops, boxes, and leaves
 * that require grad (where PyTorch's AccumulateGrad sits). */
static bool write_backward(writer *w)
{
    vz_graph *g = w->g;
    size_t nu = (size_t)g->n + (size_t)g->nscopes;
    unsigned char *seen = cg__calloc(nu ? nu : 1, 1);
    if (!seen)
        return false;
    bool open = false;
    for (int i = 0; i < g->n; i++) {
        const vz_item *it = &g->items[i];
        bool grads = it->kind == VZ_OP || it->t->requires_grad;
        if (it->part != VZ_FORWARD || !grads || seen[it->unit])
            continue;
        seen[it->unit] = 1;
        if (!open)
            vz_puts(w->t, "  subgraph cluster_backward {\n    label=\"backward\"; "
                          "style=\"rounded,filled\"; fillcolor=\"#f7f7f7\"; color=\"#bdbdbd\";\n");
        open = true;
        write_backward_node(w, i);
    }
    if (open)
        vz_puts(w->t, "  }\n");
    cg__free(seen, nu ? nu : 1);
    return true;
}

/* ---- edges and legend ---- */

static void write_edges(writer *w, const vz_edge *e, int n, const char *prefix)
{
    char a[32], b[32];
    for (int k = 0; k < n; k++) {
        unit_name(w->g, e[k].from, a, sizeof a);
        unit_name(w->g, e[k].to, b, sizeof b);
        vz_printf(w->t, "  %s%s -> %s%s", prefix, a, prefix, b);
        if (e[k].arg < 0 && !e[k].saved) {
            vz_puts(w->t, ";\n");
            continue;
        }
        vz_puts(w->t, " [");
        if (e[k].arg >= 0)
            vz_printf(w->t, "label=\"%d\"%s", e[k].arg, e[k].saved ? ", " : "");
        if (e[k].saved)
            vz_puts(w->t, "penwidth=2.2");
        vz_puts(w->t, "];\n");
    }
}

static void legend_entry(writer *w, int *k, const char *label, const char *style, const char *fill)
{
    vz_printf(w->t, "    l%d [label=\"%s\", %s", *k, label, style);
    if (fill)
        vz_printf(w->t, ", fillcolor=\"%s\"", fill);
    vz_puts(w->t, "];\n");
    ++*k;
}

static void legend_health(writer *w, int *k)
{
    const cg_dot_options *o = &w->g->opt;
    double lo, hi;
    vz_health_bands(o->vanishing, o->exploding, &lo, &hi);
    char label[VZ_EXPLODING + 1][96];
    snprintf(label[VZ_NO_GRAD], 96, "no gradient reaches it");
    snprintf(label[VZ_VANISHING], 96, "|grad| < %.3g: VANISHING", o->vanishing);
    snprintf(label[VZ_WEAK], 96, "weak: |grad| < %.3g", lo);
    snprintf(label[VZ_HEALTHY], 96, "healthy: |grad| in [%.3g, %.3g]", lo, hi);
    snprintf(label[VZ_STRONG], 96, "strong: |grad| > %.3g", hi);
    snprintf(label[VZ_EXPLODING], 96, "|grad| > %.3g: EXPLODING", o->exploding);
    for (int h = VZ_NO_GRAD; h <= VZ_EXPLODING; h++)
        legend_entry(w, k, label[h], kind_shape[VZ_OP], health_fill[h]);
}

/* Sample nodes drawn like the real ones, stacked by invisible edges. */
static void write_legend(writer *w)
{
    const cg_dot_options *o = &w->g->opt;
    int k = 0;
    vz_puts(w->t, "  subgraph cluster_legend {\n    label=\"legend\"; style=rounded; "
                  "color=\"#bdbdbd\"; fontcolor=\"#525252\";\n");
    legend_entry(w, &k, "op\\n[output shape] dtype", kind_shape[VZ_OP], kind_fill[VZ_OP]);
    legend_entry(w, &k, "parameter\\nin its module", kind_shape[VZ_PARAM], kind_fill[VZ_PARAM]);
    legend_entry(w, &k, "input", kind_shape[VZ_INPUT], kind_fill[VZ_INPUT]);
    legend_entry(w, &k, "constant", kind_shape[VZ_CONST], kind_fill[VZ_CONST]);
    legend_entry(w, &k, "saved for backward\\n(bold edge: saved input)",
                 "shape=box, style=\"rounded,filled\", peripheries=2", kind_fill[VZ_OP]);
    legend_entry(w, &k, "edge label k:\\nargument position k", "shape=plaintext", NULL);
    if (o->collapse_depth > 0)
        legend_entry(w, &k, "module, collapsed", box_style, box_fill);
    if (o->backward) {
        legend_entry(w, &k, "<op>Backward", backward_style, backward_fill);
        legend_entry(w, &k, "AccumulateGrad\\n(gradient of a leaf)", backward_style,
                     backward_fill);
    }
    if (o->grad_overlay)
        legend_health(w, &k);
    for (int i = 0; i + 1 < k; i++)
        vz_printf(w->t, "    l%d -> l%d [style=invis];\n", i, i + 1);
    vz_puts(w->t, "  }\n");
}

static void write_header(writer *w)
{
    int ops = 0, leaves = 0;
    for (int i = 0; i < w->g->n; i++)
        if (w->g->items[i].part != VZ_HIDDEN)
            *(w->g->items[i].kind == VZ_OP ? &ops : &leaves) += 1;
    vz_printf(w->t, "// libcgrad graph: %d ops, %d leaves\ndigraph cgrad {\n", ops, leaves);
    vz_printf(w->t, "  graph [rankdir=%s, fontname=\"Helvetica\", fontsize=11, nodesep=0.3, "
                    "ranksep=0.35];\n",
              w->g->opt.left_to_right ? "LR" : "TB");
    vz_puts(w->t, "  node [fontname=\"Helvetica\", fontsize=10, height=0.3, "
                  "margin=\"0.1,0.04\"];\n"
                  "  edge [fontname=\"Helvetica\", fontsize=9, arrowsize=0.6, "
                  "color=\"#525252\"];\n");
}

cg_status vz_write_dot(vz_graph *g, cg_viz_buffer *out, const char *who)
{
    vz_text text = {0};
    writer w = {g, &text};
    layout l = {0};
    bool ok = make_layout(g, &l);
    if (ok) {
        mark_used_scopes(g, &l);
        write_header(&w);
        write_slot(&w, &l, 0, 2);
        ok = write_modules(&w, &l);
        write_optim(&w, &l);
    }
    ok = ok && (!g->opt.backward || write_backward(&w));
    if (ok) {
        write_edges(&w, g->edges, g->nedges, "");
        write_edges(&w, g->bedges, g->nbedges, "b");
        if (g->opt.legend)
            write_legend(&w);
        vz_puts(&text, "}\n");
    }
    layout_free(&l);
    if (!ok) {
        vz_text_free(&text);
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    }
    return vz_text_finish(&text, out, who);
}
