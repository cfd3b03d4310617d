/* load: fire a burst of requests at a chapter's server and watch its threads.
 *
 *     build/load --port 8080 -n 100 -c 100 --hangup 1 --watch
 *
 * sends 100 requests, all at once, whose clients hang up after 1 s, prints
 * the replies by status, and samples the server's /debug/threads during the
 * burst and for 12 s after it. Durations are seconds of the story, times
 * --time-scale, as in the servers (all but --timeout, a safety net).
 */
#include <stdio.h>
#include <string.h>

#include "burst.h"
#include "clock.h"
#include "flags.h"

static const char usage[] =
    "usage: load [--host ADDR] [--port PORT] [--path PATH] [-n N] [-c C] [--rate R]\n"
    "            [--hangup S] [--timeout S] [--time-scale F] [--watch]\n"
    "            [--sample S] [--watch-after S]\n"
    "\n"
    "Fires N GET requests, C at a time, at http://ADDR:PORT/PATH.\n"
    "  --host ADDR       server address (default 127.0.0.1)\n"
    "  --port PORT       server port (default 8080)\n"
    "  --path PATH       path to request (default /test)\n"
    "  -n N              requests in all (default 100)\n"
    "  -c C              requests in flight at once (default 100)\n"
    "  --rate R          start R requests per second of the story instead of all at\n"
    "                    once: sustained load (default: all at once)\n"
    "  --hangup S        each client hangs up S seconds after it sent; 0 waits\n"
    "                    for every reply (default 1)\n"
    "  --timeout S       a request with no reply after S real seconds fails\n"
    "                    (default 30; not scaled)\n"
    "  --time-scale F    multiplies every duration, as the servers' flag does (default 1)\n"
    "  --watch           sample the server's /debug/threads during and after the burst\n"
    "  --sample S        seconds between samples (default 0.5)\n"
    "  --watch-after S   seconds to go on sampling after the burst (default 12)\n"
    "Other durations are seconds of the story, times --time-scale.\n";

static void print_sample(int64_t t_ms, int threads, void *arg)
{
    (void)arg;
    if (threads < 0) {
        printf("  %+7.2fs  threads ?  (no answer from /debug/threads)\n", t_ms / 1000.0);
    } else {
        printf("  %+7.2fs  threads %5d  ", t_ms / 1000.0, threads);
        for (int i = 0; i < threads / 10 && i < 60; i++)
            fputs("#", stdout);
        putchar('\n');
    }
    fflush(stdout);
}

static bool is_path(const char *value)
{
    return value[0] == '/';
}

int main(int argc, char **argv)
{
    long port = 8080, n = 100, c = 100;
    double hangup = 1, timeout = 30, scale = 1, sample = 0.5, watch_after = 12, rate = 0;
    bool watch = false;
    const char *host = "127.0.0.1", *path = "/test";
    const struct flag flags[] = {
        { "--host", FLAG_TEXT, &host, 0, 0, "a host", NULL },
        { "--path", FLAG_TEXT, &path, 0, 0, "a path that starts with /", is_path },
        { "--port", FLAG_INT, &port, 1, 65535, NULL, NULL },
        { "-n", FLAG_INT, &n, 0, 1000000, NULL, NULL },
        { "-c", FLAG_INT, &c, 1, 100000, NULL, NULL },
        { "--rate", FLAG_POSITIVE, &rate, 0, 1e6, NULL, NULL },
        { "--hangup", FLAG_NUMBER, &hangup, 0, 1e6, NULL, NULL },
        { "--timeout", FLAG_POSITIVE, &timeout, 0, 1e6, NULL, NULL },
        { "--time-scale", FLAG_POSITIVE, &scale, 0, 1e6, NULL, NULL },
        { "--sample", FLAG_POSITIVE, &sample, 0, 1e6, NULL, NULL },
        { "--watch-after", FLAG_NUMBER, &watch_after, 0, 1e6, NULL, NULL },
        { "--watch", FLAG_SWITCH, &watch, 0, 0, NULL, NULL },
    };
    argv[0] = "load";
    flags_parse(argc, argv, flags, (int)(sizeof flags / sizeof flags[0]), usage);
    time_scale_set(scale);
    struct burst b = {
        .host = host, .port = (int)port, .path = path,
        .requests = (int)n, .concurrency = (int)c, .rate = rate / scale,
        .hangup_ms = hangup > 0 ? seconds(hangup) : -1,
        .timeout_ms = (int64_t)(timeout * 1000),
        .sample_ms = watch ? seconds(sample) : 0,
        .watch_after_ms = watch ? seconds(watch_after) : 0,
        .on_sample = print_sample,
    };
    printf("burst: %ld requests to http://%s:%ld%s, %ld at a time", n, host, port, path, c);
    if (rate > 0)
        printf(", %g a second of the story", rate);
    if (b.hangup_ms >= 0)
        printf(", clients hang up after %g s (%lld ms)", hangup, (long long)b.hangup_ms);
    printf("\n");
    if (watch)
        printf("threads over time, from /debug/threads (# = 10 threads):\n");
    fflush(stdout);
    struct burst_result r;
    if (burst_run(&b, &r) < 0) {
        perror("load");
        return 1;
    }
    printf("replies:\n");
    for (int s = 0; s < BURST_MAX_STATUS; s++)
        if (r.status[s])
            printf("  %d: %d\n", s, r.status[s]);
    printf("  hung up before a reply: %d\n  failed: %d\n", r.hung_up, r.failed);
    printf("the burst took %.2f s\n", r.elapsed_ms / 1000.0);
    return r.failed ? 1 : 0;
}
