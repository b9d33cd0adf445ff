/* STUB: to be implemented. */
#include "op.h"

cg_tensor *cg__matmul_forward(int op, cg_pool *pool, cg_tensor *const *in, int n, const cg__attrs *attrs)
{
    (void)pool, (void)in, (void)n, (void)attrs;
    cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[op].name);
    return NULL;
}

cg_status cg__matmul_backward(const cg_node *node, cg_tensor *gout, cg_tensor **gin)
{
    (void)gout, (void)gin;
    return cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[node->op].name);
}
