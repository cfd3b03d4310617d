/* What every unit test shares: each test runs in its own Check child process,
 * starts from that child's thread count and must end with it again (polled
 * with a deadline, never read once), and lives in a TCase of its own name so
 * that ctest can run it alone with CK_RUN_CASE. */
#ifndef TESTS_UNIT_H
#define TESTS_UNIT_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>

/* Adds test fn to suite s in a TCase named after it, with the baseline check. */
#define UNIT_ADD(s, fn) unit_add((s), #fn, (fn), 0)
/* The same with a longer timeout than Check's 4 s, in seconds. */
#define UNIT_ADD_TIMEOUT(s, fn, timeout) unit_add((s), #fn, (fn), (timeout))
void unit_add(Suite *s, const char *name, const TTest *fn, double timeout);

/* Runs the suite (or the one case CK_RUN_CASE names); returns the exit code.
 * Running no test at all is a failure: a misspelled case must not pass. */
int unit_run(Suite *s);

/* Polls until pred(arg) is true or ms milliseconds pass; returns pred's last
 * answer. Tests wait for conditions this way, never with a bare sleep. */
int unit_eventually(int (*pred)(void *arg), void *arg, int64_t ms);

/* The census groups of threads named name in state ("chan_send", ...), added
 * up; with leaked set, only the groups marked leaked. */
int unit_census_count(const char *name, const char *state, bool leaked);

/* The longest the census shows a thread named name blocked in state, in ms
 * (its dump's tenths of a second, in the story's time at another time
 * scale), or -1 if none is. */
int unit_census_blocked_ms(const char *name, const char *state);

/* How much slower than a plain build this one runs: TEST_SLOWDOWN from the
 * build (1, or 4 under a sanitizer, which slows every thread start and exit
 * by an order of magnitude). Time bounds on what a server does are
 * multiplied by it, and say so when they fail. */
int unit_slowdown(void);

/* Runs fn(arg) in a child process and asserts that it panics as Go would:
 * its stderr says "panic: " then message, and it dies of SIGABRT. */
void unit_assert_panics(void (*fn)(void *arg), void *arg, const char *message);

/* Polls for up to 2 s until exactly count threads named name are in state. */
int unit_blocked(int count, const char *name, const char *state);

#endif
