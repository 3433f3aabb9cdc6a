/* Shared helpers for the cmocka tests. */
#ifndef CR_TESTUTIL_H
#define CR_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "chainrule.h"

/* Fills a with values uniform in [lo, hi) from a seeded generator. */
void tu_fill_uniform(double *a, size_t n, double lo, double hi, uint64_t seed);
/* max_i |a_i - b_i| / max(max_i |b_i|, tiny): relative error of a against reference b. */
double tu_max_rel_err(const double *a, const double *b, size_t n);
double tu_max_abs(const double *a, size_t n);
/* A temporary directory unique to this process, created on first use. */
const char *tu_tmpdir(void);
/* Removes tu_tmpdir() and everything in it (call at the end of main). */
void tu_cleanup(void);
/* Path inside tu_tmpdir(); returns a static buffer rotated over 8 slots. */
const char *tu_path(const char *name);
/* Runs a shell command, returns its exit status (or -1). Output to files only. */
int tu_system(const char *cmd);
/* Writes bytes to a file; returns 0 on success. */
int tu_write_file(const char *path, const void *data, size_t len);
int tu_file_exists(const char *path);

/* cmocka checks shared by the tests (they fail the current test on violation). */
/* Relative error of a against ref must be <= tol; *worst keeps the largest seen. */
void tu_check_close(const double *a, const double *ref, size_t n, double tol, double *worst,
                    const char *what);
/* A checked gradient/Jacobian must not be (almost) zero: no vacuous passes. */
void tu_check_nontrivial(const double *g, size_t n, const char *what);
/* Zeroed arrays that fail the test if allocation fails. */
double *tu_dalloc(size_t n);
float *tu_falloc(size_t n);
/* Number of "*.tmp.*" files (leftovers of atomic writes) in tu_tmpdir(). */
int tu_count_tmp_files(void);
/* A whole file read with cr_read_file (fails the test on error); caller frees. */
unsigned char *tu_slurp(const char *path, size_t *len);

/* A float64 net's outputs at x by plain loops in long double, independent of the library's
   passes (an oracle for the bounds' tests): hidden activations sigmoid, tanh, else relu;
   pre (or NULL): the hidden layers' pre-activations, layer l's at pre + l * stride. Widths
   up to 64. */
void tu_forward_ld(const cr_net *net, const long double *x, long double *pre, size_t stride, long double *out);

#endif
