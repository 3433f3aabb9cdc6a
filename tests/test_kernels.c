/*
 * test_kernels — the kernel sets (chainrule.h, cr_isa) against the portable
 * references (src/kernels/linear.c, elementwise.c, optim.c). Every kernel of
 * the training loop is run under every set this CPU can run on the same
 * inputs, and its outputs
 * must equal the portable set's byte for byte (every variant does the same
 * operations per element in the same order):
 *   - sizes around the register widths (1, 7-10, 15-17, 31-33, 63-65,
 *     127-130, 200, 257 columns), so whole registers, masked last registers
 *     and both together are hit; arrays at every alignment (offsets 0-3 floats);
 *   - sparse products with zero and nonzero rows, the finite checks with
 *     NaN and ±inf in whole registers and in masked lanes;
 *   - the portable results themselves against float64 references.
 * Also the selection API: names, unknown names, CHAINRULE_ISA honoured.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chainrule_typed.h"
#include "kernels/elementwise.h"
#include "kernels/linear.h"
#include "kernels/optim.h"
#include "testutil.h"

static const size_t SIZES[] = {1, 2, 7, 8, 9, 10, 15, 16, 17, 31, 32, 33,
                               63, 64, 65, 100, 127, 128, 129, 130, 200, 257};
enum { N_SIZES = sizeof SIZES / sizeof SIZES[0] };

/* n floats uniform in [lo, hi), a fraction `zeros` of them exactly 0, at
   `off` floats past a 64-byte boundary; free with free_at. */
static float *floats_at(size_t n, size_t off, double lo, double hi, double zeros, uint64_t seed) {
    float *base = aligned_alloc(64, ((n + off) * sizeof(float) + 63) / 64 * 64 + 64);
    assert_non_null(base);
    cr_rng rng;
    cr_rng_seed(&rng, seed);
    float *a = base + off;
    for (size_t i = 0; i < n; i++) {
        double u = cr_rng_uniform(&rng);
        a[i] = cr_rng_uniform(&rng) < zeros ? 0.0f : (float)(lo + (hi - lo) * u);
    }
    return a;
}
static void free_at(float *a, size_t off) { free(a - off); }

/* The sets to compare with the portable one. */
static size_t other_sets(cr_isa *out) {
    size_t n = 0;
    for (int i = 1; i < CR_ISA_COUNT; i++)
        if (cr_isa_supported((cr_isa)i)) out[n++] = (cr_isa)i;
    return n;
}

static void assert_same(const void *got, const void *ref, size_t n_floats, cr_isa isa,
                        const char *what, size_t size) {
    if (memcmp(got, ref, n_floats * sizeof(float)) == 0) return;
    const float *g = got, *r = ref;
    size_t i = 0;
    while (i < n_floats && memcmp(g + i, r + i, sizeof(float)) == 0) i++;
    fail_msg("%s, %s, size %zu: element %zu is %.9g, portable %.9g", what, cr_isa_name(isa), size,
             i, (double)g[i], (double)r[i]);
}

static cr_isa saved_isa;
static int save_isa(void **state) {
    (void)state;
    saved_isa = cr_isa_current();
    return 0;
}
static int restore_isa(void **state) {
    (void)state;
    return cr_isa_select(saved_isa) == CR_OK ? 0 : -1;
}

