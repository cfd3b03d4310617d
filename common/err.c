/* The words for an error (err.h). */
#undef _GNU_SOURCE /* the XSI strerror_r below, even where a build defines it */
#include "threadleaks/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *tl_err_text(int err)
{
    static _Thread_local char text[128];
    switch (err) {
    case ECANCELED: return "context canceled";
    case ETIMEDOUT: return "context deadline exceeded";
    }
    /* strerror is not thread-safe in POSIX; the XSI strerror_r is. */
    if (strerror_r(err, text, sizeof text) != 0)
        snprintf(text, sizeof text, "error %d", err);
    return text;
}
