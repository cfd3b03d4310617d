/* WaitGroup: a counter under a mutex, a condition for its zero, and a round
 * number that the zero moves on, so that a Wait returns once its round is
 * over and can tell when an Add started the next one before it returned. */
#include "threadleaks/waitgroup.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "threadleaks/go.h"
#include "threadleaks/hook.h"
#include "threadleaks/panic.h"

int tl_wg_init(tl_wg_t *wg)
{
    int err = pthread_mutex_init(&wg->mu, NULL);
    if (err)
        return err;
    if ((err = pthread_cond_init(&wg->zero, NULL)) != 0) {
        pthread_mutex_destroy(&wg->mu);
        return err;
    }
    wg->n = wg->waiters = 0;
    wg->round = 0;
    return 0;
}

void tl_wg_destroy(tl_wg_t *wg)
{
    pthread_cond_destroy(&wg->zero);
    pthread_mutex_destroy(&wg->mu);
}

void tl_wg_add(tl_wg_t *wg, int delta)
{
    pthread_mutex_lock(&wg->mu);
    int n = wg->n += delta;
    if (n == 0 && wg->waiters > 0) {
        wg->round++; /* the Waits of this round may return */
        pthread_cond_broadcast(&wg->zero);
    }
    pthread_mutex_unlock(&wg->mu);
    if (n < 0)
        tl_go_panic("sync: negative WaitGroup counter", NULL, 0);
}

void tl_wg_done(tl_wg_t *wg)
{
    tl_wg_add(wg, -1);
}

void tl_wg_wait_at(tl_wg_t *wg, const char *file, int line)
{
    pthread_mutex_lock(&wg->mu);
    bool reused = false;
    if (wg->n > 0) {
        unsigned round = wg->round;
        wg->waiters++;
        tl_block(TL_STATE_WG_WAIT, file, line, NULL, 0, -1);
        while (wg->round == round)
            pthread_cond_wait(&wg->zero, &wg->mu);
        tl_unblock();
        wg->waiters--;
        /* The counter reached zero for this Wait, and someone has already
         * added again before it returned: Go's misuse, said in its words. */
        reused = wg->n != 0;
    }
    pthread_mutex_unlock(&wg->mu);
    if (reused)
        tl_go_panic("sync: WaitGroup is reused before previous Wait has returned", file, line);
}

struct wg_task {
    tl_wg_t *wg;
    void (*fn)(void *arg);
    void *arg;
};

static void run_then_done(void *p)
{
    struct wg_task t = *(struct wg_task *)p;
    free(p);
    t.fn(t.arg);
    tl_wg_done(t.wg);
}

int tl_wg_go_at(tl_wg_t *wg, const char *name, void (*fn)(void *arg), void *arg,
                const char *func, const char *file, int line)
{
    struct wg_task *t = malloc(sizeof *t);
    if (!t)
        return ENOMEM;
    *t = (struct wg_task){ wg, fn, arg };
    tl_wg_add(wg, 1);
    int err = tl_go_at(name, run_then_done, t, func, file, line);
    if (err) {
        free(t);
        tl_wg_add(wg, -1);
    }
    return err;
}
