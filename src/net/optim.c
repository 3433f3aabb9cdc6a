/*
 * Optimisers and learning-rate schedules. The state (momentum buffer, Adam
 * moments) is flat and parallel to net->params: a step is one loop over the
 * parameter block. Semantics follow torch.optim (see chainrule.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"
#include "chainrule_typed.h"
#include "core/fail.h"
#include "kernels/optim.h"

static const char *const opt_names[CR_OPT_COUNT] = {"sgd", "momentum", "nesterov", "adam"};
static const char *const sched_names[CR_SCHED_COUNT] = {"constant", "step", "cosine"};

const char *cr_optimizer_name(cr_optimizer kind) {
    return (unsigned)kind < CR_OPT_COUNT ? opt_names[kind] : "unknown";
}

cr_status cr_optimizer_parse(const char *name, cr_optimizer *out) {
    for (int i = 0; i < CR_OPT_COUNT; i++)
        if (name && strcmp(name, opt_names[i]) == 0) {
            *out = (cr_optimizer)i;
            return CR_OK;
        }
    return cr_fail(CR_ERR_ARG, "%s: unknown optimizer '%s'", __func__, name ? name : "(null)");
}

const char *cr_schedule_name(cr_schedule s) {
    return (unsigned)s < CR_SCHED_COUNT ? sched_names[s] : "unknown";
}

cr_status cr_schedule_parse(const char *name, cr_schedule *out) {
    for (int i = 0; i < CR_SCHED_COUNT; i++)
        if (name && strcmp(name, sched_names[i]) == 0) {
            *out = (cr_schedule)i;
            return CR_OK;
        }
    return cr_fail(CR_ERR_ARG, "%s: unknown schedule '%s'", __func__, name ? name : "(null)");
}

cr_optim_config cr_optim_config_default(void) {
    cr_optim_config c;
    memset(&c, 0, sizeof c);
    c.kind = CR_OPT_SGD;
    c.lr = 0.1;
    c.momentum = 0.9;
    c.beta1 = 0.9;
    c.beta2 = 0.999;
    c.eps = 1e-8;
    c.weight_decay = 0;
    c.schedule = CR_SCHED_CONSTANT;
    c.step_size = 1;
    c.gamma = 0.1;
    c.total_steps = 1;
    c.lr_min = 0;
    return c;
}

cr_status cr_optim_config_check(const cr_optim_config *c) {
    if (!c || (unsigned)c->kind >= CR_OPT_COUNT || (unsigned)c->schedule >= CR_SCHED_COUNT)
        return CR_FAIL(CR_ERR_ARG);
    const char *w = "cr_optim_config";
    if (!(c->lr > 0) || !isfinite(c->lr))
        return cr_fail(CR_ERR_ARG, "%s: lr = %g is not a finite number > 0", w, c->lr);
    if (!(c->momentum >= 0 && c->momentum < 1))
        return cr_fail(CR_ERR_ARG, "%s: momentum = %g is not in [0, 1)", w, c->momentum);
    if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
        return cr_fail(CR_ERR_ARG, "%s: beta1 = %g or beta2 = %g is not in [0, 1)", w, c->beta1, c->beta2);
    if (!(c->eps > 0) || !isfinite(c->eps))
        return cr_fail(CR_ERR_ARG, "%s: eps = %g is not a finite number > 0", w, c->eps);
    if (!(c->weight_decay >= 0) || !isfinite(c->weight_decay))
        return cr_fail(CR_ERR_ARG, "%s: weight_decay = %g is not a finite number >= 0", w, c->weight_decay);
    if (c->schedule == CR_SCHED_STEP && (c->step_size == 0 || !(c->gamma > 0 && c->gamma <= 1)))
        return CR_FAIL(CR_ERR_ARG);
    if (c->schedule == CR_SCHED_COSINE &&
        (c->total_steps == 0 || !(c->lr_min >= 0 && c->lr_min <= c->lr)))
        return CR_FAIL(CR_ERR_ARG);
    return CR_OK;
}

double cr_optim_lr(const cr_optim_config *c, uint64_t step) {
    switch (c->schedule) {
    case CR_SCHED_STEP: return c->lr * pow(c->gamma, (double)(step / c->step_size));
    case CR_SCHED_COSINE: {
        uint64_t s = step < c->total_steps ? step : c->total_steps;
        double t = (double)s / (double)c->total_steps;
        return c->lr_min + (c->lr - c->lr_min) * 0.5 * (1.0 + cos(3.14159265358979323846 * t));
    }
    default: return c->lr;
    }
}

int cr_optim_n_state(cr_optimizer kind) {
    switch (kind) {
    case CR_OPT_MOMENTUM:
    case CR_OPT_NESTEROV: return 1;
    case CR_OPT_ADAM: return 2;
    default: return 0;
    }
}

cr_status cr_optim_create(const cr_net *net, const cr_optim_config *cfg, cr_optim **out) {
    *out = NULL;
    if (!net || !cfg) return CR_FAIL(CR_ERR_ARG);
    cr_status st = cr_optim_config_check(cfg);
    if (st != CR_OK) return st;
    int ns = cr_optim_n_state(cfg->kind);
    size_t es = cr_dtype_size(net->dtype), bytes, total;
    size_t header = (sizeof(cr_optim) + 63) / 64 * 64;
    if (cr_mul_size(net->n_params, es, &bytes) != CR_OK || cr_mul_size(bytes, (size_t)ns, &total) != CR_OK ||
        total > SIZE_MAX - header - 64)
        return CR_FAIL(CR_ERR_OVERFLOW);
    bytes = (bytes + 63) / 64 * 64;
    total = header + (size_t)ns * bytes;
    char *mem = aligned_alloc(64, (total + 63) / 64 * 64);
    if (!mem) return CR_FAIL(CR_ERR_NOMEM);
    memset(mem, 0, total);
    cr_optim *o = (cr_optim *)mem;
    o->cfg = *cfg;
    o->dtype = net->dtype;
    o->n_params = net->n_params;
    o->step = 0;
    o->m = ns >= 1 ? mem + header : NULL;
    o->v = ns >= 2 ? mem + header + bytes : NULL;
    *out = o;
    return CR_OK;
}

void cr_optim_free(cr_optim *opt) { free(opt); }

/* float32: the same formulas through the vectorised loops of kernels/optim.c */
cr_status cr_optim_step_f32(cr_optim *opt, float *p, const float *grad) {
    if (!opt || !p || !grad) return CR_FAIL(CR_ERR_ARG);
    if (opt->dtype != CR_F32) return CR_FAIL(CR_ERR_DTYPE);
    const cr_optim_config *c = &opt->cfg;
    const float lr = (float)cr_optim_lr(c, opt->step), wd = (float)c->weight_decay;
    switch (c->kind) {
    case CR_OPT_SGD: cr_opt_sgd_f32(opt->n_params, lr, wd, p, grad); break;
    case CR_OPT_MOMENTUM:
    case CR_OPT_NESTEROV:
        cr_opt_momentum_f32(opt->n_params, lr, wd, (float)c->momentum,
                            c->kind == CR_OPT_NESTEROV, p, grad, opt->m);
        break;
    case CR_OPT_ADAM: {
        double t = (double)(opt->step + 1);
        double bc1 = 1.0 - pow(c->beta1, t), bc2 = 1.0 - pow(c->beta2, t);
        cr_opt_adam_f32(opt->n_params, (float)((double)lr / bc1), wd, (float)c->beta1,
                        (float)c->beta2, (float)sqrt(bc2), (float)c->eps, p, grad, opt->m,
                        opt->v);
        break;
    }
    default: return CR_FAIL(CR_ERR_ARG);
    }
    opt->step++;
    return CR_OK;
}

