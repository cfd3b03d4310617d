/* The same tests with Check: the leak check in a checked fixture, so that
 * every test of the case ends with it. CK_RUN_CASE picks the case:
 *   fixed   passes
 *   leaky   fails, with the report on stderr */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include <threadleaks/leakcheck.h>

#include "fetch.h"

static tl_leakcheck_t *leakcheck;

static void begin(void)
{
    leakcheck = tl_leakcheck_begin();
    ck_assert_ptr_nonnull(leakcheck);
}

static void end(void)
{
    ck_assert_int_eq(tl_leakcheck_end(leakcheck, stderr), 0);
}

START_TEST(fetch_times_out_and_leaves_no_thread)
{
    int answer;
    ck_assert_int_eq(fetch(tl_ctx_background(), 20, &answer), ETIMEDOUT);
}
END_TEST

START_TEST(fetch_leaky_times_out)
{
    int answer;
    ck_assert_int_eq(fetch_leaky(20, &answer), ETIMEDOUT);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fetch");
    TCase *fixed = tcase_create("fixed"), *leaky = tcase_create("leaky");
    tcase_add_checked_fixture(fixed, begin, end);
    tcase_add_checked_fixture(leaky, begin, end);
    tcase_add_test(fixed, fetch_times_out_and_leaves_no_thread);
    tcase_add_test(leaky, fetch_leaky_times_out);
    suite_add_tcase(s, fixed);
    suite_add_tcase(s, leaky);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr), run = srunner_ntests_run(sr);
    srunner_free(sr);
    return run > 0 && failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
