/*
 * test_sparse_xw — the first layer's forward product over the nonzero inputs
 * (src/kernels/sparse_xw.h), bit for bit against the dense chain:
 *   - an independent oracle here: for every value the fused multiply-add
 *     chain over every input k in order from +0 (fmaf), then + b, which is
 *     what the packed kernel and the forward's bias loop compute; and, under
 *     the AVX2 and AVX-512 sets, the packed kernel itself (cr_abt_gemm + b);
 *   - under every kernel set this CPU runs (portable, avx2, avx512);
 *   - odd sizes (h around the register widths, d not a multiple of them, one
 *     row, groups cut short), all-zero and all-nonzero rows mixed in a group,
 *     ±0 inputs, weights and biases, row strides wider than the rows (nothing
 *     between the rows is written);
 *   - the sign of a zero sum (a chain that reaches −0 and then meets a
 *     skipped 0 · w = +0), NaN and ±inf inputs, non-finite weights refused;
 *   - Fashion-MNIST test images, and pays/does not pay on them and on dense
 *     random inputs;
 *   - end to end: ∂J/∂x, FGSM, PGD and the closed-form Jacobian give the same
 *     bytes with the sparse path and without it (cr_sparse_xw_disable);
 *   - a planted fault (cr_sparse_xw_plant_fault: the last nonzero input left
 *     out) is caught by every comparison above.
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

#include "chainrule_data.h"
#include "chainrule_typed.h"
#include "kernels/abt.h"
#include "kernels/sparse_xw.h"
#include "testutil.h"

static const float SENTINEL = 12345.0f;
static int g_quick;

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}
static float rng_unif(uint64_t *s) { /* [-1, 1) */
    return (float)((double)(rng_next(s) >> 11) / 9007199254740992.0 * 2 - 1);
}
/* A zero of either sign */
static float rng_zero(uint64_t *s) { return (rng_next(s) & 1) ? -0.0f : 0.0f; }

/* The oracle: r_ij = (fma chain over every k from +0) + b_j */
static void dense_oracle(size_t n, size_t d, size_t h, const float *x, size_t ldx, const float *w,
                         size_t ldw, const float *b, float *r, size_t ldr) {
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < h; j++) {
            float c = 0;
            for (size_t k = 0; k < d; k++) c = fmaf(x[i * ldx + k], w[k * ldw + j], c);
            r[i * ldr + j] = b ? c + b[j] : c;
        }
}

/* The packed kernel (B = Wᵀ) then + b, as the forward does; 0 if the set has none. */
static int dense_abt(size_t n, size_t d, size_t h, const float *x, size_t ldx, const float *w,
                     size_t ldw, const float *b, float *r, size_t ldr) {
    if (!cr_abt_available()) return 0;
    cr_abt_packed p;
    assert_int_equal(cr_abt_pack(h, d, w, ldw, 1, 0, &p), CR_OK);
    assert_true(p.finite);
    cr_abt_gemm(n, 1, x, ldx, NULL, &p, r, ldr);
    if (b)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < h; j++) r[i * ldr + j] += b[j];
    cr_abt_free(&p);
    return 1;
}

/* Number of values of the n × h results whose bits differ; the padding after
   each row must keep the sentinel. */
static size_t count_diff(size_t n, size_t h, const float *a, const float *ref, size_t ldr) {
    size_t diff = 0;
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < h; j++)
            diff += memcmp(&a[i * ldr + j], &ref[i * ldr + j], sizeof(float)) != 0;
        for (size_t j = h; j < ldr; j++) assert_true(a[i * ldr + j] == SENTINEL);
    }
    return diff;
}

/* The sets this CPU runs */
static int n_sets(cr_isa *sets) {
    int c = 0;
    for (int s = 0; s < CR_ISA_COUNT; s++)
        if (cr_isa_supported((cr_isa)s)) sets[c++] = (cr_isa)s;
    return c;
}

/* One case: n rows of x (row i: nonzero with probability dens[i % 4]), W d × h
   with some ±0 weights, b with some ±0 values or NULL. Returns the values that
   differ from the oracle (and from the packed kernel where the set has it). */
