/* Go's own tests of golang.org/x/sync/errgroup (errgroup/errgroup_test.go),
 * ported to common/errgroup.h. Each test is named after its Go original.
 *
 * Deliberately different:
 * - Go's zero Group is group_new(): TestZeroGroup and TestTryGo use it.
 * - Errors are errno values: Go's errDoom is EDOM.
 * - ExampleGroup_parallel is ported as a test of its output; the example
 *   that fetches URLs is not (no network here).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "chan.h"
#include "clock.h"
#include "errgroup.h"
#include "go.h"
#include "unit.h"

static int return_err(ctx_t *ctx, void *arg)
{
    (void)ctx;
    return *(int *)arg;
}

START_TEST(TestZeroGroup)
{
    static int cases[][3] = { { -1 }, { 0, -1 }, { 1, -1 }, { 1, 0, -1 }, { 1, 0, 2 } };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        group_t *g = group_new();
        int first = 0;
        for (int i = 0; i < 3 && cases[c][i] >= 0; i++) {
            ck_assert_int_eq(group_go(g, "zero", return_err, &cases[c][i]), 0);
            if (!first && cases[c][i])
                first = cases[c][i];
            ck_assert_msg(group_wait(g) == first, "case %zu, after %d: want %d", c, i, first);
        }
        group_free(g);
    }
}
END_TEST

START_TEST(TestWithContext)
{
    static int cases[][3] = { { -1 }, { 0, -1 }, { EDOM, -1 }, { EDOM, 0, -1 } };
    static const int want[] = { 0, 0, EDOM, EDOM };
    for (int c = 0; c < 4; c++) {
        ctx_t *ctx;
        group_t *g = group_with_context(ctx_background(), &ctx);
        for (int i = 0; i < 3 && cases[c][i] >= 0; i++)
            group_go(g, "with-ctx", return_err, &cases[c][i]);
        ck_assert_int_eq(group_wait(g), want[c]);
        struct chan_case k = chan_recv_case(ctx_done(ctx), NULL);
        ck_assert_msg(chan_select(&k, 1, 0) == 0, "case %d: ctx.Done() was not closed", c);
        group_free(g);
    }
}
END_TEST

static int send_on(ctx_t *ctx, void *arg)
{
    (void)ctx;
    int v = 0;
    chan_send((chan_t *)arg, &v);
    return 0;
}

static void receive_n(ctx_t *ctx, int n, chan_t *ch)
{
    (void)ctx;
    for (int i = 0; i < n; i++)
        chan_recv(ch, NULL);
}

START_TEST(TestTryGo)
{
    group_t *g = group_new();
    chan_t *ch = chan_make(sizeof(int), 0);
    enum { N = 42 };
    group_set_limit(g, N);
    for (int i = 0; i < N; i++)
        ck_assert_msg(group_try_go(g, "try", send_on, ch), "TryGo failed at the %d-th call", i);
    ck_assert_msg(!group_try_go(g, "try", send_on, ch), "TryGo succeeded past the limit");
    ck_assert_int_eq(go_with_id("drain", receive_n, NULL, N, ch), 0);
    group_wait(g);

    ck_assert(group_try_go(g, "try", send_on, ch));
    ck_assert_int_eq(go_with_id("drain", receive_n, NULL, 1, ch), 0);
    group_wait(g);

    ck_assert_int_eq(group_set_limit(g, 1), 0); /* switch limit */
    ck_assert(group_try_go(g, "try", send_on, ch));
    ck_assert(!group_try_go(g, "try", send_on, ch));
    ck_assert_int_eq(go_with_id("drain", receive_n, NULL, 1, ch), 0);
    group_wait(g);

    ck_assert_int_eq(group_set_limit(g, 0), 0); /* block all calls */
    for (int i = 0; i < 1 << 10; i++)
        ck_assert(!group_try_go(g, "try", send_on, ch));
    group_wait(g);
    ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
    group_free(g);
    chan_release(ch);
}
END_TEST

enum { LIMIT = 10 };
static atomic_int active;

static int count_active(ctx_t *ctx, void *arg)
{
    (void)ctx;
    (void)arg;
    int n = atomic_fetch_add(&active, 1) + 1;
    if (n > LIMIT)
        return ERANGE; /* saw more active threads than the limit */
    struct timespec us = { 0, 1000 };
    nanosleep(&us, NULL); /* give the others a chance to count themselves */
    atomic_fetch_sub(&active, 1);
    return 0;
}

START_TEST(TestGoLimit)
{
    ctx_t *ctx;
    group_t *g = group_with_context(ctx_background(), &ctx);
    group_set_limit(g, LIMIT);
    for (int i = 0; i <= 1 << 10; i++)
        group_go(g, "limited", count_active, NULL);
    ck_assert_int_eq(group_wait(g), 0);
    group_free(g);
}
END_TEST

START_TEST(TestCancelCause)
{
    static int cases[][3] = { { -1 }, { 0, -1 }, { EDOM, -1 }, { EDOM, 0, -1 } };
    static const int want[] = { 0, 0, EDOM, EDOM };
    for (int c = 0; c < 4; c++) {
        ctx_t *ctx;
        group_t *g = group_with_context(ctx_background(), &ctx);
        for (int i = 0; i < 3 && cases[c][i] >= 0; i++)
            group_try_go(g, "cause", return_err, &cases[c][i]);
        ck_assert_int_eq(group_wait(g), want[c]);
        ck_assert_int_eq(ctx_cause(ctx), want[c] ? want[c] : ECANCELED);
        group_free(g);
    }
}
END_TEST

/* ExampleGroup_parallel: "Google Search 2.0" with a group. */
struct search {
    const char *kind, *query;
    char result[64];
};

static int fake_search(ctx_t *ctx, void *arg)
{
    (void)ctx;
    struct search *s = arg;
    snprintf(s->result, sizeof s->result, "%s result for \"%s\"", s->kind, s->query);
    return 0;
}

START_TEST(ExampleGroup_parallel)
{
    struct search searches[] = { { "web", "golang", "" }, { "image", "golang", "" },
                                 { "video", "golang", "" } };
    ctx_t *ctx;
    group_t *g = group_with_context(ctx_background(), &ctx);
    for (int i = 0; i < 3; i++)
        group_go(g, "search", fake_search, &searches[i]);
    ck_assert_int_eq(group_wait(g), 0);
    group_free(g);
    ck_assert_str_eq(searches[0].result, "web result for \"golang\"");
    ck_assert_str_eq(searches[1].result, "image result for \"golang\"");
    ck_assert_str_eq(searches[2].result, "video result for \"golang\"");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("go_errgroup");
    UNIT_ADD(s, TestZeroGroup);
    UNIT_ADD(s, TestWithContext);
    UNIT_ADD(s, TestTryGo);
    UNIT_ADD(s, TestGoLimit);
    UNIT_ADD(s, TestCancelCause);
    UNIT_ADD(s, ExampleGroup_parallel);
    return unit_run(s);
}
