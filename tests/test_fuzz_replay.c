/*
 * Replays every committed fuzz input through the fuzz target bodies
 * (fuzz/targets.c, compiled into this test): the seed corpora in
 * tests/fuzz-corpus/<target>/ and the crash inputs that the fuzzers found and
 * that were fixed, in tests/fuzz-regressions/<target>/. Each must give a clean
 * result: success, or one line of error naming the input; never a crash, a
 * sanitizer report (in the ASan/UBSan and valgrind runs), or a broken contract
 * (the targets abort() on those).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../fuzz/targets.c"

/* tests/ itself: the folder of this file (CMake compiles it by absolute path). */
static char tests_dir[2048];
static const char *tests_path(void) {
    if (!tests_dir[0]) {
        snprintf(tests_dir, sizeof tests_dir, "%s", __FILE__);
        char *slash = strrchr(tests_dir, '/');
        if (slash) *slash = '\0';
        else snprintf(tests_dir, sizeof tests_dir, ".");
    }
    return tests_dir;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs target on every regular file of dir (sorted); returns the file count. */
static size_t replay_dir(const cr_fuzz_target *t, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof *names);
            assert_non_null(names);
        }
        names[n] = malloc(strlen(e->d_name) + 1);
        assert_non_null(names[n]);
        strcpy(names[n++], e->d_name);
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_names);
    size_t files = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
            unsigned char *buf = NULL;
            size_t len = 0;
            if (cr_read_file(path, (size_t)1 << 26, &buf, &len) != 0)
                fail_msg("cannot read %s: %s", path, cr_last_error());
            /* a copy of exactly len bytes, so that ASan sees any over-read */
            unsigned char *copy = malloc(len ? len : 1);
            assert_non_null(copy);
            memcpy(copy, buf, len);
            free(buf);
            t->run(copy, len);
            free(copy);
            files++;
        }
        free(names[i]);
    }
    free(names);
    return files;
}

static void test_replay(void **state) {
    const cr_fuzz_target *t = *state;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/fuzz-corpus/%s", tests_path(), t->name);
    size_t seeds = replay_dir(t, dir);
    assert_true(seeds > 0); /* every target has committed seeds */
    snprintf(dir, sizeof dir, "%s/fuzz-regressions/%s", tests_path(), t->name);
    size_t regs = replay_dir(t, dir);
    print_message("%s: %zu seeds, %zu regression inputs replayed\n", t->name, seeds, regs);
}

/* Edge inputs that every target must take: nothing, one byte, all zeros. */
static void test_edges(void **state) {
    (void)state;
    static const uint8_t zeros[64];
    for (size_t i = 0; i < cr_fuzz_n_targets; i++) {
        cr_fuzz_targets[i].run(NULL, 0);
        cr_fuzz_targets[i].run(zeros, 1);
        cr_fuzz_targets[i].run(zeros, sizeof zeros);
    }
}

int main(void) {
    struct CMUnitTest tests[16];
    size_t n = 0;
    for (size_t i = 0; i < cr_fuzz_n_targets && n < 15; i++) {
        tests[n].name = cr_fuzz_targets[i].name;
        tests[n].test_func = test_replay;
        tests[n].setup_func = NULL;
        tests[n].teardown_func = NULL;
        tests[n].initial_state = (void *)&cr_fuzz_targets[i];
        n++;
    }
    tests[n].name = "edges";
    tests[n].test_func = test_edges;
    tests[n].setup_func = NULL;
    tests[n].teardown_func = NULL;
    tests[n].initial_state = NULL;
    n++;
    return _cmocka_run_group_tests("fuzz_replay", tests, n, NULL, NULL);
}
