/* chainrule jacobian: the full K x D Jacobian of every example (rev, fwd or closed form). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_input.h"

static const char *const help =
    "usage: chainrule jacobian --model MODEL (--inputs X.npy | --data SPEC) --out J.npy\n"
    "                          [--of probs|logits] [--mode auto|rev|fwd|closed] [--index A:B]\n"
    "                          [--dtype float32|float64] [--threads N] [--json]\n\n"
    "Writes J [N, K, D]: J[n, c, j] = d output_c / d x_j of example n (numerator layout;\n"
    "[N, K, 1, 28, 28] for inputs [N, 1, 28, 28]: each row in the shape of an input),\n"
    "with respect to the raw input (a model's input standardisation is part of the chain).\n\n"
    "options:\n";

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int cmd_jacobian(int argc, char **argv) {
    const char *threads = NULL, *out = NULL, *of = NULL, *mode_s = "auto",
               *dtype = NULL;
    int json = 0;
    cli_model_examples me;
    cli_model_examples_table(&me);
    const cli_opt opts[] = {
        CLI_INCLUDE(me.table),
        CLI_REQ_STR("--out", &out, "J.npy", "the Jacobians [N, K, D] (D: one input's shape)"),
        CLI_STR("--of", &of, "probs|logits|outputs",
                "differentiate the softmax probabilities (default) or the network's\n"
                "outputs o (logits: the same; a regressor's default)"),
        CLI_STR("--mode", &mode_s, "MODE",
                "rev: K vector-Jacobian products per example, batched into gemms\n"
                "fwd: D Jacobian-vector products per example (tangents = rows of I)\n"
                "closed: the product (diag(p) - p^T p) W2^T diag(a') W1^T, chunks of examples\n"
                "auto: rev when K < D, else fwd (default)"),
        CLI_STR("--dtype", &dtype, "float32|float64", "compute in this precision (default the model's)"),
        CLI_STR("--threads", &threads, "N",
                "workers the examples are split over (default: the number of\n"
                "cores); each calls the BLAS single-threaded"),
        CLI_FLAG("--json", &json, "a JSON summary on stdout"),
        CLI_END,
    };
    int rc;
    if (!cli_parse(argc, argv, opts, help, &rc)) return rc;
    if (cli_set_threads(threads)) return CLI_USAGE;
    int probs = 1;
    if (of && !cli_parse_of("jacobian", of, &probs)) return CLI_USAGE;
    cr_jac_mode mode;
    if (!cr_jac_mode_parse(mode_s, &mode))
        return cli_error("jacobian: --mode: '%s' is not auto, rev, fwd or closed", mode_s);

    cli_input in;
    if ((rc = cli_input_load(&me, dtype, NULL, &in))) return rc;
    if (in.net->head == CR_HEAD_SQUARED_ERROR) { /* a regressor: of its outputs */
        if (of && probs) {
            cli_input_free(&in);
            return cli_error("jacobian: --of probs: %s is a regressor (squared-error head) and has no "
                             "probabilities; use --of outputs", me.model);
        }
        probs = 0;
    }
    cli_say_output("jacobian", in.net);
    size_t n = in.n, k = in.k, d = in.d, bytes;
    if (!cr_mul_size(n * k, d, &bytes) || !cr_mul_size(bytes, cr_dtype_size(in.net->dtype), &bytes)) {
        cli_input_free(&in);
        return cli_error("%s: %zu examples x %zu x %zu is too large", out, n, k, d);
    }
    void *jac = malloc(bytes);
    if (!jac) {
        cli_input_free(&in);
        return cli_error("%s: cannot allocate %zu bytes for the Jacobians", out, bytes);
    }
    cr_jac_mode used = cr_jac_mode_resolve(mode, k, d);
    double t0 = now_s();
    cr_status st = in.net->dtype == CR_F64
                       ? cr_net_input_jacobian_f64(in.net, n, in.x, probs, used, jac)
                       : cr_net_input_jacobian_f32(in.net, n, in.x, probs, used, jac);
    double secs = now_s() - t0;
    if (st != CR_OK) {
        free(jac);
        cli_input_free(&in);
        return cli_error("jacobian: %s", cr_status_string(st));
    }
    size_t shape[CR_ARRAY_MAX_DIMS]; /* [N, K, one input's shape] */
    rc = cli_write_real_npy(out, in.net->dtype, cli_shape_result(&in.shape, n, d, k, shape), shape, jac);
    if (!rc) {
        if (json)
            printf("{\"examples\": %zu, \"outputs\": %zu, \"inputs\": %zu, \"of\": \"%s\", "
                   "\"mode\": \"%s\", \"dtype\": \"%s\", \"seconds\": %.6f, \"out\": \"%s\"}\n",
                   n, k, d, probs ? "probs" : cr_net_is_plain_classifier(in.net) ? "logits" : "outputs", cr_jac_mode_name(used),
                   cr_dtype_name(in.net->dtype), secs, out);
        else
            printf("jacobian: %zu examples, d %s / d x of shape %zu x %zu each, mode %s%s, "
                   "%s, %.2f ms (%.2f us per example) -> %s\n",
                   n, probs ? "probs" : cr_net_is_plain_classifier(in.net) ? "logits" : "outputs", k, d, cr_jac_mode_name(used),
                   mode == CR_JAC_AUTO ? " (auto)" : "", cr_dtype_name(in.net->dtype),
                   secs * 1e3, secs * 1e6 / (double)n, out);
    }
    free(jac);
    cli_input_free(&in);
    return rc;
}
