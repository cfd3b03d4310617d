/* With a hook of someone else's set, the leak check refuses to start
 * (EBUSY) rather than report leaks without their start sites. Plain C. */
#include <errno.h>
#include <stdio.h>

#include "threadleaks/hook.h"
#include "threadleaks/leakcheck.h"

static void *start(const char *name, struct tl_site created)
{
    (void)name, (void)created;
    return NULL;
}

static void block(void *t, enum tl_state s, const char *f, int l, const struct tl_chan_case *c,
                  int n, int64_t d)
{
    (void)t, (void)s, (void)f, (void)l, (void)c, (void)n, (void)d;
}

static void unblock_or_exit(void *t)
{
    (void)t;
}

static const struct tl_hook mine = { start, block, unblock_or_exit, unblock_or_exit };

int main(void)
{
    if (tl_hook_set(&mine) != 0) {
        fprintf(stderr, "could not set the hook\n");
        return 1;
    }
    errno = 0;
    tl_leakcheck_t *check = tl_leakcheck_begin();
    if (check || errno != EBUSY) {
        fprintf(stderr, "tl_leakcheck_begin: %p, errno %d; want NULL and EBUSY\n",
                (void *)check, errno);
        return 1;
    }
    puts("leak check: refused beside another hook (EBUSY)");
    return 0;
}
