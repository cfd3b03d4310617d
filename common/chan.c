/* Channels and select, after Go's runtime/chan.go and runtime/select.go.
 * One file over 500 lines for one job: a select waits on the channels' own
 * queues and is woken by their sends and closes, so the two cannot live
 * apart (Go's two files share hchan's internals the same way).
 *
 * Each channel has one mutex, a ring buffer and two queues of blocked cases.
 * A blocked thread owns one waiter (on its stack) with its own futex word, so
 * a send wakes exactly the receiver it hands its value to, never a crowd. A
 * select queues one entry per case on each channel; the first channel to
 * claim the waiter (a compare-and-swap of its `fired`) completes that case, and
 * the others skip the stale entries until the waiter removes them.
 *
 * The claimer copies the value under the channel's lock but wakes the waiter
 * only after dropping it (flush_wakes), so the woken thread never runs into
 * a lock its waker still holds, and a close wakes its crowd outside the lock.
 *
 * A buffered channel's ring is Vyukov's bounded queue, each slot with a
 * sequence number that says whose turn it is. A channel without a wake
 * (not a timer's, whose wake must run under the lock) is "fast": a send
 * and a receive that need not wait use the ring without taking the lock,
 * and the sender and the receiver touch different cache lines, as Go's do
 * on one processor. A send that finds receivers queued takes the
 * lock and hands them the ring's values, oldest first (serve); a receive
 * that finds senders queued moves their values into the freed slots, as
 * Go's receive does, so a blocked send has happened once its receiver has
 * made room. A blocked thread is counted (recv_waiting, send_waiting)
 * before it looks at the ring's positions a last time, and a send looks at
 * the count after it has claimed its position (each of the four seq_cst):
 * so either the send serves the receiver once its value is in, or the
 * receiver sees the claim and polls again instead of sleeping (block()
 * says what it does when the claim takes long). A value never sits in the
 * ring while a receiver sleeps, unless a send before it is still filling
 * its slot; that send serves the receivers when it has (or, in one case
 * block() names, the receiver's nap ends first).
 *
 * Invariants, with ch->mu held, counting only live entries (a sudog whose
 * waiter has not fired; a fired one is stale and skipped):
 *   At least one of ch->sendq and ch->recvq is empty, except for a select
 *   that both sends and receives on one unbuffered channel, as in Go.
 *   Buffered: a receiver queued while the value at the ring's receive position
 *   is in, or a sender while there is room at its send position, is about
 *   to be served (or to look again, in block()).
 *   ch->recv_waiting and ch->send_waiting count the entries of ch->recvq
 *   and ch->sendq, live or stale.
 *   ch->closed goes from false to true once; then ch->sendq is empty.
 *   A waiter's fired goes from WAITING to one case's index, or to TIMED_OUT,
 *   once (a compare-and-swap): a value is handed to one case only.
 *   ch->blocked is the number of threads with a live entry on ch (a select
 *   with two cases on ch counts once).
 */
#define _GNU_SOURCE /* syscall */
#include "threadleaks/chan.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "threadleaks/hook.h"
#include "chan_internal.h"
#include "threadleaks/clock.h"
#include "threadleaks/panic.h"
#include "race.h"

enum { WAITING = -1, TIMED_OUT = -2 };
/* A waiter's futex word: NOT_YET, then DELIVERED; or, while NOT_YET, ASLEEP
 * on the word alone or ASLEEP_BELLS on the word and every case's channel's
 * bell, which a close rings once for all its waiters. */
enum { NOT_YET, DELIVERED, ASLEEP, ASLEEP_BELLS };

struct waiter {
    atomic_int fired; /* WAITING, TIMED_OUT, or the index of the completed case */
    bool closed;      /* the case completed because its channel was closed */
    bool retry;       /* claimed by a fast channel: poll again */
    atomic_int word;  /* NOT_YET, DELIVERED, ASLEEP or ASLEEP_BELLS */
    int from_cpu;     /* where the thread that delivered ran, or -1 */
};

/* One case of a blocked thread, queued on its channel. */
struct sudog {
    struct waiter *w;
    struct tl_chan_case *c;
    int index;
    bool counts; /* the thread's first case on this channel: counted in blocked */
    struct sudog *prev, *next;
};

struct queue {
    struct sudog *head, *tail;
};

/* A fast channel's send position has this bit set once it is closed, so
 * that no send can claim a slot after the close. */
#define CLOSED_BIT ((uint64_t)1 << 63)

enum { LINE = 64 }; /* a cache line */

struct tl_chan {
    /* The fast ring's two ends, a line apart: never on one cache line. */
    _Atomic uint64_t sendx; /* the next send's position (CLOSED_BIT once closed) */
    char apart1[LINE - sizeof(_Atomic uint64_t)];
    _Atomic uint64_t recvx; /* the next receive's position */
    char apart2[LINE - sizeof(_Atomic uint64_t)];
    atomic_int recv_waiting;
    atomic_int send_waiting;
    atomic_bool ring_closed; /* CLOSED_BIT is set: read here, not on sendx's busy line */
    bool fast;
    bool cap_pow2; /* cap is a power of two */
    size_t stride; /* a fast slot: its sequence number, then the value */
    pthread_mutex_t mu;
    size_t elem_size;
    int cap;
    bool closed;
    bool is_done;
    struct queue sendq, recvq;
    atomic_int refs;
    atomic_int bell; /* a close adds one, then wakes every thread asleep on it */
    int blocked; /* threads with a case in sendq or recvq, for the census */
    int64_t wake_at;
    void (*wake)(void *arg, int64_t due);
    void *wake_arg;
    void (*on_free)(void *arg);
    void *on_free_arg;
    char *buf;
};

static void enqueue(tl_chan_t *ch, struct queue *q, struct sudog *s)
{
    s->next = NULL;
    s->prev = q->tail;
    if (q->tail)
        q->tail->next = s;
    else
        q->head = s;
    q->tail = s;
    if (s->counts)
        ch->blocked++;
    atomic_fetch_add(q == &ch->recvq ? &ch->recv_waiting : &ch->send_waiting, 1);
}

static void unlink_sudog(tl_chan_t *ch, struct queue *q, struct sudog *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        q->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        q->tail = s->prev;
    s->prev = s->next = NULL;
    if (s->counts)
        ch->blocked--;
    atomic_fetch_sub(q == &ch->recvq ? &ch->recv_waiting : &ch->send_waiting, 1);
}

/* Takes the first queued case whose thread is still waiting and claims that
 * thread for it, or returns NULL. Nobody else can claim it now, and it will
 * not leave before flush_wakes delivers its wake-up. */
