/* The server behind every chapter: libevent's evhttp on one loop thread, one
 * thread per request, and the reply handed back to the loop.
 *
 * evhttp is not thread-safe, so only the loop thread touches it: the request
 * thread gets a copy of what it needs (the query) and, when the handler
 * returns, makes the job's reply event active; the loop sends the reply and
 * frees the job.
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
 */
#include "server.h"
#include "framing.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/queue.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/http_struct.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <event2/util.h>

#include "trace.h"
#include "census.h"
#include "clock.h"
#include "db.h"
#include "flags.h"
#include "go.h"

/* The build's slowdown: 4 under a sanitizer (CMakeLists.txt), else 1. */
#ifndef SLOWDOWN
#define SLOWDOWN 1
#endif

enum {
    MAX_HEADERS = 8 * 1024,
    MAX_BODY = 64 * 1024,
    IDLE_TIMEOUT_S = 60,
    BACKLOG = 1024,
    SHUTDOWN_MS = 900 * SLOWDOWN, /* SIGINT to exit, everything included */
    GRACE_MS = 700 * SLOWDOWN,    /* SIGINT to the last reply written */
    STALL_MS = 50,     /* then no thread ending for this long: the rest are stuck */
};

struct server {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *listener;
    ctx_t *ctx; /* every request's parent; cancelled at shutdown */
    handler_fn handler;
    int jobs;   /* requests whose reply is pending; loop thread only */
    int max_inflight; /* 0: no limit */
    bool no_threads;  /* answer /test on the loop: the benchmark's baseline */
    struct event *backoff;     /* re-enables accepting after an accept error */
    int64_t backoff_ms, last_accept_error;
    bool stopping;
    int closing; /* replies sent since stopping whose connection is still open */
    long chans_at_start; /* tl_chan_live() once listening: what the server itself holds */
    int64_t stop_deadline;
    struct event *sigint, *sigterm, *grace;
    struct event *trace_done;         /* ends the recording /debug/trace asked for */
    struct evhttp_request *trace_req; /* its request, until then; shutdown waits for it */
    struct conn *trace_conn;          /* its connection: a hang-up ends the recording */
    char program[64];                 /* "leaky" or "fixed", as the trace names the process */
};

struct response {
    int status;
    char *body;
    size_t len;
};

/* One request in flight. The loop thread owns it, except between go() and
 * the reply event, when the request thread does. */
struct job {
    struct server *srv;
    struct evhttp_request *req; /* loop thread only */
    struct request r;
    struct response w;
    struct evkeyvalq query;
    struct event *reply;
    struct conn *conn; /* whose watch cancels r.ctx; NULL once evhttp closed it */
};

/* ---- what handlers call ---- */

void http_write(struct response *w, const char *body)
{
    size_t n = strlen(body);
    char *grown = realloc(w->body, w->len + n + 1);
    if (!grown) {
        w->status = 500;
        return;
    }
    memcpy(grown + w->len, body, n + 1);
    w->body = grown;
    w->len += n;
}

void http_error(struct response *w, const char *message, int status)
{
    free(w->body);
    w->body = NULL;
    w->len = 0;
    http_write(w, message);
    http_write(w, "\n");
    w->status = status;
}

const char *request_query(const struct request *r, const char *key)
{
    return evhttp_find_header(r->query, key);
}

bool request_query_int(const struct request *r, const char *key, long min, long max,
                       long fallback, long *out)
{
    const char *text = request_query(r, key);
    if (!text || !*text) { /* "?fail" is Go's Get("fail") == "": not given */
        *out = fallback;
        return true;
    }
    return flag_int(text, min, max, out);
}

/* ---- replies, on the loop thread ---- */

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Status";
    }
}

/* Shutdown ends the loop only when every request has been answered and every
 * reply written: evhttp_free would drop what is still queued. */
static void maybe_finish_shutdown(struct server *srv)
{
    if (srv->stopping && srv->jobs == 0 && srv->closing == 0 && !srv->trace_req)
        event_base_loopbreak(srv->base);
}

/* ---- connections, and the request line evhttp does not keep ---- */

/* evhttp reads the version in "GET / HTTP/x.y" with sscanf into a char and
 * keeps no copy: HTTP/1.1000000000000 wraps, HTTP/2.0 gets a bare 400. So
 * each connection's input is watched as it arrives. Until evhttp has read a
 * request, the line at the head of the input is that request's line; its
 * version is judged there, as Go's net/http would judge it. */
