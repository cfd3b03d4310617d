/* The programs of Go's test/chan/, ported to common/chan.h as tests: each
 * test is named after its Go file and checks what the program checks.
 *
 * Deliberately different:
 * - Go's programs run once with fixed sizes (goroutines.go: 10 000
 *   goroutines, doubleselect.go: 100 000 iterations); here the sizes are
 *   smaller, and smaller again under a sanitizer (unit_slowdown), since each
 *   goroutine is a kernel thread.
 * - select3.go learns that an operation blocks by waiting 0.1 s and leaves
 *   the blocked goroutine behind. Here a select with a deadline of 100 ms is
 *   that check; a plain send or receive that must block for ever runs in a
 *   child process, which the census asks, and which exits with it.
 * - zerosize.go makes channels of struct{}: chan_make refuses an element
 *   size of 0 (EINVAL), so it is not ported; perm.go and sendstmt.go test
 *   the compiler; powser*.go, sieve*.go and select2/4/5/6/7.go are not
 *   ported (the sieves' goroutines never end, by design).
 */
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "chan.h"
#include "clock.h"
#include "go.h"
#include "unit.h"

/* ---- fifo.go: channels are pure FIFOs ---- */

enum { FIFO_N = 10 };

struct link {
    chan_t *ch, *in, *out;
    int val;
};

/* Waits for its turn on in, takes the next value, passes the turn on. */
static void chain_link(void *arg)
{
    struct link *l = arg;
    int v;
    chan_recv(l->in, NULL);
    chan_recv(l->ch, &v);
    ck_assert_msg(v == l->val, "link %d received %d", l->val, v);
    int one = 1;
    chan_send(l->out, &one);
}

START_TEST(fifo)
{
    /* AsynchFifo */
    chan_t *ch = chan_make(sizeof(int), FIFO_N);
    for (int i = 0; i < FIFO_N; i++)
        chan_send(ch, &i);
    for (int i = 0; i < FIFO_N; i++) {
        int v;
        chan_recv(ch, &v);
        ck_assert_msg(v == i, "bad receive: %d, expected %d", v, i);
    }
    chan_release(ch);

    /* SynchFifo: a daisy chain reads an unbuffered channel in sequence */
    struct link links[FIFO_N];
    chan_t *sync = chan_make(sizeof(int), 0);
    chan_t *start = chan_make(sizeof(int), 0), *in = start;
    for (int i = 0; i < FIFO_N; i++) {
        links[i] = (struct link){ sync, in, chan_make(sizeof(int), 0), i };
        ck_assert_int_eq(go("link", chain_link, &links[i]), 0);
        in = links[i].out;
    }
    int zero = 0;
    chan_send(start, &zero);
    for (int i = 0; i < FIFO_N; i++)
        chan_send(sync, &i);
    chan_recv(in, NULL);
    ck_assert_int_eq(go_wait_all(deadline_after(2000)), 0);
    chan_release(start);
    for (int i = 0; i < FIFO_N; i++)
        chan_release(links[i].out);
    chan_release(sync);
}
END_TEST

/* ---- goroutines.go: many threads threaded together, torn down cleanly ---- */

struct pass {
    chan_t *left, *right;
};

static void pass_left(void *arg)
{
    struct pass *p = arg;
    int v;
    chan_recv(p->right, &v);
    chan_send(p->left, &v);
}

static void send_one_right(void *arg)
{
    int v = 1;
    chan_send((chan_t *)arg, &v);
}

START_TEST(goroutines)
{
    int n = unit_slowdown() > 1 ? 100 : 1000;
    struct pass *p = calloc((size_t)n, sizeof *p);
    chan_t *leftmost = chan_make(sizeof(int), 0), *left = leftmost;
    for (int i = 0; i < n; i++) {
        p[i] = (struct pass){ left, chan_make(sizeof(int), 0) };
        ck_assert_int_eq(go("f", pass_left, &p[i]), 0);
        left = p[i].right;
    }
    ck_assert_int_eq(go("first", send_one_right, left), 0);
    int v = 0;
    chan_recv(leftmost, &v);
    ck_assert_int_eq(v, 1);
    ck_assert_int_eq(go_wait_all(deadline_after(10000)), 0);
    chan_release(leftmost);
    for (int i = 0; i < n; i++)
        chan_release(p[i].right);
    free(p);
}
END_TEST