static void test_selection(void **state) {
    (void)state;
    cr_isa isa = CR_ISA_AVX2;
    assert_true(cr_isa_from_name("portable", &isa) == CR_OK && isa == CR_ISA_PORTABLE);
    assert_true(cr_isa_from_name("avx512", &isa) == CR_OK && isa == CR_ISA_AVX512);
    assert_false(cr_isa_from_name("AVX2", &isa) == CR_OK);
    assert_false(cr_isa_from_name("", &isa) == CR_OK);
    assert_false(cr_isa_from_name(NULL, &isa) == CR_OK);
    assert_string_equal(cr_isa_name(CR_ISA_AVX2), "avx2");
    assert_string_equal(cr_isa_name((cr_isa)7), "unknown");
    assert_true(cr_isa_supported(CR_ISA_PORTABLE));
    assert_false(cr_isa_supported((cr_isa)7));
    assert_int_equal(cr_isa_select((cr_isa)7), CR_ERR_ARG);
    assert_true(cr_isa_supported(cr_isa_best()));
    /* the run's choice: what CHAINRULE_ISA names, else the best */
    const char *env = getenv("CHAINRULE_ISA");
    cr_isa want = cr_isa_best();
    if (env && cr_isa_from_name(env, &isa) == CR_OK && cr_isa_supported(isa)) want = isa;
    assert_int_equal(saved_isa, want);
    for (int i = 0; i < CR_ISA_COUNT; i++) {
        if (!cr_isa_supported((cr_isa)i)) {
            assert_int_equal(cr_isa_select((cr_isa)i), CR_ERR_ARG);
            continue;
        }
        assert_int_equal(cr_isa_select((cr_isa)i), CR_OK);
        assert_int_equal(cr_isa_current(), i);
    }
    print_message("kernel sets here:%s%s%s (best %s, this run %s)\n", " portable",
                  cr_isa_supported(CR_ISA_AVX2) ? " avx2" : "",
                  cr_isa_supported(CR_ISA_AVX512) ? " avx512" : "", cr_isa_name(cr_isa_best()),
                  cr_isa_name(saved_isa));
}

/* r = b + Σ x_i W[i,:] over the nonzero x_i, then W += a h gᵀ on those rows */
static void test_sparse_gemv_ger(void **state) {
    (void)state;
    cr_isa sets[CR_ISA_COUNT];
    const size_t n_sets = other_sets(sets);
    static const size_t dins[] = {1, 37, 200};
    uint64_t seed = 1;
    for (size_t s = 0; s < N_SIZES; s++)
        for (size_t di = 0; di < 3; di++, seed++) {
            const size_t dout = SIZES[s], din = dins[di], off = seed % 4;
            float *x = floats_at(din, off, -1, 1, 0.4, seed);
            float *w0 = floats_at(din * dout, (off + 1) % 4, -1, 1, 0, seed + 100);
            float *b0 = floats_at(dout, (off + 2) % 4, -1, 1, 0, seed + 200);
            float *g = floats_at(dout, (off + 3) % 4, -1, 1, 0, seed + 300);
            float *w = floats_at(din * dout, (off + 1) % 4, 0, 0, 0, 0);
            float *b = floats_at(dout, (off + 2) % 4, 0, 0, 0, 0);
            float *r = floats_at(dout, off, 0, 0, 0, 0);
            float *gin = floats_at(din, off, 0, 0, 0, 0);
            uint32_t *idx = malloc(din * sizeof *idx);
            float *r_ref = malloc(dout * sizeof *r_ref), *w_ref = malloc(din * dout * sizeof *w_ref),
                  *b_ref = malloc(dout * sizeof *b_ref), *gin_ref = malloc(din * sizeof *gin_ref);
            assert_true(idx && r_ref && w_ref && b_ref && gin_ref);
            const size_t nnz = cr_nonzero_f32(din, x, idx);
            size_t expect = 0;
            for (size_t i = 0; i < din; i++)
                if (x[i] != 0) assert_int_equal(idx[expect++], i);
            assert_int_equal(nnz, expect);
            for (size_t v = 0; v <= n_sets; v++) {
                const cr_isa isa = v == 0 ? CR_ISA_PORTABLE : sets[v - 1];
                assert_int_equal(cr_isa_select(isa), CR_OK);
                memcpy(w, w0, din * dout * sizeof *w);
                memcpy(b, b0, dout * sizeof *b);
                cr_sparse_gemv_f32(nnz, idx, dout, x, w, b, r);
                cr_gemv_rows_f32(din, dout, w, g, gin);
                assert_true(cr_sparse_ger_f32(nnz, idx, dout, -0.3f, x, g, w, b));
                if (v == 0) {
                    memcpy(r_ref, r, dout * sizeof *r);
                    memcpy(w_ref, w, din * dout * sizeof *w);
                    memcpy(b_ref, b, dout * sizeof *b);
                    memcpy(gin_ref, gin, din * sizeof *gin);
                    continue;
                }
                assert_same(r, r_ref, dout, isa, "sparse_gemv", dout);
                assert_same(gin, gin_ref, din, isa, "gemv_rows", dout);
                assert_same(w, w_ref, din * dout, isa, "sparse_ger W", dout);
                assert_same(b, b_ref, dout, isa, "sparse_ger b", dout);
            }
            /* the reference itself, in float64 */
            for (size_t j = 0; j < dout; j++) {
                double ref = b0[j], db = b0[j] + -0.3 * g[j];
                for (size_t i = 0; i < din; i++) ref += (double)x[i] * w0[i * dout + j];
                assert_true(fabs(r_ref[j] - ref) <= 1e-5 * (1 + fabs(ref)));
                assert_true(fabs(b_ref[j] - db) <= 1e-6);
            }
            for (size_t i = 0; i < din; i++) {
                double ref = 0;
                for (size_t j = 0; j < dout; j++) ref += (double)w0[i * dout + j] * g[j];
                assert_true(fabs(gin_ref[i] - ref) <= 1e-5 * (1 + fabs(ref)));
                for (size_t j = 0; j < dout; j++) {
                    double wr = w0[i * dout + j] + -0.3 * x[i] * g[j];
                    assert_true(fabs(w_ref[i * dout + j] - wr) <= 1e-6);
                }
            }
            /* a non-finite value written in a whole register, then in the last lane */
            for (size_t v = 0; v <= n_sets; v++) {
                const cr_isa isa = v == 0 ? CR_ISA_PORTABLE : sets[v - 1];
                assert_int_equal(cr_isa_select(isa), CR_OK);
                for (int where = 0; where < 2; where++) {
                    const size_t j = where ? dout - 1 : 0;
                    const float keep = g[j];
                    g[j] = where ? NAN : INFINITY;
                    memcpy(w, w0, din * dout * sizeof *w);
                    memcpy(b, b0, dout * sizeof *b);
                    assert_false(cr_sparse_ger_f32(nnz, idx, dout, -0.3f, x, g, w, b));
                    g[j] = keep;
                }
            }
            free_at(x, off);
            free_at(w0, (off + 1) % 4);
            free_at(b0, (off + 2) % 4);
            free_at(g, (off + 3) % 4);
            free_at(w, (off + 1) % 4);
            free_at(b, (off + 2) % 4);
            free_at(r, off);
            free_at(gin, off);
            free(idx);
            free(r_ref);
            free(w_ref);
            free(b_ref);
            free(gin_ref);
        }
}

