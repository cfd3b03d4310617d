/* The hook's dispatch (hook.h): the one hook set, and on each thread
 * started by tl_go what it keeps for that thread. The core's leaf: every
 * blocking call reports through it, and it calls nothing of the core. */
#include "threadleaks/hook.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>

#include "hook_internal.h"

static _Atomic(const struct tl_hook *) hook;
static _Thread_local const struct tl_hook *my_hook; /* the hook that knows this thread */
static _Thread_local void *hooked;                  /* and what it keeps for it */

int tl_hook_set(const struct tl_hook *h)
{
    const struct tl_hook *none = NULL;
    if (atomic_compare_exchange_strong(&hook, &none, h) || none == h)
        return 0;
    return EBUSY;
}

void tl_hook_thread_start(const char *name, struct tl_site created)
{
    my_hook = atomic_load(&hook);
    hooked = my_hook ? my_hook->start(name, created) : NULL;
}

void tl_hook_thread_exit(void)
{
    if (hooked)
        my_hook->exit(hooked);
    hooked = NULL;
}

void tl_block(enum tl_state state, const char *file, int line,
              const struct tl_chan_case *cases, int n, int64_t deadline)
{
    if (hooked)
        my_hook->block(hooked, state, file, line, cases, n, deadline);
}

void tl_unblock(void)
{
    if (hooked)
        my_hook->unblock(hooked);
}
