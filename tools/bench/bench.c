/* bench: what a leaked thread costs, how fast cancellation reaches every
 * thread, and what the primitives cost. Run by ./lab bench from an optimised
 * build; prints a table and writes CSV (section,name,value,unit).
 *
 *     bench BUILD_DIR CSV_FILE [floor|server]
 *
 * With "floor" or "server", only that section runs.
 *
 * Numbers, not assertions: nothing here passes or fails, and no ctest test
 * runs it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <gnu/libc-version.h>
#include <malloc.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "burst.h"
#include "floor.h"
#include "keepalive.h"
#include "census.h"
#include "chan.h"
#include "clock.h"
#include "context.h"
#include "go.h"
#include "proc.h"
#include "trace.h"
#include "census_internal.h" /* the census's hooks into the trace, timed */

static FILE *csv;

static void row(const char *section, const char *name, double value, const char *unit)
{
    printf("  %-58s %12.2f %s\n", name, value, unit);
    fprintf(csv, "%s,%s,%.3f,%s\n", section, name, value, unit);
    fflush(stdout);
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

FILE *bench_csv(void)
{
    return csv;
}

void bench_row(const char *section, const char *name, double value, const char *unit)
{
    row(section, name, value, unit);
}

struct spread bench_spread(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, by_value);
    return (struct spread){ v[n / 2], v[0], v[n - 1] };
}

void bench_row_spread(const char *section, const char *name, struct spread s, const char *unit)
{
    printf("  %-58s %12.2f %s [%.2f-%.2f]\n", name, s.median, unit, s.min, s.max);
    fprintf(csv, "%s,%s,%.3f,%s\n", section, name, s.median, unit);
    fflush(stdout);
}

/* Median and p99 of n samples (sorted in place). */
static void quantiles(double *v, int n, double *median, double *p99)
{
    qsort(v, (size_t)n, sizeof *v, by_value);
    *median = v[n / 2];
    int i = (int)(0.99 * (n - 1) + 0.5);
    *p99 = v[i];
}

/* ---- cancellation: from ctx_cancel to the last thread's exit ---- */

enum wait_kind { IN_CHAN_RECV, IN_SELECT, IN_POLL };

struct fanout {
    ctx_t *ctx;
    chan_t *other;
    int fd;
    enum wait_kind kind;
    atomic_int waiting;
    atomic_llong last_exit;
};

static void waiter(void *arg)
{
    struct fanout *f = arg;
    atomic_fetch_add(&f->waiting, 1);
    if (f->kind == IN_CHAN_RECV) {
        chan_recv(ctx_done(f->ctx), NULL);
    } else if (f->kind == IN_SELECT) {
        struct chan_case cases[] = { chan_recv_case(f->other, NULL),
                                     chan_recv_case(ctx_done(f->ctx), NULL) };
        chan_select(cases, 2, -1);
    } else {
        ctx_poll(f->ctx, f->fd, POLLIN, -1);
    }
    long long t = now_ns(), prev = atomic_load(&f->last_exit);
    while (t > prev && !atomic_compare_exchange_weak(&f->last_exit, &prev, t))
        ;
}

/* One sample: n threads blocked, then cancel; ms until the last returned. */
static double cancel_once(int n, enum wait_kind kind, int fd)
{
    struct fanout f = { .ctx = ctx_with_cancel(ctx_background()),
                        .other = chan_make(1, 0), .fd = fd, .kind = kind };
    for (int i = 0; i < n; i++)
        if (go("waiter", waiter, &f) != 0)
            break;
    while (atomic_load(&f.waiting) < n)
        sched_yield();
    /* Give the last arrivals time to block, not just to start. */
    struct timespec settle = { 0, 2000000 + n * 20000 };
    nanosleep(&settle, NULL);
    int64_t start = now_ns();
    ctx_cancel(f.ctx);
    go_wait_all(-1);
    double ms = (double)(atomic_load(&f.last_exit) - start) / 1e6;
    ctx_release(f.ctx);
    chan_release(f.other);
    return ms;
}

static void bench_cancellation(void)
{
    printf("\ncancellation: ctx_cancel to the last thread's return (median / p99)\n");
    static const char *kinds[] = { "chan_recv", "select", "poll" };
    int sizes[] = { 1, 3, 100, 1000 };
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    for (int k = 0; k < 3; k++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            int n = sizes[s], reps = n >= 1000 ? 10 : n >= 100 ? 30 : 200;
            double v[200];
            for (int r = 0; r < reps; r++)
                v[r] = cancel_once(n, (enum wait_kind)k, sv[0]);
            double median, p99;
            quantiles(v, reps, &median, &p99);
            char name[96];
            snprintf(name, sizeof name, "%d threads in %s: median", n, kinds[k]);
            row("cancel", name, median * 1000, "us");
            snprintf(name, sizeof name, "%d threads in %s: p99", n, kinds[k]);
            row("cancel", name, p99 * 1000, "us");
        }
    }
    close(sv[0]);
    close(sv[1]);
}

