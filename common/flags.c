#include "flags.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* What f takes, in words: "--port takes 0 to 65535". */
static void takes(const struct flag *f, char *text, size_t size)
{
    switch (f->kind) {
    case FLAG_INT:
        snprintf(text, size, "%s takes %.0f to %.0f", f->name, f->min, f->max);
        break;
    case FLAG_NUMBER:
        snprintf(text, size, "%s takes a number from %.15g to %.15g", f->name, f->min, f->max);
        break;
    case FLAG_POSITIVE:
        snprintf(text, size, "%s takes a number above 0, at most %.15g", f->name, f->max);
        break;
    default:
        snprintf(text, size, "%s takes %s", f->name, f->takes ? f->takes : "a value");
        break;
    }
}

static bool read_value(const struct flag *f, const char *v)
{
    switch (f->kind) {
    case FLAG_INT:
        return flag_int(v, (long)f->min, (long)f->max, f->out);
    case FLAG_NUMBER:
        return flag_double(v, f->min, f->max, f->out);
    case FLAG_POSITIVE:
        return flag_positive(v, f->max, f->out);
    case FLAG_TEXT:
        if (f->valid && !f->valid(v))
            return false;
        *(const char **)f->out = v;
        return true;
    default:
        return false;
    }
}

void flags_parse(int argc, char **argv, const struct flag *flags, int n, const char *usage)
{
    for (int i = 1; i < argc; i++) {
        const char *name = argv[i];
        if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        const struct flag *f = NULL;
        for (int k = 0; k < n && !f; k++)
            if (strcmp(flags[k].name, name) == 0)
                f = &flags[k];
        if (!f)
            flag_usage_error(argv[0], usage, "unknown flag", name);
        if (f->kind == FLAG_SWITCH) {
            *(bool *)f->out = true;
            continue;
        }
        const char *value = i + 1 < argc ? argv[++i] : NULL;
        if (!value || !read_value(f, value)) {
            char said[160];
            takes(f, said, sizeof said);
            flag_usage_error(argv[0], usage, said, value);
        }
    }
}
