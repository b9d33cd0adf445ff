/* STUB: to be implemented. */
#include "op.h"

cg_tensor *cg__reduce_forward(int op, cg_pool *pool, cg_tensor *const *in, int n, const cg__attrs *attrs)
{
    (void)pool, (void)in, (void)n, (void)attrs;
    cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[op].name);
    return NULL;
}

cg_status cg__sum_backward(const cg_node *node, cg_tensor *gout, cg_tensor **gin)
{
    (void)gout, (void)gin;
    return cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[node->op].name);
}

cg_status cg__mean_backward(const cg_node *node, cg_tensor *gout, cg_tensor **gin)
{
    (void)gout, (void)gin;
    return cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[node->op].name);
}

cg_status cg__extremum_backward(const cg_node *node, cg_tensor *gout, cg_tensor **gin)
{
    (void)gout, (void)gin;
    return cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[node->op].name);
}

cg_tensor *cg__var_forward(int op, cg_pool *pool, cg_tensor *const *in, int n, const cg__attrs *attrs)
{
    (void)pool, (void)in, (void)n, (void)attrs;
    cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[op].name);
    return NULL;
}

cg_status cg__var_backward(const cg_node *node, cg_tensor *gout, cg_tensor **gin)
{
    (void)gout, (void)gin;
    return cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[node->op].name);
}

cg_tensor *cg__logsumexp_forward(int op, cg_pool *pool, cg_tensor *const *in, int n, const cg__attrs *attrs)
{
    (void)pool, (void)in, (void)n, (void)attrs;
    cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[op].name);
    return NULL;
}

cg_status cg__logsumexp_backward(const cg_node *node, cg_tensor *gout, cg_tensor **gin)
{
    (void)gout, (void)gin;
    return cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[node->op].name);
}
cg_tensor *cg_sum_to(cg_tensor *x, int ndim, const int64_t *shape)
{
    (void)x, (void)ndim, (void)shape;
    cg__error(CG_ERR_STATE, "sum_to: not implemented");
    return NULL;
}
