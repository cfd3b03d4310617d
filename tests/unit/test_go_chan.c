/* Go's own tests of channels and select (src/runtime/chan_test.go), ported
 * to common/chan.h. Each test is named after its Go original; TestPseudo-
 * RandomSend is in test_select.c.
 *
 * Deliberately different:
 * - Go's "make sure it blocks" checks sleep a millisecond and look; here
 *   the census says when a thread is blocked (unit_blocked), and a select
 *   with deadline 0 is Go's default case.
 * - TestChan runs capacities 0 to 4 and 100 values where Go runs 0 to 9 and
 *   more: the same cases, in less time under the sanitizers.
 * - Under a sanitizer (unit_slowdown), the loops run fewer times.
 * - Channels of interfaces, reflect.Select, stacks and GOMAXPROCS have no C
 *   counterpart: TestChanSendInterface, TestSelectMaxCases,
 *   TestShrinkStackDuringBlockedSend and the scheduler tests are not ported.
 * - The programs of Go's test/chan/ are in test_go_chan_programs.c.
 */
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "clock.h"
#include "go.h"
#include "unit.h"

static void recv_one(void *arg)
{
    chan_recv((chan_t *)arg, NULL);
}

static void send_one(void *arg)
{
    int v = 0;
    chan_send((chan_t *)arg, &v);
}

static bool recv_now(chan_t *c, int *v, bool *ok)
{
    struct chan_case k = chan_recv_case(c, v);
    int chosen = chan_select(&k, 1, 0);
    if (ok)
        *ok = k.ok;
    return chosen == 0;
}

static void produce_100(ctx_t *ctx, chan_t *c)
{
    (void)ctx;
    for (int i = 0; i < 100; i++)
        chan_send(c, &i);
}

START_TEST(TestChan)
{
    enum { N = 100 };
    for (int cap = 0; cap < 5; cap++) {
        /* A receive from an empty channel blocks, until a send. */
        chan_t *c = chan_make(sizeof(int), cap);
        ck_assert_int_eq(go("recv", recv_one, c), 0);
        ck_assert(unit_blocked(1, "recv", "chan_recv"));
        int v = 0;
        chan_send(c, &v);
        ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
        /* A non-blocking receive does not block. */
        ck_assert(!recv_now(c, &v, NULL));

        /* A send to a full channel blocks, until a receive. */
        for (int i = 0; i < cap; i++)
            chan_send(c, &i);
        ck_assert_int_eq(go("send", send_one, c), 0);
        ck_assert(unit_blocked(1, "send", "chan_send"));
        for (int i = 0; i <= cap; i++)
            chan_recv(c, NULL);
        ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
        /* A non-blocking send to a full channel does not block. */
        for (int i = 0; i < cap; i++)
            chan_send(c, &i);
        struct chan_case k = chan_send_case(c, &v);
        ck_assert_int_eq(chan_select(&k, 1, 0), -1);
        for (int i = 0; i < cap; i++)
            chan_recv(c, NULL);

        /* A closed channel gives 0, not ok, for ever; close unblocks a receive. */
        chan_t *d = chan_make(sizeof(int), cap);
        ck_assert_int_eq(go("recv", recv_one, d), 0);
        ck_assert(unit_blocked(1, "recv", "chan_recv"));
        chan_close(d);
        ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
        for (int i = 0; i < 3; i++) {
            bool ok = true;
            v = 7;
            ck_assert(recv_now(d, &v, &ok));
            ck_assert(!ok && v == 0);
        }
        chan_release(d);

        /* 100 integers arrive uncorrupted, in FIFO order. */
        ck_assert_int_eq(go_with("producer", produce_100, NULL, c), 0);
        for (int i = 0; i < N; i++) {
            int got = -1;
            chan_recv(c, &got);
            ck_assert_int_eq(got, i);
        }
        ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
        chan_release(c);
    }
}
END_TEST

/* TestNonblockRecvRace: a non-blocking receive racing a close sees either a
 * value or the close, never "not ready" once the close happened before. */
static void close_it(void *arg)
{
    chan_close((chan_t *)arg);
}

