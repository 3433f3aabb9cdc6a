/*
 * test_abt_kernel — the packed C = A Bᵀ kernel of the closed-form Jacobian
 * (src/kernels/abt.h) against a float64 reference:
 *   - every shape edge: n below, at and past a panel (16, 32), k = 1, one row,
 *     examples of 1..15 rows (blocks of 8..14 rows and the generic path);
 *   - C at every offset from a 64-byte line (the packing's shift), with a row
 *     stride that keeps the offset and one that does not; nothing outside C's
 *     n columns per row is written;
 *   - with and without the zero-row-sum derivation, where one row of each
 *     example is minus the sum of the others;
 *   - B packed from itself and from its transpose (the forward product x W_0);
 *   - large enough calls to take the streaming-store path;
 *   - under every kernel set this CPU runs (chainrule.h, cr_isa): the AVX2
 *     and AVX-512 blocks give the same bits (the same chain of fused
 *     multiply-adds per value), the portable loops agree within rounding.
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
#include "kernels/abt.h"
#include "testutil.h"

static const float SENTINEL = 12345.0f;

/* One case under kernel set isa: n_ex examples of kr rows, C n wide, inner
   size k. Returns the worst relative error against the float64 reference;
   C's values (m × n) go to out. */
static double run_case(cr_isa isa, size_t n_ex, size_t kr, size_t n, size_t k, size_t offset,
                       size_t ldc, int derive, uint64_t seed, float *out) {
    assert_int_equal(cr_isa_select(isa), CR_OK);
    const size_t m = n_ex * kr;
    double *ad = tu_dalloc(m * k), *bd = tu_dalloc(n * k);
    tu_fill_uniform(ad, m * k, -1, 1, seed);
    tu_fill_uniform(bd, n * k, -1, 1, seed + 1);
    size_t *derived = malloc(n_ex * sizeof(size_t));
    assert_non_null(derived);
    for (size_t e = 0; e < n_ex; e++) {
        derived[e] = (e * 7 + 3) % kr;
        if (derive) { /* make the example's rows of A sum to zero, so those of C do */
            double *last = ad + (e * kr + kr - 1) * k;
            for (size_t h = 0; h < k; h++) {
                last[h] = 0;
                for (size_t r = 0; r + 1 < kr; r++) last[h] -= ad[(e * kr + r) * k + h];
            }
        }
    }
    float *a = tu_falloc(m * k), *b = tu_falloc(n * k);
    for (size_t i = 0; i < m * k; i++) a[i] = (float)ad[i];
    for (size_t i = 0; i < n * k; i++) b[i] = (float)bd[i];
    /* C inside a 64-byte-aligned buffer, at `offset` floats, sentinel everywhere else */
    size_t total = offset + m * ldc + 32;
    float *buf = aligned_alloc(64, (total * sizeof(float) + 63) / 64 * 64);
    assert_non_null(buf);
    for (size_t i = 0; i < total; i++) buf[i] = SENTINEL;
    float *c = buf + offset;

    /* B packed from itself or, every other case, from its transpose */
    cr_abt_packed packed;
    float *bt = tu_falloc(k * n);
    for (size_t j = 0; j < n; j++)
        for (size_t h = 0; h < k; h++) bt[h * n + j] = b[j * k + h];
    const int trans = (int)(seed / 2 % 2);
    assert_int_equal(cr_abt_pack(n, k, trans ? bt : b, trans ? n : k, trans, cr_abt_shift_for(c, ldc), &packed),
                     CR_OK);
    free(bt);
    cr_abt_gemm(n_ex, kr, a, k, derive ? derived : NULL, &packed, c, ldc);

    double *ref = tu_dalloc(m * n), *got = tu_dalloc(m * n);
    for (size_t r = 0; r < m; r++)
        for (size_t j = 0; j < n; j++) {
            double sum = 0;
            for (size_t h = 0; h < k; h++)
                sum += (double)a[r * k + h] * (double)b[j * k + h];
            ref[r * n + j] = sum;
            got[r * n + j] = c[r * ldc + j];
            out[r * n + j] = c[r * ldc + j];
        }
    for (size_t i = 0; i < offset; i++) assert_true(buf[i] == SENTINEL);
    for (size_t r = 0; r < m; r++)
        for (size_t j = n; j < ldc; j++) assert_true(c[r * ldc + j] == SENTINEL);
    for (size_t i = offset + m * ldc; i < total; i++) assert_true(buf[i] == SENTINEL);
    double err = tu_max_rel_err(got, ref, m * n);
    tu_check_nontrivial(got, m * n, "abt kernel output");
    cr_abt_free(&packed);
    free(buf);
    free(ad);
    free(bd);
    free(a);
    free(b);
    free(derived);
    free(ref);
    free(got);
    return err;
}

