/* Channels: the cases Go's chan_test.go covers, for threads. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "census.h"
#include "chan.h"
#include "clock.h"
#include "go.h"
#include "unit.h"

START_TEST(make_rejects_bad_arguments)
{
    errno = 0;
    ck_assert_ptr_null(chan_make(0, 1));
    ck_assert_int_eq(errno, EINVAL);
    errno = 0;
    ck_assert_ptr_null(chan_make(sizeof(int), -1));
    ck_assert_int_eq(errno, EINVAL);
    chan_t *ch = chan_make(sizeof(int), 0);
    ck_assert_ptr_nonnull(ch);
    ck_assert_int_eq(chan_cap(ch), 0);
    ck_assert_int_eq(chan_len(ch), 0);
    chan_release(ch);
}
END_TEST

struct rendezvous {
    chan_t *ch;
    atomic_bool sent;
};

static void send_42(void *arg)
{
    struct rendezvous *r = arg;
    int v = 42;
    chan_send(r->ch, &v);
    atomic_store(&r->sent, true);
}

START_TEST(rendezvous_send_waits_for_its_receiver)
{
    struct rendezvous r = { .ch = chan_make(sizeof(int), 0) };
    ck_assert_int_eq(go("rv-sender", send_42, &r), 0);
    ck_assert(unit_blocked(1, "rv-sender", "chan_send"));
    ck_assert(!atomic_load(&r.sent));
    ck_assert_int_eq(chan_len(r.ch), 0);
    int v = 0;
    ck_assert(chan_recv(r.ch, &v));
    ck_assert_int_eq(v, 42);
    ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
    ck_assert(atomic_load(&r.sent));
    chan_release(r.ch);
}
END_TEST

START_TEST(buffered_keeps_fifo_order_up_to_capacity)
{
    chan_t *ch = chan_make(sizeof(int), 3);
    for (int i = 1; i <= 3; i++)
        chan_send(ch, &i);
    ck_assert_int_eq(chan_len(ch), 3);
    ck_assert_int_eq(chan_cap(ch), 3);
    int four = 4;
    struct chan_case full = chan_send_case(ch, &four);
    ck_assert_int_eq(chan_select(&full, 1, 0), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    for (int i = 1; i <= 3; i++) {
        int v = 0;
        ck_assert(chan_recv(ch, &v));
        ck_assert_int_eq(v, i);
    }
    ck_assert_int_eq(chan_len(ch), 0);
    chan_release(ch);
}
END_TEST

START_TEST(close_drains_buffer_then_gives_zero_and_not_ok)
{
    chan_t *ch = chan_make(sizeof(int), 2);
    int a = 7, b = 8, v;
    chan_send(ch, &a);
    chan_send(ch, &b);
    chan_close(ch);
    ck_assert(chan_recv(ch, &v));
    ck_assert_int_eq(v, 7);
    ck_assert(chan_recv(ch, &v));
    ck_assert_int_eq(v, 8);
    v = -1;
    ck_assert(!chan_recv(ch, &v));
    ck_assert_int_eq(v, 0);
    ck_assert(!chan_recv(ch, NULL));
    chan_release(ch);
}
END_TEST

static void send_on_closed(void *arg)
{
    (void)arg;
    chan_t *ch = chan_make(sizeof(int), 1);
    int v = 1;
    chan_close(ch);
    chan_send(ch, &v);
}

static void close_twice(void *arg)
{
    (void)arg;
    chan_t *ch = chan_make(sizeof(int), 1);
    chan_close(ch);
    chan_close(ch);
}

static void close_nil(void *arg)
{
    (void)arg;
    chan_close(NULL);
}

/* Go: "panic: send on closed channel", "close of closed channel", "close of
 * nil channel". */