/* ---- channels ---- */

struct pingpong {
    chan_t *ping, *pong;
    int rounds;
};

static void ponger(void *arg)
{
    struct pingpong *p = arg;
    int v;
    for (int i = 0; i < p->rounds; i++) {
        chan_recv(p->ping, &v);
        chan_send(p->pong, &v);
    }
}

struct fan_in {
    chan_t *ch[8];
    int k, total;
};

/* The feeder works from its own copy, as a Go closure captures what it
 * does not change by value: read through the pointer on every send, the
 * struct on the selecting thread's stack shared a cache line with the
 * value and the cases that every select writes, and the line went back
 * and forth twice a message, on as many runs as the stack's random
 * placement put them together (select over 2: 110-170 ns/op against
 * 30-60 ns on the others). */
static void round_robin(void *arg)
{
    struct fan_in f = *(struct fan_in *)arg;
    for (int i = 0; i < f.total; i++)
        chan_send(f.ch[i % f.k], &i);
}

double bench_select_cost(int k, int total)
{
    struct fan_in f = { .k = k, .total = total };
    for (int i = 0; i < k; i++)
        f.ch[i] = chan_make(sizeof(int), 64);
    go("round-robin", round_robin, &f);
    int v;
    struct chan_case cases[8];
    for (int i = 0; i < k; i++)
        cases[i] = chan_recv_case(f.ch[i], &v);
    int64_t start = now_ns();
    for (int i = 0; i < total; i++)
        chan_select(cases, k, -1);
    double ns = (double)(now_ns() - start) / total;
    go_wait_all(-1);
    for (int i = 0; i < k; i++)
        chan_release(f.ch[i]);
    return ns;
}

/* A go() thread that blocks and wakes `pairs` times as the primitives do
 * (census_block then census_unblock), timed: the hooks /debug/trace uses. */
struct hooks {
    int pairs;
    double ns; /* per pair */
};

static void block_and_wake(void *arg)
{
    struct hooks *h = arg;
    int64_t start = now_ns();
    for (int i = 0; i < h->pairs; i++) {
        census_block(CENSUS_CHAN_RECV, __FILE__, __LINE__, NULL, 0, -1);
        census_unblock();
    }
    h->ns = (double)(now_ns() - start) / h->pairs;
}

static double hooks_cost(int pairs)
{
    struct hooks h = { .pairs = pairs };
    go("hooks", block_and_wake, &h);
    go_wait_all(-1);
    return h.ns;
}

/* What /debug/trace costs: off, each hook is one relaxed load (the block and
 * wake pair around it is the census's own bookkeeping); on, each event takes
 * a lock and a slot. (A ping-pong row would show it on a primitive, but the
 * machine's wake-up mode moves it far more than tracing does.) */
static void bench_trace(void)
{
    census_start(); /* the census watches from the start, as in a server */
    printf("\ntracing (/debug/trace)\n");
    int64_t t0 = now_ns();
    for (int i = 0; i < 10000000; i++)
        tl_trace_woke(0, 1);
    row("trace", "one hook while tracing is off (what each block and wake adds)",
        (double)(now_ns() - t0) / 10000000, "ns");
    double off = hooks_cost(1000000);
    row("trace", "block + wake as the primitives record them, tracing off", off, "ns/pair");
    trace_begin();
    double on = hooks_cost(500000);
    FILE *null = fopen("/dev/null", "w");
    trace_end(null, "bench");
    if (null)
        fclose(null);
    row("trace", "the same, tracing on", on, "ns/pair");
    row("trace", "cost of one event while tracing (two per pair)", (on - off) / 2, "ns");
}

static void bench_channels(void)
{
    printf("\nchannels\n");
    struct pingpong p = { chan_make(sizeof(int), 0), chan_make(sizeof(int), 0), 100000 };
    go("ponger", ponger, &p);
    int64_t start = now_ns();
    for (int i = 0; i < p.rounds; i++) {
        chan_send(p.ping, &i);
        chan_recv(p.pong, &i);
    }
    row("chan", "unbuffered ping-pong round trip", (double)(now_ns() - start) / p.rounds / 1000,
        "us");
    go_wait_all(-1);
    chan_release(p.ping);
    chan_release(p.pong);
    row("chan", "select over 8 channels, fed by another thread", bench_select_cost(8, 500000),
        "ns/op");
    bench_buffered();
}

