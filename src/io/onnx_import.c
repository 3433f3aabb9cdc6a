/*
 * ONNX import: the decoded graph (onnx_decode.c) is walked as one chain from
 * its single input to its single output:
 *
 *   [Sub|Add|Mul|Div by constants, Flatten, Reshape to [N, D]]   -> input.mean/std
 *   (Gemm | MatMul [+ Add])  [BatchNormalization]  ACT              -> hidden layers
 *   ... (Gemm | MatMul [+ Add])  [ACT]  [Softmax | LogSoftmax]
 *                                     -> θ, the output activation, the head
 *
 * The network's output is what the graph outputs: an activation after the
 * last linear layer is the output activation (o = a_out(θ)); a final Softmax
 * or LogSoftmax is the softmax + cross-entropy head on o; a graph that ends
 * in o gets the softmax head too (PyTorch classifiers export their logits),
 * unless its metadata_props say "chainrule.head" = "squared-error" (what
 * chainrule writes for a regressor) or the user says so (--head).
 *
 * with Identity, Dropout (inference: identity) and Constant anywhere. ACT is
 * an activation as its row of the op table says ONNX writes it
 * (cr_activation_info): its op (Relu, Sigmoid, Tanh, Gelu, ...; LeakyRelu with
 * the row's alpha), or the nodes exporters write for it: PyTorch's GELU as
 * Div(x, √2), Erf, Add 1, Mul x, Mul 0.5; SiLU as Sigmoid(x), Mul(x, ·). A
 * BatchNormalization in inference mode after a linear layer becomes the net's
 * affine link after it, evaluated as the file states (docs/batchnorm.md); an
 * Identity of a constant names the same constant (torch.onnx.export aliases a
 * fresh BatchNorm1d's running statistics to its weight and bias that way).
 *
 * This file walks the nodes (walk_node), reads the linear layers, Flatten,
 * Reshape and the softmax, and builds the model; the ops beside them are their
 * own files: Constant and the Identity of a constant in onnx_constant.c, the
 * input normalisation (link 0) in onnx_normalise.c, ACT in onnx_act.c,
 * BatchNormalization in onnx_batchnorm.c, the shape arithmetic of a reshape to
 * [N, -1] in onnx_shape.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "onnx_internal.h"

static const char *dtype_name(int t) {
    return t == OX_DOUBLE ? "double" : t == OX_FLOAT16 ? "float16"
                                     : t == OX_BFLOAT16 ? "bfloat16" : "float";
}

/* Flatten (axis 1) or Reshape to [N, D]: the chain becomes [N, feat]. The
   shape is an int constant or a value computed from the chain's shape. */
static int op_flatten(ox_chain *ch, const ox_node *n, size_t i) {
    ox_ctx *c = ch->c;
    int reshape = !strcmp(n->op, "Reshape");
    if (!reshape) {
        int64_t axis = attr_i(n, "axis", 1);
        if (axis < 0 && ch->rank > 0) axis += ch->rank;
        if (axis != 1)
            return cr_fail(CR_ERR_FORMAT, "%s: %s: axis %lld would mix examples (only axis 1, "
                                        "[N, D], is supported)", c->file, where(n, i).s,
                                (long long)attr_i(n, "axis", 1));
    } else {
        ox_shapeval s; /* OX_BATCH entries only when computed from the chain's shape */
        if (n->n_in != 2 || !ox_shapeval_input(ch, n->in[1], &s) || s.rank != 1 || s.n != 2)
            return cr_fail(CR_ERR_FORMAT, "%s: %s: the shape must be a constant [2] of int64, or "
                                        "[N, -1] computed from the input's shape (a reshape to "
                                        "[N, D])", c->file, where(n, i).s);
        int64_t a = s.v[0], b = s.v[1];
        int zero_is_copy = attr_i(n, "allowzero", 0) == 0;
        int a_ok = a == OX_BATCH || a == -1 || (a == 0 && zero_is_copy) ||
                   (a > 0 && a == ch->shape[0]);
        int b_ok = (b > 0 && ch->feat > 0 && (uint64_t)b == ch->feat) || (b == -1 && a != -1);
        if (ch->rank < 2 || !a_ok || !b_ok) {
            char as[24], bs[24];
            snprintf(as, sizeof as, a == OX_BATCH ? "N" : "%lld", (long long)a);
            snprintf(bs, sizeof bs, b == OX_BATCH ? "N" : "%lld", (long long)b);
            return cr_fail(CR_ERR_FORMAT, "%s: %s: reshape to [%s, %s] is not [N, %zu] (N the "
                                        "batch)", c->file, where(n, i).s, as, bs, ch->feat);
        }
    }
    if (ch->rank >= 2) {
        ch->rank = 2;
        ch->shape[1] = (int64_t)ch->feat;
    }
    ch->cur = n->out[0];
    return 0;
}

