/*
 * Modules (nn.Module): a type name, a forward function with its state, a training flag,
 * and owned, ordered lists of named parameters, buffers and children.
 *
 * Dotted names ("0.weight") are built on demand: each module caches the flattened list of
 * its subtree's parameters (and another of its buffers), and a change anywhere below drops
 * the caches of every ancestor. A string once handed out is freed only with its module,
 * so a name read before a later add_* stays valid; a rebuild reuses the strings of
 * entries still present, so growing a model does not pile up copies. The caches make
 * the read-only queries mutate the module: query one module tree from one thread at a
 * time (as with any structural change).
 *
 * A forward runs inside a tape scope named after the module (cg_tape_push_scope), so the
 * ops of "0" inside a Sequential carry the path "Sequential.0" into diagrams.
 *
 * Ownership on failure: cg_module_add_parameter / _buffer / _child leave the tensor or
 * child with the caller when they fail (it may be tape-owned, or held elsewhere). The
 * Sequential calls take their modules in every case, freeing them on failure unless they
 * already belong to another module, so that a chain of constructors needs one check.
 *
 * Weight normalization replaces a parameter by a computed weight: cg_module_forward
 * evaluates it from its parameters on the active tape before the module's own forward
 * runs, and the forward finds it by name like a parameter (cg_module_find). Outside a
 * forward it has no value, because the tensor belongs to a tape that may since have been
 * reset.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "module_impl.h"

typedef struct named_tensor {
    char *name;
    cg_tensor *t;
} named_tensor;

typedef struct named_module {
    char *name;
    cg_module *m;
} named_module;

/* A weight-normalised parameter: name = g v / ||v||, the norm over every dimension but
 * dim (over all of them when dim is -1, PyTorch's dim=None). */
typedef struct computed {
    char *name;
    cg_tensor *g, *v; /* owned by the module's parameter list */
    int dim;
    cg_tensor *value; /* tape-owned; set while the module's forward runs */
} computed;

/* The flattened parameters (or buffers) of a subtree with their dotted names. */
typedef struct flat_entry {
    const char *name;
    cg_tensor *t;
} flat_entry;

typedef struct flat {
    bool valid;
    int n, cap;
    flat_entry *items;
} flat;

struct cg_module {
    char *type;
    cg_module_forward_fn forward;
    void *state;
    void (*free_state)(void *state);
    bool training;
    int depth; /* nesting of cg_module_forward calls on this module */
    cg_module *parent;
    const char *name; /* its name in parent (owned by the parent's list), NULL for a root */
    named_tensor *params, *buffers;
    int nparams, cap_params, nbuffers, cap_buffers;
    named_module *children;
    int nchildren, cap_children;
    computed *computed;
    int ncomputed, cap_computed;
    flat flat_params, flat_buffers;
    char **strings; /* dotted names and retired names, freed with the module */
    int nstrings, cap_strings;
};

/* ---- small helpers ---- */

/* items grown, if full, to hold at least n + 1 elements of elem bytes; NULL on failure
 * (items is then unchanged). */
static void *grow(void *items, int n, int *cap, size_t elem)
{
    if (n < *cap)
        return items;
    if (*cap > INT_MAX / 2)
        return NULL;
    int cap2 = *cap ? *cap * 2 : 4;
    void *p = cg__realloc(items, (size_t)*cap * elem, (size_t)cap2 * elem);
    if (p)
        *cap = cap2;
    return p;
}

static void free_string(char *s)
{
    if (s)
        cg__free(s, strlen(s) + 1);
}

/* Keep s until the module is freed (names handed out must outlive structural changes). */
static bool keep_string(cg_module *m, char *s)
{
    char **p = grow(m->strings, m->nstrings, &m->cap_strings, sizeof *p);
    if (!p)
        return false;
    m->strings = p;
    m->strings[m->nstrings++] = s;
    return true;
}

/* Drop the name caches of m and every ancestor. */
static void invalidate(cg_module *m)
{
    for (; m; m = m->parent)
        m->flat_params.valid = m->flat_buffers.valid = false;
}

static cg_tensor *own_in(const named_tensor *list, int n, const char *name, int *index)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i].name, name) == 0) {
            if (index)
                *index = i;
            return list[i].t;
        }
    return NULL;
}

