/* The YAML configuration loader: good files and each class of bad input,
 * with the exact message (file, line, key) a user would see. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "server/config.h"
#include "server/config_reload.h"

static char err[512];

static int load(config *c, const char *yaml)
{
    err[0] = '\0';
    return config_load_string(c, "t.yaml", yaml, strlen(yaml), err, sizeof err);
}

/* Load into a fresh default config and expect exactly `want` as the error. */
static void expect_error(const char *yaml, const char *want)
{
    config c;
    config_init(&c);
    assert_int_equal(load(&c, yaml), -1);
    if (want) assert_string_equal(err, want); /* NULL: any error */
    config_free(&c);
}

static void test_defaults(void **state)
{
    (void)state;
    config c;
    config_init(&c);
    broker_limits def;
    broker_limits_default(&def);
    assert_int_equal(load(&c, ""), 0);
    assert_int_equal(load(&c, "# only a comment\n"), 0);
    assert_int_equal(load(&c, "---\n"), 0);
    assert_int_equal(c.log_level, LOG_INFO);
    assert_int_equal(c.nlisteners, 1);
    assert_string_equal(c.listeners[0].bind, "127.0.0.1");
    assert_int_equal(c.listeners[0].port, 1883);
    assert_memory_equal(&c.limits, &def, sizeof def);
    config_free(&c);
}

static void test_full_file(void **state)
{
    (void)state;
    config c;
    config_init(&c);
    broker_limits def;
    broker_limits_default(&def);
    int r = load(&c, "log_level: debug\n"
                     "listeners:\n"
                     "  - bind: 0.0.0.0\n"
                     "    port: 1884\n"
                     "  - bind: \"::1\"\n"
                     "  - port: 0\n"
                     "limits:\n"
                     "  max_packet_size: 65536\n"
                     "  receive_maximum: 10\n"
                     "  max_inflight: 20\n"
                     "  max_queued_messages: 1\n"
                     "  max_topic_levels: 8\n"
                     "  max_connections: 1000\n"
                     "  keepalive_min: 5\n"
                     "  keepalive_max: 600\n"
                     "  topic_alias_maximum: 0\n"
                     "  max_session_expiry: 4294967295\n"
                     "  max_backlog_bytes: 4096\n"
                     "  max_queued_bytes: 0\n"
                     "  slow_subscriber_timeout: 86400\n"
                     "  connect_timeout: 3\n"
                     "  max_connect_size: 4096\n"
                     "  close_timeout: 2\n"
                     "  max_pending_per_address: 0\n");
    assert_int_equal(r, 0);
    assert_int_equal(c.log_level, LOG_DEBUG);
    assert_int_equal(c.nlisteners, 3);
    assert_string_equal(c.listeners[0].bind, "0.0.0.0");
    assert_int_equal(c.listeners[0].port, 1884);
    assert_string_equal(c.listeners[1].bind, "::1");
    assert_int_equal(c.listeners[1].port, 1883);
    assert_string_equal(c.listeners[2].bind, "127.0.0.1");
    assert_int_equal(c.listeners[2].port, 0);
    assert_int_equal(c.limits.max_packet_size, 65536);
    assert_int_equal(c.limits.receive_max, 10);
    assert_int_equal(c.limits.max_inflight, 20);
    assert_int_equal(c.limits.max_queued, 1);
    assert_int_equal(c.limits.max_topic_levels, 8);
    assert_int_equal(c.limits.max_connections, 1000);
    assert_int_equal(c.limits.keepalive_min, 5);
    assert_int_equal(c.limits.keepalive_max, 600);
    assert_int_equal(c.limits.topic_alias_max, 0);
    assert_int_equal(c.limits.max_session_expiry, 4294967295u);
    assert_int_equal(c.limits.max_backlog_bytes, 4096);
    assert_int_equal(c.limits.max_queued_bytes, 0);
    assert_int_equal(c.limits.slow_subscriber_timeout, 86400);
    assert_int_equal(c.limits.connect_timeout, 3);
    assert_int_equal(c.limits.max_connect_size, 4096);
    assert_int_equal(c.limits.close_timeout, 2);
    assert_int_equal(c.limits.max_pending_per_address, 0);
    config_free(&c);
}

static void test_partial_limits_keep_defaults(void **state)
{
    (void)state;
    config c;
    config_init(&c);
    broker_limits def;
    broker_limits_default(&def);
    assert_int_equal(load(&c, "limits:\n  max_inflight: 7\n"), 0);
    assert_int_equal(c.limits.max_inflight, 7);
    def.max_inflight = 7;
    assert_memory_equal(&c.limits, &def, sizeof def);
    assert_int_equal(load(&c, "limits:\n"), 0); /* null section = empty */
    assert_int_equal(c.limits.max_inflight, 7);
    config_free(&c);
}

