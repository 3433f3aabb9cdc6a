/* chainrule predict: class probabilities of a model for some inputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_train.h"

static const char *const predict_help =
    "usage: chainrule predict --model MODEL (--inputs X.npy | --data SPEC) [options]\n"
    "\n"
    "Class probabilities (softmax of the last layer) for every input row, in the\n"
    "model's dtype. Inputs are scaled (uint8 / 255) and standardised with the\n"
    "model's statistics exactly as in training.\n"
    "\n"
    "  --model PATH          the model (safetensors; required)\n"
    "  --inputs X.npy        inputs [N, D], [N, ...] with D values per row, or [D]\n"
    "  --data SPEC           or a dataset (fashion-mnist:test, FILE.csv, ...); its\n"
    "                        labels are ignored\n"
    "%s"
    "  --out PATH            write the probabilities [N, K] as .npy\n"
    "  --top N               print the N most probable classes of every example\n"
    "  --names LIST          class names for --top: a comma list or 'fashion-mnist'\n"
    "  --batch N             rows per forward pass (default 1024)\n"
    "  --threads N           BLAS threads (default: the BLAS default)\n";

static const char *const fashion_names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                              "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                              "Bag",         "Ankle boot"};

int cmd_predict(int argc, char **argv) {
    const char *model_path = NULL, *inputs = NULL, *data = NULL, *out = NULL, *top_s = NULL,
               *names_s = NULL, *batch_s = NULL, *threads = NULL;
    cli_data_opts dopt;
    memset(&dopt, 0, sizeof dopt);
    cli_args a = cli_args_start(argc, argv);
    while (cli_args_next(&a)) {
        if (cli_value(&a, "--model", &model_path) || cli_value(&a, "--inputs", &inputs) ||
            cli_value(&a, "--data", &data) || cli_value(&a, "--out", &out) ||
            cli_value(&a, "--top", &top_s) || cli_value(&a, "--names", &names_s) ||
            cli_value(&a, "--batch", &batch_s) || cli_value(&a, "--threads", &threads) ||
            cli_data_option(&a, &dopt))
            continue;
        return cli_args_unknown(&a);
    }
    if (a.help) return printf(predict_help, cli_data_help), CLI_OK;
    if (a.failed) return CLI_USAGE;
    if (!model_path || (!inputs == !data))
        return cli_error("predict: --model and one of --inputs or --data are required (see --help)");
    if (!out && !top_s) return cli_error("predict: nothing to do: give --out and/or --top");
    long batch = 1024, top = 0;
    if (batch_s && !cli_parse_long("--batch", batch_s, 1, 1L << 20, &batch)) return CLI_USAGE;
    if (top_s && !cli_parse_long("--top", top_s, 1, 1000000, &top)) return CLI_USAGE;
    if (cli_set_threads(threads)) return CLI_USAGE;

    cr_model model;
    if (cli_load_model(model_path, &model) != CLI_OK) return CLI_USAGE;
    const cr_net *net = model.net;
    const size_t d = net->dims[0], k = net->dims[net->n_layers], es = cr_dtype_size(net->dtype);
    int rc = CLI_USAGE;
    void *x = NULL, *probs = NULL;
    char *names_buf = NULL;
    const char *names[4096];
    size_t n_names = 0;
    size_t n = 0;
    cr_tape *tape = NULL;
    cr_dataset ds;
    memset(&ds, 0, sizeof ds);
    if ((size_t)top > k) top = (long)k;

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

    if (inputs) {
        if (cli_load_inputs(inputs, &model, &x, &n) != CLI_OK) goto done;
    } else {
        if (cli_load_dataset(data, &dopt, &ds) != CLI_OK) goto done;
        if (ds.d != d) {
            cli_error("%s: %zu features per example but the model %s takes %zu", data, ds.d,
                      model_path, d);
            goto done;
        }
        if (cli_standardize_dataset(&model, &ds) != CLI_OK) goto done;
        n = ds.n;
        x = malloc(n * d * es);
        if (!x) goto oom;
        for (size_t i = 0; i < n * d; i++) cli_set(net->dtype, x, i, ds.x[i]);
        cr_dataset_free(&ds);
    }
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
        for (int l = 0; l < net->n_layers; l++)
            for (int post = 0; post < 2; post++)
                for (size_t i = 0; i < nb * net->dims[l + 1]; i++) {
                    double v = cli_get(net->dtype, post ? tape->post[l] : tape->pre[l], i);
                    if (v - v != 0) {
                        cli_error("%s: layer %d %s is not finite for example %zu of %s (%s "
                                  "overflow: the weights or inputs are too large)", model_path,
                                  l + 1, post ? "(activation)" : "(linear)",
                                  start + i / net->dims[l + 1], inputs ? inputs : data,
                                  cr_dtype_name(net->dtype));
                        goto done;
                    }
                }
        memcpy((char *)probs + start * k * es, tape->post[net->n_layers - 1], nb * k * es);
    }
    if (out) {
        size_t shape[2] = {n, k};
        if (cli_write_real_npy(out, net->dtype, 2, shape, probs) != CLI_OK) goto done;
    }
    if (top) {
        size_t idx[4096];
        size_t kk = k < 4096 ? k : 4096;
        for (size_t i = 0; i < n; i++) {
            for (size_t j = 0; j < kk; j++) idx[j] = j;
            printf("%zu:", i);
            for (long t = 0; t < top && (size_t)t < kk; t++) { /* partial selection sort */
                size_t best = (size_t)t;
                for (size_t j = (size_t)t + 1; j < kk; j++)
                    if (cli_get(net->dtype, probs, i * k + idx[j]) >
                        cli_get(net->dtype, probs, i * k + idx[best]))
                        best = j;
                size_t tmp = idx[t];
                idx[t] = idx[best];
                idx[best] = tmp;
                double p = cli_get(net->dtype, probs, i * k + idx[t]);
                if (n_names)
                    printf(" %s %.4f", names[idx[t]], p);
                else
                    printf(" %zu %.4f", idx[t], p);
            }
            printf("\n");
        }
    }
    if (out) fprintf(top ? stderr : stdout, "wrote %s: probabilities [%zu, %zu]\n", out, n, k);
    rc = CLI_OK;
    goto done;
oom:
    cli_error("predict: out of memory");
done:
    cr_tape_free(tape);
    free(x);
    free(probs);
    free(names_buf);
    cr_dataset_free(&ds);
    cr_model_free(&model);
    return rc;
}
