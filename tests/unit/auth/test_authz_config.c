/* The `authorization:` YAML section (src/server/config_authz.c): a full
 * policy loads and decides as written; every error names file, line, key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "auth/authz.h"
#include "auth/principal.h"
#include "server/config.h"

static const char full[] = "authorization:\n"
                           "  enabled: true\n"
                           "  rules:\n"
                           "    - principals:\n"
                           "        clientIds: [sensor-1]\n"
                           "        usernames: [alice]\n"
                           "        attributes:\n"
                           "          - {building: b22, floor: \"3\"}\n"
                           "      brokerResources:\n"
                           "        - method: connect\n"
                           "        - method: Publish\n"
                           "          topics: [\"clients/{principal.clientId}/#\"]\n"
                           "        - method: SUBSCRIBE\n"
                           "          topics: [\"dash/+\"]\n"
                           "      stateStoreResources:\n"
                           "        - method: readwrite\n"
                           "          keys: [\"own/{principal.clientId}/*\"]\n"
                           "        - method: Read\n"
                           "          keyType: string\n"
                           "          keys: [\"lit*\"]\n"
                           "        - keys: [AP8Q]\n"
                           "          keyType: Binary\n"
                           "          method: Write\n";

static void test_full_policy(void **state)
{
    (void)state;
    config c;
    char err[512] = "";
    config_init(&c);
    assert_int_equal(config_load_string(&c, "a.yaml", full, strlen(full), err, sizeof err), 0);
    authz *a = config_authz_take(&c.authz);
    assert_true(authz_enabled(a));
    principal *p = principal_new("sensor-1", 8, NULL, 0, "anonymous");
    assert_true(authz_connect(a, p));
    assert_true(authz_publish(a, p, (const uint8_t *)"clients/sensor-1/t", 18));
    assert_false(authz_publish(a, p, (const uint8_t *)"clients/x/t", 11));
    assert_true(authz_subscribe(a, p, (const uint8_t *)"dash/+", 6));
    assert_true(authz_key(a, p, (const uint8_t *)"own/sensor-1/k", 14, AUTHZ_WRITE));
    assert_true(authz_key(a, p, (const uint8_t *)"lit*", 4, AUTHZ_READ));
    assert_false(authz_key(a, p, (const uint8_t *)"litx", 4, AUTHZ_READ));
    static const uint8_t bin[] = {0x00, 0xff, 0x10};
    assert_true(authz_key(a, p, bin, 3, AUTHZ_WRITE));
    assert_false(authz_key(a, p, bin, 3, AUTHZ_READ));
    principal_free(p);
    authz_free(a);
    config_free(&c);
}

static void test_defaults_and_failed_load_keeps_rules(void **state)
{
    (void)state;
    config c;
    char err[512] = "";
    config_init(&c);
    assert_false(c.authz.enabled);
    assert_null(c.authz.rules);
    assert_int_equal(config_load_string(&c, "a.yaml", full, strlen(full), err, sizeof err), 0);
    struct authz *before = c.authz.rules;
    const char bad[] = "authorization:\n  rules: []\nlog_level: loud\n";
    assert_int_equal(config_load_string(&c, "b.yaml", bad, strlen(bad), err, sizeof err), -1);
    assert_ptr_equal(c.authz.rules, before); /* the new (empty) rules were discarded */
    const char more[] = "authorization:\n  allow_all_keys_without_rules: true\n  rules: []\n";
    assert_int_equal(config_load_string(&c, "c.yaml", more, strlen(more), err, sizeof err), 0);
    assert_true(c.authz.enabled); /* kept from the first file */
    authz *a = config_authz_take(&c.authz);
    principal *p = principal_new("x", 1, NULL, 0, "anonymous");
    assert_true(authz_key(a, p, (const uint8_t *)"k", 1, AUTHZ_WRITE)); /* compatibility switch */
    assert_false(authz_connect(a, p));
    principal_free(p);
    authz_free(a);
    config_free(&c);
}

