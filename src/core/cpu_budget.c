/* The CPU budget of this process: affinity and cgroup quota (see cpu_budget.h). */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "core/cpu_budget.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { PATH_CAP = 4096, LINE_CAP = 4096 };

/* ceil(quota / period) for quota, period > 0, capped at INT_MAX. */
static int quota_cpus(long long quota, long long period) {
    long long c = (quota + period - 1) / period;
    return c > INT_MAX ? INT_MAX : c < 1 ? 1 : (int)c;
}

int cr_cpu_max_parse(const char *text) {
    char q[32];
    long long period;
    if (!text || sscanf(text, "%31s %lld", q, &period) != 2 || period <= 0) return -1;
    if (!strcmp(q, "max")) return 0;
    char *end;
    errno = 0;
    long long quota = strtoll(q, &end, 10);
    if (errno || *end || quota <= 0) return -1;
    return quota_cpus(quota, period);
}

/* The first line of a small file into buf; 0 if it cannot be read. */
static int read_line(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    int ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    return ok;
}

/* The v2 quota of dir (cpu.max), 0 for none. */
static int v2_quota(const char *dir) {
    char path[PATH_CAP], line[LINE_CAP];
    if (snprintf(path, sizeof path, "%s/cpu.max", dir) >= (int)sizeof path) return 0;
    if (!read_line(path, line, sizeof line)) return 0;
    int c = cr_cpu_max_parse(line);
    return c > 0 ? c : 0;
}

/* The v1 quota of dir (cpu.cfs_quota_us, −1 for none, over cpu.cfs_period_us), 0 for none. */
static int v1_quota(const char *dir) {
    char path[PATH_CAP], line[LINE_CAP];
    long long quota, period;
    if (snprintf(path, sizeof path, "%s/cpu.cfs_quota_us", dir) >= (int)sizeof path) return 0;
    if (!read_line(path, line, sizeof line) || sscanf(line, "%lld", &quota) != 1 || quota <= 0)
        return 0;
    if (snprintf(path, sizeof path, "%s/cpu.cfs_period_us", dir) >= (int)sizeof path) return 0;
    if (!read_line(path, line, sizeof line) || sscanf(line, "%lld", &period) != 1 || period <= 0)
        return 0;
    return quota_cpus(quota, period);
}

/* The smallest quota of base/rel and its ancestors up to base (0 for none). In a cgroup
   namespace the list names "/" and base itself is the process's cgroup. */
static int walk_quota(const char *base, const char *rel, int v2) {
    char dir[PATH_CAP];
    if (snprintf(dir, sizeof dir, "%s%s", base, rel) >= (int)sizeof dir) return 0;
    size_t stop = strlen(base);
    int best = 0;
    for (;;) {
        size_t n = strlen(dir);
        while (n > stop && dir[n - 1] == '/') dir[--n] = '\0'; /* no trailing slash */
        int c = v2 ? v2_quota(dir) : v1_quota(dir);
        if (c > 0 && (best == 0 || c < best)) best = c;
        char *slash = strrchr(dir, '/');
        if (n <= stop || !slash || (size_t)(slash - dir) < stop) break;
        *slash = '\0'; /* the parent */
    }
    return best;
}

int cr_cpu_budget_at(const char *cgroup_list, const char *root, int cpus) {
    int budget = cpus < 1 ? 1 : cpus;
    FILE *f = cgroup_list && root ? fopen(cgroup_list, "r") : NULL;
    if (!f) return budget;
    char line[LINE_CAP], base[PATH_CAP];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        /* "ID:CONTROLLERS:PATH": v2 is "0::PATH"; v1 lists "cpu" among its controllers */
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2 || c2[1] != '/') continue;
        *c2 = '\0';
        const char *ctrl = c1 + 1, *rel = c2 + 1;
        int c = 0;
        if (!*ctrl) {
            c = walk_quota(root, rel, 1);
        } else {
            int has_cpu = 0; /* "cpu" among the comma-separated controllers */
            for (const char *p = ctrl; *p;) {
                size_t len = strcspn(p, ",");
                if (len == 3 && !strncmp(p, "cpu", 3)) has_cpu = 1;
                p += len + (p[len] == ',');
            }
            if (!has_cpu) continue;
            static const char *const mounts[] = {"cpu,cpuacct", "cpu", "cpuacct,cpu"};
            for (size_t m = 0; m < sizeof mounts / sizeof *mounts && c == 0; m++)
                if (snprintf(base, sizeof base, "%s/%s", root, mounts[m]) < (int)sizeof base)
                    c = walk_quota(base, rel, 0);
        }
        if (c > 0 && c < budget) budget = c;
    }
    fclose(f);
    return budget;
}

int cr_cpu_budget(void) {
    int cpus = 0;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) cpus = CPU_COUNT(&set);
    if (cpus < 1) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        cpus = n < 1 ? 1 : n > INT_MAX ? INT_MAX : (int)n;
    }
    return cr_cpu_budget_at("/proc/self/cgroup", "/sys/fs/cgroup", cpus);
}
