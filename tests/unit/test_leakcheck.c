/* The leak check (threadleaks/leakcheck.h), goleak's VerifyNone for
 * threads: what it reports, what it waits for, and what it ignores. Each
 * test plants a thread, checks it with a check of its own, then lets the
 * thread go, so that the fixture's own check (unit.c) still passes. */
#define _GNU_SOURCE /* open_memstream */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan.h"
#include "clock.h"
#include "go.h"
#include "leakcheck.h"
#include "threadleaks/census.h"
#include "threadleaks/trace.h"
#include "unit.h"

struct report {
    char *text;
    size_t size;
    FILE *f;
};

static void report_open(struct report *r)
{
    r->text = NULL;
    r->f = open_memstream(&r->text, &r->size);
    ck_assert_ptr_nonnull(r->f);
}

static void report_close(struct report *r)
{
    fclose(r->f);
}

static int blocked_line;

static void wait_for_ever(void *arg)
{
    blocked_line = __LINE__ + 1;
    chan_recv(arg, NULL);
    chan_release(arg);
}

static int started_line;

static void start_leaker(chan_t *ch)
{
    started_line = __LINE__ + 1;
    ck_assert_int_eq(go("leaker", wait_for_ever, chan_ref(ch)), 0);
}

START_TEST(a_thread_still_blocked_is_reported_with_where_it_started_and_blocks)
{
    tl_leakcheck_t *check = tl_leakcheck_begin();
    ck_assert_ptr_nonnull(check);
    chan_t *ch = chan_make(1, 0);
    start_leaker(ch);
    ck_assert(unit_blocked(1, "leaker", "chan_recv"));
    tl_leakcheck_set_wait(check, 50);
    struct report r;
    report_open(&r);
    ck_assert_int_eq(tl_leakcheck_end(check, r.f), 1);
    report_close(&r);
    char want[200];
    ck_assert_msg(strstr(r.text, "leakcheck: 1 thread started during the check is still alive"),
                  "%s", r.text);
    snprintf(want, sizeof want, "     1 leaker          chan_recv at unit/test_leakcheck.c:%d",
             blocked_line);
    ck_assert_msg(strstr(r.text, want), "want \"%s\" in:\n%s", want, r.text);
    snprintf(want, sizeof want, "created by start_leaker at unit/test_leakcheck.c:%d",
             started_line);
    ck_assert_msg(strstr(r.text, want), "want \"%s\" in:\n%s", want, r.text);
    ck_assert_msg(!strstr(r.text, "threads:"), "only the leaked threads: %s", r.text);
    free(r.text);
    chan_close(ch); /* its way out */
    chan_release(ch);
}
END_TEST

static void finish_soon(void *arg)
{
    chan_recv(arg, NULL); /* until the check has begun its wait */
    chan_release(arg);
    time_sleep(20);
}

/* goleak retries: a thread on its way out is not a leak. */
START_TEST(a_thread_that_returns_during_the_wait_is_no_leak)
{
    tl_leakcheck_t *check = tl_leakcheck_begin();
    chan_t *go_on = chan_make(1, 1);
    ck_assert_int_eq(go("finisher", finish_soon, chan_ref(go_on)), 0);
    int one = 1;
    chan_send(go_on, &one);
    chan_release(go_on);
    ck_assert_int_eq(tl_leakcheck_end(check, stderr), 0);
}
END_TEST

START_TEST(threads_alive_at_the_start_are_not_leaks)
{
    chan_t *ch = chan_make(1, 0);
    start_leaker(ch);
    ck_assert(unit_blocked(1, "leaker", "chan_recv"));
    tl_leakcheck_t *check = tl_leakcheck_begin();
    tl_leakcheck_set_wait(check, 0);
    ck_assert_int_eq(tl_leakcheck_end(check, stderr), 0);
    chan_close(ch);
    chan_release(ch);
}
END_TEST

START_TEST(ignored_names_and_starters_are_not_leaks)
{
    chan_t *ch = chan_make(1, 0);
    tl_leakcheck_t *check = tl_leakcheck_begin();
    ck_assert_int_eq(tl_leakcheck_ignore_name(check, "leaker"), 0);
    start_leaker(ch);
    ck_assert(unit_blocked(1, "leaker", "chan_recv"));
    tl_leakcheck_set_wait(check, 0);
    ck_assert_int_eq(tl_leakcheck_end(check, stderr), 0);

    check = tl_leakcheck_begin();
    ck_assert_int_eq(tl_leakcheck_ignore_created_by(check, "start_leaker"), 0);
    start_leaker(ch);
    ck_assert(unit_blocked(2, "leaker", "chan_recv"));
    tl_leakcheck_set_wait(check, 0);
    ck_assert_int_eq(tl_leakcheck_end(check, stderr), 0);

    /* Another name or starter does not hide them. */
    check = tl_leakcheck_begin();
    ck_assert_int_eq(tl_leakcheck_ignore_name(check, "leake"), 0);
    ck_assert_int_eq(tl_leakcheck_ignore_created_by(check, "start"), 0);
    start_leaker(ch);
    ck_assert(unit_blocked(3, "leaker", "chan_recv"));
    tl_leakcheck_set_wait(check, 0);
    ck_assert_int_eq(tl_leakcheck_end(check, NULL), 1);
    chan_close(ch);
    chan_release(ch);
}
END_TEST

static pthread_mutex_t plain_mu = PTHREAD_MUTEX_INITIALIZER;

static void *plain_thread(void *arg)
{
    (void)arg;
    pthread_setname_np(pthread_self(), "plain");
    pthread_mutex_lock(&plain_mu);
    pthread_mutex_unlock(&plain_mu);
    return NULL;
}

