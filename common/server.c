/* The server behind every chapter: libevent's evhttp on one loop thread, one
 * thread per request, and the reply handed back to the loop.
 *
 * evhttp is not thread-safe, so only the loop thread touches it: the request
 * thread gets a copy of what it needs (the query) and, when the handler
 * returns, makes the job's reply event active; the loop sends the reply and
 * frees the job. This file holds what handlers call, the replies, the
 * request thread, shutdown and start-up; server_internal.h says where the
 * rest lives (connections, routes, the stalled database).
 */
#include "server.h"
#include "server_internal.h"

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
void srv_maybe_finish_shutdown(struct server *srv)
{
    if (srv->stopping && srv->jobs == 0 && srv->closing == 0 && !srv->trace_req)
        event_base_loopbreak(srv->base);
}

void srv_send_typed(struct server *srv, struct evhttp_request *req, int status,
                       const char *type, const char *text, size_t len)
{
    struct evbuffer *body = evbuffer_new();
    if (body)
        evbuffer_add(body, text, len);
    struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
    evhttp_add_header(headers, "Content-Type", type);
    struct conn *c = srv_conn_of(req);
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

void srv_send_text(struct server *srv, struct evhttp_request *req, int status,
                      const char *text, size_t len)
{
    srv_send_typed(srv, req, status, "text/plain; charset=utf-8", text, len);
}

void srv_send_error(struct server *srv, struct evhttp_request *req, int status,
                       const char *message)
{
    char text[256];
    int n = snprintf(text, sizeof text, "%s\n", message);
    srv_send_text(srv, req, status, text, (size_t)n);
}

void srv_job_free(struct job *job)
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

void srv_on_reply(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct job *job = arg;
    struct server *srv = job->srv;
    srv_send_text(srv, job->req, job->w.status, job->w.body ? job->w.body : "", job->w.len);
    srv_job_free(job);
    srv->jobs--;
    srv_maybe_finish_shutdown(srv);
}

/* ---- the request thread ---- */

void srv_run_handler(void *arg)
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

/* ---- shutdown ---- */

/* The bound on shutdown: whatever is still unanswered or unwritten now is
 * reported, not waited for, unless replies went out since the last look. */
static void on_grace_over(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct server *srv = arg;
    /* Replies still going out, or threads still ending (the kernel's count:
     * a thread that has left go() may still be exiting, and a starved
     * handler waits behind them): a busy machine, not a stuck handler. Go's
     * Shutdown waits for them; so does this, a step at a time, up to a
     * bound. A step in which nothing ends stops it. */
    int threads = census_threads();
    if ((srv->jobs < srv->jobs_at_look || threads < srv->threads_at_look) &&
        now_ms() - srv->stop_at < GRACE_MAX_MS) {
        srv->jobs_at_look = srv->jobs;
        srv->threads_at_look = threads;
        srv->stop_deadline = deadline_after(SHUTDOWN_MS - GRACE_MS);
        struct timeval step = { GRACE_STEP_MS / 1000, GRACE_STEP_MS % 1000 * 1000 };
        evtimer_add(srv->grace, &step);
        return;
    }
    event_base_loopbreak(srv->base);
}

/* Go's Server.Shutdown, with the request contexts cancelled: stop accepting,
 * cancel every request, and go on srv_serving until every handler has returned
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
    srv->stop_at = now_ms();
    srv->jobs_at_look = srv->jobs;
    srv->threads_at_look = census_threads();
    srv->stop_deadline = deadline_after(SHUTDOWN_MS);
    evhttp_del_accept_socket(srv->http, srv->listener);
    srv->listener = NULL;
    ctx_cancel(srv->ctx);
    if (srv->trace_req) /* a recording in progress ends now, with what it has */
        event_active(srv->trace_done, EV_TIMEOUT, 0);
    struct timeval grace = { GRACE_MS / 1000, GRACE_MS % 1000 * 1000 };
    evtimer_add(srv->grace, &grace);
    srv_maybe_finish_shutdown(srv);
}

/* After the loop: give threads the rest of the second, then say who is left,
 * and which requests were never answered or their replies never written.
 * With every thread gone, a channel made while srv_serving and still there (a
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
        fprintf(stderr, "shutdown: %d requests unanswered and %d replies unwritten %lld ms "
                        "after the signal\n",
                srv->jobs, srv->closing, (long long)(srv->stopping ? now_ms() - srv->stop_at : 0));
    if (left == 0 && srv->jobs == 0) {
        fprintf(stderr, "shutdown: no thread left behind\n");
        long unreleased = chan_live() - srv->chans_at_start;
        if (unreleased > 0 && srv->closing == 0) {
            fprintf(stderr, "shutdown: but %ld channel%s made while srv_serving %s never released "
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
    long port = o->port, kib = 0;
    const char *db = NULL;
    const struct flag flags[] = {
        { "--addr", FLAG_TEXT, &o->addr, 0, 0, "an address", NULL },
        { "--port", FLAG_INT, &port, 0, 65535, NULL, NULL },
        { "--time-scale", FLAG_POSITIVE, &o->scale, 0, 1e6, NULL, NULL },
        { "--max-inflight", FLAG_INT, &o->max_inflight, 1, 1000000, NULL, NULL },
        { "--stack-size", FLAG_INT, &kib, 16, 1 << 20, NULL, NULL },
        { "--no-threads", FLAG_SWITCH, &o->no_threads, 0, 0, NULL, NULL },
        { "--db", FLAG_TEXT, &db, 0, 0, "IPV4:PORT", db_addr_ok }, /* the last: with_db only */
    };
    flags_parse(argc, argv, flags, (int)(sizeof flags / sizeof flags[0]) - !o->with_db, usage);
    o->port = (int)port;
    if (db)
        srv_db_set_addr(db);
    char given[32];
    snprintf(given, sizeof given, "%ld", kib);
    if (kib && go_set_stack_size((size_t)kib * 1024) != 0)
        flag_usage_error(argv[0], usage, "--stack-size is refused by this system", given);
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
    struct server *srv = srv_serving;
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
    evhttp_set_gencb(srv.http, srv_on_request, &srv);
    /* Every method reaches srv_on_request, which answers as Go's ServeMux would
     * (evhttp's own 501 would leave the next request's line unjudged). */
    evhttp_set_allowed_methods(srv.http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                             EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                             EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                             EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_bevcb(srv.http, srv_on_connection, NULL);
    srv_serving = &srv;
    if (!(srv.backoff = evtimer_new(srv.base, on_backoff_over, &srv)) ||
        !(srv.listener = listen_on(&srv, &o)))
        goto cleanup;
    if (with_db && !server_db()[0] && srv_stalled_db_start(srv.base) < 0) {
        fprintf(stderr, "cannot start the stalled database: %s\n", strerror(errno));
        goto cleanup;
    }
    srv.sigint = evsignal_new(srv.base, SIGINT, on_signal, &srv);
    srv.sigterm = evsignal_new(srv.base, SIGTERM, on_signal, &srv);
    srv.grace = evtimer_new(srv.base, on_grace_over, &srv);
    srv.trace_done = evtimer_new(srv.base, srv_on_trace_done, &srv);
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
    srv_stalled_db_stop();
    if (srv.http)
        evhttp_free(srv.http);
    srv_conns_free();
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
