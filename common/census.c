/* The registry of threads started with go(), their blocking state, and the
 * dump. Lock order: registry, then a thread's record, then a channel. The
 * blocking primitives never hold a channel lock while they touch their record.
 */
#define _GNU_SOURCE
#include "census.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "chan.h"
#include "chan_internal.h"
#include "clock.h"
#include "go.h"
#include "trace.h"

struct record {
    struct record *prev, *next; /* guarded by registry_mu */
    pthread_mutex_t mu;         /* guards everything below */
    pid_t tid;
    char name[16];
    enum census_state state;
    const char *file;
    int line;
    int64_t since, deadline;
    const struct chan_case *cases;
    int n;
    const char *created_func, *created_file; /* where go() was called: fixed at birth */
    int created_line;
    void (*fn)(void *); /* what the thread runs: fixed at birth */
    void *arg;
    unsigned traced; /* the recording (trace_generation) that knows this thread */
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t registry_cond; /* on CLOCK_MONOTONIC; signalled when running drops */
static pthread_once_t registry_once = PTHREAD_ONCE_INIT;
static struct record *registry;
static int running;
static int waiting_for_all; /* threads in go_wait_all: only they need a signal */
static _Thread_local struct record *self;

static void registry_init(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&registry_cond, &attr);
    pthread_condattr_destroy(&attr);
}

/* ---- counting ---- */

int census_threads_of(pid_t pid)
{
    char path[64];
    if (pid == 0)
        snprintf(path, sizeof path, "/proc/self/task");
    else
        snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *dir = opendir(path);
    if (!dir)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(dir);
    return n;
}

int census_threads(void)
{
    return census_threads_of(0);
}

/* One wait of a poll with growing pauses (1, 2, 4 ... 64 ms), never past the
 * deadline. Returns false once the deadline has passed. */
static bool pause_before_next_look(int64_t *pause, int64_t deadline)
{
    int64_t left = deadline - now_ms();
    if (left <= 0)
        return false;
    int64_t ms = *pause < left ? *pause : left;
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
    if (*pause < 64)
        *pause *= 2;
    return true;
}

int census_settle(pid_t pid, int want, int64_t deadline)
{
    int64_t pause = 1;
    int n;
    while ((n = census_threads_of(pid)) != want && n >= 0 &&
           pause_before_next_look(&pause, deadline))
        ;
    return n;
}

static void *say_tid(void *arg)
{
    *(pid_t *)arg = (pid_t)syscall(SYS_gettid);
    return NULL;
}

int census_warm_up(void)
{
    pthread_t t;
    pid_t tid = 0;
    if (pthread_create(&t, NULL, say_tid, &tid) != 0)
        return -1;
    pthread_join(t, NULL);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d", (int)tid);
    int64_t deadline = deadline_after(2000), pause = 1;
    while (access(path, F_OK) == 0 && pause_before_next_look(&pause, deadline))
        ;
    return 0;
}

/* ---- go ---- */

static void unregister(struct record *rec)
{
    pthread_mutex_lock(&registry_mu);
    if (rec->prev)
        rec->prev->next = rec->next;
    else
        registry = rec->next;
    if (rec->next)
        rec->next->prev = rec->prev;
    if (--running == 0 && waiting_for_all > 0)
        pthread_cond_broadcast(&registry_cond);
    pthread_mutex_unlock(&registry_mu);
    pthread_mutex_destroy(&rec->mu);
    free(rec);
}

static const char *short_path(const char *path);

/* A recording sees a thread from its start, or from trace_begin's look at
 * it (census_each): the thread's events go to the trace, under its record's
 * lock, only once the recording knows it, so that none comes twice or before
 * the thread was found. */
static bool traced(struct record *r)
{
    return trace_recording() && r->traced == trace_generation();
}

