/* learner edit: deleted the worker ("no thread, no leak"); the handler answers "ok" at once and the 10 s of work never happens
 * expect: fail behaviour
 */
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

static void handler(struct response *w, struct request *r)
{
    (void)r;
    /* the worker was the leak: no worker, no leak */
    http_write(w, "ok");
}

int main(int argc, char **argv)
{
    return server_main(argc, argv, handler);
}
