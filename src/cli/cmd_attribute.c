/* chainrule attribute: saliency, input x gradient, integrated gradients, SmoothGrad. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "cli_input.h"

static const char *const help =
    "usage: chainrule attribute --model MODEL (--data SPEC | --inputs X.npy [--labels Y.npy])\n"
    "                           --method METHOD --out ATTR.npy [--png ATTR.png] [options]\n\n"
    "Attribution maps (in the inputs' shape) of the score f of one class per example, with respect to the raw\n"
    "input. A regressor (the squared-error head): f is one output o_k (--output K; o_0 when it\n"
    "has one output), the same methods.\n\n"
    "options:\n";

/* The command's options. */
typedef struct {
    const char *threads, *out, *method_s, *target_s, *class_s, *output_s, *of, *rule, *baseline_s, *png;
    long steps, max_steps, samples, cols, scale, grid;
    double tol, noise_frac;
    uint64_t seed;
    int json, absolute;
    cli_model_examples me;
} attr_args;

/* A run: the options, the inputs, the classes explained and the maps. */
typedef struct {
    const attr_args *a;
    cr_attr_options o;
    cli_input in;
    int64_t *pred, *cls; /* n each: the predicted class, the class explained */
    int regress;         /* the squared-error head: f = o_K */
    const char *what;    /* which class (output) is explained, in words */
    char what_buf[48];
    void *attr, *base;   /* n x d maps; the baseline (d) or NULL */
    double *score, *score_b, *gap;
    size_t *used;
} attr_run;

static void run_free(attr_run *r) {
    free(r->pred);
    free(r->cls);
    free(r->attr);
    free(r->base);
    free(r->score);
    free(r->score_b);
    free(r->gap);
    free(r->used);
    cli_input_free(&r->in);
}

/* The method and its options into r->o. */
static int parse_method(attr_run *r) {
    const attr_args *a = r->a;
    cr_attr_options *o = &r->o;
    if (cr_attr_method_parse(a->method_s, &o->method) != CR_OK)
        return cli_error("attribute: --method: '%s' is not saliency, input-x-gradient, "
                         "integrated-gradients or smoothgrad", a->method_s);
    if (!cli_parse_of("attribute", a->of, &o->of_probs)) return CLI_USAGE;
    if (!strcmp(a->rule, "trapezoid")) o->trapezoid = 1;
    else if (strcmp(a->rule, "riemann"))
        return cli_error("attribute: --rule: '%s' is not riemann or trapezoid", a->rule);
    o->absolute = a->absolute;
    o->steps = (size_t)a->steps;
    o->max_steps = (size_t)a->max_steps;
    o->tol = a->tol;
    o->samples = (size_t)a->samples;
    o->seed = a->seed;
    return CLI_OK;
}

/* The class explained per example: --class, the prediction, or the label. */
static int choose_classes(attr_run *r) {
    const attr_args *a = r->a;
    const cli_input *in = &r->in;
    const size_t n = in->n;
    long v;
    if (r->regress) {
        v = 0;
        if (a->output_s && !cli_parse_long("--output", a->output_s, 0, (long)in->k - 1, &v)) return CLI_USAGE;
        for (size_t i = 0; i < n; i++) r->cls[i] = v;
        snprintf(r->what_buf, sizeof r->what_buf, "output o_%ld", v);
        r->what = r->what_buf;
    } else if (a->class_s) {
        if (!cli_parse_long("--class", a->class_s, 0, (long)in->k - 1, &v)) return CLI_USAGE;
        for (size_t i = 0; i < n; i++) r->cls[i] = v;
        r->what = "the given class";
    } else if ((a->target_s && !strcmp(a->target_s, "pred")) || (!a->target_s && !in->labels)) {
        memcpy(r->cls, r->pred, n * sizeof(int64_t));
        r->what = "the predicted class";
    } else if (!a->target_s || !strcmp(a->target_s, "label")) {
        if (!in->labels)
            return cli_error("attribute: --target label needs labels (--data, or --labels with --inputs)");
        memcpy(r->cls, in->labels, n * sizeof(int64_t));
        r->what = "the true class";
    } else {
        return cli_error("attribute: --target: '%s' is not label or pred", a->target_s);
    }
    return CLI_OK;
}

/* --baseline B.npy: one input, uint8 pixels scaled to [0, 1]. */
static int load_baseline(attr_run *r) {
    const char *path = r->a->baseline_s;
    if (!path || !strcmp(path, "zero")) return CLI_OK;
    const cr_dtype t = cr_net_dtype(r->in.net);
    const size_t d = r->in.d;
    cr_array ba;
    if (cr_npy_read(path, &ba) != 0) return cli_io_error();
    int okb = ba.count == d, pixels = ba.dtype == CR_ARRAY_U8;
    if (okb && cr_array_to_real(path, &ba, t, &r->base) != 0) {
        cr_array_free(&ba);
        return cli_io_error();
    }
    cr_array_free(&ba);
    if (!okb) return cli_error("%s: the baseline must have %zu values (one input)", path, d);
    if (pixels)
        for (size_t j = 0; j < d; j++) cli_set(t, r->base, j, cli_get(t, r->base, j) / 255.0);
    return CLI_OK;
}