/* σ and its VJP on every count up to 70 and a long array, over ±100, tiny
   values, ±0, ±inf and NaN */
static void test_sigmoid(void **state) {
    (void)state;
    cr_isa sets[CR_ISA_COUNT];
    const size_t n_sets = other_sets(sets);
    enum { MAX = 1003 };
    float *ref = malloc(MAX * sizeof(float)), *ref_vjp = malloc(MAX * sizeof(float));
    float *row = malloc(MAX * sizeof(float));
    assert_true(ref && ref_vjp && row);
    for (size_t count = 0; count <= MAX; count = count < 70 ? count + 1 : MAX + 1) {
        const size_t n = count <= 70 ? count : MAX, off = count % 4;
        float *r = floats_at(n, off, -100, 100, 0.05, count + 7);
        float *g = floats_at(n, (off + 1) % 4, -2, 2, 0, count + 8);
        float *h = floats_at(n, (off + 2) % 4, 0, 0, 0, 0);
        float *gr = floats_at(n, (off + 3) % 4, 0, 0, 0, 0);
        static const float special[] = {-0.0f, 1e-30f, -1e-30f, 87.5f, -87.5f, 88.8f, -104.0f,
                                        1e4f, -1e4f, INFINITY, -INFINITY, NAN};
        for (size_t i = 0; i < n; i++)
            if (i % 5 == 1) r[i] = special[(i / 5 + count) % 12];
        for (size_t v = 0; v <= n_sets; v++) {
            const cr_isa isa = v == 0 ? CR_ISA_PORTABLE : sets[v - 1];
            assert_int_equal(cr_isa_select(isa), CR_OK);
            cr_sigmoid_fast_f32(n, r, h);
            /* the VJP: a vector kernel under avx2/avx512 only; the portable
               set's is the op's own function (src/ops/sigmoid.tmpl.c) */
            for (size_t i = 0; i < n; i++) gr[i] = -7.0f;
            assert_int_equal(cr_sigmoid_vjp_simd_f32(n, h, g, gr), v != 0);
            if (v == 0) {
                for (size_t i = 0; i < n; i++) assert_true(gr[i] == -7.0f); /* untouched */
                cr_sigmoid_vjp_f32(n, r, h, g, gr);
            }
            /* and the sigmoid row of the op table (what the chain runs) gives these bits */
            cr_activation_vjp_f32(CR_ACT_SIGMOID, n, r, h, g, row);
            assert_same(row, gr, n, isa, "sigmoid row's vjp", n);
            if (v == 0) {
                memcpy(ref, h, n * sizeof *h);
                memcpy(ref_vjp, gr, n * sizeof *gr);
                for (size_t i = 0; i < n; i++) { /* the reference against expf */
                    if (isnan(r[i])) {
                        assert_true(isnan(h[i]));
                        continue;
                    }
                    const double e = 1 / (1 + exp(-(double)r[i]));
                    assert_true(fabs(h[i] - e) <= 1e-6 * e + 1e-37);
                }
                continue;
            }
            for (size_t i = 0; i < n; i++) /* NaN payloads aside, the same bits */
                if (isnan(ref[i])) {
                    assert_true(isnan(h[i]) && isnan(gr[i]));
                    h[i] = ref[i];
                    gr[i] = ref_vjp[i];
                }
            assert_same(h, ref, n, isa, "sigmoid", n);
            assert_same(gr, ref_vjp, n, isa, "sigmoid_vjp", n);
        }
        free_at(r, off);
        free_at(g, (off + 1) % 4);
        free_at(h, (off + 2) % 4);
        free_at(gr, (off + 3) % 4);
    }
    free(ref);
    free(ref_vjp);
    free(row);
}

