#include "go.h"

#include <errno.h>
#include <stdlib.h>

/* What the closure captured: the thread's own references. */
struct closure {
    void (*fn)(ctx_t *ctx, int id, chan_t *ch);
    ctx_t *ctx;
    int id;
    chan_t *ch;
};

static void closure_free(struct closure *c)
{
    ctx_release(c->ctx);
    chan_release(c->ch);
    free(c);
}

static void run_closure(void *arg)
{
    struct closure *c = arg;
    c->fn(c->ctx, c->id, c->ch);
    closure_free(c);
}

int go_with_at(const char *name, void (*fn)(ctx_t *ctx, int id, chan_t *ch), ctx_t *ctx,
               int id, chan_t *ch, const char *func, const char *file, int line)
{
    struct closure *c = malloc(sizeof *c);
    if (!c)
        return ENOMEM;
    *c = (struct closure){ fn, ctx_ref(ctx), id, chan_ref(ch) };
    int err = go_at(name, run_closure, c, func, file, line);
    if (err)
        closure_free(c);
    return err;
}
