/* The burst, on libevent's HTTP client. Every request has its own connection,
 * so that hanging up one client closes exactly one socket. Connections are
 * freed from a deferred callback, never from inside one of their own. */
#include "burst.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include "clock.h"

struct run {
    const struct burst *b;
    struct burst_result *res;
    struct event_base *base;
    int started, ended;
    int64_t start;
    bool over;                     /* every request has ended */
    int64_t watch_until;
    struct event *sampler;
    struct event *ticker;          /* rate mode: lets the next requests start */
    struct evhttp_connection *sample_conn;
    bool sample_pending;
};

struct call {
    struct run *run;
    struct evhttp_connection *evcon;
    struct evhttp_request *req;
    struct event *hangup;
    bool ended;
};

static void start_calls(struct run *run);

static void free_call(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct call *call = arg;
    if (call->evcon) /* NULL when no connection could be made */
        evhttp_connection_free(call->evcon);
    free(call);
}

static void free_conn(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    evhttp_connection_free(arg);
}

static void finish_sampling(struct run *run)
{
    if (run->sampler) {
        event_free(run->sampler);
        run->sampler = NULL;
    }
    if (run->sample_conn && !run->sample_pending) {
        evhttp_connection_free(run->sample_conn);
        run->sample_conn = NULL;
    }
}

static void end_call(struct call *call)
{
    struct run *run = call->run;
    call->ended = true;
    if (call->hangup) {
        event_free(call->hangup);
        call->hangup = NULL;
    }
    struct timeval now = { 0, 0 };
    event_base_once(run->base, -1, EV_TIMEOUT, free_call, call, &now);
    run->ended++;
    start_calls(run);
    if (run->ended == run->b->requests) {
        run->over = true;
        run->res->elapsed_ms = now_ms() - run->start;
        run->watch_until = now_ms() + run->b->watch_after_ms;
        if (!run->sampler)
            finish_sampling(run);
    }
}

static void on_reply(struct evhttp_request *req, void *arg)
{
    struct call *call = arg;
    if (call->ended)
        return;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    if (code > 0 && code < BURST_MAX_STATUS)
        call->run->res->status[code]++;
    else
        call->run->res->failed++;
    end_call(call);
}

static void on_hangup(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct call *call = arg;
    call->run->res->hung_up++;
    call->ended = true; /* cancelling may call on_reply: it must not count */
    evhttp_cancel_request(call->req);
    end_call(call);
}

/* The connection's buffer owns its socket, as in common/conn.c (see
 * srv_on_connection there): freed from inside its own callback, evhttp would
 * close the socket before the buffer's events left epoll. */
static struct evhttp_connection *connect_to(struct run *run)
{
    struct bufferevent *bev = bufferevent_socket_new(run->base, -1, BEV_OPT_CLOSE_ON_FREE);
    struct evhttp_connection *evcon =
        bev ? evhttp_connection_base_bufferevent_new(run->base, NULL, bev, run->b->host,
                                                     (ev_uint16_t)run->b->port)
            : NULL;
    if (bev && !evcon)
        bufferevent_free(bev);
    if (evcon) {
        struct timeval tv = { run->b->timeout_ms / 1000, run->b->timeout_ms % 1000 * 1000 };
        evhttp_connection_set_timeout_tv(evcon, &tv);
        evhttp_connection_set_retries(evcon, 0);
    }
    return evcon;
}

static struct evhttp_request *get(struct evhttp_connection *evcon, const char *path,
                                  void (*cb)(struct evhttp_request *, void *), void *arg,
                                  const char *host)
{
    struct evhttp_request *req = evhttp_request_new(cb, arg);
    if (!req)
        return NULL;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", host);
    if (evhttp_make_request(evcon, req, EVHTTP_REQ_GET, path) < 0)
        return NULL; /* evhttp_make_request has freed req */
    return req;
}

