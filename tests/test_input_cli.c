/*
 * test_input_cli — the jacobian / jvp / attribute / attack commands end to end
 * on a small 784-16-10 model and six 28x28 uint8 images:
 *   - jacobian writes [N, K, D] equal to the core's result, in every mode;
 *   - attribute and attack write PNG grids that decode (libpng, via cr_png_read)
 *     to the size the grid layout implies, and .npy outputs of the right shape;
 *   - adversarial examples stay in the eps-ball and the valid range;
 *   - a model with input standardisation is differentiated w.r.t. the raw input;
 *   - bad input exits 2 with one line on stderr naming the file.
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
#include "chainrule_data.h"
#include "testutil.h"

#define N 6
#define D 784
#define K 10

static char model[512], images[512], labels[512];
static cr_net *net;
static uint8_t pix[N * D];

static int run(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    int len = snprintf(cmd, sizeof cmd, "%s ", CR_CLI_PATH);
    vsnprintf(cmd + len, sizeof cmd - (size_t)len, fmt, ap);
    va_end(ap);
    strcat(cmd, " >");
    strcat(cmd, tu_path("stdout.txt"));
    strcat(cmd, " 2>");
    strcat(cmd, tu_path("stderr.txt"));
    return tu_system(cmd);
}

static int setup(void **state) {
    (void)state;
    size_t dims[] = {D, 16, K};
    cr_activation act[] = {CR_ACT_SIGMOID};
    if (cr_net_create(&net, CR_F64, 2, dims, act) != CR_OK) return -1;
    cr_net_init(net, CR_INIT_AUTO, 4);
    snprintf(model, sizeof model, "%s", tu_path("m.safetensors"));
    if (cr_model_save(model, net) != 0) return -1;
    cr_rng rng;
    cr_rng_seed(&rng, 5);
    for (size_t i = 0; i < N * D; i++) pix[i] = (uint8_t)cr_rng_below(&rng, 256);
    cr_array a = {CR_ARRAY_U8, 3, {N, 28, 28}, N * D, pix};
    snprintf(images, sizeof images, "%s", tu_path("x.npy"));
    if (cr_npy_write(images, &a) != 0) return -1;
    int64_t lab[N] = {0, 1, 2, 3, 4, 5};
    cr_array l = {CR_ARRAY_I64, 1, {N}, N, lab};
    snprintf(labels, sizeof labels, "%s", tu_path("y.npy"));
    return cr_npy_write(labels, &l);
}

static int teardown(void **state) {
    (void)state;
    cr_net_free(net);
    return 0;
}

static double *read_f64(const char *path, size_t expect_count, int ndim) {
    cr_array a;
    if (cr_npy_read(path, &a) != 0) fail_msg("%s", cr_last_error());
    assert_int_equal(a.dtype, CR_ARRAY_F64);
    assert_int_equal(a.ndim, ndim);
    assert_int_equal(a.count, expect_count);
    return a.data;
}

static void test_jacobian_cli(void **state) {
    (void)state;
    double x[N * D], *ref = malloc(N * K * D * sizeof(double));
    for (size_t i = 0; i < N * D; i++) x[i] = pix[i] / 255.0;
    assert_int_equal(cr_net_input_jacobian_f64(NULL, net, N, x, 1, CR_JAC_REV, ref), CR_OK);
    const char *modes[] = {"rev", "fwd", "closed", "auto"};
    for (int m = 0; m < 4; m++) {
        const char *out = tu_path("j.npy");
        assert_int_equal(run("jacobian --model %s --inputs %s --mode %s --out %s", model, images, modes[m], out), 0);
        double *j = read_f64(out, N * K * D, 4); /* [N, K, 28, 28]: rows in the inputs' shape */
        assert_true(tu_max_rel_err(j, ref, N * K * D) < 1e-12);
        free(j);
    }
    /* --threads sets the workers; the chunks, and so the bytes, do not depend on it */
    size_t len1, len2;
    assert_int_equal(run("jacobian --model %s --inputs %s --mode closed --threads 1 --out %s", model, images, tu_path("jt1.npy")), 0);
    assert_int_equal(run("jacobian --model %s --inputs %s --mode closed --threads 2 --out %s", model, images, tu_path("jt2.npy")), 0);
    unsigned char *b1 = tu_slurp(tu_path("jt1.npy"), &len1), *b2 = tu_slurp(tu_path("jt2.npy"), &len2);
    assert_true(len1 == len2 && memcmp(b1, b2, len1) == 0);
    free(b1);
    free(b2);
    assert_int_not_equal(run("jacobian --model %s --inputs %s --threads 0 --out %s", model, images, tu_path("jt0.npy")), 0);
    assert_false(tu_file_exists(tu_path("jt0.npy")));
    /* jvp with a shared direction = J v */
    double v[D];
    tu_fill_uniform(v, D, -1, 1, 6);
    cr_array va = {CR_ARRAY_F64, 1, {D}, D, v};
    assert_int_equal(cr_npy_write(tu_path("v.npy"), &va), 0);
    assert_int_equal(run("jvp --model %s --inputs %s --tangent %s --out %s", model, images, tu_path("v.npy"), tu_path("jv.npy")), 0);
    double *jv = read_f64(tu_path("jv.npy"), N * K, 2), jref[N * K];
    for (size_t i = 0; i < N; i++)
        for (size_t c = 0; c < K; c++) {
            double s = 0;
            for (size_t q = 0; q < D; q++) s += ref[(i * K + c) * D + q] * v[q];
            jref[i * K + c] = s;
        }
    assert_true(tu_max_rel_err(jv, jref, N * K) < 1e-12);
    free(jv);
    free(ref);
}

