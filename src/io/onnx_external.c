/*
 * ONNX external data (TensorProto data_location EXTERNAL): the bytes of a
 * tensor kept in another file of the model's folder. Everything that touches
 * the file system on behalf of an untrusted model is here, to be audited alone:
 * a plain file name (no folder, no "..", not absolute), opened O_NOFOLLOW and
 * O_NONBLOCK, a regular file, offset and length checked against its size
 * before the buffer is allocated.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "onnx_internal.h"

/* Reads bytes [offset, offset + need) of the external file x->location in the
   model's folder into *out (malloc'd). The location must be a plain file name
   (no folder, no "..", not absolute) naming a regular file that is not a
   symbolic link; offset and length are checked against its size before the
   buffer is allocated. */
int ox_read_external(ox_ctx *c, const char *tensor, const ox_external *x, size_t need,
                     unsigned char **out) {
    const char *loc = x->location;
    *out = NULL;
    if (!c->dir)
        return cr_fail(CR_ERR_FORMAT, "%s: tensor '%s' keeps its data in the external file '%s', "
                                    "which is read only when the model is loaded from its file",
                            c->file, pn(tensor).s, pn(loc).s);
    if (!loc[0] || strchr(loc, '/') || strchr(loc, '\\') || !strcmp(loc, ".") ||
        !strcmp(loc, ".."))
        return cr_fail(CR_ERR_FORMAT, "%s: tensor '%s': external data location '%s' is not a plain "
                                    "file name in the model's folder (no folders, no absolute "
                                    "path, no '..')", c->file, pn(tensor).s, pn(loc).s);
    if (x->has_length && x->length != need)
        return cr_fail(CR_ERR_FORMAT, "%s: tensor '%s': external data length %llu in '%s', but the "
                                    "tensor needs %zu bytes", c->file, pn(tensor).s,
                            (unsigned long long)x->length, pn(loc).s, need);
    size_t dl = strlen(c->dir), ll = strlen(loc);
    char *path = malloc(dl + ll + 2);
    if (!path) return cr_fail(CR_ERR_NOMEM, "%s: out of memory", c->file);
    if (dl) memcpy(path, c->dir, dl), path[dl++] = '/';
    memcpy(path + dl, loc, ll + 1);
    /* O_NONBLOCK: a FIFO in a hostile folder must not block the open (fstat then refuses it);
       it does not change reads of a regular file */
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    free(path);
    struct stat st;
    const char *problem = NULL;
    if (fd < 0) problem = errno == ELOOP ? "is a symbolic link (not followed)" : strerror(errno);
    else if (fstat(fd, &st) != 0) problem = strerror(errno);
    else if (!S_ISREG(st.st_mode)) problem = "is not a regular file";
    else if (st.st_size < 0 || (uint64_t)st.st_size < x->offset ||
             (uint64_t)st.st_size - x->offset < need) {
        cr_fail(CR_ERR_FORMAT, "%s: tensor '%s': external data at offset %llu, %zu bytes, lies "
                             "beyond the end of '%s' (%lld bytes)", c->file, pn(tensor).s,
                     (unsigned long long)x->offset, need, pn(loc).s, (long long)st.st_size);
        close(fd);
        return -1;
    } else if (!x->has_length && (uint64_t)st.st_size - x->offset != need) {
        /* onnx reads to the end of the file when no length is given */
        cr_fail(CR_ERR_FORMAT, "%s: tensor '%s': external data file '%s' holds %llu bytes after "
                             "offset %llu, but the tensor needs %zu (and no length is given)",
                     c->file, pn(tensor).s, pn(loc).s,
                     (unsigned long long)((uint64_t)st.st_size - x->offset),
                     (unsigned long long)x->offset, need);
        close(fd);
        return -1;
    }
    unsigned char *buf = problem ? NULL : malloc(need ? need : 1);
    if (!problem && !buf) problem = "out of memory";
    for (size_t got = 0; !problem && got < need;) {
        ssize_t n = pread(fd, buf + got, need - got, (off_t)(x->offset + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) problem = n < 0 ? strerror(errno) : "file shrank while being read";
        else got += (size_t)n;
    }
    if (fd >= 0) close(fd);
    if (problem) {
        free(buf);
        return cr_fail(CR_ERR_FORMAT, "%s: tensor '%s': external data file '%s': %s", c->file,
                            pn(tensor).s, pn(loc).s, problem);
    }
    *out = buf;
    return 0;
}
