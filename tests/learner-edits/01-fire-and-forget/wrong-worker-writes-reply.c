/* learner edit: the worker gets w and a ctx_ref and writes "ok" itself after 10 s; the handler returns at once, so the reply is an empty 200 and the work is cancelled
 * expect: fail behaviour
 */
/* Chapter 01, leaky: fire and forget (section 一).
 *
 *     func handler(w http.ResponseWriter, r *http.Request) {
 *         go slowWorker()
 *         w.Write([]byte("ok"))
 *     }
 *
 *     func slowWorker() {
 *         time.Sleep(10 * time.Second)
 *         fmt.Println("done")
 *     }
 *
 * The handler answers at once; the worker it started knows nothing of the
 * request and runs its full 10 s even when the client left after 1 s.
 */
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "go.h"
#include "server.h"

struct job {
    struct response *w;
    ctx_t *ctx;
};

static void slowWorker(void *arg);

static void handler(struct response *w, struct request *r)
{
    struct job *job = malloc(sizeof *job);
    if (!job) {
        http_error(w, "cannot start the worker", 503);
        return;
    }
    job->w = w;
    job->ctx = ctx_ref(r->ctx);
    if (go("slowWorker", slowWorker, job) != 0) {
        ctx_release(job->ctx);
        free(job);
        http_error(w, "cannot start the worker", 503);
    }
    /* the worker writes the reply */
}

/* The worker answers the client itself when the work is done. */
static void slowWorker(void *arg)
{
    struct job *job = arg;
    chan_t *timer = time_after(seconds(10));
    struct chan_case cases[] = {
        chan_recv_case(timer, NULL),
        chan_recv_case(ctx_done(job->ctx), NULL),
    };
    if (chan_select(cases, 2, -1) == 0) {
        puts("done");
        http_write(job->w, "ok");
    }
    chan_release(timer);
    ctx_release(job->ctx);
    free(job);
}

int main(int argc, char **argv)
{
    return server_main(argc, argv, handler);
}
