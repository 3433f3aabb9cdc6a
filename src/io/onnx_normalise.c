/*
 * ONNX input normalisation: Sub/Add/Mul/Div of the graph input by constants
 * before the first layer become the net's link 0 (docs/chain.md). onnx_import.c's
 * walk calls ox_op_normalise on each such node (each kept as the file states it,
 * and all folded into (x - mean) / std), and build_model calls ox_input_link for
 * the link: the nodes themselves when they map onto one affine form exactly, the
 * folded standardisation otherwise.
 */
#include <math.h>
#include <stdlib.h>

#include "onnx_internal.h"

/* Sub/Add/Mul/Div by a constant before the first layer (c broadcast onto the
   input's shape). The first two are kept as they are (norm_op, norm_k): one or two
   of them map onto link 0 exactly (ox_input_link). Any sequence is also folded into
   x' = (x - mean) / std:  - c: mean += c std;  + c: mean -= c std;
   / c: std *= c;  * c: std /= c, the link for other sequences (rounded). */
int ox_op_normalise(ox_chain *ch, const ox_node *n, size_t i) {
    ox_ctx *c = ch->c;
    const ox_tensor *k;
    int first;
    if (ox_binary_operands(ch, n, i, &k, &first)) return -1;
    int op = n->op[0]; /* 'S'ub, 'A'dd, 'M'ul, 'D'iv */
    if (!first && (op == 'S' || op == 'D'))
        return cr_fail(CR_ERR_FORMAT, "%s: %s: a constant %s the input is not an input "
                                    "standardisation (only x - c and x / c are)", c->file,
                            where(n, i).s, op == 'S' ? "minus" : "divided by");
    if (ch->rank < 2)
        return cr_fail(CR_ERR_FORMAT, "%s: %s: the graph input's shape is not given, so the "
                                    "constant '%s' cannot be broadcast onto it", c->file,
                            where(n, i).s, pn(k->name).s);
    if (k->dtype != OX_FLOAT && k->dtype != OX_DOUBLE)
        return cr_fail(CR_ERR_FORMAT, "%s: %s: constant '%s' is not float", c->file, where(n, i).s,
                            pn(k->name).s);
    /* numpy broadcasting of k onto the chain's shape; the batch axis must be 1 in k */
    int r = ch->rank;
    if (k->ndim > r)
        return cr_fail(CR_ERR_FORMAT, "%s: %s: constant '%s' has more dimensions than the input",
                            c->file, where(n, i).s, pn(k->name).s);
    size_t kstride[OX_MAX_DIMS] = {0}; /* k's stride along each axis of the chain (0: broadcast) */
    size_t s = 1;
    for (int j = k->ndim - 1; j >= 0; j--) {
        int ax = r - k->ndim + j;
        int64_t kd = k->dims[j];
        if (kd != 1 && (ax == 0 || kd != ch->shape[ax])) {
            char shp[160];
            size_t sh[OX_MAX_DIMS];
            for (int q = 0; q < k->ndim; q++) sh[q] = (size_t)k->dims[q];
            return cr_fail(CR_ERR_FORMAT, "%s: %s: constant '%s' of shape %s does not broadcast "
                                        "per example onto the input (%zu features)", c->file,
                                where(n, i).s, pn(k->name).s,
                                cr_io_shape_str(sh, k->ndim, shp, sizeof shp), ch->feat);
        }
        kstride[ax] = kd == 1 ? 0 : s;
        s *= (size_t)kd;
    }
    if (!ch->mean) {
        ch->mean = calloc(ch->feat, sizeof *ch->mean);
        ch->std = malloc(ch->feat * sizeof *ch->std);
        if (!ch->mean || !ch->std) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
        for (size_t f = 0; f < ch->feat; f++) ch->std[f] = 1.0;
    }
    double *kept = NULL;
    if (ch->n_norm < 2) {
        kept = ch->norm_k[ch->n_norm] = malloc(ch->feat * sizeof *kept);
        if (!kept) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
        ch->norm_op[ch->n_norm] = (char)op;
    }
    ch->n_norm++;
    for (size_t f = 0; f < ch->feat; f++) {
        size_t rem = f, ki = 0;
        for (int ax = r - 1; ax >= 1; ax--) {
            size_t d = (size_t)ch->shape[ax];
            ki += (rem % d) * kstride[ax];
            rem /= d;
        }
        double v = tval(k, ki);
        if (!isfinite(v))
            return cr_fail(CR_ERR_FORMAT, "%s: %s: constant '%s' is not finite at index %zu",
                                c->file, where(n, i).s, pn(k->name).s, ki);
        if (kept) kept[f] = v;
        if ((op == 'M' || op == 'D') && v == 0)
            return cr_fail(CR_ERR_FORMAT, "%s: %s: scaling by 0 (constant '%s', index %zu): a zero "
                                        "scale is not an input normalisation", c->file,
                                where(n, i).s, pn(k->name).s, ki);
        if (op == 'S') ch->mean[f] += v * ch->std[f];
        else if (op == 'A') ch->mean[f] -= v * ch->std[f];
        else if (op == 'D') ch->std[f] *= v;
        else ch->std[f] /= v;
        if (!isfinite(ch->mean[f]) || ch->std[f] == 0 || !isfinite(ch->std[f]))
            return cr_fail(CR_ERR_FORMAT, "%s: %s: the folded standardisation overflows", c->file,
                                where(n, i).s);
    }
    ch->cur = n->out[0];
    return 0;
}

