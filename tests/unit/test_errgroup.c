/* errgroup: the cases golang.org/x/sync/errgroup's tests cover, for threads. */
#include <errno.h>
#include <stdatomic.h>

#include "clock.h"
#include "errgroup.h"
#include "go.h"
#include "unit.h"

static int succeed(ctx_t *ctx, void *arg)
{
    (void)ctx;
    atomic_fetch_add((atomic_int *)arg, 1);
    return 0;
}

START_TEST(wait_returns_zero_when_every_function_succeeds)
{
    atomic_int ran = 0;
    ctx_t *ctx;
    group_t *g = group_with_context(ctx_background(), &ctx);
    ck_assert_ptr_nonnull(g);
    for (int i = 0; i < 5; i++)
        group_go(g, "ok", succeed, &ran);
    ck_assert_int_eq(group_wait(g), 0);
    ck_assert_int_eq(atomic_load(&ran), 5);
    group_free(g);
}
END_TEST

START_TEST(wait_cancels_the_derived_context)
{
    atomic_int ran = 0;
    ctx_t *ctx;
    group_t *g = group_with_context(ctx_background(), &ctx);
    group_go(g, "ok", succeed, &ran);
    ck_assert_int_eq(group_wait(g), 0);
    ck_assert_int_eq(ctx_err(ctx), ECANCELED);
    group_free(g);
}
END_TEST

static int fail_with_eio(ctx_t *ctx, void *arg)
{
    (void)ctx;
    (void)arg;
    return EIO;
}

/* Waits for the group's context, then reports why it ended. */
static int wait_for_cancel(ctx_t *ctx, void *arg)
{
    (void)arg;
    chan_recv(ctx_done(ctx), NULL);
    return ctx_err(ctx);
}

START_TEST(the_first_error_wins_and_cancels_the_others)
{
    ctx_t *ctx;
    group_t *g = group_with_context(ctx_background(), &ctx);
    for (int i = 0; i < 3; i++)
        group_go(g, "waiter", wait_for_cancel, NULL);
    ck_assert(unit_blocked(3, "waiter", "chan_recv"));
    group_go(g, "failer", fail_with_eio, NULL);
    ck_assert_int_eq(group_wait(g), EIO);
    ck_assert_int_eq(ctx_err(ctx), ECANCELED);
    ck_assert_int_eq(ctx_cause(ctx), EIO);
    group_free(g);
}
END_TEST

START_TEST(cancelling_the_parent_reaches_the_group)
{
    ctx_t *parent = ctx_with_cancel(ctx_background()), *ctx;
    group_t *g = group_with_context(parent, &ctx);
    for (int i = 0; i < 2; i++)
        group_go(g, "waiter", wait_for_cancel, NULL);
    ck_assert(unit_blocked(2, "waiter", "chan_recv"));
    ctx_cancel(parent);
    ck_assert_int_eq(group_wait(g), ECANCELED);
    group_free(g);
    ctx_release(parent);
}
END_TEST

/* The limit tests: each function counts itself running, records the highest
 * count seen, and waits at a gate the test opens. */
struct limited {
    chan_t *gate;
    atomic_int running, max, done;
};

static int run_at_gate(ctx_t *ctx, void *arg)
{
    (void)ctx;
    struct limited *l = arg;
    int now = atomic_fetch_add(&l->running, 1) + 1;
    int max = atomic_load(&l->max);
    while (now > max && !atomic_compare_exchange_weak(&l->max, &max, now))
        ;
    chan_recv(l->gate, NULL);
    atomic_fetch_sub(&l->running, 1);
    atomic_fetch_add(&l->done, 1);
    return 0;
}

struct spawner {
    group_t *g;
    struct limited *l;
    int n;
};

static void spawn_all(void *arg)
{
    struct spawner *s = arg;
    for (int i = 0; i < s->n; i++)
        group_go(s->g, "limited", run_at_gate, s->l);
}

