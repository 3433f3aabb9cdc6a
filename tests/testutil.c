#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chainrule_typed.h"
#include "chainrule_io.h"

void tu_fill_uniform(double *a, size_t n, double lo, double hi, uint64_t seed) {
    cr_rng rng;
    cr_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) a[i] = lo + (hi - lo) * cr_rng_uniform(&rng);
}

double tu_max_abs(const double *a, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

double tu_max_rel_err(const double *a, const double *b, size_t n) {
    double scale = fmax(tu_max_abs(b, n), 1e-300), m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(a[i] - b[i]);
        if (isnan(e)) return INFINITY;
        m = fmax(m, e);
    }
    return m / scale;
}

const char *tu_tmpdir(void) {
    static char dir[256];
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/cr_test_XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            abort();
        }
    }
    return dir;
}

void tu_cleanup(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tu_tmpdir());
    tu_system(cmd);
}

const char *tu_path(const char *name) {
    static char slots[8][512];
    static int next;
    char *p = slots[next++ & 7];
    snprintf(p, 512, "%s/%s", tu_tmpdir(), name);
    return p;
}

int tu_system(const char *cmd) {
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

int tu_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = len ? fwrite(data, 1, len, f) : 0;
    int rc = fclose(f);
    return (w == len && rc == 0) ? 0 : -1;
}

int tu_file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

void tu_check_close(const double *a, const double *ref, size_t n, double tol, double *worst,
                    const char *what) {
    double e = tu_max_rel_err(a, ref, n);
    if (e > *worst) *worst = e;
    if (!(e <= tol)) {
        print_error("%s: relative error %.3g exceeds %.3g\n", what, e, tol);
        fail();
    }
}

void tu_check_nontrivial(const double *g, size_t n, const char *what) {
    double m = tu_max_abs(g, n);
    if (!(m > 1e-6)) {
        print_error("%s: max|g| = %.3g, the check would be vacuous\n", what, m);
        fail();
    }
}

double *tu_dalloc(size_t n) {
    double *p = calloc(n ? n : 1, sizeof(double));
    assert_non_null(p);
    return p;
}

float *tu_falloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    assert_non_null(p);
    return p;
}

int tu_count_tmp_files(void) {
    DIR *d = opendir(tu_tmpdir());
    int n = 0;
    struct dirent *e;
    assert_non_null(d);
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    closedir(d);
    return n;
}

unsigned char *tu_slurp(const char *path, size_t *len) {
    unsigned char *buf = NULL;
    if (cr_read_file(path, 1u << 30, &buf, len)) {
        print_error("%s\n", cr_last_error());
        fail();
    }
    return buf;
}

void tu_forward_ld(const cr_net *net, const long double *x, long double *pre, size_t stride, long double *out) {
    const double *p = cr_net_params_const(net);
    const int L = cr_net_n_layers(net);
    long double h[64], t[64];
    size_t din = cr_net_width(net, 0);
    for (size_t i = 0; i < din; i++) h[i] = x[i];
    for (int l = 0; l < L; l++) {
        const size_t dout = cr_net_width(net, l + 1);
        const double *w = p + cr_net_weight_offset(net, l), *b = p + cr_net_bias_offset(net, l);
        for (size_t j = 0; j < dout; j++) {
            long double s = b[j];
            for (size_t i = 0; i < din; i++) s += h[i] * w[i * dout + j];
            if (l + 1 < L) {
                if (pre) pre[(size_t)l * stride + j] = s;
                switch (cr_net_activation(net, l)) {
                case CR_ACT_SIGMOID: s = 1 / (1 + expl(-s)); break;
                case CR_ACT_TANH: s = tanhl(s); break;
                default: s = s < 0 ? 0 : s;
                }
            }
            t[j] = s;
        }
        memcpy(h, t, dout * sizeof *h);
        din = dout;
    }
    memcpy(out, h, cr_net_width(net, L) * sizeof *out);
}
