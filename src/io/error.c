/* The io layer's one-line error messages. */
#include <stdarg.h>
#include <stdio.h>

#include "chainrule_io.h"

int cr_error_set(cr_error *err, const char *fmt, ...) {
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    if (n < 0) err->msg[0] = '\0';
    /* One line, printable: file and tensor names come from untrusted input. */
    for (char *p = err->msg; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f) *p = '?';
    }
    return -1;
}
