/* A send or receive that loses its CPU in the middle of its copy, on
 * purpose: the value's second page is unreadable (or, for a receive, its
 * buffer's second page unwritable), so the copy faults half-way, and the
 * fault's handler holds the thread there until the test lets it go. The
 * slot is then claimed and not yet filled (or emptied), as when the thread
 * is preempted there. A thread that waits for that slot must sleep, not
 * spin, and be served when the copy ends; so must a receive on a channel
 * closed while a send from before the close was still copying, and it must
 * hold no lock while it waits. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "chan.h"
#include "clock.h"
#include "context.h"
#include "go.h"
#include "unit.h"

/* Two pages; a copy stops when it reaches the second (in whatever order
 * memcpy takes them). */
static char *region;
static size_t page;
static atomic_bool stalled;
static int release[2]; /* a byte written here lets the copy go on */

static void on_fault(int sig, siginfo_t *info, void *context)
{
    (void)context;
    char *at = info->si_addr;
    if (at < region + page || at >= region + 2 * page) {
        signal(sig, SIG_DFL); /* a real fault: die of it */
        return;
    }
    atomic_store(&stalled, true);
    char c;
    while (read(release[0], &c, 1) < 0 && errno == EINTR)
        ;
    mprotect(region + page, page, PROT_READ | PROT_WRITE); /* the copy resumes */
}

static void stall_setup(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    region = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_msg(region != MAP_FAILED, "mmap of two pages failed");
    memset(region, 7, 2 * page);
    ck_assert_int_eq(pipe(release), 0);
    struct sigaction sa = { .sa_sigaction = on_fault, .sa_flags = SA_SIGINFO };
    sigemptyset(&sa.sa_mask);
    ck_assert_int_eq(sigaction(SIGSEGV, &sa, NULL), 0);
    atomic_store(&stalled, false);
    /* From here, a copy into or out of the second page stops there. */
    ck_assert_int_eq(mprotect(region + page, page, PROT_NONE), 0);
}

/* go() starts its threads with every signal blocked; a fault on purpose
 * must reach on_fault (a blocked one kills the process). */
static void take_faults(void)
{
    sigset_t segv;
    sigemptyset(&segv);
    sigaddset(&segv, SIGSEGV);
    pthread_sigmask(SIG_UNBLOCK, &segv, NULL);
}

static int is_stalled(void *arg)
{
    (void)arg;
    return atomic_load(&stalled);
}

static void let_go(void)
{
    ck_assert_int_eq(write(release[1], "x", 1), 1);
}

static void stall_teardown(void)
{
    munmap(region, 2 * page);
    close(release[0]);
    close(release[1]);
}

struct pair {
    chan_t *ch, *done;
};

static void send_region(void *arg)
{
    struct pair *p = arg;
    take_faults();
    chan_send(p->ch, region); /* its value is the region: stalls half-way */
    chan_send(p->done, &(int){ 1 });
}

/* The next thread's word on done: 1 for done and right, 0 for a wrong
 * value, -1 if none came within 2 s. */
static int done_within(chan_t *done)
{
    int word = -1;
    struct chan_case c = chan_recv_case(done, &word);
    if (chan_select(&c, 1, deadline_after(2000 * unit_slowdown())) != 0)
        return -1;
    return word;
}

static void receive_and_check(void *arg)
{
    struct pair *p = arg;
    char *got = malloc(2 * page);
    chan_recv(p->ch, got);
    int same = got[0] == 7 && got[2 * page - 1] == 7;
    free(got);
    chan_send(p->done, &same);
}

static int blocked_300_ms(void *arg)
{
    (void)arg;
    return unit_census_blocked_ms("receiver", "chan_recv") >= 300;
}

START_TEST(a_receiver_sleeps_while_the_send_it_waits_for_is_stalled_mid_copy)
{
    stall_setup();
    struct pair p = { chan_make(2 * page, 4), chan_make(sizeof(int), 2) };
    ck_assert_int_eq(go("sender", send_region, &p), 0);
    ck_assert_msg(unit_eventually(is_stalled, NULL, 2000), "the send's copy never stalled");
    ck_assert_int_eq(chan_len(p.ch), 1); /* claimed, not filled */
    ck_assert_int_eq(go("receiver", receive_and_check, &p), 0);
    /* The census shows a thread blocked once it first goes to sleep: a
     * receiver that polled again and again for the claimed slot never is. */
    ck_assert_msg(unit_blocked(1, "receiver", "chan_recv"),
                  "the receiver never went to sleep while the send it waits for was stalled");
    /* It naps (it cannot tell whether the stalled send will wake it), and
     * is blocked from its first nap on, not again at each. */
    int ms = 2000 * unit_slowdown();
    bool long_enough = unit_eventually(blocked_300_ms, NULL, ms);
    int seen = unit_census_blocked_ms("receiver", "chan_recv");
    let_go(); /* before any assertion can fail: the threads must end */
    if (seen < 0)
        ck_assert_msg(long_enough, "in %d ms, the census never showed the receiver blocked for "
                                   "0.3 s (last seen: not blocked)", ms);
    ck_assert_msg(long_enough, "in %d ms, the census never showed the receiver blocked for 0.3 s "
                               "(last seen: %.1f s; does it restart at each nap?)", ms,
                  seen / 1000.0);
    for (int i = 0; i < 2; i++)
        ck_assert_msg(done_within(p.done) == 1,
                      "the stalled send, once its copy ended, did not reach its sleeping "
                      "receiver whole (%d of 2 threads done)", i);
    go_wait_all(-1);
    chan_release(p.ch);
    chan_release(p.done);
    stall_teardown();
}
END_TEST

