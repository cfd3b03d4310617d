/* Contexts, after Go's context.go: a tree with one mutex per node. One job
 * in one file of over 500 lines, as context.go is: cancel, deadlines,
 * values, AfterFunc and a context's descriptor all walk the same tree.
 *
 * A thread holds at most one context's lock at a time. A context's memory
 * lives as long as its done channel (tl_chan_set_free), and the done channel is
 * held by the context's own references together, by each thread that took
 * it with tl_chan_ref, and by the parent's list of children while the context
 * is on it. A child holds a reference on its parent until its memory goes.
 *
 * A context leaves its parent's list when it is cancelled (by itself,
 * under the parent's lock, or by the parent, which takes all its children
 * off under its own lock and cancels them after dropping it), or when its
 * last reference goes while no thread holds its done channel: then nobody
 * could see it cancelled, and on the list it would keep its parent, which
 * it holds, for ever.
 *
 * WithValue and WithoutCancel make nodes with no done channel, no lock and
 * no list of their own, as Go's valueCtx and withoutCancelCtx are: a value
 * node answers Done, Err and Deadline from the nearest ancestor that is not
 * a value node (its anchor), and a child made under it goes on the anchor's
 * list; a WithoutCancel node is an anchor that is never done, like
 * Background. Both hold a reference on their parent, for its values.
 *
 * Invariants:
 *   ctx->err goes from 0 to ECANCELED or ETIMEDOUT once, under ctx->mu;
 *   ctx->done is closed once, after err is set, outside every lock.
 *   ctx is on its anchor's children list exactly when ctx->in_parent
 *   (guarded by the anchor's lock), and the list then holds one reference on
 *   ctx->done. Once ctx->err is set, ctx leaves the list before the cancel
 *   that set it returns.
 *   A thread holds at most one context's lock at a time.
 *   A cancellable context's deadline is never later than its parent's was
 *   at its birth.
 *   A child holds a reference on its parent until the child's memory goes,
 *   which is when the last reference on its done channel goes.
 */
#include "threadleaks/context.h"
#include "threadleaks/go.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "threadleaks/hook.h"
#include "chan_internal.h"
#include "race.h"
#include "threadleaks/err.h"
#include "threadleaks/clock.h"
#include "threadleaks/panic.h"

enum kind { CANCELLABLE, VALUE, DETACHED };

struct tl_ctx {
    pthread_mutex_t mu;
    atomic_int refs;
    enum kind kind;                /* fixed at birth */
    const void *key;               /* VALUE: the key and its value */
    void *value;
    tl_ctx_t *parent;              /* NULL under background; fixed at birth */
    tl_ctx_t *listed_on;           /* the anchor whose list ctx joined; fixed at birth */
    tl_ctx_t *children;            /* not cancelled yet; guarded by mu */
    tl_ctx_t *prev, *next;         /* siblings; guarded by parent->mu */
    bool in_parent;             /* guarded by parent->mu */
    tl_chan_t *done;
    int64_t deadline;
    int fd;
    int err, cause;             /* guarded by mu */
    struct tl_after *afters;       /* AfterFuncs waiting for ctx; guarded by mu */
};

static tl_ctx_t background = { .deadline = -1, .fd = -1 };

tl_ctx_t *tl_ctx_background(void)
{
    return &background;
}

static bool is_background(tl_ctx_t *ctx)
{
    return ctx == &background;
}

/* The node that answers for ctx's cancellation: ctx itself, or for a value
 * node its nearest ancestor that is not one. */
static tl_ctx_t *anchor(tl_ctx_t *ctx)
{
    while (ctx->kind == VALUE)
        ctx = ctx->parent;
    return ctx;
}

/* Never done: Background, WithoutCancel, and value nodes under either. */
static bool never_done(tl_ctx_t *ctx)
{
    tl_ctx_t *a = anchor(ctx);
    return is_background(a) || a->kind == DETACHED;
}

static void unlink_child(tl_ctx_t *parent, tl_ctx_t *child)
{
    if (!child->in_parent)
        return;
    if (child->prev)
        child->prev->next = child->next;
    else
        parent->children = child->next;
    if (child->next)
        child->next->prev = child->prev;
    child->prev = child->next = NULL;
    child->in_parent = false;
}