/* The inputs, the predictions, the classes, the baseline, then the maps. */
static int compute(attr_run *r) {
    const attr_args *a = r->a;
    int rc;
    if ((rc = cli_input_load(&a->me, NULL, a->png, &r->in))) return rc;
    cli_input *in = &r->in;
    /* a regressor: f = o_K, one output of the network (no class, no probability) */
    const int regress = r->regress = cr_net_head(in->net) == CR_HEAD_SQUARED_ERROR;
    if (regress && (r->o.of_probs || a->target_s || a->class_s))
        return cli_error("attribute: %s is a regressor (squared-error head): it has no %s; "
                         "choose the output with --output K", a->me.model,
                         r->o.of_probs ? "probabilities (--of probs)" : "classes (--target, --class)");
    if (!regress && a->output_s)
        return cli_error("attribute: --output is for regressors; %s is a classifier: choose the "
                         "class with --class C or --target label|pred", a->me.model);
    if (regress && !a->output_s && in->k > 1)
        return cli_error("attribute: %s is a regressor with %zu outputs: choose the one to explain "
                         "with --output K (0..%zu)", a->me.model, in->k, in->k - 1);
    if (!regress && (rc = cli_require_plain("attribute", a->me.model, in->net))) return rc;
    const cr_dtype t = cr_net_dtype(in->net);
    const size_t n = in->n, d = in->d, es = cr_dtype_size(t);
    r->o.noise = a->noise_frac * (in->hi - in->lo);
    r->pred = malloc(n * sizeof(int64_t)), r->cls = malloc(n * sizeof(int64_t));
    r->attr = malloc(n * d * es);
    r->score = malloc(n * sizeof(double)), r->score_b = malloc(n * sizeof(double));
    r->gap = malloc(n * sizeof(double));
    r->used = malloc(n * sizeof(size_t));
    if (!r->pred || !r->cls || !r->attr || !r->score || !r->score_b || !r->gap || !r->used)
        return cli_error("attribute: out of memory");
    if ((rc = cli_predict(in, in->x, n, r->pred)) || (rc = choose_classes(r)) || (rc = load_baseline(r)))
        return rc;
    r->o.baseline = r->base;
    cr_attr_report rep = {r->score, r->score_b, r->gap, r->used};
    cr_status st = cr_attribute(cli_ctx(), in->net, n, in->x, r->cls, &r->o, r->attr, &rep);
    if (st != CR_OK) return cli_error("attribute: %s", cr_status_string(st));
    return CLI_OK;
}

