/* The float instantiation of the input Jacobians (one source: jacobian.tmpl.c). */
#define CR_REAL_F32
#include "ops/real.h"

#include "jacobian.tmpl.c"
