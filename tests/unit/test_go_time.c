/* Go's own tests of time.Timer and time.Ticker (src/time/sleep_test.go,
 * tick_test.go), ported to threadleaks/timer.h. Each test is named after its
 * Go original.
 *
 * Deliberately different:
 * - Go's tests that measure how late a timer fires (TestTicker's bounds)
 *   are not ported: speed is the benchmarks' business here. What is ported
 *   checks order, absence and the least a wait lasts: a timer that must not
 *   have fired yet, a value that must not be received, a Sleep or an After
 *   never shorter than asked (TestSleep, TestAfter), a value that is the
 *   time of the fire (TestAfterTimes, TestTickTimes).
 * - testReset keeps Go's retry with a doubling step, so a busy machine
 *   only makes it slower, never wrong.
 * - Go 1.23's guarantee (no stale value after Stop or Reset) is checked by
 *   TestChanStopNoStale, which Go spreads over several tests.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "go.h"
#include "timer.h"
#include "unit.h"

/* select { case <-c: true; default: false } */
static bool ready(chan_t *c)
{
    struct chan_case k = chan_recv_case(c, NULL);
    return chan_select(&k, 1, 0) == 0;
}

/* <-c, within ms */
static bool receive_within(chan_t *c, int64_t ms)
{
    struct chan_case k = chan_recv_case(c, NULL);
    return chan_select(&k, 1, deadline_after(ms)) == 0;
}

START_TEST(TestAfterStop)
{
    /* Go: t0 := NewTimer(50ms); t1 := NewTimer(100ms); stop t0; t1 fires;
     * t0 never does. */
    tl_timer_t *t0 = tl_timer_new(50), *t1 = tl_timer_new(100);
    ck_assert_msg(tl_timer_stop(t0), "failed to stop event 0");
    ck_assert(receive_within(tl_timer_c(t1), 10000));
    ck_assert_msg(!ready(tl_timer_c(t0)), "event 0 was not stopped");
    ck_assert_msg(!tl_timer_stop(t0), "Stop returned true twice");
    tl_timer_free(t0);
    tl_timer_free(t1);
}
END_TEST

/* Go's testReset(d): "" if it held for step d, else what went wrong. */
static const char *test_reset(int64_t d)
{
    tl_timer_t *t0 = tl_timer_new(2 * d);
    time_sleep(d);
    const char *wrong = NULL;
    if (!tl_timer_reset(t0, 3 * d))
        wrong = "resetting unfired timer returned false";
    time_sleep(2 * d);
    if (!wrong && ready(tl_timer_c(t0)))
        wrong = "timer fired early";
    time_sleep(2 * d);
    if (!wrong && !ready(tl_timer_c(t0)))
        wrong = "reset timer did not fire";
    if (!wrong && tl_timer_reset(t0, 50))
        wrong = "resetting expired timer returned true";
    tl_timer_free(t0);
    return wrong;
}

START_TEST(TestReset)
{
    /* Go: "We try to run this test with increasingly larger multiples until
     * one works so slow, loaded hardware isn't as flaky." */
    const char *wrong = NULL;
    for (int64_t d = 25; d <= 1600; d *= 2)
        if (!(wrong = test_reset(d)))
            break;
    ck_assert_msg(!wrong, "%s", wrong);
}
END_TEST

START_TEST(TestTimerStopStress)
{
    /* Go starts 100 timers of 1 s and stops them at once: none may fire. */
    enum { N = 100 };
    tl_timer_t *timers[N];
    for (int i = 0; i < N; i++)
        timers[i] = tl_timer_new(1000);
    for (int i = 0; i < N; i++)
        ck_assert_msg(tl_timer_stop(timers[i]), "timer %d already fired", i);
    for (int i = 0; i < N; i++) {
        ck_assert(!ready(tl_timer_c(timers[i])));
        tl_timer_free(timers[i]);
    }
}
END_TEST

START_TEST(TestChanStopNoStale)
{
    /* Go 1.23: a value the program has not received is never received
     * after Stop or Reset, and Stop says the timer was still running. */
    tl_timer_t *t = tl_timer_new(1);
    int64_t deadline = deadline_after(10000);
    while (chan_len(tl_timer_c(t)) == 0 && now_ms() < deadline) /* it fires by now */
        time_sleep(1);
    ck_assert_int_eq(chan_len(tl_timer_c(t)), 1);
    ck_assert_msg(tl_timer_stop(t), "Stop of an unreceived timer returned false");
    ck_assert_msg(!ready(tl_timer_c(t)), "stale value after Stop");
    ck_assert(!tl_timer_stop(t));

    ck_assert(!tl_timer_reset(t, 1)); /* stopped: not active */
    deadline = deadline_after(10000);
    while (chan_len(tl_timer_c(t)) == 0 && now_ms() < deadline)
        time_sleep(1);
    ck_assert(tl_timer_reset(t, 60 * 60 * 1000));
    ck_assert_msg(!ready(tl_timer_c(t)), "stale value after Reset");

    ck_assert(tl_timer_reset(t, 0));
    ck_assert(receive_within(tl_timer_c(t), 10000));
    ck_assert_msg(!tl_timer_stop(t), "Stop after the value was received returned true");
    tl_timer_free(t);
}
END_TEST