struct conn {
    struct server *srv;
    struct bufferevent *bev;
    int fd;
    bool judged; /* the request line at the head of the input is judged */
    int status;  /* Go's answer to its line: 0 (serve it), 400 or 505 */
    bool bad_method; /* the 400 is for its method, not its version */
    bool owed;   /* a reply sent while stopping is not written yet */
    struct event *hangup; /* the watch, on hangup_fd */
    int hangup_fd;
    bool gone;       /* the client has closed, half-closed or reset */
    struct job *job; /* the request in flight, or NULL */
    struct framing framing; /* of every byte that came, read before evhttp reads it */
    bool rewriting;         /* the server itself is changing the input */
    unsigned requests;      /* requests that reached on_request */
    unsigned bad_body;      /* the request whose body broke the framing, or 0 */
    const char *bad_body_why;
};

static struct server *serving; /* for callbacks whose argument is evhttp's */
static struct conn **conns;    /* by descriptor */
static int nconns;

/* The record of the connection whose buffer is bev, or NULL. */
static struct conn *conn_at(struct bufferevent *bev)
{
    int fd = bev ? bufferevent_getfd(bev) : -1;
    return fd >= 0 && fd < nconns && conns[fd] && conns[fd]->bev == bev ? conns[fd] : NULL;
}

static struct conn *conn_of(struct evhttp_request *req)
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
 * a refused line as GET, HTTP/1.1, and refused() answers for it. */
static void judge_request_line(struct conn *c)
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
        maybe_finish_shutdown(srv);
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
    c->srv = serving;
    c->bev = bev;
    c->fd = fd;
    c->hangup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (c->hangup_fd >= 0)
        c->hangup = event_new(bufferevent_get_base(bev), c->hangup_fd,
                              EV_CLOSED | EV_READ | EV_ET | EV_PERSIST, on_hangup, c);
    if (c->hangup && event_add(c->hangup, NULL) < 0) {
        event_free(c->hangup);
        c->hangup = NULL; /* a request on it is refused: it could not be cancelled */
    }
    conns[fd] = c; /* the descriptor's last connection has gone (on_closed) */
    evhttp_connection_set_closecb(evcon, on_closed, c);
    return c;
}

/* Reads the n bytes just added to the input into the connection's framing,
 * and acts where it stops. A size line Go accepts and evhttp would not
 * (a chunk extension) is cut to its size. A chunk size Go refuses ends the
 * body there: the rest of the input goes, an empty last chunk takes its
 * place, and on_request answers the request with 400 and Go's reason, where
 * evhttp would have answered 413 itself. */
