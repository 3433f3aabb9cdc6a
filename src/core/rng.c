/* xoshiro256** (Blackman & Vigna), seeded through splitmix64. */
#include <math.h>

#include "chainrule_typed.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void cr_rng_seed(cr_rng *rng, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

uint64_t cr_rng_next(cr_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double cr_rng_uniform(cr_rng *rng) { return (double)(cr_rng_next(rng) >> 11) * 0x1.0p-53; }

double cr_rng_normal(cr_rng *rng) {
    double u1 = 1.0 - cr_rng_uniform(rng); /* (0, 1]: log is finite */
    double u2 = cr_rng_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586476925 * u2);
}

uint64_t cr_rng_below(cr_rng *rng, uint64_t n) {
    /* Lemire's rejection keeps the result unbiased. */
    uint64_t threshold = (0 - n) % n, x;
    do {
        x = cr_rng_next(rng);
    } while (x < threshold);
    return x % n;
}
