/* err.h's names without the tl_ prefix: see ../short.h. */
#ifndef THREADLEAKS_SHORT_ERR_H
#define THREADLEAKS_SHORT_ERR_H

#include "../err.h"

#define err_text tl_err_text

#endif
