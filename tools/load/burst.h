/* burst: fire N GET requests at a server, C at a time, whose clients hang up
 * after a while: the article's "客户端 1 秒就断开" (the client leaves after 1 s).
 * With a rate, the same requests arrive steadily instead: sustained load.
 * Runs on its own libevent loop with libevent's HTTP client, in the calling
 * thread, and returns when every request has been answered, has failed or has
 * been abandoned.
 *
 * While it runs, and for watch_after_ms after, it can sample the server's
 * /debug/threads every sample_ms and report the thread count it reads there.
 */
#ifndef TESTS_LOAD_BURST_H
#define TESTS_LOAD_BURST_H

#include <stdint.h>

struct burst {
    const char *host;      /* numeric address, "127.0.0.1" */
    int port;
    const char *path;      /* "/test" */
    int requests;          /* N */
    int concurrency;       /* C: requests in flight at once */
    double rate;           /* > 0: start this many requests a second, not all at once */
    int64_t hangup_ms;     /* each client hangs up this long after it sent; -1 never */
    int64_t timeout_ms;    /* a request that has no answer by then fails */
    int64_t sample_ms;     /* 0: no sampling */
    int64_t watch_after_ms;
    /* Called for each sample: milliseconds since the burst began, the count
     * the server reported (-1 if it did not answer). */
    void (*on_sample)(int64_t t_ms, int threads, void *arg);
    void *arg;
};

enum { BURST_MAX_STATUS = 600 };

struct burst_result {
    int status[BURST_MAX_STATUS]; /* replies by HTTP status */
    int hung_up;                   /* abandoned by the client before a reply */
    int failed;                    /* no connection, no reply, or timed out */
    int64_t elapsed_ms;            /* until the last request ended */
};

/* Returns 0, or -1 if the burst could not be set up (errno set). */
int burst_run(const struct burst *b, struct burst_result *result);

#endif
