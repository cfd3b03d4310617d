/* For go.c only: a thread started by tl_go tells the hook (hook.c) that it
 * starts, before its function runs, and that it exits, after. Not
 * installed. */
#ifndef COMMON_HOOK_INTERNAL_H
#define COMMON_HOOK_INTERNAL_H

#include "threadleaks/hook.h"

void tl_hook_thread_start(const char *name, struct tl_site created);
void tl_hook_thread_exit(void);

#endif