/* Makes fd readable from now on: a timer already expired. */
static void fd_fire(int fd)
{
    struct itimerspec now = { .it_value = { .tv_nsec = 1 } };
    if (fd >= 0)
        timerfd_settime(fd, 0, &now, NULL);
}

/* Cancels ctx and its subtree, with no lock held by the caller. When
 * from_parent is set the parent has unlinked ctx already.
 *
 * A deadline that has passed came first, whoever looks at it now: Go's timer
 * would have fired at the deadline, so the error is then ETIMEDOUT. Children
 * are cancelled after ctx's lock is dropped, each kept alive by the list's
 * hold on its done channel, which passes to this loop as they are unlinked
 * under the lock: no thread ever holds more than one context's lock, however
 * deep the tree. */
static void start_afters(struct tl_after *list);
static void release_afters(struct tl_after *list);

/* ctx's own part of a cancel: its error, its AfterFuncs, its descriptor and
 * its done channel. Returns false if it was cancelled already; else sets
 * *children to its list, each with the list's hold on its done channel. */
static bool cancel_one(tl_ctx_t *ctx, int err, int cause, tl_ctx_t **children)
{
    pthread_mutex_lock(&ctx->mu);
    if (ctx->err) {
        pthread_mutex_unlock(&ctx->mu);
        return false;
    }
    if (ctx->deadline >= 0 && tl_now_ms() >= ctx->deadline)
        err = cause = ETIMEDOUT;
    ctx->err = err;
    ctx->cause = cause ? cause : err;
    *children = ctx->children;
    ctx->children = NULL;
    for (tl_ctx_t *child = *children; child; child = child->next)
        child->in_parent = false;
    /* Settled here, under the lock a stop takes to unlist, before the cancel
     * returns, as in Go: a stop from now on says false. */
    struct tl_after *afters = ctx->afters;
    ctx->afters = NULL;
    start_afters(afters);
    fd_fire(ctx->fd);
    pthread_mutex_unlock(&ctx->mu);
    release_afters(afters);
    /* Closed outside the lock: the crowd it wakes asks tl_ctx_err at once. Only
     * the first cancel gets here, since err is set. */
    tl_chan_close(ctx->done);
    return true;
}

/* The subtree is walked with a list of contexts still to cancel, not by
 * recursion: a chain of any depth is cancelled in constant stack. Each
 * takes its parent's error and cause, settled before it is reached. */
static void cancel(tl_ctx_t *ctx, int err, int cause, bool from_parent)
{
    tl_ctx_t *todo;
    if (!cancel_one(ctx, err, cause, &todo))
        return;
    while (todo) {
        tl_ctx_t *child = todo, *grandchildren;
        todo = child->next;
        child->prev = child->next = NULL;
        tl_ctx_t *parent = child->listed_on; /* held by child until its memory goes */
        if (cancel_one(child, parent->err, parent->cause, &grandchildren) && grandchildren) {
            tl_ctx_t *last = grandchildren;
            while (last->next)
                last = last->next;
            last->next = todo;
            todo = grandchildren;
        }
        tl_chan_release(child->done); /* the list's hold, passed to this loop */
    }
    tl_ctx_t *parent = ctx->listed_on; /* kept until ctx's memory goes */
    if (!from_parent && parent) {
        pthread_mutex_lock(&parent->mu);
        bool listed = ctx->in_parent;
        unlink_child(parent, ctx);
        pthread_mutex_unlock(&parent->mu);
        if (listed)
            tl_chan_release(ctx->done); /* the list's hold; the caller has another */
    }
}

/* The deadline's wake, run by whichever waiter notices it first. */
static void expire(void *arg, int64_t due)
{
    (void)due;
    cancel(arg, ETIMEDOUT, 0, false);
}

static void expire_if_due(tl_ctx_t *ctx)
{
    if (ctx->deadline >= 0 && tl_now_ms() >= ctx->deadline)
        expire(ctx, ctx->deadline);
}

