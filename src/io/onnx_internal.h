/*
 * ONNX models in and out (https://onnx.ai, onnx/onnx.proto): the private
 * header shared by the ONNX files of the io layer. Not installed.
 *
 *   onnx_decode.c    protobuf (protobuf.c) -> ox_model: graph, nodes, attributes,
 *                    initializers, value infos; tensors to float/double/int64
 *   onnx_external.c  a tensor's external data: a plain file name in the model's
 *                    folder, no symbolic link, no FIFO, bounds checked
 *   onnx_shape.c     the int64 shape arithmetic of x.view(x.size(0), -1)
 *   onnx_import.c    the graph walked as one chain -> cr_model; cr_onnx_parse*
 *   onnx_constant.c  Constant nodes, an Identity of a constant, a binary op's constant
 *   onnx_normalise.c Sub/Add/Mul/Div before the first layer -> link 0
 *   onnx_act.c       the activations' ops and exporter patterns (GELU, SiLU)
 *   onnx_batchnorm.c BatchNormalization after a linear layer -> its link
 *   onnx_export.c    cr_model -> ModelProto; cr_onnx_encode, cr_onnx_write
 *
 * None of the .c files calls into another except through the declarations
 * below (import -> decode, shape, constant, normalise, act, batchnorm;
 * normalise -> constant; act -> constant, shape; constant -> shape;
 * decode -> external; and export -> act's cr_onnx_supported), and the graph
 * helpers the files share are static inline here, so the files form no circle.
 */
#ifndef CR_ONNX_INTERNAL_H
#define CR_ONNX_INTERNAL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "io_internal.h"

#define OX_MAX_NODES 4096
#define OX_MAX_TENSORS 4096
#define OX_MAX_VALUES 256 /* graph inputs, outputs */
#define OX_MAX_IO 16      /* inputs or outputs of one node */
#define OX_MAX_ATTRS 64
#define OX_MAX_NAME 4096
#define OX_MAX_DIMS 8
#define OX_MIN_OPSET 7
#define OX_MAX_OPSET 22

enum {
    OX_FLOAT = 1, OX_INT32 = 6, OX_INT64 = 7, OX_FLOAT16 = 10, OX_DOUBLE = 11, OX_BFLOAT16 = 16
};

typedef struct {
    char *name;
    int dtype; /* OX_FLOAT (float data), OX_DOUBLE (double), OX_INT32/OX_INT64 (int64_t) */
    int file_dtype; /* as in the file: also OX_FLOAT16, OX_BFLOAT16 (stored as float) */
    int ndim;
    int64_t dims[OX_MAX_DIMS];
    size_t count;
    void *data; /* owned */
} ox_tensor;

typedef struct {
    char *name;
    int type;
    int has_f, has_i;
    float f;
    int64_t i;
    char *s; /* a string value (owned), or NULL */
    size_t n_ints, n_floats;
    int64_t *ints;
    float *floats;
    ox_tensor *t; /* owned, or NULL */
} ox_attr;

typedef struct {
    char *name, *op, *domain;
    size_t n_in, n_out, n_attr;
    char *in[OX_MAX_IO], *out[OX_MAX_IO];
    ox_attr *attr; /* n_attr */
} ox_node;

typedef struct {
    char *name;
    int elem_type; /* 0 when not given */
    int ndim;      /* -1 when the shape is not given */
    int64_t dims[OX_MAX_DIMS]; /* -1 for a symbolic or unknown dimension */
} ox_value;

typedef struct {
    int64_t opset;
    int head; /* metadata_props "chainrule.head" (a cr_head), or -1 */
    size_t n_nodes, n_inits, n_inputs, n_outputs;
    ox_node *nodes;
    ox_tensor *inits;
    ox_value *inputs, *outputs;
} ox_model;

/* A parse context: the file name for messages and where the error goes. */
typedef struct {
    const char *file;
    const char *dir; /* the model file's folder ("" for the current one), NULL for a buffer */
} ox_ctx;

/* An untrusted name fit for a one-line message: control bytes become '?',
   long names are cut. */
