/*
 * ONNX constants beside the initializers: a Constant node's value (a tensor,
 * value_float(s), value_int(s)) and an Identity of a constant, the same values
 * under a new name (torch.onnx.export aliases a fresh BatchNorm1d's running
 * statistics to its weight and bias that way); and the constant operand of a
 * binary op on the chain. onnx_import.c's walk calls ox_op_constant and
 * ox_op_const_alias on the nodes; onnx_act.c takes the Constant nodes inside an
 * exporter's pattern with ox_op_constant; the MatMul's bias (onnx_import.c) and
 * the input normalisation (onnx_normalise.c) find their constant with
 * ox_binary_operands.
 */
#include <stdlib.h>
#include <string.h>

#include "onnx_internal.h"

/* Constant: value (a tensor), value_float(s), value_int(s). */
int ox_op_constant(ox_chain *ch, const ox_node *n, size_t i) {
    ox_ctx *c = ch->c;
    if (n->n_out < 1 || !n->out[0][0])
        return cr_fail(CR_ERR_FORMAT, "%s: %s has no output", c->file, where(n, i).s);
    if (find_const(ch, n->out[0]) || ox_find_shapeval(ch, n->out[0]) ||
        (ch->cur && !strcmp(n->out[0], ch->cur)))
        return cr_fail(CR_ERR_FORMAT, "%s: %s: output '%s' redefines an existing value", c->file,
                            where(n, i).s, pn(n->out[0]).s);
    const ox_attr *a = n->n_attr == 1 ? &n->attr[0] : NULL;
    if (!a)
        return cr_fail(CR_ERR_FORMAT, "%s: %s needs exactly one attribute", c->file, where(n, i).s);
    if (!strcmp(a->name, "value") && a->t) {
        free(a->t->name);
        if (!(a->t->name = malloc(strlen(n->out[0]) + 1)))
            return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
        strcpy(a->t->name, n->out[0]);
        return add_const(ch, a->t);
    }
    int is_f = !strcmp(a->name, "value_float") || !strcmp(a->name, "value_floats");
    int is_i = !strcmp(a->name, "value_int") || !strcmp(a->name, "value_ints");
    int scalar = !strcmp(a->name, "value_float") || !strcmp(a->name, "value_int");
    if (!is_f && !is_i)
        return cr_fail(CR_ERR_FORMAT, "%s: %s: attribute '%s' is not supported (value, "
                                    "value_float(s), value_int(s) are)", c->file, where(n, i).s,
                            pn(a->name).s);
    size_t cnt = scalar ? 1 : is_f ? a->n_floats : a->n_ints;
    if (scalar && !(is_f ? a->has_f : a->has_i))
        return cr_fail(CR_ERR_FORMAT, "%s: %s: attribute '%s' has no value", c->file, where(n, i).s,
                            a->name);
    ox_tensor **o = realloc(ch->owned, (ch->n_owned + 1) * sizeof *o);
    if (!o) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
    ch->owned = o;
    ox_tensor *t = calloc(1, sizeof *t);
    if (!t) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
    o[ch->n_owned++] = t;
    t->dtype = t->file_dtype = is_f ? OX_FLOAT : OX_INT64;
    t->ndim = scalar ? 0 : 1;
    t->dims[0] = (int64_t)cnt;
    t->count = cnt;
    t->name = malloc(strlen(n->out[0]) + 1);
    t->data = malloc(cnt ? cnt * 8 : 1);
    if (!t->name || !t->data) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
    strcpy(t->name, n->out[0]);
    for (size_t k = 0; k < cnt; k++) {
        if (is_f) ((float *)t->data)[k] = scalar ? a->f : a->floats[k];
        else ((int64_t *)t->data)[k] = scalar ? a->i : a->ints[k];
    }
    return add_const(ch, t);
}

/* Identity of a constant: the same values under the output's name (an owned copy). */
int ox_op_const_alias(ox_chain *ch, const ox_node *n, const ox_tensor *src) {
    ox_ctx *c = ch->c;
    ox_tensor **o = realloc(ch->owned, (ch->n_owned + 1) * sizeof *o);
    if (!o) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
    ch->owned = o;
    ox_tensor *t = calloc(1, sizeof *t);
    if (!t) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
    o[ch->n_owned++] = t;
    *t = *src;
    size_t bytes = src->count * (src->dtype == OX_FLOAT ? 4 : 8);
    t->name = malloc(strlen(n->out[0]) + 1);
    t->data = malloc(bytes ? bytes : 1);
    if (!t->name || !t->data) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
    strcpy(t->name, n->out[0]);
    if (bytes) memcpy(t->data, src->data, bytes);
    return add_const(ch, t);
}

/* The constant operand of a binary op whose other operand is the chain. Sets
   *chain_first to 1 when the chain is the first operand. */
int ox_binary_operands(ox_chain *ch, const ox_node *n, size_t i, const ox_tensor **k,
                       int *chain_first) {
    ox_ctx *c = ch->c;
    if (n->n_in != 2)
        return cr_fail(CR_ERR_FORMAT, "%s: %s needs 2 inputs", c->file, where(n, i).s);
    int a = !strcmp(n->in[0], ch->cur), b = !strcmp(n->in[1], ch->cur);
    *k = find_const(ch, a ? n->in[1] : n->in[0]);
    if (a == b || !*k)
        return cr_fail(CR_ERR_FORMAT, "%s: %s: one input must be the chain's value '%s' and the "
                                    "other a constant", c->file, where(n, i).s, pn(ch->cur).s);
    *chain_first = a;
    return 0;
}
