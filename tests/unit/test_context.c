/* context: the cases Go's context_test.go covers, for threads. */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "context.h"
#include "go.h"
#include "unit.h"

/* A closed done channel: a receive returns at once with ok == false. */
static bool is_closed(chan_t *done)
{
    struct chan_case c = chan_recv_case(done, NULL);
    return chan_select(&c, 1, 0) == 0 && !c.ok;
}

START_TEST(background_is_never_done)
{
    ctx_t *bg = ctx_background();
    ck_assert_int_eq(ctx_err(bg), 0);
    ck_assert_int_eq(ctx_cause(bg), 0);
    ck_assert_ptr_null(ctx_done(bg));
    ck_assert_int_eq(ctx_fd(bg), -1);
    ck_assert_int_eq(ctx_deadline(bg), -1);
    ctx_cancel(bg);
    ctx_release(bg);
    ck_assert_int_eq(ctx_err(ctx_background()), 0);
}
END_TEST

START_TEST(cancel_closes_done_and_sets_err)
{
    ctx_t *ctx = ctx_with_cancel(ctx_background());
    ck_assert_int_eq(ctx_err(ctx), 0);
    ck_assert_int_eq(ctx_cause(ctx), 0);
    ck_assert(!is_closed(ctx_done(ctx)));
    ctx_cancel(ctx);
    ck_assert(is_closed(ctx_done(ctx)));
    ck_assert_int_eq(ctx_err(ctx), ECANCELED);
    ck_assert_int_eq(ctx_cause(ctx), ECANCELED);
    ctx_release(ctx);
}
END_TEST

START_TEST(cancelling_a_parent_reaches_children_and_grandchildren)
{
    ctx_t *parent = ctx_with_cancel(ctx_background());
    ctx_t *child = ctx_with_cancel(parent);
    ctx_t *timed = ctx_with_timeout(parent, 60000);
    ctx_t *grandchild = ctx_with_cancel(child);
    ctx_cancel(parent);
    ctx_t *all[] = { child, timed, grandchild };
    for (int i = 0; i < 3; i++) {
        ck_assert(is_closed(ctx_done(all[i])));
        ck_assert_int_eq(ctx_err(all[i]), ECANCELED);
    }
    for (int i = 0; i < 3; i++) {
        ctx_cancel(all[i]);
        ctx_release(all[i]);
    }
    ctx_release(parent);
}
END_TEST

START_TEST(cancelling_a_child_leaves_its_parent_alone)
{
    ctx_t *parent = ctx_with_cancel(ctx_background());
    ctx_t *child = ctx_with_cancel(parent);
    ctx_t *sibling = ctx_with_cancel(parent);
    ctx_cancel(child);
    ck_assert_int_eq(ctx_err(child), ECANCELED);
    ck_assert_int_eq(ctx_err(parent), 0);
    ck_assert_int_eq(ctx_err(sibling), 0);
    ck_assert(!is_closed(ctx_done(parent)));
    /* The child is gone from the parent: freeing it first, then cancelling the
     * parent, touches no freed memory (AddressSanitizer watches). */
    ctx_release(child);
    ctx_cancel(parent);
    ck_assert_int_eq(ctx_err(sibling), ECANCELED);
    ctx_release(sibling);
    ctx_release(parent);
}
END_TEST

/* Contexts dropped without a cancel, with no thread waiting on them, are
 * freed as Go's collector frees them: a parent and child that were never
 * cancelled used to keep each other (the parent's list held the child, the
 * child held the parent), 624 bytes a pair. Counted by live channels, since
 * each context's memory goes with its done channel. */