static void read_framing(struct conn *c, struct evbuffer *in, size_t n)
{
    size_t len = evbuffer_get_length(in);
    if (n > len)
        return;
    size_t at = len - n; /* the next byte to read */
    char bytes[4096];
    struct framing_stop stop = { .what = FRAMING_GO_ON };
    while (at < len && stop.what != FRAMING_BREAK) {
        size_t some = len - at < sizeof bytes ? len - at : sizeof bytes;
        struct evbuffer_ptr p;
        if (evbuffer_ptr_set(in, &p, at, EVBUFFER_PTR_SET) < 0 ||
            evbuffer_copyout_from(in, &p, bytes, some) != (ev_ssize_t)some)
            return;
        at += framing_read(&c->framing, bytes, some, &stop);
        if (stop.what == FRAMING_GO_ON)
            continue;
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
}

static void on_input(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
    struct bufferevent *bev = arg;
    struct conn *c = conn_at(bev);
    if (info->n_added == 0) { /* evhttp took a request, or part of one */
        if (c && c->gone)
            hold_eof_for_pipelined(c);
        return;
    }
    if (!c)
        c = conn_new(bev);
    if (c && !c->rewriting) {
        read_framing(c, in, info->n_added);
        judge_request_line(c);
    }
}

/* Each connection's buffer, watched. It owns the socket (CLOSE_ON_FREE):
 * evhttp, left to close it, does so while the buffer's events may still be
 * in epoll (it frees a connection from inside the buffer's own callback,
 * whose events go only when the callback returns), so epoll_ctl would run on
 * a closed descriptor that another thread's socket() may have reused. */
static struct bufferevent *on_connection(struct event_base *base, void *arg)
{
    (void)arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (bev)
        evbuffer_add_cb(bufferevent_get_input(bev), on_input, bev);
    return bev;
}

static void send_typed(struct server *srv, struct evhttp_request *req, int status,
                       const char *type, const char *text, size_t len)
{
    struct evbuffer *body = evbuffer_new();
    if (body)
        evbuffer_add(body, text, len);
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
    evhttp_add_header(headers, "Content-Type", type);
    struct conn *c = conn_of(req);
    if (srv->stopping) {
        evhttp_add_header(headers, "Connection", "close");
        if (c && !c->owed) {
            c->owed = true;
            srv->closing++;
        }
    }
    evhttp_send_reply(req, status, reason(status), body);
    if (body)
        evbuffer_free(body);
}

static void send_text(struct server *srv, struct evhttp_request *req, int status,
                      const char *text, size_t len)
{
    send_typed(srv, req, status, "text/plain; charset=utf-8", text, len);
}

static void send_error(struct server *srv, struct evhttp_request *req, int status,
                       const char *message)
{
    char text[256];
    int n = snprintf(text, sizeof text, "%s\n", message);
    send_text(srv, req, status, text, (size_t)n);
}

static void job_free(struct job *job)
{
    if (job->conn)
        job->conn->job = NULL;
    if (job->reply)
        event_free(job->reply);
    ctx_cancel(job->r.ctx); /* as net/http does, even when no handler ran */
    ctx_release(job->r.ctx);
    evhttp_clear_headers(&job->query);
    free(job->w.body);
    free(job);
}

static void on_reply(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct job *job = arg;
    struct server *srv = job->srv;
    send_text(srv, job->req, job->w.status, job->w.body ? job->w.body : "", job->w.len);
    job_free(job);
    srv->jobs--;
    maybe_finish_shutdown(srv);
}

/* ---- the request thread ---- */

static void run_handler(void *arg)
{
    struct job *job = arg;
    int failed = go_start_failures();
    job->srv->handler(&job->w, &job->r);
    /* One answer for "no thread could be started", whatever the handler
     * made of the error (errgroup reports it as the function's error). */
    if (go_start_failures() != failed)
        http_error(&job->w, "cannot start a thread for this request", 503);
    ctx_cancel(job->r.ctx);
    event_active(job->reply, 0, 0);
}

/* ---- routes, on the loop thread ---- */

static struct job *job_new(struct server *srv, struct evhttp_request *req)
{
    struct job *job = calloc(1, sizeof *job);
    if (!job)
        return NULL;
    job->srv = srv;
    job->req = req;
    job->w.status = 200;
    job->r.query = &job->query;
    job->r.ctx = ctx_with_cancel(srv->ctx);
    job->reply = event_new(srv->base, -1, 0, on_reply, job);
    struct conn *c = conn_of(req);
    if (!job->r.ctx || !job->reply || !c || !c->hangup) {
        job_free(job);
        return NULL;
    }
    job->conn = c;
    c->job = job;
    if (c->gone) /* a pipelined request the client hung up after */
        ctx_cancel_cause(job->r.ctx, ECONNRESET);
    return job;
}

/* The value of a hex digit, or -1. */
static int hex(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* "%41" -> "A" and "+" -> " " in place; false for a bad escape or one that
 * decodes to a NUL (a C string would end there: "seconds=1%00" is not 1). */
static bool unescape(char *text)
{
    char *out = text;
    for (const char *in = text; *in; in++) {
        if (*in == '+') {
            *out++ = ' ';
        } else if (*in != '%') {
            *out++ = *in;
        } else {
            int hi = hex(in[1]), lo = hi < 0 ? -1 : hex(in[2]);
            if (lo < 0 || (hi == 0 && lo == 0))
                return false;
            *out++ = (char)(hi * 16 + lo);
            in += 2;
        }
    }
    *out = '\0';
    return true;
}

/* net/url's ParseQuery, as r.URL.Query() uses it: pairs split at "&", key
 * and value at the first "=", each unescaped; an empty pair, one with a
 * ";" or a bad escape is skipped, not an error, so "?fail", "?&&&&" and
 * "?=&&=&fail=1" are served as Go serves them. Returns -1 only when a pair
 * unescapes to a NUL byte, which Go keeps and C cannot: that is refused. */
static int parse_query(const char *query, struct evkeyvalq *out)
{
    TAILQ_INIT(out);
    char *copy = strdup(query ? query : "");
    if (!copy)
        return -1;
    int result = 0;
    for (char *pair = copy, *next; pair && result == 0; pair = next) {
        next = strchr(pair, '&');
        if (next)
            *next++ = '\0';
        if (!*pair || strchr(pair, ';'))
            continue;
        char *value = strchr(pair, '=');
        if (value)
            *value++ = '\0';
        else
            value = pair + strlen(pair);
        bool has_nul = strstr(pair, "%00") || strstr(value, "%00");
        if (has_nul)
            result = -1;
        else if (unescape(pair) && unescape(value))
            evhttp_add_header(out, pair, value);
    }
    free(copy);
    return result;
}

static void on_test(struct evhttp_request *req, void *arg)
{
    struct server *srv = arg;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        send_error(srv, req, 405, "only GET is served here");
        return;
    }
    if (srv->stopping) {
        send_error(srv, req, 503, "shutting down");
        return;
    }
    if (srv->no_threads) {
        send_text(srv, req, 200, "ok", 2);
        return;
    }
    if (srv->max_inflight > 0 && srv->jobs >= srv->max_inflight) {
        send_error(srv, req, 503, "too many requests in flight");
        return;
    }
    struct job *job = job_new(srv, req);
    if (!job) {
        send_error(srv, req, 503, "out of resources for a new request");
        return;
    }
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    if (parse_query(query, &job->query) < 0) {
        job_free(job);
        send_error(srv, req, 400, "a NUL byte (%00) in the query");
        return;
    }
    if (go("handler", run_handler, job) != 0) {
        job_free(job);
        send_error(srv, req, 503, "cannot start a thread for this request");
        return;
    }
    srv->jobs++;
}

static bool is_loopback(struct evhttp_request *req)
{
    char *host = NULL;
    ev_uint16_t port;
    evhttp_connection_get_peer(evhttp_request_get_connection(req), &host, &port);
    return host && (strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
                    strncmp(host, "::ffff:127.", 11) == 0);
}

static void on_threads(struct evhttp_request *req, void *arg)
{
    struct server *srv = arg;
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
        send_error(srv, req, 405, "only GET is served here");
        return;
    }
    if (!is_loopback(req)) {
        send_error(srv, req, 403, "/debug/threads is served to loopback clients only");
        return;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) {
        send_error(srv, req, 503, "out of memory");
        return;
    }
    census_dump(out);
    fclose(out);
    send_text(srv, req, 200, text, len);
    free(text);
}

