/*
 * test_nomem — every allocation failure of a public call is reported with a line of its
 * own (docs/api.md, "Errors"): the call returns CR_ERR_NOMEM and cr_last_error() is a line
 * it wrote ("WHO: out of memory ..."), never an earlier failure's and never empty.
 *
 * The injection: this program is linked with -Wl,--wrap=malloc,calloc,realloc,aligned_alloc
 * (tests/CMakeLists.txt), so every allocation of the libraries (linked statically) goes
 * through __wrap_*, which fail the k-th allocation after arming. Each scenario is run
 * with k = 1, 2, ... until a run makes no k-th allocation: every allocation of the call
 * fails once. The sanitizers and valgrind check the failure paths for leaks and bad
 * accesses on the way.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chainrule_certify.h"
#include "chainrule_check.h"
#include "chainrule_io.h"
#include "chainrule_typed.h"
#include "core/fail.h"
#include "testutil.h"

/* ------------------------------------------------------------ the injection */

void *__real_malloc(size_t n);
void *__real_calloc(size_t m, size_t n);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t a, size_t n);

static atomic_long countdown; /* > 0: armed, the allocation that brings it to 0 fails */
static atomic_int injected;   /* an allocation was failed since arming */

static int fail_now(void) {
    if (atomic_load(&countdown) <= 0) return 0;
    if (atomic_fetch_sub(&countdown, 1) != 1) return 0;
    atomic_store(&injected, 1);
    return 1;
}

void *__wrap_malloc(size_t n) { return fail_now() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t m, size_t n) { return fail_now() ? NULL : __real_calloc(m, n); }
void *__wrap_realloc(void *p, size_t n) { return fail_now() ? NULL : __real_realloc(p, n); }
void *__wrap_aligned_alloc(size_t a, size_t n) { return fail_now() ? NULL : __real_aligned_alloc(a, n); }

typedef cr_status (*scenario_fn)(void *arg);

static int problems; /* failing runs without their own NOMEM line, reported as found */

/* Runs fn with its k-th allocation failing for k = 1, 2, ... until no allocation fails;
   every failing run must return CR_ERR_NOMEM with a fresh line. Returns the number of
   allocations the call made. */
static long every_allocation_fails(const char *name, scenario_fn fn, void *arg) {
    long k = 1;
    char first[512] = "";
    for (;; k++) {
        assert_true(k < 100000);
        cr_fail(CR_ERR_IO, "a stale line");
        const unsigned long before = cr_fail_count();
        atomic_store(&injected, 0);
        atomic_store(&countdown, k);
        const cr_status st = fn(arg);
        atomic_store(&countdown, 0);
        if (!atomic_load(&injected)) {
            if (st != CR_OK) fail_msg("%s: fails without an injected failure: %s", name, cr_last_error());
            break;
        }
        if (st == CR_OK) continue; /* an allocation the call can do without */
        if (!first[0]) snprintf(first, sizeof first, "%s", cr_last_error());
        if (st != CR_ERR_NOMEM || cr_fail_count() == before || !strstr(cr_last_error(), "out of memory")) {
            printf("PROBLEM %s: allocation %ld failed: status %s, line \"%s\"%s\n", name, k, cr_status_string(st),
                   cr_last_error(), cr_fail_count() == before ? " (not written by the call)" : "");
            problems++;
        }
    }
    printf("%-28s %ld allocations, each failed once: CR_ERR_NOMEM with its own line (the first: \"%s\")\n", name,
           k - 1, first);
    assert_true(k > 1); /* not vacuous: the call allocates */
    return k - 1;
}

/* ------------------------------------------------------------ the scenarios */

enum { N = 5, D = 4, H = 6, K = 3 };

typedef struct {
    cr_net *net;   /* float64, D-H-H-K, tanh and relu */
    cr_net *net32; /* its float32 copy */
    cr_ctx *ctx;   /* NULL or two threads */
    double x[N * D], y[N * K], lo[D], hi[D];
    float xf[N * D];
    cr_label labels[N];
    cr_label pred0;                /* the net's class at x[0] */
    const char *proved_by[3];      /* s_certify's evidence, per configuration (when nothing failed) */
    size_t domains;                /* branch and bound's subdomains in the last configuration */
} fixture;

