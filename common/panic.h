/* panic: what Go does with a programming error, such as a send on a closed
 * channel: say so in Go's words, with where it happened, and end the program.
 *
 * A panic is not an error to handle. It means the code is wrong, and the only
 * honest answer is to stop before it does more harm: Go prints
 * "panic: send on closed channel" and the goroutine's stack and exits with 2;
 * here the message names the thread and the call's file:line, then abort()
 * (a core dump, or the sanitizer's report, shows the stack).
 */
#ifndef COMMON_PANIC_H
#define COMMON_PANIC_H

/* file may be NULL where the call's place is unknown. */
_Noreturn void go_panic(const char *message, const char *file, int line);

#endif
