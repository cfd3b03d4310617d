/* chan.h's names without the tl_ prefix: see ../short.h. */
#ifndef THREADLEAKS_SHORT_CHAN_H
#define THREADLEAKS_SHORT_CHAN_H

#include "../chan.h"

#define chan_t tl_chan_t
#define chan_make tl_chan_make
#define chan_ref tl_chan_ref
#define chan_release tl_chan_release
#define chan_live tl_chan_live
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
#define CHAN_SEND TL_CHAN_SEND
#define CHAN_RECV TL_CHAN_RECV

#endif
