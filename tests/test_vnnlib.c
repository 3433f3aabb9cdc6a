/*
 * test_vnnlib — specifications: cr_spec_linf's box rounded outward/inward (oracle: x − eps in long double, exact
 * for these operands), the VNN-LIB reader on ACAS Xu properties 1–4 (VNN-COMP 2021's files,
 * stanleybak/vnncomp2021 benchmarks/acasxu/prop_{1..4}.vnnlib, with their declarations) and an ERAN-style MNIST
 * spec written here as generate_specs.py writes them (784 inputs, %.8f, 9 one-row clauses), decimals rounded
 * outward/inward (oracle: the double's exact decimal expansion compared with the text), disjunctions over boxes,
 * a malformed corpus each refused with one line, and the VNN-COMP result file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chainrule_certify.h"
#include "chainrule_io.h"
#include "testutil.h"

#define ASSERT_ERR(msg, sub)                                                                  \
    do {                                                                                      \
        if (!strstr((msg), (sub))) fail_msg("error '%s' lacks '%s'", (msg), (sub));           \
    } while (0)

/* ------------------------------------------------------------ oracles */

/* Sign of (v − the decimal s) for s = "[-]digits.digits" (no exponent), by v's exact expansion (%.*f prints it). */
static int cmp_double_decimal(double v, const char *s) {
    int neg = s[0] == '-';
    if (neg) s++;
    if ((v < 0) != neg && v != 0) return v < 0 ? -1 : 1;
    char buf[1200];
    snprintf(buf, sizeof buf, "%.1100f", fabs(v)); /* exact: a double has at most 1074 fraction digits */
    const char *da = buf, *db = s;
    const char *pa = strchr(da, '.'), *pb = strchr(db, '.');
    size_t ia = pa ? (size_t)(pa - da) : strlen(da), ib = pb ? (size_t)(pb - db) : strlen(db);
    while (ia > 1 && *da == '0') da++, ia--;
    while (ib > 1 && *db == '0') db++, ib--;
    int c = 0;
    if (ia != ib) c = ia > ib ? 1 : -1;
    else {
        c = strncmp(da, db, ia);
        if (!c) {
            const char *fa = pa ? pa + 1 : "", *fb = pb ? pb + 1 : "";
            while (!c && (*fa || *fb)) {
                char ca = *fa ? *fa++ : '0', cb = *fb ? *fb++ : '0';
                c = (ca > cb) - (ca < cb);
            }
        }
        c = (c > 0) - (c < 0);
    }
    return neg ? -c : c;
}

/* lo/hi outward and lo_in/hi_in inward around the decimal s, each the double next to it or s itself. */
static void check_rounded(const char *s, double out_lo, double out_hi, double in_lo, double in_hi, int is_lo) {
    double rn = strtod(s, NULL);
    int c = cmp_double_decimal(rn, s);
    double below = c > 0 ? nextafter(rn, -INFINITY) : rn, above = c < 0 ? nextafter(rn, INFINITY) : rn;
    if (is_lo) {
        if (out_lo != below || in_lo != above)
            fail_msg("%s as a lower bound: outward %.17g inward %.17g, expected %.17g %.17g", s, out_lo, in_lo, below,
                     above);
    } else if (out_hi != above || in_hi != below) {
        fail_msg("%s as an upper bound: outward %.17g inward %.17g, expected %.17g %.17g", s, out_hi, in_hi, above,
                 below);
    }
}

static void test_oracle_itself(void **state) {
    (void)state;
    assert_int_equal(cmp_double_decimal(0.1, "0.1"), 1); /* 0.1000000000000000055... */
    assert_int_equal(cmp_double_decimal(0.5, "0.5"), 0);
    assert_int_equal(cmp_double_decimal(0.3, "0.3"), -1); /* 0.2999999999999999888... */
    assert_int_equal(cmp_double_decimal(-0.1, "-0.1"), -1);
    assert_int_equal(cmp_double_decimal(3.991125645861615, "3.991125645861615") != 0, 1);
}

/* ------------------------------------------------------------ cr_spec_linf */

/* a + b = *s + *e exactly (TwoSum, round to nearest). */
static void two_sum_exact(double a, double b, double *s, double *e) {
    *s = a + b;
    double bb = *s - a;
    *e = (a - (*s - bb)) + (b - bb);
}

/* The sign of v − (s + e) for a double v and the exact real s + e (|e| <= ulp(s)/2). */
static int cmp_exact(double v, double s, double e) {
    if (v != s) return v < s ? -1 : 1;
    return e > 0 ? -1 : e < 0 ? 1 : 0;
}

