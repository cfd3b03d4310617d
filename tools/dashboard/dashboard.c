/* dashboard: the page a trainer projects (./lab dashboard NN).
 *
 * Runs chapter NN's leaky and fixed servers side by side and serves, on
 * 127.0.0.1, a static page (tools/dashboard/page) and a small JSON API:
 *
 *     GET  /api/state?since=SEQ   samples after SEQ (kernel thread counts, CPU,
 *                                 RSS, ten a second), markers, both dumps, and
 *                                 what each button last did
 *     POST /api/burst             the article's burst: 100 clients hang up at 1 s
 *     POST /api/patient           one client that waits for its answer, per side
 *     POST /api/incident          section 七's sustained load: 20 requests a second
 *                                 for 30 s of the story, clients patient
 *     POST /api/chapter?nn=NN     stop both servers, start chapter NN's
 *
 * The loop thread only copies state under a mutex: sampling, the load and
 * starting or stopping servers run on threads of their own, as in the
 * chapters' servers.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <ifaddrs.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>
#include <event2/keyvalq_struct.h>
#include <event2/thread.h>

#include "burst.h"
#include "chan.h"
#include "clock.h"
#include "flags.h"
#include "go.h"
#include "json.h"
#include "proc.h"
#include "room.h"
#include "stage.h"

enum {
    SAMPLE_MS = 100,          /* ten samples a second */
    DUMP_EVERY = 5,           /* a dump every half second */
    MAX_SAMPLES = 6000,       /* ten minutes */
    MAX_MARKERS = 64,
    DUMP_SIZE = 16384,
    BURST_REQUESTS = 100,
    INCIDENT_RATE = 20,       /* requests a second of the story */
    INCIDENT_SECONDS = 30,
};

/* %s: the command as the user typed it, ./lab dashboard or build/dashboard */
static const char usage_text[] =
    "usage: %s [NN] [--port PORT] [--time-scale F] [--build DIR] [--page DIR]\n"
    "\n"
    "Serves the live page of chapter NN's leaky and fixed servers on 127.0.0.1.\n"
    "  NN, --chapter NN  the chapter to start with, 01 to 06 (default 05)\n"
    "  --build DIR     where the chapters' servers are built (default build)\n"
    "  --page DIR      the page's files (default: the source tree's)\n"
    "  --port PORT     port to listen on, 0 picks a free one (default 8090)\n"
    "  --time-scale F  the servers' and the load's time scale, 0 < F <= 10 (default 0.5)\n"
    "The room board (the page room.html, on this machine only):\n"
    "  --room ADDR       take learners' ./lab check verdicts on ADDR (the LAN address,\n"
    "                    or 0.0.0.0 for every address), with a join code\n"
    "  --room-port P     the port for them, 0 picks a free one (default 8091)\n"
    "  --room-code CODE  the join code, 4 to 32 letters and digits (default: made up)\n"
    "  --room-max N      the most learners the board keeps, 1 to 500 (default 30, what\n"
    "                    the page shows at 1280x720)\n"
    "  --room-file FILE  where the board is kept across restarts (default BUILD/room.txt)\n";

struct sample {
    long seq;
    double t; /* seconds of the story since the chapter started */
    struct reading r; /* both servers' threads, CPU and RSS (stage.h) */
};

struct marker {
    double t;
    char label[48];
};

struct action {
    bool running;
    char result[1024];
};

static struct {
    pthread_mutex_t mu;
    const char *build;
    char page[512];
    double scale;
    char dir[64];          /* the chapter's folder, "05-fanout-cancel" */
    struct child srv[2];  /* leaky, fixed */
    bool up;               /* both servers run */
    bool switching;
    _Atomic int64_t t0;    /* now_ms when the chapter started (buttons read it unlocked) */
    long first_seq;        /* the chapter's first sample */
    struct sample samples[MAX_SAMPLES];
    long seq;              /* samples taken since the start */
    struct marker markers[MAX_MARKERS];
    int nmarkers;
    char dump[2][DUMP_SIZE];
    struct action burst, patient, incident;
    char error[256];       /* why the last chapter did not start */
} d = { .mu = PTHREAD_MUTEX_INITIALIZER };