/* b = a colsum(G) and b = beta b + a colsum(G), n = 1, 3 and 64 rows */
static void test_colsum(void **state) {
    (void)state;
    cr_isa sets[CR_ISA_COUNT];
    const size_t n_sets = other_sets(sets);
    static const size_t ns[] = {1, 3, 64};
    for (size_t s = 0; s < N_SIZES; s++)
        for (size_t ni = 0; ni < 3; ni++)
            for (int with_beta = 0; with_beta < 2; with_beta++) {
                const size_t h = SIZES[s], n = ns[ni], off = (s + ni) % 4;
                float *g = floats_at(n * h, off, -1, 1, 0, s * 10 + ni);
                float *b0 = floats_at(h, (off + 1) % 4, -1, 1, 0, s * 10 + ni + 5);
                float *b = floats_at(h, (off + 1) % 4, 0, 0, 0, 0);
                float *ref = malloc(h * sizeof *ref);
                assert_non_null(ref);
                const float beta = with_beta ? 0.9f : 0.0f;
                for (size_t v = 0; v <= n_sets; v++) {
                    const cr_isa isa = v == 0 ? CR_ISA_PORTABLE : sets[v - 1];
                    assert_int_equal(cr_isa_select(isa), CR_OK);
                    memcpy(b, b0, h * sizeof *b);
                    cr_colsum_axpby_f32(n, h, 0.25f, g, beta, b);
                    if (v == 0) {
                        memcpy(ref, b, h * sizeof *b);
                        for (size_t j = 0; j < h; j++) {
                            double e = beta * (double)b0[j];
                            for (size_t i = 0; i < n; i++) e += 0.25 * g[i * h + j];
                            assert_true(fabs(b[j] - e) <= 1e-5);
                        }
                    } else {
                        assert_same(b, ref, h, isa, with_beta ? "colsum, beta" : "colsum", h);
                    }
                }
                free_at(g, off);
                free_at(b0, (off + 1) % 4);
                free_at(b, (off + 1) % 4);
                free(ref);
            }
}

/* 1 exactly when every value is finite: a NaN or ±inf at the start, in the
   middle and in the last lane */
