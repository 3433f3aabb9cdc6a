/*
 * test_csv — the strict CSV dataset reader: header detection, label column
 * (first, last, middle), quotes, CRLF, blank lines, limit and k, and the
 * errors with line and column: ragged rows, non-numbers, NaN/Inf, float32
 * range, bad labels, empty files, directories.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "chainrule_data.h"
#include "testutil.h"

#define ASSERT_ERR(msg, sub)                                                                  \
    do {                                                                                      \
        if (!strstr((msg), (sub))) fail_msg("error '%s' lacks '%s'", (msg), (sub));           \
    } while (0)

/* Writes text to tmpdir/name and reads it as CSV. */
static int csv_from_text(const char *name, const char *text, const cr_dataset_options *opt,
                         cr_dataset *ds) {
    const char *p = tu_path(name);
    assert_int_equal(tu_write_file(p, text, strlen(text)), 0);
    return cr_csv_read(p, opt, ds);
}

static void expect_error(const char *name, const char *text, const cr_dataset_options *opt,
                         const char *sub) {
    cr_dataset ds;
    assert_int_not_equal(csv_from_text(name, text, opt, &ds), CR_OK);
    ASSERT_ERR(cr_last_error(), sub);
    assert_null(ds.x);
    assert_null(ds.labels);
    assert_int_equal(ds.n, 0);
}

static void test_header_autodetect(void **state) {
    (void)state;
    cr_dataset ds;
    assert_int_equal(csv_from_text("h.csv", "label,a,b\n1,0.5,2\n0, 1e-3 , -4\n", NULL, &ds),
                     0);
    assert_int_equal(ds.n, 2);
    assert_int_equal(ds.d, 2);
    assert_int_equal(ds.k, 2);
    assert_int_equal(ds.height, 0);
    assert_int_equal(ds.labels[0], 1);
    assert_int_equal(ds.labels[1], 0);
    assert_true(ds.x[0] == 0.5f && ds.x[1] == 2.0f && ds.x[2] == 1e-3f && ds.x[3] == -4.0f);
    cr_dataset_free(&ds);
    assert_null(ds.x);

    /* all-numeric first row: data */
    assert_int_equal(csv_from_text("n.csv", "3,1,2\n0,3,4\n", NULL, &ds), 0);
    assert_int_equal(ds.n, 2);
    assert_int_equal(ds.k, 4);
    assert_int_equal(ds.labels[0], 3);
    cr_dataset_free(&ds);

    /* forced header on a numeric first row */
    cr_dataset_options o = cr_dataset_options_default();
    o.has_header = 1;
    assert_int_equal(csv_from_text("n.csv", "3,1,2\n0,3,4\n", &o, &ds), 0);
    assert_int_equal(ds.n, 1);
    assert_int_equal(ds.labels[0], 0);
    cr_dataset_free(&ds);

    /* forbidden header: the header row is read as data */
    o.has_header = 0;
    expect_error("hdr.csv", "label,a\n1,2\n", &o,
                 "hdr.csv:1: column 1: label 'label' is not a non-negative integer");

    /* a first data row with an empty field or a typo is not a header: it is an
       error naming its line and column, never silently dropped */
    expect_error("gap.csv", "3,0.5,,0.25\n1,0.5,0.5,0.5\n2,1,1,1\n", NULL,
                 "gap.csv:1: column 3: empty field (--header auto reads a first row with numbers");
    expect_error("typo.csv", "3,0.5,0.x5,0.25\n1,0.5,0.5,0.5\n", NULL,
                 "typo.csv:1: column 3: '0.x5' is not a number (--header auto");
    expect_error("typolab.csv", "x3,0.5,0.25\n1,0.5,0.5\n", NULL,
                 "typolab.csv:1: column 1: label 'x3' is not a non-negative integer (--header");
    /* ... while a header with an empty name (pandas' index column) is a header */
    assert_int_equal(csv_from_text("pd.csv", "label,,b\n1,0.5,2\n", NULL, &ds), 0);
    assert_int_equal(ds.n, 1);
    cr_dataset_free(&ds);
    /* and a later broken row keeps its plain message */
    expect_error("late.csv", "1,2\n1,\n", NULL, "late.csv:2: column 2: empty field");
    {
        cr_dataset d2;
        assert_int_not_equal(csv_from_text("late.csv", "1,2\n1,\n", NULL, &d2), CR_OK);
        assert_null(strstr(cr_last_error(), "--header"));
    }

    /* quoted header and fields */
    assert_int_equal(csv_from_text("q.csv", "\"label\",\"x, y\"\n\"2\", \"2.5\" \n", NULL, &ds),
                     0);
    assert_int_equal(ds.n, 1);
    assert_int_equal(ds.d, 1);
    assert_int_equal(ds.labels[0], 2);
    assert_true(ds.x[0] == 2.5f);
    cr_dataset_free(&ds);
}

