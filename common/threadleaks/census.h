/** @file census.h
 * census: how many threads a process has, and where they are blocked.
 *
 * The count comes from the kernel (/proc/PID/task), never from our own
 * bookkeeping, so it includes threads we did not start. The dump is grouped
 * like Go's /debug/pprof/goroutine?debug=1: threads started with tl_go() that
 * stand in the same state at the same file:line under the same name form one
 * group, largest first, with how long they have been blocked there.
 *
 * A thread blocked on channels that nobody else holds any more (every
 * remaining reference belongs to threads blocked on them, and no deadline
 * will end the wait) is marked "leaked": nothing can ever wake it. This is Go
 * 1.26's goroutineleak profile, computed from reference counts instead of the
 * garbage collector, so it is only as good as the references: a thread that
 * uses a channel without holding a reference to it makes the mark wrong.
 * Context done channels and timer channels are never marked: whoever holds
 * the context may still cancel it, and the timer's holder may reset it.
 *
 * With TL_LATE_WAKE_MS=N in the environment, every thread started with
 * tl_go() but those named "handler" waits N ms after each wake-up before it
 * runs on (./lab check sets it): a thread that uses what another frees on
 * waking (a worker reading its handler's borrowed context) then always uses
 * it after the free, where AddressSanitizer sees it.
 *
 * Threads: every function may be called from any thread at once; what it
 * returns is a moment's picture, which other threads may change at once.
 */
#ifndef THREADLEAKS_CENSUS_H
#define THREADLEAKS_CENSUS_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "hook.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Starts watching the threads tl_go() starts from now on (sets the hook,
 * hook.h), so that the dump can say where each was started and where it
 * blocks. Every function below calls it; call it yourself before starting
 * threads you want to see. Returns 0, or EBUSY if another hook is set. */
int tl_census_start(void);

/** The number of live threads of this process, or of process pid; -1 with
 * errno set if /proc cannot be read (pid has exited, say). */
int tl_census_threads(void);
/** The same for process pid. */
int tl_census_threads_of(pid_t pid);

/** Polls tl_census_threads_of(pid) (pid 0: this process) with growing waits, as
 * Go's goleak does, until it equals want or the deadline (clock.h) passes.
 * Returns the last count seen. A thread stays listed for a moment after it
 * returns, so read the count this way, never once. */
int tl_census_settle(pid_t pid, int want, int64_t deadline);

/** Starts and joins one thread, then waits until the kernel no longer lists
 * it. A sanitizer's runtime may start a helper thread with the first thread a
 * process creates (ThreadSanitizer does): after this, a baseline count
 * includes it. Returns 0, or pthread_create's errno value. */
int tl_census_warm_up(void);

/** Writes the grouped dump of this process's threads to out. */
void tl_census_dump(FILE *out);

/** The same dump of just the n threads tids lists (kernel thread ids), with
 * no "threads:" line: what the leak check reports. */
void tl_census_dump_threads(FILE *out, const pid_t *tids, int n);

/** The function that started thread tid with tl_go() (pprof's "created by"),
 * or NULL if the census does not know tid: not started with tl_go(),
 * started before the census, or still starting or just returned. */
const char *tl_census_created_by(pid_t tid);

#ifdef __cplusplus
}
#endif

#endif
