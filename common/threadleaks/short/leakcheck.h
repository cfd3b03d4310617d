/* leakcheck.h's names without the tl_ prefix: see ../short.h. */
#ifndef THREADLEAKS_SHORT_LEAKCHECK_H
#define THREADLEAKS_SHORT_LEAKCHECK_H

#include "../leakcheck.h"

#define LEAKCHECK_WAIT_MS TL_LEAKCHECK_WAIT_MS
#define leakcheck_t tl_leakcheck_t
#define leakcheck_begin tl_leakcheck_begin
#define leakcheck_ignore_name tl_leakcheck_ignore_name
#define leakcheck_ignore_created_by tl_leakcheck_ignore_created_by
#define leakcheck_set_wait tl_leakcheck_set_wait
#define leakcheck_end tl_leakcheck_end

#endif