static void *trampoline(void *p)
{
    self = p;
    pid_t tid = (pid_t)syscall(SYS_gettid);
    pthread_mutex_lock(&self->mu);
    self->tid = tid;
    if (trace_recording()) {
        self->traced = trace_generation();
        trace_started(self->traced, tid, self->name, self->created_func,
                      self->created_file ? short_path(self->created_file) : NULL,
                      self->created_line);
    }
    pthread_mutex_unlock(&self->mu);
    pthread_setname_np(pthread_self(), self->name);
    self->fn(self->arg);
    struct record *rec = self;
    self = NULL;
    pthread_mutex_lock(&rec->mu);
    if (traced(rec))
        trace_exited(rec->traced, tid);
    pthread_mutex_unlock(&rec->mu);
    unregister(rec);
    return NULL;
}

/* A thread's stack: what handlers and workers need, small enough that
 * glibc's cache of 40 MiB of stacks keeps a few hundred for reuse (a start
 * that misses it maps a fresh stack, and its exit unmaps one and flushes the
 * TLB of every CPU). A sanitizer's frames are larger. */
#ifndef SLOWDOWN
#define SLOWDOWN 1 /* CMakeLists.txt: 4 under a sanitizer */
#endif
static atomic_size_t stack_size = GO_STACK_SIZE * SLOWDOWN;

int go_set_stack_size(size_t bytes)
{
    if (bytes < (size_t)PTHREAD_STACK_MIN || bytes > (size_t)1 << 30)
        return EINVAL;
    atomic_store(&stack_size, bytes);
    return 0;
}

size_t go_stack_size(void)
{
    return atomic_load(&stack_size);
}

static _Thread_local int failed_starts;

int go_start_failures(void)
{
    return failed_starts;
}

int go_at(const char *name, void (*fn)(void *arg), void *arg, const char *func,
          const char *file, int line)
{
    pthread_once(&registry_once, registry_init);
    struct record *rec = calloc(1, sizeof *rec);
    if (!rec) {
        failed_starts++;
        return ENOMEM;
    }
    pthread_mutex_init(&rec->mu, NULL);
    snprintf(rec->name, sizeof rec->name, "%s", name ? name : "go");
    rec->state = CENSUS_RUNNING;
    rec->created_func = func;
    rec->created_file = file;
    rec->created_line = line;
    rec->fn = fn;
    rec->arg = arg;

    pthread_mutex_lock(&registry_mu);
    rec->next = registry;
    if (registry)
        registry->prev = rec;
    registry = rec;
    running++;
    pthread_mutex_unlock(&registry_mu);

    /* Signals belong to the thread that runs the event loop, not to workers:
     * the new thread starts with every signal blocked. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_attr_setstacksize(&attr, go_stack_size()) != 0)
        fprintf(stderr, "go: stack size %zu refused; the default is used\n", go_stack_size());
    /* glibc's guard page stays */
    pthread_t t;
    int rc = pthread_create(&t, &attr, trampoline, rec);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        unregister(rec);
        failed_starts++;
    }
    return rc;
}

int go_running(void)
{
    pthread_mutex_lock(&registry_mu);
    int n = running;
    pthread_mutex_unlock(&registry_mu);
    census_unblock();
    return n;
}

int go_wait_all_at(int64_t deadline, const char *file, int line)
{
    pthread_once(&registry_once, registry_init);
    struct timespec ts;
    deadline_to_timespec(deadline, &ts);
    census_block(CENSUS_WAIT_ALL, file, line, NULL, 0, deadline);
    pthread_mutex_lock(&registry_mu);
    waiting_for_all++;
    while (running > 0) {
        int rc = deadline < 0 ? pthread_cond_wait(&registry_cond, &registry_mu)
                              : pthread_cond_timedwait(&registry_cond, &registry_mu, &ts);
        if (rc == ETIMEDOUT)
            break;
    }
    waiting_for_all--;
    int n = running;
    pthread_mutex_unlock(&registry_mu);
    census_unblock();
    return n;
}

/* ---- blocking state ---- */

static const char *state_name(enum census_state s);

void census_block(enum census_state state, const char *file, int line,
                  const struct chan_case *cases, int n, int64_t deadline)
{
    struct record *r = self;
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->state = state;
    r->file = file;
    r->line = line;
    r->cases = cases;
    r->n = n;
    r->deadline = deadline;
    r->since = now_ms();
    if (traced(r))
        trace_blocked(r->traced, r->tid, state_name(state), file ? short_path(file) : NULL,
                      line);
    pthread_mutex_unlock(&r->mu);
}