static void test_example_file(void **state)
{
    (void)state;
    config c;
    config_init(&c);
    int r = config_load_file(&c, MQS_SOURCE_DIR "/mqstated.example.yaml", err, sizeof err);
    if (r != 0) fail_msg("%s", err);
    assert_int_equal(c.nlisteners, 1);
    assert_int_equal(c.listeners[0].port, 1883);
    broker_limits lim;
    broker_limits_default(&lim);
    assert_int_equal(c.limits.max_queued_bytes, lim.max_queued_bytes);
    assert_int_equal(c.limits.slow_subscriber_timeout, lim.slow_subscriber_timeout);
    /* it spells out every store default */
    config def;
    config_init(&def);
    store_bridge_config got, want;
    config_store_bridge(&c, &got);
    config_store_bridge(&def, &want);
    assert_string_equal(got.store.node_id, want.store.node_id);
    assert_int_equal(got.store.limits.max_keys, want.store.limits.max_keys);
    assert_int_equal(got.store.limits.max_bytes, want.store.limits.max_bytes);
    assert_int_equal(got.store.limits.max_key_len, want.store.limits.max_key_len);
    assert_int_equal(got.store.scan_page_keys, want.store.scan_page_keys);
    assert_int_equal(got.store.scan_page_bytes, want.store.scan_page_bytes);
    assert_int_equal(got.store.max_notify_bytes, want.store.max_notify_bytes);
    assert_int_equal(got.reply_cache_entries, want.reply_cache_entries);
    assert_int_equal(got.reply_cache_bytes, want.reply_cache_bytes);
    config_free(&def);
    config_free(&c);
}

/* metrics: and sys_interval (docs/configuration.md): off by default, on
 * when the section is present, and each key's bounds. */
static void test_metrics_section(void **state)
{
    (void)state;
    config c;
    config_init(&c);
    assert_false(c.metrics.enabled);
    assert_int_equal(c.sys_interval, 10);
    assert_int_equal(load(&c, "sys_interval: 0\nmetrics: {}\n"), 0);
    assert_true(c.metrics.enabled);
    assert_string_equal(c.metrics.bind, "127.0.0.1");
    assert_int_equal(c.metrics.port, 9883);
    assert_int_equal(c.metrics.max_connections, 16);
    assert_int_equal(c.metrics.idle_timeout, 10);
    assert_false(c.metrics.tls.enabled);
    assert_int_equal(c.sys_interval, 0);
    config_free(&c);
    config_init(&c);
    assert_int_equal(load(&c,
                          "metrics:\n  bind: \"::1\"\n  port: 0\n  username: s\n"
                          "  password_hash: \"$pbkdf2-sha512$1000$AAAAAAAAAAAAAAAAAAAAAA==$"
                          "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\"\n"
                          "  tls: {cert_file: /c, key_file: /k}\n"),
                     0);
    assert_string_equal(c.metrics.username, "s");
    assert_int_equal(c.metrics.password.iterations, 1000);
    assert_true(c.metrics.tls.enabled);
    config_free(&c);
    expect_error("metrics:\n  username: s\n", "t.yaml:2: metrics: username and password_hash go together");
    expect_error("metrics:\n  password_hash: nope\n",
                 "t.yaml:2: metrics.password_hash: not a password hash made by `mqstated passwd` (unknown hash "
                 "scheme (expected $pbkdf2-sha512$))");
    expect_error("metrics:\n  max_connections: 0\n", NULL);
    expect_error("metrics:\n  username: \"a:b\"\n", NULL);
    expect_error("metrics:\n  bind: localhost\n", NULL);
    expect_error("metrics:\n  tls: {cert_file: /c}\n", NULL);
    expect_error("sys_interval: 86401\n", NULL);
    expect_error("metrics:\n  portt: 1\n", "t.yaml:2: unknown key \"metrics.portt\"");
}

static void test_store_defaults(void **state)
{
    (void)state;
    config c;
    config_init(&c);
    store_bridge_config def, got;
    store_bridge_config_default(&def);
    config_store_bridge(&c, &got);
    assert_string_equal(got.store.node_id, def.store.node_id);
    assert_int_equal(got.store.limits.max_keys, def.store.limits.max_keys);
    assert_int_equal(got.store.limits.max_bytes, def.store.limits.max_bytes);
    assert_int_equal(got.store.limits.max_key_len, def.store.limits.max_key_len);
    assert_int_equal(got.store.scan_page_keys, def.store.scan_page_keys);
    assert_int_equal(got.store.scan_page_bytes, def.store.scan_page_bytes);
    assert_int_equal(got.store.max_notify_bytes, def.store.max_notify_bytes);
    assert_int_equal(got.reply_cache_entries, def.reply_cache_entries);
    assert_int_equal(got.reply_cache_bytes, def.reply_cache_bytes);
    /* the documented values */
    assert_string_equal(got.store.node_id, "mqstated");
    assert_int_equal(got.store.limits.max_keys, 10000000);
    assert_int_equal(got.store.limits.max_bytes, 1073741824);
    assert_int_equal(got.store.limits.max_key_len, 16384);
    assert_int_equal(got.store.max_notify_bytes, 1048576);
    assert_int_equal(got.reply_cache_entries, 100000);
    assert_int_equal(got.reply_cache_bytes, 67108864);
    config_free(&c);
}

