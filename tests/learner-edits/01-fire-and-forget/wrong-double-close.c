/* learner edit: fixed.c's shape, plus chan_close(done) in the handler when the client leaves "to stop the worker": the worker closes it too
 * expect: fail panic
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

#include "clock.h"
#include "go.h"
#include "server.h"

static void slowWorker(ctx_t *ctx, chan_t *done);

static void handler(struct response *w, struct request *r)
{
    chan_t *done = chan_make(1, 0);
    if (!done || go_with("slowWorker", slowWorker, r->ctx, done) != 0) {
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
    else
        chan_close(done); /* the client left: tell the worker to stop */
    chan_release(done);
}

static void slowWorker(ctx_t *ctx, chan_t *done)
{
    chan_t *timer = time_after(seconds(10));
    struct chan_case cases[] = {
        chan_recv_case(timer, NULL),
        chan_recv_case(ctx_done(ctx), NULL),
    };
    if (chan_select(cases, 2, -1) == 0)
        puts("done");
    chan_close(done);
    chan_release(timer);
}

int main(int argc, char **argv)
{
    return server_main(argc, argv, handler);
}
