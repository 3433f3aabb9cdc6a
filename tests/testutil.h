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
/* Path inside tu_tmpdir(); returns a static buffer rotated over 8 slots. */
const char *tu_path(const char *name);
/* Runs a shell command, returns its exit status (or -1). Output to files only. */
int tu_system(const char *cmd);
/* Writes bytes to a file; returns 0 on success. */
int tu_write_file(const char *path, const void *data, size_t len);
int tu_file_exists(const char *path);

#endif