/* ---- doubleselect.go: two cases of one select never both run ---- */

struct dsel {
    chan_t *c[4], *mux;
    int n;
};

/* Sends a counter to one of four channels: were two cases to run in one
 * iteration, one value would arrive twice. */
static void dsel_sender(void *arg)
{
    struct dsel *d = arg;
    for (int i = 0; i < d->n; i++) {
        struct chan_case k[4];
        for (int j = 0; j < 4; j++)
            k[j] = chan_send_case(d->c[j], &i);
        chan_select(k, 4, -1);
    }
    for (int j = 0; j < 4; j++)
        chan_close(d->c[j]);
}

struct mux {
    chan_t *in, *out;
};

static void dsel_mux(void *arg)
{
    struct mux *m = arg;
    int v;
    while (chan_recv(m->in, &v))
        chan_send(m->out, &v);
    int end = -1;
    chan_send(m->out, &end);
}

START_TEST(doubleselect)
{
    struct dsel d = { .n = unit_slowdown() > 1 ? 2000 : 20000, .mux = chan_make(sizeof(int), 0) };
    struct mux m[4];
    for (int j = 0; j < 4; j++) {
        d.c[j] = chan_make(sizeof(int), 0);
        m[j] = (struct mux){ d.c[j], d.mux };
    }
    ck_assert_int_eq(go("sender", dsel_sender, &d), 0);
    for (int j = 0; j < 4; j++)
        ck_assert_int_eq(go("mux", dsel_mux, &m[j]), 0);
    bool *seen = calloc((size_t)d.n, sizeof *seen);
    int ended = 0, got = 0;
    while (ended < 4) {
        int v;
        chan_recv(d.mux, &v);
        if (v < 0) {
            ended++;
            continue;
        }
        ck_assert_msg(v < d.n && !seen[v], "got duplicate value: %d", v);
        seen[v] = true;
        got++;
    }
    ck_assert_int_eq(got, d.n);
    ck_assert_int_eq(go_wait_all(deadline_after(5000)), 0);
    free(seen);
    for (int j = 0; j < 4; j++)
        chan_release(d.c[j]);
    chan_release(d.mux);
}
END_TEST

/* ---- select.go: a default ends the loop; nil cases are never chosen ---- */

static unsigned counter, shift;

static unsigned get_value(void)
{
    counter++;
    return 1u << shift;
}

/* Sends on a and b until neither is ready; a channel sent on drops out. Go
 * evaluates every case's value on each select, so counter counts them. */
static int send_until_full(chan_t *a, chan_t *b)
{
    int i = 0;
    for (;;) {
        unsigned va = get_value(), vb = get_value();
        struct chan_case k[2] = { chan_send_case(a, &va), chan_send_case(b, &vb) };
        int chosen = chan_select(k, 2, 0);
        if (chosen < 0)
            return i;
        i++;
        if (chosen == 0)
            a = NULL;
        else
            b = NULL;
        shift++;
    }
}

START_TEST(select_go)
{
    chan_t *a = chan_make(sizeof(unsigned), 1), *b = chan_make(sizeof(unsigned), 1);
    ck_assert_int_eq(send_until_full(a, b), 2);
    unsigned av, bv;
    chan_recv(a, &av);
    chan_recv(b, &bv);
    ck_assert_msg((av | bv) == 3, "bad values %u %u", av, bv);
    ck_assert_int_eq(send_until_full(a, NULL), 1);
    ck_assert_int_eq(counter, 10);
    chan_release(a);
    chan_release(b);
}
END_TEST

/* ---- select3.go: which operations block, which panic ---- */

/* A select that must block: it is still waiting 100 ms on. */
static void assert_select_blocks(struct chan_case *k, int n, const char *what)
{
    ck_assert_msg(chan_select(k, n, deadline_after(100)) == -1, "%s did not block", what);
}

/* A select that must not block: it returns at once, with a deadline far
 * beyond any scheduling delay. */
static int select_now(struct chan_case *k, int n, const char *what)
{
    int chosen = chan_select(k, n, deadline_after(5000));
    ck_assert_msg(chosen >= 0, "%s blocked", what);
    return chosen;
}

static void nil_send(void *arg)
{
    (void)arg;
    int v = 7;
    chan_send(NULL, &v);
}

