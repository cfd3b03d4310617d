/* Chapter 03, fixed: the query runs under the request's context.
 *
 *     func queryData(ctx context.Context) {
 *         go func() {
 *             db.QueryContext(ctx, "SELECT ...")
 *         }()
 *     }
 *
 * "永远不要在请求链里使用 context.Background()" (never use Background inside a
 * request). The query's context is the handler's: derived from the request,
 * with the 2 s timeout. When the handler gives up or the client hangs up, the
 * query's wait ends too; its thread closes its socket and returns.
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
    return go_with("query", run_query, ctx, 0, resultCh);
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
