/* learner edit: the query gets its own ctx_with_timeout(ctx, seconds(2)) derived from the handler's ctx, released once go_with holds it
 * expect: pass
 */
/* Chapter 03, leaky: a query under context.Background() (section 三).
 *
 *     func queryData() {
 *         ctx := context.Background() // ❌ 错误
 *
 *         go func() {
 *             db.QueryContext(ctx, "SELECT ...")
 *         }()
 *     }
 *
 * The article's queryData is called with nothing and returns nothing. Here
 * it is handed what its caller, the handler below, has: the request's ctx,
 * which the ❌ line throws away, and resultCh, where the row would go. Not in
 * the article; in Go that would read:
 *
 *     func queryData(ctx context.Context, resultCh chan<- string) {
 *         ctx = context.Background() // ❌
 *         go func() {
 *             if row, err := query(ctx, "SELECT ..."); err == nil {
 *                 resultCh <- row
 *             }
 *         }()
 *     }
 *
 * The database stalls. The handler gives up after 2 s and answers 504 (or
 * the client hangs up first), but the query runs under a context nobody can
 * cancel: its thread waits on the socket for ever.
 */
#include "clock.h"
#include "db.h"
#include "go.h"
#include "story.h"

#include <errno.h>

static void run_query(ctx_t *ctx, chan_t *resultCh);

static int queryData(ctx_t *ctx, chan_t *resultCh)
{
    /* every external call gets a timeout, derived from the request */
    ctx_t *qctx = ctx_with_timeout(ctx, seconds(2));
    if (!qctx)
        return ENOMEM;
    int err = go_with("query", run_query, qctx, resultCh);
    ctx_release(qctx); /* the query thread holds its own reference */
    return err;
}

/* The go func: the query, under ctx, and its row sent on resultCh. */
static void run_query(ctx_t *ctx, chan_t *resultCh)
{
    struct result row;
    if (db_query(ctx, server_db(), "SELECT ...", row.text, sizeof row.text) == 0)
        chan_send(resultCh, &row);
}

/* Not in the article: section 三 shows queryData alone. Its caller is
 * section 四's handler, in Go:
 *
 *     ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
 *     defer cancel()
 *     resultCh := make(chan string, 1)
 *     queryData(ctx, resultCh)
 *     select {
 *     case res := <-resultCh:
 *         w.Write([]byte(res))
 *     case <-ctx.Done():
 *         http.Error(w, "timeout", http.StatusGatewayTimeout)
 *     }
 */
static void handler(struct response *w, struct request *r)
{
    ctx_t *ctx = ctx_with_timeout(r->ctx, seconds(2));
    chan_t *resultCh = chan_make(sizeof(struct result), 1);
    if (!ctx || !resultCh || queryData(ctx, resultCh) != 0) {
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

int main(int argc, char **argv)
{
    return server_main_with_db(argc, argv, handler);
}