START_TEST(send_on_closed_double_close_and_close_of_nil_panic)
{
    unit_assert_panics(send_on_closed, NULL, "send on closed channel");
    unit_assert_panics(close_twice, NULL, "close of closed channel");
    unit_assert_panics(close_nil, NULL, "close of nil channel");
}
END_TEST

struct closer_test {
    chan_t *ch;
    atomic_int not_ok;
};

static void recv_until_closed(void *arg)
{
    struct closer_test *t = arg;
    int v = -1;
    if (!chan_recv(t->ch, &v) && v == 0)
        atomic_fetch_add(&t->not_ok, 1);
}

static void send_until_closed(void *arg)
{
    struct closer_test *t = arg;
    int v = 5;
    chan_send(t->ch, &v);
}

/* The sender of chapter 02, freed by closing its channel: in Go it panics. */
static void close_under_a_blocked_sender(void *arg)
{
    (void)arg;
    struct closer_test t = { .ch = chan_make(sizeof(int), 0) };
    if (go("closed-send", send_until_closed, &t) != 0 ||
        !unit_blocked(1, "closed-send", "chan_send"))
        _exit(3);
    chan_close(t.ch);
    go_wait_all(deadline_after(5000)); /* the sender panics meanwhile */
}

START_TEST(close_wakes_every_blocked_receiver)
{
    struct closer_test t = { .ch = chan_make(sizeof(int), 0) };
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(go("closed-recv", recv_until_closed, &t), 0);
    ck_assert(unit_blocked(4, "closed-recv", "chan_recv"));
    chan_close(t.ch);
    ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
    ck_assert_int_eq(atomic_load(&t.not_ok), 4);
    chan_release(t.ch);
}
END_TEST

START_TEST(a_sender_blocked_when_its_channel_is_closed_panics)
{
    unit_assert_panics(close_under_a_blocked_sender, NULL, "send on closed channel");
}
END_TEST

/* Many producers and consumers: every value arrives exactly once. */
enum { PRODUCERS = 4, CONSUMERS = 4, PER_PRODUCER = 5000 };

struct mpmc {
    chan_t *ch;
    atomic_int next_producer;
    atomic_int seen[PRODUCERS * PER_PRODUCER];
    atomic_int producers_left;
    atomic_int received;
};

static void produce(void *arg)
{
    struct mpmc *m = arg;
    int p = atomic_fetch_add(&m->next_producer, 1);
    for (int i = 0; i < PER_PRODUCER; i++) {
        int v = p * PER_PRODUCER + i;
        chan_send(m->ch, &v);
    }
    if (atomic_fetch_sub(&m->producers_left, 1) == 1)
        chan_close(m->ch);
}

static void consume(void *arg)
{
    struct mpmc *m = arg;
    int v;
    while (chan_recv(m->ch, &v)) {
        atomic_fetch_add(&m->seen[v], 1);
        atomic_fetch_add(&m->received, 1);
    }
}

static void run_mpmc(int capacity)
{
    struct mpmc *m = calloc(1, sizeof *m);
    m->ch = chan_make(sizeof(int), capacity);
    atomic_store(&m->producers_left, PRODUCERS);
    for (int i = 0; i < CONSUMERS; i++)
        ck_assert_int_eq(go("consumer", consume, m), 0);
    for (int i = 0; i < PRODUCERS; i++)
        ck_assert_int_eq(go("producer", produce, m), 0);
    /* On a busy machine the hand-offs take as long as they take; what must
     * not happen is a stall: no value received for 2 s (a lost wake-up). */
    int got = -1;
    while (go_wait_all(deadline_after(2000 * unit_slowdown())) != 0) {
        int now = atomic_load(&m->received);
        ck_assert_msg(now > got, "no value received for %d s: %d of %d so far",
                      2 * unit_slowdown(), now, PRODUCERS * PER_PRODUCER);
        got = now;
    }
    for (int v = 0; v < PRODUCERS * PER_PRODUCER; v++)
        ck_assert_msg(atomic_load(&m->seen[v]) == 1, "value %d seen %d times", v,
                      atomic_load(&m->seen[v]));
    chan_release(m->ch);
    free(m);
}