/* The memory goes with the done channel: a thread that still holds the
 * channel when the context's last reference is dropped may yet see it
 * closed, by the deadline's wake or the parent's cancel, as in Go. */
static void release_parent(tl_ctx_t *parent);

static void free_memory(void *arg)
{
    tl_ctx_t *ctx = arg;
    tl_ctx_t *parent = ctx->parent;
    pthread_mutex_destroy(&ctx->mu);
    free(ctx);
    release_parent(parent);
}

/* A freed context releases its parent, which may free it and release its
 * own: done in a loop on this thread, not by recursion, so that the last
 * release of a chain of any depth frees it in constant stack. */
static _Thread_local tl_ctx_t **pending; /* parents still to release */
static _Thread_local size_t npending, pending_cap;
static _Thread_local bool releasing;

static void release_parent(tl_ctx_t *parent)
{
    if (releasing) {
        if (npending == pending_cap) {
            size_t cap = pending_cap ? 2 * pending_cap : 64;
            tl_ctx_t **more = realloc(pending, cap * sizeof *more);
            if (!more) { /* no room to defer it: release it now, recursing once */
                tl_ctx_release(parent);
                return;
            }
            pending = more;
            pending_cap = cap;
        }
        pending[npending++] = parent;
        return;
    }
    releasing = true;
    tl_ctx_release(parent);
    while (npending > 0)
        tl_ctx_release(pending[--npending]);
    free(pending);
    pending = NULL;
    pending_cap = 0;
    releasing = false;
}

tl_ctx_t *tl_ctx_with_deadline(tl_ctx_t *parent, int64_t deadline)
{
    if (!parent)
        tl_go_panic("cannot create context from nil parent", NULL, 0);
    tl_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    if (!(ctx->done = tl_chan_make(1, 0))) {
        free(ctx);
        return NULL;
    }
    pthread_mutex_init(&ctx->mu, NULL);
    atomic_init(&ctx->refs, 1);
    ctx->fd = -1;
    tl_chan_mark_done(ctx->done);
    tl_chan_set_free(ctx->done, free_memory, ctx);
    ctx->deadline = deadline;
    int64_t inherited = tl_ctx_deadline(parent);
    if (inherited >= 0 && (deadline < 0 || inherited < deadline))
        ctx->deadline = inherited;
    if (ctx->deadline >= 0)
        tl_chan_set_wake(ctx->done, ctx->deadline, expire, ctx);
    if (is_background(parent))
        return ctx;

    ctx->parent = tl_ctx_ref(parent); /* and through it, its anchor */
    if (never_done(parent))
        return ctx;
    parent = ctx->listed_on = anchor(parent);
    pthread_mutex_lock(&parent->mu);
    int err = parent->err, cause = parent->cause;
    if (!err) {
        ctx->next = parent->children;
        if (parent->children)
            parent->children->prev = ctx;
        parent->children = ctx;
        ctx->in_parent = true;
        tl_chan_ref(ctx->done); /* the list's hold */
    }
    pthread_mutex_unlock(&parent->mu);
    if (err)
        cancel(ctx, err, cause, false);
    else
        expire_if_due(ctx);
    return ctx;
}

tl_ctx_t *tl_ctx_with_cancel(tl_ctx_t *parent)
{
    return tl_ctx_with_deadline(parent, -1);
}

tl_ctx_t *tl_ctx_with_timeout(tl_ctx_t *parent, int64_t ms)
{
    return tl_ctx_with_deadline(parent, tl_deadline_after(ms < 0 ? 0 : ms));
}

void tl_ctx_cancel(tl_ctx_t *ctx)
{
    tl_ctx_cancel_cause(ctx, 0);
}

void tl_ctx_cancel_cause(tl_ctx_t *ctx, int cause)
{
    if (ctx && !is_background(ctx) && ctx->kind == CANCELLABLE)
        cancel(ctx, ECANCELED, cause, false);
}