static int op_linear(ox_chain *ch, const ox_node *n, size_t i) {
    ox_ctx *c = ch->c;
    int gemm = !strcmp(n->op, "Gemm");
    if (ch->stage == ST_LINEAR)
        return cr_fail(CR_ERR_FORMAT, "%s: %s follows node %zu, a linear layer, without an "
                                    "activation between them (not supported)", c->file,
                            where(n, i).s, ch->layer[ch->L - 1].node);
    if (ch->stage == ST_SOFTMAX)
        return cr_fail(CR_ERR_FORMAT, "%s: %s comes after the output softmax", c->file,
                            where(n, i).s);
    if (ch->L >= CR_MAX_LAYERS)
        return cr_fail(CR_ERR_FORMAT, "%s: %s: more than %d linear layers", c->file, where(n, i).s,
                            CR_MAX_LAYERS);
    if (n->n_in < 2 || n->n_in > (gemm ? 3u : 2u) || strcmp(n->in[0], ch->cur))
        return cr_fail(CR_ERR_FORMAT, "%s: %s: its first input must be the chain's value '%s' and "
                                    "then the weight%s", c->file, where(n, i).s, pn(ch->cur).s,
                            gemm ? " (and the bias)" : "");
    const ox_tensor *w = find_const(ch, n->in[1]);
    const ox_tensor *b = gemm && n->n_in == 3 && n->in[2][0] ? find_const(ch, n->in[2]) : NULL;
    if (!w || w->ndim != 2 || (w->dtype != OX_FLOAT && w->dtype != OX_DOUBLE))
        return cr_fail(CR_ERR_FORMAT, "%s: %s: the weight '%s' must be a 2-D float or double "
                                    "constant", c->file, where(n, i).s, pn(n->in[1]).s);
    if (gemm && n->n_in == 3 && n->in[2][0] && !b)
        return cr_fail(CR_ERR_FORMAT, "%s: %s: the bias '%s' must be a constant", c->file,
                            where(n, i).s, pn(n->in[2]).s);
    if (ch->dtype && w->dtype != ch->dtype)
        return cr_fail(CR_ERR_FORMAT, "%s: %s: weight '%s' is %s but the network is %s", c->file,
                            where(n, i).s, pn(w->name).s, w->dtype == OX_FLOAT ? "float" : "double",
                            ch->dtype == OX_FLOAT ? "float" : "double");
    ch->dtype = w->dtype;
    if (!ch->file_dtype) ch->file_dtype = w->file_dtype;
    if (gemm && attr_i(n, "transA", 0) != 0)
        return cr_fail(CR_ERR_FORMAT, "%s: %s: transA = 1 (the batch transposed) is not supported",
                            c->file, where(n, i).s);
    ox_layer *ly = &ch->layer[ch->L];
    memset(ly, 0, sizeof *ly);
    ly->w = w;
    ly->w_out_in = gemm && attr_i(n, "transB", 0) != 0;
    ly->alpha = gemm ? attr_f(n, "alpha", 1.0) : 1.0;
    ly->beta = gemm ? attr_f(n, "beta", 1.0) : 1.0;
    ly->din = (size_t)w->dims[ly->w_out_in ? 1 : 0];
    ly->dout = (size_t)w->dims[ly->w_out_in ? 0 : 1];
    ly->act = -1;
    ly->node = i;
    ly->from_matmul = !gemm;
    if (ly->din == 0 || ly->dout == 0)
        return cr_fail(CR_ERR_FORMAT, "%s: %s: weight '%s' is empty", c->file, where(n, i).s,
                            pn(w->name).s);
    if (!isfinite(ly->alpha) || !isfinite(ly->beta))
        return cr_fail(CR_ERR_FORMAT, "%s: %s: alpha or beta is not finite", c->file, where(n, i).s);
    if (ch->rank > 2)
        return cr_fail(CR_ERR_FORMAT, "%s: %s: its input has %d dimensions; add a Flatten to [N, "
                                    "D] before it", c->file, where(n, i).s, ch->rank);
    if (ch->feat && ly->din != ch->feat)
        return cr_fail(CR_ERR_FORMAT, "%s: %s: weight '%s' of shape [%lld, %lld] (%s) takes %zu "
                                    "inputs but the chain has %zu features here", c->file,
                            where(n, i).s, pn(w->name).s, (long long)w->dims[0],
                            (long long)w->dims[1], ly->w_out_in ? "[out, in], transB = 1"
                                                                : "[in, out]",
                            ly->din, ch->feat);
    if (b && b->count != ly->dout && b->count != 1)
        return cr_fail(CR_ERR_FORMAT, "%s: %s: bias '%s' has %zu values but the layer has %zu "
                                    "outputs", c->file, where(n, i).s, pn(b->name).s, b->count,
                            ly->dout);
    if (b && b->dtype != OX_FLOAT && b->dtype != OX_DOUBLE)
        return cr_fail(CR_ERR_FORMAT, "%s: %s: bias '%s' is not float", c->file, where(n, i).s,
                            pn(b->name).s);
    ly->b = b;
    ch->L++;
    ch->stage = ST_LINEAR;
    ch->rank = 2;
    ch->shape[1] = (int64_t)ly->dout;
    ch->feat = ly->dout;
    ch->cur = n->out[0];
    return 0;
}