static void test_store_section(void **state)
{
    (void)state;
    config c;
    config_init(&c);
    int r = load(&c, "store:\n"
                     "  node_id: dss-1\n"
                     "  max_keys: 0\n"
                     "  max_bytes: 1048576\n"
                     "  max_key_len: 6500\n"
                     "  scan_page_keys: 10\n"
                     "  scan_page_bytes: 4096\n"
                     "  max_notify_bytes: 0\n"
                     "  reply_cache_entries: 5\n"
                     "  reply_cache_bytes: 8192\n");
    if (r != 0) fail_msg("%s", err);
    store_bridge_config got;
    config_store_bridge(&c, &got);
    assert_string_equal(got.store.node_id, "dss-1");
    assert_int_equal(got.store.limits.max_keys, 0);
    assert_int_equal(got.store.limits.max_bytes, 1048576);
    assert_int_equal(got.store.limits.max_key_len, 6500);
    assert_int_equal(got.store.scan_page_keys, 10);
    assert_int_equal(got.store.scan_page_bytes, 4096);
    assert_int_equal(got.store.max_notify_bytes, 0);
    assert_int_equal(got.reply_cache_entries, 5);
    assert_int_equal(got.reply_cache_bytes, 8192);
    /* a partial section keeps the rest; the id survives a struct copy */
    assert_int_equal(load(&c, "store:\n  max_keys: 7\n"), 0);
    config copy = c;
    config_store_bridge(&copy, &got);
    assert_string_equal(got.store.node_id, "dss-1");
    assert_int_equal(got.store.limits.max_keys, 7);
    assert_int_equal(got.reply_cache_entries, 5);
    config_free(&c);
}

static void test_store_errors(void **state)
{
    (void)state;
    const char *node = "expected a node id (1 to 64 printable ASCII characters, no ':' or spaces)";
    char want[256];
    snprintf(want, sizeof want, "t.yaml:2: store.node_id: %s, got \"a:b\"", node);
    expect_error("store:\n  node_id: \"a:b\"\n", want);
    snprintf(want, sizeof want, "t.yaml:2: store.node_id: %s, got \"\"", node);
    expect_error("store:\n  node_id: \"\"\n", want);
    snprintf(want, sizeof want, "t.yaml:2: store.node_id: %s, got \"a b\"", node);
    expect_error("store:\n  node_id: a b\n", want);
    snprintf(want, sizeof want, "t.yaml:2: store.node_id: %s, got a sequence", node);
    expect_error("store:\n  node_id: [x]\n", want);
    expect_error("store:\n  node_id: "
                 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz\n",
                 "t.yaml:2: store.node_id: expected a node id (1 to 64 printable ASCII characters, no ':' or "
                 "spaces), got \"abcdefghijklmnopqrstuvwxyzabcdefghijklmn...\"");
    expect_error("store:\n  max_keys: -1\n",
                 "t.yaml:2: store.max_keys: expected an integer between 0 and 4294967295, got \"-1\"");
    expect_error("store:\n  scan_page_keys: 0\n",
                 "t.yaml:2: store.scan_page_keys: expected an integer between 1 and 1000000, got \"0\"");
    expect_error("store:\n  reply_cache_entries: 0\n",
                 "t.yaml:2: store.reply_cache_entries: expected an integer between 1 and 100000000, got \"0\"");
    expect_error("store:\n  reply_cache_bytes: 100\n",
                 "t.yaml:2: store.reply_cache_bytes: expected an integer between 4096 and 1099511627776, got \"100\"");
    expect_error(
        "store:\n  max_notify_bytes: 1099511627777\n",
        "t.yaml:2: store.max_notify_bytes: expected an integer between 0 and 1099511627776, got \"1099511627777\"");
    expect_error("store:\n  max_key: 1\n", "t.yaml:2: unknown key \"store.max_key\"");
    expect_error("store:\n  max_keys: 1\n  max_keys: 2\n", "t.yaml:3: duplicate key \"store.max_keys\"");
    expect_error("store: 5\n", "t.yaml:1: store: expected a mapping, got a scalar");
}

/* persistence.snapshot_log_bytes: default 64 MiB, 0 = never, bounded. */
static void test_snapshot_log_bytes(void **state)
{
    (void)state;
    config c;
    config_init(&c);
    assert_int_equal(c.persistence.snapshot_log_bytes, 64u << 20);
    assert_int_equal(load(&c, "persistence:\n  dir: /tmp/x\n  snapshot_log_bytes: 4096\n"), 0);
    assert_int_equal(c.persistence.snapshot_log_bytes, 4096);
    assert_int_equal(load(&c, "persistence:\n  snapshot_log_bytes: 0\n"), 0);
    assert_int_equal(c.persistence.snapshot_log_bytes, 0);
    config_free(&c);
    config_init(&c);
    assert_int_equal(load(&c, "persistence:\n  snapshot_log_bytes: -1\n"), -1);
    assert_non_null(strstr(err, "snapshot_log_bytes"));
    config_free(&c);
}

