/** @file context.h
 * context: Go's context.Context for threads: cancellation and deadlines that
 * travel down a tree of work.
 *
 * A context is done once it is cancelled or its deadline passes. Then its
 * done channel is closed, its file descriptor becomes readable, tl_ctx_err says
 * why, and every context derived from it is done too. Nothing flows upward:
 * cancelling a child leaves its parent alone.
 *
 * The rules a caller follows, as in Go:
 * - Pass the context to every function and thread that does work for the
 *   request, and have every blocking wait watch it (select on tl_ctx_done, or poll
 *   tl_ctx_fd beside a socket). A thread that does not watch it cannot be stopped.
 * - Never use tl_ctx_background() inside a request: a context derived from it is
 *   cancelled only by its own cancel, so a hang-up no longer reaches it.
 * - Whoever creates a context with tl_ctx_with_cancel/_timeout/_deadline cancels
 *   it when the work is done (Go's `defer cancel()`): tl_ctx_cancel, then
 *   tl_ctx_release. A context released without a cancel is freed as Go's
 *   collector would free it, unless a thread still waits on its done channel:
 *   then it stays in its parent until the parent is cancelled, as in Go.
 *
 * C adds lifetimes. A context is reference counted: the creator holds one
 * reference, and a thread that may outlive the creator takes its own with
 * tl_ctx_ref and drops it with tl_ctx_release. A child holds a reference on its
 * parent until its memory goes. A deadline costs no thread and no timer:
 * waiters wake at the deadline themselves, and a cancelled and released
 * context leaves nothing behind.
 *
 * Threads: every function may be called from any thread at once.
 */
#ifndef THREADLEAKS_CONTEXT_H
#define THREADLEAKS_CONTEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "chan.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A context.Context: made by the tl_ctx_with_ functions, reference counted. */
typedef struct tl_ctx tl_ctx_t;

/** context.Background(): never cancelled, has no deadline, lives for ever.
 * tl_ctx_ref and tl_ctx_release on it do nothing. */
tl_ctx_t *tl_ctx_background(void);

/** context.WithCancel(parent): a child that is done when tl_ctx_cancel is called
 * on it or when parent is done, whichever happens first. Returns NULL with
 * errno ENOMEM when out of memory. A NULL parent panics, as in Go. */
tl_ctx_t *tl_ctx_with_cancel(tl_ctx_t *parent);

/** context.WithDeadline(parent, d): also done at the absolute deadline (clock.h).
 * If parent's deadline is earlier, the child's is the parent's. Returns NULL
 * with errno ENOMEM, as tl_ctx_with_cancel does; so does WithTimeout. */
tl_ctx_t *tl_ctx_with_deadline(tl_ctx_t *parent, int64_t deadline);

/** context.WithTimeout(parent, ms): tl_ctx_with_deadline(parent, now + ms). */
tl_ctx_t *tl_ctx_with_timeout(tl_ctx_t *parent, int64_t ms);

/** context.WithValue(parent, key, value): a child that carries value under
 * key and is done when parent is. Keys are compared by address, so use the
 * address of a static object of your own, as Go code uses an unexported
 * type: no other package's key can equal it. value is borrowed: it must
 * outlive the context. A NULL key panics ("nil key"), as in Go. Returns
 * NULL with errno ENOMEM. tl_ctx_cancel on it does nothing. */
tl_ctx_t *tl_ctx_with_value(tl_ctx_t *parent, const void *key, void *value);

/** ctx.Value(key): the value of the nearest context from ctx up to the root
 * that carries key, or NULL. */
void *tl_ctx_value(tl_ctx_t *ctx, const void *key);

/** context.WithoutCancel(parent): a child that carries parent's values but
 * is never done: no deadline, a NULL done channel, err 0, whatever happens
 * to parent. For work that must finish after the request that began it.
 * Returns NULL with errno ENOMEM. tl_ctx_cancel on it does nothing. */
tl_ctx_t *tl_ctx_without_cancel(tl_ctx_t *parent);

/** context.AfterFunc(ctx, f): once ctx is done, calls f(arg) on a thread of
 * its own (at once if ctx is done already). Returns 0, or an errno value if
 * the thread cannot be started (then f never runs and *stop is NULL). If
 * stop is not NULL, *stop receives Go's stop function: call
 * tl_after_stop(*stop) exactly once. As in Go, the cancel that makes ctx
 * done settles that f runs: a stop after it returns false.
 * Unlike Go, waiting costs a thread until ctx is done or stop is called (a
 * context that is never done costs none, and f never runs): a leak check
 * reports an AfterFunc whose context is never cancelled and never stopped,
 * named "after_func" and created where tl_ctx_after_func was called. */