static size_t run_case(cr_isa isa, size_t n, size_t d, size_t h, int with_b, uint64_t seed) {
    static const double dens[4] = {0.3, 0.0, 1.0, 0.05};
    const size_t ldx = d + 3, ldw = h + 2, ldr = h + 5;
    float *x = tu_falloc(n * ldx), *w = tu_falloc(d * ldw), *b = tu_falloc(h);
    float *r = tu_falloc(n * ldr), *ref = tu_falloc(n * ldr);
    uint64_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < d; k++) {
            const double u = (rng_unif(&s) + 1) / 2;
            x[i * ldx + k] = u < dens[i % 4] ? rng_unif(&s) : rng_zero(&s);
        }
    for (size_t k = 0; k < d * ldw; k++) w[k] = rng_next(&s) % 16 == 0 ? rng_zero(&s) : rng_unif(&s);
    for (size_t j = 0; j < h; j++) b[j] = rng_next(&s) % 8 == 0 ? rng_zero(&s) : rng_unif(&s);
    const float *bp = with_b ? b : NULL;
    assert_int_equal(cr_isa_select(isa), CR_OK);
    for (size_t i = 0; i < n * ldr; i++) r[i] = ref[i] = SENTINEL;
    cr_sparse_xw_f32(n, d, h, x, ldx, w, ldw, bp, r, ldr);
    dense_oracle(n, d, h, x, ldx, w, ldw, bp, ref, ldr);
    size_t diff = count_diff(n, h, r, ref, ldr);
    for (size_t i = 0; i < n * ldr; i++) ref[i] = SENTINEL;
    if (dense_abt(n, d, h, x, ldx, w, ldw, bp, ref, ldr)) diff += count_diff(n, h, r, ref, ldr);
    free(x);
    free(w);
    free(b);
    free(r);
    free(ref);
    return diff;
}

static void test_random_shapes(void **state) {
    (void)state;
    static const size_t ns[] = {1, 2, 3, 4, 5, 7}, ds[] = {1, 5, 16, 17, 33, 100},
                        hs[] = {1, 7, 8, 16, 17, 31, 33, 100, 128, 130, 257};
    cr_isa sets[CR_ISA_COUNT];
    const int ns_ = n_sets(sets);
    size_t cases = 0;
    for (int si = 0; si < ns_; si++)
        for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
            for (size_t c = 0; c < sizeof ds / sizeof *ds; c++)
                for (size_t e = 0; e < sizeof hs / sizeof *hs; e++) {
                    if (g_quick && (a + c + e) % 3) continue;
                    for (int with_b = 0; with_b < 2; with_b++) {
                        const size_t diff = run_case(sets[si], ns[a], ds[c], hs[e], with_b,
                                                     1 + cases);
                        if (diff)
                            fail_msg("%s: n %zu d %zu h %zu b %d: %zu values differ",
                                     cr_isa_name(sets[si]), ns[a], ds[c], hs[e], with_b, diff);
                        cases++;
                    }
                }
    /* the input width of the images, many rows */
    for (int si = 0; si < ns_; si++) assert_int_equal(run_case(sets[si], 31, 784, 128, 1, 7), 0);
    printf("  %zu random cases under %d kernel sets: bit for bit\n", cases, ns_);
    cr_isa_select(cr_isa_best());
}

/* A chain that reaches −0 (an underflowing negative product) and then meets a
   zero input whose skipped term is +0: the dense chain turns the −0 into +0,
   skipping would keep −0. With a zero bias (or none) the sign shows. */
