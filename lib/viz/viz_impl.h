/* Internal interface of the viz layer: the graph the DOT exporter draws, built from a
 * tape's nodes in three passes (collect.c walks, classify.c sorts into kinds, scopes and
 * drawn units, overlay.c adds gradient health), then written out by dot.c; growable text
 * and hash maps (util.c), atomic file writes (file.c) and Graphviz (render.c).
 * Nothing here is part of the public API. */
#ifndef CG_VIZ_IMPL_H
#define CG_VIZ_IMPL_H

#include "cgrad/viz.h"
#include "op.h"

/* ---- growable text (util.c) ---- */

/* Text built by appending; an allocation failure sets `failed` and later appends do
 * nothing, so writers check once at the end. */
typedef struct vz_text {
    char *data;
    size_t len, cap;
    bool failed;
} vz_text;

void vz_puts(vz_text *t, const char *s);
void vz_putn(vz_text *t, const char *s, size_t n);
void vz_printf(vz_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append s[0..n) escaped for the inside of a DOT "..." string. */
void vz_put_escaped(vz_text *t, const char *s, size_t n);
void vz_text_free(vz_text *t);
/* Hand the text to the caller as an exact-size buffer; CG_ERR_NOMEM if it failed. */
cg_status vz_text_finish(vz_text *t, cg_viz_buffer *out, const char *who);

/* ---- hash map from non-zero 64-bit keys to ints (util.c) ---- */

/* Open addressing with linear probing: expected constant time per operation, so the
 * exporter stays linear in the graph's size. Keys are pointers or packed pairs; the
 * map's layout never influences output order. */
typedef struct vz_map {
    uint64_t *keys; /* 0 marks an empty slot */
    int *vals;
    size_t cap, n;
} vz_map;

/* Insert or overwrite; false on out of memory. */
bool vz_map_put(vz_map *m, uint64_t key, int val);
/* The value for key, or -1 when absent. */
int vz_map_get(const vz_map *m, uint64_t key);
void vz_map_free(vz_map *m);
static inline uint64_t vz_ptr_key(const void *p) { return (uint64_t)(uintptr_t)p; }

/* Grow an array of elements of size `size` to hold at least need; false on out of memory. */
bool vz_reserve(void **items, int *cap, int need, size_t size);

/* ---- the drawn graph ---- */

enum vz_kind { VZ_OP, VZ_PARAM, VZ_INPUT, VZ_CONST };
/* Which part of the picture an item belongs to. */
enum vz_part { VZ_HIDDEN, VZ_FORWARD, VZ_OPTIM };
/* Gradient health, in the overlay's colour order. */
enum vz_health { VZ_NONE, VZ_NO_GRAD, VZ_VANISHING, VZ_WEAK, VZ_HEALTHY, VZ_STRONG, VZ_EXPLODING };

/* A tensor of the graph: an op's output (the op and its output are drawn as one node) or
 * a leaf. Items are numbered in the order of the walk, inputs first. */
typedef struct vz_item {
    cg_tensor *t;
    const char *name; /* leaves: the module's name for it, else the tensor's, or NULL */
    int kind, part;
    int scope; /* ops: their scope; parameters and constants: their first drawn user's; -1 */
    int unit;  /* the drawn node: the item's own index, or nitems + a collapsed scope */
    bool saved; /* backward reads it: its own op saves its output, or a user saves it */
    bool used;  /* some drawn op uses it */
    bool root;
    int health;
    double gnorm;
    bool has_stats;
    double mean, std;
} vz_item;

/* A scope path ("model.0") or one of its prefixes; parents come before children. */
typedef struct vz_scope {
    const char *path; /* not NUL-terminated at len: prefixes point into their child's path */
    size_t len;
    int parent, depth;
    int first_child, next_sibling; /* children in index order */
    int hash_next;                 /* next scope whose path has the same hash, -1 */
    int box;                       /* the collapsed scope it is drawn in, -1 */
    bool optim;                    /* "optim" or under it */
    bool used;                     /* holds a drawn node, directly or below */
    /* as a collapsed box */
    int nops, nparams, nvanishing, nexploding;
    int last_out; /* the item of its output shown in its label, -1 */
} vz_scope;

typedef struct vz_edge {
    int from, to; /* units */
    int arg;      /* argument position shown as the label, -1 for none */
    bool saved;
} vz_edge;

typedef struct vz_graph {
    cg_dot_options opt;
    vz_item *items;
    int n, cap;
    vz_scope *scopes;
    int nscopes, capscopes;
    int first_top_scope;  /* scopes without parent, linked through next_sibling */
    vz_map index;         /* tensor -> item */
    vz_map scope_ptr;     /* scope string (as recorded) -> scope */
    vz_map scope_hash;    /* hash of a path -> last scope with that hash (see classify.c) */
    vz_edge *edges, *bedges; /* forward and backward edges */
    int nedges, capedges, nbedges, capbedges;
} vz_graph;

/* Units: items 0..n-1 stand for themselves, n + s for collapsed scope s. */
static inline bool vz_unit_is_box(const vz_graph *g, int u) { return u >= g->n; }

void vz_graph_free(vz_graph *g);

/* collect.c: add the items reachable from roots (or from every node of tape, oldest
 * first) in depth-first post-order, with an explicit stack. */
cg_status vz_collect_roots(vz_graph *g, cg_tensor *const *roots, int nroots, const char *who);
cg_status vz_collect_tape(vz_graph *g, const cg_tape *tape, const char *who);

/* classify.c: kinds, parts, scopes, saved marks, units and edges. */
cg_status vz_classify(vz_graph *g, const char *who);

/* overlay.c: gradient health (needs an active tape) and activation statistics. */
cg_status vz_overlay(vz_graph *g, const char *who);
void vz_stats(vz_graph *g);
/* Norms below lo are weak, above hi strong, between them healthy (see overlay.c). */
void vz_health_bands(double vanishing, double exploding, double *lo, double *hi);

/* dot.c: the DOT text of a classified graph. */
cg_status vz_write_dot(vz_graph *g, cg_viz_buffer *out, const char *who);

/* file.c: write data to path atomically (temporary file, fsync, rename). */
cg_status vz_write_file(const char *path, const void *data, size_t len, const char *who);

#endif
