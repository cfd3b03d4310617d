/* Go's own tests of package context (src/context/context_test.go, the
 * XTest* functions run by x_test.go), ported to common/context.h. Each test
 * is named after its Go original.
 *
 * Deliberately different, and so left out or changed:
 * - No String() and no otherContext (C has one context type): TestTODO,
 *   TestCustomContextGoroutines and the String checks are not ported, nor
 *   TestValues' otherContext half; TestLayers* layer cancels and timeouts
 *   only. Keys are addresses: TestWithValueChecksKey's "not comparable"
 *   half has no C counterpart, its nil key does.
 * - AfterFunc's stop is called once (it frees): Go's `defer stop()` after a
 *   stop that ran already is left out.
 * - The children map is private: where Go inspects it (TestParentFinishes-
 *   Child, TestChildFinishesFirst, TestCancelRemoves) the port checks the
 *   behaviour instead, and AddressSanitizer checks that nothing is left.
 * - TestAllocs counts Go's allocations; test_cost.c counts ours.
 * - Go sleeps 100 ms to "let cancellation propagate"; here a cancel is done
 *   when ctx_cancel returns, so the port checks at once.
 * - C frees: every context is released, which Go leaves to its collector.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "context.h"
#include "go.h"
#include "unit.h"

/* <-c.Done() without blocking: whether it is closed. */
static bool done_now(ctx_t *c)
{
    struct chan_case k = chan_recv_case(ctx_done(c), NULL);
    return chan_select(&k, 1, 0) == 0;
}

START_TEST(TestBackground)
{
    ctx_t *c = ctx_background();
    ck_assert_ptr_nonnull(c);
    ck_assert(!done_now(c));
    ck_assert_int_eq(ctx_err(c), 0);
}
END_TEST

START_TEST(TestWithCancel)
{
    ctx_t *c1 = ctx_with_cancel(ctx_background());
    ctx_t *c2 = ctx_with_cancel(c1);
    ctx_t *contexts[] = { c1, c2 };
    for (int i = 0; i < 2; i++) {
        ck_assert_ptr_nonnull(ctx_done(contexts[i]));
        ck_assert_int_eq(ctx_err(contexts[i]), 0);
        ck_assert_msg(!done_now(contexts[i]), "c[%d] done before its cancel", i);
    }
    ctx_cancel(c1);
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(done_now(contexts[i]), "<-c[%d].Done() blocked", i);
        ck_assert_int_eq(ctx_err(contexts[i]), ECANCELED);
    }
    ctx_release(c2);
    ctx_release(c1);
}
END_TEST

START_TEST(TestParentFinishesChild)
{
    /* parent -> cancelChild; parent -> timerChild (Go's valueChild between) */
    ctx_t *parent = ctx_with_cancel(ctx_background());
    ctx_t *cancelChild = ctx_with_cancel(parent);
    ctx_t *timerChild = ctx_with_timeout(parent, 10000LL * 3600 * 1000);
    ck_assert(!done_now(parent) && !done_now(cancelChild) && !done_now(timerChild));
    ctx_cancel(parent);
    ctx_t *all[] = { parent, cancelChild, timerChild };
    for (int i = 0; i < 3; i++) {
        ck_assert(done_now(all[i]));
        ck_assert_int_eq(ctx_err(all[i]), ECANCELED);
    }
    /* WithCancel on a canceled parent returns a canceled context. */
    ctx_t *precanceled = ctx_with_cancel(parent);
    ck_assert(done_now(precanceled));
    ck_assert_int_eq(ctx_err(precanceled), ECANCELED);
    ctx_release(precanceled);
    ctx_cancel(timerChild);
    ctx_release(timerChild);
    ctx_cancel(cancelChild);
    ctx_release(cancelChild);
    ctx_release(parent);
}
END_TEST

START_TEST(TestChildFinishesFirst)
{
    ctx_t *cancelable = ctx_with_cancel(ctx_background());
    ctx_t *parents[] = { ctx_background(), cancelable };
    for (int i = 0; i < 2; i++) {
        ctx_t *parent = parents[i];
        ctx_t *child = ctx_with_cancel(parent);
        ck_assert(!done_now(parent) && !done_now(child));
        ctx_cancel(child);
        ck_assert(done_now(child));
        ck_assert_int_eq(ctx_err(child), ECANCELED);
        ck_assert(!done_now(parent));
        ck_assert_int_eq(ctx_err(parent), 0);
        ctx_release(child);
    }
    ctx_release(cancelable);
}
END_TEST

