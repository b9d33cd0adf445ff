/* Internal interface of the module core (lib/nn/module.c) for the built-in layers
 * (lib/nn/layers.c). Nothing here is public. */
#ifndef CG_NN_MODULE_IMPL_H
#define CG_NN_MODULE_IMPL_H

#include "cgrad/nn.h"
#include "core.h"

/* Whether m was made with forward function fwd: how layers.c recognises its own modules
 * (a type name alone could be any user module's). */
bool cg__module_has_forward(const cg_module *m, cg_module_forward_fn fwd);
/* m's own parameter, buffer or computed weight called name, or NULL, recording nothing:
 * for optional tensors such as a layer's bias. */
cg_tensor *cg__module_own(const cg_module *m, const char *name);

#endif
