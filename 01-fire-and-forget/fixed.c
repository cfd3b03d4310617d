/* Chapter 01, fixed: the worker lives as long as the request.
 *
 *     func handler(w http.ResponseWriter, r *http.Request) {
 *         done := make(chan struct{})
 *         go func() { slowWorker(r.Context()); close(done) }()
 *         select {
 *         case <-done:
 *             w.Write([]byte("ok"))
 *         case <-r.Context().Done():
 *         }
 *     }
 *
 * The worker watches the request's context, and the handler waits for the
 * worker or for the client to leave: a client that hangs up at 1 s takes its
 * worker with it at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "go.h"
#include "server.h"

/* The worker's own references: it may still be running when the handler
 * returns, so it must not borrow the handler's. */
struct slow_work {
    ctx_t *ctx;
    chan_t *done;
};

static void slow_work_free(struct slow_work *work)
{
    chan_release(work->done);
    ctx_release(work->ctx);
    free(work);
}

static void slowWorker(void *arg)
{
    struct slow_work *work = arg;
    chan_t *timer = time_after(seconds(10));
    struct chan_case cases[] = {
        chan_recv_case(timer, NULL),
        chan_recv_case(ctx_done(work->ctx), NULL),
    };
    if (chan_select(cases, 2, -1) == 0)
        puts("done");
    chan_close(work->done);
    chan_release(timer);
    slow_work_free(work);
}

static int start_slowWorker(ctx_t *ctx, chan_t *done)
{
    struct slow_work *work = malloc(sizeof *work);
    if (!done || !work) {
        free(work);
        return ENOMEM;
    }
    *work = (struct slow_work){ ctx_ref(ctx), chan_ref(done) };
    int err = go("slowWorker", slowWorker, work);
    if (err)
        slow_work_free(work);
    return err;
}

static void handler(struct response *w, struct request *r)
{
    chan_t *done = chan_make(1, 0);
    if (start_slowWorker(r->ctx, done) != 0) {
        http_error(w, "cannot start the worker", 503);
        chan_release(done);
        return;
    }
    struct chan_case cases[] = {
        chan_recv_case(done, NULL),
        chan_recv_case(ctx_done(r->ctx), NULL),
    };
    if (chan_select(cases, 2, -1) == 0)
        http_write(w, "ok");
    chan_release(done);
}

int main(int argc, char **argv)
{
    return server_main(argc, argv, handler);
}
