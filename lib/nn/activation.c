/* STUB: lib/nn/activation.c, to be written. */
#include "op.h"
