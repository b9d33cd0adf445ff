/* The walk that numbers a graph's tensors. A depth-first post-order from the roots, in
 * root order and argument order, with an explicit stack: every tensor comes after the
 * inputs of its op, the numbering depends only on the graph's shape (never on addresses
 * or on the global sequence numbers, which other tapes advance), and a chain of any
 * length runs in a loop. */
#include "viz_impl.h"

typedef struct frame {
    cg_tensor *t;
    int next; /* next input of t's op to visit */
} frame;

typedef struct walk {
    vz_graph *g;
    frame *stack;
    int depth, cap;
    const char *who;
} walk;

/* Marks a tensor that is on the stack, not yet numbered. */
enum { ON_STACK = -2 };

static cg_status add_item(walk *w, cg_tensor *t)
{
    vz_graph *g = w->g;
    if (!vz_reserve((void **)&g->items, &g->cap, g->n + 1, sizeof *g->items) ||
        !vz_map_put(&g->index, vz_ptr_key(t), g->n))
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", w->who);
    g->items[g->n] = (vz_item){.t = t, .scope = -1, .unit = g->n, .health = VZ_NONE};
    g->n++;
    return CG_OK;
}

static cg_status push(walk *w, cg_tensor *t)
{
    /* Inputs of recorded nodes are alive while their tape is, but a graph can reach
     * across tapes, and one of those may have been reset since. */
    if (!cg__check_tensor(t, w->who))
        return cg_last_status();
    if (!vz_reserve((void **)&w->stack, &w->cap, w->depth + 1, sizeof *w->stack) ||
        !vz_map_put(&w->g->index, vz_ptr_key(t), ON_STACK))
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", w->who);
    w->stack[w->depth++] = (frame){t, 0};
    return CG_OK;
}

/* Number t and everything it depends on that is not numbered yet. */
static cg_status visit(walk *w, cg_tensor *t)
{
    if (vz_map_get(&w->g->index, vz_ptr_key(t)) != -1)
        return CG_OK;
    cg_status st = push(w, t);
    while (st == CG_OK && w->depth > 0) {
        frame *f = &w->stack[w->depth - 1];
        const cg_node *node = f->t->node;
        if (node && f->next < node->ninputs) {
            cg_tensor *in = node->inputs[f->next++];
            if (vz_map_get(&w->g->index, vz_ptr_key(in)) == -1)
                st = push(w, in);
            continue;
        }
        w->depth--;
        st = add_item(w, f->t);
    }
    return st;
}

static void walk_end(walk *w)
{
    cg__free(w->stack, (size_t)w->cap * sizeof *w->stack);
}

cg_status vz_collect_roots(vz_graph *g, cg_tensor *const *roots, int nroots, const char *who)
{
    walk w = {g, NULL, 0, 0, who};
    cg_status st = CG_OK;
    for (int i = 0; st == CG_OK && i < nroots; i++)
        st = visit(&w, roots[i]);
    for (int i = 0; st == CG_OK && i < nroots; i++)
        g->items[vz_map_get(&g->index, vz_ptr_key(roots[i]))].root = true;
    walk_end(&w);
    return st;
}

cg_status vz_collect_tape(vz_graph *g, const cg_tape *tape, const char *who)
{
    /* The tape lists its nodes newest first; walk them oldest first, so the numbering
     * follows the order the program recorded them. */
    int64_t n = tape->num_nodes;
    if (n > (1 << 29))
        return cg__error(CG_ERR_VALUE, "%s: tape has too many nodes to draw", who);
    cg_tensor **outs = cg__malloc((size_t)(n > 0 ? n : 1) * sizeof *outs);
    if (!outs)
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    int64_t k = n;
    for (const cg_node *node = tape->nodes; node && k > 0; node = node->next)
        outs[--k] = node->out;
    walk w = {g, NULL, 0, 0, who};
    cg_status st = CG_OK;
    for (int64_t i = k; st == CG_OK && i < n; i++)
        st = visit(&w, outs[i]);
    walk_end(&w);
    cg__free(outs, (size_t)(n > 0 ? n : 1) * sizeof *outs);
    return st;
}

void vz_graph_free(vz_graph *g)
{
    cg__free(g->items, (size_t)g->cap * sizeof *g->items);
    cg__free(g->scopes, (size_t)g->capscopes * sizeof *g->scopes);
    cg__free(g->edges, (size_t)g->capedges * sizeof *g->edges);
    cg__free(g->bedges, (size_t)g->capbedges * sizeof *g->bedges);
    vz_map_free(&g->index);
    vz_map_free(&g->scope_ptr);
    vz_map_free(&g->scope_hash);
    *g = (vz_graph){0};
}
