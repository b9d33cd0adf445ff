/* From numbered tensors to a drawing: what kind each tensor is, which part and scope it is
 * drawn in, which drawn node (unit) stands for it once scopes are collapsed, and the
 * edges between units. Every pass is a loop over the items or their inputs, so the whole
 * is linear in the graph's size. */
#include <string.h>

#include "viz_impl.h"

/* ---- scopes ---- */

static uint64_t hash_path(const char *s, size_t n)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h | 1; /* keys must be non-zero */
}

static bool is_optim_name(const char *s, size_t n) { return n == 5 && !memcmp(s, "optim", 5); }

/* The scope for path[0..len) whose parent is `parent`, made if new; -1 on out of memory. */
static int intern_one(vz_graph *g, const char *path, size_t len, int parent)
{
    uint64_t h = hash_path(path, len);
    int head = vz_map_get(&g->scope_hash, h);
    for (int s = head; s >= 0; s = g->scopes[s].hash_next)
        if (g->scopes[s].len == len && !memcmp(g->scopes[s].path, path, len))
            return s;
    int s = g->nscopes;
    if (!vz_reserve((void **)&g->scopes, &g->capscopes, s + 1, sizeof *g->scopes) ||
        !vz_map_put(&g->scope_hash, h, s))
        return -1;
    size_t start = parent >= 0 ? g->scopes[parent].len + 1 : 0;
    g->scopes[s] = (vz_scope){
        .path = path, .len = len, .parent = parent,
        .depth = parent >= 0 ? g->scopes[parent].depth + 1 : 1,
        .first_child = -1, .next_sibling = -1, .hash_next = head, .box = -1, .last_out = -1,
        .optim = (parent >= 0 && g->scopes[parent].optim) ||
                 is_optim_name(path + start, len - start)};
    g->nscopes++;
    return s;
}

/* The scope of a recorded path, with every prefix ("model" for "model.0") interned
 * first, so parents always have smaller indices; -1 for none, -2 on out of memory. */
static int scope_of(vz_graph *g, const char *path)
{
    if (!path)
        return -1;
    int s = vz_map_get(&g->scope_ptr, vz_ptr_key(path));
    if (s >= 0)
        return s;
    size_t len = strlen(path);
    for (size_t end = 0; end <= len; end++)
        if (end == len || path[end] == '.')
            if ((s = intern_one(g, path, end, s)) < 0)
                return -2;
    return vz_map_put(&g->scope_ptr, vz_ptr_key(path), s) ? s : -2;
}

/* Children lists in index order (built backwards by prepending), and the collapsed box of
 * every scope: itself at the collapse depth, its parent's box below it. */
static void link_scopes(vz_graph *g)
{
    g->first_top_scope = -1;
    for (int s = g->nscopes - 1; s >= 0; s--) {
        vz_scope *sc = &g->scopes[s];
        int *head = sc->parent >= 0 ? &g->scopes[sc->parent].first_child : &g->first_top_scope;
        sc->next_sibling = *head;
        *head = s;
    }
    int depth = g->opt.collapse_depth;
    for (int s = 0; depth > 0 && s < g->nscopes; s++) {
        vz_scope *sc = &g->scopes[s];
        if (!sc->optim && sc->depth >= depth)
            sc->box = sc->depth == depth ? s : g->scopes[sc->parent].box;
    }
}

/* ---- kinds and parts ---- */

/* Parameters are what modules train: named and requiring grad. Constants carry no
 * information a reader must follow (scalars, values a tape made without recording,
 * named buffers). Everything else a caller feeds in is an input. */
static int leaf_kind(const vz_item *it)
{
    const cg_tensor *t = it->t;
    bool named = it->name && it->name[0];
    if (t->requires_grad && named)
        return VZ_PARAM;
    if (t->ndim == 0 || (!t->requires_grad && (t->pool || named)))
        return VZ_CONST;
    return VZ_INPUT;
}

/* The dotted names the model gives its parameters and buffers, by tensor: index k of a
 * parameter is stored as k, of a buffer as -(k + 2). */
static bool map_module(const cg_module *m, vz_map *names)
{
    bool ok = true;
    for (int k = 0, n = cg_module_num_parameters(m); ok && k < n; k++) {
        cg_tensor *t = cg_module_parameter(m, k, NULL);
        ok = !t || vz_map_put(names, vz_ptr_key(t), k);
    }
    for (int k = 0, n = cg_module_num_buffers(m); ok && k < n; k++) {
        cg_tensor *t = cg_module_buffer(m, k, NULL);
        ok = !t || vz_map_put(names, vz_ptr_key(t), -(k + 2));
    }
    return ok;
}

static const char *leaf_name(const vz_graph *g, const vz_map *names, const cg_tensor *t)
{
    const char *name = NULL;
    int k = g->opt.module ? vz_map_get(names, vz_ptr_key(t)) : -1;
    if (k >= 0)
        cg_module_parameter(g->opt.module, k, &name);
    else if (k <= -2)
        cg_module_buffer(g->opt.module, -(k + 2), &name);
    return name ? name : t->name;
}

