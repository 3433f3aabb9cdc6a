/*
 * chainrule explain: the answer to the seed question, for a concrete network.
 *
 * Prints the forward equations with shapes, the chain rule for dJ/dx as a
 * product of named Jacobians, each Jacobian's formula and whether it is
 * diagonal (and so where "∘" comes from), the order of the VJPs, the same in
 * the column (gradient) convention, and numeric proof: the explicit-Jacobian
 * product, the VJP chain, central finite differences and the closed form
 * agree. Everything in float64.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_check.h"
#include "cli.h"
#include "cli_input.h"

static const char *const explain_help =
    "usage: chainrule explain [--layers D,H,K] [--activation NAME] [--seed N] [options]\n"
    "       chainrule explain --model M.safetensors [--inputs X.npy --labels y.npy --index I]\n"
    "\n"
    "Derives dJ/dx for a network x -> xW1+b1 -> act -> ... -> softmax -> cross-entropy,\n"
    "shows which links of the chain rule are matrix products and which are element-wise\n"
    "(exactly the diagonal Jacobians), and proves numerically that the product of the\n"
    "explicit Jacobians, the VJP chain, central finite differences and the closed form\n"
    "agree. Exit status 1 if a check fails.\n"
    "\n"
    "  --layers D,H,...,K   network widths (default 4,3,3: the seed network, small)\n"
    "  --activation NAME    hidden activation: sigmoid (default, as in the seed), tanh, relu\n"
    "  --seed N             seed of the random weights, input and label (default 1)\n"
    "  --model PATH         explain a saved model instead (computed in float64)\n"
    "  --inputs, --labels   .npy data for the example (random when absent)\n"
    "  --index I            which example of --inputs (default 0)\n"
    "  --format text|markdown  markdown uses LaTeX math that renders on GitHub\n"
    "  --json               print the numbers (gradients, errors) as JSON instead\n"
    "  --max-print N        print a matrix in full only up to N entries (default 64)\n";

/* ------------------------------------------------------------ output helpers */

typedef struct {
    int md;           /* markdown with LaTeX, else plain text with Unicode */
    size_t max_print; /* matrices larger than this are described, not printed */
} fmt;

static void out(const char *s, ...) {
    va_list ap;
    va_start(ap, s);
    vprintf(s, ap);
    va_end(ap);
}

/* Picks the text or the markdown variant. */
#define TM(f_, text_, md_) ((f_)->md ? (md_) : (text_))

static void heading(const fmt *f, const char *title) {
    if (f->md)
        out("\n## %s\n\n", title);
    else {
        out("\n%s\n", title);
        for (size_t i = 0; i < strlen(title); i++)
            if (((unsigned char)title[i] & 0xC0) != 0x80) out("-"); /* one per character */
        out("\n");
    }
}

/* A display equation: text is printed indented, md between $$ ... $$. */
static void display(const fmt *f, const char *text, const char *md) {
    if (f->md)
        out("$$\n%s\n$$\n\n", md);
    else
        out("    %s\n", text);
}

static void print_matrix(const fmt *f, const char *name, const double *m, size_t rows,
                         size_t cols, const char *formula) {
    if (rows * cols > f->max_print) {
        if (f->md)
            out("- $%s$ = %s: a %zu×%zu matrix (%zu entries, not printed)\n", name, formula, rows,
                cols, rows * cols);
        else
            out("    %s = %s: %zu×%zu (%zu entries, not printed)\n", name, formula, rows, cols,
                rows * cols);
        return;
    }
    if (f->md) {
        out("$$\n%s = \\begin{bmatrix}", name);
        for (size_t i = 0; i < rows; i++) {
            out(i ? " \\\\ " : " ");
            for (size_t j = 0; j < cols; j++) out("%s%.4f", j ? " & " : "", m[i * cols + j]);
        }
        out(" \\end{bmatrix}\n$$\n\n");
    } else {
        out("    %s (%zu×%zu) =", name, rows, cols);
        for (size_t i = 0; i < rows; i++) {
            out(rows > 1 ? "\n        [" : " [");
            for (size_t j = 0; j < cols; j++) out("%s%9.5f", j ? " " : "", m[i * cols + j]);
            out(" ]");
        }
        out("\n");
    }
}

/* s padded with spaces to `width` characters (UTF-8 aware: printf's %-Ns counts
   bytes, which misaligns ∂, θ, ŷ). Rotates over 8 static buffers. */
static const char *padw(const char *s, int width) {
    static char bufs[8][512];
    static int next;
    char *b = bufs[next++ & 7];
    int chars = 0;
    size_t len = strlen(s);
    if (len > sizeof bufs[0] - 64) len = sizeof bufs[0] - 64;
    memcpy(b, s, len);
    for (size_t i = 0; i < len; i++) chars += ((unsigned char)s[i] & 0xC0) != 0x80;
    while (chars < width && len < sizeof bufs[0] - 1) b[len++] = ' ', chars++;
    b[len] = '\0';
    return b;
}

/* ------------------------------------------------------------ names of the chain */

typedef struct {
    int L;
    char pre_t[CR_MAX_LAYERS][16], pre_m[CR_MAX_LAYERS][24];   /* r, r1, θ */
    char post_t[CR_MAX_LAYERS][16], post_m[CR_MAX_LAYERS][24]; /* h, h1, ŷ */
    char in_t[CR_MAX_LAYERS][16], in_m[CR_MAX_LAYERS][24];     /* input of layer l */
} names;

static void make_names(names *nm, int L) {
    nm->L = L;
    for (int l = 0; l < L; l++) {
        if (l == L - 1) {
            strcpy(nm->pre_t[l], "θ"), strcpy(nm->pre_m[l], "\\theta");
            strcpy(nm->post_t[l], "ŷ"), strcpy(nm->post_m[l], "\\hat{y}");
        } else if (L == 2) {
            strcpy(nm->pre_t[l], "r"), strcpy(nm->pre_m[l], "r");
            strcpy(nm->post_t[l], "h"), strcpy(nm->post_m[l], "h");
        } else {
            snprintf(nm->pre_t[l], 16, "r%d", l + 1), snprintf(nm->pre_m[l], 24, "r_{%d}", l + 1);
            snprintf(nm->post_t[l], 16, "h%d", l + 1), snprintf(nm->post_m[l], 24, "h_{%d}", l + 1);
        }
        if (l == 0)
            strcpy(nm->in_t[l], "x"), strcpy(nm->in_m[l], "x");
        else
            strcpy(nm->in_t[l], nm->post_t[l - 1]), strcpy(nm->in_m[l], nm->post_m[l - 1]);
    }
}

