/* Private helpers shared by the io layer (src/io/ *.c). Not installed. */
#ifndef CR_IO_INTERNAL_H
#define CR_IO_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "chainrule_io.h"

/* Longest untrusted name (tensor name, metadata key) quoted in an error. */
#define CR_IO_NAME_MAX 120

/* Little-endian loads/stores, independent of the host's byte order. */
static inline uint64_t cr_io_le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}
static inline uint32_t cr_io_le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void cr_io_put_le64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static inline void cr_io_put_le32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* 1 when the host stores integers little-endian (the order of both file formats). */
int cr_io_host_is_le(void);
/* Reverses the bytes of each of count elements of size es (es in 1, 2, 4, 8). */
void cr_io_swap_bytes(void *data, size_t count, size_t es);
/* Writes count elements of size es to fp in little-endian order; 0 on success. */
int cr_io_write_le(FILE *fp, const void *data, size_t count, size_t es);

/* Byte size of an array's data, checked (1 on success, 0 on overflow/bad dtype). */
int cr_io_array_bytes(const cr_array *a, size_t *bytes);
/* "[3, 4]" into buf (always NUL-terminated, truncated with "..." if needed). */
const char *cr_io_shape_str(const size_t *shape, int ndim, char *buf, size_t size);

/* Writes a safetensors file from borrowed views (no copies); atomic. */
int cr_io_safetensors_write_views(const char *path, size_t n_tensors, const char *const *names,
                                  const cr_array *const *arrays, size_t n_meta,
                                  const char *const *keys, const char *const *values,
                                  cr_error *err);

/* The model in a parsed safetensors file (model.c); keep_extra: keep the tensors
   and metadata that are not the model's in out->extra. */
int cr_io_model_build(const char *name, const cr_safetensors *st, cr_model *out, int keep_extra,
                      cr_error *err);

#endif