static struct sudog *claim_first(tl_chan_t *ch, struct queue *q)
{
    struct sudog *s;
    while ((s = q->head) != NULL) {
        unlink_sudog(ch, q, s);
        int waiting = WAITING;
        if (atomic_compare_exchange_strong_explicit(&s->w->fired, &waiting, s->index,
                                                    memory_order_acq_rel,
                                                    memory_order_acquire))
            return s;
    }
    return NULL;
}

/* Claimed waiters whose wake-up waits for the caller's locks to go. */
static _Thread_local struct sudog *to_wake;

static void wake_claimed(struct sudog *s, bool closed)
{
    s->w->closed = closed;
    s->w->retry = false;
    s->next = to_wake; /* s is off every queue: its link is free */
    to_wake = s;
}

static long futex(atomic_int *word, int op, int val, const struct timespec *at)
{
    return syscall(SYS_futex, word, op, val, at, NULL, FUTEX_BITSET_MATCH_ANY);
}

/* Delivers the wake-ups wake_claimed queued; the caller holds no lock. Once
 * its word says DELIVERED a waiter may return and its stack be reused, so
 * nothing of it is read after; a late FUTEX_WAKE there is only a spurious
 * wake-up, which every futex wait here allows for. A close (closed set) wakes
 * the waiters asleep on its bell with one system call, however many. */
static void flush_wakes_ringing(tl_chan_t *closed)
{
    bool ring = false;
    int cpu = to_wake ? sched_getcpu() : -1;
    while (to_wake) {
        struct sudog *s = to_wake;
        to_wake = s->next;
        /* Off every queue again before the waiter may look: block()'s
         * clean-up takes a sudog with a link for one still queued. */
        s->next = NULL;
        s->w->from_cpu = cpu;
        /* The value copied for it, or taken from it, for the waiter's
         * acquire; not for a claim as timed out or to retry, which carries
         * nothing and which nobody acquires (a release on its stack would
         * reach its next waiter, and hide a race). */
        if (atomic_load_explicit(&s->w->fired, memory_order_relaxed) >= 0 && !s->w->retry)
            tl_race_release(s->w);
        atomic_int *word = &s->w->word;
        int was = atomic_exchange_explicit(word, DELIVERED, memory_order_acq_rel);
        if (was == ASLEEP_BELLS && closed)
            ring = true;
        else if (was == ASLEEP || was == ASLEEP_BELLS)
            futex(word, FUTEX_WAKE_PRIVATE, 1, NULL);
    }
    if (ring) {
        atomic_fetch_add_explicit(&closed->bell, 1, memory_order_release);
        futex(&closed->bell, FUTEX_WAKE_PRIVATE, INT_MAX, NULL);
    }
}

static void flush_wakes(void)
{
    flush_wakes_ringing(NULL);
}

/* A value's copy: the sizes most values have as constants, so that the
 * compiler copies them inline instead of calling memcpy. */
static void copy_value(void *dst, const void *src, size_t size)
{
    switch (size) {
    case 4: memcpy(dst, src, 4); break;
    case 8: memcpy(dst, src, 8); break;
    default: memcpy(dst, src, size);
    }
}

static void copy_out(tl_chan_t *ch, void *dst, const void *src)
{
    if (dst)
        copy_value(dst, src, ch->elem_size);
}

/* ---- the fast ring ---- */

/* A slot: its sequence number, then the value (ch->stride bytes in all). */
static char *ring_slot(tl_chan_t *ch, uint64_t pos)
{
    /* a mask where it can: a division takes as long as the rest of a send */
    uint64_t i = ch->cap_pow2 ? pos & (uint64_t)(ch->cap - 1) : pos % (uint64_t)ch->cap;
    return ch->buf + i * ch->stride;
}

static _Atomic uint64_t *slot_seq(char *slot)
{
    return (_Atomic uint64_t *)slot;
}

static void *slot_val(char *slot)
{
    return slot + sizeof(_Atomic uint64_t);
}

/* Puts *val in the ring: 1, or 0 when it is full, -1 when ch is closed. A
 * slot is free for the send at position pos when its sequence number is
 * 2 pos, and holds that send's value once it is 2 pos + 1; the receive
 * makes it 2 (pos + cap), free for the send a lap later. (Vyukov's pos and
 * pos + 1 would be the same for a capacity of 1.) */
static int ring_push(tl_chan_t *ch, const void *val)
{
    uint64_t pos = atomic_load_explicit(&ch->sendx, memory_order_relaxed);
    for (;;) {
        if (pos & CLOSED_BIT)
            return -1;
        char *slot = ring_slot(ch, pos);
        uint64_t seq = atomic_load_explicit(slot_seq(slot), memory_order_acquire);
        if (seq == 2 * pos) {
            /* seq_cst: the claim is the store of fast_wake's Dekker pair */
            if (atomic_compare_exchange_weak_explicit(&ch->sendx, &pos, pos + 1,
                                                      memory_order_seq_cst,
                                                      memory_order_relaxed)) {
                tl_race_acquire(slot); /* the receive that freed it */
                copy_value(slot_val(slot), val, ch->elem_size);
                tl_race_release(slot);
                atomic_store_explicit(slot_seq(slot), 2 * pos + 1, memory_order_release);
                return 1;
            }
        } else if ((int64_t)(seq - 2 * pos) < 0) {
            return 0; /* the value of the send cap places back is still there */
        } else {
            pos = atomic_load_explicit(&ch->sendx, memory_order_relaxed);
        }
    }
}

/* Takes the oldest value into val (which may be NULL): true, or false when
 * there is none yet (a send may have claimed a slot and not filled it). */
static bool ring_pop(tl_chan_t *ch, void *val)
{
    uint64_t pos = atomic_load_explicit(&ch->recvx, memory_order_relaxed);
    for (;;) {
        char *slot = ring_slot(ch, pos);
        uint64_t seq = atomic_load_explicit(slot_seq(slot), memory_order_acquire);
        if (seq == 2 * pos + 1) {
            if (atomic_compare_exchange_weak_explicit(&ch->recvx, &pos, pos + 1,
                                                      memory_order_seq_cst,
                                                      memory_order_relaxed)) {
                tl_race_acquire(slot); /* the send that filled it */
                copy_out(ch, val, slot_val(slot));
                tl_race_release(slot);
                atomic_store_explicit(slot_seq(slot), 2 * (pos + (uint64_t)ch->cap),
                                      memory_order_release);
                return true;
            }
        } else if ((int64_t)(seq - (2 * pos + 1)) < 0) {
            return false;
        } else {
            pos = atomic_load_explicit(&ch->recvx, memory_order_relaxed);
        }
    }
}

/* Whether a pop would find a value now, without taking it: as ring_pop
 * reads, so a position another receiver has taken meanwhile is read again,
 * not mistaken for an empty ring. */
