/* census: counting threads from the kernel, and the grouped dump. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "census.h"
#include "chan.h"
#include "clock.h"
#include "context.h"
#include "errgroup.h"
#include "go.h"
#include "trace.h"
#include "unit.h"

/* Each gated thread holds its own reference, as chan.h asks. */
static void wait_at_gate(void *arg)
{
    chan_recv((chan_t *)arg, NULL);
    chan_release(arg);
}

START_TEST(count_follows_threads_starting_and_exiting)
{
    int base = census_threads();
    chan_t *gate = chan_make(1, 0);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(go("gated", wait_at_gate, chan_ref(gate)), 0);
    ck_assert_int_eq(census_settle(0, base + 5, deadline_after(2000)), base + 5);
    ck_assert_int_eq(go_running(), 5);
    chan_close(gate);
    ck_assert_int_eq(census_settle(0, base, deadline_after(2000)), base);
    ck_assert_int_eq(go_running(), 0);
    chan_release(gate);
}
END_TEST

START_TEST(count_of_this_process_by_pid_and_of_a_missing_one)
{
    ck_assert_int_eq(census_threads_of(getpid()), census_threads());
    errno = 0;
    ck_assert_int_eq(census_threads_of(-2), -1);
    ck_assert_int_ne(errno, 0);
}
END_TEST

START_TEST(settle_gives_up_at_its_deadline)
{
    int base = census_threads();
    int64_t start = now_ms();
    ck_assert_int_eq(census_settle(0, base + 1, start + 50), base);
    ck_assert_int_ge(now_ms(), start + 50);
}
END_TEST

static void say_name(void *arg)
{
    pthread_getname_np(pthread_self(), arg, 16);
}

START_TEST(go_gives_the_thread_its_name_in_the_kernel)
{
    char name[16] = "";
    ck_assert_int_eq(go("named-worker", say_name, name), 0);
    ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
    ck_assert_str_eq(name, "named-worker");
}
END_TEST

static void wait_at_gate_too(void *arg)
{
    chan_recv((chan_t *)arg, NULL);
    chan_release(arg);
}

static void doze(void *arg)
{
    (void)arg;
    time_sleep(500);
}

START_TEST(dump_groups_threads_blocked_at_the_same_place)
{
    chan_t *gate = chan_make(1, 0);
    for (int i = 0; i < 5; i++)
        go("gated", wait_at_gate, chan_ref(gate));
    for (int i = 0; i < 2; i++)
        go("gated", wait_at_gate_too, chan_ref(gate));
    go("dozer", doze, NULL);
    ck_assert(unit_blocked(7, "gated", "chan_recv"));
    ck_assert(unit_blocked(1, "dozer", "sleep"));

    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    census_dump(f);
    fclose(f);
    char first[64];
    snprintf(first, sizeof first, "threads: %d\n", census_threads());
    ck_assert_msg(strncmp(text, first, strlen(first)) == 0, "dump: %s", text);
    /* Two groups of gated threads, the larger first, each at its own line. */
    const char *five = strstr(text, "     5 gated           chan_recv at unit/test_census.c:");
    const char *two = strstr(text, "     2 gated           chan_recv at unit/test_census.c:");
    ck_assert_msg(five && two && five < two, "dump: %s", text);
    ck_assert_msg(strstr(text, "     1 dozer           sleep     at unit/test_census.c:"),
                  "dump: %s", text);
    ck_assert_msg(strstr(text, "outside go()"), "dump: %s", text);
    ck_assert_msg(!strstr(text, "leaked"), "dump: %s", text);
    free(text);
    chan_close(gate);
    chan_release(gate);
}
END_TEST

/* The dump's "blocked" times are story seconds, as every duration the
 * chapters name: at scale 0.5, 200 ms on the clock are 0.4 s of the story. */
START_TEST(blocked_times_in_the_dump_are_story_seconds)
{
    time_scale_set(0.5);
    chan_t *gate = chan_make(1, 0);
    go("gated", wait_at_gate, chan_ref(gate));
    ck_assert(unit_blocked(1, "gated", "chan_recv"));
    int64_t since = now_ms();
    while (now_ms() - since < 200)
        ck_assert(unit_blocked(1, "gated", "chan_recv"));
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    census_dump(f);
    fclose(f);
    const char *at = strstr(text, ", blocked ");
    double lo = 0, hi = 0;
    ck_assert_msg(at && sscanf(at, ", blocked %lfs..%lfs of the story", &lo, &hi) == 2,
                  "dump: %s", text);
    ck_assert_msg(lo >= 0.4 && hi >= lo, "blocked %.1f..%.1f story seconds after 200 ms at "
                  "scale 0.5; dump: %s", lo, hi, text);
    free(text);
    chan_close(gate);
    chan_release(gate);
    time_scale_set(1);
}
END_TEST

