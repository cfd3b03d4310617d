/* go: a detached thread per call, its stack, its signal mask, the count of
 * those still running. The hook (hook.c) learns of each; tl_go_with, which
 * needs channels and contexts, is go_with.c, above them. */
#define _GNU_SOURCE /* pthread_setname_np */
#include "threadleaks/go.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "threadleaks/clock.h"
#include "threadleaks/hook.h"
#include "hook_internal.h"

/* ---- counting the threads that run ---- */

static pthread_mutex_t running_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t running_cond; /* on CLOCK_MONOTONIC; signalled when running drops to 0 */
static pthread_once_t running_once = PTHREAD_ONCE_INIT;
static int running;
static int waiting_for_all; /* threads in tl_go_wait_all: only they need a signal */

static _Thread_local bool is_go_thread; /* started by tl_go */

static void cond_init(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&running_cond, &attr);
    pthread_condattr_destroy(&attr);
}

/* fork: the count is held across it, and the child, whose one thread is
 * the one that forked, counts that thread alone if tl_go started it. Its
 * condition is made anew: waiters of the parent's are not in the child. */
static void fork_prepare(void)
{
    pthread_mutex_lock(&running_mu);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&running_mu);
}

static void fork_child(void)
{
    running = is_go_thread ? 1 : 0;
    waiting_for_all = 0;
    cond_init();
    pthread_mutex_unlock(&running_mu);
}

static void running_init(void)
{
    cond_init();
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static void count_one(int delta)
{
    pthread_mutex_lock(&running_mu);
    running += delta;
    if (running == 0 && waiting_for_all > 0)
        pthread_cond_broadcast(&running_cond);
    pthread_mutex_unlock(&running_mu);
}

int tl_go_running(void)
{
    pthread_mutex_lock(&running_mu);
    int n = running;
    pthread_mutex_unlock(&running_mu);
    return n;
}

int tl_go_wait_all_at(int64_t deadline, const char *file, int line)
{
    pthread_once(&running_once, running_init);
    struct timespec ts;
    tl_deadline_to_timespec(deadline, &ts);
    tl_block(TL_STATE_WAIT_ALL, file, line, NULL, 0, deadline);
    pthread_mutex_lock(&running_mu);
    waiting_for_all++;
    while (running > 0) {
        int rc = deadline < 0 ? pthread_cond_wait(&running_cond, &running_mu)
                              : pthread_cond_timedwait(&running_cond, &running_mu, &ts);
        if (rc == ETIMEDOUT)
            break;
    }
    waiting_for_all--;
    int n = running;
    pthread_mutex_unlock(&running_mu);
    tl_unblock();
    return n;
}

/* ---- starting one ---- */

/* What the new thread needs, handed over by tl_go_at. */
struct start {
    void (*fn)(void *arg);
    void *arg;
    char name[16];
    struct tl_site created;
};

static void *trampoline(void *p)
{
    struct start s = *(struct start *)p;
    free(p);
    pthread_setname_np(pthread_self(), s.name);
    is_go_thread = true;
    tl_hook_thread_start(s.name, s.created);
    s.fn(s.arg);
    tl_hook_thread_exit();
    count_one(-1);
    return NULL;
}

/* A thread's stack: what handlers and workers need, small enough that
 * glibc's cache of 40 MiB of stacks keeps a few hundred for reuse (a start
 * that misses it maps a fresh stack, and its exit unmaps one and flushes the
 * TLB of every CPU). A sanitizer's frames are larger. */
#ifndef SLOWDOWN
#define SLOWDOWN 1 /* CMakeLists.txt: 4 under a sanitizer */
#endif
static atomic_size_t stack_size = TL_GO_STACK_SIZE * SLOWDOWN;

int tl_go_set_stack_size(size_t bytes)
{
    if (bytes < (size_t)PTHREAD_STACK_MIN || bytes > (size_t)1 << 30)
        return EINVAL;
    atomic_store(&stack_size, bytes);
    return 0;
}

size_t tl_go_stack_size(void)
{
    return atomic_load(&stack_size);
}

static _Thread_local int failed_starts;

int tl_go_start_failures(void)
{
    return failed_starts;
}

int tl_go_at(const char *name, void (*fn)(void *arg), void *arg, const char *func,
             const char *file, int line)
{
    pthread_once(&running_once, running_init);
    struct start *s = malloc(sizeof *s);
    if (!s) {
        failed_starts++;
        return ENOMEM;
    }
    *s = (struct start){ .fn = fn, .arg = arg, .created = { func, file, line } };
    snprintf(s->name, sizeof s->name, "%s", name ? name : "go");
    count_one(+1);

    /* Signals belong to the thread that runs the event loop, not to workers:
     * the new thread starts with every signal blocked. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_attr_setstacksize(&attr, tl_go_stack_size()) != 0)
        fprintf(stderr, "go: stack size %zu refused; the default is used\n", tl_go_stack_size());
    /* glibc's guard page stays */
    pthread_t t;
    int rc = pthread_create(&t, &attr, trampoline, s);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        free(s);
        count_one(-1);
        failed_starts++;
    }
    return rc;
}
