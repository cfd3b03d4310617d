/* The part of Check's API the unit tests use, for a library-only build
 * (THREADLEAKS_LIBRARY_ONLY) on a machine without Check. It runs as Check
 * does by default: each test in a child process of its own, with its
 * checked fixture, killed after its timeout (4 s, times
 * CK_TIMEOUT_MULTIPLIER); CK_RUN_CASE picks one test case; a failed
 * assertion, a timeout, a signal and an early exit are reported in Check's
 * words ("file:line:F:case:test:0: message", "... (after this point) Test
 * timeout expired"), and counted as Check counts them. */
#ifndef TESTS_NOCHECK_CHECK_H
#define TESTS_NOCHECK_CHECK_H

#include <stdint.h>
#include <string.h>

typedef struct {
    const char *name;
    void (*fn)(void);
    const char *file; /* where START_TEST is: an error's place */
    int line;
} TTest;
typedef struct Suite Suite;
typedef struct TCase TCase;
typedef struct SRunner SRunner;
typedef void SFun(void);
enum print_output { CK_NORMAL };

#define START_TEST(name)                                   \
    static void name##_fn(void);                           \
    static const TTest name##_ttest = { #name, name##_fn, __FILE__, __LINE__ }; \
    static const TTest *name = &name##_ttest;              \
    static void name##_fn(void)
#define END_TEST

Suite *suite_create(const char *name);
TCase *tcase_create(const char *name);
void tcase_set_timeout(TCase *tc, double seconds);
void tcase_add_checked_fixture(TCase *tc, SFun *setup, SFun *teardown);
void tcase_add_test(TCase *tc, const TTest *test);
void suite_add_tcase(Suite *s, TCase *tc);
SRunner *srunner_create(Suite *s);
void srunner_run_all(SRunner *sr, enum print_output mode);
int srunner_ntests_run(SRunner *sr);
int srunner_ntests_failed(SRunner *sr);
void srunner_free(SRunner *sr);

/* Ends the running test as failed: prints where and why, then exits the
 * test's process. fmt may be NULL. */
_Noreturn void nocheck_fail(const char *file, int line, const char *what, const char *fmt, ...);

#define ck_assert_msg(expr, ...) \
    ((expr) ? (void)0 : nocheck_fail(__FILE__, __LINE__, "Assertion '" #expr "' failed", __VA_ARGS__))
#define ck_assert(expr) ck_assert_msg(expr, NULL)
#define ck_abort_msg(...) nocheck_fail(__FILE__, __LINE__, "Failed", __VA_ARGS__)

#define nocheck_int(X, OP, Y)                                                              \
    do {                                                                                   \
        intmax_t x_ = (X), y_ = (Y);                                                       \
        ck_assert_msg(x_ OP y_, "Assertion '%s' failed: %s == %jd, %s == %jd",             \
                      #X " " #OP " " #Y, #X, x_, #Y, y_);                                  \
    } while (0)
#define ck_assert_int_eq(X, Y) nocheck_int(X, ==, Y)
#define ck_assert_int_ne(X, Y) nocheck_int(X, !=, Y)
#define ck_assert_int_lt(X, Y) nocheck_int(X, <, Y)
#define ck_assert_int_le(X, Y) nocheck_int(X, <=, Y)
#define ck_assert_int_gt(X, Y) nocheck_int(X, >, Y)
#define ck_assert_int_ge(X, Y) nocheck_int(X, >=, Y)
#define ck_assert_ptr_eq(X, Y) \
    ck_assert_msg((const void *)(X) == (const void *)(Y), "%s == %p, %s == %p", #X, (const void *)(X), #Y, (const void *)(Y))
#define ck_assert_ptr_null(X) ck_assert_msg((X) == NULL, "%s == %p", #X, (const void *)(X))
#define ck_assert_ptr_nonnull(X) ck_assert_msg((X) != NULL, "%s == NULL", #X)
#define ck_assert_str_eq(X, Y)                                                      \
    do {                                                                            \
        const char *x_ = (X), *y_ = (Y);                                            \
        ck_assert_msg(x_ && y_ && strcmp(x_, y_) == 0, "%s == \"%s\", %s == \"%s\"", \
                      #X, x_ ? x_ : "(null)", #Y, y_ ? y_ : "(null)");              \
    } while (0)
#define ck_assert_mem_eq(X, Y, L) \
    ck_assert_msg(memcmp((X), (Y), (L)) == 0, "%s and %s differ in their first %zu bytes", #X, #Y, (size_t)(L))

#endif