/* The kernel counts every thread, not only tl_go()'s. */
START_TEST(a_thread_started_with_plain_pthread_create_is_caught_too)
{
    tl_leakcheck_t *check = tl_leakcheck_begin();
    pthread_mutex_lock(&plain_mu);
    pthread_t t;
    ck_assert_int_eq(pthread_create(&t, NULL, plain_thread, NULL), 0);
    tl_leakcheck_set_wait(check, 50);
    struct report r;
    report_open(&r);
    ck_assert_int_eq(tl_leakcheck_end(check, r.f), 1);
    report_close(&r);
    pthread_mutex_unlock(&plain_mu);
    pthread_join(t, NULL);
    ck_assert_msg(strstr(r.text, "leakcheck: 1 thread"), "%s", r.text);
    ck_assert_msg(strstr(r.text, "plain           running   (not started with tl_go()"), "%s",
                  r.text);
    free(r.text);
}
END_TEST

/* fork: children forked while go() threads churn (start, block, wake and
 * exit, under a trace recording, beside a census dump), each ending a leak
 * check its parent began, dumping the census and counting the threads that
 * run. A child has one thread, the one that forked: it must find no lock
 * held by a thread it does not have, and must not take that one thread for
 * a leak. */
static atomic_bool churning;

static void pong(void *arg)
{
    chan_t *ch = arg;
    int v;
    chan_recv(ch, &v);
}

static void churn(void *arg)
{
    chan_t *ch = arg;
    for (int v = 0; atomic_load(&churning); v++) {
        if (go("pong", pong, ch) == 0)
            chan_send(ch, &v);
    }
}

static void dump_often(void *arg)
{
    FILE *null = arg;
    while (atomic_load(&churning))
        tl_census_dump(null);
}

static int child_in_fork(tl_leakcheck_t *check)
{
    FILE *null = fopen("/dev/null", "w");
    if (null)
        tl_census_dump(null);
    int running = go_running();
    int leaks = tl_leakcheck_end(check, stderr);
    return running == 0 && leaks == 0 ? 0 : 1 + (leaks != 0);
}

/* How many threads a child has right after a fork: 1, as POSIX says, unless
 * something below us adds its own (qemu-user starts its RCU thread in every
 * child), and then no leak check in a child can tell that one from a leak. */
static int threads_in_a_forked_child(void)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        _exit(tl_census_threads_of(getpid()));
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(forked_children_find_no_lock_held_and_no_leak)
{
    enum { FORKS = 1000 };
#ifdef __SANITIZE_ADDRESS__
    /* GCC 12's AddressSanitizer allocator takes no lock across fork: a child
     * of a parent whose threads allocate hangs in malloc, in libsanitizer's
     * own mutex (seen: SizeClassAllocator64::GetFromAllocator), whatever
     * this library does. The plain and TSan builds run this test. */
    fputs("skipped under AddressSanitizer: its allocator is not fork-safe\n", stderr);
    return;
#endif
    int alone = threads_in_a_forked_child();
    if (alone != 1) {
        fprintf(stderr, "skipped: a child forked here has %d threads, not 1 (an emulator's "
                        "own, as qemu-user's): a leak check in it would count them\n", alone);
        return;
    }
    tl_leakcheck_t *check = tl_leakcheck_begin();
    ck_assert_ptr_nonnull(check);
    tl_leakcheck_set_wait(check, 0);
    FILE *null = fopen("/dev/null", "w");
    ck_assert_ptr_nonnull(null);
    ck_assert_int_eq(tl_trace_begin(), 0);
    chan_t *chans[2] = { chan_make(sizeof(int), 0), chan_make(sizeof(int), 0) };
    atomic_store(&churning, true);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(go("churn", churn, chans[i]), 0);
    ck_assert_int_eq(go("dump", dump_often, null), 0);
    int forks = FORKS / (unit_slowdown() > 1 ? 5 : 1), hung = 0, failed = 0, status = 0;
    for (int i = 0; i < forks && !hung && !failed; i++) {
        fflush(NULL);
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0)
            _exit(child_in_fork(check));
        int64_t deadline = deadline_after(10000);
        pid_t done;
        while ((done = waitpid(pid, &status, WNOHANG)) == 0 && now_ms() < deadline)
            time_sleep(1);
        if (done == 0) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            hung = i + 1;
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            failed = i + 1;
        }
    }
    atomic_store(&churning, false);
    ck_assert_int_eq(go_wait_all(deadline_after(10000)), 0);
    tl_trace_end(NULL, NULL);
    fclose(null);
    for (int i = 0; i < 2; i++)
        chan_release(chans[i]);
    tl_leakcheck_end(check, NULL);
    ck_assert_msg(!hung, "child %d of %d hung for 10 s: a lock its parent's threads held", hung,
                  forks);
    ck_assert_msg(!failed, "child %d of %d: %s", failed, forks,
                  WIFEXITED(status) && WEXITSTATUS(status) == 2
                      ? "its leak check reported a leak (see above)"
                      : WIFEXITED(status) ? "go_running() was not 0"
                                          : "it died of a signal");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("leakcheck");
    UNIT_ADD(s, a_thread_still_blocked_is_reported_with_where_it_started_and_blocks);
    UNIT_ADD(s, a_thread_that_returns_during_the_wait_is_no_leak);
    UNIT_ADD(s, threads_alive_at_the_start_are_not_leaks);
    UNIT_ADD(s, ignored_names_and_starters_are_not_leaks);
    UNIT_ADD(s, a_thread_started_with_plain_pthread_create_is_caught_too);
    UNIT_ADD_TIMEOUT(s, forked_children_find_no_lock_held_and_no_leak, 120);
    return unit_run(s);
}