static cg_module *own_child(const cg_module *m, const char *name, size_t len)
{
    for (int i = 0; i < m->nchildren; i++)
        if (strncmp(m->children[i].name, name, len) == 0 && m->children[i].name[len] == '\0')
            return m->children[i].m;
    return NULL;
}

static const computed *own_computed(const cg_module *m, const char *name)
{
    for (int i = 0; i < m->ncomputed; i++)
        if (strcmp(m->computed[i].name, name) == 0)
            return &m->computed[i];
    return NULL;
}

static bool name_taken(const cg_module *m, const char *name)
{
    return own_in(m->params, m->nparams, name, NULL) ||
           own_in(m->buffers, m->nbuffers, name, NULL) || own_child(m, name, strlen(name)) ||
           own_computed(m, name);
}

/* A new member name must be non-empty, dot-free (dots separate path components) and
 * unused among the module's parameters, buffers, children and computed weights. */
static cg_status check_name(const cg_module *m, const char *name, const char *who)
{
    if (!m)
        return cg__error(CG_ERR_NULL, "%s: NULL module", who);
    if (!name || !*name)
        return cg__error(CG_ERR_VALUE, "%s: %s member needs a non-empty name", who, m->type);
    if (strchr(name, '.'))
        return cg__error(CG_ERR_VALUE, "%s: name \"%s\" contains a dot", who, name);
    if (name_taken(m, name))
        return cg__error(CG_ERR_VALUE, "%s: %s already has a member named \"%s\"", who,
                         m->type, name);
    return CG_OK;
}

/* ---- construction and destruction ---- */

cg_module *cg_module_new(const char *type, cg_module_forward_fn forward, void *state,
                         void (*free_state)(void *state))
{
    cg_module *m = type ? cg__calloc(1, sizeof *m) : NULL;
    char *name = m ? cg__strdup(type) : NULL;
    if (!name) {
        cg__free(m, sizeof *m);
        if (free_state && state)
            free_state(state);
        if (!type)
            cg__error(CG_ERR_NULL, "cg_module_new: NULL type name");
        else
            cg__error(CG_ERR_NOMEM, "cg_module_new: out of memory creating %s", type);
        return NULL;
    }
    m->type = name;
    m->forward = forward;
    m->state = state;
    m->free_state = free_state;
    m->training = true;
    return m;
}

static void free_tensors(named_tensor *list, int n, int cap)
{
    for (int i = 0; i < n; i++) {
        free_string(list[i].name);
        cg_tensor_free(list[i].t);
    }
    cg__free(list, (size_t)cap * sizeof *list);
}

static void free_flat(flat *f)
{
    cg__free(f->items, (size_t)f->cap * sizeof *f->items);
    *f = (flat){0};
}

void cg_module_free(cg_module *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->nchildren; i++) {
        free_string(m->children[i].name);
        cg_module_free(m->children[i].m);
    }
    cg__free(m->children, (size_t)m->cap_children * sizeof *m->children);
    free_tensors(m->params, m->nparams, m->cap_params);
    free_tensors(m->buffers, m->nbuffers, m->cap_buffers);
    for (int i = 0; i < m->ncomputed; i++)
        free_string(m->computed[i].name);
    cg__free(m->computed, (size_t)m->cap_computed * sizeof *m->computed);
    free_flat(&m->flat_params);
    free_flat(&m->flat_buffers);
    for (int i = 0; i < m->nstrings; i++)
        free_string(m->strings[i]);
    cg__free(m->strings, (size_t)m->cap_strings * sizeof *m->strings);
    if (m->free_state && m->state)
        m->free_state(m->state);
    free_string(m->type);
    cg__free(m, sizeof *m);
}

/* ---- members ---- */

/* Append (copy of name, t) to a tensor list of m. */
static cg_status push_tensor(cg_module *m, bool buffer, const char *name, cg_tensor *t,
                             const char *who)
{
    named_tensor **list = buffer ? &m->buffers : &m->params;
    int *n = buffer ? &m->nbuffers : &m->nparams;
    int *cap = buffer ? &m->cap_buffers : &m->cap_params;
    named_tensor *p = grow(*list, *n, cap, sizeof *p);
    char *copy = p ? cg__strdup(name) : NULL;
    if (p)
        *list = p;
    if (!copy)
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    (*list)[(*n)++] = (named_tensor){copy, t};
    invalidate(m);
    return CG_OK;
}

