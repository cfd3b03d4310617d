/* learner edit: errgroup with two faults: no group_free(g), and the timeout context never cancelled or released; each is reported at its own line
 * expect: fail never-released
 * says: an errgroup (group_with_context) made at 06-errgroup/leaky.c:102
 * says: a context (ctx_with_timeout) made at 06-errgroup/leaky.c:91
 * not: free it
 * not: did not exit cleanly (exit code 1)
 */
/* Chapter 06, fixed: errgroup (section 九).
 *
 * The article shows errgroup on one task:
 *
 *     import "golang.org/x/sync/errgroup"
 *
 *     g, ctx := errgroup.WithContext(ctx)
 *
 *     g.Go(func() error {
 *         return doSomething(ctx)
 *     })
 *
 *     if err := g.Wait(); err != nil {
 *         return err
 *     }
 *
 * The handler below is section 五's. Not in the article: errgroup applied to
 * section 五's three workers, process and worker, which in Go would read:
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
 *         g, ctx := errgroup.WithContext(ctx)
 *         g.SetLimit(workerCount)
 *         for i := 0; i < workerCount; i++ {
 *             g.Go(func() error { return worker(ctx, i) })
 *         }
 *         return g.Wait()
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
 * "自动取消 / 自动回收 / 代码更干净" (cancels for you, collects for you, cleaner
 * code). The first error cancels the group's context, so the other workers
 * stop; Wait returns only when every worker has returned, so none is left
 * behind; the limit bounds how many run at once, however many there are.
 *
 * Not in the article: GET /test?fail=N makes worker N (0 to 2) fail after
 * 0.5 s (failingWorker), to show a failure and what becomes of the others.
 */
#include <errno.h>
#include <stdio.h>

#include "clock.h"
#include "errgroup.h"
#include "story.h"

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