/* Size of a grid PNG: cells of 28*scale (labels are narrower here), pad 4,
   label row 9, and `lines` title lines of 11 pixels plus 4 above the grid. */
static void check_png(const char *path, size_t tiles, size_t cols, size_t scale, size_t lines) {
    uint8_t *px;
    size_t w, h;
    int ch;
    if (cr_png_read(path, &px, &w, &h, &ch) != 0) fail_msg("%s", cr_last_error());
    size_t cell = 28 * scale, rows = (tiles + cols - 1) / cols;
    size_t ew = cols * cell + (cols + 1) * 4, eh = rows * (9 + cell) + (rows + 1) * 4 + lines * 11 + 4;
    if (w != ew || h != eh) fail_msg("%s: %zux%zu, expected %zux%zu", path, w, h, ew, eh);
    assert_int_equal(ch, 3);
    free(px);
}

static void test_attribute_png(void **state) {
    (void)state;
    const char *methods[] = {"saliency", "input-x-gradient", "integrated-gradients", "smoothgrad"};
    for (int m = 0; m < 4; m++) {
        assert_int_equal(run("attribute --model %s --inputs %s --labels %s --method %s --steps 20 "
                             "--samples 5 --out %s --png %s --cols 2 --scale 6",
                             model, images, labels, methods[m], tu_path("a.npy"), tu_path("a.png")), 0);
        double *a = read_f64(tu_path("a.npy"), N * D, 3);
        free(a);
        check_png(tu_path("a.png"), 2 * N, 4, 6, 2);
    }
}

