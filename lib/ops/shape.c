/* STUB: to be implemented. */
#include "op.h"

cg_tensor *cg__reshape_forward(int op, cg_pool *pool, cg_tensor *const *in, int n, const cg__attrs *attrs)
{
    (void)pool, (void)in, (void)n, (void)attrs;
    cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[op].name);
    return NULL;
}

cg_status cg__reshape_backward(const cg_node *node, cg_tensor *gout, cg_tensor **gin)
{
    (void)gout, (void)gin;
    return cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[node->op].name);
}

cg_tensor *cg__permute_forward(int op, cg_pool *pool, cg_tensor *const *in, int n, const cg__attrs *attrs)
{
    (void)pool, (void)in, (void)n, (void)attrs;
    cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[op].name);
    return NULL;
}

cg_status cg__permute_backward(const cg_node *node, cg_tensor *gout, cg_tensor **gin)
{
    (void)gout, (void)gin;
    return cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[node->op].name);
}

cg_tensor *cg__slice_forward(int op, cg_pool *pool, cg_tensor *const *in, int n, const cg__attrs *attrs)
{
    (void)pool, (void)in, (void)n, (void)attrs;
    cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[op].name);
    return NULL;
}

cg_status cg__slice_backward(const cg_node *node, cg_tensor *gout, cg_tensor **gin)
{
    (void)gout, (void)gin;
    return cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[node->op].name);
}

cg_tensor *cg__expand_forward(int op, cg_pool *pool, cg_tensor *const *in, int n, const cg__attrs *attrs)
{
    (void)pool, (void)in, (void)n, (void)attrs;
    cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[op].name);
    return NULL;
}

cg_status cg__expand_backward(const cg_node *node, cg_tensor *gout, cg_tensor **gin)
{
    (void)gout, (void)gin;
    return cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[node->op].name);
}

cg_tensor *cg__slice_scatter_forward(int op, cg_pool *pool, cg_tensor *const *in, int n, const cg__attrs *attrs)
{
    (void)pool, (void)in, (void)n, (void)attrs;
    cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[op].name);
    return NULL;
}

cg_status cg__slice_scatter_backward(const cg_node *node, cg_tensor *gout, cg_tensor **gin)
{
    (void)gout, (void)gin;
    return cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[node->op].name);
}
cg_tensor *cg_reshape(cg_tensor *x, int ndim, const int64_t *shape)
{
    (void)x, (void)ndim, (void)shape;
    cg__error(CG_ERR_STATE, "reshape: not implemented");
    return NULL;
}
