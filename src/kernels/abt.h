/*
 * C = A Bᵀ with B packed once (private to src/net), for the last factor of the
 * closed-form Jacobian, (M diag(a'_1)) W_1ᵀ: A is a chunk's stacked K×H
 * products with each example's a'_1 applied (m × k), B is W_1 (n × k = D × H),
 * C the chunk's Jacobians (m × n). The same W_1 packed the other way (B = W_1ᵀ) gives
 * the forward product x W_1, and with K = 1 row per example the input
 * gradient's last step (G ∘ a'_1) W_1ᵀ.
 *
 * Why not sgemm: at this shape (k = H is small, C is the largest array) the
 * BLAS zeroes C before accumulating into it, packs A on every call and reads C
 * back, so C crosses the memory bus three times. Here each element of C is
 * computed in registers over the whole k and written once, with non-temporal
 * stores when C is large; B is packed once per call of the
 * Jacobian and shared by the workers. Blocks for AVX-512 (14 rows × 32 columns
 * in registers) and AVX2 (up to 13 rows × 8 columns), chosen by the kernel set
 * (chainrule_typed.h, cr_isa); under the portable set cr_abt_available() is 0 and
 * the caller uses cr_gemm_f32. Each element is one fused multiply-add chain
 * over k in order, so AVX2 and AVX-512 give the same bits, and sgemm's values
 * up to rounding.
 */
#ifndef CR_KERNELS_ABT_H
#define CR_KERNELS_ABT_H

#include <stddef.h>

#include "chainrule.h"

enum { CR_ABT_ROWS = 14, CR_ABT_PANEL = 32 }; /* rows per block, columns per panel */

/* B in panels of 32 columns of C. The panels start `shift` columns before
   column 0 (0 <= shift < 16) so that they line up with 64-byte lines of a C
   whose rows begin `shift` floats after a line boundary: then every whole
   panel is two aligned, streamable stores, whatever malloc returned. */
typedef struct {
    size_t n, k;   /* B is n × k */
    size_t shift;  /* panel p holds the columns j = 32 p + c − shift, c < 32 */
    size_t panels; /* ceil((n + shift) / 32) */
    float *data;   /* panel p, row h: 32 values B[j][h], 0 where j is outside [0, n) (owned) */
    int finite;    /* every value of B is finite: with B = W_1ᵀ, the forward product may skip
                      zero inputs (kernels/sparse_xw.h) */
} cr_abt_packed;

/* 1 if the kernel set in use has the kernel (AVX2 or AVX-512). */
int cr_abt_available(void);
/* 1 if the products with W_1 (d × h) of the float32 input derivatives and
   Jacobians run on this kernel: the kernel set has it and W_1 fits a core's
   L2 (1 MiB); else they are sgemm. */
static inline int cr_abt_pays(size_t d, size_t h) {
    return cr_abt_available() && d * h * sizeof(float) <= ((size_t)1 << 20);
}
/* The shift that lines the panels up with C: (c mod 64) / 4 when the row
   stride keeps every row at that offset (ldc a multiple of 16), else 0. */
size_t cr_abt_shift_for(const float *c, size_t ldc);
/* Packs B (n × k, row stride ldb), or with trans, B given as Bᵀ (k × n, row
   stride ldb); out->data is owned, free with cr_abt_free. */
cr_status cr_abt_pack(size_t n, size_t k, const float *b, size_t ldb, int trans, size_t shift,
                      cr_abt_packed *out);
void cr_abt_free(cr_abt_packed *p);
/* C <- A Bᵀ for n_ex examples of kr rows each (A: n_ex·kr × k, row stride
   lda, read in place; C: n_ex·kr × n, row stride ldc). With `derived`
   (2 <= kr <= CR_ABT_ROWS), the rows of each example of C are known to sum to
   zero, as those of ∂ŷ/∂x do (Σ_c ŷ_c = 1 for every x): row derived[i] is not
   multiplied out but set to minus the sum of the example's other rows, which
   saves 1/kr of the work. */
void cr_abt_gemm(size_t n_ex, size_t kr, const float *a, size_t lda, const size_t *derived,
                 const cr_abt_packed *b, float *c, size_t ldc);

/*
 * Test hook (mutation tests, like cr_act_replace for the activations): from
 * now on every call of cr_abt_gemm — the forward product x W_1 and the last
 * product G W_1ᵀ of the input gradients, and the closed-form Jacobian's
 * (M diag(a'_1)) W_1ᵀ — runs `kernel` instead, with the same arguments, until
 * cr_abt_restore. A test installs a deliberately wrong kernel and checks that
 * the verification library (chainrule_check.h) catches and names it.
 * Not thread-safe: call it while no other thread is inside the library.
 * Returns CR_ERR_ARG for NULL.
 */
typedef void (*cr_abt_gemm_fn)(size_t n_ex, size_t kr, const float *a, size_t lda,
                               const size_t *derived, const cr_abt_packed *b, float *c,
                               size_t ldc);
cr_status cr_abt_replace(cr_abt_gemm_fn kernel);
/* Puts back the kernel selected for the CPU (undoes cr_abt_replace). */
void cr_abt_restore(void);

#endif
