/* The dashboard's API, as its page uses it, without a browser (the browser
 * test, ./lab test --browser, presses the page's own buttons): the burst
 * raises leaky by its 300 threads and fixed comes back, the numbers it
 * serves are the kernel's, and bad input gets 400, 404, 405 or 409. */
#include <check.h>
#include <dirent.h>
#include <time.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "census.h"
#include "clock.h"
#include "expect.h"
#include "unit.h"

static char reply[1 << 17];

static int status_of(const char *r)
{
    return strncmp(r, "HTTP/1.", 7) == 0 ? atoi(r + 9) : 0;
}

static int call(const struct child *s, const char *method, const char *path)
{
    char request[512];
    snprintf(request, sizeof request, "%s %s HTTP/1.0\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
             method, path);
    raw_exchange(s->port, request, strlen(request), reply, sizeof reply);
    return status_of(reply);
}

static void start(struct child *s)
{
    server_start(s, getenv("DASHBOARD"), 0.2, "--build", getenv("BUILD_DIR"));
}

/* The state's pids, and the last sample's thread counts (-1 if none yet). */
static void state(const struct child *s, int pid[2], int threads[2])
{
    ck_assert_int_eq(call(s, "GET", "/api/state"), 200);
    const char *p = strstr(reply, "\"pids\":[");
    ck_assert_msg(p && sscanf(p, "\"pids\":[%d,%d]", &pid[0], &pid[1]) == 2, "%s", reply);
    const char *samples = strstr(reply, "\"samples\":[");
    const char *last = samples ? strstr(samples, "]]") : NULL;
    threads[0] = threads[1] = -1;
    if (last) {
        while (last > samples && *last != '[')
            last--;
        double t;
        sscanf(last, "[%lf,%d,%d", &t, &threads[0], &threads[1]);
    }
}

START_TEST(the_burst_button_raises_leaky_and_fixed_comes_back)
{
    struct child s;
    start(&s);
    int pid[2], threads[2];
    int64_t deadline = deadline_after(10000 * unit_slowdown());
    do
        state(&s, pid, threads);
    while (threads[0] < 0 && now_ms() < deadline);
    /* At rest: the loop thread, and a sanitizer's own if there is one. */
    ck_assert_msg(threads[0] >= 1 && threads[0] <= 2 && threads[1] >= 1 && threads[1] <= 2,
                  "before: %d and %d", threads[0], threads[1]);
    int leaky0 = threads[0], fixed0 = census_threads_of(pid[1]);
    ck_assert_int_eq(call(&s, "POST", "/api/burst"), 202);
    ck_assert_int_eq(call(&s, "POST", "/api/burst"), 409); /* one burst at a time */
    deadline = deadline_after(30000 * unit_slowdown());
    do
        state(&s, pid, threads);
    while ((threads[0] < leaky0 + 270 || !strstr(reply, "\"burst\":{\"running\":false,\"result\":\"leaky")) &&
           now_ms() < deadline);
    ck_assert_msg(threads[0] >= leaky0 + 270, "leaky shows %d threads after the burst, %d before\n%s",
                  threads[0], leaky0, reply);
    ck_assert_msg(strstr(reply, "\"result\":\"leaky: 100 hung up; fixed: 100 hung up\""), "%s", reply);
    /* What it shows is the kernel's count (both can move between the reads). */
    int kernel = census_threads_of(pid[0]);
    ck_assert_msg(kernel >= leaky0 + 270, "the kernel counts %d in leaky", kernel);
    ck_assert_int_eq(census_settle(pid[1], fixed0, deadline_after(5000)), fixed0);
    deadline = deadline_after(5000);
    do
        state(&s, pid, threads);
    while (threads[1] != fixed0 && now_ms() < deadline);
    ck_assert_msg(threads[1] == fixed0, "fixed shows %d, the kernel %d", threads[1], fixed0);
    server_stop_cleanly(&s);
}
END_TEST

/* The signals a process blocks, from /proc/PID/status ("SigBlk: ..."). */
static unsigned long long blocked_signals(int pid)
{
    char path[64], line[256];
    unsigned long long mask = ~0ULL;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "SigBlk: %llx", &mask) == 1)
            break;
    if (f)
        fclose(f);
    return mask;
}

/* How many processes run a chapter's server of dir with the time scale
 * given to the dashboard (0.37, which no other test uses). */
static int servers_of(const char *dir)
{
    int n = 0;
    DIR *proc = opendir("/proc");
    struct dirent *e;
    while (proc && (e = readdir(proc))) {
        char path[300], cmd[4096];
        snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
        FILE *f = fopen(path, "r");
        size_t len = f ? fread(cmd, 1, sizeof cmd - 1, f) : 0;
        if (f)
            fclose(f);
        for (size_t i = 0; i < len; i++)
            if (cmd[i] == '\0')
                cmd[i] = ' ';
        cmd[len] = '\0';
        if (strstr(cmd, dir) && strstr(cmd, "--time-scale 0.37"))
            n++;
    }
    if (proc)
        closedir(proc);
    return n;
}

/* A switch's servers hear SIGTERM (a go() thread forks them with every
 * signal blocked: exec kept that mask), and a dashboard told to stop in the
 * middle of a switch takes the servers it was starting with it. */