START_TEST(contexts_released_without_cancel_leave_nothing)
{
    long before = chan_live();
    ctx_t *parent = ctx_with_cancel(ctx_background());
    ctx_t *child = ctx_with_cancel(parent);
    ctx_release(child);
    ctx_release(parent);
    ck_assert_msg(chan_live() == before, "child then parent: %ld contexts left",
                  chan_live() - before);

    parent = ctx_with_cancel(ctx_background());
    child = ctx_with_timeout(parent, 60000);
    ctx_t *grandchild = ctx_with_cancel(child);
    ctx_release(parent); /* the parent first: its children still hold it */
    ctx_release(child);
    ctx_release(grandchild);
    ck_assert_msg(chan_live() == before, "parent first, three deep: %ld contexts left",
                  chan_live() - before);

    parent = ctx_with_cancel(ctx_background());
    for (int i = 0; i < 100; i++)
        ctx_release(ctx_with_cancel(parent));
    ck_assert_msg(chan_live() == before + 1, "100 children of a live parent: %ld left",
                  chan_live() - before - 1);
    ctx_cancel(parent);
    ctx_release(parent);
    ck_assert_int_eq(chan_live(), before);
}
END_TEST

/* As in Go, an uncancelled child stays in its parent until the parent is
 * cancelled; then it goes (LeakSanitizer would see it stay). */
START_TEST(a_child_released_without_cancel_goes_with_its_parents_cancel)
{
    ctx_t *parent = ctx_with_cancel(ctx_background());
    ctx_t *child = ctx_with_cancel(parent);
    ctx_release(child);
    ctx_cancel(parent);
    ck_assert_int_eq(ctx_err(parent), ECANCELED);
    ctx_release(parent);
}
END_TEST

START_TEST(a_child_of_a_done_parent_is_born_done)
{
    ctx_t *parent = ctx_with_cancel(ctx_background());
    ctx_cancel_cause(parent, ECONNRESET);
    ctx_t *child = ctx_with_timeout(parent, 60000);
    ck_assert(is_closed(ctx_done(child)));
    ck_assert_int_eq(ctx_err(child), ECANCELED);
    ck_assert_int_eq(ctx_cause(child), ECONNRESET);
    ctx_release(child);
    ctx_release(parent);
}
END_TEST

START_TEST(deadline_fires_on_time)
{
    int64_t start = now_ms();
    ctx_t *ctx = ctx_with_timeout(ctx_background(), 50);
    ck_assert_int_ge(ctx_deadline(ctx), start + 50);
    ck_assert_int_le(ctx_deadline(ctx), now_ms() + 51); /* from now rounded up: at least 50 */
    ck_assert(!chan_recv(ctx_done(ctx), NULL));
    int64_t took = now_ms() - start;
    ck_assert_int_ge(took, 50);
    ck_assert_int_lt(took, 50 + 1000);
    ck_assert_int_eq(ctx_err(ctx), ETIMEDOUT);
    ck_assert_int_eq(ctx_cause(ctx), ETIMEDOUT);
    ctx_cancel(ctx);
    ck_assert_int_eq(ctx_err(ctx), ETIMEDOUT);
    ctx_release(ctx);
}
END_TEST

START_TEST(err_reports_a_passed_deadline_without_any_waiter)
{
    ctx_t *ctx = ctx_with_deadline(ctx_background(), now_ms() - 1);
    ck_assert_int_eq(ctx_err(ctx), ETIMEDOUT);
    ck_assert(is_closed(ctx_done(ctx)));
    ctx_release(ctx);
}
END_TEST

START_TEST(a_childs_deadline_is_capped_by_its_parents)
{
    ctx_t *parent = ctx_with_timeout(ctx_background(), 40);
    ctx_t *child = ctx_with_timeout(parent, 60000);
    ctx_t *plain = ctx_with_cancel(parent);
    ck_assert_int_eq(ctx_deadline(child), ctx_deadline(parent));
    ck_assert_int_eq(ctx_deadline(plain), ctx_deadline(parent));
    ck_assert(!chan_recv(ctx_done(child), NULL));
    ck_assert_int_ge(now_ms(), ctx_deadline(parent));
    ck_assert_int_eq(ctx_err(child), ETIMEDOUT);
    ck_assert_int_eq(ctx_err(plain), ETIMEDOUT);
    ctx_t *earlier = ctx_with_deadline(ctx_background(), now_ms() + 60000);
    ctx_t *sooner = ctx_with_deadline(earlier, now_ms() + 30000);
    ck_assert_int_lt(ctx_deadline(sooner), ctx_deadline(earlier));
    ctx_t *all[] = { child, plain, parent, sooner, earlier };
    for (int i = 0; i < 5; i++) {
        ctx_cancel(all[i]);
        ctx_release(all[i]);
    }
}
END_TEST

