/* What context.c, timer.c and census.c need from chan.c, and nothing else
 * should. */
#ifndef THREADLEAKS_CHAN_INTERNAL_H
#define THREADLEAKS_CHAN_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "threadleaks/chan.h"

/* Makes ch change by itself at time at: whoever waits on ch wakes then and
 * calls wake(arg, due) outside every lock, due being at. -1 cancels. A thread already waiting
 * on ch wakes at the new time if it is sooner than the old. A context's done
 * channel uses this for its deadline (wake expires the context), a timer for
 * its fire. The caller holds no lock of ch's. */
void tl_chan_set_wake(tl_chan_t *ch, int64_t at, void (*wake)(void *arg, int64_t due), void *arg);

/* A send and a receive that never wait and never run a due wake, so a wake
 * function may call them under a lock of its own: true if *val was sent
 * (false on a full or closed channel), or a value was taken into val (which
 * may be NULL). */
bool tl_chan_offer(tl_chan_t *ch, const void *val);
bool tl_chan_take(tl_chan_t *ch, void *val);

/* Calls on_free(arg) when ch is freed. Set before ch is shared: a context's
 * memory lives as long as its done channel, whose wake may still expire it. */
void tl_chan_set_free(tl_chan_t *ch, void (*on_free)(void *arg), void *arg);

/* Marks ch as a context's done channel, which the census never calls
 * abandoned: whoever holds the context may still cancel it. */
void tl_chan_mark_done(tl_chan_t *ch);

/* How many references ch has now. Only a count that no other thread can
 * raise means anything: one made of holds the caller knows all of. */
int tl_chan_refs(tl_chan_t *ch);


#endif
