/* learner edit: gave the channel room for its one value, chan_make(sizeof(int), 1)
 * expect: pass
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
    chan_t *ch = chan_make(sizeof(int), 1); /* room for the one value */
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
