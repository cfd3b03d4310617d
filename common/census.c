/* The registry of threads started with tl_go(), their blocking state, the
 * dump, and the start of a trace recording: one job (the dump and the
 * recording's first look are the registry, read), in one file of about 600
 * lines.
 *
 * Lock order: registry, then a thread's record, then a channel. The blocking
 * primitives never hold a channel lock while they touch their record.
 */
#define _GNU_SOURCE
#include "threadleaks/census.h"

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

#include "threadleaks/chan.h"
#include "chan_internal.h"
#include "threadleaks/clock.h"
#include "threadleaks/hook.h"
#include "threadleaks/trace.h"
#include "census_internal.h"

struct record {
    struct record *prev, *next; /* guarded by registry_mu */
    pthread_mutex_t mu;         /* guards everything below */
    pid_t tid;
    char name[16];
    enum tl_state state;
    const char *file;
    int line;
    int64_t since, deadline;
    const struct tl_chan_case *cases;
    int n;
    const char *created_func, *created_file; /* where tl_go() was called: fixed at birth */
    int created_line;
    unsigned traced; /* the recording (tl_trace_generation) that knows this thread */
};

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static struct record *registry;
static int registered;

static void *thread_start(const char *name, struct tl_site created);
static void thread_block(void *thread, enum tl_state state, const char *file, int line,
                         const struct tl_chan_case *cases, int n, int64_t deadline);
static void thread_unblock(void *thread);
static void thread_exit(void *thread);

static const struct tl_hook census_hook = { thread_start, thread_block, thread_unblock,
                                            thread_exit };
static pthread_once_t start_once = PTHREAD_ONCE_INIT;
static int start_err;

/* TL_LATE_WAKE_MS (./lab check sets it): every thread but the server's
 * handlers waits this long after each wake-up before it runs on. A worker
 * that reads what its handler's return frees (a borrowed r->ctx) then reads
 * it after the free, every time, where AddressSanitizer sees it; in a run
 * without the wait it reads first as often as not, and nothing is seen. */
static long late_wake_ms;

/* fork: the child has one thread, the one that forked. The census's locks
 * and the trace's (the registry, each record, the trace's, in the order
 * threads take them) are held across the fork, so no copy is held by a
 * thread the child does not have; the child then keeps only the record of
 * the thread that forked, if tl_go started it, under its new thread id. A
 * channel's, context's or timer's lock held by another thread at the fork
 * stays held in the child, as any mutex does: POSIX allows a child of a
 * threaded process only async-signal-safe calls until it execs, and this
 * makes the census and the leak check safe there too, nothing more. */
static pid_t forking_tid, forked_from;

pid_t tl_census_forked_from(void)
{
    return forked_from;
}

static void fork_prepare(void)
{
    pthread_mutex_lock(&registry_mu);
    for (struct record *r = registry; r; r = r->next)
        pthread_mutex_lock(&r->mu);
    tl_trace_fork_prepare();
    forking_tid = (pid_t)syscall(SYS_gettid);
}

static void fork_parent(void)
{
    tl_trace_fork_parent();
    for (struct record *r = registry; r; r = r->next)
        pthread_mutex_unlock(&r->mu);
    pthread_mutex_unlock(&registry_mu);
}

static void fork_child(void)
{
    forked_from = forking_tid;
    tl_trace_fork_child();
    struct record *mine = NULL, *next;
    for (struct record *r = registry; r; r = next) {
        next = r->next;
        if (r->tid == forking_tid) {
            mine = r;
            continue;
        }
        free(r); /* its thread is not in this process */
    }
    registry = mine;
    registered = mine ? 1 : 0;
    if (mine) {
        mine->prev = mine->next = NULL;
        mine->tid = (pid_t)syscall(SYS_gettid);
        pthread_mutex_unlock(&mine->mu);
    }
    pthread_mutex_unlock(&registry_mu);
}

static void start_watching(void)
{
    const char *late = getenv("TL_LATE_WAKE_MS");
    late_wake_ms = late ? atol(late) : 0;
    start_err = tl_hook_set(&census_hook);
    if (!start_err)
        start_err = pthread_atfork(fork_prepare, fork_parent, fork_child);
}

int tl_census_start(void)
{
    pthread_once(&start_once, start_watching);
    return start_err;
}

/* ---- counting ---- */

