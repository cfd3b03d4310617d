/** @file go.h
 * go: Go's `go` statement. Starts fn(arg) on a new thread of its own.
 *
 * The thread is detached, as a goroutine is: nobody joins it, so it must have
 * a way out of its own. It carries name (at most 15 bytes are kept) in the
 * kernel, so `top -H`, `ps -L` and gdb's `info threads` show it, and it tells
 * the hook (hook.h) what it does: once the census has started (census.h),
 * the census can say where it was started and where it is blocked.
 *
 * Threads: every function may be called from any thread at once.
 */
#ifndef THREADLEAKS_GO_H
#define THREADLEAKS_GO_H

#include <stddef.h>
#include <stdint.h>

#include "chan.h"
#include "context.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Returns 0 once the thread is started, or the error pthread_create gave
 * (EAGAIN when the system is out of threads); then fn never runs and arg is
 * still the caller's to free. A macro so that the census can say, as pprof's
 * "created by" does, which function started the thread, at which file:line. */
#define tl_go(name, fn, arg) tl_go_at((name), (fn), (arg), __func__, __FILE__, __LINE__)
int tl_go_at(const char *name, void (*fn)(void *arg), void *arg, const char *func,
          const char *file, int line);

/** go func() { fn(ctx, ch) }(): the C shape of a Go closure that captured a
 * context and a channel. Starts fn(ctx, ch) on a new thread named name; the
 * thread holds its own references to ctx and ch (either may be NULL) while
 * fn runs and drops them when fn returns, so it may safely outlive its
 * caller. Returns 0, or an errno value (then fn never runs and nothing was
 * taken). */
#define tl_go_with(name, fn, ctx, ch) \
    tl_go_with_at((name), (fn), (ctx), (ch), __func__, __FILE__, __LINE__)
int tl_go_with_at(const char *name, void (*fn)(tl_ctx_t *ctx, tl_chan_t *ch), tl_ctx_t *ctx,
                  tl_chan_t *ch, const char *func, const char *file, int line);

/** The same for a closure that also captured its loop's i, as the article's
 * fan-out does: go func(id int) { ... }(i). */
#define tl_go_with_id(name, fn, ctx, id, ch) \
    tl_go_with_id_at((name), (fn), (ctx), (id), (ch), __func__, __FILE__, __LINE__)
int tl_go_with_id_at(const char *name, void (*fn)(tl_ctx_t *ctx, int id, tl_chan_t *ch),
                     tl_ctx_t *ctx, int id, tl_chan_t *ch, const char *func, const char *file,
                     int line);

/** go func() { ... }() for a closure that captured more: a context, an
 * input and an output channel, an index, and one pointer of its own, as a
 * pipeline's stage does. Starts fn(c) on a new thread named name, c being
 * the thread's own copy of the captures. The thread holds its own
 * references to c->ctx, c->in and c->out (any may be NULL) while fn runs
 * and drops them when fn returns; then, if c->free_arg is set, it calls
 * c->free_arg(c->arg). Returns 0, or an errno value: then fn never runs,
 * nothing was taken, and arg is still the caller's.
 *     tl_go_closure("sq", sq_stage, .ctx = ctx, .in = in, .out = out);
 * Name at least one capture. The macro is C only (a compound literal):
 * C++ calls tl_go_closure_at. */
struct tl_closure {
    tl_ctx_t *ctx;               /**< the context (the thread holds a reference) */
    tl_chan_t *in;               /**< a channel it reads (the thread holds a reference) */
    tl_chan_t *out;              /**< a channel it writes (the thread holds a reference) */
    int id;                      /**< the loop's i of go func(id int) */
    void *arg;                   /**< anything else, freed by free_arg if it is set */
    void (*free_arg)(void *arg); /**< called on arg once fn has returned, or NULL */
};
/** Starts fn(&captures) on a new thread: see struct tl_closure. */
#define tl_go_closure(name, fn, ...)                                            \
    tl_go_closure_at((name), (fn), &(struct tl_closure){ __VA_ARGS__ }, __func__, \
                     __FILE__, __LINE__)
int tl_go_closure_at(const char *name, void (*fn)(const struct tl_closure *c),
                     const struct tl_closure *c, const char *func, const char *file, int line);

/** How many calls to tl_go (and tl_go_with) on the calling thread have
 * failed to start a thread, so far: a server can tell from it that a
 * request's handler met one, whatever the handler made of the error (the
 * workshop's server answers 503). */
int tl_go_start_failures(void);

/** The stack each new thread gets: 256 KiB (times 4 under a sanitizer, whose
 * frames are larger), with glibc's guard page below it, so that a thread
 * that overruns it dies of SIGSEGV at once. Go's stacks grow; these do not,
 * so a thread that needs more must ask before it is started. */
enum { TL_GO_STACK_SIZE = 256 * 1024 };

/** Sets the stack size for threads started from now on, in bytes: from
 * PTHREAD_STACK_MIN to 1 GiB. Returns 0, or EINVAL. */
int tl_go_set_stack_size(size_t bytes);
/** The stack size, in bytes, that threads started from now on get. */
size_t tl_go_stack_size(void);

/** How many threads started with go are still running fn. */
int tl_go_running(void);

/** Waits until no thread started with go is running fn, or the deadline
 * (clock.h) passes. Returns how many are still running. For shutdown: the
 * threads must first be told to stop (cancel their contexts). The census
 * shows a waiting thread in "wait_all". */
#define tl_go_wait_all(deadline) tl_go_wait_all_at((deadline), __FILE__, __LINE__)
int tl_go_wait_all_at(int64_t deadline, const char *file, int line);

#ifdef __cplusplus
}
#endif

#endif