START_TEST(cause_is_kept_and_inherited)
{
    ctx_t *parent = ctx_with_cancel(ctx_background());
    ctx_t *child = ctx_with_cancel(parent);
    ctx_cancel_cause(parent, EPIPE);
    ctx_cancel_cause(parent, EIO);
    ck_assert_int_eq(ctx_err(parent), ECANCELED);
    ck_assert_int_eq(ctx_cause(parent), EPIPE);
    ck_assert_int_eq(ctx_err(child), ECANCELED);
    ck_assert_int_eq(ctx_cause(child), EPIPE);
    ctx_t *plain = ctx_with_cancel(ctx_background());
    ctx_cancel_cause(plain, 0);
    ck_assert_int_eq(ctx_cause(plain), ECANCELED);
    ctx_release(plain);
    ctx_release(child);
    ctx_release(parent);
}
END_TEST

enum { CANCELLERS = 16 };

struct race {
    ctx_t *ctx;
    chan_t *gate;
    atomic_int next_cause;
};

/* Every canceller waits at the gate; closing it lets them all go at once. */
static void cancel_at_once(void *arg)
{
    struct race *r = arg;
    int cause = 1000 + atomic_fetch_add(&r->next_cause, 1);
    chan_recv(r->gate, NULL);
    ctx_cancel_cause(r->ctx, cause);
}

static void wait_done(void *arg)
{
    ctx_t *ctx = arg;
    ck_assert(!chan_recv(ctx_done(ctx), NULL));
}

START_TEST(cancel_is_safe_from_many_threads_at_once_and_closes_done_once)
{
    struct race r = { .ctx = ctx_with_cancel(ctx_background()),
                      .gate = chan_make(1, 0) };
    ctx_t *child = ctx_with_cancel(r.ctx);
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(go("done-waiter", wait_done, child), 0);
    for (int i = 0; i < CANCELLERS; i++)
        ck_assert_int_eq(go("canceller", cancel_at_once, &r), 0);
    ck_assert(unit_blocked(CANCELLERS, "canceller", "chan_recv"));
    chan_close(r.gate);
    ck_assert_int_eq(go_wait_all(deadline_after(5000)), 0);
    ck_assert_int_eq(ctx_err(r.ctx), ECANCELED);
    int cause = ctx_cause(r.ctx);
    ck_assert(cause >= 1000 && cause < 1000 + CANCELLERS);
    ck_assert_int_eq(ctx_cause(child), cause);
    /* Closed exactly once: a second close would have panicked. */
    ck_assert(!chan_recv(ctx_done(r.ctx), NULL));
    ctx_release(child);
    ctx_release(r.ctx);
    chan_release(r.gate);
}
END_TEST