/* Go's testDeadline: done within failAfter, with DeadlineExceeded. */
static void test_deadline(ctx_t *c, const char *name, int64_t fail_after)
{
    chan_t *timer = time_after(fail_after);
    struct chan_case cases[] = { chan_recv_case(timer, NULL), chan_recv_case(ctx_done(c), NULL) };
    ck_assert_msg(chan_select(cases, 2, -1) == 1, "%s: context should have timed out", name);
    ck_assert_msg(ctx_err(c) == ETIMEDOUT, "%s: err %d, want ETIMEDOUT", name, ctx_err(c));
    chan_release(timer);
}

START_TEST(TestDeadline)
{
    ctx_t *c = ctx_with_deadline(ctx_background(), now_ms() + 50);
    test_deadline(c, "WithDeadline", 1000);
    ctx_release(c);

    ctx_t *o = ctx_with_deadline(ctx_background(), now_ms() + 50);
    c = ctx_with_deadline(o, now_ms() + 4000);
    test_deadline(c, "WithDeadline+WithDeadline", 2000);
    ctx_release(c);
    ctx_release(o);

    c = ctx_with_deadline(ctx_background(), now_ms() - 1);
    test_deadline(c, "WithDeadline+inthepast", 1000);
    ctx_release(c);

    c = ctx_with_deadline(ctx_background(), now_ms());
    test_deadline(c, "WithDeadline+now", 1000);
    ctx_release(c);
}
END_TEST

START_TEST(TestTimeout)
{
    ctx_t *c = ctx_with_timeout(ctx_background(), 50);
    test_deadline(c, "WithTimeout", 1000);
    ctx_release(c);

    ctx_t *o = ctx_with_timeout(ctx_background(), 50);
    c = ctx_with_timeout(o, 3000);
    test_deadline(c, "WithTimeout+WithTimeout", 2000);
    ctx_release(c);
    ctx_release(o);
}
END_TEST

START_TEST(TestCanceledTimeout)
{
    ctx_t *o = ctx_with_timeout(ctx_background(), 1000);
    ctx_t *c = ctx_with_timeout(o, 2000);
    ctx_cancel(c);
    ck_assert(done_now(c));
    ck_assert_int_eq(ctx_err(c), ECANCELED);
    ctx_release(c);
    ctx_release(o);
}
END_TEST

/* A tree of about 100 contexts, cancelled all at once from 100 threads. */
enum { TREE = 101 };

struct tree {
    ctx_t *ctx[TREE];
    atomic_int next;
};

static void cancel_one(void *arg)
{
    struct tree *t = arg;
    ctx_cancel(t->ctx[atomic_fetch_add(&t->next, 1)]);
}

START_TEST(TestSimultaneousCancels)
{
    struct tree *t = calloc(1, sizeof *t);
    int n = 1, head = 0;
    t->ctx[0] = ctx_with_cancel(ctx_background());
    while (n + 4 <= TREE) {
        for (int i = 0; i < 4; i++)
            t->ctx[n++] = ctx_with_cancel(t->ctx[head]);
        head++;
    }
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(go("canceller", cancel_one, t), 0);
    for (int i = n - 1; i >= 0; i--) {
        struct chan_case k = chan_recv_case(ctx_done(t->ctx[i]), NULL);
        ck_assert_msg(chan_select(&k, 1, deadline_after(1000)) == 0,
                      "timed out waiting for <-ctx.Done()");
    }
    ck_assert_int_eq(go_wait_all(deadline_after(1000)), 0);
    for (int i = n - 1; i >= 0; i--)
        ctx_release(t->ctx[i]);
    free(t);
}
END_TEST

struct interlocked {
    ctx_t *parent, *child;
};

static void interlock(void *arg)
{
    struct interlocked *l = arg;
    ctx_done(l->parent);
    ctx_cancel(l->child);
}

