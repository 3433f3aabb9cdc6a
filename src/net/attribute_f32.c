/* The float instantiation of the attribution maps (one source: attribute.tmpl.c). */
#define CR_REAL_F32
#include "ops/real.h"

#include "attribute.tmpl.c"
