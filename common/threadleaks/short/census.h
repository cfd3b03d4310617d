/* census.h's names without the tl_ prefix: see ../short.h. */
#ifndef THREADLEAKS_SHORT_CENSUS_H
#define THREADLEAKS_SHORT_CENSUS_H

#include "../census.h"
#include "../hook.h"

#define census_threads tl_census_threads
#define census_threads_of tl_census_threads_of
#define census_settle tl_census_settle
#define census_warm_up tl_census_warm_up
#define census_dump tl_census_dump
#define census_state tl_state
#define census_start tl_census_start
#define hook_set tl_hook_set
#define census_dump_threads tl_census_dump_threads
#define census_created_by tl_census_created_by
#define census_block tl_block
#define census_unblock tl_unblock
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
