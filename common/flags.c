#include "flags.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

bool flag_int(const char *text, long min, long max, long *out)
{
    if (!text || !*text)
        return false;
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool flag_double(const char *text, double min, double max, double *out)
{
    if (!text || !*text)
        return false;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || *end || !isfinite(v) || v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool flag_positive(const char *text, double max, double *out)
{
    double v;
    if (!flag_double(text, 0, max, &v) || v == 0)
        return false;
    *out = v;
    return true;
}

void flag_usage_error(const char *program, const char *usage, const char *message,
                      const char *arg)
{
    if (arg)
        fprintf(stderr, "%s: %s: '%s'\n\n%s", program, message, arg, usage);
    else
        fprintf(stderr, "%s: %s\n\n%s", program, message, usage);
    exit(2);
}