static void test_spec_linf(void **state) {
    (void)state;
    const double x[4] = {0.5, 0.3, 0.0, 0.995};
    const double eps = 0.1;
    cr_spec s;
    assert_int_equal(cr_spec_linf(4, 3, x, eps, 0.0, 1.0, 1, &s), CR_OK);
    assert_int_equal(s.n_parts, 1);
    cr_spec_part *p = &s.parts[0];
    assert_int_equal(p->n_rows, 2);
    assert_int_equal(p->n_clauses, 2);
    assert_int_equal(p->clause[0], 0);
    assert_int_equal(p->clause[1], 1);
    assert_int_equal(p->clause[2], 2);
    /* rows: o_1 − o_0 <= 0, o_1 − o_2 <= 0 */
    const double c_ref[6] = {-1, 1, 0, 0, 1, -1};
    for (int i = 0; i < 6; i++) assert_true(p->c[i] == c_ref[i]);
    assert_true(p->rhs[0] == 0 && p->rhs[1] == 0 && p->rhs_in[0] == 0 && p->rhs_in[1] == 0);
    int inexact = 0;
    for (int i = 0; i < 4; i++) {
        /* the real x ∓ eps as s + e exactly (TwoSum; not long double, which valgrind runs as double) */
        double ls, le, hs, he;
        two_sum_exact(x[i], -eps, &ls, &le);
        two_sum_exact(x[i], eps, &hs, &he);
        if (ls < 0 || (ls == 0 && le < 0)) ls = 0, le = 0;
        if (hs > 1 || (hs == 1 && he > 0)) hs = 1, he = 0;
        assert_true(cmp_exact(p->lo[i], ls, le) <= 0 && cmp_exact(p->lo_in[i], ls, le) >= 0 &&
                    cmp_exact(p->hi_in[i], hs, he) <= 0 && cmp_exact(p->hi[i], hs, he) >= 0);
        assert_true(nextafter(p->lo[i], INFINITY) >= p->lo_in[i] && nextafter(p->hi_in[i], INFINITY) >= p->hi[i]);
        if (cmp_exact(p->lo[i], ls, le) != 0) inexact++, assert_true(p->lo[i] < p->lo_in[i]);
        if (cmp_exact(p->hi[i], hs, he) != 0) inexact++, assert_true(p->hi_in[i] < p->hi[i]);
    }
    assert_true(inexact >= 4); /* the rounding is exercised, both ends */
    assert_true(p->lo[2] == 0 && p->hi[3] == 1); /* clipped exactly */
    cr_spec_free(&s);
    assert_null(s.parts);
    cr_spec_free(&s); /* twice: fine */
    /* refused */
    assert_int_equal(cr_spec_linf(4, 3, x, eps, 0, 1, 3, &s), CR_ERR_ARG);
    assert_int_equal(cr_spec_linf(4, 3, x, eps, 0, 1, -1, &s), CR_ERR_ARG);
    assert_int_equal(cr_spec_linf(4, 1, x, eps, 0, 1, 0, &s), CR_ERR_ARG);
    assert_int_equal(cr_spec_linf(4, 3, x, -1, 0, 1, 0, &s), CR_ERR_ARG);
    assert_int_equal(cr_spec_linf(4, 3, x, NAN, 0, 1, 0, &s), CR_ERR_NONFINITE);
    assert_int_equal(cr_spec_linf(4, 3, x, 0.01, 0.6, 1, 0, &s), CR_ERR_ARG); /* x[1] far below lo: empty */
    double bad[1] = {NAN};
    assert_int_equal(cr_spec_linf(1, 3, bad, 0.1, 0, 1, 0, &s), CR_ERR_NONFINITE);
    assert_null(s.parts);
}

/* ------------------------------------------------------------ ACAS Xu */

static const char acas_decl[] =
    "(declare-const X_0 Real)\n(declare-const X_1 Real)\n(declare-const X_2 Real)\n(declare-const X_3 Real)\n"
    "(declare-const X_4 Real)\n\n(declare-const Y_0 Real)\n(declare-const Y_1 Real)\n(declare-const Y_2 Real)\n"
    "(declare-const Y_3 Real)\n(declare-const Y_4 Real)\n";

static const char acas_box12[] = "; Unscaled Input 0: (55947.691, 60760)\n"
                                 "(assert (<= X_0 0.6798577687061284))\n(assert (>= X_0 0.6))\n\n"
                                 "; Unscaled Input 1: (-3.141592653589793, 3.141592653589793)\n"
                                 "(assert (<= X_1 0.4999999999999671))\n(assert (>= X_1 -0.4999999999999671))\n\n"
                                 "; Unscaled Input 2: (-3.141592653589793, 3.141592653589793)\n"
                                 "(assert (<= X_2 0.4999999999999671))\n(assert (>= X_2 -0.4999999999999671))\n\n"
                                 "; Unscaled Input 3: (1145, 1200)\n"
                                 "(assert (<= X_3 0.5))\n(assert (>= X_3 0.45))\n\n"
                                 "; Unscaled Input 4: (0, 60)\n"
                                 "(assert (<= X_4 -0.45))\n(assert (>= X_4 -0.5))\n\n";
