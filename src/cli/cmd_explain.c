/*
 * chainrule explain: the answer to the seed question, for a concrete network.
 *
 * Prints the forward equations with shapes, the chain rule for dJ/dx as a
 * product of named Jacobians, each Jacobian's formula and whether it is
 * diagonal (and so where "∘" comes from), the order of the VJPs, the same in
 * the column (gradient) convention, and numeric proof: the explicit-Jacobian
 * product, the VJP chain, central finite differences and the closed form
 * agree. Everything in float64. This file parses the options, loads the
 * network and the example, and calls: the numbers come from the library
 * (explain_example.c), the text from the renderers (explain_render*.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "cli.h"
#include "cli_input.h"
#include "explain.h"

static const char *const explain_help =
    "usage: chainrule explain [--layers D,H,K] [--activation NAME] [--seed N] [options]\n"
    "       chainrule explain --model MODEL [--inputs X.npy --labels y.npy --index I]\n"
    "\n"
    "Derives dJ/dx for a network x -> xW1+b1 -> act -> ... -> softmax -> cross-entropy,\n"
    "shows which links of the chain rule are matrix products and which are element-wise\n"
    "(exactly the diagonal Jacobians), and proves numerically that the product of the\n"
    "explicit Jacobians, the VJP chain, central finite differences and the closed form\n"
    "agree. Exit status 1 if a check fails.\n"
    "\n"
    "A regressor (the squared-error head, J = 1/2 |o - t|^2) is explained the same way, its\n"
    "output activation as the chain's diagonal link o = a(theta): a model of that head, with\n"
    "--targets T.npy for its example, or a random one with --head squared-error\n"
    "(e.g. the textbook sigmoid + squared error: --head squared-error --output-activation sigmoid).\n"
    "\n"
    "options:\n";

/* A random float64 net of the given widths; the biases, zero after init, get
   values so that b1, b2 show in the numbers. */
static int random_net(const char *layers, const char *activation, const char *head_s,
                      const char *out_act_s, uint64_t seed, cr_net **net) {
    size_t dims[CR_MAX_LAYERS + 1];
    int nl;
    cr_activation act[CR_MAX_LAYERS];
    if (!cli_parse_layers("--layers", layers, dims, &nl) ||
        !cli_parse_activations("--activation", activation, nl - 1, act))
        return CLI_USAGE;
    cr_head head = CR_HEAD_SOFTMAX_CE;
    cr_activation out_act = CR_ACT_SIGMOID;
    const int has_out = out_act_s && strcmp(out_act_s, "none") != 0;
    if (head_s && cr_head_parse(head_s, &head) != CR_OK)
        return cli_error("explain: --head: '%s' is not softmax-cross-entropy or squared-error", head_s);
    if (out_act_s && head != CR_HEAD_SQUARED_ERROR)
        return cli_error("explain: --output-activation is for --head squared-error (a classifier's "
                         "output is the logits)");
    if (has_out && cr_activation_parse(out_act_s, &out_act) != CR_OK)
        return cli_error("explain: --output-activation: '%s' is not %s or none", out_act_s,
                         cli_activation_names(", "));
    cr_status st = cr_net_create(net, CR_F64, nl, dims, act);
    if (st == CR_OK && head == CR_HEAD_SQUARED_ERROR) st = cr_net_set_output(*net, has_out, out_act, head);
    if (st != CR_OK) return cli_error("explain: cannot create a %s network: %s", layers, cr_status_string(st));
    cr_net_init(*net, CR_INIT_AUTO, seed);
    cr_rng rng;
    cr_rng_seed(&rng, seed ^ 0xb1a5);
    for (int l = 0; l < nl; l++)
        for (size_t j = 0; j < dims[l + 1]; j++)
            ((double *)cr_net_bias(*net, l))[j] = 0.2 * (2 * cr_rng_uniform(&rng) - 1);
    return CLI_OK;
}

/* The model as float64 and its input standardisation (mean, sd: NULL when it has none), explained as stored:
   the standardisation is the chain's first link. */