static atomic_bool stopping;

static double story_now(void)
{
    return (double)(now_ms() - atomic_load(&d.t0)) / 1000.0 / d.scale;
}

static void mark(const char *label, double t)
{
    pthread_mutex_lock(&d.mu);
    if (d.nmarkers < MAX_MARKERS) {
        struct marker *m = &d.markers[d.nmarkers++];
        m->t = t;
        snprintf(m->label, sizeof m->label, "%s", label);
    }
    pthread_mutex_unlock(&d.mu);
}

/* ---- forking the servers ---- */

/* The servers are forked by one thread that lives as long as the dashboard:
 * a server gets SIGTERM when the thread that forked it ends (proc.h), so one
 * forked by a chapter switch's own thread would die as that switch ends; one
 * forked here dies with the dashboard, however the dashboard ends. */
struct spawn {
    const char *path;
    struct child *srv;
    int result;
    chan_t *done;
};

static chan_t *spawns; /* of struct spawn * */

/* A plain thread, not a go() one: it never ends, and go_wait_all at exit
 * must not wait for it. */
static void *spawner(void *arg)
{
    (void)arg;
    struct spawn *job;
    while (chan_recv(spawns, &job)) {
        job->result = server_spawn(job->srv, job->path, d.scale, NULL, NULL);
        chan_close(job->done);
    }
    return NULL;
}

static int spawner_start(void)
{
    pthread_t t;
    if (!(spawns = chan_make(sizeof(struct spawn *), 0)) ||
        pthread_create(&t, NULL, spawner, NULL) != 0)
        return -1;
    return pthread_detach(t);
}

static int spawn_server(struct child *srv, const char *path)
{
    struct spawn job = { path, srv, -1, chan_make(1, 0) };
    if (!job.done)
        return -1;
    struct spawn *ask = &job;
    chan_send(spawns, &ask);
    chan_recv(job.done, NULL);
    chan_release(job.done);
    return job.result;
}

/* Called with d.switching set and the servers down. */
static void start_chapter(const char *dir)
{
    struct child srv[2];
    char error[sizeof d.error] = "";
    int started = 0;
    for (int k = 0; k < 2; k++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s/%s", d.build, dir, stage_kinds[k]);
        if (spawn_server(&srv[k], path) != 0) {
            snprintf(error, sizeof error, "%s/%s/%s did not start (is it built?)", d.build,
                     dir, stage_kinds[k]);
            break;
        }
        started++;
    }
    if (started < 2) {
        for (int k = 0; k < started; k++)
            server_stop(&srv[k], SIGTERM, 2000);
    }
    pthread_mutex_lock(&d.mu);
    snprintf(d.dir, sizeof d.dir, "%s", dir);
    snprintf(d.error, sizeof d.error, "%s", error);
    if (started == 2) {
        d.srv[0] = srv[0];
        d.srv[1] = srv[1];
        d.up = true;
    }
    atomic_store(&d.t0, now_ms());
    d.first_seq = d.seq + 1;
    d.nmarkers = 0;
    d.dump[0][0] = d.dump[1][0] = '\0';
    d.burst.result[0] = d.patient.result[0] = d.incident.result[0] = '\0';
    d.switching = false;
    pthread_mutex_unlock(&d.mu);
}

static void stop_chapter(void)
{
    pthread_mutex_lock(&d.mu);
    bool up = d.up;
    struct child srv[2] = { d.srv[0], d.srv[1] };
    d.up = false;
    pthread_mutex_unlock(&d.mu);
    if (!up)
        return;
    for (int k = 0; k < 2; k++) {
        server_stop(&srv[k], SIGTERM, 2000);
        server_cleanup(&srv[k]);
    }
}

static void switch_chapter(void *arg)
{
    char *dir = arg;
    stop_chapter();
    start_chapter(dir);
    free(dir);
}