START_TEST(set_limit_bounds_how_many_run_at_once)
{
    struct limited l = { .gate = chan_make(1, 0) };
    ctx_t *ctx;
    group_t *g = group_with_context(ctx_background(), &ctx);
    ck_assert_int_eq(group_set_limit(g, 3), 0);
    struct spawner s = { g, &l, 12 };
    ck_assert_int_eq(go("spawner", spawn_all, &s), 0);
    ck_assert(unit_blocked(3, "limited", "chan_recv"));
    /* The spawner is stuck in group_go while three run: nothing more starts. */
    ck_assert_int_eq(atomic_load(&l.running), 3);
    chan_close(l.gate);
    ck_assert_int_eq(go_wait_all(deadline_after(5000)), 0);
    ck_assert_int_eq(group_wait(g), 0);
    ck_assert_int_eq(atomic_load(&l.done), 12);
    ck_assert_int_eq(atomic_load(&l.max), 3);
    group_free(g);
    chan_release(l.gate);
}
END_TEST

START_TEST(try_go_refuses_at_the_limit)
{
    struct limited l = { .gate = chan_make(1, 0) };
    ctx_t *ctx;
    group_t *g = group_with_context(ctx_background(), &ctx);
    ck_assert_int_eq(group_set_limit(g, 2), 0);
    ck_assert(group_try_go(g, "limited", run_at_gate, &l));
    ck_assert(group_try_go(g, "limited", run_at_gate, &l));
    ck_assert(!group_try_go(g, "limited", run_at_gate, &l));
    chan_close(l.gate);
    ck_assert_int_eq(group_wait(g), 0);
    ck_assert(group_try_go(g, "limited", run_at_gate, &l));
    ck_assert_int_eq(group_wait(g), 0);
    ck_assert_int_eq(atomic_load(&l.done), 3);
    group_free(g);
    chan_release(l.gate);
}
END_TEST

START_TEST(set_limit_while_functions_run_is_refused)
{
    struct limited l = { .gate = chan_make(1, 0) };
    ctx_t *ctx;
    group_t *g = group_with_context(ctx_background(), &ctx);
    group_go(g, "limited", run_at_gate, &l);
    ck_assert_int_eq(group_set_limit(g, 1), EBUSY);
    chan_close(l.gate);
    ck_assert_int_eq(group_wait(g), 0);
    ck_assert_int_eq(group_set_limit(g, -1), 0);
    group_free(g);
    chan_release(l.gate);
}
END_TEST

/* Go: the parent's deadline fires first, so the group's context is done
 * with DeadlineExceeded before Wait cancels it. */
START_TEST(a_parent_deadline_passed_before_wait_is_deadline_exceeded)
{
    atomic_int ran = 0;
    ctx_t *parent = ctx_with_timeout(ctx_background(), 10), *ctx;
    group_t *g = group_with_context(parent, &ctx);
    while (now_ms() < ctx_deadline(parent))
        ; /* a deadline, not a wait for another thread */
    group_go(g, "ok", succeed, &ran);
    ck_assert_int_eq(group_wait(g), 0);
    ck_assert_int_eq(ctx_err(ctx), ETIMEDOUT);
    group_free(g);
    ctx_release(parent);
}
END_TEST

static int is_background(ctx_t *ctx, void *arg)
{
    (void)arg;
    return ctx == ctx_background() ? EDOM : EINVAL;
}

/* errgroup's zero Group: no context of its own, the first error kept. */
START_TEST(a_group_without_context_hands_its_functions_background)
{
    group_t *g = group_new();
    ck_assert_ptr_nonnull(g);
    ck_assert_int_eq(group_go(g, "bg", is_background, NULL), 0);
    ck_assert_int_eq(group_wait(g), EDOM);
    group_free(g);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("errgroup");
    UNIT_ADD(s, a_group_without_context_hands_its_functions_background);
    UNIT_ADD(s, wait_returns_zero_when_every_function_succeeds);
    UNIT_ADD(s, wait_cancels_the_derived_context);
    UNIT_ADD(s, the_first_error_wins_and_cancels_the_others);
    UNIT_ADD(s, cancelling_the_parent_reaches_the_group);
    UNIT_ADD(s, set_limit_bounds_how_many_run_at_once);
    UNIT_ADD(s, try_go_refuses_at_the_limit);
    UNIT_ADD(s, set_limit_while_functions_run_is_refused);
    UNIT_ADD(s, a_parent_deadline_passed_before_wait_is_deadline_exceeded);
    return unit_run(s);
}
