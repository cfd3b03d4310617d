/** @file trace.h
 * trace: what tl_go() threads do over a while, for /debug/trace, the
 * counterpart of Go's `go tool trace` (the article's section 八): each
 * thread's start and where it was started, each block (state, file:line),
 * each wake, and its exit, written as Chrome trace-event JSON, which
 * Perfetto and chrome://tracing open.
 *
 * Off unless a recording runs: then each hook census.c calls costs one
 * relaxed atomic load. On, an event costs a lock and a slot in a buffer
 * that grows to TL_TRACE_MAX_EVENTS; past that, events are counted as dropped.
 *
 * Threads: begin and end may be called from any thread, one recording at a
 * time (a second begin answers EBUSY).
 */
#ifndef THREADLEAKS_TRACE_H
#define THREADLEAKS_TRACE_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { TL_TRACE_MAX_EVENTS = 1 << 18 }; /**< about 14 MiB of events, 40 MiB of JSON */

/** Starts a recording; 0, or EBUSY if one runs already (one at a time, as in
 * Go), or ENOMEM. Threads the census knows that are alive at the start
 * (census.h: those started with tl_go() after it started) are recorded as
 * found: their name, where they were started, and the block they are in. */
int tl_trace_begin(void);

/** Ends the recording and writes it to out as Chrome trace-event JSON, one
 * event a line (out NULL: ends it and writes nothing). process is the name
 * the trace gives the process. */
void tl_trace_end(FILE *out, const char *process);

#ifdef __cplusplus
}
#endif

#endif
