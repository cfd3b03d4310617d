/* trace.h's names without the tl_ prefix: see ../short.h. */
#ifndef THREADLEAKS_SHORT_TRACE_H
#define THREADLEAKS_SHORT_TRACE_H

#include "../trace.h"

#define trace_begin tl_trace_begin
#define trace_end tl_trace_end
#define TRACE_MAX_EVENTS TL_TRACE_MAX_EVENTS

#endif
