/* The runner behind check.h: Check's fork mode, without Check. */
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS; strsignal */
#include "check.h"

#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

enum { MAX_CASES = 256 };

struct TCase {
    const char *name;
    double timeout;
    SFun *setup, *teardown;
    const TTest *test;
};

struct Suite {
    const char *name;
    TCase *cases[MAX_CASES];
    int n;
};

struct SRunner {
    Suite *suite;
    int run, failures, errors;
};

/* What the running test is, for its failure's line. */
static const char *running_case = "", *running_test = "";
/* Shared with the test's process: set when an assertion failed there, so
 * that its exit is a failure that has said why, not an early exit. */
static volatile int *asserted;

static void *must_alloc(size_t size)
{
    void *p = calloc(1, size);
    if (!p) {
        perror("nocheck");
        exit(EXIT_FAILURE);
    }
    return p;
}

Suite *suite_create(const char *name)
{
    Suite *s = must_alloc(sizeof *s);
    s->name = name;
    return s;
}

TCase *tcase_create(const char *name)
{
    TCase *tc = must_alloc(sizeof *tc);
    tc->name = name;
    const char *t = getenv("CK_DEFAULT_TIMEOUT");
    tc->timeout = t ? atof(t) : 4;
    return tc;
}

void tcase_set_timeout(TCase *tc, double seconds)
{
    tc->timeout = seconds;
}

void tcase_add_checked_fixture(TCase *tc, SFun *setup, SFun *teardown)
{
    tc->setup = setup;
    tc->teardown = teardown;
}

void tcase_add_test(TCase *tc, const TTest *test)
{
    tc->test = test;
}

void suite_add_tcase(Suite *s, TCase *tc)
{
    if (s->n == MAX_CASES) {
        fprintf(stderr, "nocheck: more than %d test cases in suite %s\n", MAX_CASES, s->name);
        exit(EXIT_FAILURE);
    }
    s->cases[s->n++] = tc;
}

SRunner *srunner_create(Suite *s)
{
    SRunner *sr = must_alloc(sizeof *sr);
    sr->suite = s;
    return sr;
}

void nocheck_fail(const char *file, int line, const char *what, const char *fmt, ...)
{
    fflush(stdout);
    fprintf(stderr, "%s:%d:F:%s:%s:0: ", file, line, running_case, running_test);
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
    } else {
        fputs(what, stderr);
    }
    fputc('\n', stderr);
    fflush(stderr);
    if (asserted)
        *asserted = 1;
    _exit(1); /* any thread: the test's process ends, as in Check's fork mode */
}

/* In the test's own process: the fixture, the test, the fixture's end. */
static _Noreturn void run_child(const TCase *tc, double timeout)
{
    running_case = tc->name;
    running_test = tc->test->name;
    struct itimerval t = { { 0, 0 }, { (time_t)timeout, (suseconds_t)(fmod(timeout, 1) * 1e6) } };
    setitimer(ITIMER_REAL, &t, NULL); /* SIGALRM's default action ends it */
    if (tc->setup)
        tc->setup();
    tc->test->fn();
    if (tc->teardown)
        tc->teardown();
    fflush(NULL);
    _exit(0);
}

enum outcome { PASSED, FAILED, ERROR };

static enum outcome run_one(const TCase *tc)
{
    const char *m = getenv("CK_TIMEOUT_MULTIPLIER");
    double timeout = tc->timeout * (m ? atof(m) : 1);
    *asserted = 0;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("nocheck: fork");
        return ERROR;
    }
    if (pid == 0)
        run_child(tc, timeout);
    int status;
    while (waitpid(pid, &status, 0) < 0)
        ; /* EINTR */
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return PASSED;
    if (WIFEXITED(status) && *asserted)
        return FAILED; /* it has said why */
    fprintf(stderr, "%s:%d:E:%s:%s:0: (after this point) ", tc->test->file, tc->test->line,
            tc->name, tc->test->name);
    if (WIFEXITED(status))
        fprintf(stderr, "Early exit with return value %d\n", WEXITSTATUS(status));
    else if (WTERMSIG(status) == SIGALRM)
        fprintf(stderr, "Test timeout expired\n");
    else
        fprintf(stderr, "Received signal %d (%s)\n", WTERMSIG(status), strsignal(WTERMSIG(status)));
    return ERROR;
}

void srunner_run_all(SRunner *sr, enum print_output mode)
{
    (void)mode;
    const char *only = getenv("CK_RUN_CASE");
    asserted = mmap(NULL, sizeof *asserted, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                    -1, 0);
    if (asserted == MAP_FAILED) {
        perror("nocheck: mmap");
        exit(EXIT_FAILURE);
    }
    for (int i = 0; i < sr->suite->n; i++) {
        const TCase *tc = sr->suite->cases[i];
        if ((only && strcmp(only, tc->name) != 0) || !tc->test)
            continue;
        sr->run++;
        enum outcome o = run_one(tc);
        sr->failures += o == FAILED;
        sr->errors += o == ERROR;
    }
    int passed = sr->run - sr->failures - sr->errors;
    printf("%d%%: Checks: %d, Failures: %d, Errors: %d\n", sr->run ? 100 * passed / sr->run : 0,
           sr->run, sr->failures, sr->errors);
}

int srunner_ntests_run(SRunner *sr)
{
    return sr->run;
}

int srunner_ntests_failed(SRunner *sr)
{
    return sr->failures + sr->errors;
}

void srunner_free(SRunner *sr)
{
    for (int i = 0; i < sr->suite->n; i++)
        free(sr->suite->cases[i]);
    free(sr->suite);
    free(sr);
}