/* GET /debug/trace?seconds=N: records what go() threads do for N seconds
 * (default 1, at most 60), then answers the trace as JSON. The loop goes on
 * serving meanwhile; a timer ends the recording. */
static void on_trace_done(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct server *srv = arg;
    struct evhttp_request *req = srv->trace_req;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    trace_end(out, srv->program); /* without out, the recording ends all the same */
    if (out) {
        fclose(out);
        send_typed(srv, req, 200, "application/json", text, len);
    } else {
        send_error(srv, req, 503, "out of memory");
    }
    free(text);
    srv->trace_req = NULL;
    srv->trace_conn = NULL;
    maybe_finish_shutdown(srv);
}

static void on_trace(struct evhttp_request *req, struct server *srv)
{
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    struct evkeyvalq params = { 0 };
    double seconds = 1;
    if (parse_query(query, &params) < 0) {
        evhttp_clear_headers(&params);
        send_error(srv, req, 400, "a NUL byte (%00) in the query");
        return;
    }
    const char *text = evhttp_find_header(&params, "seconds");
    bool ok = !text || flag_positive(text, 60, &seconds);
    evhttp_clear_headers(&params);
    if (!ok) {
        send_error(srv, req, 400, "seconds takes a number above 0, at most 60");
        return;
    }
    if (srv->stopping) {
        send_error(srv, req, 503, "shutting down");
        return;
    }
    int err = srv->trace_done ? trace_begin() : ENOMEM;
    if (err) {
        send_error(srv, req, err == EBUSY ? 409 : 503,
                   err == EBUSY ? "a trace is being recorded already" : "out of memory");
        return;
    }
    srv->trace_req = req;
    srv->trace_conn = conn_of(req);
    struct timeval tv = { (time_t)seconds, (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6) };
    evtimer_add(srv->trace_done, &tv);
}

/* ---- what Go's net/http refuses ---- */