/* Add after MatMul: the layer's bias. */
static int op_bias(ox_chain *ch, const ox_node *n, size_t i) {
    ox_ctx *c = ch->c;
    const ox_tensor *k;
    int first;
    if (ox_binary_operands(ch, n, i, &k, &first)) return -1;
    ox_layer *ly = &ch->layer[ch->L - 1];
    if (k->count != ly->dout || (k->dtype != OX_FLOAT && k->dtype != OX_DOUBLE) ||
        (k->ndim == 2 && k->dims[0] != 1) || k->ndim > 2)
        return cr_fail(CR_ERR_FORMAT, "%s: %s: the bias '%s' must be %zu float values ([%zu] or "
                                    "[1, %zu]) for the MatMul of node %zu", c->file,
                            where(n, i).s, pn(k->name).s, ly->dout, ly->dout, ly->dout, ly->node);
    ly->b = k;
    ly->from_matmul = 0;
    ch->cur = n->out[0];
    return 0;
}

static int op_softmax(ox_chain *ch, const ox_node *n, size_t i) {
    ox_ctx *c = ch->c;
    if (ch->stage != ST_LINEAR && ch->stage != ST_ACT)
        return cr_fail(CR_ERR_FORMAT, "%s: %s must follow the last linear layer or its activation",
                            c->file, where(n, i).s);
    int64_t axis = attr_i(n, "axis", ch->m->opset >= 13 ? -1 : 1);
    if (axis != 1 && axis != -1)
        return cr_fail(CR_ERR_FORMAT, "%s: %s: axis %lld is not the class axis of [N, K]", c->file,
                            where(n, i).s, (long long)axis);
    ch->layer[ch->L - 1].from_matmul = 0;
    ch->stage = ST_SOFTMAX;
    ch->cur = n->out[0];
    return 0;
}

/* Walks node *pi; a pattern of several nodes (an activation as exporters write
   it) moves *pi to its last node. */
