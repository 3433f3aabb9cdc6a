/*
 * Training checkpoints (see cli_train.h).
 *
 * The model file doubles as the checkpoint: besides the network (and the
 * standardisation statistics) it carries the training state in the model's
 * `extra` part:
 *   tensors   optim.m, optim.v          optimiser state [n_params] (F32)
 *   metadata  train.epoch               epochs completed
 *             train.step                optimiser steps taken
 *             train.rng                 shuffle RNG state, 4 x 64-bit hex
 *             train.*                   the hyperparameters and data options
 * --resume restores all of it, so an interrupted run that is resumed ends
 * with the same model, bit for bit, as an uninterrupted one (same build,
 * same --threads: with --threads 2 or more the step runs on two workers,
 * whose model bits differ from one worker's by float rounding).
 * An --out ending in .onnx gets the model as ONNX instead, without the
 * training state (not resumable).
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_train.h"

static int meta_set(cr_safetensors *st, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int meta_set(cr_safetensors *st, const char *key, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cr_error err;
    return cr_safetensors_set_meta(st, key, buf, &err);
}

int cli_checkpoint_save(const char *path, const cr_net *net, const cr_model *stats,
                           const cr_optim *opt, const cli_run_state *rs, cr_error *err) {
    cr_model m;
    memset(&m, 0, sizeof m);
    m.net = (cr_net *)net;
    m.input_mean = stats->input_mean;
    m.input_std = stats->input_std;
    /* an ONNX --out gets the model alone: ONNX has no place for the training state,
       so such a run cannot be resumed */
    if (cli_out_is_onnx(path)) return cr_onnx_write(path, &m, err);
    cr_safetensors *x = &m.extra;
    const cr_optim_config *c = &opt->cfg;
    int rc = 0;
    rc |= meta_set(x, "train.epoch", "%ld", rs->epoch);
    rc |= meta_set(x, "train.epochs", "%ld", rs->epochs);
    rc |= meta_set(x, "train.step", "%" PRIu64, opt->step);
    rc |= meta_set(x, "train.rng", "%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64,
                   rs->rng.s[0], rs->rng.s[1], rs->rng.s[2], rs->rng.s[3]);
    rc |= meta_set(x, "train.seed", "%" PRIu64, rs->seed);
    rc |= meta_set(x, "train.batch", "%ld", rs->batch);
    rc |= meta_set(x, "train.optimizer", "%s", cr_optimizer_name(c->kind));
    rc |= meta_set(x, "train.lr", "%.17g", c->lr);
    rc |= meta_set(x, "train.momentum", "%.17g", c->momentum);
    rc |= meta_set(x, "train.beta1", "%.17g", c->beta1);
    rc |= meta_set(x, "train.beta2", "%.17g", c->beta2);
    rc |= meta_set(x, "train.eps", "%.17g", c->eps);
    rc |= meta_set(x, "train.weight_decay", "%.17g", c->weight_decay);
    rc |= meta_set(x, "train.schedule", "%s", cr_schedule_name(c->schedule));
    rc |= meta_set(x, "train.step_size", "%" PRIu64, c->step_size);
    rc |= meta_set(x, "train.gamma", "%.17g", c->gamma);
    rc |= meta_set(x, "train.total_steps", "%" PRIu64, c->total_steps);
    rc |= meta_set(x, "train.lr_min", "%.17g", c->lr_min);
    rc |= meta_set(x, "train.data", "%s", rs->data);
    rc |= meta_set(x, "train.test", "%s", rs->test);
    rc |= meta_set(x, "train.val", "%.17g", rs->val);
    rc |= meta_set(x, "train.standardize", "%d", rs->standardize);
    rc |= meta_set(x, "train.init", "%s", rs->init);
    rc |= meta_set(x, "train.label_column", "%s", rs->label_column);
    rc |= meta_set(x, "train.header", "%s", rs->header);
    rc |= meta_set(x, "train.limit", "%s", rs->limit);
    rc |= meta_set(x, "train.classes", "%s", rs->classes);
    const void *state[2] = {opt->m, opt->v};
    const char *names[2] = {"optim.m", "optim.v"};
    for (int i = 0; i < 2 && !rc; i++) {
        if (!state[i]) continue;
        cr_array a;
        memset(&a, 0, sizeof a);
        a.dtype = CR_ARRAY_F32;
        a.ndim = 1;
        a.shape[0] = opt->n_params;
        a.count = opt->n_params;
        a.data = (void *)state[i]; /* borrowed; cr_safetensors_add copies */
        rc |= cr_safetensors_add(x, names[i], &a, err);
    }
    if (rc) {
        cr_safetensors_free(x);
        return cr_error_set(err, "%s: cannot build the checkpoint (out of memory)", path);
    }
    rc = cr_model_save_full(path, &m, err);
    cr_safetensors_free(x);
    return rc;
}

static const char *meta_get(const cr_model *m, const char *key) {
    return cr_safetensors_meta(&m->extra, key);
}

