/* What census.c tells trace.c, and nothing else should: the census, above
 * the trace, calls the trace's hooks for the threads it knows, and begins a
 * recording (tl_trace_begin is census.c's: only the census knows the threads
 * alive then). trace.c calls nothing of the census. Not installed. */
#ifndef COMMON_CENSUS_INTERNAL_H
#define COMMON_CENSUS_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

/* Whether a recording runs, and which one (census.c marks the threads a
 * recording knows with it). */
bool tl_trace_recording(void);
unsigned tl_trace_generation(void);

/* For census.c, with the thread's record locked: what a thread started with
 * tl_go() does, for the recording generation knows it in (an event of a
 * recording that has ended is dropped). Files are as the dump shows them:
 * "02-channel-block/leaky.c". */
void tl_trace_started(unsigned generation, pid_t tid, const char *name, const char *created_func,
                   const char *created_file, int created_line);
void tl_trace_blocked(unsigned generation, pid_t tid, const char *state, const char *file, int line);
void tl_trace_woke(unsigned generation, pid_t tid);
void tl_trace_exited(unsigned generation, pid_t tid);

/* For census.c's fork handlers, which take the census's locks and then the
 * trace's (the order every thread takes them in): the trace's lock is held
 * across a fork, so that the child's copy is not held by a thread the child
 * does not have. */
void tl_trace_fork_prepare(void);
/* In a child forked since the census started: the thread id, in the parent,
 * of the thread that forked it; else 0. For leakcheck.c. */
pid_t tl_census_forked_from(void);
void tl_trace_fork_parent(void);
void tl_trace_fork_child(void);

/* For census.c's tl_trace_begin: opens a recording and returns its
 * generation (never 0), or 0 with errno EBUSY (one is open) or ENOMEM. */
unsigned tl_trace_open(void);

/* For census.c, as a recording begins, with the thread's record locked: a
 * thread alive then, and where it blocks (file NULL if it runs). */
void tl_trace_found(unsigned generation, pid_t tid, const char *name, const char *created_func,
                    const char *created_file, int created_line, const char *state,
                    const char *file, int line);

#endif