static int walk_node(ox_chain *ch, size_t *pi) {
    ox_ctx *c = ch->c;
    const size_t i = *pi;
    const ox_node *n = &ch->m->nodes[i];
    if (n->domain && n->domain[0] && strcmp(n->domain, "ai.onnx"))
        return cr_fail(CR_ERR_FORMAT, "%s: unsupported op '%s.%s' (node %zu '%s')", c->file,
                            pn(n->domain).s, pn(n->op).s, i, pn(n->name).s);
    if (is_op(n, "Constant")) return ox_op_constant(ch, n, i);
    if (ox_is_shape_op(n)) return ox_op_shapeval(ch, n, i);
    static const char *const known[] = {"Gemm",    "MatMul",  "Add",      "Sub",
                                        "Mul",     "Div",     "Softmax",  "LogSoftmax",
                                        "Flatten", "Reshape", "Identity", "Dropout",
                                        "BatchNormalization"};
    int k = ox_act_of_op(n) >= 0 || (is_op(n, "Erf") && ox_act_of_pattern(CR_ACT_ONNX_ERF) >= 0) ? 0 : -1;
    for (size_t q = 0; q < sizeof known / sizeof known[0]; q++)
        if (is_op(n, known[q])) k = (int)q;
    if (k < 0) {
        char acts[256] = ""; /* the activations' ONNX ops, from the op table */
        size_t al = 0;
        for (int a = 0; a < CR_ACT_COUNT; a++) {
            const cr_activation_info *in = cr_activation_info_get((cr_activation)a);
            if (in->onnx_op && al + strlen(in->onnx_op) + 3 < sizeof acts)
                al += (size_t)snprintf(acts + al, sizeof acts - al, "%s, ", in->onnx_op);
        }
        return cr_fail(CR_ERR_FORMAT, "%s: unsupported op '%s' (node %zu '%s'); chainrule reads "
                                    "MLPs: Gemm, MatMul, Add, Sub, Mul, Div, %sSoftmax, "
                                    "LogSoftmax, Flatten, Reshape, Identity, Dropout, "
                                    "BatchNormalization, Constant "
                                    "(and Shape, Gather, Unsqueeze, Squeeze, Concat, Cast for a "
                                    "reshape to [N, -1])%s", c->file, pn(n->op).s, i,
                            pn(n->name).s, acts,
                            is_op(n, "Pow") && ch->stage == ST_LINEAR && ox_tanh_gelu_ahead(ch, i)
                                ? "; this looks like the tanh approximation of GELU, which is not "
                                  "chainrule's gelu (the exact form r Φ(r))"
                                : "");
    }
    if (n->n_out < 1 || !n->out[0][0])
        return cr_fail(CR_ERR_FORMAT, "%s: %s has no output", c->file, where(n, i).s);
    /* every input is the chain's value or a constant (or omitted: "") */
    int uses_chain = 0;
    for (size_t q = 0; q < n->n_in; q++) {
        if (!n->in[q][0]) continue;
        if (!strcmp(n->in[q], ch->cur)) uses_chain = 1;
        else if (!find_const(ch, n->in[q]) && !ox_find_shapeval(ch, n->in[q]))
            return cr_fail(CR_ERR_FORMAT, "%s: %s: input '%s' is neither the chain's current value "
                                        "'%s' nor a constant (the graph must be one chain from "
                                        "its input to its output)", c->file, where(n, i).s,
                                pn(n->in[q]).s, pn(ch->cur).s);
    }
    for (size_t q = 0; q < n->n_out; q++)
        if (n->out[q][0] && (find_const(ch, n->out[q]) || ox_find_shapeval(ch, n->out[q]) ||
                             !strcmp(n->out[q], ch->cur)))
            return cr_fail(CR_ERR_FORMAT, "%s: %s: output '%s' redefines an existing value",
                                c->file, where(n, i).s, pn(n->out[q]).s);
    if (!uses_chain && is_op(n, "Identity") && n->n_in == 1 && n->n_out == 1 &&
        find_const(ch, n->in[0]))
        return ox_op_const_alias(ch, n, find_const(ch, n->in[0]));
    if (!uses_chain)
        return cr_fail(CR_ERR_FORMAT, "%s: %s computes on constants only (not supported)", c->file,
                            where(n, i).s);
    if (is_op(n, "Identity") || is_op(n, "Dropout")) {
        if (strcmp(n->in[0], ch->cur))
            return cr_fail(CR_ERR_FORMAT, "%s: %s: its first input must be the chain's value",
                                c->file, where(n, i).s);
        if (is_op(n, "Dropout") && n->n_in == 3 && n->in[2][0]) {
            const ox_tensor *tm = find_const(ch, n->in[2]);
            if (!tm || tm->count != 1 || tval(tm, 0) != 0)
                return cr_fail(CR_ERR_FORMAT, "%s: %s: training_mode must be false", c->file,
                                    where(n, i).s);
        }
        ch->cur = n->out[0];
        return 0;
    }
    if (is_op(n, "Flatten") || is_op(n, "Reshape")) {
        if (strcmp(n->in[0], ch->cur))
            return cr_fail(CR_ERR_FORMAT, "%s: %s: its first input must be the chain's value",
                                c->file, where(n, i).s);
        return op_flatten(ch, n, i);
    }
    if (is_op(n, "Gemm") || is_op(n, "MatMul")) return op_linear(ch, n, i);
    if (is_op(n, "Sigmoid") && ch->stage == ST_LINEAR) { /* SiLU: Sigmoid then Mul(x, σ(x)) */
        size_t j = ox_silu_mul(ch, i);
        if (j) {
            if (ox_take_constants(ch, i, j)) return -1;
            if (ox_op_activation(ch, n, i, (cr_activation)ox_act_of_pattern(CR_ACT_ONNX_SIGMOID_MUL)))
                return -1;
            ch->cur = ch->m->nodes[j].out[0];
            *pi = j;
            return 0;
        }
    }
    if (ox_act_of_op(n) >= 0) return ox_op_act_node(ch, n, i, ox_act_of_op(n));
    if (is_op(n, "Softmax") || is_op(n, "LogSoftmax")) return op_softmax(ch, n, i);
    if (is_op(n, "BatchNormalization")) return ox_op_batchnorm(ch, n, i);
    /* Add, Sub, Mul, Div (and Erf, only inside GELU's pattern) */
    if (ch->stage == ST_INPUT && !is_op(n, "Erf")) return ox_op_normalise(ch, n, i);
    if (ch->stage == ST_LINEAR && ch->layer[ch->L - 1].from_matmul && is_op(n, "Add"))
        return op_bias(ch, n, i);
    if (ch->stage == ST_LINEAR && is_op(n, "Mul")) { /* a float64 leaky ReLU: Max(x, Mul(x, 0.01)) */
        const int lk = ox_leaky_max(ch, i, pi);
        if (lk <= 0) return lk;
    }
    if (ch->stage == ST_LINEAR && is_op(n, "Mul") && ox_tanh_gelu_ahead(ch, i))
        return cr_fail(CR_ERR_FORMAT, "%s: %s: a Mul and then a Tanh after a linear layer: this "
                                    "looks like the tanh approximation of GELU, which is not "
                                    "chainrule's gelu (the exact form r Φ(r)); export the exact "
                                    "GELU (approximate='none')", c->file, where(n, i).s);
    if (ch->stage == ST_LINEAR && is_op(n, "Mul") && ox_softplus_beta_ahead(ch, i))
        return cr_fail(CR_ERR_FORMAT, "%s: %s: a Mul and then a Softplus after a linear layer: this "
                                    "looks like PyTorch's Softplus with beta != 1 (softplus(beta x) / "
                                    "beta), which is not chainrule's softplus (beta = 1); export "
                                    "nn.Softplus() with beta = 1", c->file, where(n, i).s);
    if (ch->stage == ST_LINEAR && (is_op(n, "Div") || is_op(n, "Mul")) &&
        ox_act_of_pattern(CR_ACT_ONNX_ERF) >= 0)
        return ox_gelu_erf(ch, i, pi);
    return cr_fail(CR_ERR_FORMAT, "%s: %s: arithmetic on the chain is supported only before the "
                                "first layer (folded into the input standardisation) and as the "
                                "bias right after a MatMul", c->file, where(n, i).s);
}

