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

/* Prints "PROGRAM: message" and the usage text to stderr, then exits 2. */
_Noreturn void flag_usage_error(const char *program, const char *usage, const char *message,
                                const char *arg);

#endif
