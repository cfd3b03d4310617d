/** @file errgroup.h
 * errgroup: golang.org/x/sync/errgroup for threads.
 *
 * A group is a collection of threads working on subtasks of a common task.
 * tl_group_with_context returns a group and a derived context. The derived
 * context is cancelled the first time a function passed to tl_group_go returns a
 * non-zero error or the first time tl_group_wait returns, whichever occurs first.
 * Every function receives the derived context and should return once it is
 * done: that is what makes the group's threads stop together.
 *
 * Errors are errno-style ints: 0 is success.
 *
 * tl_group_go, tl_group_try_go and tl_group_wait are macros only so that the census
 * can say where a thread waits in them, and where each function's thread was
 * started; each is a plain function call.
 *
 * Threads: tl_group_go, tl_group_try_go, tl_group_set_limit and
 * tl_group_wait may be called from any thread, at the same time, as Go's;
 * several threads may wait at once, and each gets the first error.
 * tl_group_free is called once, after every wait has returned and when no
 * thread will start another function in the group.
 */
#ifndef THREADLEAKS_ERRGROUP_H
#define THREADLEAKS_ERRGROUP_H

#include <stdbool.h>

#include "context.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An errgroup.Group. */
typedef struct tl_group tl_group_t;
/** A function the group runs: returns 0, or an errno value, its error. */
typedef int (*tl_group_fn)(tl_ctx_t *ctx, void *arg);

/** errgroup.WithContext(parent). *ctx receives the derived context, borrowed
 * from the group: it is freed by tl_group_free, so a thread that may outlive
 * the group takes its own reference (tl_ctx_ref). Returns NULL with errno
 * ENOMEM when out of memory. */
tl_group_t *tl_group_with_context(tl_ctx_t *parent, tl_ctx_t **ctx);

/** new(errgroup.Group): a group with no context of its own. Its functions
 * receive tl_ctx_background(), an error cancels nothing, and tl_group_wait
 * still returns the first. Returns NULL with errno ENOMEM. */
tl_group_t *tl_group_new(void);

/** g.Go(f): calls fn(ctx, arg) on a new thread named name. The first call to
 * return a non-zero error cancels the group's context; its error will be
 * returned by tl_group_wait. Blocks while the limit set by tl_group_set_limit is
 * reached. Returns 0, or the errno value that kept the thread from starting
 * (EAGAIN, ENOMEM), which also counts as fn's error. Once fn is started,
 * arg must live until fn returns; if it could not start, arg is still the
 * caller's. */
#define tl_group_go(g, name, fn, arg) \
    tl_group_go_at((g), (name), (fn), (arg), __func__, __FILE__, __LINE__)
int tl_group_go_at(tl_group_t *g, const char *name, tl_group_fn fn, void *arg, const char *func,
                 const char *file, int line);

/** g.TryGo(f): as tl_group_go, but only if the group is below its limit; returns
 * whether fn was started. */
#define tl_group_try_go(g, name, fn, arg) \
    tl_group_try_go_at((g), (name), (fn), (arg), __func__, __FILE__, __LINE__)
bool tl_group_try_go_at(tl_group_t *g, const char *name, tl_group_fn fn, void *arg, const char *func,
                     const char *file, int line);

/** g.SetLimit(n): at most n functions run at once; a negative n means no limit.
 * Returns 0, or EBUSY while functions are running (Go panics). */
int tl_group_set_limit(tl_group_t *g, int n);

/** g.Wait(): blocks until every function started with tl_group_go has returned,
 * then returns the first non-zero error (or 0) from them. */
#define tl_group_wait(g) tl_group_wait_at((g), __FILE__, __LINE__)
int tl_group_wait_at(tl_group_t *g, const char *file, int line);

/** Cancels and releases the derived context and frees g. Call after
 * tl_group_wait. */
void tl_group_free(tl_group_t *g);

#ifdef __cplusplus
}
#endif

#endif
