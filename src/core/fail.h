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

/* The longest detail line kept, with its terminating NUL. */
enum { CR_DETAIL_MAX = 512 };

/* How many failures the calling thread has recorded (every cr_fail counts one):
   two readings around a call tell whether it wrote a detail of its own. */
unsigned long cr_fail_count(void);
/* The status of the thread's last failure (also declared in chainrule_io.h). */
cr_status cr_last_status(void);

/* An allocation failure: CR_ERR_NOMEM with the line "WHO: out of memory for BYTES bytes"
   ("WHO: out of memory" when bytes is 0, not known). */
cr_status cr_fail_nomem(const char *who, size_t bytes);

/* A failure with no more to say than the function's name and the status:
   "cr_tape_create: invalid argument". */
#define CR_FAIL(status) cr_fail((status), "%s: %s", __func__, cr_status_string(status))

/* CR_OK when every labels[i] (i < n) is in [0, k); else CR_ERR_ARG with the first
   one out of range named: "WHO: NAME[5] = 12 is not in [0, 10)". */
cr_status cr_check_labels(const char *who, const char *name, size_t n, const cr_label *labels, size_t k);

#endif
