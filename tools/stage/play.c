/* play: a chapter's leaky and fixed servers side by side, the story played
 * on both (./lab demo, ./lab incident, ./lab trace).
 *
 *   demo      the article's burst: N clients that hang up after 1 s, both
 *             kernel thread counts over 13 s of the story, as bars and as
 *             a picture
 *   incident  section 七: sustained load on chapter 05, the fixed server
 *             with a limit on requests in flight; threads, CPU and memory
 *   trace     /debug/trace recorded on both during a small burst, and each
 *             thread's life drawn as lanes
 *
 * Every side's numbers come from the kernel (/proc), read by stage.c, as the
 * dashboard reads them.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "flags.h"
#include "proc.h"
#include "stage.h"
#include "svg.h"

/* %s: the command as the user typed it, ./lab or build/play */
static const char usage_text[] =
    "usage: %s demo [NN] [--time-scale F] [-n N] [--svg FILE] [--build DIR]\n"
    "       %s incident [--time-scale F] [--svg FILE] [--build DIR]\n"
    "       %s trace [NN] [--time-scale F] [-n N] [--svg FILE] [--build DIR]\n"
    "\n"
    "  demo      chapter NN's (default 01) two servers under the same burst of N\n"
    "            requests (default 100, at most 2000) whose clients hang up after\n"
    "            1 s; both thread counts over 13 s of the story, played at time\n"
    "            scale F (default 0.5); the picture to FILE (default DIR/demo-NN.svg)\n"
    "  incident  the article's section 七 on chapter 05: 20 requests a second for\n"
    "            100 s of the story at both, the fixed one limited to 50 in flight;\n"
    "            F at most 1 (default 0.1); FILE default DIR/incident.svg\n"
    "  trace     /debug/trace on chapter NN's (default 02) two servers while N\n"
    "            clients (default 10, at most 50) hang up after 1 s; F at most 4\n"
    "            (default 0.2); the lanes in FILE (default DIR/trace-NN.svg), the\n"
    "            recordings beside it (FILE's name, then -leaky.json, -fixed.json)\n"
    "  --build DIR  where the chapters' servers are built (default build)\n";

struct play {
    const char *build, *svg;
    double scale;
    long requests;
    int nn;
    char dir[64];
    struct child srv[2];
    int port[2];
    pid_t pid[2];
};

/* ---- the two servers ---- */

static void start_pair(struct play *p, const char *flag, const char *value)
{
    for (int k = 0; k < 2; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s/%s", p->build, p->dir, stage_kinds[k]);
        /* the flag is the fixed server's alone: the incident's limit */
        if (access(path, X_OK) != 0) {
            fprintf(stderr, "play: no server at %s (is it built? ./lab builds it)\n", path);
            servers_stop_all();
            exit(1);
        }
        if (server_spawn(&p->srv[k], path, p->scale, k ? flag : NULL, k ? value : NULL) != 0) {
            fprintf(stderr, "play: %s did not start (%s): %s\n", path,
                    server_alive(&p->srv[k]) ? "no listening line in 10 s"
                                             : server_exit_text(&p->srv[k]),
                    server_stderr(&p->srv[k]));
            servers_stop_all();
            exit(1);
        }
        p->port[k] = p->srv[k].port;
        p->pid[k] = p->srv[k].pid;
    }
}

/* Stops both; with tell, prints what each said of its threads as it
 * stopped: the shutdown line, and under "still running:" the dump that says
 * which. */
static void stop_pair(struct play *p, bool tell)
{
    kill(p->pid[0], SIGINT);
    kill(p->pid[1], SIGINT);
    for (int k = 0; k < 2; k++) {
        server_stop(&p->srv[k], 0, 15000);
        if (!tell) {
            server_cleanup(&p->srv[k]);
            continue;
        }
        printf("%s at exit:\n", stage_kinds[k]);
        const char *said = strstr(server_stderr(&p->srv[k]), "shutdown: ");
        if (!said)
            printf("    (it said nothing of its threads: %s)\n", server_exit_text(&p->srv[k]));
        for (const char *line = said; line && *line;) {
            size_t len = strcspn(line, "\n");
            if (strncmp(line, "shutdown: ", 10) == 0)
                line += 10, len -= 10;
            if (strspn(line, " ") < len)
                printf("    %.*s\n", (int)len, line);
            line += len + (line[len] == '\n');
        }
        server_cleanup(&p->srv[k]);
    }
}

/* ---- the load, beside the timeline ---- */

