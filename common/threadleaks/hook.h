/** @file hook.h
 * hook: how a layer above the core learns what the threads started with
 * tl_go() do: each one's start, blocks, wakes and exit. The census
 * (census.h) is such a layer; without one the core works the same, and
 * tl_block costs a test of a thread-local pointer.
 *
 * One hook at a time, set once. It sees the threads started after it is
 * set, and each of its functions runs on the thread it concerns.
 *
 * Threads: tl_hook_set may be called from any thread; tl_block and
 * tl_unblock speak for the calling thread; tl_chan_abandoned locks the
 * channel it asks about, and may be called from any thread.
 */
#ifndef THREADLEAKS_HOOK_H
#define THREADLEAKS_HOOK_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What a thread is doing, as the census's dump names it. */
enum tl_state {
    TL_STATE_RUNNING,    /**< not blocked */
    TL_STATE_CHAN_SEND,  /**< in tl_chan_send */
    TL_STATE_CHAN_RECV,  /**< in tl_chan_recv */
    TL_STATE_SELECT,     /**< in tl_chan_select */
    TL_STATE_SLEEP,      /**< in tl_time_sleep */
    TL_STATE_IO,         /**< in tl_ctx_poll */
    TL_STATE_GROUP_WAIT, /**< in tl_group_wait */
    TL_STATE_GROUP_GO,   /**< in tl_group_go, waiting for room under the limit */
    TL_STATE_WAIT_ALL,   /**< in tl_go_wait_all */
    TL_STATE_WG_WAIT,    /**< in tl_wg_wait */
};

/** Where tl_go() was called: pprof's "created by". */
struct tl_site {
    const char *func; /**< the function that called tl_go() */
    const char *file; /**< its file */
    int line;         /**< and line */
};

struct tl_chan_case;

/** All four functions are required. */
struct tl_hook {
    /** On the new thread, before its function runs: returns what the hook
     * keeps for the thread, handed to the other three; NULL to leave the
     * thread alone. */
    void *(*start)(const char *name, struct tl_site created);
    /** The thread blocks in state at file:line, waiting on the n cases'
     * channels (n may be 0) until deadline (clock.h); then it runs again. */
    void (*block)(void *thread, enum tl_state state, const char *file, int line,
                  const struct tl_chan_case *cases, int n, int64_t deadline);
    /** The thread runs again after a block. */
    void (*unblock)(void *thread);
    /** The thread's function has returned; the thread ends next. */
    void (*exit)(void *thread);
};

/** Sets the hook for threads started from now on. Returns 0, or EBUSY if a
 * different hook is set already. */
int tl_hook_set(const struct tl_hook *hook);

/** For blocking calls, the core's and your own: tell the hook that the calling
 * thread blocks (see struct tl_hook), and that it runs again. A no-op on a
 * thread the hook does not know. */
void tl_block(enum tl_state state, const char *file, int line,
              const struct tl_chan_case *cases, int n, int64_t deadline);
/** The calling thread runs again (see tl_block). */
void tl_unblock(void);

struct tl_chan;
/** For a hook that judges leaks, as the census does: true when nothing but
 * the threads blocked on ch can ever touch it again (every reference to it
 * belongs to a thread blocked on it, and no wake-up is due), so none of
 * them can ever wake through ch. Locks ch for a moment. */
bool tl_chan_abandoned(struct tl_chan *ch);

#ifdef __cplusplus
}
#endif

#endif
