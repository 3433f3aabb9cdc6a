/*
 * chainrule train: minibatch training of a network on a dataset, with a
 * checkpoint written atomically after every epoch and --resume.
 *
 * The model file doubles as the checkpoint (cli_checkpoint.c, docs/design.md §8).
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_train.h"

#define DEFAULT_OPTIMIZER "adam"
#define DEFAULT_LR_SGD "0.1"
#define DEFAULT_LR_ADAM "0.002"

static const char *const train_help =
    "usage: chainrule train --data SPEC [options]\n"
    "       chainrule train --resume MODEL [--epochs N] [--out PATH]\n"
    "\n"
    "Trains a network with softmax + cross-entropy on a labelled dataset and\n"
    "writes it (with its optimiser state, as a checkpoint) after every epoch.\n"
    "An --out ending in .onnx gets the model as ONNX instead (no training state:\n"
    "such a run cannot be resumed); any other name gets safetensors.\n"
    "\n";

typedef struct {
    const char *data, *test, *val, *layers, *activation, *init, *epochs, *batch, *optimizer,
        *lr, *momentum, *beta1, *beta2, *eps, *weight_decay, *schedule, *step_epochs, *gamma,
        *lr_min, *seed, *threads, *out, *resume, *stop_after, *log;
    int standardize, json, quiet;
    cli_data_opts dopt;
} train_args;

/* ------------------------------------------------------------ progress */

typedef struct {
    int tty;
    long epoch, epochs;
    double t0, last;
    size_t n;
} progress_ctx;

static int progress_cb(void *user, const cr_train_stats *s, size_t total) {
    progress_ctx *p = user;
    if (!p->tty) return 0;
    double now = cli_now();
    if (now - p->last < 0.1 && s->seen < total) return 0; /* at most 10 updates a second */
    p->last = now;
    double el = now - p->t0, rate = el > 0 ? (double)s->seen / el : 0;
    double left = (double)(total - s->seen) + (double)total * (double)(p->epochs - p->epoch - 1);
    double eta = rate > 0 ? left / rate : 0;
    int width = 24, fill = (int)((double)width * (double)s->seen / (double)total);
    char bar[32];
    for (int i = 0; i < width; i++) bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    fprintf(stderr, "\repoch %ld/%ld [%s] %3.0f%%  %.0f samples/s  loss %.4f  ETA %.0fs   ",
            p->epoch + 1, p->epochs, bar, 100.0 * (double)s->seen / (double)total, rate,
            s->seen ? s->loss_sum / (double)s->seen : 0.0, eta);
    fflush(stderr);
    return 0;
}

/* ------------------------------------------------------------ main */

typedef struct {
    double loss, acc;
    int have;
} eval_result;

static int evaluate(const cr_net *net, cr_tape *tape, const cr_dataset *ds, eval_result *r) {
    r->have = 0;
    if (!ds || ds->n == 0) return 1;
    double loss = 0;
    size_t correct = 0;
    if (cr_evaluate_f32(net, tape, ds->n, ds->x, ds->labels, &loss, &correct, NULL, NULL) != CR_OK)
        return 0;
    r->loss = loss / (double)ds->n;
    r->acc = (double)correct / (double)ds->n;
    r->have = 1;
    return 1;
}

/*
 * After CR_ERR_NONFINITE: names the layer where the numbers stopped being
 * finite. The failing step made no update (its loss is checked first), so
 * either a layer's parameters already hold NaN/Inf (the previous update's
 * gradient overflowed) or a forward pass over the data overflows in a layer,
 * or else only the loss itself overflows (logits too far apart).
 */