static void start_call(struct run *run)
{
    struct call *call = calloc(1, sizeof *call);
    run->started++;
    if (!call) {
        run->res->failed++;
        run->ended++;
        return;
    }
    call->run = run;
    call->evcon = connect_to(run);
    if (call->evcon)
        call->req = get(call->evcon, run->b->path, on_reply, call, run->b->host);
    if (!call->req) {
        run->res->failed++;
        end_call(call);
        return;
    }
    if (run->b->hangup_ms >= 0) {
        struct timeval tv = { run->b->hangup_ms / 1000, run->b->hangup_ms % 1000 * 1000 };
        call->hangup = evtimer_new(run->base, on_hangup, call);
        evtimer_add(call->hangup, &tv);
    }
}

/* How many requests may have started by now. */
static int allowed(const struct run *run)
{
    if (run->b->rate <= 0)
        return run->b->requests;
    double due = (double)(now_ms() - run->start) * run->b->rate / 1000.0 + 1;
    return due < run->b->requests ? (int)due : run->b->requests;
}

static void start_calls(struct run *run)
{
    int limit = allowed(run);
    while (run->started < limit && run->started - run->ended < run->b->concurrency)
        start_call(run);
    if (run->ticker && run->started == run->b->requests) {
        event_free(run->ticker);
        run->ticker = NULL;
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    start_calls(arg);
}

/* ---- sampling /debug/threads ---- */

static void on_sample(struct evhttp_request *req, void *arg)
{
    struct run *run = arg;
    int threads = -1;
    if (req && evhttp_request_get_response_code(req) == 200) {
        char line[64] = "";
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        evbuffer_copyout(in, line, sizeof line - 1);
        if (strncmp(line, "threads: ", 9) == 0)
            threads = atoi(line + 9);
    }
    run->sample_pending = false;
    if (run->b->on_sample)
        run->b->on_sample(now_ms() - run->start, threads, run->b->arg);
    if (!req) {
        /* The connection failed; the next sample makes a new one. */
        struct timeval now = { 0, 0 };
        event_base_once(run->base, -1, EV_TIMEOUT, free_conn, run->sample_conn, &now);
        run->sample_conn = NULL;
    }
    if (!run->sampler)
        finish_sampling(run);
}

static void on_sample_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct run *run = arg;
    if (run->over && now_ms() >= run->watch_until) {
        event_free(run->sampler);
        run->sampler = NULL;
        if (!run->sample_pending)
            finish_sampling(run);
        return;
    }
    if (run->sample_pending)
        return;
    if (!run->sample_conn)
        run->sample_conn = connect_to(run);
    if (run->sample_conn &&
        get(run->sample_conn, "/debug/threads", on_sample, run, run->b->host))
        run->sample_pending = true;
}

int burst_run(const struct burst *b, struct burst_result *result)
{
    memset(result, 0, sizeof *result);
    struct run run = { .b = b, .res = result };
    if (b->requests < 0 || b->concurrency < 1) {
        errno = EINVAL;
        return -1;
    }
    if (!(run.base = event_base_new())) {
        errno = ENOMEM;
        return -1;
    }
    run.start = now_ms();
    if (b->sample_ms > 0) {
        run.sampler = event_new(run.base, -1, EV_PERSIST, on_sample_tick, &run);
        struct timeval tv = { b->sample_ms / 1000, b->sample_ms % 1000 * 1000 };
        event_add(run.sampler, &tv);
        on_sample_tick(-1, 0, &run);
    }
    if (b->requests == 0) {
        run.over = true;
        run.watch_until = now_ms() + b->watch_after_ms;
    }
    if (b->rate > 0 && b->requests > 0) {
        int64_t every = (int64_t)(1000.0 / b->rate);
        struct timeval tv = { every / 1000, (every % 1000) * 1000 + (every ? 0 : 1000) };
        run.ticker = event_new(run.base, -1, EV_PERSIST, on_tick, &run);
        event_add(run.ticker, &tv);
    }
    start_calls(&run);
    /* The loop ends by itself once nothing is left to wait for. */
    event_base_dispatch(run.base);
    event_base_free(run.base);
    return 0;
}
