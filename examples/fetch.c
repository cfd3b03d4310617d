#include "fetch.h"

#include <errno.h>

#include <threadleaks/chan.h>
#include <threadleaks/clock.h>
#include <threadleaks/go.h>

int64_t backend_ms = 500;

/* ---- leaky ---- */

static void ask_backend_leaky(void *arg)
{
    tl_chan_t *result = arg;
    tl_time_sleep(backend_ms);
    int answer = 42;
    tl_chan_send(result, &answer); /* nobody receives after a timeout */
    tl_chan_release(result);
}

int fetch_leaky(int64_t timeout_ms, int *answer)
{
    tl_chan_t *result = tl_chan_make(sizeof(int), 0);
    if (!result)
        return errno;
    int err = tl_go("backend", ask_backend_leaky, tl_chan_ref(result));
    if (err) {
        tl_chan_release(result);
        tl_chan_release(result);
        return err;
    }
    struct tl_chan_case got = tl_chan_recv_case(result, answer);
    err = tl_chan_select(&got, 1, tl_deadline_after(timeout_ms)) == 0 ? 0 : ETIMEDOUT;
    tl_chan_release(result);
    return err;
}

/* ---- fixed ---- */

static void ask_backend(tl_ctx_t *ctx, tl_chan_t *result)
{
    tl_chan_t *slow = tl_time_after(backend_ms);
    struct tl_chan_case cases[] = { tl_chan_recv_case(slow, NULL),
                                    tl_chan_recv_case(tl_ctx_done(ctx), NULL) };
    if (tl_chan_select(cases, 2, -1) == 0) {
        int answer = 42;
        tl_chan_send(result, &answer); /* room for one: never blocks */
    }
    tl_chan_release(slow);
}

int fetch(tl_ctx_t *parent, int64_t timeout_ms, int *answer)
{
    tl_ctx_t *ctx = tl_ctx_with_timeout(parent, timeout_ms);
    tl_chan_t *result = ctx ? tl_chan_make(sizeof(int), 1) : NULL;
    int err = result ? tl_go_with("backend", ask_backend, ctx, result) : ENOMEM;
    if (!err) {
        struct tl_chan_case cases[] = { tl_chan_recv_case(result, answer),
                                        tl_chan_recv_case(tl_ctx_done(ctx), NULL) };
        err = tl_chan_select(cases, 2, -1) == 0 ? 0 : tl_ctx_err(ctx);
    }
    tl_chan_release(result);
    tl_ctx_cancel(ctx); /* Go's defer cancel(): the thread's way out */
    tl_ctx_release(ctx);
    return err;
}
