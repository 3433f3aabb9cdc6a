/*
 * test_sparse_xtg — training's sparse first-layer step (src/kernels/sparse_xtg.h):
 *     W[r0:r1, c0:c1) <- β W + α X[:, r0:r1)ᵀ G[:, c0:c1)   over the nonzero inputs
 *   - every kernel set this CPU runs (portable, avx2, avx512) against a plain
 *     loop written here: the full sum over ALL rows, acc = fma(x_ik, G_ij, acc)
 *     in row order, W = fma(α, acc, β'), byte for byte (a skipped zero adds ±0:
 *     no change), on sparse, very sparse, all-zero and dense inputs, odd sizes
 *     (1-300 rows, 1-257 columns, row and column sub-blocks at odd offsets),
 *     β = 1, 0 and 0.999, NaN in X; nothing outside the block is written;
 *   - the plain loop itself against a float64 sum (within float rounding);
 *   - a planted fault: the kernel run with one nonzero input dropped must
 *     differ from the loop (the comparison catches one skipped row);
 *   - training with it (plain SGD with and without weight decay, Adam; one and
 *     two workers) on inputs with 60% zeros: the avx2 and avx512 sets give the
 *     same model bits, the portable set (the gemm) the same up to rounding, and
 *     the same bits where the gemm is probed to sum as the kernel does (OpenBLAS's
 *     AVX-512 kernels, Zen 4's native run).
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
#include "kernels/sparse_xtg.h"
#include "testutil.h"

/* n floats uniform in [-1, 1), a fraction `zeros` of them exactly 0 */
static float *sparse_floats(size_t n, double zeros, uint64_t seed) {
    float *a = malloc((n ? n : 1) * sizeof(float));
    assert_non_null(a);
    cr_rng rng;
    cr_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) {
        double u = cr_rng_uniform(&rng);
        a[i] = cr_rng_uniform(&rng) < zeros ? 0.0f : (float)(2 * u - 1);
    }
    return a;
}