struct load {
    struct burst shape;
    int port[2];
    struct burst_result got[2];
    pthread_t thread;
};

static void *run_load(void *arg)
{
    struct load *l = arg;
    stage_load_both(&l->shape, l->port, l->got);
    return NULL;
}

static void load_start(struct load *l)
{
    if (pthread_create(&l->thread, NULL, run_load, l) != 0) {
        perror("play: cannot start the load");
        servers_stop_all();
        exit(1);
    }
}

static void load_report(struct load *l)
{
    pthread_join(l->thread, NULL);
    char text[2][400], said[600];
    for (int k = 0; k < 2; k++) {
        stage_describe(text[k], sizeof text[k], stage_kinds[k], &l->got[k]);
        printf("%s\n", text[k]);
    }
    stage_meanings(said, sizeof said, l->got);
    if (said[0])
        printf("%s\n", said + 1);
}

/* ---- the timeline ---- */

/* One # for every per threads; past 30, a + says the bar goes on. */
static void bar(char *out, int count, int per, int width)
{
    int n = (count + per - 1) / per, i = 0;
    for (; i < n && i < width - 1; i++)
        out[i] = '#';
    if (n >= width)
        out[i++] = '+';
    out[i] = '\0';
}

/* Threads per # (a round number) so that peak fits 30 columns. */
static int per_hash(int peak)
{
    static const int steps[] = { 1, 2, 5, 10, 15, 20, 25, 50, 100, 200, 250, 500, 1000, 2000,
                                 5000, 10000 };
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++)
        if ((peak + steps[i] - 1) / steps[i] <= 30)
            return steps[i];
    return 10000;
}

/* Every step seconds of the story until end, both kernel thread counts as a
 * row with bars (with CPU and RSS too if resources), and as points. Returns
 * how many points. */
static int timeline(struct play *p, double step, double end, int per, int resources,
                    struct point *pt)
{
    if (resources)
        printf("  %8s  %6s %-21s %4s %6s   %6s %-21s %4s %6s\n", "story", "leaky", "", "CPU",
               "RSS", "fixed", "", "CPU", "RSS");
    else
        printf("  %8s  %6s %-31s  %6s\n", "story", "leaky", "", "fixed");
    struct meter m = { { 0, 0 }, { -1, -1 }, 0 };
    struct reading r;
    meter_read(&m, p->pid, &r);
    int64_t start = now_ms();
    int n = 0;
    for (double t = 0; t <= end + 1e-9; t += step, n++) {
        /* pacing the rows to the story's clock, not waiting for anything */
        int64_t due = start + (int64_t)(t * p->scale * 1000);
        for (int64_t left; (left = due - now_ms()) > 0;)
            nanosleep(&(struct timespec){ left / 1000, (left % 1000) * 1000000L }, NULL);
        meter_read(&m, p->pid, &r);
        pt[n] = (struct point){ t, { r.threads[0], r.threads[1] } };
        char b[2][32];
        if (resources) {
            for (int k = 0; k < 2; k++)
                bar(b[k], r.threads[k], per, 21);
            printf("  %7.1fs  %6d %-21s %3.0f%% %3ldMiB   %6d %-21s %3.0f%% %3ldMiB\n", t,
                   r.threads[0], b[0], r.cpu[0], r.rss_kb[0] / 1024, r.threads[1], b[1],
                   r.cpu[1], r.rss_kb[1] / 1024);
        } else {
            for (int k = 0; k < 2; k++)
                bar(b[k], r.threads[k], per, 31);
            printf("  %7.1fs  %6d %-31s  %6d %s\n", t, r.threads[0], b[0], r.threads[1], b[1]);
        }
        fflush(stdout);
    }
    return n;
}

