/* learner edit: its own struct and go(), but the worker borrows r->ctx (no ctx_ref) and asks ctx_err(job->ctx) after its select: once the handler has returned, the server has freed that context
 * expect: fail use-after-free
 * repeat: 20
 * says: 01-fire-and-forget/leaky.c:78 (in slowWorker) reads the request's context after the server freed it
 * says: ctx_ref(r->ctx) when you start it
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

/* What the worker owns: its own references, dropped when it ends. */
struct job {
    ctx_t *ctx;
    chan_t *finished; /* capacity 1: the send never waits, even if the handler left */
};

static void slowWorker(void *arg);

static void job_free(struct job *job)
{
    chan_release(job->finished);
    free(job);
}

static void handler(struct response *w, struct request *r)
{
    chan_t *finished = chan_make(sizeof(int), 1);
    struct job *job = finished ? malloc(sizeof *job) : NULL;
    if (!job) {
        chan_release(finished);
        http_error(w, "cannot start the worker", 503);
        return;
    }
    job->ctx = r->ctx; /* the request's own: the worker only borrows it */
    job->finished = chan_ref(finished);
    if (go("slowWorker", slowWorker, job) != 0) {
        job_free(job);
        chan_release(finished);
        http_error(w, "cannot start the worker", 503);
        return;
    }
    struct chan_case cases[] = {
        chan_recv_case(finished, NULL),
        chan_recv_case(ctx_done(r->ctx), NULL),
    };
    if (chan_select(cases, 2, -1) == 0)
        http_write(w, "ok");
    chan_release(finished);
}

static void slowWorker(void *arg)
{
    struct job *job = arg;
    chan_t *timer = time_after(seconds(10));
    struct chan_case cases[] = {
        chan_recv_case(timer, NULL),
        chan_recv_case(ctx_done(job->ctx), NULL),
    };
    chan_select(cases, 2, -1);
    if (ctx_err(job->ctx) == 0) { /* still wanted? */
        puts("done");
        int ok = 1;
        chan_send(job->finished, &ok);
    }
    chan_release(timer);
    job_free(job);
}

int main(int argc, char **argv)
{
    return server_main(argc, argv, handler);
}