/* Why Go's server would refuse req before any handler runs (with *status),
 * or NULL. evhttp is more lenient: it serves versions Go calls malformed,
 * echoes them, and takes a target with a space or without its leading
 * slash. */
static const char *refused(struct evhttp_request *req, int *status)
{
    struct conn *c = conn_of(req);
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

/* Whether the decoded path of req is exactly path ("/test%00" is not
 * "/test", as in Go's ServeMux). */
static bool path_is(struct evhttp_request *req, const char *path)
{
    const char *raw = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    size_t len = 0;
    char *decoded = raw ? evhttp_uridecode(raw, 0, &len) : NULL;
    bool same = decoded && len == strlen(path) && memcmp(decoded, path, len) == 0;
    free(decoded);
    return same;
}

/* Every request comes here first: refuse what Go refuses, then route. */
static void on_request(struct evhttp_request *req, void *arg)
{
    struct server *srv = arg;
    int status;
    struct conn *c = conn_of(req);
    if (c)
        c->requests++;
    const char *why = refused(req, &status);
    if (c) { /* the next request's line, if it is here, is at the head now */
        c->judged = false;
        judge_request_line(c);
    }
    if (req->minor > 1)
        req->minor = 1; /* Go answers HTTP/1.x as HTTP/1.1 */
    if (why) {
        req->major = 1; /* never echo a version we refused */
        req->minor = 1;
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        send_error(srv, req, status, why);
    } else if (path_is(req, "/test")) {
        on_test(req, srv);
    } else if (path_is(req, "/debug/threads")) {
        on_threads(req, srv);
    } else if (path_is(req, "/debug/trace")) {
        if (evhttp_request_get_command(req) != EVHTTP_REQ_GET)
            send_error(srv, req, 405, "only GET is served here");
        else if (!is_loopback(req))
            send_error(srv, req, 403, "/debug/trace is served to loopback clients only");
        else
            on_trace(req, srv);
    } else {
        send_error(srv, req, 404,
                   "not found: this server has /test, /debug/threads and /debug/trace");
    }
}

/* ---- the stalled database, on the loop thread ---- */

/* One connection the database holds open and never answers. */
struct stalled {
    struct bufferevent *bev;
    struct stalled *prev, *next;
};

static struct evconnlistener *db_listener;
static struct stalled *stalled_conns;
static char db_addr[64];

const char *server_db(void)
{
    return db_addr;
}

static void stalled_free(struct stalled *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        stalled_conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    bufferevent_free(c->bev);
    free(c);
}

/* Reads the query and throws it away: the answer never comes. */
static void on_db_read(struct bufferevent *bev, void *arg)
{
    (void)arg;
    evbuffer_drain(bufferevent_get_input(bev), evbuffer_get_length(bufferevent_get_input(bev)));
}

static void on_db_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        stalled_free(arg);
}

static void on_db_accept(struct evconnlistener *lev, evutil_socket_t fd, struct sockaddr *sa,
                         int len, void *arg)
{
    (void)sa;
    (void)len;
    (void)arg;
    struct stalled *c = calloc(1, sizeof *c);
    struct bufferevent *bev = c ? bufferevent_socket_new(evconnlistener_get_base(lev), fd,
                                                         BEV_OPT_CLOSE_ON_FREE)
                                : NULL;
    if (!bev) {
        free(c);
        evutil_closesocket(fd);
        return;
    }
    c->bev = bev;
    c->next = stalled_conns;
    if (stalled_conns)
        stalled_conns->prev = c;
    stalled_conns = c;
    bufferevent_setcb(bev, on_db_read, NULL, on_db_event, c);
    bufferevent_enable(bev, EV_READ);
}

static int start_stalled_db(struct event_base *base)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = 0 };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    db_listener = evconnlistener_new_bind(base, on_db_accept, NULL,
                                          LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, BACKLOG,
                                          (struct sockaddr *)&sa, sizeof sa);
    if (!db_listener)
        return -1;
    socklen_t len = sizeof sa;
    getsockname(evconnlistener_get_fd(db_listener), (struct sockaddr *)&sa, &len);
    snprintf(db_addr, sizeof db_addr, "127.0.0.1:%d", ntohs(sa.sin_port));
    return 0;
}

static void stop_stalled_db(void)
{
    while (stalled_conns)
        stalled_free(stalled_conns);
    if (db_listener)
        evconnlistener_free(db_listener);
    db_listener = NULL;
}

