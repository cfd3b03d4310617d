/** @file timer.h
 * timer: Go's time.Timer and time.Ticker, with Go 1.23's guarantees: no
 * thread and no timer runs for them (whoever waits on the channel wakes at
 * the time itself, as with tl_time_after), and after Stop or Reset returns,
 * no value from before it is received.
 *
 * The channel (tl_timer_c, tl_ticker_c) carries the time of the fire (the
 * time it was due, on tl_now_ms's clock) as an int64_t. It is borrowed: valid until the timer is freed.
 * Unlike Go 1.23's, it has capacity 1 and tl_chan_len shows a fired value
 * not yet received (Go reports 0 for both); what a receiver gets is the same.
 *
 * Threads: stop, reset and receiving on the channel may happen on any
 * thread at once. A timer is freed once, when no other thread uses it.
 */
#ifndef THREADLEAKS_TIMER_H
#define THREADLEAKS_TIMER_H

#include <stdbool.h>
#include <stdint.h>

#include "chan.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A time.Timer. */
typedef struct tl_timer tl_timer_t;

/** time.NewTimer(ms): a timer that sends the time on its channel once, ms
 * milliseconds from now (at once if ms <= 0). Returns NULL with errno ENOMEM. */
tl_timer_t *tl_timer_new(int64_t ms);

/** t.C */
tl_chan_t *tl_timer_c(tl_timer_t *t);

/** t.Stop(): prevents the timer from firing. Returns true if this call
 * stopped it; false if it had already fired (its value was received) or
 * been stopped. */
bool tl_timer_stop(tl_timer_t *t);

/** t.Reset(ms): makes the timer fire ms milliseconds from now, discarding a
 * value not yet received. Returns true if the timer had been active. */
bool tl_timer_reset(tl_timer_t *t, int64_t ms);

/** Stops the timer and frees it. NULL is ignored. */
void tl_timer_free(tl_timer_t *t);

/** A time.Ticker. */
typedef struct tl_timer tl_ticker_t;

/** time.NewTicker(ms): sends the time every ms milliseconds; a receiver that
 * falls behind misses ticks rather than queueing them (the channel holds
 * one). ms <= 0 panics ("non-positive interval for NewTicker"), as in Go.
 * Returns NULL with errno ENOMEM. */
tl_ticker_t *tl_ticker_new(int64_t ms);

/** t.C */
tl_chan_t *tl_ticker_c(tl_ticker_t *t);

/** t.Stop(): no more ticks; a tick not yet received is discarded. */
void tl_ticker_stop(tl_ticker_t *t);

/** t.Reset(ms): stops the ticker and starts it again with period ms; the
 * next tick comes ms from now. ms <= 0 panics ("non-positive interval for
 * Ticker.Reset"). */
void tl_ticker_reset(tl_ticker_t *t, int64_t ms);

/** Stops the ticker and frees it. NULL is ignored. */
void tl_ticker_free(tl_ticker_t *t);

#ifdef __cplusplus
}
#endif

#endif
