/* chan: Go's channels and select, for threads.
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
 * Channels are reference counted. chan_make returns one reference; every
 * thread that uses the channel should hold its own (chan_ref before handing it
 * over) and drop it with chan_release when done. The census uses this: a
 * thread blocked on a channel whose every remaining reference belongs to
 * threads blocked on it can never wake, and is reported as leaked.
 *
 * Send, receive and select are macros only so that the census can say at which
 * file:line a thread is blocked; each is a plain function call.
 */
#ifndef COMMON_CHAN_H
#define COMMON_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct chan chan_t;

/* make(chan T, capacity) with sizeof(T) == elem_size. Returns NULL with errno
 * EINVAL for a zero elem_size or a negative capacity, ENOMEM when out of memory. */
chan_t *chan_make(size_t elem_size, int capacity);

/* Adds a reference and returns ch, so that chan_ref(ch) can be handed over. */
chan_t *chan_ref(chan_t *ch);

/* Drops a reference; the last one frees the channel. NULL is ignored. */
void chan_release(chan_t *ch);

/* ch <- *val. Blocks until a receiver takes the value or there is room in the
 * buffer. Panics if ch is or becomes closed. */
#define chan_send(ch, val) chan_send_at((ch), (val), __FILE__, __LINE__)
void chan_send_at(chan_t *ch, const void *val, const char *file, int line);

/* *val, ok := <-ch. Blocks until a value arrives or ch is closed. Returns ok:
 * true for a value that was sent, false once ch is closed and drained (then
 * *val is zeroed). val may be NULL to discard the value. */
#define chan_recv(ch, val) chan_recv_at((ch), (val), __FILE__, __LINE__)
bool chan_recv_at(chan_t *ch, void *val, const char *file, int line);

/* close(ch). Panics if ch is NULL or already closed. */
#define chan_close(ch) chan_close_at((ch), __FILE__, __LINE__)
void chan_close_at(chan_t *ch, const char *file, int line);

/* len(ch) and cap(ch): values buffered now, and the capacity. */
int chan_len(chan_t *ch);
int chan_cap(chan_t *ch);

/* One case of a select: a send of *val, or a receive into val (which may be
 * NULL). After a receive case is chosen, ok tells as chan_recv's result does. */
enum chan_op { CHAN_SEND, CHAN_RECV };
struct chan_case {
    chan_t *ch;
    enum chan_op op;
    void *val;
    bool ok;
};

static inline struct chan_case chan_send_case(chan_t *ch, const void *val)
{
    return (struct chan_case){ .ch = ch, .op = CHAN_SEND, .val = (void *)val };
}

static inline struct chan_case chan_recv_case(chan_t *ch, void *val)
{
    return (struct chan_case){ .ch = ch, .op = CHAN_RECV, .val = val };
}

/* select. Blocks until one of the n cases can proceed, performs it and returns
 * its index. When several can, one is chosen at random, as Go does.
 * deadline is absolute (clock.h): -1 waits for ever; 0 is Go's default case:
 * when no case is ready, return at once. When the deadline passes, returns -1
 * with errno ETIMEDOUT. A send case on a closed channel panics, as in Go; a
 * chosen case leaves errno at 0. */
#define chan_select(cases, n, deadline) \
    chan_select_at((cases), (n), (deadline), __FILE__, __LINE__)
int chan_select_at(struct chan_case *cases, int n, int64_t deadline,
                   const char *file, int line);

/* time.After(ms): a channel of capacity 1 that receives the current time
 * (now_ms, as int64_t) once ms milliseconds have passed. No thread and no
 * timer runs meanwhile: whoever waits on it wakes at that time, so dropping
 * the last reference early frees it at once (unlike time.After before Go
 * 1.23, nothing is left running until it fires). */
chan_t *time_after(int64_t ms);

#endif