/* ---- sampling ---- */

static void fetch_dump(int port, char *out)
{
    static const char request[] = "GET /debug/threads HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    char reply[DUMP_SIZE];
    raw_exchange(port, request, sizeof request - 1, reply, sizeof reply);
    char *body = strstr(reply, "\r\n\r\n");
    snprintf(out, DUMP_SIZE, "%s", body ? body + 4 : "(no answer)");
}

static void sampler(void *arg)
{
    (void)arg;
    struct meter m = { { 0, 0 }, { -1, -1 }, 0 }; /* a new chapter's pids start it afresh */
    for (long n = 0; !atomic_load(&stopping); n++) {
        pthread_mutex_lock(&d.mu);
        bool up = d.up;
        pid_t pid[2] = { d.srv[0].pid, d.srv[1].pid };
        int port[2] = { d.srv[0].port, d.srv[1].port };
        pthread_mutex_unlock(&d.mu);
        if (up) {
            struct sample s;
            meter_read(&m, pid, &s.r);
            char dump[2][DUMP_SIZE];
            bool dumped = n % DUMP_EVERY == 0;
            for (int k = 0; dumped && k < 2; k++)
                fetch_dump(port[k], dump[k]);
            pthread_mutex_lock(&d.mu);
            if (d.up && d.srv[0].pid == pid[0]) {
                s.t = story_now();
                s.seq = ++d.seq;
                d.samples[s.seq % MAX_SAMPLES] = s;
                for (int k = 0; dumped && k < 2; k++)
                    memcpy(d.dump[k], dump[k], DUMP_SIZE);
            }
            pthread_mutex_unlock(&d.mu);
        }
        struct timespec period = { 0, SAMPLE_MS * 1000000L };
        nanosleep(&period, NULL); /* the sampling period, not a wait for anything */
    }
}

/* ---- the buttons ---- */

/* The same load at both servers at once; ends the action with what each got. */
static void load_both(struct action *a, const struct burst *shape, const char *end_label)
{
    pthread_mutex_lock(&d.mu);
    int port[2] = { d.srv[0].port, d.srv[1].port };
    pthread_mutex_unlock(&d.mu);
    struct burst_result got[2];
    stage_load_both(shape, port, got);
    if (end_label)
        mark(end_label, story_now());
    char text[2][sizeof a->result / 4], said[sizeof a->result / 2];
    for (int k = 0; k < 2; k++)
        stage_describe(text[k], sizeof text[k], stage_kinds[k], &got[k]);
    stage_meanings(said, sizeof said, got);
    pthread_mutex_lock(&d.mu);
    snprintf(a->result, sizeof a->result, "%s; %s%s", text[0], text[1], said);
    a->running = false;
    pthread_mutex_unlock(&d.mu);
}

static void fire_burst(void *arg)
{
    (void)arg;
    double t = story_now();
    mark("burst", t);
    mark("clients hang up", t + 1);
    struct burst b = { .host = "127.0.0.1", .path = "/test", .requests = BURST_REQUESTS,
                       .concurrency = BURST_REQUESTS, .hangup_ms = seconds(1),
                       .timeout_ms = 30000 };
    load_both(&d.burst, &b, NULL);
}

static void fire_incident(void *arg)
{
    (void)arg;
    mark("load starts", story_now());
    struct burst b = { .host = "127.0.0.1", .path = "/test",
                       .requests = INCIDENT_RATE * INCIDENT_SECONDS, .concurrency = 100000,
                       .rate = INCIDENT_RATE / d.scale, .hangup_ms = -1,
                       .timeout_ms = 60000 };
    load_both(&d.incident, &b, "load ends");
}

struct patient_side {
    int port;
    struct reply r;
};

static void *ask(void *arg)
{
    struct patient_side *p = arg;
    http_get(p->port, "/test", 30000, &p->r);
    return NULL;
}

