/* stage: what demo, incident, trace and the dashboard share (stage.h). */
#include "stage.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "census.h"
#include "clock.h"
#include "proc.h"

const char *const stage_kinds[2] = { "leaky", "fixed" };

bool stage_chapter_dir(int nn, char *dir, size_t size)
{
    static const char *const dirs[] = { "01-fire-and-forget", "02-channel-block",
                                        "03-background-ctx", "04-timeout-fix",
                                        "05-fanout-cancel", "06-errgroup" };
    if (nn < 1 || nn > 6)
        return false;
    snprintf(dir, size, "%s", dirs[nn - 1]);
    return true;
}

void meter_read(struct meter *m, const pid_t pid[2], struct reading *r)
{
    int64_t at = now_ms();
    for (int k = 0; k < 2; k++) {
        long cpu = proc_cpu_ms(pid[k]);
        bool same = pid[k] == m->pid[k] && m->cpu_ms[k] >= 0 && cpu >= 0 && at > m->at;
        r->cpu[k] = same ? 100.0 * (double)(cpu - m->cpu_ms[k]) / (double)(at - m->at) : 0;
        r->threads[k] = census_threads_of(pid[k]);
        r->rss_kb[k] = proc_rss_kb(pid[k]);
        m->pid[k] = pid[k];
        m->cpu_ms[k] = cpu;
    }
    m->at = at;
}

struct side {
    struct burst b;
    struct burst_result r;
};

static void *run_side(void *arg)
{
    struct side *s = arg;
    if (burst_run(&s->b, &s->r) != 0) {
        memset(&s->r, 0, sizeof s->r);
        s->r.failed = s->b.requests;
    }
    return NULL;
}

void stage_both(void *(*fn)(void *), void *leaky, void *fixed)
{
    /* A plain thread for the leaky side: the work is the tool's, not a go()
     * of the story's; if none can start, the two run one after the other. */
    pthread_t t;
    bool started = pthread_create(&t, NULL, fn, leaky) == 0;
    if (!started)
        fn(leaky);
    fn(fixed);
    if (started)
        pthread_join(t, NULL);
}

void stage_load_both(const struct burst *shape, const int port[2], struct burst_result got[2])
{
    struct side side[2];
    for (int k = 0; k < 2; k++) {
        side[k] = (struct side){ .b = *shape };
        side[k].b.port = port[k];
    }
    stage_both(run_side, &side[0], &side[1]);
    got[0] = side[0].r;
    got[1] = side[1].r;
}

/* What a status means in the article's story, for the people watching. */
static const char *meaning(int status)
{
    switch (status) {
    case 200: return "answered";
    case 500: return "process's error: 5 s of work under a 3 s deadline";
    case 503: return "refused: no room for another request";
    case 504: return "timeout: the handler's 2 s ran out";
    default: return "";
    }
}

void stage_describe(char *out, size_t size, const char *kind, const struct burst_result *r)
{
    size_t n = (size_t)snprintf(out, size, "%s:", kind);
    const char *sep = "";
    for (int st = 0; st < BURST_MAX_STATUS && n < size; st++)
        if (r->status[st]) {
            n += (size_t)snprintf(out + n, size - n, "%s %d ×%d", sep, st, r->status[st]);
            sep = ",";
        }
    if (r->hung_up && n < size) {
        n += (size_t)snprintf(out + n, size - n, "%s %d hung up", sep, r->hung_up);
        sep = ",";
    }
    if (r->failed && n < size)
        snprintf(out + n, size - n, "%s %d failed", sep, r->failed);
}

void stage_meanings(char *out, size_t size, const struct burst_result got[2])
{
    size_t n = 0;
    out[0] = '\0';
    for (int st = 0; st < BURST_MAX_STATUS && n < size; st++)
        if ((got[0].status[st] || got[1].status[st]) && meaning(st)[0])
            n += (size_t)snprintf(out + n, size - n, "%s%d: %s", n ? "; " : " (", st,
                                  meaning(st));
    if (n && n < size)
        snprintf(out + n, size - n, ")");
}