static void expect_error(const char *yaml, const char *expect)
{
    config c;
    char err[512] = "";
    config_init(&c);
    int r = config_load_string(&c, "t.yaml", yaml, strlen(yaml), err, sizeof err);
    if (r != -1 || !strstr(err, expect)) fail_msg("for:\n%s\ngot: %s\nwant: %s", yaml, err, expect);
    config_free(&c);
}

#define RULE "authorization:\n  rules:\n    - principals: {clientIds: [a]}\n"

static void test_errors(void **state)
{
    (void)state;
    expect_error("authorization:\n  enabled: yes\n", "t.yaml:2: authorization.enabled: expected true or false");
    expect_error("authorization:\n  enable: true\n", "t.yaml:2: unknown key \"authorization.enable\"");
    expect_error("authorization:\n  rules: {}\n", "t.yaml:2: authorization.rules: expected a sequence");
    expect_error("authorization:\n  rules:\n    - brokerResources: []\n",
                 "t.yaml:3: authorization.rules[0]: a rule needs principals");
    expect_error("authorization:\n  rules:\n    - principals: {clientid: [a]}\n",
                 "t.yaml:3: unknown key \"authorization.rules[0].principals.clientid\"");
    expect_error("authorization:\n  rules:\n    - principals:\n        attributes: [{}]\n",
                 "t.yaml:4: authorization.rules[0].principals.attributes[0]: an attributes entry needs");
    expect_error(RULE "      brokerResources:\n        - method: Pub\n",
                 "t.yaml:5: authorization.rules[0].brokerResources[0].method: expected Connect, Publish or "
                 "Subscribe, got \"Pub\"");
    expect_error(RULE "      brokerResources:\n        - topics: [a]\n",
                 "t.yaml:5: authorization.rules[0].brokerResources[0].method: required");
    expect_error(RULE "      brokerResources:\n        - method: Publish\n          topics:\n            - ok\n"
                      "            - a/#/b\n",
                 "t.yaml:8: authorization.rules[0].brokerResources[0].topics[1]: not a valid MQTT topic filter");
    expect_error(RULE "      brokerResources:\n        - method: Publish\n          topics: [\"{principal.id}\"]\n",
                 "t.yaml:6: authorization.rules[0].brokerResources[0].topics[0]: unknown token");
    expect_error(RULE "      brokerResources:\n        - method: Publish\n",
                 "t.yaml:5: authorization.rules[0].brokerResources[0]: Publish and Subscribe need at least one");
    expect_error(RULE "      stateStoreResources:\n        - method: read\n          keyType: Glob\n"
                      "          keys: [a]\n",
                 "t.yaml:6: authorization.rules[0].stateStoreResources[0].keyType: expected Pattern, String or "
                 "Binary");
    expect_error(RULE "      stateStoreResources:\n        - method: Read\n          keyType: Binary\n"
                      "          keys: [\"not base64!\"]\n",
                 "t.yaml:7: authorization.rules[0].stateStoreResources[0].keys[0]: not valid base64");
    expect_error(RULE "      stateStoreResources:\n        - method: Read\n          keys: [\"[abc\"]\n",
                 "t.yaml:6: authorization.rules[0].stateStoreResources[0].keys[0]: not a valid pattern");
    expect_error(RULE "      stateStoreResources:\n        - keys: [a]\n",
                 "t.yaml:5: authorization.rules[0].stateStoreResources[0].method: required");
    expect_error(RULE "      stateStoreResources:\n        - method: Read\n",
                 "t.yaml:5: authorization.rules[0].stateStoreResources[0].keys: at least one key");
    expect_error(RULE "      stateStoreResources:\n        - method: Read\n          keys: [\"\"]\n",
                 "t.yaml:6: authorization.rules[0].stateStoreResources[0].keys[0]: empty key");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_policy),
        cmocka_unit_test(test_defaults_and_failed_load_keeps_rules),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
