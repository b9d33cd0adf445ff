/* STUB: lib/nn/conv.c, to be written. */
#include "op.h"
