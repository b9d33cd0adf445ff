/* Internal definitions of the recorded graph: op attributes, nodes and tapes. The tape
 * sits in the core layer because every op records onto it; the engine that walks the
 * graph backwards is in lib/autograd. */
#ifndef CG_GRAPH_H
#define CG_GRAPH_H

#include "cgrad/autograd.h"
#include "core.h"

/* Non-tensor arguments of an op, kept in its node for backward and for drawing. */
typedef struct cg__attrs {
    double f[3];                   /* scalars: exponent, clamp bounds, ... */
    int64_t i[2 * CG_MAX_DIMS];    /* shape, permutation, slice start/end/step, ... */
    int ni;                        /* entries of i in use */
    int axis;                      /* a normalised axis */
    uint32_t axes;                 /* bit mask of normalised reduced axes */
    bool keepdim;
    cg_dtype dtype;
} cg__attrs;

struct cg_node {
    int op;              /* index into the op table */
    int ninputs;
    cg_tensor **inputs;
    uint64_t *versions;  /* storage version of each input when recorded */
    cg_tensor *out;
    cg__attrs attrs;
    uint64_t seq;        /* creation order: a node only consumes nodes with smaller seq */
    const char *scope;   /* dotted path of the scopes open when recorded ("model.0"), or NULL */
    cg_node *next;       /* tape's list */
};

/* A growable array of pointers kept by a tape across resets, so that backward passes in
 * a steady training loop allocate nothing. */
typedef struct cg__ptr_array {
    void **items;
    size_t n, cap;
} cg__ptr_array;

struct cg_tape {
    cg_pool *pool;
    cg_node *nodes;
    int64_t num_nodes;
    cg__ptr_array scratch[3]; /* the engine's work lists (see lib/autograd/engine.c) */
    const char *scope;        /* current scope path (pool memory), NULL at top level */
    cg__ptr_array scopes;     /* enclosing scope paths, innermost last */
};

/* Append item, growing the array; false on out of memory. */
bool cg__ptr_array_push(cg__ptr_array *a, void *item);
void cg__ptr_array_free(cg__ptr_array *a);

/* The active tape of this thread; records a CG_ERR_STATE naming who if there is none. */
cg_tape *cg__tape_require(const char *who);
/* Whether this thread records (grad mode). */
bool cg__grad_mode(void);
/* Record out = op(inputs) on tape; marks out as requiring grad. CG_OK or CG_ERR_NOMEM. */
cg_status cg__tape_record(cg_tape *tape, int op, cg_tensor *const *inputs, int n,
                          const cg__attrs *attrs, cg_tensor *out);

#endif
