/* STUB: initializers. */
#include "op.h"
