/* What a test expects of the servers it runs: that they start, that they
 * stop cleanly, and, when an assertion fails, that every one of them is
 * stopped first, so that a sanitizer in them still reports what it found.
 * The Check half of tools/proc/proc.h: the tools use that one alone. */
#ifndef TESTS_CHAPTER_EXPECT_H
#define TESTS_CHAPTER_EXPECT_H

#include "proc.h"

/* server_spawn, failing the test if the server does not start. */
void server_start(struct child *s, const char *path, double scale, const char *extra,
                  const char *value);

/* SIGTERM; the server must exit 0 within 5 s (its bound is 1 s: the rest is
 * room for a slow machine). Then removes its files. Fails the test if not. */
void server_stop_cleanly(struct child *s);

/* ck_assert_msg for a test that runs servers: when cond is false, formats the
 * message (a dump in it is taken while the server still runs), stops every
 * server the test started with SIGTERM, so that a sanitizer in them still
 * reports what it found, and fails. Check ends a failed test with _exit, so
 * nothing would stop them afterwards. */
#define server_assert(cond, ...)       \
    do {                               \
        if (!(cond))                   \
            server_fail(__VA_ARGS__);  \
    } while (0)
_Noreturn void server_fail(const char *format, ...);

#endif
