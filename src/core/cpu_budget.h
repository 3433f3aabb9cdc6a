/*
 * How many CPUs this process may keep busy (private to the library): the
 * CPUs of its affinity mask, at most its cgroup's CPU quota rounded up. The
 * library's default thread count (core/gemm.c) is at most this, so that on a
 * container given 2 CPUs' worth of time on a 64-CPU host the workers and the
 * BLAS do not start 64 threads that the host then takes turns to run.
 */
#ifndef CR_CPU_BUDGET_H
#define CR_CPU_BUDGET_H

/* The budget of this process: cr_cpu_budget_at("/proc/self/cgroup", "/sys/fs/cgroup",
   the CPU count of sched_getaffinity, or of sysconf where that fails). At least 1. */
int cr_cpu_budget(void);

/* The budget of a process whose cgroup list (/proc/PID/cgroup) is the file `cgroup_list`,
   with the cgroup file systems mounted under `root`, allowed `cpus` CPUs: the
   smallest ceil(quota / period) of its cgroup and every ancestor (cgroup v2
   cpu.max "QUOTA PERIOD" or "max PERIOD"; cgroup v1 cpu.cfs_quota_us and
   cpu.cfs_period_us under root/cpu,cpuacct, root/cpu or root/cpuacct,cpu), at most
   `cpus`, at least 1. Missing or unreadable files mean no quota. */
int cr_cpu_budget_at(const char *cgroup_list, const char *root, int cpus);

/* ceil(quota / period) of a cgroup v2 cpu.max line ("150000 100000" gives 2), 0 for
   "max ..." (no quota), -1 if the text is not such a line. */
int cr_cpu_max_parse(const char *text);

#endif
