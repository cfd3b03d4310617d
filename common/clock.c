#include "threadleaks/clock.h"

#include <errno.h>
#include <time.h>

#include "threadleaks/hook.h"

int64_t tl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t tl_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static double scale = 1.0;

void tl_time_scale_set(double s)
{
    scale = s;
}

double tl_time_scale(void)
{
    return scale;
}

/* Rounded up, so that no duration of the story becomes zero; saturated, so
 * that a duration too long for an int64_t is the longest one there is. */
int64_t tl_seconds(double story_seconds)
{
    double ms = story_seconds * 1000.0 * scale;
    if (!(ms < 9.2e18)) /* and NaN */
        return ms < 0 ? INT64_MIN : INT64_MAX;
    if (ms <= -9.2e18)
        return INT64_MIN;
    int64_t whole = (int64_t)ms;
    return whole < ms ? whole + 1 : whole;
}

/* From now rounded up to the next whole millisecond: a wait until the
 * deadline then lasts at least ms, as Go's time.Sleep(d) lasts at least d
 * (from now truncated, a 10 ms wait ended as early as 9.0 ms). */
int64_t tl_deadline_after(int64_t ms)
{
    if (ms < 0)
        return -1;
    if (ms == 0) /* due already: WithTimeout(0) is done at once, as in Go */
        return tl_now_ms();
    int64_t now = (tl_now_ns() + 999999) / 1000000;
    return ms > INT64_MAX - now ? INT64_MAX : now + ms;
}

void tl_deadline_to_timespec(int64_t deadline, struct timespec *ts)
{
    ts->tv_sec = deadline / 1000;
    ts->tv_nsec = (deadline % 1000) * 1000000;
}

void tl_time_sleep_at(int64_t ms, const char *file, int line)
{
    if (ms <= 0)
        return;
    int64_t deadline = tl_deadline_after(ms); /* saturates: INT64_MAX sleeps for ever */
    struct timespec ts;
    tl_deadline_to_timespec(deadline, &ts);
    tl_block(TL_STATE_SLEEP, file, line, NULL, 0, deadline);
    /* Restarts after a signal: time.Sleep is not cut short either. */
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
    tl_unblock();
}
