/* The same tests with cmocka: the leak check in a setup and teardown pair.
 *   test_fetch_cmocka fixed   passes
 *   test_fetch_cmocka leaky   fails, with the report on stderr */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include <threadleaks/leakcheck.h>

#include "fetch.h"

static int begin(void **state)
{
    *state = tl_leakcheck_begin();
    return *state ? 0 : -1;
}

static int end(void **state)
{
    return tl_leakcheck_end(*state, stderr) == 0 ? 0 : -1;
}

static void fetch_times_out_and_leaves_no_thread(void **state)
{
    (void)state;
    int answer;
    assert_int_equal(fetch(tl_ctx_background(), 20, &answer), ETIMEDOUT);
}

static void fetch_leaky_times_out(void **state)
{
    (void)state;
    int answer;
    assert_int_equal(fetch_leaky(20, &answer), ETIMEDOUT);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest fixed[] = {
        cmocka_unit_test_setup_teardown(fetch_times_out_and_leaves_no_thread, begin, end),
    };
    const struct CMUnitTest leaky[] = {
        cmocka_unit_test_setup_teardown(fetch_leaky_times_out, begin, end),
    };
    if (argc == 2 && strcmp(argv[1], "fixed") == 0)
        return cmocka_run_group_tests(fixed, NULL, NULL);
    if (argc == 2 && strcmp(argv[1], "leaky") == 0)
        return cmocka_run_group_tests(leaky, NULL, NULL);
    return 2;
}