START_TEST(TestNonblockRecvRace)
{
    for (int i = 0; i < 200; i++) {
        chan_t *c = chan_make(sizeof(int), 1);
        int v = 1;
        chan_send(c, &v);
        ck_assert_int_eq(go("closer", close_it, c), 0);
        ck_assert_msg(recv_now(c, NULL, NULL), "chan is not ready");
        ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
        chan_release(c);
    }
}
END_TEST

/* TestSelfSelect: a select with a send and a receive on one channel never
 * pairs with itself, crashes or deadlocks; two threads doing it pair with
 * each other. */
static atomic_int self_receives;

static void self_selector(ctx_t *ctx, int p, chan_t *c)
{
    (void)ctx;
    bool unbuffered = chan_cap(c) == 0;
    for (int i = 0; i < 1000; i++) {
        int mine = p, got = -1;
        struct chan_case cases[2];
        if (p == 0 || i % 2 == 0) {
            cases[0] = chan_send_case(c, &mine);
            cases[1] = chan_recv_case(c, &got);
        } else {
            cases[0] = chan_recv_case(c, &got);
            cases[1] = chan_send_case(c, &mine);
        }
        int chosen = chan_select(cases, 2, -1);
        if (unbuffered && cases[chosen].op == CHAN_RECV && got == p)
            atomic_fetch_add(&self_receives, 1);
    }
}

START_TEST(TestSelfSelect)
{
    int caps[] = { 0, 10 };
    for (int k = 0; k < 2; k++) {
        chan_t *c = chan_make(sizeof(int), caps[k]);
        for (int p = 0; p < 2; p++)
            ck_assert_int_eq(go_with_id("self", self_selector, NULL, p, c), 0);
        ck_assert_int_eq(go_wait_all(deadline_after(10000)), 0);
        ck_assert_msg(atomic_load(&self_receives) == 0, "self receive %d times",
                      atomic_load(&self_receives));
        chan_release(c);
    }
}
END_TEST

/* TestSelectFairness: of two ready channels among four cases, each is
 * chosen about half the time (Go's test allows 10 sigma). */
START_TEST(TestSelectFairness)
{
    enum { TRIALS = 10000 };
    chan_t *c1 = chan_make(1, TRIALS + 1), *c2 = chan_make(1, TRIALS + 1);
    chan_t *c3 = chan_make(1, 0), *c4 = chan_make(1, 0);
    char one = 1, two = 2;
    for (int i = 0; i < TRIALS + 1; i++) {
        chan_send(c1, &one);
        chan_send(c2, &two);
    }
    int cnt1 = 0, cnt2 = 0;
    for (int i = 0; i < TRIALS; i++) {
        char b = 0;
        struct chan_case cases[] = { chan_recv_case(c3, &b), chan_recv_case(c4, &b),
                                     chan_recv_case(c1, &b), chan_recv_case(c2, &b) };
        chan_select(cases, 4, -1);
        if (b == 1)
            cnt1++;
        else if (b == 2)
            cnt2++;
        else
            ck_abort_msg("unexpected value %d on channel", b);
    }
    /* sigma = sqrt(n p (1-p)) = 50 for n = 10000, p = 0.5 */
    int r = TRIALS / 2;
    ck_assert_msg(abs(cnt1 - r) <= 500 && abs(cnt2 - r) <= 500,
                  "unfair select: in %d trials, results were %d, %d", TRIALS, cnt1, cnt2);
    chan_release(c1);
    chan_release(c2);
    chan_release(c3);
    chan_release(c4);
}
END_TEST

/* TestMultiConsumer: many consumers of one channel, each sending what it
 * took to a results channel: every value is consumed once, and the sums
 * match. */
enum { NWORK = 23, NITER = 2000 };

struct multi {
    chan_t *q, *r;
};

static void consumer(void *arg)
{
    struct multi *m = arg;
    int v;
    while (chan_recv(m->q, &v)) {
        if (v % 3 == 0)
            sched_yield(); /* Go: runtime.Gosched */
        chan_send(m->r, &v);
    }
}

