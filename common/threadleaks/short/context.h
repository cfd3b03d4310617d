/* context.h's names without the tl_ prefix: see ../short.h. */
#ifndef THREADLEAKS_SHORT_CONTEXT_H
#define THREADLEAKS_SHORT_CONTEXT_H

#include "../context.h"

#include "chan.h"

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
#define ctx_value tl_ctx_value
#define ctx_without_cancel tl_ctx_without_cancel
#define ctx_after_func tl_ctx_after_func
#define after_t tl_after_t
#define after_stop tl_after_stop

#endif
