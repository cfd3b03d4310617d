/* json: whether a text is one JSON value and nothing else (RFC 8259), for
 * tests of what the servers answer as JSON. Strict: no trailing commas, no
 * comments, no control characters in strings, no leading zeros. */
#ifndef TESTS_CHAPTER_JSON_H
#define TESTS_CHAPTER_JSON_H

#include <stdbool.h>

#include <stdio.h>

/* Writes s as a JSON string, quoted and escaped. */
void json_write_string(FILE *out, const char *s);

/* true if text is valid JSON; otherwise false, and *where (if not NULL) is
 * the offset of the first byte that is not. */
bool json_valid(const char *text, long *where);

#endif