/* float64: the same formulas (chainrule.h, training), plain loops */
cr_status cr_optim_step_f64(cr_optim *opt, double *p, const double *grad) {
    if (!opt || !p || !grad) return CR_FAIL(CR_ERR_ARG);
    if (opt->dtype != CR_F64) return CR_FAIL(CR_ERR_DTYPE);
    const cr_optim_config *c = &opt->cfg;
    const size_t np = opt->n_params;
    const double lr = cr_optim_lr(c, opt->step), wd = c->weight_decay;
    switch (c->kind) {
    case CR_OPT_SGD:
        for (size_t i = 0; i < np; i++) p[i] -= lr * (grad[i] + wd * p[i]);
        break;
    case CR_OPT_MOMENTUM:
    case CR_OPT_NESTEROV: {
        double *m = opt->m, mu = c->momentum;
        int nest = c->kind == CR_OPT_NESTEROV;
        for (size_t i = 0; i < np; i++) {
            double g = grad[i] + wd * p[i];
            m[i] = mu * m[i] + g;
            p[i] -= lr * (nest ? g + mu * m[i] : m[i]);
        }
        break;
    }
    case CR_OPT_ADAM: {
        double *m = opt->m, *v = opt->v;
        double t = (double)(opt->step + 1);
        double bc1 = 1.0 - pow(c->beta1, t), bc2 = 1.0 - pow(c->beta2, t);
        const double b1 = c->beta1, b2 = c->beta2, eps = c->eps;
        const double step_size = lr / bc1, sbc2 = sqrt(bc2);
        for (size_t i = 0; i < np; i++) {
            double g = grad[i] + wd * p[i];
            m[i] = b1 * m[i] + (1 - b1) * g;
            v[i] = b2 * v[i] + (1 - b2) * g * g;
            p[i] -= step_size * m[i] / (sqrt(v[i]) / sbc2 + eps);
        }
        break;
    }
    default: return CR_FAIL(CR_ERR_ARG);
    }
    opt->step++;
    return CR_OK;
}

void cr_shuffle_u32(cr_rng *rng, size_t n, uint32_t *perm) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)cr_rng_below(rng, (uint64_t)i);
        uint32_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}