START_TEST(TestTicker)
{
    /* The part of Go's TestTicker that is not a timing bound: ticks come,
     * one every period at the soonest, and stop with Stop. */
    enum { COUNT = 5, DELTA = 20 };
    tl_ticker_t *ticker = tl_ticker_new(DELTA);
    int64_t t0 = now_ms();
    for (int i = 0; i < COUNT; i++)
        ck_assert(receive_within(tl_ticker_c(ticker), 10000));
    int64_t dt = now_ms() - t0;
    ck_assert_msg(dt >= (COUNT - 1) * DELTA, "%d ticks in %lld ms", COUNT, (long long)dt);
    tl_ticker_stop(ticker);
    ck_assert_msg(!receive_within(tl_ticker_c(ticker), 3 * DELTA), "Ticker did not shut down");
    /* Reset starts it again with the new period. */
    tl_ticker_reset(ticker, DELTA);
    ck_assert(receive_within(tl_ticker_c(ticker), 10000));
    tl_ticker_free(ticker);
}
END_TEST

START_TEST(TestTeardown)
{
    /* Go: a ticker stopped right after it is made, many times. */
    for (int i = 0; i < 1000; i++) {
        tl_ticker_t *ticker = tl_ticker_new(1);
        tl_ticker_stop(ticker);
        tl_ticker_free(ticker);
    }
}
END_TEST

static void new_ticker_zero(void *arg)
{
    (void)arg;
    tl_ticker_new(0);
}

static void new_ticker_negative(void *arg)
{
    (void)arg;
    tl_ticker_new(-1);
}

static void reset_ticker_zero(void *arg)
{
    (void)arg;
    tl_ticker_reset(tl_ticker_new(1000), 0);
}

START_TEST(TestNewTickerLtZeroDuration)
{
    unit_assert_panics(new_ticker_zero, NULL, "non-positive interval for NewTicker");
    unit_assert_panics(new_ticker_negative, NULL, "non-positive interval for NewTicker");
}
END_TEST

START_TEST(TestTickerResetLtZeroDuration)
{
    unit_assert_panics(reset_ticker_zero, NULL, "non-positive interval for Ticker.Reset");
}
END_TEST

static void receive_one(void *arg)
{
    chan_recv(arg, NULL);
}

/* Not in Go's tests (Go's runtime needs no telling): a thread already
 * waiting when Stop or Reset moves the fire sees the new time. */
START_TEST(a_reset_reaches_a_thread_already_waiting)
{
    tl_timer_t *t = tl_timer_new(60 * 60 * 1000);
    ck_assert_int_eq(go("waiter", receive_one, tl_timer_c(t)), 0);
    ck_assert(unit_blocked(1, "waiter", "chan_recv"));
    ck_assert(tl_timer_reset(t, 10)); /* sooner than the hour it sleeps for */
    ck_assert_int_eq(go_wait_all(deadline_after(10000)), 0);

    ck_assert(!tl_timer_stop(t));
    ck_assert_int_eq(go("waiter", receive_one, tl_timer_c(t)), 0);
    ck_assert(unit_blocked(1, "waiter", "chan_recv")); /* with no wake time at all */
    ck_assert(!tl_timer_reset(t, 10));
    ck_assert_int_eq(go_wait_all(deadline_after(10000)), 0);
    tl_timer_free(t);
}
END_TEST

struct churn {
    tl_timer_t *t;
    atomic_bool stop;
};

static void look_often(void *arg)
{
    struct churn *c = arg;
    while (!atomic_load(&c->stop)) {
        struct chan_case k = chan_recv_case(tl_timer_c(c->t), NULL);
        chan_select(&k, 1, deadline_after(1));
    }
}

/* A fire on its way while Reset makes the timer due again must not run the
 * fire a second time inside the first (it would lock the timer twice). */
START_TEST(resets_while_receivers_look_never_deadlock)
{
    struct churn c = { .t = tl_timer_new(0) };
    ck_assert_int_eq(go("looker", look_often, &c), 0);
    ck_assert_int_eq(go("looker", look_often, &c), 0);
    for (int i = 0; i < 20000; i++)
        tl_timer_reset(c.t, 0);
    atomic_store(&c.stop, true);
    ck_assert_int_eq(go_wait_all(deadline_after(10000)), 0);
    tl_timer_free(c.t);
}
END_TEST

struct ticks {
    tl_ticker_t *t;
    atomic_int got;
};

/* Writes over the stack a receive has just used: a channel that still
 * pointed at this thread's old wait there would find garbage. */
static void scribble(void)
{
    volatile char junk[4096];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (char)0xA5;
}