START_TEST(a_stopped_dashboard_leaves_no_server)
{
    struct child s;
    server_start(&s, getenv("DASHBOARD"), 0.37, "--build", getenv("BUILD_DIR"));
    ck_assert_int_eq(call(&s, "POST", "/api/chapter?nn=02"), 202);
    int64_t deadline = deadline_after(10000 * unit_slowdown());
    while (!(strstr(reply, "\"chapter\":\"02-channel-block\"") && strstr(reply, "\"up\":true")) &&
           now_ms() < deadline)
        call(&s, "GET", "/api/state");
    int pid[2], threads[2];
    state(&s, pid, threads);
    for (int k = 0; k < 2; k++)
        ck_assert_msg(blocked_signals(pid[k]) == 0,
                      "chapter 02's server %d blocks signals (SigBlk: %016llx): it would not "
                      "hear SIGTERM", pid[k], blocked_signals(pid[k]));
    ck_assert_int_eq(call(&s, "POST", "/api/chapter?nn=03"), 202);
    ck_assert_msg(server_stop(&s, SIGTERM, 10000 * unit_slowdown()), "the dashboard did not exit");
    server_cleanup(&s);
    deadline = deadline_after(5000 * unit_slowdown());
    while ((servers_of("/02-channel-block/") || servers_of("/03-background-ctx/")) &&
           now_ms() < deadline)
        nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
    ck_assert_msg(!servers_of("/02-channel-block/") && !servers_of("/03-background-ctx/"),
                  "SIGTERM during a chapter switch: the dashboard exited, and %d of chapter "
                  "02's and %d of chapter 03's servers are still running, orphaned",
                  servers_of("/02-channel-block/"), servers_of("/03-background-ctx/"));
}
END_TEST

START_TEST(bad_requests_get_a_clear_answer)
{
    struct child s;
    start(&s);
    ck_assert_int_eq(call(&s, "POST", "/api/chapter?nn=9"), 400);
    ck_assert_msg(strstr(reply, "01 to 06"), "%s", reply);
    ck_assert_int_eq(call(&s, "POST", "/api/chapter"), 400);
    ck_assert_int_eq(call(&s, "GET", "/api/state?since=x"), 400);
    ck_assert_int_eq(call(&s, "GET", "/api/state?since=%zz"), 400);
    ck_assert_int_eq(call(&s, "GET", "/api/burst"), 405);
    ck_assert_int_eq(call(&s, "DELETE", "/api/state"), 405);
    ck_assert_int_eq(call(&s, "GET", "/../../etc/passwd"), 404);
    ck_assert_int_eq(call(&s, "GET", "/nothing.html"), 404);
    /* evhttp reads "//index.html" as a host and an empty path */
    ck_assert_int_eq(call(&s, "GET", "//index.html"), 400);
    ck_assert_msg(strstr(reply, "a path starts with /"), "%s", reply);
    ck_assert_int_eq(call(&s, "GET", "/api/nope"), 404);
    ck_assert_int_eq(call(&s, "POST", "/api/nope"), 404);
    /* No switch while a button's load runs (it would outlive its servers). */
    ck_assert_int_eq(call(&s, "POST", "/api/burst"), 202);
    ck_assert_int_eq(call(&s, "POST", "/api/chapter?nn=02"), 409);
    ck_assert_msg(strstr(reply, "still running"), "%s", reply);
    ck_assert_int_eq(call(&s, "GET", "/"), 200);
    ck_assert_msg(strstr(reply, "<title>Thread leaks, live</title>"), "%s", reply);
    ck_assert_int_eq(call(&s, "GET", "/app.js"), 200);
    ck_assert_msg(strstr(reply, "text/javascript"), "%s", reply);
    server_stop_cleanly(&s);
}
END_TEST

START_TEST(the_chapter_switcher_starts_the_other_chapter)
{
    struct child s;
    start(&s);
    int pid[2], threads[2];
    state(&s, pid, threads);
    ck_assert_int_eq(call(&s, "POST", "/api/chapter?nn=02"), 202);
    int64_t deadline = deadline_after(10000 * unit_slowdown());
    int status = 0;
    while (!(strstr(reply, "\"chapter\":\"02-channel-block\"") && strstr(reply, "\"up\":true")) &&
           now_ms() < deadline)
        status = call(&s, "GET", "/api/state");
    ck_assert_msg(strstr(reply, "\"chapter\":\"02-channel-block\",") && strstr(reply, "\"up\":true"),
                  "%d %s", status, reply);
    int now[2];
    state(&s, now, threads);
    ck_assert_msg(now[0] != pid[0] && now[1] != pid[1], "the same servers still run");
    ck_assert_msg(census_threads_of(pid[0]) <= 0, "chapter 05's leaky server is still there");
    server_stop_cleanly(&s);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dashboard");
    UNIT_ADD_TIMEOUT(s, the_burst_button_raises_leaky_and_fixed_comes_back, 60);
    UNIT_ADD_TIMEOUT(s, bad_requests_get_a_clear_answer, 30);
    UNIT_ADD_TIMEOUT(s, the_chapter_switcher_starts_the_other_chapter, 30);
    UNIT_ADD_TIMEOUT(s, a_stopped_dashboard_leaves_no_server, 60);
    return unit_run(s);
}
