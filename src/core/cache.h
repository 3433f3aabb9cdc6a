/*
 * The cache hierarchy at run time (private to the library): what the blocking of
 * the chunked input-derivative functions is sized from, instead of constants tuned
 * on one chip. Only the sizes of chunks depend on it, never a result: the functions
 * that use it give the same bits for every size (tests/test_cache.c).
 */
#ifndef CR_CACHE_H
#define CR_CACHE_H

#include <stddef.h>

/* The size of one core's L2 cache in bytes: CHAINRULE_L2_KIB if set to a number
   in [64, 1048576] (KiB; for tests and for hosts that report their caches wrongly),
   else sysconf(_SC_LEVEL2_CACHE_SIZE), else /sys/devices/system/cpu/cpu0/cache's
   level-2 entry, else 1 MiB. Asked once; thread-safe. */
size_t cr_cache_l2_bytes(void);

/* Test hook: from now on cr_cache_l2_bytes returns `bytes` (0: ask again). Call it
   while no other thread is in the library. */
void cr_cache_l2_force(size_t bytes);

/* n scaled by the L2 of this CPU against the 1 MiB of the Zen 4 core the constant
   was tuned on (n · L2 / 1 MiB), within [lo, hi]: a chunk that keeps the same
   share of the cache on every CPU. */
size_t cr_cache_scaled(size_t n, size_t lo, size_t hi);

#endif
