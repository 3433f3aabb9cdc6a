/*
 * The library's option and statistics structs by name (chainrule.h, "Accessors for
 * bindings"): a table of each struct's numeric fields (offsetof), so that a binding
 * sets and reads fields by their C names and a field added to a struct cannot shift
 * what it writes.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "core/fail.h"
#include "chainrule.h"
#include "chainrule_certify.h"
#include "chainrule_check.h"

typedef enum { F_DOUBLE, F_INT, F_ENUM, F_SIZE, F_U64, F_STR, F_CSTR /* const char *, read-only */ } field_kind;

typedef struct {
    const char *name;
    size_t offset;
    field_kind kind;
    size_t str_size; /* F_STR: the array's size */
} field;

#define FD(T, f) {#f, offsetof(T, f), F_DOUBLE, 0}
#define FI(T, f) {#f, offsetof(T, f), F_INT, 0}
#define FE(T, f) {#f, offsetof(T, f), F_ENUM, 0}
#define FZ(T, f) {#f, offsetof(T, f), F_SIZE, 0}
#define FU(T, f) {#f, offsetof(T, f), F_U64, 0}
#define FS(T, f) {#f, offsetof(T, f), F_STR, sizeof(((T *)0)->f)}

static const field attack_options[] = {
    FE(cr_attack_options, method), FE(cr_attack_options, norm), FD(cr_attack_options, eps),
    FD(cr_attack_options, step_size), FZ(cr_attack_options, steps), FI(cr_attack_options, random_start),
    FD(cr_attack_options, lo), FD(cr_attack_options, hi), FU(cr_attack_options, seed), {NULL, 0, 0, 0}};
static const field attack_stats[] = {
    FZ(cr_attack_stats, n), FZ(cr_attack_stats, correct_clean), FZ(cr_attack_stats, correct_adv),
    FZ(cr_attack_stats, hit_target), FD(cr_attack_stats, loss_clean), FD(cr_attack_stats, loss_adv),
    FD(cr_attack_stats, pred_dloss), FD(cr_attack_stats, pred_dloss_clip), FD(cr_attack_stats, max_dist),
    FD(cr_attack_stats, min_value), FD(cr_attack_stats, max_value), {NULL, 0, 0, 0}};
static const field attr_options[] = {
    FE(cr_attr_options, method), FI(cr_attr_options, of_probs), FI(cr_attr_options, absolute),
    FZ(cr_attr_options, steps), FI(cr_attr_options, trapezoid), FD(cr_attr_options, tol),
    FZ(cr_attr_options, max_steps), FZ(cr_attr_options, samples), FD(cr_attr_options, noise),
    FU(cr_attr_options, seed), {NULL, 0, 0, 0}};
static const field check_options[] = {
    FU(cr_check_options, seed), FZ(cr_check_options, samples), FZ(cr_check_options, op_example),
    FZ(cr_check_options, jac_examples), FD(cr_check_options, safety), FD(cr_check_options, tol_override),
    FI(cr_check_options, inject_layer), FE(cr_check_options, inject_kind), {NULL, 0, 0, 0}};
static const field check_report[] = {FZ(cr_check_report, n), FI(cr_check_report, failures), {NULL, 0, 0, 0}};
static const field check_result[] = {
    FE(cr_check_result, kind), FI(cr_check_result, layer), FS(cr_check_result, op), FS(cr_check_result, what),
    FD(cr_check_result, max_err), FD(cr_check_result, ref_max), FD(cr_check_result, tol),
    FD(cr_check_result, rel_err), FZ(cr_check_result, checked), FZ(cr_check_result, total),
    FZ(cr_check_result, worst), FI(cr_check_result, pass), FI(cr_check_result, trivial), {NULL, 0, 0, 0}};
static const field bound_options[] = {
    FE(cr_bound_options, method), FI(cr_bound_options, no_slack), FI(cr_bound_options, no_intersect),
    FZ(cr_bound_options, alpha_iters), FD(cr_bound_options, alpha_lr), FD(cr_bound_options, alpha_lr_decay),
    FI(cr_bound_options, alpha_intermediate), {NULL, 0, 0, 0}};
static const field certify_options[] = { /* bound.method read and set as "method" */
    {"method", offsetof(cr_certify_options, bound.method), F_ENUM, 0}, FD(cr_certify_options, timeout_s),
    FZ(cr_certify_options, attack_restarts), FZ(cr_certify_options, attack_steps), FU(cr_certify_options, seed),
    FI(cr_certify_options, outputs_are_probs), {NULL, 0, 0, 0}};
static const field certify_result[] = {
    FE(cr_certify_result, verdict), FD(cr_certify_result, best_margin), FD(cr_certify_result, seconds),
    {"proved_by", offsetof(cr_certify_result, proved_by), F_CSTR, 0}, {NULL, 0, 0, 0}};

