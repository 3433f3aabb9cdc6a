/* Whole-file reads and the byte-order helpers of the io layer. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io_internal.h"

int cr_io_host_is_le(void) {
    const uint16_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

void cr_io_swap_bytes(void *data, size_t count, size_t es) {
    unsigned char *p = data;
    if (es <= 1) return;
    for (size_t i = 0; i < count; i++, p += es)
        for (size_t a = 0, b = es - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
}

int cr_io_write_le(FILE *fp, const void *data, size_t count, size_t es) {
    if (count == 0) return 0;
    if (es <= 1 || cr_io_host_is_le()) return fwrite(data, es, count, fp) == count ? 0 : -1;
    unsigned char tmp[4096];
    const unsigned char *p = data;
    size_t per = sizeof tmp / es;
    while (count > 0) {
        size_t n = count < per ? count : per;
        memcpy(tmp, p, n * es);
        cr_io_swap_bytes(tmp, n, es);
        if (fwrite(tmp, es, n, fp) != n) return -1;
        p += n * es;
        count -= n;
    }
    return 0;
}

cr_status cr_read_file(const char *path, size_t max_bytes, unsigned char **buf, size_t *len) {
    if (buf) *buf = NULL;
    if (len) *len = 0;
    if (!path || !buf || !len) return cr_fail(CR_ERR_ARG, "%s: invalid argument", path ? path : "(null)");
    FILE *fp = fopen(path, "rb");
    if (!fp) return cr_fail(CR_ERR_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0) {
        int e = errno;
        fclose(fp);
        return cr_fail(CR_ERR_IO, "%s: %s", path, strerror(e));
    }
    if (S_ISDIR(st.st_mode)) {
        fclose(fp);
        return cr_fail(CR_ERR_IO, "%s: is a directory", path);
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(fp);
        return cr_fail(CR_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size < 0 || (uintmax_t)st.st_size > (uintmax_t)max_bytes) {
        fclose(fp);
        return cr_fail(CR_ERR_FORMAT, "%s: file size %jd exceeds the limit of %zu bytes", path,
                            (intmax_t)st.st_size, max_bytes);
    }
    size_t size = (size_t)st.st_size;
    unsigned char *data = malloc(size ? size : 1);
    if (!data) {
        fclose(fp);
        return cr_fail(CR_ERR_NOMEM, "%s: out of memory reading %zu bytes", path, size);
    }
    size_t got = size ? fread(data, 1, size, fp) : 0;
    int rd_err = ferror(fp), e = errno;
    int extra = got == size && !rd_err && fgetc(fp) != EOF;
    fclose(fp);
    if (rd_err) {
        free(data);
        return cr_fail(CR_ERR_IO, "%s: read error: %s", path, strerror(e));
    }
    if (got != size || extra) {
        free(data);
        return cr_fail(CR_ERR_FORMAT, "%s: file changed size while being read", path);
    }
    *buf = data;
    *len = size;
    return CR_OK;
}
