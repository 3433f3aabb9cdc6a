/*
 * Functions of the chain shared inside src/net but not public (one scalar type
 * per translation unit, see ops/real.h).
 */
#ifndef CR_NET_PRIVATE_TMPL_H
#define CR_NET_PRIVATE_TMPL_H

#include "abt_kernel.h"

/* cr_net_forward with layer 0's product x W_0 by the packed kernel when w0t
   holds W_0ᵀ packed (float32, abt_kernel.h); w0t NULL or without data: the
   same as cr_net_forward. */
cr_status FN(net_forward_packed)(const cr_net *net, cr_tape *tape, size_t n, const real *x,
                                 const cr_abt_packed *w0t);

#endif
