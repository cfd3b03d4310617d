/* The dashboard's API, as its page uses it, without a browser (the browser
 * test, ./lab test --browser, presses the page's own buttons): the burst
 * raises leaky by its 300 threads and fixed comes back, the numbers it
 * serves are the kernel's, and bad input gets 400, 404, 405 or 409. */
#include <check.h>
#include <dirent.h>
#include <pthread.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
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

/* ---- the room board ---- */

static char room_file[64];

/* The dashboard with its room on 127.0.0.1, code ROOM42, at most 25
 * learners, kept in room_file; returns the port learners post to. */
static int start_room(struct child *s)
{
    const char *args[] = { "--build", getenv("BUILD_DIR"), "--chapter", "01", "--room",
                           "127.0.0.1", "--room-port", "0", "--room-code", "ROOM42",
                           "--room-max", "25", "--room-file", room_file, NULL };
    ck_assert_msg(server_spawn_args(s, getenv("DASHBOARD"), 0.2, args) == 0,
                  "the dashboard did not start: %.1000s", server_stderr(s));
    int port = 0;
    int64_t deadline = deadline_after(5000);
    const char *at;
    while (!(at = strstr(server_stdout(s), "    http://127.0.0.1:")) && now_ms() < deadline)
        ; /* the join line follows the listening line at once */
    ck_assert_msg(at && sscanf(at, "    http://127.0.0.1:%d/ROOM42", &port) == 1,
                  "no join URL in: %.1000s", server_stdout(s));
    return port;
}

/* One learner's post, from its own address 127.0.0.N (the board limits
 * posts per address): the status, and the answer's text in r->body. */
struct post {
    int port, from;
    const char *method, *code;
    char body[6000];
    int status;
    char answer[8192];
};

