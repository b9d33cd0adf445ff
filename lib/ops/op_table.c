/* The op table, built from op_list.h, and its public read-only view. */
#include <assert.h>

#include "op.h"

const cg__op_def cg__ops[CG_OP_COUNT] = {
#define CG__OP_ROW(E, name, arity, fwd, bwd, saved) \
    [CG_OP_##E] = {name, arity, cg__##fwd, cg__##bwd, saved},
    CG_OP_LIST(CG__OP_ROW)
#undef CG__OP_ROW
};

int cg_op_count(void) { return CG_OP_COUNT; }

const char *cg_op_name(int i) { return i >= 0 && i < CG_OP_COUNT ? cg__ops[i].name : NULL; }

const char *cg_tensor_op_name(const cg_tensor *t)
{
    if (!t)
        return NULL;
    return t->node ? cg__ops[t->node->op].name : "leaf";
}

const char *cg_tensor_scope(const cg_tensor *t)
{
    return t && t->node ? t->node->scope : NULL;
}
