/* chainrule predict: class probabilities of a model for some inputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "cli_input.h"

static const char *const predict_help =
    "usage: chainrule predict --model MODEL (--inputs X.npy | --data SPEC) [options]\n"
    "\n"
    "Class probabilities (softmax of the network's output) for every input row, in\n"
    "the model's dtype; for a regressor (the squared-error head) the outputs o\n"
    "themselves. Inputs are scaled (uint8 / 255) and standardised with the\n"
    "model's statistics exactly as in training; labels (of --data) are ignored.\n"
    "\n"
    "options:\n";

static const char *const fashion_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                              "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                              "Bag",         "Ankle boot"};

int cmd_predict(int argc, char **argv) {
    const char *out = NULL, *names_s = NULL, *threads = NULL;
    long batch = 1024, top = 0;
    cli_model_examples me;
    cli_model_examples_table(&me);
    const cli_opt opts[] = {
        CLI_INCLUDE(me.table),
        CLI_STR("--out", &out, "PATH", "write the probabilities [N, K] (a regressor: the outputs) as .npy"),
        CLI_LONG("--top", &top, 1, 1000000, "N",
                 "print the N most probable classes of every example\n(at most the number of classes)"),
        CLI_STR("--names", &names_s, "LIST", "class names for --top: a comma list or 'fashion-mnist'"),
        CLI_LONG("--batch", &batch, 1, 1L << 20, "N", "rows per forward pass (default 1024)"),
        CLI_STR("--threads", &threads, "N", "BLAS threads (default: the BLAS default)"),
        CLI_END,
    };
    int rc;
    if (!cli_parse(argc, argv, opts, predict_help, &rc)) return rc;
    if (!out && !top) return cli_error("predict: nothing to do: give --out and/or --top");
    if (cli_set_threads(threads)) return CLI_USAGE;

    cr_model model;
    if (cli_load_model_head(me.model, me.head, &model) != CLI_OK) return CLI_USAGE;
    const cr_net *net = model.net;
    const int regress = cr_net_head(net) == CR_HEAD_SQUARED_ERROR;
    cli_say_output("predict", net);
    const size_t d = cr_net_width(net, 0), k = cr_net_width(net, cr_net_n_layers(net)),
                 es = cr_dtype_size(cr_net_dtype(net));
    rc = CLI_USAGE;
    void *probs = NULL;
    char *names_buf = NULL;
    const char *names[4096];
    size_t n_names = 0;
    size_t n = 0;
    cr_tape *tape = NULL;
    cli_examples ex = {0};
    if (top && regress) {
        cli_error("predict: --top ranks classes; %s is a regressor (squared-error head): use --out",
                  me.model);
        goto done;
    }
    if ((size_t)top > k) {
        cli_error("predict: --top %ld is out of range: %s has %zu classes", top, me.model, k);
        goto done;
    }

    if (names_s) {
        if (!strcmp(names_s, "fashion-mnist")) {
            for (size_t i = 0; i < 10; i++) names[i] = fashion_names[i];
            n_names = 10;
        } else {
            names_buf = strdup(names_s);
            if (!names_buf) goto oom;
            for (char *p = names_buf; p && n_names < 4096;) {
                names[n_names++] = p;
                p = strchr(p, ',');
                if (p) *p++ = '\0';
            }
        }
        if (n_names < k) {
            cli_error("--names: %zu names for %zu classes", n_names, k);
            goto done;
        }
    }

    if (cli_examples_load(&me.examples, d, k, cr_net_dtype(net), &ex))
        goto done;
    n = ex.n;
    const void *x = ex.x;
    probs = malloc(n * k * es);
    if (!probs || cr_tape_create(net, (size_t)batch, &tape) != CR_OK) goto oom;
    for (size_t start = 0; start < n; start += (size_t)batch) {
        size_t nb = n - start < (size_t)batch ? n - start : (size_t)batch;
        cr_status st = cli_net_forward(net, tape, nb, (const char *)x + start * d * es);
        if (st != CR_OK) {
            cli_error("predict: %s", cr_status_string(st));
            rc = CLI_FAIL;
            goto done;
        }
        /* finite weights and inputs can still overflow the dtype: never write NaN */
        for (int l = 0; l < cr_net_n_layers(net); l++)
            for (int post = 0; post < 2; post++) {
                const cr_dtype dt = cr_net_dtype(net);
                const void *buf = post ? cr_tape_post(tape, l) : cr_tape_pre(tape, l);
                for (size_t i = 0, m = nb * cr_net_width(net, l + 1); i < m; i++) {
                    double v = cli_get(dt, buf, i);
                    if (v - v != 0) {
                        cli_error("%s: layer %d %s is not finite for example %zu of %s (%s "
                                  "overflow: the weights or inputs are too large)", me.model,
                                  l + 1, post ? "(activation)" : "(linear)",
                                  ex.first + start + i / cr_net_width(net, l + 1), ex.source,
                                  cr_dtype_name(cr_net_dtype(net)));
                        goto done;
                    }
                }
            }
        memcpy((char *)probs + start * k * es, cr_tape_prediction(tape), nb * k * es);
    }
    if (out) {
        size_t shape[2] = {n, k};
        if (cli_write_real_npy(out, cr_net_dtype(net), 2, shape, probs) != CLI_OK) goto done;
    }
    if (top) {
        size_t idx[4096];
        size_t kk = k < 4096 ? k : 4096;
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < kk; j++) idx[j] = j;
            printf("%zu:", ex.first + i);
            for (long t = 0; t < top && (size_t)t < kk; t++) { /* partial selection sort */
                size_t best = (size_t)t;
                for (size_t j = (size_t)t + 1; j < kk; j++)
                    if (cli_get(cr_net_dtype(net), probs, i * k + idx[j]) >
                        cli_get(cr_net_dtype(net), probs, i * k + idx[best]))
                        best = j;
                size_t tmp = idx[t];
                idx[t] = idx[best];
                idx[best] = tmp;
                double p = cli_get(cr_net_dtype(net), probs, i * k + idx[t]);
                if (n_names)
                    printf(" %s %.4f", names[idx[t]], p);
                else
                    printf(" %zu %.4f", idx[t], p);
            }
            printf("\n");
        }
    }
    if (out)
        fprintf(top ? stderr : stdout, "wrote %s: %s [%zu, %zu]\n", out,
                regress ? "outputs" : "probabilities", n, k);
    rc = CLI_OK;
    goto done;
oom:
    cli_error("predict: out of memory");
done:
    cr_tape_free(tape);
    free(probs);
    free(names_buf);
    cli_examples_free(&ex);
    cr_model_free(&model);
    return rc;
}