/* ---- servers, as processes ---- */

static int start_server(struct child *p, const char *path, double scale, const char *extra)
{
    if (server_spawn(p, path, scale, extra, NULL) == 0)
        return 0;
    server_stop(p, SIGKILL, 1000);
    server_cleanup(p);
    return -1;
}

static void stop_server(struct child *p)
{
    server_stop(p, SIGTERM, 5000);
    server_cleanup(p);
}

/* VmRSS of pid in kB. */
struct peak {
    pid_t pid;
    atomic_int max;
    atomic_bool stop;
};

static void watch_peak(void *arg)
{
    struct peak *p = arg;
    while (!atomic_load(&p->stop)) {
        int n = census_threads_of(p->pid);
        if (n > atomic_load(&p->max))
            atomic_store(&p->max, n);
        usleep(500);
    }
}

static struct burst_result fire(int port, int n, int c, int64_t hangup_ms)
{
    struct burst b = { .host = "127.0.0.1", .port = port, .path = "/test", .requests = n,
                       .concurrency = c, .hangup_ms = hangup_ms, .timeout_ms = 30000 };
    struct burst_result r;
    burst_run(&b, &r);
    return r;
}

/* wrk's figure for the same load, if wrk is installed: a check that the
 * bench's own client is not what sets the pace. */
static double wrk_rate(int port, int connections)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "wrk -t1 -c%d -d3s http://127.0.0.1:%d/test 2>/dev/null | "
             "awk '/Requests\\/sec/ { print $2 }'",
             connections, port);
    FILE *f = popen(cmd, "r");
    double rate = -1;
    if (f && fscanf(f, "%lf", &rate) != 1)
        rate = -1;
    if (f)
        pclose(f);
    return rate;
}

static double bench_server(const char *build, const char *extra, const char *label)
{
    char path[512];
    snprintf(path, sizeof path, "%s/04-timeout-fix/fixed", build);
    struct child p;
    if (start_server(&p, path, 0.000001, extra) < 0)
        return 0;
    struct keepalive_result r;
    keepalive_run(p.port, "/test", 50, 500, &r); /* warm up */
    struct peak pk = { .pid = p.pid };
    go("peak", watch_peak, &pk);
    keepalive_run(p.port, "/test", 50, 3000, &r);
    atomic_store(&pk.stop, true);
    go_wait_all(-1);
    char name[128];
    double rate = r.replies / r.seconds; /* 504s: at this scale the 2 s timer is 2 us */
    snprintf(name, sizeof name, "04 fixed, %s: requests per second", label);
    row("server", name, rate, "req/s");
    snprintf(name, sizeof name, "04 fixed, %s: peak threads", label);
    row("server", name, atomic_load(&pk.max), "threads");
    if (r.errors)
        printf("  (%ld connections failed)\n", r.errors);
    if (system("command -v wrk >/dev/null 2>&1") == 0) {
        double w = wrk_rate(p.port, 50);
        snprintf(name, sizeof name, "04 fixed, %s: wrk -t1 -c50, for comparison", label);
        if (w > 0)
            row("server", name, w, "req/s");
    }
    stop_server(&p);
    return rate;
}

/* From a client's hang-up to the last of its request's threads gone. */
static void bench_hangup(const char *build)
{
    char path[512];
    snprintf(path, sizeof path, "%s/04-timeout-fix/fixed", build);
    struct child p;
    if (start_server(&p, path, 1, NULL) < 0)
        return;
    int base = census_threads_of(p.pid);
    double v[100];
    int reps = 0;
    for (int r = 0; r < 100; r++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)p.port) };
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        connect(fd, (struct sockaddr *)&sa, sizeof sa);
        const char req[] = "GET /test HTTP/1.1\r\nHost: x\r\n\r\n";
        if (write(fd, req, sizeof req - 1) < 0) {
            close(fd);
            break;
        }
        while (census_threads_of(p.pid) < base + 2) /* handler and worker */
            usleep(100);
        int64_t start = now_ns();
        close(fd);
        while (census_threads_of(p.pid) > base)
            ;
        v[reps++] = (double)(now_ns() - start) / 1e6;
    }
    if (reps == 0) {
        stop_server(&p);
        return;
    }
    double median, p99;
    quantiles(v, reps, &median, &p99);
    row("cancel", "client hang-up to last thread gone, 04 fixed: median", median * 1000, "us");
    row("cancel", "client hang-up to last thread gone, 04 fixed: p99", p99 * 1000, "us");
    stop_server(&p);
}