static void receive_into_region(void *arg)
{
    struct pair *p = arg;
    take_faults();
    chan_recv(p->ch, region); /* its buffer is the region: stalls half-way */
    chan_send(p->done, &(int){ 1 });
}

static void send_one(void *arg)
{
    struct pair *p = arg;
    char *v = calloc(1, 2 * page);
    chan_send(p->ch, v);
    free(v);
    chan_send(p->done, &(int){ 1 });
}

START_TEST(a_sender_sleeps_while_the_receive_it_waits_for_is_stalled_mid_copy)
{
    stall_setup();
    struct pair p = { chan_make(2 * page, 1), chan_make(sizeof(int), 2) };
    char *v = calloc(1, 2 * page);
    chan_send(p.ch, v); /* full */
    free(v);
    ck_assert_int_eq(go("receiver", receive_into_region, &p), 0);
    ck_assert_msg(unit_eventually(is_stalled, NULL, 2000), "the receive's copy never stalled");
    ck_assert_int_eq(go("sender", send_one, &p), 0);
    ck_assert_msg(unit_blocked(1, "sender", "chan_send"),
                  "the sender never went to sleep while the receive it waits for was stalled");
    let_go();
    for (int i = 0; i < 2; i++)
        ck_assert_msg(done_within(p.done) == 1,
                      "the stalled receive, once its copy ended, did not serve its sleeping "
                      "sender (%d of 2 threads done)", i);
    ck_assert(chan_recv(p.ch, NULL)); /* the sender's value, moved into the room made */
    go_wait_all(-1);
    chan_release(p.ch);
    chan_release(p.done);
    stall_teardown();
}
END_TEST

/* A receive on a closed channel waits out a send from before the close:
 * its value is the channel's, as in Go. How much CPU that wait takes. */
struct timed {
    chan_t *ch, *done;
    atomic_bool receiving;
    double cpu_ms, wall_ms;
    bool whole; /* received, and the value is the one sent */
};

