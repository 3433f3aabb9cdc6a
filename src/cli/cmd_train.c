/*
 * chainrule train: minibatch training of a network on a dataset, with a
 * checkpoint written atomically after every epoch and --resume.
 *
 * The model file doubles as the checkpoint (cr_checkpoint_*, include/chainrule_io.h;
 * docs/design.md §8). A run is an object (train_run) going through its phases:
 * its configuration (new, or from the checkpoint it resumes), the data, the
 * network, the optimiser, the epochs (each one trained, evaluated, checkpointed
 * and reported), and the summary.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
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
        *lr_min, *seed, *threads, *out, *resume, *stop_after, *log, *plot;
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
    if (cr_evaluate_f32(cli_ctx(), net, tape, ds->n, ds->x, ds->labels, &loss, &correct, NULL, NULL) != CR_OK)
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
    const float *p = cr_net_params_const(net);
    for (int l = 0; l < cr_net_n_layers(net); l++) {
        size_t nw = cr_net_width(net, l) * cr_net_width(net, l + 1), nb = cr_net_width(net, l + 1);
        for (size_t i = 0; i < nw + nb; i++) {
            float v = i < nw ? p[cr_net_weight_offset(net, l) + i] : p[cr_net_bias_offset(net, l) + i - nw];
            if (!isfinite(v)) {
                snprintf(buf, size, "layer %d's %s became %s (the update overflowed)", l + 1,
                         i < nw ? "weights" : "bias",
                         isnan(v) ? "NaN" : "infinite");
                return;
            }
        }
    }
    size_t d = cr_net_width(net, 0);
    for (size_t r0 = 0; ds && r0 < ds->n; r0 += cr_tape_max_batch(tape)) {
        size_t m = ds->n - r0 < cr_tape_max_batch(tape) ? ds->n - r0 : cr_tape_max_batch(tape);
        if (cr_net_forward_f32(net, tape, m, ds->x + r0 * d) != CR_OK) break;
        for (int l = 0; l < cr_net_n_layers(net); l++) {
            size_t w = cr_net_width(net, l + 1);
            for (int post = 0; post < 2; post++) {
                const float *a = post ? cr_tape_post(tape, l) : cr_tape_pre(tape, l);
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
             cr_net_n_layers(net));
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

/* ------------------------------------------------------------ the run */

typedef struct {
    train_args t;
    cr_checkpoint ck;      /* hyperparameters, data options, counters, RNG: what a checkpoint stores */
    cli_data_opts dopt;    /* the data options in effect (a resumed run's come from its checkpoint) */
    long stop_after;       /* -1: none */
    long threads;          /* 0: the default */
    size_t step_epochs;    /* the step schedule's period in epochs (a new run's) */
    cr_model model;        /* the net and the standardisation statistics */
    cr_dataset all, train, val, test;
    cr_optim *opt;
    cr_train_ws *ws;
    FILE *logf;
    /* what the epochs did */
    eval_result last_val, last_test;
    cr_train_stats stats;
    double total_time;
    long run_epochs;
    /* --plot: this run's curves, one row per epoch: epoch, train loss, train acc, val loss,
       val acc, test loss, test acc (NaN where a set is not evaluated) */
    double (*hist)[7];
    size_t n_hist, cap_hist;
} train_run;

static void run_free(train_run *r) {
    if (r->logf) fclose(r->logf);
    free(r->hist);
    cr_train_ws_free(r->ws);
    cr_optim_free(r->opt);
    cr_dataset_free(&r->all);
    cr_dataset_free(&r->train);
    cr_dataset_free(&r->val);
    cr_dataset_free(&r->test);
    cr_model_free(&r->model);
}

/* --stop-after, --threads, and an --out that can be written (bad input is said
   before training). */
static int run_general_options(train_run *r) {
    const train_args *t = &r->t;
    cr_atomic_file probe;
    if (cr_atomic_open(&probe, t->out) != 0) return cli_io_error();
    cr_atomic_abort(&probe);
    r->stop_after = -1;
    if (t->stop_after && !cli_parse_long("--stop-after", t->stop_after, 0, 1000000, &r->stop_after))
        return CLI_USAGE;
    if (t->threads) {
        if (!cli_parse_long("--threads", t->threads, 1, 1024, &r->threads)) return CLI_USAGE;
        if (cli_set_threads(t->threads)) return CLI_USAGE;
    }
    return CLI_OK;
}

