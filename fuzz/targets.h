/*
 * fuzz/targets.h — the bodies of the libFuzzer targets, shared by the fuzzer
 * entry points (fuzz/fuzz_*.c) and the regression replay test
 * (tests/test_fuzz_replay.c), so that a crash input committed under
 * tests/fuzz-regressions/<target>/ is replayed through exactly the code that
 * found it.
 *
 * Each target returns 0 (libFuzzer's convention) and calls abort() when a
 * contract of the io layer is broken even though no sanitizer fired: an error
 * message that is empty, longer than one line, or does not start with the
 * name given to the parser; or a "successful" result that is inconsistent.
 */
#ifndef CR_FUZZ_TARGETS_H
#define CR_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

int cr_fuzz_npy(const uint8_t *data, size_t size);
int cr_fuzz_safetensors(const uint8_t *data, size_t size);
int cr_fuzz_idx(const uint8_t *data, size_t size);
int cr_fuzz_csv(const uint8_t *data, size_t size);
int cr_fuzz_model(const uint8_t *data, size_t size);
int cr_fuzz_onnx(const uint8_t *data, size_t size);
int cr_fuzz_vnnlib(const uint8_t *data, size_t size);
int cr_fuzz_json(const uint8_t *data, size_t size);

typedef struct {
    const char *name; /* also the corpus folder: tests/fuzz-corpus/<name>/ */
    int (*run)(const uint8_t *data, size_t size);
} cr_fuzz_target;

extern const cr_fuzz_target cr_fuzz_targets[];
extern const size_t cr_fuzz_n_targets;

#endif
