/* learner edit: only the buffer: resultCh gets capacity 1, the worker still time_sleep()s its 5 s, ignoring ctx
 * expect: fail threads-left|hang-up
 */
/* Chapter 04, leaky: a timeout that only the handler obeys.
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

static void work(ctx_t *ctx, int id, chan_t *resultCh)
{
    (void)id;
    (void)ctx;
    time_sleep(seconds(5));
    struct result res = { "done" };
    chan_send(resultCh, &res);
}

static int start_worker(ctx_t *ctx, chan_t *resultCh)
{
    return go_with("worker", work, ctx, 0, resultCh);
}

/* Section 四's handler, with resultCh := make(chan string, 1). */
static void handler(struct response *w, struct request *r)
{
    section4_handler(w, r, 1, start_worker);
}

int main(int argc, char **argv)
{
    return server_main(argc, argv, handler);
}