static void describe_nonfinite(const cr_net *net, cr_tape *tape, const cr_dataset *ds,
                               char *buf, size_t size) {
    const float *p = net->params;
    for (int l = 0; l < net->n_layers; l++) {
        size_t nw = net->dims[l] * net->dims[l + 1], nb = net->dims[l + 1];
        for (size_t i = 0; i < nw + nb; i++) {
            float v = i < nw ? p[net->w_offset[l] + i] : p[net->b_offset[l] + i - nw];
            if (!isfinite(v)) {
                snprintf(buf, size, "layer %d's %s became %s (the update overflowed)", l + 1,
                         i < nw ? "weights" : "bias",
                         isnan(v) ? "NaN" : "infinite");
                return;
            }
        }
    }
    size_t d = net->dims[0];
    for (size_t r0 = 0; ds && r0 < ds->n; r0 += tape->max_batch) {
        size_t m = ds->n - r0 < tape->max_batch ? ds->n - r0 : tape->max_batch;
        if (cr_net_forward_f32(net, tape, m, ds->x + r0 * d) != CR_OK) break;
        for (int l = 0; l < net->n_layers; l++) {
            size_t w = net->dims[l + 1];
            for (int post = 0; post < 2; post++) {
                const float *a = post ? tape->post[l] : tape->pre[l];
                for (size_t i = 0; i < m * w; i++)
                    if (!isfinite(a[i])) {
                        snprintf(buf, size, "layer %d (%s) overflows on training example %zu",
                                 l + 1, post ? "activation" : "linear", r0 + i / w + 1);
                        return;
                    }
            }
        }
    }
    snprintf(buf, size, "layer %d (softmax cross-entropy): the logits are too far apart",
             net->n_layers);
}

static void json_num(FILE *f, const char *key, double v, int comma) {
    if (isfinite(v))
        fprintf(f, "\"%s\": %.6g%s", key, v, comma ? ", " : "");
    else
        fprintf(f, "\"%s\": null%s", key, comma ? ", " : "");
}

/* "val_loss": .., "val_acc": .., "test_loss": .., "test_acc": .., for the sets evaluated. */
static void json_eval_results(FILE *f, const eval_result *val, const eval_result *test) {
    if (val->have) {
        json_num(f, "val_loss", val->loss, 1);
        json_num(f, "val_acc", val->acc, 1);
    }
    if (test->have) {
        json_num(f, "test_loss", test->loss, 1);
        json_num(f, "test_acc", test->acc, 1);
    }
}