/* The diagonal of the activation's Jacobian, as a formula in h (or r). */
static void act_diag(const fmt *f, cr_activation act, const char *h_t, const char *h_m,
                     const char *r_t, const char *r_m, char *buf, size_t size) {
    switch (act) {
    case CR_ACT_SIGMOID:
        snprintf(buf, size, f->md ? "%s \\circ (1 - %s)" : "%s∘(1−%s)", f->md ? h_m : h_t, f->md ? h_m : h_t);
        break;
    case CR_ACT_TANH:
        snprintf(buf, size, f->md ? "(1 - %s \\circ %s)" : "(1−%s∘%s)", f->md ? h_m : h_t, f->md ? h_m : h_t);
        break;
    case CR_ACT_GELU: /* d/dr r Φ(r) = Φ(r) + r φ(r) */
        snprintf(buf, size, f->md ? "(\\Phi(%s) + %s \\circ \\varphi(%s))" : "(Φ(%s)+%s∘φ(%s))", f->md ? r_m : r_t,
                 f->md ? r_m : r_t, f->md ? r_m : r_t);
        break;
    default:
        snprintf(buf, size, f->md ? "\\mathbb{1}[%s > 0]" : "1[%s>0]", f->md ? r_m : r_t);
        break;
    }
}

static const char *act_symbol(const fmt *f, cr_activation act) {
    switch (act) {
    case CR_ACT_SIGMOID: return TM(f, "σ", "\\sigma");
    case CR_ACT_TANH: return TM(f, "tanh", "\\tanh");
    case CR_ACT_GELU: return TM(f, "gelu", "\\mathrm{gelu}");
    default: return TM(f, "relu", "\\mathrm{relu}");
    }
}

/* ------------------------------------------------------------ the command */

static void json_vec(const char *key, const double *v, size_t n, int last) {
    printf("  \"%s\": [", key);
    for (size_t i = 0; i < n; i++) printf("%s%.17g", i ? ", " : "", v[i]);
    printf("]%s\n", last ? "" : ",");
}