/** What stops an AfterFunc: tl_after_stop. */
typedef struct tl_after tl_after_t;
/** context.AfterFunc: see above. */
#define tl_ctx_after_func(ctx, f, arg, stop) \
    tl_ctx_after_func_at((ctx), (f), (arg), (stop), __func__, __FILE__, __LINE__)
int tl_ctx_after_func_at(tl_ctx_t *ctx, void (*f)(void *arg), void *arg, tl_after_t **stop,
                         const char *func, const char *file, int line);

/** stop(): stops f from being run. Returns true if this call stopped it;
 * false if ctx was done and f has been started on its thread (stop does not
 * wait for f to finish). Frees stop. */
bool tl_after_stop(tl_after_t *stop);

/** The CancelFunc: cancels ctx and its descendants with err ECANCELED, and
 * removes ctx from its parent. After the first call, later calls do nothing.
 * A deadline that has passed came first: then the error is ETIMEDOUT, as in
 * Go, where the deadline's timer would already have fired. */
void tl_ctx_cancel(tl_ctx_t *ctx);

/** context.WithCancelCause's cancel(cause): as tl_ctx_cancel, and tl_ctx_cause then
 * returns cause (a non-zero errno-style value; 0 means ECANCELED). */
void tl_ctx_cancel_cause(tl_ctx_t *ctx, int cause);

/** Adds a reference and returns ctx, so that tl_ctx_ref(ctx) can be handed over. */
tl_ctx_t *tl_ctx_ref(tl_ctx_t *ctx);

/** Drops a reference. NULL is ignored. After the last one ctx cannot be
 * used. A ctx that was never cancelled then leaves its parent at once if no
 * thread holds its done channel (nobody could see it cancelled); if one
 * does, it stays in its parent, as in Go, until the parent is cancelled and
 * wakes that thread. (Unlike Go, a deadline alone does not take it out: it
 * is applied only when someone looks.) Its memory goes once it is out of
 * its parent and nobody holds its done channel; until then it holds its
 * parent's memory too. */
void tl_ctx_release(tl_ctx_t *ctx);

/** ctx.Done(): a channel that is closed when ctx is done, for select. NULL for
 * tl_ctx_background(), as Go's Background().Done() is nil: a case on it is never
 * chosen. Borrowed: valid while the caller holds its reference to ctx. A
 * thread that takes its own with tl_chan_ref may keep it after ctx's last
 * reference is gone: it still closes at the deadline or when the parent is
 * cancelled, as in Go. */
tl_chan_t *tl_ctx_done(tl_ctx_t *ctx);

/** ctx.Err(): 0 while ctx is not done; then ECANCELED (context.Canceled) or
 * ETIMEDOUT (context.DeadlineExceeded). */
int tl_ctx_err(tl_ctx_t *ctx);

/** err.Error(): tl_err_text(err) (err.h), under the name Go's readers look
 * for: "context canceled", "context deadline exceeded". */
const char *tl_ctx_err_text(int err);

/** context.Cause(ctx): 0 while not done; then the cause given to
 * tl_ctx_cancel_cause, or else the same value as tl_ctx_err. A child cancelled by
 * its parent has its parent's cause. */
int tl_ctx_cause(tl_ctx_t *ctx);

/** ctx.Deadline(): the absolute deadline, or -1 if there is none. */
int64_t tl_ctx_deadline(tl_ctx_t *ctx);

/** A file descriptor that becomes readable when ctx is done (at once on
 * cancel; at the deadline), so poll() can wait on a socket and the context
 * together. Owned by ctx: do not read or close it. -1 for a context that is
 * never done (Background, WithoutCancel), which poll() ignores; else -1 with
 * errno set if no descriptor could be made. */
int tl_ctx_fd(tl_ctx_t *ctx);

/** Waits until fd is ready for events (POLLIN, POLLOUT), ctx is done or the
 * deadline passes. Returns 0 when fd is ready (or has hung up or failed: the
 * next read or write says which); tl_ctx_err(ctx) when ctx is done, ETIMEDOUT
 * at the deadline, or poll's errno value. The census shows the thread in "io". */
#define tl_ctx_poll(ctx, fd, events, deadline) \
    tl_ctx_poll_at((ctx), (fd), (events), (deadline), __FILE__, __LINE__)
int tl_ctx_poll_at(tl_ctx_t *ctx, int fd, short events, int64_t deadline,
                const char *file, int line);

#ifdef __cplusplus
}
#endif

#endif
