/* STUB: modules. */
#include "op.h"
