/*
 * chainrule gradcheck: the verification library's checks of every gradient
 * of a model (include/chainrule_check.h), printed. The library runs the code
 * the commands run and returns the results; this file parses the options,
 * loads the model and data, and prints.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "chainrule_check.h"
#include "cli.h"
#include "cli_input.h"

static const char *const gradcheck_help =
    "usage: chainrule gradcheck [--model MODEL] [--inputs X.npy --labels y.npy | --data SPEC]\n"
    "                           [--index A:B] [options]\n"
    "\n"
    "Checks dJ/dx of every example (cr_net_input_grad and cr_net_backward), the input\n"
    "Jacobian in every mode, every parameter gradient of the training step, and each\n"
    "op's Jacobian, VJP and JVP on its own (the activation backend the chain runs), so\n"
    "that a wrong derivative is reported as, e.g., \"layer 2 (sigmoid): VJP FAIL\".\n"
    "Also the adjoint identities <JVP(u), v> = <u, VJP(v)> per op and for the network.\n"
    "References: central finite differences in float64 at steps h and 2h (h = 1e-5 max(1,|x|)),\n"
    "Richardson-extrapolated; the tolerance is 4x their estimated error (truncation and\n"
    "rounding) plus the rounding of the model's dtype (docs/verification.md).\n"
    "Exit status 1 when a check fails.\n"
    "\n"
    "options:\n";

static int parse_fault(const char *s, int n_ops, cr_check_options *o) {
    char kind[16], extra;
    int layer;
    if (sscanf(s, "%d:%15[a-z]%c", &layer, kind, &extra) != 2)
        return cli_error("--inject-fault: '%s' is not LAYER:jacobian|vjp|jvp", s);
    if (layer < 1 || layer > n_ops)
        return cli_error("--inject-fault: there is no op %d: the chain has ops 1 to %d", layer, n_ops);
    if (!strcmp(kind, "jacobian")) o->inject_kind = CR_CHECK_JACOBIAN;
    else if (!strcmp(kind, "vjp")) o->inject_kind = CR_CHECK_VJP;
    else if (!strcmp(kind, "jvp")) o->inject_kind = CR_CHECK_JVP;
    else return cli_error("--inject-fault: '%s' cannot be injected (jacobian, vjp or jvp)", kind);
    o->inject_layer = layer;
    return CLI_OK;
}

/* "layer 2 (sigmoid): VJP" or the whole-network check's description. */
static const char *result_name(const cr_check_result *r, char *buf, size_t size) {
    if (r->layer > 0 && r->kind != CR_CHECK_PARAM_GRAD)
        snprintf(buf, size, "layer %d (%s): %s", r->layer, r->op, r->what);
    else
        snprintf(buf, size, "%s", r->what);
    return buf;
}

/* The tolerance in the table's unit: relative to max |reference| of the worst row
   (absolute when that is 0, as rel_err is then max_err). */
static double rel_tol(const cr_check_result *r) { return r->ref_max > 0 ? r->tol / r->ref_max : r->tol; }

static void print_report(const cr_check_report *rep, const cr_net *net, const char *model,
                         const char *data, size_t n, int json) {
    char arch[256], name[160];
    size_t len = 0;
    for (int l = 0; l <= cr_net_n_layers(net) && len < sizeof arch - 16; l++)
        len += (size_t)snprintf(arch + len, sizeof arch - len, l ? "-%zu" : "%zu", cr_net_width(net, l));
    if (json) {
        printf("{\"model\": \"%s\", \"layers\": \"%s\", \"dtype\": \"%s\", \"examples\": %zu, \"checks\": [",
               model, arch, cr_dtype_name(cr_net_dtype(net)), n);
        for (size_t i = 0; i < rep->n; i++) {
            const cr_check_result *r = &rep->items[i];
            printf("%s\n  {\"name\": \"%s\", \"kind\": \"%s\", \"layer\": %d, \"op\": \"%s\", "
                   "\"max_err\": %.6g, \"tol\": %.6g, \"ref_max\": %.6g, \"max_rel_err\": %.6g, "
                   "\"worst_example\": %zu, \"checked\": %zu, \"total\": %zu, \"trivial\": %s, \"pass\": %s}",
                   i ? "," : "", result_name(r, name, sizeof name), cr_check_kind_name(r->kind), r->layer,
                   r->op, r->max_err, r->tol, r->ref_max, isfinite(r->rel_err) ? r->rel_err : -1.0,
                   r->worst, r->checked, r->total, r->trivial ? "true" : "false", r->pass ? "true" : "false");
        }
        printf("\n], \"failures\": %d, \"pass\": %s}\n", rep->failures, rep->failures ? "false" : "true");
        return;
    }
    printf("gradcheck: %s (%s, %s), %zu example%s (%s)\n", model, arch, cr_dtype_name(cr_net_dtype(net)), n,
           n == 1 ? "" : "s", data);
    printf("reference: central finite differences in float64 at h and 2h, Richardson-extrapolated\n"
           "tolerance: 4 x their estimated error + the rounding of %s (per example; docs/verification.md)\n"
           "rel err = max |analytic - reference| / max |reference|; tol in the same units\n\n",
           cr_dtype_name(cr_net_dtype(net)));
    printf("  %-70s %9s %9s %11s  %s\n", "check", "rel err", "rel tol", "checked", "");
    for (size_t i = 0; i < rep->n; i++) {
        const cr_check_result *r = &rep->items[i];
        char checked[32];
        if (r->checked == r->total) snprintf(checked, sizeof checked, "%zu", r->checked);
        else snprintf(checked, sizeof checked, "%zu/%zu", r->checked, r->total);
        printf("  %-70s %9.2e %9.2e %11s  %s\n", result_name(r, name, sizeof name), r->rel_err, rel_tol(r),
               checked, !r->pass ? "FAIL" : r->trivial ? "PASS (zero within tolerance)" : "PASS");
    }
    printf("\ngradcheck: %s (%zu checks, %d failed)\n", rep->failures ? "FAIL" : "PASS", rep->n, rep->failures);
}

