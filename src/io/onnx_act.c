/*
 * The activations in ONNX, from their rows of the op table (cr_activation_info:
 * onnx_op, onnx_opset, onnx_alpha, onnx_pattern): what the writer can write, and
 * what the import reads: an activation's own op (Relu, Sigmoid, Tanh, Gelu, ...;
 * LeakyRelu with the row's alpha) or the nodes exporters write for it, PyTorch's
 * GELU as Div(x, √2), Erf, Add 1, Mul x, Mul 0.5 and SiLU as Sigmoid(x), Mul(x, ·).
 * onnx_import.c's walk calls the ox_ functions below on the nodes after a linear
 * layer.
 */
#include <math.h>
#include <string.h>

#include "chainrule_typed.h"
#include "onnx_internal.h"

int cr_onnx_supported(cr_activation act) {
    const cr_activation_info *in = cr_activation_info_get(act);
    if (!in) return 0;
    if (in->onnx_op && in->onnx_opset <= CR_ONNX_OPSET) return 1;
    return in->onnx_pattern == CR_ACT_ONNX_SIGMOID_MUL;
}

int ox_op_activation(ox_chain *ch, const ox_node *n, size_t i, cr_activation act) {
    ox_ctx *c = ch->c;
    if (ch->stage != ST_LINEAR)
        return cr_fail(CR_ERR_FORMAT, "%s: %s is not right after a linear layer (only one "
                                    "activation follows each Gemm or MatMul)", c->file,
                            where(n, i).s);
    ch->layer[ch->L - 1].act = (int)act;
    ch->layer[ch->L - 1].from_matmul = 0;
    ch->stage = ST_ACT;
    ch->cur = n->out[0];
    return 0;
}

/* The row whose ONNX op is n's op, or -1. */
int ox_act_of_op(const ox_node *n) {
    for (int a = 0; a < CR_ACT_COUNT; a++) {
        const cr_activation_info *in = cr_activation_info_get((cr_activation)a);
        if (in->onnx_op && is_op(n, in->onnx_op)) return a;
    }
    return -1;
}

/* The row that exporters write as pattern, or -1. */
int ox_act_of_pattern(cr_act_onnx_pattern pattern) {
    for (int a = 0; a < CR_ACT_COUNT; a++)
        if (cr_activation_info_get((cr_activation)a)->onnx_pattern == pattern) return a;
    return -1;
}

/* An activation's own op (node i): its row's attributes checked. */
int ox_op_act_node(ox_chain *ch, const ox_node *n, size_t i, int act) {
    ox_ctx *c = ch->c;
    const cr_activation_info *in = cr_activation_info_get((cr_activation)act);
    if (n->n_in != 1 || strcmp(n->in[0], ch->cur))
        return cr_fail(CR_ERR_FORMAT, "%s: %s: its one input must be the chain's value '%s'",
                            c->file, where(n, i).s, pn(ch->cur).s);
    if (!isnan(in->onnx_alpha)) { /* LeakyRelu: alpha (default 0.01) must be the row's */
        double alpha = attr_f(n, "alpha", 0.01);
        if (ch->file_dtype == OX_DOUBLE && alpha != in->onnx_alpha) /* a float attribute: never 0.01 */
            return cr_fail(CR_ERR_FORMAT, "%s: %s: alpha is a float attribute, %.17g in this float64 graph's "
                                        "arithmetic, not %s's slope %g in float64: another function (by %.1e "
                                        "relative below zero); chainrule reads (and writes) a float64 %s as "
                                        "Max(x, Mul(x, %g)) with a double constant", c->file, where(n, i).s,
                           alpha, in->name, in->onnx_alpha, fabs(alpha - in->onnx_alpha) / in->onnx_alpha,
                           in->name, in->onnx_alpha);
        if ((float)alpha != (float)in->onnx_alpha)
            return cr_fail(CR_ERR_FORMAT, "%s: %s: alpha %g is not %s's slope %g below zero (only "
                                        "alpha = %g is read)", c->file, where(n, i).s, alpha,
                                in->name, in->onnx_alpha, in->onnx_alpha);
    }
    const ox_attr *ap = find_attr(n, "approximate"); /* Gelu: only "none" is chainrule's */
    if (is_op(n, "Gelu") && ap && (!ap->s || strcmp(ap->s, "none")))
        return cr_fail(CR_ERR_FORMAT, "%s: %s: approximate = '%s': the tanh approximation of GELU "
                                    "is not chainrule's gelu (the exact form r Φ(r))", c->file,
                            where(n, i).s, pn(ap->s ? ap->s : "").s);
    return ox_op_activation(ch, n, i, (cr_activation)act);
}

/* The next node after i that is not a Constant (n_nodes when none). */
static size_t next_op(const ox_chain *ch, size_t i) {
    size_t j = i + 1;
    while (j < ch->m->n_nodes && is_op(&ch->m->nodes[j], "Constant")) j++;
    return j;
}

/* Takes the Constant nodes between i and j (exclusive), as the walk would. */
int ox_take_constants(ox_chain *ch, size_t i, size_t j) {
    for (size_t q = i + 1; q < j; q++)
        if (is_op(&ch->m->nodes[q], "Constant") && ox_op_constant(ch, &ch->m->nodes[q], q)) return -1;
    return 0;
}