/* A value or WithoutCancel node: its parent and its own memory. */
static tl_ctx_t *wrapper(tl_ctx_t *parent, enum kind kind)
{
    if (!parent)
        tl_go_panic("cannot create context from nil parent", NULL, 0);
    tl_ctx_t *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return NULL;
    atomic_init(&ctx->refs, 1);
    ctx->kind = kind;
    ctx->parent = tl_ctx_ref(parent);
    ctx->deadline = -1;
    ctx->fd = -1;
    return ctx;
}

tl_ctx_t *tl_ctx_with_value(tl_ctx_t *parent, const void *key, void *value)
{
    if (!key)
        tl_go_panic("nil key", NULL, 0);
    tl_ctx_t *ctx = wrapper(parent, VALUE);
    if (ctx) {
        ctx->key = key;
        ctx->value = value;
    }
    return ctx;
}

tl_ctx_t *tl_ctx_without_cancel(tl_ctx_t *parent)
{
    return wrapper(parent, DETACHED);
}

void *tl_ctx_value(tl_ctx_t *ctx, const void *key)
{
    for (; ctx && !is_background(ctx); ctx = ctx->parent)
        if (ctx->kind == VALUE && ctx->key == key)
            return ctx->value;
    return NULL;
}

tl_ctx_t *tl_ctx_ref(tl_ctx_t *ctx)
{
    if (ctx && !is_background(ctx))
        atomic_fetch_add_explicit(&ctx->refs, 1, memory_order_relaxed);
    return ctx;
}

void tl_ctx_release(tl_ctx_t *ctx)
{
    if (!ctx || is_background(ctx))
        return;
    tl_race_release(ctx); /* every holder's last use, before the free */
    if (atomic_fetch_sub_explicit(&ctx->refs, 1, memory_order_acq_rel) != 1)
        return;
    tl_race_acquire(ctx);
    if (ctx->kind != CANCELLABLE) {
        tl_ctx_t *parent = ctx->parent;
        free(ctx);
        release_parent(parent);
        return;
    }
    /* Dropped by every holder without a cancel. If no thread holds its done
     * channel either (its own hold and the list's are all there are), no
     * one can see it cancelled any more: it leaves its parent's list now, as
     * Go's collector would take it, and frees its hold on the parent (else
     * the two would keep each other for ever). A thread that still waits on
     * the channel keeps it listed, for the parent's cancel to wake. Nobody
     * can take a new hold meanwhile: that needs a reference to it. */
    tl_ctx_t *parent = ctx->listed_on;
    bool unlisted = false;
    pthread_mutex_lock(&ctx->mu);
    bool cancelled = ctx->err != 0; /* then its cancel takes it off the list */
    pthread_mutex_unlock(&ctx->mu);
    if (parent && !cancelled) {
        pthread_mutex_lock(&parent->mu);
        if (ctx->in_parent && tl_chan_refs(ctx->done) == 2) {
            unlink_child(parent, ctx);
            unlisted = true;
        }
        pthread_mutex_unlock(&parent->mu);
        if (unlisted)
            tl_chan_release(ctx->done); /* the list's hold; ours follows */
    }
    /* A cancel running now (from the deadline's wake or the parent) sees no
     * descriptor once it is taken. */
    pthread_mutex_lock(&ctx->mu);
    int fd = ctx->fd;
    ctx->fd = -1;
    pthread_mutex_unlock(&ctx->mu);
    if (fd >= 0)
        close(fd);
    tl_chan_release(ctx->done); /* the last hold on it frees ctx too */
}

tl_chan_t *tl_ctx_done(tl_ctx_t *ctx)
{
    return anchor(ctx)->done;
}

int tl_ctx_err(tl_ctx_t *ctx)
{
    if (never_done(ctx))
        return 0;
    ctx = anchor(ctx);
    expire_if_due(ctx);
    pthread_mutex_lock(&ctx->mu);
    int err = ctx->err;
    pthread_mutex_unlock(&ctx->mu);
    return err;
}

const char *tl_ctx_err_text(int err)
{
    return tl_err_text(err);
}