/* The failed checks on stderr, in the table's units (rel err, rel tol). */
static void print_failures(const cr_check_report *rep) {
    for (size_t i = 0; i < rep->n; i++) {
        char name[160];
        const cr_check_result *r = &rep->items[i];
        if (r->pass) continue;
        cr_check_kind kd = r->kind;
        fprintf(stderr, "FAIL: %s %s (rel err %.2e > rel tol %.2e, example %zu)\n",
                result_name(r, name, sizeof name),
                kd == CR_CHECK_ADJOINT || kd == CR_CHECK_NET_ADJOINT ? "does not hold: VJP and JVP are not adjoint"
                : kd == CR_CHECK_HEAD_UNFUSED                        ? "disagrees with the fused head"
                                                                     : "disagrees with finite differences",
                r->rel_err, rel_tol(r), r->worst);
    }
}

/* The command's options (borrowed from argv). */
typedef struct {
    const char *model_path, *layers, *activation, *dtype_s, *n_s, *seed_s, *samples_s, *tol_s,
        *fault_s, *opx_s, *head, *targets, *out_act_s;
    cli_examples_opts eo;
    int json;
} gc_args;

/* The combinations of options that do not go together. */
static int check_combinations(const gc_args *a) {
    const cli_examples_opts *eo = &a->eo;
    const int have_data = eo->inputs || eo->data;
    if (eo->inputs && !eo->labels && !a->targets)
        return cli_error("gradcheck: --inputs needs --labels (or --targets for a regressor)");
    if (a->targets && !eo->inputs) return cli_error("gradcheck: --targets goes with --inputs");
    if (a->model_path && a->out_act_s)
        return cli_error("gradcheck: --output-activation describes a random network; %s has its own",
                         a->model_path);
    if (have_data && !a->model_path) return cli_error("gradcheck: --inputs and --data need --model");
    if ((eo->index || eo->limit) && !have_data)
        return cli_error("gradcheck: --index selects examples of --inputs or --data");
    if (a->model_path && (a->layers || a->activation))
        return cli_error("gradcheck: --layers and --activation describe a random network; %s has its own",
                         a->model_path);
    return CLI_OK;
}

/* The random network of --layers, --activation, --dtype, --head, --output-activation. */
static int random_network(const gc_args *a, uint64_t seed, cr_net **net) {
    size_t dims[CR_MAX_LAYERS + 1];
    int nl;
    cr_activation act[CR_MAX_LAYERS];
    cr_dtype dt;
    const char *layers = a->layers ? a->layers : "5,4,3";
    if (!cli_parse_layers("--layers", layers, dims, &nl) ||
        !cli_parse_activations("--activation", a->activation ? a->activation : "sigmoid", nl - 1, act) ||
        !cli_parse_dtype("--dtype", a->dtype_s ? a->dtype_s : "float64", &dt))
        return CLI_USAGE;
    cr_status st = cr_net_create(net, dt, nl, dims, act);
    if (st != CR_OK)
        return cli_error("gradcheck: cannot create a %s network: %s", layers, cr_status_string(st));
    cr_head h = CR_HEAD_SOFTMAX_CE;
    cr_activation oa = CR_ACT_SIGMOID;
    if (a->head && cr_head_parse(a->head, &h) != CR_OK)
        return cli_error("gradcheck: --head: '%s' is not softmax-cross-entropy or squared-error", a->head);
    if (a->out_act_s && cr_activation_parse(a->out_act_s, &oa) != CR_OK)
        return cli_error("gradcheck: --output-activation: '%s' is not %s", a->out_act_s,
                         cli_activation_names(" or "));
    cr_net_set_output(*net, a->out_act_s != NULL, oa, h);
    cr_net_init(*net, CR_INIT_AUTO, seed);
    return CLI_OK;
}