int cmd_train(int argc, char **argv) {
    train_args t;
    memset(&t, 0, sizeof t);
    cli_opt data_opts[CLI_DATA_TABLE_SIZE];
    cli_data_table(&t.dopt, data_opts);
    char act_help[512], init_help[512]; /* the lists from the activation table */
    snprintf(act_help, sizeof act_help,
             "hidden activation (default sigmoid), one of\n%s;\nor one per hidden layer",
             cli_activation_names(", "));
    snprintf(init_help, sizeof init_help, "initialisation (default auto: Xavier for %s,\nHe for %s)",
             cli_activation_names_init(CR_INIT_XAVIER), cli_activation_names_init(CR_INIT_HE));
    const cli_opt opts[] = {
        CLI_HEADING("data"),
        CLI_STR("--data", &t.data, "SPEC",
                "fashion-mnist[:train|:test], mnist, DIR (MNIST-style IDX\n"
                "files), FILE.csv, or X.npy,Y.npy (required unless --resume)"),
        CLI_STR("--test", &t.test, "SPEC|none",
                "data evaluated after every epoch (default: the :test\n"
                "split that goes with --data, if any)"),
        CLI_STR("--val", &t.val, "FRACTION", "hold out this fraction of the training data (default 0)"),
        CLI_FLAG("--standardize", &t.standardize,
                 "standardise every input feature with the training data's\n"
                 "mean and std (stored in the model; predict/grad apply it)"),
        CLI_INCLUDE(data_opts),
        CLI_HEADING("network"),
        CLI_STR("--layers", &t.layers, "D,H,...,K", "layer widths (default: D,128,K from the data)"),
        CLI_STR("--activation", &t.activation, "NAME", act_help),
        CLI_STR("--init", &t.init, "auto|xavier|he", init_help),
        CLI_HEADING("optimisation"),
        CLI_STR("--epochs", &t.epochs, "N", "epochs (default 10; with --resume, the new total)"),
        CLI_STR("--batch", &t.batch, "N", "minibatch size (default 64; 1 = per-example SGD)"),
        CLI_STR("--optimizer", &t.optimizer, "NAME", "sgd, momentum, nesterov, adam (default " DEFAULT_OPTIMIZER ")"),
        CLI_STR("--lr", &t.lr, "X", "learning rate (default " DEFAULT_LR_ADAM " for adam, " DEFAULT_LR_SGD " otherwise)"),
        CLI_STR("--momentum", &t.momentum, "X", "momentum/nesterov coefficient (default 0.9)"),
        CLI_STR("--beta1", &t.beta1, "X", "Adam beta1 (default 0.9)"),
        CLI_STR("--beta2", &t.beta2, "X", "Adam beta2 (default 0.999)"),
        CLI_STR("--eps", &t.eps, "X", "Adam epsilon (default 1e-8)"),
        CLI_STR("--weight-decay", &t.weight_decay, "X", "L2 coefficient added to the gradient (default 0)"),
        CLI_STR("--schedule", &t.schedule, "NAME",
                "cosine (default: from --lr down to --lr-min over all the\n"
                "steps of --epochs), step, constant"),
        CLI_STR("--step-epochs", &t.step_epochs, "N",
                "step schedule: multiply the lr by --gamma every N epochs\n(default 1)"),
        CLI_STR("--gamma", &t.gamma, "X", "step schedule factor (default 0.1)"),
        CLI_STR("--lr-min", &t.lr_min, "X", "cosine schedule: final learning rate (default 0)"),
        CLI_STR("--seed", &t.seed, "N", "seed of the initialisation, shuffle and split (default 1)"),
        CLI_STR("--threads", &t.threads, "N",
                "1: one training worker (BLAS at 1 thread); 2 or more: two\n"
                "workers, each running the BLAS at 1 thread (default: one\n"
                "worker, the BLAS default); same --threads, same bits"),
        CLI_HEADING("output"),
        CLI_STR("--out", &t.out, "PATH",
                "model + checkpoint, rewritten atomically after every epoch\n"
                "(default model.safetensors; with --resume, the resumed file);\n"
                "PATH.onnx: the model as ONNX, without the training state"),
        CLI_FILE("--resume", &t.resume, "PATH", 0, CLI_FILE_CHECKPOINT,
                "continue the run saved in PATH (its hyperparameters, data\n"
                "and state) and write it back to PATH (or to --out);\n"
                "--epochs may raise the total"),
        CLI_STR("--stop-after", &t.stop_after, "N", "stop after N epochs of this invocation (as if interrupted)"),
        CLI_STR("--log", &t.log, "PATH", "append one JSON object per epoch (JSON lines)"),
        CLI_FLAG("--json", &t.json, "print a JSON summary at the end instead of the text one"),
        CLI_FLAG("--quiet", &t.quiet, "no per-epoch lines"),
        CLI_END,
    };
    int status;
    if (!cli_parse(argc, argv, opts, train_help, &status)) return status;
    if (!t.data && !t.resume) return cli_error("train: --data is required (see --help)");
    /* a resumed run continues in its own file unless --out names another one;
       a new run writes --out, by default model.safetensors */
    if (!t.out) t.out = t.resume ? t.resume : "model.safetensors";
    {   /* an unwritable --out (missing folder, ...) is bad input: say so before training */
        cr_atomic_file probe;
        cr_error perr;
        if (cr_atomic_open(&probe, t.out, &perr) != 0) return cli_io_error(&perr);
        cr_atomic_abort(&probe);
    }

    long v;
    cli_run_state rs;
    memset(&rs, 0, sizeof rs);
    rs.cfg = cr_optim_config_default();
    rs.cfg.schedule = CR_SCHED_COSINE;
    long stop_after = -1;
    if (t.stop_after) {
        if (!cli_parse_long("--stop-after", t.stop_after, 0, 1000000, &stop_after)) return CLI_USAGE;
    }
    long threads = 0;
    if (t.threads) {
        if (!cli_parse_long("--threads", t.threads, 1, 1024, &threads)) return CLI_USAGE;
        cr_set_threads((int)threads);
    }

    cr_model model; /* the net and standardisation stats */
    memset(&model, 0, sizeof model);
    int rc = CLI_USAGE;
    cr_dataset all, train, val, test;
    memset(&all, 0, sizeof all);
    memset(&train, 0, sizeof train);
    memset(&val, 0, sizeof val);
    memset(&test, 0, sizeof test);
    cr_optim *opt = NULL;
    cr_train_ws *ws = NULL;
    FILE *logf = NULL;
    cr_error err;
    size_t dims[CR_MAX_LAYERS + 1];
    int n_layers = 0;
    cr_activation act[CR_MAX_LAYERS];
    size_t step_epochs = 1;
    cli_data_opts dopt = t.dopt;

    if (t.resume) {
        /* hyperparameters, data options and state come from the checkpoint */
        const char *conflicting[] = {t.layers, t.activation, t.init, t.batch, t.optimizer, t.lr,
                                     t.momentum, t.beta1, t.beta2, t.eps, t.weight_decay,
                                     t.schedule, t.step_epochs, t.gamma, t.lr_min, t.seed,
                                     t.val};
        for (size_t i = 0; i < sizeof conflicting / sizeof *conflicting; i++)
            if (conflicting[i])
                return cli_error("train: with --resume the hyperparameters come from the "
                                 "checkpoint; only --epochs, --data, --test, --out, --log, "
                                 "--threads and --stop-after may be given");
        if (cli_load_model(t.resume, &model) != CLI_OK) return CLI_USAGE;
        if (cli_require_plain("train", t.resume, model.net)) {
            cr_model_free(&model);
            return CLI_USAGE;
        }
        for (int l = 0; l < model.net->n_layers; l++)
            if (cr_net_affine_form(model.net, l + 1) == CR_AFFINE_BATCHNORM) {
                cr_model_free(&model);
                return cli_error("%s: train does not train models with BatchNorm (after linear "
                                 "layer %d): its running statistics would stay frozen", t.resume,
                                 l + 1);
            }
        if (model.net->dtype != CR_F32) {
            cr_model_free(&model);
            return cli_error("%s: training needs a float32 model", t.resume);
        }
        if (!cli_checkpoint_load_state(&model, t.resume, &rs)) goto done;
        if (t.epochs) {
            if (!cli_parse_long("--epochs", t.epochs, 1, 1000000, &v)) goto done;
            rs.epochs = v;
        }
        if (t.data) snprintf(rs.data, sizeof rs.data, "%s", t.data);
        if (t.test) snprintf(rs.test, sizeof rs.test, "%s", t.test);
        if (!t.dopt.label_column && rs.label_column[0]) dopt.label_column = rs.label_column;
        if (!t.dopt.header && rs.header[0]) dopt.header = rs.header;
        if (!t.dopt.limit && rs.limit[0]) dopt.limit = rs.limit;
        if (!t.dopt.classes && rs.classes[0]) dopt.classes = rs.classes;
        n_layers = model.net->n_layers;
    } else {
        snprintf(rs.data, sizeof rs.data, "%s", t.data);
        rs.epochs = 10;
        rs.batch = 64;
        rs.seed = 1;
        snprintf(rs.init, sizeof rs.init, "%s", t.init ? t.init : "auto");
        if (t.epochs && !cli_parse_long("--epochs", t.epochs, 1, 1000000, &rs.epochs)) goto done;
        if (t.batch && !cli_parse_long("--batch", t.batch, 1, 1L << 24, &rs.batch)) goto done;
        if (t.seed && !cli_parse_u64("--seed", t.seed, &rs.seed)) goto done;
        if (t.val) {
            if (!cli_parse_double("--val", t.val, 0, 0.99, &rs.val)) goto done;
        }
        rs.standardize = t.standardize;
        const char *oname = t.optimizer ? t.optimizer : DEFAULT_OPTIMIZER;
        if (!cr_optimizer_parse(oname, &rs.cfg.kind)) {
            cli_error("--optimizer: '%s' is not sgd, momentum, nesterov or adam", oname);
            goto done;
        }
        const char *lr = t.lr ? t.lr : rs.cfg.kind == CR_OPT_ADAM ? DEFAULT_LR_ADAM : DEFAULT_LR_SGD;
        if (!cli_parse_double("--lr", lr, 1e-12, 1e6, &rs.cfg.lr)) goto done;
        if (t.momentum && !cli_parse_double("--momentum", t.momentum, 0, 0.999999, &rs.cfg.momentum))
            goto done;
        if (t.beta1 && !cli_parse_double("--beta1", t.beta1, 0, 0.999999, &rs.cfg.beta1)) goto done;
        if (t.beta2 && !cli_parse_double("--beta2", t.beta2, 0, 0.999999999, &rs.cfg.beta2))
            goto done;
        if (t.eps && !cli_parse_double("--eps", t.eps, 1e-30, 1, &rs.cfg.eps)) goto done;
        if (t.weight_decay &&
            !cli_parse_double("--weight-decay", t.weight_decay, 0, 1e3, &rs.cfg.weight_decay))
            goto done;
        if (t.schedule && !cr_schedule_parse(t.schedule, &rs.cfg.schedule)) {
            cli_error("--schedule: '%s' is not constant, step or cosine", t.schedule);
            goto done;
        }
        if (t.step_epochs) {
            if (!cli_parse_long("--step-epochs", t.step_epochs, 1, 1000000, &v)) goto done;
            step_epochs = (size_t)v;
        }
        if (t.gamma && !cli_parse_double("--gamma", t.gamma, 1e-12, 1, &rs.cfg.gamma)) goto done;
        if (t.lr_min && !cli_parse_double("--lr-min", t.lr_min, 0, rs.cfg.lr, &rs.cfg.lr_min))
            goto done;
        snprintf(rs.label_column, sizeof rs.label_column, "%s", dopt.label_column ? dopt.label_column : "");
        snprintf(rs.header, sizeof rs.header, "%s", dopt.header ? dopt.header : "");
        snprintf(rs.limit, sizeof rs.limit, "%s", dopt.limit ? dopt.limit : "");
        snprintf(rs.classes, sizeof rs.classes, "%s", dopt.classes ? dopt.classes : "");
    }

    /* ---- data */
    if (cli_load_dataset(rs.data, &dopt, &all) != CLI_OK) goto done;
    if (rs.val > 0) {
        if (cr_dataset_split(&all, rs.val, rs.seed, &train, &val, &err) != 0) {
            cli_io_error(&err);
            goto done;
        }
        cr_dataset_free(&all);
    } else {
        train = all;
        memset(&all, 0, sizeof all);
    }
    if (!t.resume) {
        char buf[700];
        const char *ts = t.test ? t.test : cli_default_test_spec(rs.data, buf, sizeof buf);
        snprintf(rs.test, sizeof rs.test, "%s", ts && strcmp(ts, "none") ? ts : "");
    } else if (!strcmp(rs.test, "none")) {
        rs.test[0] = '\0';
    }
    if (rs.test[0]) {
        cli_data_opts topt = dopt;
        topt.limit = NULL; /* --limit restricts the training data only */
        if (cli_load_dataset(rs.test, &topt, &test) != CLI_OK) goto done;
    }

    /* ---- network */
    if (!t.resume) {
        if (t.layers) {
            if (!cli_parse_layers("--layers", t.layers, dims, &n_layers)) goto done;
        } else {
            n_layers = 2;
            dims[0] = train.d;
            dims[1] = 128;
            dims[2] = train.k;
        }
        if (!cli_parse_activations("--activation", t.activation ? t.activation : "sigmoid",
                                   n_layers - 1, act))
            goto done;
        cr_init scheme;
        if (!strcmp(rs.init, "auto")) scheme = CR_INIT_AUTO;
        else if (!strcmp(rs.init, "xavier")) scheme = CR_INIT_XAVIER;
        else if (!strcmp(rs.init, "he")) scheme = CR_INIT_HE;
        else {
            cli_error("--init: '%s' is not auto, xavier or he", rs.init);
            goto done;
        }
        cr_status st = cr_net_create(&model.net, CR_F32, n_layers, dims, act);
        if (st != CR_OK) {
            cli_error("train: cannot create the network: %s", cr_status_string(st));
            goto done;
        }
        cr_net_init(model.net, scheme, rs.seed);
        cr_rng_seed(&rs.rng, rs.seed ^ 0x53485546464c45ULL); /* "SHUFFLE" */
    }
    cr_net *net = model.net;
    for (int l = 0; cli_out_is_onnx(t.out) && l + 1 < net->n_layers; l++)
        if (!cr_onnx_supported(net->act[l])) { /* the ONNX writer would refuse it after an epoch */
            cli_error("train: %s: layer %d's %s has no ONNX op in opset %d; write a .safetensors "
                      "model instead", t.out, l + 1, cr_activation_name(net->act[l]), CR_ONNX_OPSET);
            goto done;
        }
    if (net->dims[0] != train.d) {
        cli_error("train: the network takes %zu inputs but %s has %zu features per example",
                  net->dims[0], rs.data, train.d);
        goto done;
    }
    if (net->dims[net->n_layers] < train.k) {
        cli_error("train: the network has %zu outputs but %s has labels up to %zu",
                  net->dims[net->n_layers], rs.data, train.k - 1);
        goto done;
    }
    if (test.n && (test.d != train.d || test.k > net->dims[net->n_layers])) {
        cli_error("train: the test data %s does not fit the network (%zu features, %zu classes)",
                  rs.test, test.d, test.k);
        goto done;
    }
    if ((size_t)rs.batch > train.n) rs.batch = (long)train.n;
    size_t steps_per_epoch = (train.n + (size_t)rs.batch - 1) / (size_t)rs.batch;
    if (!t.resume) {
        rs.cfg.step_size = step_epochs * steps_per_epoch;
        rs.cfg.total_steps = (uint64_t)rs.epochs * steps_per_epoch;
    }

    /* ---- standardisation: statistics of the training data, stored in the model */
    if (rs.standardize && !t.resume) {
        size_t shape[1] = {train.d};
        cr_array_free(&model.input_mean);
        cr_array_free(&model.input_std);
        if (cr_array_alloc(&model.input_mean, CR_ARRAY_F32, 1, shape, &err) ||
            cr_array_alloc(&model.input_std, CR_ARRAY_F32, 1, shape, &err)) {
            cli_io_error(&err);
            goto done;
        }
        cr_dataset_standardize_stats(&train, model.input_mean.data, model.input_std.data);
    }
    /* the statistics are the net's link 0 (a resumed model has it from its file): the
       data stay raw and each batch goes through the link, (x − mean) / std in float,
       the same bits as standardising the data up front (one D-wide pass per batch) */
    if (cli_set_input_link(&model)) goto done;

    /* ---- optimiser and workspace */
    cr_status st = cr_optim_create(net, &rs.cfg, &opt);
    if (st == CR_OK) st = cr_train_ws_create(net, (size_t)rs.batch < 256 ? 256 : (size_t)rs.batch,
                                             train.n, &ws);
    if (st == CR_OK && threads >= 2) st = cr_train_ws_set_threads(ws, 2);
    if (st != CR_OK) {
        cli_error("train: %s", cr_status_string(st));
        goto done;
    }
    if (t.resume) {
        uint64_t step;
        if (!cli_checkpoint_meta_u64(&model, t.resume, "train.step", &step) ||
            !cli_checkpoint_restore_optim(&model, t.resume, opt, step))
            goto done;
    }
    if (t.log) {
        logf = fopen(t.log, "a");
        if (!logf) {
            cli_error("%s: cannot open the log for writing", t.log);
            goto done;
        }
    }

    if (!t.quiet && !t.json) {
        char arch[256];
        size_t len = 0;
        for (int l = 0; l <= net->n_layers && len < sizeof arch - 24; l++)
            len += (size_t)snprintf(arch + len, sizeof arch - len, l ? "-%zu" : "%zu", net->dims[l]);
        printf("%s %s %s: %zu train, %zu val, %zu test examples; %s lr %g, batch %ld, "
               "%ld epochs%s\n",
               t.resume ? "resuming" : "training", arch,
               cr_activation_name(net->n_layers > 1 ? net->act[0] : CR_ACT_SIGMOID), train.n,
               val.n, test.n, cr_optimizer_name(rs.cfg.kind), rs.cfg.lr, rs.batch,
               rs.epochs, rs.standardize ? ", standardised inputs" : "");
        if (t.resume) printf("from %s after epoch %ld (step %" PRIu64 ")\n", t.resume, rs.epoch, opt->step);
        fflush(stdout);
    }

    /* ---- epochs */
    progress_ctx pc = {cli_isatty(stderr) && !t.quiet && !t.json, 0, rs.epochs, 0, 0, train.n};
    eval_result last_test = {0, 0, 0}, last_val = {0, 0, 0};
    cr_train_stats stats = {0, 0, 0};
    double total_time = 0;
    long run_epochs = 0;
    rc = CLI_OK;
    while (rs.epoch < rs.epochs) {
        if (stop_after >= 0 && run_epochs >= stop_after) break;
        pc.epoch = rs.epoch;
        pc.t0 = cli_now();
        st = cr_train_epoch_f32(net, opt, ws, train.n, train.x, train.labels, (size_t)rs.batch,
                                &rs.rng, &stats, progress_cb, 16, &pc);
        double secs = cli_now() - pc.t0;
        total_time += secs;
        if (pc.tty) fprintf(stderr, "\r%90s\r", "");
        if (st == CR_ERR_NONFINITE) {
            char where[160];
            describe_nonfinite(net, ws->tape, &train, where, sizeof where);
            if (rs.epoch > 0)
                cli_error("train: the loss became NaN or infinite at step %" PRIu64 " (epoch %ld): "
                          "%s; stopped, %s keeps epoch %ld; try a smaller --lr",
                          opt->step + 1, rs.epoch + 1, where, t.out, rs.epoch);
            else
                cli_error("train: the loss became NaN or infinite at step %" PRIu64 " (epoch %ld): "
                          "%s; stopped, nothing written; try a smaller --lr",
                          opt->step + 1, rs.epoch + 1, where);
            rc = CLI_FAIL;
            break;
        }
        if (st != CR_OK) {
            cli_error("train: %s", cr_status_string(st));
            rc = CLI_FAIL;
            break;
        }
        rs.epoch++;
        run_epochs++;
        if (!evaluate(net, ws->tape, &val, &last_val) || !evaluate(net, ws->tape, &test, &last_test)) {
            cli_error("train: evaluation failed");
            rc = CLI_FAIL;
            break;
        }
        double tl = stats.loss_sum / (double)stats.seen, ta = (double)stats.correct / (double)stats.seen;
        if (cli_checkpoint_save(t.out, net, &model, opt, &rs, &err) != 0) {
            cli_io_error(&err);
            rc = CLI_FAIL;
            break;
        }
        if (!t.quiet && !t.json) {
            printf("epoch %ld/%ld  loss %.4f  train_acc %.4f", rs.epoch, rs.epochs, tl, ta);
            if (last_val.have) printf("  val_loss %.4f  val_acc %.4f", last_val.loss, last_val.acc);
            if (last_test.have) printf("  test_loss %.4f  test_acc %.4f", last_test.loss, last_test.acc);
            printf("  %.2fs\n", secs);
            fflush(stdout);
        }
        if (logf) {
            fprintf(logf, "{\"epoch\": %ld, \"step\": %" PRIu64 ", ", rs.epoch, opt->step);
            json_num(logf, "lr", cr_optim_lr(&rs.cfg, opt->step ? opt->step - 1 : 0), 1);
            json_num(logf, "train_loss", tl, 1);
            json_num(logf, "train_acc", ta, 1);
            json_eval_results(logf, &last_val, &last_test);
            json_num(logf, "seconds", secs, 1);
            json_num(logf, "samples_per_s", secs > 0 ? (double)train.n / secs : 0, 0);
            fprintf(logf, "}\n");
            fflush(logf);
        }
    }
    if (rc == CLI_OK) {
        if (t.json) {
            printf("{\"model\": ");
            cli_json_string(stdout, t.out);
            printf(", \"epochs\": %ld, \"steps\": %" PRIu64 ", \"epochs_this_run\": %ld, ", rs.epoch,
                   opt->step, run_epochs);
            if (run_epochs) {
                json_num(stdout, "train_loss", stats.loss_sum / (double)stats.seen, 1);
                json_num(stdout, "train_acc", (double)stats.correct / (double)stats.seen, 1);
            }
            json_eval_results(stdout, &last_val, &last_test);
            json_num(stdout, "seconds", total_time, 0);
            printf("}\n");
        } else if (!t.quiet) {
            if (run_epochs == 0)
                printf("nothing to do: %s has completed %ld of %ld epochs\n",
                       t.resume ? t.resume : t.out, rs.epoch, rs.epochs);
            else if (last_test.have)
                printf("wrote %s after epoch %ld/%ld (%.2fs training, test accuracy %.4f)\n", t.out,
                       rs.epoch, rs.epochs, total_time, last_test.acc);
            else
                printf("wrote %s after epoch %ld/%ld (%.2fs training)\n", t.out, rs.epoch,
                       rs.epochs, total_time);
        }
    }

done:
    if (logf) fclose(logf);
    cr_train_ws_free(ws);
    cr_optim_free(opt);
    cr_dataset_free(&all);
    cr_dataset_free(&train);
    cr_dataset_free(&val);
    cr_dataset_free(&test);
    cr_model_free(&model);
    return rc;
}
