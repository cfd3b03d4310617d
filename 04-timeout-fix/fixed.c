/* Chapter 04, fixed: the article's standard pattern (标准安全写法).
 *
 *     func handler(w http.ResponseWriter, r *http.Request) {
 *         ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
 *         defer cancel()
 *
 *         resultCh := make(chan string, 1)
 *
 *         go func(ctx context.Context) {
 *             select {
 *             case <-time.After(5 * time.Second):
 *                 resultCh <- "done"
 *             case <-ctx.Done():
 *                 return
 *             }
 *         }(ctx)
 *
 *         select {
 *         case res := <-resultCh:
 *             w.Write([]byte(res))
 *         case <-ctx.Done():
 *             http.Error(w, "timeout", http.StatusGatewayTimeout)
 *         }
 *     }
 *
 * Two ways out for the worker: its result fits in the channel even when
 * nobody is left to read it, and it stops as soon as the context is done.
 */
#include "clock.h"
#include "go.h"
#include "story.h"

static void work(ctx_t *ctx, chan_t *resultCh);

/* Section 四's handler, with resultCh := make(chan string, 1). */
static void handler(struct response *w, struct request *r)
{
    ctx_t *ctx = ctx_with_timeout(r->ctx, seconds(2));

    chan_t *resultCh = chan_make(sizeof(struct result), 1);

    if (!ctx || !resultCh || go_with("worker", work, ctx, resultCh) != 0) {
        http_error(w, "cannot start the work", 503);
    } else {
        struct result res;
        struct chan_case cases[] = {
            chan_recv_case(resultCh, &res),
            chan_recv_case(ctx_done(ctx), NULL),
        };
        if (chan_select(cases, 2, -1) == 0)
            http_write(w, res.text);
        else
            http_error(w, "timeout", 504);
    }
    chan_release(resultCh);
    ctx_cancel(ctx); /* defer cancel() */
    ctx_release(ctx);
}

/* go func(ctx context.Context) { ... }(ctx) */
static void work(ctx_t *ctx, chan_t *resultCh)
{
    chan_t *timer = time_after(seconds(5));
    struct chan_case cases[] = {
        chan_recv_case(timer, NULL),
        chan_recv_case(ctx_done(ctx), NULL),
    };
    if (chan_select(cases, 2, -1) == 0) {
        struct result res = { "done" };
        chan_send(resultCh, &res);
    }
    chan_release(timer);
}

int main(int argc, char **argv)
{
    return server_main(argc, argv, handler);
}
