/*
 * TEMPORARY, until the `bounds` branch is merged: delete this file then (its cr_net_bound replaces this one; a
 * duplicate definition fails the link, so it cannot be forgotten).
 *
 * cr_net_bound here is IBP only whatever the method (sound: the centred-interval evaluator of check_interval.c
 * with its rounding bounds; loose: no last-layer elision, no CROWN), so that certify can be built and tested.
 */
#include <math.h>
#include <stdlib.h>

#include "chainrule_certify.h"
#include "check_interval.h"

cr_status cr_net_bound(const cr_net *net, const double *lo, const double *hi, size_t m, const double *c,
                       const cr_bound_options *opt, double *lb, double *ub) {
    (void)opt;
    if (!net || !lo || !hi || (m && !c)) return CR_ERR_ARG;
    const size_t d = net->dims[0], k = net->dims[net->n_layers];
    for (size_t j = 0; j < d; j++)
        if (!(lo[j] <= hi[j]) || !isfinite(lo[j]) || !isfinite(hi[j])) return CR_ERR_ARG;
    cr_net *net64 = (cr_net *)net;
    cr_status st = CR_OK;
    if (net->dtype != CR_F64 && (st = cr_net_convert(net, CR_F64, &net64)) != CR_OK) return st;
    double *buf = malloc((2 * d + 2 * k) * sizeof *buf);
    if (!buf) {
        st = CR_ERR_NOMEM;
        goto done;
    }
    double *mid = buf, *rad = buf + d, *om = buf + 2 * d, *orad = om + k;
    for (size_t j = 0; j < d; j++) {
        mid[j] = 0.5 * lo[j] + 0.5 * hi[j];
        rad[j] = nextafter(fmax(hi[j] - mid[j], mid[j] - lo[j]), INFINITY);
    }
    if ((st = chk_interval_forward64(net64, mid, rad, om, orad)) == CR_OK)
        for (size_t r = 0; r < m; r++)
            chk_interval_row(k, c + r * k, 0, om, orad, lb ? lb + r : NULL, ub ? ub + r : NULL);
done:
    free(buf);
    if (net64 != net) cr_net_free(net64);
    return st;
}