/* What parameters and buffers share: a live, caller-owned tensor not already held. */
static cg_status check_member(const cg_module *m, const char *name, const cg_tensor *t,
                              const char *who)
{
    cg_status st = check_name(m, name, who);
    if (st != CG_OK)
        return st;
    if (!cg__check_tensor(t, who))
        return cg_last_status(); /* recorded now, or the upstream error that made t NULL */
    if (t->pool)
        return cg__error(CG_ERR_STATE, "%s: \"%s\" belongs to a tape; a module needs a "
                                       "caller-owned tensor (cg_tensor_clone it)", who, name);
    for (int i = 0; i < m->nparams; i++)
        if (m->params[i].t == t)
            return cg__error(CG_ERR_STATE, "%s: tensor already held as \"%s\"", who,
                             m->params[i].name);
    for (int i = 0; i < m->nbuffers; i++)
        if (m->buffers[i].t == t)
            return cg__error(CG_ERR_STATE, "%s: tensor already held as \"%s\"", who,
                             m->buffers[i].name);
    return CG_OK;
}

/* Give an unnamed tensor its member name, so diagrams drawn without the module still show
 * "weight" rather than an anonymous input. Done before the tensor is taken, so a failure
 * leaves nothing half done (a name on a tensor the caller keeps is harmless). */
static cg_status label(cg_tensor *t, const char *name, const char *who)
{
    if (!t->name && !(t->name = cg__strdup(name)))
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    return CG_OK;
}

cg_status cg_module_add_parameter(cg_module *m, const char *name, cg_tensor *t)
{
    const char *who = "cg_module_add_parameter";
    cg_status st = check_member(m, name, t, who);
    if (st != CG_OK)
        return st;
    if (!cg__is_float(t->dtype))
        return cg__error(CG_ERR_DTYPE, "%s: parameter \"%s\" has dtype %s; expected f32 or f64",
                         who, name, cg_dtype_name(t->dtype));
    st = label(t, name, who);
    if (st == CG_OK)
        st = push_tensor(m, false, name, t, who);
    if (st == CG_OK)
        t->requires_grad = true;
    return st;
}

cg_status cg_module_add_buffer(cg_module *m, const char *name, cg_tensor *t)
{
    const char *who = "cg_module_add_buffer";
    cg_status st = check_member(m, name, t, who);
    if (st == CG_OK)
        st = label(t, name, who);
    return st == CG_OK ? push_tensor(m, true, name, t, who) : st;
}

static bool is_ancestor_or_self(const cg_module *a, const cg_module *m)
{
    for (; m; m = m->parent)
        if (m == a)
            return true;
    return false;
}

cg_status cg_module_add_child(cg_module *m, const char *name, cg_module *child)
{
    const char *who = "cg_module_add_child";
    cg_status st = check_name(m, name, who);
    if (st != CG_OK)
        return st;
    if (!child)
        return cg_last_status() != CG_OK ? cg_last_status()
                                         : cg__error(CG_ERR_NULL, "%s: NULL child", who);
    if (child->parent)
        return cg__error(CG_ERR_STATE, "%s: %s already belongs to a %s", who, child->type,
                         child->parent->type);
    if (is_ancestor_or_self(child, m))
        return cg__error(CG_ERR_STATE, "%s: adding %s under itself would make a cycle", who,
                         child->type);
    named_module *p = grow(m->children, m->nchildren, &m->cap_children, sizeof *p);
    char *copy = p ? cg__strdup(name) : NULL;
    if (p)
        m->children = p;
    if (!copy)
        return cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    m->children[m->nchildren++] = (named_module){copy, child};
    child->parent = m;
    child->name = copy;
    invalidate(m);
    return CG_OK;
}

/* ---- flattened names ---- */

/* Whether s equals prefix "." name (or name alone when prefix is NULL). */
static bool dotted_eq(const char *s, const char *prefix, const char *name)
{
    if (prefix) {
        size_t n = strlen(prefix);
        if (strncmp(s, prefix, n) != 0 || s[n] != '.')
            return false;
        s += n + 1;
    }
    return strcmp(s, name) == 0;
}

/* A string of the previous cache naming the same tensor the same way, searched from
 * *cursor on (entries mostly keep their order, so this is usually the first look). */
static const char *reuse(const flat *old, int *cursor, const cg_tensor *t, const char *prefix,
                         const char *name)
{
    for (int k = 0; k < old->n; k++) {
        int i = (*cursor + k) % old->n;
        if (old->items[i].t == t && dotted_eq(old->items[i].name, prefix, name)) {
            *cursor = i + 1;
            return old->items[i].name;
        }
    }
    return NULL;
}

