/* What the server's files share, and nothing else should (not installed):
 *
 *   server.c  what handlers call, replies, the request thread, shutdown,
 *             flags and start-up (run)
 *   conn.c    connections: the request line judged as Go judges it, the
 *             framing of bodies (framing.c), the hang-up watch, what Go's
 *             net/http refuses
 *   routes.c  the routes: /test (a thread per request), /debug/threads,
 *             /debug/trace
 *   db.c      the stalled database a chapter may query
 *
 * Everything here runs on the loop thread, but the request thread's part of
 * a job (run_handler) as server.c says.
 */
#ifndef COMMON_SERVER_INTERNAL_H
#define COMMON_SERVER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "context.h"
#include "framing.h"
#include "server.h"

/* The build's slowdown: 4 under a sanitizer (CMakeLists.txt), else 1. */
#ifndef SLOWDOWN
#define SLOWDOWN 1
#endif

enum {
    MAX_HEADERS = 8 * 1024,
    MAX_BODY = 64 * 1024,
    IDLE_TIMEOUT_S = 60,
    BACKLOG = 1024,
    SHUTDOWN_MS = 900 * SLOWDOWN, /* SIGINT to exit, everything included, */
    GRACE_MS = 700 * SLOWDOWN,    /* SIGINT to the last reply written, */
    GRACE_STEP_MS = 100 * SLOWDOWN, /* unless replies are still going out: then a step more */
    GRACE_MAX_MS = 5000 * SLOWDOWN, /* at most, from SIGINT */
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
    int64_t stop_at;    /* when the signal came */
    int jobs_at_look;   /* requests unanswered at the grace's last look */
    int threads_at_look; /* and the kernel's count of this process's threads */
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
    unsigned requests;      /* requests that reached srv_on_request */
    unsigned bad_body;      /* the request whose body broke the framing, or 0 */
    const char *bad_body_why;
};

/* The running server, for callbacks whose argument is evhttp's. */
extern struct server *srv_serving;

/* server.c: replies, on the loop thread. A reply sent while stopping says
 * Connection: close and is owed until its connection closes. */
void srv_send_typed(struct server *srv, struct evhttp_request *req, int status, const char *type,
                    const char *text, size_t len);
void srv_send_text(struct server *srv, struct evhttp_request *req, int status, const char *text,
                   size_t len);
void srv_send_error(struct server *srv, struct evhttp_request *req, int status,
                    const char *message);
/* Ends the loop once stopping and nothing is left to answer or write. */
void srv_maybe_finish_shutdown(struct server *srv);
/* A job: made on the loop, run by srv_run_handler on its own thread, whose
 * end makes srv_on_reply run on the loop, which answers and frees it. */
struct job *srv_job_new(struct server *srv, struct evhttp_request *req);
void srv_job_free(struct job *job);
void srv_run_handler(void *arg);
void srv_on_reply(evutil_socket_t fd, short what, void *arg);

/* conn.c */
struct conn *srv_conn_of(struct evhttp_request *req);
/* Judges the request line now at the head of c's input (once). */
void srv_judge_request_line(struct conn *c);
/* Why Go's server would refuse req before any handler runs, or NULL. */
const char *srv_refused(struct evhttp_request *req, int *status);
/* evhttp_set_bevcb's callback: each connection's buffer, watched. */
struct bufferevent *srv_on_connection(struct event_base *base, void *arg);
/* Frees the records of the connections still open, after evhttp_free. */
void srv_conns_free(void);

/* routes.c */
void srv_on_request(struct evhttp_request *req, void *arg);
void srv_on_trace_done(evutil_socket_t fd, short what, void *arg);

/* db.c: the stalled database, for server_main_with_db. */
int srv_stalled_db_start(struct event_base *base);
void srv_stalled_db_stop(void);
void srv_db_set_addr(const char *addr);

#endif
