/*
 * Training checkpoints (include/chainrule_io.h, "training checkpoints"): a
 * model file whose `extra` part carries the state of the run, so that a
 * resumed run ends with the same model, bit for bit, as an uninterrupted one.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "io_internal.h"

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
    return cr_safetensors_set_meta(st, key, buf);
}

/* The run's metadata into x; nonzero when one could not be added (memory). */
static int put_state(cr_safetensors *x, const cr_optim *opt, const cr_checkpoint *ck) {
    const cr_optim_config *c = &opt->cfg;
    int rc = 0;
    rc |= meta_set(x, "train.epoch", "%ld", ck->epoch);
    rc |= meta_set(x, "train.epochs", "%ld", ck->epochs);
    rc |= meta_set(x, "train.step", "%" PRIu64, opt->step);
    rc |= meta_set(x, "train.rng", "%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64 ",%016" PRIx64,
                   ck->rng.s[0], ck->rng.s[1], ck->rng.s[2], ck->rng.s[3]);
    rc |= meta_set(x, "train.seed", "%" PRIu64, ck->seed);
    rc |= meta_set(x, "train.batch", "%ld", ck->batch);
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
    rc |= meta_set(x, "train.data", "%s", ck->data);
    rc |= meta_set(x, "train.test", "%s", ck->test);
    rc |= meta_set(x, "train.val", "%.17g", ck->val);
    rc |= meta_set(x, "train.standardize", "%d", ck->standardize);
    rc |= meta_set(x, "train.init", "%s", ck->init);
    rc |= meta_set(x, "train.label_column", "%s", ck->label_column);
    rc |= meta_set(x, "train.header", "%s", ck->header);
    rc |= meta_set(x, "train.limit", "%s", ck->limit);
    rc |= meta_set(x, "train.classes", "%s", ck->classes);
    return rc;
}

cr_status cr_checkpoint_save(const char *path, const cr_model *model, const cr_optim *opt,
                       const cr_checkpoint *ck) {
    cr_model m;
    memset(&m, 0, sizeof m);
    m.net = model->net;
    m.input_mean = model->input_mean;
    m.input_std = model->input_std;
    cr_safetensors *x = &m.extra;
    int rc = put_state(x, opt, ck);
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
        rc |= cr_safetensors_add(x, names[i], &a);
    }
    if (rc) {
        cr_safetensors_free(x);
        return cr_fail(CR_ERR_NOMEM, "%s: cannot build the checkpoint (out of memory)", path);
    }
    rc = cr_model_save_full(path, &m);
    cr_safetensors_free(x);
    return cr_io_status(rc);
}

static const char *meta_get(const cr_model *m, const char *key) {
    return cr_safetensors_meta(&m->extra, key);
}

static int meta_u64(const cr_model *m, const char *path, const char *key, uint64_t *out) {
    const char *s = meta_get(m, key);
    char *end;
    if (!s || !*s) return cr_fail(CR_ERR_FORMAT, "%s: not a training checkpoint (no metadata %s)", path, key);
    unsigned long long v = strtoull(s, &end, 10);
    if (*end) return cr_fail(CR_ERR_FORMAT, "%s: metadata %s: '%s' is not a number", path, key, s);
    *out = (uint64_t)v;
    return 0;
}

static int meta_double(const cr_model *m, const char *path, const char *key, double *out) {
    const char *s = meta_get(m, key);
    char *end;
    if (!s || !*s) return cr_fail(CR_ERR_FORMAT, "%s: not a training checkpoint (no metadata %s)", path, key);
    *out = strtod(s, &end);
    if (*end || !isfinite(*out))
        return cr_fail(CR_ERR_FORMAT, "%s: metadata %s: '%s' is not a number", path, key, s);
    return 0;
}

/* A long counter of the run: a number in [lo, LONG_MAX]. */
static int meta_long(const cr_model *m, const char *path, const char *key, long lo, long *out) {
    uint64_t u;
    if (meta_u64(m, path, key, &u)) return -1;
    if (u < (uint64_t)lo || u > (uint64_t)0x7fffffff)
        return cr_fail(CR_ERR_FORMAT, "%s: metadata %s: %" PRIu64 " is out of range", path, key, u);
    *out = (long)u;
    return 0;
}