static const char *const acas_box12_vals[5][2] = {{"0.6", "0.6798577687061284"},
                                                   {"-0.4999999999999671", "0.4999999999999671"},
                                                   {"-0.4999999999999671", "0.4999999999999671"},
                                                   {"0.45", "0.5"},
                                                   {"-0.5", "-0.45"}};
static const char acas_box34_p3[] = "(assert (<= X_0 -0.29855281193475053))\n(assert (>= X_0 -0.30353115613746867))\n"
                                    "(assert (<= X_1 0.009549296585513092))\n(assert (>= X_1 -0.009549296585513092))\n"
                                    "(assert (<= X_2 0.4999999999999671))\n(assert (>= X_2 0.4933803235848431))\n"
                                    "(assert (<= X_3 0.5))\n(assert (>= X_3 0.3))\n"
                                    "(assert (<= X_4 0.5))\n(assert (>= X_4 0.3))\n";
static const char *const acas_box3_vals[5][2] = {{"-0.30353115613746867", "-0.29855281193475053"},
                                                  {"-0.009549296585513092", "0.009549296585513092"},
                                                  {"0.4933803235848431", "0.4999999999999671"},
                                                  {"0.3", "0.5"},
                                                  {"0.3", "0.5"}};
static const char acas_box34_p4[] = "(assert (<= X_0 -0.29855281193475053))\n(assert (>= X_0 -0.30353115613746867))\n"
                                    "(assert (<= X_1 0.009549296585513092))\n(assert (>= X_1 -0.009549296585513092))\n"
                                    "(assert (<= X_2 0.0))\n(assert (>= X_2 0.0))\n"
                                    "(assert (<= X_3 0.5))\n(assert (>= X_3 0.3181818181818182))\n"
                                    "(assert (<= X_4 0.16666666666666666))\n(assert (>= X_4 0.08333333333333333))\n";
static const char *const acas_box4_vals[5][2] = {{"-0.30353115613746867", "-0.29855281193475053"},
                                                  {"-0.009549296585513092", "0.009549296585513092"},
                                                  {"0.0", "0.0"},
                                                  {"0.3181818181818182", "0.5"},
                                                  {"0.08333333333333333", "0.16666666666666666"}};

static char *cat3(const char *a, const char *b, const char *c) {
    size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = malloc(n);
    assert_non_null(s);
    snprintf(s, n, "%s%s%s", a, b, c);
    return s;
}

static void parse_ok(const char *text, size_t d, size_t k, cr_spec *s) {
    if (cr_vnnlib_parse("t.vnnlib", text, strlen(text), d, k, s)) fail_msg("refused: %s", cr_last_error());
}

static void check_box(const cr_spec_part *p, const char *const vals[][2], size_t d) {
    int inexact = 0;
    for (size_t i = 0; i < d; i++) {
        check_rounded(vals[i][0], p->lo[i], p->hi[i], p->lo_in[i], p->hi_in[i], 1);
        check_rounded(vals[i][1], p->lo[i], p->hi[i], p->lo_in[i], p->hi_in[i], 0);
        inexact += (p->lo[i] != p->lo_in[i]) + (p->hi[i] != p->hi_in[i]);
    }
    assert_true(inexact > 0);
}

