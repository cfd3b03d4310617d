/* timer.h's names without the tl_ prefix: see ../short.h. */
#ifndef THREADLEAKS_SHORT_TIMER_H
#define THREADLEAKS_SHORT_TIMER_H

#include "../timer.h"

#include "chan.h"

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

#endif
