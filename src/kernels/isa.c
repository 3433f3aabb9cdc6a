/* The kernel set in use (chainrule_typed.h, "kernel sets"): CHAINRULE_ISA or the
   best set the CPU runs, chosen once. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "chainrule_typed.h"
#include "core/fail.h"

static const char *const isa_names[CR_ISA_COUNT] = {"portable", "avx2", "avx512"};

const char *cr_isa_name(cr_isa isa) {
    return (unsigned)isa < CR_ISA_COUNT ? isa_names[isa] : "unknown";
}

cr_status cr_isa_from_name(const char *name, cr_isa *out) {
    for (int i = 0; name && i < CR_ISA_COUNT; i++)
        if (!strcmp(name, isa_names[i])) {
            if (out) *out = (cr_isa)i;
            return CR_OK;
        }
    return cr_fail(CR_ERR_ARG, "%s: unknown instruction set '%s'", __func__, name ? name : "(null)");
}

int cr_isa_supported(cr_isa isa) {
    switch (isa) {
    case CR_ISA_PORTABLE: return 1;
#if defined(__GNUC__) && defined(__x86_64__)
    /* the kernels use FMA from AVX2 on, and AVX2 instructions in the AVX-512 set */
    case CR_ISA_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case CR_ISA_AVX512:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2") &&
               __builtin_cpu_supports("fma");
#endif
    default: return 0;
    }
}

cr_isa cr_isa_best(void) {
    if (cr_isa_supported(CR_ISA_AVX512)) return CR_ISA_AVX512;
    if (cr_isa_supported(CR_ISA_AVX2)) return CR_ISA_AVX2;
    return CR_ISA_PORTABLE;
}

/* -1 until chosen; threads that race to choose all store the same value */
static atomic_int current = -1;

cr_isa cr_isa_current(void) {
    int c = atomic_load_explicit(&current, memory_order_relaxed);
    if (c < 0) {
        const char *env = getenv("CHAINRULE_ISA");
        cr_isa isa;
        if (!env || cr_isa_from_name(env, &isa) != CR_OK || !cr_isa_supported(isa)) isa = cr_isa_best();
        c = (int)isa;
        atomic_store_explicit(&current, c, memory_order_relaxed);
    }
    return (cr_isa)c;
}

cr_status cr_isa_select(cr_isa isa) {
    if (!cr_isa_supported(isa)) return CR_FAIL(CR_ERR_ARG);
    atomic_store_explicit(&current, (int)isa, memory_order_relaxed);
    return CR_OK;
}
