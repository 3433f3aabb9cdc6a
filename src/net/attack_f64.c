/* The double instantiation of the adversarial attacks (one source: attack.tmpl.c). */
#define CR_REAL_F64
#include "ops/real.h"

#include "attack.tmpl.c"
