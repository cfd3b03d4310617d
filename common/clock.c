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

int64_t tl_deadline_after(int64_t ms)
{
    if (ms < 0)
        return -1;
    int64_t now = tl_now_ms();
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
    int64_t deadline = tl_now_ms() + ms;
    struct timespec ts;
    tl_deadline_to_timespec(deadline, &ts);
    tl_block(TL_STATE_SLEEP, file, line, NULL, 0, deadline);
    /* Restarts after a signal: time.Sleep is not cut short either. */
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
    tl_unblock();
}
