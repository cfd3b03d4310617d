/* The floor: the same shapes built from nothing but a futex word, or a mutex
 * and condition variable, measured in the same run as the project's, so that
 * each project figure reads as a multiple of what this machine allows.
 *
 * Ping-pong: two threads pass the turn back and forth; a round trip is two
 * hand-overs. Run pinned to one CPU (every hand-over is a context switch),
 * pinned to two (every hand-over may wake an idle CPU) and unpinned (either,
 * as the scheduler likes: the figure is bimodal on a VM).
 *
 * Wake-all: n threads wait, one wake releases them all; the figure is the
 * time from the wake to the last thread's return.
 */
#define _GNU_SOURCE
#include "floor.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "census.h"
#include "chan.h"
#include "clock.h"
#include "context.h"
#include "go.h"

enum { REPS = 7 };

static long futex(atomic_int *word, int op, int val)
{
    return syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

/* Waits until *word is no longer seen. */
static void futex_wait_change(atomic_int *word, int seen)
{
    while (atomic_load_explicit(word, memory_order_acquire) == seen)
        futex(word, FUTEX_WAIT_PRIVATE, seen);
}

static void futex_post(atomic_int *word, int value)
{
    atomic_store_explicit(word, value, memory_order_release);
    futex(word, FUTEX_WAKE_PRIVATE, 1);
}

/* ---- where the two threads run ---- */

static const char *place_names[] = { "pinned to one CPU", "pinned to two CPUs", "unpinned" };

/* SCHED_BATCH turns off wakeup preemption: a woken thread waits for the
 * waker to block or use up its slice, as a goroutine Go readies does. */
static bool batch;

static void set_policy(int policy)
{
    struct sched_param param = { 0 };
    pthread_setschedparam(pthread_self(), policy, &param);
}

static void pin(enum place place, int who)
{
    if (batch)
        set_policy(SCHED_BATCH);
    if (place == UNPINNED)
        return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(place == ONE_CPU ? 0 : who, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void unpin(void)
{
    set_policy(SCHED_OTHER);
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < CPU_SETSIZE && i < sysconf(_SC_NPROCESSORS_ONLN); i++)
        CPU_SET(i, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

/* ---- ping-pong, three ways ---- */

enum kind { FUTEX, CONDVAR, SPIN, CHAN };

struct pingpong {
    enum kind kind;
    enum place place;
    int rounds;
    atomic_int ping, pong;     /* FUTEX, SPIN: the round last passed */
    pthread_mutex_t mu;        /* CONDVAR */
    pthread_cond_t cond;
    int turn;
    chan_t *cping, *cpong;     /* CHAN */
};

static void *ponger(void *arg)
{
    struct pingpong *p = arg;
    pin(p->place, 1);
    for (int i = 1; i <= p->rounds; i++) {
        switch (p->kind) {
        case FUTEX:
            futex_wait_change(&p->ping, i - 1);
            futex_post(&p->pong, i);
            break;
        case SPIN:
            while (atomic_load_explicit(&p->ping, memory_order_acquire) != i)
                ;
            atomic_store_explicit(&p->pong, i, memory_order_release);
            break;
        case CONDVAR:
            pthread_mutex_lock(&p->mu);
            while (p->turn != 2 * i - 1)
                pthread_cond_wait(&p->cond, &p->mu);
            p->turn++;
            pthread_cond_broadcast(&p->cond);
            pthread_mutex_unlock(&p->mu);
            break;
        case CHAN:
            chan_recv(p->cping, NULL);
            chan_send(p->cpong, &i);
            break;
        }
    }
    return NULL;
}

static void go_ponger(void *arg)
{
    ponger(arg);
}

/* One sample: microseconds per round trip. */
static double pingpong_once(enum kind kind, enum place place, int rounds)
{
    struct pingpong p = { .kind = kind, .place = place, .rounds = rounds };
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cond, NULL);
    pthread_t t = 0;
    if (kind == CHAN) {
        p.cping = chan_make(sizeof(int), 0);
        p.cpong = chan_make(sizeof(int), 0);
        go("ponger", go_ponger, &p);
    } else {
        pthread_create(&t, NULL, ponger, &p);
    }
    pin(place, 0);
    int64_t start = now_ns();
    for (int i = 1; i <= rounds; i++) {
        switch (kind) {
        case FUTEX:
            futex_post(&p.ping, i);
            futex_wait_change(&p.pong, i - 1);
            break;
        case SPIN:
            atomic_store_explicit(&p.ping, i, memory_order_release);
            while (atomic_load_explicit(&p.pong, memory_order_acquire) != i)
                ;
            break;
        case CONDVAR:
            pthread_mutex_lock(&p.mu);
            p.turn++;
            pthread_cond_broadcast(&p.cond);
            while (p.turn != 2 * i)
                pthread_cond_wait(&p.cond, &p.mu);
            pthread_mutex_unlock(&p.mu);
            break;
        case CHAN:
            chan_send(p.cping, &i);
            chan_recv(p.cpong, NULL);
            break;
        }
    }
    double us = (double)(now_ns() - start) / rounds / 1000;
    unpin();
    if (kind == CHAN) {
        go_wait_all(-1);
        chan_release(p.cping);
        chan_release(p.cpong);
    } else {
        pthread_join(t, NULL);
    }
    pthread_cond_destroy(&p.cond);
    pthread_mutex_destroy(&p.mu);
    return us;
}

/* Median, min and max of REPS samples, each of enough rounds to last about
 * 50 ms at the speed of the first. */
static double samples[CHAN + 1][UNPINNED + 1][REPS]; /* as measured, unsorted */

static struct spread pingpong(enum kind kind, enum place place)
{
    double first = pingpong_once(kind, place, 200);
    int rounds = (int)(50000 / (first > 0.05 ? first : 0.05));
    rounds = rounds < 200 ? 200 : rounds > 200000 ? 200000 : rounds;
    double v[REPS];
    for (int r = 0; r < REPS; r++)
        v[r] = samples[kind][place][r] = pingpong_once(kind, place, rounds);
    return bench_spread(v, REPS);
}

/* The ways an unpinned round trip can go, each with the figure it costs
 * when forced: both threads on one CPU; on two CPUs, the partner answered
 * while awake; on two CPUs, the partner asleep and its CPU woken. */
struct mode {
    const char *tag, *what;
    double us;
};
enum { MAX_MODES = 3 };

/* Which mode each unpinned sample of kind fell into: the nearest by ratio.
 * Modes closer than 1.5x to each other cannot be told apart, and count as
 * the first of them. */
static void say_modes(enum kind kind, const char *what, const struct mode *modes, int n)
{
    int count[MAX_MODES] = { 0 };
    printf("  unpinned %s, sample by sample:", what);
    for (int r = 0; r < REPS; r++) {
        double x = samples[kind][UNPINNED][r];
        int best = 0;
        for (int m = 1; m < n; m++)
            if (fabs(log(x / modes[m].us)) < fabs(log(x / modes[best].us)))
                best = m;
        for (int m = 0; m < best; m++)
            if (fabs(log(modes[best].us / modes[m].us)) < log(1.5)) {
                best = m;
                break;
            }
        count[best]++;
        printf(" %.2f (%s)", x, modes[best].tag);
    }
    printf("\n   ");
    for (int m = 0; m < n; m++)
        printf(" %d %s (%s, %.2f us)%s", count[m], modes[m].tag, modes[m].what, modes[m].us,
               m + 1 < n ? "," : "\n");
    for (int m = 0; m < n; m++)
        fprintf(bench_csv(), "floor,unpinned %s samples in mode %s,%d,of %d\n", what,
                modes[m].tag, count[m], REPS);
}

/* ---- wake-all ---- */

enum crowd_kind { CROWD_FUTEX, CROWD_THREAD_CTX, CROWD_GO_CTX };

struct crowd {
    enum crowd_kind kind;
    atomic_int word, arrived, left;
    atomic_int gate; /* opened once the sample is taken: then they exit */
    ctx_t *ctx;
    int64_t last_return;
};

static void crowd_member(struct crowd *c)
{
    atomic_fetch_add(&c->arrived, 1);
    if (c->kind == CROWD_FUTEX)
        futex_wait_change(&c->word, 0);
    else
        chan_recv(ctx_done(c->ctx), NULL);
    if (atomic_fetch_sub(&c->left, 1) == 1) {
        c->last_return = now_ns();
        futex_post(&c->word, 2); /* the last one tells the main thread */
    }
    futex_wait_change(&c->gate, 0);
}

static void *crowd_thread(void *arg)
{
    crowd_member(arg);
    return NULL;
}

static void crowd_go(void *arg)
{
    crowd_member(arg);
}

/* One sample: ms from the wake to the last thread's return. The threads
 * get go()'s stack size, and none exits before the last has returned, so
 * that only the wake differs. Exits in the window (a stack unmapped and
 * every CPU's TLB flushed; for go(), the census's record removed under its
 * lock) took 40-50% of it here, and moved its rounds' ratios from 0.5 to 2.3
 * for the same code. */
static double wake_all_once(enum crowd_kind kind, int n)
{
    int base = census_threads_of(0);
    struct crowd c = { .kind = kind, .ctx = ctx_with_cancel(ctx_background()) };
    atomic_store(&c.left, n);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, go_stack_size());
    int started = 0;
    for (int i = 0; i < n; i++) {
        pthread_t t;
        int rc = kind == CROWD_GO_CTX ? go("crowd", crowd_go, &c)
                                      : pthread_create(&t, &attr, crowd_thread, &c);
        if (rc != 0)
            break;
        started++;
    }
    pthread_attr_destroy(&attr);
    if (started == 0) { /* nobody would tell the main thread: it would wait for ever */
        fprintf(stderr, "bench: could not start one thread of the crowd of %d\n", n);
        exit(1);
    }
    atomic_fetch_sub(&c.left, n - started);
    while (atomic_load(&c.arrived) < started)
        sched_yield();
    /* Give the last arrivals time to go to sleep, not just to start. */
    struct timespec settle = { 0, 2000000 + started * 20000L };
    nanosleep(&settle, NULL);
    int64_t start = now_ns();
    if (kind == CROWD_FUTEX) {
        atomic_store(&c.word, 1);
        futex(&c.word, FUTEX_WAKE_PRIVATE, INT_MAX);
    } else {
        ctx_cancel(c.ctx);
    }
    futex_wait_change(&c.word, kind == CROWD_FUTEX ? 1 : 0);
    double ms = (double)(c.last_return - start) / 1e6;
    atomic_store(&c.gate, 1);
    futex(&c.gate, FUTEX_WAKE_PRIVATE, INT_MAX);
    /* The detached threads may still be exiting: let them go first. */
    while (census_threads_of(0) > base)
        sched_yield();
    ctx_release(c.ctx);
    return ms;
}

/* The three kinds' samples taken in turn, each cancel's ratio to the
 * wake-all of its own round: this VM's wake-up cost changes by the minute
 * (its CPUs move), and a ratio of medians taken minutes apart measured
 * that instead. out: each kind's times; ratio: pthread's and go()'s
 * ratios, median of the rounds'. */
enum { CROWD_REPS = 3 * REPS };
static void wake_all(int n, int rounds, struct spread out[CROWD_GO_CTX + 1], double ratio[2])
{
    double v[CROWD_GO_CTX + 1][CROWD_REPS], r1[CROWD_REPS], r2[CROWD_REPS];
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k <= CROWD_GO_CTX; k++)
            v[k][r] = wake_all_once((enum crowd_kind)k, n);
        r1[r] = v[CROWD_THREAD_CTX][r] / v[CROWD_FUTEX][r];
        r2[r] = v[CROWD_GO_CTX][r] / v[CROWD_FUTEX][r];
    }
    for (int k = 0; k <= CROWD_GO_CTX; k++)
        out[k] = bench_spread(v[k], rounds);
    ratio[0] = bench_spread(r1, rounds).median;
    ratio[1] = bench_spread(r2, rounds).median;
}

