/* Before and after: start one chapter's server as a process of its own, fire
 * a burst of requests whose clients hang up after 1 s of the seed's time, and
 * count the server's threads in /proc/PID/task.
 *
 * - leaky: right after the burst the server has at least 90% of
 *   (threads leaked per request x requests) more threads than before, and
 *   still has them 1 s of the seed's time later (a fixed server would long
 *   have let them go, so a fix cannot pass for a leak);
 * - fixed: within 1 s it is back to the count it started with, and if not,
 *   the failure shows the server's /debug/threads.
 *
 * The environment says which server: CHAPTER_SERVER (its path), CHAPTER_LEAK
 * (threads leaked per request, from the chapter's README) and, optionally,
 * CHAPTER_TIME_SCALE (default 0.5) and CHAPTER_REQUESTS (default 100).
 *
 * At scale 0.5 the seed's shortest leak, chapter 01's 10 s worker, outlives
 * the fixed test's 1 s by seconds, so a leak cannot pass for a fix either.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "burst.h"
#include "census.h"
#include "clock.h"
#include "unit.h"

struct server {
    pid_t pid;
    int port;
    char out[64]; /* its stdout: a file, so that it never blocks on a pipe */
    int status;   /* from waitpid, once it has exited */
};

static double env_number(const char *name, double fallback)
{
    const char *v = getenv(name);
    return v && *v ? atof(v) : fallback;
}

static int read_port(void *arg)
{
    struct server *s = arg;
    FILE *f = fopen(s->out, "r");
    char line[128] = "";
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = '\0';
        fclose(f);
    }
    const char *colon = strrchr(line, ':');
    if (strncmp(line, "listening on http://", 20) != 0 || !colon || !strchr(line, '\n'))
        return 0;
    s->port = atoi(colon + 1);
    return s->port > 0;
}

static void start_server(struct server *s, const char *path, double scale)
{
    snprintf(s->out, sizeof s->out, "/tmp/chapter-out-XXXXXX");
    int fd = mkstemp(s->out);
    ck_assert_int_ge(fd, 0);
    char scale_text[32];
    snprintf(scale_text, sizeof scale_text, "%g", scale);
    s->pid = fork();
    ck_assert_int_ge(s->pid, 0);
    if (s->pid == 0) {
        dup2(fd, STDOUT_FILENO);
        execl(path, path, "--port", "0", "--time-scale", scale_text, (char *)NULL);
        _exit(127);
    }
    close(fd);
    ck_assert_msg(unit_eventually(read_port, s, 10000), "%s never said it was listening",
                  path);
}

static int exited(void *arg)
{
    struct server *s = arg;
    return waitpid(s->pid, &s->status, WNOHANG) == s->pid;
}

/* SIGTERM, then the server must exit 0 within its shutdown bound (1 s, with
 * room for a slow machine). */
static void stop_server(struct server *s)
{
    kill(s->pid, SIGTERM);
    int ok = unit_eventually(exited, s, 5000);
    if (!ok) {
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
    }
    unlink(s->out);
    ck_assert_msg(ok, "the server did not exit within 5 s of SIGTERM");
    ck_assert_msg(WIFEXITED(s->status) && WEXITSTATUS(s->status) == 0,
                  "the server did not exit with 0 (wait status %d)", s->status);
}

/* GET /debug/threads with a plain blocking socket, for failure messages. */
static char *threads_dump(int port)
{
    static char text[16384];
    text[0] = '\0';
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    struct timeval tv = { 2, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const char req[] = "GET /debug/threads HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        write(fd, req, sizeof req - 1) == (ssize_t)(sizeof req - 1)) {
        size_t len = 0;
        ssize_t n;
        while (len < sizeof text - 1 && (n = read(fd, text + len, sizeof text - 1 - len)) > 0)
            len += (size_t)n;
        text[len] = '\0';
    }
    close(fd);
    char *body = strstr(text, "\r\n\r\n");
    return body ? body + 4 : text;
}

static struct burst_result fire(const struct server *s, int requests)
{
    struct burst b = {
        .host = "127.0.0.1",
        .port = s->port,
        .path = "/test",
        .requests = requests,
        .concurrency = requests,
        .hangup_ms = seconds(1),
        .timeout_ms = seconds(30) + 5000,
    };
    struct burst_result r;
    ck_assert_int_eq(burst_run(&b, &r), 0);
    ck_assert_msg(r.failed == 0, "%d of %d requests failed", r.failed, requests);
    return r;
}

struct at_least {
    pid_t pid;
    int want, seen;
};

static int reached(void *arg)
{
    struct at_least *a = arg;
    a->seen = census_threads_of(a->pid);
    return a->seen >= a->want;
}

START_TEST(leaky_keeps_its_threads)
{
    const char *path = getenv("CHAPTER_SERVER");
    ck_assert_msg(path != NULL, "CHAPTER_SERVER is not set");
    double scale = env_number("CHAPTER_TIME_SCALE", 0.5);
    int requests = (int)env_number("CHAPTER_REQUESTS", 100);
    double leak = env_number("CHAPTER_LEAK", 1);
    time_scale_set(scale);

    struct server s;
    start_server(&s, path, scale);
    int before = census_threads_of(s.pid);
    fire(&s, requests);
    struct at_least a = { s.pid, before + (int)ceil(0.9 * leak * requests), 0 };
    int ok = unit_eventually(reached, &a, 300);
    ck_assert_msg(ok, "%s: %d threads before the burst, %d after: expected at least %d\n%s",
                  path, before, a.seen, a.want, threads_dump(s.port));
    int64_t until = now_ms() + seconds(1);
    while (ok && now_ms() < until)
        ok = reached(&a);
    ck_assert_msg(ok, "%s: %d threads before the burst, down to %d within 1 s of the "
                  "story after it: expected at least %d to stay\n%s",
                  path, before, a.seen, a.want, threads_dump(s.port));
    stop_server(&s);
}
END_TEST

START_TEST(fixed_returns_to_its_baseline)
{
    const char *path = getenv("CHAPTER_SERVER");
    ck_assert_msg(path != NULL, "CHAPTER_SERVER is not set");
    double scale = env_number("CHAPTER_TIME_SCALE", 0.5);
    int requests = (int)env_number("CHAPTER_REQUESTS", 100);
    time_scale_set(scale);

    struct server s;
    start_server(&s, path, scale);
    int before = census_threads_of(s.pid);
    fire(&s, requests);
    int after = census_settle(s.pid, before, deadline_after(1000));
    ck_assert_msg(after == before, "%s: %d threads before the burst, still %d 1 s after it\n%s",
                  path, before, after, threads_dump(s.port));
    stop_server(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("chapter");
    UNIT_ADD_TIMEOUT(s, leaky_keeps_its_threads, 30);
    UNIT_ADD_TIMEOUT(s, fixed_returns_to_its_baseline, 30);
    return unit_run(s);
}
