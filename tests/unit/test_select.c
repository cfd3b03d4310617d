/* select: the cases Go's select tests cover, for threads. */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>

#include "chan.h"
#include "clock.h"
#include "context.h"
#include "go.h"
#include "unit.h"

START_TEST(default_case_returns_at_once_when_nothing_is_ready)
{
    chan_t *a = chan_make(sizeof(int), 0), *b = chan_make(sizeof(int), 1);
    int v;
    struct chan_case cases[] = { chan_recv_case(a, &v), chan_recv_case(b, &v) };
    errno = 0;
    ck_assert_int_eq(chan_select(cases, 2, 0), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    chan_release(a);
    chan_release(b);
}
END_TEST

START_TEST(ready_receive_is_chosen_with_its_value)
{
    chan_t *a = chan_make(sizeof(int), 1), *b = chan_make(sizeof(int), 1);
    int seven = 7, va = 0, vb = 0;
    chan_send(b, &seven);
    struct chan_case cases[] = { chan_recv_case(a, &va), chan_recv_case(b, &vb) };
    errno = EDOM; /* a chosen case leaves errno alone */
    ck_assert_int_eq(chan_select(cases, 2, -1), 1);
    ck_assert_int_eq(errno, EDOM);
    ck_assert(cases[1].ok);
    ck_assert_int_eq(vb, 7);
    ck_assert_int_eq(va, 0);
    chan_release(a);
    chan_release(b);
}
END_TEST

START_TEST(ready_send_is_chosen)
{
    chan_t *full = chan_make(sizeof(int), 1), *room = chan_make(sizeof(int), 1);
    int one = 1, two = 2, v;
    chan_send(full, &one);
    struct chan_case cases[] = { chan_send_case(full, &two), chan_send_case(room, &two) };
    ck_assert_int_eq(chan_select(cases, 2, 0), 1);
    ck_assert(chan_recv(room, &v));
    ck_assert_int_eq(v, 2);
    chan_release(full);
    chan_release(room);
}
END_TEST

/* Two cases always ready, 10 000 selects: each should win about half. Being
 * off by more than 10 percentage points is 20 standard deviations away. */
START_TEST(choice_among_ready_cases_is_random)
{
    chan_t *ch[2] = { chan_make(sizeof(int), 1), chan_make(sizeof(int), 1) };
    int v = 0, wins[2] = { 0, 0 };
    chan_send(ch[0], &v);
    chan_send(ch[1], &v);
    for (int i = 0; i < 10000; i++) {
        struct chan_case cases[] = { chan_recv_case(ch[0], &v), chan_recv_case(ch[1], &v) };
        int k = chan_select(cases, 2, 0);
        ck_assert(k == 0 || k == 1);
        wins[k]++;
        chan_send(ch[k], &v);
    }
    ck_assert_int_gt(wins[0], 4000);
    ck_assert_int_gt(wins[1], 4000);
    chan_release(ch[0]);
    chan_release(ch[1]);
}
END_TEST

/* A closed channel is always ready, as in Go: beside a ready one, each is
 * chosen about half the time (a pass without the lock once skipped it). */
START_TEST(a_closed_buffered_channel_is_as_ready_as_a_ready_one)
{
    chan_t *closed = chan_make(sizeof(int), 1), *ready = chan_make(sizeof(int), 1);
    chan_close(closed);
    int v = 1, wins[2] = { 0, 0 };
    for (int i = 0; i < 10000; i++) {
        chan_send(ready, &v);
        struct chan_case cases[] = { chan_recv_case(closed, &v), chan_recv_case(ready, &v) };
        int k = chan_select(cases, 2, -1);
        ck_assert(k == 0 || k == 1);
        ck_assert(k == 0 ? !cases[0].ok : cases[1].ok);
        wins[k]++;
        if (k == 0)
            ck_assert(chan_recv(ready, &v));
    }
    ck_assert_msg(wins[0] > 4000 && wins[1] > 4000, "closed chosen %d times, ready %d of 10000",
                  wins[0], wins[1]);
    chan_release(closed);
    chan_release(ready);
}
END_TEST

/* R selects over two buffered channels, R2 receives from the first; a send
 * on each wakes them. A value must never sit in the first while R2 sleeps
 * on it: R, woken by the first, may well take the second (a wake-up of one
 * receiver alone once left R2 asleep beside a full channel, half the
 * rounds). */
struct pair_of_rings {
    chan_t *ch1, *ch2;
    atomic_int r2_done;
};

static void select_both(void *arg)
{
    struct pair_of_rings *p = arg;
    int v;
    struct chan_case cases[] = { chan_recv_case(p->ch1, &v), chan_recv_case(p->ch2, &v) };
    chan_select(cases, 2, -1);
}

static void recv_first(void *arg)
{
    struct pair_of_rings *p = arg;
    int v;
    chan_recv(p->ch1, &v);
    atomic_store(&p->r2_done, 1);
}

static int nothing_waits_beside_a_value(void *arg)
{
    struct pair_of_rings *p = arg;
    return atomic_load(&p->r2_done) || chan_len(p->ch1) == 0;
}

START_TEST(a_woken_select_taking_another_case_leaves_no_receiver_asleep_beside_a_value)
{
    for (int round = 0; round < 40; round++) {
        struct pair_of_rings p = { chan_make(sizeof(int), 2), chan_make(sizeof(int), 2), 0 };
        ck_assert_int_eq(go("r", select_both, &p), 0);
        ck_assert(unit_blocked(1, "r", "select"));
        ck_assert_int_eq(go("r2", recv_first, &p), 0);
        ck_assert(unit_blocked(1, "r2", "chan_recv"));
        int v = 1;
        chan_send(p.ch1, &v);
        chan_send(p.ch2, &v);
        ck_assert_msg(unit_eventually(nothing_waits_beside_a_value, &p, 2000 * unit_slowdown()),
                      "round %d: r2 sleeps on a channel holding %d value", round, chan_len(p.ch1));
        if (!atomic_load(&p.r2_done))
            chan_send(p.ch1, &v); /* r took the first: r2 waits, rightly, for another */
        ck_assert_int_eq(go_wait_all(deadline_after(2000 * unit_slowdown())), 0);
        chan_release(p.ch1);
        chan_release(p.ch2);
    }
}
END_TEST

START_TEST(null_channel_case_is_never_chosen)
{
    chan_t *ready = chan_make(sizeof(int), 1);
    int v = 0;
    for (int i = 0; i < 1000; i++) {
        chan_send(ready, &v);
        struct chan_case cases[] = { chan_recv_case(NULL, &v), chan_send_case(NULL, &v),
                                     chan_recv_case(ready, &v) };
        ck_assert_int_eq(chan_select(cases, 3, -1), 2);
    }
    struct chan_case only_null = chan_recv_case(NULL, &v);
    ck_assert_int_eq(chan_select(&only_null, 1, deadline_after(20)), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    chan_release(ready);
}
END_TEST

static void cancel_when_selecting(void *arg)
{
    ctx_t *ctx = arg;
    unit_blocked(1, "selector", "select");
    ctx_cancel(ctx);
    ctx_release(ctx);
}

struct selector {
    ctx_t *ctx;
    chan_t *ch;
    atomic_int chosen;
};

static void select_work_or_done(void *arg)
{
    struct selector *s = arg;
    int v;
    struct chan_case cases[] = { chan_recv_case(s->ch, &v), chan_recv_case(ctx_done(s->ctx), NULL) };
    atomic_store(&s->chosen, chan_select(cases, 2, -1));
}

START_TEST(blocked_select_wakes_when_context_is_cancelled)
{
    struct selector s = { .ctx = ctx_with_cancel(ctx_background()),
                          .ch = chan_make(sizeof(int), 0),
                          .chosen = -5 };
    ck_assert_int_eq(go("selector", select_work_or_done, &s), 0);
    ck_assert_int_eq(go("canceller", cancel_when_selecting, ctx_ref(s.ctx)), 0);
    ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
    ck_assert_int_eq(atomic_load(&s.chosen), 1);
    ck_assert_int_eq(ctx_err(s.ctx), ECANCELED);
    ctx_release(s.ctx);
    chan_release(s.ch);
}
END_TEST

START_TEST(deadline_bounds_a_blocked_select)
{
    chan_t *ch = chan_make(sizeof(int), 0);
    int v;
    struct chan_case c = chan_recv_case(ch, &v);
    int64_t start = now_ms();
    errno = 0;
    ck_assert_int_eq(chan_select(&c, 1, start + 50), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    ck_assert_int_ge(now_ms(), start + 50);
    chan_release(ch);
}
END_TEST

START_TEST(timer_case_wins_over_a_silent_channel)
{
    int64_t start = now_ms(); /* before the timer: it counts from its making */
    chan_t *silent = chan_make(sizeof(int), 0), *timer = time_after(30);
    int v;
    struct chan_case cases[] = { chan_recv_case(silent, &v), chan_recv_case(timer, NULL) };
    ck_assert_int_eq(chan_select(cases, 2, -1), 1);
    ck_assert_int_ge(now_ms(), start + 30);
    chan_release(silent);
    chan_release(timer);
}
END_TEST

static void select_send_on_closed(void *arg)
{
    (void)arg;
    chan_t *ch = chan_make(sizeof(int), 0);
    chan_close(ch);
    int v = 1;
    struct chan_case c = chan_send_case(ch, &v);
    chan_select(&c, 1, -1);
}

START_TEST(send_case_on_closed_channel_panics)
{
    unit_assert_panics(select_send_on_closed, NULL, "send on closed channel");
}
END_TEST

struct three_way {
    chan_t *ch[3];
    atomic_int chosen, value;
};

static void select_three(void *arg)
{
    struct three_way *t = arg;
    int v = 0;
    struct chan_case cases[] = { chan_recv_case(t->ch[0], &v), chan_recv_case(t->ch[1], &v),
                                 chan_recv_case(t->ch[2], &v) };
    atomic_store(&t->chosen, chan_select(cases, 3, -1));
    atomic_store(&t->value, v);
}

START_TEST(blocked_select_takes_a_value_sent_later)
{
    struct three_way t = { .chosen = -5 };
    for (int i = 0; i < 3; i++)
        t.ch[i] = chan_make(sizeof(int), 0);
    ck_assert_int_eq(go("three-way", select_three, &t), 0);
    ck_assert(unit_blocked(1, "three-way", "select"));
    int v = 99;
    chan_send(t.ch[2], &v);
    ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
    ck_assert_int_eq(atomic_load(&t.chosen), 2);
    ck_assert_int_eq(atomic_load(&t.value), 99);
    for (int i = 0; i < 3; i++)
        chan_release(t.ch[i]);
}
END_TEST

START_TEST(select_over_many_channels_finds_the_ready_one)
{
    enum { N = 10 };
    chan_t *ch[N];
    struct chan_case cases[N];
    int v = 0, seven = 7;
    for (int i = 0; i < N; i++) {
        ch[i] = chan_make(sizeof(int), 1);
        cases[i] = chan_recv_case(ch[i], &v);
    }
    chan_send(ch[7], &seven);
    ck_assert_int_eq(chan_select(cases, N, 0), 7);
    ck_assert_int_eq(v, 7);
    ck_assert_int_eq(chan_select(cases, N, 0), -1);
    for (int i = 0; i < N; i++)
        chan_release(ch[i]);
}
END_TEST

static void select_send(void *arg)
{
    chan_t *ch = arg;
    int v = 5;
    struct chan_case c = chan_send_case(ch, &v);
    chan_select(&c, 1, -1);
}

START_TEST(a_select_send_meets_a_select_receive)
{
    chan_t *ch = chan_make(sizeof(int), 0);
    ck_assert_int_eq(go("sel-sender", select_send, ch), 0);
    int v = 0;
    struct chan_case c = chan_recv_case(ch, &v);
    ck_assert_int_eq(chan_select(&c, 1, deadline_after(2000)), 0);
    ck_assert_int_eq(v, 5);
    ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
    chan_release(ch);
}
END_TEST

/* Go's TestPseudoRandomSend (runtime/chan_test.go): a select with two send
 * cases on one channel picks each about half the time, whether it finds a
 * receiver waiting (buffered) or waits for one (unbuffered). */
enum { PSEUDO_N = 100 };

struct pseudo {
    chan_t *c;
    int l[PSEUDO_N];
};

static void receive_slowly(void *arg)
{
    struct pseudo *p = arg;
    for (int i = 0; i < PSEUDO_N; i++) {
        sched_yield();
        chan_recv(p->c, &p->l[i]);
    }
}

START_TEST(pseudo_random_send)
{
    int caps[] = { 0, PSEUDO_N };
    for (int k = 0; k < 2; k++) {
        struct pseudo p = { .c = chan_make(sizeof(int), caps[k]) };
        ck_assert_int_eq(go("receiver", receive_slowly, &p), 0);
        int one = 1, zero = 0;
        for (int i = 0; i < PSEUDO_N; i++) {
            struct chan_case cases[] = { chan_send_case(p.c, &one), chan_send_case(p.c, &zero) };
            chan_select(cases, 2, -1);
        }
        ck_assert_int_eq(go_wait_all(deadline_after(5000)), 0);
        int n0 = 0, n1 = 0;
        for (int i = 0; i < PSEUDO_N; i++) {
            n0 += (p.l[i] + 1) % 2;
            n1 += p.l[i];
        }
        ck_assert_msg(n0 > PSEUDO_N / 10 && n1 > PSEUDO_N / 10,
                      "want pseudorandom, got %d zeros and %d ones (chan cap %d)", n0, n1,
                      caps[k]);
        chan_release(p.c);
    }
}
END_TEST

/* A close wakes every thread waiting on its channel at once, whether the
 * thread sleeps on the channel's bell (a select over few channels) or on
 * its own word only (over many), and wakes no thread that waits elsewhere. */
enum { WIDE = 6 };
struct crowd {
    chan_t *closing, *other[WIDE];
    int width;
    atomic_int woke;
};

static void wait_on_crowd(void *arg)
{
    struct crowd *c = arg;
    struct chan_case cases[WIDE + 1];
    cases[0] = chan_recv_case(c->closing, NULL);
    for (int i = 1; i < c->width; i++)
        cases[i] = chan_recv_case(c->other[i - 1], NULL);
    if (chan_select(cases, c->width, -1) == 0 && !cases[0].ok)
        atomic_fetch_add(&c->woke, 1);
}

static void wait_elsewhere(void *arg)
{
    chan_recv(((struct crowd *)arg)->other[0], NULL);
}

START_TEST(a_close_wakes_every_waiter_of_every_width_and_no_other)
{
    struct crowd c = { .closing = chan_make(sizeof(int), 0) };
    for (int i = 0; i < WIDE; i++)
        c.other[i] = chan_make(sizeof(int), 0);
    const int widths[] = { 1, 2, 4, WIDE + 1 };
    int n = 0;
    for (int w = 0; w < 4; w++) {
        c.width = widths[w];
        for (int i = 0; i < 10; i++, n++)
            ck_assert_int_eq(go("crowd", wait_on_crowd, &c), 0);
        ck_assert(unit_blocked(n, "crowd", "select"));
    }
    ck_assert_int_eq(go("elsewhere", wait_elsewhere, &c), 0);
    ck_assert(unit_blocked(1, "elsewhere", "chan_recv"));
    chan_close(c.closing);
    ck_assert(unit_blocked(0, "crowd", "select"));
    ck_assert(unit_blocked(1, "elsewhere", "chan_recv"));
    chan_close(c.other[0]);
    ck_assert_int_eq(go_wait_all(deadline_after(5000)), 0);
    ck_assert_int_eq(atomic_load(&c.woke), n);
    chan_release(c.closing);
    for (int i = 0; i < WIDE; i++)
        chan_release(c.other[i]);
}
END_TEST

/* The futex waits of a select that blocks set errno as they go; a chosen
 * case must still leave the caller's errno as it was. */
START_TEST(a_case_chosen_after_blocking_leaves_errno_alone)
{
    chan_t *later = time_after(10);
    struct chan_case k = chan_recv_case(later, NULL);
    errno = EDOM;
    ck_assert_int_eq(chan_select(&k, 1, -1), 0);
    ck_assert_int_eq(errno, EDOM);
    chan_release(later);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("select");
    UNIT_ADD(s, a_case_chosen_after_blocking_leaves_errno_alone);
    UNIT_ADD(s, default_case_returns_at_once_when_nothing_is_ready);
    UNIT_ADD(s, ready_receive_is_chosen_with_its_value);
    UNIT_ADD(s, ready_send_is_chosen);
    UNIT_ADD(s, choice_among_ready_cases_is_random);
    UNIT_ADD(s, null_channel_case_is_never_chosen);
    UNIT_ADD(s, a_closed_buffered_channel_is_as_ready_as_a_ready_one);
    UNIT_ADD_TIMEOUT(s, a_woken_select_taking_another_case_leaves_no_receiver_asleep_beside_a_value, 60);
    UNIT_ADD(s, blocked_select_wakes_when_context_is_cancelled);
    UNIT_ADD(s, deadline_bounds_a_blocked_select);
    UNIT_ADD(s, timer_case_wins_over_a_silent_channel);
    UNIT_ADD(s, send_case_on_closed_channel_panics);
    UNIT_ADD(s, blocked_select_takes_a_value_sent_later);
    UNIT_ADD(s, select_over_many_channels_finds_the_ready_one);
    UNIT_ADD(s, a_select_send_meets_a_select_receive);
    UNIT_ADD(s, pseudo_random_send);
    UNIT_ADD_TIMEOUT(s, a_close_wakes_every_waiter_of_every_width_and_no_other, 20);
    return unit_run(s);
}