static const char *dotted_name(cg_module *m, const char *prefix, const char *name)
{
    size_t np = strlen(prefix), nn = strlen(name);
    char *s = cg__malloc(np + nn + 2);
    if (!s)
        return NULL;
    memcpy(s, prefix, np);
    s[np] = '.';
    memcpy(s + np + 1, name, nn + 1);
    if (!keep_string(m, s)) {
        cg__free(s, np + nn + 2);
        return NULL;
    }
    return s;
}

/* Append one entry to the cache f of m under prefix.name (own entries: name alone). */
static bool flat_push(cg_module *m, flat *f, const flat *old, int *cursor, const char *prefix,
                      const char *name, cg_tensor *t)
{
    const char *s = reuse(old, cursor, t, prefix, name);
    if (!s)
        s = prefix ? dotted_name(m, prefix, name) : name;
    flat_entry *items = s ? grow(f->items, f->n, &f->cap, sizeof *items) : NULL;
    if (!items)
        return false;
    f->items = items;
    f->items[f->n++] = (flat_entry){s, t};
    return true;
}

static bool build_flat(cg_module *m, bool buffers);

static bool fill_flat(cg_module *m, bool buffers, flat *f, const flat *old)
{
    const named_tensor *own = buffers ? m->buffers : m->params;
    int nown = buffers ? m->nbuffers : m->nparams, cursor = 0;
    for (int i = 0; i < nown; i++)
        if (!flat_push(m, f, old, &cursor, NULL, own[i].name, own[i].t))
            return false;
    for (int c = 0; c < m->nchildren; c++) {
        cg_module *child = m->children[c].m;
        if (!build_flat(child, buffers))
            return false;
        const flat *cf = buffers ? &child->flat_buffers : &child->flat_params;
        for (int i = 0; i < cf->n; i++)
            if (!flat_push(m, f, old, &cursor, m->children[c].name, cf->items[i].name,
                           cf->items[i].t))
                return false;
    }
    return true;
}

/* Rebuild m's cache of dotted names if a change below dropped it (PyTorch's order: a
 * module's own entries, then each child's, depth first). */
static bool build_flat(cg_module *m, bool buffers)
{
    flat *f = buffers ? &m->flat_buffers : &m->flat_params;
    if (f->valid)
        return true;
    flat old = *f, fresh = {0};
    bool ok = fill_flat(m, buffers, &fresh, &old);
    free_flat(&old);
    if (!ok) {
        free_flat(&fresh);
        *f = (flat){0};
        cg__error(CG_ERR_NOMEM, "%s: out of memory listing names", m->type);
        return false;
    }
    fresh.valid = true;
    *f = fresh;
    return true;
}

/* The cache of a module; building it changes only the cache, so const is cast away. */
static const flat *flat_of(const cg_module *m, bool buffers)
{
    if (!m) {
        cg__error(CG_ERR_NULL, "cg_module: NULL module");
        return NULL;
    }
    if (!build_flat((cg_module *)m, buffers))
        return NULL;
    return buffers ? &m->flat_buffers : &m->flat_params;
}

static cg_tensor *flat_get(const cg_module *m, bool buffers, int i, const char **name)
{
    const flat *f = flat_of(m, buffers);
    if (name)
        *name = NULL;
    if (!f)
        return NULL;
    if (i < 0 || i >= f->n) {
        cg__error(CG_ERR_VALUE, "%s: %s index %d out of range [0, %d)", m->type,
                  buffers ? "buffer" : "parameter", i, f->n);
        return NULL;
    }
    if (name)
        *name = f->items[i].name;
    return f->items[i].t;
}

int cg_module_num_parameters(const cg_module *m)
{
    const flat *f = flat_of(m, false);
    return f ? f->n : 0;
}

cg_tensor *cg_module_parameter(const cg_module *m, int i, const char **name)
{
    return flat_get(m, false, i, name);
}

int cg_module_num_buffers(const cg_module *m)
{
    const flat *f = flat_of(m, true);
    return f ? f->n : 0;
}

cg_tensor *cg_module_buffer(const cg_module *m, int i, const char **name)
{
    return flat_get(m, true, i, name);
}