static int settle(pid_t pid, int want)
{
    return census_settle(pid, want, deadline_after(5000));
}

static void bench_leak_cost(const char *build)
{
    char path[512];
    struct child p;
    printf("\nwhat a leak costs\n");
    snprintf(path, sizeof path, "%s/02-channel-block/leaky", build);
    if (start_server(&p, path, 1, NULL) == 0) {
        int t0 = census_threads_of(p.pid);
        long r0 = proc_rss_kb(p.pid);
        fire(p.port, 1000, 100, -1);
        settle(p.pid, t0 + 1000);
        int t1 = census_threads_of(p.pid);
        long r1 = proc_rss_kb(p.pid);
        row("leak", "02 leaky: threads added by 1000 requests", t1 - t0, "threads");
        row("leak", "02 leaky: RSS added per 1000 leaked threads", (r1 - r0) / 1024.0, "MiB");
        stop_server(&p);
    }
    snprintf(path, sizeof path, "%s/04-timeout-fix/fixed", build);
    if (start_server(&p, path, 0.001, NULL) == 0) {
        int t0 = census_threads_of(p.pid);
        long cold = proc_rss_kb(p.pid);
        fire(p.port, 1000, 500, -1);
        settle(p.pid, t0);
        long warm = proc_rss_kb(p.pid);
        struct peak pk = { .pid = p.pid };
        go("peak", watch_peak, &pk);
        fire(p.port, 10000, 500, -1);
        atomic_store(&pk.stop, true);
        go_wait_all(-1);
        settle(p.pid, t0);
        long after = proc_rss_kb(p.pid);
        row("leak", "04 fixed: RSS at start", cold / 1024.0, "MiB");
        row("leak", "04 fixed: RSS after a first 1000 requests (500 at once)", warm / 1024.0,
            "MiB");
        row("leak", "04 fixed: peak threads during 10 000 more (500 at once)",
            atomic_load(&pk.max), "threads");
        row("leak", "04 fixed: RSS after them, threads back to start", after / 1024.0, "MiB");
        stop_server(&p);
    }
}

static void print_machine(void)
{
    struct utsname u;
    uname(&u);
    char model[256] = "?", line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0) {
            snprintf(model, sizeof model, "%s", strchr(line, ':') + 2);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    if (f)
        fclose(f);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    long mem = (long)((long long)sysconf(_SC_PHYS_PAGES) * sysconf(_SC_PAGESIZE) >> 20);
    printf("machine: %s, %ld cpus, %ld MiB, Linux %s, glibc %s\n", model, cpus, mem, u.release,
           gnu_get_libc_version());
    fprintf(csv, "machine,cpu,%ld,\"%s\"\nmachine,memory,%ld,MiB\n", cpus, model, mem);
}

int main(int argc, char **argv)
{
    const char *only = argc == 4 ? argv[3] : NULL;
    if (argc < 3 || argc > 4 ||
        (only && strcmp(only, "floor") && strcmp(only, "server") && strcmp(only, "trace") &&
         strcmp(only, "chan"))) {
        fprintf(stderr, "usage: bench BUILD_DIR CSV_FILE [floor|server|trace|chan]\n");
        return 2;
    }
    if (!(csv = fopen(argv[2], "w"))) {
        perror(argv[2]);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    fprintf(csv, "section,name,value,unit\n");
    print_machine();
    if (!only || strcmp(only, "floor") == 0)
        bench_floor();
    if (only && strcmp(only, "trace") == 0)
        bench_trace();
    if (only && strcmp(only, "chan") == 0)
        bench_channels();
    if (!only) {
        bench_channels();
        bench_trace();
        bench_cancellation();
        bench_hangup(argv[1]);
    }
    if (only && strcmp(only, "server") != 0)
        return fclose(csv), 0;
    printf("\nservers: 04 fixed at a time scale where the work is instant, 50 keep-alive\n"
           "connections from one client thread, as wrk -t1 -c50 (3 s each)\n");
    double threads = bench_server(argv[1], NULL, "a thread per request");
    double loop = bench_server(argv[1], "--no-threads", "answered on the loop, no thread");
    if (loop > 0)
        row("server", "a thread per request / answered on the loop (Go's: 0.27)", threads / loop,
            "x");
    if (!only)
        bench_leak_cost(argv[1]);
    fclose(csv);
    printf("\nCSV: %s\n", argv[2]);
    return 0;
}