/* The examples checked: n inputs x and targets y (labels one-hot, or regression
   targets) in net's dtype, from the data or random. */
typedef struct {
    cli_examples ex;   /* the data, if any */
    void *x, *y;       /* borrowed from ex / tgt, or owned (random) */
    void *tgt;         /* regression targets of the data, owned */
    int owned;         /* x and y are random, owned */
    size_t n;
} gc_examples;

static void examples_free(gc_examples *g) {
    if (g->owned) free(g->x), free(g->y);
    free(g->tgt);
    cli_examples_free(&g->ex);
}

static int load_examples(const gc_args *a, const cr_net *net, uint64_t seed, size_t n_random,
                         gc_examples *g) {
    const int regress = cr_net_head(net) == CR_HEAD_SQUARED_ERROR;
    const size_t d = cr_net_width(net, 0), k = cr_net_width(net, cr_net_n_layers(net));
    if (a->eo.inputs || a->eo.data) {
        /* raw inputs: the network checked starts with its input link, if any */
        int rc = cli_examples_load(&a->eo, d, k, cr_net_dtype(net), &g->ex);
        if (rc) return rc;
        if (regress && (rc = cli_load_regression_targets(a->targets, g->ex.n, g->ex.first, g->ex.total,
                                                         k, cr_net_dtype(net), &g->tgt)))
            return rc;
        if (!regress && !g->ex.y) return cli_error("gradcheck: %s has no labels", g->ex.source);
        g->n = g->ex.n;
        g->x = g->ex.x;
        g->y = regress ? g->tgt : g->ex.y;
        return CLI_OK;
    }
    g->n = n_random;
    g->owned = 1;
    g->x = malloc(g->n * d * cr_dtype_size(cr_net_dtype(net)));
    g->y = malloc(g->n * k * cr_dtype_size(cr_net_dtype(net)));
    if (!g->x || !g->y) return cli_error("gradcheck: out of memory");
    cli_random_data(cr_net_dtype(net), g->n, d, k, seed ^ 0x5eed, g->x, g->y);
    if (regress) { /* targets: uniform in [-1, 1] */
        cr_rng rng;
        cr_rng_seed(&rng, seed ^ 0x7a26);
        const cr_dtype dt = cr_net_dtype(net);
        for (size_t i = 0; i < g->n * k; i++) cli_set(dt, g->y, i, 2 * cr_rng_uniform(&rng) - 1);
    }
    return CLI_OK;
}

/* Runs the checks and prints them; CLI_OK, CLI_FAIL when one fails, or an error. */
static int run_checks(const gc_args *a, const cr_net *net, const gc_examples *g,
                      const cr_check_options *opt) {
    const int regress = cr_net_head(net) == CR_HEAD_SQUARED_ERROR;
    if (opt->op_example >= g->n)
        return cli_error("gradcheck: --op-example %zu is out of range: there are %zu examples",
                         opt->op_example, g->n);
    cr_check_report rep;
    cr_check_report_init(&rep);
    cr_status st = cr_check_net(net, g->n, g->x, g->y, opt, &rep);
    if (st != CR_OK) {
        cr_check_report_free(&rep);
        return cli_error("gradcheck: %s", cr_status_string(st));
    }
    print_report(&rep, net, a->model_path ? a->model_path : "random network",
                 !g->owned ? g->ex.source : regress ? "random inputs and targets in [-1,1]"
                                                    : "random inputs in [-1,1] and labels",
                 g->n, a->json);
    if (!a->json && opt->inject_layer) /* the testing aid says what it did: these FAILs are wanted */
        printf("(--inject-fault %s: op %d's analytic %s was perturbed by 1%% on purpose; the checks "
               "that use it should FAIL)\n", a->fault_s, opt->inject_layer, cr_check_kind_name(opt->inject_kind));
    if (!a->json) print_failures(&rep);
    int rc = rep.failures ? CLI_FAIL : CLI_OK;
    cr_check_report_free(&rep);
    return rc;
}

