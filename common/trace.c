#include "threadleaks/trace.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "census_internal.h"
#include "threadleaks/clock.h"

enum kind { STARTED, FOUND, BLOCKED, WOKE, EXITED };

struct event {
    enum kind kind;
    pid_t tid;
    int64_t ns; /* since the recording began */
    const char *what;  /* the state, or the creating function */
    const char *file;  /* where it blocks, or where it was started */
    int line;
    char name[16];
};

static atomic_bool on;
static atomic_uint generation; /* which recording; census.c marks threads with it */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct event *events;
static size_t nevents, capacity;
static long dropped;
static int64_t began;

void tl_trace_fork_prepare(void)
{
    pthread_mutex_lock(&mu);
}

void tl_trace_fork_parent(void)
{
    pthread_mutex_unlock(&mu);
}

void tl_trace_fork_child(void)
{
    pthread_mutex_unlock(&mu); /* the forking thread took it: it is the child's */
}

bool tl_trace_recording(void)
{
    return atomic_load_explicit(&on, memory_order_relaxed);
}

unsigned tl_trace_generation(void)
{
    return atomic_load_explicit(&generation, memory_order_relaxed);
}

/* Records an event of recording gen, unless that recording has ended (a
 * hook that looked before tl_trace_end must not write into the next one). */
static void add(unsigned gen, enum kind kind, pid_t tid, const char *what, const char *file,
                int line, const char *name)
{
    pthread_mutex_lock(&mu);
    int64_t t = tl_now_ns(); /* under the lock: the events stay in time order */
    if (!atomic_load_explicit(&on, memory_order_relaxed) || gen != atomic_load(&generation)) {
        pthread_mutex_unlock(&mu);
        return;
    }
    if (nevents == capacity) {
        size_t more = capacity * 2;
        struct event *grown = more <= TL_TRACE_MAX_EVENTS ? realloc(events, more * sizeof *grown) : NULL;
        if (!grown) {
            dropped++;
            pthread_mutex_unlock(&mu);
            return;
        }
        events = grown;
        capacity = more;
    }
    struct event *e = &events[nevents++];
    *e = (struct event){ .kind = kind, .tid = tid, .ns = t - began, .what = what,
                         .file = file, .line = line };
    if (name)
        snprintf(e->name, sizeof e->name, "%s", name);
    pthread_mutex_unlock(&mu);
}

void tl_trace_started(unsigned gen, pid_t tid, const char *name, const char *created_func,
                   const char *created_file, int created_line)
{
    if (tl_trace_recording())
        add(gen, STARTED, tid, created_func, created_file, created_line, name);
}

void tl_trace_blocked(unsigned gen, pid_t tid, const char *state, const char *file, int line)
{
    if (tl_trace_recording())
        add(gen, BLOCKED, tid, state, file, line, NULL);
}

void tl_trace_woke(unsigned gen, pid_t tid)
{
    if (tl_trace_recording())
        add(gen, WOKE, tid, NULL, NULL, 0, NULL);
}

void tl_trace_exited(unsigned gen, pid_t tid)
{
    if (tl_trace_recording())
        add(gen, EXITED, tid, NULL, NULL, 0, NULL);
}

void tl_trace_found(unsigned gen, pid_t tid, const char *name, const char *created_func,
                    const char *created_file, int created_line, const char *state,
                    const char *file, int line)
{
    add(gen, FOUND, tid, created_func, created_file, created_line, name);
    if (file)
        add(gen, BLOCKED, tid, state, file, line, NULL);
}

unsigned tl_trace_open(void)
{
    pthread_mutex_lock(&mu);
    if (atomic_load(&on) || events) {
        pthread_mutex_unlock(&mu);
        errno = EBUSY;
        return 0;
    }
    capacity = 4096;
    events = malloc(capacity * sizeof *events);
    if (!events) {
        pthread_mutex_unlock(&mu);
        errno = ENOMEM;
        return 0;
    }
    nevents = 0;
    dropped = 0;
    began = tl_now_ns();
    unsigned gen = atomic_fetch_add(&generation, 1) + 1;
    atomic_store(&on, true);
    pthread_mutex_unlock(&mu);
    return gen;
}

static void json_text(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20)
            fprintf(out, "\\u%04x", c);
        else
            fputc(c, out);
    }
    fputc('"', out);
}

/* ts is in microseconds of the story since the recording began (the wall
 * clock's divided by the time scale): a viewer then shows the article's
 * seconds, whatever scale the server played them at. */
static void common_fields(FILE *out, const struct event *e, pid_t pid)
{
    fprintf(out, "\"ts\":%.3f,\"pid\":%d,\"tid\":%d", (double)e->ns / 1000.0 / tl_time_scale(),
            (int)pid, (int)e->tid);
}

void tl_trace_end(FILE *out, const char *process)
{
    pthread_mutex_lock(&mu);
    atomic_store(&on, false);
    struct event *ev = events;
    size_t n = nevents;
    long lost = dropped;
    int64_t span = tl_now_ns() - began;
    events = NULL;
    capacity = 0;
    pthread_mutex_unlock(&mu);
    if (!out) {
        free(ev);
        return;
    }
    pid_t pid = getpid();
    fprintf(out, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"process\":");
    json_text(out, process ? process : "");
    fprintf(out, ",\"pid\":%d,\"seconds\":%.3f,\"time_scale\":%g,\"story_seconds\":%.3f,"
                 "\"ts\":\"microseconds of the story since the recording began: the wall "
                 "clock's divided by time_scale\",\"events\":%zu,\"dropped\":%ld},\n",
            (int)pid, (double)span / 1e9, tl_time_scale(), (double)span / 1e9 / tl_time_scale(), n,
            lost);
    fprintf(out, "\"traceEvents\":[\n");
    fprintf(out, "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":%d,\"tid\":0,\"args\":{\"name\":",
            (int)pid);
    json_text(out, process ? process : "");
    fprintf(out, "}}");
    for (size_t i = 0; i < n; i++) {
        const struct event *e = &ev[i];
        fputs(",\n", out);
        switch (e->kind) {
        case STARTED:
        case FOUND: {
            fprintf(out, "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":",
                    (int)pid, (int)e->tid);
            json_text(out, e->name);
            fprintf(out, "}},\n{\"ph\":\"i\",\"s\":\"t\",\"name\":\"%s\",",
                    e->kind == STARTED ? "start" : "alive at start");
            common_fields(out, e, pid);
            fprintf(out, ",\"args\":{\"thread\":");
            json_text(out, e->name);
            char site[256];
            snprintf(site, sizeof site, "%s at %s:%d", e->what ? e->what : "?",
                     (e->file ? e->file : ""), e->line);
            fprintf(out, ",\"created by\":");
            json_text(out, site);
            fputs("}}", out);
            break;
        }
        case BLOCKED: {
            char at[256];
            snprintf(at, sizeof at, "%s:%d", (e->file ? e->file : ""), e->line);
            fprintf(out, "{\"ph\":\"B\",\"name\":");
            json_text(out, e->what);
            fputc(',', out);
            common_fields(out, e, pid);
            fprintf(out, ",\"args\":{\"at\":");
            json_text(out, at);
            fputs("}}", out);
            break;
        }
        case WOKE:
            fprintf(out, "{\"ph\":\"E\",");
            common_fields(out, e, pid);
            fputc('}', out);
            break;
        case EXITED:
            fprintf(out, "{\"ph\":\"i\",\"s\":\"t\",\"name\":\"exit\",");
            common_fields(out, e, pid);
            fputc('}', out);
            break;
        }
    }
    fprintf(out, "\n]}\n");
    free(ev);
}
