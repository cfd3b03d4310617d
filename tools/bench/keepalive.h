/* A load generator in wrk's shape (wrk -t1 -cC): one thread, C keep-alive
 * connections, each sending its next GET as soon as the last reply is in,
 * so that the server, not the client, sets the pace. */
#ifndef TESTS_BENCH_KEEPALIVE_H
#define TESTS_BENCH_KEEPALIVE_H

#include <stdint.h>

struct keepalive_result {
    long replies;    /* complete replies, any status */
    long ok;         /* of them, 200 */
    long errors;     /* connections that failed or were closed under us */
    double seconds;  /* how long it ran */
};

/* Runs for ms milliseconds against 127.0.0.1:port, GET path. Returns 0, or
 * -1 if no connection could be made. */
int keepalive_run(int port, const char *path, int connections, int64_t ms,
                  struct keepalive_result *r);

#endif