static void producer(void *arg)
{
    struct multi *m = arg;
    for (int i = 0; i < NITER; i++) {
        int v = i % 1000;
        chan_send(m->q, &v);
    }
    chan_close(m->q);
}

START_TEST(TestMultiConsumer)
{
    struct multi m = { chan_make(sizeof(int), NWORK * 3), chan_make(sizeof(int), NWORK * 3) };
    for (int i = 0; i < NWORK; i++)
        ck_assert_int_eq(go("consumer", consumer, &m), 0);
    ck_assert_int_eq(go("producer", producer, &m), 0);
    long expect = 0, sum = 0;
    for (int i = 0; i < NITER; i++)
        expect += i % 1000;
    for (int n = 0; n < NITER; n++) {
        int got;
        chan_recv(m.r, &got);
        sum += got;
    }
    ck_assert_int_eq(go_wait_all(deadline_after(5000)), 0);
    ck_assert_msg(sum == expect, "expected sum %ld, got %ld", expect, sum);
    chan_release(m.q);
    chan_release(m.r);
}
END_TEST

/* TestNonblockSelectRace: a select acts on the channels as they are at one
 * moment. From the time the thread starts, c1 or c2 is always ready, so its
 * non-blocking select never takes the default. TestNonblockSelectRace2 is
 * the same with close(c2) for c2 <- 1. */
struct race {
    chan_t *c1, *c2, *done;
};

static void select_either(void *arg)
{
    struct race *r = arg;
    struct chan_case k[2] = { chan_recv_case(r->c1, NULL), chan_recv_case(r->c2, NULL) };
    bool ready = chan_select(k, 2, 0) >= 0;
    chan_send(r->done, &ready);
}

static void nonblock_select_race(bool close_c2)
{
    int n = unit_slowdown() > 1 ? 200 : 1000;
    struct race r = { .done = chan_make(sizeof(bool), 1) };
    for (int i = 0; i < n; i++) {
        r.c1 = chan_make(sizeof(int), 1);
        r.c2 = chan_make(sizeof(int), close_c2 ? 0 : 1);
        int v = 1;
        chan_send(r.c1, &v);
        ck_assert_int_eq(go("selector", select_either, &r), 0);
        if (close_c2)
            chan_close(r.c2);
        else
            chan_send(r.c2, &v);
        struct chan_case k = chan_recv_case(r.c1, NULL);
        chan_select(&k, 1, 0);
        bool ready;
        chan_recv(r.done, &ready);
        ck_assert_msg(ready, "no chan is ready (iteration %d)", i);
        ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
        chan_release(r.c1);
        chan_release(r.c2);
    }
    chan_release(r.done);
}

START_TEST(TestNonblockSelectRace)
{
    nonblock_select_race(false);
}
END_TEST

START_TEST(TestNonblockSelectRace2)
{
    nonblock_select_race(true);
}
END_TEST

/* TestSelectStress: per channel a sender and a receiver of N values, plus
 * one thread that sends N on each in one select and one that receives N from
 * each in one select, a channel dropping out (nil) once its N are done. All
 * of it interleaves at random and must not deadlock. */
enum { STRESS_CHANS = 4 };
struct stress {
    chan_t *c[STRESS_CHANS];
    int n;
    atomic_int next_sender, next_receiver; /* which channel the next one takes */
};

static void stress_sender(void *arg)
{
    struct stress *st = arg;
    int k = atomic_fetch_add(&st->next_sender, 1), v = 0;
    for (int i = 0; i < st->n; i++)
        chan_send(st->c[k], &v);
}

static void stress_receiver(void *arg)
{
    struct stress *st = arg;
    int k = atomic_fetch_add(&st->next_receiver, 1);
    for (int i = 0; i < st->n; i++)
        chan_recv(st->c[k], NULL);
}