static void test_attack_png(void **state) {
    (void)state;
    const char *norms[] = {"linf", "l2"};
    const double eps[] = {0.05, 1.0};
    for (int k = 0; k < 2; k++)
        for (int pgd = 0; pgd <= 1; pgd++) {
            assert_int_equal(run("attack --model %s --inputs %s --labels %s --method %s --norm %s "
                                 "--eps %g --steps 5 --random-start --out %s --png %s --cols 2 --scale 6",
                                 model, images, labels, pgd ? "pgd" : "fgsm", norms[k], eps[k],
                                 tu_path("adv.npy"), tu_path("adv.png")), 0);
            double *adv = read_f64(tu_path("adv.npy"), N * D, 3);
            for (size_t i = 0; i < N; i++) {
                double linf = 0, l2 = 0;
                for (size_t q = 0; q < D; q++) {
                    double v = adv[i * D + q], dv = v - pix[i * D + q] / 255.0;
                    assert_true(v >= 0 && v <= 1);
                    linf = fmax(linf, fabs(dv));
                    l2 += dv * dv;
                }
                assert_true((k == 0 ? linf : sqrt(l2)) <= eps[k] * (1 + 1e-9));
            }
            free(adv);
            check_png(tu_path("adv.png"), 3 * N, 6, 6, 3);
        }
    /* robust accuracy for several eps, as JSON */
    assert_int_equal(run("attack --model %s --inputs %s --labels %s --method fgsm --eps 0,0.1,0.3 --json",
                         model, images, labels), 0);
    FILE *f = fopen(tu_path("stdout.txt"), "r");
    char buf[4096] = {0};
    assert_non_null(f);
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    assert_true(got > 0);
    assert_non_null(strstr(buf, "\"eps\": 0.3"));
}

static void test_standardized_model(void **state) {
    (void)state;
    /* a model with input.mean / input.std: the Jacobian is w.r.t. the raw input,
       i.e. J_std / std, which the folded first layer gives */
    cr_model m = {0};
    assert_int_equal(cr_net_convert(net, CR_F64, &m.net), CR_OK);
    size_t shape[1] = {D};
    assert_int_equal(cr_array_alloc(&m.input_mean, CR_ARRAY_F64, 1, shape), 0);
    assert_int_equal(cr_array_alloc(&m.input_std, CR_ARRAY_F64, 1, shape), 0);
    double *mu = m.input_mean.data, *sd = m.input_std.data;
    tu_fill_uniform(mu, D, 0.2, 0.6, 8);
    tu_fill_uniform(sd, D, 0.5, 2.0, 9);
    assert_int_equal(cr_model_save_full(tu_path("s.safetensors"), &m), 0);
    double x[N * D], xs[N * D], *ref = malloc(N * K * D * sizeof(double));
    for (size_t i = 0; i < N * D; i++) {
        x[i] = pix[i] / 255.0;
        xs[i] = (x[i] - mu[i % D]) / sd[i % D];
    }
    assert_int_equal(cr_net_input_jacobian_f64(NULL, net, N, xs, 0, CR_JAC_REV, ref), CR_OK);
    for (size_t i = 0; i < N * K * D; i++) ref[i] /= sd[i % D];
    assert_int_equal(run("jacobian --model %s --inputs %s --of logits --out %s", tu_path("s.safetensors"), images, tu_path("js.npy")), 0);
    double *j = read_f64(tu_path("js.npy"), N * K * D, 4); /* [N, K, 28, 28] */
    assert_true(tu_max_rel_err(j, ref, N * K * D) < 1e-12);
    free(j);
    free(ref);
    cr_model_free(&m);
}

static void test_errors(void **state) {
    (void)state;
    const char *missing = tu_path("nope.npy");
    assert_int_equal(run("jacobian --model %s --inputs %s --out %s", model, missing, tu_path("j2.npy")), 2);
    FILE *f = fopen(tu_path("stderr.txt"), "r");
    char buf[2048] = {0};
    assert_non_null(f);
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    assert_true(got > 0);
    assert_non_null(strstr(buf, "nope.npy"));
    assert_ptr_equal(strchr(buf, '\n'), buf + strlen(buf) - 1); /* one line */
    assert_false(tu_file_exists(tu_path("j2.npy")));
    assert_int_equal(run("attack --model %s --inputs %s --method fgsm --eps 0.1 --clip 1,0", model, images), 2);
    assert_int_equal(run("attribute --model %s --inputs %s --method sideways --out %s", model, images, tu_path("a2.npy")), 2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jacobian_cli),  cmocka_unit_test(test_attribute_png),
        cmocka_unit_test(test_attack_png),    cmocka_unit_test(test_standardized_model),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
