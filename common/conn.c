/* Connections, read as Go's net/http reads them (server_internal.h).
 *
 * evhttp stops reading a connection once a request's headers are in, so it
 * never sees the client hang up while a reply is pending. Each connection
 * therefore has a watch on a dup of its socket, which cancels the context of
 * the request in flight on it when the client goes. A close or half-close
 * shows as EV_CLOSED (epoll's EPOLLRDHUP); a reset does not (libevent turns
 * EPOLLERR into EV_READ|EV_WRITE), so the watch is for EV_READ too,
 * edge-triggered so that a request's unread bytes wake it once, not in a
 * loop. The dup is the watch's own: evhttp may close its descriptor whenever
 * it likes. One watch per connection, not per request: on a keep-alive
 * connection a request then costs no descriptor and no epoll_ctl.
 *
 * evhttp reads the version in "GET / HTTP/x.y" with sscanf into a char and
 * keeps no copy: HTTP/1.1000000000000 wraps, HTTP/2.0 gets a bare 400. So
 * each connection's input is watched as it arrives. Until evhttp has read a
 * request, the line at the head of the input is that request's line; it is
 * judged there, as Go's net/http would judge it; and every byte is read
 * into the connection's framing (framing.c) before evhttp reads it.
 */
#include "server_internal.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>

struct server *srv_serving; /* for callbacks whose argument is evhttp's */
static struct conn **conns;    /* by descriptor */
static int nconns;

/* The record of the connection whose buffer is bev, or NULL. */
static struct conn *conn_at(struct bufferevent *bev)
{
    int fd = bev ? bufferevent_getfd(bev) : -1;
    return fd >= 0 && fd < nconns && conns[fd] && conns[fd]->bev == bev ? conns[fd] : NULL;
}

struct conn *srv_conn_of(struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    return conn_at(evcon ? evhttp_connection_get_bufferevent(evcon) : NULL);
}

/* What follows the second space of a request line, as Go's parser splits
 * it, or NULL. */
static char *version_in(char *line, size_t len)
{
    char *sp = memchr(line, ' ', len);
    sp = sp ? memchr(sp + 1, ' ', len - (size_t)(sp + 1 - line)) : NULL;
    return sp ? sp + 1 : NULL;
}

/* Go's ParseHTTPVersion and http1ServerSupportsRequest. */
static int version_status(const char *v, size_t len)
{
    if (len != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
        v[7] < '0' || v[7] > '9')
        return 400;
    return v[5] == '1' ? 0 : 505;
}

/* Go's validMethod: a token, as RFC 7230 spells one. */
static bool is_token(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!(ch >= '0' && ch <= '9') && !(ch >= 'A' && ch <= 'Z') && !(ch >= 'a' && ch <= 'z') &&
            !strchr("!#$%&'*+-.^_`|~", ch))
            return false;
    }
    return true;
}

/* Whether evhttp reads this method itself: it knows nine, in capitals. */
static bool evhttp_knows(const char *m, size_t len)
{
    static const char *const known[] = { "GET",   "POST",  "HEAD",    "PUT",  "DELETE",
                                         "OPTIONS", "TRACE", "CONNECT", "PATCH" };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i]) == len && memcmp(known[i], m, len) == 0)
            return true;
    return false;
}

/* Judges the line at the head of the input as Go's readRequest would (its
 * method, then its version) and rewrites what evhttp would answer itself:
 * with a bare 501 for a method it does not know ("get", "FOO", which Go
 * serves), with a bare 400 for some versions (and after a CONNECT it would
 * keep the connection, the next line unjudged). evhttp reads a method it
 * does not know as POST, which is not GET, and never HEAD, as Go reads it;
 * a srv_refused line as GET, HTTP/1.1, and srv_refused() answers for it. */
static void hold_eof_for_pipelined(struct conn *c);

void srv_judge_request_line(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    size_t eol_len;
    struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
    char line[MAX_HEADERS + 8], fixed[MAX_HEADERS + 16];
    if (c->judged || eol.pos < 0 || (size_t)eol.pos > MAX_HEADERS)
        return; /* not all here yet, or too long: evhttp answers that itself */
    size_t len = (size_t)eol.pos;
    evbuffer_copyout(in, line, len);
    char *sp = memchr(line, ' ', len);
    char *v = version_in(line, len);
    size_t method_len = sp ? (size_t)(sp - line) : 0;
    c->judged = true;
    c->bad_method = sp && !is_token(line, method_len);
    c->status = c->bad_method ? 400 : v ? version_status(v, (size_t)(line + len - v)) : 0;
    bool foreign = sp && !evhttp_knows(line, method_len);
    if (!foreign && !c->status)
        return;
    const char *method = c->status ? "GET" : "POST";
    size_t n = 0;
    if (foreign) {
        memcpy(fixed, method, strlen(method));
        n = strlen(method);
    } else {
        memcpy(fixed, line, method_len);
        n = method_len;
    }
    size_t rest = (size_t)((c->status && v ? v : line + len) - sp);
    memcpy(fixed + n, sp, rest);
    n += rest;
    if (c->status && v) {
        memcpy(fixed + n, "HTTP/1.1", 8);
        n += 8;
    }
    c->rewriting = true;
    evbuffer_drain(in, len);
    evbuffer_prepend(in, fixed, n);
    c->rewriting = false;
    if (c->gone)
        hold_eof_for_pipelined(c); /* the input changed under the watermark */
}