/* A resumed run: the model, hyperparameters, data options and state from the
   checkpoint; only --epochs, --data and --test may change them. */
static int run_resume_config(train_run *r) {
    const train_args *t = &r->t;
    const char *conflicting[] = {t->layers, t->activation, t->init, t->batch, t->optimizer, t->lr,
                                 t->momentum, t->beta1, t->beta2, t->eps, t->weight_decay,
                                 t->schedule, t->step_epochs, t->gamma, t->lr_min, t->seed,
                                 t->val};
    for (size_t i = 0; i < sizeof conflicting / sizeof *conflicting; i++)
        if (conflicting[i])
            return cli_error("train: with --resume the hyperparameters come from the "
                             "checkpoint; only --epochs, --data, --test, --out, --log, "
                             "--threads and --stop-after may be given");
    if (cli_load_model(t->resume, &r->model) != CLI_OK) return CLI_USAGE;
    const cr_net *net = r->model.net;
    if (cli_require_plain("train", t->resume, net)) return CLI_USAGE;
    for (int l = 0; l < cr_net_n_layers(net); l++)
        if (cr_net_affine_form(net, l + 1) == CR_AFFINE_BATCHNORM)
            return cli_error("%s: train does not train models with BatchNorm (after linear "
                             "layer %d): its running statistics would stay frozen", t->resume, l + 1);
    if (cr_net_dtype(net) != CR_F32) return cli_error("%s: training needs a float32 model", t->resume);
    cr_checkpoint *ck = &r->ck;
    if (cr_checkpoint_read(&r->model, t->resume, ck)) return cli_io_error();
    if (t->epochs && !cli_parse_long("--epochs", t->epochs, 1, 1000000, &ck->epochs)) return CLI_USAGE;
    if (t->data) snprintf(ck->data, sizeof ck->data, "%s", t->data);
    if (t->test) snprintf(ck->test, sizeof ck->test, "%s", t->test);
    if (!strcmp(ck->test, "none")) ck->test[0] = '\0';
    if (!t->dopt.label_column && ck->label_column[0]) r->dopt.label_column = ck->label_column;
    if (!t->dopt.header && ck->header[0]) r->dopt.header = ck->header;
    if (!t->dopt.limit && ck->limit[0]) r->dopt.limit = ck->limit;
    if (!t->dopt.classes && ck->classes[0]) r->dopt.classes = ck->classes;
    return CLI_OK;
}

/* A new run's optimiser options (--optimizer, --lr, ..., --lr-min) into ck->cfg. */
static int run_new_optimiser(train_run *r) {
    const train_args *t = &r->t;
    cr_optim_config *c = &r->ck.cfg;
    const char *oname = t->optimizer ? t->optimizer : DEFAULT_OPTIMIZER;
    if (cr_optimizer_parse(oname, &c->kind) != CR_OK)
        return cli_error("--optimizer: '%s' is not sgd, momentum, nesterov or adam", oname);
    const char *lr = t->lr ? t->lr : c->kind == CR_OPT_ADAM ? DEFAULT_LR_ADAM : DEFAULT_LR_SGD;
    if (!cli_parse_double("--lr", lr, 1e-12, 1e6, &c->lr) ||
        (t->momentum && !cli_parse_double("--momentum", t->momentum, 0, 0.999999, &c->momentum)) ||
        (t->beta1 && !cli_parse_double("--beta1", t->beta1, 0, 0.999999, &c->beta1)) ||
        (t->beta2 && !cli_parse_double("--beta2", t->beta2, 0, 0.999999999, &c->beta2)) ||
        (t->eps && !cli_parse_double("--eps", t->eps, 1e-30, 1, &c->eps)) ||
        (t->weight_decay && !cli_parse_double("--weight-decay", t->weight_decay, 0, 1e3, &c->weight_decay)))
        return CLI_USAGE;
    if (t->schedule && cr_schedule_parse(t->schedule, &c->schedule) != CR_OK)
        return cli_error("--schedule: '%s' is not constant, step or cosine", t->schedule);
    long v;
    if (t->step_epochs) {
        if (!cli_parse_long("--step-epochs", t->step_epochs, 1, 1000000, &v)) return CLI_USAGE;
        r->step_epochs = (size_t)v;
    }
    if ((t->gamma && !cli_parse_double("--gamma", t->gamma, 1e-12, 1, &c->gamma)) ||
        (t->lr_min && !cli_parse_double("--lr-min", t->lr_min, 0, c->lr, &c->lr_min)))
        return CLI_USAGE;
    return CLI_OK;
}

