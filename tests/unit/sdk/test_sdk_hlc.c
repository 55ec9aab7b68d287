/* The client HLC rules of §4.4, branch by branch, and the public values. */
#include <string.h>

#include "mqstate/hlc.h"
#include "sdk_hlc.h"
#include "tests.h"

#define DRIFT 60000
static hlc other(uint64_t wall, uint64_t counter, const char *node)
{
    return (hlc){wall, counter, (const uint8_t *)node, strlen(node)};
}

static void tick(void **state)
{
    sdk_clock c = {1000, 7};
    assert_int_equal(sdk_clock_tick(&c, 2000, DRIFT), MQS_OK); /* now ahead: (now, 0) */
    assert_true(c.wall_ms == 2000 && c.counter == 0);
    assert_int_equal(sdk_clock_tick(&c, 1500, DRIFT), MQS_OK); /* behind: counter + 1 */
    assert_true(c.wall_ms == 2000 && c.counter == 1);
    c = (sdk_clock){200000, UINT64_MAX};
    assert_int_equal(sdk_clock_tick(&c, 199000, DRIFT), MQS_ERR_HLC_OVERFLOW);
    c = (sdk_clock){200000, 0};
    assert_int_equal(sdk_clock_tick(&c, 100000, DRIFT), MQS_ERR_CLOCK_DRIFT);
    assert_true(c.wall_ms == 200000 && c.counter == 0); /* unchanged */
}

static void merge(void **state)
{
    sdk_clock c = {1000, 5};
    hlc o = other(900, 9, "srv");
    assert_int_equal(sdk_clock_merge(&c, "me", &o, 2000, DRIFT), MQS_OK); /* now wins */
    assert_true(c.wall_ms == 2000 && c.counter == 0);
    o = other(2000, 9, "srv");
    assert_int_equal(sdk_clock_merge(&c, "me", &o, 1500, DRIFT), MQS_OK); /* equal walls */
    assert_true(c.wall_ms == 2000 && c.counter == 10);
    o = other(1800, 50, "srv");
    assert_int_equal(sdk_clock_merge(&c, "me", &o, 1500, DRIFT), MQS_OK); /* self ahead */
    assert_true(c.wall_ms == 2000 && c.counter == 11);
    o = other(3000, 4, "srv");
    assert_int_equal(sdk_clock_merge(&c, "me", &o, 1500, DRIFT), MQS_OK); /* other ahead */
    assert_true(c.wall_ms == 3000 && c.counter == 5);
    o = other(9000, 4, "me");
    assert_int_equal(sdk_clock_merge(&c, "me", &o, 1500, DRIFT), MQS_OK); /* own node: ignored */
    assert_true(c.wall_ms == 3000 && c.counter == 5);
    o = other(1500 + DRIFT + 1, 0, "srv");
    assert_int_equal(sdk_clock_merge(&c, "me", &o, 1500, DRIFT), MQS_ERR_CLOCK_DRIFT);
    assert_true(c.wall_ms == 3000 && c.counter == 5);
    o = other(3000, UINT64_MAX, "srv");
    assert_int_equal(sdk_clock_merge(&c, "me", &o, 1500, DRIFT), MQS_ERR_HLC_OVERFLOW);
}

static void values(void **state)
{
    mqs_hlc a, b;
    assert_true(mqs_hlc_parse("1696374425000:1:StateStore", 26, &a));
    char s[MQS_HLC_STR_MAX];
    assert_int_equal(mqs_hlc_format(&a, s, sizeof s), 32);
    assert_string_equal(s, "001696374425000:00001:StateStore");
    assert_true(mqs_hlc_parse(s, strlen(s), &b));
    assert_int_equal(mqs_hlc_compare(&a, &b), 0);
    b.counter++;
    assert_true(mqs_hlc_compare(&a, &b) < 0);
    assert_false(mqs_hlc_parse("1:2", 3, &a));
    assert_false(mqs_hlc_parse("1:2:a:b", 7, &a));
    assert_false(mqs_hlc_parse("-1:2:a", 6, &a));
    assert_int_equal(mqs_hlc_format(&a, s, 8), 0);
    mqs_hlc n1, n2;
    assert_int_equal(mqs_hlc_now(&n1), MQS_OK);
    assert_int_equal(mqs_hlc_now(&n2), MQS_OK);
    assert_true(mqs_hlc_compare(&n1, &n2) < 0);
    assert_string_equal(n1.node, mqs_hlc_node_id());
}

int run_hlc_tests(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(tick), cmocka_unit_test(merge), cmocka_unit_test(values)};
    return cmocka_run_group_tests_name("sdk_hlc", tests, NULL, NULL);
}
