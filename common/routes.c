/* The routes (server_internal.h): /test runs the chapter's handler on a
 * thread of its own, as Go's net/http runs each request on a goroutine;
 * /debug/threads and /debug/trace are the census's dump and recording;
 * anything else gets Go's ServeMux's answers. */
#include "server_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

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

#include "census.h"
#include "clock.h"
#include "flags.h"
#include "go.h"
#include "trace.h"

struct job *srv_job_new(struct server *srv, struct evhttp_request *req)
{
    struct job *job = calloc(1, sizeof *job);
    if (!job)
        return NULL;
    job->srv = srv;
    job->req = req;
    job->w.status = 200;
    job->r.query = &job->query;
    job->r.ctx = ctx_with_cancel(srv->ctx);
    job->reply = event_new(srv->base, -1, 0, srv_on_reply, job);
    struct conn *c = srv_conn_of(req);
    if (!job->r.ctx || !job->reply || !c || !c->hangup) {
        srv_job_free(job);
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
 * unescapes to a NUL byte, which Go keeps and C cannot: that is srv_refused. */
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
        srv_send_error(srv, req, 405, "only GET is served here");
        return;
    }
    if (srv->stopping) {
        srv_send_error(srv, req, 503, "shutting down");
        return;
    }
    if (srv->no_threads) {
        srv_send_text(srv, req, 200, "ok", 2);
        return;
    }
    if (srv->max_inflight > 0 && srv->jobs >= srv->max_inflight) {
        srv_send_error(srv, req, 503, "too many requests in flight");
        return;
    }
    struct job *job = srv_job_new(srv, req);
    if (!job) {
        srv_send_error(srv, req, 503, "out of resources for a new request");
        return;
    }
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    if (parse_query(query, &job->query) < 0) {
        srv_job_free(job);
        srv_send_error(srv, req, 400, "a NUL byte (%00) in the query");
        return;
    }
    if (go("handler", srv_run_handler, job) != 0) {
        srv_job_free(job);
        srv_send_error(srv, req, 503, "cannot start a thread for this request");
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
        srv_send_error(srv, req, 405, "only GET is served here");
        return;
    }
    if (!is_loopback(req)) {
        srv_send_error(srv, req, 403, "/debug/threads is served to loopback clients only");
        return;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) {
        srv_send_error(srv, req, 503, "out of memory");
        return;
    }
    census_dump(out);
    fclose(out);
    srv_send_text(srv, req, 200, text, len);
    free(text);
}

/* GET /debug/trace?seconds=N: records what go() threads do for N seconds
 * (default 1, at most 60), then answers the trace as JSON. The loop goes on
 * srv_serving meanwhile; a timer ends the recording. */
void srv_on_trace_done(evutil_socket_t fd, short what, void *arg)
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
        srv_send_typed(srv, req, 200, "application/json", text, len);
    } else {
        srv_send_error(srv, req, 503, "out of memory");
    }
    free(text);
    srv->trace_req = NULL;
    srv->trace_conn = NULL;
    srv_maybe_finish_shutdown(srv);
}

static void on_trace(struct evhttp_request *req, struct server *srv)
{
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    struct evkeyvalq params = { 0 };
    double seconds = 1;
    if (parse_query(query, &params) < 0) {
        evhttp_clear_headers(&params);
        srv_send_error(srv, req, 400, "a NUL byte (%00) in the query");
        return;
    }
    const char *text = evhttp_find_header(&params, "seconds");
    bool ok = !text || flag_positive(text, 60, &seconds);
    evhttp_clear_headers(&params);
    if (!ok) {
        srv_send_error(srv, req, 400, "seconds takes a number above 0, at most 60");
        return;
    }
    if (srv->stopping) {
        srv_send_error(srv, req, 503, "shutting down");
        return;
    }
    int err = srv->trace_done ? trace_begin() : ENOMEM;
    if (err) {
        srv_send_error(srv, req, err == EBUSY ? 409 : 503,
                   err == EBUSY ? "a trace is being recorded already" : "out of memory");
        return;
    }
    srv->trace_req = req;
    srv->trace_conn = srv_conn_of(req);
    struct timeval tv = { (time_t)seconds, (suseconds_t)((seconds - (double)(time_t)seconds) * 1e6) };
    evtimer_add(srv->trace_done, &tv);
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
void srv_on_request(struct evhttp_request *req, void *arg)
{
    struct server *srv = arg;
    int status;
    struct conn *c = srv_conn_of(req);
    if (c)
        c->requests++;
    const char *why = srv_refused(req, &status);
    if (c) { /* the next request's line, if it is here, is at the head now */
        c->judged = false;
        srv_judge_request_line(c);
    }
    if (req->minor > 1)
        req->minor = 1; /* Go answers HTTP/1.x as HTTP/1.1 */
    if (why) {
        req->major = 1; /* never echo a version we srv_refused */
        req->minor = 1;
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        srv_send_error(srv, req, status, why);
    } else if (path_is(req, "/test")) {
        on_test(req, srv);
    } else if (path_is(req, "/debug/threads")) {
        on_threads(req, srv);
    } else if (path_is(req, "/debug/trace")) {
        if (evhttp_request_get_command(req) != EVHTTP_REQ_GET)
            srv_send_error(srv, req, 405, "only GET is served here");
        else if (!is_loopback(req))
            srv_send_error(srv, req, 403, "/debug/trace is served to loopback clients only");
        else
            on_trace(req, srv);
    } else {
        srv_send_error(srv, req, 404,
                   "not found: this server has /test, /debug/threads and /debug/trace");
    }
}