static bool ring_has_value(tl_chan_t *ch)
{
    uint64_t pos = atomic_load_explicit(&ch->recvx, memory_order_relaxed);
    for (;;) {
        uint64_t seq = atomic_load_explicit(slot_seq(ring_slot(ch, pos)), memory_order_acquire);
        if (seq == 2 * pos + 1)
            return true;
        if ((int64_t)(seq - (2 * pos + 1)) < 0)
            return false;
        pos = atomic_load_explicit(&ch->recvx, memory_order_relaxed);
    }
}

/* The same for a push: room, or a close (which a send must hear about). */
static bool ring_has_room(tl_chan_t *ch)
{
    uint64_t pos = atomic_load_explicit(&ch->sendx, memory_order_relaxed);
    for (;;) {
        if (pos & CLOSED_BIT)
            return true;
        uint64_t seq = atomic_load_explicit(slot_seq(ring_slot(ch, pos)), memory_order_acquire);
        if (seq == 2 * pos)
            return true;
        if ((int64_t)(seq - 2 * pos) < 0)
            return false;
        pos = atomic_load_explicit(&ch->sendx, memory_order_relaxed);
    }
}

/* Whether a value (op TL_CHAN_RECV) or room (TL_CHAN_SEND) is there or on
 * its way, by the positions alone: a send or receive that has claimed its
 * position and not yet filled or emptied its slot counts. block()'s last
 * look; seq_cst, the other half of fast_wake's pair. */
static bool ring_coming(tl_chan_t *ch, enum tl_chan_op op)
{
    if (op == TL_CHAN_SEND) {
        uint64_t sendx = atomic_load(&ch->sendx);
        return (sendx & CLOSED_BIT) || (int64_t)(sendx - atomic_load(&ch->recvx)) < ch->cap;
    }
    uint64_t recvx = atomic_load(&ch->recvx);
    return (atomic_load(&ch->sendx) & ~CLOSED_BIT) != recvx;
}

/* Closed: read from its own flag, not from sendx, whose line the senders
 * write on every send (a receiver's look must not take it from them). */
static bool ring_closed(tl_chan_t *ch)
{
    return atomic_load_explicit(&ch->ring_closed, memory_order_acquire);
}

/* Closed, and every value sent before the close received. */
static bool ring_drained(tl_chan_t *ch)
{
    if (!ring_closed(ch))
        return false;
    uint64_t sendx = atomic_load_explicit(&ch->sendx, memory_order_acquire);
    return atomic_load_explicit(&ch->recvx, memory_order_acquire) == (sendx & ~CLOSED_BIT);
}

/* Whether a sender that found the ring full should stop looking: when a
 * few slots are free, not the first. A sender that takes each slot as it
 * frees writes into the cache line its receiver is reading, and the line
 * goes back and forth for every value; a sender that waits for a run of
 * them fills lines the receiver has left. (Up to half the ring, so that
 * the receiver still has values to take meanwhile.) */
enum { ROOM_RUN = 16 };
static bool ring_has_run_of_room(tl_chan_t *ch)
{
    uint64_t pos = atomic_load_explicit(&ch->sendx, memory_order_relaxed);
    if (pos & CLOSED_BIT)
        return true;
    int run = ch->cap / 2 < ROOM_RUN ? ch->cap / 2 : ROOM_RUN;
    uint64_t last = pos + (uint64_t)(run > 1 ? run - 1 : 0); /* the run's last slot */
    uint64_t seq = atomic_load_explicit(slot_seq(ring_slot(ch, last)), memory_order_acquire);
    return (int64_t)(seq - 2 * last) >= 0; /* free for it, or taken since */
}

/* Whether a fast channel's case can go now: a value to receive (or a
 * close: the slow path answers it), or room to send; with run, a run of
 * room (ring_has_run_of_room). */
static bool case_ready(const struct tl_chan_case *c, bool run)
{
    if (c->op == TL_CHAN_RECV)
        return ring_has_value(c->ch) || ring_drained(c->ch);
    return run ? ring_has_run_of_room(c->ch) : ring_has_room(c->ch);
}

/* A thread that waits for a slot another thread has claimed and is still
 * filling (or emptying) yields FILL_YIELDS times, then sleeps: the other
 * thread may have lost its CPU, or be copying a large value, and a waiter
 * that kept polling would burn a CPU meanwhile (a SCHED_FIFO one would
 * keep it from the filler for good). */
enum { FILL_YIELDS = 4 };

/* One wait of a receive on a closed ring for a send from before the close
 * that is still filling its slot (it needs no lock to finish). Nobody wakes
 * a thread here when the slot is filled, so after FILL_YIELDS yields its
 * naps are short: 50 us, doubling up to 1 ms. tries: the waits before,
 * counted up to FILL_WAITS (from there on, every nap is 1 ms). */
enum { FILL_WAITS = FILL_YIELDS + 5 };
static void wait_for_fill(int tries)
{
    if (tries < FILL_YIELDS) {
        sched_yield();
        return;
    }
    int doublings = tries - FILL_YIELDS < 5 ? tries - FILL_YIELDS : 5;
    long ns = 50000L << doublings;
    struct timespec nap = { 0, ns < 1000000 ? ns : 1000000 };
    nanosleep(&nap, NULL);
}

/* With ch locked: hands the ring's values to the receivers queued, oldest
 * first, and the senders' values to the ring's free slots, as Go's channel
 * hands values over directly, until one side has nothing for the other.
 * Called after every push and pop that may have found the other side
 * waiting. A waiter claimed when a receive or send without the lock took
 * its value or slot first polls again (retry). If a slot was still being
 * filled (or emptied), the thread doing that serves the waiter when it
 * has, or the waiter's last look (block()) sees that slot claimed and does
 * not sleep. */
static void serve(tl_chan_t *ch)
{
    for (bool moved = true; moved;) {
        moved = false;
        struct sudog *s;
        while ((s = claim_first(ch, &ch->recvq)) != NULL) {
            bool got = ring_pop(ch, s->c->val);
            s->c->ok = got;
            wake_claimed(s, false);
            s->w->retry = !got;
            if (!got)
                break;
            moved = true;
        }
        while ((s = claim_first(ch, &ch->sendq)) != NULL) {
            int pushed = ring_push(ch, s->c->val);
            wake_claimed(s, pushed < 0); /* closed: it panics, as in Go */
            s->w->retry = pushed == 0;
            if (pushed <= 0)
                break;
            moved = true;
        }
    }
}

/* After a push (q: the receivers) or a pop (q: the senders) without the
 * lock: if anyone waits on the other side, serve them. Dekker's pattern
 * with block(), all seq_cst: the push or pop claimed its position (a
 * seq_cst CAS), then reads the count here; block() counts, then reads the
 * positions (ring_coming). Either this sees the waiter counted, or the
 * waiter sees the claim and does not sleep. No fence: one here would wait
 * for the slot's store to reach the partner's CPU, on every send. */