/* Builds the cr_net and the standardisation from a walked chain. */
static int build_model(ox_chain *ch, cr_model *out) {
    ox_ctx *c = ch->c;
    int L = ch->L;
    size_t dims[CR_MAX_LAYERS + 1];
    cr_activation act[CR_MAX_LAYERS];
    dims[0] = ch->layer[0].din;
    for (int l = 0; l < L; l++) {
        dims[l + 1] = ch->layer[l].dout;
        if (l + 1 < L) act[l] = (cr_activation)ch->layer[l].act;
    }
    for (int l = 0; l < L; l++) {
        const ox_tensor *ts[2] = {ch->layer[l].w, ch->layer[l].b};
        for (int q = 0; q < 2; q++)
            for (size_t e = 0; ts[q] && e < ts[q]->count; e++)
                if (!isfinite(tval(ts[q], e)))
                    return cr_fail(CR_ERR_FORMAT, "%s: tensor '%s' contains %s at index %zu",
                                        c->file, pn(ts[q]->name).s,
                                        isnan(tval(ts[q], e)) ? "NaN" : "Inf", e);
    }
    cr_dtype dt = ch->dtype == OX_DOUBLE ? CR_F64 : CR_F32;
    cr_net *net;
    cr_status s = cr_net_create(&net, dt, L, dims, act);
    /* the last layer's activation is the output activation; the head as the file says */
    const int out_act = ch->layer[L - 1].act;
    if (s == CR_OK &&
        (s = cr_net_set_output(net, out_act >= 0, out_act >= 0 ? (cr_activation)out_act : CR_ACT_SIGMOID,
                               ch->m->head >= 0 ? (cr_head)ch->m->head : CR_HEAD_SOFTMAX_CE)) != CR_OK)
        cr_net_free(net);
    if (s == CR_ERR_NOMEM) /* cr_net_create's line says how much */
        return cr_fail(CR_ERR_NOMEM, "%s: cannot create the network: %s", c->file, cr_last_error());
    if (s != CR_OK)
        return cr_fail(CR_ERR_IO, "%s: cannot create the network: %s", c->file,
                            cr_status_string(s));
    for (int l = 0; l < L; l++) {
        const ox_layer *ly = &ch->layer[l];
        size_t din = ly->din, dout = ly->dout;
        void *pw = cr_net_weight(net, l), *pb = cr_net_bias(net, l);
        for (size_t a = 0; a < din; a++)
            for (size_t b = 0; b < dout; b++) {
                size_t src = ly->w_out_in ? b * din + a : a * dout + b, dst = a * dout + b;
                if (dt == CR_F64) {
                    double v = ((const double *)ly->w->data)[src];
                    ((double *)pw)[dst] = ly->alpha == 1.0 ? v : ly->alpha * v;
                } else {
                    float v = ((const float *)ly->w->data)[src];
                    ((float *)pw)[dst] = ly->alpha == 1.0 ? v : (float)ly->alpha * v;
                }
            }
        for (size_t b = 0; b < dout; b++) {
            double v = ly->b ? tval(ly->b, ly->b->count == 1 ? 0 : b) : 0.0;
            if (ly->b && ly->beta != 1.0) v *= ly->beta;
            if (dt == CR_F64) ((double *)pb)[b] = v;
            else ((float *)pb)[b] = (float)v;
        }
    }
    const void *params = cr_net_params_const(net);
    for (size_t p = 0, n_params = cr_net_n_params(net); p < n_params; p++) {
        double v = dt == CR_F64 ? ((const double *)params)[p] : ((const float *)params)[p];
        if (!isfinite(v)) {
            cr_net_free(net);
            return cr_fail(CR_ERR_FORMAT, "%s: a weight times alpha (or a bias times beta) "
                                        "overflows", c->file);
        }
    }
    if (ox_batchnorm_links(ch, net)) { /* BatchNormalization: links after layers */
        cr_net_free(net);
        return -1;
    }
    memset(out, 0, sizeof *out);
    out->net = net;
    if (ch->mean) {
        cr_array_dtype adt = dt == CR_F64 ? CR_ARRAY_F64 : CR_ARRAY_F32;
        size_t shape[1] = {dims[0]};
        if (cr_array_alloc(&out->input_mean, adt, 1, shape) ||
            cr_array_alloc(&out->input_std, adt, 1, shape)) {
            cr_model_free(out);
            return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
        }
        for (size_t f = 0; f < dims[0]; f++) {
            if (dt == CR_F64) {
                ((double *)out->input_mean.data)[f] = ch->mean[f];
                ((double *)out->input_std.data)[f] = ch->std[f];
            } else {
                float sd = (float)ch->std[f];
                if (sd == 0 || !isfinite(sd) || !isfinite((float)ch->mean[f])) {
                    cr_model_free(out);
                    return cr_fail(CR_ERR_FORMAT, "%s: the input standardisation does not fit "
                                                "float32", c->file);
                }
                ((float *)out->input_mean.data)[f] = (float)ch->mean[f];
                ((float *)out->input_std.data)[f] = sd;
            }
        }
        cr_status ls = ox_input_link(ch, net, out, dims[0]);
        if (ls != CR_OK) {
            cr_model_free(out);
            return cr_fail(CR_ERR_FORMAT, "%s: the input standardisation: %s", c->file, cr_status_string(ls));
        }
    }
    return 0;
}

