/* Reply acceptance (§2.6), the strict grammar (§3.6) as each command uses
 * it (§3.4, §3.8, §14.5), and the §3.5 error texts. */
#include <stdio.h>
#include <string.h>

#include "sdk_reply.h"
#include "tests.h"

#define P(s) (const uint8_t *)(s), sizeof(s) - 1

static mqs_err dec(sdk_op op, const uint8_t *p, size_t n, bool with_ts, mqs_result *r)
{
    hlc ts = {1700000000000, 3, (const uint8_t *)"StateStore", 10};
    memset(r, 0, sizeof *r);
    return sdk_reply_decode(op, p, n, with_ts ? &ts : NULL, r);
}

static void set_replies(void **state)
{
    mqs_result r;
    assert_int_equal(dec(SDK_OP_SET, P("+OK\r\n"), true, &r), MQS_OK);
    assert_true(r.applied && r.has_version);
    assert_int_equal(r.version.counter, 3);
    assert_string_equal(r.version.node, "StateStore");
    assert_int_equal(dec(SDK_OP_SET, P(":-1\r\n"), true, &r), MQS_OK);
    assert_false(r.applied);
    assert_true(r.has_version);
    assert_int_equal(dec(SDK_OP_SET, P("+OK\r\n"), false, &r), MQS_OK);
    assert_false(r.has_version);
    assert_int_equal(dec(SDK_OP_SET, P(":0\r\n"), true, &r), MQS_ERR_PROTOCOL);
    assert_int_equal(dec(SDK_OP_SET, P("+QUEUED\r\n"), true, &r), MQS_ERR_PROTOCOL);
    assert_int_equal(dec(SDK_OP_SET, P("+OK\r\nx"), true, &r), MQS_ERR_PROTOCOL);
    assert_int_equal(dec(SDK_OP_SET, P("+OK\n"), true, &r), MQS_ERR_PROTOCOL);
    assert_int_equal(dec(SDK_OP_SET, P(""), true, &r), MQS_ERR_PROTOCOL);
    assert_int_equal(dec(SDK_OP_SET, P("$-1\r\n"), true, &r), MQS_ERR_PROTOCOL);
}

static void get_replies(void **state)
{
    mqs_result r;
    assert_int_equal(dec(SDK_OP_GET, P("$3\r\na\r\n\r\n"), true, &r), MQS_OK);
    assert_true(r.found && r.has_version);
    assert_int_equal(r.value.len, 3);
    assert_memory_equal(r.value.data, "a\r\n", 3);
    mqs_result_clear(&r);
    assert_int_equal(dec(SDK_OP_GET, P("$0\r\n\r\n"), true, &r), MQS_OK);
    assert_true(r.found && r.value.len == 0);
    mqs_result_clear(&r);
    /* miss: no version even if one was sent; hit without one is refused */
    assert_int_equal(dec(SDK_OP_GET, P("$-1\r\n"), true, &r), MQS_OK);
    assert_false(r.found || r.has_version);
    assert_int_equal(dec(SDK_OP_GET, P("$1\r\nx\r\n"), false, &r), MQS_ERR_PROTOCOL);
    assert_int_equal(dec(SDK_OP_GET, P("$2\r\nx\r\n"), true, &r), MQS_ERR_PROTOCOL);
    assert_int_equal(dec(SDK_OP_GET, P("$1\r\nxy\r\n"), true, &r), MQS_ERR_PROTOCOL);
    assert_int_equal(dec(SDK_OP_GET, P("$1\r\nx\r"), true, &r), MQS_ERR_PROTOCOL);
    assert_int_equal(dec(SDK_OP_GET, P("_\r\n"), true, &r), MQS_ERR_PROTOCOL);
    assert_int_equal(dec(SDK_OP_GET, P(":1\r\n"), true, &r), MQS_ERR_PROTOCOL);
}