/* The nodes at[0..n) of a pattern each have one new output: named, not a
   constant, not a shape value, not the chain's value, none the same. */
static int fresh_outputs(const ox_chain *ch, const size_t *at, int n) {
    for (int q = 0; q < n; q++) {
        const ox_node *nd = &ch->m->nodes[at[q]];
        if (nd->n_out != 1 || !nd->out[0] || !nd->out[0][0] || find_const(ch, nd->out[0]) ||
            ox_find_shapeval(ch, nd->out[0]) || !strcmp(nd->out[0], ch->cur))
            return 0;
        for (int p = 0; p < q; p++)
            if (!strcmp(nd->out[0], ch->m->nodes[at[p]].out[0])) return 0;
    }
    return 1;
}

/* n's two inputs are {a, b} in either order. */
static int inputs_are(const ox_node *n, const char *a, const char *b) {
    return n->n_in == 2 && n->n_out >= 1 &&
           ((!strcmp(n->in[0], a) && !strcmp(n->in[1], b)) ||
            (!strcmp(n->in[0], b) && !strcmp(n->in[1], a)));
}

/* n is op(v, k) or op(k, v) (commutative ops only for the second) with k a
   one-value constant; its value in *kv. */
static int with_constant(const ox_chain *ch, const ox_node *n, const char *op, const char *v,
                         double *kv) {
    if (!is_op(n, op) || n->n_in != 2 || n->n_out < 1) return 0;
    int first = !strcmp(n->in[0], v), second = !strcmp(n->in[1], v) && strcmp(op, "Div");
    const ox_tensor *k = first ? find_const(ch, n->in[1]) : second ? find_const(ch, n->in[0]) : NULL;
    if (!k || k->count != 1 || (k->dtype != OX_FLOAT && k->dtype != OX_DOUBLE)) return 0;
    *kv = tval(k, 0);
    return 1;
}

/* PyTorch's SiLU at the Sigmoid node i: Sigmoid(x) then Mul(x, σ(x)). Returns
   the Mul's index, or 0 when node i is a plain sigmoid. */
size_t ox_silu_mul(const ox_chain *ch, size_t i) {
    const ox_node *n = &ch->m->nodes[i];
    size_t j = next_op(ch, i);
    if (ox_act_of_pattern(CR_ACT_ONNX_SIGMOID_MUL) < 0 || n->n_in != 1 || n->n_out != 1 ||
        j >= ch->m->n_nodes)
        return 0;
    const ox_node *m = &ch->m->nodes[j];
    const size_t at[2] = {i, j};
    return is_op(m, "Mul") && inputs_are(m, n->in[0], n->out[0]) && fresh_outputs(ch, at, 2) ? j : 0;
}

/* The exact GELU as PyTorch writes it, from node i (a Div or Mul of the chain
   right after a linear layer): t = x / √2 (or x · 1/√2), Erf(t), Add 1,
   then Mul x and Mul 0.5 in either order. The constants must be those values in
   the graph's precision: √2 (or 1/√2) rounded to float in a float graph, to double
   in a double graph (a float √2 there is another function, by ~1e-8 relative, and
   refused). Sets *last to the pattern's last node. */
