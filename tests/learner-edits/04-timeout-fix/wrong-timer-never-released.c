/* learner edit: the article's pattern, but the worker returns early on ctx_done before chan_release(timer): the timer is never released
 * expect: fail never-released
 * says: a timer (time_after) made at 04-timeout-fix/leaky.c:69
 * says: chan_release(timer); once the select is over
 * not: free it
 */
/* Chapter 04, leaky: a timeout that only the handler obeys.
 *
 * Not in the article, which shows only the fixed handler; in Go the
 * mistake it fixes would read:
 *
 *     func handler(w http.ResponseWriter, r *http.Request) {
 *         ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
 *         defer cancel()
 *
 *         resultCh := make(chan string)
 *
 *         go func(ctx context.Context) {
 *             time.Sleep(5 * time.Second)
 *             resultCh <- "done"
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
 * The handler gives up after 2 s and answers 504; the worker neither
 * watches the context nor has room for its result. At 5 s it sends, nobody
 * is left to receive, and it blocks for ever.
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
    if (chan_select(cases, 2, -1) == 1)
        return; /* case <-ctx.Done(): return */
    struct result res = { "done" };
    chan_send(resultCh, &res);
    chan_release(timer);
}

int main(int argc, char **argv)
{
    return server_main(argc, argv, handler);
}