static void fire_patient(void *arg)
{
    (void)arg;
    mark("patient request", story_now());
    struct patient_side p[2];
    pthread_mutex_lock(&d.mu);
    for (int k = 0; k < 2; k++)
        p[k] = (struct patient_side){ .port = d.srv[k].port };
    pthread_mutex_unlock(&d.mu);
    stage_both(ask, &p[0], &p[1]);
    char text[2][200];
    for (int k = 0; k < 2; k++) {
        char body[80];
        snprintf(body, sizeof body, "%.79s", p[k].r.body);
        body[strcspn(body, "\n")] = '\0';
        if (p[k].r.status)
            snprintf(text[k], sizeof text[k], "%s: %d \"%s\" at %.1f s",
                     stage_kinds[k], p[k].r.status, body, (double)p[k].r.ms / 1000.0 / d.scale);
        else
            snprintf(text[k], sizeof text[k], "%s: no answer", stage_kinds[k]);
    }
    pthread_mutex_lock(&d.mu);
    snprintf(d.patient.result, sizeof d.patient.result, "%s; %s", text[0], text[1]);
    d.patient.running = false;
    pthread_mutex_unlock(&d.mu);
}

/* ---- HTTP ---- */

static void reply_text(struct evhttp_request *req, int status, const char *type,
                       const char *text, size_t len)
{
    struct evbuffer *body = evbuffer_new();
    if (body)
        evbuffer_add(body, text, len);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", type);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
    evhttp_send_reply(req, status, status < 300 ? "OK" : "Error", body);
    if (body)
        evbuffer_free(body);
}

static void reply_error(struct evhttp_request *req, int status, const char *why)
{
    char text[256];
    int n = snprintf(text, sizeof text, "{\"error\":\"%s\"}\n", why);
    reply_text(req, status, "application/json", text, (size_t)n);
}

static void json_action(FILE *out, const char *name, const struct action *a)
{
    fprintf(out, "\"%s\":{\"running\":%s,\"result\":", name, a->running ? "true" : "false");
    json_write_string(out, a->result);
    fputc('}', out);
}

/* Answers 200 with the JSON write(out, arg) writes. */
static void reply_json(struct evhttp_request *req, void (*write)(FILE *out, long arg), long arg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out) {
        reply_error(req, 503, "out of memory");
        return;
    }
    write(out, arg);
    fclose(out);
    reply_text(req, 200, "application/json", text, len);
    free(text);
}

static void write_state(FILE *out, long since)
{
    pthread_mutex_lock(&d.mu);
    fprintf(out, "{\"chapter\":");
    json_write_string(out, d.dir);
    fprintf(out, ",\"scale\":%g,\"up\":%s,\"switching\":%s,\"error\":", d.scale,
            d.up ? "true" : "false", d.switching ? "true" : "false");
    json_write_string(out, d.error);
    fprintf(out, ",\"pids\":[%d,%d],\"seq\":%ld,\"samples\":[", d.up ? (int)d.srv[0].pid : 0,
            d.up ? (int)d.srv[1].pid : 0, d.seq);
    long first = since + 1;
    if (first < d.seq - MAX_SAMPLES + 1)
        first = d.seq - MAX_SAMPLES + 1;
    if (first < d.first_seq)
        first = d.first_seq; /* none of the last chapter's */
    for (long i = first; i <= d.seq; i++) {
        const struct sample *s = &d.samples[i % MAX_SAMPLES];
        fprintf(out, "%s[%.2f,%d,%d,%.0f,%.0f,%ld,%ld]", i == first ? "" : ",", s->t,
                s->r.threads[0], s->r.threads[1], s->r.cpu[0], s->r.cpu[1], s->r.rss_kb[0],
                s->r.rss_kb[1]);
    }
    fprintf(out, "],\"markers\":[");
    for (int i = 0; i < d.nmarkers; i++) {
        fprintf(out, "%s{\"t\":%.2f,\"label\":", i ? "," : "", d.markers[i].t);
        json_write_string(out, d.markers[i].label);
        fputc('}', out);
    }
    fprintf(out, "],\"dumps\":[");
    json_write_string(out, d.dump[0]);
    fputc(',', out);
    json_write_string(out, d.dump[1]);
    fprintf(out, "],");
    json_action(out, "burst", &d.burst);
    fputc(',', out);
    json_action(out, "patient", &d.patient);
    fputc(',', out);
    json_action(out, "incident", &d.incident);
    fprintf(out, "}\n");
    pthread_mutex_unlock(&d.mu);
}