static void copy_meta_str(const cr_model *m, const char *key, char *dst, size_t size) {
    const char *s = meta_get(m, key);
    snprintf(dst, size, "%s", s ? s : "");
}

/* The hyperparameters of cr_optim_config. */
static int read_config(const cr_model *m, const char *path, cr_optim_config *c) {
    const char *s = meta_get(m, "train.optimizer");
    if (!s || cr_optimizer_parse(s, &c->kind) != CR_OK)
        return cr_fail(CR_ERR_FORMAT, "%s: metadata train.optimizer is missing or unknown", path);
    s = meta_get(m, "train.schedule");
    if (!s || cr_schedule_parse(s, &c->schedule) != CR_OK)
        return cr_fail(CR_ERR_FORMAT, "%s: metadata train.schedule is missing or unknown", path);
    if (meta_double(m, path, "train.lr", &c->lr) ||
        meta_double(m, path, "train.momentum", &c->momentum) ||
        meta_double(m, path, "train.beta1", &c->beta1) ||
        meta_double(m, path, "train.beta2", &c->beta2) ||
        meta_double(m, path, "train.eps", &c->eps) ||
        meta_double(m, path, "train.weight_decay", &c->weight_decay) ||
        meta_u64(m, path, "train.step_size", &c->step_size) ||
        meta_double(m, path, "train.gamma", &c->gamma) ||
        meta_u64(m, path, "train.total_steps", &c->total_steps) ||
        meta_double(m, path, "train.lr_min", &c->lr_min))
        return -1;
    return 0;
}

cr_status cr_checkpoint_read(const cr_model *m, const char *path, cr_checkpoint *ck) {
    memset(ck, 0, sizeof *ck);
    ck->cfg = cr_optim_config_default();
    double d;
    if (meta_long(m, path, "train.epoch", 0, &ck->epoch) ||
        meta_long(m, path, "train.epochs", 0, &ck->epochs) ||
        meta_u64(m, path, "train.seed", &ck->seed) ||
        meta_long(m, path, "train.batch", 1, &ck->batch) || read_config(m, path, &ck->cfg) ||
        meta_double(m, path, "train.val", &ck->val) ||
        meta_double(m, path, "train.standardize", &d))
        return cr_io_status(-1);
    ck->standardize = d != 0;
    const char *s = meta_get(m, "train.rng");
    if (!s || sscanf(s, "%" SCNx64 ",%" SCNx64 ",%" SCNx64 ",%" SCNx64, &ck->rng.s[0],
                     &ck->rng.s[1], &ck->rng.s[2], &ck->rng.s[3]) != 4)
        return cr_fail(CR_ERR_FORMAT, "%s: metadata train.rng is missing or malformed", path);
    copy_meta_str(m, "train.data", ck->data, sizeof ck->data);
    copy_meta_str(m, "train.test", ck->test, sizeof ck->test);
    copy_meta_str(m, "train.init", ck->init, sizeof ck->init);
    copy_meta_str(m, "train.label_column", ck->label_column, sizeof ck->label_column);
    copy_meta_str(m, "train.header", ck->header, sizeof ck->header);
    copy_meta_str(m, "train.limit", ck->limit, sizeof ck->limit);
    copy_meta_str(m, "train.classes", ck->classes, sizeof ck->classes);
    if (cr_optim_config_check(&ck->cfg) != CR_OK)
        return cr_fail(CR_ERR_FORMAT, "%s: the stored hyperparameters are out of range", path);
    return CR_OK;
}

cr_status cr_checkpoint_restore_optim(const cr_model *m, const char *path, cr_optim *opt) {
    uint64_t step;
    if (meta_u64(m, path, "train.step", &step)) return cr_io_status(-1);
    void *state[2] = {opt->m, opt->v};
    const char *names[2] = {"optim.m", "optim.v"};
    for (int i = 0; i < 2; i++) {
        if (!state[i]) continue;
        const cr_tensor *t = cr_safetensors_find(&m->extra, names[i]);
        if (!t || t->array.dtype != CR_ARRAY_F32 || t->array.count != opt->n_params)
            return cr_fail(CR_ERR_FORMAT, "%s: tensor %s is missing or has the wrong size (expected %zu "
                                     "float32 values)",
                                path, names[i], opt->n_params);
        memcpy(state[i], t->array.data, opt->n_params * sizeof(float));
    }
    opt->step = step;
    return CR_OK;
}
