/* Chapter 02, fixed: room for the one value.
 *
 * Not in the article, whose section 六 gives the rule but not the code; in
 * Go the fix would read:
 *
 *     func worker() {
 *         ch := make(chan int, 1)
 *
 *         go func() {
 *             ch <- 1
 *         }()
 *
 *         // 忘记接收
 *     }
 *
 * (忘记接收: forgot to receive.)
 * Section 六: "channel 必须：有缓冲；或保证一定被消费" (a channel must have a
 * buffer, or be sure to be drained). With room for its one value the send completes at
 * once, the sender returns, and the last reference frees the channel with
 * the value still in it.
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
    int err = go_with("sender", send_one, NULL, ch);
    /* 忘记接收 */
    chan_release(ch);
    return err;
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
