/* story: what the chapters' servers add around the article's code, and is
 * not the article's: the value resultCh carries and the demo's ?fail=N.
 *
 * The article's own code (handler, worker, process) is in each chapter's
 * files, in full, so that each reads beside the Go it ports.
 */
#ifndef COMMON_STORY_H
#define COMMON_STORY_H

#include <stdbool.h>

#include "server.h"

/* What resultCh carries: the article's `chan string`, as a fixed-size value. */
struct result {
    char text[64];
};

/* GET /test?fail=N asks worker N (0 to workers - 1) to fail early: *fail is
 * N, or -1 without it. Anything else is answered 400 and false returned. */
bool story_fail(const struct request *r, struct response *w, int workers, long *fail);

#endif