static void test_signed_zero(void **state) {
    (void)state;
    enum { N = 4, D = 3, H = 20 };
    float x[N * D], w[D * H], b[H], r[N * H], ref[N * H];
    for (size_t j = 0; j < H; j++) {
        w[0 * H + j] = -1e-30f; /* x0 · w0 = −1e-60 → −0 */
        w[1 * H + j] = j % 2 ? 1.0f : -1.0f;
        w[2 * H + j] = j % 3 ? 0.5f : -0.0f;
        b[j] = j % 4 ? 0.0f : -0.0f;
    }
    const float rows[N][D] = {{1e-30f, 0.0f, 0.0f}, {1e-30f, -0.0f, 0.0f}, {0.0f, 0.0f, 0.0f},
                              {1e-30f, 0.0f, 2.0f}};
    memcpy(x, rows, sizeof rows);
    /* not vacuous: the chain over the nonzero inputs alone ends in −0 where
       the dense one ends in +0 */
    {
        float skip = fmaf(x[0], w[1], 0.0f), dense = fmaf(x[1], w[H + 1], skip);
        assert_true(skip == 0 && signbit(skip) && dense == 0 && !signbit(dense));
    }
    cr_isa sets[CR_ISA_COUNT];
    const int ns_ = n_sets(sets);
    for (int si = 0; si < ns_; si++) {
        assert_int_equal(cr_isa_select(sets[si]), CR_OK);
        for (int with_b = 0; with_b < 2; with_b++) {
            for (size_t i = 0; i < N * H; i++) r[i] = ref[i] = SENTINEL;
            cr_sparse_xw_f32(N, D, H, x, D, w, H, with_b ? b : NULL, r, H);
            dense_oracle(N, D, H, x, D, w, H, with_b ? b : NULL, ref, H);
            assert_int_equal(count_diff(N, H, r, ref, H), 0);
        }
    }
    cr_isa_select(cr_isa_best());
}

/* NaN and ±inf inputs are nonzero: they enter the chain as in the dense one.
   A non-finite weight is refused by the checks (the dense chain's 0 · inf is
   NaN, which skipping would lose). */
static void test_nonfinite(void **state) {
    (void)state;
    enum { N = 5, D = 40, H = 33 };
    float x[N * D], w[D * H], b[H], r[N * H], ref[N * H];
    uint64_t s = 99;
    for (size_t i = 0; i < N * D; i++) x[i] = i % 3 ? 0.0f : rng_unif(&s);
    for (size_t i = 0; i < D * H; i++) w[i] = rng_unif(&s);
    for (size_t j = 0; j < H; j++) b[j] = rng_unif(&s);
    x[0 * D + 3] = NAN;
    x[1 * D + 6] = INFINITY;
    x[4 * D + 9] = -INFINITY;
    cr_isa sets[CR_ISA_COUNT];
    const int ns_ = n_sets(sets);
    for (int si = 0; si < ns_; si++) {
        assert_int_equal(cr_isa_select(sets[si]), CR_OK);
        for (size_t i = 0; i < N * H; i++) r[i] = ref[i] = SENTINEL;
        cr_sparse_xw_f32(N, D, H, x, D, w, H, b, r, H);
        dense_oracle(N, D, H, x, D, w, H, b, ref, H);
        assert_int_equal(count_diff(N, H, r, ref, H), 0);
        assert_true(isnan(r[0]) && isinf(r[H]) && isfinite(r[2 * H]));
    }
    cr_isa_select(cr_isa_best());
    assert_true(cr_sparse_xw_finite(D, H, w, H));
    for (int bad = 0; bad < 3; bad++) {
        const float keep = w[17 * H + 5];
        w[17 * H + 5] = bad == 0 ? NAN : bad == 1 ? INFINITY : -INFINITY;
        assert_false(cr_sparse_xw_finite(D, H, w, H));
        cr_abt_packed p;
        assert_int_equal(cr_abt_pack(H, D, w, H, 1, 0, &p), CR_OK);
        assert_false(p.finite); /* the forward takes the packed kernel then */
        cr_abt_free(&p);
        w[17 * H + 5] = keep;
    }
}

/* Fashion-MNIST's test images (NULL if the dataset is not installed) */
static cr_dataset g_te;
static int g_have_images;

static int setup(void **state) {
    (void)state;
    const char *quick = getenv("CR_TEST_QUICK");
    g_quick = quick && *quick == '1';
    cr_dataset_options o = cr_dataset_options_default();
    o.limit = g_quick ? 60 : 300;
    g_have_images = cr_dataset_load("fashion-mnist:test", &g_te, &o) == CR_OK && g_te.d == 784;
    return 0;
}
static int teardown(void **state) {
    (void)state;
    if (g_have_images) cr_dataset_free(&g_te);
    return 0;
}