cg_tensor *cg__module_own(const cg_module *m, const char *name)
{
    cg_tensor *t = own_in(m->params, m->nparams, name, NULL);
    if (!t)
        t = own_in(m->buffers, m->nbuffers, name, NULL);
    const computed *c = t ? NULL : own_computed(m, name);
    return c ? c->value : t;
}

cg_tensor *cg_module_find(const cg_module *m, const char *name)
{
    if (!m || !name) {
        cg__error(CG_ERR_NULL, "cg_module_find: NULL %s", m ? "name" : "module");
        return NULL;
    }
    const cg_module *at = m;
    const char *rest = name, *dot;
    while (at && (dot = strchr(rest, '.'))) {
        at = own_child(at, rest, (size_t)(dot - rest));
        rest = dot + 1;
    }
    cg_tensor *t = at ? cg__module_own(at, rest) : NULL;
    if (!t && at && own_computed(at, rest))
        cg__error(CG_ERR_STATE, "cg_module_find: \"%s\" of %s is computed during forward only",
                  name, m->type);
    else if (!t)
        cg__error(CG_ERR_VALUE, "cg_module_find: %s has no parameter or buffer \"%s\"", m->type,
                  name);
    return t;
}

int cg_module_num_children(const cg_module *m) { return m ? m->nchildren : 0; }

cg_module *cg_module_child(const cg_module *m, int i, const char **name)
{
    if (name)
        *name = NULL;
    if (!m || i < 0 || i >= m->nchildren) {
        cg__error(m ? CG_ERR_VALUE : CG_ERR_NULL, "cg_module_child: %s", m ? "index out of range"
                                                                            : "NULL module");
        return NULL;
    }
    if (name)
        *name = m->children[i].name;
    return m->children[i].m;
}

/* ---- whole-tree operations ---- */

void cg_module_train(cg_module *m, bool training)
{
    if (!m)
        return;
    m->training = training;
    for (int i = 0; i < m->nchildren; i++)
        cg_module_train(m->children[i].m, training);
}

bool cg_module_is_training(const cg_module *m) { return m && m->training; }
const char *cg_module_type(const cg_module *m) { return m ? m->type : NULL; }
void *cg_module_state(const cg_module *m) { return m ? m->state : NULL; }

bool cg__module_has_forward(const cg_module *m, cg_module_forward_fn fwd)
{
    return m && m->forward == fwd;
}

void cg_module_zero_grad(cg_module *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->nparams; i++)
        cg_tensor_zero_grad(m->params[i].t);
    for (int i = 0; i < m->nchildren; i++)
        cg_module_zero_grad(m->children[i].m);
}

int64_t cg_module_num_elements(const cg_module *m)
{
    if (!m)
        return 0;
    int64_t n = 0;
    for (int i = 0; i < m->nparams; i++)
        n += cg_tensor_numel(m->params[i].t);
    for (int i = 0; i < m->nchildren; i++)
        n += cg_module_num_elements(m->children[i].m);
    return n;
}

/* ---- forward ---- */

/* g v / ||v|| on the active tape, as torch.nn.utils.weight_norm: v * (g / norm). */
static cg_tensor *weight_norm_value(const computed *c)
{
    cg_tensor *v = c->v, *norm;
    cg_tensor *sq = cg_mul(v, v);
    if (c->dim < 0) {
        norm = cg_sqrt(cg_sum(sq, NULL, 0, false));
    } else if (v->ndim == 1) {
        norm = cg_sqrt(sq); /* nothing to reduce: one norm per element */
    } else {
        int axes[CG_MAX_DIMS], n = 0;
        for (int d = 0; d < v->ndim; d++)
            if (d != c->dim)
                axes[n++] = d;
        norm = cg_sqrt(cg_sum(sq, axes, n, true));
    }
    return cg_mul(v, cg_div(c->g, norm));
}

static bool compute_weights(cg_module *m)
{
    for (int i = 0; i < m->ncomputed; i++)
        if (!(m->computed[i].value = weight_norm_value(&m->computed[i])))
            return false;
    return true;
}

/* Prefix the failure message with the module type, so a failure deep in a model reads
 * "Sequential: Conv2d: cg_conv2d: ...". */
static void annotate(const cg_module *m, uint64_t errors_before)
{
    if (cg__error_count() == errors_before) {
        cg__error(CG_ERR_STATE, "%s: forward returned NULL without an error", m->type);
        return;
    }
    char msg[512];
    snprintf(msg, sizeof msg, "%s", cg_last_error());
    cg__error(cg_last_status(), "%s: %s", m->type, msg);
}

