/* clock.h's names without the tl_ prefix: see ../short.h. */
#ifndef THREADLEAKS_SHORT_CLOCK_H
#define THREADLEAKS_SHORT_CLOCK_H

#include "../clock.h"

#define now_ms tl_now_ms
#define now_ns tl_now_ns
#define deadline_after tl_deadline_after
#define deadline_to_timespec tl_deadline_to_timespec
#define time_scale_set tl_time_scale_set
#define time_sleep tl_time_sleep
#define time_sleep_at tl_time_sleep_at
#ifdef __cplusplus
/* In C++ a function, not a macro: <chrono>'s std::chrono::seconds, included
 * before or after this, stays itself. */
static inline int64_t seconds(double story_seconds) { return tl_seconds(story_seconds); }
#else
#define seconds(story_seconds) tl_seconds(story_seconds)
#endif
#define time_scale() tl_time_scale()

#endif