static void test_images(void **state) {
    (void)state;
    if (!g_have_images) {
        printf("  fashion-mnist not installed\n");
        skip();
    }
    const size_t n = g_te.n, d = 784, h = 128;
    float *w = tu_falloc(d * h), *b = tu_falloc(h), *r = tu_falloc(n * h), *ref = tu_falloc(n * h);
    float *dense = tu_falloc(n * d);
    uint64_t s = 5;
    for (size_t i = 0; i < d * h; i++) w[i] = rng_unif(&s) * 0.1f;
    for (size_t j = 0; j < h; j++) b[j] = rng_unif(&s) * 0.1f;
    for (size_t i = 0; i < n * d; i++) dense[i] = (rng_unif(&s) + 1.5f) / 2; /* no zeros */
    size_t zeros = 0;
    for (size_t i = 0; i < n * d; i++) zeros += g_te.x[i] == 0;
    assert_true(zeros > n * d / 3); /* the background */
    cr_isa sets[CR_ISA_COUNT];
    const int ns_ = n_sets(sets);
    for (int si = 0; si < ns_; si++) {
        assert_int_equal(cr_isa_select(sets[si]), CR_OK);
        for (size_t i = 0; i < n * h; i++) r[i] = ref[i] = SENTINEL;
        cr_sparse_xw_f32(n, d, h, g_te.x, d, w, h, b, r, h);
        dense_oracle(n, d, h, g_te.x, d, w, h, b, ref, h);
        assert_int_equal(count_diff(n, h, r, ref, h), 0);
        if (dense_abt(n, d, h, g_te.x, d, w, h, b, ref, h)) assert_int_equal(count_diff(n, h, r, ref, h), 0);
        /* the choice: never on dense inputs; on the images where it pays (AVX-512) */
        assert_false(cr_sparse_xw_pays(n, d, dense, d));
        const int pays = cr_sparse_xw_pays(n, d, g_te.x, d);
        printf("  %s: bit for bit on %zu images; pays on them: %d\n", cr_isa_name(sets[si]), n, pays);
        if (sets[si] == CR_ISA_PORTABLE) assert_false(pays);
        if (sets[si] == CR_ISA_AVX512) assert_true(pays);
        /* the planted fault is caught */
        cr_sparse_xw_plant_fault(1);
        cr_sparse_xw_f32(n, d, h, g_te.x, d, w, h, b, r, h);
        cr_sparse_xw_plant_fault(0);
        assert_true(count_diff(n, h, r, ref, h) > 0);
        cr_sparse_xw_disable(1);
        assert_false(cr_sparse_xw_pays(n, d, g_te.x, d));
        cr_sparse_xw_disable(0);
    }
    cr_isa_select(cr_isa_best());
    free(w);
    free(b);
    free(r);
    free(ref);
    free(dense);
}

/* The planted fault makes the random cases differ too, under every set. */
static void test_planted_fault(void **state) {
    (void)state;
    cr_isa sets[CR_ISA_COUNT];
    const int ns_ = n_sets(sets);
    for (int si = 0; si < ns_; si++) {
        cr_sparse_xw_plant_fault(1);
        const size_t diff = run_case(sets[si], 7, 33, 17, 1, 3);
        cr_sparse_xw_plant_fault(0);
        assert_true(diff > 0);
        assert_int_equal(run_case(sets[si], 7, 33, 17, 1, 3), 0);
    }
    cr_isa_select(cr_isa_best());
}

/* ∂J/∂x, FGSM, PGD and the closed-form Jacobian with and without the sparse
   path give the same bytes; with the fault planted they do not (the path is
   taken). AVX2 pays only on sparser inputs: the images with their faint
   pixels zeroed. */
