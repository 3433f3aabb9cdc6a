/* The double instantiation of the input gradients (one source: input_grad.tmpl.c). */
#define CR_REAL_F64
#include "ops/real.h"

#include "input_grad.tmpl.c"
