/* flags: strict parsing of command-line values, so that every program answers
 * bad input the same way: usage on stderr and exit code 2.
 *
 * Each parser accepts the whole string or nothing: "8080x", "" and
 * out-of-range values are refused, and *out is left alone.
 */
#ifndef COMMON_FLAGS_H
#define COMMON_FLAGS_H

#include <stdbool.h>

/* A decimal integer in [min, max]. */
bool flag_int(const char *text, long min, long max, long *out);

/* A finite decimal number in [min, max]. */
bool flag_double(const char *text, double min, double max, double *out);

/* A finite decimal number above 0 and at most max: a duration or a scale. */
bool flag_positive(const char *text, double max, double *out);

/* Prints "PROGRAM: message: 'arg'" (or "PROGRAM: message" when arg is
 * NULL) and the usage text to stderr, then exits 2. */
_Noreturn void flag_usage_error(const char *program, const char *usage, const char *message,
                                const char *arg);

/* One flag a program takes, for flags_parse. */
struct flag {
    const char *name; /* "--port", "-n" */
    enum flag_kind {
        FLAG_SWITCH,   /* no value: *(bool *)out becomes true */
        FLAG_INT,      /* a decimal integer in [min, max]: long */
        FLAG_NUMBER,   /* a decimal number in [min, max]: double */
        FLAG_POSITIVE, /* a decimal number above 0, at most max: double */
        FLAG_TEXT,     /* any text valid() accepts (all, if NULL): const char * */
    } kind;
    void *out;
    double min, max;
    const char *takes;                /* FLAG_TEXT: what it takes, for the error */
    bool (*valid)(const char *value); /* FLAG_TEXT: NULL, or a check */
};

/* Reads argv[1..] against the n flags, each value into its out. --help and
 * -h print usage to stdout and exit 0. An unknown flag, a missing value or
 * a bad one is answered as flag_usage_error answers, in words made from the
 * flag's own kind and range ("--port takes 0 to 65535: 'abc'"), and exits 2:
 * every program that uses it answers bad input the same way. */
void flags_parse(int argc, char **argv, const struct flag *flags, int n, const char *usage);

#endif
