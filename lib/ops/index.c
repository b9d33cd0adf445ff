/* STUB: to be implemented. */
#include "op.h"

cg_tensor *cg__concat_forward(int op, cg_pool *pool, cg_tensor *const *in, int n, const cg__attrs *attrs)
{
    (void)pool, (void)in, (void)n, (void)attrs;
    cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[op].name);
    return NULL;
}

cg_status cg__concat_backward(const cg_node *node, cg_tensor *gout, cg_tensor **gin)
{
    (void)gout, (void)gin;
    return cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[node->op].name);
}

cg_tensor *cg__index_select_forward(int op, cg_pool *pool, cg_tensor *const *in, int n, const cg__attrs *attrs)
{
    (void)pool, (void)in, (void)n, (void)attrs;
    cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[op].name);
    return NULL;
}

cg_status cg__index_select_backward(const cg_node *node, cg_tensor *gout, cg_tensor **gin)
{
    (void)gout, (void)gin;
    return cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[node->op].name);
}

cg_tensor *cg__gather_forward(int op, cg_pool *pool, cg_tensor *const *in, int n, const cg__attrs *attrs)
{
    (void)pool, (void)in, (void)n, (void)attrs;
    cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[op].name);
    return NULL;
}

cg_status cg__gather_backward(const cg_node *node, cg_tensor *gout, cg_tensor **gin)
{
    (void)gout, (void)gin;
    return cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[node->op].name);
}

cg_tensor *cg__index_add_forward(int op, cg_pool *pool, cg_tensor *const *in, int n, const cg__attrs *attrs)
{
    (void)pool, (void)in, (void)n, (void)attrs;
    cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[op].name);
    return NULL;
}

cg_status cg__index_add_backward(const cg_node *node, cg_tensor *gout, cg_tensor **gin)
{
    (void)gout, (void)gin;
    return cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[node->op].name);
}

cg_tensor *cg__scatter_add_forward(int op, cg_pool *pool, cg_tensor *const *in, int n, const cg__attrs *attrs)
{
    (void)pool, (void)in, (void)n, (void)attrs;
    cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[op].name);
    return NULL;
}

cg_status cg__scatter_add_backward(const cg_node *node, cg_tensor *gout, cg_tensor **gin)
{
    (void)gout, (void)gin;
    return cg__error(CG_ERR_STATE, "%s: not implemented", cg__ops[node->op].name);
}