static void fixture_init(fixture *f) {
    memset(f, 0, sizeof *f);
    const size_t dims[4] = {D, H, H, K};
    const cr_activation act[2] = {CR_ACT_TANH, CR_ACT_RELU};
    assert_int_equal(cr_net_create(&f->net, CR_F64, 3, dims, act), CR_OK);
    cr_net_init(f->net, CR_INIT_XAVIER, 7);
    assert_int_equal(cr_net_convert(f->net, CR_F32, &f->net32), CR_OK);
    tu_fill_uniform(f->x, N * D, -1, 1, 3);
    for (int i = 0; i < N * D; i++) f->xf[i] = (float)f->x[i];
    for (int i = 0; i < N; i++) {
        f->labels[i] = i % K;
        for (int j = 0; j < K; j++) f->y[i * K + j] = j == i % K;
    }
    double o[K];
    assert_int_equal(cr_net_predict(NULL, f->net, 1, f->x, 0, o), CR_OK);
    for (int j = 1; j < K; j++)
        if (o[j] > o[f->pred0]) f->pred0 = j;
    for (int q = 0; q < D; q++) {
        f->lo[q] = f->x[q] - 0.05;
        f->hi[q] = f->x[q] + 0.05;
    }
}

static void fixture_free(fixture *f) {
    cr_net_free(f->net);
    cr_net_free(f->net32);
    cr_ctx_free(f->ctx);
}

static cr_status s_ctx(void *arg) {
    (void)arg;
    cr_ctx *c = NULL;
    cr_status st = cr_ctx_create(&c, 2);
    cr_ctx_free(c);
    return st;
}

static cr_status s_net_tape(void *arg) {
    fixture *f = arg;
    cr_net *copy = NULL;
    cr_tape *tape = NULL;
    cr_status st = cr_net_convert(f->net, CR_F32, &copy);
    if (st == CR_OK) st = cr_tape_create(copy, N, &tape);
    cr_tape_free(tape);
    cr_net_free(copy);
    return st;
}

static cr_status s_input_grad(void *arg) {
    fixture *f = arg;
    double dx[N * D], loss[N];
    float dxf[N * D], lossf[N];
    cr_status st = cr_net_input_grad(f->ctx, f->net, N, f->x, f->labels, dx, loss);
    if (st == CR_OK) st = cr_net_input_grad(f->ctx, f->net32, N, f->xf, f->labels, dxf, lossf);
    if (st == CR_OK) st = cr_net_class_grad(f->ctx, f->net, N, f->x, f->labels, 1, dx, loss);
    return st;
}

static cr_status s_jacobian(void *arg) {
    fixture *f = arg;
    double jac[N * K * D];
    cr_status st = CR_OK;
    for (int m = CR_JAC_REV; st == CR_OK && m <= CR_JAC_CLOSED; m++)
        st = cr_net_input_jacobian(f->ctx, f->net, N, f->x, m == CR_JAC_FWD, (cr_jac_mode)m, jac);
    return st;
}

static cr_status s_attribute(void *arg) {
    fixture *f = arg;
    double attr[N * D], gap[N];
    cr_attr_report rep = {.gap = gap};
    cr_status st = CR_OK;
    for (int m = 0; st == CR_OK && m < 4; m++) {
        cr_attr_options o;
        memset(&o, 0, sizeof o);
        o.method = m == 0 ? CR_ATTR_SALIENCY : m == 1 ? CR_ATTR_SMOOTHGRAD : CR_ATTR_IG;
        o.samples = 4;
        o.noise = 0.1;
        o.steps = 4;
        o.tol = m == 3 ? 1e-3 : 0;
        o.max_steps = 16;
        st = cr_attribute(f->ctx, f->net, N, f->x, f->labels, &o, attr, &rep);
    }
    return st;
}

static cr_status s_attack(void *arg) {
    fixture *f = arg;
    double adv[N * D];
    cr_status st = CR_OK;
    for (int m = 0; st == CR_OK && m < 2; m++) {
        cr_attack_options o;
        memset(&o, 0, sizeof o);
        o.method = m ? CR_ATTACK_PGD : CR_ATTACK_FGSM;
        o.norm = CR_NORM_LINF;
        o.eps = 0.1;
        o.steps = 3;
        o.lo = -2;
        o.hi = 2;
        st = cr_attack(f->ctx, f->net, N, f->x, f->labels, NULL, &o, adv, NULL);
    }
    return st;
}

static cr_status s_predict_evaluate(void *arg) {
    fixture *f = arg;
    double out[N * K], loss = 0;
    size_t correct = 0;
    cr_tape *tape = NULL;
    cr_status st = cr_net_predict(f->ctx, f->net, N, f->x, 1, out);
    if (st == CR_OK) st = cr_tape_create(f->net, 2, &tape);
    if (st == CR_OK) st = cr_evaluate(f->ctx, f->net, tape, N, f->x, f->labels, &loss, &correct, NULL, out);
    cr_tape_free(tape);
    return st;
}

static cr_status s_check(void *arg) {
    fixture *f = arg;
    cr_check_report rep;
    cr_check_report_init(&rep);
    cr_check_options o = cr_check_options_default();
    o.samples = 4;
    o.jac_examples = 1;
    cr_status st = cr_check_net(f->net, 2, f->x, f->y, &o, &rep);
    cr_check_report_free(&rep);
    return st;
}