/* A new run: its configuration from the options and their defaults. */
static int run_new_config(train_run *r) {
    const train_args *t = &r->t;
    cr_checkpoint *ck = &r->ck;
    ck->cfg = cr_optim_config_default();
    ck->cfg.schedule = CR_SCHED_COSINE;
    snprintf(ck->data, sizeof ck->data, "%s", t->data);
    ck->epochs = 10;
    ck->batch = 64;
    ck->seed = 1;
    snprintf(ck->init, sizeof ck->init, "%s", t->init ? t->init : "auto");
    if ((t->epochs && !cli_parse_long("--epochs", t->epochs, 1, 1000000, &ck->epochs)) ||
        (t->batch && !cli_parse_long("--batch", t->batch, 1, 1L << 24, &ck->batch)) ||
        (t->seed && !cli_parse_u64("--seed", t->seed, &ck->seed)) ||
        (t->val && !cli_parse_double("--val", t->val, 0, 0.99, &ck->val)))
        return CLI_USAGE;
    ck->standardize = t->standardize;
    int rc = run_new_optimiser(r);
    if (rc) return rc;
    const cli_data_opts *d = &r->dopt;
    snprintf(ck->label_column, sizeof ck->label_column, "%s", d->label_column ? d->label_column : "");
    snprintf(ck->header, sizeof ck->header, "%s", d->header ? d->header : "");
    snprintf(ck->limit, sizeof ck->limit, "%s", d->limit ? d->limit : "");
    snprintf(ck->classes, sizeof ck->classes, "%s", d->classes ? d->classes : "");
    return CLI_OK;
}

/* The training data (split off --val), and the test data. */
static int run_data(train_run *r) {
    cr_checkpoint *ck = &r->ck;
    if (cli_load_dataset(ck->data, &r->dopt, &r->all) != CLI_OK) return CLI_USAGE;
    if (ck->val > 0) {
        if (cr_dataset_split(&r->all, ck->val, ck->seed, &r->train, &r->val) != 0)
            return cli_io_error();
        cr_dataset_free(&r->all);
    } else {
        r->train = r->all;
        memset(&r->all, 0, sizeof r->all);
    }
    if (!r->t.resume) {
        char buf[700];
        const char *ts = r->t.test ? r->t.test : cli_default_test_spec(ck->data, buf, sizeof buf);
        snprintf(ck->test, sizeof ck->test, "%s", ts && strcmp(ts, "none") ? ts : "");
    }
    if (ck->test[0]) {
        cli_data_opts topt = r->dopt;
        topt.limit = NULL; /* --limit restricts the training data only */
        if (cli_load_dataset(ck->test, &topt, &r->test) != CLI_OK) return CLI_USAGE;
    }
    return CLI_OK;
}

/* A new run's network, initialised, and its shuffle RNG. */
static int run_new_network(train_run *r) {
    const train_args *t = &r->t;
    size_t dims[CR_MAX_LAYERS + 1];
    int n_layers = 2;
    cr_activation act[CR_MAX_LAYERS];
    if (t->layers) {
        if (!cli_parse_layers("--layers", t->layers, dims, &n_layers)) return CLI_USAGE;
    } else {
        dims[0] = r->train.d;
        dims[1] = 128;
        dims[2] = r->train.k;
    }
    if (!cli_parse_activations("--activation", t->activation ? t->activation : "sigmoid",
                               n_layers - 1, act))
        return CLI_USAGE;
    cr_init scheme;
    const char *init = r->ck.init;
    if (!strcmp(init, "auto")) scheme = CR_INIT_AUTO;
    else if (!strcmp(init, "xavier")) scheme = CR_INIT_XAVIER;
    else if (!strcmp(init, "he")) scheme = CR_INIT_HE;
    else return cli_error("--init: '%s' is not auto, xavier or he", init);
    cr_status st = cr_net_create(&r->model.net, CR_F32, n_layers, dims, act);
    if (st != CR_OK) return cli_error("train: cannot create the network: %s", cr_status_string(st));
    cr_net_init(r->model.net, scheme, r->ck.seed);
    cr_rng_seed(&r->ck.rng, r->ck.seed ^ 0x53485546464c45ULL); /* "SHUFFLE" */
    return CLI_OK;
}

