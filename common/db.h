/* db: a downstream call over a real socket, as db.QueryContext(ctx, query).
 *
 * Connects to addr ("HOST:PORT", numeric), sends query and a newline, and
 * waits for one line of answer, watching ctx all along: the wait ends when
 * the answer comes or when ctx is done, whichever is first. The socket is
 * closed either way. The census shows a waiting thread in "io".
 *
 * Under ctx_background() nothing can end the wait but the answer: that is
 * chapter 03's leak.
 */
#ifndef COMMON_DB_H
#define COMMON_DB_H

#include <stdbool.h>
#include <stddef.h>

#include "context.h"

/* Whether addr is a numeric "IPV4:PORT" that db_query accepts. */
bool db_addr_ok(const char *addr);

/* Returns 0 with the answer's line (without its newline) in answer; or -1
 * with errno ECANCELED or ETIMEDOUT (from ctx), ECONNRESET if the database
 * closed the connection, EINVAL for a bad addr, or a socket error. */
#define db_query(ctx, addr, query, answer, size) \
    db_query_at((ctx), (addr), (query), (answer), (size), __FILE__, __LINE__)
int db_query_at(ctx_t *ctx, const char *addr, const char *query, char *answer, size_t size,
                const char *file, int line);

#endif
