/* STUB: lib/nn/loss.c, to be written. */
#include "op.h"
