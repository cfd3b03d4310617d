/* race: tells a ThreadSanitizer in the program about the hand-offs the core
 * makes with futexes and atomics, so that a program built with
 * -fsanitize=thread and linked with this library as installed (not built
 * with TSan) sees the happens-before that is there, as Go's race detector
 * sees a channel's. tl_race_release(addr) on one thread, then
 * tl_race_acquire(addr) on another that has seen its effect: whatever the
 * first did before happens before whatever the second does after.
 * Without ThreadSanitizer in the process, each is a test of a pointer. */
#ifndef THREADLEAKS_RACE_H
#define THREADLEAKS_RACE_H

/* Inline: a channel's every send and receive calls them, and without TSan
 * each must cost no more than a test of a pointer. */
typedef void tl_race_fn(void *addr);
extern tl_race_fn *tl_race_acquire_fn, *tl_race_release_fn;

static inline void tl_race_acquire(const void *addr)
{
    if (tl_race_acquire_fn)
        tl_race_acquire_fn((void *)addr);
}

static inline void tl_race_release(const void *addr)
{
    if (tl_race_release_fn)
        tl_race_release_fn((void *)addr);
}

#endif