static void test_acas(void **state) {
    (void)state;
    cr_spec s;
    /* property 1: unsafe if COC >= 1500 */
    char *t = cat3("; ACAS Xu property 1\n\n", acas_decl, acas_box12);
    char *t1 = cat3(t, "; Unsafe if COC >= 1500\n(assert (>= Y_0 3.991125645861615))\n", "");
    parse_ok(t1, 5, 5, &s);
    assert_int_equal(s.n_parts, 1);
    cr_spec_part *p = &s.parts[0];
    assert_int_equal(p->d, 5);
    assert_int_equal(p->k, 5);
    assert_int_equal(p->n_clauses, 1);
    assert_int_equal(p->n_rows, 1);
    assert_true(p->c[0] == -1 && p->c[1] == 0 && p->c[2] == 0 && p->c[3] == 0 && p->c[4] == 0);
    assert_true(fabs(p->rhs[0] + 3.99112565) < 1e-8);
    /* −Y_0 <= −3.99…: the outward rhs is −(the decimal rounded down), the inward −(rounded up) */
    check_rounded("3.991125645861615", -p->rhs[0], 0, -p->rhs_in[0], 0, 1);
    assert_true(p->rhs[0] > p->rhs_in[0]); /* the decimal is inexact: the two differ */
    check_box(p, acas_box12_vals, 5);
    cr_spec_free(&s);
    free(t1);
    /* property 2: unsafe if COC is maximal: four rows Y_j − Y_0 <= 0, one clause */
    char *t2 = cat3(t, "(assert (<= Y_1 Y_0))\n(assert (<= Y_2 Y_0))\n(assert (<= Y_3 Y_0))\n(assert (<= Y_4 Y_0))\n",
                    "");
    parse_ok(t2, 5, 5, &s);
    assert_int_equal(s.n_parts, 1);
    p = &s.parts[0];
    assert_int_equal(p->n_clauses, 1);
    assert_int_equal(p->n_rows, 4);
    for (size_t r = 0; r < 4; r++) {
        for (size_t j = 0; j < 5; j++)
            assert_true(p->c[r * 5 + j] == (j == 0 ? -1.0 : j == r + 1 ? 1.0 : 0.0));
        assert_true(p->rhs[r] == 0 && p->rhs_in[r] == 0);
    }
    check_box(p, acas_box12_vals, 5);
    cr_spec_free(&s);
    free(t2);
    free(t);
    /* properties 3 and 4: unsafe if COC is minimal: Y_0 − Y_j <= 0 */
    for (int prop = 3; prop <= 4; prop++) {
        t = cat3(acas_decl, prop == 3 ? acas_box34_p3 : acas_box34_p4,
                 "; Unsafe if COC is minimal\n(assert (<= Y_0 Y_1))\n(assert (<= Y_0 Y_2))\n(assert (<= Y_0 Y_3))\n"
                 "(assert (<= Y_0 Y_4))\n");
        parse_ok(t, 5, 5, &s);
        assert_int_equal(s.n_parts, 1);
        p = &s.parts[0];
        assert_int_equal(p->n_clauses, 1);
        assert_int_equal(p->n_rows, 4);
        for (size_t r = 0; r < 4; r++)
            for (size_t j = 0; j < 5; j++)
                assert_true(p->c[r * 5 + j] == (j == 0 ? 1.0 : j == r + 1 ? -1.0 : 0.0));
        check_box(p, prop == 3 ? acas_box3_vals : acas_box4_vals, 5);
        if (prop == 4) assert_true(p->lo[2] == 0 && p->hi[2] == 0 && p->lo_in[2] == 0 && p->hi_in[2] == 0);
        cr_spec_free(&s);
        free(t);
    }
}

/* ------------------------------------------------------------ ERAN-style MNIST */

/* What generate_specs.py's write_vnn_spec writes: the box clipped to [0, 1] with %.8f, then
   (assert (or (and (>= Y_j Y_label)) ...)) over j != label. Returns malloc'd text; los/his the printed values. */
static char *eran_spec(const double *x, double eps, int label, char los[][16], char his[][16]) {
    size_t cap = 200000, n = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    n += (size_t)snprintf(s + n, cap - n, "; Spec for sample id 0 and epsilon %.5f\n\n; Definition of input variables\n",
                          eps);
    for (int i = 0; i < 784; i++) n += (size_t)snprintf(s + n, cap - n, "(declare-const X_%d Real)\n", i);
    n += (size_t)snprintf(s + n, cap - n, "\n; Definition of output variables\n");
    for (int j = 0; j < 10; j++) n += (size_t)snprintf(s + n, cap - n, "(declare-const Y_%d Real)\n", j);
    n += (size_t)snprintf(s + n, cap - n, "\n; Definition of input constraints\n");
    for (int i = 0; i < 784; i++) {
        snprintf(los[i], 16, "%.8f", fmax(x[i] - eps, 0.0));
        snprintf(his[i], 16, "%.8f", fmin(x[i] + eps, 1.0));
        n += (size_t)snprintf(s + n, cap - n, "(assert (<= X_%d %s))\n(assert (>= X_%d %s))\n", i, his[i], i, los[i]);
    }
    n += (size_t)snprintf(s + n, cap - n, "\n; Definition of output constraints\n(assert (or\n");
    for (int j = 0; j < 10; j++)
        if (j != label) n += (size_t)snprintf(s + n, cap - n, "\t(and (>= Y_%d Y_%d))\n", j, label);
    n += (size_t)snprintf(s + n, cap - n, "))\n");
    assert_true(n < cap);
    return s;
}