/* persistence.retained: all (default) | none | {topics: [filters]}. */
static void test_persistence_retained(void **state)
{
    (void)state;
    config c;
    config_init(&c);
    assert_int_equal(c.persistence.retained, BROKER_PERSIST_ALL);
    assert_int_equal(load(&c, "persistence:\n  retained: none\n"), 0);
    assert_int_equal(c.persistence.retained, BROKER_PERSIST_NONE);
    assert_int_equal(load(&c, "persistence:\n  retained:\n    topics: [a/#, \"+/b\", \"$sys/x\"]\n"), 0);
    assert_int_equal(c.persistence.retained, BROKER_PERSIST_SOME);
    broker_persist_select sel;
    mqtt_bytes topics[CONFIG_RETAINED_TOPICS_MAX];
    config_broker_persist(&c.persistence, &sel, topics);
    assert_int_equal(sel.n_retained_topics, 3);
    assert_true(sel.retained_topics[1].len == 3 && !memcmp(sel.retained_topics[1].data, "+/b", 3));
    assert_true(sel.retained_topics[2].len == 6 && !memcmp(sel.retained_topics[2].data, "$sys/x", 6));
    assert_int_equal(load(&c, "persistence:\n  retained: all\n"), 0);
    assert_int_equal(c.persistence.retained, BROKER_PERSIST_ALL);
    assert_int_equal(c.persistence.n_retained_topics, 0);
    config_free(&c);
    config_init(&c);
    assert_int_equal(load(&c, "persistence:\n  retained:\n    topics: [a/#, a/#/b]\n"), -1);
    assert_string_equal(err, "t.yaml:3: persistence.retained.topics[1]: \"a/#/b\" is not a valid topic filter (MQTT "
                             "syntax, no $share)");
    assert_int_equal(load(&c, "persistence:\n  retained:\n    topics: []\n"), -1);
    assert_non_null(strstr(err, "expected at least one topic filter"));
    assert_int_equal(load(&c, "persistence:\n  retained:\n    topics: [\"$share/g/a\"]\n"), -1);
    assert_non_null(strstr(err, "not a valid topic filter"));
    assert_int_equal(load(&c, "persistence:\n  retained:\n    filters: [a]\n"), -1);
    assert_non_null(strstr(err, "unknown key \"filters\" (expected topics)"));
    assert_int_equal(load(&c, "persistence:\n  retained: some\n"), -1);
    assert_non_null(strstr(err, "expected all, none or {topics: [filter, ...]}"));
    assert_int_equal(load(&c, "persistence:\n  retained:\n    topics: a/#\n"), -1);
    assert_non_null(strstr(err, "expected a sequence of topic filters"));
    assert_int_equal(c.persistence.retained, BROKER_PERSIST_ALL); /* failed loads changed nothing */
    config_free(&c);
}

static void test_missing_file(void **state)
{
    (void)state;
    config c;
    config_init(&c);
    assert_int_equal(config_load_file(&c, "/nonexistent/mq.yaml", err, sizeof err), -1);
    assert_string_equal(err, "/nonexistent/mq.yaml: No such file or directory");
    config_free(&c);
}

static void test_unknown_keys(void **state)
{
    (void)state;
    expect_error("log_level: info\n\nlistner:\n  - port: 1\n", "t.yaml:3: unknown key \"listner\"");
    expect_error("limits:\n  max_inflight: 5\n  max_inflite: 5\n", "t.yaml:3: unknown key \"limits.max_inflite\"");
    expect_error("listeners:\n  - bind: 127.0.0.1\n    prot: 5\n", "t.yaml:3: unknown key \"listeners[0].prot\"");
    /* A NUL inside a quoted key must not make it match a real key. */
    expect_error("\"log_level\\0x\": info\n", "t.yaml:1: unknown key \"log_level?x\"");
}

static void test_websocket_listener(void **state)
{
    (void)state;
    config c;
    config_init(&c);
    assert_false(c.listeners[0].websocket);
    assert_string_equal(c.listeners[0].websocket_path, "/mqtt");
    assert_int_equal(load(&c, "listeners:\n  - port: 1\n  - port: 2\n    websocket: true\n"
                              "  - port: 3\n    websocket: true\n    websocket_path: /ws/mqtt-v5\n"),
                     0);
    assert_int_equal(c.nlisteners, 3);
    assert_false(c.listeners[0].websocket);
    assert_true(c.listeners[1].websocket);
    assert_string_equal(c.listeners[1].websocket_path, "/mqtt");
    assert_true(c.listeners[2].websocket);
    assert_string_equal(c.listeners[2].websocket_path, "/ws/mqtt-v5");
    config_free(&c);
    expect_error("listeners:\n  - websocket: yes\n",
                 "t.yaml:2: listeners[0].websocket: expected true or false, got \"yes\"");
    expect_error("listeners:\n  - websocket_path: /x\n",
                 "t.yaml:2: listeners[0].websocket_path: needs websocket: true");
    const char *want = "t.yaml:2: listeners[0].websocket_path: expected a path starting with / (visible ASCII, no ? "
                       "or #), got \"%s\"";
    const char *bad[] = {"mqtt", "/a b", "/a?b", "/a#b", "\"\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char yaml[128], msg[256];
        snprintf(yaml, sizeof yaml, "listeners:\n  - websocket_path: %s\n    websocket: true\n", bad[i]);
        snprintf(msg, sizeof msg, want, i == 4 ? "" : bad[i]);
        expect_error(yaml, msg);
    }
}

