/* STUB: lib/nn/norm.c, to be written. */
#include "op.h"
