/* libcgrad: reverse-mode automatic differentiation and neural-network training in C11.
 * The umbrella header: include this one. */
#ifndef CGRAD_CGRAD_H
#define CGRAD_CGRAD_H

#include "cgrad/tensor.h"
#include "cgrad/ops.h"
#include "cgrad/autograd.h"
#include "cgrad/nn.h"
#include "cgrad/viz.h"
#include "cgrad/optim.h"
#include "cgrad/curvature.h"
#include "cgrad/io.h"

#endif