/* The network fits the data and --out; the batch and the schedule's steps. */
static int run_check_fit(train_run *r) {
    const cr_net *net = r->model.net;
    const cr_dataset *train = &r->train, *test = &r->test;
    cr_checkpoint *ck = &r->ck;
    const char *out = r->t.out;
    for (int l = 0; cli_out_is_onnx(out) && l + 1 < cr_net_n_layers(net); l++)
        if (!cr_onnx_supported(cr_net_activation(net, l))) /* the ONNX writer would refuse it after an epoch */
            return cli_error("train: %s: layer %d's %s has no ONNX op in opset %d; write a .safetensors "
                             "model instead", out, l + 1, cr_activation_name(cr_net_activation(net, l)), CR_ONNX_OPSET);
    if (cr_net_width(net, 0) != train->d)
        return cli_error("train: the network takes %zu inputs but %s has %zu features per example",
                         cr_net_width(net, 0), ck->data, train->d);
    if (cr_net_width(net, cr_net_n_layers(net)) < train->k)
        return cli_error("train: the network has %zu outputs but %s has labels up to %zu",
                         cr_net_width(net, cr_net_n_layers(net)), ck->data, train->k - 1);
    if (test->n && (test->d != train->d || test->k > cr_net_width(net, cr_net_n_layers(net))))
        return cli_error("train: the test data %s does not fit the network (%zu features, %zu classes)",
                         ck->test, test->d, test->k);
    if ((size_t)ck->batch > train->n) ck->batch = (long)train->n;
    size_t steps_per_epoch = (train->n + (size_t)ck->batch - 1) / (size_t)ck->batch;
    if (!r->t.resume) {
        ck->cfg.step_size = r->step_epochs * steps_per_epoch;
        ck->cfg.total_steps = (uint64_t)ck->epochs * steps_per_epoch;
    }
    return CLI_OK;
}

/* A new --standardize run: the statistics of the training data, stored in the
   model. They become the net's link 0 (a resumed model has it from its file):
   the data stay raw and each batch goes through the link, (x − mean) / std in
   float, the same bits as standardising the data up front. */
static int run_standardisation(train_run *r) {
    if (r->ck.standardize && !r->t.resume) {
        cr_model *m = &r->model;
        size_t shape[1] = {r->train.d};
        cr_array_free(&m->input_mean);
        cr_array_free(&m->input_std);
        if (cr_array_alloc(&m->input_mean, CR_ARRAY_F32, 1, shape) ||
            cr_array_alloc(&m->input_std, CR_ARRAY_F32, 1, shape))
            return cli_io_error();
        cr_dataset_standardize_stats(&r->train, m->input_mean.data, m->input_std.data);
    }
    return cli_set_input_link(&r->model) ? CLI_USAGE : CLI_OK;
}

/* The optimiser (a resumed run's state restored), the workspace and the log. */
static int run_optimiser(train_run *r) {
    const cr_net *net = r->model.net;
    size_t n = r->train.n, batch = (size_t)r->ck.batch;
    cr_status st = cr_optim_create(net, &r->ck.cfg, &r->opt);
    if (st == CR_OK) st = cr_train_ws_create(net, batch < 256 ? 256 : batch, n, &r->ws);
    if (st == CR_OK && r->threads >= 2) st = cr_train_ws_set_threads(r->ws, 2);
    if (st != CR_OK) return cli_error("train: %s", cr_status_string(st));
    if (r->t.resume && cr_checkpoint_restore_optim(&r->model, r->t.resume, r->opt))
        return cli_io_error();
    if (r->t.log && !(r->logf = fopen(r->t.log, "a")))
        return cli_error("%s: cannot open the log for writing", r->t.log);
    return CLI_OK;
}

