/*
 * ONNX BatchNormalization (docs/batchnorm.md): in inference mode right after a
 * linear layer it becomes the net's affine link after that layer (form
 * batchnorm), evaluated as the file states, Y = (X − mean)/√(var + ε)·scale + B.
 * onnx_import.c's chain walk calls ox_op_batchnorm on the node and
 * ox_batchnorm_links when it builds the net.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "onnx_internal.h"

static const char *dtype_name(int t) { return t == OX_DOUBLE ? "double" : "float"; }

/* BatchNormalization(X, scale, B, mean, var) in inference mode right after a linear
   layer: recorded on the layer, the chain goes on from Y (docs/batchnorm.md). */
int ox_op_batchnorm(ox_chain *ch, const ox_node *n, size_t i) {
    ox_ctx *c = ch->c;
    if (ch->stage == ST_INPUT)
        return cr_fail(CR_ERR_FORMAT, "%s: %s on the input, before any linear layer, is not "
                                    "supported (chainrule reads BatchNormalization after a Gemm or "
                                    "MatMul, as BatchNorm1d after nn.Linear)", c->file, where(n, i).s);
    ox_layer *ly = &ch->layer[ch->L - 1];
    if (ch->stage != ST_LINEAR || ly->bn[0])
        return cr_fail(CR_ERR_FORMAT, "%s: %s must follow a linear layer (Gemm, or MatMul and its "
                                    "Add) directly, once, before its activation", c->file,
                            where(n, i).s);
    if (n->n_in != 5 || strcmp(n->in[0], ch->cur))
        return cr_fail(CR_ERR_FORMAT, "%s: %s needs 5 inputs: the chain's value '%s', then scale, B, "
                                    "mean and var", c->file, where(n, i).s, pn(ch->cur).s);
    if (attr_i(n, "training_mode", 0) != 0)
        return cr_fail(CR_ERR_FORMAT, "%s: %s: training_mode = 1 (batch statistics) is not "
                                    "supported: export the model after .eval()", c->file,
                            where(n, i).s);
    for (size_t q = 1; q < n->n_out; q++)
        if (n->out[q][0])
            return cr_fail(CR_ERR_FORMAT, "%s: %s: output %zu '%s' is a running statistic of "
                                        "training mode (not supported: only Y)", c->file,
                                where(n, i).s, q, pn(n->out[q]).s);
    static const char *const what[4] = {"scale", "B", "mean", "var"};
    for (int q = 0; q < 4; q++) {
        const ox_tensor *t = find_const(ch, n->in[q + 1]);
        if (!t)
            return cr_fail(CR_ERR_FORMAT, "%s: %s: its %s '%s' must be a constant", c->file,
                                where(n, i).s, what[q], pn(n->in[q + 1]).s);
        if ((t->dtype != OX_FLOAT && t->dtype != OX_DOUBLE) ||
            (t->dtype == OX_DOUBLE && ch->dtype == OX_FLOAT))
            return cr_fail(CR_ERR_FORMAT, "%s: %s: its %s '%s' is %s but the network is %s", c->file,
                                where(n, i).s, what[q], pn(t->name).s, dtype_name(t->dtype),
                                dtype_name(ch->dtype));
        if (t->ndim != 1 || t->count != ly->dout)
            return cr_fail(CR_ERR_FORMAT, "%s: %s: its %s '%s' has %zu values but the linear layer "
                                        "of node %zu has %zu outputs (expected [%zu])", c->file,
                                where(n, i).s, what[q], pn(t->name).s, t->count, ly->node,
                                ly->dout, ly->dout);
        ly->bn[q] = t;
    }
    ly->bn_eps = attr_f(n, "epsilon", (double)1e-5f);
    if (!isfinite(ly->bn_eps) || ly->bn_eps < 0)
        return cr_fail(CR_ERR_FORMAT, "%s: %s: epsilon %g is not a finite number >= 0", c->file,
                            where(n, i).s, ly->bn_eps);
    ly->bn_node = i;
    ly->from_matmul = 0; /* an Add after it is not the MatMul's bias */
    ch->cur = n->out[0];
    return 0;
}

int ox_batchnorm_links(ox_chain *ch, cr_net *net) {
    ox_ctx *c = ch->c;
    for (int l = 0; l < ch->L; l++) {
        const ox_layer *ly = &ch->layer[l];
        if (!ly->bn[0]) continue;
        const size_t d = ly->dout;
        double *v = malloc(4 * d * sizeof *v); /* μ v γ β, as cr_net_set_affine takes them */
        if (!v) {
            return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
        }
        static const int of_vec[4] = {2, 3, 0, 1}; /* ly->bn: scale, B, mean, var */
        const char *why = NULL;
        size_t bad_at = 0;
        const ox_tensor *bad_t = NULL;
        for (int k = 0; k < 4 && !why; k++)
            for (size_t e = 0; e < d && !why; e++) {
                double x = tval(ly->bn[of_vec[k]], e);
                v[k * d + e] = x;
                if (!isfinite(x)) why = isnan(x) ? "NaN" : "Inf", bad_t = ly->bn[of_vec[k]], bad_at = e;
            }
        for (size_t e = 0; e < d && !why; e++) {
            double q = v[d + e];
            double qe = cr_net_dtype(net) == CR_F64 ? q + ly->bn_eps : (double)((float)q + (float)ly->bn_eps);
            if (!(qe > 0)) why = "var + epsilon <= 0", bad_t = ly->bn[3], bad_at = e;
        }
        if (why) {
            free(v);
            return cr_fail(CR_ERR_FORMAT, "%s: node %zu (BatchNormalization): tensor '%s' has %s at "
                                        "index %zu", c->file, ly->bn_node, pn(bad_t->name).s, why,
                                bad_at);
        }
        cr_status s = cr_net_set_affine(net, l + 1, CR_AFFINE_BATCHNORM, v, v + d, v + 2 * d,
                                        v + 3 * d, ly->bn_eps);
        free(v);
        if (s != CR_OK)
            return cr_fail(CR_ERR_FORMAT, "%s: node %zu (BatchNormalization): %s", c->file,
                                ly->bn_node, cr_status_string(s));
    }
    return 0;
}