/* Link 0 from the nodes as the file states them, without rounding:
     x - c            (x - c) / 1            x / c       (x - 0) / c
     x - a, / b       (x - a) / b            x + a, / b  (x - (-a)) / b
     x - a, * b       (x - a) * b            x + a, * b  (x - (-a)) * b
     x * c            (x - 0) * c            x + c       x * 1 + c
     x * a, + b       x * a + b              x * a, - b  x * a + (-b)
   (x - 0, x / 1, x * 1 and negation are exact: the same bits as the file's
   arithmetic). Other sequences (x / a, + b; three nodes or more) take the folded
   (x - mean) / std of out's arrays, rounded. The constants are stored in the net's
   dtype: a float32 model's float constants exactly. A SUB_DIV link's values are
   also the model's input_mean/input_std arrays. */
cr_status ox_input_link(const ox_chain *ch, cr_net *net, cr_model *out, size_t d) {
    cr_affine_form form = CR_AFFINE_NONE;
    double *p = malloc(d * sizeof *p), *q = malloc(d * sizeof *q);
    cr_status st = p && q ? CR_OK : cr_fail(CR_ERR_NOMEM, "%s: the input link: out of memory for 2 x %zu doubles", ch->c->file, d);
    const double *k0 = ch->norm_k[0], *k1 = ch->norm_k[1];
    const char a = ch->norm_op[0], b = ch->n_norm == 2 ? ch->norm_op[1] : 0;
    for (size_t f = 0; st == CR_OK && f < d; f++) {
        double x0 = k0[f], x1 = b ? k1[f] : 0, P, Q;
        cr_affine_form fm = CR_AFFINE_NONE;
        if (ch->n_norm > 2) break;
        if (!b) {
            fm = a == 'S' || a == 'D' ? CR_AFFINE_SUB_DIV : a == 'M' ? CR_AFFINE_SUB_MUL : CR_AFFINE_MUL_ADD;
            P = a == 'S' ? x0 : a == 'A' ? 1 : 0;
            Q = a == 'S' ? 1 : x0;
        } else if ((a == 'S' || a == 'A') && (b == 'D' || b == 'M')) {
            fm = b == 'D' ? CR_AFFINE_SUB_DIV : CR_AFFINE_SUB_MUL;
            P = a == 'S' ? x0 : -x0;
            Q = x1;
        } else if (a == 'M' && (b == 'A' || b == 'S')) {
            fm = CR_AFFINE_MUL_ADD;
            P = x0;
            Q = b == 'A' ? x1 : -x1;
        } else {
            break;
        }
        form = fm;
        p[f] = P, q[f] = Q;
    }
    const int exact = form != CR_AFFINE_NONE;
    if (st == CR_OK && exact && cr_net_dtype(net) == CR_F32) /* float constants stay exact; else refuse */
        for (size_t f = 0; f < d; f++)
            if ((double)(float)p[f] != p[f] || (double)(float)q[f] != q[f]) {
                form = CR_AFFINE_NONE;
                break;
            }
    if (st == CR_OK && form != CR_AFFINE_NONE) {
        st = cr_net_set_input_affine(net, form, p, q);
        if (st == CR_OK && form == CR_AFFINE_SUB_DIV) /* the arrays: the same values */
            for (size_t f = 0; f < d; f++) {
                if (cr_net_dtype(net) == CR_F64) {
                    ((double *)out->input_mean.data)[f] = p[f];
                    ((double *)out->input_std.data)[f] = q[f];
                } else {
                    ((float *)out->input_mean.data)[f] = (float)p[f];
                    ((float *)out->input_std.data)[f] = (float)q[f];
                }
            }
    } else if (st == CR_OK) { /* the folded standardisation of the arrays, rounded */
        for (size_t f = 0; f < d; f++) {
            p[f] =
                cr_net_dtype(net) == CR_F64 ? ((double *)out->input_mean.data)[f] : ((float *)out->input_mean.data)[f];
            q[f] = cr_net_dtype(net) == CR_F64 ? ((double *)out->input_std.data)[f] : ((float *)out->input_std.data)[f];
        }
        st = cr_net_set_input_affine(net, CR_AFFINE_SUB_DIV, p, q);
    }
    free(p), free(q);
    return st;
}
