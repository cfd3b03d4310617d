#include "story.h"

#include <stdio.h>

bool story_fail(const struct request *r, struct response *w, int workers, long *fail)
{
    if (request_query_int(r, "fail", 0, workers - 1, -1, fail))
        return true;
    char why[64];
    snprintf(why, sizeof why, "fail takes a worker number: 0 to %d", workers - 1);
    http_error(w, why, 400);
    return false;
}