int ox_gelu_erf(ox_chain *ch, size_t i, size_t *last) {
    ox_ctx *c = ch->c;
    const ox_node *nd = ch->m->nodes;
    const char *x = ch->cur;
    const double rt2 = 1.41421356237309504880, rrt2 = 0.70710678118654752440; /* √2, 1/√2 */
    const int dbl = ch->file_dtype == OX_DOUBLE;
    const int act = ox_act_of_pattern(CR_ACT_ONNX_ERF);
    const char *why = NULL;
    double k;
    size_t j[5] = {i, 0, 0, 0, 0};
    for (int q = 1; q < 5; q++) j[q] = next_op(ch, j[q - 1]);
    if (j[4] >= ch->m->n_nodes) {
        why = "the graph ends before the pattern does";
        goto refuse;
    }
    if (ox_take_constants(ch, i, j[4])) return -1;
    if (!fresh_outputs(ch, j, 5)) {
        why = "its nodes do not each have one new output";
        goto refuse;
    }
    int div = with_constant(ch, &nd[j[0]], "Div", x, &k), mul = !div && with_constant(ch, &nd[j[0]], "Mul", x, &k);
    if (!div && !mul) {
        why = "the first node is not x / √2";
        goto refuse;
    }
    const double want = div ? rt2 : rrt2;
    if (dbl ? k != want : (float)k != (float)want) {
        char buf[160];
        snprintf(buf, sizeof buf, "the first node %s x by %.17g, not by %s rounded to %s (%.17g)",
                 div ? "divides" : "multiplies", k, div ? "√2" : "1/√2", dbl ? "double" : "float",
                 dbl ? want : (double)(float)want);
        return cr_fail(CR_ERR_FORMAT, "%s: %s: arithmetic on the chain after the linear layer of node %zu is read "
                                    "only as GELU's erf pattern (Div √2, Erf, Add 1, Mul x, Mul 0.5), and %s: "
                                    "another function than gelu in the graph's precision", c->file,
                       where(&nd[i], i).s, ch->layer[ch->L - 1].node, buf);
    }
    if (!is_op(&nd[j[1]], "Erf") || nd[j[1]].n_in != 1 || strcmp(nd[j[1]].in[0], nd[j[0]].out[0])) {
        why = "x / √2 does not go to an Erf";
        goto refuse;
    }
    if (!with_constant(ch, &nd[j[2]], "Add", nd[j[1]].out[0], &k) || k != 1) {
        why = "the Erf is not followed by Add 1";
        goto refuse;
    }
    const char *e1 = nd[j[2]].out[0], *m3 = nd[j[3]].out[0];
    int order_x = is_op(&nd[j[3]], "Mul") && inputs_are(&nd[j[3]], x, e1) &&
                  with_constant(ch, &nd[j[4]], "Mul", m3, &k) && k == 0.5;
    int order_half = with_constant(ch, &nd[j[3]], "Mul", e1, &k) && k == 0.5 &&
                     is_op(&nd[j[4]], "Mul") && inputs_are(&nd[j[4]], x, m3);
    if (!order_x && !order_half) {
        why = "1 + erf is not multiplied by x and by 0.5";
        goto refuse;
    }
    *last = j[4];
    ch->cur = x;
    if (ox_op_activation(ch, &nd[i], i, (cr_activation)act)) return -1;
    ch->cur = nd[j[4]].out[0];
    return 0;
refuse:
    return cr_fail(CR_ERR_FORMAT, "%s: %s: arithmetic on the chain after the linear layer of node "
                                "%zu is read only as GELU's erf pattern (Div √2, Erf, Add 1, Mul "
                                "x, Mul 0.5), and %s", c->file, where(&nd[i], i).s,
                        ch->layer[ch->L - 1].node, why);
}

/* Whether a Tanh follows within the few nodes after i: PyTorch's tanh-approximate
   GELU, x · ½(1 + tanh(√(2/π)(x + 0.044715 x³))). */
int ox_tanh_gelu_ahead(const ox_chain *ch, size_t i) {
    for (size_t j = i + 1, q = 0; j < ch->m->n_nodes && q < 12; j++, q++)
        if (is_op(&ch->m->nodes[j], "Tanh")) return 1;
    return 0;
}

/* Whether node i (a Mul after a linear layer) feeds a Softplus: PyTorch's Softplus with
   beta != 1, softplus(βx)/β written as Mul(x, β), Softplus, Div(·, β). */
int ox_softplus_beta_ahead(const ox_chain *ch, size_t i) {
    const ox_node *n = &ch->m->nodes[i];
    size_t j = next_op(ch, i);
    return n->n_out >= 1 && j < ch->m->n_nodes && is_op(&ch->m->nodes[j], "Softplus") &&
           ch->m->nodes[j].n_in >= 1 && !strcmp(ch->m->nodes[j].in[0], n->out[0]);
}

/* A leaky ReLU as Max(x, Mul(x, α)) from the Mul node i (chainrule's float64 form: a LeakyRelu's
   float alpha is not 0.01 in double): α must be the row's slope in the graph's precision. Returns
   0 with *last the Max when it is; 1 when node i is not such a Mul; -1 on a refusal. */
int ox_leaky_max(ox_chain *ch, size_t i, size_t *last) {
    ox_ctx *c = ch->c;
    const ox_node *nd = ch->m->nodes;
    const char *x = ch->cur;
    const size_t j = next_op(ch, i);
    int row = -1; /* the row with an ONNX alpha: leaky-relu */
    for (int a = 0; a < CR_ACT_COUNT; a++)
        if (!isnan(cr_activation_info_get((cr_activation)a)->onnx_alpha)) row = a;
    double k;
    if (row < 0 || j >= ch->m->n_nodes || !with_constant(ch, &nd[i], "Mul", x, &k) || !is_op(&nd[j], "Max") ||
        !inputs_are(&nd[j], x, nd[i].out[0]))
        return 1;
    const size_t at[2] = {i, j};
    if (!fresh_outputs(ch, at, 2)) return 1;
    const double slope = cr_activation_info_get((cr_activation)row)->onnx_alpha;
    const int dbl = ch->file_dtype == OX_DOUBLE;
    if (dbl ? k != slope : (float)k != (float)slope) {
        cr_fail(CR_ERR_FORMAT, "%s: %s: Max(x, Mul(x, %.17g)) after a linear layer is read only as %s, "
                                    "whose slope is %g rounded to %s (%.17g)", c->file, where(&nd[i], i).s, k,
                       cr_activation_info_get((cr_activation)row)->name, slope, dbl ? "double" : "float",
                       dbl ? slope : (double)(float)slope);
        return -1;
    }
    if (ox_take_constants(ch, i, j) || ox_op_activation(ch, &nd[i], i, (cr_activation)row)) return -1;
    ch->cur = nd[j].out[0];
    *last = j;
    return 0;
}
