/* Chapter 01, fixed: the worker lives as long as the request.
 *
 * Not in the article, which shows only the mistake; in Go the fix would
 * read:
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
 *     func slowWorker(ctx context.Context) {
 *         select {
 *         case <-time.After(10 * time.Second):
 *             fmt.Println("done")
 *         case <-ctx.Done():
 *         }
 *     }
 *
 * The worker watches the request's context, and the handler waits for the
 * worker or for the client to leave: a client that hangs up at 1 s takes its
 * worker with it at once.
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
    chan_release(done);
}

/* With close(done) from the go func: done is closed however it ends. */
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