START_TEST(many_producers_consumers_buffered_lose_and_duplicate_nothing)
{
    run_mpmc(16);
}
END_TEST

/* Capacities 1 and 2: the ring's slots are reused every lap or two, so a
 * send and a receive meet on one slot all the time, and every blocked
 * thread must be woken by one that took no lock. */
START_TEST(many_producers_consumers_capacity_one_lose_and_duplicate_nothing)
{
    run_mpmc(1);
}
END_TEST

START_TEST(many_producers_consumers_capacity_two_lose_and_duplicate_nothing)
{
    run_mpmc(2);
}
END_TEST

/* Go: a receive from a full channel moves a blocked sender's value into
 * the room it made, so that send has happened; a close after it is no
 * close under a sender's feet, and panics nobody. */
static void send_two(void *arg)
{
    int two = 2;
    chan_send(arg, &two);
}

START_TEST(a_receive_completes_the_blocked_send_it_makes_room_for)
{
    for (int round = 0; round < 20; round++) {
        chan_t *ch = chan_make(sizeof(int), 1);
        int v = 1;
        chan_send(ch, &v);
        ck_assert_int_eq(go("sender", send_two, ch), 0);
        ck_assert(unit_blocked(1, "sender", "chan_send"));
        ck_assert(chan_recv(ch, &v));
        ck_assert_int_eq(v, 1);
        chan_close(ch); /* the sender's send is done: no panic */
        ck_assert_msg(go_wait_all(deadline_after(2000 * unit_slowdown())) == 0,
                      "round %d: the sender is still sending after its value was taken in", round);
        ck_assert(chan_recv(ch, &v));
        ck_assert_int_eq(v, 2);
        ck_assert(!chan_recv(ch, &v));
        chan_release(ch);
    }
}
END_TEST

/* One value into an empty buffered channel whose receiver sleeps (the
 * census shows it blocked) or is just going to: the lock-free send must
 * wake it, every round. */
struct lone {
    chan_t *ch, *ack;
};

static void receive_then_ack(void *arg)
{
    struct lone *l = arg;
    int v;
    chan_recv(l->ch, &v);
    chan_send(l->ack, &v);
}

START_TEST(a_lone_value_always_reaches_its_sleeping_receiver)
{
    struct lone l = { chan_make(sizeof(int), 1), chan_make(sizeof(int), 0) };
    for (int round = 0; round < 200; round++) {
        ck_assert_int_eq(go("receiver", receive_then_ack, &l), 0);
        if (round % 2 == 0)
            ck_assert(unit_blocked(1, "receiver", "chan_recv"));
        chan_send(l.ch, &round);
        int v = -1;
        struct chan_case got = chan_recv_case(l.ack, &v);
        ck_assert_msg(chan_select(&got, 1, deadline_after(2000 * unit_slowdown())) == 0,
                      "round %d: the value sat in the ring while its receiver slept", round);
        ck_assert_int_eq(v, round);
        ck_assert_int_eq(go_wait_all(deadline_after(2000 * unit_slowdown())), 0);
    }
    chan_release(l.ch);
    chan_release(l.ack);
}
END_TEST

/* Selects over two buffered channels, half of them with a third case on an
 * unbuffered channel nobody sends on (so they take the locked path), the
 * others over the two alone (the lock-free one): every value once, and
 * every consumer out once both are closed and drained. */
enum { SELECT_PRODUCERS = 4, SELECT_CONSUMERS = 4, SELECT_EACH = 5000 };

struct two_rings {
    chan_t *ch[2], *never;
    atomic_int next_producer, producers_done, next_consumer, received;
    atomic_int seen[SELECT_PRODUCERS * SELECT_EACH];
};

