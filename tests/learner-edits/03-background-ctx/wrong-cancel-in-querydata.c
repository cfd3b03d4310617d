/* learner edit: deleted the ctx_background() line but added "defer cancel()" as ctx_cancel(ctx) in queryData: the handler's ctx is done at once, 504 at 0 s
 * expect: fail behaviour
 */
/* Chapter 03, leaky: a query under context.Background().
 *
 *     func queryData() {
 *         ctx := context.Background() // ❌
 *         go func() {
 *             db.QueryContext(ctx, "SELECT ...")
 *         }()
 *     }
 *
 * The database stalls. The handler gives up after 2 s and answers 504 (or
 * the client hangs up first), but the query runs under a context nobody can
 * cancel: its thread waits on the socket for ever.
 */
#include "db.h"
#include "go.h"
#include "story.h"

static void run_query(ctx_t *ctx, int id, chan_t *resultCh)
{
    (void)id;
    struct result row;
    if (db_query(ctx, server_db(), "SELECT ...", row.text, sizeof row.text) == 0)
        chan_send(resultCh, &row);
}

static int queryData(ctx_t *ctx, chan_t *resultCh)
{
    int err = go_with("query", run_query, ctx, 0, resultCh);
    ctx_cancel(ctx); /* defer cancel(), as the article says */
    return err;
}

/* Section 四's handler: 2 s for the query, then 504. */
static void handler(struct response *w, struct request *r)
{
    section4_handler(w, r, 1, queryData);
}

int main(int argc, char **argv)
{
    return server_main_with_db(argc, argv, handler);
}
