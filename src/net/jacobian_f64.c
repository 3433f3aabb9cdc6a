/* The double instantiation of the input Jacobians (one source: jacobian.tmpl.c). */
#define CR_REAL_F64
#include "ops/real.h"

#include "jacobian.tmpl.c"
