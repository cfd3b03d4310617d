#include "expect.h"

#include <check.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include <signal.h>

void server_start(struct child *s, const char *path, double scale, const char *extra,
                  const char *value)
{
    ck_assert_msg(server_spawn(s, path, scale, extra, value) == 0,
                  "%s never said it was listening: %s", path, server_stderr(s));
}

void server_fail(const char *format, ...)
{
    /* Check refuses a message of 4 KiB or more, and reports an error instead. */
    static char message[3600];
    va_list ap;
    va_start(ap, format);
    if (vsnprintf(message, sizeof message, format, ap) >= (int)sizeof message)
        strcpy(message + sizeof message - 8, "\n[...]\n");
    va_end(ap);
    servers_stop_all();
    ck_abort_msg("%s", message);
}

void server_stop_cleanly(struct child *s)
{
    int ok = server_stop(s, SIGTERM, 5000);
    const char *said = server_stderr(s);
    server_cleanup(s);
    server_assert(ok, "the server did not exit within 5 s of SIGTERM: %s", said);
    bool clean = WIFEXITED(s->status) && WEXITSTATUS(s->status) == 0;
    /* A sanitizer's report at exit is not this test's finding: what it
     * checked went right, and the report says what did not. */
    const char *reporter =
        strstr(said, "ERROR: LeakSanitizer") ? "LeakSanitizer reported a fault"
        : strstr(said, "ERROR: AddressSanitizer") ? "AddressSanitizer reported a fault"
        : strstr(said, "runtime error:") ? "UBSan reported a fault"
        : strstr(said, "WARNING: ThreadSanitizer") ? "ThreadSanitizer reported a fault"
        : strstr(said, "never released (each context") ? "it found channels never released"
                                                        : NULL;
    server_assert(clean || !reporter,
                  "what this test checks went right, but when the server stopped, %s (%s). "
                  "It said:\n%s",
                  reporter, server_exit_text(s), said);
    server_assert(clean, "the server did not exit cleanly (%s) when stopped. It said:\n%s",
                  server_exit_text(s), said);
}
