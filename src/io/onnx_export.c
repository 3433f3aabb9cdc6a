/*
 * ONNX export: Gemm (transB = 1, the [out, in] weights as they are) per layer,
 * each activation between as its row of the op table says (its op, LeakyRelu
 * with its alpha; SiLU as Sigmoid then Mul), Sub/Div first when the model standardises its
 * input, output "logits" [N, K], opset 13, weights in raw_data. A net with an
 * output activation or the squared-error head ends in that activation (the
 * last Gemm's "theta", then "output") or the last Gemm ("output"), and
 * metadata_props "chainrule.head" names its head. A BatchNorm link after a
 * layer (docs/batchnorm.md) is a BatchNormalization node after its Gemm, with
 * initializers bn{l}.weight, .bias, .running_mean, .running_var and its epsilon.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "onnx_internal.h"
#include "protobuf.h"

/* TensorProto: name, dims, data type, raw little-endian data. */
static void put_tensor(cr_pb_writer *w, const char *name, int ndim, const size_t *dims,
                       cr_dtype dt, const void *data, size_t count) {
    cr_pb_writer t = {0};
    for (int d = 0; d < ndim; d++) cr_pb_put_varint(&t, 1, dims[d]);
    cr_pb_put_varint(&t, 2, dt == CR_F64 ? OX_DOUBLE : OX_FLOAT);
    cr_pb_put_string(&t, 8, name);
    size_t es = cr_dtype_size(dt), bytes = count * es;
    unsigned char *raw = malloc(bytes ? bytes : 1);
    if (!raw) {
        t.oom = 1;
    } else {
        for (size_t i = 0; i < count; i++) {
            const unsigned char *src = (const unsigned char *)data + i * es;
            if (dt == CR_F64) {
                uint64_t u;
                memcpy(&u, src, 8);
                cr_io_put_le64(raw + i * 8, u);
            } else {
                uint32_t u;
                memcpy(&u, src, 4);
                cr_io_put_le32(raw + i * 4, u);
            }
        }
        cr_pb_put_bytes(&t, 9, raw, bytes);
        free(raw);
    }
    cr_pb_put_message(w, 5, &t);
    cr_pb_writer_free(&t);
}

/* NodeProto with up to 3 inputs and an optional int attribute. */
static void put_node(cr_pb_writer *g, const char *op, const char *name, const char *const *in,
                     int n_in, const char *out, const char *attr, int64_t attr_value) {
    cr_pb_writer n = {0};
    for (int i = 0; i < n_in; i++) cr_pb_put_string(&n, 1, in[i]);
    cr_pb_put_string(&n, 2, out);
    cr_pb_put_string(&n, 3, name);
    cr_pb_put_string(&n, 4, op);
    if (attr) {
        cr_pb_writer a = {0};
        cr_pb_put_string(&a, 1, attr);
        cr_pb_put_varint(&a, 3, (uint64_t)attr_value);
        cr_pb_put_varint(&a, 20, 2); /* AttributeProto.INT */
        cr_pb_put_message(&n, 5, &a);
        cr_pb_writer_free(&a);
    }
    cr_pb_put_message(g, 1, &n);
    cr_pb_writer_free(&n);
}

/* BatchNormalization (inference: one output) with its float attribute epsilon. */
static void put_batchnorm(cr_pb_writer *g, int l, const char *in, const char *out, float eps) {
    static const char *const key[4] = {"weight", "bias", "running_mean", "running_var"};
    char names[4][32], nm[32];
    cr_pb_writer n = {0}, a = {0};
    cr_pb_put_string(&n, 1, in);
    for (int k = 0; k < 4; k++) {
        snprintf(names[k], sizeof names[k], "bn%d.%s", l, key[k]);
        cr_pb_put_string(&n, 1, names[k]);
    }
    snprintf(nm, sizeof nm, "bn%d", l);
    cr_pb_put_string(&n, 2, out);
    cr_pb_put_string(&n, 3, nm);
    cr_pb_put_string(&n, 4, "BatchNormalization");
    uint32_t bits;
    memcpy(&bits, &eps, 4);
    cr_pb_put_string(&a, 1, "epsilon");
    cr_pb_put_fixed32(&a, 2, bits);
    cr_pb_put_varint(&a, 20, 1); /* AttributeProto.FLOAT */
    cr_pb_put_message(&n, 5, &a);
    cr_pb_writer_free(&a);
    cr_pb_put_message(g, 1, &n);
    cr_pb_writer_free(&n);
}

