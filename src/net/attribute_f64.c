/* The double instantiation of the attribution maps (one source: attribute.tmpl.c). */
#define CR_REAL_F64
#include "ops/real.h"

#include "attribute.tmpl.c"