static void take_ticks(void *arg)
{
    struct ticks *k = arg;
    for (int i = 0; i < 30; i++) {
        if (receive_within(tl_ticker_c(k->t), 10000))
            atomic_fetch_add(&k->got, 1);
        scribble();
    }
}

/* Every tick re-arms the wake, which times out every receiver queued on the
 * channel at once: many queued together must each come back whole. */
START_TEST(many_receivers_of_one_ticker_each_get_their_ticks)
{
    enum { RECEIVERS = 4 };
    struct ticks k = { .t = tl_ticker_new(1) };
    for (int i = 0; i < RECEIVERS; i++)
        ck_assert_int_eq(go("ticks", take_ticks, &k), 0);
    ck_assert_int_eq(go_wait_all(deadline_after(60000)), 0);
    ck_assert_int_eq(atomic_load(&k.got), RECEIVERS * 30);
    tl_ticker_free(k.t);
}
END_TEST

/* Go's TestSleep: Sleep(d) lasts at least d, measured in nanoseconds. */
START_TEST(TestSleep)
{
    for (int i = 0; i < 50; i++) {
        int64_t start = now_ns();
        time_sleep(10);
        int64_t took = now_ns() - start;
        ck_assert_msg(took >= 10000000, "time_sleep(10) returned after %.3f ms", took / 1e6);
    }
}
END_TEST

/* Go's TestAfter: <-After(d) comes at least d later, and its value is at
 * least d after the start. */
START_TEST(TestAfter)
{
    for (int i = 0; i < 50; i++) {
        int64_t start = now_ns();
        chan_t *c = time_after(10);
        int64_t fired;
        ck_assert(chan_recv(c, &fired));
        int64_t took = now_ns() - start;
        chan_release(c);
        ck_assert_msg(took >= 10000000, "<-time_after(10) came after %.3f ms", took / 1e6);
        ck_assert_msg(fired * 1000000 >= start + 10000000,
                      "time_after(10)'s value is %.3f ms after the start", (fired * 1e6 - start) / 1e6);
    }
}
END_TEST

/* Go's TestAfterTimes and TestTickTimes: the value is the time the timer
 * fired, not the time it was received; here received 100 ms late. */
START_TEST(TestAfterTimes)
{
    int64_t start = now_ms();
    chan_t *c = time_after(10);
    int64_t made = now_ms();
    time_sleep(100);
    int64_t fired;
    ck_assert(chan_recv(c, &fired));
    chan_release(c);
    ck_assert_msg(fired >= start + 10 && fired <= made + 11,
                  "time_after(10), received 100 ms later, says it fired %lld ms after it was made",
                  (long long)(fired - start));
}
END_TEST

START_TEST(TestTickTimes)
{
    int64_t start = now_ms();
    ticker_t *t = ticker_new(10);
    int64_t made = now_ms();
    time_sleep(100);
    int64_t fired;
    ck_assert(chan_recv(ticker_c(t), &fired));
    ticker_free(t);
    ck_assert_msg(fired >= start + 10 && fired <= made + 11,
                  "a 10 ms ticker read 100 ms later says its tick came %lld ms after it was made",
                  (long long)(fired - start));
}
END_TEST

/* Sleep(INT64_MAX) sleeps: clock.h says time arithmetic saturates (it
 * overflowed, and returned at once). In a child process, which is killed. */
START_TEST(sleeping_for_ever_does_not_return)
{
    pid_t pid = fork();
    if (pid == 0) {
        time_sleep(INT64_MAX);
        _exit(0);
    }
    ck_assert_int_gt(pid, 0);
    time_sleep(200);
    int status;
    pid_t done = waitpid(pid, &status, WNOHANG);
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    ck_assert_msg(done == 0, "time_sleep(INT64_MAX) returned within 200 ms");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("go_time");
    UNIT_ADD_TIMEOUT(s, many_receivers_of_one_ticker_each_get_their_ticks, 90);
    UNIT_ADD(s, a_reset_reaches_a_thread_already_waiting);
    UNIT_ADD_TIMEOUT(s, resets_while_receivers_look_never_deadlock, 30);
    UNIT_ADD(s, TestAfterStop);
    UNIT_ADD_TIMEOUT(s, TestSleep, 30);
    UNIT_ADD_TIMEOUT(s, TestAfter, 30);
    UNIT_ADD(s, TestAfterTimes);
    UNIT_ADD(s, TestTickTimes);
    UNIT_ADD(s, sleeping_for_ever_does_not_return);
    UNIT_ADD_TIMEOUT(s, TestReset, 30);
    UNIT_ADD(s, TestTimerStopStress);
    UNIT_ADD(s, TestChanStopNoStale);
    UNIT_ADD(s, TestTicker);
    UNIT_ADD(s, TestTeardown);
    UNIT_ADD(s, TestNewTickerLtZeroDuration);
    UNIT_ADD(s, TestTickerResetLtZeroDuration);
    return unit_run(s);
}
