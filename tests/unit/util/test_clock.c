#include "tests.h"

#include <time.h>
#include <unistd.h>

#include "util/clock.h"

static void test_monotonic_advances(void **state)
{
    (void)state;
    uint64_t a = clock_now_ms();
    usleep(20000);
    uint64_t b = clock_now_ms();
    assert_true(b >= a + 15);
    assert_true(b < a + 2000);
}

static void test_wall_matches_time(void **state)
{
    (void)state;
    uint64_t now = (uint64_t)time(NULL);
    uint64_t wall = clock_wall_ms() / 1000;
    assert_true(wall + 2 >= now && wall <= now + 2);
}

int run_clock_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monotonic_advances),
        cmocka_unit_test(test_wall_matches_time),
    };
    return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}