static void test_bad_integers(void **state)
{
    (void)state;
    expect_error("log_level: info\nlisteners:\n  - port: 1883\n\nlimits:\n  max_packet_size: 1024\n"
                 "  max_inflight: abc\n",
                 "t.yaml:7: limits.max_inflight: expected an integer between 1 and 65535, got \"abc\"");
    expect_error("limits:\n  max_inflight: 0\n",
                 "t.yaml:2: limits.max_inflight: expected an integer between 1 and 65535, got \"0\"");
    expect_error("limits:\n  max_packet_size: 268435456\n",
                 "t.yaml:2: limits.max_packet_size: expected an integer between 16 and 268435455, got \"268435456\"");
    expect_error("limits:\n  close_timeout: 0\n",
                 "t.yaml:2: limits.close_timeout: expected an integer between 1 and 3600, got \"0\"");
    expect_error("limits:\n  max_connect_size: 15\n",
                 "t.yaml:2: limits.max_connect_size: expected an integer between 16 and 268435455, got \"15\"");
    expect_error("limits:\n  max_queued_messages: -1\n",
                 "t.yaml:2: limits.max_queued_messages: expected an integer between 1 and 10000000, got \"-1\"");
    expect_error("limits:\n  max_session_expiry: 99999999999999999999999\n",
                 "t.yaml:2: limits.max_session_expiry: expected an integer between 0 and 4294967295, "
                 "got \"99999999999999999999999\"");
    expect_error("limits:\n  max_backlog_bytes: 0x1000\n",
                 "t.yaml:2: limits.max_backlog_bytes: expected an integer between 4096 and 1073741824, got \"0x1000\"");
    expect_error("limits:\n  max_queued_bytes: 1073741825\n",
                 "t.yaml:2: limits.max_queued_bytes: expected an integer between 0 and 1073741824, got \"1073741825\"");
    expect_error("limits:\n  slow_subscriber_timeout: 86401\n",
                 "t.yaml:2: limits.slow_subscriber_timeout: expected an integer between 0 and 86400, got \"86401\"");
    expect_error("listeners:\n  - port: 65536\n",
                 "t.yaml:2: listeners[0].port: expected an integer between 0 and 65535, got \"65536\"");
}

static void test_wrong_types(void **state)
{
    (void)state;
    expect_error("limits: [1, 2]\n", "t.yaml:1: limits: expected a mapping, got a sequence");
    expect_error("limits: 5\n", "t.yaml:1: limits: expected a mapping, got a scalar");
    expect_error("listeners:\n  bind: 127.0.0.1\n", "t.yaml:2: listeners: expected a sequence, got a mapping");
    expect_error("listeners:\n  - 127.0.0.1\n", "t.yaml:2: listeners[0]: expected a mapping, got a scalar");
    expect_error("limits:\n  max_inflight:\n    a: 1\n",
                 "t.yaml:3: limits.max_inflight: expected an integer between 1 and 65535, got a mapping");
    expect_error("log_level: [info]\n",
                 "t.yaml:1: log_level: expected one of error, warn, info, debug, got a sequence");
    expect_error("- a\n- b\n", "t.yaml:1: expected a mapping at the top level, got a sequence");
    expect_error("? [a]\n: 1\n", "t.yaml:1: expected a key, got a sequence");
}

static void test_bad_values(void **state)
{
    (void)state;
    expect_error("log_level: loud\n", "t.yaml:1: log_level: expected one of error, warn, info, debug, got \"loud\"");
    expect_error("listeners:\n  - bind: localhost\n",
                 "t.yaml:2: listeners[0].bind: expected an IPv4 or IPv6 address, got \"localhost\"");
    expect_error("limits:\n  keepalive_min: 60\n  keepalive_max: 30\n",
                 "t.yaml:3: limits.keepalive_max: must be at least keepalive_min (60), got 30");
}

static void test_listener_list(void **state)
{
    (void)state;
    expect_error("listeners: []\n", "t.yaml:1: listeners: expected at least one listener");
    expect_error("log_level: info\nlisteners:\n", "t.yaml:2: listeners: expected at least one listener");
}

static void test_duplicates(void **state)
{
    (void)state;
    expect_error("limits:\n  max_inflight: 5\n  max_inflight: 6\n", "t.yaml:3: duplicate key \"limits.max_inflight\"");
    expect_error("log_level: info\nlog_level: warn\n", "t.yaml:2: duplicate key \"log_level\"");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    expect_error("limits:\n  max_inflight: 5\n max_queued_messages: 3\n",
                 "t.yaml:3: YAML syntax error: did not find expected key while parsing a block mapping");
    expect_error("limits: {max_inflight: 5\n",
                 "t.yaml:2: YAML syntax error: did not find expected ',' or '}' while parsing a flow mapping");
    expect_error("log_level: info\n---\nlog_level: warn\n", "t.yaml:3: expected a single YAML document");
}

