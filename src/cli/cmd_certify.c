/* chainrule certify: proofs over regions (VNN-COMP mode and dataset mode); the library does the work. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_certify.h"
#include "cli_input.h"

static const char *const help =
    "usage: chainrule certify --model NET.onnx --vnnlib SPEC.vnnlib [--timeout S] [--result FILE]\n"
    "       chainrule certify --model M (--data SPEC | --inputs X.npy --labels Y.npy) [--index A:B]\n"
    "                         --eps E1[,E2,...] [--method ibp|crown|alpha|bab|auto] [--json]\n\n"
    "Proofs over regions. A margin attack (PGD over the box, every witness re-checked by an\n"
    "independent evaluator with a rigorous bound on its rounding) runs first, then sound bounds\n"
    "(float64 with rounding slack). Verdicts: unsat (proved: no point of the box violates the\n"
    "property), sat (a checked counterexample), unknown, timeout; never a wrong one.\n\n"
    "VNN-COMP mode writes the result file (unsat, sat with the counterexample, unknown, timeout)\n"
    "and prints one line; exit 0 for any verdict, 2 for bad input.\n"
    "Dataset mode: per eps, for the L-inf ball around each example (clipped to --clip, or to\n"
    "[0,1] for images), clean accuracy, certified accuracy (proved), attacked accuracy (not\n"
    "broken by the attack) and the count left unknown; certified <= attacked <= clean.\n\n"
    "options:\n";

#define MAX_EPS 64

static int parse_method(const char *s, cr_bound_method *m) {
    if (!strcmp(s, "ibp")) *m = CR_BOUND_IBP;
    else if (!strcmp(s, "crown")) *m = CR_BOUND_CROWN; /* IBP is always tried first */
    else if (!strcmp(s, "alpha") || !strcmp(s, "auto")) *m = CR_BOUND_ALPHA; /* IBP, CROWN, then α-CROWN */
    else if (!strcmp(s, "bab")) *m = CR_BOUND_ALPHA; /* then branch and bound (o.bab) */
    else return cli_error("certify: --method: '%s' is not ibp, crown, alpha, bab or auto", s);
    return CLI_OK;
}

/* One line before anything is printed when a layer's activation has no bound relaxation. */
static int refuse_unbounded(const cr_net *net, const char *model) {
    for (int l = 0; l < net->n_layers; l++) {
        const int hidden = l + 1 < net->n_layers;
        if (!hidden && !net->has_out_act) break;
        const cr_activation a = hidden ? net->act[l] : net->out_act;
        if (cr_activation_has_relaxation(a)) continue;
        char ok[256] = "", *p = ok;
        for (int b = 0; b < CR_ACT_COUNT; b++)
            if (cr_activation_has_relaxation((cr_activation)b) && p + 32 < ok + sizeof ok)
                p += snprintf(p, (size_t)(ok + sizeof ok - p), "%s%s", p == ok ? "" : ", ",
                              cr_activation_name((cr_activation)b));
        return cli_error("certify: %s: %s activation %s has no bound relaxation yet (certify bounds %s)", model,
                         hidden ? "a hidden layer's" : "the output", cr_activation_name(a), ok);
    }
    return CLI_OK;
}

static int vnncomp(const char *model, const char *head, const char *vnnlib, const char *result, const cr_certify_options *o) {
    cli_input in;
    memset(&in, 0, sizeof in);
    int rc = cli_input_model_head(model, "float64", head, &in);
    if (rc) return rc;
    if ((rc = refuse_unbounded(in.net, model))) {
        cli_input_free(&in);
        return rc;
    }
    const size_t d = cr_net_input_dim(in.net), k = cr_net_output_dim(in.net);
    cr_spec spec;
    cr_error err;
    if (cr_vnnlib_load(vnnlib, d, k, &spec, &err)) {
        cli_input_free(&in);
        return cli_io_error(&err);
    }
    /* an ONNX graph ending in Softmax: Y are probabilities (the importer notes it) */
    const int gout = in.model.graph_output;
    cr_certify_options opt = *o;
    opt.outputs_are_probs = gout == 1 || gout == 2;
    double *x = malloc((d + k) * sizeof *x), *y = x ? x + d : NULL;
    cr_certify_result res = {.witness = x, .witness_out = y};
    cr_status st = x ? cr_certify(in.net, &spec, &opt, &res) : CR_ERR_NOMEM;
    if (st != CR_OK) {
        rc = cli_error("certify: %s: %s", vnnlib,
                       st != CR_ERR_ARG ? cr_status_string(st)
                       : opt.outputs_are_probs
                           ? gout == 2 ? "the model ends in LogSoftmax: only order comparisons of outputs "
                                         "(Y_i <= Y_j) are supported, not thresholds on log-probabilities"
                                       : "the model ends in Softmax: only order comparisons of outputs "
                                         "(Y_i <= Y_j) are supported, not thresholds on probabilities"
                           : "the specification is not supported by the network (a bad box)");
    } else {
        if (res.verdict == CR_VERDICT_SAT && opt.outputs_are_probs) { /* Y: the graph's output, not o */
            double mx = y[0], sum = 0;
            for (size_t j = 1; j < k; j++) mx = y[j] > mx ? y[j] : mx;
            for (size_t j = 0; j < k; j++) sum += exp(y[j] - mx);
            for (size_t j = 0; j < k; j++) y[j] = gout == 2 ? y[j] - mx - log(sum) : exp(y[j] - mx) / sum;
        }
        if (result && cr_vnnlib_write_result(result, res.verdict, d, x, k, y, &err)) rc = cli_io_error(&err);
        else {
            printf("certify: %s on %s: %s", vnnlib, model, cr_verdict_name(res.verdict));
            if (res.verdict == CR_VERDICT_UNSAT)
                printf(" (proved by %s, margin >= %.3g)", res.proved_by, res.best_margin);
            else if (res.verdict == CR_VERDICT_SAT)
                printf(" (counterexample by %s, re-checked: violation %.3g)",
                       res.proved_by && !strcmp(res.proved_by, "bab") ? "branch and bound" : "the attack",
                       res.best_margin);
            printf(", %.3f s%s%s\n", res.seconds, result ? " -> " : "", result ? result : "");
            rc = CLI_OK;
        }
    }
    free(x);
    cr_spec_free(&spec);
    cli_input_free(&in);
    return rc;
}