static int walk_graph(ox_ctx *c, ox_model *m, cr_model *out) {
    ox_chain ch;
    memset(&ch, 0, sizeof ch);
    ch.c = c;
    ch.m = m;
    ch.rank = -1;
    int rc = -1;
    for (size_t t = 0; t < m->n_inits; t++)
        if (!m->inits[t].name || !m->inits[t].name[0]) {
            cr_fail(CR_ERR_FORMAT, "%s: initializer %zu has no name", c->file, t);
            goto done;
        } else if (add_const(&ch, &m->inits[t]))
            goto done;
    /* the one graph input that is not an initializer (old opsets list both) */
    const ox_value *in = NULL;
    for (size_t v = 0; v < m->n_inputs; v++) {
        if (find_const(&ch, m->inputs[v].name)) continue;
        if (in) {
            cr_fail(CR_ERR_FORMAT, "%s: the graph has more than one input that is not an "
                                 "initializer ('%s', '%s'); chainrule networks take one", c->file,
                         pn(in->name).s, pn(m->inputs[v].name).s);
            goto done;
        }
        in = &m->inputs[v];
    }
    if (!in) {
        cr_fail(CR_ERR_FORMAT, "%s: the graph has no input (besides initializers)", c->file);
        goto done;
    }
    if (m->n_outputs != 1) {
        cr_fail(CR_ERR_FORMAT, "%s: the graph has %zu outputs; chainrule networks have one",
                     c->file, m->n_outputs);
        goto done;
    }
    if (in->elem_type && in->elem_type != OX_FLOAT && in->elem_type != OX_DOUBLE &&
        in->elem_type != OX_FLOAT16 && in->elem_type != OX_BFLOAT16) {
        cr_fail(CR_ERR_FORMAT, "%s: input '%s' has element type %d; float (1), double (11), "
                             "float16 (10) or bfloat16 (16) expected", c->file, pn(in->name).s,
                     in->elem_type);
        goto done;
    }
    ch.cur = in->name;
    if (in->ndim >= 0) {
        if (in->ndim < 2) {
            cr_fail(CR_ERR_FORMAT, "%s: input '%s' has %d dimension%s; expected [N, D] or [N, C, "
                                 "H, W] (N the batch)", c->file, pn(in->name).s, in->ndim,
                         in->ndim == 1 ? "" : "s");
            goto done;
        }
        ch.rank = in->ndim;
        ch.feat = 1;
        ch.shape[0] = in->dims[0];
        for (int d = 1; d < in->ndim; d++) {
            if (in->dims[d] <= 0 || cr_mul_size(ch.feat, (size_t)in->dims[d], &ch.feat) != CR_OK) {
                cr_fail(CR_ERR_FORMAT, "%s: input '%s': dimension %d is not a fixed size (only the "
                                     "batch may be symbolic)", c->file, pn(in->name).s, d);
                goto done;
            }
            ch.shape[d] = in->dims[d];
        }
        /* the first layer's weight holds at least one value per feature, so a shape that
           claims more features than the largest tensor of the file is a lie (and the
           standardisation is never sized by an unchecked claim) */
        size_t most = 0;
        for (size_t t = 0; t < m->n_inits; t++)
            if (m->inits[t].count > most) most = m->inits[t].count;
        for (size_t i = 0; i < m->n_nodes; i++)
            for (size_t a = 0; a < m->nodes[i].n_attr; a++)
                if (m->nodes[i].attr[a].t && m->nodes[i].attr[a].t->count > most)
                    most = m->nodes[i].attr[a].t->count;
        if (ch.feat > most) {
            cr_fail(CR_ERR_FORMAT, "%s: input '%s' claims %zu features per example, more values "
                                 "than any weight in the file holds (%zu)", c->file,
                         pn(in->name).s, ch.feat, most);
            goto done;
        }
    }
    for (size_t i = 0; i < m->n_nodes; i++)
        if (walk_node(&ch, &i)) goto done;
    if (ch.L == 0) {
        cr_fail(CR_ERR_FORMAT, "%s: the graph has no linear layer (Gemm or MatMul)", c->file);
        goto done;
    }
    if (strcmp(m->outputs[0].name, ch.cur)) {
        cr_fail(CR_ERR_FORMAT, "%s: the graph's output '%s' is not the end of the chain ('%s')",
                     c->file, pn(m->outputs[0].name).s, pn(ch.cur).s);
        goto done;
    }
    if (ch.stage == ST_SOFTMAX && m->head == CR_HEAD_SQUARED_ERROR) {
        cr_fail(CR_ERR_FORMAT, "%s: the graph ends in a softmax but its metadata_props say "
                             "chainrule.head = squared-error", c->file);
        goto done;
    }
    if (in->elem_type && in->elem_type != ch.file_dtype) {
        cr_fail(CR_ERR_FORMAT, "%s: input '%s' is %s but the weights are %s", c->file,
                     pn(in->name).s, dtype_name(in->elem_type), dtype_name(ch.file_dtype));
        goto done;
    }
    rc = build_model(&ch, out);
    /* the graph's output is the softmax's (probabilities or log-probabilities), not o: certify reads a VNN-LIB
       spec's Y on it (chainrule_certify.h, outputs_are_probs) */
    int log_softmax = 0; /* at most one (Log)Softmax passes the walk: the last stage */
    for (size_t i = 0; i < m->n_nodes; i++) log_softmax |= is_op(&m->nodes[i], "LogSoftmax");
    if (!rc && ch.stage == ST_SOFTMAX) out->graph_output = log_softmax ? 2 : 1;
    if (!rc && in->ndim > 2) { /* the graph's input shape, for `chainrule info` */
        char shape[256]; /* 8 dimensions of up to 19 digits */
        size_t at = (size_t)snprintf(shape, sizeof shape, "[");
        for (int d = 0; d < in->ndim && at < sizeof shape; d++)
            at += (size_t)(d == 0 && in->dims[0] <= 0
                               ? snprintf(shape + at, sizeof shape - at, "N")
                               : snprintf(shape + at, sizeof shape - at, "%s%lld", d ? ", " : "",
                                          (long long)in->dims[d]));
        if (at < sizeof shape) snprintf(shape + at, sizeof shape - at, "]");
        if (cr_safetensors_set_meta(&out->extra, CR_IO_ONNX_INPUT_SHAPE, shape)) {
            cr_model_free(out);
            rc = cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
        }
    }
done:
    free(ch.consts);
    free(ch.svals);
    for (size_t t = 0; t < ch.n_owned; t++) {
        ox_tensor_free(ch.owned[t]);
        free(ch.owned[t]);
    }
    free(ch.owned);
    free(ch.mean);
    free(ch.std);
    free(ch.norm_k[0]);
    free(ch.norm_k[1]);
    return rc;
}

