/* The float instantiation of the network chain (one source: net.tmpl.c). */
#define CR_REAL_F32
#include "ops/real.h"

#include "net.tmpl.c"