typedef struct {
    const char *name;
    size_t size;
    const field *fields;
} struct_type;

static const struct_type types[] = {
    {"cr_attack_options", sizeof(cr_attack_options), attack_options},
    {"cr_attack_stats", sizeof(cr_attack_stats), attack_stats},
    {"cr_attr_options", sizeof(cr_attr_options), attr_options},
    {"cr_check_options", sizeof(cr_check_options), check_options},
    {"cr_check_report", sizeof(cr_check_report), check_report},
    {"cr_check_result", sizeof(cr_check_result), check_result},
    {"cr_bound_options", sizeof(cr_bound_options), bound_options},
    {"cr_certify_options", sizeof(cr_certify_options), certify_options},
    {"cr_certify_result", sizeof(cr_certify_result), certify_result},
};

static const struct_type *find_type(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(types[i].name, name)) return &types[i];
    return NULL;
}

static const field *find_field(const char *type, const char *name) {
    const struct_type *t = find_type(type);
    if (!t || !name) return NULL;
    for (const field *f = t->fields; f->name; f++)
        if (!strcmp(f->name, name)) return f;
    return NULL;
}

void *cr_struct_new(const char *type) {
    const struct_type *t = find_type(type);
    if (!t) return NULL;
    void *obj = calloc(1, t->size);
    if (!obj) return NULL;
    if (!strcmp(type, "cr_check_options")) {
        cr_check_options o = cr_check_options_default();
        memcpy(obj, &o, sizeof o);
    } else if (!strcmp(type, "cr_check_report")) {
        cr_check_report_init(obj);
    } else if (!strcmp(type, "cr_attack_options")) {
        ((cr_attack_options *)obj)->lo = 0;
        ((cr_attack_options *)obj)->hi = 1;
    }
    return obj;
}

void cr_struct_free(const char *type, void *obj) {
    if (!obj) return;
    if (type && !strcmp(type, "cr_check_report")) cr_check_report_free(obj);
    free(obj);
}

cr_status cr_struct_set(const char *type, void *obj, const char *field_name, double v) {
    const field *f = find_field(type, field_name);
    if (!f || !obj || isnan(v)) return CR_FAIL(CR_ERR_ARG);
    char *p = (char *)obj + f->offset;
    switch (f->kind) {
    case F_DOUBLE:
        *(double *)p = v;
        return CR_OK;
    case F_INT:
    case F_ENUM:
        if (v != floor(v) || v < -2147483648.0 || v > 2147483647.0) return CR_FAIL(CR_ERR_ARG);
        *(int *)p = (int)v;
        return CR_OK;
    case F_SIZE:
        if (v != floor(v) || v < 0 || v >= 18446744073709551616.0 || (double)(size_t)v != v) return CR_FAIL(CR_ERR_ARG);
        *(size_t *)p = (size_t)v;
        return CR_OK;
    case F_U64:
        if (v != floor(v) || v < 0 || v >= 18446744073709551616.0) return CR_FAIL(CR_ERR_ARG);
        *(uint64_t *)p = (uint64_t)v;
        return CR_OK;
    case F_STR:
    case F_CSTR:
        break;
    }
    return CR_FAIL(CR_ERR_ARG);
}

cr_status cr_struct_get(const char *type, const void *obj, const char *field_name, double *v) {
    const field *f = find_field(type, field_name);
    if (!f || !obj || !v) return CR_FAIL(CR_ERR_ARG);
    const char *p = (const char *)obj + f->offset;
    switch (f->kind) {
    case F_DOUBLE: *v = *(const double *)p; return CR_OK;
    case F_INT:
    case F_ENUM: *v = *(const int *)p; return CR_OK;
    case F_SIZE: *v = (double)*(const size_t *)p; return CR_OK;
    case F_U64: *v = (double)*(const uint64_t *)p; return CR_OK;
    case F_STR:
    case F_CSTR: break;
    }
    return CR_FAIL(CR_ERR_ARG);
}

const char *cr_struct_get_string(const char *type, const void *obj, const char *field_name) {
    const field *f = find_field(type, field_name);
    if (!f || !obj || (f->kind != F_STR && f->kind != F_CSTR)) return NULL;
    const char *p = (const char *)obj + f->offset;
    if (f->kind == F_CSTR) return *(const char *const *)p;
    return memchr(p, 0, f->str_size) ? p : NULL;
}

void cr_attr_options_set_baseline(cr_attr_options *opt, const void *baseline) {
    if (opt) opt->baseline = baseline;
}

const cr_check_result *cr_check_report_item(const cr_check_report *rep, size_t i) {
    return rep && i < rep->n ? &rep->items[i] : NULL;
}