static void test_eran(void **state) {
    (void)state;
    double x[784];
    for (int i = 0; i < 784; i++) x[i] = (double)((i * 37 + 11) % 256) / 255.0;
    static char los[784][16], his[784][16];
    const int label = 7;
    char *t = eran_spec(x, 0.012, label, los, his);
    cr_spec s;
    parse_ok(t, 784, 10, &s);
    assert_int_equal(s.n_parts, 1);
    cr_spec_part *p = &s.parts[0];
    assert_int_equal(p->n_clauses, 9);
    assert_int_equal(p->n_rows, 9);
    size_t r = 0;
    for (int j = 0; j < 10; j++) {
        if (j == label) continue;
        assert_int_equal(p->clause[r], r);
        for (int m = 0; m < 10; m++) assert_true(p->c[r * 10 + m] == (m == label ? 1.0 : m == j ? -1.0 : 0.0));
        assert_true(p->rhs[r] == 0);
        r++;
    }
    assert_int_equal(p->clause[9], 9);
    int inexact = 0, exact = 0;
    for (int i = 0; i < 784; i++) {
        check_rounded(los[i], p->lo[i], p->hi[i], p->lo_in[i], p->hi_in[i], 1);
        check_rounded(his[i], p->lo[i], p->hi[i], p->lo_in[i], p->hi_in[i], 0);
        inexact += p->lo[i] != p->lo_in[i];
        exact += p->lo[i] == 0;
    }
    assert_true(inexact > 100 && exact > 0); /* both kinds occur */
    cr_spec_free(&s);
    /* the same file under a model of another size: refused */
    assert_int_not_equal(cr_vnnlib_parse("mnist.vnnlib", t, strlen(t), 785, 10, &s), CR_OK);
    ASSERT_ERR(cr_last_error(), "declares 784 inputs");
    assert_int_not_equal(cr_vnnlib_parse("mnist.vnnlib", t, strlen(t), 784, 9, &s), CR_OK);
    ASSERT_ERR(cr_last_error(), "Y_9 is out of range: the model has 9 outputs");
    assert_int_not_equal(cr_vnnlib_parse("mnist.vnnlib", t, strlen(t), 700, 10, &s), CR_OK);
    ASSERT_ERR(cr_last_error(), "X_700 is out of range: the model has 700 inputs");
    /* and from a file */
    const char *path = tu_path("mnist.vnnlib");
    assert_int_equal(tu_write_file(path, t, strlen(t)), 0);
    assert_int_equal(cr_vnnlib_load(path, 784, 10, &s), 0);
    assert_int_equal(s.parts[0].n_clauses, 9);
    cr_spec_free(&s);
    free(t);
}

/* ------------------------------------------------------------ disjunctions over boxes, extras */

static void test_disjunctions(void **state) {
    (void)state;
    /* X terms inside clauses give several boxes; clauses with equal boxes share a part; strict < read as <= */
    const char *t = "(declare-const X_0 Real)(declare-const X_1 Real)\n(declare-const Y_0 Real)\n"
                    "(declare-const Y_1 Real)\n(assert (>= X_1 0)) (assert (<= X_1 1))\n"
                    "(assert (or (and (>= X_0 -1) (<= X_0 0) (<= Y_0 Y_1))\n"
                    "            (and (>= X_0 0) (<= X_0 1) (< Y_1 -2.5))\n"
                    "            (and (<= X_0 0) (>= X_0 -1) (> Y_0 7))))\n"
                    "(assert (and (<= Y_0 100) (>= Y_1 -100)))\n";
    cr_spec s;
    parse_ok(t, 2, 2, &s);
    assert_int_equal(s.n_parts, 2);
    cr_spec_part *a = &s.parts[0], *b = &s.parts[1];
    assert_true(a->lo[0] == -1 && a->hi[0] == 0 && b->lo[0] == 0 && b->hi[0] == 1);
    assert_true(a->lo[1] == 0 && a->hi[1] == 1 && b->lo[1] == 0 && b->hi[1] == 1);
    assert_int_equal(a->n_clauses, 2);
    assert_int_equal(a->n_rows, 6); /* 1 + 2 common rows, twice */
    assert_int_equal(b->n_clauses, 1);
    assert_int_equal(b->n_rows, 3);
    /* part a, clause 0: Y_0 − Y_1 <= 0, Y_0 <= 100, −Y_1 <= 100; clause 1: −Y_0 <= −7, ... */
    assert_int_equal(a->clause[1], 3);
    assert_true(a->c[0] == 1 && a->c[1] == -1 && a->rhs[0] == 0);
    assert_true(a->c[2] == 1 && a->c[3] == 0 && a->rhs[1] == 100);
    assert_true(a->c[4] == 0 && a->c[5] == -1 && a->rhs[2] == 100);
    assert_true(a->c[6] == -1 && a->c[7] == 0 && a->rhs[3] == -7);
    assert_true(b->c[0] == 0 && b->c[1] == 1 && b->rhs[0] == -2.5);
    cr_spec_free(&s);
    /* −0 and 0 bound the same box: one part */
    const char *z = "(declare-const X_0 Real)(declare-const Y_0 Real)(assert (<= X_0 1))\n"
                    "(assert (or (and (>= X_0 -0) (<= Y_0 1)) (and (>= X_0 0.0) (>= Y_0 2))))";
    parse_ok(z, 1, 1, &s);
    assert_int_equal(s.n_parts, 1);
    assert_int_equal(s.parts[0].n_clauses, 2);
    assert_false(signbit(s.parts[0].lo[0]));
    cr_spec_free(&s);
    /* a point box at an inexact decimal: the outward box holds it, the inward one is empty (no witness) */
    const char *pt = "(declare-const X_0 Real)(declare-const Y_0 Real)(assert (<= X_0 0.1))(assert (>= X_0 0.1))"
                     "(assert (<= Y_0 0))";
    parse_ok(pt, 1, 1, &s);
    assert_true(s.parts[0].lo[0] < 0.1 && s.parts[0].hi[0] == 0.1 && s.parts[0].lo_in[0] > s.parts[0].hi_in[0]);
    cr_spec_free(&s);
}

