/*
 * The first layer's forward product over the nonzero inputs (sparse_xw.h):
 * the portable reference below, one row at a time with fmaf, and the AVX2 and
 * AVX-512 variants of sparse_xw_simd.tmpl.h, three rows at a time over the
 * union of their nonzero inputs. All three give, for every value, the bits of the
 * dense chain fma(x_ik, W[k, j], c) over k in order from +0, then + b_j, which
 * is what the packed kernel (abt.c) and the forward's bias loop compute
 * (tests/test_sparse_xw.c compares them byte for byte).
 */
#include "kernels/sparse_xw.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "chainrule_typed.h"

/* the test switches cr_sparse_xw_plant_fault and cr_sparse_xw_disable */
static int xw_fault, xw_off;

void cr_sparse_xw_plant_fault(int skip) { xw_fault = skip != 0; }
void cr_sparse_xw_disable(int off) { xw_off = off != 0; }

int cr_sparse_xw_finite(size_t d, size_t h, const float *w, size_t ldw) {
    uint32_t bad = 0; /* a value with an all-ones exponent: NaN or ±inf */
    for (size_t k = 0; k < d; k++)
        for (size_t j = 0; j < h; j++) {
            uint32_t u;
            memcpy(&u, &w[k * ldw + j], sizeof u);
            bad |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
        }
    return !bad;
}

/* r_j of one row by the dense chain over every input: where the sum over the
   nonzero inputs and the bias are both zeros, the sign of the zero is the
   dense chain's (the chains agree in value, not always in the sign of a zero). */
static float xw_dense_value(size_t d, const float *x, const float *w, size_t ldw, const float *b,
                            size_t j) {
    float c = 0;
    for (size_t k = 0; k < d; k++) c = fmaf(x[k], w[k * ldw + j], c);
    return b ? c + b[j] : c;
}

/* The rows of a block of 128 taken in order of a key (the vector variants):
   three rows whose nonzero inputs cover spans of the same length list fewer
   inputs for their union (on the Fashion-MNIST test images 63% of d instead
   of 74% in the given order; 62% for blocks of 512, or with the count of
   nonzeros as a second key, which cost more than they save: the key's scan
   reads every input, and 512 rows of x do not stay in L2 for the kernel). A row's values do not depend on the rows it is grouped with
   (the inputs zero in it add fma(0, w, c) = c), so the order changes no bit. */
enum { XW_BLOCK = 128, XW_SAMPLE = 96 };
_Static_assert(XW_SAMPLE <= XW_BLOCK, "xw_order sorts at most a block");

/* order <- 0..n−1 sorted by key (< 2^20), stable: two passes of a counting
   sort on 10-bit digits. */
static void xw_order(size_t n, const uint32_t *key, uint16_t *order) {
    uint16_t tmp[XW_BLOCK];
    uint32_t count[1025];
    for (int pass = 0; pass < 2; pass++) {
        const unsigned shift = pass ? 10 : 0;
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++) {
            const size_t row = pass ? tmp[i] : i;
            count[((key[row] >> shift) & 1023) + 1]++;
        }
        for (size_t v = 0; v < 1024; v++) count[v + 1] += count[v];
        for (size_t i = 0; i < n; i++) {
            const size_t row = pass ? tmp[i] : i;
            (pass ? order : tmp)[count[(key[row] >> shift) & 1023]++] = (uint16_t)row;
        }
    }
}

/* ------------------------------------------------------------ portable reference */

static void sparse_xw_portable(size_t n, size_t d, size_t h, const float *x, size_t ldx,
                               const float *w, size_t ldw, const float *b, float *r, size_t ldr) {
    for (size_t i = 0; i < n; i++) {
        const float *xi = x + i * ldx;
        float *ri = r + i * ldr;
        size_t end = d; /* planted fault: the last nonzero input left out */
        if (xw_fault)
            while (end > 0 && xi[end - 1] == 0) end--;
        if (xw_fault && end > 0) end--;
        for (size_t j = 0; j < h; j++) ri[j] = 0;
        for (size_t k = 0; k < end; k++) {
            if (xi[k] == 0) continue;
            const float *wr = w + k * ldw;
            for (size_t j = 0; j < h; j++) ri[j] = fmaf(xi[k], wr[j], ri[j]);
        }
        for (size_t j = 0; j < h; j++) {
            if (ri[j] == 0 && (!b || b[j] == 0))
                ri[j] = xw_dense_value(d, xi, w, ldw, b, j);
            else if (b)
                ri[j] = ri[j] + b[j];
        }
    }
}

/* ------------------------------------------------------------ the sets */

typedef void (*xw_fn)(size_t, size_t, size_t, const float *, size_t, const float *, size_t,
                      const float *, float *, size_t);
typedef size_t (*xw_sample_fn)(size_t, size_t, const float *, size_t);

#if defined(__GNUC__) && defined(__x86_64__)
#include <immintrin.h>

#define CR_SIMD_AVX2 1
#include "sparse_xw_simd.tmpl.h"
#undef CR_SIMD_AVX2

#define CR_SIMD_AVX512 1
#include "sparse_xw_simd.tmpl.h"
#undef CR_SIMD_AVX512

static const xw_fn sets[CR_ISA_COUNT] = {sparse_xw_portable, sparse_xw_avx2, sparse_xw_avx512};
static const xw_sample_fn samplers[CR_ISA_COUNT] = {NULL, xw_sample_avx2, xw_sample_avx512};
#else
static const xw_fn sets[CR_ISA_COUNT] = {sparse_xw_portable, NULL, NULL};
static const xw_sample_fn samplers[CR_ISA_COUNT] = {NULL, NULL, NULL};
#endif

/* Per set, the largest share of d (‰) the inputs listed for a group of the
   sampled rows may have for the kernel to beat the packed one: measured on
   the Zen 4 here (docs/benchmarks.md, "zero inputs in the batched first
   layer"), random inputs at every density, 10,000 rows × 784 × 128: AVX-512
   breaks even at ~95% (900 leaves a margin), AVX2 at ~65%. */
static const size_t pays_permille[CR_ISA_COUNT] = {0, 650, 900};

int cr_sparse_xw_pays(size_t n, size_t d, const float *x, size_t ldx) {
    const cr_isa isa = cr_isa_current();
    const xw_sample_fn f = samplers[isa];
    if (!f || xw_off || d == 0 || d > CR_SPARSE_XW_MAX_D) return 0;
    return f(n, d, x, ldx) <= pays_permille[isa];
}

void cr_sparse_xw_f32(size_t n, size_t d, size_t h, const float *x, size_t ldx, const float *w,
                      size_t ldw, const float *b, float *r, size_t ldr) {
    if (n == 0 || h == 0) return;
    if (d > CR_SPARSE_XW_MAX_D) { /* the vector variants' index list would not fit */
        sparse_xw_portable(n, d, h, x, ldx, w, ldw, b, r, ldr);
        return;
    }
    sets[cr_isa_current()](n, d, h, x, ldx, w, ldw, b, r, ldr);
}
