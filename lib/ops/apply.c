/* The dispatcher every op goes through, and helpers shared by kernels and rules. */
#include <string.h>

#include "op.h"

cg_status cg__no_backward(const cg_node *node, cg_tensor *gout, cg_tensor **gin)
{
    (void)gout, (void)gin;
    return cg__error(CG_ERR_STATE, "%s is not differentiable", cg__ops[node->op].name);
}

cg_tensor *cg__apply(int op, cg_tensor *const *in, int n, const cg__attrs *attrs)
{
    const cg__op_def *def = &cg__ops[op];
    if (n > 0 && !in) {
        cg__error(CG_ERR_NULL, "%s: NULL input list", def->name);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (!cg__check_tensor(in[i], def->name))
            return NULL;
    cg_tape *tape = cg__tape_require(def->name);
    if (!tape)
        return NULL;
    cg_tensor *out = def->forward(op, tape->pool, in, n, attrs);
    if (!out)
        return NULL;
    bool record = false;
    if (cg__grad_mode() && cg__differentiable(op))
        for (int i = 0; i < n; i++)
            record |= in[i]->requires_grad;
    if (record && cg__tape_record(tape, op, in, n, attrs, out) != CG_OK)
        return NULL;
    return out;
}

bool cg__broadcast_shapes(const char *op, int na, const int64_t *a, int nb, const int64_t *b,
                          int *nout, int64_t *out)
{
    int n = na > nb ? na : nb;
    for (int i = 0; i < n; i++) {
        int64_t sa = i < n - na ? 1 : a[i - (n - na)];
        int64_t sb = i < n - nb ? 1 : b[i - (n - nb)];
        if (sa != sb && sa != 1 && sb != 1) {
            char x[160], y[160];
            cg__error(CG_ERR_SHAPE, "%s: shapes %s and %s do not broadcast", op,
                      cg__shape_str(na, a, x, sizeof x), cg__shape_str(nb, b, y, sizeof y));
            return false;
        }
        out[i] = sa == 1 ? sb : sa;
    }
    *nout = n;
    return true;
}

void cg__broadcast_strides(const cg_tensor *t, int ndim, int64_t *strides_bytes)
{
    int64_t es = (int64_t)cg_dtype_size(t->dtype);
    for (int i = 0; i < ndim; i++) {
        int k = i - (ndim - t->ndim);
        strides_bytes[i] = (k < 0 || t->shape[k] == 1) ? 0 : t->strides[k] * es;
    }
}

bool cg__check_float_dtypes(const char *op, cg_tensor *const *in, int n)
{
    for (int i = 0; i < n; i++) {
        if (!cg__is_float(in[i]->dtype)) {
            cg__error(CG_ERR_DTYPE, "%s: input %d has dtype %s; expected f32 or f64", op, i,
                      cg_dtype_name(in[i]->dtype));
            return false;
        }
        if (in[i]->dtype != in[0]->dtype) {
            cg__error(CG_ERR_DTYPE, "%s: inputs have dtypes %s and %s", op,
                      cg_dtype_name(in[0]->dtype), cg_dtype_name(in[i]->dtype));
            return false;
        }
    }
    return true;
}

cg_tensor *cg__const(cg_dtype dtype, double value)
{
    cg_tape *tape = cg__tape_require("constant");
    cg_tensor *t = tape ? cg__tensor_alloc(tape->pool, dtype, 0, NULL) : NULL;
    if (t)
        cg__store(t, 0, value);
    return t;
}

cg_tensor *cg__sum_to_like(cg_tensor *g, const cg_tensor *t)
{
    if (!g)
        return NULL;
    if (g->ndim == t->ndim && !memcmp(g->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim))
        return g;
    return cg_sum_to(g, t->ndim, t->shape);
}