static void test_failed_load_keeps_config(void **state)
{
    (void)state;
    config c;
    config_init(&c);
    assert_int_equal(load(&c, "listeners:\n  - port: 2000\nlimits:\n  max_inflight: 9\n"), 0);
    assert_int_equal(load(&c, "listeners:\n  - port: 3000\nlimits:\n  max_inflight: 0\n"), -1);
    assert_int_equal(c.listeners[0].port, 2000);
    assert_int_equal(c.limits.max_inflight, 9);
    config_free(&c);
}

/* --bind/--port change the address of the only listener and keep its
 * TLS and authentication: no flag can make a secured listener open. */
static void test_override_listener(void **state)
{
    (void)state;
    config c;
    config_init(&c);
    assert_int_equal(load(&c, "listeners:\n  - port: 1\n    authentication:\n      methods: [password]\n"
                              "      password_file: /p\n    tls:\n      cert_file: /c\n      key_file: /k\n"),
                     0);
    /* A loopback listener is not made public from the command line. */
    assert_int_equal(config_override_listener(&c, "0.0.0.0", 1999, err, sizeof err), -1);
    assert_string_equal(err, "--bind 0.0.0.0: the listener is on loopback address 127.0.0.1; a public address must "
                             "be set in the configuration file, with an authentication section (see docs/security.md)");
    assert_int_equal(config_override_listener(&c, "::1", 1999, err, sizeof err), 0);
    assert_int_equal(load(&c, "listeners:\n  - bind: 0.0.0.0\n    authentication:\n      methods: [password]\n"
                              "      password_file: /p\n    tls:\n      cert_file: /c\n      key_file: /k\n"),
                     0);
    assert_int_equal(config_override_listener(&c, "::", 1999, err, sizeof err), 0); /* public to public */
    assert_int_equal(c.nlisteners, 1);
    assert_string_equal(c.listeners[0].bind, "::");
    assert_int_equal(c.listeners[0].port, 1999);
    assert_true(c.listeners[0].has_authn);
    assert_true(c.listeners[0].tls.enabled);
    assert_string_equal(c.listeners[0].authn.password_file, "/p");
    assert_int_equal(config_override_listener(&c, NULL, 7, err, sizeof err), 0);
    assert_string_equal(c.listeners[0].bind, "::");
    assert_int_equal(c.listeners[0].port, 7);
    assert_int_equal(config_check_listeners(&c, err, sizeof err), 0);
    assert_false(c.listeners[0].authn.open);
    assert_int_equal(config_override_listener(&c, "example.org", 1, err, sizeof err), -1);
    assert_string_equal(err, "--bind: expected an IPv4 or IPv6 address, got \"example.org\"");
    /* Several listeners: which one would be meant is a guess. */
    assert_int_equal(load(&c, "listeners:\n  - port: 1\n  - port: 2\n"), 0);
    assert_int_equal(config_override_listener(&c, NULL, 1999, err, sizeof err), -1);
    assert_string_equal(err, "--bind/--port: the configuration has 2 listeners; set their addresses in the file");
    assert_int_equal(c.nlisteners, 2);
    assert_int_equal(config_parse_log_level("warn"), LOG_WARN);
    assert_int_equal(config_parse_log_level("verbose"), -1);
    config_free(&c);
}

/* SIGHUP: runtime limits and log_level are taken, the rest keeps its
 * running value (and is counted, for its log line). */
static void test_reload_merge(void **state)
{
    (void)state;
    config run, next;
    config_init(&run);
    config_init(&next);
    config_running r;
    config_running_set(&r, &run);
    assert_int_equal(config_reload_merge(&r, &next), 0);
    assert_int_equal(load(&next, "log_level: debug\nlimits:\n  max_connections: 5\n  receive_maximum: 10\n"
                                 "store:\n  node_id: other\n  max_keys: 7\n"),
                     0);
    assert_int_equal(config_reload_merge(&r, &next), 5);
    assert_int_equal(next.log_level, LOG_DEBUG);
    assert_int_equal(next.limits.max_connections, 5);
    assert_int_equal(next.limits.receive_max, run.limits.receive_max); /* advertised in CONNACK: restart */
    assert_string_equal(next.store.node_id, "mqstated");
    assert_int_equal(next.store.bridge.store.limits.max_keys, run.store.bridge.store.limits.max_keys);
    config_free(&run);
    config_free(&next);
}

/* The log: section: defaults, every key, log.level as the same setting
 * as log_level, and the errors. */
