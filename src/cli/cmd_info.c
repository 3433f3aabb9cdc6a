/* chainrule info: what chainrule read from a model file (any kind it reads). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "cli.h"
#include "cli_train.h"

static const char *const help =
    "usage: chainrule info MODEL [--json]\n"
    "       chainrule info --model MODEL [--json]\n"
    "\n"
    "Prints what chainrule loaded from a model file, as every command sees it: the\n"
    "file's kind and dtype, the input (values per example) and its standardisation\n"
    "link, each layer (widths, weight and bias shapes, a BatchNorm link after it, its\n"
    "activation), the output and the head (the loss and what a prediction is), and the\n"
    "parameter count. Nothing is written.\n"
    "\n"
    "options:\n";

/* The file's kind, recognised by its content as the loaders do. */
static const char *kind_name(cr_model_file_kind k) {
    switch (k) {
    case CR_MODEL_FILE_SAFETENSORS: return "safetensors";
    case CR_MODEL_FILE_ONNX: return "ONNX";
    case CR_MODEL_FILE_JSON: return "JSON";
    default: return "unknown";
    }
}

/* A link's formula in words: "z = (x − μ) ⊘ σ", ... (v: the vector it acts on). */
static const char *link_formula(cr_affine_form form, int input) {
    switch (form) {
    case CR_AFFINE_SUB_DIV: return input ? "z = (x − μ) ⊘ σ" : "z = (r − p) ⊘ q";
    case CR_AFFINE_SUB_MUL: return input ? "z = (x − p) ∘ q" : "z = (r − p) ∘ q";
    case CR_AFFINE_MUL_ADD: return input ? "z = x ∘ p + q" : "z = r ∘ p + q";
    case CR_AFFINE_BATCHNORM: return "z = (r − mean) ⊘ √(var + ε) ∘ γ + β";
    default: return "z = x";
    }
}

/* Values a link stores (not parameters: never trained). */
static size_t link_values(const cr_net *net, int link) {
    cr_affine_form f = cr_net_affine_form(net, link);
    if (f == CR_AFFINE_NONE) return 0;
    return cr_net_link_width(net, link) * (f == CR_AFFINE_BATCHNORM ? 4 : 2);
}

static double link_eps(const cr_net *net, int link) {
    double eps = 0;
    cr_net_get_affine(net, link, NULL, NULL, NULL, NULL, NULL, &eps);
    return eps;
}

static const char *graph_output_name(int g) {
    return g == 1 ? "Softmax(o)" : g == 2 ? "LogSoftmax(o)" : "o";
}

static void print_text(const char *path, cr_model_file_kind kind, const cr_model *m) {
    const cr_net *net = m->net;
    const int L = cr_net_n_layers(net);
    const size_t d = cr_net_width(net, 0), k = cr_net_width(net, L);
    size_t links = 0;
    printf("%s: %s, %s\n", path, kind_name(kind), cr_dtype_name(cr_net_dtype(net)));
    printf("  input       x: %zu values per example (inputs [N, %zu], or any [N, ...] of %zu values)\n", d, d, d);
    const char *shape = cr_safetensors_meta(&m->extra, "onnx.input_shape"); /* an ONNX graph's [N, C, H, W] */
    if (shape) printf("              the ONNX graph's input is %s\n", shape);
    if (cr_net_affine_form(net, 0) != CR_AFFINE_NONE) {
        printf("  link 0      input standardisation %s (%s), %zu values; every derivative is\n"
               "              with respect to the raw x\n",
               link_formula(cr_net_affine_form(net, 0), 1), cr_affine_form_name(cr_net_affine_form(net, 0)), d);
        links += link_values(net, 0);
    }
    for (int l = 0; l < L; l++) {
        char name[24];
        snprintf(name, sizeof name, "layer %d", l + 1);
        printf("  %-11s linear %zu -> %zu (W%d [%zu, %zu], b%d [%zu])", name, cr_net_width(net, l),
               cr_net_width(net, l + 1), l + 1, cr_net_width(net, l), cr_net_width(net, l + 1), l + 1,
               cr_net_width(net, l + 1));
        cr_affine_form f = cr_net_affine_form(net, l + 1);
        if (f == CR_AFFINE_BATCHNORM) printf(", BatchNorm (eps %g)", link_eps(net, l + 1));
        else if (f != CR_AFFINE_NONE) printf(", then %s (%s)", link_formula(f, 0), cr_affine_form_name(f));
        links += link_values(net, l + 1);
        if (l + 1 < L) printf(", %s", cr_activation_name(cr_net_activation(net, l)));
        printf("\n");
    }
    char out[160];
    cli_output_text(net, out, sizeof out);
    printf("  output      %zu values: %s\n", k, out);
    if (cr_net_head(net) == CR_HEAD_SQUARED_ERROR)
        printf("  head        squared-error: a regressor of %zu output%s\n", k, k == 1 ? "" : "s");
    else
        printf("  head        softmax-cross-entropy: a classifier of %zu classes\n", k);
    if (m->graph_output) printf("  graph       the ONNX graph outputs %s\n", graph_output_name(m->graph_output));
    printf("  parameters  %zu (weights and biases)", cr_net_n_params(net));
    if (links) printf("; the links hold %zu more values, fixed", links);
    printf("\n");
}

