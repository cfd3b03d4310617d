/* go.h's names without the tl_ prefix: see ../short.h. */
#ifndef THREADLEAKS_SHORT_GO_H
#define THREADLEAKS_SHORT_GO_H

#include "../go.h"

#include "chan.h"
#include "context.h"

#define go_at tl_go_at
#define go_with tl_go_with
#define go_with_at tl_go_with_at
#define go_with_id tl_go_with_id
#define go_with_id_at tl_go_with_id_at
#define go_closure tl_go_closure
#define go_closure_at tl_go_closure_at
#define go_start_failures tl_go_start_failures
#define go_set_stack_size tl_go_set_stack_size
#define go_stack_size tl_go_stack_size
#define go_running tl_go_running
#define go_wait_all tl_go_wait_all
#define go_wait_all_at tl_go_wait_all_at
#define go(name, fn, arg) tl_go(name, fn, arg)
#define GO_STACK_SIZE TL_GO_STACK_SIZE

#endif