static void test_log_section(void **state)
{
    (void)state;
    config c;
    config_init(&c);
    assert_int_equal(c.log.destination, CONFIG_LOG_STDERR);
    assert_int_equal(c.log.format, LOG_FORMAT_TEXT);
    assert_string_equal(c.log.file, "");
    assert_int_equal(load(&c, "log:\n  destination: file\n  file: /var/log/mqstated.log\n  format: json\n"
                              "  level: debug\n"),
                     0);
    assert_int_equal(c.log.destination, CONFIG_LOG_FILE);
    assert_string_equal(c.log.file, "/var/log/mqstated.log");
    assert_int_equal(c.log.format, LOG_FORMAT_JSON);
    assert_int_equal(c.log_level, LOG_DEBUG); /* what the server applies */
    config_free(&c);
    config_init(&c);
    assert_int_equal(load(&c, "log:\n  destination: syslog\n  level: warning\n"), 0);
    assert_int_equal(c.log.destination, CONFIG_LOG_SYSLOG);
    assert_int_equal(c.log_level, LOG_WARN);
    assert_int_equal(load(&c, "log_level: error\nlog:\n  level: error\n"), 0); /* both, agreeing */
    assert_int_equal(c.log_level, LOG_ERROR);
    assert_int_equal(load(&c, "log_level: debug\n"), 0); /* the older spelling alone */
    assert_int_equal(c.log_level, LOG_DEBUG);
    config_free(&c);
    expect_error("log_level: info\nlog:\n  level: debug\n",
                 "t.yaml:3: log.level: debug conflicts with log_level: info at line 1 (the same setting: write one of "
                 "them)");
    expect_error("log:\n  level: warn\nlog_level: error\n",
                 "t.yaml:2: log.level: warn conflicts with log_level: error at line 3 (the same setting: write one of "
                 "them)");
    expect_error("log:\n  destination: file\n", "t.yaml:2: log.file: required with destination: file");
    expect_error("log:\n  file: /tmp/x.log\n",
                 "t.yaml:2: log.file: only allowed with destination: file (destination is stderr)");
    expect_error("log:\n  destination: journal\n",
                 "t.yaml:2: log.destination: expected one of stderr, file, syslog, got \"journal\"");
    expect_error("log:\n  format: xml\n", "t.yaml:2: log.format: expected one of text, json, got \"xml\"");
    expect_error("log:\n  level: loud\n",
                 "t.yaml:2: log.level: expected one of error, warn, info, debug, got \"loud\"");
    expect_error("log:\n  colour: true\n", "t.yaml:2: unknown key \"log.colour\"");
}

/* A reload applies every log: setting and says so. */
static void test_reload_log(void **state)
{
    (void)state;
    config run, next;
    config_init(&run);
    config_init(&next);
    config_running r;
    config_running_set(&r, &run);
    assert_int_equal(load(&next, "log:\n  destination: file\n  file: /x.log\n  format: json\n"), 0);
    assert_int_equal(config_reload_merge(&r, &next), 2); /* destination (with file), format */
    assert_int_equal(next.log.destination, CONFIG_LOG_FILE);
    assert_int_equal(next.log.format, LOG_FORMAT_JSON);
    config_free(&run);
    config_free(&next);
}

/* persistence.state_store: modes, keys (Pattern, String, Binary in
 * base64) and dynamic, with their defaults and errors. */