/* Whether the client has gone: it closed or half-closed its side (EV_CLOSED,
 * or a read of 0), or reset the connection (an error, which reading here
 * also clears). Bytes waiting to be read are a pipelined request, not a
 * hang-up: they stay for evhttp. */
static bool client_gone(evutil_socket_t fd, short what)
{
    if (what & EV_CLOSED)
        return true;
    char byte;
    ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* A client that pipelines requests and then half-closes gets every answer,
 * as from Go. evhttp, which reads the socket even while it writes a reply,
 * would meet the EOF first and drop the rest; so while a whole request head
 * waits in the input of a client that has gone, the buffer reads nothing
 * (a read high-watermark of 1), and evhttp meets the EOF once it has taken
 * them all. A part of a request is not held for: evhttp sees its EOF. */
static void hold_eof_for_pipelined(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    bool head = evbuffer_search(in, "\n\r\n", 3, NULL).pos >= 0 ||
                evbuffer_search(in, "\n\n", 2, NULL).pos >= 0;
    bufferevent_setwatermark(c->bev, EV_READ, 0, head ? 1 : 0);
}

static void on_hangup(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    if (!client_gone(fd, what))
        return;
    event_del(c->hangup); /* a reset socket stays ready: stop watching it */
    c->gone = true;
    hold_eof_for_pipelined(c);
    if (c->job)
        ctx_cancel_cause(c->job->r.ctx, ECONNRESET);
    if (c->srv->trace_conn == c) /* nobody is left to read the trace: end it now */
        event_active(c->srv->trace_done, EV_TIMEOUT, 0);
}

/* evhttp frees a connection here, whether it was closed or its reply
 * written; a reply sent while stopping is then no longer owed. */
static void on_closed(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    struct conn *c = arg;
    struct server *srv = c->srv;
    if (conns[c->fd] == c)
        conns[c->fd] = NULL;
    if (c->job) { /* evhttp gave up on it (EOF, timeout): nobody is left to answer */
        ctx_cancel_cause(c->job->r.ctx, ECONNRESET);
        c->job->conn = NULL;
    }
    if (srv->trace_conn == c) {
        srv->trace_conn = NULL;
        event_active(srv->trace_done, EV_TIMEOUT, 0);
    }
    if (c->hangup)
        event_free(c->hangup);
    if (c->hangup_fd >= 0)
        close(c->hangup_fd);
    bool owed = c->owed;
    free(c);
    if (owed) {
        srv->closing--;
        srv_maybe_finish_shutdown(srv);
    }
}

/* A connection's first bytes make its record: only then is it evhttp's,
 * with the callbacks (and their argument) evhttp gave it. */
static struct conn *conn_new(struct bufferevent *bev)
{
    int fd = bufferevent_getfd(bev);
    void *evcon = NULL;
    bufferevent_getcb(bev, NULL, NULL, NULL, &evcon);
    if (fd < 0 || !evcon)
        return NULL;
    if (fd >= nconns) {
        int n = fd + 64;
        struct conn **grown = realloc(conns, (size_t)n * sizeof *grown);
        if (!grown)
            return NULL;
        memset(grown + nconns, 0, (size_t)(n - nconns) * sizeof *grown);
        conns = grown;
        nconns = n;
    }
    struct conn *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->srv = srv_serving;
    c->bev = bev;
    c->fd = fd;
    c->hangup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (c->hangup_fd >= 0)
        c->hangup = event_new(bufferevent_get_base(bev), c->hangup_fd,
                              EV_CLOSED | EV_READ | EV_ET | EV_PERSIST, on_hangup, c);
    if (c->hangup && event_add(c->hangup, NULL) < 0) {
        event_free(c->hangup);
        c->hangup = NULL; /* a request on it is srv_refused: it could not be cancelled */
    }
    conns[fd] = c; /* the descriptor's last connection has gone (on_closed) */
    evhttp_connection_set_closecb(evcon, on_closed, c);
    return c;
}

/* Reads the n bytes just added to the input into the connection's framing,
 * and acts where it stops. A size line Go accepts and evhttp would not
 * (a chunk extension) is cut to its size. A chunk size Go refuses ends the
 * body there: the rest of the input goes, an empty last chunk takes its
 * place, and srv_on_request answers the request with 400 and Go's reason, where
 * evhttp would have answered 413 itself. */
static void read_framing(struct conn *c, struct evbuffer *in, size_t n)
{
    size_t len = evbuffer_get_length(in);
    if (n > len || c->framing.state == FRAMING_BROKEN)
        return; /* broken: the 400 is on its way, and the connection closes */
    size_t at = len - n; /* the next byte to read */
    char bytes[4096];
    struct framing_stop stop = { .what = FRAMING_GO_ON };
    while (at < len && stop.what != FRAMING_BREAK) {
        size_t some = len - at < sizeof bytes ? len - at : sizeof bytes;
        struct evbuffer_ptr p;
        if (evbuffer_ptr_set(in, &p, at, EVBUFFER_PTR_SET) < 0 ||
            evbuffer_copyout_from(in, &p, bytes, some) != (ev_ssize_t)some)
            return;
        size_t read = framing_read(&c->framing, bytes, some, &stop);
        at += read;
        if (stop.what == FRAMING_GO_ON) {
            if (read == 0)
                return;
            continue;
        }
        if (stop.line > at) {
            /* The line began in bytes evhttp has taken already: the framing
             * and evhttp disagree (a header one reads and the other does
             * not), so leave the answer to evhttp. */
            c->framing.state = FRAMING_BROKEN;
            return;
        }
        size_t line_at = at - stop.line;
        struct evbuffer *before = evbuffer_new();
        if (!before)
            return; /* evhttp answers for it, as it would have */
        c->rewriting = true;
        evbuffer_remove_buffer(in, before, line_at);
        if (stop.what == FRAMING_STRIP) {
            evbuffer_remove_buffer(in, before, stop.keep);
            evbuffer_drain(in, stop.line - stop.keep);
            evbuffer_add(before, "\r\n", 2);
            at = evbuffer_get_length(before);
        } else {
            c->bad_body = stop.request;
            c->bad_body_why = stop.why;
            evbuffer_drain(in, evbuffer_get_length(in));
            evbuffer_add(before, "0\r\n\r\n", 5);
        }
        evbuffer_prepend_buffer(in, before);
        c->rewriting = false;
        evbuffer_free(before);
        len = evbuffer_get_length(in);
    }
    if (c->gone && stop.what != FRAMING_GO_ON)
        hold_eof_for_pipelined(c); /* the input changed under the watermark */
}

static void on_input(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
    struct bufferevent *bev = arg;
    struct conn *c = conn_at(bev);
    if (info->n_added == 0) { /* evhttp took a request, or part of one */
        if (c && c->gone && !c->rewriting)
            hold_eof_for_pipelined(c);
        return;
    }
    if (!c)
        c = conn_new(bev);
    if (c && !c->rewriting) {
        read_framing(c, in, info->n_added);
        srv_judge_request_line(c);
    }
}

/* Each connection's buffer, watched. It owns the socket (CLOSE_ON_FREE):
 * evhttp, left to close it, does so while the buffer's events may still be
 * in epoll (it frees a connection from inside the buffer's own callback,
 * whose events go only when the callback returns), so epoll_ctl would run on
 * a closed descriptor that another thread's socket() may have reused. */
struct bufferevent *srv_on_connection(struct event_base *base, void *arg)
{
    (void)arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (bev)
        evbuffer_add_cb(bufferevent_get_input(bev), on_input, bev);
    return bev;
}

void srv_conns_free(void)
{
    for (int fd = 0; fd < nconns; fd++)
        free(conns[fd]);
    free(conns);
    conns = NULL;
    nconns = 0;
}

/* ---- what Go's net/http refuses ---- */

/* Why Go's server would refuse req before any handler runs (with *status),
 * or NULL. evhttp is more lenient: it serves versions Go calls malformed,
 * echoes them, and takes a target with a space or without its leading
 * slash. */
const char *srv_refused(struct evhttp_request *req, int *status)
{
    struct conn *c = srv_conn_of(req);
    if (c && c->bad_body && c->bad_body == c->requests) {
        *status = 400;
        return c->bad_body_why;
    }
    if (c && c->judged)
        *status = c->status;
    else /* no record (out of memory): what evhttp made of it */
        *status = req->major < 0 || req->minor < 0 ? 400 : req->major == 1 ? 0 : 505;
    if (*status == 400)
        return c && c->judged && c->bad_method ? "invalid method" : "malformed HTTP version";
    if (*status == 505)
        return "unsupported protocol version";
    *status = 400;
    /* (A space in the target left a version Go calls malformed, above.) */
    const char *target = evhttp_request_get_uri(req);
    if (target[0] != '/' && strncmp(target, "http://", 7) && strncmp(target, "https://", 8) &&
        evhttp_request_get_command(req) != EVHTTP_REQ_CONNECT)
        return "malformed request URI";
    const char *length = NULL;
    struct evkeyval *h;
    for (h = evhttp_request_get_input_headers(req)->tqh_first; h; h = h->next.tqe_next) {
        if (evutil_ascii_strcasecmp(h->key, "Content-Length") != 0)
            continue;
        if (length && strcmp(length, h->value) != 0)
            return "message cannot contain multiple Content-Length headers";
        length = h->value;
    }
    return NULL;
}