/* ---- shutdown ---- */

/* The bound on shutdown: whatever is still unanswered or unwritten now is
 * reported, not waited for. */
static void on_grace_over(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(((struct server *)arg)->base);
}

/* Go's Server.Shutdown, with the request contexts cancelled: stop accepting,
 * cancel every request, and go on serving until every handler has returned
 * and every reply has been written, or the grace period is over. */
static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct server *srv = arg;
    if (srv->stopping)
        return;
    fprintf(stderr, "%s: stopping: %d requests in flight\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", srv->jobs);
    srv->stopping = true;
    srv->stop_deadline = deadline_after(SHUTDOWN_MS);
    evhttp_del_accept_socket(srv->http, srv->listener);
    srv->listener = NULL;
    ctx_cancel(srv->ctx);
    if (srv->trace_req) /* a recording in progress ends now, with what it has */
        event_active(srv->trace_done, EV_TIMEOUT, 0);
    struct timeval grace = { GRACE_MS / 1000, GRACE_MS % 1000 * 1000 };
    evtimer_add(srv->grace, &grace);
    maybe_finish_shutdown(srv);
}

/* After the loop: give threads the rest of the second, then say who is left,
 * and which requests were never answered or their replies never written.
 * With every thread gone, a channel made while serving and still there (a
 * context, timer or errgroup holds one) was never released: false then, so
 * that the server exits 1, as it would under LeakSanitizer. */
static bool report_leftovers(struct server *srv)
{
    /* Cancelled threads end within milliseconds; a leaked one never does.
     * Wait while they are still ending, not a moment longer. */
    int64_t deadline = srv->stopping ? srv->stop_deadline : deadline_after(0);
    int left = go_running(), before;
    do {
        before = left;
        int64_t next = deadline_after(STALL_MS);
        left = go_wait_all(next < deadline ? next : deadline);
    } while (left > 0 && left < before && now_ms() < deadline);
    if (srv->jobs > 0 || srv->closing > 0)
        fprintf(stderr, "shutdown: %d requests unanswered and %d replies unwritten after %d ms\n",
                srv->jobs, srv->closing, GRACE_MS);
    if (left == 0 && srv->jobs == 0) {
        fprintf(stderr, "shutdown: no thread left behind\n");
        long unreleased = chan_live() - srv->chans_at_start;
        if (unreleased > 0 && srv->closing == 0) {
            fprintf(stderr, "shutdown: but %ld channel%s made while serving %s never released "
                            "(each context, timer and errgroup holds one): ./lab check names "
                            "the line that made %s\n",
                    unreleased, unreleased == 1 ? "" : "s", unreleased == 1 ? "was" : "were",
                    unreleased == 1 ? "it" : "each");
            return false;
        }
        return true;
    }
    fprintf(stderr, "shutdown: %d threads still running:\n", left);
    census_dump(stderr);
    return true;
}

/* ---- flags and start-up ---- */

static const char usage_text[] =
    "usage: %s [--addr ADDR] [--port PORT] [--time-scale F] [--max-inflight N]\n"
    "          [--stack-size KIB] [--no-threads]%s\n"
    "\n"
    "Serves GET /test with this chapter's handler, GET /debug/threads (the dump)\n"
    "and GET /debug/trace?seconds=N (what the threads did, as Chrome trace JSON).\n"
    "  --addr ADDR      address to listen on (default 127.0.0.1)\n"
    "  --port PORT      port to listen on, 0 picks a free one (default 8080)\n"
    "  --time-scale F   multiplies every duration of the story; F > 0 (default 1)\n"
    "  --max-inflight N answer 503 while N requests are in flight (限流; default: no limit)\n"
    "  --stack-size KIB the stack of each thread the server starts, in KiB (default\n"
    "                   256, 1024 under a sanitizer; 16 to 1048576)\n"
    "  --no-threads     answer /test with \"ok\" from the event loop, starting no\n"
    "                   thread: the baseline ./lab bench compares against\n"
    "%s"
    "  --help           this text\n";

static const char db_usage[] =
    "  --db HOST:PORT   the downstream database (default: one inside this\n"
    "                   server that accepts queries and never answers)\n";

struct options {
    const char *addr;
    int port;
    double scale;
    long max_inflight;
    bool no_threads;
    bool with_db;
};

