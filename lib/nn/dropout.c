/* STUB: dropout. */
#include "op.h"
