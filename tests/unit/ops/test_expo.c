/* The Prometheus text writer, readiness conditions and the registered
 * gauges (src/ops/expo.h, ready.h, gauges.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ops/expo.h"
#include "ops/gauges.h"
#include "ops/ready.h"

static void assert_text(buf *b, const char *want)
{
    buf_append_u8(b, 0);
    assert_string_equal((const char *)b->data, want);
    buf_free(b);
}

static void test_family_and_samples(void **state)
{
    (void)state;
    buf b = {0};
    expo_family(&b, "mqstated_x_total", EXPO_COUNTER, "a \\ b\nc");
    const char *l[] = {"reason", "a\"b\\c\nd", "qos", "1", NULL};
    expo_u64(&b, "mqstated_x_total", l, 18446744073709551615ull);
    expo_f64(&b, "mqstated_y", NULL, 0.25);
    assert_text(&b, "# HELP mqstated_x_total a \\\\ b\\nc\n# TYPE mqstated_x_total counter\n"
                    "mqstated_x_total{reason=\"a\\\"b\\\\c\\nd\",qos=\"1\"} 18446744073709551615\n"
                    "mqstated_y 0.25\n");
}

static void test_histogram(void **state)
{
    (void)state;
    buf b = {0};
    const double bounds[] = {0.001, 0.5};
    const uint64_t counts[] = {2, 3, 1};
    expo_histogram(&b, "mqstated_h_seconds", "h", bounds, counts, 2, 1.5);
    assert_text(&b, "# HELP mqstated_h_seconds h\n# TYPE mqstated_h_seconds histogram\n"
                    "mqstated_h_seconds_bucket{le=\"0.001\"} 2\nmqstated_h_seconds_bucket{le=\"0.5\"} 5\n"
                    "mqstated_h_seconds_bucket{le=\"+Inf\"} 6\nmqstated_h_seconds_sum 1.5\n"
                    "mqstated_h_seconds_count 6\n");
}

static void test_names(void **state)
{
    (void)state;
    assert_true(expo_name_valid("mqstated_a:b_1"));
    assert_false(expo_name_valid("1abc"));
    assert_false(expo_name_valid("a-b"));
    assert_false(expo_name_valid(""));
}

static void test_ready(void **state)
{
    (void)state;
    ops_ready r = {0};
    assert_false(ops_ready_check(&r, NULL)); /* no condition: not ready */
    int a = ops_ready_add(&r, "listeners"), p = ops_ready_add(&r, "persistence");
    assert_true(a >= 0 && p >= 0);
    ops_ready_set(&r, a, true);
    buf b = {0};
    assert_false(ops_ready_check(&r, &b));
    assert_text(&b, "ok listeners\nnot persistence\n");
    ops_ready_set(&r, p, true);
    assert_true(ops_ready_check(&r, NULL));
    int later = ops_ready_add(&r, "leader_known"); /* a later subsystem adds its condition */
    assert_false(ops_ready_check(&r, NULL));
    ops_ready_set(&r, later, true);
    assert_true(ops_ready_check(&r, NULL));
    assert_int_equal(ops_ready_add(&r, ""), -1);
    assert_int_equal(ops_ready_add(&r, "a_name_far_too_long_for_the_table_of_conditions"), -1);
}

static double seven(void *ctx) { return *(double *)ctx; }

static void test_gauges(void **state)
{
    (void)state;
    ops_gauges g = {0};
    double v = 7;
    assert_true(ops_gauges_add(&g, "mqstated_raft_term", "The term.", seven, &v));
    assert_false(ops_gauges_add(&g, "mqstated_raft_term", "again", seven, &v)); /* unique */
    assert_false(ops_gauges_add(&g, "raft_term", "not ours", seven, &v));
    assert_false(ops_gauges_add(&g, "mqstated_bad-name", "", seven, &v));
    buf b = {0};
    ops_gauges_write(&g, &b);
    assert_text(&b, "# HELP mqstated_raft_term The term.\n# TYPE mqstated_raft_term gauge\nmqstated_raft_term 7\n");
    ops_gauges_remove(&g, "mqstated_raft_term");
    ops_gauges_write(&g, &b);
    assert_int_equal(b.len, 0);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family_and_samples),
        cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_ready),
        cmocka_unit_test(test_gauges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
