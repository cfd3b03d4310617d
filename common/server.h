/* server: Go's net/http server, as far as the chapters need it, on libevent.
 *
 * Every chapter's program is a handler and one line of main:
 *
 *     int main(int argc, char **argv) { return server_main(argc, argv, handler); }
 *
 * server_main parses the flags (--addr, --port, --time-scale, --max-inflight,
 * --help), listens, prints "listening on http://ADDR:PORT" as the first line
 * on stdout, and serves until SIGINT or SIGTERM:
 *
 * - GET /test runs handler(w, r) on a thread of its own, started for that
 *   request, as net/http runs each request on its own goroutine. The handler
 *   blocks as it likes; the event loop never does.
 * - r->ctx is the request's context. It is cancelled when the client hangs up
 *   (closes, half-closes or resets the connection),
 *   when the server shuts down, and when the handler returns (as r.Context()
 *   is when ServeHTTP returns). A thread that outlives the handler and needs
 *   it takes its own reference with ctx_ref.
 * - What the handler wrote is sent when it returns, exactly once. If the
 *   client has gone by then, nothing is sent and nothing breaks.
 * - A request whose handler could not start a thread (go() failed: the
 *   system is out of threads) is answered 503, whatever the handler wrote.
 * - With --max-inflight N, a request that arrives while N are in flight is
 *   answered 503 at once, on the loop thread: the article's 限流 (rate limit).
 * - GET /debug/threads (loopback clients only) answers "threads: N", the
 *   kernel's count, then the census dump.
 * - GET /debug/trace?seconds=N (loopback clients only) records for N seconds
 *   (default 1, at most 60) what every go() thread does: started (and where),
 *   blocked (state, file:line), woke, exited; then answers Chrome trace-event
 *   JSON (common/trace.h). One recording at a time: 409 while one runs.
 * - On SIGINT or SIGTERM, as Go's Server.Shutdown: the server stops accepting,
 *   cancels every request context, and goes on serving until every handler
 *   has returned and every reply has been written (each with "Connection:
 *   close"), for at most 0.7 s (4 times that in a sanitizer build). It then
 *   waits for the rest of a second for
 *   the threads the requests started, says on stderr how many requests were
 *   left unanswered or unwritten and which threads, if any, were left, and
 *   exits 0.
 */
#ifndef COMMON_SERVER_H
#define COMMON_SERVER_H

#include <stdbool.h>

#include "context.h"

struct evkeyvalq;
struct request {
    ctx_t *ctx;
    struct evkeyvalq *query; /* use request_query */
};

struct response;

/* w.Write(body): appends body to the reply, whose status is 200 unless
 * http_error set another. */
void http_write(struct response *w, const char *body);

/* http.Error(w, message, status): the reply becomes status with message and a
 * newline as its body. */
void http_error(struct response *w, const char *message, int status);

/* r.URL.Query().Get(key): the first value of key in the query string, or NULL. */
const char *request_query(const struct request *r, const char *key);

/* An integer query value: true with *out set when key is absent or empty (to fallback)
 * or a decimal in [min, max]; false for anything else, which the handler
 * answers with http_error(w, reason, 400). */
bool request_query_int(const struct request *r, const char *key, long min, long max,
                       long fallback, long *out);

typedef void (*handler_fn)(struct response *w, struct request *r);

/* Runs the server; returns the process's exit code (0, or 1 if it could not
 * listen). Bad flags print usage on stderr and exit 2. */
int server_main(int argc, char **argv, handler_fn handler);

/* As server_main, for a chapter with a downstream database (chapter 03).
 * --db HOST:PORT says where it is; by default the server itself listens for
 * it on a free loopback port, on its loop thread, and never answers: a
 * database that has stalled. server_db() is its address. */
int server_main_with_db(int argc, char **argv, handler_fn handler);
const char *server_db(void);

#endif