static void fast_wake(tl_chan_t *ch, struct queue *q)
{
    atomic_int *waiting = q == &ch->recvq ? &ch->recv_waiting : &ch->send_waiting;
    if (atomic_load_explicit(waiting, memory_order_seq_cst) == 0)
        return;
    pthread_mutex_lock(&ch->mu);
    serve(ch);
    pthread_mutex_unlock(&ch->mu);
    flush_wakes();
}

/* The send half of a select case, with ch locked. Returns true if it
 * happened now (errno_out is EPIPE for a closed channel). */
static bool try_send(tl_chan_t *ch, const void *val, int *errno_out)
{
    if (ch->cap > 0) {
        int pushed = ring_push(ch, val);
        if (pushed < 0)
            *errno_out = EPIPE;
        else if (pushed > 0)
            serve(ch);
        return pushed != 0;
    }
    if (ch->closed) {
        *errno_out = EPIPE;
        return true;
    }
    struct sudog *r = claim_first(ch, &ch->recvq);
    if (r) {
        copy_out(ch, r->c->val, val);
        r->c->ok = true;
        wake_claimed(r, false);
        return true;
    }
    return false;
}

/* The receive half, with ch locked. *coming: the ring is closed and its
 * next value, sent before the close, is still being copied in; the caller
 * drops its locks, waits (wait_for_fill) and polls again, so that nobody
 * queues on them meanwhile: a cancel on a select's other channel, say. */
static bool try_recv(tl_chan_t *ch, void *val, bool *ok, bool *coming)
{
    if (ch->cap > 0) {
        if (ring_pop(ch, val)) {
            serve(ch);
            *ok = true;
            return true;
        }
        if (!ring_closed(ch))
            return false;
        if (!ring_drained(ch)) {
            *coming = true;
            return false;
        }
        if (val)
            memset(val, 0, ch->elem_size);
        *ok = false;
        return true;
    }
    struct sudog *s = claim_first(ch, &ch->sendq);
    if (s) {
        copy_out(ch, val, s->c->val);
        wake_claimed(s, false);
        *ok = true;
        return true;
    }
    if (ch->closed) {
        if (val)
            memset(val, 0, ch->elem_size);
        *ok = false;
        return true;
    }
    return false;
}

/* Channels made and not yet freed (tl_chan_live). */
static atomic_long live;

long tl_chan_live(void)
{
    return atomic_load_explicit(&live, memory_order_relaxed);
}

tl_chan_t *tl_chan_make(size_t elem_size, int capacity)
{
    if (elem_size == 0 || capacity < 0) {
        errno = EINVAL;
        return NULL;
    }
    tl_chan_t *ch = calloc(1, sizeof *ch);
    if (!ch)
        return NULL;
    /* Fast until a wake is set (before it is shared: tl_chan_set_wake). */
    ch->fast = capacity > 0;
    ch->cap = capacity;
    ch->cap_pow2 = (capacity & (capacity - 1)) == 0;
    ch->stride = (sizeof(_Atomic uint64_t) + elem_size + sizeof(_Atomic uint64_t) - 1) /
                 sizeof(_Atomic uint64_t) * sizeof(_Atomic uint64_t);
    if (capacity > 0 && !(ch->buf = calloc((size_t)capacity, ch->stride))) {
        free(ch);
        return NULL;
    }
    for (int i = 0; i < capacity; i++)
        atomic_init(slot_seq(ring_slot(ch, (uint64_t)i)), 2 * (uint64_t)i);
    atomic_init(&ch->sendx, 0);
    atomic_init(&ch->recvx, 0);
    atomic_init(&ch->recv_waiting, 0);
    atomic_init(&ch->send_waiting, 0);
    atomic_init(&ch->ring_closed, false);
    pthread_mutex_init(&ch->mu, NULL);
    ch->elem_size = elem_size;
    ch->cap = capacity;
    ch->wake_at = -1;
    atomic_init(&ch->refs, 1);
    atomic_fetch_add_explicit(&live, 1, memory_order_relaxed);
    return ch;
}

tl_chan_t *tl_chan_ref(tl_chan_t *ch)
{
    if (ch)
        atomic_fetch_add_explicit(&ch->refs, 1, memory_order_relaxed);
    return ch;
}

void tl_chan_release(tl_chan_t *ch)
{
    if (!ch)
        return;
    tl_race_release(ch); /* every holder's last use, before the free */
    if (atomic_fetch_sub_explicit(&ch->refs, 1, memory_order_acq_rel) != 1)
        return;
    tl_race_acquire(ch);
    pthread_mutex_destroy(&ch->mu);
    free(ch->buf);
    if (ch->on_free)
        ch->on_free(ch->on_free_arg);
    free(ch);
    atomic_fetch_sub_explicit(&live, 1, memory_order_release);
}

void tl_chan_close_at(tl_chan_t *ch, const char *file, int line)
{
    if (!ch)
        tl_go_panic("close of nil channel", file, line);
    tl_chan_ref(ch); /* a woken waiter may drop the last reference before the ring */
    pthread_mutex_lock(&ch->mu);
    if (ch->closed) {
        pthread_mutex_unlock(&ch->mu);
        tl_go_panic("close of closed channel", file, line);
    }
    ch->closed = true;
    ch->wake_at = -1;
    struct sudog *s;
    if (ch->cap > 0) {
        /* No send claims a slot from now on; the receivers drain the ring. */
        atomic_fetch_or(&ch->sendx, CLOSED_BIT);
        tl_race_release(&ch->ring_closed); /* for a receive that sees it unlocked */
        atomic_store_explicit(&ch->ring_closed, true, memory_order_release);
        /* The receivers poll again: each drains what is left, then sees the
         * close. (No value is handed over here: the ring may still hold a
         * send's value that is being filled.) */
        struct sudog *r;
        while ((r = claim_first(ch, &ch->recvq)) != NULL) {
            wake_claimed(r, false);
            r->w->retry = true;
        }
    }
    while ((s = claim_first(ch, &ch->recvq)) != NULL) {
        if (s->c->val)
            memset(s->c->val, 0, ch->elem_size);
        s->c->ok = false;
        wake_claimed(s, true);
    }
    while ((s = claim_first(ch, &ch->sendq)) != NULL)
        wake_claimed(s, true);
    pthread_mutex_unlock(&ch->mu);
    flush_wakes_ringing(ch);
    tl_chan_release(ch);
}