static double ms_of(clockid_t clock)
{
    struct timespec t;
    clock_gettime(clock, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void receive_timed(void *arg)
{
    struct timed *t = arg;
    char *got = malloc(2 * page);
    atomic_store(&t->receiving, true);
    double cpu = ms_of(CLOCK_THREAD_CPUTIME_ID), wall = ms_of(CLOCK_MONOTONIC);
    bool ok = chan_recv(t->ch, got);
    t->cpu_ms = ms_of(CLOCK_THREAD_CPUTIME_ID) - cpu;
    t->wall_ms = ms_of(CLOCK_MONOTONIC) - wall;
    t->whole = ok && got[0] == 7 && got[2 * page - 1] == 7;
    free(got);
    chan_send(t->done, &(int){ 1 });
}

static int is_receiving(void *arg)
{
    return atomic_load(&((struct timed *)arg)->receiving);
}

START_TEST(a_receive_on_a_closed_channel_sleeps_while_a_send_from_before_is_stalled)
{
    stall_setup();
    struct timed t = { .ch = chan_make(2 * page, 4), .done = chan_make(sizeof(int), 2) };
    struct pair p = { t.ch, t.done };
    ck_assert_int_eq(go("sender", send_region, &p), 0);
    ck_assert_msg(unit_eventually(is_stalled, NULL, 2000), "the send's copy never stalled");
    chan_close(t.ch); /* the send claimed its slot before: its value is in */
    ck_assert_int_eq(go("receiver", receive_timed, &t), 0);
    ck_assert(unit_eventually(is_receiving, &t, 2000));
    ck_assert_msg(unit_blocked(1, "receiver", "chan_recv"),
                  "the census never showed the receive on the closed channel blocked while "
                  "the send from before the close was stalled");
    /* Not a synchronisation: the window in which a receiver that polled
     * instead of sleeping would burn its CPU. */
    struct timespec window = { 0, 100 * 1000000L };
    nanosleep(&window, NULL);
    let_go();
    for (int i = 0; i < 2; i++)
        ck_assert_msg(done_within(t.done) == 1, "the stalled send or its receiver never finished "
                                                "(%d of 2 threads done)", i);
    go_wait_all(-1);
    ck_assert_msg(t.whole, "the receive on the closed channel did not get the value sent before "
                           "the close");
    ck_assert_msg(t.cpu_ms < t.wall_ms / 4,
                  "the receiver used %.1f ms of CPU in the %.1f ms it waited for the stalled send "
                  "(it polled instead of sleeping)", t.cpu_ms, t.wall_ms);
    chan_release(t.ch);
    chan_release(t.done);
    stall_teardown();
}
END_TEST

/* The same wait in a select with a context's Done, as a handler selects:
 * the cancel must not queue behind it on Done's lock. */
struct selecting {
    chan_t *ch, *done;
    ctx_t *ctx;
    atomic_int tid;           /* the selecting thread's, once it selects */
    atomic_bool cancelled;    /* ctx_cancel has returned */
    int chosen;
    bool whole;
};

static void select_closed_or_done(void *arg)
{
    struct selecting *s = arg;
    char *got = malloc(2 * page);
    struct chan_case cases[] = { chan_recv_case(s->ch, got), chan_recv_case(ctx_done(s->ctx), NULL) };
    atomic_store(&s->tid, (int)syscall(SYS_gettid));
    s->chosen = chan_select(cases, 2, -1);
    s->whole = s->chosen == 1 || (cases[0].ok && got[0] == 7 && got[2 * page - 1] == 7);
    free(got);
    chan_send(s->done, &(int){ 1 });
}

static void cancel_it(void *arg)
{
    struct selecting *s = arg;
    ctx_cancel(s->ctx);
    atomic_store(&s->cancelled, true);
}

/* The selecting thread asleep in a nanosleep (its nap), not just started
 * or briefly waiting for a lock. */
static int is_napping(void *arg)
{
    int tid = atomic_load(&((struct selecting *)arg)->tid);
    if (tid == 0)
        return 0;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    long nr = -1;
    int got = fscanf(f, "%ld", &nr);
    fclose(f);
#ifdef SYS_nanosleep
    if (got == 1 && nr == SYS_nanosleep)
        return 1;
#endif
    return got == 1 && nr == SYS_clock_nanosleep;
}

static int is_cancelled(void *arg)
{
    return atomic_load(&((struct selecting *)arg)->cancelled);
}

START_TEST(a_select_waiting_out_a_stalled_send_on_a_closed_channel_holds_no_lock)
{
    stall_setup();
    struct selecting s = { .ch = chan_make(2 * page, 4), .done = chan_make(sizeof(int), 2),
                           .ctx = ctx_with_cancel(ctx_background()) };
    struct pair p = { s.ch, s.done };
    ck_assert_int_eq(go("sender", send_region, &p), 0);
    ck_assert_msg(unit_eventually(is_stalled, NULL, 2000), "the send's copy never stalled");
    chan_close(s.ch);
    ck_assert_int_eq(go("selecter", select_closed_or_done, &s), 0);
    ck_assert_msg(unit_eventually(is_napping, &s, 2000 * unit_slowdown()),
                  "the select never slept while the send it waits for was stalled");
    ck_assert_int_eq(go("canceller", cancel_it, &s), 0);
    int ms = 2000 * unit_slowdown();
    bool cancelled = unit_eventually(is_cancelled, &s, ms);
    let_go(); /* before any assertion can fail: the threads must end */
    ck_assert_msg(cancelled, "ctx_cancel did not return within %d ms while a select on the "
                             "context's Done waited for a send stalled mid-copy (the select must "
                             "not hold Done's lock while it waits)", ms);
    for (int i = 0; i < 2; i++)
        ck_assert_msg(done_within(s.done) == 1, "the stalled send or the select never finished "
                                                "(%d of 2 threads done)", i);
    go_wait_all(-1);
    ck_assert_msg(s.chosen >= 0, "the select returned %d, not a case", s.chosen);
    ck_assert_msg(s.whole, "the select took the closed channel's case, and its value was not the "
                           "one sent before the close");
    ctx_release(s.ctx);
    chan_release(s.ch);
    chan_release(s.done);
    stall_teardown();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stall");
    UNIT_ADD(s, a_receiver_sleeps_while_the_send_it_waits_for_is_stalled_mid_copy);
    UNIT_ADD(s, a_sender_sleeps_while_the_receive_it_waits_for_is_stalled_mid_copy);
    UNIT_ADD(s, a_receive_on_a_closed_channel_sleeps_while_a_send_from_before_is_stalled);
    UNIT_ADD(s, a_select_waiting_out_a_stalled_send_on_a_closed_channel_holds_no_lock);
    return unit_run(s);
}