static void nil_recv(void *arg)
{
    (void)arg;
    chan_recv(NULL, NULL);
}

/* Runs fn on a thread in a child process, and asserts that the census sees
 * it blocked in state: it could never be woken, so it ends with the child. */
static void assert_blocks_for_ever(void (*fn)(void *), const char *state)
{
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        if (go("blocker", fn, NULL) != 0)
            _exit(2);
        _exit(unit_blocked(1, "blocker", state) ? 0 : 1);
    }
    int status;
    ck_assert(waitpid(pid, &status, 0) == pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "a %s on a nil channel did not block (child status %d)", state, status);
}

static void send_closed(void *arg)
{
    int v = 7;
    chan_send((chan_t *)arg, &v);
}

static void select_send_closed(void *arg)
{
    int v = 7;
    struct chan_case k = chan_send_case((chan_t *)arg, &v);
    chan_select(&k, 1, -1);
}

START_TEST(select3)
{
    chan_t *closed = chan_make(sizeof(int), 0);
    chan_close(closed);
    int v = 7;

    /* sending or receiving on a nil channel blocks */
    assert_blocks_for_ever(nil_send, "chan_send");
    assert_blocks_for_ever(nil_recv, "chan_recv");

    /* inside a select, a nil channel's case is never chosen */
    struct chan_case k[2] = { chan_send_case(NULL, &v), chan_recv_case(NULL, &v) };
    ck_assert_int_eq(chan_select(&k[0], 1, 0), -1);
    ck_assert_int_eq(chan_select(&k[1], 1, 0), -1);

    /* a send with room in the buffer does not block */
    chan_t *async = chan_make(sizeof(int), 1);
    k[0] = chan_send_case(async, &v);
    select_now(k, 1, "a send with room");
    chan_release(async);

    /* a receive on a closed channel does not block, and gives 0, !ok */
    for (int i = 0; i < 10; i++) {
        v = 7;
        bool ok = chan_recv(closed, &v);
        ck_assert_msg(v == 0 && !ok, "closed channel gave %d, %d", v, ok);
    }

    /* sending on a closed channel panics, in a select too */
    unit_assert_panics(send_closed, closed, "send on closed channel");
    unit_assert_panics(select_send_closed, closed, "send on closed channel");

    /* a receive from a channel nobody sends on blocks; so does a select
     * with no case, one whose cases are all nil, and one on a channel
     * nobody is ready on, even when it sees itself */
    chan_t *ch = chan_make(sizeof(int), 0);
    k[0] = chan_recv_case(ch, &v);
    assert_select_blocks(k, 1, "a receive from a non-ready channel");
    assert_select_blocks(NULL, 0, "an empty select");
    k[0] = chan_recv_case(NULL, &v);
    assert_select_blocks(k, 1, "a select on a nil receive");
    k[0] = chan_send_case(NULL, &v);
    assert_select_blocks(k, 1, "a select on a nil send");
    k[0] = chan_recv_case(NULL, &v);
    k[1] = chan_send_case(NULL, &v);
    assert_select_blocks(k, 2, "a select on nil channels");
    k[0] = chan_send_case(ch, &v);
    k[1] = chan_recv_case(ch, &v);
    assert_select_blocks(k, 2, "a select that sees itself");
    chan_release(ch);

    /* a select with a default, or with a ready case, does not block */
    ck_assert_int_eq(chan_select(NULL, 0, 0), -1);
    async = chan_make(sizeof(int), 1);
    k[0] = chan_send_case(async, &v);
    ck_assert_int_eq(chan_select(k, 1, 0), 0);
    k[0] = chan_recv_case(async, &v);
    ck_assert_int_eq(chan_select(k, 1, 0), 0);
    chan_release(async);

    /* a select on a closed channel is an ordinary receive */
    k[0] = chan_recv_case(closed, &v);
    ck_assert_int_eq(select_now(k, 1, "a select on a closed channel"), 0);
    ck_assert(!k[0].ok);
    chan_release(closed);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("go_chan_programs");
    UNIT_ADD(s, fifo);
    UNIT_ADD_TIMEOUT(s, goroutines, 30);
    UNIT_ADD_TIMEOUT(s, doubleselect, 30);
    UNIT_ADD(s, select_go);
    UNIT_ADD_TIMEOUT(s, select3, 20);
    return unit_run(s);
}
