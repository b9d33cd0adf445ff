/* The backward engine. Nodes are numbered in creation order and a node only consumes
 * tensors made before it, so visiting the reachable nodes by decreasing number is a
 * topological order: no recursion, no dependency counting, and a chain of any length
 * runs in a loop. Each rule is itself made of ops, so with create_graph the backward
 * pass is recorded like any other computation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "op.h"

/* One pass works in three arrays the tape keeps across resets (so a steady training
 * loop allocates nothing): the reachable nodes, a DFS stack, and the tensors whose
 * grad_acc the pass set. */
typedef struct pass {
    cg_tape *tape;
    cg__ptr_array *nodes, *stack, *touched;
} pass;

static pass pass_begin(cg_tape *tape)
{
    pass p = {tape, &tape->scratch[0], &tape->scratch[1], &tape->scratch[2]};
    p.nodes->n = p.stack->n = p.touched->n = 0;
    return p;
}

static void pass_end(pass *p)
{
    for (size_t i = 0; i < p->touched->n; i++)
        ((cg_tensor *)p->touched->items[i])->grad_acc = NULL;
    p->nodes->n = p->stack->n = p->touched->n = 0;
}

static int by_seq_desc(const void *a, const void *b)
{
    uint64_t x = (*(cg_node *const *)a)->seq, y = (*(cg_node *const *)b)->seq;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Every node reachable from the outputs, found with an explicit stack. While collecting,
 * a node's out->grad_acc holds a sentinel meaning "visited". */
static bool collect(pass *p, cg_tensor *const *outs, int nout)
{
    cg_tensor *visited = (cg_tensor *)p;
    bool ok = true;
    for (int i = 0; i < nout && ok; i++)
        if (outs[i]->node)
            ok = cg__ptr_array_push(p->stack, outs[i]->node);
    while (ok && p->stack->n > 0) {
        cg_node *n = p->stack->items[--p->stack->n];
        if (n->out->grad_acc == visited)
            continue;
        n->out->grad_acc = visited;
        ok = cg__ptr_array_push(p->nodes, n);
        for (int i = 0; ok && i < n->ninputs; i++) {
            cg_node *m = n->inputs[i]->node;
            if (m && m->out->grad_acc != visited)
                ok = cg__ptr_array_push(p->stack, m);
        }
    }
    for (size_t i = 0; i < p->nodes->n; i++)
        ((cg_node *)p->nodes->items[i])->out->grad_acc = NULL;
    if (!ok)
        cg__error(CG_ERR_NOMEM, "backward: out of memory");
    if (p->nodes->n > 1) /* items is NULL before the first push */
        qsort(p->nodes->items, p->nodes->n, sizeof(void *), by_seq_desc);
    return ok;
}

/* Add g into t's accumulator for this pass. */
static bool accumulate(pass *p, cg_tensor *t, cg_tensor *g)
{
    if (t->grad_acc) {
        t->grad_acc = cg_add(t->grad_acc, g);
        return t->grad_acc != NULL;
    }
    t->grad_acc = g;
    if (!cg__ptr_array_push(p->touched, t)) {
        t->grad_acc = NULL;
        cg__error(CG_ERR_NOMEM, "backward: out of memory");
        return false;
    }
    return true;
}

static cg_status check_versions(const cg_node *n)
{
    const cg__op_def *def = &cg__ops[n->op];
    for (int i = 0; i < n->ninputs && i < 7; i++)
        if ((def->saved & (1u << i)) && n->inputs[i]->storage->version != n->versions[i])
            return cg__error(CG_ERR_STATE,
                             "backward: input %d of %s was modified in place after the op was "
                             "recorded (version %llu, now %llu)",
                             i, def->name, (unsigned long long)n->versions[i],
                             (unsigned long long)n->inputs[i]->storage->version);
    return CG_OK;
}

static cg_status run_node(pass *p, const cg_node *n)
{
    cg_tensor *g = n->out->grad_acc;
    if (!g)
        return CG_OK;
    if (check_versions(n) != CG_OK)
        return cg_last_status();
    cg_tensor *small[4] = {NULL, NULL, NULL, NULL};
    cg_tensor **gin = small;
    if (n->ninputs > 4) { /* concat of many pieces: room from the tape, freed at reset */
        gin = cg__pool_record(p->tape->pool, (size_t)n->ninputs * sizeof *gin);
        if (!gin)
            return cg__error(CG_ERR_NOMEM, "backward: out of memory");
    }
    uint64_t errors_before = cg__error_count();
    cg_status st = cg__ops[n->op].backward(n, g, gin);
    for (int i = 0; st == CG_OK && i < n->ninputs; i++) {
        if (!n->inputs[i]->requires_grad || !gin[i])
            continue;
        if (!accumulate(p, n->inputs[i], gin[i]))
            st = cg_last_status();
    }
    /* A rule built from ops returns NULL for a gradient when one of its ops failed. */
    bool failed = false;
    for (int i = 0; i < n->ninputs; i++)
        failed |= n->inputs[i]->requires_grad && !gin[i];
    if (st == CG_OK && failed && cg__error_count() != errors_before) {
        char cause[512];
        snprintf(cause, sizeof cause, "%s", cg_last_error());
        st = cg__error(cg_last_status(), "backward of %s failed: %s", cg__ops[n->op].name, cause);
    }
    return st;
}

/* The gradient to start from: grad_output, or ones for a one-element output. */
static cg_tensor *seed_for(cg_tensor *out, cg_tensor *gout, const char *who)
{
    char a[160], b[160];
    if (!gout) {
        if (cg__shape_numel(out->ndim, out->shape) != 1) {
            cg__error(CG_ERR_SHAPE, "%s: grad can be implicitly created only for one-element "
                                    "outputs; output has shape %s",
                      who, cg__shape_str(out->ndim, out->shape, a, sizeof a));
            return NULL;
        }
        cg_tensor *one = cg__const(out->dtype, 1.0);
        return one ? cg_reshape(one, out->ndim, out->shape) : NULL;
    }
    if (!cg__check_tensor(gout, who))
        return NULL;
    if (gout->ndim != out->ndim ||
        memcmp(gout->shape, out->shape, sizeof(int64_t) * (size_t)out->ndim)) {
        cg__error(CG_ERR_SHAPE, "%s: grad_output has shape %s but output has shape %s", who,
                  cg__shape_str(gout->ndim, gout->shape, a, sizeof a),
                  cg__shape_str(out->ndim, out->shape, b, sizeof b));
        return NULL;
    }
    if (gout->dtype != out->dtype) {
        cg__error(CG_ERR_DTYPE, "%s: grad_output has dtype %s but output has dtype %s", who,
                  cg_dtype_name(gout->dtype), cg_dtype_name(out->dtype));
        return NULL;
    }
    return gout;
}

/* The shared pass: seeds, collection, rules in reverse creation order. */
static cg_status run_pass(pass *p, cg_tensor *const *outs, int nout, cg_tensor *const *gouts,
                          bool create_graph, const char *who)
{
    if (nout <= 0 || !outs)
        return cg__error(CG_ERR_VALUE, "%s: no outputs", who);
    for (int i = 0; i < nout; i++) {
        if (!cg__check_tensor(outs[i], who))
            return cg_last_status();
        if (!outs[i]->requires_grad)
            return cg__error(CG_ERR_STATE, "%s: output %d does not require grad and has no "
                                           "recorded op",
                             who, i);
    }
    bool prev = cg_set_grad_enabled(create_graph);
    /* Ops recorded by a create_graph pass are named as such for diagrams. */
    bool scoped = create_graph && cg_tape_push_scope("backward") == CG_OK;
    cg_status st = collect(p, outs, nout) ? CG_OK : cg_last_status();
    for (int i = 0; st == CG_OK && i < nout; i++) {
        cg_tensor *seed = seed_for(outs[i], gouts ? gouts[i] : NULL, who);
        if (!seed || !accumulate(p, outs[i], seed))
            st = cg_last_status();
    }
    for (size_t i = 0; st == CG_OK && i < p->nodes->n; i++)
        st = run_node(p, p->nodes->items[i]);
    if (scoped)
        cg_tape_pop_scope();
    cg_set_grad_enabled(prev);
    return st;
}

/* leaf->grad += g, as a plain tensor the leaf owns. */
static cg_status add_into_leaf_grad(cg_tensor *leaf, cg_tensor *g)
{
    if (leaf->grad) {
        cg__add_into(leaf->grad, g);
        return CG_OK;
    }
    if (leaf->grad_spare) {
        leaf->grad = leaf->grad_spare;
        leaf->grad_spare = NULL;
    } else {
        leaf->grad = cg__tensor_alloc(NULL, leaf->dtype, leaf->ndim, leaf->shape);
        if (!leaf->grad)
            return cg_last_status();
    }
    cg__copy_into(leaf->grad, g);
    cg__bump_version(leaf->grad);
    return CG_OK;
}

cg_status cg_backward(cg_tensor *output, cg_tensor *grad_output)
{
    cg_tape *tape = cg__tape_require("cg_backward");
    if (!tape)
        return cg_last_status();
    pass p = pass_begin(tape);
    cg_status st = run_pass(&p, &output, 1, &grad_output, false, "cg_backward");
    for (size_t i = 0; st == CG_OK && i < p.touched->n; i++) {
        cg_tensor *t = p.touched->items[i];
        if (!t->node && t->requires_grad)
            st = add_into_leaf_grad(t, t->grad_acc);
    }
    pass_end(&p);
    return st;
}

cg_status cg_grad(cg_tensor *const *outputs, int noutputs, cg_tensor *const *grad_outputs,
                  cg_tensor *const *inputs, int ninputs, cg_tensor **grads,
                  const cg_grad_options *options)
{
    cg_grad_options opt = {false, false};
    if (options)
        opt = *options;
    if (!inputs || !grads || ninputs <= 0)
        return cg__error(CG_ERR_VALUE, "cg_grad: need at least one input and a grads array");
    for (int j = 0; j < ninputs; j++) {
        grads[j] = NULL;
        if (!cg__check_tensor(inputs[j], "cg_grad"))
            return cg_last_status();
        if (!inputs[j]->requires_grad)
            return cg__error(CG_ERR_STATE, "cg_grad: input %d does not require grad", j);
    }
    cg_tape *tape = cg__tape_require("cg_grad");
    if (!tape)
        return cg_last_status();
    pass p = pass_begin(tape);
    cg_status st = run_pass(&p, outputs, noutputs, grad_outputs, opt.create_graph, "cg_grad");
    for (int j = 0; st == CG_OK && j < ninputs; j++) {
        grads[j] = inputs[j]->grad_acc;
        if (!grads[j] && !opt.allow_unused)
            st = cg__error(CG_ERR_STATE, "cg_grad: input %d was not used in the graph of the "
                                         "outputs (set allow_unused)",
                           j);
    }
    pass_end(&p);
    if (st != CG_OK)
        for (int j = 0; j < ninputs; j++)
            grads[j] = NULL;
    return st;
}
