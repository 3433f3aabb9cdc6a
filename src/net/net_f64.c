/* The double instantiation of the network chain (one source: net.tmpl.c). */
#define CR_REAL_F64
#include "ops/real.h"

#include "net.tmpl.c"