static int model_net(const cli_input *in, cr_net **net, double **mean, double **sd) {
    if (cr_net_convert(in->model.net, CR_F64, net) != CR_OK) return cli_error("explain: out of memory");
    const cr_array *am = &in->model.input_mean, *as = &in->model.input_std;
    const cr_affine_form form = cr_net_affine_form(*net, 0);
    if (form == CR_AFFINE_NONE) return CLI_OK;
    *mean = malloc(in->d * sizeof **mean), *sd = malloc(in->d * sizeof **sd);
    if (!*mean || !*sd) return cli_error("explain: out of memory");
    if (form == CR_AFFINE_SUB_DIV) { /* μ and σ of the chain's link 0, the op that runs */
        cr_net_get_affine(*net, 0, NULL, *mean, *sd, NULL, NULL, NULL);
        return CLI_OK;
    }
    /* another form (an ONNX Sub/Mul or Mul/Add): the text shows its folded μ, σ; the
       checks run the net's own link */
    if (!am->data || !as->data) return cli_error("explain: the input link %s has no μ, σ to show",
                                                 cr_affine_form_name(form));
    for (size_t j = 0; j < in->d; j++) {
        (*mean)[j] = cli_get(am->dtype == CR_ARRAY_F64 ? CR_F64 : CR_F32, am->data, j);
        (*sd)[j] = cli_get(as->dtype == CR_ARRAY_F64 ? CR_F64 : CR_F32, as->data, j);
    }
    return CLI_OK;
}

