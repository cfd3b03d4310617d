/* Tests of fetch.c in plain C, each ending as goleak.VerifyNone would:
 * no thread the test started may still be alive.
 *   test_fetch fixed     fetch times out ten times and leaves no thread
 *   test_fetch planted   fetch_leaky's thread is reported, with its start site
 *   test_fetch leaky     a test of fetch_leaky as you would write it: it fails */
#define _GNU_SOURCE /* open_memstream */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <threadleaks/leakcheck.h>

#include "fetch.h"

#define expect(cond)                                                           \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
            return 1;                                                          \
        }                                                                      \
    } while (0)

static int fixed(void)
{
    tl_leakcheck_t *check = tl_leakcheck_begin();
    expect(check != NULL);
    int answer = 0;
    for (int i = 0; i < 10; i++)
        expect(fetch(tl_ctx_background(), 20, &answer) == ETIMEDOUT);
    expect(fetch(tl_ctx_background(), 5000, &answer) == 0 && answer == 42);
    expect(tl_leakcheck_end(check, stderr) == 0);
    puts("fetch: ten timeouts, one answer, no thread left");
    return 0;
}

static int planted(void)
{
    tl_leakcheck_t *check = tl_leakcheck_begin();
    expect(check != NULL);
    int answer = 0;
    expect(fetch_leaky(20, &answer) == ETIMEDOUT);
    char *text = NULL;
    size_t size = 0;
    FILE *report = open_memstream(&text, &size);
    expect(report != NULL);
    expect(tl_leakcheck_end(check, report) == 1);
    fclose(report);
    fputs(text, stdout);
    expect(strstr(text, "1 thread started during the check is still alive"));
    expect(strstr(text, "backend         chan_send at examples/fetch.c:"));
    expect(strstr(text, "created by fetch_leaky at examples/fetch.c:"));
    free(text);
    puts("fetch_leaky: its thread is reported where it blocks and where it was started");
    return 0;
}

static int leaky(void)
{
    tl_leakcheck_t *check = tl_leakcheck_begin();
    expect(check != NULL);
    int answer = 0;
    expect(fetch_leaky(20, &answer) == ETIMEDOUT);
    expect(tl_leakcheck_end(check, stderr) == 0);
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc == 2 ? argv[1] : "";
    if (strcmp(mode, "fixed") == 0)
        return fixed();
    if (strcmp(mode, "planted") == 0)
        return planted();
    if (strcmp(mode, "leaky") == 0)
        return leaky();
    fprintf(stderr, "usage: test_fetch fixed|planted|leaky\n");
    return 2;
}
