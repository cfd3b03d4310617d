/* short: the names without the tl_ prefix, as Go spells them, for code that
 * wants to read like Go (the chapters do). Every name here is a macro for
 * the prefixed one, so it takes words such as `go` and `seconds`: include
 * it in your program's own files, never in a header of a library that
 * others include (the workshop's own headers in common/ are its programs').
 *
 * Left with their prefix: tl_timer_t (timer_t is POSIX's), struct tl_hook,
 * struct tl_site and enum tl_state (whose values have the CENSUS_ names).
 */
#ifndef THREADLEAKS_SHORT_H
#define THREADLEAKS_SHORT_H

#include "census.h"
#include "chan.h"
#include "clock.h"
#include "context.h"
#include "errgroup.h"
#include "go.h"
#include "hook.h"
#include "leakcheck.h"
#include "panic.h"
#include "timer.h"
#include "trace.h"
#include "waitgroup.h"

#define chan_t tl_chan_t
#define chan_make tl_chan_make
#define chan_ref tl_chan_ref
#define chan_release tl_chan_release
#define chan_send tl_chan_send
#define chan_send_at tl_chan_send_at
#define chan_recv tl_chan_recv
#define chan_recv_at tl_chan_recv_at
#define chan_close tl_chan_close
#define chan_close_at tl_chan_close_at
#define chan_len tl_chan_len
#define chan_cap tl_chan_cap
#define chan_op tl_chan_op
#define chan_case tl_chan_case
#define chan_send_case tl_chan_send_case
#define chan_recv_case tl_chan_recv_case
#define chan_select tl_chan_select
#define chan_select_at tl_chan_select_at
#define time_after tl_time_after
#define ctx_t tl_ctx_t
#define ctx_background tl_ctx_background
#define ctx_with_cancel tl_ctx_with_cancel
#define ctx_with_deadline tl_ctx_with_deadline
#define ctx_with_timeout tl_ctx_with_timeout
#define ctx_cancel tl_ctx_cancel
#define ctx_cancel_cause tl_ctx_cancel_cause
#define ctx_ref tl_ctx_ref
#define ctx_release tl_ctx_release
#define ctx_done tl_ctx_done
#define ctx_err tl_ctx_err
#define ctx_err_text tl_ctx_err_text
#define ctx_cause tl_ctx_cause
#define ctx_deadline tl_ctx_deadline
#define ctx_fd tl_ctx_fd
#define ctx_poll tl_ctx_poll
#define ctx_poll_at tl_ctx_poll_at
#define ctx_with_value tl_ctx_with_value
#define wg_t tl_wg_t
#define WG_INIT TL_WG_INIT
#define wg_add tl_wg_add
#define wg_done tl_wg_done
#define wg_wait tl_wg_wait
#define wg_go tl_wg_go
#define timer_new tl_timer_new
#define timer_c tl_timer_c
#define timer_stop tl_timer_stop
#define timer_reset tl_timer_reset
#define timer_free tl_timer_free
#define ticker_t tl_ticker_t
#define ticker_new tl_ticker_new
#define ticker_c tl_ticker_c
#define ticker_stop tl_ticker_stop
#define ticker_reset tl_ticker_reset
#define ticker_free tl_ticker_free
#define ctx_value tl_ctx_value
#define ctx_without_cancel tl_ctx_without_cancel
#define ctx_after_func tl_ctx_after_func
#define after_t tl_after_t
#define after_stop tl_after_stop
#define now_ms tl_now_ms
#define now_ns tl_now_ns
#define deadline_after tl_deadline_after
#define deadline_to_timespec tl_deadline_to_timespec
#define time_scale_set tl_time_scale_set
#define time_sleep tl_time_sleep
#define time_sleep_at tl_time_sleep_at
#define go_at tl_go_at
#define go_with tl_go_with
#define go_with_at tl_go_with_at
#define go_start_failures tl_go_start_failures
#define go_set_stack_size tl_go_set_stack_size
#define go_stack_size tl_go_stack_size
#define go_running tl_go_running
#define go_wait_all tl_go_wait_all
#define go_wait_all_at tl_go_wait_all_at
#define go_panic tl_go_panic
#define group_t tl_group_t
#define group_fn tl_group_fn
#define group_with_context tl_group_with_context
#define group_new tl_group_new
#define group_go tl_group_go
#define group_go_at tl_group_go_at
#define group_try_go tl_group_try_go
#define group_try_go_at tl_group_try_go_at
#define group_set_limit tl_group_set_limit
#define group_wait tl_group_wait
#define group_wait_at tl_group_wait_at
#define group_free tl_group_free
#define census_threads tl_census_threads
#define census_threads_of tl_census_threads_of
#define census_settle tl_census_settle
#define census_warm_up tl_census_warm_up
#define census_dump tl_census_dump
#define census_state tl_state
#define census_start tl_census_start
#define hook_set tl_hook_set
#define LEAKCHECK_WAIT_MS TL_LEAKCHECK_WAIT_MS
#define census_dump_threads tl_census_dump_threads
#define census_created_by tl_census_created_by
#define leakcheck_t tl_leakcheck_t
#define leakcheck_begin tl_leakcheck_begin
#define leakcheck_ignore_name tl_leakcheck_ignore_name
#define leakcheck_ignore_created_by tl_leakcheck_ignore_created_by
#define leakcheck_set_wait tl_leakcheck_set_wait
#define leakcheck_end tl_leakcheck_end
#define census_block tl_block
#define census_unblock tl_unblock
#define trace_begin tl_trace_begin
#define trace_end tl_trace_end
#define go(name, fn, arg) tl_go(name, fn, arg)
#define seconds(story_seconds) tl_seconds(story_seconds)
#define time_scale() tl_time_scale()
#define CHAN_SEND TL_CHAN_SEND
#define CHAN_RECV TL_CHAN_RECV
#define GO_STACK_SIZE TL_GO_STACK_SIZE
#define TRACE_MAX_EVENTS TL_TRACE_MAX_EVENTS
#define CENSUS_WG_WAIT TL_STATE_WG_WAIT
#define CENSUS_CHAN_RECV TL_STATE_CHAN_RECV
#define CENSUS_CHAN_SEND TL_STATE_CHAN_SEND
#define CENSUS_GROUP_GO TL_STATE_GROUP_GO
#define CENSUS_GROUP_WAIT TL_STATE_GROUP_WAIT
#define CENSUS_IO TL_STATE_IO
#define CENSUS_RUNNING TL_STATE_RUNNING
#define CENSUS_SELECT TL_STATE_SELECT
#define CENSUS_SLEEP TL_STATE_SLEEP
#define CENSUS_WAIT_ALL TL_STATE_WAIT_ALL

#endif