/* Threads that block and wake without pause, and some that start and end,
 * while recordings begin and end under them: in every recording each
 * thread's events must make sense on their own (as Perfetto reads them): it
 * is known (started or found) before anything else, never blocks twice
 * without a wake, never wakes unblocked, and nothing follows its exit. */
static atomic_bool churning;

static void churn(void *arg)
{
    chan_t *ch = arg;
    int v = 0;
    while (atomic_load(&churning)) {
        struct chan_case c = chan_recv_case(ch, &v);
        chan_select(&c, 1, 0); /* a block and a wake each time round */
        census_block(CENSUS_SLEEP, __FILE__, __LINE__, NULL, 0, -1);
        census_unblock();
    }
    chan_release(ch);
}

static void brief(void *arg)
{
    (void)arg;
    census_block(CENSUS_SLEEP, __FILE__, __LINE__, NULL, 0, -1);
    census_unblock();
}

struct seen {
    int tid;
    char state; /* 'k' known, 'b' blocked, 'x' exited */
};

static const char *check_trace(const char *text)
{
    static char why[256];
    struct seen seen[512];
    int n = 0;
    for (const char *next = text; next && *next;) {
        char l[512];
        size_t len = strcspn(next, "\n");
        snprintf(l, sizeof l, "%.*s", (int)(len < sizeof l ? len : sizeof l - 1), next);
        next = next[len] ? next + len + 1 : NULL;
        const char *tid_at = strstr(l, "\"tid\":");
        if (!tid_at || strncmp(l, "{\"ph\":\"M\"", 9) == 0)
            continue;
        int tid = atoi(tid_at + 6), i = 0;
        while (i < n && seen[i].tid != tid)
            i++;
        bool known = strstr(l, "\"name\":\"start\"") || strstr(l, "\"name\":\"alive at start\"");
        if (i == n) {
            if (!known) {
                snprintf(why, sizeof why, "thread %d: an event before its start: %.80s", tid, l);
                return why;
            }
            if (n < 512)
                seen[n++] = (struct seen){ tid, 'k' };
            continue;
        }
        char *st = &seen[i].state;
        if (*st == 'x' && strstr(l, "\"name\":\"start\"")) {
            *st = 'k'; /* the kernel gave a new thread the id of one that exited */
            continue;
        }
        if (*st == 'x' || known) {
            snprintf(why, sizeof why, "thread %d: %.80s after %s", tid, l,
                     *st == 'x' ? "its exit" : "it was known");
            return why;
        }
        if (strncmp(l, "{\"ph\":\"B\"", 9) == 0) {
            if (*st == 'b') {
                snprintf(why, sizeof why, "thread %d blocks twice: %.80s", tid, l);
                return why;
            }
            *st = 'b';
        } else if (strncmp(l, "{\"ph\":\"E\"", 9) == 0) {
            if (*st != 'b') {
                snprintf(why, sizeof why, "thread %d wakes unblocked: %.80s", tid, l);
                return why;
            }
            *st = 'k';
        } else if (strstr(l, "\"name\":\"exit\"")) {
            *st = 'x';
        }
    }
    return NULL;
}

START_TEST(every_recording_is_consistent_while_threads_churn)
{
    atomic_store(&churning, true);
    chan_t *ch = chan_make(sizeof(int), 0);
    for (int i = 0; i < 4; i++)
        go("churn", churn, chan_ref(ch));
    for (int r = 0; r < 40; r++) {
        ck_assert_int_eq(trace_begin(), 0);
        ck_assert_int_eq(trace_begin(), EBUSY);
        for (int i = 0; i < 5; i++)
            go("brief", brief, NULL);
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);
        trace_end(f, "test");
        fclose(f);
        const char *why = check_trace(text);
        ck_assert_msg(!why, "recording %d: %s", r, why);
        free(text);
    }
    atomic_store(&churning, false);
    chan_release(ch);
    ck_assert_int_eq(go_wait_all(deadline_after(5000)), 0);
}
END_TEST

