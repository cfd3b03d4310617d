/* go func() { ... }() in its C shapes: tl_go with the thread's own
 * references to what the closure captured (a context and channels), taken
 * before it starts and dropped when fn returns. Above go.c, chan.c and
 * context.c, which know nothing of it. */
#include "threadleaks/go.h"

#include <errno.h>
#include <stdlib.h>

#include "threadleaks/chan.h"
#include "threadleaks/context.h"

/* What the thread captured, and which of the three shapes runs it. */
struct closure {
    struct tl_closure c;
    void (*fn)(const struct tl_closure *c);               /* or: */
    void (*fn_ch)(tl_ctx_t *ctx, tl_chan_t *ch);          /* c.out is ch; or: */
    void (*fn_id)(tl_ctx_t *ctx, int id, tl_chan_t *ch);
};

static void closure_free(struct closure *t)
{
    tl_ctx_release(t->c.ctx);
    tl_chan_release(t->c.in);
    tl_chan_release(t->c.out);
    free(t);
}

static void run_closure(void *arg)
{
    struct closure *t = arg;
    if (t->fn)
        t->fn(&t->c);
    else if (t->fn_ch)
        t->fn_ch(t->c.ctx, t->c.out);
    else
        t->fn_id(t->c.ctx, t->c.id, t->c.out);
    if (t->c.free_arg)
        t->c.free_arg(t->c.arg);
    closure_free(t);
}

static int start(const struct closure *proto, const char *name, const char *func,
                 const char *file, int line)
{
    struct closure *t = malloc(sizeof *t);
    if (!t)
        return ENOMEM;
    *t = *proto;
    tl_ctx_ref(t->c.ctx);
    tl_chan_ref(t->c.in);
    tl_chan_ref(t->c.out);
    int err = tl_go_at(name, run_closure, t, func, file, line);
    if (err)
        closure_free(t); /* not free_arg: arg is still the caller's */
    return err;
}

int tl_go_closure_at(const char *name, void (*fn)(const struct tl_closure *c),
                     const struct tl_closure *c, const char *func, const char *file, int line)
{
    struct closure t = { .c = *c, .fn = fn };
    return start(&t, name, func, file, line);
}

int tl_go_with_at(const char *name, void (*fn)(tl_ctx_t *ctx, tl_chan_t *ch), tl_ctx_t *ctx,
                  tl_chan_t *ch, const char *func, const char *file, int line)
{
    struct closure t = { .c = { .ctx = ctx, .out = ch }, .fn_ch = fn };
    return start(&t, name, func, file, line);
}

int tl_go_with_id_at(const char *name, void (*fn)(tl_ctx_t *ctx, int id, tl_chan_t *ch),
                     tl_ctx_t *ctx, int id, tl_chan_t *ch, const char *func, const char *file,
                     int line)
{
    struct closure t = { .c = { .ctx = ctx, .id = id, .out = ch }, .fn_id = fn };
    return start(&t, name, func, file, line);
}
