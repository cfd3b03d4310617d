/** @file leakcheck.h
 * leakcheck: Go's goleak for threads. A check fails if a thread that was not
 * alive when it began is still alive when it ends, after waiting for such
 * threads to finish with goleak's growing pauses (1 µs, doubling, at most
 * 100 ms apart) up to a deadline. The threads are the kernel's
 * (/proc/self/task), so a thread started with plain pthread_create counts
 * too; the report is the census's grouped dump of the leaked ones: for a
 * thread started with tl_go(), where it was started and where it blocks.
 *
 * In any test framework, or none:
 *
 *     tl_leakcheck_t *check = tl_leakcheck_begin();  // goleak.IgnoreCurrent()
 *     run_the_code_under_test();
 *     if (tl_leakcheck_end(check, stderr) != 0)      // goleak.VerifyNone(t)
 *         return EXIT_FAILURE;
 *
 * (Not inside assert(): a build with NDEBUG would drop the check.)
 *
 * With Check, begin in a checked fixture's setup and end in its teardown
 * with ck_assert_int_eq; with cmocka, in setup and teardown functions with
 * assert_int_equal. For goleak.VerifyTestMain, begin first thing in main
 * and end after the last test.
 *
 * Threads: a check belongs to one thread at a time (begin, set, end). Two
 * checks may run on two threads at once, but each counts every thread the
 * process started meanwhile, the other's too.
 */
#ifndef THREADLEAKS_LEAKCHECK_H
#define THREADLEAKS_LEAKCHECK_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A leak check, from tl_leakcheck_begin to tl_leakcheck_end. */
typedef struct tl_leakcheck tl_leakcheck_t;

/** Starts a check: every thread alive now is not a leak (goleak's
 * IgnoreCurrent). Also starts the census (census.h) so that threads started
 * from now on can be reported with their start sites, and lets a
 * sanitizer's helper thread start first, so it is not taken for a leak.
 * Returns NULL with errno set: ENOMEM, EBUSY if a hook other than the
 * census's is set (hook.h), or why /proc could not be read. */
tl_leakcheck_t *tl_leakcheck_begin(void);

/** goleak's IgnoreTopFunction, in C terms: threads named name are not
 * leaks. Compared as the kernel keeps names: the first 15 bytes, so the
 * name given to tl_go matches however long it was. Returns 0, or ENOMEM. */
int tl_leakcheck_ignore_name(tl_leakcheck_t *check, const char *name);

/** goleak's IgnoreAnyFunction, in C terms: threads that tl_go() started from
 * function func are not leaks. Returns 0, or ENOMEM. */
int tl_leakcheck_ignore_created_by(tl_leakcheck_t *check, const char *func);

/** How long tl_leakcheck_end waits for new threads to finish: ms
 * milliseconds (default TL_LEAKCHECK_WAIT_MS; goleak's is about as long). */
enum { TL_LEAKCHECK_WAIT_MS = 2000 };
/** Sets how long tl_leakcheck_end waits, in milliseconds. */
void tl_leakcheck_set_wait(tl_leakcheck_t *check, int64_t ms);

/** Ends the check and frees it. Waits until no thread the check did not know
 * at its start (and does not ignore) is alive, or until the wait is over;
 * then returns how many such threads are alive: 0 means no leak. If report
 * is not NULL, a failing check writes there how many leaked and the grouped
 * dump of them. Returns -1 with errno set if /proc cannot be read. */
int tl_leakcheck_end(tl_leakcheck_t *check, FILE *report);

#ifdef __cplusplus
}
#endif

#endif