static void send_one(void *arg)
{
    chan_t *ch = arg;
    int one = 1;
    chan_send(ch, &one);
    chan_release(ch);
}

/* The article's worker(): make the channel, start the sender, forget it.
 * The sender is marked leaked once its starter lets go of ch, and no
 * longer once someone holds ch again (the test, to rescue it). */
static void the_orphan_is_marked_leaked_while_nobody_holds(chan_t *ch)
{
    ck_assert_int_eq(go("orphan", send_one, chan_ref(ch)), 0);
    ck_assert(unit_blocked(1, "orphan", "chan_send"));
    ck_assert_int_eq(unit_census_count("orphan", "chan_send", true), 0);
    chan_t *forgotten = ch;
    chan_release(ch);
    ck_assert_int_eq(unit_census_count("orphan", "chan_send", true), 1);
    chan_ref(forgotten);
    ck_assert_int_eq(unit_census_count("orphan", "chan_send", true), 0);
}

START_TEST(a_sender_on_a_channel_its_creator_released_is_leaked)
{
    chan_t *ch = chan_make(sizeof(int), 0);
    the_orphan_is_marked_leaked_while_nobody_holds(ch);
    ck_assert(chan_recv(ch, NULL));
    chan_release(ch);
}
END_TEST

/* The same on a full buffered channel, whose ring takes no lock: the
 * blocked sender is counted and marked as any other. */
START_TEST(a_sender_on_a_full_buffered_channel_its_creator_released_is_leaked)
{
    chan_t *ch = chan_make(sizeof(int), 1);
    int v = 1;
    chan_send(ch, &v); /* full now */
    the_orphan_is_marked_leaked_while_nobody_holds(ch);
    ck_assert(chan_recv(ch, &v)); /* room: the sender's value follows */
    ck_assert_int_eq(v, 1);
    ck_assert(chan_recv(ch, &v));
    ck_assert_int_eq(v, 1);
    chan_release(ch);
}
END_TEST

static void send_one_back(void *arg)
{
    chan_t *ch = arg;
    chan_recv(ch, NULL);
    chan_release(ch);
}

static void wait_on_done_only(void *arg)
{
    ctx_t *ctx = arg;
    chan_recv(ctx_done(ctx), NULL);
    ctx_release(ctx);
}

START_TEST(waiting_on_a_context_or_a_timer_is_never_leaked)
{
    ctx_t *ctx = ctx_with_cancel(ctx_background());
    ck_assert_int_eq(go("ctx-waiter", wait_on_done_only, ctx_ref(ctx)), 0);
    ck_assert(unit_blocked(1, "ctx-waiter", "chan_recv"));
    ck_assert_int_eq(unit_census_count("ctx-waiter", "chan_recv", true), 0);
    ctx_cancel(ctx);
    ctx_release(ctx);

    /* The waiter holds the only reference, but the timer will fire. */
    chan_t *timer = time_after(1000);
    ck_assert_int_eq(go("timer-waiter", send_one_back, chan_ref(timer)), 0);
    chan_release(timer);
    ck_assert(unit_blocked(1, "timer-waiter", "chan_recv"));
    ck_assert_int_eq(unit_census_count("timer-waiter", "chan_recv", true), 0);
    ck_assert_int_eq(go_wait_all(deadline_after(5000)), 0);
}
END_TEST

START_TEST(go_wait_all_waits_for_every_go_thread)
{
    chan_t *gate = chan_make(1, 0);
    for (int i = 0; i < 3; i++)
        go("gated", wait_at_gate, chan_ref(gate));
    int64_t start = now_ms();
    ck_assert_int_eq(go_wait_all(start + 30), 3);
    ck_assert_int_ge(now_ms(), start + 30);
    chan_close(gate);
    ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
    chan_release(gate);
}
END_TEST

/* The census counts threads, not queue entries: a select with two cases on
 * one channel is one waiter, and while someone else holds the channel it
 * can still be woken. */
static void select_twice_on_one(void *arg)
{
    chan_t *ch = arg;
    struct chan_case cases[] = { chan_recv_case(ch, NULL), chan_recv_case(ch, NULL) };
    chan_select(cases, 2, -1);
    chan_release(ch);
}