/* Activation act of the value `in` as its row's ONNX form, named name, output
   out: one node (with the row's float alpha when it has one), or Sigmoid then
   Mul(in, σ(in)) for CR_ACT_ONNX_SIGMOID_MUL. act must be cr_onnx_supported. */
/* The scalar initializer of a float64 net's leaky-relu slope (put_activation). */
#define LEAKY_SLOPE_NAME "leaky_relu_slope"

/* An activation's nodes. A float64 net's LeakyRelu would state the slope as a float attribute
   (0.0099999998 in double arithmetic, another function): it is written Max(x, Mul(x, slope)) with
   the slope a double initializer (*need_slope set; equal for a slope in (0, 1)). */
static void put_activation(cr_pb_writer *g, cr_activation act, const char *name, const char *in,
                           const char *out, cr_dtype dt, int *need_slope) {
    const cr_activation_info *a = cr_activation_info_get(act);
    const char *ain[2] = {in, NULL};
    if (dt == CR_F64 && !isnan(a->onnx_alpha)) {
        char sc[48];
        snprintf(sc, sizeof sc, "%s_scaled", name);
        ain[1] = LEAKY_SLOPE_NAME;
        put_node(g, "Mul", sc, ain, 2, sc, NULL, 0);
        ain[1] = sc;
        put_node(g, "Max", name, ain, 2, out, NULL, 0);
        *need_slope = 1;
        return;
    }
    if (!(a->onnx_op && a->onnx_opset <= CR_ONNX_OPSET) &&
        a->onnx_pattern == CR_ACT_ONNX_SIGMOID_MUL) {
        char sig[48];
        snprintf(sig, sizeof sig, "%s_sigmoid", name);
        put_node(g, "Sigmoid", sig, ain, 1, sig, NULL, 0);
        ain[1] = sig;
        put_node(g, "Mul", name, ain, 2, out, NULL, 0);
        return;
    }
    if (isnan(a->onnx_alpha)) {
        put_node(g, a->onnx_op, name, ain, 1, out, NULL, 0);
        return;
    }
    cr_pb_writer n = {0}, at = {0};
    float alpha = (float)a->onnx_alpha;
    uint32_t bits;
    memcpy(&bits, &alpha, sizeof bits);
    cr_pb_put_string(&n, 1, in);
    cr_pb_put_string(&n, 2, out);
    cr_pb_put_string(&n, 3, name);
    cr_pb_put_string(&n, 4, a->onnx_op);
    cr_pb_put_string(&at, 1, "alpha");
    cr_pb_put_fixed32(&at, 2, bits);
    cr_pb_put_varint(&at, 20, 1); /* AttributeProto.FLOAT */
    cr_pb_put_message(&n, 5, &at);
    cr_pb_writer_free(&at);
    cr_pb_put_message(g, 1, &n);
    cr_pb_writer_free(&n);
}

/* ValueInfoProto name: tensor of elem type, shape [batch (symbolic), d]. */
static void put_value(cr_pb_writer *g, uint32_t field, const char *name, cr_dtype dt, size_t d) {
    cr_pb_writer v = {0}, type = {0}, tt = {0}, shape = {0}, d0 = {0}, d1 = {0};
    cr_pb_put_string(&d0, 2, "N");
    cr_pb_put_varint(&d1, 1, d);
    cr_pb_put_message(&shape, 1, &d0);
    cr_pb_put_message(&shape, 1, &d1);
    cr_pb_put_varint(&tt, 1, dt == CR_F64 ? OX_DOUBLE : OX_FLOAT);
    cr_pb_put_message(&tt, 2, &shape);
    cr_pb_put_message(&type, 1, &tt);
    cr_pb_put_string(&v, 1, name);
    cr_pb_put_message(&v, 2, &type);
    cr_pb_put_message(g, field, &v);
    cr_pb_writer_free(&v);
    cr_pb_writer_free(&type);
    cr_pb_writer_free(&tt);
    cr_pb_writer_free(&shape);
    cr_pb_writer_free(&d0);
    cr_pb_writer_free(&d1);
}