static void del_vdel_replies(void **state)
{
    mqs_result r;
    assert_int_equal(dec(SDK_OP_DEL, P(":1\r\n"), true, &r), MQS_OK);
    assert_int_equal(r.count, 1);
    assert_int_equal(dec(SDK_OP_DEL, P(":0\r\n"), false, &r), MQS_OK);
    assert_int_equal(r.count, 0);
    assert_int_equal(dec(SDK_OP_DEL, P(":-1\r\n"), false, &r), MQS_ERR_PROTOCOL);
    assert_int_equal(dec(SDK_OP_DEL, P(":2\r\n"), false, &r), MQS_ERR_PROTOCOL);
    assert_int_equal(dec(SDK_OP_VDEL, P(":-1\r\n"), true, &r), MQS_OK);
    assert_int_equal(r.count, -1);
    assert_int_equal(dec(SDK_OP_VDEL, P(":1\r\n"), true, &r), MQS_OK);
    assert_int_equal(r.count, 1);
    assert_int_equal(dec(SDK_OP_VDEL, P(":-2\r\n"), true, &r), MQS_ERR_PROTOCOL);
    assert_int_equal(dec(SDK_OP_VDEL, P(":\r\n"), true, &r), MQS_ERR_PROTOCOL);
    assert_int_equal(dec(SDK_OP_VDEL, P(":1x\r\n"), true, &r), MQS_ERR_PROTOCOL);
}

static void keynotify_replies(void **state)
{
    mqs_result r;
    assert_int_equal(dec(SDK_OP_OBSERVE, P("+OK\r\n"), false, &r), MQS_OK);
    assert_int_equal(dec(SDK_OP_OBSERVE, P(":0\r\n"), false, &r), MQS_ERR_PROTOCOL);
    assert_int_equal(dec(SDK_OP_UNOBSERVE, P("+OK\r\n"), false, &r), MQS_OK);
    assert_true(r.removed);
    assert_int_equal(dec(SDK_OP_UNOBSERVE, P(":0\r\n"), false, &r), MQS_OK);
    assert_false(r.removed);
    assert_int_equal(dec(SDK_OP_UNOBSERVE, P(":1\r\n"), false, &r), MQS_ERR_PROTOCOL);
}

