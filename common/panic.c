#include "threadleaks/panic.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

_Noreturn void tl_go_panic(const char *message, const char *file, int line)
{
    char name[16] = "?";
    prctl(PR_GET_NAME, name, 0, 0, 0);
    fprintf(stderr, "panic: %s\n\nthread %s [running]:\n", message, name);
    if (file)
        fprintf(stderr, "\tat %s:%d\n", file, line);
    fflush(stderr);
    abort();
}
