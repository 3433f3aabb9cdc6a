/* Failing with a detail (cr_last_error) inside libchainrule. Not installed. */
#ifndef CR_CORE_FAIL_H
#define CR_CORE_FAIL_H

#include "chainrule.h"

/* Sets the calling thread's detail line (printf-style; made one printable line)
   and returns status. Declared for the layers above the core in chainrule_io.h. */
cr_status cr_fail(cr_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* A failure with no more to say than the function's name and the status:
   "cr_tape_create: invalid argument". */
#define CR_FAIL(status) cr_fail((status), "%s: %s", __func__, cr_status_string(status))

#endif