static void *send_post(void *arg)
{
    struct post *p = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in me = { .sin_family = AF_INET }, board = { .sin_family = AF_INET };
    me.sin_addr.s_addr = htonl(0x7f000000u | (unsigned)p->from);
    board.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    board.sin_port = htons((uint16_t)p->port);
    char text[8192];
    p->status = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&me, sizeof me) == 0 &&
        connect(fd, (struct sockaddr *)&board, sizeof board) == 0) {
        int n = snprintf(text, sizeof text,
                         "%s /api/verdict/%s HTTP/1.0\r\nContent-Type: text/plain\r\n"
                         "Content-Length: %zu\r\n\r\n%s",
                         p->method, p->code, strlen(p->body), p->body);
        if (write(fd, text, (size_t)n) == n) {
            read_until(fd, text, sizeof text, 0, deadline_after(10000));
            p->status = status_of(text);
            const char *body = strstr(text, "\r\n\r\n");
            snprintf(p->answer, sizeof p->answer, "%s", body ? body + 4 : text);
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void post_all(struct post *p, int n)
{
    pthread_t t[64];
    for (int i = 0; i < n; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, send_post, &p[i]), 0);
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

static void verdict(struct post *p, int port, int from, const char *name, int chapter, bool pass)
{
    *p = (struct post){ .port = port, .from = from, .method = "POST", .code = "ROOM42" };
    snprintf(p->body, sizeof p->body,
             "name: %s\nchapter: %02d\nverdict: %s\ncase: obeys_a_hang_up_at_once ok\n"
             "case: behaves_as_the_story_says %s\n%s",
             name, chapter, pass ? "pass" : "fail", pass ? "ok" : "fail",
             pass ? "" : "finding: 02-channel-block/leaky.c:42 (in send_one) never returns\n");
}

/* Whether the board (GET /api/room) shows name's verdict on chapter as
 * pass or fail, and how many verdicts it keeps. */
static int shown(const char *json_name, int chapter, bool pass)
{
    char want[200];
    snprintf(want, sizeof want, "{\"name\":%s,\"chapter\":\"%02d\",\"pass\":%s,", json_name,
             chapter, pass ? "true" : "false");
    return strstr(reply, want) != NULL;
}

static int verdicts_kept(void)
{
    int n = 0;
    for (const char *p = reply; (p = strstr(p, "\"chapter\":\"")); p++)
        n++;
    return n;
}

/* Thirty learners post at once, twenty right and ten wrong; the board keeps
 * each one's last verdict per chapter, refuses each bad post with its
 * reason, a full room, and a flood from one address, and keeps it all
 * across a restart. */
START_TEST(the_room_board_takes_thirty_learners_at_once)
{
    snprintf(room_file, sizeof room_file, "/tmp/room-test-%d.txt", (int)getpid());
    unlink(room_file);
    struct child s;
    int port = start_room(&s);
    static struct post p[30];
    char names[20][32];
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof names[i], "learner %02d", i);
        verdict(&p[i], port, 10 + i, names[i], 1 + i % 6, i % 2 == 0);
    }
    verdict(&p[3], port, 13, "<b>bold</b> & co", 4, false);
    verdict(&p[4], port, 14, "李雷", 5, true);
    verdict(&p[5], port, 15, "quote \" back \\ slash", 6, true);
    for (int i = 20; i < 30; i++)
        verdict(&p[i], port, 10 + i, "wrong", 1, true);
    p[20].code = p[21].code = "WRONG1";
    p[22].code = "room42";
    strcpy(p[23].body, "name: x\nchapter: 07\nverdict: pass\n");
    strcpy(p[24].body, "chapter: 01\nverdict: pass\n");
    strcpy(p[25].body, "name: a\tb\nchapter: 01\nverdict: pass\n");
    memset(p[26].body, 'a', 5000);
    p[26].body[5000] = '\0';
    p[27].method = "GET";
    strcpy(p[28].body, "name: x\nchapter: 01\nverdict: pass\ncase: Bad-Name ok\n");
    strcpy(p[29].body, "name: \xff\xfe\nchapter: 01\nverdict: pass\n");
    post_all(p, 30);
    const int want[30] = { [20] = 403, 403, 403, 400, 400, 400, 413, 405, 400, 400 };
    const char *why[30] = { [20] = "wrong join code", "wrong join code", "wrong join code",
                            "chapter: 01 to 06", "name:, chapter: and verdict: are needed",
                            "control character", "a post is at most 4096 bytes", "POST only",
                            "case: a test's name", "not UTF-8 text" };
    for (int i = 0; i < 30; i++) {
        ck_assert_msg(p[i].status == (want[i] ? want[i] : 200) && strstr(p[i].answer, why[i] ? why[i] : ""),
                      "post %d got %d: %.500s", i, p[i].status, p[i].answer);
    }
    ck_assert_int_eq(call(&s, "GET", "/api/room"), 200);
    ck_assert_msg(verdicts_kept() == 20, "the board keeps %d verdicts: %.1500s", verdicts_kept(), reply);
    ck_assert_msg(shown("\"learner 00\"", 1, true) && shown("\"learner 01\"", 2, false) &&
                      shown("\"<b>bold</b> & co\"", 4, false) && shown("\"李雷\"", 5, true) &&
                      shown("\"quote \\\" back \\\\ slash\"", 6, true),
                  "%.1500s", reply);
    ck_assert_msg(!strstr(reply, "\"wrong\""), "a refused post is on the board: %.1500s", reply);

    /* learner 00 again on chapter 01: the new verdict replaces the old */
    verdict(&p[0], port, 10, "learner 00", 1, false);
    post_all(p, 1);
    ck_assert_int_eq(call(&s, "GET", "/api/room"), 200);
    ck_assert_msg(verdicts_kept() == 20 && shown("\"learner 00\"", 1, false), "%.1500s", reply);

    /* five more learners fill the room (25); a sixth is refused */
    char more[6][32];
    for (int i = 0; i < 6; i++) {
        snprintf(more[i], sizeof more[i], "late %d", i);
        verdict(&p[i], port, 100 + i, more[i], 3, true);
        post_all(&p[i], 1);
        ck_assert_msg(p[i].status == (i < 5 ? 200 : 403), "late %d: %d %.500s", i, p[i].status,
                      p[i].answer);
    }
    ck_assert_msg(strstr(p[5].answer, "the room is full: 25 learners"), "%.500s", p[5].answer);

    /* twelve posts at once from one address: five go through, the rest wait */
    for (int i = 0; i < 12; i++)
        verdict(&p[i], port, 200, "learner 02", 3, true);
    post_all(p, 12);
    int ok = 0, slowed = 0;
    for (int i = 0; i < 12; i++) {
        ok += p[i].status == 200;
        slowed += p[i].status == 429 && strstr(p[i].answer, "too many posts from this address");
    }
    ck_assert_msg(ok >= 5 && slowed >= 1 && ok + slowed == 12, "%d on the board, %d slowed", ok, slowed);

    /* a restart loses nothing */
    ck_assert_int_eq(call(&s, "GET", "/api/room"), 200);
    char before[sizeof reply];
    const char *list = strstr(reply, "\"learners\":");
    snprintf(before, sizeof before, "%s", list ? list : "");
    server_stop_cleanly(&s);
    start_room(&s);
    ck_assert_int_eq(call(&s, "GET", "/api/room"), 200);
    list = strstr(reply, "\"learners\":");
    ck_assert_msg(list && !strcmp(list, before), "after a restart:\n%.1500s\nbefore:\n%.1500s", list, before);
    server_stop_cleanly(&s);

    /* a record the board cannot read costs it nothing else: skipped, and said */
    FILE *f = fopen(room_file, "a");
    ck_assert_ptr_nonnull(f);
    fputs("name: bad\nchapter: 09\nverdict: pass\n\n", f);
    fclose(f);
    start_room(&s);
    ck_assert_int_eq(call(&s, "GET", "/api/room"), 200);
    list = strstr(reply, "\"learners\":");
    ck_assert_msg(list && !strcmp(list, before), "after a bad record:\n%.1500s", list);
    ck_assert_msg(strstr(server_stderr(&s), "skipped: chapter: 01 to 06"), "it said: %.500s",
                  server_stderr(&s));
    server_stop_cleanly(&s);
    unlink(room_file);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dashboard");
    UNIT_ADD_TIMEOUT(s, the_burst_button_raises_leaky_and_fixed_comes_back, 60);
    UNIT_ADD_TIMEOUT(s, bad_requests_get_a_clear_answer, 30);
    UNIT_ADD_TIMEOUT(s, the_chapter_switcher_starts_the_other_chapter, 30);
    UNIT_ADD_TIMEOUT(s, a_stopped_dashboard_leaves_no_server, 60);
    UNIT_ADD_TIMEOUT(s, the_room_board_takes_thirty_learners_at_once, 60);
    return unit_run(s);
}
