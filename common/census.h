/* census: how many threads a process has, and where they are blocked.
 *
 * The count comes from the kernel (/proc/PID/task), never from our own
 * bookkeeping, so it includes threads we did not start. The dump is grouped
 * like Go's /debug/pprof/goroutine?debug=1: threads started with go() that
 * stand in the same state at the same file:line under the same name form one
 * group, largest first, with how long they have been blocked there.
 *
 * A thread blocked on channels that nobody else holds any more (every
 * remaining reference belongs to threads blocked on them, and no deadline
 * will end the wait) is marked "leaked": nothing can ever wake it. This is Go
 * 1.26's goroutineleak profile, computed from reference counts instead of the
 * garbage collector, so it is only as good as the references: a thread that
 * uses a channel without holding a reference to it makes the mark wrong.
 * Context done channels are never marked: whoever holds the context may still
 * cancel it.
 */
#ifndef COMMON_CENSUS_H
#define COMMON_CENSUS_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* The number of live threads of this process, or of process pid; -1 with
 * errno set if /proc cannot be read (pid has exited, say). */
int census_threads(void);
int census_threads_of(pid_t pid);

/* Polls census_threads_of(pid) (pid 0: this process) with growing waits, as
 * Go's goleak does, until it equals want or the deadline (clock.h) passes.
 * Returns the last count seen. A thread stays listed for a moment after it
 * returns, so read the count this way, never once. */
int census_settle(pid_t pid, int want, int64_t deadline);

/* Starts and joins one thread, then waits until the kernel no longer lists
 * it. A sanitizer's runtime may start a helper thread with the first thread a
 * process creates (ThreadSanitizer does): after this, a baseline count
 * includes it. Returns 0, or -1 if no thread could be started. */
int census_warm_up(void);

/* Writes the grouped dump of this process's threads to out. */
void census_dump(FILE *out);

/* One thread started with go(), as census_each sees it. */
struct census_thread {
    pid_t tid;
    const char *name;
    const char *state;      /* "running", "chan_send", ... */
    const char *file;       /* where it blocks (full __FILE__), or NULL */
    int line;
    const char *created_func, *created_file;
    int created_line;
};

/* For trace.c, as a recording begins: calls fn for each thread started with
 * go() that is alive and not yet known to recording generation, and marks
 * it known, with its record locked (fn may only record). From then on the
 * thread's blocks, wakes and exit reach the trace; a thread that starts
 * during the recording announces itself. */
void census_trace_found(unsigned generation,
                        void (*fn)(const struct census_thread *t, void *arg), void *arg);

/* What a thread started with go() is doing, as the dump shows it. */
enum census_state {
    CENSUS_RUNNING,
    CENSUS_CHAN_SEND,
    CENSUS_CHAN_RECV,
    CENSUS_SELECT,
    CENSUS_SLEEP,
    CENSUS_IO,
    CENSUS_GROUP_WAIT, /* in group_wait */
    CENSUS_GROUP_GO,   /* in group_go, waiting for room under the limit */
    CENSUS_WAIT_ALL,   /* in go_wait_all */
};

/* For the blocking primitives in common/ only: the calling thread blocks in
 * state at file:line, waiting on the n cases' channels until deadline; then
 * it runs again. Cheap, and a no-op on threads not started with go(). */
struct chan_case;
void census_block(enum census_state state, const char *file, int line,
                  const struct chan_case *cases, int n, int64_t deadline);
void census_unblock(void);

#endif