static int same_outputs(const cr_net *net, size_t n, const float *x, const cr_label *y,
                        int *changed) {
    const size_t d = 784, k = 10;
    float *dx[3], *fg[3], *pg[3], *jac[3];
    for (int v = 0; v < 3; v++) { /* 0 sparse, 1 dense, 2 sparse with the fault */
        cr_sparse_xw_disable(v == 1);
        cr_sparse_xw_plant_fault(v == 2);
        dx[v] = tu_falloc(n * d);
        fg[v] = tu_falloc(n * d);
        pg[v] = tu_falloc(n * d);
        jac[v] = tu_falloc(n * k * d);
        assert_int_equal(cr_net_input_grad(NULL, net, n, x, y, dx[v], NULL), CR_OK);
        cr_attack_options o = {.method = CR_ATTACK_FGSM, .norm = CR_NORM_LINF, .eps = 0.1, .lo = 0, .hi = 1};
        assert_int_equal(cr_attack(NULL, net, n, x, y, NULL, &o, fg[v], NULL), CR_OK);
        o.method = CR_ATTACK_PGD;
        o.steps = 3;
        assert_int_equal(cr_attack(NULL, net, n, x, y, NULL, &o, pg[v], NULL), CR_OK);
        assert_int_equal(cr_net_input_jacobian(NULL, net, n, x, 1, CR_JAC_CLOSED, jac[v]), CR_OK);
    }
    cr_sparse_xw_disable(0);
    cr_sparse_xw_plant_fault(0);
    const int same = !memcmp(dx[0], dx[1], n * d * sizeof(float)) &&
                     !memcmp(fg[0], fg[1], n * d * sizeof(float)) &&
                     !memcmp(pg[0], pg[1], n * d * sizeof(float)) &&
                     !memcmp(jac[0], jac[1], n * k * d * sizeof(float));
    *changed = memcmp(dx[0], dx[2], n * d * sizeof(float)) != 0 &&
               memcmp(jac[0], jac[2], n * k * d * sizeof(float)) != 0;
    double nrm = 0;
    for (size_t i = 0; i < n * d; i++) nrm += fabs(dx[0][i]);
    assert_true(nrm > 0);
    for (int v = 0; v < 3; v++) {
        free(dx[v]);
        free(fg[v]);
        free(pg[v]);
        free(jac[v]);
    }
    return same;
}

static void test_end_to_end(void **state) {
    (void)state;
    if (!g_have_images) {
        printf("  fashion-mnist not installed\n");
        skip();
    }
    const size_t n = g_quick ? 30 : 120, d = 784;
    size_t dims[3] = {784, 128, 10};
    cr_net *net = NULL;
    float *faint = tu_falloc(n * d);
    for (size_t i = 0; i < n * d; i++) faint[i] = g_te.x[i] < 0.5f ? 0.0f : g_te.x[i];
    for (int a = 0; a < 2; a++) {
        cr_activation act[1] = {a ? CR_ACT_RELU : CR_ACT_SIGMOID};
        assert_int_equal(cr_net_create(&net, CR_F32, 2, dims, act), CR_OK);
        cr_net_init(net, CR_INIT_AUTO, 3 + (uint64_t)a);
        cr_isa sets[CR_ISA_COUNT];
        const int ns_ = n_sets(sets);
        for (int si = 0; si < ns_; si++) {
            if (sets[si] == CR_ISA_PORTABLE) continue; /* sgemm, no sparse path */
            assert_int_equal(cr_isa_select(sets[si]), CR_OK);
            const float *x = sets[si] == CR_ISA_AVX512 ? g_te.x : faint;
            assert_true(cr_sparse_xw_pays(n, d, x, d));
            int changed = 0;
            assert_true(same_outputs(net, n, x, g_te.labels, &changed));
            assert_true(changed);
            printf("  %s, %s: ∂J/∂x, FGSM, PGD, closed Jacobian identical with and without it\n",
                   cr_isa_name(sets[si]), a ? "relu" : "sigmoid");
        }
        cr_isa_select(cr_isa_best());
        cr_net_free(net);
    }
    free(faint);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_shapes), cmocka_unit_test(test_signed_zero),
        cmocka_unit_test(test_nonfinite),     cmocka_unit_test(test_images),
        cmocka_unit_test(test_planted_fault), cmocka_unit_test(test_end_to_end),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
