/* The float instantiation of check_act.tmpl.c. */
#define CR_REAL_F32
#include "ops/real.h"

#include "check_act.tmpl.c"
