/*
 * ONNX shape arithmetic.
 *
 * x.view(x.size(0), -1) is exported as Shape(x) -> Gather(indices 0) ->
 * Unsqueeze -> Concat(with [-1]) -> Reshape(x, .). These small int64 values
 * are tracked exactly: each entry is a known integer or OX_BATCH, the batch
 * size N taken from entry 0 of the chain's shape; Reshape accepts such a
 * value only when it is provably [N, D] or [N, -1] (op_flatten). Only Shape
 * (of the chain's current value), Gather (axis 0), Unsqueeze/Squeeze (a
 * scalar to [1] and back), Concat (axis 0) and Cast to int32/int64 are
 * evaluated, on such values and int constants of at most 8 entries. */

#include <stdint.h>
#include <string.h>

#include "onnx_internal.h"

const ox_shapeval *ox_find_shapeval(const ox_chain *ch, const char *name) {
    for (size_t i = ch->n_svals; i-- > 0;)
        if (!strcmp(ch->svals[i].name, name)) return &ch->svals[i];
    return NULL;
}

/* A shape value or an int constant of rank <= 1 and at most 8 entries -> *v. */
int ox_shapeval_input(const ox_chain *ch, const char *name, ox_shapeval *v) {
    const ox_shapeval *s = ox_find_shapeval(ch, name);
    if (s) {
        *v = *s;
        return 1;
    }
    const ox_tensor *t = find_const(ch, name);
    if (!t || (t->dtype != OX_INT64 && t->dtype != OX_INT32) || t->ndim > 1 ||
        t->count > OX_MAX_DIMS)
        return 0;
    memset(v, 0, sizeof *v);
    v->rank = t->ndim;
    v->n = (int)t->count;
    for (size_t k = 0; k < t->count; k++) {
        v->v[k] = ((const int64_t *)t->data)[k];
        if (v->v[k] == OX_BATCH) return 0; /* not a size anyway */
    }
    return 1;
}

/* The int list of attribute `name`, or of input `in` (opset >= 13 moved Unsqueeze's
   and Squeeze's axes there); *n = -1 when neither is given. */
static int axes_of(const ox_chain *ch, const ox_node *n, size_t in, int64_t *ax, int *cnt) {
    const ox_attr *a = find_attr(n, "axes");
    ox_shapeval v;
    *cnt = -1;
    if (a) {
        if (a->n_ints > OX_MAX_DIMS) return 0;
        *cnt = (int)a->n_ints;
        for (size_t k = 0; k < a->n_ints; k++) ax[k] = a->ints[k];
    } else if (n->n_in > in && n->in[in][0]) {
        if (!ox_shapeval_input(ch, n->in[in], &v) || v.rank != 1) return 0;
        for (int k = 0; k < v.n; k++)
            if (v.v[k] == OX_BATCH) return 0;
        *cnt = v.n;
        memcpy(ax, v.v, (size_t)v.n * sizeof *ax);
    }
    return 1;
}

