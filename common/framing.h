/* The framing of the requests on one connection, read as their bytes
 * arrive, as Go's net/http reads it: where each head ends, how long its body
 * is (Content-Length, or chunked), and whether each chunk's size line is one
 * Go accepts. The server reads every byte here before evhttp does, because
 * evhttp answers a bad chunk size with 413 Request Entity Too Large, which
 * says the body was too big; Go's words are "invalid byte in chunk length".
 * Not installed. */
#ifndef COMMON_FRAMING_H
#define COMMON_FRAMING_H

#include <stddef.h>
#include <stdint.h>

struct framing {
    enum { FRAMING_HEAD, FRAMING_BODY, FRAMING_SIZE, FRAMING_DATA, FRAMING_DATA_END,
           FRAMING_TRAILER, FRAMING_BROKEN } state;
    int chunked;            /* the head being read says Transfer-Encoding: chunked */
    int64_t length;         /* the head being read says Content-Length: length */
    int64_t left;           /* FRAMING_BODY, FRAMING_DATA: bytes still to come */
    size_t line_len;        /* bytes of the current line so far */
    char line[128];         /* its start: enough to judge a header's name or a size */
    char last;              /* its last byte so far (a CR, before its LF?) */
    int tail_ink;           /* a byte past line[] that is not a space or a tab */
    unsigned heads;         /* heads read whole so far */
};

/* Where framing_read stopped, and why. */
struct framing_stop {
    enum { FRAMING_GO_ON, FRAMING_BREAK, FRAMING_STRIP } what;
    size_t line;      /* the line it stopped after, its LF included, in bytes */
    const char *why;  /* FRAMING_BREAK: Go's reason */
    unsigned request; /* FRAMING_BREAK: whose body (1 for the first head read) */
    size_t keep;      /* FRAMING_STRIP: the size's digits, at the line's start */
};

/* Reads up to n more bytes of the stream and returns how many it read: all
 * n, or fewer when it stops just after a line the caller must act on.
 * FRAMING_BREAK: a chunk size Go refuses; the connection is to be closed,
 * and the framing reads nothing more. FRAMING_STRIP: a size line Go
 * accepts and evhttp would not (an extension after ';', trailing white
 * space), to be cut to its first keep bytes and CR LF. */
size_t framing_read(struct framing *f, const char *bytes, size_t n, struct framing_stop *stop);

#endif
