/* Buffered channels beside their lock-free floor: the same shapes through a
 * bounded ring that never blocks (Vyukov's queue, each slot's sequence
 * number saying whose turn it is; a thread that finds it full or empty
 * spins and yields), so that the project's figure reads as a fraction of
 * what a channel could do here if nobody ever slept. Each figure is the
 * median of REPS runs, with the fastest and slowest beside it. */
#define _GNU_SOURCE
#include "floor.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "chan.h"
#include "clock.h"
#include "go.h"

enum { REPS = 5, SLOTS = 128, MESSAGES = 1000000, SELECTS = 500000 };

struct ring {
    atomic_size_t head;
    char apart1[64 - sizeof(atomic_size_t)];
    atomic_size_t tail;
    char apart2[64 - sizeof(atomic_size_t)];
    struct {
        atomic_size_t seq;
        int value;
    } slot[SLOTS];
};

static void ring_put(struct ring *r, int v)
{
    for (;;) {
        size_t pos = atomic_load_explicit(&r->tail, memory_order_relaxed);
        size_t seq = atomic_load_explicit(&r->slot[pos % SLOTS].seq, memory_order_acquire);
        if (seq == pos && atomic_compare_exchange_weak(&r->tail, &pos, pos + 1)) {
            r->slot[pos % SLOTS].value = v;
            atomic_store_explicit(&r->slot[pos % SLOTS].seq, pos + 1, memory_order_release);
            return;
        }
        if (seq < pos)
            sched_yield(); /* full */
    }
}

static int ring_get(struct ring *r)
{
    for (;;) {
        size_t pos = atomic_load_explicit(&r->head, memory_order_relaxed);
        size_t seq = atomic_load_explicit(&r->slot[pos % SLOTS].seq, memory_order_acquire);
        if (seq == pos + 1 && atomic_compare_exchange_weak(&r->head, &pos, pos + 1)) {
            int v = r->slot[pos % SLOTS].value;
            atomic_store_explicit(&r->slot[pos % SLOTS].seq, pos + SLOTS, memory_order_release);
            return v;
        }
        if (seq < pos + 1)
            sched_yield(); /* empty */
    }
}

struct load {
    struct ring *ring;
    chan_t *ch;
    int per_thread;
};

static void *ring_producer(void *arg)
{
    struct load *l = arg;
    for (int i = 0; i < l->per_thread; i++)
        ring_put(l->ring, i);
    return NULL;
}

static void *ring_consumer(void *arg)
{
    struct load *l = arg;
    for (int i = 0; i < l->per_thread; i++)
        ring_get(l->ring);
    return NULL;
}

static void chan_producer(void *arg)
{
    struct load *l = arg;
    for (int i = 0; i < l->per_thread; i++)
        chan_send(l->ch, &i);
}

static void chan_consumer(void *arg)
{
    struct load *l = arg;
    int v;
    for (int i = 0; i < l->per_thread; i++)
        chan_recv(l->ch, &v);
}

/* Millions of messages a second, pairs senders to pairs receivers. */
static double ring_once(int pairs)
{
    struct ring *r = calloc(1, sizeof *r);
    for (size_t i = 0; i < SLOTS; i++)
        atomic_init(&r->slot[i].seq, i);
    struct load l = { .ring = r, .per_thread = MESSAGES / pairs };
    pthread_t t[16];
    int64_t start = now_ns();
    for (int i = 0; i < pairs; i++) {
        pthread_create(&t[2 * i], NULL, ring_producer, &l);
        pthread_create(&t[2 * i + 1], NULL, ring_consumer, &l);
    }
    for (int i = 0; i < 2 * pairs; i++)
        pthread_join(t[i], NULL);
    double s = (double)(now_ns() - start) / 1e9;
    free(r);
    return l.per_thread * pairs / s / 1e6;
}

static double chan_once(int pairs)
{
    struct load l = { .ch = chan_make(sizeof(int), SLOTS), .per_thread = MESSAGES / pairs };
    int64_t start = now_ns();
    for (int i = 0; i < pairs; i++) {
        go("producer", chan_producer, &l);
        go("consumer", chan_consumer, &l);
    }
    go_wait_all(-1);
    double s = (double)(now_ns() - start) / 1e9;
    chan_release(l.ch);
    return l.per_thread * pairs / s / 1e6;
}

void bench_buffered(void)
{
    printf("\nbuffered channels (128 slots) and their lock-free floor (median [min-max] of %d)\n",
           REPS);
    for (int pairs = 1; pairs <= 4; pairs += 3) {
        double c[REPS], r[REPS];
        for (int i = 0; i < REPS; i++) {
            c[i] = chan_once(pairs);
            r[i] = ring_once(pairs);
        }
        struct spread cs = bench_spread(c, REPS), rs = bench_spread(r, REPS);
        char name[96];
        snprintf(name, sizeof name, "buffered, %d -> %d: chan", pairs, pairs);
        bench_row_spread("chan", name, cs, "M msgs/s");
        snprintf(name, sizeof name, "buffered, %d -> %d: lock-free ring, never blocks", pairs,
                 pairs);
        bench_row_spread("chan", name, rs, "M msgs/s");
        snprintf(name, sizeof name, "buffered, %d -> %d: chan / lock-free ring", pairs, pairs);
        bench_row("chan", name, cs.median / rs.median, "x");
    }
    double v[REPS];
    for (int i = 0; i < REPS; i++)
        v[i] = bench_select_cost(2, SELECTS);
    bench_row_spread("chan", "select over 2 channels, fed by another thread", bench_spread(v, REPS),
                     "ns/op");
}