int cli_checkpoint_meta_u64(const cr_model *m, const char *path, const char *key, uint64_t *out) {
    const char *s = meta_get(m, key);
    char *end;
    if (!s || !*s) return cli_error("%s: not a training checkpoint (no metadata %s)", path, key), 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end) return cli_error("%s: metadata %s: '%s' is not a number", path, key, s), 0;
    *out = (uint64_t)v;
    return 1;
}

static int parse_meta_double(const cr_model *m, const char *path, const char *key, double *out) {
    const char *s = meta_get(m, key);
    char *end;
    if (!s || !*s) return cli_error("%s: not a training checkpoint (no metadata %s)", path, key), 0;
    *out = strtod(s, &end);
    if (*end || !isfinite(*out))
        return cli_error("%s: metadata %s: '%s' is not a number", path, key, s), 0;
    return 1;
}

static void copy_meta_str(const cr_model *m, const char *key, char *dst, size_t size) {
    const char *s = meta_get(m, key);
    snprintf(dst, size, "%s", s ? s : "");
}

/* Restores run state and hyperparameters from a checkpoint's metadata. */
int cli_checkpoint_load_state(const cr_model *m, const char *path, cli_run_state *rs) {
    uint64_t u;
    double d;
    cr_optim_config *c = &rs->cfg;
    const char *s;
    if (!cli_checkpoint_meta_u64(m, path, "train.epoch", &u)) return 0;
    rs->epoch = (long)u;
    if (!cli_checkpoint_meta_u64(m, path, "train.epochs", &u)) return 0;
    rs->epochs = (long)u;
    if (!cli_checkpoint_meta_u64(m, path, "train.seed", &rs->seed)) return 0;
    if (!cli_checkpoint_meta_u64(m, path, "train.batch", &u) || u == 0) return 0;
    rs->batch = (long)u;
    s = meta_get(m, "train.optimizer");
    if (!s || !cr_optimizer_parse(s, &c->kind))
        return cli_error("%s: metadata train.optimizer is missing or unknown", path), 0;
    s = meta_get(m, "train.schedule");
    if (!s || !cr_schedule_parse(s, &c->schedule))
        return cli_error("%s: metadata train.schedule is missing or unknown", path), 0;
    if (!parse_meta_double(m, path, "train.lr", &c->lr) ||
        !parse_meta_double(m, path, "train.momentum", &c->momentum) ||
        !parse_meta_double(m, path, "train.beta1", &c->beta1) ||
        !parse_meta_double(m, path, "train.beta2", &c->beta2) ||
        !parse_meta_double(m, path, "train.eps", &c->eps) ||
        !parse_meta_double(m, path, "train.weight_decay", &c->weight_decay) ||
        !cli_checkpoint_meta_u64(m, path, "train.step_size", &c->step_size) ||
        !parse_meta_double(m, path, "train.gamma", &c->gamma) ||
        !cli_checkpoint_meta_u64(m, path, "train.total_steps", &c->total_steps) ||
        !parse_meta_double(m, path, "train.lr_min", &c->lr_min) ||
        !parse_meta_double(m, path, "train.val", &rs->val))
        return 0;
    if (!parse_meta_double(m, path, "train.standardize", &d)) return 0;
    rs->standardize = d != 0;
    s = meta_get(m, "train.rng");
    if (!s || sscanf(s, "%" SCNx64 ",%" SCNx64 ",%" SCNx64 ",%" SCNx64, &rs->rng.s[0],
                     &rs->rng.s[1], &rs->rng.s[2], &rs->rng.s[3]) != 4)
        return cli_error("%s: metadata train.rng is missing or malformed", path), 0;
    copy_meta_str(m, "train.data", rs->data, sizeof rs->data);
    copy_meta_str(m, "train.test", rs->test, sizeof rs->test);
    copy_meta_str(m, "train.init", rs->init, sizeof rs->init);
    copy_meta_str(m, "train.label_column", rs->label_column, sizeof rs->label_column);
    copy_meta_str(m, "train.header", rs->header, sizeof rs->header);
    copy_meta_str(m, "train.limit", rs->limit, sizeof rs->limit);
    copy_meta_str(m, "train.classes", rs->classes, sizeof rs->classes);
    if (cr_optim_config_check(c) != CR_OK)
        return cli_error("%s: the stored hyperparameters are out of range", path), 0;
    return 1;
}

/* Copies the stored optimiser state into opt; 0 (error printed) if it does not fit. */
int cli_checkpoint_restore_optim(const cr_model *m, const char *path, cr_optim *opt, uint64_t step) {
    void *state[2] = {opt->m, opt->v};
    const char *names[2] = {"optim.m", "optim.v"};
    for (int i = 0; i < 2; i++) {
        if (!state[i]) continue;
        const cr_tensor *t = cr_safetensors_find(&m->extra, names[i]);
        if (!t || t->array.dtype != CR_ARRAY_F32 || t->array.count != opt->n_params)
            return cli_error("%s: tensor %s is missing or has the wrong size (expected %zu "
                             "float32 values)",
                             path, names[i], opt->n_params),
                   0;
        memcpy(state[i], t->array.data, opt->n_params * sizeof(float));
    }
    opt->step = step;
    return 1;
}

