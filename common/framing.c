/* The framing of a connection's requests, read a byte at a time (framing.h).
 * A line is judged when its LF arrives: a head's lines for the two headers
 * that frame a body, as evhttp reads them (Transfer-Encoding exactly
 * "chunked"); a chunk's size line by Go's rules (chunked.go: it ends in CR
 * LF, trailing white space is trimmed, then an extension after ';' is cut,
 * then one to sixteen hex digits); the CR LF after a chunk's data. */
#include "framing.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

enum { MAX_LINE = 4096 }; /* Go's maxLineLength for a chunk's size line */

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

/* The value of header name on a line of len bytes (of which line[] holds
 * the first ones), without the blanks around it; NULL if it is not that
 * header. A value cut off by line[]'s end is not read. */
static const char *value_of(const struct framing *f, size_t len, const char *name,
                            size_t *value_len)
{
    size_t n = strlen(name);
    if (len > sizeof f->line || len <= n || strncasecmp(f->line, name, n) != 0 ||
        f->line[n] != ':')
        return NULL;
    const char *v = f->line + n + 1, *end = f->line + len;
    while (v < end && blank(*v))
        v++;
    while (end > v && blank(end[-1]))
        end--;
    *value_len = (size_t)(end - v);
    return v;
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
    size_t n;
    const char *v = value_of(f, len, "Transfer-Encoding", &n);
    if (v) {
        f->chunked = n == 7 && strncasecmp(v, "chunked", 7) == 0;
        return;
    }
    if ((v = value_of(f, len, "Content-Length", &n)) != NULL) {
        int64_t length = 0;
        for (size_t i = 0; i < n && v[i] >= '0' && v[i] <= '9' && length < INT64_MAX / 10; i++)
            length = length * 10 + (v[i] - '0');
        f->length = length; /* evhttp refuses a value that is not digits */
    }
}

/* Go's trimTrailingWhitespace, removeChunkExtension and parseHexUint, in that
 * order, on a size line of len bytes (without its CR LF): NULL, or why Go
 * refuses it; *digits is how many bytes the size itself takes. */
static const char *size_line(struct framing *f, size_t len, int64_t *size, size_t *digits)
{
    size_t n = len;
    if (len > sizeof f->line) {
        /* Only its start is kept: what follows may be blanks to trim, or
         * come after an extension's ';' in the start. */
        if (!memchr(f->line, ';', sizeof f->line) && f->tail_ink)
            return "invalid byte in chunk length";
        n = sizeof f->line;
    }
    while (n > 0 && blank(f->line[n - 1]))
        n--;
    const char *semi = memchr(f->line, ';', n);
    if (semi)
        n = (size_t)(semi - f->line);
    if (n == 0)
        return "empty hex number for chunk length";
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = f->line[i];
        int d = c >= '0' && c <= '9' ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return "invalid byte in chunk length";
        if (i == 16)
            return "http chunk length too large";
        v = v << 4 | (uint64_t)d;
    }
    *size = v > INT64_MAX ? INT64_MAX : (int64_t)v;
    *digits = n;
    return NULL;
}

/* A line of a chunked body, whole: len bytes before its LF, cr whether the
 * last of them is a CR (not counted in len). NULL, or why the framing breaks
 * there; *digits is set to the size's digits when the line holds more. */
static const char *chunk_line(struct framing *f, size_t len, bool cr, size_t *digits)
{
    int64_t size = 0;
    const char *why = NULL;
    switch (f->state) {
    case FRAMING_SIZE:
        if (!cr)
            return "chunked line ends with bare LF";
        if ((why = size_line(f, len, &size, digits)) != NULL)
            return why;
        if (*digits == len)
            *digits = 0; /* the line is its size and nothing else: as it is */
        f->state = size == 0 ? FRAMING_TRAILER : FRAMING_DATA;
        f->left = size;
        return NULL;
    case FRAMING_DATA_END: /* exactly CR LF after a chunk's data */
        if (len != 0 || !cr)
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

static size_t broke(struct framing *f, struct framing_stop *stop, const char *why, size_t line,
                    size_t read)
{
    f->state = FRAMING_BROKEN;
    *stop = (struct framing_stop){ .what = FRAMING_BREAK, .line = line, .why = why,
                                   .request = f->heads };
    return read;
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
        if (c != '\n') {
            if (f->line_len < sizeof f->line)
                f->line[f->line_len] = c;
            else if (!blank(c) && c != '\r')
                f->tail_ink = 1;
            f->line_len++;
            f->last = c;
            if (f->state == FRAMING_DATA_END && (f->line_len > 1 || c != '\r'))
                return broke(f, stop, "malformed chunked encoding", f->line_len, i);
            /* Go reads a size line no longer than this, LF or not */
            if (f->state == FRAMING_SIZE && f->line_len >= MAX_LINE)
                return broke(f, stop, "header line too long", f->line_len, i);
            continue;
        }
        bool cr = f->line_len > 0 && f->last == '\r';
        size_t len = f->line_len - cr; /* without its CR */
        size_t whole = f->line_len + 1;
        f->line_len = 0;
        f->tail_ink = 0;
        f->last = '\n';
        if (f->state == FRAMING_HEAD) {
            head_line(f, len);
            continue;
        }
        size_t digits = 0;
        const char *why = chunk_line(f, len, cr, &digits);
        if (why)
            return broke(f, stop, why, whole, i);
        if (digits) {
            *stop = (struct framing_stop){ .what = FRAMING_STRIP, .line = whole, .keep = digits };
            return i;
        }
    }
    return i;
}
