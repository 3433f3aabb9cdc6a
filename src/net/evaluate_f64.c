/* The double instantiation of evaluation (one source: evaluate.tmpl.c; float32's is train.c's). */
#define CR_REAL_F64
#include "ops/real.h"

#include "evaluate.tmpl.c"