/* The line saying what is trained (and from where it resumes). */
static void run_print_start(const train_run *r) {
    const cr_net *net = r->model.net;
    const cr_checkpoint *ck = &r->ck;
    char arch[256];
    size_t len = 0;
    for (int l = 0; l <= cr_net_n_layers(net) && len < sizeof arch - 24; l++)
        len += (size_t)snprintf(arch + len, sizeof arch - len, l ? "-%zu" : "%zu", cr_net_width(net, l));
    printf("%s %s %s: %zu train, %zu val, %zu test examples; %s lr %g, batch %ld, "
           "%ld epochs%s\n",
           r->t.resume ? "resuming" : "training", arch,
           cr_activation_name(cr_net_n_layers(net) > 1 ? cr_net_activation(net, 0) : CR_ACT_SIGMOID), r->train.n,
           r->val.n, r->test.n, cr_optimizer_name(ck->cfg.kind), ck->cfg.lr, ck->batch,
           ck->epochs, ck->standardize ? ", standardised inputs" : "");
    if (r->t.resume)
        printf("from %s after epoch %ld (step %" PRIu64 ")\n", r->t.resume, ck->epoch, r->opt->step);
    fflush(stdout);
}

/* Everything before the first epoch. */
static int run_setup(train_run *r) {
    int rc = run_general_options(r);
    if (rc == CLI_OK) rc = r->t.resume ? run_resume_config(r) : run_new_config(r);
    if (rc == CLI_OK) rc = run_data(r);
    if (rc == CLI_OK && !r->t.resume) rc = run_new_network(r);
    if (rc == CLI_OK) rc = run_check_fit(r);
    if (rc == CLI_OK) rc = run_standardisation(r);
    if (rc == CLI_OK) rc = run_optimiser(r);
    if (rc == CLI_OK && !r->t.quiet && !r->t.json) run_print_start(r);
    return rc;
}

/* One epoch of training; CLI_FAIL after printing when the step failed. */
static int run_train_epoch(train_run *r, progress_ctx *pc, double *secs) {
    cr_checkpoint *ck = &r->ck;
    cr_net *net = r->model.net;
    pc->epoch = ck->epoch;
    pc->t0 = cli_now();
    cr_status st = cr_train_epoch_f32(cli_ctx(), net, r->opt, r->ws, r->train.n, r->train.x, r->train.labels,
                                      (size_t)ck->batch, &ck->rng, &r->stats, progress_cb, 16, pc);
    *secs = cli_now() - pc->t0;
    r->total_time += *secs;
    if (pc->tty) fprintf(stderr, "\r%90s\r", "");
    if (st == CR_ERR_NONFINITE) {
        char where[160];
        describe_nonfinite(net, cr_train_ws_tape(r->ws), &r->train, where, sizeof where);
        if (ck->epoch > 0)
            cli_error("train: the loss became NaN or infinite at step %" PRIu64 " (epoch %ld): "
                      "%s; stopped, %s keeps epoch %ld; try a smaller --lr",
                      r->opt->step + 1, ck->epoch + 1, where, r->t.out, ck->epoch);
        else
            cli_error("train: the loss became NaN or infinite at step %" PRIu64 " (epoch %ld): "
                      "%s; stopped, nothing written; try a smaller --lr",
                      r->opt->step + 1, ck->epoch + 1, where);
        return CLI_FAIL;
    }
    if (st != CR_OK) return cli_error("train: %s", cr_status_string(st)), CLI_FAIL;
    return CLI_OK;
}

/* --out after an epoch: the checkpoint, or the model alone for an ONNX name
   (ONNX has no place for the training state: such a run cannot be resumed). */
static int run_checkpoint(train_run *r) {
    int rc;
    if (cli_out_is_onnx(r->t.out)) {
        cr_model m;
        memset(&m, 0, sizeof m);
        m.net = r->model.net;
        m.input_mean = r->model.input_mean;
        m.input_std = r->model.input_std;
        rc = cr_onnx_write(r->t.out, &m);
    } else {
        rc = cr_checkpoint_save(r->t.out, &r->model, r->opt, &r->ck);
    }
    return rc ? (cli_io_error(), CLI_FAIL) : CLI_OK;
}