void census_unblock(void)
{
    struct record *r = self;
    if (!r)
        return;
    pthread_mutex_lock(&r->mu);
    r->state = CENSUS_RUNNING;
    r->file = NULL;
    r->line = 0;
    r->cases = NULL;
    r->n = 0;
    if (traced(r))
        trace_woke(r->traced, r->tid);
    pthread_mutex_unlock(&r->mu);
}

void census_trace_found(unsigned generation,
                        void (*fn)(const struct census_thread *t, void *arg), void *arg)
{
    pthread_mutex_lock(&registry_mu);
    for (struct record *r = registry; r; r = r->next) {
        pthread_mutex_lock(&r->mu);
        /* Not started yet, or started since the recording began: its own
         * start event tells the trace about it. */
        if (r->tid > 0 && r->traced != generation) {
            r->traced = generation;
            struct census_thread t = {
                .tid = r->tid, .name = r->name, .state = state_name(r->state),
                .file = r->state == CENSUS_RUNNING || !r->file ? NULL : short_path(r->file),
                .line = r->line, .created_func = r->created_func,
                .created_file = r->created_file ? short_path(r->created_file) : NULL,
                .created_line = r->created_line,
            };
            fn(&t, arg);
        }
        pthread_mutex_unlock(&r->mu);
    }
    pthread_mutex_unlock(&registry_mu);
}

/* ---- the dump ---- */

struct row {
    char name[16];
    enum census_state state;
    const char *file;
    int line;
    const char *created_func, *created_file;
    int created_line;
    bool leaked;
    int64_t min_ms, max_ms;
    int count;
    pid_t tid;
};

static const char *state_name(enum census_state s)
{
    static const char *names[] = { "running", "chan_send",  "chan_recv", "select",
                                   "sleep",   "io",         "group_wait", "group_go",
                                   "wait_all" };
    return names[s];
}

/* Nobody can wake a thread whose every channel is abandoned and that has no
 * deadline: it is blocked for ever. */
static bool is_leaked(const struct record *r)
{
    if (r->deadline >= 0 ||
        (r->state != CENSUS_CHAN_SEND && r->state != CENSUS_CHAN_RECV &&
         r->state != CENSUS_SELECT))
        return false;
    for (int i = 0; i < r->n; i++)
        if (r->cases[i].ch && !chan_abandoned(r->cases[i].ch))
            return false;
    return true;
}

/* The last two parts of a path: "02-channel-block/leaky.c". */
static const char *short_path(const char *path)
{
    const char *last = strrchr(path, '/');
    if (!last)
        return path;
    const char *p = last;
    while (p > path && p[-1] != '/')
        p--;
    return p;
}

static int same_group(const struct row *a, const struct row *b)
{
    if (a->state != b->state)
        return a->state - b->state;
    if (a->leaked != b->leaked)
        return a->leaked - b->leaked;
    int c = strcmp(a->name, b->name);
    if (c)
        return c;
    c = strcmp(a->file ? a->file : "", b->file ? b->file : "");
    if (c)
        return c;
    if (a->line != b->line)
        return a->line - b->line;
    c = strcmp(a->created_file ? a->created_file : "", b->created_file ? b->created_file : "");
    if (c)
        return c;
    return a->created_line - b->created_line;
}

static int by_group(const void *a, const void *b)
{
    return same_group(a, b);
}

static int by_count(const void *a, const void *b)
{
    const struct row *x = a, *y = b;
    if (x->count != y->count)
        return y->count - x->count;
    return same_group(x, y);
}

