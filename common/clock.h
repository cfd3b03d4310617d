/* The chapters read Go's names without a prefix: see threadleaks/short.h. */
#include "threadleaks/short/clock.h"
