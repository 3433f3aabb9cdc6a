/* The float instantiation of the adversarial attacks (one source: attack.tmpl.c). */
#define CR_REAL_F32
#include "ops/real.h"

#include "attack.tmpl.c"
