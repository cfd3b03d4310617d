/* What the fast path costs: counted, not timed. This program is linked with
 * --wrap for malloc, calloc, realloc and pthread_mutex_lock, so every call
 * that common/ makes to them passes through the counters below. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include "chan.h"
#include "unit.h"

static atomic_int allocations, locks;

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
int __real_pthread_mutex_lock(pthread_mutex_t *mu);

void *__wrap_malloc(size_t size)
{
    atomic_fetch_add(&allocations, 1);
    return __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    atomic_fetch_add(&allocations, 1);
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    atomic_fetch_add(&allocations, 1);
    return __real_realloc(p, size);
}

int __wrap_pthread_mutex_lock(pthread_mutex_t *mu)
{
    atomic_fetch_add(&locks, 1);
    return __real_pthread_mutex_lock(mu);
}

START_TEST(uncontended_buffered_send_and_recv_take_no_lock_and_allocate_nothing)
{
    chan_t *ch = chan_make(sizeof(int), 4);
    int v = 1;
    /* Read the counters before asserting: Check takes locks of its own. */
    atomic_store(&allocations, 0);
    atomic_store(&locks, 0);
    chan_send(ch, &v);
    int locks_to_send = atomic_exchange(&locks, 0);
    bool ok = chan_recv(ch, &v);
    int locks_to_recv = atomic_load(&locks);
    int allocated = atomic_load(&allocations);
    ck_assert(ok);
    ck_assert_int_eq(v, 1);
    /* The ring is lock-free: a send or receive that need not wait, with
     * nobody waiting on the other side, takes no lock at all. */
    ck_assert_int_eq(locks_to_send, 0);
    ck_assert_int_eq(locks_to_recv, 0);
    ck_assert_int_eq(allocated, 0);
    chan_release(ch);
}
END_TEST

START_TEST(the_counters_see_common_allocating)
{
    /* Proves the wrapping works: making a channel must be counted. */
    atomic_store(&allocations, 0);
    chan_t *ch = chan_make(sizeof(int), 4);
    int allocated = atomic_load(&allocations);
    ck_assert_int_ge(allocated, 2);
    chan_release(ch);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cost");
    UNIT_ADD(s, uncontended_buffered_send_and_recv_take_no_lock_and_allocate_nothing);
    UNIT_ADD(s, the_counters_see_common_allocating);
    return unit_run(s);
}
