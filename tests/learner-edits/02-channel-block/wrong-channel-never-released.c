/* learner edit: capacity 1, but also deleted chan_release(ch) ("the sender frees it"), so worker's own reference is never dropped
 * expect: fail never-released
 * says: a channel (chan_make) made at 02-channel-block/leaky.c:34
 * says: chan_release(ch);
 * not: free it
 */
/* Chapter 02, leaky: a send nobody receives (section 二).
 *
 *     func worker() {
 *         ch := make(chan int)
 *
 *         go func() {
 *             ch <- 1
 *         }()
 *
 *         // 忘记接收
 *     }
 *
 * (忘记接收: forgot to receive.)
 * The channel has no room, so the send waits for a receiver that never
 * comes. When worker returns, the sender holds the only reference left: the
 * census marks it leaked.
 */
#include <errno.h>

#include "chan.h"
#include "go.h"
#include "server.h"

static void send_one(ctx_t *ctx, chan_t *ch);

static int worker(void)
{
    chan_t *ch = chan_make(sizeof(int), 1);
    if (!ch)
        return ENOMEM;
    /* go_with hands the channel to the sender, which releases it when done */
    return go_with("sender", send_one, NULL, ch);
}

/* go func() { ch <- 1 }() */
static void send_one(ctx_t *ctx, chan_t *ch)
{
    (void)ctx;
    int one = 1;
    chan_send(ch, &one);
}

/* Not in the article: the request that calls worker. */
static void handler(struct response *w, struct request *r)
{
    (void)r;
    if (worker() != 0) {
        http_error(w, "cannot start the worker", 503);
        return;
    }
    http_write(w, "ok");
}

int main(int argc, char **argv)
{
    return server_main(argc, argv, handler);
}