/* Returns 0, or 1 if the picture could not be written (said on stderr). */
static int draw(const char *path, const char *title, const struct point *pt, int n,
                const struct mark *marks, int nmarks)
{
    FILE *out = fopen(path, "w");
    if (out)
        svg_timeline(out, title, pt, n, marks, nmarks);
    if (!out || fclose(out) != 0) {
        fprintf(stderr, "play: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    printf("picture: %s\n", path);
    return 0;
}

/* ---- the three plays ---- */

static int demo(struct play *p)
{
    start_pair(p, NULL, NULL);
    printf("%s: leaky on port %d, fixed on port %d, time scale %g\n", p->dir, p->port[0],
           p->port[1], p->scale);
    printf("The same burst at both: %ld requests at once; each client hangs up after 1 s.\n",
           p->requests);
    /* The peak to expect: a request's handler and its workers (three in 05
     * and 06, one elsewhere), and the loop thread. */
    int per = per_hash((int)((p->nn >= 5 ? 4 : 2) * p->requests + 1));
    printf("Threads in each server, counted by the kernel (# = %d threads):\n\n", per);
    fflush(stdout);
    struct load l = { .shape = { .host = "127.0.0.1", .path = "/test",
                                 .requests = (int)p->requests,
                                 .concurrency = (int)p->requests, .hangup_ms = seconds(1),
                                 .timeout_ms = 30000 } };
    memcpy(l.port, p->port, sizeof l.port);
    load_start(&l);
    struct point pt[32];
    int n = timeline(p, 0.5, 13, per, 0, pt);
    printf("\n");
    load_report(&l);
    stop_pair(p, true);
    char title[160];
    snprintf(title, sizeof title, "%s: %ld requests, clients hang up after 1 s", p->dir,
             p->requests);
    const struct mark marks[] = { { 0, "burst" }, { 1, "clients hang up" } };
    int status = draw(p->svg, title, pt, n, marks, 2);
    printf("\nRead %s/README.md, then: diff -u %s/leaky.c %s/fixed.c\n", p->dir, p->dir, p->dir);
    return status;
}

/* The status of an HTTP reply's text, or 0 if it is none. */
static int status_of(const char *reply)
{
    return strncmp(reply, "HTTP/1.", 7) == 0 ? atoi(reply + 9) : 0;
}

/* GET path of a server: its body into a fresh string, or NULL if the
 * answer is not a 200 (*status says what it was: 0 if none came). */
static char *fetch(int port, const char *path, int64_t timeout_ms, int *status)
{
    char request[256];
    snprintf(request, sizeof request, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    *status = 0;
    int fd = raw_send(port, request);
    if (fd < 0)
        return NULL;
    size_t size = 8 << 20;
    char *text = malloc(size);
    if (text)
        read_until(fd, text, size, 0, deadline_after(timeout_ms));
    close(fd);
    if (text)
        *status = status_of(text);
    char *body = text && *status == 200 ? strstr(text, "\r\n\r\n") : NULL;
    char *copy = body ? strdup(body + 4) : NULL;
    free(text);
    return copy;
}

static void print_dump(const char *whose, int port)
{
    printf("%s\n", whose);
    int status;
    char *dump = fetch(port, "/debug/threads", 5000, &status);
    for (const char *line = dump ? dump : "(no answer)\n"; *line;) {
        size_t len = strcspn(line, "\n");
        printf("    %.*s\n", (int)len, line);
        line += len + (line[len] == '\n');
    }
    free(dump);
}

static int incident(struct play *p)
{
    enum { RATE = 20, SECONDS = 100, LIMIT = 50, REQUESTS = RATE * SECONDS };
    start_pair(p, "--max-inflight", "50");
    int per = per_hash(3 * 3 * REQUESTS / 2); /* three threads a request, 20 columns */
    printf("The article's section 七, replayed on %s (time scale %g).\n"
           "Symptom in the article: goroutines 2k -> 200k, CPU and memory up, pprof blocked on\n"
           "channel send. Cause: a downstream that stalls (here every call takes 5 s, the\n"
           "handler allows 3 s), workers that ignore ctx.Done(). Load: %d requests a\n"
           "second for %d s of the story (%d requests); clients wait for their answer.\n"
           "  leaky: the leaky server, no limit\n"
           "  fixed: the fixed server with --max-inflight %d (限流: 503 past %d requests in "
           "flight)\n"
           "Threads in each server, counted by the kernel (# = %d threads), and each\n"
           "server's CPU (%% of one CPU) and resident memory: the article's 2k -> 200k,\n"
           "CPU 飙升 and 内存上涨.\n\n",
           p->dir, p->scale, RATE, SECONDS, REQUESTS, LIMIT, LIMIT, per);
    fflush(stdout);
    struct load l = { .shape = { .host = "127.0.0.1", .path = "/test", .requests = REQUESTS,
                                 .concurrency = 100000, .rate = RATE / p->scale,
                                 .hangup_ms = -1, .timeout_ms = 60000 } };
    memcpy(l.port, p->port, sizeof l.port);
    load_start(&l);
    struct point pt[32];
    int n = timeline(p, 5, SECONDS + 10, per, 1, pt);
    printf("\n");
    printf("Replies:\n");
    load_report(&l);
    printf("  Every downstream call takes 5 s and the handler allows 3 s, so no request\n"
           "  can succeed: the fixed side's 500s come at 3 s with every worker stopped,\n"
           "  its 503s at once past %d in flight. Errors, but bounded ones: nothing is\n"
           "  left behind.\n\n", LIMIT);
    print_dump("Where the leaky server's threads are (its /debug/threads):", p->port[0]);
    printf("\n");
    print_dump("And the fixed server's:", p->port[1]);
    stop_pair(p, false);
    char title[160];
    snprintf(title, sizeof title, "Incident replay, %s: %d requests/s; fixed has a limit",
             p->dir, RATE);
    const struct mark marks[] = { { 0, "load starts" }, { SECONDS, "load ends" } };
    printf("\n");
    int status = draw(p->svg, title, pt, n, marks, 2);
    printf("The fix (article): every goroutine watches ctx; every external call has a "
           "timeout; 限流.\n");
    return status;
}

struct recording {
    int port;
    char path[64];
    char *json;
    pthread_t thread;
};

/* A 409 is play's own look (recording(), below) holding the server for a
 * millisecond: ask again. */
static void *record(void *arg)
{
    struct recording *r = arg;
    int status = 409;
    for (int64_t deadline = deadline_after(5000); status == 409 && now_ms() < deadline;)
        r->json = fetch(r->port, r->path, 60000, &status);
    return NULL;
}

/* Whether the server records already: a second recording is refused 409.
 * If it was not, this look records for a millisecond itself, and the real
 * recording, refused meanwhile, asks again (record, above). */
static bool recording(int port)
{
    static const char ask[] = "GET /debug/trace?seconds=0.001 HTTP/1.0\r\nHost: x\r\n\r\n";
    char reply[256];
    raw_exchange(port, ask, sizeof ask - 1, reply, sizeof reply);
    return status_of(reply) == 409;
}

static int save(const char *path, const char *text)
{
    FILE *out = fopen(path, "w");
    if (!out || fputs(text, out) < 0 || fclose(out) != 0) {
        fprintf(stderr, "play: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int trace(struct play *p)
{
    start_pair(p, NULL, NULL);
    double seconds = 13 * p->scale + 0.3;
    printf("%s: recording /debug/trace on both servers for %.1f s of the story (%.2f s),\n"
           "while %ld clients each send one request and hang up after 1 s.\n", p->dir,
           seconds / p->scale, seconds, p->requests);
    fflush(stdout);
    struct recording rec[2];
    for (int k = 0; k < 2; k++) {
        rec[k] = (struct recording){ .port = p->port[k] };
        snprintf(rec[k].path, sizeof rec[k].path, "/debug/trace?seconds=%.2f", seconds);
        if (pthread_create(&rec[k].thread, NULL, record, &rec[k]) != 0) {
            perror("play: cannot start the recording");
            servers_stop_all();
            exit(1);
        }
    }
    /* The load waits until both record: a fixed server's threads live
     * under a millisecond, and would come and go before a late recording. */
    for (int k = 0; k < 2; k++) {
        int64_t deadline = deadline_after(5000);
        while (!recording(p->port[k]) && now_ms() < deadline)
            ; /* each look is a round trip to the server: no spin without a pause */
    }
    struct burst shape = { .host = "127.0.0.1", .path = "/test", .requests = (int)p->requests,
                           .concurrency = (int)p->requests, .hangup_ms = seconds(1),
                           .timeout_ms = 30000 };
    struct burst_result got[2];
    stage_load_both(&shape, p->port, got);
    for (int k = 0; k < 2; k++)
        pthread_join(rec[k].thread, NULL);
    servers_stop_all();
    int status = 0;
    /* the recordings beside the picture: trace-02.svg, trace-02-leaky.json */
    char path[2][1100];
    size_t stem = strlen(p->svg);
    if (stem > 4 && strcmp(p->svg + stem - 4, ".svg") == 0)
        stem -= 4;
    for (int k = 0; k < 2; k++) {
        snprintf(path[k], sizeof path[k], "%.*s-%s.json", (int)stem, p->svg, stage_kinds[k]);
        if (!rec[k].json) {
            fprintf(stderr, "play: no trace from the %s server\n", stage_kinds[k]);
            status = 1;
        } else if (save(path[k], rec[k].json) != 0) {
            status = 1;
        }
    }
    char title[160];
    snprintf(title, sizeof title, "%s: each thread's life, leaky above, fixed below", p->dir);
    const char *const json[2] = { rec[0].json, rec[1].json };
    char *text = NULL;
    size_t len = 0;
    FILE *mem = status ? NULL : open_memstream(&text, &len);
    if (mem && svg_trace(mem, title, json) != 0) {
        fprintf(stderr, "play: the recordings are no traces: see %s\n", path[0]);
        status = 1;
    }
    if (mem)
        fclose(mem);
    if (!status && save(p->svg, text) == 0) {
        printf("picture: %s (open it in any browser; it needs no network)\n", p->svg);
        printf("traces: %s, %s (for\n        https://ui.perfetto.dev, which needs the "
               "network)\n", path[0], path[1]);
    } else {
        status = 1;
    }
    free(text);
    free(rec[0].json);
    free(rec[1].json);
    return status;
}

/* ---- the command line ---- */

int main(int argc, char **argv)
{
    /* ./lab runs it as "./lab" (exec -a): its messages then name what the
     * learner typed */
    size_t len = strlen(argv[0]);
    const char *me = len >= 3 && strcmp(argv[0] + len - 3, "lab") == 0 ? "./lab" : "build/play";
    char usage[sizeof usage_text + 64], program[64];
    snprintf(usage, sizeof usage, usage_text, me, me, me);
    if (argc < 2)
        flag_usage_error(me, usage, "which play? demo, incident or trace", NULL);
    const char *what = argv[1];
    struct play p = { .build = "build", .scale = 0.5, .requests = 100, .nn = 1 };
    double max_scale = 1e6;
    long max_requests = 2000;
    if (strcmp(what, "incident") == 0) {
        p.scale = 0.1, max_scale = 1, p.nn = 5;
    } else if (strcmp(what, "trace") == 0) {
        p.scale = 0.2, max_scale = 4, p.requests = 10, max_requests = 50, p.nn = 2;
    } else if (strcmp(what, "--help") == 0 || strcmp(what, "-h") == 0) {
        fputs(usage, stdout);
        return 0;
    } else if (strcmp(what, "demo") != 0) {
        flag_usage_error(me, usage, "no such play", what);
    }
    snprintf(program, sizeof program, "%s %s", me, what);
    argv[1] = program;
    argv++, argc--;
    if (argc > 1 && argv[1][0] != '-' && strcmp(what, "incident") != 0) {
        long nn;
        if (strlen(argv[1]) != 2 || !flag_int(argv[1], 1, 6, &nn))
            flag_usage_error(program, usage, "chapters are 01 to 06", argv[1]);
        p.nn = (int)nn;
        argv[1] = program;
        argv++, argc--;
    }
    const struct flag flags[] = {
        { "--time-scale", FLAG_POSITIVE, &p.scale, 0, max_scale, NULL, NULL },
        { "--svg", FLAG_TEXT, &p.svg, 0, 0, "a file", NULL },
        { "--build", FLAG_TEXT, &p.build, 0, 0, "a folder", NULL },
        { "-n", FLAG_INT, &p.requests, 1, max_requests, NULL, NULL },
    };
    for (int i = 1; i < argc; i++) /* a chapter after a flag's value: say where it goes */
        if (strlen(argv[i]) == 2 && argv[i][0] >= '0' && argv[i][0] <= '9' &&
            (i == 1 || argv[i - 1][0] != '-'))
            flag_usage_error(program, usage,
                             strcmp(what, "incident") ? "the chapter goes first, before any flag"
                                                      : "the incident is chapter 05's: it takes no chapter",
                             argv[i]);
    /* the incident's load is the story's own: it takes no -n */
    flags_parse(argc, argv, flags, strcmp(what, "incident") == 0 ? 3 : 4, usage);
    if (getenv("LAB_ARGS_ONLY")) /* ./lab asks before it builds the rest */
        return 0;
    stage_chapter_dir(p.nn, p.dir, sizeof p.dir);
    char svg[1100];
    if (!p.svg) {
        if (strcmp(what, "incident") == 0)
            snprintf(svg, sizeof svg, "%s/incident.svg", p.build);
        else
            snprintf(svg, sizeof svg, "%s/%s-%02d.svg", p.build, what, p.nn);
        p.svg = svg;
    }
    time_scale_set(p.scale);
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(what, "demo") == 0)
        return demo(&p);
    if (strcmp(what, "incident") == 0)
        return incident(&p);
    return trace(&p);
}