static void stress_select(struct stress *st, enum chan_op op)
{
    int n[STRESS_CHANS] = { 0 }, v = 0;
    const int order[STRESS_CHANS] = { 3, 2, 0, 1 }; /* Go's sender lists them so */
    chan_t *c1[STRESS_CHANS];
    for (int k = 0; k < STRESS_CHANS; k++)
        c1[k] = st->c[k];
    for (int i = 0; i < STRESS_CHANS * st->n; i++) {
        struct chan_case cases[STRESS_CHANS];
        for (int j = 0; j < STRESS_CHANS; j++) {
            int k = op == CHAN_SEND ? order[j] : j;
            cases[j] = op == CHAN_SEND ? chan_send_case(c1[k], &v) : chan_recv_case(c1[k], NULL);
        }
        int j = chan_select(cases, STRESS_CHANS, -1);
        int k = op == CHAN_SEND ? order[j] : j;
        if (++n[k] == st->n)
            c1[k] = NULL;
    }
}

static void stress_select_sender(void *arg)
{
    stress_select(arg, CHAN_SEND);
}

static void stress_select_receiver(void *arg)
{
    stress_select(arg, CHAN_RECV);
}

START_TEST(TestSelectStress)
{
    struct stress st = { .n = unit_slowdown() > 1 ? 1000 : 10000 };
    const int caps[STRESS_CHANS] = { 0, 0, 2, 3 };
    for (int k = 0; k < STRESS_CHANS; k++)
        st.c[k] = chan_make(sizeof(int), caps[k]);
    for (int k = 0; k < STRESS_CHANS; k++)
        ck_assert_int_eq(go("sender", stress_sender, &st), 0);
    for (int k = 0; k < STRESS_CHANS; k++)
        ck_assert_int_eq(go("receiver", stress_receiver, &st), 0);
    ck_assert_int_eq(go("select_send", stress_select_sender, &st), 0);
    ck_assert_int_eq(go("select_recv", stress_select_receiver, &st), 0);
    ck_assert_int_eq(go_wait_all(deadline_after(20000)), 0);
    for (int k = 0; k < STRESS_CHANS; k++)
        chan_release(st.c[k]);
}
END_TEST

/* TestSelectDuplicateChannel: one thread can wait on one channel twice. A
 * selects on c, c and d; B receives on c. A send on d wakes A, which must
 * take itself off c's queue cleanly, so that a send on c then wakes B. Go
 * sleeps to order A before B; here the census says when each is waiting. */
struct dup {
    chan_t *c, *d, *e;
};

static void dup_a(void *arg)
{
    struct dup *t = arg;
    struct chan_case k[3] = { chan_recv_case(t->c, NULL), chan_recv_case(t->c, NULL),
                              chan_recv_case(t->d, NULL) };
    chan_select(k, 3, -1);
    int v = 9;
    chan_send(t->e, &v);
}

static void dup_b(void *arg)
{
    chan_recv(((struct dup *)arg)->c, NULL);
}

START_TEST(TestSelectDuplicateChannel)
{
    struct dup t = { chan_make(sizeof(int), 0), chan_make(sizeof(int), 0),
                     chan_make(sizeof(int), 0) };
    ck_assert_int_eq(go("A", dup_a, &t), 0);
    ck_assert(unit_blocked(1, "A", "select"));
    ck_assert_int_eq(go("B", dup_b, &t), 0);
    ck_assert(unit_blocked(1, "B", "chan_recv"));
    int v = 7;
    chan_send(t.d, &v); /* wakes A, which leaves c's queue */
    chan_recv(t.e, &v);
    ck_assert_int_eq(v, 9);
    v = 8;
    chan_send(t.c, &v); /* wakes B, not the A that has gone */
    ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
    chan_release(t.c);
    chan_release(t.d);
    chan_release(t.e);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("go_chan");
    UNIT_ADD(s, TestChan);
    UNIT_ADD(s, TestNonblockRecvRace);
    UNIT_ADD_TIMEOUT(s, TestSelfSelect, 20);
    UNIT_ADD(s, TestSelectFairness);
    UNIT_ADD_TIMEOUT(s, TestMultiConsumer, 20);
    UNIT_ADD_TIMEOUT(s, TestNonblockSelectRace, 20);
    UNIT_ADD_TIMEOUT(s, TestNonblockSelectRace2, 20);
    UNIT_ADD_TIMEOUT(s, TestSelectStress, 30);
    UNIT_ADD(s, TestSelectDuplicateChannel);
    return unit_run(s);
}