cr_status cr_onnx_encode(const char *path, const cr_model *model, unsigned char **out, size_t *out_len) {
    if (!path) path = "(onnx)";
    if (!out || !out_len) return cr_fail(CR_ERR_ARG, "%s: invalid argument", path);
    *out = NULL;
    *out_len = 0;
    if (!model || !model->net) return cr_fail(CR_ERR_ARG, "%s: no network to save", path);
    const cr_net *net = model->net;
    int L = cr_net_n_layers(net);
    if (L < 1 || L > CR_MAX_LAYERS || (cr_net_dtype(net) != CR_F32 && cr_net_dtype(net) != CR_F64))
        return cr_fail(CR_ERR_FORMAT, "%s: invalid network", path);
    char written[256] = ""; /* the activations the writer writes, from the op table */
    for (int a = 0, n = 0; a < CR_ACT_COUNT; a++)
        if (cr_onnx_supported((cr_activation)a) && strlen(written) + 16 < sizeof written)
            n += snprintf(written + n, sizeof written - (size_t)n, "%s%s", n ? ", " : "",
                          cr_activation_name((cr_activation)a));
    for (int l = 0; l + 1 < L; l++)
        if (!cr_onnx_supported(cr_net_activation(net, l)))
            return cr_fail(CR_ERR_FORMAT, "%s: hidden layer %d's activation %s is not written to ONNX "
                                     "(%s are)", path, l + 1, cr_activation_name(cr_net_activation(net, l)),
                                written);
    for (int l = 0; l < L; l++) {
        cr_affine_form f = cr_net_affine_form(net, l + 1);
        if (f != CR_AFFINE_NONE && f != CR_AFFINE_BATCHNORM)
            return cr_fail(CR_ERR_FORMAT, "%s: the affine link after layer %d (%s) is not written to "
                                     "ONNX", path, l + 1, cr_affine_form_name(f));
        if (f == CR_AFFINE_BATCHNORM && cr_net_dtype(net) == CR_F64 && /* float32 nets add (float)ε */
            (double)(float)cr_net_link_eps(net, l + 1) != cr_net_link_eps(net, l + 1))
            return cr_fail(CR_ERR_FORMAT, "%s: the BatchNorm after layer %d has epsilon %.17g, which "
                                     "ONNX's float attribute cannot hold exactly", path, l + 1,
                                cr_net_link_eps(net, l + 1));
    }
    cr_dtype dt = cr_net_dtype(net);
    int need_slope = 0; /* a float64 leaky-relu: its slope initializer (put_activation) */
    size_t es = cr_dtype_size(dt), D = cr_net_width(net, 0);
    /* the input link: the net's link 0 (its stored form, written back as the same two
       nodes), else a model's input.mean/input.std arrays */
    const cr_affine_form form = cr_net_affine_form(net, 0);
    int norm = form != CR_AFFINE_NONE || (model->input_mean.data && model->input_std.data);
    if (form == CR_AFFINE_BATCHNORM)
        return cr_fail(CR_ERR_FORMAT, "%s: the input link is a batch normalisation (not written)", path);
    if (form == CR_AFFINE_NONE && norm && (model->input_mean.count != D || model->input_std.count != D))
        return cr_fail(CR_ERR_FORMAT, "%s: input.mean/std do not have %zu entries", path, D);
    const int plain = cr_net_is_plain_classifier(net);
    if (cr_net_output_activation(net, NULL) && !cr_onnx_supported(cr_net_activation(net, cr_net_n_layers(net) - 1)))
        return cr_fail(CR_ERR_FORMAT, "%s: the output activation %s has no ONNX op in opset 13", path,
                            cr_activation_name(cr_net_activation(net, cr_net_n_layers(net) - 1)));
    const char *out_name = plain ? "logits" : "output";
    cr_pb_writer g = {0}, m = {0}, ops = {0};
    char prev[32] = "input", cur[32], wn[32], bn[32], nm[32];
    cr_pb_put_string(&g, 2, "chainrule");
    /* standardisation: (input - mean) / std, constants in the net's dtype; or the
       link's form: (input - mean) * scale, input * scale + shift */
    void *mean = NULL, *sd = NULL;
    const char *pname = form == CR_AFFINE_MUL_ADD ? "input.scale" : "input.mean";
    const char *qname = form == CR_AFFINE_SUB_MUL   ? "input.scale"
                        : form == CR_AFFINE_MUL_ADD ? "input.shift"
                                                    : "input.std";
    if (norm) {
        mean = malloc(D * es);
        sd = malloc(D * es);
        if (!mean || !sd) g.oom = 1;
        if (mean && sd && form != CR_AFFINE_NONE) { /* the stored values, bit for bit */
            memcpy(mean, cr_net_link_vector(net, 0, 0), D * es);
            memcpy(sd, cr_net_link_vector(net, 0, 1), D * es);
        }
        for (size_t f = 0; form == CR_AFFINE_NONE && mean && sd && f < D; f++) {
            double mv = model->input_mean.dtype == CR_ARRAY_F64
                            ? ((const double *)model->input_mean.data)[f]
                            : ((const float *)model->input_mean.data)[f];
            double sv = model->input_std.dtype == CR_ARRAY_F64
                            ? ((const double *)model->input_std.data)[f]
                            : ((const float *)model->input_std.data)[f];
            if (dt == CR_F64) ((double *)mean)[f] = mv, ((double *)sd)[f] = sv;
            else ((float *)mean)[f] = (float)mv, ((float *)sd)[f] = (float)sv;
        }
        if (form == CR_AFFINE_MUL_ADD) {
            const char *mul_in[2] = {"input", pname}, *add_in[2] = {"scaled", qname};
            put_node(&g, "Mul", "standardise_mul", mul_in, 2, "scaled", NULL, 0);
            put_node(&g, "Add", "standardise_add", add_in, 2, "standardised", NULL, 0);
        } else {
            const char *sub_in[2] = {"input", pname}, *div_in[2] = {"centered", qname};
            put_node(&g, "Sub", "standardise_sub", sub_in, 2, "centered", NULL, 0);
            if (form == CR_AFFINE_SUB_MUL)
                put_node(&g, "Mul", "standardise_mul", div_in, 2, "standardised", NULL, 0);
            else
                put_node(&g, "Div", "standardise_div", div_in, 2, "standardised", NULL, 0);
        }
        strcpy(prev, "standardised");
    }
    for (int l = 0; l < L; l++) {
        snprintf(wn, sizeof wn, "fc%d.weight", l + 1);
        snprintf(bn, sizeof bn, "fc%d.bias", l + 1);
        snprintf(nm, sizeof nm, "fc%d", l + 1);
        snprintf(cur, sizeof cur, "%s", l + 1 < L ? nm : cr_net_output_activation(net, NULL) ? "theta" : out_name);
        const int has_bn = cr_net_affine_form(net, l + 1) == CR_AFFINE_BATCHNORM;
        const char *in[3] = {prev, wn, bn};
        put_node(&g, "Gemm", nm, in, 3, has_bn ? nm : cur, "transB", 1);
        if (has_bn) { /* z = (r − μ)/√(v + ε)·γ + β, then the activation */
            char bo[32];
            snprintf(bo, sizeof bo, "bn%d", l + 1);
            if (l + 1 < L) snprintf(cur, sizeof cur, "%s", bo);
            put_batchnorm(&g, l + 1, nm, cur, (float)cr_net_link_eps(net, l + 1));
        }
        strcpy(prev, cur);
        if (l + 1 < L) {
            snprintf(cur, sizeof cur, "%s%d", cr_activation_name(cr_net_activation(net, l)), l + 1);
            put_activation(&g, cr_net_activation(net, l), cur, prev, cur, dt, &need_slope);
            strcpy(prev, cur);
        }
    }
    if (cr_net_output_activation(net, NULL)) { /* o = a_out(θ) */
        put_activation(&g, cr_net_activation(net, cr_net_n_layers(net) - 1), "output_activation", "theta", out_name,
                       dt, &need_slope);
    }
    /* initializers: the weights [out, in] (transposed back from the net's [in, out]) */
    for (int l = 0; l < L && !g.oom; l++) {
        size_t din = cr_net_width(net, l), dout = cr_net_width(net, l + 1), shape[2] = {dout, din};
        unsigned char *wt = malloc(din * dout * es);
        if (!wt) {
            g.oom = 1;
            break;
        }
        const unsigned char *p = cr_net_weight_const(net, l);
        for (size_t j = 0; j < dout; j++)
            for (size_t i = 0; i < din; i++) memcpy(wt + (j * din + i) * es, p + (i * dout + j) * es, es);
        snprintf(wn, sizeof wn, "fc%d.weight", l + 1);
        snprintf(bn, sizeof bn, "fc%d.bias", l + 1);
        put_tensor(&g, wn, 2, shape, dt, wt, din * dout);
        free(wt);
        put_tensor(&g, bn, 1, &dout, dt, cr_net_bias_const(net, l),
                   dout);
        if (cr_net_affine_form(net, l + 1) == CR_AFFINE_BATCHNORM) { /* the link's μ v γ β as stored */
            static const char *const key[4] = {"running_mean", "running_var", "weight", "bias"};
            for (int k = 0; k < 4; k++) {
                snprintf(bn, sizeof bn, "bn%d.%s", l + 1, key[k]);
                put_tensor(&g, bn, 1, &dout, dt, cr_net_link_vector(net, l + 1, k), dout);
            }
        }
    }
    if (need_slope) { /* the leaky-relu slope, a double scalar */
        const double slope = cr_activation_info_get(CR_ACT_LEAKY_RELU)->onnx_alpha;
        put_tensor(&g, LEAKY_SLOPE_NAME, 0, NULL, CR_F64, &slope, 1);
    }
    if (norm && mean && sd) {
        put_tensor(&g, pname, 1, &D, dt, mean, D);
        put_tensor(&g, qname, 1, &D, dt, sd, D);
    }
    free(mean);
    free(sd);
    put_value(&g, 11, "input", dt, D);
    put_value(&g, 12, out_name, dt, cr_net_width(net, L));
    cr_pb_put_varint(&m, 1, 7); /* ir_version 7 (opset 13) */
    cr_pb_put_string(&m, 2, "chainrule");
    cr_pb_put_string(&m, 3, CR_VERSION_STRING);
    cr_pb_put_message(&m, 7, &g);
    cr_pb_put_string(&ops, 1, "");
    cr_pb_put_varint(&ops, 2, CR_ONNX_OPSET);
    cr_pb_put_message(&m, 8, &ops);
    cr_pb_writer meta = {0};
    if (!plain) { /* metadata_props: StringStringEntryProto {key 1, value 2} */
        cr_pb_put_string(&meta, 1, "chainrule.head");
        cr_pb_put_string(&meta, 2, cr_head_name(cr_net_head(net)));
        cr_pb_put_message(&m, 14, &meta);
    }
    cr_pb_writer_free(&meta);
    int rc = -1;
    if (m.oom) {
        cr_fail(CR_ERR_NOMEM, "%s: out of memory", path);
    } else {
        *out = m.p;
        *out_len = m.len;
        m.p = NULL;
        rc = 0;
    }
    cr_pb_writer_free(&g);
    cr_pb_writer_free(&m);
    cr_pb_writer_free(&ops);
    return cr_io_status(rc);
}

cr_status cr_onnx_write(const char *path, const cr_model *model) {
    if (!path) return cr_fail(CR_ERR_ARG, "(null): invalid output path");
    unsigned char *buf;
    size_t len;
    if (cr_onnx_encode(path, model, &buf, &len)) return cr_io_status(-1);
    cr_atomic_file af;
    int rc = -1;
    if (cr_atomic_open(&af, path) == 0) {
        if (fwrite(buf, 1, len, (FILE *)af.fp) != len) {
            cr_atomic_abort(&af);
            cr_fail(CR_ERR_FORMAT, "%s: write error", path);
        } else {
            rc = cr_atomic_commit(&af);
        }
    }
    free(buf);
    return cr_io_status(rc);
}