static void parse_flags(int argc, char **argv, struct options *o)
{
    char usage[sizeof usage_text + sizeof db_usage + 256];
    snprintf(usage, sizeof usage, usage_text, argv[0], o->with_db ? " [--db HOST:PORT]" : "",
             o->with_db ? db_usage : "");
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        if (strcmp(flag, "--no-threads") == 0) {
            o->no_threads = true;
            continue;
        }
        if (strcmp(flag, "--addr") && strcmp(flag, "--port") && strcmp(flag, "--time-scale") &&
            strcmp(flag, "--max-inflight") && strcmp(flag, "--stack-size") &&
            (!o->with_db || strcmp(flag, "--db")))
            flag_usage_error(argv[0], usage, "unknown flag", flag);
        if (i + 1 >= argc)
            flag_usage_error(argv[0], usage, "missing value for", flag);
        const char *value = argv[++i];
        long port, kib;
        if (strcmp(flag, "--addr") == 0) {
            o->addr = value;
        } else if (strcmp(flag, "--db") == 0) {
            if (!db_addr_ok(value))
                flag_usage_error(argv[0], usage, "--db takes IPV4:PORT", value);
            snprintf(db_addr, sizeof db_addr, "%s", value);
        } else if (strcmp(flag, "--max-inflight") == 0) {
            if (!flag_int(value, 1, 1000000, &o->max_inflight))
                flag_usage_error(argv[0], usage, "--max-inflight takes 1 to 1000000", value);
        } else if (strcmp(flag, "--stack-size") == 0) {
            if (!flag_int(value, 16, 1 << 20, &kib) || go_set_stack_size((size_t)kib * 1024) != 0)
                flag_usage_error(argv[0], usage, "--stack-size takes 16 to 1048576 (KiB)", value);
        } else if (strcmp(flag, "--port") == 0) {
            if (!flag_int(value, 0, 65535, &port))
                flag_usage_error(argv[0], usage, "--port takes 0 to 65535", value);
            o->port = (int)port;
        } else if (!flag_positive(value, 1e6, &o->scale)) {
            flag_usage_error(argv[0], usage, "--time-scale takes a number above 0", value);
        }
    }
}

/* Every connection is two descriptors: its socket and its hang-up watch. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* ---- accept errors ---- */

/* Out of descriptors (or memory), accept fails while the listening socket
 * stays readable: retrying at once would spin. Back off as Go's Serve does,
 * 5 ms doubling to 1 s, starting again at 5 ms after a quiet second. */
static void on_accept_error(struct evconnlistener *lev, void *arg)
{
    (void)arg;
    struct server *srv = serving;
    int err = EVUTIL_SOCKET_ERROR();
    int64_t now = now_ms();
    if (srv->backoff_ms == 0 || now - srv->last_accept_error > 1000)
        srv->backoff_ms = 5;
    else if ((srv->backoff_ms *= 2) > 1000)
        srv->backoff_ms = 1000;
    srv->last_accept_error = now;
    fprintf(stderr, "accept: %s; retrying in %lld ms\n", evutil_socket_error_to_string(err),
            (long long)srv->backoff_ms);
    evconnlistener_disable(lev);
    struct timeval wait = { srv->backoff_ms / 1000, srv->backoff_ms % 1000 * 1000 };
    evtimer_add(srv->backoff, &wait);
}

static void on_backoff_over(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct server *srv = arg;
    srv->last_accept_error = now_ms();
    if (srv->listener)
        evconnlistener_enable(evhttp_bound_socket_get_listener(srv->listener));
}

static struct evhttp_bound_socket *listen_on(struct server *srv, const struct options *o)
{
    char port[8];
    snprintf(port, sizeof port, "%d", o->port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE }, *ai;
    int rc = getaddrinfo(o->addr, port, &hints, &ai);
    if (rc != 0) {
        fprintf(stderr, "cannot listen on %s: %s\n", o->addr, gai_strerror(rc));
        return NULL;
    }
    struct evconnlistener *lev = evconnlistener_new_bind(
        srv->base, NULL, NULL, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
        BACKLOG, ai->ai_addr, (int)ai->ai_addrlen);
    freeaddrinfo(ai);
    if (!lev) {
        fprintf(stderr, "cannot listen on %s:%d: %s\n", o->addr, o->port, strerror(errno));
        return NULL;
    }
    evconnlistener_set_error_cb(lev, on_accept_error);
    return evhttp_bind_listener(srv->http, lev);
}