static void test_label_column(void **state) {
    (void)state;
    cr_dataset ds;
    cr_dataset_options o = cr_dataset_options_default();
    o.label_column = -1;
    assert_int_equal(csv_from_text("last.csv", "a,b,y\n0.1,0.2,3\n0.3,0.4,1\n", &o, &ds), 0);
    assert_int_equal(ds.n, 2);
    assert_int_equal(ds.d, 2);
    assert_int_equal(ds.k, 4);
    assert_int_equal(ds.labels[0], 3);
    assert_int_equal(ds.labels[1], 1);
    assert_true(ds.x[0] == 0.1f && ds.x[1] == 0.2f && ds.x[2] == 0.3f && ds.x[3] == 0.4f);
    cr_dataset_free(&ds);

    o.label_column = 1;
    assert_int_equal(csv_from_text("mid.csv", "5,2,6\n7,0,8\n", &o, &ds), 0);
    assert_int_equal(ds.labels[0], 2);
    assert_int_equal(ds.labels[1], 0);
    assert_true(ds.x[0] == 5.0f && ds.x[1] == 6.0f && ds.x[2] == 7.0f && ds.x[3] == 8.0f);
    cr_dataset_free(&ds);

    o.label_column = 3;
    expect_error("oor.csv", "1,2,3\n", &o, "oor.csv: label column 3 is out of range for 3 columns");
    o.label_column = -4;
    expect_error("oor.csv", "1,2,3\n", &o, "oor.csv: label column -4 is out of range for 3 columns");
}

static void test_ragged(void **state) {
    (void)state;
    expect_error("train.csv", "y,a,b,c,d\n1,2,3,4,5\n1,2,3,4,5\n\n1,2,3,4\n1,2,3,4,5\n", NULL,
                 "train.csv:5: expected 5 fields, found 4");
    expect_error("long.csv", "1,2\n1,2,3\n", NULL, "long.csv:2: expected 2 fields, found 3");
    expect_error("one.csv", "1\n2\n", NULL,
                 "one.csv:1: need at least 2 columns (a label and a feature), found 1");
}

static void test_not_a_number(void **state) {
    (void)state;
    char text[1024] = "";
    for (int i = 1; i <= 16; i++) strcat(text, "1,0.5,0.25,7\n");
    strcat(text, "2,1.0,abc,3\n");
    expect_error("train.csv", text, NULL, "train.csv:17: column 3: 'abc' is not a number");
    expect_error("trail.csv", "1,2\n1,2x\n", NULL, "trail.csv:2: column 2: '2x' is not a number");
    expect_error("empty-field.csv", "1,2,3\n1,,3\n", NULL, "empty-field.csv:2: column 2: empty field");
    expect_error("nan.csv", "1,2\n0,nan\n", NULL, "nan.csv:2: column 2: 'nan' is not a finite number");
    expect_error("inf.csv", "1,-inf\n", NULL, "inf.csv:1: column 2: '-inf' is not a finite number");
    expect_error("big.csv", "1,1e999\n", NULL, "big.csv:1: column 2: '1e999' is not a finite number");
    expect_error("f32.csv", "1,1e39\n", NULL, "f32.csv:1: column 2: '1e39' is out of float32 range");
    expect_error("lab.csv", "1,2\n2.5,3\n", NULL,
                 "lab.csv:2: column 1: label '2.5' is not a non-negative integer");
    expect_error("neg.csv", "1,2\n-1,3\n", NULL,
                 "neg.csv:2: column 1: label '-1' is not a non-negative integer");
    expect_error("huge.csv", "1,2\n99999999999,3\n", NULL,
                 "huge.csv:2: column 1: label '99999999999' is not a non-negative integer");
    expect_error("quote.csv", "1,\"2\n", NULL, "quote.csv:1: column 2: unterminated quote");
    expect_error("after.csv", "1,\"2\"x\n", NULL,
                 "after.csv:1: column 2: unexpected text after a closing quote");
}