/* ------------------------------------------------------------ malformed corpus */

#define DECL1 "(declare-const X_0 Real)(declare-const Y_0 Real)\n"
#define BOX1 "(assert (>= X_0 0))(assert (<= X_0 1))\n"

static void test_malformed(void **state) {
    (void)state;
    static const struct {
        const char *text;
        const char *msg;
    } cases[] = {
        {DECL1 BOX1 "(assert (<= Y_0 1)", "t.vnnlib:3: unbalanced parentheses: the '(' of line 3 is not closed"},
        {DECL1 BOX1 "(assert (<= Y_0 1)))", "t.vnnlib:3: unbalanced ')'"},
        {DECL1 BOX1 "(assert (<= Y_1 1))", "t.vnnlib:3: undeclared variable Y_1"},
        {"(declare-const Y_0 Real)(assert (<= X_0 1))(declare-const X_0 Real)", "t.vnnlib:1: undeclared variable X_0"},
        {"(declare-const X_3 Real)(declare-const Y_0 Real)\n" BOX1, "t.vnnlib:1: X_3 is out of range: the model has 1 inputs"},
        {DECL1 "(declare-const X_0 Real)\n", "t.vnnlib:2: X_0 declared twice"},
        {DECL1 "(assert (>= X_0 0))(assert (<= Y_0 1))\n", "t.vnnlib: input X_0 has no upper bound"},
        {DECL1 "(assert (<= X_0 0))(assert (<= Y_0 1))\n", "t.vnnlib: input X_0 has no lower bound"},
        {DECL1 "(assert (>= X_0 1))(assert (<= X_0 0.5))(assert (<= Y_0 1))\n",
         "t.vnnlib: input X_0 has an empty range [1, 0.5]"},
        {DECL1 BOX1 "(assert (<= Y_0 nan))", "t.vnnlib:3: 'nan' is neither a declared variable nor a decimal number"},
        {DECL1 BOX1 "(assert (<= Y_0 inf))", "'inf' is neither"},
        {DECL1 BOX1 "(assert (<= Y_0 0x1p3))", "'0x1p3' is neither"},
        {DECL1 BOX1 "(assert (<= Y_0 1e999))", "t.vnnlib:3: number 1e999 out of range"},
        {DECL1 BOX1 "(assert (<= Y_0 -1e400))", "number -1e400 out of range"},
        {DECL1 BOX1 "(assert (= Y_0 1))", "t.vnnlib:3: unsupported operator '='"},
        {DECL1 BOX1 "(assert (<= X_0 Y_0))", "an input may only be compared with a number"},
        {DECL1 BOX1 "(assert (<= 1 2))", "a comparison of two numbers"},
        {DECL1 BOX1 "(assert (<= Y_0 (+ Y_0 1)))", "linear combinations are not supported"},
        {DECL1 BOX1 "(assert (<= Y_0))", "a comparison takes two operands"},
        {DECL1 BOX1 "(assert (or))", "an empty (or)"},
        {DECL1 BOX1 "(assert (or (and)))", "an empty (and)"},
        {DECL1 BOX1 "(check-sat)", "t.vnnlib:3: unsupported statement 'check-sat'"},
        {DECL1 BOX1, "t.vnnlib: no output constraint"},
        {DECL1 BOX1 "(assert (<= Y_0 1))\x01", "t.vnnlib:3: unexpected byte 0x01"},
        {DECL1 BOX1 "(assert (<= Y_0 1))(declare-const Z_0 Real)", "unsupported variable name 'Z_0'"},
        {"(declare-const X_0_0 Real)(declare-const Y_0 Real)" BOX1, "unsupported variable name 'X_0_0'"},
        {DECL1 BOX1 "(assert (((((((((Y_0)))))))))", "t.vnnlib:3: expressions nested deeper than 8"},
        {"(declare-const Y_0 Real)(assert (<= Y_0 1))", "t.vnnlib: declares 0 inputs X_i, the model has 1"},
        {"(declare-const X_0 Real)(assert (>= X_0 0))(assert (<= X_0 1))",
         "t.vnnlib: declares 0 outputs Y_j, the model has 1"},
        {"                                        ", "t.vnnlib: no statements"},
        {"; only a comment, long enough to be read at all by the guard\n", "t.vnnlib: no statements"},
        {"(declare-const X_0 Real)\n(declare-const Y_0", "t.vnnlib:2: unbalanced parentheses: the '(' of line 2"},
        {"x", "bytes cannot declare"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_spec s;
        s.n_parts = 99;
        int rc = cr_vnnlib_parse("t.vnnlib", cases[i].text, strlen(cases[i].text), 1, 1, &s);
        if (rc != CR_ERR_FORMAT) fail_msg("case %zu accepted (%d): %s", i, rc, cases[i].text);
        ASSERT_ERR(cr_last_error(), cases[i].msg);
        assert_null(strchr(cr_last_error(), '\n'));
        assert_true(strncmp(cr_last_error(), "t.vnnlib", 8) == 0);
        assert_true(s.n_parts == 0 && s.parts == NULL);
    }
    /* a token of 257 characters, one of 256 */
    char tok[512];
    for (int n = 256; n <= 257; n++) {
        char num[300];
        memset(num, '0', (size_t)n);
        num[0] = '1';
        num[n] = '\0';
        snprintf(tok, sizeof tok, DECL1 BOX1 "(assert (<= Y_0 %s))", num);
        cr_spec s;
        int rc = cr_vnnlib_parse("t.vnnlib", tok, strlen(tok), 1, 1, &s);
        if (n == 256) { /* 10^255: in range */
            if (rc) fail_msg("a 256-character number refused: %s", cr_last_error());
            assert_true(s.parts[0].rhs[0] >= 1e255 && s.parts[0].rhs_in[0] <= 1e255);
            cr_spec_free(&s);
        } else {
            assert_int_equal(rc, CR_ERR_FORMAT);
            ASSERT_ERR(cr_last_error(), "a token longer than 256 characters");
        }
    }
    /* many tokens: 300,000 one-row clauses exceed neither memory nor time, 5,000 do parse; 10,000 disjuncts refused */
    size_t cap = 400000, n = 0;
    char *big = malloc(cap);
    assert_non_null(big);
    n += (size_t)snprintf(big + n, cap - n, DECL1 BOX1 "(assert (or");
    for (int i = 0; i < 5000; i++) n += (size_t)snprintf(big + n, cap - n, " (and (<= Y_0 %d))", i);
    n += (size_t)snprintf(big + n, cap - n, "))");
    cr_spec s;
    assert_int_not_equal(cr_vnnlib_parse("t.vnnlib", big, n, 1, 1, &s), CR_OK);
    ASSERT_ERR(cr_last_error(), "more than 4096 disjuncts");
    /* two disjunctions multiply: 100 x 100 */
    n = 0;
    n += (size_t)snprintf(big + n, cap - n, DECL1 BOX1);
    for (int o = 0; o < 2; o++) {
        n += (size_t)snprintf(big + n, cap - n, "(assert (or");
        for (int i = 0; i < 100; i++) n += (size_t)snprintf(big + n, cap - n, " (<= Y_0 %d)", i);
        n += (size_t)snprintf(big + n, cap - n, "))\n");
    }
    assert_int_not_equal(cr_vnnlib_parse("t.vnnlib", big, n, 1, 1, &s), CR_OK);
    ASSERT_ERR(cr_last_error(), "t.vnnlib:4: more than 4096 disjuncts");
    free(big);
    /* a truncated file: every prefix of a valid one is refused or parsed, never a crash */
    const char *ok = DECL1 BOX1 "(assert (or (and (<= Y_0 1.5)) (and (>= Y_0 2))))\n";
    size_t len = strlen(ok), accepted = 0;
    for (size_t m = 0; m <= len; m++) {
        if (cr_vnnlib_parse("t.vnnlib", ok, m, 1, 1, &s) == 0) {
            accepted++;
            cr_spec_free(&s);
        } else {
            assert_true(cr_last_error()[0] != 0 && !strchr(cr_last_error(), '\n'));
        }
    }
    assert_true(accepted >= 1 && accepted <= 2); /* the whole file (and without its final newline) */
    /* sizes beyond the reader's limit are refused before anything is allocated */
    assert_int_not_equal(cr_vnnlib_parse("t.vnnlib", ok, len, (size_t)1 << 21, 1, &s), CR_OK);
    ASSERT_ERR(cr_last_error(), "t.vnnlib: the model's 2097152 inputs and 1 outputs exceed the reader's limit");
    /* a missing file */
    assert_int_not_equal(cr_vnnlib_load(tu_path("absent.vnnlib"), 1, 1, &s), CR_OK);
    ASSERT_ERR(cr_last_error(), "absent.vnnlib");
}

/* ------------------------------------------------------------ results */

/* The VNN-COMP counterexample checker's reading of a result (vnncomp scripts' get_ce_diff, ported): after the
   verdict line, newlines become spaces, the text is stripped, must be "( ... )"; its inside split at ')' gives
   parts "(NAME NUM" (repeated spaces collapsed), names X_i / Y_j in order. Returns the counts read; -1 if malformed. */
static int ce_read(const char *text, double *x, size_t *nx, double *y, size_t *ny) {
    const char *nl = strchr(text, '\n');
    if (!nl) return -1;
    char *c = strdup(nl + 1);
    for (char *q = c; *q; q++)
        if (*q == '\n') *q = ' ';
    char *b = c, *e = c + strlen(c);
    while (*b == ' ') b++;
    while (e > b && e[-1] == ' ') e--;
    *e = 0;
    int rc = -1;
    *nx = *ny = 0;
    if (e - b >= 2 && b[0] == '(' && e[-1] == ')') {
        e[-1] = 0;
        rc = 0;
        for (char *part = strtok(b + 1, ")"); part && !rc; part = strtok(NULL, ")")) {
            while (*part == ' ') part++;
            if (!*part) continue;
            char name[64];
            double v;
            char tail;
            if (part[0] != '(' || sscanf(part + 1, "%63s %lf %c", name, &v, &tail) != 2) rc = -1;
            else if (name[0] == 'X' && name[1] == '_' && (size_t)atol(name + 2) == *nx) x[(*nx)++] = v;
            else if (name[0] == 'Y' && name[1] == '_' && (size_t)atol(name + 2) == *ny) y[(*ny)++] = v;
            else rc = -1;
        }
    }
    free(c);
    return rc;
}

static void test_result(void **state) {
    (void)state;
    const char *path = tu_path("result.txt");
    const double x[3] = {0.1, -2.5e-300, 1.0 / 3.0}, y[2] = {3.991125645861615, -0.0};
    assert_int_equal(cr_vnnlib_write_result(path, CR_VERDICT_SAT, 3, x, 2, y), 0);
    size_t len;
    unsigned char *b = tu_slurp(path, &len);
    assert_non_null(b);
    const char *ref = "sat\n((X_0 0.10000000000000001)\n(X_1 -2.5e-300)\n(X_2 0.33333333333333331)\n"
                      "(Y_0 3.9911256458616151)\n(Y_1 -0))\n";
    assert_int_equal(len, strlen(ref));
    assert_memory_equal(b, ref, len);
    free(b);
    /* the checker's reading gives the witness and outputs back bit for bit */
    double xr[8], yr[8];
    size_t nx, ny;
    assert_int_equal(ce_read(ref, xr, &nx, yr, &ny), 0);
    assert_int_equal(nx, 3);
    assert_int_equal(ny, 2);
    assert_memory_equal(xr, x, sizeof x);
    assert_memory_equal(yr, y, sizeof y);
    /* and alpha-beta-CROWN's own layout (default_adv_saver: two spaces, no newline at the end) reads the same way */
    assert_int_equal(ce_read("sat\n((X_0  0.5)\n(Y_0  1)\n(Y_1  2))", xr, &nx, yr, &ny), 0);
    assert_true(nx == 1 && ny == 2 && xr[0] == 0.5 && yr[1] == 2);
    /* guards: the port is strict where the checker is: no outer parentheses, a name out of order */
    assert_int_equal(ce_read("sat\n(X_0 0.5)\n(Y_0 1)", xr, &nx, yr, &ny), -1);
    assert_int_equal(ce_read("sat\n((X_1 0.5))", xr, &nx, yr, &ny), -1); /* out of order */
    static const cr_verdict vs[3] = {CR_VERDICT_UNSAT, CR_VERDICT_UNKNOWN, CR_VERDICT_TIMEOUT};
    static const char *const words[3] = {"unsat\n", "unknown\n", "timeout\n"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(cr_vnnlib_write_result(path, vs[i], 0, NULL, 0, NULL), 0);
        b = tu_slurp(path, &len);
        assert_int_equal(len, strlen(words[i]));
        assert_memory_equal(b, words[i], len);
        free(b);
    }
    /* refused: sat without a witness, a NaN witness; nothing written, the old file kept */
    assert_int_not_equal(cr_vnnlib_write_result(path, CR_VERDICT_SAT, 3, NULL, 2, y), CR_OK);
    ASSERT_ERR(cr_last_error(), "needs the witness");
    const double xn[3] = {0, NAN, 0};
    assert_int_not_equal(cr_vnnlib_write_result(path, CR_VERDICT_SAT, 3, xn, 2, y), CR_OK);
    ASSERT_ERR(cr_last_error(), "witness X_1 is not finite");
    b = tu_slurp(path, &len);
    assert_memory_equal(b, "timeout\n", len);
    free(b);
    assert_int_equal(tu_count_tmp_files(), 0);
    assert_string_equal(cr_verdict_name(CR_VERDICT_UNSAT), "unsat");
    assert_string_equal(cr_verdict_name(CR_VERDICT_SAT), "sat");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oracle_itself), cmocka_unit_test(test_spec_linf), cmocka_unit_test(test_acas),
        cmocka_unit_test(test_eran),          cmocka_unit_test(test_disjunctions), cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_result),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tu_cleanup();
    return rc;
}