/* ---- the section ---- */

static double medians[CHAN + 1][UNPINNED + 1];

static void pingpong_rows(enum place place, double *floor_us)
{
    struct spread f = pingpong(FUTEX, place), c = pingpong(CONDVAR, place),
                  k = pingpong(CHAN, place);
    char name[96];
    snprintf(name, sizeof name, "ping-pong %s: raw futex", place_names[place]);
    bench_row_spread("floor", name, f, "us");
    snprintf(name, sizeof name, "ping-pong %s: mutex + condvar", place_names[place]);
    bench_row_spread("floor", name, c, "us");
    if (place == TWO_CPUS) {
        struct spread s = pingpong(SPIN, place);
        snprintf(name, sizeof name, "ping-pong %s: raw spin", place_names[place]);
        bench_row_spread("floor", name, s, "us");
    }
    snprintf(name, sizeof name, "ping-pong %s: chan", place_names[place]);
    bench_row_spread("floor", name, k, "us");
    snprintf(name, sizeof name, "ping-pong %s: chan / raw futex", place_names[place]);
    bench_row("floor", name, k.median / f.median, "x");
    *floor_us = f.median;
    medians[FUTEX][place] = f.median;
    medians[CHAN][place] = k.median;
}

void bench_floor(void)
{
    printf("\nthe floor: the same shapes from a bare futex or condvar (median [min-max] of %d)\n",
           REPS);
    double one = 0, two = 0, unpinned = 0;
    pingpong_rows(ONE_CPU, &one);
    /* On one CPU a woken thread preempts its waker, so an unbuffered send
     * finds no receiver yet; chan yields to it once (see park in chan.c).
     * SCHED_BATCH turns wakeup preemption off, as Go's scheduler has none: */
    batch = true;
    struct spread fb = pingpong(FUTEX, ONE_CPU), kb = pingpong(CHAN, ONE_CPU);
    batch = false;
    bench_row_spread("floor", "ping-pong pinned to one CPU, SCHED_BATCH: raw futex", fb, "us");
    bench_row_spread("floor", "ping-pong pinned to one CPU, SCHED_BATCH: chan", kb, "us");
    bench_row("floor", "ping-pong pinned to one CPU, SCHED_BATCH: chan / raw futex",
              kb.median / fb.median, "x");
    if (sysconf(_SC_NPROCESSORS_ONLN) >= 2)
        pingpong_rows(TWO_CPUS, &two);
    pingpong_rows(UNPINNED, &unpinned);
    if (two > 0) {
        printf("  note: a futex round trip costs %.1f us on one CPU and %.1f us on two: waking\n"
               "  an idle CPU costs about %.0f us here. Unpinned, the scheduler picks either,\n"
               "  and each sample is labelled with the mode it is nearest:\n",
               one, two, (two - one) / 2);
        struct mode futex_modes[] = { { "1", "one CPU", one }, { "2w", "two, CPU woken", two } };
        say_modes(FUTEX, "raw futex", futex_modes, 2);
        /* chan looks before it sleeps: on two CPUs it is answered awake
         * (2a) or, when the look misses, sleeps and pays the futex's wake
         * of an idle CPU (2w). */
        struct mode chan_modes[MAX_MODES] = { { "1", "one CPU", medians[CHAN][ONE_CPU] },
                                     { "2w", "two, CPU woken", two },
                                     { "2a", "two, answered awake", medians[CHAN][TWO_CPUS] } };
        say_modes(CHAN, "chan", chan_modes, 3);
        fprintf(bench_csv(), "floor,idle CPU wake-up,%.3f,us\n", (two - one) / 2);
    }
    static const char *crowd_names[] = { "raw futex wake-all", "ctx_cancel, pthread_create threads",
                                         "ctx_cancel, go() threads" };
    /* A round's ratio moves from 0.8 to 1.5 for the same code (the last of
     * a thousand threads returns when the scheduler gets to it), so the
     * median of 7 moved by 0.2 between runs. Rounds of 1 000 are cheap
     * (0.3 s): three times as many. */
    int sizes[] = { 1000, 10000 }, rounds[] = { CROWD_REPS, REPS };
    printf("  wake-all: rounds of the three kinds in turn, %d of 1000 threads, %d of 10000\n",
           rounds[0], rounds[1]);
    for (int s = 0; s < 2; s++) {
        struct spread v[3];
        double ratio[2];
        wake_all(sizes[s], rounds[s], v, ratio);
        for (int k = 0; k < 3; k++) {
            char name[96];
            snprintf(name, sizeof name, "%d threads woken, to the last return: %s", sizes[s],
                     crowd_names[k]);
            bench_row_spread("floor", name, v[k], "ms");
        }
        char name[96];
        snprintf(name, sizeof name, "%d threads: ctx_cancel / raw wake-all (pthread, go)",
                 sizes[s]);
        printf("  %-58s %6.2f x %5.2f x\n", name, ratio[0], ratio[1]);
        fprintf(bench_csv(), "floor,%d threads: pthread ctx_cancel / raw,%.3f,x\n", sizes[s],
                ratio[0]);
        fprintf(bench_csv(), "floor,%d threads: go() ctx_cancel / raw,%.3f,x\n", sizes[s],
                ratio[1]);
    }
}