START_TEST(TestInterlockedCancels)
{
    struct interlocked l;
    l.parent = ctx_with_cancel(ctx_background());
    l.child = ctx_with_cancel(l.parent);
    ck_assert_int_eq(go("interlock", interlock, &l), 0);
    ctx_cancel(l.parent);
    struct chan_case k = chan_recv_case(ctx_done(l.child), NULL);
    ck_assert_msg(chan_select(&k, 1, deadline_after(1000)) == 0,
                  "timed out waiting for child.Done()");
    ck_assert_int_eq(go_wait_all(deadline_after(1000)), 0);
    ctx_release(l.child);
    ctx_release(l.parent);
}
END_TEST

/* Go's testLayers, without the values: at least 30 random layers of cancels
 * and 200 ms timeouts, with at least one of each. */
static void test_layers(unsigned seed, bool test_timeout)
{
    enum { MAX_LAYERS = 64, TIMEOUT = 200, MIN_LAYERS = 30 };
    ctx_t *layers[MAX_LAYERS];
    int n = 0, timers = 0, cancels = 0;
    ctx_t *ctx = ctx_background();
    int64_t start = now_ms();
    srand(seed);
    while (n < MAX_LAYERS && (n < MIN_LAYERS || timers == 0 || cancels == 0)) {
        if (rand() % 2) {
            ctx = ctx_with_cancel(ctx);
            cancels++;
        } else {
            ctx = ctx_with_timeout(ctx, TIMEOUT);
            timers++;
        }
        layers[n++] = ctx;
    }
    bool early = done_now(ctx);
    if (now_ms() < start + TIMEOUT) /* a busy machine may have let 200 ms pass */
        ck_assert_msg(!early, "seed=%u: ctx should not be canceled yet", seed);
    if (test_timeout) {
        struct chan_case k = chan_recv_case(ctx_done(ctx), NULL);
        ck_assert_msg(chan_select(&k, 1, deadline_after(TIMEOUT + 1000)) == 0,
                      "seed=%u: ctx should have timed out", seed);
    } else {
        ctx_cancel(layers[rand() % n]);
        ck_assert_msg(done_now(ctx), "seed=%u: ctx should be canceled", seed);
    }
    for (int i = n - 1; i >= 0; i--) {
        ctx_cancel(layers[i]);
        ctx_release(layers[i]);
    }
}

START_TEST(TestLayersCancel)
{
    test_layers((unsigned)now_ms(), false);
}
END_TEST

START_TEST(TestLayersTimeout)
{
    test_layers((unsigned)now_ms(), true);
}
END_TEST

START_TEST(TestCancelRemoves)
{
    /* Go counts the parent's children; here a cancelled child must be gone
     * from its parent, so that cancelling the parent later touches nothing
     * freed (ASan) and finds nothing to cancel. */
    ctx_t *ctx = ctx_with_cancel(ctx_background());
    ctx_t *child = ctx_with_cancel(ctx);
    ctx_cancel(child);
    ctx_release(child);
    child = ctx_with_timeout(ctx, 60LL * 60 * 1000);
    ctx_cancel(child);
    ctx_release(child);
    ctx_cancel(ctx);
    ck_assert_int_eq(ctx_err(ctx), ECANCELED);
    ctx_release(ctx);
}
END_TEST

START_TEST(TestWithCancelCanceledParent)
{
    ctx_t *parent = ctx_with_cancel(ctx_background());
    ctx_cancel_cause(parent, EPIPE);
    ctx_t *c = ctx_with_cancel(parent);
    ck_assert_msg(done_now(c), "child not done immediately upon construction");
    ck_assert_int_eq(ctx_err(c), ECANCELED);
    ck_assert_int_eq(ctx_cause(c), EPIPE);
    ctx_release(c);
    ctx_release(parent);
}
END_TEST

static int k1, k2, k3; /* Go's key type: addresses nobody else can have */