int tl_ctx_cause(tl_ctx_t *ctx)
{
    if (never_done(ctx))
        return 0;
    ctx = anchor(ctx);
    expire_if_due(ctx);
    pthread_mutex_lock(&ctx->mu);
    int cause = ctx->cause;
    pthread_mutex_unlock(&ctx->mu);
    return cause;
}

int64_t tl_ctx_deadline(tl_ctx_t *ctx)
{
    return anchor(ctx)->deadline;
}

int tl_ctx_fd(tl_ctx_t *ctx)
{
    if (never_done(ctx))
        return -1;
    ctx = anchor(ctx);
    pthread_mutex_lock(&ctx->mu);
    if (ctx->fd < 0) {
        ctx->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (ctx->fd >= 0 && ctx->err) {
            fd_fire(ctx->fd);
        } else if (ctx->fd >= 0 && ctx->deadline >= 0) {
            struct itimerspec at = { 0 };
            tl_deadline_to_timespec(ctx->deadline, &at.it_value);
            if (at.it_value.tv_sec == 0 && at.it_value.tv_nsec == 0)
                at.it_value.tv_nsec = 1; /* zero would disarm it */
            timerfd_settime(ctx->fd, TFD_TIMER_ABSTIME, &at, NULL);
        }
    }
    int fd = ctx->fd;
    pthread_mutex_unlock(&ctx->mu);
    return fd;
}

int tl_ctx_poll_at(tl_ctx_t *ctx, int fd, short events, int64_t deadline, const char *file,
                int line)
{
    int cfd = tl_ctx_fd(ctx);
    if (cfd < 0 && !never_done(ctx))
        return errno;
    int rc;
    tl_block(TL_STATE_IO, file, line, NULL, 0, deadline);
    for (;;) {
        if ((rc = tl_ctx_err(ctx)) != 0)
            break;
        int timeout = -1;
        if (deadline >= 0) {
            int64_t left = deadline - tl_now_ms();
            if (left <= 0) {
                rc = ETIMEDOUT;
                break;
            }
            timeout = left > 60000 ? 60000 : (int)left;
        }
        struct pollfd fds[2] = { { .fd = fd, .events = events }, { .fd = cfd, .events = POLLIN } };
        int n = poll(fds, 2, timeout);
        if (n < 0 && errno != EINTR) {
            rc = errno;
            break;
        }
        if (n > 0 && fds[0].revents) {
            rc = 0;
            break;
        }
    }
    tl_unblock();
    return rc;
}

/* ---- AfterFunc ----
 *
 * As in Go, whether f runs is settled by the cancel itself: cancel() takes
 * the waiting AfterFuncs off its context's list and marks each RUNNING
 * before it returns, so a stop that comes after says false. f then runs on
 * a thread that has waited for the done channel since the AfterFunc was
 * made (Go starts a goroutine at that moment instead; a thread cannot be
 * had that cheaply). The list, the thread and the caller's stop each hold a
 * reference. */

enum { AFTER_WAITING, AFTER_RUNNING, AFTER_STOPPED };

struct tl_after {
    atomic_int state;
    atomic_int refs;
    struct tl_after *prev, *next; /* on the anchor's list; guarded by its mu */
    bool listed;                  /* guarded by the anchor's mu */
    tl_chan_t *stop;              /* closed by tl_after_stop */
    tl_ctx_t *ctx, *anchor;
    void (*f)(void *arg);
    void *arg;
    const char *file;             /* where tl_ctx_after_func was called */
    int line;
};

static void after_release(struct tl_after *a)
{
    tl_race_release(a);
    if (atomic_fetch_sub(&a->refs, 1) != 1)
        return;
    tl_race_acquire(a);
    tl_chan_release(a->stop);
    tl_ctx_release(a->ctx);
    free(a);
}

/* With the anchor locked: every AfterFunc of the list not stopped yet
 * runs, and none is on the list any more. */
static void start_afters(struct tl_after *list)
{
    for (struct tl_after *a = list; a; a = a->next) {
        a->listed = false;
        int waiting = AFTER_WAITING;
        atomic_compare_exchange_strong(&a->state, &waiting, AFTER_RUNNING);
    }
}