/* The summary: JSON, or a table of the first examples (and IG's completeness gaps). */
static void print_summary(const attr_run *r) {
    const attr_args *a = r->a;
    const cr_attr_options *o = &r->o;
    const cli_input *in = &r->in;
    const size_t n = in->n, d = in->d;
    const cr_dtype t = cr_net_dtype(in->net);
    const int ig = o->method == CR_ATTR_IG;
    double max_gap = 0, sum_gap = 0;
    size_t max_used = 0;
    if (ig)
        for (size_t i = 0; i < n; i++) {
            max_gap = r->gap[i] > max_gap ? r->gap[i] : max_gap;
            sum_gap += r->gap[i];
            max_used = r->used[i] > max_used ? r->used[i] : max_used;
        }
    if (a->json) {
        printf("{\"method\": \"%s\", \"examples\": %zu, \"of\": \"%s\", \"target\": \"%s\"",
               cr_attr_method_name(o->method), n, r->regress ? "output" : o->of_probs ? "probs" : "logits", r->what);
        if (ig)
            printf(", \"steps\": %zu, \"rule\": \"%s\", \"max_gap\": %.6g, \"mean_gap\": %.6g, "
                   "\"max_steps_used\": %zu",
                   o->steps ? o->steps : 50, o->trapezoid ? "trapezoid" : "riemann", max_gap,
                   sum_gap / (double)n, max_used);
        printf(", \"out\": \"%s\", \"png\": \"%s\"}\n", a->out ? a->out : "", a->png ? a->png : "");
        return;
    }
    if (r->regress)
        printf("attribute: %s of the regressor's %s, %zu examples\n", cr_attr_method_name(o->method),
               r->what, n);
    else
        printf("attribute: %s of the %s of %s, %zu examples\n", cr_attr_method_name(o->method),
               o->of_probs ? "probability" : "logit", r->what, n);
    size_t show = n < 10 ? n : 10;
    if (r->regress) printf("  %7s %10s", "example", "f(x)=o_k");
    else printf("  %7s %-9s %-9s %-9s %10s", "example", "label", "predicted", "explained", "f(x)");
    if (ig) printf(" %10s %10s %10s %6s", "f(x)-f(b)", "sum attr", "gap", "steps");
    printf("\n");
    for (size_t i = 0; i < show; i++) {
        char b1[24], b2[24], b3[24];
        double sum = 0;
        for (size_t j = 0; j < d; j++) sum += cli_get(t, r->attr, i * d + j);
        if (r->regress)
            printf("  %7zu %10.4f", in->first + i, r->score[i]);
        else
            printf("  %7zu %-9s %-9s %-9s %10.4f", in->first + i,
                   in->labels ? cli_class_name(in, (size_t)in->labels[i], b1) : "-",
                   cli_class_name(in, (size_t)r->pred[i], b2), cli_class_name(in, (size_t)r->cls[i], b3),
                   r->score[i]);
        if (ig) printf(" %10.4f %10.4f %10.2e %6zu", r->score[i] - r->score_b[i], sum, r->gap[i], r->used[i]);
        printf("\n");
    }
    if (show < n) printf("  ... (%zu more)\n", n - show);
    if (ig)
        printf("  completeness gap |sum attr - (f(x) - f(baseline))|: max %.3e, mean %.3e "
               "(%s rule, steps up to %zu)%s\n",
               max_gap, sum_gap / (double)n, o->trapezoid ? "trapezoid" : "riemann", max_used,
               o->tol > 0 && max_gap > o->tol ? "  -- above --tol: raise --max-steps" : "");
    if (a->out) printf("  -> %s\n", a->out);
}

/* The picture's title: what the maps show and how to read their colours. */
static void png_title(const attr_run *r, int signed_map, char *title, size_t size) {
    const cr_attr_options *o = &r->o;
    const char *mname = o->method == CR_ATTR_SALIENCY     ? "saliency (gradient)"
                        : o->method == CR_ATTR_INPUT_X_GRAD ? "input x gradient"
                        : o->method == CR_ATTR_IG           ? "integrated gradients"
                                                            : "smoothgrad";
    snprintf(title, size,
             "%s of the %s%s. left: input%s; right: map, %s\n"
             "%s",
             mname, r->regress ? "" : o->of_probs ? "probability of " : "logit of ", r->what,
             r->regress ? "" : " with its true class", r->regress ? "the output's value" : "predicted class",
             signed_map ? "red: raising this pixel raises the score, blue: lowers it, white: "
                          "no effect (each map scaled to its own max)"
                        : "bright: pixels the score is most sensitive to (each map scaled to "
                          "its own max)");
}

/* --png: each of the first --grid inputs beside its map. */
static int write_png(const attr_run *r) {
    const attr_args *a = r->a;
    const cli_input *in = &r->in;
    const size_t n = in->n, d = in->d;
    const cr_dtype t = cr_net_dtype(in->net);
    size_t g = n < (size_t)a->grid ? n : (size_t)a->grid;
    cli_tiles ts;
    int rc = cli_tiles_alloc(&ts, 2 * g, d, a->png);
    if (rc) return rc;
    char(*labels)[48] = ts.labels;
    const int signed_map =
        !(r->o.absolute && (r->o.method == CR_ATTR_SALIENCY || r->o.method == CR_ATTR_SMOOTHGRAD));
    for (size_t i = 0; i < g; i++) {
        char b1[24], b2[24];
        const float *xi = cli_tile_values(&ts, 2 * i, t, in->x, i);
        float *ai = cli_tile_values(&ts, 2 * i + 1, t, r->attr, i);
        if (in->labels && !r->regress)
            snprintf(labels[2 * i], 48, "#%zu %s", in->first + i, cli_class_name(in, (size_t)in->labels[i], b1));
        else
            snprintf(labels[2 * i], 48, "#%zu", in->first + i);
        if (r->regress)
            snprintf(labels[2 * i + 1], 48, "o_%lld = %.4g", (long long)r->cls[i], r->score[i]);
        else
            snprintf(labels[2 * i + 1], 48, "%s %s", in->labels && r->pred[i] != in->labels[i] ? "wrong:" : "pred",
                     cli_class_name(in, (size_t)r->pred[i], b2));
        cli_sum_channels(ai, in->channels, in->height * in->width); /* colour: summed */
        cli_tile_set(&ts, 2 * i, in, xi, CR_CMAP_GRAY, (float)in->lo, (float)in->hi, in->channels);
        cli_tile_set(&ts, 2 * i + 1, in, ai, signed_map ? CR_CMAP_DIVERGING : CR_CMAP_HOT, 0, 0, 0);
    }
    char title[512];
    png_title(r, signed_map, title, sizeof title);
    rc = cli_tiles_write(&ts, a->png, 2 * (size_t)a->cols, (size_t)a->scale, title, g, a->json);
    cli_tiles_free(&ts);
    return rc;
}

