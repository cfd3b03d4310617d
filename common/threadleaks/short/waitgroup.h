/* waitgroup.h's names without the tl_ prefix: see ../short.h. */
#ifndef THREADLEAKS_SHORT_WAITGROUP_H
#define THREADLEAKS_SHORT_WAITGROUP_H

#include "../waitgroup.h"

#define wg_t tl_wg_t
#define WG_INIT TL_WG_INIT
#define wg_init tl_wg_init
#define wg_destroy tl_wg_destroy
#define wg_add tl_wg_add
#define wg_done tl_wg_done
#define wg_wait tl_wg_wait
#define wg_go tl_wg_go

#endif
