/* chainrule certify: proofs over regions (VNN-COMP mode and dataset mode); the library does the work. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "chainrule_typed.h"
#include "chainrule_certify.h"
#include "chainrule_data.h"
#include "chainrule_io.h"
#include "cli_input.h"

static const char *const help =
    "usage: chainrule certify --model NET.onnx --vnnlib SPEC.vnnlib [--timeout S] [--result FILE]\n"
    "       chainrule certify --model M (--data SPEC | --inputs X.npy --labels Y.npy) [--index A:B]\n"
    "                         (--eps E1[,E2,...] | --radius) [--method ibp|crown|alpha|bab|auto] [--json]\n"
    "                         [--png PLOT.png] [--out R.npy]\n\n"
    "Proofs over regions. A margin attack (PGD over the box, every witness re-checked by an\n"
    "independent evaluator with a rigorous bound on its rounding) runs first, then sound bounds\n"
    "(float64 with rounding slack). Verdicts: unsat (proved: no point of the box violates the\n"
    "property), sat (a checked counterexample), unknown, timeout; never a wrong one.\n\n"
    "VNN-COMP mode writes the result file (unsat, sat with the counterexample, unknown, timeout)\n"
    "and prints one line; exit 0 for any verdict, 2 for bad input.\n"
    "Dataset mode: per eps, for the L-inf ball around each example (clipped to --clip, or to\n"
    "[0,1] for images), clean accuracy, certified accuracy (proved), attacked accuracy (not\n"
    "broken by the attack) and the count left unknown; certified <= attacked <= clean.\n"
    "Each example: a misclassified one is its own counterexample; then IBP and the\n"
    "method's bounds; the attack only on the examples they do not prove.\n"
    "--radius: each example's bracket [certified, attacked] by bisection, with quantiles.\n\n"
    "options:\n";

#define MAX_EPS 64

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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
    for (int l = 0; l < cr_net_n_layers(net); l++) {
        const int hidden = l + 1 < cr_net_n_layers(net);
        if (!hidden && !cr_net_output_activation(net, NULL)) break;
        const cr_activation a = hidden ? cr_net_activation(net, l) : cr_net_activation(net, cr_net_n_layers(net) - 1);
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

/* The net certify bounds: the file's own, not its float64 copy: a float32 net's leaky-ReLU slope is the float nearest
   0.01 (an ONNX LeakyRelu's alpha attribute is that float), which cr_certify bounds exactly; the copy's is 0.01. */
static const cr_net *certified_net(const cli_input *in) { return in->model.net ? in->model.net : in->net; }