/* Run the forward inside a tape scope named after the module (its name in its parent,
 * or its type for a root), so diagrams can group a module's ops: "Sequential.0". */
static cg_tensor *scoped_forward(cg_module *m, cg_tensor *x)
{
    if (cg_tape_push_scope(m->name ? m->name : m->type) != CG_OK)
        return NULL;
    /* Computed weights are evaluated once per outermost call, so a forward that re-enters
     * its own module sees the same tensors. */
    bool ok = m->depth > 0 || compute_weights(m);
    m->depth++;
    cg_tensor *y = ok ? m->forward(m, x) : NULL;
    if (--m->depth == 0)
        for (int i = 0; i < m->ncomputed; i++)
            m->computed[i].value = NULL;
    cg_tape_pop_scope();
    return y;
}

cg_tensor *cg_module_forward(cg_module *m, cg_tensor *x)
{
    if (!m) {
        if (cg_last_status() == CG_OK) /* keep the error of a failed constructor */
            cg__error(CG_ERR_NULL, "cg_module_forward: NULL module");
        return NULL;
    }
    if (!cg__check_tensor(x, m->type))
        return NULL;
    if (!m->forward) {
        cg__error(CG_ERR_STATE, "%s: module has no forward function", m->type);
        return NULL;
    }
    uint64_t errors = cg__error_count();
    cg_tensor *y = scoped_forward(m, x);
    if (!y)
        annotate(m, errors);
    return y;
}

/* ---- Sequential ---- */

static cg_tensor *sequential_forward(cg_module *self, cg_tensor *x)
{
    for (int i = 0; i < self->nchildren && x; i++)
        x = cg_module_forward(self->children[i].m, x);
    return x;
}

/* Free m if ownership passed to seq but adding failed: only a module no other module
 * holds (and not seq or its ancestor). */
static void free_orphan(const cg_module *seq, cg_module *m)
{
    if (m && !m->parent && !is_ancestor_or_self(m, seq))
        cg_module_free(m);
}

cg_status cg_sequential_append(cg_module *seq, cg_module *m)
{
    cg_status st;
    if (!seq || !m) {
        st = cg_last_status() != CG_OK ? cg_last_status()
                                       : cg__error(CG_ERR_NULL, "cg_sequential_append: NULL %s",
                                                   seq ? "module" : "Sequential");
    } else if (seq->forward != sequential_forward) {
        st = cg__error(CG_ERR_VALUE, "cg_sequential_append: %s is not a Sequential", seq->type);
    } else {
        char name[16];
        snprintf(name, sizeof name, "%d", seq->nchildren);
        st = cg_module_add_child(seq, name, m);
    }
    if (st != CG_OK)
        free_orphan(seq, m);
    return st;
}

cg_module *cg_sequential_new(cg_module *const *mods, int n)
{
    if (n < 0 || (n > 0 && !mods)) {
        cg__error(CG_ERR_VALUE, "cg_sequential_new: %s", n < 0 ? "negative count" : "NULL list");
        return NULL;
    }
    cg_module *seq = cg_module_new("Sequential", sequential_forward, NULL, NULL);
    bool ok = seq != NULL;
    for (int i = 0; i < n; i++) {
        if (ok)
            ok = cg_sequential_append(seq, mods[i]) == CG_OK;
        else
            free_orphan(seq, mods[i]);
    }
    if (!ok) {
        cg_module_free(seq);
        return NULL;
    }
    return seq;
}

/* ---- weight normalization ---- */

/* ||w|| over every dimension but dim (all when dim < 0), keepdim, as a new tensor. */
static cg_tensor *norm_except(const cg_tensor *w, int dim)
{
    int64_t n = cg_tensor_numel(w), shape[CG_MAX_DIMS];
    int64_t groups = dim < 0 ? 1 : w->shape[dim], inner = 1;
    for (int d = 0; d < w->ndim; d++) {
        shape[d] = d == dim ? w->shape[d] : 1;
        if (dim >= 0 && d > dim)
            inner *= w->shape[d];
    }
    double *vals = cg__malloc((size_t)n * sizeof *vals);
    double *acc = cg__calloc((size_t)groups, sizeof *acc);
    cg_tensor *g = NULL;
    if (vals && acc && cg_tensor_to_f64(w, vals) == CG_OK) {
        for (int64_t i = 0; i < n; i++)
            acc[(i / inner) % groups] += vals[i] * vals[i];
        for (int64_t k = 0; k < groups; k++)
            acc[k] = sqrt(acc[k]);
        g = cg_tensor_from_data(CG_F64, dim < 0 ? 0 : w->ndim, shape, acc);
    } else if (!vals || !acc) {
        cg__error(CG_ERR_NOMEM, "cg_weight_norm: out of memory");
    }
    cg__free(vals, (size_t)n * sizeof *vals);
    cg__free(acc, (size_t)groups * sizeof *acc);
    cg_tensor *out = g ? cg_tensor_zeros(w->dtype, g->ndim, g->shape) : NULL;
    if (out)
        cg_tensor_copy_(out, g);
    cg_tensor_free(g);
    return out;
}

