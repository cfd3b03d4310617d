/* errgroup, after golang.org/x/sync/errgroup/errgroup.go: a counter of running
 * functions (Go's WaitGroup plus its semaphore for the limit) under one mutex,
 * and the first error. */
#include "threadleaks/errgroup.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "threadleaks/hook.h"
#include "threadleaks/go.h"

struct tl_group {
    pthread_mutex_t mu;
    pthread_cond_t changed; /* a function returned, or the limit changed */
    tl_ctx_t *ctx; /* NULL for tl_group_new's groups */
    int limit;   /* -1: none */
    int active;  /* functions started and not yet returned */
    int err;     /* the first non-zero error */
};

struct task {
    tl_group_t *g;
    tl_group_fn fn;
    void *arg;
};

tl_group_t *tl_group_new(void)
{
    tl_group_t *g = calloc(1, sizeof *g);
    if (!g) {
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->changed, NULL);
    g->limit = -1;
    return g;
}

tl_group_t *tl_group_with_context(tl_ctx_t *parent, tl_ctx_t **ctx)
{
    tl_group_t *g = tl_group_new();
    if (g && !(g->ctx = tl_ctx_with_cancel(parent))) {
        tl_group_free(g);
        errno = ENOMEM;
        return NULL;
    }
    if (g)
        *ctx = g->ctx;
    return g;
}

/* A function has returned err: the first error cancels the context. */
static void finish(tl_group_t *g, int err)
{
    pthread_mutex_lock(&g->mu);
    if (err && !g->err) {
        g->err = err;
        if (g->ctx)
            tl_ctx_cancel_cause(g->ctx, err);
    }
    g->active--;
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->mu);
}

static void run(void *arg)
{
    struct task t = *(struct task *)arg;
    free(arg);
    finish(t.g, t.fn(t.g->ctx ? t.g->ctx : tl_ctx_background(), t.arg));
}

/* Starts fn on a thread, started from at (the census's "created by");
 * active has already been counted for it. */
static int start(tl_group_t *g, const char *name, tl_group_fn fn, void *arg, struct tl_site at)
{
    struct task *t = malloc(sizeof *t);
    if (!t) {
        finish(g, ENOMEM);
        return ENOMEM;
    }
    *t = (struct task){ g, fn, arg };
    int rc = tl_go_at(name, run, t, at.func, at.file, at.line);
    if (rc != 0) {
        free(t);
        finish(g, rc);
    }
    return rc;
}

int tl_group_go_at(tl_group_t *g, const char *name, tl_group_fn fn, void *arg, const char *func,
                 const char *file, int line)
{
    pthread_mutex_lock(&g->mu);
    if (g->limit >= 0 && g->active >= g->limit) {
        tl_block(TL_STATE_GROUP_GO, file, line, NULL, 0, -1);
        while (g->limit >= 0 && g->active >= g->limit)
            pthread_cond_wait(&g->changed, &g->mu);
        tl_unblock();
    }
    g->active++;
    pthread_mutex_unlock(&g->mu);
    return start(g, name, fn, arg, (struct tl_site){ func, file, line });
}

bool tl_group_try_go_at(tl_group_t *g, const char *name, tl_group_fn fn, void *arg, const char *func,
                     const char *file, int line)
{
    pthread_mutex_lock(&g->mu);
    bool room = g->limit < 0 || g->active < g->limit;
    if (room)
        g->active++;
    pthread_mutex_unlock(&g->mu);
    /* A start that failed counts as fn's error (start saw to it), and fn
     * was not started. */
    return room && start(g, name, fn, arg, (struct tl_site){ func, file, line }) == 0;
}

int tl_group_set_limit(tl_group_t *g, int n)
{
    pthread_mutex_lock(&g->mu);
    int busy = g->active > 0;
    if (!busy) {
        g->limit = n < 0 ? -1 : n;
        pthread_cond_broadcast(&g->changed);
    }
    pthread_mutex_unlock(&g->mu);
    return busy ? EBUSY : 0;
}

int tl_group_wait_at(tl_group_t *g, const char *file, int line)
{
    pthread_mutex_lock(&g->mu);
    if (g->active > 0) {
        tl_block(TL_STATE_GROUP_WAIT, file, line, NULL, 0, -1);
        while (g->active > 0)
            pthread_cond_wait(&g->changed, &g->mu);
        tl_unblock();
    }
    int err = g->err;
    pthread_mutex_unlock(&g->mu);
    if (g->ctx)
        tl_ctx_cancel_cause(g->ctx, err);
    return err;
}

void tl_group_free(tl_group_t *g)
{
    if (!g)
        return;
    tl_ctx_cancel(g->ctx);
    tl_ctx_release(g->ctx);
    pthread_cond_destroy(&g->changed);
    pthread_mutex_destroy(&g->mu);
    free(g);
}