/* dir: where external data files are (NULL: refused). */
static int onnx_parse(const char *name, const char *dir, const unsigned char *buf, size_t len,
                      cr_model *out) {
    if (!out) return cr_fail(CR_ERR_ARG, "%s: invalid argument", name);
    memset(out, 0, sizeof *out);
    if (!buf && len) return cr_fail(CR_ERR_ARG, "%s: invalid argument", name);
    ox_ctx c = {name, dir};
    ox_model m;
    int rc = ox_decode_model(&c, buf, len, &m);
    if (rc == 0) rc = walk_graph(&c, &m, out);
    ox_model_free(&m);
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}

cr_status cr_onnx_parse(const char *name, const unsigned char *buf, size_t len, cr_model *out) {
    return cr_io_status(onnx_parse(name ? name : "(onnx)", NULL, buf, len, out));
}

cr_status cr_onnx_parse_file(const char *path, const unsigned char *buf, size_t len, cr_model *out) {
    if (!path) return cr_io_status(cr_onnx_parse(NULL, buf, len, out));
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) + (slash == path) : 0; /* "/m.onnx": "/" */
    char *dir = malloc(n + 1);
    if (!dir) {
        if (out) memset(out, 0, sizeof *out);
        return cr_fail(CR_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(dir, path, n);
    dir[n] = '\0';
    int rc = onnx_parse(path, dir, buf, len, out);
    free(dir);
    return cr_io_status(rc);
}

int cr_onnx_looks_like(const unsigned char *buf, size_t len) {
    /* the first field of a ModelProto: ir_version (varint 1), producer_name (2),
       producer_version (3), domain (4), model_version (varint 5), doc_string (6),
       graph (7) or opset_import (8) */
    if (len < 2) return 0;
    static const unsigned char tags[] = {0x08, 0x12, 0x1a, 0x22, 0x28, 0x32, 0x3a, 0x42};
    return memchr(tags, buf[0], sizeof tags) != NULL;
}
