/** @file clock.h
 * clock: Go's time.Now, time.Sleep and deadlines, in milliseconds.
 *
 * Every blocking call here takes one absolute deadline, as libdill's do:
 * a CLOCK_MONOTONIC time in milliseconds, -1 for "wait for ever" and 0 for
 * "do not wait at all". Compute a conversation's deadline once, with
 * tl_deadline_after, and pass the same value to every call in it.
 *
 * Threads: every function may be called from any thread at once.
 */
#ifndef THREADLEAKS_CLOCK_H
#define THREADLEAKS_CLOCK_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Milliseconds on the monotonic clock; only differences mean anything. */
int64_t tl_now_ms(void);

/** The same clock in nanoseconds, for measuring short things. */
int64_t tl_now_ns(void);

/** The deadline ms milliseconds from now; -1 (for ever) when ms is negative.
 * Counted from now rounded up to the next millisecond, so that a wait until
 * it lasts at least ms, as Go's waits do (0 is now: due already).
 * Time arithmetic here saturates: a duration too long to add gives the
 * latest deadline there is, INT64_MAX, which in practice never comes. */
int64_t tl_deadline_after(int64_t ms);

struct timespec;
/** Fills a timespec on CLOCK_MONOTONIC for pthread_cond_timedwait and friends. */
void tl_deadline_to_timespec(int64_t deadline, struct timespec *ts);

/** The article's story runs on a time scale: every duration a chapter names (10 s
 * of work, a 2 s timeout) is that many seconds of the story, and tl_seconds()
 * turns it into milliseconds on this machine's clock, times the scale. At
 * scale 1 a second is a second; at 0.5, which the chapter tests and the demo
 * use, the story plays twice as fast. */
void tl_time_scale_set(double scale);
/** The scale tl_time_scale_set set (1 until then). */
double tl_time_scale(void);
/** story_seconds of the story, in milliseconds on this machine's clock. */
int64_t tl_seconds(double story_seconds);

/** time.Sleep: pauses the calling thread for ms milliseconds. The census shows
 * the thread as "sleep" meanwhile. A sleeping thread cannot be cancelled:
 * that is why the fixed chapters select on tl_time_after and tl_ctx_done instead. */
#define tl_time_sleep(ms) tl_time_sleep_at((ms), __FILE__, __LINE__)
void tl_time_sleep_at(int64_t ms, const char *file, int line);

#ifdef __cplusplus
}
#endif

#endif
