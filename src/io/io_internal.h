/* Private helpers shared by the io layer (src/io/ *.c). Not installed. */
#ifndef CR_IO_INTERNAL_H
#define CR_IO_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "chainrule_io.h"

/* A public io function's status from an internal result: 0 -> CR_OK; a status
   (> 0, from cr_fail or a public function) as it is; -1 (a helper that failed
   after setting the detail) -> the status that failure recorded. */
static inline cr_status cr_io_status(int rc) {
    if (rc == 0) return CR_OK;
    if (rc > 0) return (cr_status)rc;
    cr_status st = cr_last_status();
    return st != CR_OK ? st : CR_ERR_FORMAT;
}

/* Longest untrusted name (tensor name, metadata key) quoted in an error. */
#define CR_IO_NAME_MAX 120

/* The metadata key of a model's `extra` under which the ONNX import notes its graph's
   input shape when it is not [N, D] ("[N, 3, 32, 32]"; `chainrule info` shows it). The
   safetensors writer leaves it out: the model file's input is D values per example. */
#define CR_IO_ONNX_INPUT_SHAPE "onnx.input_shape"

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
cr_status cr_io_safetensors_write_views(const char *path, size_t n_tensors, const char *const *names,
                                  const cr_array *const *arrays, size_t n_meta,
                                  const char *const *keys, const char *const *values);

/* BatchNorm links in safetensors models (model_batchnorm.c, docs/batchnorm.md).
   cr_io_bn_tensor: i > 0 for "bn<i>.weight|bias|running_mean|running_var" (which: 0-3
   in that order, may be NULL); cr_io_bn_meta: i > 0 for "bn<i>.eps". cr_io_bn_read
   checks them and sets the links of net (made from the file's fc tensors); -1 with
   err naming the file and the tensor. cr_io_bn_count: the links to write;
   cr_io_bn_views: link l + 1's four tensors (borrowed views, names in nm) and its
   eps metadata entry. */
typedef struct {
    char tensor[4][32], key[32], value[32];
} cr_io_bn_names;
int cr_io_bn_tensor(const char *name, int *which);
int cr_io_bn_meta(const char *key);
cr_status cr_io_bn_read(const char *name, const cr_safetensors *st, cr_net *net);
size_t cr_io_bn_count(const cr_net *net);
void cr_io_bn_views(const cr_net *net, int l, cr_io_bn_names *nm, cr_array arrs[4],
                    const char **names, const cr_array **views, const char **key,
                    const char **value);

/* The model in a parsed safetensors file (model.c); keep_extra: keep the tensors
   and metadata that are not the model's in out->extra. */
cr_status cr_io_model_build(const char *name, const cr_safetensors *st, cr_model *out, int keep_extra);

#endif
