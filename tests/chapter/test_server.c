/* The server every chapter runs on, driven from outside as a client would:
 * bad input gets a clear answer and serving goes on, hang-ups cancel work,
 * bad flags exit 2, SIGINT stops it cleanly. CHAPTER_SERVER names the server
 * (chapter 01's fixed one). */
#define _GNU_SOURCE /* prlimit */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "burst.h"
#include "census.h"
#include "clock.h"
#include "json.h"
#include "expect.h"
#include "unit.h"

static const char *server_path(void)
{
    const char *path = getenv("CHAPTER_SERVER");
    ck_assert_msg(path != NULL, "CHAPTER_SERVER is not set");
    return path;
}

static char reply[1 << 16];

static const char *exchange(const struct child *s, const char *request)
{
    raw_exchange(s->port, request, strlen(request), reply, sizeof reply);
    return reply;
}

/* The status code of an HTTP/1.x reply, or 0. */
static int status_of(const char *r)
{
    return strncmp(r, "HTTP/1.", 7) == 0 ? atoi(r + 9) : 0;
}

/* GET /test still answers 200 "ok" (the story is fast at this scale). */
static void assert_still_serving(const struct child *s)
{
    const char *r = exchange(s, "GET /test HTTP/1.0\r\nHost: x\r\n\r\n");
    ck_assert_msg(status_of(r) == 200, "after that, GET /test got: %s", r);
    ck_assert_msg(strstr(r, "\r\n\r\nok"), "after that, GET /test got: %s", r);
}

START_TEST(a_malformed_request_line_gets_400)
{
    struct child s;
    server_start(&s, server_path(), 0.001, NULL, NULL);
    const char *r = exchange(&s, "GARBAGE\r\n\r\n");
    ck_assert_msg(status_of(r) == 400, "got: %s", r);
    assert_still_serving(&s);
    server_stop_cleanly(&s);
}
END_TEST

/* Requests Go's net/http refuses before any handler runs, refused here too
 * with its status, and never echoed back in the status line. */
