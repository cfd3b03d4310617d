/* errgroup, after golang.org/x/sync/errgroup/errgroup.go: a counter of running
 * functions (Go's WaitGroup plus its semaphore for the limit) under one mutex,
 * and the first error. */
#include "errgroup.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "census.h"
#include "go.h"

struct group {
    pthread_mutex_t mu;
    pthread_cond_t changed; /* a function returned, or the limit changed */
    ctx_t *ctx;
    int limit;   /* -1: none */
    int active;  /* functions started and not yet returned */
    int err;     /* the first non-zero error */
};

struct task {
    group_t *g;
    group_fn fn;
    void *arg;
};

group_t *group_with_context(ctx_t *parent, ctx_t **ctx)
{
    group_t *g = calloc(1, sizeof *g);
    if (!g || !(g->ctx = ctx_with_cancel(parent))) {
        free(g);
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->changed, NULL);
    g->limit = -1;
    *ctx = g->ctx;
    return g;
}

/* A function has returned err: the first error cancels the context. */
static void finish(group_t *g, int err)
{
    pthread_mutex_lock(&g->mu);
    if (err && !g->err) {
        g->err = err;
        ctx_cancel_cause(g->ctx, err);
    }
    g->active--;
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->mu);
}

static void run(void *arg)
{
    struct task t = *(struct task *)arg;
    free(arg);
    finish(t.g, t.fn(t.g->ctx, t.arg));
}

/* Where group_go was called, for the census's "created by". */
struct site {
    const char *func, *file;
    int line;
};

/* Starts fn on a thread; active has already been counted for it. */
static void start(group_t *g, const char *name, group_fn fn, void *arg, struct site at)
{
    struct task *t = malloc(sizeof *t);
    if (!t) {
        finish(g, ENOMEM);
        return;
    }
    *t = (struct task){ g, fn, arg };
    int rc = go_at(name, run, t, at.func, at.file, at.line);
    if (rc != 0) {
        free(t);
        finish(g, rc);
    }
}

void group_go_at(group_t *g, const char *name, group_fn fn, void *arg, const char *func,
                 const char *file, int line)
{
    pthread_mutex_lock(&g->mu);
    if (g->limit >= 0 && g->active >= g->limit) {
        census_block(CENSUS_GROUP_GO, file, line, NULL, 0, -1);
        while (g->limit >= 0 && g->active >= g->limit)
            pthread_cond_wait(&g->changed, &g->mu);
        census_unblock();
    }
    g->active++;
    pthread_mutex_unlock(&g->mu);
    start(g, name, fn, arg, (struct site){ func, file, line });
}

bool group_try_go_at(group_t *g, const char *name, group_fn fn, void *arg, const char *func,
                     const char *file, int line)
{
    pthread_mutex_lock(&g->mu);
    bool room = g->limit < 0 || g->active < g->limit;
    if (room)
        g->active++;
    pthread_mutex_unlock(&g->mu);
    if (room)
        start(g, name, fn, arg, (struct site){ func, file, line });
    return room;
}

int group_set_limit(group_t *g, int n)
{
    pthread_mutex_lock(&g->mu);
    int busy = g->active > 0;
    if (!busy) {
        g->limit = n < 0 ? -1 : n;
        pthread_cond_broadcast(&g->changed);
    }
    pthread_mutex_unlock(&g->mu);
    if (busy) {
        errno = EBUSY;
        return -1;
    }
    return 0;
}

int group_wait_at(group_t *g, const char *file, int line)
{
    pthread_mutex_lock(&g->mu);
    if (g->active > 0) {
        census_block(CENSUS_GROUP_WAIT, file, line, NULL, 0, -1);
        while (g->active > 0)
            pthread_cond_wait(&g->changed, &g->mu);
        census_unblock();
    }
    int err = g->err;
    pthread_mutex_unlock(&g->mu);
    ctx_cancel_cause(g->ctx, err);
    return err;
}

void group_free(group_t *g)
{
    if (!g)
        return;
    ctx_cancel(g->ctx);
    ctx_release(g->ctx);
    pthread_cond_destroy(&g->changed);
    pthread_mutex_destroy(&g->mu);
    free(g);
}
