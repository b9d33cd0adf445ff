/* STUB: layers as modules. */
#include "op.h"