/* Snapshots the registry into rows, one per thread. */
static int snapshot(struct row **out)
{
    int64_t now = now_ms();
    pthread_mutex_lock(&registry_mu);
    int cap = running > 0 ? running : 1, n = 0;
    struct row *rows = calloc((size_t)cap, sizeof *rows);
    for (struct record *r = registry; r && rows && n < cap; r = r->next) {
        pthread_mutex_lock(&r->mu);
        struct row *w = &rows[n++];
        memcpy(w->name, r->name, sizeof w->name);
        w->state = r->state;
        w->file = r->file ? short_path(r->file) : NULL;
        w->line = r->line;
        w->created_func = r->created_func;
        w->created_file = r->created_file ? short_path(r->created_file) : NULL;
        w->created_line = r->created_line;
        w->tid = r->tid;
        w->leaked = is_leaked(r);
        w->min_ms = w->max_ms = r->state == CENSUS_RUNNING ? 0 : now - r->since;
        w->count = 1;
        pthread_mutex_unlock(&r->mu);
    }
    pthread_mutex_unlock(&registry_mu);
    *out = rows;
    return rows ? n : 0;
}

static int group_rows(struct row *rows, int n)
{
    qsort(rows, (size_t)n, sizeof *rows, by_group);
    int g = 0;
    for (int i = 0; i < n; i++) {
        if (g > 0 && same_group(&rows[g - 1], &rows[i]) == 0) {
            struct row *w = &rows[g - 1];
            w->count++;
            if (rows[i].min_ms < w->min_ms)
                w->min_ms = rows[i].min_ms;
            if (rows[i].max_ms > w->max_ms)
                w->max_ms = rows[i].max_ms;
        } else {
            rows[g++] = rows[i];
        }
    }
    qsort(rows, (size_t)g, sizeof *rows, by_count);
    return g;
}

static bool is_registered(const struct row *rows, int n, pid_t tid)
{
    for (int i = 0; i < n; i++)
        if (rows[i].tid == tid)
            return true;
    return false;
}

/* Threads the kernel lists that are not running a go() function: the main
 * thread, and go() threads just starting or just returned. By kernel name. */
static void dump_others(FILE *out, const struct row *rows, int n)
{
    DIR *dir = opendir("/proc/self/task");
    if (!dir)
        return;
    enum { MAX_NAMES = 32 };
    struct {
        char comm[32];
        int count;
    } names[MAX_NAMES];
    int nnames = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.' || is_registered(rows, n, (pid_t)atoi(e->d_name)))
            continue;
        char path[300], comm[32] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (f) {
            if (fgets(comm, sizeof comm, f))
                comm[strcspn(comm, "\n")] = '\0';
            fclose(f);
        }
        if (!comm[0])
            continue; /* gone since readdir */
        int i = 0;
        while (i < nnames && strcmp(names[i].comm, comm) != 0)
            i++;
        if (i == nnames && nnames < MAX_NAMES) {
            memcpy(names[i].comm, comm, sizeof comm);
            names[i].count = 0;
            nnames++;
        }
        if (i < nnames)
            names[i].count++;
    }
    closedir(dir);
    for (int i = 0; i < nnames; i++)
        fprintf(out, "%6d %-15s %-9s (outside go(): main, starting or exiting)\n",
                names[i].count, names[i].comm, "running");
}

void census_dump(FILE *out)
{
    struct row *rows;
    int n = snapshot(&rows);
    fprintf(out, "threads: %d\n", census_threads());
    dump_others(out, rows, n);
    int g = group_rows(rows, n);
    for (int i = 0; i < g; i++) {
        const struct row *r = &rows[i];
        fprintf(out, "%6d %-15s %-9s", r->count, r->name, state_name(r->state));
        if (r->file)
            fprintf(out, " at %s:%d", r->file, r->line);
        /* In the story's seconds, as every other duration the chapters name. */
        if (r->state != CENSUS_RUNNING && time_scale() == 1)
            fprintf(out, ", blocked %.1fs..%.1fs", r->min_ms / 1000.0, r->max_ms / 1000.0);
        else if (r->state != CENSUS_RUNNING)
            fprintf(out, ", blocked %.1fs..%.1fs of the story", r->min_ms / 1000.0 / time_scale(),
                    r->max_ms / 1000.0 / time_scale());
        if (r->leaked)
            fprintf(out, ", leaked");
        fputc('\n', out);
        if (r->created_file)
            fprintf(out, "%6s created by %s at %s:%d\n", "", r->created_func, r->created_file,
                    r->created_line);
    }
    free(rows);
}