/* The epoch's line on stdout and in the --log. */
static void run_report_epoch(const train_run *r, double secs) {
    const cr_checkpoint *ck = &r->ck;
    const eval_result *v = &r->last_val, *te = &r->last_test;
    double tl = r->stats.loss_sum / (double)r->stats.seen;
    double ta = (double)r->stats.correct / (double)r->stats.seen;
    if (!r->t.quiet && !r->t.json) {
        printf("epoch %ld/%ld  loss %.4f  train_acc %.4f", ck->epoch, ck->epochs, tl, ta);
        if (v->have) printf("  val_loss %.4f  val_acc %.4f", v->loss, v->acc);
        if (te->have) printf("  test_loss %.4f  test_acc %.4f", te->loss, te->acc);
        printf("  %.2fs\n", secs);
        fflush(stdout);
    }
    if (r->logf) {
        FILE *f = r->logf;
        uint64_t step = r->opt->step;
        fprintf(f, "{\"epoch\": %ld, \"step\": %" PRIu64 ", ", ck->epoch, step);
        json_num(f, "lr", cr_optim_lr(&ck->cfg, step ? step - 1 : 0), 1);
        json_num(f, "train_loss", tl, 1);
        json_num(f, "train_acc", ta, 1);
        json_eval_results(f, v, te);
        json_num(f, "seconds", secs, 1);
        json_num(f, "samples_per_s", secs > 0 ? (double)r->train.n / secs : 0, 0);
        fprintf(f, "}\n");
        fflush(f);
    }
}

/* --plot: the epoch's row of the history, and the chart redrawn (so that it is there
   after every epoch, also when the run is stopped): loss and accuracy against the epoch. */
static int run_plot_epoch(train_run *r) {
    if (r->n_hist == r->cap_hist) {
        size_t cap = r->cap_hist ? 2 * r->cap_hist : 64;
        double(*h)[7] = realloc(r->hist, cap * sizeof *h);
        if (!h) return cli_error("train: out of memory");
        r->hist = h, r->cap_hist = cap;
    }
    double *row = r->hist[r->n_hist++];
    const eval_result *v = &r->last_val, *te = &r->last_test;
    row[0] = (double)r->ck.epoch;
    row[1] = r->stats.loss_sum / (double)r->stats.seen;
    row[2] = 100.0 * (double)r->stats.correct / (double)r->stats.seen;
    row[3] = v->have ? v->loss : NAN, row[4] = v->have ? 100.0 * v->acc : NAN;
    row[5] = te->have ? te->loss : NAN, row[6] = te->have ? 100.0 * te->acc : NAN;
    const size_t n = r->n_hist;
    double *col = malloc(7 * n * sizeof *col);
    if (!col) return cli_error("train: out of memory");
    for (size_t c = 0; c < 7; c++)
        for (size_t i = 0; i < n; i++) col[c * n + i] = r->hist[i][c];
    static const char *const names[3] = {"training (running mean)", "validation", "test"};
    cr_plot_series loss[3], acc[3];
    size_t nl = 0;
    for (int k = 0; k < 3; k++) {
        if (k && isnan(col[(size_t)(1 + 2 * k) * n + n - 1])) continue; /* a set not evaluated */
        loss[nl] = (cr_plot_series){names[k], col, col + (size_t)(1 + 2 * k) * n, n};
        acc[nl++] = (cr_plot_series){names[k], col, col + (size_t)(2 + 2 * k) * n, n};
    }
    /* the axis from the first epoch plotted (epoch 1, or the one after a resumed checkpoint's) */
    const double x0 = col[0], x1 = col[n - 1] > x0 + 1 ? col[n - 1] : x0 + 1;
    cr_plot_panel pn[2] = {{"loss (cross-entropy)", "epoch", "mean loss", loss, nl, x0, x1, 0, 0, 1, 0},
                           {"accuracy (%)", "epoch", "accuracy %", acc, nl, x0, x1, 0, 0, 1, 1}};
    char title[512];
    const char *base = strrchr(r->t.out, '/');
    snprintf(title, sizeof title, "training %.80s: loss and accuracy per epoch\n%s, lr %g, batch %ld%s",
             base ? base + 1 : r->t.out, cr_optimizer_name(r->ck.cfg.kind), r->ck.cfg.lr, r->ck.batch,
             r->t.resume ? " (this run's epochs)" : "");
    cr_image img;
    int rc = cr_plot_panels(pn, 2, title, &img) || cr_image_write_png(r->t.plot, &img)
                 ? cli_io_error()
                 : CLI_OK;
    cr_image_free(&img);
    free(col);
    return rc;
}