static void print_listening(struct evhttp_bound_socket *bound)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN], port[8];
    getsockname(evhttp_bound_socket_get_fd(bound), (struct sockaddr *)&ss, &len);
    getnameinfo((struct sockaddr *)&ss, len, host, sizeof host, port, sizeof port,
                NI_NUMERICHOST | NI_NUMERICSERV);
    printf(ss.ss_family == AF_INET6 ? "listening on http://[%s]:%s\n"
                                    : "listening on http://%s:%s\n",
           host, port);
    fflush(stdout);
}

static int run(int argc, char **argv, handler_fn handler, bool with_db)
{
    const char *slash = strrchr(argv[0], '/');
    struct options o = { "127.0.0.1", 8080, 1.0, 0, false, with_db };
    parse_flags(argc, argv, &o);
    time_scale_set(o.scale);
    /* What the article's workers print shows as it happens, even in a file. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* libevent writes with writev() and no MSG_NOSIGNAL. */
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    census_warm_up();
    evthread_use_pthreads();

    int code = 1;
    struct server srv = { .handler = handler, .max_inflight = (int)o.max_inflight,
                          .no_threads = o.no_threads };
    snprintf(srv.program, sizeof srv.program, "%s", slash ? slash + 1 : argv[0]);
    srv.ctx = ctx_with_cancel(ctx_background());
    srv.base = event_base_new();
    if (!srv.ctx || !srv.base || !(srv.http = evhttp_new(srv.base)))
        goto cleanup;
    if (!(event_base_get_features(srv.base) & EV_FEATURE_EARLY_CLOSE))
        fprintf(stderr, "warning: no EV_CLOSED here: hang-ups will not cancel requests\n");
    evhttp_set_max_headers_size(srv.http, MAX_HEADERS);
    evhttp_set_max_body_size(srv.http, MAX_BODY);
    evhttp_set_timeout(srv.http, IDLE_TIMEOUT_S);
    evhttp_set_gencb(srv.http, on_request, &srv);
    /* Every method reaches on_request, which answers as Go's ServeMux would
     * (evhttp's own 501 would leave the next request's line unjudged). */
    evhttp_set_allowed_methods(srv.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                             EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                             EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                             EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_bevcb(srv.http, on_connection, NULL);
    serving = &srv;
    if (!(srv.backoff = evtimer_new(srv.base, on_backoff_over, &srv)) ||
        !(srv.listener = listen_on(&srv, &o)))
        goto cleanup;
    if (with_db && !db_addr[0] && start_stalled_db(srv.base) < 0) {
        fprintf(stderr, "cannot start the stalled database: %s\n", strerror(errno));
        goto cleanup;
    }
    srv.sigint = evsignal_new(srv.base, SIGINT, on_signal, &srv);
    srv.sigterm = evsignal_new(srv.base, SIGTERM, on_signal, &srv);
    srv.grace = evtimer_new(srv.base, on_grace_over, &srv);
    srv.trace_done = evtimer_new(srv.base, on_trace_done, &srv);
    if (!srv.sigint || !srv.sigterm || !srv.grace || event_add(srv.sigint, NULL) < 0 ||
        event_add(srv.sigterm, NULL) < 0)
        goto cleanup;
    print_listening(srv.listener);
    srv.chans_at_start = chan_live();

    event_base_dispatch(srv.base);
    code = report_leftovers(&srv) ? 0 : 1;
    if (srv.jobs > 0)
        return code; /* request threads still hold events: leave everything be */

cleanup:
    if (srv.backoff)
        event_free(srv.backoff);
    if (srv.grace)
        event_free(srv.grace);
    if (srv.trace_done)
        event_free(srv.trace_done);
    if (srv.sigterm)
        event_free(srv.sigterm);
    if (srv.sigint)
        event_free(srv.sigint);
    stop_stalled_db();
    if (srv.http)
        evhttp_free(srv.http);
    for (int fd = 0; fd < nconns; fd++)
        free(conns[fd]);
    free(conns);
    if (srv.base)
        event_base_free(srv.base);
    ctx_cancel(srv.ctx);
    ctx_release(srv.ctx);
    libevent_global_shutdown();
    return code;
}

int server_main(int argc, char **argv, handler_fn handler)
{
    return run(argc, argv, handler, false);
}

int server_main_with_db(int argc, char **argv, handler_fn handler)
{
    return run(argc, argv, handler, true);
}