int cmd_explain(int argc, char **argv) {
    const char *layers = "4,5,3", *activation = "sigmoid", *seed_s = "1", *model_path = NULL;
    const char *format = "text", *maxp_s = "64", *head_s = NULL, *out_act_s = NULL, *targets = NULL;
    const char *eps_s = NULL;
    int certify = 0;
    cli_examples_opts eo = {0};
    int json = 0;
    char act_help[512];
    snprintf(act_help, sizeof act_help, "hidden activation (default sigmoid, as in the seed):\n%s",
             cli_activation_names(", "));
    cli_opt examples[CLI_EXAMPLES_TABLE_SIZE];
    cli_examples_table(&eo, examples);
    for (cli_opt *e = examples; e->name; e++) /* explain derives one example, not a range */
        if (!strcmp(e->name, "--index")) e->arg = "I", e->help = "the example explained (0-based; default 0)";
        else if (!strcmp(e->name, "--limit")) e->help = "refused: explain takes one example (--index I)";
    const cli_opt opts[] = {
        CLI_STR("--layers", &layers, "D,H,...,K",
                "network widths (default 4,5,3: the seed network, small, every\nwidth distinct so that every shape can "
                "be told apart)"),
        CLI_STR("--activation", &activation, "NAME", act_help),
        CLI_STR("--seed", &seed_s, "N", "seed of the random weights, input and label (default 1)"),
        CLI_STR("--head", &head_s, "HEAD",
                "softmax-cross-entropy (default) or squared-error (a regressor;\n"
                "with --model: the head of an ONNX graph, see convert --head)"),
        CLI_STR("--output-activation", &out_act_s, "NAME",
                "the random regressor's output o = NAME(theta), or none (o = theta)"),
        CLI_MODEL(&model_path, 0, "explain a saved model instead (computed in float64)"),
        CLI_HEADING("the example (random when absent)"),
        CLI_INCLUDE(examples),
        CLI_STR("--targets", &targets, "T.npy", "a regressor's targets [N, K] (float), with --inputs"),
        CLI_HEADING("output"),
        CLI_STR("--format", &format, "text|markdown", "markdown uses LaTeX math that renders on GitHub"),
        CLI_FLAG("--json", &json, "print the numbers (gradients, errors) as JSON instead"),
        CLI_STR("--max-print", &maxp_s, "N", "print a matrix in full only up to N entries (default 64)"),
        CLI_HEADING("a proof instead of the gradient"),
        CLI_FLAG("--certify", &certify,
                 "the proof that no input within --eps (L-inf) of x changes its label:\n"
                 "intervals, relaxation lines, the backward substitution"),
        CLI_STR("--eps", &eps_s, "E", "the radius for --certify"),
        CLI_END,
    };
    int rc;
    if (!cli_parse(argc, argv, opts, explain_help, &rc)) return rc;
    explain_format f = {0, 64};
    if (!strcmp(format, "markdown") || !strcmp(format, "md")) f.md = 1;
    else if (strcmp(format, "text") != 0)
        return cli_error("explain: --format must be text or markdown, not '%s'", format);
    const int have_data = eo.inputs || eo.data;
    if (have_data && !model_path) return cli_error("explain: --inputs and --data need --model");
    if ((eo.index || eo.limit) && !have_data)
        return cli_error("explain: --index selects an example of --inputs or --data");
    if (eo.limit) return cli_error("explain: explains one example: choose it with --index I");
    uint64_t seed;
    long maxp;
    if (!cli_parse_u64("--seed", seed_s, &seed) || !cli_parse_long("--max-print", maxp_s, 0, 1000000, &maxp))
        return CLI_USAGE;
    f.max_print = (size_t)maxp;
    double eps = 0;
    if (certify != (eps_s != NULL)) return cli_error("explain: --certify and --eps go together");
    if (certify && json) return cli_error("explain: --certify prints text or markdown, not --json");
    if (eps_s && !cli_parse_double("--eps", eps_s, 0, 1e6, &eps)) return CLI_USAGE;
    if (eo.index && strchr(eo.index, ':'))
        return cli_error("explain: --index takes one example, not a range ('%s')", eo.index);
    if (have_data && !eo.index) eo.index = "0";

    /* the network and the example */
    cli_input in;
    cli_examples data = {0};
    explain_example ex;
    memset(&in, 0, sizeof in);
    memset(&ex, 0, sizeof ex);
    cr_net *net = NULL; /* float64, owned */
    double *mean = NULL, *sd = NULL, *x = NULL, *y = NULL;
    if (model_path && out_act_s) {
        rc = cli_error("explain: --output-activation is for the random network; %s has its own", model_path);
        goto done;
    }
    rc = model_path ? cli_input_model_head(model_path, NULL, head_s, &in)
                    : random_net(layers, activation, head_s, out_act_s, seed, &net);
    /* a classifier (softmax + cross-entropy on θ) or a regressor (squared error on o) */
    const int regress = rc == CLI_OK && cr_net_head(model_path ? in.net : net) == CR_HEAD_SQUARED_ERROR;
    if (rc == CLI_OK && model_path && !regress) rc = cli_require_plain("explain", model_path, in.net);
    if (rc == CLI_OK && model_path) rc = model_net(&in, &net, &mean, &sd);
    if (rc != CLI_OK) goto done;
    if (!regress && targets) {
        rc = cli_error("explain: --targets is for regressors (squared-error head); give --labels");
        goto done;
    }
    if (!regress && eo.inputs && !eo.labels) {
        rc = cli_error("explain: --inputs needs --labels");
        goto done;
    }
    if (regress && (eo.labels || (have_data && !targets))) {
        rc = cli_error("explain: %s is a regressor (squared-error head): give its example's targets with "
                       "--targets T.npy (and the inputs with --inputs), not labels", model_path);
        goto done;
    }
    const size_t D = cr_net_width(net, 0), K = cr_net_width(net, cr_net_n_layers(net));
    x = malloc(D * sizeof *x), y = calloc(K, sizeof *y);
    if (!x || !y) {
        rc = cli_error("explain: out of memory");
        goto done;
    }
    if (have_data) { /* the raw example (the standardisation is explained as the chain's first link) */
        if ((rc = cli_examples_load(&eo, D, K, CR_F64, &data))) goto done;
        if (regress) { /* the example's targets: its row of T.npy */
            void *t = NULL;
            if ((rc = cli_load_regression_targets(targets, data.n, data.first, data.total, K, CR_F64, &t))) goto done;
            memcpy(x, data.x, D * sizeof *x);
            memcpy(y, t, K * sizeof *y);
            free(t);
        } else if (!data.y) {
            rc = cli_error("explain: %s has no labels", data.source);
            goto done;
        } else {
            memcpy(x, data.x, D * sizeof *x);
            memcpy(y, data.y, K * sizeof *y);
        }
    } else {
        cli_random_data(CR_F64, 1, D, K, seed ^ 0xe8a3, x, y);
        if (regress) { /* random targets in (0, 1), what a sigmoid output can reach */
            cr_rng rng;
            cr_rng_seed(&rng, seed ^ 0x7a76);
            for (size_t j = 0; j < K; j++) y[j] = cr_rng_uniform(&rng);
        }
    }

    if (certify) { /* the proof over the ball (explain_certify.c) */
        rc = regress ? cli_error("explain: --certify proves a classifier's label, not a regressor's targets")
                     : explain_certify(&f, net, x, have_data ? y : NULL, mean != NULL, model_path != NULL, eps);
        goto done;
    }
    /* the numbers (the library), then the derivation or the JSON */
    cr_status st = explain_example_compute(net, x, y, mean, sd, model_path != NULL, &ex);
    if (st == CR_OK && !json) st = explain_render(&f, &ex);
    if (st != CR_OK) rc = cli_error("explain: %s", cr_status_string(st));
    else if (json) explain_render_json(&ex);
    if (st == CR_OK) rc = ex.pass ? CLI_OK : CLI_FAIL;
done:
    explain_example_free(&ex);
    cli_examples_free(&data);
    free(x), free(y), free(mean), free(sd);
    cr_net_free(net);
    cli_input_free(&in);
    return rc;
}