/* The epochs: each trained, evaluated, checkpointed and reported. */
static int run_epochs(train_run *r) {
    cr_checkpoint *ck = &r->ck;
    const int quiet = r->t.quiet || r->t.json;
    progress_ctx pc = {cli_isatty(stderr) && !quiet, 0, ck->epochs, 0, 0, r->train.n};
    while (ck->epoch < ck->epochs) {
        if (r->stop_after >= 0 && r->run_epochs >= r->stop_after) break;
        double secs;
        int rc = run_train_epoch(r, &pc, &secs);
        if (rc) return rc;
        ck->epoch++;
        r->run_epochs++;
        cr_tape *tape = cr_train_ws_tape(r->ws);
        if (!evaluate(r->model.net, tape, &r->val, &r->last_val) ||
            !evaluate(r->model.net, tape, &r->test, &r->last_test))
            return cli_error("train: evaluation failed"), CLI_FAIL;
        if ((rc = run_checkpoint(r))) return rc;
        run_report_epoch(r, secs);
        if (r->t.plot && (rc = run_plot_epoch(r))) return rc;
    }
    return CLI_OK;
}

/* The summary at the end: JSON, or one line. */
static void run_report(const train_run *r) {
    const cr_checkpoint *ck = &r->ck;
    const train_args *t = &r->t;
    if (t->json) {
        printf("{\"model\": ");
        cli_json_string(stdout, t->out);
        printf(", \"epochs\": %ld, \"steps\": %" PRIu64 ", \"epochs_this_run\": %ld, ", ck->epoch,
               r->opt->step, r->run_epochs);
        if (r->run_epochs) {
            json_num(stdout, "train_loss", r->stats.loss_sum / (double)r->stats.seen, 1);
            json_num(stdout, "train_acc", (double)r->stats.correct / (double)r->stats.seen, 1);
        }
        json_eval_results(stdout, &r->last_val, &r->last_test);
        json_num(stdout, "seconds", r->total_time, 0);
        printf("}\n");
    } else if (!t->quiet) {
        if (r->run_epochs == 0)
            printf("nothing to do: %s has completed %ld of %ld epochs\n",
                   t->resume ? t->resume : t->out, ck->epoch, ck->epochs);
        else if (r->last_test.have)
            printf("wrote %s after epoch %ld/%ld (%.2fs training, test accuracy %.4f)\n", t->out,
                   ck->epoch, ck->epochs, r->total_time, r->last_test.acc);
        else
            printf("wrote %s after epoch %ld/%ld (%.2fs training)\n", t->out, ck->epoch,
                   ck->epochs, r->total_time);
    }
}

