/* learner edit: kept the hand-written fan-out and gave errCh room for every answer, chan_make(sizeof(int), workerCount); the handler's cancel stops the rest
 * expect: pass
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
#include "go.h"
#include "story.h"

enum { workerCount = 3 }; /* workerCount := 3 */

/* Each worker's id, passed as the void * a worker takes (Go's closure
 * would capture i): static, because they must outlive process. */
static int ids[workerCount] = { 0, 1, 2 };

static int process(ctx_t *ctx, long fail);
static int worker(ctx_t *ctx, void *arg);
static int failingWorker(ctx_t *ctx, void *arg);
static void run(ctx_t *ctx, int id, chan_t *errCh);
static void runFailing(ctx_t *ctx, int id, chan_t *errCh);

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
    chan_t *errCh = chan_make(sizeof(int), workerCount); /* no send can block */
    if (!errCh)
        return ENOMEM;
    int err = 0;
    for (int i = 0; i < workerCount && !err; i++)
        err = go_with_id("worker", i == fail ? runFailing : run, ctx, i, errCh);
    for (int i = 0; i < workerCount && !err; i++)
        chan_recv(errCh, &err);
    chan_release(errCh);
    return err;
}

/* go func(i int) { errCh <- worker(ctx, i) }(i) */
static void run(ctx_t *ctx, int id, chan_t *errCh)
{
    int err = worker(ctx, &ids[id]);
    chan_send(errCh, &err);
}

/* Not in the article: the same for the worker ?fail=N picks. */
static void runFailing(ctx_t *ctx, int id, chan_t *errCh)
{
    int err = failingWorker(ctx, &ids[id]);
    chan_send(errCh, &err);
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

int main(int argc, char **argv)
{
    return server_main(argc, argv, handler);
}
