/* learner edit: capacity 1, and swapped go_with for plain go() passing ch without chan_ref: worker's chan_release frees it before the sender sends
 * expect: fail use-after-free
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

static void send_one(void *arg);

static int worker(void)
{
    chan_t *ch = chan_make(sizeof(int), 1);
    if (!ch)
        return ENOMEM;
    int err = go("sender", send_one, ch);
    chan_release(ch);
    return err;
}

/* No context needed: a plain go() with the channel as its argument. */
static void send_one(void *arg)
{
    chan_t *ch = arg;
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