static bool fd_readable(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

START_TEST(fd_becomes_readable_on_cancel)
{
    ctx_t *parent = ctx_with_cancel(ctx_background());
    ctx_t *ctx = ctx_with_cancel(parent);
    int fd = ctx_fd(ctx);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(ctx_fd(ctx), fd);
    ck_assert(!fd_readable(fd, 0));
    ctx_cancel(parent);
    ck_assert(fd_readable(fd, 2000));
    ctx_release(ctx);
    ctx_release(parent);
}
END_TEST

START_TEST(fd_becomes_readable_at_the_deadline)
{
    int64_t start = now_ms();
    ctx_t *ctx = ctx_with_timeout(ctx_background(), 30);
    bool early = fd_readable(ctx_fd(ctx), 0);
    /* Only a look taken before the deadline says anything (a busy machine
     * may have let it pass already). */
    if (now_ms() < ctx_deadline(ctx))
        ck_assert(!early);
    ck_assert(fd_readable(ctx_fd(ctx), 2000));
    ck_assert_int_ge(now_ms(), start + 30);
    ck_assert_int_eq(ctx_err(ctx), ETIMEDOUT);
    ctx_release(ctx);
}
END_TEST

START_TEST(fd_of_a_done_context_is_readable_at_once)
{
    ctx_t *ctx = ctx_with_cancel(ctx_background());
    ctx_cancel(ctx);
    ck_assert(fd_readable(ctx_fd(ctx), 2000));
    ctx_release(ctx);
}
END_TEST

struct poller {
    ctx_t *ctx;
    int fd;
    atomic_int rc, err;
};

static void poll_socket(void *arg)
{
    struct poller *p = arg;
    int rc = ctx_poll(p->ctx, p->fd, POLLIN, -1);
    atomic_store(&p->err, rc);
    atomic_store(&p->rc, rc);
}

START_TEST(ctx_poll_returns_when_the_context_is_cancelled)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct poller p = { .ctx = ctx_with_cancel(ctx_background()), .fd = sv[0], .rc = 7 };
    ck_assert_int_eq(go("poller", poll_socket, &p), 0);
    ck_assert(unit_blocked(1, "poller", "io"));
    ctx_cancel(p.ctx);
    ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
    ck_assert_int_eq(atomic_load(&p.rc), ECANCELED);
    ctx_release(p.ctx);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

START_TEST(ctx_poll_returns_when_the_socket_is_ready_or_the_deadline_passes)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    ctx_t *ctx = ctx_with_cancel(ctx_background());
    errno = 0;
    ck_assert_int_eq(ctx_poll(ctx, sv[0], POLLIN, deadline_after(20)), ETIMEDOUT);
    ck_assert_int_eq(errno, 0); /* errors are returned, errno left alone */
    ck_assert_int_eq(write(sv[1], "x", 1), 1);
    ck_assert_int_eq(ctx_poll(ctx, sv[0], POLLIN, -1), 0);
    ck_assert_int_eq(ctx_poll(ctx_background(), sv[0], POLLIN, -1), 0);
    ctx_t *timed = ctx_with_timeout(ctx_background(), 20);
    ck_assert_int_eq(ctx_poll(timed, sv[1], POLLIN, -1), ETIMEDOUT);
    ctx_release(timed);
    ctx_release(ctx);
    close(sv[0]);
    close(sv[1]);
}
END_TEST

struct outliver {
    ctx_t *ctx;
    atomic_int err;
};

static void outlive_the_handler(void *arg)
{
    struct outliver *o = arg;
    chan_recv(ctx_done(o->ctx), NULL);
    atomic_store(&o->err, ctx_err(o->ctx));
    ctx_release(o->ctx);
}

START_TEST(a_worker_can_outlive_the_handler_that_made_its_context)
{
    struct outliver o = { .err = -1 };
    ctx_t *request = ctx_with_cancel(ctx_background());
    ctx_t *ctx = ctx_with_timeout(request, 60000);
    o.ctx = ctx_ref(ctx);
    ck_assert_int_eq(go("outliver", outlive_the_handler, &o), 0);
    /* The handler returns without cancelling: only its parent can stop it. */
    ctx_release(ctx);
    ck_assert(unit_blocked(1, "outliver", "chan_recv"));
    ctx_cancel(request);
    ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
    ck_assert_int_eq(atomic_load(&o.err), ECANCELED);
    ctx_release(request);
}
END_TEST

/* Durations too long for an int64_t saturate to the latest deadline there
 * is: no signed overflow (UBSan would stop the test), and no deadline that
 * wraps round into the past. */
START_TEST(time_arithmetic_saturates)
{
    time_scale_set(1);
    ck_assert(deadline_after(INT64_MAX) == INT64_MAX);
    ck_assert(seconds(1e300) == INT64_MAX);
    ck_assert(seconds(-1e300) == INT64_MIN);
    ctx_t *ctx = ctx_with_timeout(ctx_background(), INT64_MAX);
    ck_assert(ctx_deadline(ctx) == INT64_MAX);
    ck_assert_int_eq(ctx_err(ctx), 0);
    chan_t *timer = time_after(INT64_MAX);
    struct chan_case cases[] = {
        chan_recv_case(ctx_done(ctx), NULL),
        chan_recv_case(timer, NULL),
    };
    ck_assert_int_eq(chan_select(cases, 2, 0), -1);
    ck_assert_int_eq(chan_select(cases, 2, deadline_after(20)), -1);
    ck_assert_int_eq(errno, ETIMEDOUT);
    ctx_cancel(ctx);
    ck_assert_int_eq(ctx_err(ctx), ECANCELED);
    ck_assert_int_eq(chan_select(cases, 2, INT64_MAX), 0);
    chan_release(timer);
    ctx_release(ctx);
}
END_TEST