/* Then, unlocked: the list's references go. */
static void release_afters(struct tl_after *list)
{
    struct tl_after *next;
    for (struct tl_after *a = list; a; a = next) {
        next = a->next;
        after_release(a);
    }
}

/* Takes a off its anchor's list if it is still there; returns whether it was. */
static bool unlist(struct tl_after *a)
{
    tl_ctx_t *ctx = a->anchor;
    pthread_mutex_lock(&ctx->mu);
    bool listed = a->listed;
    if (listed) {
        if (a->prev)
            a->prev->next = a->next;
        else
            ctx->afters = a->next;
        if (a->next)
            a->next->prev = a->prev;
        a->listed = false;
    }
    pthread_mutex_unlock(&ctx->mu);
    return listed;
}

static void after_wait(void *arg)
{
    struct tl_after *a = arg;
    /* Shown as blocked where the AfterFunc was made: that is the caller's
     * line to look at, not one inside this file. */
    struct tl_chan_case cases[] = { tl_chan_recv_case(tl_ctx_done(a->ctx), NULL),
                                    tl_chan_recv_case(a->stop, NULL) };
    /* f runs once Done is closed, as in Go, even when it was settled at
     * registration (the cancel may not have closed Done yet). */
    int chosen;
    do
        chosen = tl_chan_select_at(cases, 2, -1, a->file, a->line);
    while (chosen < 0);
    if (chosen == 0 && atomic_load(&a->state) == AFTER_RUNNING)
        a->f(a->arg);
    after_release(a);
}

int tl_ctx_after_func_at(tl_ctx_t *ctx, void (*f)(void *arg), void *arg, tl_after_t **stop,
                         const char *func, const char *file, int line)
{
    if (!ctx)
        tl_go_panic("cannot create context from nil parent", file, line);
    if (stop)
        *stop = NULL;
    struct tl_after *a = calloc(1, sizeof *a);
    if (!a || !(a->stop = tl_chan_make(1, 0))) {
        free(a);
        return ENOMEM;
    }
    atomic_init(&a->state, AFTER_WAITING);
    a->ctx = tl_ctx_ref(ctx);
    a->anchor = anchor(ctx);
    a->f = f;
    a->arg = arg;
    a->file = file;
    a->line = line;
    /* Never done: f never runs, and no thread needs to wait for that. */
    if (never_done(ctx)) {
        atomic_init(&a->refs, 1);
        if (stop)
            *stop = a;
        else
            after_release(a);
        return 0;
    }
    atomic_init(&a->refs, stop ? 3 : 2); /* the list, the thread, the stop */
    tl_ctx_t *anc = a->anchor;
    tl_ctx_err(ctx); /* a deadline that has passed cancels now */
    pthread_mutex_lock(&anc->mu);
    if (anc->err) {
        atomic_store(&a->state, AFTER_RUNNING); /* done already: f runs at once */
        atomic_fetch_sub(&a->refs, 1);          /* no list */
    } else {
        a->next = anc->afters;
        if (anc->afters)
            anc->afters->prev = a;
        anc->afters = a;
        a->listed = true;
    }
    pthread_mutex_unlock(&anc->mu);
    int err = tl_go_at("after_func", after_wait, a, func, file, line);
    if (err) {
        atomic_store(&a->state, AFTER_STOPPED);
        if (unlist(a))
            after_release(a);
        if (stop)
            after_release(a);
        after_release(a); /* the thread's */
        return err;
    }
    if (stop)
        *stop = a;
    return 0;
}

bool tl_after_stop(tl_after_t *a)
{
    if (!a)
        return false;
    if (a->anchor && !never_done(a->ctx))
        tl_ctx_err(a->ctx); /* a deadline that has passed fired first, as Go's timer would have */
    int waiting = AFTER_WAITING;
    bool stopped = atomic_compare_exchange_strong(&a->state, &waiting, AFTER_STOPPED);
    if (stopped) {
        if (!never_done(a->ctx) && unlist(a))
            after_release(a); /* the list's: Go forgets a stopped AfterFunc at once */
        tl_chan_close(a->stop); /* the waiting thread's way out */
    }
    after_release(a);
    return stopped;
}
