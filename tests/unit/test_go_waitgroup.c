/* Go's own tests of sync.WaitGroup (src/sync/waitgroup_test.go), ported to
 * threadleaks/waitgroup.h. Each test is named after its Go original.
 *
 * Deliberately different:
 * - TestWaitGroupRace runs 200 rounds, not Go's 1000: each round starts two
 *   threads, which costs a thread far more than a goroutine, most of all
 *   under a sanitizer.
 * - TestWaitGroupAlign checks Go's memory layout: not ported.
 */
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>

#include "chan.h"
#include "clock.h"
#include "go.h"
#include "waitgroup.h"
#include "unit.h"

struct pair {
    wg_t *wg1, *wg2;
    chan_t *exited;
};

static void member(void *arg)
{
    struct pair *p = arg;
    wg_done(p->wg1);
    wg_wait(p->wg2);
    bool yes = true;
    chan_send(p->exited, &yes);
}

static void test_wait_group(wg_t *wg1, wg_t *wg2)
{
    enum { N = 16 };
    wg_add(wg1, N);
    wg_add(wg2, N);
    struct pair p = { wg1, wg2, chan_make(sizeof(bool), N) };
    for (int i = 0; i != N; i++)
        ck_assert_int_eq(go("member", member, &p), 0);
    wg_wait(wg1);
    for (int i = 0; i != N; i++) {
        struct chan_case k = chan_recv_case(p.exited, NULL);
        ck_assert_msg(chan_select(&k, 1, 0) == -1, "WaitGroup released group too soon");
        wg_done(wg2);
    }
    for (int i = 0; i != N; i++)
        chan_recv(p.exited, NULL); /* blocks if the barrier fails to unlock someone */
    ck_assert_int_eq(go_wait_all(deadline_after(10000)), 0);
    chan_release(p.exited);
}

START_TEST(TestWaitGroup)
{
    wg_t wg1 = WG_INIT, wg2 = WG_INIT;
    /* Run the same test a few times to ensure barrier is in a proper state. */
    for (int i = 0; i != 8; i++)
        test_wait_group(&wg1, &wg2);
}
END_TEST

static void misuse(void *arg)
{
    (void)arg;
    wg_t wg = WG_INIT;
    wg_add(&wg, 1);
    wg_done(&wg);
    wg_done(&wg);
}

START_TEST(TestWaitGroupMisuse)
{
    unit_assert_panics(misuse, NULL, "sync: negative WaitGroup counter");
}
END_TEST

struct round {
    wg_t wg;
    atomic_int n;
};

static void add_one(void *arg)
{
    struct round *r = arg;
    atomic_fetch_add(&r->n, 1);
    wg_done(&r->wg);
}

START_TEST(TestWaitGroupRace)
{
    for (int i = 0; i < 200; i++) {
        struct round r = { .wg = WG_INIT };
        wg_add(&r.wg, 1);
        ck_assert_int_eq(go("one", add_one, &r), 0);
        wg_add(&r.wg, 1);
        ck_assert_int_eq(go("two", add_one, &r), 0);
        wg_wait(&r.wg);
        ck_assert_msg(atomic_load(&r.n) == 2, "Spurious wakeup from Wait");
        ck_assert_int_eq(go_wait_all(deadline_after(10000)), 0); /* r is on our stack */
    }
}
END_TEST

static void increment(void *arg)
{
    ++*(int *)arg;
}

START_TEST(TestWaitGroupGo)
{
    wg_t wg = WG_INIT;
    int i = 0;
    ck_assert_int_eq(wg_go(&wg, "go", increment, &i), 0);
    wg_wait(&wg);
    ck_assert_msg(i == 1, "got %d, want 1", i);
    ck_assert_int_eq(go_wait_all(deadline_after(10000)), 0);
}
END_TEST

/* Not in Go's tests: the census shows a waiter where it waits. */
static void waiter(void *arg)
{
    wg_wait(arg);
}

START_TEST(a_waiter_shows_in_the_census_as_wg_wait)
{
    wg_t wg = WG_INIT;
    wg_add(&wg, 1);
    ck_assert_int_eq(go("waiter", waiter, &wg), 0);
    ck_assert(unit_blocked(1, "waiter", "wg_wait"));
    wg_done(&wg);
    ck_assert_int_eq(go_wait_all(deadline_after(10000)), 0);
}
END_TEST

/* Go's TestWaitGroupMisuse2 races for this for a million rounds and is
 * skipped on small machines. Here the race is won every time: a signal
 * handler holds the waiter inside tl_wg_wait while its counter reaches zero
 * and an Add starts the next round; released, the Wait panics, as Go's does
 * ("WaitGroup is reused before previous Wait has returned"). */
static sem_t hold;
static atomic_bool held;

static void hold_here(int sig)
{
    (void)sig;
    atomic_store(&held, true);
    while (sem_wait(&hold) != 0) /* never posted: the process panics first */
        ;
}

static void *plain_waiter(void *arg)
{
    wg_wait(arg);
    return NULL;
}

static int is_waiting(void *arg)
{
    wg_t *wg = arg;
    pthread_mutex_lock(&wg->mu);
    int n = wg->waiters;
    pthread_mutex_unlock(&wg->mu);
    return n == 1;
}

static int is_held(void *arg)
{
    (void)arg;
    return atomic_load(&held);
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

/* Runs in unit_assert_panics' child, so it says what went wrong on stderr
 * rather than through Check. */
static void add_while_a_wait_has_not_returned(void *arg)
{
    (void)arg;
    static wg_t wg = WG_INIT;
    sem_init(&hold, 0, 0);
    struct sigaction sa = { .sa_handler = hold_here };
    sigaction(SIGUSR1, &sa, NULL);
    wg_add(&wg, 1);
    pthread_t t;
    pthread_create(&t, NULL, plain_waiter, &wg);
    if (!unit_eventually(is_waiting, &wg, 10000)) {
        fputs("the waiter never reached wg_wait\n", stderr);
        return;
    }
    pthread_kill(t, SIGUSR1);
    if (!unit_eventually(is_held, NULL, 10000)) {
        fputs("the waiter's signal handler never ran\n", stderr);
        return;
    }
    wg_done(&wg); /* the round is over, but its Wait has not returned... */
    wg_add(&wg, 1); /* ...when the next one starts */
    sem_post(&hold);
    unit_eventually(never, NULL, 10000); /* the waiter panics meanwhile */
    fputs("the waiter returned from wg_wait without a panic\n", stderr);
}

START_TEST(a_wait_that_sees_the_next_round_begun_panics)
{
    unit_assert_panics(add_while_a_wait_has_not_returned, NULL,
                       "sync: WaitGroup is reused before previous Wait has returned");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("go_waitgroup");
    UNIT_ADD(s, TestWaitGroup);
    UNIT_ADD(s, TestWaitGroupMisuse);
    UNIT_ADD_TIMEOUT(s, TestWaitGroupRace, 30);
    UNIT_ADD(s, TestWaitGroupGo);
    UNIT_ADD(s, a_waiter_shows_in_the_census_as_wg_wait);
    UNIT_ADD_TIMEOUT(s, a_wait_that_sees_the_next_round_begun_panics, 20);
    return unit_run(s);
}