static void test_state_store_selection(void **state)
{
    (void)state;
    config c;
    config_init(&c);
    const config_persistence *p = &c.persistence;
    assert_int_equal(p->state_store, CONFIG_PERSIST_ALL);
    assert_int_equal(p->ss_keys.n, 0);
    assert_true(p->ss_dynamic.enabled);
    assert_string_equal(p->ss_dynamic.property, "aio-persistence");
    assert_string_equal(p->ss_dynamic.value, "true");
    assert_int_equal(load(&c, "persistence:\n  state_store:\n    mode: none\n"), 0);
    assert_int_equal(p->state_store, CONFIG_PERSIST_NONE);
    assert_int_equal(load(&c, "persistence:\n"
                              "  state_store:\n"
                              "    mode: custom\n"
                              "    keys:\n"
                              "      - keyType: Pattern\n"
                              "        keys: [\"sensor/*\", \"cfg-?\"]\n"
                              "      - {keyType: string, keys: [exact]}\n"
                              "      - keyType: Binary\n"
                              "        keys: [\"AP8=\"]\n"
                              "    dynamic:\n"
                              "      enabled: false\n"
                              "      property: keep\n"
                              "      value: \"yes\"\n"),
                     0);
    assert_int_equal(p->state_store, CONFIG_PERSIST_CUSTOM);
    assert_int_equal(p->ss_keys.n, 4);
    assert_true(store_persist_rules_match(&p->ss_keys, (const uint8_t *)"sensor/a/b", 10));
    assert_true(store_persist_rules_match(&p->ss_keys, (const uint8_t *)"cfg-1", 5));
    assert_false(store_persist_rules_match(&p->ss_keys, (const uint8_t *)"cfg-12", 6));
    assert_true(store_persist_rules_match(&p->ss_keys, (const uint8_t *)"exact", 5));
    assert_false(store_persist_rules_match(&p->ss_keys, (const uint8_t *)"exactly", 7));
    assert_true(store_persist_rules_match(&p->ss_keys, (const uint8_t *)"\x00\xff", 2));
    assert_false(p->ss_dynamic.enabled);
    assert_string_equal(p->ss_dynamic.property, "keep");
    assert_string_equal(p->ss_dynamic.value, "yes");
    /* The bridge gets them. */
    store_bridge_config bc;
    config_store_bridge(&c, &bc);
    assert_int_equal(bc.persist, STORE_BRIDGE_PERSIST_CUSTOM);
    assert_false(bc.dynamic);
    assert_string_equal(bc.property, "keep");
    assert_int_equal(bc.keys->n, 4);
    config_free(&c);

    const char *ss = "persistence:\n  state_store:\n    mode: custom\n";
    char y[512];
    snprintf(y, sizeof y, "%s    keys:\n      - keyType: Binary\n        keys: [\"a*b\"]\n", ss);
    expect_error(y, "t.yaml:6: persistence.state_store.keys[0].keys[0]: expected a base64 key (RFC 4648, standard "
                    "alphabet, '=' padding), got \"a*b\"");
    snprintf(y, sizeof y, "%s    keys:\n      - keyType: Glob\n        keys: [a]\n", ss);
    expect_error(y, "t.yaml:5: persistence.state_store.keys[0].keyType: expected one of Pattern, String, Binary, got "
                    "\"Glob\"");
    snprintf(y, sizeof y, "%s    keys:\n      - keyType: Pattern\n        keys: [\"[ab\"]\n", ss);
    expect_error(y, "t.yaml:6: persistence.state_store.keys[0].keys[0]: invalid pattern (not UTF-8, or an "
                    "unterminated [class])");
    snprintf(y, sizeof y, "%s    keys:\n      - keyType: String\n        keys: [\"\"]\n", ss);
    expect_error(y, "t.yaml:6: persistence.state_store.keys[0].keys[0]: a key or pattern must not be empty");
    snprintf(y, sizeof y, "%s    keys:\n      - keyType: String\n", ss);
    expect_error(y, "t.yaml:5: persistence.state_store.keys[0]: keys missing (a list of keys)");
    snprintf(y, sizeof y, "%s    keys:\n      - keys: [a]\n", ss);
    expect_error(y, "t.yaml:5: persistence.state_store.keys[0]: keyType missing (Pattern, String or Binary)");
    snprintf(y, sizeof y, "%s    keys:\n      - keyType: String\n        keys: []\n", ss);
    expect_error(y, "t.yaml:6: persistence.state_store.keys[0].keys: expected a non-empty list of keys, got a "
                    "sequence");
    snprintf(y, sizeof y, "%s    keys:\n      - keyType: String\n        keys: [a]\n        key: b\n", ss);
    expect_error(y, "t.yaml:7: unknown key \"persistence.state_store.keys[0].key\"");
    snprintf(y, sizeof y, "%s    keys: exact\n", ss);
    expect_error(y, "t.yaml:4: persistence.state_store.keys: expected a list of {keyType, keys}, got a scalar");
    snprintf(y, sizeof y, "%s    dynamic:\n      enabled: yes\n", ss);
    expect_error(y, "t.yaml:5: persistence.state_store.dynamic.enabled: expected true or false, got \"yes\"");
    snprintf(y, sizeof y, "%s    dynamic:\n      value: \"\"\n", ss);
    expect_error(y, "t.yaml:5: persistence.state_store.dynamic.value: expected 1 to 256 bytes (no NUL)");
    expect_error("persistence:\n  state_store:\n    keys:\n      - {keyType: String, keys: [a]}\n",
                 "t.yaml:4: persistence.state_store.keys: only allowed with mode: custom (mode is all)");
    expect_error("persistence:\n  state_store:\n    mode: none\n    dynamic: {enabled: true}\n",
                 "t.yaml:4: persistence.state_store.dynamic: only allowed with mode: custom (mode is none)");
    /* The bound on the number of keys. */
    buf big = {0};
    buf_append(&big, ss, strlen(ss));
    const char *head = "    keys:\n      - keyType: String\n        keys:\n";
    buf_append(&big, head, strlen(head));
    for (int i = 0; i <= STORE_PERSIST_RULES_MAX; i++) {
        char line[32];
        int n = snprintf(line, sizeof line, "          - k%d\n", i);
        buf_append(&big, line, (size_t)n);
    }
    config_init(&c);
    assert_int_equal(config_load_string(&c, "t.yaml", big.data, big.len, err, sizeof err), -1);
    assert_non_null(strstr(err, "persistence.state_store.keys[0].keys[256]: too many keys (at most 256 entries"));
    config_free(&c);
    buf_free(&big);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_partial_limits_keep_defaults),
        cmocka_unit_test(test_example_file),
        cmocka_unit_test(test_store_defaults),
        cmocka_unit_test(test_store_section),
        cmocka_unit_test(test_store_errors),
        cmocka_unit_test(test_metrics_section),
        cmocka_unit_test(test_state_store_selection),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_websocket_listener),
        cmocka_unit_test(test_bad_integers),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_listener_list),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_failed_load_keeps_config),
        cmocka_unit_test(test_override_listener),
        cmocka_unit_test(test_reload_merge),
        cmocka_unit_test(test_log_section),
        cmocka_unit_test(test_reload_log),
        cmocka_unit_test(test_snapshot_log_bytes),
        cmocka_unit_test(test_persistence_retained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