/* Runs a wake that has come due; the caller holds no lock. */
static void run_due_wake(tl_chan_t *ch)
{
    pthread_mutex_lock(&ch->mu);
    void (*wake)(void *, int64_t) = NULL;
    void *arg = NULL;
    int64_t due = ch->wake_at;
    if (due >= 0 && tl_now_ms() >= due) {
        wake = ch->wake;
        arg = ch->wake_arg;
        ch->wake_at = -1;
    }
    pthread_mutex_unlock(&ch->mu);
    if (wake)
        wake(arg, due);
}

int tl_chan_len(tl_chan_t *ch)
{
    if (!ch || ch->cap == 0)
        return 0;
    if (!ch->fast)
        run_due_wake(ch); /* a timer's value, once due, is in */
    uint64_t sent = atomic_load(&ch->sendx) & ~CLOSED_BIT, received = atomic_load(&ch->recvx);
    int64_t n = (int64_t)(sent - received);
    return n < 0 ? 0 : n > ch->cap ? ch->cap : (int)n;
}

int tl_chan_cap(tl_chan_t *ch)
{
    return ch ? ch->cap : 0;
}

/* ---- select ---- */

static uint64_t next_random(void)
{
    static _Thread_local uint64_t x;
    if (x == 0)
        x = (uint64_t)(uintptr_t)&x ^ (uint64_t)tl_now_ms() << 20 ^ 0x9e3779b97f4a7c15u;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

/* Uniform in [0, n) but for 2^-32, by a multiply: no division. */
static int random_below(int n)
{
    return (int)((next_random() >> 32) * (uint64_t)n >> 32);
}

static int by_address(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(tl_chan_t *const *)a, y = (uintptr_t)*(tl_chan_t *const *)b;
    return (x > y) - (x < y);
}

/* The scratch a select needs: small selects use the stack, as Go's do. */
enum { SMALL = 4 };
struct scratch {
    tl_chan_t **locks;  /* distinct channels in address order */
    int nlocks;
    int *order;      /* cases in random poll order */
    struct sudog *sudogs;
    tl_chan_t *locks_small[SMALL];
    int order_small[SMALL];
    struct sudog sudogs_small[SMALL];
};

static int scratch_init(struct scratch *sc, struct tl_chan_case *cases, int n)
{
    if (n <= SMALL) {
        sc->locks = sc->locks_small;
        sc->order = sc->order_small;
        sc->sudogs = sc->sudogs_small;
    } else {
        sc->locks = malloc((size_t)n * sizeof *sc->locks);
        sc->order = malloc((size_t)n * sizeof *sc->order);
        sc->sudogs = malloc((size_t)n * sizeof *sc->sudogs);
        if (!sc->locks || !sc->order || !sc->sudogs) {
            free(sc->locks), free(sc->order), free(sc->sudogs);
            errno = ENOMEM;
            return -1;
        }
    }
    int m = 0;
    for (int i = 0; i < n; i++)
        if (cases[i].ch)
            sc->locks[m++] = cases[i].ch;
    if (m > 1)
        qsort(sc->locks, (size_t)m, sizeof *sc->locks, by_address);
    sc->nlocks = 0;
    for (int i = 0; i < m; i++)
        if (i == 0 || sc->locks[i] != sc->locks[i - 1])
            sc->locks[sc->nlocks++] = sc->locks[i];
    /* Fisher-Yates: when several cases are ready, each is equally likely. */
    if (n > 0)
        sc->order[0] = 0;
    for (int i = 1; i < n; i++) {
        int j = random_below(i + 1);
        sc->order[i] = sc->order[j];
        sc->order[j] = i;
    }
    return 0;
}

static void scratch_free(struct scratch *sc)
{
    if (sc->locks != sc->locks_small) {
        free(sc->locks);
        free(sc->order);
        free(sc->sudogs);
    }
}

static void lock_all(struct scratch *sc)
{
    for (int i = 0; i < sc->nlocks; i++)
        pthread_mutex_lock(&sc->locks[i]->mu);
}

static void unlock_all(struct scratch *sc)
{
    for (int i = sc->nlocks - 1; i >= 0; i--)
        pthread_mutex_unlock(&sc->locks[i]->mu);
}

/* Pass 1: the first ready case in poll order, done now; -1 if none is ready.
 * *due is set when a channel's wake has come due instead, *coming when a
 * closed channel's value is still being copied in (try_recv). */
static int poll_cases(struct scratch *sc, struct tl_chan_case *cases, int n, bool *due,
                      bool *coming, int *err)
{
    int64_t now = -1;
    *due = *coming = false;
    for (int k = 0; k < n; k++) {
        int i = sc->order[k];
        struct tl_chan_case *c = &cases[i];
        if (!c->ch)
            continue;
        if (c->ch->wake_at >= 0) {
            if (now < 0)
                now = tl_now_ms();
            if (now >= c->ch->wake_at) {
                *due = true;
                continue;
            }
        }
        if (c->op == TL_CHAN_SEND ? try_send(c->ch, c->val, err)
                               : try_recv(c->ch, c->val, &c->ok, coming))
            return i;
    }
    return -1;
}

/* ---- parking ---- */

/* How long a thread looks at its word before it sleeps, learnt
 * per thread: a look that was answered stretches the next ones, one that was
 * not halves them, and every PROBE_LOOKS-th look is a full one, to find out
 * whether answers have come back within reach. That often, because one late
 * answer puts both partners to sleep: each then answers only once woken,
 * later than any worn-down look waits, until a full look outwaits a
 * wake-up. Not on a thread's first look: a request's threads look only a
 * few times, and a full look that nobody answers cost 04 fixed's server 8%
 * of its throughput. On one CPU nothing can answer a look. */
enum { SPIN_MIN = 16, SPIN_MAX = 1 << 15, PROBE_LOOKS = 64 };
static _Thread_local int spin_budget = SPIN_MIN;
static _Thread_local unsigned parks;
static atomic_int cpus; /* 0: not counted yet */

static bool delivered(struct waiter *w)
{
    return atomic_load_explicit(&w->word, memory_order_acquire) == DELIVERED;
}

static int online_cpus(void)
{
    int n = atomic_load_explicit(&cpus, memory_order_relaxed);
    if (n == 0) {
        /* Online CPUs, not this thread's mask: two threads pinned to one
         * CPU each still answer each other within a look. */
        n = (int)sysconf(_SC_NPROCESSORS_ONLN);
        atomic_store_explicit(&cpus, n > 0 ? n : 1, memory_order_relaxed);
    }
    return n;
}

static bool look(struct waiter *w)
{
    if (online_cpus() < 2)
        return false;
    int budget = ++parks % PROBE_LOOKS == 0 ? SPIN_MAX : spin_budget;
    for (int i = 0; i < budget; i++) {
        if (delivered(w)) {
            if (spin_budget < 4 * i)
                spin_budget = 4 * i < SPIN_MAX ? 4 * i : SPIN_MAX;
            return true;
        }
    }
    spin_budget = spin_budget / 2 > SPIN_MIN ? spin_budget / 2 : SPIN_MIN;
    return false;
}

#ifndef FUTEX2_SIZE_U32
#define FUTEX2_SIZE_U32 0x02 /* not named by Linux 6.1's uapi headers */
#endif
static atomic_bool no_waitv; /* futex_waitv failed (ENOSYS, or a seccomp filter) */

/* Sleeps on w's word, and on the bells of the channels in sc unless there
 * are too many or futex_waitv cannot be used. Returns 0 when woken
 * (perhaps spuriously), or -1 with errno (ETIMEDOUT, EAGAIN, EINTR). */
static long sleep_on(struct waiter *w, struct scratch *sc, const struct timespec *at)
{
    struct futex_waitv v[1 + SMALL];
    int n = 0;
    if (sc->nlocks <= SMALL && !atomic_load_explicit(&no_waitv, memory_order_relaxed)) {
        for (int i = 0; i < sc->nlocks; i++) {
            atomic_int *bell = &sc->locks[i]->bell;
            v[++n] = (struct futex_waitv){
                .val = (uint32_t)atomic_load_explicit(bell, memory_order_acquire),
                .uaddr = (uintptr_t)bell, .flags = FUTEX2_SIZE_U32 | FUTEX_PRIVATE_FLAG };
        }
    }
    int asleep = n > 0 ? ASLEEP_BELLS : ASLEEP;
    int was = atomic_load_explicit(&w->word, memory_order_acquire);
    if (was == DELIVERED ||
        (was != asleep && !atomic_compare_exchange_strong_explicit(
                              &w->word, &was, asleep, memory_order_acq_rel, memory_order_acquire)))
        return 0; /* delivered meanwhile: look again */
    if (n == 0)
        return futex(&w->word, FUTEX_WAIT_BITSET_PRIVATE, ASLEEP, at);
    v[0] = (struct futex_waitv){ .val = ASLEEP_BELLS, .uaddr = (uintptr_t)&w->word,
                                 .flags = FUTEX2_SIZE_U32 | FUTEX_PRIVATE_FLAG };
    long rc = syscall(SYS_futex_waitv, v, n + 1, 0, at, CLOCK_MONOTONIC);
    if (rc < 0 && errno != ETIMEDOUT && errno != EAGAIN && errno != EINTR) {
        /* ENOSYS, or EPERM from a seccomp filter: from now on, the word
         * alone (a close then wakes each sleeper on its word) */
        atomic_store_explicit(&no_waitv, true, memory_order_relaxed);
        errno = EAGAIN;
    }
    return rc < 0 ? -1 : 0;
}

/* Sleeps until a case fires or the wake time passes, then claims the waiter
 * for the timeout if nothing fired first. It looks for a while first, for a
 * partner on another CPU. A partner on this CPU cannot answer a look: when
 * this thread's last wake-up came from this CPU, the waker was preempted by
 * it (a woken thread runs first) and has not reached its own receive yet, so
 * one sched_yield lets it get there and hand over without a futex wake-up:
 * Go's runnext hand-off, two switches a round trip instead of about 3.4. */
static _Thread_local bool partner_here; /* the last wake-up came from this CPU */

static void park(struct waiter *w, struct scratch *sc, int64_t wake)
{
    if (partner_here) {
        partner_here = false;
        sched_yield();
        if (delivered(w))
            goto done;
    }
    if (look(w))
        goto done;
    struct timespec at;
    tl_deadline_to_timespec(wake, &at);
    while (!delivered(w)) {
        if (sleep_on(w, sc, wake < 0 ? NULL : &at) == 0 || errno != ETIMEDOUT)
            continue; /* woken, spuriously perhaps, or interrupted: look again */
        int waiting = WAITING;
        if (atomic_compare_exchange_strong_explicit(&w->fired, &waiting, TIMED_OUT,
                                                    memory_order_acq_rel, memory_order_acquire))
            return;
        wake = -1; /* claimed as time ran out: the wake-up is on its way */
    }
done:
    partner_here = w->from_cpu >= 0 && w->from_cpu == sched_getcpu();
}

static void waiter_init(struct waiter *w)
{
    atomic_init(&w->fired, WAITING);
    w->closed = false;
    atomic_init(&w->word, NOT_YET);
    w->retry = false;
    w->from_cpu = -1;
}

/* Queues every case, sleeps, dequeues what is left. Returns the case that
 * fired, or TIMED_OUT. *fills counts the times in a row this select has
 * found a slot it waits for claimed and not yet filled. *blocked: the
 * census was told this thread is blocked and not told otherwise since, as
 * a nap ends (the caller tells it, once the select is done). */
static int block(struct scratch *sc, struct tl_chan_case *cases, int n, int64_t deadline,
                 enum tl_state state, const char *file, int line, int *err, int *fills,
                 bool *blocked)
{
    struct waiter w;
    waiter_init(&w);
    int64_t wake = deadline;
    /* Queued in the poll's random order: of two cases on one channel, the
     * one queued first is the one a partner finds first. */
    for (int k = 0; k < n; k++) {
        int i = sc->order[k];
        tl_chan_t *ch = cases[i].ch;
        struct sudog *s = &sc->sudogs[i];
        *s = (struct sudog){ .w = &w, .c = &cases[i], .index = i, .counts = true };
        if (!ch)
            continue;
        for (int j = 0; j < k && s->counts; j++)
            s->counts = cases[sc->order[j]].ch != ch;
        enqueue(ch, cases[i].op == TL_CHAN_SEND ? &ch->sendq : &ch->recvq, s);
        if (ch->wake_at >= 0 && (wake < 0 || ch->wake_at < wake))
            wake = ch->wake_at;
    }
    /* Counted now (enqueue): a fast send or receive that claims its position
     * from here on will serve the queue this thread is in. One that claimed
     * it between the poll and the count may not have looked: if its value
     * (or room) is there or coming, poll again instead of sleeping. */
    bool ready = false, filling = false;
    for (int i = 0; i < n && !ready; i++) {
        tl_chan_t *ch = cases[i].ch;
        if (!ch || !ch->fast)
            continue;
        if (case_ready(&cases[i], false))
            ready = true;
        else if (ring_coming(ch, cases[i].op))
            filling = true;
    }
    filling = filling && !ready;
    /* Coming, but its slot still being filled (or emptied) after
     * FILL_YIELDS yields: sleep. By the time the thread doing it has
     * finished, it has seen this thread counted and serves it. Naps of up
     * to 1, 2, 4 ... 64 ms bound the one case it may not have: it read the
     * count just before this thread counted, and its slot's store had not
     * yet reached this CPU (which a yield would have seen). */
    *fills = filling ? *fills + 1 : 0;
    bool nap = *fills > FILL_YIELDS;
    if (nap) {
        filling = false;
        int doublings = *fills - FILL_YIELDS - 1 < 6 ? *fills - FILL_YIELDS - 1 : 6;
        int64_t until = tl_now_ms() + ((int64_t)1 << doublings);
        if (wake < 0 || until < wake)
            wake = until;
    }
    bool again = ready || filling;
    if (again) /* nobody can have claimed it: every channel is still locked */
        atomic_store_explicit(&w.fired, TIMED_OUT, memory_order_relaxed);
    unlock_all(sc);
    if (filling) /* by a thread that may be waiting for this CPU */
        sched_yield();

    if (!again) {
        /* Blocked once for a run of naps, so that the census's "blocked
         * for" and the trace's events count from the first. */
        if (!*blocked)
            tl_block(state, file, line, cases, n, deadline);
        park(&w, sc, wake);
        *blocked = nap && atomic_load_explicit(&w.fired, memory_order_relaxed) == TIMED_OUT;
        if (!*blocked)
            tl_unblock();
    }

    /* The case that fired was dequeued by whoever fired it, so its channel
     * is not locked again: after a close of an unbuffered channel (a
     * context's Done), a thousand woken receivers do not queue up on its
     * mutex. (A buffered channel's receivers poll again after a close, to
     * drain the ring, and each takes its lock once.) The other cases'
     * entries go, one channel at a time. */
    int fired = atomic_load_explicit(&w.fired, memory_order_acquire);
    if (fired >= 0 && !w.retry)
        tl_race_acquire(&w);
    for (int i = 0; i < n; i++) {
        struct sudog *s = &sc->sudogs[i];
        tl_chan_t *ch = cases[i].ch;
        if (ch && i != fired) {
            struct queue *q = cases[i].op == TL_CHAN_SEND ? &ch->sendq : &ch->recvq;
            pthread_mutex_lock(&ch->mu);
            if (s->prev || s->next || q->head == s)
                unlink_sudog(ch, q, s);
            pthread_mutex_unlock(&ch->mu);
        }
    }
    if (fired >= 0 && w.closed && cases[fired].op == TL_CHAN_SEND)
        *err = EPIPE;
    return fired >= 0 && w.retry ? TIMED_OUT : fired;
}

/* ---- the fast paths: buffered channels that need not wait ---- */

/* How many times a fast send, receive or select looks at the ring for a
 * partner on another CPU before it blocks, grown and shrunk as look()'s
 * budget is: a producer a little slower than its consumer then never meets
 * a sleeper, and neither takes a lock. Between two looks it waits a while
 * (PAUSE turns of an empty loop, 0.4 us here): each look pulls the
 * partner's cache line away from it and slows the very write it waits
 * for, and the partner meanwhile fills (or empties) several slots, which
 * the looker then takes in one run, as Go's parked receiver does. */
enum { RING_MAX = 64, PAUSE = 1024, RING_PROBE_EVERY = 1024 };
static _Thread_local int ring_budget = SPIN_MIN;
static _Thread_local unsigned ring_looks;

/* look: how many looks have found nothing. From RUN_LOOKS on, one free
 * slot will do: a receiver that takes one value and then waits for this
 * sender would never make a run (about 1.6 us of looks, the time a busy
 * receiver takes to free a run here). */
enum { RUN_LOOKS = 4 };
static bool ring_ready(const struct tl_chan_case *cases, int n, int look)
{
    for (int i = 0; i < n; i++)
        if (cases[i].ch && case_ready(&cases[i], look < RUN_LOOKS))
            return true;
    return false;
}

static bool look_at_rings(const struct tl_chan_case *cases, int n)
{
    if (n == 0 || online_cpus() < 2)
        return false;
    /* Now and then a long look: a budget worn down to nothing while the
     * partner was away would never grow back. (Every 1024th, as look()'s
     * was: the buffered rows were measured so; look()'s came down to 64
     * for the ping-pong's spell of both partners asleep.) */
    int budget = ++ring_looks % RING_PROBE_EVERY == 0 ? RING_MAX : ring_budget;
    for (int i = 0; i < budget; i++) {
        if (ring_ready(cases, n, i)) {
            if (ring_budget < 4 * i)
                ring_budget = 4 * i < RING_MAX ? 4 * i : RING_MAX;
            return true;
        }
        for (volatile int k = 0; k < PAUSE; k++)
            ;
    }
    ring_budget = ring_budget / 2 > SPIN_MIN ? ring_budget / 2 : SPIN_MIN;
    return false;
}

/* One pass over the cases in the poll's random order, without a lock:
 * the index of the case done, or -1. A closed channel is ready, as in Go:
 * a receive gets what is left, then the zero value; a send panics. (A
 * value sent before the close and still being copied in: -1, and the slow
 * path waits for it, blocked to the census.) */
static int fast_poll(struct tl_chan_case *cases, int n, const int *order, const char *file,
                     int line)
{
    for (int k = 0; k < n; k++) {
        struct tl_chan_case *c = &cases[order[k]];
        if (!c->ch)
            continue;
        if (c->op == TL_CHAN_SEND) {
            int pushed = ring_push(c->ch, c->val);
            if (pushed < 0)
                tl_go_panic("send on closed channel", file, line);
            if (pushed > 0) {
                fast_wake(c->ch, &c->ch->recvq);
                return order[k];
            }
        } else if (ring_pop(c->ch, c->val)) {
            c->ok = true;
            fast_wake(c->ch, &c->ch->sendq);
            return order[k];
        } else if (ring_drained(c->ch)) {
            tl_race_acquire(&c->ch->ring_closed);
            if (c->val)
                memset(c->val, 0, c->ch->elem_size);
            c->ok = false;
            return order[k];
        }
    }
    return -1;
}

enum { FAST_MAX = 16 }; /* cases a fast select orders on its stack */

/* A select whose every channel is fast (nil ones aside), of at most
 * FAST_MAX cases: done without a lock if a case is ready now or soon, -1
 * for the slow path (which also waits for ever on no case at all). */
static int fast_select(struct tl_chan_case *cases, int n, int64_t deadline, const char *file,
                       int line)
{
    if (n == 0 || n > FAST_MAX)
        return -1;
    for (int i = 0; i < n; i++)
        if (cases[i].ch && !cases[i].ch->fast)
            return -1;
    int order[FAST_MAX];
    order[0] = 0;
    for (int i = 1; i < n; i++) { /* Fisher-Yates, as scratch_init */
        int j = random_below(i + 1);
        order[i] = order[j];
        order[j] = i;
    }
    int done = fast_poll(cases, n, order, file, line);
    if (done < 0 && deadline != 0 && look_at_rings(cases, n))
        done = fast_poll(cases, n, order, file, line);
    return done;
}

static int select_impl(struct tl_chan_case *cases, int n, int64_t deadline,
                       enum tl_state state, const char *file, int line)
{
    struct scratch sc;
    if (n < 0 || (n > 0 && !cases)) {
        errno = EINVAL;
        return -1;
    }
    int fast = fast_select(cases, n, deadline, file, line);
    if (fast >= 0)
        return fast;
    int saved_errno = errno; /* the futex waits below may change it */
    if (scratch_init(&sc, cases, n) < 0)
        return -1;
    int err = 0, chosen, fills = 0, fill_waits = 0;
    bool blocked = false; /* across naps: block() */
    for (;;) {
        bool due, coming;
        lock_all(&sc);
        chosen = poll_cases(&sc, cases, n, &due, &coming, &err);
        if (chosen >= 0) {
            unlock_all(&sc);
            flush_wakes();
            break;
        }
        if (due) {
            unlock_all(&sc);
            for (int i = 0; i < sc.nlocks; i++)
                run_due_wake(sc.locks[i]);
            continue;
        }
        /* A closed channel is ready, as in Go, where its value would be in
         * already: it wins over the deadline. After a few yields the thread
         * naps, and is blocked to the census, as block()'s naps are. */
        if (coming) {
            unlock_all(&sc);
            if (fill_waits >= FILL_YIELDS && !blocked) {
                tl_block(state, file, line, cases, n, deadline);
                blocked = true;
            }
            wait_for_fill(fill_waits);
            if (fill_waits < FILL_WAITS)
                fill_waits++;
            continue;
        }
        if (deadline >= 0 && tl_now_ms() >= deadline) {
            unlock_all(&sc);
            err = ETIMEDOUT;
            break;
        }
        chosen = block(&sc, cases, n, deadline, state, file, line, &err, &fills, &blocked);
        if (chosen >= 0)
            break;
        /* Timed out (the deadline passed, a channel's wake came due or a
         * nap ended), or to poll again: the next poll tells which. */
    }
    if (blocked)
        tl_unblock();
    scratch_free(&sc);
    if (err == EPIPE)
        tl_go_panic("send on closed channel", file, line);
    if (chosen >= 0) {
        errno = saved_errno;
        return chosen;
    }
    errno = err;
    return -1;
}

int tl_chan_select_at(struct tl_chan_case *cases, int n, int64_t deadline, const char *file,
                   int line)
{
    return select_impl(cases, n, deadline, TL_STATE_SELECT, file, line);
}

void tl_chan_send_at(tl_chan_t *ch, const void *val, const char *file, int line)
{
    if (ch && ch->fast && ring_push(ch, val) > 0) { /* the common case, first */
        fast_wake(ch, &ch->recvq);
        return;
    }
    struct tl_chan_case c = tl_chan_send_case(ch, val);
    select_impl(&c, 1, -1, TL_STATE_CHAN_SEND, file, line);
}

bool tl_chan_recv_at(tl_chan_t *ch, void *val, const char *file, int line)
{
    if (ch && ch->fast && ring_pop(ch, val)) {
        fast_wake(ch, &ch->sendq);
        return true;
    }
    struct tl_chan_case c = tl_chan_recv_case(ch, val);
    select_impl(&c, 1, -1, TL_STATE_CHAN_RECV, file, line);
    return c.ok;
}

/* ---- time.After and the hooks for context.c and census.c ---- */

/* The value is the time the timer was due, as Go's is the time it fired
 * (its runtime fires it then): not the later moment someone looked. */
static void timer_fire(void *arg, int64_t due)
{
    tl_chan_offer(arg, &due);
}

tl_chan_t *tl_time_after(int64_t ms)
{
    tl_chan_t *ch = tl_chan_make(sizeof(int64_t), 1);
    if (ch)
        tl_chan_set_wake(ch, tl_deadline_after(ms < 0 ? 0 : ms), timer_fire, ch);
    return ch;
}

/* Claims every waiter queued on q as timed out, so that it polls again and
 * sleeps until the channel's new wake time. */
static void time_out_all(tl_chan_t *ch, struct queue *q)
{
    struct sudog *s = q->head, *next;
    for (; s; s = next) {
        next = s->next;
        int waiting = WAITING;
        if (atomic_compare_exchange_strong_explicit(&s->w->fired, &waiting, TIMED_OUT,
                                                    memory_order_acq_rel,
                                                    memory_order_acquire)) {
            unlink_sudog(ch, q, s);
            wake_claimed(s, false);
        }
    }
}

void tl_chan_set_wake(tl_chan_t *ch, int64_t at, void (*wake)(void *arg, int64_t due), void *arg)
{
    pthread_mutex_lock(&ch->mu);
    if (ch->fast)
        ch->fast = false; /* a timer's: its wake sends under the lock; set before it is shared */
    /* A waiter already asleep chose its wake-up time from the old one: if
     * the new one comes sooner, it must choose again (a timer's Reset). */
    bool sooner = at >= 0 && (ch->wake_at < 0 || at < ch->wake_at);
    ch->wake_at = at;
    ch->wake = wake;
    ch->wake_arg = arg;
    if (sooner) {
        time_out_all(ch, &ch->recvq);
        time_out_all(ch, &ch->sendq);
    }
    pthread_mutex_unlock(&ch->mu);
    flush_wakes();
}

bool tl_chan_offer(tl_chan_t *ch, const void *val)
{
    int err = 0;
    pthread_mutex_lock(&ch->mu);
    bool sent = !ch->closed && try_send(ch, val, &err);
    pthread_mutex_unlock(&ch->mu);
    flush_wakes();
    return sent;
}

bool tl_chan_take(tl_chan_t *ch, void *val)
{
    bool ok = false, coming = false; /* a value still being copied in is not there yet */
    pthread_mutex_lock(&ch->mu);
    bool got = try_recv(ch, val, &ok, &coming) && ok;
    pthread_mutex_unlock(&ch->mu);
    flush_wakes();
    return got;
}

void tl_chan_set_free(tl_chan_t *ch, void (*on_free)(void *arg), void *arg)
{
    ch->on_free = on_free;
    ch->on_free_arg = arg;
}

void tl_chan_mark_done(tl_chan_t *ch)
{
    pthread_mutex_lock(&ch->mu);
    if (ch->fast)
        ch->fast = false;
    ch->is_done = true;
    pthread_mutex_unlock(&ch->mu);
}

int tl_chan_refs(tl_chan_t *ch)
{
    return atomic_load(&ch->refs);
}

bool tl_chan_abandoned(tl_chan_t *ch)
{
    pthread_mutex_lock(&ch->mu);
    bool abandoned = !ch->is_done && ch->wake_at < 0 &&
                     atomic_load(&ch->refs) <= ch->blocked;
    pthread_mutex_unlock(&ch->mu);
    return abandoned;
}
