/*
 * test_cpu_budget — the default thread count follows the CPUs the process may
 * keep busy (core/cpu_budget.h): the cgroup's CPU quota (v2 cpu.max, v1
 * cpu.cfs_quota_us / cpu.cfs_period_us, the smallest of the cgroup and its
 * ancestors) rounded up, at most the affinity mask's CPUs, at least 1; read
 * from fake cgroup trees made here. And the library's default count is at
 * most the budget, while a count the caller sets is kept.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "chainrule.h"
#include "core/cpu_budget.h"
#include "core/parallel.h"

static char root[256];

static void put(const char *rel, const char *text) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    for (char *p = path + strlen(root) + 1; *p; p++) /* the directories on the way */
        if (*p == '/') {
            *p = '\0';
            mkdir(path, 0700);
            *p = '/';
        }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int budget(const char *list, int cpus) {
    char path[512];
    put("list", list);
    snprintf(path, sizeof path, "%s/list", root);
    snprintf(root + strlen(root), sizeof root - strlen(root), "/fs");
    int b = cr_cpu_budget_at(path, root, cpus);
    root[strlen(root) - 3] = '\0';
    return b;
}

static int setup(void **state) {
    (void)state;
    snprintf(root, sizeof root, "/tmp/cr_cpu_budget_XXXXXX");
    assert_non_null(mkdtemp(root));
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_cpu_max_parse(void **state) {
    (void)state;
    assert_int_equal(cr_cpu_max_parse("max 100000\n"), 0);
    assert_int_equal(cr_cpu_max_parse("200000 100000\n"), 2);
    assert_int_equal(cr_cpu_max_parse("150000 100000"), 2); /* 1.5 CPUs: two threads */
    assert_int_equal(cr_cpu_max_parse("50000 100000"), 1);
    assert_int_equal(cr_cpu_max_parse("100000 100000"), 1);
    assert_int_equal(cr_cpu_max_parse(""), -1);
    assert_int_equal(cr_cpu_max_parse("12x 100000"), -1);
    assert_int_equal(cr_cpu_max_parse("100000 0"), -1);
    assert_int_equal(cr_cpu_max_parse(NULL), -1);
}

static void test_v2_quota_and_ancestors(void **state) {
    (void)state;
    /* no file: the CPUs */
    assert_int_equal(budget("0::/a/b\n", 8), 8);
    put("fs/a/b/cpu.max", "max 100000\n");
    assert_int_equal(budget("0::/a/b\n", 8), 8);
    put("fs/a/b/cpu.max", "300000 100000\n");
    assert_int_equal(budget("0::/a/b\n", 8), 3);
    assert_int_equal(budget("0::/a/b\n", 2), 2); /* never above the affinity mask */
    put("fs/a/cpu.max", "150000 100000\n"); /* a tighter parent limits the child */
    assert_int_equal(budget("0::/a/b\n", 8), 2);
    assert_int_equal(budget("0::/a/\n", 8), 2);
    put("fs/cpu.max", "10000 100000\n"); /* a namespace root ("0::/") is the process's cgroup */
    assert_int_equal(budget("0::/\n", 8), 1);
    assert_int_equal(budget("0::/a/b\n", 8), 1);
    put("fs/cpu.max", "garbage\n");
    assert_int_equal(budget("0::/a/b\n", 8), 2);
    assert_int_equal(budget("0::/elsewhere\n", 0), 1); /* at least one */
}

static void test_v1_quota(void **state) {
    (void)state;
    const char *list = "4:memory:/x\n2:cpuacct,cpu:/k/pod\n0::/\n";
    assert_int_equal(budget(list, 16), 16);
    put("fs/cpu,cpuacct/k/pod/cpu.cfs_quota_us", "-1\n");
    put("fs/cpu,cpuacct/k/pod/cpu.cfs_period_us", "100000\n");
    assert_int_equal(budget(list, 16), 16);
    put("fs/cpu,cpuacct/k/pod/cpu.cfs_quota_us", "400000\n");
    assert_int_equal(budget(list, 16), 4);
    put("fs/cpu,cpuacct/k/cpu.cfs_quota_us", "250000\n");
    put("fs/cpu,cpuacct/k/cpu.cfs_period_us", "100000\n");
    assert_int_equal(budget(list, 16), 3);
    /* a controller list without "cpu" (cpuacct alone, cpuset) is not read */
    assert_int_equal(budget("2:cpuacct:/k/pod\n3:cpuset:/k/pod\n", 16), 16);
    /* malformed lines are skipped */
    assert_int_equal(budget("garbage\n::\n0:cpu\n", 5), 5);
}

static void test_default_threads_within_budget(void **state) {
    (void)state;
    /* this process's budget, and the library's default within it (unless the environment
       gave the BLAS a count, which is kept) */
    int b = cr_cpu_budget();
    assert_true(b >= 1);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    assert_true(online < 1 || b <= online);
    if (cr_have_cblas() && !getenv("OPENBLAS_NUM_THREADS") && !getenv("GOTO_NUM_THREADS") &&
        !getenv("OMP_NUM_THREADS"))
        assert_true(cr_blas_threads() <= b);
    cr_blas_set_threads(b + 1); /* a count the library sets is kept, even above the budget */
    if (cr_have_cblas()) assert_int_equal(cr_blas_threads(), b + 1);
    cr_blas_set_threads(1);
    assert_int_equal(cr_blas_threads(), 1);
    /* a context of 0 threads gets the budget */
    cr_ctx *ctx = NULL;
    assert_int_equal(cr_ctx_create(&ctx, 0), CR_OK);
    assert_int_equal(cr_ctx_threads(ctx), b);
    cr_ctx_free(ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cpu_max_parse),
        cmocka_unit_test_setup_teardown(test_v2_quota_and_ancestors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v1_quota, setup, teardown),
        cmocka_unit_test(test_default_threads_within_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
