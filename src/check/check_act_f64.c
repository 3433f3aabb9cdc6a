/* The double instantiation of check_act.tmpl.c. */
#define CR_REAL_F64
#include "ops/real.h"

#include "check_act.tmpl.c"
