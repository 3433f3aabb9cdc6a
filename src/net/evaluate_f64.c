/* The double instantiation of evaluation (one source: evaluate.tmpl.c). */
#define CR_REAL_F64
#include "ops/real.h"

#include "evaluate.tmpl.c"
