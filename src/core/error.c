/* The detail of the last failure on the calling thread (chainrule.h, cr_last_error). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "chainrule_io.h"
#include "fail.h"

static _Thread_local char cr_detail[CR_DETAIL_MAX];
static _Thread_local cr_status cr_detail_status;
static _Thread_local unsigned long cr_detail_count; /* failures recorded on this thread */

const char *cr_last_error(void) { return cr_detail; }

cr_status cr_last_status(void) { return cr_detail_status; }

unsigned long cr_fail_count(void) { return cr_detail_count; }

static cr_status cr_failv(cr_status status, const char *fmt, va_list ap) {
    /* Formatted apart first: an argument may be cr_last_error() itself (a caller
       prefixing its file name to a callee's line). */
    char line[CR_DETAIL_MAX];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    if (n < 0) line[0] = '\0';
    /* One line, printable: file and tensor names come from untrusted input. */
    for (char *p = line; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f) *p = '?';
    }
    memcpy(cr_detail, line, sizeof line);
    cr_detail_status = status;
    cr_detail_count++;
    return status;
}

cr_status cr_fail(cr_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    cr_failv(status, fmt, ap);
    va_end(ap);
    return status;
}

cr_status cr_fail_nomem(const char *who, size_t bytes) {
    if (bytes) return cr_fail(CR_ERR_NOMEM, "%s: out of memory for %zu bytes", who, bytes);
    return cr_fail(CR_ERR_NOMEM, "%s: out of memory", who);
}

cr_status cr_check_labels(const char *who, const char *name, size_t n, const cr_label *labels, size_t k) {
    for (size_t i = 0; i < n; i++)
        if (labels[i] < 0 || (uint64_t)labels[i] >= k)
            return cr_fail(CR_ERR_ARG, "%s: %s[%zu] = %lld is not in [0, %zu)", who, name, i,
                           (long long)labels[i], k);
    return CR_OK;
}
