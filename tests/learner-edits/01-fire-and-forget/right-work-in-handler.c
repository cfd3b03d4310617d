/* learner edit: no worker thread at all; the handler itself selects on time_after(10 s) and ctx_done(r->ctx), prints "done" and answers "ok"
 * expect: pass
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

static int slowWorker(ctx_t *ctx);

static void handler(struct response *w, struct request *r)
{
    if (slowWorker(r->ctx))
        http_write(w, "ok");
}

/* slowWorker(r.Context()), called in place: the request's thread does the work. */
static int slowWorker(ctx_t *ctx)
{
    chan_t *timer = time_after(seconds(10));
    struct chan_case cases[] = {
        chan_recv_case(timer, NULL),
        chan_recv_case(ctx_done(ctx), NULL),
    };
    int finished = chan_select(cases, 2, -1) == 0;
    if (finished)
        puts("done");
    chan_release(timer);
    return finished;
}

int main(int argc, char **argv)
{
    return server_main(argc, argv, handler);
}