static int vnncomp(const char *model, const char *head, const char *vnnlib, const char *result,
                   const cr_certify_options *o) {
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
    if (cr_vnnlib_load(vnnlib, d, k, &spec)) {
        cli_input_free(&in);
        return cli_io_error();
    }
    /* an ONNX graph ending in Softmax: Y are probabilities (the importer notes it) */
    const int gout = in.model.graph_output;
    cr_certify_options opt = *o;
    opt.outputs_are_probs = gout == 1 || gout == 2;
    double *x = malloc((d + k) * sizeof *x), *y = x ? x + d : NULL;
    cr_certify_result res = {.witness = x, .witness_out = y};
    cr_status st = x ? cr_certify(cli_ctx(), certified_net(&in), &spec, &opt, &res) : CR_ERR_NOMEM;
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
        if (result && cr_vnnlib_write_result(result, res.verdict, d, x, k, y)) rc = cli_io_error();
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

/* ---------------------------------------------------------------- dataset mode */

/* --out's verdict codes, per example x eps (uint8) */
enum { CODE_PROVED = 0, CODE_BROKEN = 1, CODE_UNKNOWN = 2, CODE_TIMEOUT = 3, CODE_MISCLASSIFIED = 4 };

typedef struct {
    const cli_input *in;
    const int64_t *pred; /* the clean predictions */
    double lo, hi;       /* the balls' valid range */
    cr_certify_options o;
    uint64_t seed;
    const char *method, *range;
    size_t restarts, steps;
    int json;
} dataset;

static int example_error(const dataset *ds, size_t i, cr_status st) {
    return cli_error("certify: %s: example %zu: %s", ds->in->source, ds->in->first + i, cr_status_string(st));
}

/* Per eps: the table row (or JSON element); codes (n x n_eps) and the accuracies for the picture. */
static int eps_table(const dataset *ds, const double *eps, size_t n_eps, uint8_t *codes, double *cert, double *att) {
    const cli_input *in = ds->in;
    const size_t n = in->n, d = in->d;
    size_t clean = 0;
    for (size_t i = 0; i < n; i++) clean += ds->pred[i] == in->labels[i];
    if (!ds->json)
        printf("certify: %zu examples of %s, L-inf balls %s, bounds %s, attack %zu x %zu steps\n"
               "  %10s %8s %10s %10s %8s %9s\n",
               n, in->source, ds->range, ds->method, ds->restarts, ds->steps, "eps", "clean", "certified",
               "attacked", "unknown", "seconds");
    else printf("{\"examples\": %zu, \"method\": \"%s\", \"results\": [", n, ds->method);
    for (size_t e = 0; e < n_eps; e++) {
        size_t proved = 0, broken = 0, unknown = 0;
        double secs = 0;
        for (size_t i = 0; i < n; i++) {
            cr_certify_options o = ds->o;
            o.seed = ds->seed ^ (uint64_t)i;
            cr_certify_result res = {0};
            cr_status st = cr_certify_linf(cli_ctx(), certified_net(in), (const double *)in->x + i * d, eps[e], ds->lo,
                                           ds->hi,
                                           in->labels[i], &o, &res);
            if (st != CR_OK) return example_error(ds, i, st);
            secs += res.seconds;
            uint8_t code;
            if (res.verdict == CR_VERDICT_UNSAT) code = CODE_PROVED, proved++;
            else if (ds->pred[i] != in->labels[i] || (res.proved_by && !strcmp(res.proved_by, "centre")))
                code = CODE_MISCLASSIFIED, broken++;
            else if (res.verdict == CR_VERDICT_SAT) code = CODE_BROKEN, broken++;
            else code = res.verdict == CR_VERDICT_TIMEOUT ? CODE_TIMEOUT : CODE_UNKNOWN, unknown++;
            codes[i * n_eps + e] = code;
        }
        /* attacked: correct at x and no counterexample found; unsat implies correct at x (strict margins) */
        const size_t attacked = n - broken;
        const double dn = (double)n;
        cert[e] = proved / dn, att[e] = attacked / dn;
        if (ds->json)
            printf("%s{\"eps\": %g, \"clean_accuracy\": %.6f, \"certified_accuracy\": %.6f, "
                   "\"attacked_accuracy\": %.6f, \"unknown\": %zu, \"seconds\": %.4f}",
                   e ? ", " : "", eps[e], clean / dn, proved / dn, attacked / dn, unknown, secs);
        else
            printf("  %10g %7.2f%% %9.2f%% %9.2f%% %8zu %9.3f\n", eps[e], 100.0 * clean / dn, 100.0 * proved / dn,
                   100.0 * attacked / dn, unknown, secs);
    }
    if (ds->json) printf("]}\n");
    return CLI_OK;
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const double quantile_q[] = {0, 0.1, 0.25, 0.5, 0.75, 0.9, 1};
#define N_Q (sizeof quantile_q / sizeof quantile_q[0])

/* nearest-rank quantiles of column col of rad (n x 2); NaN (nothing proved) counts as 0 */
static int quantiles(const double *rad, size_t n, int col, double *q) {
    double *v = malloc(n * sizeof *v);
    if (!v) return cli_error("certify: out of memory");
    for (size_t i = 0; i < n; i++) v[i] = isnan(rad[2 * i + col]) ? 0 : rad[2 * i + col];
    qsort(v, n, sizeof *v, cmp_double);
    for (size_t j = 0; j < N_Q; j++) q[j] = v[(size_t)lround(quantile_q[j] * (double)(n - 1))];
    free(v);
    return CLI_OK;
}

static void json_num(const char *sep, double v) {
    if (isfinite(v)) printf("%s%.9g", sep, v);
    else printf("%snull", sep);
}

static void radius_report(const dataset *ds, const double *rad, double rmax, double tol, double secs) {
    const size_t n = ds->in->n;
    double qc[N_Q], qa[N_Q];
    if (quantiles(rad, n, 0, qc) || quantiles(rad, n, 1, qa)) return;
    size_t none = 0, unbroken = 0;
    for (size_t i = 0; i < n; i++) none += isnan(rad[2 * i]), unbroken += isinf(rad[2 * i + 1]);
    if (ds->json) {
        printf("{\"examples\": %zu, \"method\": \"%s\", \"radius_max\": %g, \"radius_tol\": %g, \"seconds\": %.4f, "
               "\"quantiles\": [", n, ds->method, rmax, tol, secs);
        for (size_t j = 0; j < N_Q; j++) printf("%s%g", j ? ", " : "", quantile_q[j]);
        const char *names[4] = {"certified_quantiles", "attacked_quantiles", "certified_radius", "attacked_radius"};
        for (int c = 0; c < 4; c++) {
            printf("], \"%s\": [", names[c]);
            const size_t m = c < 2 ? N_Q : n;
            for (size_t j = 0; j < m; j++)
                json_num(j ? ", " : "", c == 0 ? qc[j] : c == 1 ? qa[j] : rad[2 * j + c - 2]);
        }
        printf("]}\n");
        return;
    }
    printf("certify: %zu examples of %s, L-inf balls %s, bounds %s, attack %zu x %zu steps\n"
           "  radius bracket by bisection on [0, %g] to %g: certified = the largest eps proved, attacked = the\n"
           "  smallest eps broken (the true radius lies between)\n  %-10s",
           n, ds->in->source, ds->range, ds->method, ds->restarts, ds->steps, rmax, tol, "quantile");
    for (size_t j = 0; j < N_Q; j++) {
        char lab[16];
        snprintf(lab, sizeof lab, "%g%%", 100 * quantile_q[j]);
        printf(" %9s", j == 0 ? "min" : j == N_Q - 1 ? "max" : j == 3 ? "median" : lab);
    }
    printf("\n");
    for (int c = 0; c < 2; c++) {
        printf("  %-10s", c ? "attacked" : "certified");
        for (size_t j = 0; j < N_Q; j++) {
            const double v = c ? qa[j] : qc[j];
            if (isinf(v)) printf(" %9s", ">max");
            else printf(" %9.4g", v);
        }
        printf("\n");
    }
    printf("  %zu of %zu misclassified or not proved even at eps 0 (certified 0 above), %zu not broken up to %g; "
           "%.3f s\n", none, n, unbroken, rmax, secs);
}

static int radius_run(const dataset *ds, double rmax, double tol, double *rad) {
    const cli_input *in = ds->in;
    for (size_t i = 0; i < in->n; i++) {
        cr_certify_options o = ds->o;
        o.seed = ds->seed ^ (uint64_t)i;
        cr_status st = cr_certify_radius_linf(cli_ctx(), certified_net(in), (const double *)in->x + i * in->d, ds->lo,
                                              ds->hi,
                                              in->labels[i], rmax, tol, &o, &rad[2 * i], &rad[2 * i + 1]);
        if (st != CR_OK) return example_error(ds, i, st);
    }
    return CLI_OK;
}

/* The picture: attacked (upper) and certified (lower) accuracy against eps, the gap shaded. */
static int plot(const dataset *ds, const char *path, size_t m, const double *x, const double *att,
                const double *cert) {
    char title[96], lower[64];
    snprintf(title, sizeof title, "accuracy against eps (%zu examples)", ds->in->n);
    snprintf(lower, sizeof lower, "certified (%s): proved", ds->method);
    cr_plot_band p = {.n = m, .x = x, .upper = att, .lower = cert, .title = title,
                      .xlabel = "L-inf eps", .ylabel = "accuracy",
                      .upper_name = "attacked (PGD): not broken", .lower_name = lower,
                      .band_name = "gap: neither proved nor broken",
                      .upper_rgb = {214, 39, 40}, .lower_rgb = {31, 119, 180}};
    if (cr_plot_band_png(path, &p)) return cli_io_error();
    return CLI_OK;
}

/* The curves from the radii: proved at eps iff certified >= eps, not broken iff attacked > eps. */
static int plot_radius(const dataset *ds, const char *path, const double *rad, double rmax) {
    enum { M = 201 };
    double x[M], att[M], cert[M];
    const size_t n = ds->in->n;
    for (size_t j = 0; j < M; j++) {
        x[j] = rmax * (double)j / (M - 1);
        size_t c = 0, a = 0;
        for (size_t i = 0; i < n; i++) c += rad[2 * i] >= x[j], a += rad[2 * i + 1] > x[j];
        cert[j] = (double)c / (double)n, att[j] = (double)a / (double)n;
    }
    return plot(ds, path, M, x, att, cert);
}

/* An output's folder must exist and be writable (checked before the work, not after it). */
static int check_dest(const char *opt, const char *path) {
    struct stat st;
    if (!stat(path, &st) && S_ISDIR(st.st_mode)) return cli_error("certify: %s %s: is a directory", opt, path);
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (strlen(path) >= sizeof dir) return cli_error("certify: %s: path too long", opt);
    if (!slash) strcpy(dir, ".");
    else if (slash == path) strcpy(dir, "/");
    else memcpy(dir, path, (size_t)(slash - path)), dir[slash - path] = 0;
    if (access(dir, W_OK) != 0)
        return cli_error("certify: %s %s: folder %s: %s", opt, path, dir, strerror(errno));
    return CLI_OK;
}

static int parse_eps(const char *eps_s, double *eps, size_t *n_eps) {
    char buf[1024];
    *n_eps = 0;
    if (strlen(eps_s) >= sizeof buf) return cli_error("certify: --eps: too long");
    strcpy(buf, eps_s);
    const size_t len = strlen(buf);
    if (!len || buf[0] == ',' || buf[len - 1] == ',' || strstr(buf, ",,"))
        return cli_error("certify: --eps: '%s' has an empty value", eps_s);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        if (*n_eps == MAX_EPS) return cli_error("certify: --eps: at most %d values", MAX_EPS);
        if (!cli_parse_double("--eps", tok, 0, 1e6, &eps[*n_eps])) return CLI_USAGE;
        (*n_eps)++;
    }
    return *n_eps ? CLI_OK : cli_error("certify: --eps: no value");
}

/* the balls' valid range: --clip, else [0, 1] for images (cli_input's range of image data), else none; never the
   range of the selected examples, which would make a verdict depend on the others */
static int valid_range(const cli_input *in, const char *clip_s, double *lo, double *hi) {
    *lo = -INFINITY, *hi = INFINITY;
    if (clip_s) {
        char *end;
        *lo = strtod(clip_s, &end);
        if (end == clip_s || *end != ',' || (*hi = strtod(end + 1, &end), *end) || !(*lo < *hi))
            return cli_error("certify: --clip: '%s' is not LO,HI with LO < HI", clip_s);
    } else if (in->height) { /* images (a shape, never the selected values): [0, 1] */
        *lo = in->lo, *hi = in->hi;
    }
    const double *x = in->x; /* float64: loaded so */
    for (size_t i = 0; i < in->n * in->d; i++)
        if (x[i] < *lo || x[i] > *hi)
            return cli_error("certify: %s: example %zu has feature %zu = %g outside --clip [%g, %g]", in->source,
                             in->first + i / in->d, i % in->d, x[i], *lo, *hi);
    return CLI_OK;
}

typedef struct {
    const char *eps_s, *clip_s, *out, *png, *method;
    int json, radius;
    double rmax, tol;
    uint64_t seed;
    size_t restarts, steps;
} dataset_args;

static int dataset_run(const dataset_args *a, const cli_model_examples *me, const cr_certify_options *o) {
    double eps[MAX_EPS];
    size_t n_eps = 0;
    int rc;
    if (a->radius && a->eps_s)
        return cli_error("certify: --radius brackets each radius on [0, --radius-max]: no --eps");
    if (!a->radius && (a->rmax > 0 || a->tol > 0))
        return cli_error("certify: --radius-max and --radius-tol need --radius");
    if (!a->radius && (rc = parse_eps(a->eps_s, eps, &n_eps))) return rc;
    if (a->out && a->png && !strcmp(a->out, a->png)) return cli_error("certify: --out and --png name the same file");
    if ((a->out && (rc = check_dest("--out", a->out))) || (a->png && (rc = check_dest("--png", a->png)))) return rc;
    cli_input in;
    if ((rc = cli_input_load(me, "float64", NULL, &in))) return rc;
    int64_t *pred = NULL;
    void *buf = NULL;
    if (!in.labels) {
        rc = cli_error("certify: %s: no labels (give --labels, or --data with labels)", in.source);
        goto done;
    }
    if ((rc = refuse_unbounded(in.net, me->model))) goto done;
    if (cr_net_head(in.net) != CR_HEAD_SOFTMAX_CE) {
        rc = cli_error("certify: %s: dataset mode needs a classifier (softmax head)", me->model);
        goto done;
    }
    char range[96] = "not clipped";
    dataset ds = {.in = &in, .o = *o, .seed = a->seed, .method = a->method, .range = range,
                  .restarts = a->restarts, .steps = a->steps, .json = a->json};
    if ((rc = valid_range(&in, a->clip_s, &ds.lo, &ds.hi))) goto done;
    if (isfinite(ds.lo)) snprintf(range, sizeof range, "clipped to [%g, %g]", ds.lo, ds.hi);
    const size_t n = in.n;
    pred = malloc(n * sizeof *pred);
    /* radius: n x 2 doubles; eps: n x n_eps codes, then 3 x n_eps doubles (sorted eps, attacked, certified) */
    buf = malloc(a->radius ? 2 * n * sizeof(double) : n * n_eps + 7 * n_eps * sizeof(double) + 8);
    if (!pred || !buf) {
        rc = cli_error("certify: out of memory");
        goto done;
    }
    ds.pred = pred;
    if ((rc = cli_predict(&in, in.x, n, pred))) goto done;
    if (a->radius) {
        const double rmax = a->rmax > 0 ? a->rmax : isfinite(ds.hi - ds.lo) ? ds.hi - ds.lo : 1;
        const double tol = a->tol > 0 ? a->tol : rmax / 1024, t0 = now_seconds();
        double *rad = buf;
        if ((rc = radius_run(&ds, rmax, tol, rad))) goto done;
        radius_report(&ds, rad, rmax, tol, now_seconds() - t0);
        const size_t shape[2] = {n, 2};
        if (a->out && (rc = cli_write_real_npy(a->out, CR_F64, 2, shape, rad))) goto done;
        if (a->png && (rc = plot_radius(&ds, a->png, rad, rmax))) goto done;
    } else {
        uint8_t *codes = buf;
        double *f = (double *)((char *)buf + ((n * n_eps + 7) & ~(size_t)7)), *cert = f, *att = f + n_eps,
               *xs = f + 2 * n_eps, *ys = f + 3 * n_eps, *yc = f + 4 * n_eps;
        if ((rc = eps_table(&ds, eps, n_eps, codes, cert, att))) goto done;
        if (a->out) {
            cr_array arr = {.dtype = CR_ARRAY_U8, .ndim = 2, .shape = {n, n_eps}, .count = n * n_eps, .data = codes};
            if (cr_npy_write(a->out, &arr)) {
                rc = cli_io_error();
                goto done;
            }
        }
        if (a->png) { /* the points in increasing eps */
            size_t *ord = (size_t *)(f + 5 * n_eps);
            for (size_t e = 0; e < n_eps; e++) ord[e] = e;
            for (size_t e = 1; e < n_eps; e++)
                for (size_t j = e; j > 0 && eps[ord[j]] < eps[ord[j - 1]]; j--) {
                    const size_t t = ord[j];
                    ord[j] = ord[j - 1], ord[j - 1] = t;
                }
            for (size_t e = 0; e < n_eps; e++) xs[e] = eps[ord[e]], ys[e] = att[ord[e]], yc[e] = cert[ord[e]];
            if ((rc = plot(&ds, a->png, n_eps, xs, ys, yc))) goto done;
        }
    }
    if (!a->json && a->out) printf("  %s -> %s\n", a->radius ? "radii (certified, attacked)" : "verdict codes", a->out);
    if (!a->json && a->png) printf("  picture -> %s\n", a->png);
    rc = CLI_OK;
done:
    free(pred);
    free(buf);
    cli_input_free(&in);
    return rc;
}

int cmd_certify(int argc, char **argv) {
    const char *vnnlib = NULL, *result = NULL;
    dataset_args a = {.method = "auto", .seed = 1};
    double timeout = 0;
    long restarts = 0, steps = 0;
    cli_model_examples me;
    cli_model_examples_table(&me);
    const cli_opt opts[] = {
        CLI_INCLUDE(me.table),
        CLI_HEADING("VNN-COMP mode"),
        CLI_STR("--vnnlib", &vnnlib, "SPEC.vnnlib", "VNN-COMP mode: the property (VNN-LIB)"),
        CLI_STR("--result", &result, "FILE", "VNN-COMP mode: the result file to write"),
        CLI_DOUBLE("--timeout", &timeout, 0, 1e9, "S", "seconds per instance (default: none)"),
        CLI_HEADING("dataset mode"),
        CLI_STR("--eps", &a.eps_s, "E[,E2,...]", "dataset mode: L-inf radii"),
        CLI_STR("--clip", &a.clip_s, "LO,HI",
                "dataset mode: valid input range the balls are clipped to (default [0,1]\n"
                "for images, else none)"),
        CLI_HEADING("the bounds and the attack (both modes)"),
        CLI_STR("--method", &a.method, "ibp|crown|alpha|bab|auto",
                "bounds: ibp, crown (IBP first, CROWN on what it leaves), alpha (then\n"
                "alpha-CROWN: optimised slopes on what CROWN leaves), bab (then branch\n"
                "and bound on what alpha leaves); auto = alpha, and bab in VNN-COMP mode\n"
                "with --timeout (default auto)"),
        CLI_LONG("--restarts", &restarts, 1, 100000, "R", "attack restarts (default 10)"),
        CLI_LONG("--steps", &steps, 1, 1000000, "S", "attack steps per restart (default 50)"),
        CLI_U64("--seed", &a.seed, "N", "attack seed (default 1)"),
        CLI_HEADING("dataset mode: outputs, radius brackets"),
        CLI_FLAG("--json", &a.json, "dataset mode: JSON on stdout"),
        CLI_FLAG("--radius", &a.radius,
                 "dataset mode: each example's radius bracket by bisection instead of\n"
                 "--eps: the largest eps proved and the smallest eps broken"),
        CLI_DOUBLE("--radius-max", &a.rmax, 1e-300, 1e6, "E",
                   "--radius: the bisection's range [0, E] (default: the --clip width,\n"
                   "1 for images, else 1)"),
        CLI_DOUBLE("--radius-tol", &a.tol, 1e-300, 1e6, "T", "--radius: bisection tolerance (default E/1024)"),
        CLI_STR("--png", &a.png, "PLOT.png",
                "dataset mode: certified and attacked accuracy against eps, the gap\n"
                "shaded"),
        CLI_STR("--out", &a.out, "R.npy",
                "dataset mode: per example x eps verdict codes (uint8): 0 proved,\n"
                "1 broken by the attack, 2 unknown, 3 timeout, 4 misclassified;\n"
                "with --radius, per example (certified, attacked) radii (float64;\n"
                "NaN: nothing proved, inf: not broken up to --radius-max)"),
        CLI_END,
    };
    int rc;
    if (!cli_parse(argc, argv, opts, help, &rc)) return rc;
    cr_certify_options o = {0};
    o.timeout_s = timeout;
    o.attack_restarts = (size_t)restarts;
    o.attack_steps = (size_t)steps;
    o.seed = a.seed;
    if ((rc = parse_method(a.method, &o.bound.method))) return rc;
    /* branch and bound: asked for, or auto in VNN-COMP mode when a timeout bounds it */
    o.bab = !strcmp(a.method, "bab") || (vnnlib && timeout > 0 && !strcmp(a.method, "auto"));
    if (vnnlib) {
        const cli_examples_opts *ex = &me.examples;
        if (a.eps_s || a.json || a.clip_s || ex->inputs || ex->labels || ex->data || ex->index || ex->limit ||
            a.radius || a.png || a.out || a.rmax > 0 || a.tol > 0)
            return cli_error("certify: --vnnlib takes no --eps, --clip, --json, --inputs, --labels, --data, "
                             "--index, --limit, --radius, --png or --out (dataset mode): the property gives the box");
        return vnncomp(me.model, me.head, vnnlib, result, &o);
    }
    if (result) return cli_error("certify: --result needs --vnnlib");
    if (!a.eps_s && !a.radius)
        return cli_error("certify: give --vnnlib SPEC, or --eps (or --radius) with data (see --help)");
    a.restarts = restarts ? (size_t)restarts : 10;
    a.steps = steps ? (size_t)steps : 50;
    return dataset_run(&a, &me, &o);
}
