#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "census.h"
#include "clock.h"
#include "threadleaks/leakcheck.h"

/* Every test is checked for leaks as goleak.VerifyNone would: no thread
 * it started may be alive at its end (after a wait: a detached thread stays
 * listed a moment after it returns). */
static tl_leakcheck_t *check;

static void leakcheck_setup(void)
{
    check = tl_leakcheck_begin();
    ck_assert_msg(check != NULL, "cannot start the leak check");
    tl_leakcheck_set_wait(check, 2000 * unit_slowdown());
}

static void leakcheck_teardown(void)
{
    int leaked = tl_leakcheck_end(check, stderr);
    ck_assert_msg(leaked == 0, "%d threads leaked (their dump is on stderr)", leaked);
}

void unit_add(Suite *s, const char *name, const TTest *fn, double timeout)
{
    TCase *tc = tcase_create(name);
    if (timeout > 0)
        tcase_set_timeout(tc, timeout);
    tcase_add_checked_fixture(tc, leakcheck_setup, leakcheck_teardown);
    tcase_add_test(tc, fn);
    suite_add_tcase(s, tc);
}

int unit_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int run = srunner_ntests_run(sr), failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return run > 0 && failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

int unit_eventually(int (*pred)(void *arg), void *arg, int64_t ms)
{
    int64_t deadline = deadline_after(ms), pause = 1;
    int ok;
    while (!(ok = pred(arg)) && now_ms() < deadline) {
        struct timespec ts = { 0, pause * 1000000 };
        nanosleep(&ts, NULL);
        if (pause < 50)
            pause *= 2;
    }
    return ok;
}

/* The census's dump as a string, which the caller frees. */
static char *census_text(void)
{
    char *text = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&text, &size);
    census_dump(f);
    fclose(f);
    return text;
}

int unit_census_count(const char *name, const char *state, bool leaked)
{
    char *text = census_text();
    int total = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        int count;
        char n[32], st[32];
        if (sscanf(line, "%d %31s %31s", &count, n, st) == 3 && strcmp(n, name) == 0 &&
            strcmp(st, state) == 0 && (!leaked || strstr(line, ", leaked")))
            total += count;
    }
    free(text);
    return total;
}

int unit_census_blocked_ms(const char *name, const char *state)
{
    char *text = census_text();
    int most = -1;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        int count;
        char n[32], st[32];
        double from, to;
        const char *at = strstr(line, ", blocked ");
        if (sscanf(line, "%d %31s %31s", &count, n, st) == 3 && strcmp(n, name) == 0 &&
            strcmp(st, state) == 0 && at && sscanf(at, ", blocked %lfs..%lfs", &from, &to) == 2 &&
            (int)(to * 1000 + 0.5) > most)
            most = (int)(to * 1000 + 0.5);
    }
    free(text);
    return most;
}

struct blocked {
    int count;
    const char *name, *state;
};

static int is_blocked(void *arg)
{
    struct blocked *b = arg;
    return unit_census_count(b->name, b->state, false) == b->count;
}

int unit_blocked(int count, const char *name, const char *state)
{
    struct blocked b = { count, name, state };
    return unit_eventually(is_blocked, &b, 2000);
}

int unit_slowdown(void)
{
    const char *v = getenv("TEST_SLOWDOWN");
    int n = v ? atoi(v) : 1;
    return n > 0 ? n : 1;
}

void unit_assert_panics(void (*fn)(void *arg), void *arg, const char *message)
{
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        fn(arg);
        _exit(0);
    }
    close(fds[1]);
    char said[4096];
    size_t got = 0;
    ssize_t n;
    while (got < sizeof said - 1 && (n = read(fds[0], said + got, sizeof said - 1 - got)) > 0)
        got += (size_t)n;
    said[got] = '\0';
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    char want[256];
    snprintf(want, sizeof want, "panic: %s\n", message);
    ck_assert_msg(strstr(said, want), "expected \"%s\" on stderr, got: %s", want, said);
    ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
                  "expected death by SIGABRT, wait status %d", status);
}
