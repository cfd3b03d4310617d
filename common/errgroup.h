/* errgroup: golang.org/x/sync/errgroup for threads.
 *
 * A group is a collection of threads working on subtasks of a common task.
 * group_with_context returns a group and a derived context. The derived
 * context is cancelled the first time a function passed to group_go returns a
 * non-zero error or the first time group_wait returns, whichever occurs first.
 * Every function receives the derived context and should return once it is
 * done: that is what makes the group's threads stop together.
 *
 * Errors are errno-style ints: 0 is success.
 *
 * group_go, group_try_go and group_wait are macros only so that the census
 * can say where a thread waits in them, and where each function's thread was
 * started; each is a plain function call.
 */
#ifndef COMMON_ERRGROUP_H
#define COMMON_ERRGROUP_H

#include <stdbool.h>

#include "context.h"

typedef struct group group_t;
typedef int (*group_fn)(ctx_t *ctx, void *arg);

/* errgroup.WithContext(parent). *ctx receives the derived context, owned by
 * the group: valid until group_free. Returns NULL with errno ENOMEM when out
 * of memory. */
group_t *group_with_context(ctx_t *parent, ctx_t **ctx);

/* g.Go(f): calls fn(ctx, arg) on a new thread named name. The first call to
 * return a non-zero error cancels the group's context; its error will be
 * returned by group_wait. Blocks while the limit set by group_set_limit is
 * reached. If the thread cannot be started, that counts as fn returning the
 * error (EAGAIN). */
#define group_go(g, name, fn, arg) \
    group_go_at((g), (name), (fn), (arg), __func__, __FILE__, __LINE__)
void group_go_at(group_t *g, const char *name, group_fn fn, void *arg, const char *func,
                 const char *file, int line);

/* g.TryGo(f): as group_go, but only if the group is below its limit; returns
 * whether fn was started. */
#define group_try_go(g, name, fn, arg) \
    group_try_go_at((g), (name), (fn), (arg), __func__, __FILE__, __LINE__)
bool group_try_go_at(group_t *g, const char *name, group_fn fn, void *arg, const char *func,
                     const char *file, int line);

/* g.SetLimit(n): at most n functions run at once; a negative n means no limit.
 * Returns 0, or -1 with errno EBUSY while functions are running (Go panics). */
int group_set_limit(group_t *g, int n);

/* g.Wait(): blocks until every function started with group_go has returned,
 * then returns the first non-zero error (or 0) from them. */
#define group_wait(g) group_wait_at((g), __FILE__, __LINE__)
int group_wait_at(group_t *g, const char *file, int line);

/* Cancels and releases the derived context and frees g. Call after
 * group_wait. */
void group_free(group_t *g);

#endif