static void print_json(const char *path, cr_model_file_kind kind, const cr_model *m) {
    const cr_net *net = m->net;
    const int L = cr_net_n_layers(net);
    printf("{\"file\": ");
    cli_json_string(stdout, path);
    printf(", \"format\": \"%s\", \"dtype\": \"%s\", \"input\": %zu, ", kind_name(kind),
           cr_dtype_name(cr_net_dtype(net)), cr_net_width(net, 0));
    const char *shape = cr_safetensors_meta(&m->extra, "onnx.input_shape");
    if (shape) printf("\"onnx_input_shape\": \"%s\", ", shape);
    printf("\"input_link\": ");
    cr_affine_form f0 = cr_net_affine_form(net, 0);
    if (f0 == CR_AFFINE_NONE) printf("null");
    else printf("\"%s\"", cr_affine_form_name(f0));
    printf(", \"layers\": [");
    size_t links = link_values(net, 0);
    for (int l = 0; l < L; l++) {
        cr_affine_form f = cr_net_affine_form(net, l + 1);
        printf("%s{\"in\": %zu, \"out\": %zu, \"link\": ", l ? ", " : "", cr_net_width(net, l),
               cr_net_width(net, l + 1));
        if (f == CR_AFFINE_NONE) printf("null");
        else printf("\"%s\"", cr_affine_form_name(f));
        if (f == CR_AFFINE_BATCHNORM) printf(", \"eps\": %.17g", link_eps(net, l + 1));
        printf(", \"activation\": ");
        if (l + 1 < L) printf("\"%s\"}", cr_activation_name(cr_net_activation(net, l)));
        else printf("null}");
        links += link_values(net, l + 1);
    }
    printf("], \"output_activation\": ");
    if (cr_net_output_activation(net, NULL))
        printf("\"%s\"", cr_activation_name(cr_net_activation(net, cr_net_n_layers(net) - 1)));
    else printf("null");
    printf(", \"outputs\": %zu, \"head\": \"%s\", \"graph_output\": \"%s\", \"parameters\": %zu, "
           "\"link_values\": %zu}\n",
           cr_net_width(net, L), cr_head_name(cr_net_head(net)), graph_output_name(m->graph_output),
           cr_net_n_params(net), links);
}

int cmd_info(int argc, char **argv) {
    const char *model = NULL;
    int json = 0;
    /* the model may be given bare: chainrule info MODEL (an argument that is no
       option and no option's value gets "--model" before it) */
    if (argc > 16) return cli_error("info: too many arguments (see chainrule info --help)");
    char *args[2 * 16 + 1];
    int n = 0;
    int bare = 0;
    for (int i = 0; i < argc; i++) {
        if (i >= 1 && argv[i][0] != '-' && strcmp(argv[i - 1], "--model") != 0) {
            if (bare++) return cli_error("info: '%s': one model at a time (see chainrule info --help)", argv[i]);
            args[n++] = "--model";
        }
        args[n++] = argv[i];
    }
    args[n] = NULL;
    const cli_opt opts[] = {
        CLI_MODEL(&model, 1, "the model (also the first argument, without --model)"),
        CLI_FLAG("--json", &json, "print it as one JSON object"),
        CLI_END,
    };
    int rc;
    if (!cli_parse(n, args, opts, help, &rc)) return rc;
    unsigned char *buf;
    size_t len;
    if (cr_read_file(model, SIZE_MAX, &buf, &len)) return cli_io_error();
    cr_model_file_kind kind = cr_model_file_detect(buf, len);
    cr_model m;
    memset(&m, 0, sizeof m);
    rc = cr_model_parse_file(model, buf, len, &m) ? cli_io_error() : CLI_OK;
    free(buf);
    if (rc) return rc;
    if (json) print_json(model, kind, &m);
    else print_text(model, kind, &m);
    cr_model_free(&m);
    return CLI_OK;
}
