/* Chapter 01, leaky: fire and forget (section 一).
 *
 *     func handler(w http.ResponseWriter, r *http.Request) {
 *         go slowWorker()
 *         w.Write([]byte("ok"))
 *     }
 *
 *     func slowWorker() {
 *         time.Sleep(10 * time.Second)
 *         fmt.Println("done")
 *     }
 *
 * The handler answers at once; the worker it started knows nothing of the
 * request and runs its full 10 s even when the client left after 1 s.
 */
#include <stdio.h>

#include "clock.h"
#include "go.h"
#include "server.h"

static void slowWorker(void *arg);

static void handler(struct response *w, struct request *r)
{
    (void)r;
    if (go("slowWorker", slowWorker, NULL) != 0) {
        http_error(w, "cannot start the worker", 503);
        return;
    }
    http_write(w, "ok");
}

static void slowWorker(void *arg)
{
    (void)arg;
    time_sleep(seconds(10));
    puts("done");
}

int main(int argc, char **argv)
{
    return server_main(argc, argv, handler);
}