static char *suffixed(const char *name, const char *suffix)
{
    size_t a = strlen(name), b = strlen(suffix);
    char *s = cg__malloc(a + b + 1);
    if (s) {
        memcpy(s, name, a);
        memcpy(s + a, suffix, b + 1);
    }
    return s;
}

/* Drop parameter i of m (its name kept: it may have been handed out). */
static void remove_param(cg_module *m, int i)
{
    named_tensor e = m->params[i];
    memmove(&m->params[i], &m->params[i + 1], (size_t)(m->nparams - i - 1) * sizeof e);
    m->nparams--;
    if (!keep_string(m, e.name))
        free_string(e.name); /* only on out of memory: a stale name beats a leak */
    cg_tensor_free(e.t);
    invalidate(m);
}

/* Add name_g = g and name_v = v, and the computed entry for name; on failure nothing
 * changes and g, v are freed. */
static cg_status add_weight_norm(cg_module *m, const char *name, int dim, cg_tensor *g,
                                 cg_tensor *v, const char *gname, const char *vname)
{
    const char *who = "cg_weight_norm";
    computed *c = grow(m->computed, m->ncomputed, &m->cap_computed, sizeof *c);
    char *cname = c ? cg__strdup(name) : NULL;
    if (c)
        m->computed = c;
    cg_status st = cname ? CG_OK : cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    if (st == CG_OK && (st = cg_module_add_parameter(m, gname, g)) == CG_OK) {
        if ((st = cg_module_add_parameter(m, vname, v)) == CG_OK) {
            m->computed[m->ncomputed++] = (computed){cname, g, v, dim, NULL};
            return CG_OK;
        }
        m->nparams--; /* take g back off the list; it is freed below */
        free_string(m->params[m->nparams].name);
        invalidate(m);
    }
    free_string(cname);
    cg_tensor_free(g);
    cg_tensor_free(v);
    return st;
}

/* dim -1 takes the norm over the whole tensor (a 0-d g), as PyTorch's dim=None; other
 * negative dims are refused rather than counted from the end, which would make -1
 * ambiguous. */
cg_status cg_weight_norm(cg_module *m, const char *name, int dim)
{
    const char *who = "cg_weight_norm";
    if (!m || !name)
        return cg__error(CG_ERR_NULL, "%s: NULL %s", who, m ? "name" : "module");
    int i;
    cg_tensor *w = own_in(m->params, m->nparams, name, &i);
    if (!w)
        return cg__error(CG_ERR_VALUE, "%s: %s has no parameter \"%s\"", who, m->type, name);
    if (dim < -1 || dim >= w->ndim)
        return cg__error(CG_ERR_VALUE, "%s: dim %d out of range for \"%s\" with %d dimensions "
                                       "(-1: norm over all)", who, dim, name, w->ndim);
    char *gname = suffixed(name, "_g"), *vname = suffixed(name, "_v");
    cg_status st = gname && vname ? CG_OK : cg__error(CG_ERR_NOMEM, "%s: out of memory", who);
    if (st == CG_OK && (st = check_name(m, gname, who)) == CG_OK &&
        (st = check_name(m, vname, who)) == CG_OK) {
        cg_tensor *g = norm_except(w, dim), *v = cg_tensor_clone(w);
        if (!g || !v) {
            cg_tensor_free(g);
            cg_tensor_free(v);
            st = cg_last_status();
        } else if ((st = add_weight_norm(m, name, dim, g, v, gname, vname)) == CG_OK) {
            remove_param(m, i);
        }
    }
    if (gname)
        free_string(gname);
    if (vname)
        free_string(vname);
    return st;
}