START_TEST(requests_go_refuses_are_refused_with_its_status)
{
    struct child s;
    server_start(&s, server_path(), 0.001, NULL, NULL);
    const struct {
        const char *request;
        int status;
    } cases[] = {
        { "GET /test HTTP/-1.0\r\n\r\n", 400 },
        { "GET /test HTTP/0.9\r\n\r\n", 505 },
        { "GET /test HTTP/2.0\r\nHost: x\r\n\r\n", 505 },
        { "GET /test HTTP/1.1000000000000\r\nHost: x\r\n\r\n", 400 },
        { "GET /test HTTP/1.10\r\nHost: x\r\n\r\n", 400 },
        { "GET /test HTTP/1.1 \r\nHost: x\r\n\r\n", 400 },
        { "GET /test http/1.1\r\nHost: x\r\n\r\n", 400 },
        { "GET /test HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
          400 },
        { "GET test HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
        { "GET /te st HTTP/1.1\r\nHost: x\r\n\r\n", 400 },
        { "GET /debug/threads%00 HTTP/1.1\r\nHost: x\r\n\r\n", 404 },
        { "GET /test%00 HTTP/1.1\r\nHost: x\r\n\r\n", 404 },
        /* and what Go serves, served */
        { "GET /t%65st HTTP/1.0\r\n\r\n", 200 },
        { "GET /test HTTP/1.5\r\nHost: x\r\nConnection: close\r\n\r\n", 200 },
        { "GET http://x/test HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 200 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *r = exchange(&s, cases[i].request);
        ck_assert_msg(status_of(r) == cases[i].status, "%s: got %s", cases[i].request, r);
        ck_assert_msg(strncmp(r, "HTTP/1.", 7) == 0 && (r[7] == '0' || r[7] == '1') && r[8] == ' ',
                      "%s: status line %s", cases[i].request, r);
    }
    assert_still_serving(&s);
    server_stop_cleanly(&s);
}
END_TEST

/* The version is judged from each request's own line, not its neighbour's,
 * however the lines arrive. */
START_TEST(each_pipelined_request_is_judged_by_its_own_line)
{
    struct child s;
    server_start(&s, server_path(), 0.001, NULL, NULL);
    const struct {
        const char *requests;
        const char *replies; /* the status codes, in order */
    } cases[] = {
        { "GET /test HTTP/1.1\r\nHost: x\r\n\r\nGET /test HTTP/2.0\r\nHost: x\r\n\r\n",
          "200 505" },
        { "GET /test HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET /test HTTP/1.0\r\nHost: x\r\n\r\n", "200 200" },
        { "GET /test HTTP/1.1\r\nHost: x\r\n\r\nGET /test HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET /test HTTP/1.1000000000000\r\nHost: x\r\n\r\n", "200 200 400" },
        /* a method evhttp would answer itself, and keep the connection */
        { "CONNECT x:443 HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET /test HTTP/1.1000000000000\r\nHost: x\r\n\r\n", "404 400" },
        { "CONNECT x:443 HTTP/1.10\r\nHost: x\r\n\r\n"
          "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "400 404" },
        { "OPTIONS /test HTTP/1.1\r\nHost: x\r\n\r\n"
          "GET /test HTTP/2.0\r\nHost: x\r\n\r\n", "405 505" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *r = exchange(&s, cases[i].requests);
        char seen[64] = "";
        for (const char *at = r; (at = strstr(at, "HTTP/1.")) && strlen(seen) < 50; at += 7)
            snprintf(seen + strlen(seen), sizeof seen - strlen(seen), "%s%d", seen[0] ? " " : "",
                     atoi(at + 9));
        ck_assert_msg(strcmp(seen, cases[i].replies) == 0, "%s: replies %s, want %s\n%s",
                      cases[i].requests, seen, cases[i].replies, r);
    }
    /* a line that arrives in pieces, the version last */
    int fd = raw_send(s.port, "GET /test HTTP/1.1\r\nHost: x\r\n\r\nGET /test HT");
    ck_assert_msg(fd >= 0, "cannot connect");
    char text[4096] = "";
    size_t got = 0;
    int64_t deadline = deadline_after(5000);
    while (!strstr(text, "\r\n\r\nok") && now_ms() < deadline) {
        struct pollfd p = { fd, POLLIN, 0 };
        ssize_t n = poll(&p, 1, 100) > 0 ? read(fd, text + got, sizeof text - 1 - got) : 0;
        got += n > 0 ? (size_t)n : 0;
        text[got] = '\0';
    }
    ck_assert_msg(strstr(text, "\r\n\r\nok"), "first reply: %s", text);
    const char *rest = "TP/2.0\r\nHost: x\r\n\r\n";
    ck_assert(write(fd, rest, strlen(rest)) == (ssize_t)strlen(rest));
    got = read_until(fd, text, sizeof text, 0, deadline_after(5000));
    close(fd);
    ck_assert_msg(got > 0 && status_of(text) == 505, "second reply: %.*s", (int)got, text);
    assert_still_serving(&s);
    server_stop_cleanly(&s);
}
END_TEST

/* A chunked body is framed as Go's chunked reader frames it: a size line Go
 * refuses gets 400 with Go's reason (evhttp alone said 413 Request Entity
 * Too Large: the body was malformed, not large), and the connection closes.
 * A good body, an extension, a size line in pieces and a body too large for
 * the server (413, rightly) are as before. */
static long cpu_over_a_second(pid_t pid);

START_TEST(chunk_sizes_are_judged_as_go_judges_them)
{
    struct child s;
    server_start(&s, server_path(), 0.001, NULL, NULL);
    const char head[] = "GET /test HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    const char *cases[][3] = {
        { "zz\r\nab\r\n0\r\n\r\n", "400", "invalid byte in chunk length" },
        { "-1\r\nab\r\n0\r\n\r\n", "400", "invalid byte in chunk length" },
        { "\r\nab\r\n0\r\n\r\n", "400", "empty hex number for chunk length" },
        { "10000000000000000\r\n", "400", "http chunk length too large" },
        { "2\r\nabXY\r\n0\r\n\r\n", "400", "malformed chunked encoding" },
        { "2\r\nab\r\n0\r\n\r\n", "200", "ok" },
        { "2;name=value\r\nab\r\n0\r\n\r\n", "200", "ok" },
        { "2 \r\nab\r\n0\r\n\r\n", "200", "ok" },
        { "1 ;x\r\na\r\n0\r\n\r\n", "400", "invalid byte in chunk length" },
        { "2\nab\r\n0\r\n\r\n", "400", "chunked line ends with bare LF" },
        { "2\r\nab\n0\r\n\r\n", "400", "malformed chunked encoding" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char request[512];
        snprintf(request, sizeof request, "%s%s", head, cases[i][0]);
        const char *r = exchange(&s, request);
        const char *body = strstr(r, "\r\n\r\n");
        ck_assert_msg(status_of(r) == atoi(cases[i][1]) && body && strstr(body, cases[i][2]),
                      "chunked body \"%.*s\": want %s \"%s\", got:\n%s",
                      (int)strcspn(cases[i][0], "\r"), cases[i][0], cases[i][1], cases[i][2], r);
    }
    /* a size line in pieces, behind a request that is answered first */
    int fd = raw_send(s.port, "GET /test HTTP/1.1\r\nHost: x\r\n\r\n"
                              "POST /test HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nz");
    ck_assert_msg(fd >= 0, "cannot connect");
    ck_assert(write(fd, "z\r\n", 3) == 3);
    char text[8192];
    size_t got = read_until(fd, text, sizeof text, 0, deadline_after(5000 * unit_slowdown()));
    close(fd);
    text[got] = '\0';
    const char *second = strstr(text + 1, "HTTP/1.1 ");
    ck_assert_msg(status_of(text) == 200 && second && status_of(second) == 400 &&
                      strstr(second, "invalid byte in chunk length"),
                  "a good request, then a bad chunk size in two writes: want 200 then 400, "
                  "got:\n%s", text);
    /* more bytes after the bad size, in a later write: refused all the same,
     * with no busy loop on the bytes that follow */
    fd = raw_send(s.port, "POST /test HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "zz\r\n");
    ck_assert_msg(fd >= 0, "cannot connect");
    for (int i = 0; i < 20; i++)
        if (send(fd, "more bytes after the bad size\r\n", 31, MSG_NOSIGNAL) != 31)
            break;
    got = read_until(fd, text, sizeof text, 0, deadline_after(5000 * unit_slowdown()));
    close(fd);
    text[got] = '\0';
    ck_assert_msg(status_of(text) == 400 && strstr(text, "invalid byte in chunk length"),
                  "a bad size, then more bytes: want 400, got:\n%s", text);
    long used = cpu_over_a_second(s.pid);
    ck_assert_msg(used <= 100, "after a bad size and more bytes, the server used %ld ms of CPU in 1 s",
                  used);
    /* headers that end in a bare LF (evhttp takes them) frame the body as
     * evhttp does: a Content-Length body, then a chunked request judged */
    fd = raw_send(s.port, "POST /test HTTP/1.1\nHost: x\nX-Pad: 00000000000000000000\n"
                          "Content-Length: 5\n\n12345"
                          "POST /test HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "zz\r\n");
    ck_assert_msg(fd >= 0, "cannot connect");
    got = read_until(fd, text, sizeof text, 0, deadline_after(5000 * unit_slowdown()));
    close(fd);
    text[got] = '\0';
    second = strstr(text + 1, "HTTP/1.1 ");
    ck_assert_msg(status_of(text) == 405 && second && status_of(second) == 400 &&
                      strstr(second, "invalid byte in chunk length"),
                  "a Content-Length body after bare-LF headers, then a bad size: want 405 then "
                  "400, got:\n%s", text);
    /* larger than the server takes: 413 is the truth */
    static char big[70000];
    int n = snprintf(big, sizeof big, "%s10001\r\n", head);
    memset(big + n, 'a', 0x10001);
    const char *r = exchange(&s, big);
    ck_assert_msg(status_of(r) == 413, "a 65 537-byte chunk: want 413, got:\n%.300s", r);
    assert_still_serving(&s);
    server_stop_cleanly(&s);
}
END_TEST

START_TEST(a_100_kb_header_gets_400)
{
    struct child s;
    server_start(&s, server_path(), 0.001, NULL, NULL);
    size_t big = 100 * 1024;
    char *request = malloc(big + 128);
    int n = sprintf(request, "GET /test HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(request + n, 'a', big);
    strcpy(request + n + big, "\r\n\r\n");
    const char *r = exchange(&s, request);
    free(request);
    ck_assert_msg(status_of(r) == 400, "got: %s", r);
    assert_still_serving(&s);
    server_stop_cleanly(&s);
}
END_TEST

START_TEST(a_client_that_hangs_up_mid_request_is_harmless)
{
    struct child s;
    server_start(&s, server_path(), 0.001, NULL, NULL);
    for (int i = 0; i < 20; i++) {
        int fd = raw_send(s.port, "GET /te");
        ck_assert_int_ge(fd, 0);
        close(fd);
    }
    assert_still_serving(&s);
    server_stop_cleanly(&s);
}
END_TEST

START_TEST(wrong_methods_and_paths_get_405_and_404)
{
    struct child s;
    server_start(&s, server_path(), 0.001, NULL, NULL);
    const char *r = exchange(&s, "POST /test HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
    ck_assert_msg(status_of(r) == 405, "got: %s", r);
    r = exchange(&s, "GET /nowhere HTTP/1.0\r\n\r\n");
    ck_assert_msg(status_of(r) == 404, "got: %s", r);
    r = exchange(&s, "GET /debug/threads HTTP/1.0\r\n\r\n");
    ck_assert_msg(strstr(r, "\r\n\r\nthreads: "), "got: %s", r);
    server_stop_cleanly(&s);
}
END_TEST

/* Methods are case-sensitive tokens, as in net/http: "get" is not GET but
 * is routed as any other method is (evhttp alone answered 501 to all it does
 * not know), and a method that is no token is refused with Go's words. */
START_TEST(methods_are_read_as_net_http_reads_them)
{
    struct child s;
    server_start(&s, server_path(), 0.001, NULL, NULL);
    const char *cases[][3] = {
        { "get /test HTTP/1.1\r\nHost: x\r\n\r\n", "405", "only GET is served here" },
        { "FOO /test HTTP/1.1\r\nHost: x\r\n\r\n", "405", "only GET is served here" },
        { "head /test HTTP/1.1\r\nHost: x\r\n\r\n", "405", "only GET is served here" },
        { "get /debug/trace HTTP/1.1\r\nHost: x\r\n\r\n", "405", "only GET is served here" },
        { "get /nowhere HTTP/1.1\r\nHost: x\r\n\r\n", "404", "not found" },
        { "G(T /test HTTP/1.1\r\nHost: x\r\n\r\n", "400", "invalid method" },
        { "GET /test HTTP/1.1\r\nHost: x\r\n\r\n", "200", "ok" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *r = exchange(&s, cases[i][0]);
        const char *body = strstr(r, "\r\n\r\n");
        ck_assert_msg(status_of(r) == atoi(cases[i][1]) && body && strstr(body, cases[i][2]),
                      "%.*s: want %s \"%s\", got:\n%s", (int)strcspn(cases[i][0], "\r"),
                      cases[i][0], cases[i][1], cases[i][2], r);
    }
    assert_still_serving(&s);
    server_stop_cleanly(&s);
}
END_TEST

START_TEST(a_thousand_concurrent_connections_are_all_answered)
{
    struct child s;
    server_start(&s, server_path(), 0.001, NULL, NULL);
    struct burst b = { .host = "127.0.0.1", .port = s.port, .path = "/test",
                       .requests = 1000, .concurrency = 1000, .hangup_ms = -1,
                       .timeout_ms = 30000 };
    struct burst_result r;
    ck_assert_int_eq(burst_run(&b, &r), 0);
    ck_assert_msg(r.status[200] == 1000, "200: %d, failed: %d", r.status[200], r.failed);
    assert_still_serving(&s);
    server_stop_cleanly(&s);
}
END_TEST

/* At scale 1 the worker would run 10 s: only the hang-up can end it sooner. */
START_TEST(a_hang_up_cancels_the_request_and_its_worker)
{
    struct child s;
    server_start(&s, server_path(), 1, NULL, NULL);
    int before = census_threads_of(s.pid);
    struct burst b = { .host = "127.0.0.1", .port = s.port, .path = "/test",
                       .requests = 10, .concurrency = 10, .hangup_ms = 200,
                       .timeout_ms = 30000 };
    struct burst_result r;
    ck_assert_int_eq(burst_run(&b, &r), 0);
    ck_assert_int_eq(r.hung_up, 10);
    int after = census_settle(s.pid, before, deadline_after(1000));
    ck_assert_msg(after == before, "%d threads, %d before\n%s", after, before,
                  threads_dump(s.port));
    server_stop_cleanly(&s);
}
END_TEST

/* One request to chapter 01's fixed server at scale 1 (10 s of work ahead, so
 * only the hang-up can end it), then the client leaves as how says. Returns
 * the ms from the hang-up until the request's two threads are gone. */
static int64_t time_a_hang_up(const struct child *s, int before, enum hangup how)
{
    int fd = raw_send(s->port, "GET /test HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert_int_ge(fd, 0);
    int64_t at;
    int n = threads_reach(s->pid, before + 2, deadline_after(5000), &at);
    ck_assert_msg(n == before + 2, "%d threads with the request in flight, %d before", n,
                  before);
    int64_t start = now_ms();
    hang_up(fd, how);
    n = threads_reach(s->pid, before, start + 2000 * unit_slowdown(), &at);
    if (how == HANGUP_HALF_CLOSE)
        close(fd);
    ck_assert_msg(n == before, "%s: %d threads 2 s after the client left, %d before\n%s",
                  hangup_name[how], n, before, threads_dump(s->port));
    return at - start;
}

static int by_value(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Ten hang-ups of one kind: the median within 10 ms, every one within 100 ms
 * (times the sanitizer slowdown). */
static void assert_hang_ups_cancel_at_once(enum hangup how)
{
    struct child s;
    server_start(&s, server_path(), 1, NULL, NULL);
    int before = census_threads_of(s.pid);
    int64_t ms[10];
    for (int i = 0; i < 10; i++)
        ms[i] = time_a_hang_up(&s, before, how);
    qsort(ms, 10, sizeof ms[0], by_value);
    int slow = unit_slowdown();
    ck_assert_msg(ms[5] <= 10 * slow && ms[9] <= 100 * slow,
                  "%s: threads gone %lld ms (median) and %lld ms (slowest) after the hang-up; "
                  "bounds %d and %d ms",
                  hangup_name[how], (long long)ms[5], (long long)ms[9], 10 * slow, 100 * slow);
    server_stop_cleanly(&s);
}

START_TEST(a_close_cancels_the_request_within_10_ms)
{
    assert_hang_ups_cancel_at_once(HANGUP_CLOSE);
}
END_TEST

START_TEST(a_reset_cancels_the_request_within_10_ms)
{
    assert_hang_ups_cancel_at_once(HANGUP_RESET);
}
END_TEST

START_TEST(a_half_close_cancels_the_request_within_10_ms)
{
    assert_hang_ups_cancel_at_once(HANGUP_HALF_CLOSE);
}
END_TEST

/* The hang-up watch belongs to the connection, not to its first request: a
 * kept-alive connection whose second request is in flight is still watched.
 * At scale 0.1 that request would end by itself 1 s on. */
START_TEST(a_hang_up_cancels_the_second_request_of_a_kept_alive_connection)
{
    struct child s;
    time_scale_set(0.1);
    server_start(&s, server_path(), 0.1, NULL, NULL);
    int before = census_threads_of(s.pid);
    int fd = raw_send(s.port, "GET /test HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert_int_ge(fd, 0);
    size_t got = 0;
    ssize_t n = 0;
    while (!strstr(reply, "\r\n\r\nok") && got < sizeof reply - 1 &&
           (n = read(fd, reply + got, sizeof reply - 1 - got)) > 0) {
        got += (size_t)n;
        reply[got] = '\0';
    }
    ck_assert_msg(status_of(reply) == 200 && strstr(reply, "\r\n\r\nok"), "first: %s", reply);
    const char second[] = "GET /test HTTP/1.1\r\nHost: x\r\n\r\n";
    ck_assert_int_eq(send(fd, second, sizeof second - 1, MSG_NOSIGNAL), sizeof second - 1);
    int64_t at;
    ck_assert_int_eq(threads_reach(s.pid, before + 2, deadline_after(5000), &at), before + 2);
    int64_t start = now_ms();
    hang_up(fd, HANGUP_CLOSE);
    int bound = 100 * unit_slowdown();
    int left = threads_reach(s.pid, before, start + bound, &at);
    ck_assert_msg(left == before, "%d threads %d ms after the client left, %d before\n%s", left,
                  bound, before, threads_dump(s.port));
    server_stop_cleanly(&s);
}
END_TEST

START_TEST(json_valid_accepts_json_and_nothing_else)
{
    const char *good[] = { "{}", "[]", "0", "-1.5e3", "\"a\\u00e9\\n\"", "{\"a\":[1,true,null]}",
                           " [ {\"x\" : false} ] " };
    const char *bad[] = { "", "{", "[1,]", "{\"a\" 1}", "01", "1.", "\"\t\"", "[1] x",
                          "{'a':1}", "\"\\x\"", "nul", "{\"a\":1,}" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        ck_assert_msg(json_valid(good[i], NULL), "refused: %s", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(!json_valid(bad[i], NULL), "accepted: %s", bad[i]);
}
END_TEST

/* The group line of a dump for name in state: its count and its site. */
static int dump_group(const char *dump, const char *name, const char *state, char *site,
                      size_t size)
{
    char head[64];
    snprintf(head, sizeof head, " %-15s %-9s at ", name, state);
    const char *at = strstr(dump, head);
    if (!at)
        return 0;
    const char *line = at;
    while (line > dump && line[-1] != '\n')
        line--;
    const char *from = at + strlen(head);
    size_t n = strcspn(from, ",\n");
    snprintf(site, size, "%.*s", (int)(n < size ? n : size - 1), from);
    return atoi(line);
}

/* How many lines of text hold every one of the strings a and b. */
static int lines_with(const char *text, const char *a, const char *b)
{
    int n = 0;
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        size_t len = strcspn(l, "\n");
        char line[512];
        snprintf(line, sizeof line, "%.*s", (int)(len < sizeof line ? len : sizeof line - 1), l);
        n += strstr(line, a) && strstr(line, b);
    }
    return n;
}

/* The article's third tool: a trace taken during a burst is JSON, and it
 * shows the threads the census saw, blocked where the dump says. At scale
 * 0.5 the work (5 s) outlasts the test's part before the hang-up; the trace
 * (3 s, times the sanitizer slowdown) outlasts the hang-up and the exits. */
START_TEST(a_trace_during_a_burst_is_json_and_shows_the_threads_the_census_saw)
{
    struct child s;
    time_scale_set(0.5);
    server_start(&s, server_path(), 0.5, NULL, NULL);
    int before = census_threads_of(s.pid);
    char ask[128];
    snprintf(ask, sizeof ask, "GET /debug/trace?seconds=%d HTTP/1.0\r\nHost: x\r\n\r\n",
             3 * unit_slowdown());
    int trace = raw_send(s.port, ask);
    ck_assert_int_ge(trace, 0);
    int fds[10];
    for (int i = 0; i < 10; i++) {
        fds[i] = raw_send(s.port, "GET /test HTTP/1.1\r\nHost: x\r\n\r\n");
        ck_assert_int_ge(fds[i], 0);
    }
    int64_t at;
    ck_assert_int_eq(threads_reach(s.pid, before + 20, deadline_after(5000), &at), before + 20);
    /* The kernel counts a thread before it reaches its select: poll the dump. */
    char dump[8192];
    char worker_site[128], handler_site[128];
    int workers = 0, handlers = 0;
    int64_t deadline = deadline_after(2000 * unit_slowdown());
    do {
        snprintf(dump, sizeof dump, "%.8000s", exchange(&s, "GET /debug/threads HTTP/1.0\r\n\r\n"));
        workers = dump_group(dump, "slowWorker", "select", worker_site, sizeof worker_site);
        handlers = dump_group(dump, "handler", "select", handler_site, sizeof handler_site);
    } while ((workers != 10 || handlers != 10) && now_ms() < deadline);
    ck_assert_msg(workers == 10 && handlers == 10, "dump: %s", dump);
    for (int i = 0; i < 10; i++)
        hang_up(fds[i], HANGUP_CLOSE);
    ck_assert_int_eq(census_settle(s.pid, before, deadline_after(2000)), before);

    static char text[1 << 20];
    size_t got = read_until(trace, text, sizeof text, 0, deadline_after(5000 * unit_slowdown()));
    close(trace);
    char *body = strstr(text, "\r\n\r\n");
    ck_assert_msg(status_of(text) == 200 && body, "got %zu bytes: %.300s", got, text);
    body += 4;
    long where = 0;
    ck_assert_msg(json_valid(body, &where), "not JSON at byte %ld: %.200s", where, body + where);
    char want[160];
    snprintf(want, sizeof want, "\"at\":\"%s\"", worker_site);
    ck_assert_msg(lines_with(body, "\"ph\":\"B\",\"name\":\"select\"", want) == 10,
                  "%d workers' blocks at %s in the trace; the dump saw 10",
                  lines_with(body, "\"ph\":\"B\",\"name\":\"select\"", want), worker_site);
    snprintf(want, sizeof want, "\"at\":\"%s\"", handler_site);
    ck_assert_int_eq(lines_with(body, "\"ph\":\"B\",\"name\":\"select\"", want), 10);
    ck_assert_int_eq(lines_with(body, "\"name\":\"start\"", "\"thread\":\"slowWorker\""), 10);
    ck_assert_int_eq(lines_with(body, "\"name\":\"start\"", "\"created by\":\"handler at "), 10);
    ck_assert_int_eq(lines_with(body, "\"name\":\"exit\"", "\"tid\":"), 20);
    ck_assert_int_eq(lines_with(body, "\"ph\":\"E\"", "\"tid\":"),
                     lines_with(body, "\"ph\":\"B\"", "\"tid\":"));
    server_stop_cleanly(&s);
}
END_TEST

/* Two recordings asked for at once: one is made, the other gets 409. */
START_TEST(one_trace_at_a_time_and_bad_seconds_get_400)
{
    struct child s;
    server_start(&s, server_path(), 1, NULL, NULL);
    ck_assert_int_eq(status_of(exchange(&s, "GET /debug/trace?seconds=0 HTTP/1.0\r\n\r\n")), 400);
    ck_assert_int_eq(status_of(exchange(&s, "GET /debug/trace?seconds=61 HTTP/1.0\r\n\r\n")), 400);
    ck_assert_int_eq(status_of(exchange(&s, "GET /debug/trace?seconds=x HTTP/1.0\r\n\r\n")), 400);
    const char ask[] = "GET /debug/trace?seconds=1 HTTP/1.0\r\nHost: x\r\n\r\n";
    int a = raw_send(s.port, ask), b = raw_send(s.port, ask);
    ck_assert(a >= 0 && b >= 0);
    static char ra[1 << 16], rb[1 << 16];
    read_until(a, ra, sizeof ra, 0, deadline_after(5000));
    read_until(b, rb, sizeof rb, 0, deadline_after(5000));
    close(a);
    close(b);
    int sa = status_of(ra), sb = status_of(rb);
    ck_assert_msg((sa == 200 && sb == 409) || (sa == 409 && sb == 200), "%d and %d", sa, sb);
    ck_assert(strstr(sa == 409 ? ra : rb, "a trace is being recorded already"));
    ck_assert_int_eq(status_of(exchange(&s, "GET /debug/trace?seconds=0.01 HTTP/1.0\r\n\r\n")), 200);
    /* A client that leaves during its recording ends it: the next one is
     * recorded at once, not 60 s later. */
    int gone = raw_send(s.port, "GET /debug/trace?seconds=60 HTTP/1.0\r\nHost: x\r\n\r\n");
    ck_assert_int_ge(gone, 0);
    int status = 0;
    int64_t deadline = deadline_after(1000 * unit_slowdown());
    while (status != 409 && now_ms() < deadline) /* until that recording runs */
        status = status_of(exchange(&s, "GET /debug/trace?seconds=0.01 HTTP/1.0\r\n\r\n"));
    ck_assert_int_eq(status, 409);
    hang_up(gone, HANGUP_CLOSE);
    deadline = deadline_after(1000 * unit_slowdown());
    while (status != 200 && now_ms() < deadline)
        status = status_of(exchange(&s, "GET /debug/trace?seconds=0.01 HTTP/1.0\r\n\r\n"));
    ck_assert_msg(status == 200, "a trace asked for after the first one's client left: %d", status);
    server_stop_cleanly(&s);
}
END_TEST

/* CPU the server uses over the next second, in ms. */
static long cpu_over_a_second(pid_t pid)
{
    long start = proc_cpu_ms(pid);
    struct timespec second = { 1, 0 };
    nanosleep(&second, NULL); /* a measuring window, not a wait for anything */
    return proc_cpu_ms(pid) - start;
}

/* A reset leaves the socket in error: read it, or epoll reports it again and
 * again and the loop spins. */
START_TEST(a_reset_connection_costs_no_cpu)
{
    struct child s;
    server_start(&s, server_path(), 1, NULL, NULL);
    int before = census_threads_of(s.pid);
    for (int i = 0; i < 5; i++) {
        int fd = raw_send(s.port, "GET /test HTTP/1.1\r\nHost: x\r\n\r\n");
        ck_assert_int_ge(fd, 0);
        int64_t at;
        ck_assert_int_eq(threads_reach(s.pid, before + 2, deadline_after(5000), &at),
                         before + 2);
        hang_up(fd, HANGUP_RESET);
    }
    long used = cpu_over_a_second(s.pid);
    ck_assert_msg(used <= 100, "after 5 resets the server used %ld ms of CPU in 1 s", used);
    server_stop_cleanly(&s);
}
END_TEST

/* The bytes of a second, pipelined request, sent while the first runs, wait
 * in the socket: that is no hang-up, and watching for one must not spin on
 * them. */
START_TEST(pipelined_requests_are_answered_without_spinning)
{
    struct child s;
    time_scale_set(0.1);
    server_start(&s, server_path(), 0.1, NULL, NULL);
    int before = census_threads_of(s.pid);
    long start = proc_cpu_ms(s.pid);
    int64_t began = now_ms(), at;
    int fd = raw_send(s.port, "GET /test HTTP/1.1\r\nHost: x\r\n\r\n");
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(threads_reach(s.pid, before + 2, deadline_after(5000), &at), before + 2);
    const char second[] = "GET /test HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    ck_assert_int_eq(send(fd, second, sizeof second - 1, MSG_NOSIGNAL), sizeof second - 1);
    size_t got = 0;
    ssize_t n;
    while (got < sizeof reply - 1 && (n = read(fd, reply + got, sizeof reply - 1 - got)) > 0)
        got += (size_t)n;
    reply[got] = '\0';
    close(fd);
    long used = proc_cpu_ms(s.pid) - start;
    int64_t took = now_ms() - began;
    const char *next = strstr(reply + 1, "HTTP/1.1 200");
    ck_assert_msg(status_of(reply) == 200 && next && strstr(next, "\r\n\r\nok"), "got: %s",
                  reply);
    ck_assert_msg(took >= 2 * seconds(10) - 20, "both answered after %lld ms", (long long)took);
    ck_assert_msg(used * 10 <= took, "%ld ms of CPU in %lld ms", used, (long long)took);
    server_stop_cleanly(&s);
}
END_TEST

/* A client that pipelines three requests and half-closes at once gets three
 * replies, as from Go, each to a request whose context the hang-up has
 * cancelled; then the connection closes. A request cut off by the
 * half-close is not waited for. */
static int replies_in(const char *text)
{
    int n = 0;
    for (const char *at = text; (at = strstr(at, "HTTP/1.1 ")); at += 9)
        n++;
    return n;
}

START_TEST(pipelined_requests_then_a_half_close_are_all_answered)
{
    struct child s;
    server_start(&s, server_path(), 0.001, NULL, NULL);
    const char *cases[] = { /* a handler's reply, and the loop's own */
        "GET /test HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char three[256], text[8192];
        snprintf(three, sizeof three, "%s%s%s", cases[i], cases[i], cases[i]);
        int fd = raw_send(s.port, three);
        ck_assert_msg(fd >= 0, "cannot connect");
        shutdown(fd, SHUT_WR);
        size_t got = read_until(fd, text, sizeof text, 0, deadline_after(5000 * unit_slowdown()));
        close(fd);
        text[got] = '\0';
        ck_assert_msg(replies_in(text) == 3,
                      "three pipelined requests then a half-close: %d replies, want 3:\n%s",
                      replies_in(text), text);
    }
    char text[8192];
    int fd = raw_send(s.port, "GET /test HTTP/1.1\r\nHost: x\r\n\r\nGET /test HTTP/1.1\r\nHo");
    ck_assert_msg(fd >= 0, "cannot connect");
    shutdown(fd, SHUT_WR);
    size_t got = read_until(fd, text, sizeof text, 0, deadline_after(5000 * unit_slowdown()));
    struct pollfd p = { fd, POLLIN, 0 };
    bool closed = poll(&p, 1, 0) == 1 && read(fd, text + got, 1) == 0;
    close(fd);
    text[got] = '\0';
    ck_assert_msg(replies_in(text) == 1 && closed,
                  "a request then part of one, then a half-close: %d replies (want 1), "
                  "connection %s:\n%s", replies_in(text), closed ? "closed" : "still open", text);
    assert_still_serving(&s);
    server_stop_cleanly(&s);
}
END_TEST

/* With its descriptor table full of idle connections, the server's accept
 * fails while the listening socket stays readable. It must back off (no
 * busy loop, few log lines) and serve again once descriptors are free. */
START_TEST(accept_backs_off_when_descriptors_run_out)
{
    struct child s;
    server_start(&s, server_path(), 0.001, NULL, NULL);
    struct rlimit small = { 64, 64 };
    ck_assert_int_eq(prlimit(s.pid, RLIMIT_NOFILE, &small, NULL), 0);
    int idle[100];
    for (int i = 0; i < 100; i++)
        ck_assert_int_ge(idle[i] = raw_send(s.port, ""), 0);
    size_t said_before = strlen(server_stderr(&s));
    long used = cpu_over_a_second(s.pid);
    size_t said = strlen(server_stderr(&s)) - said_before;
    for (int i = 0; i < 100; i++)
        close(idle[i]);
    ck_assert_msg(used <= 100, "out of descriptors, the server used %ld ms of CPU in 1 s", used);
    ck_assert_msg(strstr(server_stderr(&s), "accept: "), "no word of it on stderr");
    ck_assert_msg(said < 2000, "%zu bytes on stderr in 1 s", said);
    /* Serving again: within the longest back-off (1 s) after descriptors free. */
    const char *r = "";
    int64_t deadline = deadline_after(3000);
    while (now_ms() < deadline && status_of(r = exchange(&s, "GET /test HTTP/1.0\r\n\r\n")) != 200)
        ;
    ck_assert_msg(status_of(r) == 200, "after the descriptors came free, GET /test got: %s", r);
    server_stop_cleanly(&s);
}
END_TEST

START_TEST(max_inflight_answers_503_past_the_limit)
{
    struct child s;
    server_start(&s, server_path(), 1, "--max-inflight", "5");
    /* At scale 1 each request holds its place for 10 s, until its client
     * hangs up: the first 5 fill the server, the other 5 are turned away. */
    struct burst b = { .host = "127.0.0.1", .port = s.port, .path = "/test",
                       .requests = 10, .concurrency = 10, .hangup_ms = 500,
                       .timeout_ms = 30000 };
    struct burst_result r;
    ck_assert_int_eq(burst_run(&b, &r), 0);
    ck_assert_int_eq(r.status[503], 5);
    ck_assert_int_eq(r.hung_up, 5);
    server_stop_cleanly(&s);
}
END_TEST

/* Runs the server with args; returns its exit code, with its stderr. */
static int run_with(const char *a, const char *b, char *err, size_t size)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        execl(server_path(), server_path(), a, b, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t n;
    while (got < size - 1 && (n = read(fds[0], err + got, size - 1 - got)) > 0)
        got += (size_t)n;
    err[got] = '\0';
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

START_TEST(bad_flags_print_usage_and_exit_2)
{
    /* the flag, its value, and the words that must open stderr's first line
     * after the program's name: what was wrong, quoting what was received */
    const char *bad[][3] = {
        { "--port", "abc", "--port takes 0 to 65535: 'abc'" },
        { "--port", "70000", "--port takes 0 to 65535: '70000'" },
        { "--port", "", "--port takes 0 to 65535: ''" },
        { "--time-scale", "-1", "--time-scale takes a number above 0, at most 1000000: '-1'" },
        { "--time-scale", "0", "--time-scale takes a number above 0, at most 1000000: '0'" },
        { "--time-scale", "fast", "--time-scale takes a number above 0, at most 1000000: 'fast'" },
        { "--bogus", NULL, "unknown flag: '--bogus'" },
        { "--port", NULL, "--port takes 0 to 65535\n" },
        { "--max-inflight", "0", "--max-inflight takes 1 to 1000000: '0'" },
        { "--stack-size", "8", "--stack-size takes 16 to 1048576: '8'" },
        { "--stack-size", "1g", "--stack-size takes 16 to 1048576: '1g'" },
        { "--stack-size", "2000000", "--stack-size takes 16 to 1048576: '2000000'" },
    };
    char err[4096];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int code = run_with(bad[i][0], bad[i][1], err, sizeof err);
        ck_assert_msg(code == 2, "%s %s: exit %d", bad[i][0], bad[i][1] ? bad[i][1] : "", code);
        const char *said = strstr(err, ": ");
        ck_assert_msg(said && strncmp(said + 2, bad[i][2], strlen(bad[i][2])) == 0,
                      "%s %s: want \"%s\" first, got: %.200s", bad[i][0],
                      bad[i][1] ? bad[i][1] : "", bad[i][2], err);
        ck_assert_msg(strstr(err, "usage:"), "%s: no usage on stderr: %s", bad[i][0], err);
    }
}
END_TEST

/* 1 s, stretched like Check's timeouts under a sanitizer, which slows every
 * thread start and exit by an order of magnitude. */
static int one_second(void)
{
    const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
    return 1000 * (m && atoi(m) > 0 ? atoi(m) : 1);
}

START_TEST(sigint_with_100_requests_in_flight_exits_0_within_1_s)
{
    struct child s;
    server_start(&s, server_path(), 1, NULL, NULL);
    int before = census_threads_of(s.pid);
    /* 100 clients that stay: each leaves a handler and a worker running. */
    int fds[100];
    for (int i = 0; i < 100; i++)
        fds[i] = raw_send(s.port, "GET /test HTTP/1.0\r\n\r\n");
    ck_assert_int_eq(census_settle(s.pid, before + 200, deadline_after(5000)), before + 200);
    int64_t start = now_ms();
    int exited = server_stop(&s, SIGINT, one_second());
    int64_t took = now_ms() - start;
    const char *said = server_stderr(&s);
    for (int i = 0; i < 100; i++)
        close(fds[i]);
    ck_assert_msg(exited, "still running %d ms after SIGINT: %s", one_second(), said);
    ck_assert_msg(WIFEXITED(s.status) && WEXITSTATUS(s.status) == 0, "status %d", s.status);
    ck_assert_msg(strstr(said, "no thread left behind"), "it said: %s", said);
    ck_assert_int_lt(took, one_second());
    server_cleanup(&s);
}
END_TEST

/* Query strings as net/url reads them: a malformed pair is skipped, not a
 * reason to refuse the request (Go serves "?fail", "?&&&&" and
 * "?=&&=&fail=1" as if they were not there); a NUL byte is refused. */
START_TEST(malformed_query_pairs_are_ignored_as_go_does)
{
    struct child s;
    server_start(&s, server_path(), 0.001, NULL, NULL);
    const char *queries[] = { "?fail", "?&&&&", "?=&&=&x=1", "?a=%zz&b=1", "?a;b=1" };
    for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
        char request[128];
        snprintf(request, sizeof request, "GET /test%s HTTP/1.0\r\n\r\n", queries[i]);
        const char *r = exchange(&s, request);
        ck_assert_msg(status_of(r) == 200, "GET /test%s: %s", queries[i], r);
    }
    const char *r = exchange(&s, "GET /debug/trace?seconds=1%00 HTTP/1.0\r\n\r\n");
    ck_assert_msg(status_of(r) == 400 && strstr(r, "NUL"), "seconds=1%%00: %s", r);
    server_stop_cleanly(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("server");
    UNIT_ADD_TIMEOUT(s, a_malformed_request_line_gets_400, 20);
    UNIT_ADD_TIMEOUT(s, each_pipelined_request_is_judged_by_its_own_line, 20);
    UNIT_ADD_TIMEOUT(s, requests_go_refuses_are_refused_with_its_status, 20);
    UNIT_ADD_TIMEOUT(s, a_100_kb_header_gets_400, 20);
    UNIT_ADD_TIMEOUT(s, a_client_that_hangs_up_mid_request_is_harmless, 20);
    UNIT_ADD_TIMEOUT(s, wrong_methods_and_paths_get_405_and_404, 20);
    UNIT_ADD_TIMEOUT(s, methods_are_read_as_net_http_reads_them, 20);
    UNIT_ADD_TIMEOUT(s, chunk_sizes_are_judged_as_go_judges_them, 20);
    UNIT_ADD_TIMEOUT(s, a_thousand_concurrent_connections_are_all_answered, 30);
    UNIT_ADD_TIMEOUT(s, a_hang_up_cancels_the_request_and_its_worker, 20);
    UNIT_ADD_TIMEOUT(s, a_close_cancels_the_request_within_10_ms, 30);
    UNIT_ADD_TIMEOUT(s, a_reset_cancels_the_request_within_10_ms, 30);
    UNIT_ADD_TIMEOUT(s, a_half_close_cancels_the_request_within_10_ms, 30);
    UNIT_ADD_TIMEOUT(s, a_hang_up_cancels_the_second_request_of_a_kept_alive_connection, 30);
    UNIT_ADD_TIMEOUT(s, a_reset_connection_costs_no_cpu, 30);
    UNIT_ADD(s, json_valid_accepts_json_and_nothing_else);
    UNIT_ADD_TIMEOUT(s, a_trace_during_a_burst_is_json_and_shows_the_threads_the_census_saw, 60);
    UNIT_ADD_TIMEOUT(s, one_trace_at_a_time_and_bad_seconds_get_400, 30);
    UNIT_ADD_TIMEOUT(s, malformed_query_pairs_are_ignored_as_go_does, 20);
    UNIT_ADD_TIMEOUT(s, pipelined_requests_are_answered_without_spinning, 30);
    UNIT_ADD_TIMEOUT(s, pipelined_requests_then_a_half_close_are_all_answered, 30);
    UNIT_ADD_TIMEOUT(s, accept_backs_off_when_descriptors_run_out, 30);
    UNIT_ADD_TIMEOUT(s, max_inflight_answers_503_past_the_limit, 20);
    UNIT_ADD_TIMEOUT(s, bad_flags_print_usage_and_exit_2, 20);
    UNIT_ADD_TIMEOUT(s, sigint_with_100_requests_in_flight_exits_0_within_1_s, 20);
    return unit_run(s);
}
