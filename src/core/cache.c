/* The cache hierarchy at run time (see cache.h). */
#include "core/cache.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static atomic_size_t l2_bytes; /* 0: not asked yet */

/* "1024K", "2M" or "524288" as in sysfs: bytes, 0 if unreadable. */
static size_t parse_size(const char *s) {
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (end == s) return 0;
    if (*end == 'K' || *end == 'k') v <<= 10;
    else if (*end == 'M' || *end == 'm') v <<= 20;
    return (size_t)v;
}

static size_t l2_from_sysfs(void) {
    for (int i = 0; i < 8; i++) {
        char path[96], buf[32];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", i);
        FILE *f = fopen(path, "r");
        if (!f) return 0;
        int level = fgets(buf, sizeof buf, f) ? atoi(buf) : 0;
        fclose(f);
        if (level != 2) continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", i);
        if (!(f = fopen(path, "r"))) return 0;
        size_t v = fgets(buf, sizeof buf, f) ? parse_size(buf) : 0;
        fclose(f);
        return v;
    }
    return 0;
}

static size_t l2_detect(void) {
    const char *env = getenv("CHAINRULE_L2_KIB");
    if (env && *env) {
        char *end;
        unsigned long long k = strtoull(env, &end, 10);
        if (*end == 0 && k >= 64 && k <= (1ull << 20)) return (size_t)k << 10;
    }
#ifdef _SC_LEVEL2_CACHE_SIZE
    long v = sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (v >= (64 << 10)) return (size_t)v;
#endif
    size_t s = l2_from_sysfs();
    return s >= (64 << 10) ? s : (size_t)1 << 20;
}

size_t cr_cache_l2_bytes(void) {
    size_t v = atomic_load_explicit(&l2_bytes, memory_order_relaxed);
    if (v == 0) {
        v = l2_detect();
        atomic_store_explicit(&l2_bytes, v, memory_order_relaxed);
    }
    return v;
}

void cr_cache_l2_force(size_t bytes) { atomic_store(&l2_bytes, bytes); }

size_t cr_cache_scaled(size_t n, size_t lo, size_t hi) {
    const size_t l2 = cr_cache_l2_bytes();
    /* n · l2 / 2^20 without overflow for any l2 up to 1 GiB and n below 2^32 */
    size_t v = (size_t)(((unsigned long long)n * (l2 >> 10)) >> 10);
    return v < lo ? lo : v > hi ? hi : v;
}
