/** @file waitgroup.h
 * waitgroup: Go's sync.WaitGroup. A WaitGroup waits for a collection of
 * threads to finish: the starter calls tl_wg_add to set how many to wait
 * for, each of them calls tl_wg_done when finished, and tl_wg_wait blocks
 * until all have. tl_wg_go does the three for one function, as Go 1.25's
 * wg.Go does.
 *
 * Where Go's zero value is ready, here a WaitGroup starts as TL_WG_INIT
 * (tl_wg_t wg = TL_WG_INIT;) and, as in Go, needs no freeing. A WaitGroup must not be copied after first use.
 *
 * Threads: add, done and wait may be called from any thread at once, under
 * Go's rule (tl_wg_add). tl_wg_init and tl_wg_destroy run alone.
 */
#ifndef THREADLEAKS_WAITGROUP_H
#define THREADLEAKS_WAITGROUP_H

#include <pthread.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A sync.WaitGroup. Its fields are the implementation's: use the
 * functions below, never the fields. */
typedef struct tl_wg {
    pthread_mutex_t mu;  /**< guards the rest */
    pthread_cond_t zero; /**< broadcast when n drops to 0 */
    int n;               /**< the counter */
    int waiters;    /**< in tl_wg_wait and not yet returned */
    unsigned round; /**< moves on each time n reaches 0 with waiters */
} tl_wg_t;

/** A WaitGroup ready to use, as Go's zero value is: tl_wg_t wg = TL_WG_INIT; */
#define TL_WG_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0 }

/** For a WaitGroup where TL_WG_INIT cannot be written (in memory from
 * malloc, or in a struct set up at run time): sets *wg up as TL_WG_INIT
 * would. Returns 0, or the error pthread_mutex_init or pthread_cond_init
 * gave. tl_wg_destroy undoes it, once no thread uses wg any more (after
 * the last tl_wg_wait has returned), before its memory is freed. */
int tl_wg_init(tl_wg_t *wg);
/** Undoes tl_wg_init, when no thread uses wg any more. */
void tl_wg_destroy(tl_wg_t *wg);

/** wg.Add(delta): adds delta, which may be negative, to the counter; when it
 * becomes zero, every tl_wg_wait returns. A negative counter panics
 * ("sync: negative WaitGroup counter"), as in Go. Call it with a positive
 * delta before starting the thread it counts, never from inside it. To reuse
 * a WaitGroup, add only after every tl_wg_wait of the round before has
 * returned: a Wait that finds the counter lifted from zero again before it
 * could return panics ("sync: WaitGroup is reused before previous Wait has
 * returned"), as Go's does. */
void tl_wg_add(tl_wg_t *wg, int delta);

/** wg.Done(): tl_wg_add(wg, -1). */
void tl_wg_done(tl_wg_t *wg);

/** wg.Wait(): blocks until the counter is zero. The census shows a waiting
 * thread in "wg_wait". */
#define tl_wg_wait(wg) tl_wg_wait_at((wg), __FILE__, __LINE__)
void tl_wg_wait_at(tl_wg_t *wg, const char *file, int line);

/** wg.Go(f): tl_wg_add(wg, 1), then fn(arg) on a new thread named name (as
 * tl_go), then tl_wg_done when fn returns. Returns 0, or the errno value
 * that kept the thread from starting (then the counter is as before). */
#define tl_wg_go(wg, name, fn, arg) \
    tl_wg_go_at((wg), (name), (fn), (arg), __func__, __FILE__, __LINE__)
int tl_wg_go_at(tl_wg_t *wg, const char *name, void (*fn)(void *arg), void *arg,
                const char *func, const char *file, int line);

#ifdef __cplusplus
}
#endif

#endif