static void write_room(FILE *out, long unused)
{
    (void)unused;
    room_write_state(out);
}

static bool room_on; /* --room given: set once, before the loop runs */

static void on_room(struct evhttp_request *req)
{
    if (!room_on) {
        reply_error(req, 404, "no room board: start the dashboard with --room ADDR");
        return;
    }
    reply_json(req, write_room, 0);
}

/* Starts fn for the action unless it runs already or the servers are down. */
static void on_action(struct evhttp_request *req, struct action *a, void (*fn)(void *))
{
    pthread_mutex_lock(&d.mu);
    const char *busy = !d.up || d.switching ? "the servers are not running"
                       : a->running ? "already running" : NULL;
    if (!busy) {
        a->running = true;
        a->result[0] = '\0';
    }
    pthread_mutex_unlock(&d.mu);
    if (busy) {
        reply_error(req, 409, busy);
        return;
    }
    if (go("button", fn, NULL) != 0) {
        pthread_mutex_lock(&d.mu);
        a->running = false;
        pthread_mutex_unlock(&d.mu);
        reply_error(req, 503, "cannot start a thread");
        return;
    }
    reply_text(req, 202, "application/json", "{}\n", 3);
}

static void on_chapter(struct evhttp_request *req, const char *nn_text)
{
    long nn;
    char dir[64];
    if (!nn_text || !flag_int(nn_text, 1, 6, &nn) || !stage_chapter_dir((int)nn, dir, sizeof dir)) {
        reply_error(req, 400, "nn takes a chapter number, 01 to 06");
        return;
    }
    pthread_mutex_lock(&d.mu);
    const char *busy = d.switching ? "already switching"
                       : d.burst.running || d.patient.running || d.incident.running
                           ? "a button's load is still running: wait for its result"
                           : NULL;
    if (!busy)
        d.switching = true;
    pthread_mutex_unlock(&d.mu);
    char *copy = busy ? NULL : strdup(dir);
    if (busy || !copy || go("switch", switch_chapter, copy) != 0) {
        free(copy);
        if (!busy) {
            pthread_mutex_lock(&d.mu);
            d.switching = false;
            pthread_mutex_unlock(&d.mu);
        }
        reply_error(req, busy ? 409 : 503, busy ? busy : "cannot start a thread");
        return;
    }
    reply_text(req, 202, "application/json", "{}\n", 3);
}

static const char *type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot && !strcmp(dot, ".html"))
        return "text/html; charset=utf-8";
    if (dot && !strcmp(dot, ".js"))
        return "text/javascript; charset=utf-8";
    if (dot && !strcmp(dot, ".css"))
        return "text/css; charset=utf-8";
    return "application/octet-stream";
}