int cmd_explain(int argc, char **argv) {
    const char *layers = "4,3,3", *activation = "sigmoid", *seed_s = "1", *model_path = NULL;
    cli_examples_opts eo = {0};
    const char *format = "text";
    const char *maxp_s = "64";
    int json = 0;
    cli_args a = cli_args_start(argc, argv);
    while (cli_args_next(&a)) {
        if (cli_value(&a, "--layers", &layers) || cli_value(&a, "--activation", &activation) ||
            cli_value(&a, "--seed", &seed_s) || cli_value(&a, "--model", &model_path) ||
            cli_examples_option(&a, &eo) || cli_value(&a, "--format", &format) || cli_value(&a, "--max-print", &maxp_s))
            continue;
        if (cli_flag(&a, "--json")) json = 1;
        else return cli_args_unknown(&a);
    }
    if (a.help) return fputs(explain_help, stdout), CLI_OK;
    if (a.failed) return CLI_USAGE;
    fmt F = {0, 64}, *f = &F;
    if (!strcmp(format, "markdown") || !strcmp(format, "md")) F.md = 1;
    else if (strcmp(format, "text") != 0) return cli_error("explain: --format must be text or markdown, not '%s'", format);
    const int have_data = eo.inputs || eo.data;
    if (eo.inputs && !eo.labels) return cli_error("explain: --inputs needs --labels");
    if (have_data && !model_path) return cli_error("explain: --inputs and --data need --model");
    if ((eo.index || eo.limit) && !have_data) return cli_error("explain: --index selects an example of --inputs or --data");
    if (eo.limit) return cli_error("explain: explains one example: choose it with --index I");
    uint64_t seed;
    long maxp;
    if (!cli_parse_u64("--seed", seed_s, &seed) || !cli_parse_long("--max-print", maxp_s, 0, 1000000, &maxp))
        return CLI_USAGE;
    F.max_print = (size_t)maxp;
    if (eo.index && strchr(eo.index, ':'))
        return cli_error("explain: --index takes one example, not a range ('%s')", eo.index);
    if (have_data && !eo.index) eo.index = "0";

    /* ---------------------------------------------------------------- network and example */
    cli_input in;
    cli_examples ex = {0};
    memset(&in, 0, sizeof in);
    cr_net *net = NULL; /* float64, owned */
    int rc = CLI_OK;
    double *mean = NULL, *sd = NULL; /* the model's input standardisation, or NULL */
    if (model_path) {
        if ((rc = cli_input_model(model_path, NULL, &in))) goto early;
        /* explained as stored: the standardisation is the chain's first link */
        if (cr_net_convert(in.model.net, CR_F64, &net) != CR_OK) {
            rc = cli_error("explain: out of memory");
            goto early;
        }
        const cr_array *am = &in.model.input_mean, *as = &in.model.input_std;
        if (am->data && as->data) {
            mean = malloc(in.d * sizeof *mean), sd = malloc(in.d * sizeof *sd);
            if (!mean || !sd) {
                rc = cli_error("explain: out of memory");
                goto early;
            }
            for (size_t j = 0; j < in.d; j++) {
                mean[j] = cli_get(am->dtype == CR_ARRAY_F64 ? CR_F64 : CR_F32, am->data, j);
                sd[j] = cli_get(as->dtype == CR_ARRAY_F64 ? CR_F64 : CR_F32, as->data, j);
            }
        }
    } else {
        size_t dims[CR_MAX_LAYERS + 1];
        int nl;
        cr_activation act[CR_MAX_LAYERS];
        if (!cli_parse_layers("--layers", layers, dims, &nl) ||
            !cli_parse_activations("--activation", activation, nl - 1, act))
            return CLI_USAGE;
        cr_status st = cr_net_create(&net, CR_F64, nl, dims, act);
        if (st != CR_OK) return cli_error("explain: cannot create a %s network: %s", layers, cr_status_string(st));
        cr_net_init(net, CR_INIT_AUTO, seed);
        /* biases are zero after init; give them values so b1, b2 show in the numbers */
        cr_rng rng;
        cr_rng_seed(&rng, seed ^ 0xb1a5);
        for (int l = 0; l < nl; l++)
            for (size_t j = 0; j < dims[l + 1]; j++)
                ((double *)net->params)[net->b_offset[l] + j] = 0.2 * (2 * cr_rng_uniform(&rng) - 1);
    }
    const int L = net->n_layers;
    const size_t D = net->dims[0], K = net->dims[L];
    const double *P = net->params;
    double *x = malloc(D * sizeof(double)), *y = calloc(K, sizeof(double));
    cr_tape *tape = NULL;
    double *g_vjp = NULL, *g_jac = NULL, *g_fd = NULL, *g_closed = NULL, *xz = NULL;
    double *gce = NULL, *gfused = NULL, *unfused = NULL, *work = NULL, *work2 = NULL;
    cr_check_report rep;
    cr_check_report_init(&rep);
    if (!x || !y) goto nomem;
    size_t example = 0;
    if (have_data) {
        /* the raw example (the standardisation is explained as the chain's first link) */
        if ((rc = cli_examples_load(&eo, D, K, CR_F64, &ex))) goto done;
        example = ex.first;
        if (!ex.y) {
            rc = cli_error("explain: %s has no labels", ex.source);
            goto done;
        }
        memcpy(x, ex.x, D * sizeof *x);
        memcpy(y, ex.y, K * sizeof *y);
    } else {
        cli_random_data(CR_F64, 1, D, K, seed ^ 0xe8a3, x, y);
    }
    (void)example;
    int label = -1;
    for (size_t j = 0; j < K; j++)
        if (y[j] == 1.0) label = (int)j;

    size_t maxdim = 0;
    for (int l = 0; l <= L; l++) maxdim = net->dims[l] > maxdim ? net->dims[l] : maxdim;
    g_vjp = malloc(D * sizeof(double)), g_jac = malloc(D * sizeof(double));
    g_fd = malloc(D * sizeof(double)), g_closed = malloc(D * sizeof(double)), xz = malloc(D * sizeof(double));
    gce = malloc(K * sizeof(double)), gfused = malloc(K * sizeof(double)), unfused = malloc(K * sizeof(double));
    work = malloc(maxdim * maxdim * sizeof(double)), work2 = malloc(maxdim * sizeof(double));
    if (!g_vjp || !g_jac || !g_fd || !g_closed || !xz || !gce || !gfused || !unfused || !work || !work2 ||
        cr_tape_create(net, 1, &tape) != CR_OK)
        goto nomem;

    /* ---------------------------------------------------------------- the checks (the library) */
    cr_check_options copt = cr_check_options_default();
    cr_check_explain_out xo = {g_vjp, g_jac, g_fd, g_closed, gfused, unfused, 0};
    cr_status cst = cr_check_explain(net, x, y, mean, sd, &copt, &xo, &rep);
    if (cst != CR_OK) {
        rc = cli_error("explain: %s", cr_status_string(cst));
        goto done;
    }
    /* the forward pass printed below, on the (standardised) input z */
    for (size_t j = 0; j < D; j++) xz[j] = sd ? (x[j] - mean[j]) / sd[j] : x[j];
    cr_net_forward_f64(net, tape, 1, xz);
    double J = cr_net_loss_f64(net, tape, y);
    const double *yhat = tape->post[L - 1];
    cr_cross_entropy_jacobian_f64(K, yhat, y, gce);
    cr_softmax_jacobian_f64(K, yhat, work);
    double gmax = 0;
    for (size_t j = 0; j < D; j++) gmax = fmax(gmax, fabs(g_vjp[j]));
    int pass = rep.failures == 0;
    const cr_check_result *res = rep.items; /* jacobian product, fd, closed form, head */
    int nonzero = !(res[0].trivial && res[1].trivial && res[2].trivial);
    size_t relu_off = 0, relu_kink = 0, relu_units = 0; /* ReLU units r < 0 and r = 0 */
    for (int l = 0; l + 1 < L; l++)
        if (net->act[l] == CR_ACT_RELU)
            for (size_t i = 0; i < net->dims[l + 1]; i++) {
                double r = ((const double *)tape->pre[l])[i];
                relu_units++;
                relu_off += r < 0, relu_kink += r == 0;
            }
    if (json) {
        printf("{\n  \"layers\": [");
        for (int l = 0; l <= L; l++) printf("%s%zu", l ? ", " : "", net->dims[l]);
        printf("],\n  \"activations\": [");
        for (int l = 0; l + 1 < L; l++) printf("%s\"%s\"", l ? ", " : "", cr_activation_name(net->act[l]));
        printf("],\n  \"loss\": %.17g,\n  \"label\": %d,\n", J, label);
        json_vec("x", x, D, 0);
        json_vec("y", y, K, 0);
        json_vec("yhat", yhat, K, 0);
        json_vec("dJdx_vjp_chain", g_vjp, D, 0);
        json_vec("dJdx_jacobian_product", g_jac, D, 0);
        json_vec("dJdx_finite_differences", g_fd, D, 0);
        json_vec("dJdx_closed_form", g_closed, D, 0);
        json_vec("dJdtheta_fused", gfused, K, 0);
        json_vec("dJdtheta_unfused", unfused, K, 0);
        printf("  \"standardized\": %s,\n  \"checks\": [", sd ? "true" : "false");
        for (size_t i = 0; i < rep.n; i++)
            printf("%s\n    {\"what\": \"%s\", \"max_err\": %.6g, \"tol\": %.6g, \"max_rel_err\": %.6g, "
                   "\"trivial\": %s, \"pass\": %s}",
                   i ? "," : "", rep.items[i].what, rep.items[i].max_err, rep.items[i].tol,
                   isfinite(rep.items[i].rel_err) ? rep.items[i].rel_err : -1.0,
                   rep.items[i].trivial ? "true" : "false", rep.items[i].pass ? "true" : "false");
        printf("\n  ],\n  \"gradient_is_zero\": %s,\n  \"pass\": %s\n}\n", gmax > 0 ? "false" : "true",
               pass ? "true" : "false");
        rc = pass ? CLI_OK : CLI_FAIL;
        goto done;
    }

    /* ---------------------------------------------------------------- the derivation */
    names N;
    make_names(&N, L);
    if (sd) strcpy(N.in_t[0], "z"), strcpy(N.in_m[0], "z"); /* z = (x − μ) ⊘ σ feeds layer 1 */
    char buf[1024], bufm[1024], diag_t[128], diag_m[128], ct[1024], cm[1024];
    const char *xd = TM(f, "x", "x");

    if (f->md)
        out("# ∂J/∂x, explained\n\n");
    else
        out("chainrule explain: the gradient of the loss with respect to the input\n"
            "======================================================================\n");
    {
        char arch[256];
        size_t len = 0;
        for (int l = 0; l <= L && len < sizeof arch - 16; l++)
            len += (size_t)snprintf(arch + len, sizeof arch - len, l ? "-%zu" : "%zu", net->dims[l]);
        /* the seed question's network: one sigmoid hidden layer, 4-3-3 or 784-128-10 */
        int seed_shape = L == 2 && net->act[0] == CR_ACT_SIGMOID &&
                         ((D == 4 && net->dims[1] == 3 && K == 3) || (D == 784 && net->dims[1] == 128 && K == 10));
        char acts[160];
        size_t al = 0;
        acts[0] = '\0';
        for (int l = 0; l + 1 < L && al < sizeof acts - 16; l++)
            al += (size_t)snprintf(acts + al, sizeof acts - al, "%s%s", l ? ", " : "", cr_activation_name(net->act[l]));
        char desc[200];
        if (seed_shape) snprintf(desc, sizeof desc, "the seed network: one sigmoid hidden layer");
        else if (L == 1) snprintf(desc, sizeof desc, "no hidden layer");
        else snprintf(desc, sizeof desc, "%d hidden layer%s: %s", L - 1, L == 2 ? "" : "s", acts);
        out("%sNetwork %s (%s), one example, computed in float64.%s\n", f->md ? "" : "\n", arch, desc,
            model_path ? " Weights from the model file." : " Random weights (seeded).");
        if (sd)
            out("%s", TM(f, "The model standardises its input: z = (x − μ) ⊘ σ (⊘: element-wise division) is the\n"
                            "first link of the chain, with the diagonal Jacobian ∂z/∂x = diag(1/σ).\n",
                         "The model standardises its input: $z = (x - \\mu) \\oslash \\sigma$ ($\\oslash$: element-wise division) is the first link of the chain, with the diagonal Jacobian $\\partial z/\\partial x = \\mathrm{diag}(1/\\sigma)$.\n\n"));
        out("Row vectors throughout (x is 1×%zu), Jacobians in numerator layout (one row per output).\n", D);
    }

    heading(f, "1. Forward pass");
    for (int l = 0; l < L; l++) {
        size_t din = net->dims[l], dout = net->dims[l + 1];
        char rhs[64];
        snprintf(rhs, sizeof rhs, "%s W%d + b%d", N.in_t[l], l + 1, l + 1);
        snprintf(buf, sizeof buf, "%s = %s %s: 1×%zu   W%d: %zu×%zu   b%d: 1×%zu", padw(N.pre_t[l], 3),
                 padw(rhs, 16), N.pre_t[l], dout, l + 1, din, dout, l + 1, dout);
        snprintf(bufm, sizeof bufm, "%s = %s W_{%d} + b_{%d} \\qquad %s \\in \\mathbb{R}^{1\\times %zu},\\ W_{%d} \\in \\mathbb{R}^{%zu\\times %zu}",
                 N.pre_m[l], N.in_m[l], l + 1, l + 1, N.pre_m[l], dout, l + 1, din, dout);
        display(f, buf, bufm);
        if (l + 1 < L) {
            snprintf(rhs, sizeof rhs, "%s(%s)", act_symbol(f, net->act[l]), N.pre_t[l]);
            snprintf(buf, sizeof buf, "%s = %s %s: 1×%zu   (element-wise)", padw(N.post_t[l], 3),
                     padw(rhs, 16), N.post_t[l], dout);
            snprintf(bufm, sizeof bufm, "%s = %s(%s) \\quad \\text{(element-wise)}", N.post_m[l],
                     act_symbol(f, net->act[l]), N.pre_m[l]);
        } else {
            snprintf(buf, sizeof buf, "ŷ   = softmax(θ)       ŷ: 1×%zu   ŷ_i = e^θ_i / Σ_j e^θ_j", dout);
            snprintf(bufm, sizeof bufm, "\\hat{y} = \\mathrm{softmax}(\\theta), \\quad \\hat{y}_i = \\frac{e^{\\theta_i}}{\\sum_j e^{\\theta_j}}");
        }
        display(f, buf, bufm);
    }
    display(f, "J   = −Σ_i y_i log ŷ_i  y: 1×K, one-hot; J: a scalar",
            "J = -\\sum_i y_i \\log \\hat{y}_i \\qquad y \\text{ one-hot},\\ J \\in \\mathbb{R}");

    heading(f, "2. The chain rule: one Jacobian per link");
    {
        /* ∂J/∂x = ∂J/∂ŷ · ∂ŷ/∂θ · ∂θ/∂h · ∂h/∂r · ... · ∂r1/∂x */
        size_t lm = 0;
        lm += (size_t)snprintf(bufm + lm, sizeof bufm - lm,
                               "\\frac{\\partial J}{\\partial x} = \\underbrace{\\frac{\\partial J}{\\partial \\hat{y}}}_{1\\times %zu} \\underbrace{\\frac{\\partial \\hat{y}}{\\partial \\theta}}_{%zu\\times %zu}", K, K, K);
        /* text: the factors on one line, their shapes aligned under them */
        char tok[2 * CR_MAX_LAYERS + 2][48], shp[2 * CR_MAX_LAYERS + 2][48];
        int nt = 0;
        snprintf(tok[nt], 48, "∂J/∂ŷ"), snprintf(shp[nt++], 48, "(1×%zu)", K);
        snprintf(tok[nt], 48, "∂ŷ/∂θ"), snprintf(shp[nt++], 48, "(%zu×%zu)", K, K);
        for (int l = L - 1; l >= 0; l--) {
            snprintf(tok[nt], 48, "∂%s/∂%s", N.pre_t[l], N.in_t[l]);
            snprintf(shp[nt++], 48, "(%zu×%zu)", net->dims[l + 1], net->dims[l]);
            lm += (size_t)snprintf(bufm + lm, sizeof bufm - lm, " \\underbrace{\\frac{\\partial %s}{\\partial %s}}_{%zu\\times %zu}",
                                   N.pre_m[l], N.in_m[l], net->dims[l + 1], net->dims[l]);
            if (l > 0) {
                snprintf(tok[nt], 48, "∂%s/∂%s", N.post_t[l - 1], N.pre_t[l - 1]);
                snprintf(shp[nt++], 48, "(%zu×%zu)", net->dims[l], net->dims[l]);
                lm += (size_t)snprintf(bufm + lm, sizeof bufm - lm, " \\underbrace{\\frac{\\partial %s}{\\partial %s}}_{%zu\\times %zu}",
                                       N.post_m[l - 1], N.pre_m[l - 1], net->dims[l], net->dims[l]);
            }
        }
        if (sd) { /* the standardisation: the first link */
            snprintf(tok[nt], 48, "∂z/∂x"), snprintf(shp[nt++], 48, "(%zu×%zu)", D, D);
            lm += (size_t)snprintf(bufm + lm, sizeof bufm - lm,
                                   " \\underbrace{\\frac{\\partial z}{\\partial x}}_{%zu\\times %zu}", D, D);
        }
        if (!f->md) {
            out("    ∂J/∂x = ");
            for (int i = 0; i < nt; i++) {
                int w = (int)strlen(shp[i]) > 7 ? (int)strlen(shp[i]) : 7;
                out("%s%s", i ? " · " : "", padw(tok[i], w));
            }
            out("\n            ");
            for (int i = 0; i < nt; i++) {
                int w = (int)strlen(shp[i]) > 7 ? (int)strlen(shp[i]) : 7;
                out("%s%s", i ? "   " : "", padw(shp[i], w));
            }
            out("  = 1×%zu\n", D);
        }
        lm += (size_t)snprintf(bufm + lm, sizeof bufm - lm, " \\;\\in\\; \\mathbb{R}^{1\\times %zu}", D);
        if (f->md) display(f, "", bufm);
        out("%sEvery link is an ordinary matrix product of the row gradient so far with the next\n"
            "Jacobian. Which links look \"element-wise\" depends only on which Jacobians are diagonal:\n\n",
            f->md ? "" : "\n");
    }
    {
        /* table of Jacobians */
        if (f->md) out("| Jacobian | formula | shape | structure | so the link is |\n|---|---|---|---|---|\n");
        if (f->md)
            out("| $\\partial J/\\partial \\hat{y}$ | $-(y \\oslash \\hat{y})$ | 1×%zu | a row (J is a scalar) | the starting row |\n"
                "| $\\partial \\hat{y}/\\partial \\theta$ | $\\mathrm{diag}(\\hat{y}) - \\hat{y}^\\top \\hat{y}$ | %zu×%zu | **full**: every $\\hat{y}_i$ depends on every $\\theta_j$ | a matrix product |\n",
                K, K, K);
        else
        {
            char s1[48], s2[48];
            snprintf(s1, sizeof s1, "1×%zu", K);
            snprintf(s2, sizeof s2, "%zu×%zu", K, K);
            out("    %s = %s %s a row (J is a scalar)\n", padw("∂J/∂ŷ", 9), padw("−(y ⊘ ŷ)", 22), padw(s1, 10));
            out("    %s = %s %s FULL: every ŷ_i depends on every θ_j -> matrix product\n",
                padw("∂ŷ/∂θ", 9), padw("diag(ŷ) − ŷᵀŷ", 22), padw(s2, 10));
        }
        for (int l = L - 1; l >= 0; l--) {
            size_t din = net->dims[l], dout = net->dims[l + 1];
            if (f->md)
                out("| $\\partial %s/\\partial %s$ | $W_{%d}^\\top$ | %zu×%zu | **full** | a matrix product |\n",
                    N.pre_m[l], N.in_m[l], l + 1, dout, din);
            else {
                char lhs[64], fm[32];
                snprintf(lhs, sizeof lhs, "∂%s/∂%s", N.pre_t[l], N.in_t[l]);
                snprintf(fm, sizeof fm, "W%dᵀ", l + 1);
                char sh[48];
                snprintf(sh, sizeof sh, "%zu×%zu", dout, din);
                out("    %s = %s %s FULL -> matrix product\n", padw(lhs, 9), padw(fm, 22), padw(sh, 10));
            }
            if (l > 0) {
                act_diag(f, net->act[l - 1], N.post_t[l - 1], N.post_m[l - 1], N.pre_t[l - 1],
                         N.pre_m[l - 1], f->md ? diag_m : diag_t, 128);
                if (f->md)
                {
                    /* h_{2} indexed is {h_{2}}_i: a second subscript needs braces in TeX */
                    char hb[32], rb[32];
                    snprintf(hb, sizeof hb, strchr(N.post_m[l - 1], '_') ? "{%s}" : "%s", N.post_m[l - 1]);
                    snprintf(rb, sizeof rb, strchr(N.pre_m[l - 1], '_') ? "{%s}" : "%s", N.pre_m[l - 1]);
                    out("| $\\partial %s/\\partial %s$ | $\\mathrm{diag}(%s)$ | %zu×%zu | **diagonal**: $%s_i$ depends only on $%s_i$ | element-wise: $\\circ$ |\n",
                        N.post_m[l - 1], N.pre_m[l - 1], diag_m, din, din, hb, rb);
                }
                else {
                    char lhs[64], fm[160];
                    snprintf(lhs, sizeof lhs, "∂%s/∂%s", N.post_t[l - 1], N.pre_t[l - 1]);
                    snprintf(fm, sizeof fm, "diag(%s)", diag_t);
                    char sh[48];
                    snprintf(sh, sizeof sh, "%zu×%zu", din, din);
                    out("    %s = %s %s DIAGONAL: %s_i depends only on %s_i -> element-wise ∘\n",
                        padw(lhs, 9), padw(fm, 22), padw(sh, 10), N.post_t[l - 1], N.pre_t[l - 1]);
                }
            }
        }
        if (sd) {
            if (f->md)
                out("| $\\partial z/\\partial x$ | $\\mathrm{diag}(1/\\sigma)$ | %zu×%zu | **diagonal**: $z_i = (x_i - \\mu_i)/\\sigma_i$ | element-wise: $\\oslash\\, \\sigma$ |\n", D, D);
            else {
                char sh[48];
                snprintf(sh, sizeof sh, "%zu×%zu", D, D);
                out("    %s = %s %s DIAGONAL: z_i = (x_i − μ_i)/σ_i -> element-wise ⊘ σ\n", padw("∂z/∂x", 9),
                    padw("diag(1/σ)", 22), padw(sh, 10));
            }
        }
        int has_sigmoid = 0;
        for (int l = 0; l + 1 < L; l++) has_sigmoid |= net->act[l] == CR_ACT_SIGMOID;
        out("%s", TM(f, "\n    ⊘ is element-wise division: (y ⊘ ŷ)_i = y_i / ŷ_i.\n",
                     "\n$\\oslash$ is element-wise division: $(y \\oslash \\hat{y})_i = y_i / \\hat{y}_i$.\n"));
        if (has_sigmoid)
            out("%s", TM(f,
                "    The sigmoid's derivative: σ(r) = 1/(1 + e^−r), so σ′(r) = e^−r/(1 + e^−r)² = σ(r) · (1 − σ(r)),\n"
                "    because 1 − σ(r) = e^−r/(1 + e^−r). With h = σ(r): ∂h_i/∂r_i = h_i (1 − h_i), i.e. diag(h∘(1−h)).\n",
                "\nThe sigmoid's derivative: $\\sigma(r) = 1/(1 + e^{-r})$, so $\\sigma'(r) = e^{-r}/(1 + e^{-r})^2 = \\sigma(r)\\,(1 - \\sigma(r))$, "
                "because $1 - \\sigma(r) = e^{-r}/(1 + e^{-r})$. With $h = \\sigma(r)$: $\\partial h_i/\\partial r_i = h_i (1 - h_i)$, i.e. $\\mathrm{diag}(h \\circ (1 - h))$.\n"));
        out("\n%s\n", TM(f,
            "A row g times a diagonal matrix diag(d) is the element-wise product g ∘ d: that, and only\n"
            "that, is where \"∘\" comes from. Softmax's Jacobian is not diagonal, but fused with the\n"
            "cross-entropy the first two links collapse:",
            "A row $g$ times a diagonal matrix $\\mathrm{diag}(d)$ is the element-wise product $g \\circ d$: that, and only that, is where $\\circ$ comes from. Softmax's Jacobian is not diagonal, but fused with the cross-entropy the first two links collapse:"));
        if (f->md) out("\n");
        display(f, "∂J/∂θ = −(y ⊘ ŷ)(diag(ŷ) − ŷᵀŷ) = −y + (Σ_i y_i) ŷ = ŷ − y     (Σ_i y_i = 1)",
                "\\frac{\\partial J}{\\partial \\theta} = -(y \\oslash \\hat{y})\\left(\\mathrm{diag}(\\hat{y}) - \\hat{y}^\\top \\hat{y}\\right) = -y + \\Big(\\sum_i y_i\\Big) \\hat{y} = \\hat{y} - y");
    }

    heading(f, "3. Evaluation order: vector-Jacobian products, starting from the loss");
    out("%s", TM(f, "In the row convention the product of section 2 is evaluated left to right,\n"
                    "(((∂J/∂ŷ · ∂ŷ/∂θ) · ∂θ/∂h) · …) · ∂r/∂x: it starts at the loss and walks back through\n"
                    "the network, each step a row vector times the next Jacobian. (Right to left is the order\n"
                    "of the column convention of section 4.) Reverse mode never forms a Jacobian matrix;\n"
                    "it carries one row vector back:\n\n",
                 "In the row convention the product of section 2 is evaluated **left to right**, "
                 "$(((\\partial J/\\partial \\hat{y} \\cdot \\partial \\hat{y}/\\partial \\theta) \\cdot \\ldots) \\cdot \\partial r/\\partial x)$: "
                 "it starts at the loss and walks back through the network, each step a row vector times the next Jacobian "
                 "(right to left is the order of the column convention of section 4). "
                 "Reverse mode never forms a Jacobian matrix; it carries one row vector back:\n\n"));
    {
        int step = 1;
        if (f->md) out("| step | vector | computed as | shape | kind |\n|---|---|---|---|---|\n");
        if (f->md)
            out("| %d | $g_\\theta = \\partial J/\\partial \\theta$ | $\\hat{y} - y$ | 1×%zu | fused softmax + cross-entropy |\n", step++, K);
        else
        {
            char sh[48];
            snprintf(sh, sizeof sh, "1×%zu", K);
            out("    step %d  %s = %s %s fused softmax + cross-entropy\n", step++, padw("g_θ", 4), padw("ŷ − y", 30), padw(sh, 8));
        }
        const char *cur_t = "θ", *cur_m = "\\theta";
        for (int l = L - 1; l >= 0; l--) {
            size_t din = net->dims[l];
            if (f->md)
                out("| %d | $g_{%s}$ | $g_{%s} W_{%d}^\\top$ | 1×%zu | matrix product |\n", step++, N.in_m[l], cur_m, l + 1, din);
            else {
                char lhs[32], rhs[64];
                snprintf(lhs, sizeof lhs, "g_%s", N.in_t[l]);
                snprintf(rhs, sizeof rhs, "g_%s W%dᵀ", cur_t, l + 1);
                char sh[48];
                snprintf(sh, sizeof sh, "1×%zu", din);
                out("    step %d  %s = %s %s matrix product\n", step++, padw(lhs, 4), padw(rhs, 30), padw(sh, 8));
            }
            if (l > 0) {
                act_diag(f, net->act[l - 1], N.post_t[l - 1], N.post_m[l - 1], N.pre_t[l - 1], N.pre_m[l - 1],
                         f->md ? diag_m : diag_t, 128);
                if (f->md)
                    out("| %d | $g_{%s}$ | $g_{%s} \\circ %s$ | 1×%zu | element-wise (diagonal Jacobian) |\n",
                        step++, N.pre_m[l - 1], N.post_m[l - 1], diag_m, din);
                else {
                    char lhs[32], rhs[192];
                    snprintf(lhs, sizeof lhs, "g_%s", N.pre_t[l - 1]);
                    snprintf(rhs, sizeof rhs, "g_%s ∘ %s", N.post_t[l - 1], diag_t);
                    char sh[48];
                    snprintf(sh, sizeof sh, "1×%zu", din);
                    out("    step %d  %s = %s %s element-wise (diagonal Jacobian)\n", step++, padw(lhs, 4), padw(rhs, 30), padw(sh, 8));
                }
                cur_t = N.pre_t[l - 1];
                cur_m = N.pre_m[l - 1];
            }
        }
        if (sd) {
            if (f->md)
                out("| %d | $g_x$ | $g_z \\oslash \\sigma$ | 1×%zu | element-wise (the standardisation) |\n", step++, D);
            else {
                char sh[48];
                snprintf(sh, sizeof sh, "1×%zu", D);
                out("    step %d  %s = %s %s element-wise (the standardisation)\n", step++, padw("g_x", 4),
                    padw("g_z ⊘ σ", 30), padw(sh, 8));
            }
        }
        /* the closed form, nested */
        strcpy(ct, "(ŷ − y)");
        strcpy(cm, "(\\hat{y} - y)");
        for (int l = L - 1; l >= 0; l--) {
            char t2[1024], m2[1024];
            int nt, nm; /* a too-long nesting is cut, never overflowed */
            if (l > 0) {
                act_diag(&(fmt){0, 0}, net->act[l - 1], N.post_t[l - 1], N.post_m[l - 1], N.pre_t[l - 1], N.pre_m[l - 1], diag_t, 128);
                act_diag(&(fmt){1, 0}, net->act[l - 1], N.post_t[l - 1], N.post_m[l - 1], N.pre_t[l - 1], N.pre_m[l - 1], diag_m, 128);
                nt = snprintf(t2, sizeof t2, "(%.880s W%dᵀ ∘ %.100s)", ct, l + 1, diag_t);
                nm = snprintf(m2, sizeof m2, "\\left(%.850s W_{%d}^\\top \\circ %.100s\\right)", cm, l + 1, diag_m);
            } else {
                nt = snprintf(t2, sizeof t2, "%.1000s W%dᵀ", ct, l + 1);
                nm = snprintf(m2, sizeof m2, "%.1000s W_{%d}^\\top", cm, l + 1);
            }
            if (nt < 0 || nm < 0) break;
            strcpy(ct, t2);
            strcpy(cm, m2);
        }
        if (sd) {
            char t2[1024], m2[1024];
            snprintf(t2, sizeof t2, "(%.1000s) ⊘ σ", ct);
            snprintf(m2, sizeof m2, "\\left(%.990s\\right) \\oslash \\sigma", cm);
            strcpy(ct, t2);
            strcpy(cm, m2);
        }
        out("\n%s\n\n", TM(f, "Put together, the closed form:", "Put together, the closed form:"));
        snprintf(buf, sizeof buf, "∂J/∂x = %.900s        (1×%zu)", ct, D);
        snprintf(bufm, sizeof bufm, "\\frac{\\partial J}{\\partial x} = %.900s \\;\\in\\; \\mathbb{R}^{1\\times %zu}", cm, D);
        display(f, buf, bufm);
        if (L == 2 && net->act[0] == CR_ACT_SIGMOID)
            out("%s", TM(f, "\nPrecedence: a matrix product binds before ∘. Read (g W2ᵀ ∘ h∘(1−h)) W1ᵀ as\n"
                            "((g W2ᵀ) ∘ (h∘(1−h))) W1ᵀ: first the row g W2ᵀ, then the element-wise product with\n"
                            "h∘(1−h) (the diagonal of ∂h/∂r), then that row times W1ᵀ. Never g (W2ᵀ ∘ …).\n",
                         "\nPrecedence: a matrix product binds before $\\circ$. Read $(g W_2^\\top \\circ h \\circ (1-h)) W_1^\\top$ as "
                         "$((g W_2^\\top) \\circ (h \\circ (1-h))) W_1^\\top$: first the row $g W_2^\\top$, then the element-wise product "
                         "with the diagonal of $\\partial h/\\partial r$, then that row times $W_1^\\top$; never $g\\,(W_2^\\top \\circ \\ldots)$.\n"));
        else if (L > 1)
            out("%s", TM(f, "\nPrecedence: a matrix product binds before ∘: (g Wᵀ ∘ d) means ((g Wᵀ) ∘ d), the row g Wᵀ\n"
                            "first, then the element-wise product with the diagonal d of the activation's Jacobian.\n",
                         "\nPrecedence: a matrix product binds before $\\circ$: $(g W^\\top \\circ d)$ means $((g W^\\top) \\circ d)$, the row $g W^\\top$ first, "
                         "then the element-wise product with the diagonal $d$ of the activation's Jacobian.\n"));
    }

    heading(f, "4. The same in the gradient (column) convention");
    out("%s", TM(f,
        "With column gradients ∇ = (∂/∂)ᵀ every step is ∇_in J = (∂out/∂in)ᵀ ∇_out J: the same numbers,\n"
        "transposed, and the diagonal Jacobians are symmetric, so ∘ stays ∘.\n\n",
        "With column gradients $\\nabla = (\\partial/\\partial)^\\top$ every step is $\\nabla_{in} J = (\\partial\\, out/\\partial\\, in)^\\top \\nabla_{out} J$: the same numbers, transposed; diagonal Jacobians are symmetric, so $\\circ$ stays $\\circ$.\n\n"));
    {
        display(f, "∇_θ J = ŷᵀ − yᵀ", "\\nabla_\\theta J = \\hat{y}^\\top - y^\\top");
        const char *cur_t = "θ", *cur_m = "\\theta";
        for (int l = L - 1; l >= 0; l--) {
            snprintf(buf, sizeof buf, "∇_%s J = W%d ∇_%s J          (%zu×%zu)(%zu×1)", N.in_t[l], l + 1, cur_t,
                     net->dims[l], net->dims[l + 1], net->dims[l + 1]);
            snprintf(bufm, sizeof bufm, "\\nabla_{%s} J = W_{%d}\\, \\nabla_{%s} J", N.in_m[l], l + 1, cur_m);
            display(f, buf, bufm);
            if (l > 0) {
                act_diag(&(fmt){0, 0}, net->act[l - 1], N.post_t[l - 1], N.post_m[l - 1], N.pre_t[l - 1], N.pre_m[l - 1], diag_t, 128);
                act_diag(&(fmt){1, 0}, net->act[l - 1], N.post_t[l - 1], N.post_m[l - 1], N.pre_t[l - 1], N.pre_m[l - 1], diag_m, 128);
                snprintf(buf, sizeof buf, "∇_%s J = diag(%s) ∇_%s J = %s ∘ ∇_%s J", N.pre_t[l - 1], diag_t,
                         N.post_t[l - 1], diag_t, N.post_t[l - 1]);
                snprintf(bufm, sizeof bufm, "\\nabla_{%s} J = \\mathrm{diag}(%s)\\, \\nabla_{%s} J = %s \\circ \\nabla_{%s} J",
                         N.pre_m[l - 1], diag_m, N.post_m[l - 1], diag_m, N.post_m[l - 1]);
                display(f, buf, bufm);
                cur_t = N.pre_t[l - 1];
                cur_m = N.pre_m[l - 1];
            }
        }
        snprintf(buf, sizeof buf, "∇_x J = (∂J/∂x)ᵀ   (%zu×1)", D);
        snprintf(bufm, sizeof bufm, "\\nabla_x J = \\left(\\frac{\\partial J}{\\partial x}\\right)^\\top \\in \\mathbb{R}^{%zu\\times 1}", D);
        display(f, buf, bufm);
    }

    heading(f, "5. The numbers for this example");
    print_matrix(f, xd, x, 1, D, sd ? TM(f, "the raw input (before standardisation)", "the raw input (before standardisation)") : "the input");
    if (label >= 0)
        out("%s", f->md ? "" : "");
    print_matrix(f, "y", y, 1, K, "the label");
    for (int l = 0; l < L; l++) {
        char name[48];
        snprintf(name, sizeof name, f->md ? "W_{%d}" : "W%d", l + 1);
        print_matrix(f, name, P + net->w_offset[l], net->dims[l], net->dims[l + 1], "weights");
        snprintf(name, sizeof name, f->md ? "b_{%d}" : "b%d", l + 1);
        print_matrix(f, name, P + net->b_offset[l], 1, net->dims[l + 1], "bias");
        print_matrix(f, TM(f, N.pre_t[l], N.pre_m[l]), tape->pre[l], 1, net->dims[l + 1], "pre-activation");
        print_matrix(f, TM(f, N.post_t[l], N.post_m[l]), tape->post[l], 1, net->dims[l + 1],
                     l + 1 < L ? "activation" : "probabilities");
    }
    if (f->md) out("\nLoss: $J = %.10g$%s\n\n", J, label >= 0 ? "" : " (soft label)");
    else out("    J = %.10g   (label: class %d)\n", J, label);
    out("%s", TM(f, "\nJacobians at this point:\n", "Jacobians at this point:\n\n"));
    print_matrix(f, TM(f, "∂J/∂ŷ", "\\partial J/\\partial \\hat{y}"), gce, 1, K, TM(f, "−(y ⊘ ŷ)", "$-(y \\oslash \\hat{y})$"));
    print_matrix(f, TM(f, "∂ŷ/∂θ", "\\partial \\hat{y}/\\partial \\theta"), work, K, K, TM(f, "diag(ŷ) − ŷᵀŷ", "$\\mathrm{diag}(\\hat{y}) - \\hat{y}^\\top \\hat{y}$"));
    {
        double *jm = malloc(maxdim * maxdim * sizeof(double));
        if (!jm) goto nomem;
        for (int l = L - 1; l >= 0; l--) {
            size_t din = net->dims[l], dout = net->dims[l + 1];
            char name[96];
            cr_linear_jacobian_f64(din, dout, P + net->w_offset[l], jm);
            snprintf(name, sizeof name, f->md ? "\\partial %s/\\partial %s" : "∂%s/∂%s", TM(f, N.pre_t[l], N.pre_m[l]), TM(f, N.in_t[l], N.in_m[l]));
            print_matrix(f, name, jm, dout, din, TM(f, "Wᵀ", "$W^\\top$"));
            if (l > 0) {
                const double *r = tape->pre[l - 1], *h = tape->post[l - 1];
                cr_activation_jacobian_f64(net->act[l - 1], din, r, h, jm); /* the op table's row */
                snprintf(name, sizeof name, f->md ? "\\partial %s/\\partial %s" : "∂%s/∂%s", TM(f, N.post_t[l - 1], N.post_m[l - 1]), TM(f, N.pre_t[l - 1], N.pre_m[l - 1]));
                print_matrix(f, name, jm, din, din, TM(f, "diag(a′(r)) (diagonal)", "$\\mathrm{diag}(a'(r))$ (diagonal)"));
            }
        }
        free(jm);
    }
    out("%s", TM(f, "\nThe VJP chain, step by step:\n", "\nThe VJP chain, step by step:\n\n"));
    {
        double *g = malloc(maxdim * sizeof(double)), *gn = malloc(maxdim * sizeof(double));
        if (!g || !gn) {
            free(g), free(gn);
            goto nomem;
        }
        cr_softmax_ce_vjp_f64(1, K, yhat, y, NULL, g);
        print_matrix(f, TM(f, "g_θ = ŷ − y", "g_\\theta = \\hat{y} - y"), g, 1, K, TM(f, "ŷ − y", "$\\hat{y} - y$"));
        for (int l = L - 1; l >= 0; l--) {
            size_t din = net->dims[l], dout = net->dims[l + 1];
            char name[96];
            cr_linear_vjp_f64(1, din, dout, P + net->w_offset[l], g, gn);
            snprintf(name, sizeof name, f->md ? "g_{%s}" : "g_%s", TM(f, N.in_t[l], N.in_m[l]));
            print_matrix(f, name, gn, 1, din, TM(f, "g Wᵀ", "$g W^\\top$"));
            memcpy(g, gn, din * sizeof(double));
            if (l > 0) {
                const double *r = tape->pre[l - 1], *h = tape->post[l - 1];
                cr_activation_vjp_f64(net->act[l - 1], din, r, h, g, gn);
                snprintf(name, sizeof name, f->md ? "g_{%s}" : "g_%s", TM(f, N.pre_t[l - 1], N.pre_m[l - 1]));
                print_matrix(f, name, gn, 1, din, TM(f, "g ∘ a′(r)", "$g \\circ a'(r)$"));
                memcpy(g, gn, din * sizeof(double));
            }
        }
        free(g), free(gn);
    }

    heading(f, "6. Checks: four ways to the same ∂J/∂x, and the head");
    {
        print_matrix(f, TM(f, "∂J/∂x (VJP chain)", "\\partial J/\\partial x"), g_vjp, 1, D, "the VJP chain");
        if (!nonzero) {
            char why[200] = "";
            if (relu_units && relu_off + relu_kink > 0)
                snprintf(why, sizeof why, " (%zu of %zu ReLU units have r < 0, inactive, and %zu sit at the kink r = 0, "
                         "where relu' is taken as 0)", relu_off, relu_units, relu_kink);
            const char *how = model_path ? "--index (or --inputs)" : "--seed (or a --model with --index)";
            out(TM(f, "    note: ∂J/∂x is zero within the checks' tolerance at this example%s,\n"
                      "    so agreement proves little here; choose another example with %s\n",
                   "Note: $\\partial J/\\partial x$ is zero within the checks' tolerance at this example%s, so agreement proves little here; choose another example with `%s`.\n\n"),
                why, how);
        }
        if (f->md)
            out("Each way is compared with the VJP chain (`cr_net_input_grad`, what `grad` runs); the head compares "
                "$\\partial J/\\partial \\theta$. Relative error = max |a − b| / max |b|; the tolerance allows the "
                "finite differences' truncation and rounding error and float64 rounding (docs/verification.md).\n\n"
                "| check | max relative error | tolerance | result |\n|---|---|---|---|\n");
        else
            out("\n    reference: the VJP chain (cr_net_input_grad, what `grad` runs); relative error = max|a − b| / max|b|;\n"
                "    the tolerance allows the finite differences' truncation and rounding error and float64 rounding\n\n");
        static const char *const labels_t[4] = {
            "product of the explicit Jacobians ∂J/∂ŷ · ∂ŷ/∂θ · … · ∂r/∂x",
            "central finite differences (float64, steps h and 2h, Richardson)",
            "closed form, written out with plain loops",
            "head: unfused (−y ⊘ ŷ)(diag(ŷ) − ŷᵀŷ) vs fused ŷ − y (∂J/∂θ)"};
        for (size_t i = 0; i < rep.n && i < 4; i++) {
            const cr_check_result *r = &rep.items[i];
            const char *verdict = !r->pass ? "FAIL" : r->trivial ? "PASS (zero within tolerance)" : "PASS";
            double rtol = r->ref_max > 0 ? r->tol / r->ref_max : r->tol;
            if (f->md) {
                out("| ");
                for (const char *c = labels_t[i]; *c; c++) out(*c == '|' ? "\\|" : "%c", *c);
                out(" | %.2e | %.1e | **%s** |\n", r->rel_err, rtol, verdict);
            } else
                out("    %s %9.2e  (tol %.1e)  %s\n", padw(labels_t[i], 66), r->rel_err, rtol, verdict);
        }
        if (pass && f->md && !nonzero)
            out("\n**Result:** PASS, but only trivially: $\\partial J/\\partial x$ is zero at this example.\n");
        else if (pass && f->md)
            out("\n**Result:** all four ways agree, so for this network\n\n$$\n\\frac{\\partial J}{\\partial x} = %s\n$$\n", cm);
        else if (pass && !nonzero)
            out("\nexplain: PASS, but only trivially: ∂J/∂x is zero at this example\n");
        else if (pass)
            out("\nexplain: PASS, all four ways agree: ∂J/∂x = %s\n", ct);
        else
            out("\nexplain: FAIL: a check disagrees (see above)\n");
    }
    rc = pass ? CLI_OK : CLI_FAIL;
    goto done;
nomem:
    rc = cli_error("explain: out of memory");
done:
    free(x), free(y), free(g_vjp), free(g_jac), free(g_fd), free(g_closed), free(xz);
    free(gce), free(gfused), free(unfused), free(work), free(work2);
    cr_tape_free(tape);
    cr_check_report_free(&rep);
    cli_examples_free(&ex);
early:
    free(mean), free(sd);
    cr_net_free(net);
    cli_input_free(&in);
    return rc;
}