static void test_all_finite(void **state) {
    (void)state;
    cr_isa sets[CR_ISA_COUNT];
    const size_t n_sets = other_sets(sets);
    static const float bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t s = 0; s < N_SIZES; s++) {
        const size_t n = SIZES[s], off = s % 4;
        float *x = floats_at(n, off, -3e38, 3e38, 0.1, s);
        for (size_t v = 0; v <= n_sets; v++) {
            assert_int_equal(cr_isa_select(v == 0 ? CR_ISA_PORTABLE : sets[v - 1]), CR_OK);
            assert_true(cr_all_finite_f32(n, x));
            const size_t at[] = {0, n / 2, n - 1};
            for (int k = 0; k < 3; k++)
                for (int t = 0; t < 3; t++) {
                    const float keep = x[at[k]];
                    x[at[k]] = bad[t];
                    assert_false(cr_all_finite_f32(n, x));
                    x[at[k]] = keep;
                }
        }
        free_at(x, off);
    }
}

/* SGD, momentum, Nesterov and Adam with weight decay, every size */
static void test_optimisers(void **state) {
    (void)state;
    cr_isa sets[CR_ISA_COUNT];
    const size_t n_sets = other_sets(sets);
    for (size_t s = 0; s < N_SIZES; s++)
        for (int kind = 0; kind < 4; kind++) {
            const size_t n = SIZES[s], off = (s + (size_t)kind) % 4;
            float *p0 = floats_at(n, off, -1, 1, 0, s + 1), *g = floats_at(n, off, -1, 1, 0, s + 2);
            float *m0 = floats_at(n, off, -0.1, 0.1, 0, s + 3), *v0 = floats_at(n, off, 0, 0.01, 0, s + 4);
            float *p = floats_at(n, off, 0, 0, 0, 0), *m = floats_at(n, off, 0, 0, 0, 0),
                  *vv = floats_at(n, off, 0, 0, 0, 0);
            float *ref = malloc(3 * n * sizeof *ref);
            assert_non_null(ref);
            for (size_t v = 0; v <= n_sets; v++) {
                const cr_isa isa = v == 0 ? CR_ISA_PORTABLE : sets[v - 1];
                assert_int_equal(cr_isa_select(isa), CR_OK);
                memcpy(p, p0, n * sizeof *p);
                memcpy(m, m0, n * sizeof *m);
                memcpy(vv, v0, n * sizeof *vv);
                for (int step = 0; step < 3; step++) switch (kind) {
                    case 0: cr_opt_sgd_f32(n, 0.1f, 1e-3f, p, g); break;
                    case 1: cr_opt_momentum_f32(n, 0.1f, 1e-3f, 0.9f, 0, p, g, m); break;
                    case 2: cr_opt_momentum_f32(n, 0.1f, 1e-3f, 0.9f, 1, p, g, m); break;
                    default:
                        cr_opt_adam_f32(n, 0.01f, 1e-3f, 0.9f, 0.999f, 0.0316f, 1e-8f, p, g, m, vv);
                    }
                if (v == 0) {
                    memcpy(ref, p, n * sizeof *p);
                    memcpy(ref + n, m, n * sizeof *m);
                    memcpy(ref + 2 * n, vv, n * sizeof *vv);
                    if (kind == 0) /* three steps of p - lr (g + wd p) */
                        for (size_t i = 0; i < n; i++) {
                            double e = p0[i];
                            for (int step = 0; step < 3; step++) e -= 0.1 * (g[i] + 1e-3 * e);
                            assert_true(fabs(p[i] - e) <= 1e-6);
                        }
                    continue;
                }
                static const char *names[] = {"sgd", "momentum", "nesterov", "adam"};
                assert_same(p, ref, n, isa, names[kind], n);
                assert_same(m, ref + n, n, isa, names[kind], n);
                assert_same(vv, ref + 2 * n, n, isa, names[kind], n);
            }
            free_at(p0, off);
            free_at(g, off);
            free_at(m0, off);
            free_at(v0, off);
            free_at(p, off);
            free_at(m, off);
            free_at(vv, off);
            free(ref);
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selection),
        cmocka_unit_test(test_sparse_gemv_ger),
        cmocka_unit_test(test_sigmoid),
        cmocka_unit_test(test_colsum),
        cmocka_unit_test(test_all_finite),
        cmocka_unit_test(test_optimisers),
    };
    return cmocka_run_group_tests(tests, save_isa, restore_isa);
}