static void check_values(ctx_t *c, const char *nm, const char *v1, const char *v2,
                         const char *v3)
{
    const char *got[] = { ctx_value(c, &k1), ctx_value(c, &k2), ctx_value(c, &k3) };
    const char *want[] = { v1, v2, v3 };
    for (int i = 0; i < 3; i++)
        ck_assert_msg((got[i] == NULL && want[i] == NULL) ||
                          (got[i] && want[i] && strcmp(got[i], want[i]) == 0),
                      "%s.Value(k%d) = %s want %s", nm, i + 1, got[i] ? got[i] : "nil",
                      want[i] ? want[i] : "nil");
}

START_TEST(TestValues)
{
    ctx_t *c0 = ctx_background();
    check_values(c0, "c0", NULL, NULL, NULL);
    ctx_t *c1 = ctx_with_value(ctx_background(), &k1, "c1k1");
    check_values(c1, "c1", "c1k1", NULL, NULL);
    ctx_t *c2 = ctx_with_value(c1, &k2, "c2k2");
    check_values(c2, "c2", "c1k1", "c2k2", NULL);
    ctx_t *c3 = ctx_with_value(c2, &k3, "c3k3");
    check_values(c3, "c2", "c1k1", "c2k2", "c3k3");
    ctx_t *c4 = ctx_with_value(c3, &k1, NULL);
    check_values(c4, "c4", NULL, "c2k2", "c3k3");
    /* Not in Go's test: a cancellable context between values passes them
     * through, and a value context is done with its anchor. */
    ctx_t *cc = ctx_with_cancel(c3), *c5 = ctx_with_value(cc, &k2, "c5k2");
    check_values(c5, "c5", "c1k1", "c5k2", "c3k3");
    ck_assert(!done_now(c5));
    ck_assert_ptr_eq(ctx_done(c5), ctx_done(cc));
    ctx_cancel(cc);
    ck_assert(done_now(c5));
    ck_assert_int_eq(ctx_err(c5), ECANCELED);
    ctx_cancel(c5); /* a value context has no cancel of its own: nothing */
    ctx_release(c5);
    ctx_release(cc);
    ctx_release(c4);
    ctx_release(c3);
    ctx_release(c2);
    ctx_release(c1);
}
END_TEST

static void with_nil_key(void *arg)
{
    (void)arg;
    ctx_with_value(ctx_background(), NULL, "panic");
}

START_TEST(TestWithValueChecksKey)
{
    unit_assert_panics(with_nil_key, NULL, "nil key");
}
END_TEST

START_TEST(TestWithoutCancel)
{
    static int key;
    ctx_t *valued = ctx_with_value(ctx_background(), &key, "value");
    ctx_t *parent = ctx_with_timeout(valued, 1000);
    ctx_t *ctx = ctx_without_cancel(parent);
    ck_assert_int_eq(ctx_deadline(ctx), -1);
    ck_assert_ptr_null(ctx_done(ctx));
    ck_assert_int_eq(ctx_err(ctx), 0);
    ck_assert_str_eq(ctx_value(ctx, &key), "value");
    /* Not in Go's test: the parent's cancel does not reach it, nor its
     * children. */
    ctx_t *child = ctx_with_cancel(ctx);
    ctx_cancel(parent);
    ck_assert_int_eq(ctx_err(ctx), 0);
    ck_assert_int_eq(ctx_err(child), 0);
    ck_assert_str_eq(ctx_value(child, &key), "value");
    ctx_cancel(child);
    ck_assert_int_eq(ctx_err(child), ECANCELED);
    ctx_release(child);
    ctx_release(ctx);
    ctx_release(parent);
    ctx_release(valued);
}
END_TEST

enum { SHORT_MS = 1, VERY_LONG_MS = 10000 };

/* select { case <-donec: ...; case <-time.After(ms): ... }: true if donec was
 * closed (or sent on) within ms. */
static bool received_within(chan_t *donec, int64_t ms)
{
    struct chan_case k = chan_recv_case(donec, NULL);
    return chan_select(&k, 1, deadline_after(ms)) == 0;
}

static void close_chan(void *arg)
{
    chan_close(arg);
}