static void test_empty(void **state) {
    (void)state;
    expect_error("empty.csv", "", NULL, "empty.csv: empty file");
    expect_error("blank.csv", "\n  \r\n\t\n", NULL, "blank.csv: empty file");
    expect_error("hdronly.csv", "label,a,b\n", NULL, "hdronly.csv: no data rows after the header");
    cr_dataset ds;
    assert_int_not_equal(cr_csv_read(tu_tmpdir(), NULL, &ds), CR_OK);
    ASSERT_ERR(cr_last_error(), "is a directory, not a CSV file");
    assert_int_not_equal(cr_csv_read(tu_path("missing.csv"), NULL, &ds), CR_OK);
    ASSERT_ERR(cr_last_error(), "missing.csv: No such file or directory");
}

static void test_crlf_and_blank_lines(void **state) {
    (void)state;
    cr_dataset ds;
    assert_int_equal(csv_from_text("crlf.csv", "y,a\r\n1,2\r\n\r\n0,3", NULL, &ds), 0);
    assert_int_equal(ds.n, 2);
    assert_int_equal(ds.d, 1);
    assert_true(ds.x[0] == 2.0f && ds.x[1] == 3.0f);
    assert_int_equal(ds.labels[1], 0);
    cr_dataset_free(&ds);
    /* line numbers count blank lines; CRLF does not disturb the field count */
    expect_error("crlf2.csv", "1,2\r\n\r\n1,2,3\r\n", NULL, "crlf2.csv:3: expected 2 fields, found 3");
    /* a final line without newline is an error source too */
    expect_error("last.csv", "1,2\n1,zz", NULL, "last.csv:2: column 2: 'zz' is not a number");
}

static void test_limit_and_k(void **state) {
    (void)state;
    cr_dataset ds;
    cr_dataset_options o = cr_dataset_options_default();
    o.limit = 2;
    /* the bad row 4 is beyond the limit and never read */
    assert_int_equal(csv_from_text("lim.csv", "y,a\n0,1\n1,2\n2,3\nx,y\n", &o, &ds), 0);
    assert_int_equal(ds.n, 2);
    assert_int_equal(ds.k, 2);
    cr_dataset_free(&ds);

    o.limit = 0;
    o.k = 10;
    assert_int_equal(csv_from_text("k.csv", "0,1\n1,2\n", &o, &ds), 0);
    assert_int_equal(ds.k, 10);
    cr_dataset_free(&ds);
    o.k = 3;
    expect_error("k.csv", "0,1\n3,2\n", &o, "k.csv:2: column 1: label 3 is out of range for k = 3");
}

/* Every prefix of a valid file, parsed from an exactly sized buffer: no crash
   or overread (ASan), each either succeeds or sets a message. */
static void test_parse_prefixes(void **state) {
    (void)state;
    const char *text = "label,\"a\",b\r\n1, 2.5 ,\"3\"\n\n0,-1e-3,4\r\n7,8,9";
    size_t len = strlen(text);
    for (size_t cut = 0; cut <= len; cut++) {
        char *b = malloc(cut ? cut : 1);
        assert_non_null(b);
        memcpy(b, text, cut);
        cr_dataset ds;
        if (cr_csv_parse("p.csv", b, cut, NULL, &ds) == 0) {
            assert_true(ds.n >= 1);
            cr_dataset_free(&ds);
        } else {
            assert_true(cr_last_error()[0] != 0);
        }
        free(b);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_autodetect),
        cmocka_unit_test(test_label_column),
        cmocka_unit_test(test_ragged),
        cmocka_unit_test(test_not_a_number),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_crlf_and_blank_lines),
        cmocka_unit_test(test_limit_and_k),
        cmocka_unit_test(test_parse_prefixes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