/* Go: WithTimeout(bg, 0) is done at once with DeadlineExceeded, and a
 * cancel afterwards changes nothing. Here the deadline is applied when
 * someone looks; a cancel that looks first must still see it. */
START_TEST(a_cancel_after_a_passed_deadline_leaves_deadline_exceeded)
{
    ctx_t *ctx = ctx_with_timeout(ctx_background(), 0);
    ctx_t *child = ctx_with_cancel(ctx);
    ctx_cancel(ctx);
    ck_assert_int_eq(ctx_err(ctx), ETIMEDOUT);
    ck_assert_int_eq(ctx_cause(ctx), ETIMEDOUT);
    ck_assert_int_eq(ctx_err(child), ETIMEDOUT);
    ctx_release(child);
    ctx_release(ctx);

    ctx_t *parent = ctx_with_cancel(ctx_background());
    ctx = ctx_with_timeout(parent, 0);
    ctx_cancel(parent); /* the child's deadline had passed already */
    ck_assert_int_eq(ctx_err(parent), ECANCELED);
    ck_assert_int_eq(ctx_err(ctx), ETIMEDOUT);
    ctx_release(ctx);
    ctx_release(parent);
}
END_TEST

/* A cancel walks down a chain without holding a lock per level (TSan stops
 * a thread that holds 64). */
START_TEST(a_chain_200_deep_is_cancelled_from_its_root)
{
    enum { DEPTH = 200 };
    ctx_t *chain[DEPTH];
    chain[0] = ctx_with_cancel(ctx_background());
    for (int i = 1; i < DEPTH; i++)
        chain[i] = ctx_with_cancel(chain[i - 1]);
    ctx_cancel(chain[0]);
    for (int i = 0; i < DEPTH; i++)
        ck_assert_int_eq(ctx_err(chain[i]), ECANCELED);
    ck_assert(!chan_recv(ctx_done(chain[DEPTH - 1]), NULL));
    for (int i = DEPTH - 1; i >= 0; i--)
        ctx_release(chain[i]);
}
END_TEST

static void with_nil_parent(void *arg)
{
    (void)arg;
    ctx_with_cancel(NULL);
}

START_TEST(a_nil_parent_panics)
{
    unit_assert_panics(with_nil_parent, NULL, "cannot create context from nil parent");
}
END_TEST

/* A done channel kept past its context's last reference still closes at
 * the deadline, as Go's does (its timer holds the context); here the
 * context's memory lives on with the channel, so the wake that closes it
 * touches nothing freed (ASan would say). */
static void wait_for_done(ctx_t *ctx, chan_t *done)
{
    (void)ctx;
    chan_recv(done, NULL);
}

START_TEST(a_done_channel_outliving_its_context_closes_at_the_deadline)
{
    int64_t start = now_ms();
    ctx_t *ctx = ctx_with_timeout(ctx_background(), 30);
    chan_t *done = chan_ref(ctx_done(ctx));
    ctx_release(ctx); /* no cancel */
    ck_assert(!chan_recv(done, NULL));
    ck_assert_int_ge(now_ms(), start + 30);
    chan_release(done);

    ctx = ctx_with_timeout(ctx_background(), 30);
    ck_assert_int_eq(go_with("waiter", wait_for_done, NULL, ctx_done(ctx)), 0);
    ctx_release(ctx);
    ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
}
END_TEST

/* And when its parent is cancelled, as Go's would: the parent still holds
 * the child that nobody cancelled. */