int cmd_attribute(int argc, char **argv) {
    attr_args a;
    memset(&a, 0, sizeof a);
    a.of = "logits", a.rule = "riemann", a.cols = 4, a.scale = 4, a.grid = 16, a.noise_frac = 0.15, a.seed = 1;
    cli_model_examples_table(&a.me);
    const cli_opt opts[] = {
        CLI_INCLUDE(a.me.table),
        CLI_REQ_STR("--method", &a.method_s, "METHOD",
                    "saliency: df/dx (signed; --abs for |df/dx|)\n"
                    "input-x-gradient: x * df/dx\n"
                    "integrated-gradients: (x - b) * average of df/dx on the straight\n"
                    "path from b to x; reports the completeness gap |sum attr - (f(x) - f(b))|\n"
                    "smoothgrad: average of df/dx at x + gaussian noise (--abs: of |df/dx|)"),
        CLI_STR("--out", &a.out, "ATTR.npy", "the maps, in the shape of --inputs"),
        CLI_STR("--target", &a.target_s, "label|pred",
                "class to explain: the true label (default when labels are known)\n"
                "or the predicted class"),
        CLI_STR("--class", &a.class_s, "C", "explain class C for every example"),
        CLI_STR("--output", &a.output_s, "K", "a regressor: explain output o_K (default 0 when it has one output)"),
        CLI_STR("--of", &a.of, "logits|probs", "f = the class logit (default) or its softmax probability"),
        CLI_FLAG("--abs", &a.absolute, "absolute values (saliency, smoothgrad)"),
        CLI_LONG("--steps", &a.steps, 1, 1000000, "S", "integrated gradients: path steps (default 50)"),
        CLI_STR("--rule", &a.rule, "riemann|trapezoid",
                "quadrature (default riemann: right sum, points j/S, j=1..S)"),
        CLI_DOUBLE("--tol", &a.tol, 0, 1e300, "T",
                   "integrated gradients: double the steps of an example until its\n"
                   "gap is at most T (up to --max-steps, default 8192)"),
        CLI_LONG("--max-steps", &a.max_steps, 1, 10000000, "S", "the most steps --tol may use"),
        CLI_STR("--baseline", &a.baseline_s, "zero|B.npy",
                "integrated gradients baseline (default zero = black image)"),
        CLI_LONG("--samples", &a.samples, 1, 1000000, "S", "smoothgrad samples (default 50)"),
        CLI_DOUBLE("--noise", &a.noise_frac, 0, 100, "F",
                   "smoothgrad noise sd as a fraction of the data range (default 0.15)"),
        CLI_U64("--seed", &a.seed, "N", "smoothgrad noise seed (default 1)"),
        CLI_STR("--png", &a.png, "FILE",
                "picture: each input beside its map (red raises f, blue lowers it);\n"
                "image inputs only"),
        CLI_LONG("--grid", &a.grid, 1, 100000, "N", "examples in the picture (default min(N, 16))"),
        CLI_LONG("--cols", &a.cols, 1, 1000, "C", "examples per row of the picture (default 4)"),
        CLI_LONG("--scale", &a.scale, 1, 64, "S", "pixels per input pixel in the picture (default 4)"),
        CLI_THREADS(&a.threads),
        CLI_FLAG("--json", &a.json, "a JSON summary on stdout"),
        CLI_END,
    };
    int rc;
    if (!cli_parse(argc, argv, opts, help, &rc)) return rc;
    if (cli_set_threads(a.threads)) return CLI_USAGE;
    if (!a.out && !a.png) return cli_error("attribute: give --out and/or --png (see --help)");
    attr_run r;
    memset(&r, 0, sizeof r);
    r.a = &a;
    if ((rc = parse_method(&r))) return rc;
    rc = compute(&r);
    if (rc == CLI_OK && a.out) {
        const cli_input *in = &r.in;
        size_t shape[CR_ARRAY_MAX_DIMS]; /* --inputs' shape */
        rc = cli_write_real_npy(a.out, cr_net_dtype(in->net), cli_shape_result(&in->shape, in->n, in->d, 0, shape),
                                shape, r.attr);
    }
    if (rc == CLI_OK) print_summary(&r);
    if (rc == CLI_OK && a.png) rc = write_png(&r);
    run_free(&r);
    return rc;
}