int cmd_train(int argc, char **argv) {
    train_run run;
    memset(&run, 0, sizeof run);
    run.step_epochs = 1;
    train_args *const tp = &run.t;
    cli_opt data_opts[CLI_DATA_TABLE_SIZE];
    cli_data_table(&tp->dopt, data_opts);
    char act_help[512], init_help[512]; /* the lists from the activation table */
    snprintf(act_help, sizeof act_help,
             "hidden activation (default sigmoid), one of\n%s;\nor one per hidden layer",
             cli_activation_names(", "));
    snprintf(init_help, sizeof init_help, "initialisation (default auto: Xavier for %s,\nHe for %s)",
             cli_activation_names_init(CR_INIT_XAVIER), cli_activation_names_init(CR_INIT_HE));
    const cli_opt opts[] = {
        CLI_HEADING("data"),
        CLI_STR("--data", &tp->data, "SPEC",
                "fashion-mnist[:train|:test], mnist, DIR (MNIST-style IDX\n"
                "files), FILE.csv, or X.npy,Y.npy (required unless --resume)"),
        CLI_STR("--test", &tp->test, "SPEC|none",
                "data evaluated after every epoch (default: the :test\n"
                "split that goes with --data, if any)"),
        CLI_STR("--val", &tp->val, "FRACTION", "hold out this fraction of the training data (default 0)"),
        CLI_FLAG("--standardize", &tp->standardize,
                 "standardise every input feature with the training data's\n"
                 "mean and std (stored in the model; predict/grad apply it)"),
        CLI_INCLUDE(data_opts),
        CLI_HEADING("network"),
        CLI_STR("--layers", &tp->layers, "D,H,...,K", "layer widths (default: D,128,K from the data)"),
        CLI_STR("--activation", &tp->activation, "NAME", act_help),
        CLI_STR("--init", &tp->init, "auto|xavier|he", init_help),
        CLI_HEADING("optimisation"),
        CLI_STR("--epochs", &tp->epochs, "N", "epochs (default 10; with --resume, the new total)"),
        CLI_STR("--batch", &tp->batch, "N", "minibatch size (default 64; 1 = per-example SGD)"),
        CLI_STR("--optimizer", &tp->optimizer, "NAME", "sgd, momentum, nesterov, adam (default " DEFAULT_OPTIMIZER ")"),
        CLI_STR("--lr", &tp->lr, "X",
                "learning rate (default " DEFAULT_LR_ADAM " for adam, " DEFAULT_LR_SGD " otherwise)"),
        CLI_STR("--momentum", &tp->momentum, "X", "momentum/nesterov coefficient (default 0.9)"),
        CLI_STR("--beta1", &tp->beta1, "X", "Adam beta1 (default 0.9)"),
        CLI_STR("--beta2", &tp->beta2, "X", "Adam beta2 (default 0.999)"),
        CLI_STR("--eps", &tp->eps, "X", "Adam epsilon (default 1e-8)"),
        CLI_STR("--weight-decay", &tp->weight_decay, "X", "L2 coefficient added to the gradient (default 0)"),
        CLI_STR("--schedule", &tp->schedule, "NAME",
                "cosine (default: from --lr down to --lr-min over all the\n"
                "steps of --epochs), step, constant"),
        CLI_STR("--step-epochs", &tp->step_epochs, "N",
                "step schedule: multiply the lr by --gamma every N epochs\n(default 1)"),
        CLI_STR("--gamma", &tp->gamma, "X", "step schedule factor (default 0.1)"),
        CLI_STR("--lr-min", &tp->lr_min, "X", "cosine schedule: final learning rate (default 0)"),
        CLI_STR("--seed", &tp->seed, "N", "seed of the initialisation, shuffle and split (default 1)"),
        CLI_STR("--threads", &tp->threads, "N",
                "1: one training worker (BLAS at 1 thread); 2 or more: two\n"
                "workers, each running the BLAS at 1 thread (default: one\n"
                "worker, the BLAS default); same --threads, same bits"),
        CLI_HEADING("output"),
        CLI_STR("--out", &tp->out, "PATH",
                "model + checkpoint, rewritten atomically after every epoch\n"
                "(default model.safetensors; with --resume, the resumed file);\n"
                "PATH.onnx: the model as ONNX, without the training state"),
        CLI_FILE("--resume", &tp->resume, "PATH", 0, CLI_FILE_CHECKPOINT,
                 "continue the run saved in PATH (its hyperparameters, data\n"
                 "and state) and write it back to PATH (or to --out);\n"
                 "--epochs may raise the total"),
        CLI_STR("--stop-after", &tp->stop_after, "N", "stop after N epochs of this invocation (as if interrupted)"),
        CLI_STR("--log", &tp->log, "PATH", "append one JSON object per epoch (JSON lines)"),
        CLI_STR("--plot", &tp->plot, "FILE",
                "chart of the loss and the accuracy per epoch (training, and\n"
                "validation/test when evaluated), redrawn after every epoch"),
        CLI_FLAG("--json", &tp->json, "print a JSON summary at the end instead of the text one"),
        CLI_FLAG("--quiet", &tp->quiet, "no per-epoch lines"),
        CLI_END,
    };
    int status;
    if (!cli_parse(argc, argv, opts, train_help, &status)) return status;
    if (!run.t.data && !run.t.resume) return cli_error("train: --data is required (see --help)");
    /* a resumed run continues in its own file unless --out names another one;
       a new run writes --out, by default model.safetensors */
    if (!run.t.out) run.t.out = run.t.resume ? run.t.resume : "model.safetensors";
    run.dopt = run.t.dopt;
    int rc = run_setup(&run);
    if (rc == CLI_OK) rc = run_epochs(&run);
    if (rc == CLI_OK) run_report(&run);
    run_free(&run);
    return rc;
}
