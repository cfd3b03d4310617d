/* short: the names without the tl_ prefix, as Go spells them, for code that
 * wants to read like Go (the chapters do). Every name here is a macro for
 * the prefixed one, so it takes words such as `go` and `seconds`: include
 * it in your program's own files, never in a header of a library that
 * others include (the workshop's own headers in common/ are its programs').
 * short/NAME.h gives just NAME.h's names: the chapters' own headers use
 * those, so that a chapter file that forgets an #include still fails to
 * build, as the workshop's exercises expect.
 *
 * Left with their prefix: tl_timer_t (timer_t is POSIX's), struct tl_hook,
 * struct tl_site and enum tl_state (whose values have the CENSUS_ names).
 */
#ifndef THREADLEAKS_SHORT_H
#define THREADLEAKS_SHORT_H

#include "short/census.h"
#include "short/chan.h"
#include "short/clock.h"
#include "short/context.h"
#include "short/err.h"
#include "short/errgroup.h"
#include "short/go.h"
#include "short/leakcheck.h"
#include "short/panic.h"
#include "short/timer.h"
#include "short/trace.h"
#include "short/waitgroup.h"

#endif