START_TEST(a_done_channel_outliving_its_context_closes_with_the_parent)
{
    ctx_t *parent = ctx_with_cancel(ctx_background());
    ctx_t *ctx = ctx_with_cancel(parent);
    chan_t *done = chan_ref(ctx_done(ctx));
    ctx_release(ctx); /* no cancel */
    ck_assert_int_eq(go_with("waiter", wait_for_done, NULL, done), 0);
    ck_assert(unit_blocked(1, "waiter", "chan_recv"));
    ctx_cancel(parent);
    ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
    ck_assert(!chan_recv(done, NULL));
    chan_release(done);
    ctx_release(parent);
}
END_TEST

/* Go cancels a chain of any depth; so does this, on a go() thread's small
 * stack: 100 000 contexts, each made from the one before and held only by
 * its child, cancelled from the root, then freed from the leaf up. */
enum { DEPTH = 100000 };

struct chain {
    int err; /* the leaf's, after the root's cancel */
    bool made;
};

static void deep_chain(void *arg)
{
    struct chain *c = arg;
    ctx_t *root = ctx_with_cancel(ctx_background()), *leaf = root;
    for (int i = 0; i < DEPTH && leaf; i++) {
        ctx_t *next = ctx_with_cancel(leaf);
        if (leaf != root)
            ctx_release(leaf); /* its child holds it now */
        leaf = next;
    }
    c->made = leaf != NULL;
    ctx_cancel(root);
    c->err = ctx_err(leaf);
    ctx_release(leaf); /* frees the chain up to the root */
    ctx_release(root);
}

START_TEST(a_chain_of_100000_is_cancelled_and_freed_on_a_go_thread)
{
    struct chain c = { 0, false };
    ck_assert_int_eq(go("deep", deep_chain, &c), 0);
    ck_assert_int_eq(go_wait_all(deadline_after(60000)), 0);
    ck_assert_msg(c.made, "out of memory for %d contexts", DEPTH);
    ck_assert_int_eq(c.err, ECANCELED);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("context");
    UNIT_ADD(s, background_is_never_done);
    UNIT_ADD(s, cancel_closes_done_and_sets_err);
    UNIT_ADD(s, cancelling_a_parent_reaches_children_and_grandchildren);
    UNIT_ADD(s, cancelling_a_child_leaves_its_parent_alone);
    UNIT_ADD_TIMEOUT(s, a_chain_of_100000_is_cancelled_and_freed_on_a_go_thread, 120);
    UNIT_ADD(s, a_child_released_without_cancel_goes_with_its_parents_cancel);
    UNIT_ADD(s, contexts_released_without_cancel_leave_nothing);
    UNIT_ADD(s, a_child_of_a_done_parent_is_born_done);
    UNIT_ADD(s, deadline_fires_on_time);
    UNIT_ADD(s, err_reports_a_passed_deadline_without_any_waiter);
    UNIT_ADD(s, a_childs_deadline_is_capped_by_its_parents);
    UNIT_ADD(s, cause_is_kept_and_inherited);
    UNIT_ADD(s, cancel_is_safe_from_many_threads_at_once_and_closes_done_once);
    UNIT_ADD(s, fd_becomes_readable_on_cancel);
    UNIT_ADD(s, fd_becomes_readable_at_the_deadline);
    UNIT_ADD(s, fd_of_a_done_context_is_readable_at_once);
    UNIT_ADD(s, ctx_poll_returns_when_the_context_is_cancelled);
    UNIT_ADD(s, ctx_poll_returns_when_the_socket_is_ready_or_the_deadline_passes);
    UNIT_ADD(s, a_worker_can_outlive_the_handler_that_made_its_context);
    UNIT_ADD(s, time_arithmetic_saturates);
    UNIT_ADD(s, a_cancel_after_a_passed_deadline_leaves_deadline_exceeded);
    UNIT_ADD(s, a_chain_200_deep_is_cancelled_from_its_root);
    UNIT_ADD(s, a_nil_parent_panics);
    UNIT_ADD(s, a_done_channel_outliving_its_context_closes_at_the_deadline);
    UNIT_ADD(s, a_done_channel_outliving_its_context_closes_with_the_parent);
    return unit_run(s);
}
