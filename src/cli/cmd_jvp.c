/* chainrule jvp: the directional derivative J v of the network output. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "cli_input.h"

static const char *const help =
    "usage: chainrule jvp --model MODEL (--inputs X.npy | --data SPEC) --tangent V.npy\n"
    "                     --out JV.npy [--of probs|logits] [--index A:B] [--dtype f32|f64]\n\n"
    "Forward mode: writes JV [N, K], row n = J(x_n) v_n, the derivative of the probabilities\n"
    "(default) or logits of example n in the direction v_n (raw-input units).\n\n"
    "options:\n";

int cmd_jvp(int argc, char **argv) {
    const char *out = NULL, *tangent = NULL, *of = NULL, *dtype = NULL;
    cli_model_examples me;
    cli_model_examples_table(&me);
    const cli_opt opts[] = {
        CLI_INCLUDE(me.table),
        CLI_REQ_STR("--tangent", &tangent, "V.npy",
                    "directions [N, D] (one per example) or [D] (the same for all)"),
        CLI_REQ_STR("--out", &out, "JV.npy", "the directional derivatives [N, K]"),
        CLI_STR("--of", &of, "probs|logits|outputs",
                "differentiate the probabilities (default) or the network's outputs o\n"
                "(logits: the same; a regressor's default)"),
        CLI_STR("--dtype", &dtype, "float32|float64", "compute in this precision (default the model's)"),
        CLI_END,
    };
    int rc;
    if (!cli_parse(argc, argv, opts, help, &rc)) return rc;
    int probs = 1;
    if (of && !cli_parse_of("jvp", of, &probs)) return CLI_USAGE;

    cli_input in;
    if ((rc = cli_input_load(&me, dtype, NULL, &in))) return rc;
    if (cr_net_head(in.net) == CR_HEAD_SQUARED_ERROR) { /* a regressor: of its outputs */
        if (of && probs) {
            cli_input_free(&in);
            return cli_error("jvp: --of probs: %s is a regressor (squared-error head) and has no "
                             "probabilities; use --of outputs", me.model);
        }
        probs = 0;
    }
    cli_say_output("jvp", in.net);
    const cr_dtype t = cr_net_dtype(in.net);
    const size_t n = in.n, d = in.d, k = in.k, es = cr_dtype_size(t);
    cr_array va;
    void *v = NULL, *vv = NULL, *res = NULL;
    cr_tape *tape = NULL;
    if (cr_npy_read(tangent, &va) != 0) {
        cli_input_free(&in);
        return cli_io_error();
    }
    int per_row = va.count == n * d && !(va.ndim == 1 && n > 1);
    if (!(va.count == d && (va.ndim == 1 || (va.ndim == 2 && va.shape[0] == 1))) && !per_row) {
        rc = cli_error("%s: the tangent must be [%zu, %zu] or [%zu] to fit the inputs", tangent, n,
                       d, d);
        goto done;
    }
    if (cr_array_to_real(tangent, &va, t, &v) != 0) {
        rc = cli_io_error();
        goto done;
    }
    vv = malloc(n * d * es);
    res = malloc(n * k * es);
    if (!vv || !res || cr_tape_create(in.net, n, &tape) != CR_OK) {
        rc = cli_error("jvp: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        memcpy((char *)vv + i * d * es, (char *)v + (per_row ? i * d * es : 0), d * es);
    cr_status st = cli_net_forward(in.net, tape, n, in.x);
    if (st == CR_OK) st = cr_net_jvp(in.net, tape, vv, probs ? NULL : res, probs ? res : NULL);
    if (st != CR_OK) {
        rc = cli_error("jvp: %s", cr_status_string(st));
        goto done;
    }
    size_t shape[2] = {n, k};
    rc = cli_write_real_npy(out, t, 2, shape, res);
    if (!rc)
        printf("jvp: %zu examples, d %s in the given direction%s -> %s [%zu, %zu]\n", n,
               probs                                  ? "probs" :
                   cr_net_is_plain_classifier(in.net) ? "logits" :
                                                        "outputs",
               per_row ? "s" : " (shared)", out, n, k);
done:
    cr_array_free(&va);
    free(v);
    free(vv);
    free(res);
    cr_tape_free(tape);
    cli_input_free(&in);
    return rc;
}
