/* go func() { fn(ctx, ch) }() and go func() { fn(ctx, id, ch) }(): tl_go
 * with the thread's own references to a context and a channel, taken before
 * it starts and dropped when fn returns. Above go.c, chan.c and context.c,
 * which know nothing of it. */
#include "threadleaks/go.h"

#include <errno.h>
#include <stdlib.h>

#include "threadleaks/chan.h"
#include "threadleaks/context.h"

/* What the closure captured: the thread's own references. */
struct closure {
    void (*fn)(tl_ctx_t *ctx, tl_chan_t *ch);              /* or: */
    void (*fn_id)(tl_ctx_t *ctx, int id, tl_chan_t *ch);
    tl_ctx_t *ctx;
    int id;
    tl_chan_t *ch;
};

static void closure_free(struct closure *c)
{
    tl_ctx_release(c->ctx);
    tl_chan_release(c->ch);
    free(c);
}

static void run_closure(void *arg)
{
    struct closure *c = arg;
    if (c->fn)
        c->fn(c->ctx, c->ch);
    else
        c->fn_id(c->ctx, c->id, c->ch);
    closure_free(c);
}

static int start(struct closure *proto, const char *name, const char *func, const char *file,
                 int line)
{
    struct closure *c = malloc(sizeof *c);
    if (!c)
        return ENOMEM;
    *c = *proto;
    c->ctx = tl_ctx_ref(proto->ctx);
    c->ch = tl_chan_ref(proto->ch);
    int err = tl_go_at(name, run_closure, c, func, file, line);
    if (err)
        closure_free(c);
    return err;
}

int tl_go_with_at(const char *name, void (*fn)(tl_ctx_t *ctx, tl_chan_t *ch), tl_ctx_t *ctx,
                  tl_chan_t *ch, const char *func, const char *file, int line)
{
    struct closure c = { .fn = fn, .ctx = ctx, .ch = ch };
    return start(&c, name, func, file, line);
}

int tl_go_with_id_at(const char *name, void (*fn)(tl_ctx_t *ctx, int id, tl_chan_t *ch),
                     tl_ctx_t *ctx, int id, tl_chan_t *ch, const char *func, const char *file,
                     int line)
{
    struct closure c = { .fn_id = fn, .ctx = ctx, .id = id, .ch = ch };
    return start(&c, name, func, file, line);
}
