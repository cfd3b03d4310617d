/* The framing of a connection's requests, read a byte at a time (framing.h).
 * A line is judged when its LF arrives: a head's lines for the two headers
 * that frame a body, a chunk's size line by Go's rules (chunked.go:
 * trailing white space trimmed, an extension after ';' dropped, then one to
 * sixteen hex digits). */
#include "framing.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { MAX_LINE = 4096 }; /* Go's maxLineLength for a chunk's size line */

static bool header_is(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len > n && strncasecmp(line, name, n) == 0 && line[n] == ':';
}

/* A head's line, whole: its end, or a header that frames the body. */
static void head_line(struct framing *f, size_t len)
{
    if (len == 0) { /* the blank line: the body follows */
        f->heads++;
        if (f->chunked) {
            f->state = FRAMING_SIZE;
        } else if (f->length > 0) {
            f->state = FRAMING_BODY;
            f->left = f->length;
        }
        f->chunked = 0;
        f->length = 0;
        return;
    }
    if (header_is(f->line, len, "Transfer-Encoding")) {
        for (size_t i = 0; i + 7 <= len; i++)
            if (strncasecmp(f->line + i, "chunked", 7) == 0)
                f->chunked = 1;
    } else if (header_is(f->line, len, "Content-Length")) {
        f->length = strtoll(f->line + strlen("Content-Length:"), NULL, 10);
    }
}

/* Go's parseHexUint after removeChunkExtension and trimTrailingWhitespace:
 * NULL, or why the size line is refused; *digits is how many there are. */
static const char *size_line(struct framing *f, size_t len, int64_t *size, size_t *digits)
{
    char *semi = memchr(f->line, ';', len);
    if (semi)
        len = (size_t)(semi - f->line);
    while (len > 0 && (f->line[len - 1] == ' ' || f->line[len - 1] == '\t'))
        len--;
    if (len == 0)
        return "empty hex number for chunk length";
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = f->line[i];
        int d = c >= '0' && c <= '9' ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return "invalid byte in chunk length";
        if (i == 16)
            return "http chunk length too large";
        n = n << 4 | (uint64_t)d;
    }
    *size = n > INT64_MAX ? INT64_MAX : (int64_t)n;
    *digits = len;
    return NULL;
}

/* A line of a chunked body, whole (without its CR LF): NULL, or why the
 * framing breaks there; *digits is set to the size's digits when the line
 * holds more than them. */
static const char *chunk_line(struct framing *f, size_t len, size_t *digits)
{
    int64_t size = 0;
    const char *why = NULL;
    switch (f->state) {
    case FRAMING_SIZE:
        if (len >= MAX_LINE)
            return "header line too long";
        size_t judged = len > sizeof f->line ? sizeof f->line : len; /* 16 digits fit */
        if ((why = size_line(f, judged, &size, digits)) != NULL)
            return why;
        if (*digits == len)
            *digits = 0;
        f->state = size == 0 ? FRAMING_TRAILER : FRAMING_DATA;
        f->left = size;
        return NULL;
    case FRAMING_DATA_END: /* the CR LF after a chunk's data */
        if (len != 0)
            return "malformed chunked encoding";
        f->state = FRAMING_SIZE;
        return NULL;
    case FRAMING_TRAILER:
        if (len == 0)
            f->state = FRAMING_HEAD;
        return NULL;
    default:
        return NULL;
    }
}

size_t framing_read(struct framing *f, const char *bytes, size_t n, struct framing_stop *stop)
{
    stop->what = FRAMING_GO_ON;
    size_t i = 0;
    while (i < n && f->state != FRAMING_BROKEN) {
        if (f->state == FRAMING_BODY || f->state == FRAMING_DATA) {
            size_t take = (uint64_t)(n - i) < (uint64_t)f->left ? n - i : (size_t)f->left;
            f->left -= (int64_t)take;
            i += take;
            if (f->left == 0)
                f->state = f->state == FRAMING_BODY ? FRAMING_HEAD : FRAMING_DATA_END;
            continue;
        }
        char c = bytes[i++];
        f->line_len++;
        if (c != '\n') {
            if (f->line_len <= sizeof f->line)
                f->line[f->line_len - 1] = c;
            continue;
        }
        size_t len = f->line_len - 1; /* without the LF */
        size_t whole = f->line_len;
        f->line_len = 0;
        if (len > 0 && len <= sizeof f->line && f->line[len - 1] == '\r')
            len--;
        if (f->state == FRAMING_HEAD) {
            head_line(f, len > sizeof f->line ? sizeof f->line : len); /* its start names it */
            continue;
        }
        size_t digits = 0;
        const char *why = chunk_line(f, len, &digits);
        if (why) {
            f->state = FRAMING_BROKEN;
            *stop = (struct framing_stop){ .what = FRAMING_BREAK, .line = whole, .why = why,
                                           .request = f->heads };
            return i;
        }
        if (digits) {
            *stop = (struct framing_stop){ .what = FRAMING_STRIP, .line = whole, .keep = digits };
            return i;
        }
    }
    return i;
}
