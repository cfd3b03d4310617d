/* learner edit: kept the hand-written fan-out and added chan_close(errCh) after the first error "so the other senders are released": their sends panic
 * expect: fail panic
 */
/* Chapter 06, leaky: the fan-out errgroup replaces, written by hand.
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
 * Chapter 05's lesson is learnt: every worker watches ctx. Yet when one fails
 * or ctx ends, process returns at the first error and nobody receives the
 * others': each of them blocks for ever on errCh. Hand-written fan-outs get
 * one of these wrong sooner or later: room in the channel, waiting for every
 * worker, cancelling the rest.
 *
 * GET /test?fail=N makes worker N (0 to 2) fail after 0.5 s.
 */
#include <errno.h>
#include <stdio.h>

#include "clock.h"
#include "go.h"
#include "story.h"

static int ids[workerCount] = { 0, 1, 2 };

/* The article's work: 5 s, unless ctx ends it first. */
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

/* go func(i int) { errCh <- worker(ctx, i) }(i) */
static void run(ctx_t *ctx, int id, chan_t *errCh)
{
    int err = worker(ctx, &ids[id]);
    chan_send(errCh, &err);
}

static void runFailing(ctx_t *ctx, int id, chan_t *errCh)
{
    int err = failingWorker(ctx, &ids[id]);
    chan_send(errCh, &err);
}

static int process(ctx_t *ctx, long fail)
{
    chan_t *errCh = chan_make(sizeof(int), 0);
    if (!errCh)
        return ENOMEM;
    int err = 0;
    for (int i = 0; i < workerCount && !err; i++)
        err = go_with("worker", i == fail ? runFailing : run, ctx, i, errCh);
    for (int i = 0; i < workerCount && !err; i++)
        chan_recv(errCh, &err);
    chan_close(errCh); /* nobody receives any more: let the senders go */
    chan_release(errCh);
    return err;
}

/* Section 五's handler: 3 s for process, then 500 with its error. */
static void handler(struct response *w, struct request *r)
{
    section5_handler(w, r, process);
}

int main(int argc, char **argv)
{
    return server_main(argc, argv, handler);
}