static void scan_replies(void **state)
{
    mqs_result r;
    assert_int_equal(dec(SDK_OP_SCAN, P("*1\r\n*2\r\n$4\r\nkey1\r\n$4\r\nkey2\r\n"), false, &r), MQS_OK);
    assert_int_equal(r.nkeys, 2);
    assert_false(r.more);
    assert_memory_equal(r.keys[1].data, "key2", 4);
    mqs_result_clear(&r);
    assert_int_equal(dec(SDK_OP_SCAN, P("*2\r\n*0\r\n$3\r\n\x00\xffx\r\n"), false, &r), MQS_OK);
    assert_true(r.more);
    assert_int_equal(r.nkeys, 0);
    assert_int_equal(r.keys[0].len, 3); /* the hidden token */
    mqs_result_clear(&r);
    static const char *bad[] = {"*0\r\n",
                                "*3\r\n*0\r\n$1\r\na\r\n$1\r\nb\r\n",
                                "*1\r\n$1\r\na\r\n",
                                "*-1\r\n",
                                "*1\r\n*1\r\n$-1\r\n",
                                "*2\r\n*0\r\n",
                                "*1\r\n*0\r\nX",
                                "*2\r\n*0\r\n:1\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(dec(SDK_OP_SCAN, (const uint8_t *)bad[i], strlen(bad[i]), false, &r), MQS_ERR_PROTOCOL);
}

static void error_texts(void **state)
{
    static const struct {
        const char *text;
        mqs_err err;
    } map[] = {
        {"the request timestamp is too far in the future; ensure that the client and broker "
         "system clocks are synchronized",
         MQS_ERR_TIMESTAMP_SKEW},
        {"a fencing token is required for this request", MQS_ERR_FENCING_REQUIRED},
        {"the request fencing token timestamp is too far in the future; ensure that the client "
         "and broker system clocks are synchronized",
         MQS_ERR_FENCING_SKEW},
        {"the request fencing token is a lower version than the fencing token protecting the "
         "resource",
         MQS_ERR_FENCING_LOWER},
        {"the quota has been exceeded", MQS_ERR_QUOTA},
        {"syntax error", MQS_ERR_SYNTAX},
        {"not authorized", MQS_ERR_NOT_AUTHORIZED},
        {"unknown command", MQS_ERR_UNKNOWN_COMMAND},
        {"wrong number of arguments", MQS_ERR_WRONG_ARGC},
        {"missing timestamp", MQS_ERR_MISSING_TIMESTAMP},
        {"malformed timestamp", MQS_ERR_MALFORMED_TIMESTAMP},
        {"the key length is zero", MQS_ERR_KEY_EMPTY},
        {"something new", MQS_ERR_SERVICE_UNKNOWN},
        {"", MQS_ERR_SERVICE_UNKNOWN},
    };
    for (size_t i = 0; i < sizeof map / sizeof *map; i++) {
        char payload[256];
        int n = snprintf(payload, sizeof payload, "-ERR %s\r\n", map[i].text);
        mqs_result r;
        assert_int_equal(dec(SDK_OP_GET, (const uint8_t *)payload, (size_t)n, false, &r), map[i].err);
        assert_string_equal(r.error_text, map[i].text); /* unknown texts preserved */
        assert_true(mqs_err_is_service(r.err));
        mqs_result_clear(&r);
        if (map[i].err != MQS_ERR_SERVICE_UNKNOWN) assert_string_equal(mqs_strerror(map[i].err), map[i].text);
    }
    mqs_result r;
    assert_int_equal(dec(SDK_OP_GET, P("-ERR\r\n"), false, &r), MQS_ERR_PROTOCOL);
    assert_int_equal(dec(SDK_OP_GET, P("-WRONGTYPE x\r\n"), false, &r), MQS_ERR_PROTOCOL);
}

static mqs_err env(const char *stat, const char *pv, const char *ts, const char *ct)
{
    sdk_envelope e = {stat, "boom", pv, ts, ct};
    mqs_result r = {0};
    hlc v;
    bool has;
    mqs_err err = sdk_envelope_check(&e, &r, &v, &has);
    if (err == MQS_ERR_STATUS) assert_string_equal(r.error_text, "boom");
    mqs_result_clear(&r);
    return err;
}

static void envelope(void **state)
{
    assert_int_equal(env("200", NULL, NULL, NULL), MQS_OK);
    assert_int_equal(env("200", "1.0", "1:0:n", "application/octet-stream"), MQS_OK);
    assert_int_equal(env("200", "1.7", NULL, NULL), MQS_OK);
    assert_int_equal(env(NULL, NULL, NULL, NULL), MQS_ERR_STATUS);
    assert_int_equal(env("204", NULL, NULL, NULL), MQS_ERR_STATUS);
    assert_int_equal(env("500", NULL, NULL, NULL), MQS_ERR_STATUS);
    assert_int_equal(env("200", "2.0", NULL, NULL), MQS_ERR_VERSION);
    assert_int_equal(env("200", "1", NULL, NULL), MQS_ERR_PROTOCOL);
    assert_int_equal(env("200", "x.0", NULL, NULL), MQS_ERR_PROTOCOL);
    assert_int_equal(env("200", NULL, "1:0", NULL), MQS_ERR_PROTOCOL);
    assert_int_equal(env("200", NULL, "1:0:", NULL), MQS_ERR_PROTOCOL);
    assert_int_equal(env("200", NULL, NULL, "text/plain"), MQS_ERR_PROTOCOL);
}

int run_reply_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set_replies),       cmocka_unit_test(get_replies),  cmocka_unit_test(del_vdel_replies),
        cmocka_unit_test(keynotify_replies), cmocka_unit_test(scan_replies), cmocka_unit_test(error_texts),
        cmocka_unit_test(envelope),
    };
    return cmocka_run_group_tests_name("sdk_reply", tests, NULL, NULL);
}