static void produce_into_both(void *arg)
{
    struct two_rings *r = arg;
    int p = atomic_fetch_add(&r->next_producer, 1);
    for (int i = 0; i < SELECT_EACH; i++) {
        int v = p * SELECT_EACH + i;
        chan_send(r->ch[i % 2], &v);
    }
    atomic_fetch_add(&r->producers_done, 1);
}

static void select_from_both(void *arg)
{
    struct two_rings *r = arg;
    bool slow = atomic_fetch_add(&r->next_consumer, 1) % 2 == 0;
    chan_t *ch[2] = { r->ch[0], r->ch[1] };
    int v;
    while (ch[0] || ch[1]) {
        struct chan_case cases[] = { chan_recv_case(ch[0], &v), chan_recv_case(ch[1], &v),
                                     chan_recv_case(r->never, NULL) };
        int i = chan_select(cases, slow ? 3 : 2, -1);
        if (cases[i].ok) {
            atomic_fetch_add(&r->seen[v], 1);
            atomic_fetch_add(&r->received, 1);
        } else {
            ch[i] = NULL; /* closed and drained: a nil channel is never chosen */
        }
    }
}

static int all_produced(void *arg)
{
    struct two_rings *r = arg;
    return atomic_load(&r->producers_done) == SELECT_PRODUCERS;
}

START_TEST(selects_over_buffered_channels_lose_and_duplicate_nothing)
{
    struct two_rings *r = calloc(1, sizeof *r);
    r->ch[0] = chan_make(sizeof(int), 2);
    r->ch[1] = chan_make(sizeof(int), 3);
    r->never = chan_make(1, 0);
    for (int i = 0; i < SELECT_CONSUMERS; i++)
        ck_assert_int_eq(go("consumer", select_from_both, r), 0);
    for (int i = 0; i < SELECT_PRODUCERS; i++)
        ck_assert_int_eq(go("producer", produce_into_both, r), 0);
    /* As run_mpmc: slow is fine, a stall (a lost wake-up) is not. */
    int got = -1;
    while (!unit_eventually(all_produced, r, 2000 * unit_slowdown())) {
        int now = atomic_load(&r->received);
        ck_assert_msg(now > got, "no value received for %d s: %d of %d so far",
                      2 * unit_slowdown(), now, SELECT_PRODUCERS * SELECT_EACH);
        got = now;
    }
    chan_close(r->ch[0]);
    chan_close(r->ch[1]);
    ck_assert_msg(go_wait_all(deadline_after(5000 * unit_slowdown())) == 0,
                  "a consumer still selects 5 s after both channels were closed");
    for (int v = 0; v < SELECT_PRODUCERS * SELECT_EACH; v++)
        ck_assert_msg(atomic_load(&r->seen[v]) == 1, "value %d seen %d times", v,
                      atomic_load(&r->seen[v]));
    chan_release(r->ch[0]);
    chan_release(r->ch[1]);
    chan_release(r->never);
    free(r);
}
END_TEST

START_TEST(many_producers_consumers_unbuffered_lose_and_duplicate_nothing)
{
    run_mpmc(0);
}
END_TEST

START_TEST(timer_channel_fires_after_its_time)
{
    int64_t start = now_ms();
    chan_t *t = time_after(30);
    int64_t fired = 0;
    ck_assert(chan_recv(t, &fired));
    ck_assert_int_ge(fired, start + 30);
    ck_assert_int_ge(now_ms(), start + 30);
    chan_release(t);
}
END_TEST

START_TEST(timer_channel_is_freed_before_it_fires)
{
    /* LeakSanitizer and the thread count check that nothing stays behind. */
    chan_t *t = time_after(60 * 60 * 1000);
    ck_assert_int_eq(chan_len(t), 0);
    chan_release(t);
}
END_TEST

static int timer_has_value(void *arg)
{
    return chan_len(arg) == 1;
}