/* The plain loop: every row, zeros included. */
static void plain_xtg(size_t n, size_t r0, size_t r1, size_t c0, size_t c1, const float *x,
                      size_t ldx, const float *g, size_t ldg, float alpha, float beta, float *w,
                      size_t ldw) {
    for (size_t k = r0; k < r1; k++)
        for (size_t j = c0; j < c1; j++) {
            float acc = 0.0f;
            for (size_t i = 0; i < n; i++) acc = fmaf(x[i * ldx + k], g[i * ldg + j], acc);
            float b = beta == 1.0f ? w[k * ldw + j] : beta == 0.0f ? 0.0f : beta * w[k * ldw + j];
            w[k * ldw + j] = fmaf(alpha, acc, b);
        }
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

/* One case on every set; returns the number of elements that differ from the
   loop on the last set (0 expected); with drop, the kernel sees x with its
   first nonzero in the block zeroed (the planted fault). */
static size_t run_case(size_t n, size_t din, size_t dout, size_t r0, size_t r1, size_t c0,
                       size_t c1, double zeros, float beta, int nan, int drop, uint64_t seed) {
    float *x = sparse_floats(n * din, zeros, seed), *g = sparse_floats(n * dout, 0, seed + 1),
          *w0 = sparse_floats(din * dout, 0, seed + 2);
    float *ref = malloc(din * dout * sizeof(float)), *got = malloc(din * dout * sizeof(float));
    assert_true(ref && got);
    if (nan && n * din > 0) x[(n / 2) * din + (r0 + r1) / 2] = NAN;
    const float alpha = -0.0123f;
    memcpy(ref, w0, din * dout * sizeof(float));
    plain_xtg(n, r0, r1, c0, c1, x, din, g, dout, alpha, beta, ref, dout);
    float *xk = x;
    if (drop) { /* the planted fault: one nonzero input the kernel does not see */
        xk = malloc(n * din * sizeof(float));
        assert_non_null(xk);
        memcpy(xk, x, n * din * sizeof(float));
        for (size_t i = 0; i < n * din; i++)
            if (xk[i] != 0 && i % din >= r0 && i % din < r1) {
                xk[i] = 0;
                break;
            }
    }
    size_t bad = 0;
    for (int s = 0; s < CR_ISA_COUNT; s++) {
        if (!cr_isa_supported((cr_isa)s)) continue;
        assert_int_equal(cr_isa_select((cr_isa)s), CR_OK);
        memcpy(got, w0, din * dout * sizeof(float));
        assert_int_equal(cr_sparse_xtg_f32(n, r0, r1, c0, c1, xk, din, g, dout, alpha, beta, got, dout), 1);
        bad = 0;
        for (size_t e = 0; e < din * dout; e++) {
            const size_t k = e / dout, j = e % dout;
            const int inside = k >= r0 && k < r1 && j >= c0 && j < c1;
            if (memcmp(got + e, inside ? ref + e : w0 + e, sizeof(float)) != 0) {
                if (!drop)
                    fail_msg("set %s, n %zu, W %zux%zu, rows [%zu,%zu) cols [%zu,%zu), zeros %.2f, "
                             "beta %g: W[%zu,%zu] is %.9g, the loop %.9g",
                             cr_isa_name((cr_isa)s), n, din, dout, r0, r1, c0, c1, zeros,
                             (double)beta, k, j, (double)got[e], (double)(inside ? ref[e] : w0[e]));
                bad++;
            }
        }
    }
    if (xk != x) free(xk);
    free(x);
    free(g);
    free(w0);
    free(ref);
    free(got);
    return bad;
}

static void test_kernel_matches_loop(void **state) {
    (void)state;
    /* CR_TEST_QUICK (valgrind, sanitizers): up to 130 rows, not the seed network's shape */
    const int quick = getenv("CR_TEST_QUICK") != NULL;
    const size_t rows[] = {1, 7, 64, 65, 130, 300};
    const size_t dims[][2] = {{1, 1}, {2, 17}, {15, 16}, {16, 64}, {17, 100}, {33, 128},
                              {40, 130}, {31, 257}, {3, 7}};
    const double zeros[] = {0.0, 0.5, 0.97, 1.0};
    const float betas[] = {1.0f, 0.0f, 0.999f};
    uint64_t seed = 1;
    for (size_t a = 0; a < sizeof rows / sizeof rows[0] - (quick ? 1 : 0); a++)
        for (size_t b = 0; b < sizeof dims / sizeof dims[0]; b++)
            for (size_t z = 0; z < 4; z++) {
                const size_t n = rows[a], din = dims[b][0], dout = dims[b][1];
                const float beta = betas[(a + b + z) % 3];
                /* the whole of W, then an inner block at odd offsets */
                assert_int_equal(run_case(n, din, dout, 0, din, 0, dout, zeros[z], beta, 0, 0, seed++), 0);
                if (din > 2 && dout > 4)
                    assert_int_equal(run_case(n, din, dout, 1, din - 1, 3, dout - 1, zeros[z], beta,
                                              z == 1, 0, seed++),
                                     0);
            }
    if (quick) return;
    /* the seed network's shape: 64 rows, 784 inputs, a half of 128 columns */
    assert_int_equal(run_case(64, 784, 128, 0, 784, 0, 128, 0.5, 1.0f, 0, 0, seed++), 0);
    assert_int_equal(run_case(64, 784, 128, 0, 784, 64, 128, 0.5, 1.0f, 0, 0, seed++), 0);
}

/* The loop itself: within float rounding of a float64 sum. */
static void test_loop_against_double(void **state) {
    (void)state;
    const size_t n = 50, din = 9, dout = 11;
    float *x = sparse_floats(n * din, 0.5, 5), *g = sparse_floats(n * dout, 0, 6);
    float w[9 * 11] = {0};
    plain_xtg(n, 0, din, 0, dout, x, din, g, dout, 1.0f, 0.0f, w, dout);
    int nontrivial = 0;
    for (size_t k = 0; k < din; k++)
        for (size_t j = 0; j < dout; j++) {
            double s = 0, sa = 0;
            for (size_t i = 0; i < n; i++) {
                s += (double)x[i * din + k] * (double)g[i * dout + j];
                sa += fabs((double)x[i * din + k] * (double)g[i * dout + j]);
            }
            assert_true(fabs((double)w[k * dout + j] - s) <= 1e-6 * sa + 1e-30);
            nontrivial += fabs(s) > 0.1;
        }
    assert_true(nontrivial > 10);
    free(x);
    free(g);
}

/* A kernel that skips one nonzero input must be caught. */
static void test_planted_skip_fails(void **state) {
    (void)state;
    assert_true(run_case(64, 40, 130, 0, 40, 0, 130, 0.5, 1.0f, 0, 1, 77) > 0);
    assert_true(run_case(7, 17, 100, 1, 16, 3, 99, 0.5, 0.0f, 0, 1, 78) > 0);
}

/* Above CR_SPARSE_XTG_MAX_ROWS the kernel declines and writes nothing. */
static void test_declines_many_rows(void **state) {
    (void)state;
    const size_t n = CR_SPARSE_XTG_MAX_ROWS + 1;
    float *x = sparse_floats(n * 2, 0.5, 9), *g = sparse_floats(n * 3, 0, 10), w[6] = {1, 2, 3, 4, 5, 6};
    assert_int_equal(cr_sparse_xtg_f32(n, 0, 2, 0, 3, x, 2, g, 3, 1.0f, 1.0f, w, 3), 0);
    for (int i = 0; i < 6; i++) assert_true(w[i] == (float)(i + 1));
    free(x);
    free(g);
}

/* Training through the kernel: a d-hidden-4 sigmoid net on n inputs with 60% zeros. */
static void train_net(size_t d, size_t hidden, size_t n, size_t batch, cr_isa isa,
                      cr_optimizer kind, double wd, int workers, float *out, size_t *np) {
    const size_t k = 4;
    float *x = sparse_floats(n * d, 0.6, 21);
    for (size_t i = 0; i < n * d; i++) x[i] = fabsf(x[i]);
    cr_label lab[256];
    assert_true(n <= 256);
    for (size_t i = 0; i < n; i++) lab[i] = (cr_label)((x[i * d] > 0.3f) + 2 * (x[i * d + 7] > 0.3f));
    assert_int_equal(cr_isa_select(isa), CR_OK);
    size_t dims[3] = {d, hidden, k};
    cr_activation act[1] = {CR_ACT_SIGMOID};
    cr_net *net;
    cr_optim *o;
    cr_train_ws *ws;
    cr_optim_config c = cr_optim_config_default();
    c.kind = kind;
    c.lr = kind == CR_OPT_ADAM ? 0.01 : 0.2;
    c.weight_decay = wd;
    assert_int_equal(cr_net_create(&net, CR_F32, 2, dims, act), CR_OK);
    cr_net_init(net, CR_INIT_AUTO, 4);
    float w_init = cr_net_params_f32(net)[5];
    assert_int_equal(cr_optim_create(net, &c, &o), CR_OK);
    assert_int_equal(cr_train_ws_create(net, batch, n, &ws), CR_OK);
    assert_int_equal(cr_train_ws_set_threads(ws, workers), CR_OK);
    cr_rng rng;
    cr_rng_seed(&rng, 3);
    cr_train_stats st;
    for (int e = 0; e < 3; e++)
        assert_int_equal(cr_train_epoch_f32(NULL, net, o, ws, n, x, lab, batch, &rng, &st, NULL, 0, NULL),
                         CR_OK);
    *np = cr_net_n_params(net);
    memcpy(out, cr_net_params_f32(net), *np * sizeof(float));
    assert_true(out[5] != w_init); /* layer 0 was trained */
    cr_train_ws_free(ws);
    cr_optim_free(o);
    cr_net_free(net);
    free(x);
}

static void train(cr_isa isa, cr_optimizer kind, double wd, int workers, float *out, size_t *np) {
    train_net(60, 24, 200, 16, isa, kind, wd, workers, out, np);
}

static void test_training_through_kernel(void **state) {
    (void)state;
    static float ref[4096], got[4096];
    size_t nr, ng;
    const cr_optimizer kinds[3] = {CR_OPT_SGD, CR_OPT_SGD, CR_OPT_ADAM};
    const double wds[3] = {0, 1e-3, 0};
    for (int q = 0; q < 3; q++)
        for (int workers = 1; workers <= 2; workers++) {
            train(CR_ISA_PORTABLE, kinds[q], wds[q], workers, ref, &nr); /* the gemm */
            cr_isa first = CR_ISA_PORTABLE;
            static float simd[4096];
            for (int s = CR_ISA_AVX2; s < CR_ISA_COUNT; s++) {
                if (!cr_isa_supported((cr_isa)s)) continue;
                train((cr_isa)s, kinds[q], wds[q], workers, got, &ng);
                assert_int_equal(nr, ng);
                for (size_t i = 0; i < ng; i++)
                    assert_true(fabsf(got[i] - ref[i]) <= 1e-4f * (1 + fabsf(ref[i])));
                if (first == CR_ISA_PORTABLE) {
                    first = (cr_isa)s;
                    memcpy(simd, got, ng * sizeof(float));
                } else { /* avx2 and avx512: the same kernel arithmetic, the same bits */
                    assert_memory_equal(simd, got, ng * sizeof(float));
                }
            }
        }
}

/* 1 if the gemm (cr_gemm_f32: OpenBLAS, or the portable one) computes W <- W + α XᵀG
   on a din × dout × n step as the kernel does (one fma chain per element, rows in
   order, then fma(α, acc, W)); probed with random inputs. OpenBLAS 0.3.21's
   Cooperlake/SkylakeX sgemm does on large shapes; its small-matrix path (below about
   100³ multiply-adds) rounds α·acc before adding W. */
static int gemm_sums_like_kernel(size_t din, size_t dout, size_t n) {
    float *x = sparse_floats(n * din, 0.6, 31), *g = sparse_floats(n * dout, 0, 32),
          *a = sparse_floats(din * dout, 0, 33);
    float *b = malloc(din * dout * sizeof(float));
    assert_non_null(b);
    memcpy(b, a, din * dout * sizeof(float));
    cr_gemm_f32(1, 0, din, dout, n, -0.0125f, x, din, g, dout, 1.0f, a, dout);
    plain_xtg(n, 0, din, 0, dout, x, din, g, dout, -0.0125f, 1.0f, b, dout);
    const int same = memcmp(a, b, din * dout * sizeof(float)) == 0;
    free(x);
    free(g);
    free(a);
    free(b);
    return same;
}

/* Where the gemm sums as the kernel does (Zen 4's native run, OpenBLAS's AVX-512
   kernels, on the shapes of the seed network's steps), training through the sparse
   step gives the gemm's bits exactly, one worker and two: the weights of before the
   kernel. A 600-64-4 net, batches of 64: the gemm's shapes 600 × 64 × 64 (one worker)
   and 600 × 32 × 64 (a half of the columns, two workers) are past its small path. */
static void test_training_same_bits_as_gemm(void **state) {
    (void)state;
    if (!gemm_sums_like_kernel(600, 64, 64) || !gemm_sums_like_kernel(600, 32, 64)) {
        print_message("the gemm sums in another order (not OpenBLAS's AVX-512 kernels): "
                      "only the values are compared (test_training_through_kernel)\n");
        return;
    }
    static float ref[65536], got[65536];
    size_t nr, ng;
    for (int workers = 1; workers <= 2; workers++)
        for (int s = CR_ISA_AVX2; s < CR_ISA_COUNT; s++) {
            if (!cr_isa_supported((cr_isa)s)) continue;
            train_net(600, 64, 256, 64, CR_ISA_PORTABLE, CR_OPT_SGD, 0, workers, ref, &nr);
            train_net(600, 64, 256, 64, (cr_isa)s, CR_OPT_SGD, 0, workers, got, &ng);
            assert_int_equal(nr, ng);
            assert_memory_equal(ref, got, nr * sizeof(float));
        }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_matches_loop),
        cmocka_unit_test(test_loop_against_double),
        cmocka_unit_test(test_planted_skip_fails),
        cmocka_unit_test(test_declines_many_rows),
        cmocka_unit_test(test_training_through_kernel),
        cmocka_unit_test(test_training_same_bits_as_gemm),
    };
    return cmocka_run_group_tests(tests, save_isa, restore_isa);
}