static cr_status s_check_explain(void *arg) {
    fixture *f = arg;
    double v[D], j[D], fd[D], c[D], hf[K], hu[K];
    cr_check_explain_out out = {.vjp = v, .jac = j, .fd = fd, .closed = c, .head_fused = hf, .head_unfused = hu};
    cr_check_report rep;
    cr_check_report_init(&rep);
    cr_check_options o = cr_check_options_default();
    cr_status st = cr_check_explain(f->net, f->x, f->y, &o, &out, &rep);
    cr_check_report_free(&rep);
    return st;
}

static cr_status s_bounds(void *arg) {
    fixture *f = arg;
    double c[2 * K] = {1, -1, 0, 0, 1, -1}, lb[2], ub[2];
    cr_status st = CR_OK;
    for (int m = 0; st == CR_OK && m < 3; m++) {
        cr_bound_options o;
        memset(&o, 0, sizeof o);
        o.method = m == 2 ? CR_BOUND_ALPHA : m ? CR_BOUND_CROWN : CR_BOUND_IBP;
        st = cr_net_bound(f->ctx, f->net, f->lo, f->hi, 2, c, &o, lb, ub);
    }
    cr_bound_explanation ex;
    memset(&ex, 0, sizeof ex);
    if (st == CR_OK) st = cr_bound_explain(f->net, f->lo, f->hi, 2, c, &ex);
    cr_bound_explanation_free(&ex);
    return st;
}

static cr_status s_model(void *arg) {
    fixture *f = arg;
    (void)f;
    cr_net *net = NULL;
    cr_status st = cr_model_load(tu_path("nomem.safetensors"), &net);
    cr_net_free(net);
    return st;
}

static cr_status s_certify(void *arg) {
    fixture *f = arg;
    cr_status st = CR_OK;
    for (int m = 0; st == CR_OK && m < 3; m++) {
        cr_certify_options o;
        memset(&o, 0, sizeof o);
        o.bound.method = m == 0 ? CR_BOUND_CROWN : CR_BOUND_ALPHA;
        o.bab = m == 2;
        o.bab_max_domains = 20;
        o.attack_restarts = 2;
        o.attack_steps = 3;
        cr_certify_result res;
        memset(&res, 0, sizeof res);
        st = cr_certify_linf(f->ctx, f->net, f->x, m == 0 ? 0.01 : 0.3, -2, 2, f->pred0, &o, &res);
        f->proved_by[m] = res.proved_by;
        f->domains = res.domains;
    }
    return st;
}

static void run_all(fixture *f) {
    every_allocation_fails("cr_ctx_create", s_ctx, f);
    every_allocation_fails("cr_net_convert, tape", s_net_tape, f);
    every_allocation_fails("input/class gradients", s_input_grad, f);
    every_allocation_fails("input Jacobians", s_jacobian, f);
    every_allocation_fails("attributions", s_attribute, f);
    every_allocation_fails("attacks", s_attack, f);
    every_allocation_fails("predict, evaluate", s_predict_evaluate, f);
    every_allocation_fails("bounds, bound explanation", s_bounds, f);
    every_allocation_fails("cr_certify_linf", s_certify, f);
    printf("  (certify's evidence: %s, %s, %s; %zu subdomains)\n", f->proved_by[0] ? f->proved_by[0] : "none",
           f->proved_by[1] ? f->proved_by[1] : "none", f->proved_by[2] ? f->proved_by[2] : "none", f->domains);
}

static void test_one_thread(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f);
    run_all(&f);
    every_allocation_fails("cr_check_net", s_check, &f);
    every_allocation_fails("cr_check_explain", s_check_explain, &f);
    /* a model with an input standardisation */
    const double p[D] = {0, 0.5, 1, 2}, q[D] = {1, 2, 3, 4};
    assert_int_equal(cr_net_set_input_affine(f.net, CR_AFFINE_SUB_DIV, p, q), CR_OK);
    assert_int_equal(cr_model_save(tu_path("nomem.safetensors"), f.net), CR_OK);
    every_allocation_fails("cr_model_load", s_model, &f);
    fixture_free(&f);
    assert_int_equal(problems, 0);
}

/* the failures on the workers' threads (their scratch) reach the caller's thread */
static void test_two_threads(void **state) {
    (void)state;
    fixture f;
    fixture_init(&f);
    assert_int_equal(cr_ctx_create(&f.ctx, 2), CR_OK);
    run_all(&f);
    fixture_free(&f);
    assert_int_equal(problems, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_thread),
        cmocka_unit_test(test_two_threads),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