START_TEST(TestAfterFuncCalledAfterCancel)
{
    ctx_t *ctx = ctx_with_cancel(ctx_background());
    chan_t *donec = chan_make(1, 0);
    after_t *stop;
    ck_assert_int_eq(ctx_after_func(ctx, close_chan, donec, &stop), 0);
    ck_assert_msg(!received_within(donec, SHORT_MS), "AfterFunc called before context is done");
    ctx_cancel(ctx);
    ck_assert_msg(received_within(donec, VERY_LONG_MS),
                  "AfterFunc not called after context is canceled");
    ck_assert(!after_stop(stop));
    ck_assert_int_eq(go_wait_all(deadline_after(VERY_LONG_MS)), 0);
    chan_release(donec);
    ctx_release(ctx);
}
END_TEST

START_TEST(TestAfterFuncCalledAfterTimeout)
{
    ctx_t *ctx = ctx_with_timeout(ctx_background(), SHORT_MS);
    chan_t *donec = chan_make(1, 0);
    ck_assert_int_eq(ctx_after_func(ctx, close_chan, donec, NULL), 0);
    ck_assert_msg(received_within(donec, VERY_LONG_MS),
                  "AfterFunc not called after context is canceled");
    ck_assert_int_eq(go_wait_all(deadline_after(VERY_LONG_MS)), 0);
    chan_release(donec);
    ctx_cancel(ctx);
    ctx_release(ctx);
}
END_TEST

START_TEST(TestAfterFuncCalledImmediately)
{
    ctx_t *ctx = ctx_with_cancel(ctx_background());
    ctx_cancel(ctx);
    chan_t *donec = chan_make(1, 0);
    ck_assert_int_eq(ctx_after_func(ctx, close_chan, donec, NULL), 0);
    ck_assert_msg(received_within(donec, VERY_LONG_MS),
                  "AfterFunc not called for already-canceled context");
    ck_assert_int_eq(go_wait_all(deadline_after(VERY_LONG_MS)), 0);
    chan_release(donec);
    ctx_release(ctx);
}
END_TEST

START_TEST(TestAfterFuncNotCalledAfterStop)
{
    ctx_t *ctx = ctx_with_cancel(ctx_background());
    chan_t *donec = chan_make(1, 0);
    after_t *stop;
    ck_assert_int_eq(ctx_after_func(ctx, close_chan, donec, &stop), 0);
    ck_assert_msg(after_stop(stop), "stop() = false, want true");
    ctx_cancel(ctx);
    ck_assert_msg(!received_within(donec, SHORT_MS),
                  "AfterFunc called for already-canceled context");
    /* Not in Go's test: stop gave the waiting thread its way out. */
    ck_assert_int_eq(go_wait_all(deadline_after(VERY_LONG_MS)), 0);
    chan_release(donec);
    ctx_release(ctx);
}
END_TEST

static void send_done(void *arg)
{
    char done = 0;
    chan_send(arg, &done); /* blocks until donec is read from */
}

START_TEST(TestAfterFuncCalledAsynchronously)
{
    ctx_t *ctx = ctx_with_cancel(ctx_background());
    chan_t *donec = chan_make(1, 0);
    after_t *stop;
    ck_assert_int_eq(ctx_after_func(ctx, send_done, donec, &stop), 0);
    ctx_cancel(ctx); /* returns while f still waits for its receiver */
    ck_assert_msg(received_within(donec, VERY_LONG_MS),
                  "AfterFunc not called after context is canceled");
    after_stop(stop); /* Go's defer stop() */
    ck_assert_int_eq(go_wait_all(deadline_after(VERY_LONG_MS)), 0);
    chan_release(donec);
    ctx_release(ctx);
}
END_TEST

