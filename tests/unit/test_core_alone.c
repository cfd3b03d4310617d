/* The core by itself: linked with tl_core only (no census, no libevent, no
 * Check), its channels, contexts, threads and errgroup work, and a hook of
 * our own sees what the threads do. Plain C: exits 1 at the first failure. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "threadleaks/chan.h"
#include "threadleaks/clock.h"
#include "threadleaks/context.h"
#include "threadleaks/errgroup.h"
#include "threadleaks/go.h"
#include "threadleaks/hook.h"

#define expect(cond)                                                           \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static atomic_int starts, exits, blocks[16], unblocks;
static char first_name[16];
static struct tl_site first_site;

static void *on_start(const char *name, struct tl_site created)
{
    if (atomic_fetch_add(&starts, 1) == 0) {
        snprintf(first_name, sizeof first_name, "%s", name);
        first_site = created;
    }
    return &starts; /* any non-NULL: the hook wants the thread */
}

static void on_block(void *thread, enum tl_state state, const char *file, int line,
                     const struct tl_chan_case *cases, int n, int64_t deadline)
{
    (void)file, (void)line, (void)cases, (void)n, (void)deadline;
    if (thread == &starts && state < 16)
        atomic_fetch_add(&blocks[state], 1);
}

static void on_unblock(void *thread)
{
    if (thread == &starts)
        atomic_fetch_add(&unblocks, 1);
}

static void on_exit(void *thread)
{
    if (thread == &starts)
        atomic_fetch_add(&exits, 1);
}

static const struct tl_hook hook = { on_start, on_block, on_unblock, on_exit };
static const struct tl_hook other = { on_start, on_block, on_unblock, on_exit };

static void echo(void *arg)
{
    tl_chan_t *ch = arg;
    int v;
    while (tl_chan_recv(ch, &v))
        tl_chan_send(ch, &v);
    tl_chan_release(ch);
}

static int wait_for_cancel(tl_ctx_t *ctx, void *arg)
{
    (void)arg;
    struct tl_chan_case c = tl_chan_recv_case(tl_ctx_done(ctx), NULL);
    tl_chan_select(&c, 1, -1);
    return tl_ctx_err(ctx);
}

static int fail(tl_ctx_t *ctx, void *arg)
{
    (void)ctx, (void)arg;
    return EIO;
}

int main(void)
{
    expect(tl_hook_set(&hook) == 0);
    expect(tl_hook_set(&hook) == 0);      /* the same hook again is no change */
    expect(tl_hook_set(&other) == EBUSY); /* one hook at a time */

    /* A rendezvous with a thread of its own, and the hook sees it. */
    tl_chan_t *ch = tl_chan_make(sizeof(int), 0);
    expect(ch);
    expect(tl_go("echo", echo, tl_chan_ref(ch)) == 0);
    int line = __LINE__ - 1;
    /* Nothing is sent yet, so echo must block in its receive, and say so. */
    int64_t deadline = tl_deadline_after(5000);
    while (atomic_load(&blocks[TL_STATE_CHAN_RECV]) == 0 && tl_now_ms() < deadline)
        nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
    expect(atomic_load(&blocks[TL_STATE_CHAN_RECV]) > 0);
    for (int i = 0; i < 100; i++) {
        int v = i, back = -1;
        tl_chan_send(ch, &v);
        expect(tl_chan_recv(ch, &back) && back == i);
    }
    tl_chan_close(ch);
    tl_chan_release(ch);
    expect(tl_go_wait_all(tl_deadline_after(5000)) == 0);
    expect(strcmp(first_name, "echo") == 0);
    expect(strcmp(first_site.func, "main") == 0 && first_site.line == line);
    expect(atomic_load(&exits) == 1);

    /* An errgroup whose first error cancels the rest. */
    tl_ctx_t *ctx;
    tl_group_t *g = tl_group_with_context(tl_ctx_background(), &ctx);
    expect(g);
    for (int i = 0; i < 3; i++)
        expect(tl_group_go(g, "waiter", wait_for_cancel, NULL) == 0);
    deadline = tl_deadline_after(5000);
    while (atomic_load(&blocks[TL_STATE_SELECT]) < 3 && tl_now_ms() < deadline)
        nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
    expect(atomic_load(&blocks[TL_STATE_SELECT]) >= 3);
    expect(tl_group_go(g, "failer", fail, NULL) == 0);
    expect(tl_group_wait(g) == EIO);
    expect(tl_ctx_err(ctx) == ECANCELED && tl_ctx_cause(ctx) == EIO);
    tl_group_free(g);
    expect(tl_go_wait_all(tl_deadline_after(5000)) == 0);
    expect(atomic_load(&starts) == 5 && atomic_load(&exits) == 5);
    int total = 0;
    for (int i = 0; i < 16; i++)
        total += atomic_load(&blocks[i]);
    expect(atomic_load(&unblocks) == total);

    /* A deadline with no thread and no timer behind it. */
    tl_ctx_t *t = tl_ctx_with_timeout(tl_ctx_background(), 20);
    struct tl_chan_case c = tl_chan_recv_case(tl_ctx_done(t), NULL);
    expect(tl_chan_select(&c, 1, tl_deadline_after(5000)) == 0);
    expect(tl_ctx_err(t) == ETIMEDOUT);
    tl_ctx_cancel(t);
    tl_ctx_release(t);

    puts("core alone: channels, contexts, threads, errgroup and the hook work");
    return 0;
}
