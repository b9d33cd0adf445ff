/* Tapes and grad mode. The active tape and the grad-mode flag are per thread, like
 * PyTorch's grad mode, so threads record independently. */
#include <string.h>

#include "graph.h"

static _Thread_local cg_tape *active_tape;
static _Thread_local bool grad_disabled;
static atomic_uint_fast64_t next_seq = 1;

cg_tape *cg_tape_new(void)
{
    cg_tape *t = cg__calloc(1, sizeof *t);
    if (!t || !(t->pool = cg__pool_new())) {
        cg__free(t, sizeof *t);
        cg__error(CG_ERR_NOMEM, "cg_tape_new: out of memory");
        return NULL;
    }
    return t;
}

void cg_tape_reset(cg_tape *tape)
{
    if (!tape)
        return;
    /* Nodes hold references to caller-owned inputs (parameters); give them back. */
    for (cg_node *n = tape->nodes; n; n = n->next)
        for (int i = 0; i < n->ninputs; i++)
            if (!n->inputs[i]->pool)
                cg__tensor_release(n->inputs[i]);
    tape->nodes = NULL;
    tape->num_nodes = 0;
    tape->scope = NULL;
    tape->scopes.n = 0;
    cg__pool_reset(tape->pool);
}

void cg_tape_free(cg_tape *tape)
{
    if (!tape)
        return;
    cg_tape_reset(tape);
    cg__pool_free(tape->pool);
    for (int i = 0; i < 3; i++)
        cg__ptr_array_free(&tape->scratch[i]);
    cg__ptr_array_free(&tape->scopes);
    if (active_tape == tape)
        active_tape = NULL;
    cg__free(tape, sizeof *tape);
}

cg_tape *cg_tape_use(cg_tape *tape)
{
    cg_tape *prev = active_tape;
    active_tape = tape;
    return prev;
}

cg_tape *cg_tape_active(void) { return active_tape; }

int64_t cg_tape_num_tensors(const cg_tape *tape)
{
    return tape ? cg__pool_num_tensors(tape->pool) : 0;
}

int64_t cg_tape_num_nodes(const cg_tape *tape) { return tape ? tape->num_nodes : 0; }

bool cg_grad_enabled(void) { return !grad_disabled; }

bool cg_set_grad_enabled(bool enabled)
{
    bool prev = !grad_disabled;
    grad_disabled = !enabled;
    return prev;
}

bool cg__grad_mode(void) { return !grad_disabled; }

cg_tape *cg__tape_require(const char *who)
{
    if (!active_tape)
        cg__error(CG_ERR_STATE, "%s: no active tape (call cg_tape_use first)", who);
    return active_tape;
}

cg_status cg__tape_record(cg_tape *tape, int op, cg_tensor *const *inputs, int n,
                          const cg__attrs *attrs, cg_tensor *out)
{
    cg_node *node = cg__pool_record(tape->pool, sizeof *node);
    cg_tensor **ins = cg__pool_record(tape->pool, sizeof *ins * (size_t)(n > 0 ? n : 1));
    uint64_t *vers = cg__pool_record(tape->pool, sizeof *vers * (size_t)(n > 0 ? n : 1));
    if (!node || !ins || !vers)
        return cg__error(CG_ERR_NOMEM, "out of memory recording an op");
    for (int i = 0; i < n; i++) {
        ins[i] = inputs[i];
        vers[i] = inputs[i]->storage->version;
        cg__tensor_retain(inputs[i]);
    }
    node->op = op;
    node->ninputs = n;
    node->inputs = ins;
    node->versions = vers;
    node->out = out;
    if (attrs)
        node->attrs = *attrs;
    node->seq = atomic_fetch_add(&next_seq, 1);
    node->scope = tape->scope;
    node->next = tape->nodes;
    tape->nodes = node;
    tape->num_nodes++;
    out->node = node;
    out->requires_grad = true;
    return CG_OK;
}

bool cg__ptr_array_push(cg__ptr_array *a, void *item)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        void **items = cg__realloc(a->items, a->cap * sizeof *items, cap * sizeof *items);
        if (!items)
            return false;
        a->items = items;
        a->cap = cap;
    }
    a->items[a->n++] = item;
    return true;
}

void cg__ptr_array_free(cg__ptr_array *a)
{
    cg__free(a->items, a->cap * sizeof *a->items);
    a->items = NULL;
    a->n = a->cap = 0;
}

cg_status cg_tape_push_scope(const char *name)
{
    cg_tape *tape = cg__tape_require("cg_tape_push_scope");
    if (!tape)
        return cg_last_status();
    if (!name || !*name)
        return cg__error(CG_ERR_VALUE, "cg_tape_push_scope: empty scope name");
    size_t outer = tape->scope ? strlen(tape->scope) + 1 : 0, len = strlen(name);
    char *path = cg__pool_record(tape->pool, outer + len + 1);
    if (!path || !cg__ptr_array_push(&tape->scopes, (void *)tape->scope))
        return cg__error(CG_ERR_NOMEM, "cg_tape_push_scope: out of memory");
    if (outer) {
        memcpy(path, tape->scope, outer - 1);
        path[outer - 1] = '.';
    }
    memcpy(path + outer, name, len + 1);
    tape->scope = path;
    return CG_OK;
}

cg_status cg_tape_pop_scope(void)
{
    cg_tape *tape = cg__tape_require("cg_tape_pop_scope");
    if (!tape)
        return cg_last_status();
    if (tape->scopes.n == 0)
        return cg__error(CG_ERR_STATE, "cg_tape_pop_scope: no open scope");
    tape->scope = tape->scopes.items[--tape->scopes.n];
    return CG_OK;
}

const char *cg_tape_scope(void)
{
    return active_tape ? active_tape->scope : NULL;
}
