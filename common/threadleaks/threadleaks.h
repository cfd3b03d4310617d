/** @file threadleaks.h
 * threadleaks: Go's goroutine tools for C threads, and a check that a test
 * leaves no thread behind. Every thread must have a way out.
 *
 * Layers, each usable without the ones above it:
 *   core    clock.h chan.h context.h go.h errgroup.h waitgroup.h timer.h
 *           err.h hook.h panic.h (pkg-config threadleaks-core)
 *   census  census.h trace.h leakcheck.h: counts the kernel's threads,
 *           dumps where they block, checks tests (pkg-config threadleaks)
 * short.h gives the names without their tl_ prefix, as Go spells them.
 * C11 or C++11 and POSIX threads on Linux (the census reads /proc).
 *
 * One error convention, everywhere:
 * - An error is an errno value (ECANCELED, ETIMEDOUT, ENOMEM, ...); 0 is
 *   none. Go's context.Canceled is ECANCELED, DeadlineExceeded ETIMEDOUT.
 * - A function that only succeeds or fails returns int: 0 or the error, as
 *   pthreads does (tl_go, tl_group_go, tl_ctx_poll, tl_trace_begin, ...).
 * - A function that returns something else (a pointer, a count, an index)
 *   returns NULL or -1 on failure with the error in errno, as POSIX does
 *   (tl_chan_make, tl_chan_select, tl_census_threads_of, ...). On success it
 *   leaves errno alone.
 * - A bool answers a question (a receive's ok, TryGo's started, a timer's
 *   Stop); it is never an error.
 * - A programming error that Go answers with a panic (a send on a closed
 *   channel, a negative WaitGroup counter) prints Go's message, the thread
 *   and, where it is known, the call's file:line, then aborts (panic.h). It
 *   is not an error to handle.
 *
 * Ownership: whoever makes a channel, context, group, timer or check owns
 * one reference and gives it back (release, free); a thread that may outlive
 * its starter takes its own (tl_chan_ref, tl_ctx_ref). What a function
 * returns that is "borrowed" lives as long as the thing it came from.
 */
#ifndef THREADLEAKS_THREADLEAKS_H
#define THREADLEAKS_THREADLEAKS_H

#include "census.h"
#include "chan.h"
#include "clock.h"
#include "context.h"
#include "err.h"
#include "errgroup.h"
#include "go.h"
#include "hook.h"
#include "leakcheck.h"
#include "panic.h"
#include "timer.h"
#include "trace.h"
#include "waitgroup.h"

#endif
