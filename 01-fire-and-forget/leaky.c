/* Chapter 01, leaky: fire and forget.
 *
 *     func handler(w http.ResponseWriter, r *http.Request) {
 *         go slowWorker()
 *         w.Write([]byte("ok"))
 *     }
 *
 * The handler answers at once; the worker it started knows nothing of the
 * request and runs its full 10 s even when the client left after 1 s.
 */
#include <stdio.h>

#include "clock.h"
#include "go.h"
#include "server.h"

static void slowWorker(void *arg)
{
    (void)arg;
    time_sleep(seconds(10));
    puts("done");
}

static void handler(struct response *w, struct request *r)
{
    (void)r;
    if (go("slowWorker", slowWorker, NULL) != 0) {
        http_error(w, "cannot start the worker", 503);
        return;
    }
    http_write(w, "ok");
}

int main(int argc, char **argv)
{
    return server_main(argc, argv, handler);
}
