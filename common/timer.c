/* Timers and tickers on a channel's wake (chan_internal.h): the channel
 * fires when someone looks at it after the time, and fire() puts the value
 * in. A timer's lock comes before its channel's, and under it the channel
 * is used only through calls that never run a due wake (which would call
 * fire() again). Stop and Reset take the wake away and empty the channel
 * under the timer's lock, so that a fire already on its way finds nothing
 * to do (pending cleared, or its time not come) and no stale value is left. */
#include "threadleaks/timer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "chan_internal.h"
#include "threadleaks/clock.h"
#include "threadleaks/panic.h"

struct tl_timer {
    pthread_mutex_t mu; /* guards everything below */
    tl_chan_t *ch;      /* the timer's own reference */
    int64_t when;       /* the next fire, while pending */
    int64_t period;     /* a ticker's; 0 for a timer */
    bool pending;
};

/* The value sent is the time the timer was due, as Go's is the time it
 * fired: not the later moment someone looked at the channel. */
static void fire(void *arg, int64_t due)
{
    (void)due; /* t->when, read under the lock: a Reset may have moved it */
    struct tl_timer *t = arg;
    pthread_mutex_lock(&t->mu);
    int64_t now = tl_now_ms();
    if (t->pending && now >= t->when) {
        int64_t fired = t->when;
        tl_chan_offer(t->ch, &fired); /* full: a ticker's receiver fell behind */
        if (t->period > 0) {
            t->when += t->period * ((now - t->when) / t->period + 1);
            tl_chan_set_wake(t->ch, t->when, fire, t);
        } else {
            t->pending = false;
        }
    }
    pthread_mutex_unlock(&t->mu);
}

static void free_timer(void *arg)
{
    struct tl_timer *t = arg;
    pthread_mutex_destroy(&t->mu);
    free(t);
}

static struct tl_timer *make(int64_t ms, int64_t period)
{
    struct tl_timer *t = calloc(1, sizeof *t);
    if (!t || !(t->ch = tl_chan_make(sizeof(int64_t), 1))) {
        free(t);
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&t->mu, NULL);
    /* A receiver blocked on a stopped timer is not abandoned: whoever holds
     * the timer may still reset it. */
    tl_chan_mark_done(t->ch);
    tl_chan_set_free(t->ch, free_timer, t);
    t->period = period;
    t->pending = true;
    t->when = tl_deadline_after(ms < 0 ? 0 : ms);
    tl_chan_set_wake(t->ch, t->when, fire, t);
    return t;
}

/* Takes the wake away and drops a value not yet received; with t locked.
 * Returns whether the timer was still active. */
static bool disarm(struct tl_timer *t)
{
    bool active = t->pending;
    t->pending = false;
    tl_chan_set_wake(t->ch, -1, NULL, NULL);
    bool unreceived = tl_chan_take(t->ch, NULL);
    return active || unreceived;
}

static void arm(struct tl_timer *t, int64_t ms)
{
    t->pending = true;
    t->when = tl_deadline_after(ms < 0 ? 0 : ms);
    tl_chan_set_wake(t->ch, t->when, fire, t);
}

tl_timer_t *tl_timer_new(int64_t ms)
{
    return make(ms, 0);
}

tl_chan_t *tl_timer_c(tl_timer_t *t)
{
    return t->ch;
}

bool tl_timer_stop(tl_timer_t *t)
{
    pthread_mutex_lock(&t->mu);
    bool active = disarm(t);
    pthread_mutex_unlock(&t->mu);
    return active;
}

bool tl_timer_reset(tl_timer_t *t, int64_t ms)
{
    pthread_mutex_lock(&t->mu);
    bool active = disarm(t);
    arm(t, ms);
    pthread_mutex_unlock(&t->mu);
    return active;
}

void tl_timer_free(tl_timer_t *t)
{
    if (!t)
        return;
    tl_timer_stop(t);
    tl_chan_release(t->ch); /* the last reference frees t too */
}

tl_ticker_t *tl_ticker_new(int64_t ms)
{
    if (ms <= 0)
        tl_go_panic("non-positive interval for NewTicker", NULL, 0);
    return make(ms, ms);
}

tl_chan_t *tl_ticker_c(tl_ticker_t *t)
{
    return t->ch;
}

void tl_ticker_stop(tl_ticker_t *t)
{
    tl_timer_stop(t);
}

void tl_ticker_reset(tl_ticker_t *t, int64_t ms)
{
    if (ms <= 0)
        tl_go_panic("non-positive interval for Ticker.Reset", NULL, 0);
    pthread_mutex_lock(&t->mu);
    disarm(t);
    t->period = ms;
    arm(t, ms);
    pthread_mutex_unlock(&t->mu);
}

void tl_ticker_free(tl_ticker_t *t)
{
    tl_timer_free(t);
}
