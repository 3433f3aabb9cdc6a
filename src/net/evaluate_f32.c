/* The float instantiation of evaluation (one source: evaluate.tmpl.c). */
#define CR_REAL_F32
#include "ops/real.h"

#include "evaluate.tmpl.c"
