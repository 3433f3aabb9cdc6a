/* The double instantiation of every op (one source: the *.tmpl.c files). */
#define CR_REAL_F64
#include "real.h"

#include "linear.tmpl.c"
#include "affine.tmpl.c"
#include "softmax.tmpl.c"
#include "cross_entropy.tmpl.c"
#include "softmax_ce.tmpl.c"
#include "squared_error.tmpl.c"
#include "act_table.tmpl.c" /* the activations' op files and rows */
