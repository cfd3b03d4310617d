/* fetch: ask a slow backend for a number and give up after timeout_ms, the
 * article's chapter 02 in miniature. Both return 0 with *answer set, or
 * ETIMEDOUT when the backend was slower than timeout_ms. */
#ifndef FETCH_H
#define FETCH_H

#include <stdint.h>

#include <threadleaks/context.h>

/* How long the backend takes to answer. */
extern int64_t backend_ms;

/* The leaky way: the backend's thread sends on an unbuffered channel that
 * nobody receives from after a timeout, so it blocks for ever. */
int fetch_leaky(int64_t timeout_ms, int *answer);

/* The fixed way: the thread watches ctx (cancelled on return) and sends on
 * a channel with room for its one answer, so it always has a way out. */
int fetch(tl_ctx_t *parent, int64_t timeout_ms, int *answer);

#endif
