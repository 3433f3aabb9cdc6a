/* The float instantiation of the input gradients (one source: input_grad.tmpl.c). */
#define CR_REAL_F32
#include "ops/real.h"

#include "input_grad.tmpl.c"