int cmd_certify(int argc, char **argv) {
    const char *vnnlib = NULL, *result = NULL, *eps_s = NULL, *method_s = "auto", *clip_s = NULL;
    double timeout = 0;
    long restarts = 0, steps = 0;
    uint64_t seed = 1;
    int json = 0;
    cli_model_examples me;
    cli_model_examples_table(&me);
    const cli_opt opts[] = {
        CLI_INCLUDE(me.table),
        CLI_STR("--vnnlib", &vnnlib, "SPEC.vnnlib", "VNN-COMP mode: the property (VNN-LIB)"),
        CLI_STR("--result", &result, "FILE", "VNN-COMP mode: the result file to write"),
        CLI_DOUBLE("--timeout", &timeout, 0, 1e9, "S", "seconds per instance (default: none)"),
        CLI_STR("--eps", &eps_s, "E[,E2,...]", "dataset mode: L-inf radii"),
        CLI_STR("--clip", &clip_s, "LO,HI",
                "dataset mode: valid input range the balls are clipped to (default [0,1]\n"
                "for images, else none)"),
        CLI_STR("--method", &method_s, "ibp|crown|alpha|bab|auto",
                "bounds: ibp, crown (IBP first, CROWN on what it leaves), alpha (then\n"
                "alpha-CROWN: optimised slopes on what CROWN leaves), bab (then branch\n"
                "and bound on what alpha leaves); auto = alpha, and bab in VNN-COMP mode\n"
                "with --timeout (default auto)"),
        CLI_LONG("--restarts", &restarts, 1, 100000, "R", "attack restarts (default 10)"),
        CLI_LONG("--steps", &steps, 1, 1000000, "S", "attack steps per restart (default 50)"),
        CLI_U64("--seed", &seed, "N", "attack seed (default 1)"),
        CLI_FLAG("--json", &json, "dataset mode: JSON on stdout"),
        CLI_END,
    };
    int rc;
    if (!cli_parse(argc, argv, opts, help, &rc)) return rc;
    if (!me.model) return cli_error("certify: --model is required");
    cr_certify_options o = {0};
    o.timeout_s = timeout;
    o.attack_restarts = (size_t)restarts;
    o.attack_steps = (size_t)steps;
    o.seed = seed;
    if ((rc = parse_method(method_s, &o.bound.method))) return rc;
    /* branch and bound: asked for, or auto in VNN-COMP mode when a timeout bounds it */
    o.bab = !strcmp(method_s, "bab") || (vnnlib && timeout > 0 && !strcmp(method_s, "auto"));
    if (vnnlib) {
        const cli_examples_opts *ex = &me.examples;
        if (eps_s || json || clip_s || ex->inputs || ex->labels || ex->data || ex->index || ex->limit)
            return cli_error("certify: --vnnlib takes no --eps, --clip, --json, --inputs, --labels, --data, "
                             "--index or --limit (dataset mode): the property gives the box");
        return vnncomp(me.model, me.head, vnnlib, result, &o);
    }
    if (result) return cli_error("certify: --result needs --vnnlib");
    if (!eps_s) return cli_error("certify: give --vnnlib SPEC, or --eps with data (see --help)");
    double eps[MAX_EPS];
    size_t n_eps = 0;
    {
        char buf[1024];
        if (strlen(eps_s) >= sizeof buf) return cli_error("certify: --eps: too long");
        strcpy(buf, eps_s);
        const size_t len = strlen(buf);
        if (!len || buf[0] == ',' || buf[len - 1] == ',' || strstr(buf, ",,"))
            return cli_error("certify: --eps: '%s' has an empty value", eps_s);
        for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
            if (n_eps == MAX_EPS) return cli_error("certify: --eps: at most %d values", MAX_EPS);
            if (!cli_parse_double("--eps", tok, 0, 1e6, &eps[n_eps])) return CLI_USAGE;
            n_eps++;
        }
        if (!n_eps) return cli_error("certify: --eps: no value");
    }
    cli_input in;
    if ((rc = cli_input_load(&me, "float64", NULL, &in))) return rc;
    if (!in.labels) {
        cli_input_free(&in);
        return cli_error("certify: %s: no labels (give --labels, or --data with labels)", in.source);
    }
    if ((rc = refuse_unbounded(in.net, me.model))) {
        cli_input_free(&in);
        return rc;
    }
    if (in.net->head != CR_HEAD_SOFTMAX_CE) {
        cli_input_free(&in);
        return cli_error("certify: %s: dataset mode needs a classifier (softmax head)", me.model);
    }
    /* the balls' valid range: --clip, else [0, 1] for images (cli_input's range of image data), else none;
       never the range of the selected examples, which would make a verdict depend on the others */
    double lo = -INFINITY, hi = INFINITY;
    if (clip_s) {
        char *end;
        lo = strtod(clip_s, &end);
        if (end == clip_s || *end != ',' || (hi = strtod(end + 1, &end), *end) || !(lo < hi)) {
            cli_input_free(&in);
            return cli_error("certify: --clip: '%s' is not LO,HI with LO < HI", clip_s);
        }
    } else if (in.height) { /* images (a shape, never the selected values): [0, 1] */
        lo = in.lo, hi = in.hi;
    }
    const size_t n = in.n, d = in.d, k = in.k;
    int64_t *pred = malloc(n * sizeof *pred);
    if (!pred) {
        cli_input_free(&in);
        return cli_error("certify: out of memory");
    }
    if ((rc = cli_predict(&in, in.x, n, pred))) goto done;
    size_t clean = 0;
    for (size_t i = 0; i < n; i++) clean += pred[i] == in.labels[i];
    const double *x = in.x; /* float64: loaded so */
    for (size_t i = 0; i < n * d; i++)
        if (x[i] < lo || x[i] > hi) {
            rc = cli_error("certify: %s: example %zu has feature %zu = %g outside --clip [%g, %g]", in.source,
                           in.first + i / d, i % d, x[i], lo, hi);
            goto done;
        }
    char range[96] = "not clipped";
    if (isfinite(lo)) snprintf(range, sizeof range, "clipped to [%g, %g]", lo, hi);
    if (!json)
        printf("certify: %zu examples of %s, L-inf balls %s, bounds %s, attack %zu x %zu steps\n"
               "  %10s %8s %10s %10s %8s %9s\n",
               n, in.source, range, method_s, restarts ? (size_t)restarts : 10,
               steps ? (size_t)steps : 50, "eps", "clean", "certified", "attacked", "unknown", "seconds");
    else printf("{\"examples\": %zu, \"method\": \"%s\", \"results\": [", n, method_s);
    for (size_t e = 0; e < n_eps; e++) {
        size_t proved = 0, broken = 0, unknown = 0;
        double secs = 0;
        for (size_t i = 0; i < n; i++) {
            cr_spec spec;
            cr_status st = cr_spec_linf(d, k, x + i * d, eps[e], lo, hi, in.labels[i], &spec);
            cr_certify_result res = {0};
            if (st == CR_OK) {
                o.seed = seed ^ (uint64_t)i;
                st = cr_certify(in.net, &spec, &o, &res);
                cr_spec_free(&spec);
            }
            if (st != CR_OK) {
                rc = cli_error("certify: %s: example %zu: %s", in.source, in.first + i,
                               cr_status_string(st));
                goto done;
            }
            secs += res.seconds;
            if (res.verdict == CR_VERDICT_UNSAT) proved++;
            else if (res.verdict == CR_VERDICT_SAT || pred[i] != in.labels[i]) broken++;
            else unknown++;
        }
        /* attacked: correct at x and no counterexample found; unsat implies correct at x (strict margins) */
        size_t attacked = n - broken;
        double dn = (double)n;
        if (json)
            printf("%s{\"eps\": %g, \"clean_accuracy\": %.6f, \"certified_accuracy\": %.6f, "
                   "\"attacked_accuracy\": %.6f, \"unknown\": %zu, \"seconds\": %.4f}",
                   e ? ", " : "", eps[e], clean / dn, proved / dn, attacked / dn, unknown, secs);
        else
            printf("  %10g %7.2f%% %9.2f%% %9.2f%% %8zu %9.3f\n", eps[e], 100.0 * clean / dn, 100.0 * proved / dn,
                   100.0 * attacked / dn, unknown, secs);
    }
    if (json) printf("]}\n");
    rc = CLI_OK;
done:
    free(pred);
    cli_input_free(&in);
    return rc;
}