START_TEST(a_select_with_two_cases_on_one_channel_is_one_waiter)
{
    chan_t *ch = chan_make(sizeof(int), 0);
    ck_assert_int_eq(go("twice", select_twice_on_one, chan_ref(ch)), 0);
    ck_assert(unit_blocked(1, "twice", "select"));
    ck_assert_int_eq(unit_census_count("twice", "select", true), 0);
    int v = 1;
    chan_send(ch, &v);
    chan_release(ch);
    ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
}
END_TEST

static char *dump_text(void)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    census_dump(f);
    fclose(f);
    return text;
}

static int hold(ctx_t *ctx, void *arg)
{
    (void)arg;
    chan_recv(ctx_done(ctx), NULL);
    return 0;
}

struct waits {
    group_t *g;
    chan_t *started;
};

/* Blocks in group_go at the limit, then in group_wait. */
static void group_user(void *arg)
{
    struct waits *w = arg;
    group_go(w->g, "held", hold, NULL);
    group_go(w->g, "held", hold, NULL); /* at the limit: waits */
    group_wait(w->g);
}

static void all_waiter(void *arg)
{
    (void)arg;
    go_wait_all(deadline_after(1000));
}

/* Every blocking wait in common/ shows in the dump with its file:line, and
 * each group says which function started its threads, and where. */
START_TEST(group_waits_and_wait_all_show_where_they_wait_and_who_started_them)
{
    ctx_t *parent = ctx_with_cancel(ctx_background()), *ctx;
    struct waits w = { .g = group_with_context(parent, &ctx) };
    group_set_limit(w.g, 1);
    ck_assert_int_eq(go("grouper", group_user, &w), 0);
    ck_assert(unit_blocked(1, "grouper", "group_go"));
    ck_assert(unit_blocked(1, "held", "chan_recv")); /* started, not starting */
    ck_assert_int_eq(go("waiter-all", all_waiter, NULL), 0);
    ck_assert(unit_blocked(1, "waiter-all", "wait_all"));
    char *text = dump_text();
    ck_assert_msg(strstr(text, "grouper         group_go  at unit/test_census.c:"), "%s", text);
    ck_assert_msg(strstr(text, "waiter-all      wait_all  at unit/test_census.c:"), "%s", text);
    ck_assert_msg(strstr(text, "       created by group_user at unit/test_census.c:"), "%s", text);
    ck_assert_msg(strstr(text, "created by group_waits_and_wait_all_show_where_they_wait_and_"),
                  "%s", text);
    free(text);
    ctx_cancel(parent); /* the held function returns; the second starts, returns */
    ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
    group_free(w.g);
    ctx_release(parent);

    /* And a thread in group_wait. */
    parent = ctx_with_cancel(ctx_background());
    w.g = group_with_context(parent, &ctx);
    ck_assert_int_eq(go("grouper", group_user, &w), 0);
    ck_assert(unit_blocked(1, "grouper", "group_wait"));
    text = dump_text();
    ck_assert_msg(strstr(text, "grouper         group_wait at unit/test_census.c:"), "%s", text);
    free(text);
    ctx_cancel(parent);
    ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
    group_free(w.g);
    ctx_release(parent);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("census");
    UNIT_ADD(s, count_follows_threads_starting_and_exiting);
    UNIT_ADD(s, count_of_this_process_by_pid_and_of_a_missing_one);
    UNIT_ADD(s, settle_gives_up_at_its_deadline);
    UNIT_ADD(s, go_gives_the_thread_its_name_in_the_kernel);
    UNIT_ADD(s, dump_groups_threads_blocked_at_the_same_place);
    UNIT_ADD(s, blocked_times_in_the_dump_are_story_seconds);
    UNIT_ADD_TIMEOUT(s, every_recording_is_consistent_while_threads_churn, 30);
    UNIT_ADD(s, a_sender_on_a_channel_its_creator_released_is_leaked);
    UNIT_ADD(s, a_sender_on_a_full_buffered_channel_its_creator_released_is_leaked);
    UNIT_ADD(s, waiting_on_a_context_or_a_timer_is_never_leaked);
    UNIT_ADD(s, go_wait_all_waits_for_every_go_thread);
    UNIT_ADD(s, a_select_with_two_cases_on_one_channel_is_one_waiter);
    UNIT_ADD(s, group_waits_and_wait_all_show_where_they_wait_and_who_started_them);
    return unit_run(s);
}