static void count_call(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

/* Not in Go's tests, but Go's contract: the cancel itself settles that f
 * runs, so a stop after it, or after a deadline has passed, says false. */
START_TEST(a_stop_after_the_cancel_returns_false_and_f_runs)
{
    enum { ROUNDS = 200 };
    atomic_int calls = 0;
    for (int i = 0; i < ROUNDS; i++) {
        ctx_t *ctx = ctx_with_cancel(ctx_background());
        after_t *stop;
        if (i % 2) /* done before the AfterFunc is even made */
            ctx_cancel(ctx);
        ck_assert_int_eq(ctx_after_func(ctx, count_call, &calls, &stop), 0);
        ctx_cancel(ctx);
        ck_assert_msg(!after_stop(stop), "round %d: stop after cancel returned true", i);
        ctx_release(ctx);
    }
    ctx_t *timed = ctx_with_timeout(ctx_background(), 1);
    after_t *stop;
    ck_assert_int_eq(ctx_after_func(timed, count_call, &calls, &stop), 0);
    while (now_ms() <= ctx_deadline(timed)) /* nobody looks at it meanwhile */
        ;
    ck_assert_msg(!after_stop(stop), "stop after the deadline returned true");
    ck_assert_int_eq(go_wait_all(deadline_after(VERY_LONG_MS)), 0);
    ck_assert_int_eq(atomic_load(&calls), ROUNDS + 1);
    ctx_release(timed);
}
END_TEST

struct race {
    ctx_t *ctx;
    chan_t *go_on;
};

static void cancel_when_told(void *arg)
{
    struct race *r = arg;
    chan_recv(r->go_on, NULL);
    ctx_cancel(r->ctx);
}

/* A stop and a cancel at the same moment: exactly one of them wins, f runs
 * once or not at all, and nothing is freed twice (AddressSanitizer). */
START_TEST(a_stop_racing_the_cancel_has_one_winner)
{
    enum { ROUNDS = 300 };
    atomic_int calls = 0;
    int stopped = 0;
    for (int i = 0; i < ROUNDS; i++) {
        struct race r = { ctx_with_cancel(ctx_background()), chan_make(1, 0) };
        after_t *stop;
        ck_assert_int_eq(ctx_after_func(r.ctx, count_call, &calls, &stop), 0);
        ck_assert_int_eq(go("canceller", cancel_when_told, &r), 0);
        chan_close(r.go_on); /* both at once */
        stopped += after_stop(stop);
        ck_assert_int_eq(go_wait_all(deadline_after(VERY_LONG_MS)), 0);
        chan_release(r.go_on);
        ctx_release(r.ctx);
    }
    ck_assert_int_eq(atomic_load(&calls) + stopped, ROUNDS);
}
END_TEST

/* Not in Go's tests: a context that is never done costs no thread. */
START_TEST(an_after_func_on_background_starts_no_thread_and_never_runs)
{
    chan_t *donec = chan_make(1, 0);
    after_t *stop;
    ck_assert_int_eq(ctx_after_func(ctx_background(), close_chan, donec, &stop), 0);
    ck_assert_int_eq(go_running(), 0);
    ck_assert(after_stop(stop));
    ck_assert(!received_within(donec, SHORT_MS));
    chan_release(donec);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("go_context");
    UNIT_ADD(s, TestValues);
    UNIT_ADD(s, TestWithValueChecksKey);
    UNIT_ADD(s, TestWithoutCancel);
    UNIT_ADD(s, TestAfterFuncCalledAfterCancel);
    UNIT_ADD(s, TestAfterFuncCalledAfterTimeout);
    UNIT_ADD(s, TestAfterFuncCalledImmediately);
    UNIT_ADD(s, TestAfterFuncNotCalledAfterStop);
    UNIT_ADD(s, TestAfterFuncCalledAsynchronously);
    UNIT_ADD(s, an_after_func_on_background_starts_no_thread_and_never_runs);
    UNIT_ADD_TIMEOUT(s, a_stop_after_the_cancel_returns_false_and_f_runs, 30);
    UNIT_ADD_TIMEOUT(s, a_stop_racing_the_cancel_has_one_winner, 60);
    UNIT_ADD(s, TestBackground);
    UNIT_ADD(s, TestWithCancel);
    UNIT_ADD(s, TestParentFinishesChild);
    UNIT_ADD(s, TestChildFinishesFirst);
    UNIT_ADD(s, TestDeadline);
    UNIT_ADD(s, TestTimeout);
    UNIT_ADD(s, TestCanceledTimeout);
    UNIT_ADD(s, TestSimultaneousCancels);
    UNIT_ADD(s, TestInterlockedCancels);
    UNIT_ADD(s, TestLayersCancel);
    UNIT_ADD(s, TestLayersTimeout);
    UNIT_ADD(s, TestCancelRemoves);
    UNIT_ADD(s, TestWithCancelCanceledParent);
    return unit_run(s);
}