/* Only the page's own files, by name: nothing else on disk is served. */
static void on_file(struct evhttp_request *req, const char *name)
{
    static const char *const files[] = { "index.html", "app.js", "style.css", "room.html", "room.js", "room.css" };
    bool known = false;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        known = known || !strcmp(name, files[i]);
    if (!known) {
        reply_error(req, 404, "not found");
        return;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", d.page, name);
    FILE *f = fopen(path, "rb");
    char *text = NULL;
    size_t len = 0;
    FILE *out = f ? open_memstream(&text, &len) : NULL;
    char buf[4096];
    size_t n;
    while (out && (n = fread(buf, 1, sizeof buf, f)) > 0)
        fwrite(buf, 1, n, out);
    if (f)
        fclose(f);
    if (!out) {
        reply_error(req, 404, "the page's files are not there (--page)");
        return;
    }
    fclose(out);
    reply_text(req, 200, type_of(name), text, len);
    free(text);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    (void)arg;
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = evhttp_uri_get_path(uri);
    const char *query = evhttp_uri_get_query(uri);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    struct evkeyvalq params = { 0 };
    if (query && evhttp_parse_query_str(query, &params) < 0) {
        reply_error(req, 400, "malformed query string");
        return;
    }
    bool post = cmd == EVHTTP_REQ_POST, get = cmd == EVHTTP_REQ_GET;
    if (!path || !strcmp(path, "/"))
        path = "/index.html";
    if (path[0] != '/') {
        /* "//index.html" is a host and an empty path to evhttp */
        reply_error(req, 400, "a path starts with /, and one only");
    } else if (!strncmp(path, "/api/", 5) && !post && !get) {
        reply_error(req, 405, "GET or POST");
    } else if (!strcmp(path, "/api/state")) {
        const char *since = evhttp_find_header(&params, "since");
        long n = 0;
        if (since && !flag_int(since, 0, 1L << 40, &n))
            reply_error(req, 400, "since takes a sample number");
        else
            reply_json(req, write_state, n);
    } else if (!strcmp(path, "/api/room")) {
        on_room(req);
    } else if (strcmp(path, "/api/burst") && strcmp(path, "/api/patient") &&
               strcmp(path, "/api/incident") && strcmp(path, "/api/chapter") &&
               !strncmp(path, "/api/", 5)) {
        reply_error(req, 404, "no such API: /api/state, /api/burst, /api/patient, /api/incident, /api/chapter");
    } else if (!strncmp(path, "/api/", 5) && !post) {
        reply_error(req, 405, "buttons are POST");
    } else if (!strcmp(path, "/api/burst")) {
        on_action(req, &d.burst, fire_burst);
    } else if (!strcmp(path, "/api/patient")) {
        on_action(req, &d.patient, fire_patient);
    } else if (!strcmp(path, "/api/incident")) {
        on_action(req, &d.incident, fire_incident);
    } else if (!strcmp(path, "/api/chapter")) {
        on_chapter(req, evhttp_find_header(&params, "nn"));
    } else if (!get) {
        reply_error(req, 405, "only GET is served here");
    } else {
        on_file(req, path + 1);
    }
    evhttp_clear_headers(&params);
}

/* As in common/conn.c: the buffer owns its socket, so that evhttp never
 * closes it while the buffer's events are still in epoll (the sampler's and
 * the load's sockets, on other threads, may take the number at once). */
static struct bufferevent *on_connection(struct event_base *base, void *arg)
{
    (void)arg;
    return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

/* The room's listener out of descriptors (a flood of connections): it rests
 * a second rather than retry accept() at once, for ever, and the loopback
 * page goes on answering. */
static struct event *room_backoff;

static void on_room_accept_error(struct evconnlistener *lev, void *arg)
{
    (void)arg;
    fprintf(stderr, "dashboard: room: cannot accept a connection (%s): resting 1 s\n",
            strerror(EVUTIL_SOCKET_ERROR()));
    evconnlistener_disable(lev);
    struct timeval second = { 1, 0 };
    if (room_backoff)
        evtimer_add(room_backoff, &second);
}

static void on_room_backoff_over(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    evconnlistener_enable(arg);
}

/* As many descriptors as the system allows this process: each learner's
 * post holds one while it lasts. */
static void raise_fd_limit(void)
{
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
        r.rlim_cur = r.rlim_max;
        setrlimit(RLIMIT_NOFILE, &r);
    }
}

static bool is_code(const char *value)
{
    size_t n = strlen(value);
    return n >= 4 && n <= 32 && strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") == n;
}

/* A join code a room can read aloud: no 0/O, 1/I/L. */
static void make_code(char *code, size_t size)
{
    static const char letters[] = "ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    unsigned char random[6] = { 0 };
    FILE *urandom = fopen("/dev/urandom", "rb");
    if (!urandom || fread(random, 1, sizeof random, urandom) != sizeof random)
        for (size_t i = 0; i < sizeof random; i++) /* no /dev/urandom: the clock's bits */
            random[i] = (unsigned char)(now_ns() >> (i * 5));
    if (urandom)
        fclose(urandom);
    size_t i = 0;
    for (; i < sizeof random && i + 1 < size; i++)
        code[i] = letters[random[i] % (sizeof letters - 1)];
    code[i] = '\0';
}

/* The address learners use: ADDR itself, or for 0.0.0.0 each of this
 * machine's IPv4 addresses but loopback. */
static void print_join(const char *addr, int port, const char *code)
{
    printf("room board: learners run ./lab check NN --room URL, with URL:\n");
    struct ifaddrs *all = NULL;
    int shown = 0;
    if (!strcmp(addr, "0.0.0.0") && getifaddrs(&all) == 0) {
        for (struct ifaddrs *i = all; i; i = i->ifa_next) {
            char text[INET_ADDRSTRLEN];
            if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
                continue;
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, text, sizeof text);
            if (strncmp(text, "127.", 4) != 0 && ++shown)
                printf("    http://%s:%d/%s\n", text, port, code);
        }
        freeifaddrs(all);
    }
    if (!shown)
        printf("    http://%s:%d/%s\n", addr, port, code);
}

