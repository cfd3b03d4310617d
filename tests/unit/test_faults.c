/* Out of memory, on purpose: every constructor of the library is run with
 * its first allocation failing, then its second, and so on until it
 * succeeds. Each failure must give the documented answer (NULL with errno
 * ENOMEM, or ENOMEM returned), start no thread (the fixture's leak check)
 * and free what it had taken (LeakSanitizer, in the ASan build). Linked
 * with --wrap for malloc, calloc and realloc; only the calling thread's
 * allocations fail. */
#include <errno.h>
#include <stdlib.h>

#include "chan.h"
#include "clock.h"
#include "context.h"
#include "errgroup.h"
#include "go.h"
#include "leakcheck.h"
#include "timer.h"
#include "waitgroup.h"
#include "unit.h"

static _Thread_local int countdown; /* 0: nothing fails; n: the n-th allocation from now does */
static _Thread_local bool tripped;  /* that allocation has failed */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);

/* As malloc fails: NULL, and errno ENOMEM (POSIX requires it). */
static bool fails(void)
{
    if (countdown > 0 && --countdown == 0) {
        tripped = true;
        errno = ENOMEM;
        return true;
    }
    return false;
}

void *__wrap_malloc(size_t size)
{
    return fails() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return fails() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    return fails() ? NULL : __real_realloc(p, size);
}

enum { MAX_ALLOCATIONS = 20 };

/* What make() does after its constructor: nothing fails from here on, so
 * that Check's own allocations and the clean-up are not hit. */
static void disarm(void)
{
    countdown = 0;
}

/* Runs make() with its n-th allocation failing, for n = 1, 2, ... until it
 * succeeds; each failure must say ENOMEM. Returns how many failures were
 * seen; make() frees what it made when it succeeds. */
static int each_failure(const char *what, int (*make)(void))
{
    for (int n = 1; n <= MAX_ALLOCATIONS; n++) {
        errno = 0;
        tripped = false;
        countdown = n;
        int err = make();
        bool failed_inside = tripped;
        countdown = 0;
        if (err == 0) {
            ck_assert_msg(!failed_inside, "%s: allocation %d failed, yet it succeeded", what, n);
            return n - 1;
        }
        ck_assert_msg(err == ENOMEM, "%s: allocation %d failed: error %d, want ENOMEM", what,
                      n, err);
    }
    ck_abort_msg("%s: never succeeded", what);
    return 0;
}

static int make_timer(void)
{
    tl_timer_t *t = tl_timer_new(1000);
    if (!t)
        return errno;
    tl_timer_free(t);
    return 0;
}

static int make_ticker(void)
{
    tl_ticker_t *t = tl_ticker_new(1000);
    if (!t)
        return errno;
    tl_ticker_free(t);
    return 0;
}

static int key;

static int make_values(void)
{
    ctx_t *parent = ctx_with_cancel(ctx_background());
    if (!parent)
        return errno;
    ctx_t *v = ctx_with_value(parent, &key, "v");
    ctx_t *d = v ? ctx_without_cancel(v) : NULL;
    int err = d ? 0 : errno;
    disarm();
    ctx_release(d);
    ctx_release(v);
    ctx_cancel(parent);
    ctx_release(parent);
    return err;
}

static void nothing(void *arg)
{
    (void)arg;
}

static int make_after_func(void)
{
    ctx_t *ctx = ctx_with_cancel(ctx_background());
    if (!ctx)
        return errno;
    after_t *stop;
    int err = ctx_after_func(ctx, nothing, NULL, &stop);
    disarm();
    if (!err) {
        ck_assert(after_stop(stop));
        ck_assert_int_eq(go_wait_all(deadline_after(10000)), 0);
    } else {
        ck_assert_ptr_null(stop);
    }
    ctx_cancel(ctx);
    ctx_release(ctx);
    return err;
}

static int make_wg_go(void)
{
    wg_t wg = WG_INIT;
    int err = wg_go(&wg, "wg", nothing, NULL);
    disarm();
    wg_wait(&wg); /* returns at once if nothing started: the counter is as before */
    ck_assert_int_eq(go_wait_all(deadline_after(10000)), 0);
    return err;
}

static int make_group(void)
{
    group_t *g = group_new();
    if (!g)
        return errno;
    group_free(g);
    ctx_t *ctx;
    g = group_with_context(ctx_background(), &ctx);
    if (!g)
        return errno;
    group_free(g);
    return 0;
}

static int make_check(void)
{
    tl_leakcheck_t *c = tl_leakcheck_begin();
    if (!c)
        return errno;
    int err = tl_leakcheck_ignore_name(c, "x");
    if (!err)
        err = tl_leakcheck_ignore_created_by(c, "y");
    disarm();
    ck_assert_int_eq(tl_leakcheck_end(c, stderr), 0);
    return err;
}

START_TEST(every_constructor_answers_enomem_and_leaves_nothing)
{
    ck_assert_int_ge(each_failure("tl_timer_new", make_timer), 1);
    ck_assert_int_ge(each_failure("tl_ticker_new", make_ticker), 1);
    ck_assert_int_ge(each_failure("with_value, without_cancel", make_values), 3);
    ck_assert_int_ge(each_failure("tl_ctx_after_func", make_after_func), 3);
    ck_assert_int_ge(each_failure("tl_wg_go", make_wg_go), 1);
    ck_assert_int_ge(each_failure("group_new, group_with_context", make_group), 2);
    ck_assert_int_ge(each_failure("the leak check", make_check), 2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("faults");
    UNIT_ADD_TIMEOUT(s, every_constructor_answers_enomem_and_leaves_nothing, 30);
    return unit_run(s);
}
