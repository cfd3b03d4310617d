#include "story.h"

#include <errno.h>

#include "clock.h"

void section4_handler(struct response *w, struct request *r, int capacity,
                      int (*start)(ctx_t *ctx, chan_t *resultCh))
{
    ctx_t *ctx = ctx_with_timeout(r->ctx, seconds(2));
    chan_t *resultCh = chan_make(sizeof(struct result), capacity);
    if (!ctx || !resultCh || start(ctx, resultCh) != 0) {
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

void section5_handler(struct response *w, struct request *r,
                      int (*process)(ctx_t *ctx, long fail))
{
    long fail;
    if (!request_query_int(r, "fail", 0, workerCount - 1, -1, &fail)) {
        http_error(w, "fail takes a worker number: 0, 1 or 2", 400);
        return;
    }
    ctx_t *ctx = ctx_with_timeout(r->ctx, seconds(3));
    int err = ctx ? process(ctx, fail) : ENOMEM;
    if (err)
        http_error(w, ctx_err_text(err), 500);
    else
        http_write(w, "success");
    ctx_cancel(ctx); /* defer cancel() */
    ctx_release(ctx);
}
