/* Chapter 06, fixed: errgroup (section 九).
 *
 *     func process(ctx context.Context) error {
 *         workerCount := 3
 *         g, ctx := errgroup.WithContext(ctx)
 *         g.SetLimit(workerCount)
 *         for i := 0; i < workerCount; i++ {
 *             g.Go(func() error { return worker(ctx, i) })
 *         }
 *         return g.Wait()
 *     }
 *
 * "自动取消，自动回收，代码更干净" (cancels for you, collects for you, cleaner
 * code). The first error cancels the group's context, so the other workers
 * stop; Wait returns only when every worker has returned, so none is left
 * behind; the limit bounds how many run at once, however many there are.
 *
 * GET /test?fail=N makes worker N (0 to 2) fail after 0.5 s.
 */
#include <errno.h>
#include <stdio.h>

#include "clock.h"
#include "errgroup.h"
#include "server.h"

enum { workerCount = 3 };
static int ids[workerCount] = { 0, 1, 2 };

/* The seed's work: 5 s, unless ctx ends it first. */
static int worker(ctx_t *ctx, void *arg)
{
    int id = *(int *)arg;
    chan_t *timer = time_after(seconds(5));
    struct chan_case cases[] = {
        chan_recv_case(timer, NULL),
        chan_recv_case(ctx_done(ctx), NULL),
    };
    int err = chan_select(cases, 2, -1) == 0 ? 0 : ctx_err(ctx);
    printf("worker %s: %d\n", err ? "canceled" : "done", id);
    chan_release(timer);
    return err;
}

static int failingWorker(ctx_t *ctx, void *arg)
{
    int id = *(int *)arg;
    chan_t *timer = time_after(seconds(0.5));
    struct chan_case cases[] = {
        chan_recv_case(timer, NULL),
        chan_recv_case(ctx_done(ctx), NULL),
    };
    int err = chan_select(cases, 2, -1) == 0 ? EIO : ctx_err(ctx);
    printf("worker failed: %d\n", id);
    chan_release(timer);
    return err;
}

static int process(ctx_t *ctx, long fail)
{
    group_t *g = group_with_context(ctx, &ctx);
    if (!g)
        return ENOMEM;
    group_set_limit(g, workerCount);
    for (int i = 0; i < workerCount; i++)
        group_go(g, "worker", i == fail ? failingWorker : worker, &ids[i]);
    int err = group_wait(g);
    group_free(g);
    return err;
}

static void handler(struct response *w, struct request *r)
{
    long fail;
    if (!request_query_int(r, "fail", 0, workerCount - 1, -1, &fail)) {
        http_error(w, "fail takes a worker number: 0, 1 or 2", 400);
        return;
    }
    ctx_t *ctx = ctx_with_timeout(r->ctx, seconds(3));
    int err = ctx ? process(ctx, fail) : ENOMEM;
    if (err)
        http_error(w, ctx_err_text(err), 500);
    else
        http_write(w, "success");
    ctx_cancel(ctx); /* defer cancel() */
    ctx_release(ctx);
}

int main(int argc, char **argv)
{
    return server_main(argc, argv, handler);
}
