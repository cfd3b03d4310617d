/* story: the article's handlers that more than one chapter runs.
 *
 * Chapters differ in how they start their work and how that work ends; the
 * handler around it is the article's own and is written once, here.
 */
#ifndef COMMON_STORY_H
#define COMMON_STORY_H

#include "chan.h"
#include "context.h"
#include "server.h"

/* What resultCh carries: the article's `chan string`, as a fixed-size value. */
struct result {
    char text[64];
};

/* Section 四's handler, for chapters 03 and 04:
 *
 *     ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
 *     defer cancel()
 *     resultCh := make(chan string, capacity)
 *     start(ctx, resultCh)                       // the chapter's part
 *     select {
 *     case res := <-resultCh:
 *         w.Write([]byte(res))
 *     case <-ctx.Done():
 *         http.Error(w, "timeout", http.StatusGatewayTimeout)
 *     }
 *
 * start returns 0, or an errno value if the work could not start (503). */
void section4_handler(struct response *w, struct request *r, int capacity,
                      int (*start)(ctx_t *ctx, chan_t *resultCh));

/* Section 五's handler, for chapters 05 and 06:
 *
 *     ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
 *     defer cancel()
 *     err := process(ctx)                        // the chapter's part
 *     if err != nil {
 *         http.Error(w, err.Error(), 500)
 *         return
 *     }
 *     w.Write([]byte("success"))
 *
 * GET /test?fail=N passes N to process: worker N (0 to 2) is to fail early.
 * Without it fail is -1; anything else is answered 400. */
enum { workerCount = 3 };
void section5_handler(struct response *w, struct request *r,
                      int (*process)(ctx_t *ctx, long fail));

#endif