/* Every case under every set; the AVX2 and AVX-512 values byte for byte equal. */
static double run_all(size_t n_ex, size_t kr, size_t n, size_t k, size_t offset, size_t ldc,
                      int derive, uint64_t seed) {
    const size_t m = n_ex * kr;
    float *out[CR_ISA_COUNT] = {0};
    double worst = 0;
    for (int i = 0; i < CR_ISA_COUNT; i++) {
        if (!cr_isa_supported((cr_isa)i)) continue;
        out[i] = tu_falloc(m * n);
        const double e = run_case((cr_isa)i, n_ex, kr, n, k, offset, ldc, derive, seed, out[i]);
        if (!(e <= 2e-6))
            fail_msg("%s: n=%zu k=%zu kr=%zu offset=%zu ldc=%zu derive=%d: error %.3g",
                     cr_isa_name((cr_isa)i), n, k, kr, offset, ldc, derive, e);
        worst = fmax(worst, e);
    }
    if (out[CR_ISA_AVX2] && out[CR_ISA_AVX512] &&
        memcmp(out[CR_ISA_AVX2], out[CR_ISA_AVX512], m * n * sizeof(float)) != 0)
        fail_msg("avx2 and avx512 differ: n=%zu k=%zu kr=%zu offset=%zu ldc=%zu derive=%d", n, k, kr,
                 offset, ldc, derive);
    for (int i = 0; i < CR_ISA_COUNT; i++) free(out[i]);
    return worst;
}

static void test_against_reference(void **state) {
    (void)state;
    const cr_isa saved = cr_isa_current();
    static const size_t ns[] = {1, 15, 16, 17, 31, 32, 33, 100};
    static const size_t ks[] = {1, 7, 64};
    static const size_t krs[] = {1, 2, 3, 5, 8, 9, 10, 13, 14, 15};
    double worst = 0;
    size_t cases = 0;
    uint64_t seed = 1;
    for (size_t in = 0; in < sizeof ns / sizeof *ns; in++)
        for (size_t ik = 0; ik < sizeof ks / sizeof *ks; ik++)
            for (size_t ir = 0; ir < sizeof krs / sizeof *krs; ir++)
                for (int derive = 0; derive <= (krs[ir] >= 2); derive++) {
                    const size_t n = ns[in], k = ks[ik], kr = krs[ir];
                    const size_t offset = (seed * 5) % 16;
                    /* a stride that keeps every row's offset, and one that does not */
                    const size_t ldc = seed % 2 ? (n + 15) / 16 * 16 : n + 3;
                    worst = fmax(worst, run_all(3, kr, n, k, offset, ldc, derive, seed++));
                    cases++;
                }
    /* the Jacobian's shape, large enough to stream, at every offset */
    for (size_t offset = 0; offset < 16; offset += 3) {
        worst = fmax(worst, run_all(40, 10, 784, 128, offset, 784, 1, 1000 + offset));
        cases++;
    }
    assert_int_equal(cr_isa_select(saved), CR_OK);
    print_message("abt kernel: %zu cases per kernel set, worst relative error %.2g\n", cases, worst);
}

static void test_pack_arguments(void **state) {
    (void)state;
    cr_abt_packed p;
    float b[4] = {1, 2, 3, 4};
    assert_int_equal(cr_abt_pack(0, 2, b, 2, 0, 0, &p), CR_ERR_SHAPE);
    assert_int_equal(cr_abt_pack(2, 0, b, 2, 0, 0, &p), CR_ERR_SHAPE);
    assert_int_equal(cr_abt_pack(2, 2, b, 2, 0, 16, &p), CR_ERR_SHAPE);
    assert_int_equal(cr_abt_pack(2, 2, b, 2, 0, 15, &p), CR_OK);
    assert_int_equal((int)p.panels, 1);
    assert_true(p.data[15] == 1 && p.data[16] == 3); /* B[0][0], B[1][0] at lanes 15, 16 */
    cr_abt_free(&p);
    cr_abt_free(&p); /* idempotent */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_reference),
        cmocka_unit_test(test_pack_arguments),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
