/* Chapter 05, leaky: a fan-out that forgets the workers it started.
 *
 * main and the handler are section 五's. Not in the article, which shows only
 * the fixed program: process and worker as they would read in Go before the
 * fix:
 *
 *     func main() {
 *         http.HandleFunc("/test", handler)
 *         http.ListenAndServe(":8080", nil)
 *     }
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
 *
 *         for i := 0; i < workerCount; i++ {
 *             go worker(ctx, i, errCh)
 *         }
 *
 *         for i := 0; i < workerCount; i++ {
 *             select {
 *             case err := <-errCh:
 *                 if err != nil {
 *                     return err
 *                 }
 *             case <-ctx.Done():
 *                 return ctx.Err()
 *             }
 *         }
 *
 *         return nil
 *     }
 *
 *     func worker(ctx context.Context, id int, errCh chan<- error) {
 *         time.Sleep(5 * time.Second)
 *         fmt.Println("worker done:", id)
 *         errCh <- nil
 *     }
 *
 * The handler gives process 3 s, and process itself is careful: it returns at
 * the first error or when ctx is done. But the workers ignore ctx and errCh
 * has no room: whoever is still running when process returns works on to 5 s,
 * then blocks for ever on a send nobody will receive.
 *
 * Not in the article: GET /test?fail=N makes worker N (0 to 2) fail after
 * 0.5 s (failingWorker), to show a failure leaving the others behind.
 */
#include <errno.h>
#include <stdio.h>

#include "clock.h"
#include "go.h"
#include "story.h"

enum { workerCount = 3 }; /* workerCount := 3 */

static void handler(struct response *w, struct request *r);
static int process(ctx_t *ctx, long fail);
static void worker(ctx_t *ctx, int id, chan_t *errCh);
static void failingWorker(ctx_t *ctx, int id, chan_t *errCh);

int main(int argc, char **argv)
{
    return server_main(argc, argv, handler);
}

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
    chan_t *errCh = chan_make(sizeof(int), 0);
    if (!errCh)
        return ENOMEM;
    int err = 0;
    for (int i = 0; i < workerCount && !err; i++)
        err = go_with_id("worker", i == fail ? failingWorker : worker, ctx, i, errCh);

    for (int i = 0; i < workerCount && !err; i++) {
        struct chan_case cases[] = {
            chan_recv_case(errCh, &err),
            chan_recv_case(ctx_done(ctx), NULL),
        };
        if (chan_select(cases, 2, -1) == 1)
            err = ctx_err(ctx);
    }
    chan_release(errCh);
    return err;
}

static void worker(ctx_t *ctx, int id, chan_t *errCh)
{
    (void)ctx;
    time_sleep(seconds(5));
    printf("worker done: %d\n", id);
    int err = 0;
    chan_send(errCh, &err);
}

/* Not in the article: the worker ?fail=N picks, failing at 0.5 s. */
static void failingWorker(ctx_t *ctx, int id, chan_t *errCh)
{
    (void)ctx;
    time_sleep(seconds(0.5));
    printf("worker failed: %d\n", id);
    int err = EIO;
    chan_send(errCh, &err);
}
