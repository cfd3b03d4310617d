/** @file chan.h
 * chan: Go's channels and select, for threads.
 *
 * A channel carries fixed-size values, copied in and out with memcpy. A channel
 * of capacity 0 is a rendezvous: a send waits until a receiver takes the value.
 * A channel of capacity n holds up to n values; a send waits only while it is
 * full, a receive only while it is empty. Values come out in the order they
 * went in.
 *
 * Closing a channel means no more values will be sent on it. Receivers drain
 * what is buffered, then receive the zero value with ok == false. Sending on a
 * closed channel, closing it twice and closing a NULL channel are programming
 * errors, and panic as in Go (panic.h: Go's message, the file:line, abort):
 * a sender blocked when the channel is closed panics too. So closing a
 * channel is no way to free a blocked sender; only its receiver is.
 *
 * A NULL channel is Go's nil channel: sending or receiving on it blocks for
 * ever, and a select case on it is never chosen.
 *
 * Channels are reference counted. tl_chan_make returns one reference; every
 * thread that uses the channel should hold its own (tl_chan_ref before handing it
 * over) and drop it with tl_chan_release when done. The census uses this: a
 * thread blocked on a channel whose every remaining reference belongs to
 * threads blocked on it can never wake, and is reported as leaked.
 *
 * Send, receive and select are macros only so that the census can say at which
 * file:line a thread is blocked; each is a plain function call.
 *
 * Threads: every function may be called from any thread, on one channel
 * from many at once, as in Go. A reference released is not used again by
 * the thread that released it.
 */
#ifndef THREADLEAKS_CHAN_H
#define THREADLEAKS_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A channel: made with tl_chan_make, reference counted. */
typedef struct tl_chan tl_chan_t;

/** make(chan T, capacity) with sizeof(T) == elem_size. Returns NULL with errno
 * EINVAL for a zero elem_size or a negative capacity, ENOMEM when out of memory. */
tl_chan_t *tl_chan_make(size_t elem_size, int capacity);

/** Adds a reference and returns ch, so that tl_chan_ref(ch) can be handed over. */
tl_chan_t *tl_chan_ref(tl_chan_t *ch);

/** Drops a reference; the last one frees the channel. NULL is ignored. */
void tl_chan_release(tl_chan_t *ch);

/** How many channels are made and not yet freed, in the whole process. Every
 * context but the background one holds a channel (its Done), and so does
 * every timer and errgroup: a count that does not come back to where it was
 * once every thread has ended is something never released. Thread-safe. */
long tl_chan_live(void);

/** ch <- *val. Blocks until a receiver takes the value or there is room in the
 * buffer. Panics if ch is or becomes closed. */
#define tl_chan_send(ch, val) tl_chan_send_at((ch), (val), __FILE__, __LINE__)
void tl_chan_send_at(tl_chan_t *ch, const void *val, const char *file, int line);

/** *val, ok := <-ch. Blocks until a value arrives or ch is closed. Returns ok:
 * true for a value that was sent, false once ch is closed and drained (then
 * *val is zeroed). val may be NULL to discard the value. */
#define tl_chan_recv(ch, val) tl_chan_recv_at((ch), (val), __FILE__, __LINE__)
bool tl_chan_recv_at(tl_chan_t *ch, void *val, const char *file, int line);

/** close(ch). Panics if ch is NULL or already closed. */
#define tl_chan_close(ch) tl_chan_close_at((ch), __FILE__, __LINE__)
void tl_chan_close_at(tl_chan_t *ch, const char *file, int line);

/** len(ch): the values buffered now. */
int tl_chan_len(tl_chan_t *ch);
/** cap(ch): how many values ch can buffer. */
int tl_chan_cap(tl_chan_t *ch);

/** What a select case does. */
enum tl_chan_op {
    TL_CHAN_SEND, /**< ch <- *val */
    TL_CHAN_RECV  /**< *val, ok = <-ch */
};
/** One case of a select: a send of *val, or a receive into val (which may be
 * NULL). After a receive case is chosen, ok tells as tl_chan_recv's result
 * does. Made with tl_chan_send_case and tl_chan_recv_case. */
struct tl_chan_case {
    tl_chan_t *ch;      /**< the channel; NULL is never chosen */
    enum tl_chan_op op; /**< TL_CHAN_SEND or TL_CHAN_RECV */
    void *val;          /**< what is sent, or where a value is received (may be NULL) */
    bool ok;            /**< after a receive case is chosen: a value, not a close */
};

/** The select case ch <- *val. */
static inline struct tl_chan_case tl_chan_send_case(tl_chan_t *ch, const void *val)
{
    /* Member by member, not a compound literal: the header is C++ too. */
    struct tl_chan_case c;
    c.ch = ch;
    c.op = TL_CHAN_SEND;
    c.val = (void *)(uintptr_t)val; /* never written through: a send only reads it */
    c.ok = false;
    return c;
}

/** The select case *val, ok = <-ch (val may be NULL). */
static inline struct tl_chan_case tl_chan_recv_case(tl_chan_t *ch, void *val)
{
    struct tl_chan_case c;
    c.ch = ch;
    c.op = TL_CHAN_RECV;
    c.val = val;
    c.ok = false;
    return c;
}

/** select. Blocks until one of the n cases can proceed, performs it and returns
 * its index. When several can, one is chosen at random, as Go does.
 * deadline is absolute (clock.h): -1 waits for ever; 0 is Go's default case:
 * when no case is ready, return at once. When the deadline passes, returns -1
 * with errno ETIMEDOUT (EINVAL for a negative n, ENOMEM if the cases need
 * memory there is not); a chosen case leaves errno alone. A send case on a
 * closed channel panics, as in Go. A receive case on a closed channel is
 * ready, as in Go, even while a send from before the close is still copying
 * its value in: the select waits for that copy, deadline or not. */
#define tl_chan_select(cases, n, deadline) \
    tl_chan_select_at((cases), (n), (deadline), __FILE__, __LINE__)
int tl_chan_select_at(struct tl_chan_case *cases, int n, int64_t deadline,
                   const char *file, int line);

/** time.After(ms): a channel of capacity 1 that receives the time it fired
 * (on tl_now_ms's clock, as int64_t: the time it was due, however late it is
 * received) once at least ms milliseconds have passed. No thread and no
 * timer runs meanwhile: whoever waits on it wakes at that time, so dropping
 * the last reference early frees it at once (unlike time.After before Go
 * 1.23, nothing is left running until it fires). Returns NULL with errno
 * ENOMEM. */
tl_chan_t *tl_time_after(int64_t ms);

#ifdef __cplusplus
}
#endif

#endif