typedef struct {
    char s[84];
} ox_pname;
static inline ox_pname pn(const char *name) {
    ox_pname p;
    size_t n = 0;
    if (!name) name = "";
    for (; name[n] && n < 80; n++) {
        unsigned char c = (unsigned char)name[n];
        p.s[n] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (name[n]) memcpy(p.s + 77, "...", 3), n = 80;
    p.s[n] = '\0';
    return p;
}

static inline int bad(ox_ctx *c, const char *where, const char *why) {
    return cr_fail(CR_ERR_FORMAT, "%s: not a valid ONNX file: %s: %s", c->file, where, why);
}

/* ------------------------------------------------------------ decoding (onnx_decode.c) */

/* The ModelProto in buf -> m (freed by ox_model_free, also after a failure). */
int ox_decode_model(ox_ctx *c, const unsigned char *buf, size_t len, ox_model *m);
void ox_model_free(ox_model *m);
void ox_tensor_free(ox_tensor *t);

/* ------------------------------------------------------------ external data (onnx_external.c) */

/* TensorProto.external_data: location, offset, length (checksum and other keys
   are ignored). */
typedef struct {
    char *location;
    int has_offset, has_length;
    uint64_t offset, length;
} ox_external;

/* The external data of tensor (need bytes) -> *out (malloc'd); see onnx_external.c. */
int ox_read_external(ox_ctx *c, const char *tensor, const ox_external *x, size_t need,
                     unsigned char **out);

/* ------------------------------------------------------------ the chain */

enum { ST_INPUT, ST_LINEAR, ST_ACT, ST_SOFTMAX };

typedef struct {
    const ox_tensor *w; /* 2-D */
    int w_out_in;       /* 1: w is [out, in] (Gemm transB = 1), 0: [in, out] */
    double alpha, beta;
    const ox_tensor *b; /* or NULL */
    size_t din, dout;
    int act; /* cr_activation after this layer, -1 for none */
    size_t node;
    int from_matmul;
    /* BatchNormalization after this layer (before its activation): scale, B, mean,
       var (NULL: none), its epsilon and node (onnx_import.c) */
    const ox_tensor *bn[4];
    double bn_eps;
    size_t bn_node;
} ox_layer;

/* An int64 scalar or vector computed from the chain's shape (ox_op_shapeval). */
typedef struct {
    const char *name; /* borrowed from its node */
    int rank;         /* 0 (scalar) or 1 */
    int n;            /* entries (1 for a scalar) */
    int64_t v[OX_MAX_DIMS];
} ox_shapeval;

typedef struct {
    ox_ctx *c;
    const ox_model *m;
    const ox_tensor **consts; /* initializers and Constant outputs (borrowed) */
    size_t n_consts;
    ox_tensor **owned; /* Constant values built from float/int attributes (owned) */
    size_t n_owned;
    ox_shapeval *svals; /* values computed from the chain's shape (owned array) */
    size_t n_svals;
    const char *cur; /* the chain's current value */
    int rank;
    int64_t shape[OX_MAX_DIMS]; /* shape[0] the batch (-1 symbolic) */
    size_t feat;                /* product of shape[1..] */
    double *mean, *std;         /* the standardisation folded so far (feat entries) */
    int n_norm;                 /* Sub/Add/Mul/Div nodes before the first layer */
    char norm_op[2];            /* the first two: 'S', 'A', 'M', 'D' */
    double *norm_k[2];          /* and their constants per feature (feat entries) */
    int L, stage, dtype;
    int file_dtype; /* the first weight's type in the file (OX_FLOAT16 for a half model) */
    ox_layer layer[CR_MAX_LAYERS];
} ox_chain;

static inline const ox_tensor *find_const(const ox_chain *ch, const char *name) {
    for (size_t i = ch->n_consts; i-- > 0;)
        if (!strcmp(ch->consts[i]->name, name)) return ch->consts[i];
    return NULL;
}

static inline const ox_attr *find_attr(const ox_node *n, const char *name) {
    for (size_t i = 0; i < n->n_attr; i++)
        if (!strcmp(n->attr[i].name, name)) return &n->attr[i];
    return NULL;
}
static inline int64_t attr_i(const ox_node *n, const char *name, int64_t dflt) {
    const ox_attr *a = find_attr(n, name);
    return a && a->has_i ? a->i : dflt;
}
static inline double attr_f(const ox_node *n, const char *name, double dflt) {
    const ox_attr *a = find_attr(n, name);
    return a && a->has_f ? a->f : dflt;
}

static inline double tval(const ox_tensor *t, size_t i) {
    switch (t->dtype) {
    case OX_FLOAT: return ((const float *)t->data)[i];
    case OX_DOUBLE: return ((const double *)t->data)[i];
    default: return (double)((const int64_t *)t->data)[i];
    }
}

/* "node 3 'Gemm_3' (Gemm)" */
typedef struct {
    char s[200];
} ox_where;
static inline ox_where where(const ox_node *n, size_t i) {
    ox_where w;
    snprintf(w.s, sizeof w.s, "node %zu '%s' (%s)", i, pn(n->name).s, pn(n->op).s);
    return w;
}

static inline int add_const(ox_chain *ch, const ox_tensor *t) {
    const ox_tensor **p = realloc(ch->consts, (ch->n_consts + 1) * sizeof *p);
    if (!p) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", ch->c->file);
    ch->consts = p;
    p[ch->n_consts++] = t;
    return 0;
}

static inline int is_op(const ox_node *n, const char *op) { return !strcmp(n->op, op); }

/* ------------------------------------------------------------ constants (onnx_constant.c) */

/* Constant: value (a tensor), value_float(s), value_int(s). */
int ox_op_constant(ox_chain *ch, const ox_node *n, size_t i);
/* Identity of a constant: the same values under the output's name (an owned copy). */
int ox_op_const_alias(ox_chain *ch, const ox_node *n, const ox_tensor *src);
/* The constant operand *k of a binary op whose other operand is the chain; *chain_first
   1 when the chain is the first operand. */
int ox_binary_operands(ox_chain *ch, const ox_node *n, size_t i, const ox_tensor **k,
                       int *chain_first);

/* ------------------------------------------------------------ input normalisation (onnx_normalise.c) */

/* Sub/Add/Mul/Div by a constant before the first layer: kept and folded. */
int ox_op_normalise(ox_chain *ch, const ox_node *n, size_t i);
/* Link 0 of net (d features) from the kept nodes, or out's folded arrays. */
cr_status ox_input_link(const ox_chain *ch, cr_net *net, cr_model *out, size_t d);

/* ------------------------------------------------------------ activations (onnx_act.c) */

/* Node i, right after a linear layer, as that layer's activation act. */
int ox_op_activation(ox_chain *ch, const ox_node *n, size_t i, cr_activation act);
/* The row whose ONNX op is n's op, or -1. */
int ox_act_of_op(const ox_node *n);
/* The row that exporters write as pattern, or -1. */
int ox_act_of_pattern(cr_act_onnx_pattern pattern);
/* An activation's own op (node i): its row's attributes checked. */
int ox_op_act_node(ox_chain *ch, const ox_node *n, size_t i, int act);
/* Takes the Constant nodes between i and j (exclusive), as the walk would. */
int ox_take_constants(ox_chain *ch, size_t i, size_t j);
/* PyTorch's SiLU at the Sigmoid node i: the Mul's index, or 0. */
size_t ox_silu_mul(const ox_chain *ch, size_t i);
/* PyTorch's exact GELU from node i; *last its last node. */
int ox_gelu_erf(ox_chain *ch, size_t i, size_t *last);
/* Whether a Tanh follows within the few nodes after i (tanh-approximate GELU). */
int ox_tanh_gelu_ahead(const ox_chain *ch, size_t i);
/* Whether node i (a Mul after a linear layer) feeds a Softplus: PyTorch's Softplus with
   beta != 1, Mul(x, β), Softplus, Div(·, β). */
int ox_softplus_beta_ahead(const ox_chain *ch, size_t i);
/* A leaky ReLU written Max(x, Mul(x, slope)) from the Mul node i: 0 (read, *last the Max),
   1 (not that pattern), -1 (refused: another slope). */
int ox_leaky_max(ox_chain *ch, size_t i, size_t *last);

/* ------------------------------------------------------------ BatchNormalization (onnx_batchnorm.c) */

/* The node after linear layer ch->L − 1, recorded on the layer (refusals name it). */
int ox_op_batchnorm(ox_chain *ch, const ox_node *n, size_t i);
/* The recorded BatchNormalizations as net's links after their layers; -1 with the
   error set (the caller frees net). */
int ox_batchnorm_links(ox_chain *ch, cr_net *net);

/* ------------------------------------------------------------ shape arithmetic (onnx_shape.c) */

/* OX_BATCH: an entry of a shape value that is the batch size N (see onnx_shape.c). */
#define OX_BATCH INT64_MIN

const ox_shapeval *ox_find_shapeval(const ox_chain *ch, const char *name);
/* A shape value or an int constant of rank <= 1 and at most 8 entries -> *v. */
int ox_shapeval_input(const ox_chain *ch, const char *name, ox_shapeval *v);
/* Shape, Gather, Unsqueeze, Squeeze, Concat, Cast on shape values. */
int ox_is_shape_op(const ox_node *n);
int ox_op_shapeval(ox_chain *ch, const ox_node *n, size_t i);

#endif