static cg_status classify_items(vz_graph *g, const char *who)
{
    vz_map names = {0};
    if (g->opt.module && !map_module(g->opt.module, &names)) {
        vz_map_free(&names);
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    }
    cg_status st = CG_OK;
    for (int i = 0; st == CG_OK && i < g->n; i++) {
        vz_item *it = &g->items[i];
        const cg_node *node = it->t->node;
        if (!node) {
            it->name = leaf_name(g, &names, it->t);
            it->kind = leaf_kind(it);
            it->part = it->root ? VZ_FORWARD : VZ_HIDDEN; /* drawn once an op uses it */
            continue;
        }
        it->kind = VZ_OP;
        it->saved = (cg__ops[node->op].saved & SAVES_OUT) != 0;
        if ((it->scope = scope_of(g, node->scope)) == -2)
            st = cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
        bool optim = it->scope >= 0 && g->scopes[it->scope].optim;
        it->part = !optim ? VZ_FORWARD : g->opt.optimizer ? VZ_OPTIM : VZ_HIDDEN;
    }
    vz_map_free(&names);
    return st;
}

static int item_of(const vz_graph *g, const cg_tensor *t)
{
    return vz_map_get(&g->index, vz_ptr_key(t));
}

/* Leaves are drawn where their first drawn user is: a parameter inside its module's
 * cluster, an input at top level (it enters the model from outside). */
static void place_leaves(vz_graph *g)
{
    for (int j = 0; j < g->n; j++) {
        const vz_item *op = &g->items[j];
        if (op->kind != VZ_OP || op->part == VZ_HIDDEN)
            continue;
        const cg_node *node = op->t->node;
        unsigned saved = cg__ops[node->op].saved;
        for (int i = 0; i < node->ninputs; i++) {
            vz_item *in = &g->items[item_of(g, node->inputs[i])];
            in->used = true;
            if (i < 7 && (saved & (1u << i)))
                in->saved = true;
            if (in->kind != VZ_OP && in->part == VZ_HIDDEN) {
                in->part = op->part;
                in->scope = in->kind == VZ_INPUT ? -1 : op->scope;
            }
        }
    }
}

/* The unit of every drawn item, and what each collapsed box holds. */
static void assign_units(vz_graph *g)
{
    for (int i = 0; i < g->n; i++) {
        vz_item *it = &g->items[i];
        if (it->part != VZ_FORWARD || it->scope < 0 || g->scopes[it->scope].box < 0)
            continue;
        vz_scope *box = &g->scopes[g->scopes[it->scope].box];
        it->unit = g->n + (int)(box - g->scopes);
        if (it->kind == VZ_OP) {
            box->nops++;
            box->last_out = i; /* items ascend: the module's last result is its output */
        } else if (it->kind == VZ_PARAM) {
            box->nparams++;
        }
    }
}

/* ---- edges ---- */

static bool push_edge(vz_edge **edges, int *n, int *cap, vz_edge e)
{
    if (!vz_reserve((void **)edges, cap, *n + 1, sizeof **edges))
        return false;
    (*edges)[(*n)++] = e;
    return true;
}

/* An edge into a collapsed box stands for every tensor the box's ops take from the same
 * source: keep one, unlabelled. Edges into a plain op are all kept, each labelled with its
 * argument position (x * x has two). `merged` says whether the consuming end is a box. */
static bool first_of_pair(vz_map *seen, int from, int to, bool merged, bool *ok)
{
    if (!merged)
        return true;
    uint64_t key = ((uint64_t)(uint32_t)from << 32 | (uint32_t)to) + 1;
    if (vz_map_get(seen, key) >= 0)
        return false;
    *ok = vz_map_put(seen, key, 1);
    return *ok;
}

/* Forward edges input -> op and, for the backward graph, op's backward -> input's
 * backward, wherever a gradient flows (the input requires grad). */
static bool op_edges(vz_graph *g, int j, vz_map *fseen, vz_map *bseen)
{
    const vz_item *op = &g->items[j];
    const cg_node *node = op->t->node;
    unsigned saved = cg__ops[node->op].saved;
    bool plain = !vz_unit_is_box(g, op->unit), ok = true;
    for (int i = 0; ok && i < node->ninputs; i++) {
        const vz_item *in = &g->items[item_of(g, node->inputs[i])];
        if (in->part == VZ_HIDDEN || in->unit == op->unit)
            continue;
        vz_edge e = {in->unit, op->unit, plain && node->ninputs > 1 ? i : -1,
                     plain && i < 7 && (saved & (1u << i))};
        if (first_of_pair(fseen, e.from, e.to, !plain, &ok))
            ok = push_edge(&g->edges, &g->nedges, &g->capedges, e);
        bool grad = g->opt.backward && op->part == VZ_FORWARD && in->part == VZ_FORWARD &&
                    in->t->requires_grad;
        vz_edge b = {op->unit, in->unit, e.arg, false};
        if (ok && grad && first_of_pair(bseen, b.from, b.to, !plain, &ok))
            ok = push_edge(&g->bedges, &g->nbedges, &g->capbedges, b);
    }
    return ok;
}

static cg_status build_edges(vz_graph *g, const char *who)
{
    vz_map fseen = {0}, bseen = {0};
    bool ok = true;
    for (int j = 0; ok && j < g->n; j++)
        if (g->items[j].kind == VZ_OP && g->items[j].part != VZ_HIDDEN)
            ok = op_edges(g, j, &fseen, &bseen);
    vz_map_free(&fseen);
    vz_map_free(&bseen);
    return ok ? CG_OK : cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
}

cg_status vz_classify(vz_graph *g, const char *who)
{
    cg_status st = classify_items(g, who);
    if (st != CG_OK)
        return st;
    link_scopes(g);
    place_leaves(g);
    assign_units(g);
    return build_edges(g, who);
}
