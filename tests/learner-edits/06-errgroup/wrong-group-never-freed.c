/* learner edit: errgroup, but group_free(g) is missing after group_wait: the group and its derived context are never released
 * expect: fail never-released
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
#include "errgroup.h"
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

static int process(ctx_t *ctx, long fail)
{
    group_t *g = group_with_context(ctx, &ctx);
    if (!g)
        return ENOMEM;
    group_set_limit(g, workerCount);
    for (int i = 0; i < workerCount; i++)
        group_go(g, "worker", i == fail ? failingWorker : worker, &ids[i]);
    int err = group_wait(g);
    /* group_wait has cancelled the context: nothing left to do */
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
