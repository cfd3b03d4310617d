/* panic.h's names without the tl_ prefix: see ../short.h. */
#ifndef THREADLEAKS_SHORT_PANIC_H
#define THREADLEAKS_SHORT_PANIC_H

#include "../panic.h"

#define go_panic tl_go_panic

#endif