int cmd_gradcheck(int argc, char **argv) {
    gc_args a = {0};
    a.n_s = "4", a.seed_s = "1", a.samples_s = "256", a.opx_s = "0";
    cli_opt examples[CLI_EXAMPLES_TABLE_SIZE];
    cli_examples_table(&a.eo, examples);
    const cli_opt opts[] = {
        CLI_MODEL(&a.model_path, 0, "model to check; without it a random network is built from\n"
                                    "--layers and --activation"),
        CLI_STR("--layers", &a.layers, "D,...,K", "a random network's widths (default 5,4,3)"),
        CLI_STR("--activation", &a.activation, "NAME", "a random network's hidden activation (default sigmoid)"),
        CLI_STR("--output-activation", &a.out_act_s, "NAME", "a random network's output activation o = a(theta)"),
        CLI_STR("--dtype", &a.dtype_s, "float32|float64",
                "the dtype checked (default: the model's; float64 for a\nrandom network)"),
        CLI_HEADING("the examples checked (default all; without data: random inputs in [-1,1] and labels)"),
        CLI_INCLUDE(examples),
        CLI_STR("--targets", &a.targets, "T.npy", "regression targets [N, K] of --inputs for the squared-error head"),
        CLI_STR("--n", &a.n_s, "N", "number of random examples (default 4)"),
        CLI_HEADING("the checks"),
        CLI_STR("--seed", &a.seed_s, "N", "seed for the random network, data and samples (default 1)"),
        CLI_STR("--samples", &a.samples_s, "S", "parameter entries checked per tensor (default 256, 0 = all)"),
        CLI_STR("--op-example", &a.opx_s, "I", "example whose activations are the per-op operating point (0)"),
        CLI_STR("--tol", &a.tol_s, "T", "a fixed relative tolerance instead (max err <= T max |reference|)"),
        CLI_STR("--head", &a.head, "HEAD",
                "softmax-cross-entropy or squared-error instead of the model's\n"
                "(squared-error: J = 1/2 |o - t|^2 with --targets T.npy [N, K],\n"
                "or random targets in [-1,1] without data)"),
        CLI_FLAG("--json", &a.json, "machine-readable results"),
        CLI_STR("--inject-fault", &a.fault_s, "L:W",
                "testing aid: perturb the analytic W (jacobian, vjp or jvp)\n"
                "of op L of the chain (1 .. 2 x layers, + 1 with an output\n"
                "activation) by 1%"),
        CLI_END,
    };
    int rc;
    if (!cli_parse(argc, argv, opts, gradcheck_help, &rc)) return rc;
    if ((rc = check_combinations(&a))) return rc;
    cr_check_options opt = cr_check_options_default();
    uint64_t seed, samples;
    long n_random, opx;
    if (!cli_parse_u64("--seed", a.seed_s, &seed) || !cli_parse_u64("--samples", a.samples_s, &samples) ||
        !cli_parse_long("--n", a.n_s, 1, 100000, &n_random) ||
        !cli_parse_long("--op-example", a.opx_s, 0, 1L << 40, &opx) ||
        (a.tol_s && !cli_parse_double("--tol", a.tol_s, 0, 1, &opt.tol_override)))
        return CLI_USAGE;
    opt.seed = seed;
    opt.samples = (size_t)samples;
    opt.op_example = (size_t)opx;

    cli_input in;
    gc_examples g;
    memset(&in, 0, sizeof in);
    memset(&g, 0, sizeof g);
    cr_net *net = NULL; /* the network checked (borrowed from in, or owned when random) */
    /* a model: the raw-input network (a standardisation is its link 0), in --dtype */
    if (a.model_path) rc = cli_input_model_head(a.model_path, a.dtype_s, a.head, &in), net = in.net;
    else rc = random_network(&a, seed, &net);
    if (rc == CLI_OK) {
        const int regress = cr_net_head(net) == CR_HEAD_SQUARED_ERROR;
        cli_say_output("gradcheck", net);
        if ((a.eo.inputs || a.eo.data) && regress != (a.targets != NULL))
            rc = cli_error(regress ? "gradcheck: the squared-error head needs --targets T.npy (not labels)"
                                   : "gradcheck: --targets is for the squared-error head; give --labels");
    }
    if (rc == CLI_OK && a.fault_s) rc = parse_fault(a.fault_s, cr_check_net_op_count(net), &opt);
    if (rc == CLI_OK) rc = load_examples(&a, net, seed, (size_t)n_random, &g);
    if (rc == CLI_OK) rc = run_checks(&a, net, &g, &opt);
    examples_free(&g);
    if (!a.model_path) cr_net_free(net);
    cli_input_free(&in);
    return rc;
}
