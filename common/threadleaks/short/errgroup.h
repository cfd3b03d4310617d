/* errgroup.h's names without the tl_ prefix: see ../short.h. */
#ifndef THREADLEAKS_SHORT_ERRGROUP_H
#define THREADLEAKS_SHORT_ERRGROUP_H

#include "../errgroup.h"

#include "context.h"

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

#endif