int tl_census_threads_of(pid_t pid)
{
    tl_census_start();
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

int tl_census_threads(void)
{
    return tl_census_threads_of(0);
}

/* One wait of a poll with growing pauses (1, 2, 4 ... 64 ms), never past the
 * deadline. Returns false once the deadline has passed. */
static bool pause_before_next_look(int64_t *pause, int64_t deadline)
{
    int64_t left = deadline - tl_now_ms();
    if (left <= 0)
        return false;
    int64_t ms = *pause < left ? *pause : left;
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
    if (*pause < 64)
        *pause *= 2;
    return true;
}

int tl_census_settle(pid_t pid, int want, int64_t deadline)
{
    int64_t pause = 1;
    int n;
    while ((n = tl_census_threads_of(pid)) != want && n >= 0 &&
           pause_before_next_look(&pause, deadline))
        ;
    return n;
}

static void *say_tid(void *arg)
{
    *(pid_t *)arg = (pid_t)syscall(SYS_gettid);
    return NULL;
}

int tl_census_warm_up(void)
{
    tl_census_start();
    int saved = errno; /* the access() below leaves ENOENT behind */
    pthread_t t;
    pid_t tid = 0;
    int rc = pthread_create(&t, NULL, say_tid, &tid);
    if (rc != 0)
        return rc;
    pthread_join(t, NULL);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d", (int)tid);
    int64_t deadline = tl_deadline_after(2000), pause = 1;
    while (access(path, F_OK) == 0 && pause_before_next_look(&pause, deadline))
        ;
    errno = saved;
    return 0;
}

/* ---- the hook: each thread started with tl_go() has a record ---- */

static const char *short_path(const char *path);

/* A recording sees a thread from its start, or from trace_begin's look at
 * it (tl_trace_begin, below): the thread's events go to the trace, under its
 * record's lock, only once the recording knows it, so that none comes twice
 * or before the thread was found. */
static bool traced(struct record *r)
{
    return tl_trace_recording() && r->traced == tl_trace_generation();
}

static void *thread_start(const char *name, struct tl_site created)
{
    struct record *rec = calloc(1, sizeof *rec);
    if (!rec)
        return NULL; /* the thread runs all the same, unseen by the dump */
    pthread_mutex_init(&rec->mu, NULL);
    snprintf(rec->name, sizeof rec->name, "%s", name);
    rec->state = TL_STATE_RUNNING;
    rec->created_func = created.func;
    rec->created_file = created.file;
    rec->created_line = created.line;
    rec->tid = (pid_t)syscall(SYS_gettid);

    pthread_mutex_lock(&registry_mu);
    rec->next = registry;
    if (registry)
        registry->prev = rec;
    registry = rec;
    registered++;
    pthread_mutex_lock(&rec->mu);
    if (tl_trace_recording()) {
        rec->traced = tl_trace_generation();
        tl_trace_started(rec->traced, rec->tid, rec->name, rec->created_func,
                         rec->created_file ? short_path(rec->created_file) : NULL,
                         rec->created_line);
    }
    pthread_mutex_unlock(&rec->mu);
    pthread_mutex_unlock(&registry_mu);
    return rec;
}

static void thread_exit(void *thread)
{
    struct record *rec = thread;
    /* Under registry_mu, as trace_begin's look: a recording that finds the
     * thread also sees it exit, and one that begins after does not find it. */
    pthread_mutex_lock(&registry_mu);
    pthread_mutex_lock(&rec->mu);
    if (traced(rec))
        tl_trace_exited(rec->traced, rec->tid);
    pthread_mutex_unlock(&rec->mu);
    if (rec->prev)
        rec->prev->next = rec->next;
    else
        registry = rec->next;
    if (rec->next)
        rec->next->prev = rec->prev;
    registered--;
    pthread_mutex_unlock(&registry_mu);
    pthread_mutex_destroy(&rec->mu);
    free(rec);
}

/* ---- blocking state ---- */

static const char *state_name(enum tl_state s);

static void thread_block(void *thread, enum tl_state state, const char *file, int line,
                         const struct tl_chan_case *cases, int n, int64_t deadline)
{
    struct record *r = thread;
    pthread_mutex_lock(&r->mu);
    r->state = state;
    r->file = file;
    r->line = line;
    r->cases = cases;
    r->n = n;
    r->deadline = deadline;
    r->since = tl_now_ms();
    if (traced(r))
        tl_trace_blocked(r->traced, r->tid, state_name(state), file ? short_path(file) : NULL,
                      line);
    pthread_mutex_unlock(&r->mu);
}

static void thread_unblock(void *thread)
{
    struct record *r = thread;
    pthread_mutex_lock(&r->mu);
    r->state = TL_STATE_RUNNING;
    r->file = NULL;
    r->line = 0;
    r->cases = NULL;
    r->n = 0;
    if (traced(r))
        tl_trace_woke(r->traced, r->tid);
    pthread_mutex_unlock(&r->mu);
    if (late_wake_ms > 0 && strcmp(r->name, "handler") != 0) {
        struct timespec ts = { late_wake_ms / 1000, late_wake_ms % 1000 * 1000000 };
        nanosleep(&ts, NULL);
    }
}

/* A recording begins here, above trace.c: the census looks at every thread
 * started with tl_go() that is alive and marks it known to the recording,
 * with its record locked; from then on the thread's blocks, wakes and exit
 * reach the trace, and a thread that starts during the recording announces
 * itself. */
int tl_trace_begin(void)
{
    tl_census_start();
    unsigned generation = tl_trace_open();
    if (!generation)
        return errno;
    pthread_mutex_lock(&registry_mu);
    for (struct record *r = registry; r; r = r->next) {
        pthread_mutex_lock(&r->mu);
        /* One started since the recording began has told the trace itself. */
        if (r->traced != generation) {
            r->traced = generation;
            tl_trace_found(generation, r->tid, r->name, r->created_func,
                           r->created_file ? short_path(r->created_file) : NULL,
                           r->created_line, state_name(r->state),
                           r->state == TL_STATE_RUNNING || !r->file ? NULL : short_path(r->file),
                           r->line);
        }
        pthread_mutex_unlock(&r->mu);
    }
    pthread_mutex_unlock(&registry_mu);
    return 0;
}

/* ---- the dump ---- */

struct row {
    char name[16];
    enum tl_state state;
    const char *file;
    int line;
    const char *created_func, *created_file;
    int created_line;
    bool leaked;
    int64_t min_ms, max_ms;
    int count;
    pid_t tid;
};

static const char *state_name(enum tl_state s)
{
    static const char *names[] = { "running", "chan_send",  "chan_recv", "select",
                                   "sleep",   "io",         "group_wait", "group_go",
                                   "wait_all", "wg_wait" };
    return names[s];
}

/* Nobody can wake a thread whose every channel is abandoned and that has no
 * deadline: it is blocked for ever. */
static bool is_leaked(const struct record *r)
{
    if (r->deadline >= 0 ||
        (r->state != TL_STATE_CHAN_SEND && r->state != TL_STATE_CHAN_RECV &&
         r->state != TL_STATE_SELECT))
        return false;
    for (int i = 0; i < r->n; i++)
        if (r->cases[i].ch && !tl_chan_abandoned(r->cases[i].ch))
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
    int64_t now = tl_now_ms();
    pthread_mutex_lock(&registry_mu);
    int cap = registered > 0 ? registered : 1, n = 0;
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
        w->min_ms = w->max_ms = r->state == TL_STATE_RUNNING ? 0 : now - r->since;
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

/* Threads the kernel lists that are not running a tl_go() function: the main
 * thread, and tl_go() threads just starting or just returned. By kernel name. */
static bool is_one_of(const pid_t *only, int nonly, pid_t tid)
{
    for (int i = 0; i < nonly; i++)
        if (only[i] == tid)
            return true;
    return false;
}

static void dump_others(FILE *out, const struct row *rows, int n, const pid_t *only, int nonly)
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
        if (e->d_name[0] == '.' || is_registered(rows, n, (pid_t)atoi(e->d_name)) ||
            (only && !is_one_of(only, nonly, (pid_t)atoi(e->d_name))))
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
    /* In the dump: threads the census does not know; in a leak report (only
     * set), the kernel knows no more about them than their names. */
    for (int i = 0; i < nnames; i++)
        fprintf(out, "%6d %-15s %-9s %s\n", names[i].count, names[i].comm, "running",
                only ? "(not started with tl_go() after the census started: no sites known)"
                     : "(outside go(): main, starting or exiting)");
}

/* The dump of every thread, or (only not NULL) of the nonly threads listed. */
static void dump(FILE *out, const pid_t *only, int nonly)
{
    tl_census_start();
    struct row *rows;
    int n = snapshot(&rows);
    if (only) {
        int kept = 0;
        for (int i = 0; i < n; i++)
            if (is_one_of(only, nonly, rows[i].tid))
                rows[kept++] = rows[i];
        n = kept;
    } else {
        fprintf(out, "threads: %d\n", tl_census_threads());
    }
    dump_others(out, rows, n, only, nonly);
    int g = group_rows(rows, n);
    for (int i = 0; i < g; i++) {
        const struct row *r = &rows[i];
        fprintf(out, "%6d %-15s %-9s", r->count, r->name, state_name(r->state));
        if (r->file)
            fprintf(out, " at %s:%d", r->file, r->line);
        /* In the story's seconds, as every other duration the chapters name. */
        if (r->state != TL_STATE_RUNNING && tl_time_scale() == 1)
            fprintf(out, ", blocked %.1fs..%.1fs", r->min_ms / 1000.0, r->max_ms / 1000.0);
        else if (r->state != TL_STATE_RUNNING)
            fprintf(out, ", blocked %.1fs..%.1fs of the story", r->min_ms / 1000.0 / tl_time_scale(),
                    r->max_ms / 1000.0 / tl_time_scale());
        if (r->leaked)
            fprintf(out, ", leaked");
        fputc('\n', out);
        if (r->created_file)
            fprintf(out, "%6s created by %s at %s:%d\n", "", r->created_func, r->created_file,
                    r->created_line);
    }
    free(rows);
}

void tl_census_dump(FILE *out)
{
    dump(out, NULL, 0);
}

void tl_census_dump_threads(FILE *out, const pid_t *tids, int n)
{
    dump(out, tids, n > 0 ? n : 0);
}

const char *tl_census_created_by(pid_t tid)
{
    tl_census_start();
    const char *func = NULL;
    pthread_mutex_lock(&registry_mu);
    for (struct record *r = registry; r && !func; r = r->next)
        if (r->tid == tid)
            func = r->created_func;
    pthread_mutex_unlock(&registry_mu);
    return func;
}