static bool fits_page(const char *value)
{
    return strlen(value) < sizeof d.page;
}

int main(int argc, char **argv)
{
    /* ./lab runs it as "./lab" (exec -a): its messages then name what the
     * learner typed */
    size_t len = strlen(argv[0]);
    const char *me = len >= 3 && strcmp(argv[0] + len - 3, "lab") == 0 ? "./lab dashboard"
                                                                          : "build/dashboard";
    char usage[sizeof usage_text + 32];
    snprintf(usage, sizeof usage, usage_text, me);
    argv[0] = (char *)me;
    long nn = 5, port = 8090;
    double scale = 0.5;
    d.build = "build";
    snprintf(d.page, sizeof d.page, "%s", DASHBOARD_PAGE);
    const char *page = NULL, *room_addr = NULL, *room_code = NULL, *room_file = NULL;
    long room_port = 8091, room_max = 30;
    const struct flag flags[] = {
        { "--room", FLAG_TEXT, &room_addr, 0, 0, "an IPv4 address", NULL },
        { "--room-port", FLAG_INT, &room_port, 0, 65535, NULL, NULL },
        { "--room-code", FLAG_TEXT, &room_code, 0, 0, "4 to 32 letters and digits", is_code },
        { "--room-max", FLAG_INT, &room_max, 1, 500, NULL, NULL },
        { "--room-file", FLAG_TEXT, &room_file, 0, 0, "a file", NULL },
        { "--chapter", FLAG_INT, &nn, 1, 6, NULL, NULL },
        { "--build", FLAG_TEXT, &d.build, 0, 0, "a folder", NULL },
        { "--page", FLAG_TEXT, &page, 0, 0, "a folder", fits_page },
        { "--port", FLAG_INT, &port, 0, 65535, NULL, NULL },
        { "--time-scale", FLAG_POSITIVE, &scale, 0, 10, NULL, NULL },
    };
    if (argc > 1 && argv[1][0] != '-') { /* ./lab dashboard 06 */
        if (strlen(argv[1]) != 2 || !flag_int(argv[1], 1, 6, &nn))
            flag_usage_error(me, usage, "chapters are 01 to 06", argv[1]);
        argv[1] = argv[0];
        argv++, argc--;
    }
    flags_parse(argc, argv, flags, (int)(sizeof flags / sizeof flags[0]), usage);
    if (getenv("LAB_ARGS_ONLY")) /* ./lab asks before it builds the rest */
        return 0;
    if (page)
        snprintf(d.page, sizeof d.page, "%s", page);
    d.scale = scale;
    time_scale_set(scale);
    signal(SIGPIPE, SIG_IGN);
    evthread_use_pthreads();
    struct event_base *base = event_base_new();
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    struct evhttp_bound_socket *sock =
        http ? evhttp_bind_socket_with_handle(http, "127.0.0.1", (ev_uint16_t)port) : NULL;
    if (!sock) {
        fprintf(stderr, "dashboard: cannot listen on 127.0.0.1:%ld: %s\n", port, strerror(errno));
        return 1;
    }
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                         EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE);
    evhttp_set_gencb(http, on_request, NULL);
    evhttp_set_bevcb(http, on_connection, NULL);
    struct evhttp *room_http = NULL;
    struct evhttp_bound_socket *room_sock = NULL;
    char code[33], file[1024];
    if (room_addr) {
        if (room_code)
            snprintf(code, sizeof code, "%s", room_code);
        else
            make_code(code, 7);
        snprintf(file, sizeof file, "%s/room.txt", d.build);
        if (room_open(code, (int)room_max, room_file ? room_file : file) != 0)
            return 1;
        raise_fd_limit();
        room_http = evhttp_new(base);
        room_sock = room_http ? evhttp_bind_socket_with_handle(room_http, room_addr,
                                                               (ev_uint16_t)room_port)
                              : NULL;
        if (!room_sock) {
            fprintf(stderr, "dashboard: cannot take the room's posts on %s:%ld: %s\n", room_addr,
                    room_port, strerror(errno));
            return 1;
        }
        /* room_on_post answers 413 with its reason up to four times the
         * cap, evhttp alone past that; every method reaches room_on_post */
        evhttp_set_max_body_size(room_http, 4 * ROOM_MAX_BODY);
        evhttp_set_bevcb(room_http, on_connection, NULL);
        struct evconnlistener *lev = evhttp_bound_socket_get_listener(room_sock);
        room_backoff = evtimer_new(base, on_room_backoff_over, lev);
        evconnlistener_set_error_cb(lev, on_room_accept_error);
        evhttp_set_max_headers_size(room_http, 8192);
        evhttp_set_timeout(room_http, 10);
        evhttp_set_allowed_methods(room_http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
                                                  EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
                                                  EVHTTP_REQ_DELETE);
        evhttp_set_gencb(room_http, room_on_post, NULL);
        room_on = true;
    }
    if (spawner_start() != 0) {
        fprintf(stderr, "dashboard: cannot start the thread that starts the servers\n");
        return 1;
    }
    char dir[64];
    stage_chapter_dir((int)nn, dir, sizeof dir);
    d.switching = true;
    start_chapter(dir);
    if (!d.up) {
        fprintf(stderr, "dashboard: %s\n", d.error);
        return 1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(evhttp_bound_socket_get_fd(sock), (struct sockaddr *)&ss, &sl);
    int bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    printf("listening on http://127.0.0.1:%d\n", bound);
    printf("dashboard: %s, leaky on port %d, fixed on port %d, time scale %g\n", d.dir,
           d.srv[0].port, d.srv[1].port, d.scale);
    printf("Open the address above in a browser; Ctrl-C here stops it all.\n");
    if (room_on) {
        struct sockaddr_storage rs;
        socklen_t rl = sizeof rs;
        getsockname(evhttp_bound_socket_get_fd(room_sock), (struct sockaddr *)&rs, &rl);
        printf("room board: http://127.0.0.1:%d/room.html (this machine only), join code %s\n",
               bound, code);
        print_join(room_addr, ntohs(((struct sockaddr_in *)&rs)->sin_port), code);
    }
    fflush(stdout);
    if (go("sampler", sampler, NULL) != 0) {
        fprintf(stderr, "dashboard: cannot start the sampler\n");
        stop_chapter();
        return 1;
    }
    struct event *sigint = evsignal_new(base, SIGINT, on_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_signal, base);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    event_base_dispatch(base);
    atomic_store(&stopping, true);
    event_free(sigint);
    event_free(sigterm);
    evhttp_free(http);
    if (room_http)
        evhttp_free(room_http);
    if (room_backoff)
        event_free(room_backoff);
    event_base_free(base);
    stop_chapter(); /* a load in flight fails fast once its server is gone */
    go_wait_all(deadline_after(35000));
    return 0;
}
