/* learner edit: errgroup with its context, but failingWorker sleeps its 0.5 s with time_sleep instead of a select on its timer and ctx_done: a hang-up waits for it
 * expect: fail hang-up
 * says: 5 clients hung up 0.2 s into the story (before the worker fails at 0.5 s)
 * says: they left
 * says: a select on its timer and ctx_done(ctx) notices at once
 */
/* Chapter 06, leaky: the fan-out errgroup replaces, written by hand.
 *
 * The handler is section 五's. Not in the article: process and worker, the
 * fan-out written by hand, which in Go would read:
 *
 *     func handler(w http.ResponseWriter, r *http.Request) {
 *         ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
 *         defer cancel()
 *
 *         err := process(ctx)
 *         if err != nil {
 *             http.Error(w, err.Error(), 500)
 *             return
 *         }
 *
 *         w.Write([]byte("success"))
 *     }
 *
 *     func process(ctx context.Context) error {
 *         workerCount := 3
 *         errCh := make(chan error)
 *         for i := 0; i < workerCount; i++ {
 *             go func(i int) { errCh <- worker(ctx, i) }(i)
 *         }
 *         for i := 0; i < workerCount; i++ {
 *             if err := <-errCh; err != nil {
 *                 return err
 *             }
 *         }
 *         return nil
 *     }
 *
 *     func worker(ctx context.Context, id int) error {
 *         select {
 *         case <-time.After(5 * time.Second):
 *             fmt.Println("worker done:", id)
 *             return nil
 *         case <-ctx.Done():
 *             fmt.Println("worker canceled:", id)
 *             return ctx.Err()
 *         }
 *     }
 *
 * Chapter 05's lesson is learnt: every worker watches ctx. Yet when one fails
 * or ctx ends, process returns at the first error and nobody receives the
 * others': each of them blocks for ever on errCh. Hand-written fan-outs get
 * one of these wrong sooner or later: room in the channel, waiting for every
 * worker, cancelling the rest.
 *
 * Not in the article: GET /test?fail=N makes worker N (0 to 2) fail after
 * 0.5 s (failingWorker), to show a failure and what becomes of the others.
 */
#include <errno.h>
#include <stdio.h>

#include "clock.h"
#include "story.h"
#include "errgroup.h"

enum { workerCount = 3 }; /* workerCount := 3 */

/* Each worker's id, passed as the void * a worker takes (Go's closure
 * would capture i): static, because they must outlive process. */
static int ids[workerCount] = { 0, 1, 2 };

static int process(ctx_t *ctx, long fail);
static int worker(ctx_t *ctx, void *arg);
static int failingWorker(ctx_t *ctx, void *arg);

static void handler(struct response *w, struct request *r)
{
    long fail; /* the demo's ?fail=N */
    if (!story_fail(r, w, workerCount, &fail))
        return;
    ctx_t *ctx = ctx_with_timeout(r->ctx, seconds(3));

    int err = ctx ? process(ctx, fail) : ENOMEM;
    if (err)
        http_error(w, ctx_err_text(err), 500);
    else
        http_write(w, "success");
    ctx_cancel(ctx); /* defer cancel() */
    ctx_release(ctx);
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

/* 5 s of work, unless ctx ends it first. */
static int worker(ctx_t *ctx, void *arg)
{
    int id = *(int *)arg;
    int err;
    chan_t *timer = time_after(seconds(5));
    struct chan_case cases[] = {
        chan_recv_case(timer, NULL),
        chan_recv_case(ctx_done(ctx), NULL),
    };
    if (chan_select(cases, 2, -1) == 0) {
        printf("worker done: %d\n", id);
        err = 0;
    } else {
        printf("worker canceled: %d\n", id);
        err = ctx_err(ctx);
    }
    chan_release(timer);
    return err;
}

/* Not in the article: the worker ?fail=N picks, failing at 0.5 s. */
static int failingWorker(ctx_t *ctx, void *arg)
{
    (void)ctx;
    int id = *(int *)arg;
    time_sleep(seconds(0.5));
    printf("worker failed: %d\n", id);
    return EIO;
}

int main(int argc, char **argv)
{
    return server_main(argc, argv, handler);
}
