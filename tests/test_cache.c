/*
 * test_cache — blocking sized from the cache hierarchy at run time (core/cache.h).
 *
 *   - the L2 size is found (sysconf or sysfs) and is a plausible size; the test hook
 *     forces it and cr_cache_scaled follows it (guard: the forced sizes give other chunks
 *     than the machine's, so the comparison below is not vacuous);
 *   - the closed-form and reverse-mode Jacobians (float32 with the packed kernel at the
 *     seed network's shape, and float64) give the same bits under a forced 128 KiB L2
 *     (small chunks), a forced 8 MiB L2 (large chunks) and the machine's own, with 1
 *     and 2 workers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chainrule.h"
#include "core/cache.h"
#include "testutil.h"

static void test_l2_found_and_forced(void **state) {
    (void)state;
    cr_cache_l2_force(0);
    size_t l2 = cr_cache_l2_bytes();
    printf("L2 per core: %zu KiB\n", l2 >> 10);
    assert_true(l2 >= ((size_t)64 << 10) && l2 <= ((size_t)1 << 30));
    cr_cache_l2_force((size_t)512 << 10); /* a Zen 3 core */
    assert_int_equal(cr_cache_l2_bytes(), (size_t)512 << 10);
    assert_int_equal(cr_cache_scaled(128, 16, 2048), 64);
    cr_cache_l2_force((size_t)1 << 20); /* the Zen 4 core the constants were tuned on */
    assert_int_equal(cr_cache_scaled(128, 16, 2048), 128);
    cr_cache_l2_force((size_t)128 << 10);
    assert_int_equal(cr_cache_scaled(128, 16, 2048), 16);
    cr_cache_l2_force((size_t)8 << 20);
    assert_int_equal(cr_cache_scaled(128, 16, 2048), 1024);
    cr_cache_l2_force((size_t)1 << 30);
    assert_int_equal(cr_cache_scaled(128, 16, 2048), 2048); /* clamped */
    cr_cache_l2_force(0);
    assert_int_equal(cr_cache_l2_bytes(), l2); /* asked again: the same answer */
}

enum { N = 300 }; /* examples: not a multiple of any chunk */

static void jacobians(const cr_net *net, int f32, const void *x, size_t d, size_t k,
                      unsigned char **out) {
    const size_t bytes = N * k * d * (f32 ? sizeof(float) : sizeof(double));
    static const cr_jac_mode modes[2] = {CR_JAC_CLOSED, CR_JAC_REV};
    for (int m = 0; m < 2; m++) {
        out[m] = malloc(bytes);
        assert_non_null(out[m]);
        cr_status st = f32 ? cr_net_input_jacobian_f32(net, N, x, 1, modes[m], (float *)out[m])
                           : cr_net_input_jacobian_f64(net, N, x, 1, modes[m], (double *)out[m]);
        assert_int_equal(st, CR_OK);
    }
}

static void check_dtype(cr_dtype dt, size_t d, size_t h) {
    const size_t k = 10, dims[3] = {d, h, k};
    cr_activation acts[CR_MAX_LAYERS];
    for (int l = 0; l < CR_MAX_LAYERS; l++) acts[l] = CR_ACT_SIGMOID;
    cr_net *net64, *net;
    assert_int_equal(cr_net_create(&net64, CR_F64, 2, dims, acts), CR_OK);
    cr_net_init(net64, CR_INIT_XAVIER, 5);
    double *x64 = tu_dalloc(N * d);
    tu_fill_uniform(x64, N * d, 0, 1, 6);
    for (size_t i = 0; i < N * d; i += 3) x64[i] = 0; /* zeros, as an image's background */
    const void *x = x64;
    float *x32 = NULL;
    if (dt == CR_F32) {
        assert_int_equal(cr_net_convert(net64, CR_F32, &net), CR_OK);
        x32 = tu_falloc(N * d);
        for (size_t i = 0; i < N * d; i++) x32[i] = (float)x64[i];
        x = x32;
    } else {
        net = net64;
    }
    const size_t bytes = N * k * d * (dt == CR_F32 ? sizeof(float) : sizeof(double));
    static const size_t l2s[3] = {0, (size_t)128 << 10, (size_t)8 << 20};
    const int before = cr_get_threads();
    unsigned char *ref[2] = {NULL, NULL};
    for (int workers = 1; workers <= 2; workers++)
        for (int c = 0; c < 3; c++) {
            cr_set_threads(workers);
            cr_cache_l2_force(l2s[c]);
            unsigned char *got[2];
            jacobians(net, dt == CR_F32, x, d, k, got);
            for (int m = 0; m < 2; m++) {
                if (!ref[m]) {
                    ref[m] = got[m];
                    double mx = 0; /* guard: a zero Jacobian would compare equal anyway */
                    for (size_t i = 0; i < N * k * d; i++) {
                        double v = dt == CR_F32 ? (double)((const float *)got[m])[i]
                                                : ((const double *)got[m])[i];
                        mx = v > mx ? v : -v > mx ? -v : mx;
                    }
                    assert_true(mx > 1e-4);
                    continue;
                }
                assert_memory_equal(ref[m], got[m], bytes);
                free(got[m]);
            }
        }
    cr_cache_l2_force(0);
    cr_set_threads(before);
    free(ref[0]);
    free(ref[1]);
    free(x64);
    free(x32);
    if (net != net64) cr_net_free(net);
    cr_net_free(net64);
}

static void test_jacobians_do_not_depend_on_the_cache(void **state) {
    (void)state;
    check_dtype(CR_F32, 784, 128); /* the packed kernel's shape */
    check_dtype(CR_F64, 60, 24);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_l2_found_and_forced),
        cmocka_unit_test(test_jacobians_do_not_depend_on_the_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