START_TEST(timer_channel_holds_its_value_once_due)
{
    int64_t due = now_ms() + 10;
    chan_t *t = time_after(10);
    int early = chan_len(t);
    if (now_ms() < due) /* a look after the time says nothing */
        ck_assert_int_eq(early, 0);
    ck_assert(unit_eventually(timer_has_value, t, 2000));
    int64_t fired;
    ck_assert(chan_recv(t, &fired));
    ck_assert_int_eq(chan_len(t), 0);
    chan_release(t);
}
END_TEST

static void hold_and_send(void *arg)
{
    chan_t *ch = arg;
    int v = 9;
    chan_send(ch, &v);
    chan_release(ch);
}

START_TEST(a_reference_keeps_the_channel_alive_after_its_creator_lets_go)
{
    chan_t *ch = chan_make(sizeof(int), 1);
    ck_assert_int_eq(go("holder", hold_and_send, chan_ref(ch)), 0);
    int v = 0;
    ck_assert(chan_recv(ch, &v));
    ck_assert_int_eq(v, 9);
    chan_release(ch);
    ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
}
END_TEST

START_TEST(recv_with_null_value_discards_it)
{
    chan_t *ch = chan_make(sizeof(int), 1);
    int v = 3;
    chan_send(ch, &v);
    ck_assert(chan_recv(ch, NULL));
    ck_assert_int_eq(chan_len(ch), 0);
    chan_release(ch);
}
END_TEST

START_TEST(large_values_are_copied_whole)
{
    struct big {
        char text[200];
        long n;
    } in = { .n = 123456789 }, out = { 0 };
    memset(in.text, 'x', sizeof in.text - 1);
    chan_t *ch = chan_make(sizeof in, 2);
    chan_send(ch, &in);
    ck_assert(chan_recv(ch, &out));
    ck_assert_mem_eq(&in, &out, sizeof in);
    chan_release(ch);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("chan");
    UNIT_ADD(s, make_rejects_bad_arguments);
    UNIT_ADD(s, rendezvous_send_waits_for_its_receiver);
    UNIT_ADD(s, buffered_keeps_fifo_order_up_to_capacity);
    UNIT_ADD(s, close_drains_buffer_then_gives_zero_and_not_ok);
    UNIT_ADD(s, send_on_closed_double_close_and_close_of_nil_panic);
    UNIT_ADD(s, close_wakes_every_blocked_receiver);
    UNIT_ADD(s, a_sender_blocked_when_its_channel_is_closed_panics);
    /* Their bound is progress (run_mpmc), not Check's 4 s. */
    UNIT_ADD_TIMEOUT(s, many_producers_consumers_buffered_lose_and_duplicate_nothing, 300);
    UNIT_ADD_TIMEOUT(s, many_producers_consumers_unbuffered_lose_and_duplicate_nothing, 300);
    UNIT_ADD_TIMEOUT(s, many_producers_consumers_capacity_one_lose_and_duplicate_nothing, 300);
    UNIT_ADD_TIMEOUT(s, many_producers_consumers_capacity_two_lose_and_duplicate_nothing, 300);
    UNIT_ADD_TIMEOUT(s, selects_over_buffered_channels_lose_and_duplicate_nothing, 300);
    UNIT_ADD_TIMEOUT(s, a_lone_value_always_reaches_its_sleeping_receiver, 60);
    UNIT_ADD_TIMEOUT(s, a_receive_completes_the_blocked_send_it_makes_room_for, 60);
    UNIT_ADD(s, timer_channel_fires_after_its_time);
    UNIT_ADD(s, timer_channel_is_freed_before_it_fires);
    UNIT_ADD(s, timer_channel_holds_its_value_once_due);
    UNIT_ADD(s, a_reference_keeps_the_channel_alive_after_its_creator_lets_go);
    UNIT_ADD(s, recv_with_null_value_discards_it);
    UNIT_ADD(s, large_values_are_copied_whole);
    return unit_run(s);
}
