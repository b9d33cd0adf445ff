/* STUB */
#include "op.h"
