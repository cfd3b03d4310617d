/* The hand-offs told to ThreadSanitizer (race.h). The library itself is
 * plain: TSan cannot see its atomics or its futex waits, only what it
 * intercepts (memcpy, malloc, pthread_mutex_lock). A channel's value is
 * copied by memcpy on one thread and read by the user's code on another
 * after a futex wake-up; without these calls TSan reports that as a race.
 * The runtime is looked up by name, so the plain library needs no TSan to
 * link or run: __tsan_acquire and __tsan_release are its public interface
 * (<sanitizer/tsan_interface.h>). */
#define _GNU_SOURCE /* RTLD_DEFAULT */
#include "race.h"

#include <dlfcn.h>
#include <stddef.h>

tl_race_fn *tl_race_acquire_fn, *tl_race_release_fn;

/* Looked up once, as the library is loaded, before any of its threads can
 * run: dlsym takes the loader's lock, and a thread that took it lazily
 * could wait for ever on a dlopen whose constructor waits on that thread
 * (a plugin that makes a channel and receives on it while it loads). C has
 * no way to say "at load time"; GCC and Clang both read this attribute. */
__attribute__((constructor)) static void find_tsan(void)
{
    /* A function pointer from dlsym's void *: POSIX requires it to work. */
    *(void **)&tl_race_acquire_fn = dlsym(RTLD_DEFAULT, "__tsan_acquire");
    *(void **)&tl_race_release_fn = dlsym(RTLD_DEFAULT, "__tsan_release");
    if (!tl_race_acquire_fn || !tl_race_release_fn)
        tl_race_acquire_fn = tl_race_release_fn = NULL;
}