int ox_op_shapeval(ox_chain *ch, const ox_node *n, size_t i) {
    ox_ctx *c = ch->c;
    ox_shapeval r, a;
    memset(&r, 0, sizeof r);
    const char *why = NULL;
    if (n->n_out != 1 || !n->out[0][0] || n->n_in < 1)
        return cr_fail(CR_ERR_FORMAT, "%s: %s needs an input and one output", c->file,
                            where(n, i).s);
    if (find_const(ch, n->out[0]) || ox_find_shapeval(ch, n->out[0]) || !strcmp(n->out[0], ch->cur))
        return cr_fail(CR_ERR_FORMAT, "%s: %s: output '%s' redefines an existing value", c->file,
                            where(n, i).s, pn(n->out[0]).s);
    if (is_op(n, "Shape")) {
        if (n->n_in != 1 || strcmp(n->in[0], ch->cur))
            why = "only the shape of the chain's current value is supported";
        else if (ch->rank < 1)
            why = "the chain's shape is not known here (give the graph input a shape)";
        else {
            int64_t rank = ch->rank, s = attr_i(n, "start", 0), e = attr_i(n, "end", rank);
            if (s < 0) s += rank;
            if (e < 0) e += rank;
            s = s < 0 ? 0 : s > rank ? rank : s;
            e = e < 0 ? 0 : e > rank ? rank : e;
            r.rank = 1;
            for (int64_t d = s; d < e; d++) r.v[r.n++] = d == 0 ? OX_BATCH : ch->shape[d];
        }
    } else if (!ox_shapeval_input(ch, n->in[0], &a)) {
        why = "its first input is neither a value computed from the chain's shape nor a small "
              "int constant";
    } else if (is_op(n, "Gather")) {
        ox_shapeval idx;
        int64_t axis = attr_i(n, "axis", 0);
        if (n->n_in != 2 || !ox_shapeval_input(ch, n->in[1], &idx))
            why = "the indices must be an int constant";
        else if (a.rank != 1 || (axis != 0 && axis != -1))
            why = "only a gather from a 1-D shape along axis 0 is supported";
        else {
            r.rank = idx.rank;
            for (int k = 0; k < idx.n && !why; k++) {
                int64_t q = idx.v[k];
                if (q == OX_BATCH || q < -(int64_t)a.n || q >= a.n) why = "index out of range";
                else r.v[r.n++] = a.v[q < 0 ? q + a.n : q];
            }
        }
    } else if (is_op(n, "Unsqueeze") || is_op(n, "Squeeze")) {
        int64_t ax[OX_MAX_DIMS];
        int cnt, unsq = n->op[0] == 'U';
        if (!axes_of(ch, n, 1, ax, &cnt)) why = "its axes must be an int constant";
        else if (unsq ? a.rank != 0 || cnt != 1 || (ax[0] != 0 && ax[0] != -1)
                      : a.rank != 1 || a.n != 1 || cnt > 1 ||
                            (cnt == 1 && ax[0] != 0 && ax[0] != -1))
            why = unsq ? "only a scalar to [1] is supported" : "only [1] to a scalar is supported";
        else r = a, r.rank = unsq;
    } else if (is_op(n, "Concat")) {
        int64_t axis = attr_i(n, "axis", 0);
        if (axis != 0 && axis != -1) why = "only axis 0 is supported";
        r.rank = 1;
        for (size_t q = 0; q < n->n_in && !why; q++) {
            if (!ox_shapeval_input(ch, n->in[q], &a) || a.rank != 1)
                why = "every input must be a 1-D value computed from the chain's shape or an int "
                      "constant";
            else if (r.n + a.n > OX_MAX_DIMS) why = "more than 8 entries";
            else memcpy(r.v + r.n, a.v, (size_t)a.n * sizeof *a.v), r.n += a.n;
        }
    } else { /* Cast */
        int64_t to = attr_i(n, "to", 0);
        if (to != OX_INT64 && to != OX_INT32) why = "only a cast to int64 or int32 is supported";
        for (int k = 0; k < a.n && !why; k++)
            if (to == OX_INT32 && a.v[k] != OX_BATCH && (a.v[k] < INT32_MIN || a.v[k] > INT32_MAX))
                why = "the value does not fit int32";
        r = a;
    }
    if (why)
        return cr_fail(CR_ERR_FORMAT, "%s: %s: %s (shape arithmetic is read only as in "
                                    "x.view(x.size(0), -1))", c->file, where(n, i).s, why);
    ox_shapeval *p = realloc(ch->svals, (ch->n_svals + 1) * sizeof *p);
    if (!p) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
    ch->svals = p;
    r.name = n->out[0];
    p[ch->n_svals++] = r;
    return 0;
}

int ox_is_shape_op(const ox_node *n) {
    return is_op(n, "Shape") || is_op(n, "Gather") || is_op(n, "Unsqueeze") ||
           is_op(n, "Squeeze") || is_op(n, "Concat") || is_op(n, "Cast");
}
