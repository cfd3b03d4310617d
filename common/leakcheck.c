/* The leak check: the kernel's threads at the start, and at the end a poll,
 * with goleak's growing pauses, for the ones that were not there. A thread
 * is its id and its start time: an id the kernel gave again to a thread
 * started later is a new thread. */
#include "threadleaks/leakcheck.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/types.h>
#include <time.h>

#include "threadleaks/census.h"
#include "census_internal.h"
#include "threadleaks/clock.h"

struct list {
    char **items;
    int n;
};

struct tl_leakcheck {
    pid_t *known; /* sorted */
    unsigned long long *started; /* known[i]'s start time, in clock ticks */
    int nknown;
    struct list names, created_by;
    int64_t wait_ms;
    pid_t pid; /* the process that began the check */
};

/* The kernel's thread ids of this process, sorted; -1 with errno set. */
static int thread_ids(pid_t **out)
{
    DIR *dir = opendir("/proc/self/task");
    if (!dir)
        return -1;
    int n = 0, cap = 64;
    pid_t *ids = malloc((size_t)cap * sizeof *ids);
    struct dirent *e;
    while (ids && (e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            pid_t *more = realloc(ids, (size_t)(cap *= 2) * sizeof *ids);
            if (!more) {
                free(ids);
                ids = NULL;
                break;
            }
            ids = more;
        }
        ids[n++] = (pid_t)atoi(e->d_name);
    }
    closedir(dir);
    if (!ids) {
        errno = ENOMEM;
        return -1;
    }
    for (int i = 1; i < n; i++) /* a few dozen ids: insertion sort */
        for (int j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            pid_t t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    *out = ids;
    return n;
}

/* Field 22 of /proc/self/task/TID/stat: when the thread started, in clock
 * ticks since boot; 0 if it is gone. */
static unsigned long long start_time(pid_t tid)
{
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    char *p = strrchr(line, ')'); /* the name may hold spaces and parentheses */
    unsigned long long t = 0;
    /* after ") ": the state (field 3), then fields 4 to 21, then 22 */
    for (int field = 3; p && field <= 22; field++)
        p = strchr(p + 1, ' ');
    if (p)
        t = strtoull(p + 1, NULL, 10);
    return t;
}

/* Where tid is in the check's list of thread ids, or -1. */
static int index_of(const tl_leakcheck_t *c, pid_t tid)
{
    int lo = 0, hi = c->nknown;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (c->known[mid] < tid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return tid > 0 && lo < c->nknown && c->known[lo] == tid ? lo : -1;
}

/* Whether tid was alive at the check's start, by its id alone (in a child,
 * the parent's threads are not there to ask). */
static bool listed_tid(const tl_leakcheck_t *c, pid_t tid)
{
    return index_of(c, tid) >= 0;
}

/* Whether tid is a thread alive at the check's start: the same id and the
 * same start time, so that a new thread given an old id is not taken for it. */
static bool known(const tl_leakcheck_t *c, pid_t tid)
{
    int i = index_of(c, tid);
    return i >= 0 && start_time(tid) == c->started[i];
}

tl_leakcheck_t *tl_leakcheck_begin(void)
{
    int saved = errno;
    /* Without the census's hook, leaks would have no start sites and
     * tl_leakcheck_ignore_created_by would match nothing. */
    int err = tl_census_start();
    if (!err)
        err = tl_census_warm_up();
    if (err) {
        errno = err;
        return NULL;
    }
    tl_leakcheck_t *c = calloc(1, sizeof *c);
    if (!c) {
        errno = ENOMEM;
        return NULL;
    }
    c->wait_ms = TL_LEAKCHECK_WAIT_MS;
    c->pid = getpid();
    if ((c->nknown = thread_ids(&c->known)) < 0 ||
        !(c->started = malloc((size_t)(c->nknown + 1) * sizeof *c->started))) {
        int saved = c->nknown < 0 ? errno : ENOMEM;
        free(c->known);
        free(c);
        errno = saved;
        return NULL;
    }
    for (int i = 0; i < c->nknown; i++)
        c->started[i] = start_time(c->known[i]);
    errno = saved;
    return c;
}

static int add(struct list *l, const char *s)
{
    char *copy = strdup(s);
    char **more = copy ? realloc(l->items, (size_t)(l->n + 1) * sizeof *more) : NULL;
    if (!more) {
        free(copy);
        return ENOMEM;
    }
    more[l->n++] = copy;
    l->items = more;
    return 0;
}

static bool listed(const struct list *l, const char *s)
{
    for (int i = 0; s && i < l->n; i++)
        if (strcmp(l->items[i], s) == 0)
            return true;
    return false;
}

static void list_free(struct list *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
}

int tl_leakcheck_ignore_name(tl_leakcheck_t *c, const char *name)
{
    char kept[16]; /* what the kernel keeps of a thread's name, as tl_go does */
    snprintf(kept, sizeof kept, "%s", name);
    return add(&c->names, kept);
}

int tl_leakcheck_ignore_created_by(tl_leakcheck_t *c, const char *func)
{
    return add(&c->created_by, func);
}

void tl_leakcheck_set_wait(tl_leakcheck_t *c, int64_t ms)
{
    c->wait_ms = ms < 0 ? 0 : ms;
}

/* The kernel's name of thread tid, "" once it is gone. */
static void name_of(pid_t tid, char name[32])
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", (int)tid);
    name[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (fgets(name, 32, f))
        name[strcspn(name, "\n")] = '\0';
    fclose(f);
}

static bool ignored(const tl_leakcheck_t *c, pid_t tid)
{
    if (c->names.n > 0) {
        char name[32];
        name_of(tid, name);
        if (listed(&c->names, name))
            return true;
    }
    return c->created_by.n > 0 && listed(&c->created_by, tl_census_created_by(tid));
}

/* The threads alive now that are leaks, in *out; -1 with errno set. */
static int leaks(const tl_leakcheck_t *c, pid_t **out)
{
    pid_t *ids;
    int n = thread_ids(&ids), m = 0;
    if (n < 0)
        return -1;
    /* In a child forked since the check began, the thread that forked has the
     * child's pid for its id: no new thread if the parent knew it at the
     * start, a leak still if it did not. */
    pid_t forked = getpid() != c->pid && listed_tid(c, tl_census_forked_from()) ? getpid() : 0;
    for (int i = 0; i < n; i++)
        if (ids[i] != forked && !known(c, ids[i]) && !ignored(c, ids[i]))
            ids[m++] = ids[i];
    *out = ids;
    return m;
}

static void pause_us(int64_t us)
{
    struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000 };
    nanosleep(&ts, NULL);
}

int tl_leakcheck_end(tl_leakcheck_t *c, FILE *report)
{
    int saved = errno; /* the looks at /proc below leave theirs behind */
    int64_t start = tl_now_ms(), deadline = start + c->wait_ms, pause = 1;
    pid_t *ids = NULL;
    int n;
    for (;;) {
        free(ids);
        ids = NULL;
        if ((n = leaks(c, &ids)) <= 0)
            break;
        int64_t left_us = (deadline - tl_now_ms()) * 1000;
        if (left_us <= 0)
            break;
        pause_us(pause < left_us ? pause : left_us);
        if (pause < 100000)
            pause = pause * 2 < 100000 ? pause * 2 : 100000;
    }
    if (n > 0 && report) {
        fprintf(report, "leakcheck: %d thread%s started during the check %s still alive after %.1f s:\n",
                n, n == 1 ? "" : "s", n == 1 ? "is" : "are", (double)(tl_now_ms() - start) / 1000);
        tl_census_dump_threads(report, ids, n);
        fflush(report);
    }
    if (n < 0)
        saved = errno;
    free(ids);
    free(c->known);
    free(c->started);
    list_free(&c->names);
    list_free(&c->created_by);
    free(c);
    errno = saved;
    return n;
}
