/** @file panic.h
 * panic: what Go does with a programming error, such as a send on a closed
 * channel: say so in Go's words, with where it happened, and end the program.
 *
 * A panic is not an error to handle. It means the code is wrong, and the only
 * honest answer is to stop before it does more harm: Go prints
 * "panic: send on closed channel" and the goroutine's stack and exits with 2;
 * here the message names the thread and the call's file:line, then abort()
 * (a core dump, or the sanitizer's report, shows the stack).
 *
 * Threads: any thread may panic; the whole process ends.
 */
#ifndef THREADLEAKS_PANIC_H
#define THREADLEAKS_PANIC_H

/** _Noreturn in C11, [[noreturn]] in C++, nothing in C99. */
#if defined(__cplusplus)
#define TL_NORETURN [[noreturn]]
#elif defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define TL_NORETURN _Noreturn
#else
#define TL_NORETURN /* C99 has no way to say it */
#endif

#ifdef __cplusplus
extern "C" {
#endif

/** file may be NULL where the call's place is unknown. */
TL_NORETURN void tl_go_panic(const char *message, const char *file, int line);

#ifdef __cplusplus
}
#endif

#endif
