/* Authorization rules (protocol §10, docs/security-authorization.md):
 * CONNECT, PUBLISH and SUBSCRIBE decided by topic rules with substitution,
 * state store keys by key rules of each type and method (GET, SET, SCAN
 * filtering, KEYNOTIFY), and a SIGHUP reload that removes a subscription
 * and stops notifications while the client stays connected. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "ssclient.h"

#define ONLY "mqstated authorization rules"
#define REQ SS_REQUEST_TOPIC
#define NOT_AUTHORIZED SS_ERR("not authorized")

/* Everyone listed may connect, publish state store requests and use their
 * own clients/<id>/ subtree (which holds the state store response topic). */
#define BASE_RULE                                                           \
    "    - principals:\n"                                                   \
    "        clientIds: [c1, c2, admin]\n"                                  \
    "      brokerResources:\n"                                              \
    "        - method: Connect\n"                                           \
    "        - method: Publish\n"                                           \
    "          topics: [\"clients/{principal.clientId}/#\", \"" REQ "\"]\n" \
    "        - method: Subscribe\n"                                         \
    "          topics: [\"clients/{principal.clientId}/#\"]\n"              \
    "    - principals:\n"                                                   \
    "        clientIds: [admin]\n"                                          \
    "      brokerResources:\n"                                              \
    "        - method: Publish\n"                                           \
    "          topics: [\"#\"]\n"                                           \
    "      stateStoreResources:\n"                                          \
    "        - method: ReadWrite\n"                                         \
    "          keys: [\"*\"]\n"                                             \
    "        - method: readwrite\n"                                         \
    "          keyType: binary\n"                                           \
    "          keys: [AP8=]\n"

#define C1_RULE                                          \
    "    - principals:\n"                                \
    "        clientIds: [c1]\n"                          \
    "      brokerResources:\n"                           \
    "        - method: Subscribe\n"                      \
    "          topics: [\"public/+\"]\n"                 \
    "      stateStoreResources:\n"                       \
    "        - method: ReadWrite\n"                      \
    "          keyType: Pattern\n"                       \
    "          keys: [\"own/{principal.clientId}/*\"]\n" \
    "        - method: Read\n"                           \
    "          keyType: String\n"                        \
    "          keys: [\"lit*\"]\n"                       \
    "        - method: Write\n"                          \
    "          keys: [\"locks/?\"]\n"                    \
    "        - method: Read\n"                           \
    "          keyType: Binary\n"                        \
    "          keys: [AP8=]\n"

static const char policy[] = "authorization:\n  enabled: true\n  rules:\n" BASE_RULE C1_RULE;
/* After the reload c1 keeps only the base rule. */
static const char policy_after[] = "authorization:\n  enabled: true\n  rules:\n" BASE_RULE;

static void test_topics_with_substitution(void)
{
    struct tc *c1 = tc_open("c1", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(c1 != NULL);
    if (!c1) return;
    CHECK(tc_publish(c1, "clients/c1/temp", "1", 1, false, NULL) < 0x80);
    CHECK(tc_publish(c1, "clients/c1", "1", 1, false, NULL) < 0x80);
    CHECK_INT(tc_publish(c1, "clients/c2/temp", "1", 1, false, NULL), 0x87);
    CHECK_INT(tc_publish(c1, "clients/c10/temp", "1", 2, false, NULL), 0x87);
    CHECK_INT(tc_publish(c1, "elsewhere", "1", 1, false, NULL), 0x87);
}

static void test_subscribe_per_filter(void)
{
    struct tc *c1 = tc_open("c1", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(c1 != NULL);
    if (!c1) return;
    CHECK_INT(tc_subscribe(c1, "clients/c1/#", 1, 0, NULL), 1);
    CHECK_INT(tc_subscribe(c1, "public/news", 1, 0, NULL), 1);
    CHECK_INT(tc_subscribe(c1, "public/+", 0, 0, NULL), 0);
    CHECK_INT(tc_subscribe(c1, "public/#", 1, 0, NULL), 0x87); /* wider than public/+ */
    CHECK_INT(tc_subscribe(c1, "#", 1, 0, NULL), 0x87);
    CHECK_INT(tc_subscribe(c1, "clients/c2/#", 1, 0, NULL), 0x87);
    CHECK_INT(tc_subscribe(c1, "$share/g/public/+", 1, 0, NULL), 1);
    /* denied filters store nothing: a message there is not delivered */
    struct tc *admin = tc_open("admin", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(admin != NULL);
    if (!admin) return;
    CHECK(tc_publish(admin, "clients/c2/x", "no", 1, false, NULL) < 0x80);
    CHECK(tc_publish(admin, "public/news", "yes", 1, false, NULL) < 0x80);
    PUMP_UNTIL(tc_count_topic(c1, "public/news") >= 1, TC_TIMEOUT_MS);
    CHECK(tc_count_topic(c1, "public/news") >= 1);
    CHECK_INT(tc_count_topic(c1, "clients/c2/x"), 0);
}

static void test_connect_denied(void)
{
    struct tc *v5 = tc_new("stranger", MQTT_PROTOCOL_V5, true);
    CHECK_INT(tc_connect(v5, 30, NULL), 0x87);
    struct tc *v3 = tc_new("stranger3", MQTT_PROTOCOL_V311, true);
    CHECK_INT(tc_connect(v3, 30, NULL), 5);
    struct tc *ok = tc_new("c2", MQTT_PROTOCOL_V311, true);
    CHECK_INT(tc_connect(ok, 30, NULL), 0);
}

static bool has(const struct ss_reply *r, const char *s)
{
    return r->received && memmem(r->payload, r->len, s, strlen(s)) != NULL;
}

/* admin fills the store with keys c1 may and may not see. */
static void seed_keys(struct ss_client *admin)
{
    struct ss_reply r;
    static const char *const keys[] = {"own/c1/a", "own/c2/b", "lit*", "litx", "locks/1", "other"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        SS_CMD(admin, NULL, r, "SET", keys[i], "v");
        CHECK_REPLY(r, "+OK\r\n");
    }
}

static void test_state_store_keys(void)
{
    struct ss_client admin, c1;
    struct ss_reply r;
    if (!ss_open(&admin, "admin") || !ss_open(&c1, "c1")) return;
    seed_keys(&admin);
    /* Pattern ReadWrite with substitution */
    SS_CMD(&c1, NULL, r, "GET", "own/c1/a");
    CHECK_REPLY(r, "$1\r\nv\r\n");
    SS_CMD(&c1, NULL, r, "SET", "own/c1/new", "x");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&c1, NULL, r, "GET", "own/c2/b");
    CHECK_REPLY(r, NOT_AUTHORIZED);
    SS_CMD(&c1, NULL, r, "DEL", "own/c2/b");
    CHECK_REPLY(r, NOT_AUTHORIZED);
    /* String Read: exact, metacharacters literal; no Write */
    SS_CMD(&c1, NULL, r, "GET", "lit*");
    CHECK_REPLY(r, "$1\r\nv\r\n");
    SS_CMD(&c1, NULL, r, "GET", "litx");
    CHECK_REPLY(r, NOT_AUTHORIZED);
    SS_CMD(&c1, NULL, r, "SET", "lit*", "x");
    CHECK_REPLY(r, NOT_AUTHORIZED);
    /* Write only: SET and VDEL allowed, GET refused */
    SS_CMD(&c1, NULL, r, "SET", "locks/1", "me");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&c1, NULL, r, "VDEL", "locks/1", "me");
    CHECK_REPLY(r, ":1\r\n");
    SS_CMD(&c1, NULL, r, "GET", "locks/2");
    CHECK_REPLY(r, NOT_AUTHORIZED);
    /* Binary Read: the bytes 00 FF */
    struct ss_arg bin_get[2] = {ss_str("GET"), {(const uint8_t *)"\x00\xff", 2}};
    struct ss_arg bin_set[3] = {ss_str("SET"), {(const uint8_t *)"\x00\xff", 2}, ss_str("b")};
    CHECK(ss_callv(&admin, NULL, &r, 3, bin_set));
    CHECK_REPLY(r, "+OK\r\n");
    CHECK(ss_callv(&c1, NULL, &r, 2, bin_get));
    CHECK_REPLY(r, "$1\r\nb\r\n");
    CHECK(ss_callv(&c1, NULL, &r, 3, bin_set));
    CHECK_REPLY(r, NOT_AUTHORIZED);
    /* SCAN returns only what c1 may read */
    SS_CMD(&c1, NULL, r, "SCAN", "*");
    CHECK(has(&r, "own/c1/a") && has(&r, "own/c1/new") && has(&r, "lit*"));
    CHECK(!has(&r, "own/c2/b") && !has(&r, "litx") && !has(&r, "other") && !has(&r, "locks/1"));
    /* KEYNOTIFY needs Read */
    SS_CMD(&c1, NULL, r, "KEYNOTIFY", "own/c2/b");
    CHECK_REPLY(r, NOT_AUTHORIZED);
    SS_CMD(&c1, NULL, r, "KEYNOTIFY", "locks/1");
    CHECK_REPLY(r, NOT_AUTHORIZED);
    SS_CMD(&c1, NULL, r, "KEYNOTIFY", "own/c1/a");
    CHECK_REPLY(r, "+OK\r\n");
}

static void rewrite_config(const char *yaml)
{
    FILE *f = fopen(e2e_config_path(), "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "log_level: info\nlisteners:\n  - bind: 127.0.0.1\n    port: %d\n%s", e2e_port(), yaml);
    CHECK(fclose(f) == 0);
}

static void test_reload(void)
{
    struct ss_client admin, c1;
    struct ss_reply r;
    if (!ss_open(&admin, "admin") || !ss_open(&c1, "c1")) return;
    char note_topic[600];
    ss_notify_topic(note_topic, sizeof note_topic, "c1", "own/c1/a", 8);
    /* the SDK's notification filter: granted (by the §10.5 rule) without a topic rule */
    CHECK_INT(tc_subscribe(c1.tc, SS_NOTIFY_NS "/6331/command/notify/+", 1, 0, NULL), 1);
    CHECK_INT(tc_subscribe(c1.tc, "public/+", 1, 0, NULL), 1);
    SS_CMD(&c1, NULL, r, "KEYNOTIFY", "own/c1/a");
    CHECK_REPLY(r, "+OK\r\n");
    /* before: both arrive */
    CHECK(tc_publish(admin.tc, "public/a", "1", 1, false, NULL) < 0x80);
    SS_CMD(&admin, NULL, r, "SET", "own/c1/a", "1");
    PUMP_UNTIL(tc_count_topic(c1.tc, "public/a") == 1 && ss_note(&c1, note_topic, 0), TC_TIMEOUT_MS);
    CHECK_INT(tc_count_topic(c1.tc, "public/a"), 1);
    CHECK(ss_note(&c1, note_topic, 0) != NULL);

    rewrite_config(policy_after);
    e2e_signal_broker(SIGHUP);
    /* The reload is asynchronous: wait until a new subscription is refused. */
    struct tc *probe = NULL;
    for (int i = 0; i < 50; i++) {
        tc_pump_for(100);
        if (!probe) probe = tc_open("c2", MQTT_PROTOCOL_V5, true, NULL);
        if (probe && tc_subscribe(probe, "public/+", 1, 0, NULL) == 0x87) break;
    }
    CHECK_INT(tc_subscribe(c1.tc, "public/+", 1, 0, NULL), 0x87);

    /* after: the stored subscription is gone, no notification, still connected */
    CHECK(tc_publish(admin.tc, "public/a", "2", 1, false, NULL) < 0x80);
    SS_CMD(&admin, NULL, r, "SET", "own/c1/a", "2");
    tc_pump_for(500);
    CHECK_INT(tc_count_topic(c1.tc, "public/a"), 1);
    CHECK(ss_note(&c1, note_topic, 1) == NULL);
    SS_CMD(&c1, NULL, r, "GET", "own/c1/a");
    CHECK_REPLY(r, NOT_AUTHORIZED);
    CHECK(tc_publish(c1.tc, "clients/c1/alive", "1", 1, false, NULL) < 0x80);
    CHECK(!c1.tc->disconnected);
}

/* --- Response Topics (issue 8): a reply is a PUBLISH by the requester ------- */

/* `watcher` sees everything, `$SYS` included; c2 may publish to $SYS (which
 * still never makes it a valid Response Topic) and use every key. */
#define WATCHER_RULE                          \
    "    - principals:\n"                     \
    "        clientIds: [watcher]\n"          \
    "      brokerResources:\n"                \
    "        - method: Connect\n"             \
    "        - method: Subscribe\n"           \
    "          topics: [\"#\", \"$SYS/#\"]\n" \
    "    - principals:\n"                     \
    "        clientIds: [c2]\n"               \
    "      brokerResources:\n"                \
    "        - method: Publish\n"             \
    "          topics: [\"$SYS/#\"]\n"        \
    "      stateStoreResources:\n"            \
    "        - method: ReadWrite\n"           \
    "          keys: [\"*\"]\n"

static const char policy_watch[] = "authorization:\n  enabled: true\n  rules:\n" BASE_RULE C1_RULE WATCHER_RULE;

/* Sends a SET of `key` from c with the given Response Topic. */
static bool send_set(struct ss_client *c, const char *response_topic, const char *key)
{
    struct ss_opts o = {.response_topic = response_topic};
    struct ss_arg argv[3] = {ss_str("SET"), ss_str(key), ss_str("v")};
    struct ssb req = {0};
    ss_resp_array(&req, 3, argv);
    struct ss_reply pending;
    bool ok = ss_send(c, &o, req.data, req.len, &pending);
    ssb_free(&req);
    return ok;
}

static void test_response_topic_authorized(void)
{
    struct ss_client c1, c2, admin;
    struct ss_reply r;
    struct tc *watcher = tc_open("watcher", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(watcher != NULL);
    if (!watcher) return;
    CHECK_INT(tc_subscribe(watcher, "#", 1, 0, NULL), 1);
    CHECK_INT(tc_subscribe(watcher, "$SYS/#", 1, 0, NULL), 1);
    if (!ss_open(&c1, "c1") || !ss_open(&c2, "c2") || !ss_open(&admin, "admin")) return;
    /* c1 may not publish to any of these: the replies must not appear */
    CHECK(send_set(&c1, "secret/injected", "own/c1/a"));
    CHECK(send_set(&c1, "$SYS/broker/injected", "own/c1/b"));
    CHECK(send_set(&c1, c2.response_topic, "own/c1/c"));
    /* c2 may publish to $SYS, but '$' is never a Response Topic */
    CHECK(send_set(&c2, "$SYS/c2", "own/c2/d"));
    /* without Correlation Data the answer would be a 400 reply: not there either */
    mosquitto_property *props = NULL;
    mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, "secret/no-correlation");
    static const char get[] = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
    int prc = mosquitto_publish_v5(c1.tc->m, NULL, REQ, (int)sizeof get - 1, get, 1, false, props);
    mosquitto_property_free_all(&props);
    CHECK_INT(prc, MOSQ_ERR_SUCCESS);
    tc_pump_for(700);
    /* The broker's own $SYS/broker/ figures (sys_interval) may arrive;
     * nothing else may. */
    int injected = 0;
    for (int i = 0; i < watcher->msg_count; i++) {
        if (strncmp(watcher->msgs[i].topic, "$SYS/broker/", 12) == 0) continue;
        e2e_note("watcher got %s", watcher->msgs[i].topic);
        injected++;
    }
    CHECK_INT(injected, 0);
    CHECK_INT(c2.tc->msg_count, 0);
    /* not executed either */
    static const char *const keys[] = {"own/c1/a", "own/c1/b", "own/c1/c", "own/c2/d"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        SS_CMD(&admin, NULL, r, "GET", keys[i]);
        CHECK_REPLY(r, "$-1\r\n");
    }
    /* nobody was disconnected, and the own response topic works */
    SS_CMD(&c1, NULL, r, "SET", "own/c1/a", "1");
    CHECK_REPLY(r, "+OK\r\n");
    CHECK(!c1.tc->disconnected && !c2.tc->disconnected);
    /* the watcher sees only what its own subscriptions bring: the admin's replies
     * and c1's own, on their response topics */
    for (int i = 0; i < watcher->msg_count; i++)
        CHECK(strncmp(watcher->msgs[i].topic, "clients/", 8) == 0 ||
              strncmp(watcher->msgs[i].topic, "$SYS/broker/", 12) == 0);
}

/* --- Wills (issue 8): a will is a PUBLISH made in advance -------------------- */

/* c3 (delayed will) and c4 (immediate will) may leave wills under wills/;
 * `probe` only tells when a reload has taken effect. */
#define WILL_RULE                          \
    "    - principals:\n"                  \
    "        clientIds: [c3, c4, probe]\n" \
    "      brokerResources:\n"             \
    "        - method: Connect\n"          \
    "        - method: Publish\n"          \
    "          topics: [\"wills/{principal.clientId}\"]\n"

static const char policy_will[] =
    "authorization:\n  enabled: true\n  rules:\n" BASE_RULE C1_RULE WATCHER_RULE WILL_RULE;

/* Connects `id` (clean, v5 unless v311) with a QoS 1 retained will on `topic`;
 * returns the CONNACK code. Will Delay `delay` s with Session Expiry 60 if
 * delay > 0. */
static int connect_with_will(struct tc **out, const char *id, bool v311, const char *topic, int delay)
{
    struct tc *c = tc_new(id, v311 ? MQTT_PROTOCOL_V311 : MQTT_PROTOCOL_V5, true);
    mosquitto_property *wp = NULL, *cp = NULL;
    if (delay > 0) {
        mosquitto_property_add_int32(&wp, MQTT_PROP_WILL_DELAY_INTERVAL, (uint32_t)delay);
        mosquitto_property_add_int32(&cp, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 60);
    }
    /* libmosquitto takes ownership of the will properties */
    int rc = v311 ? mosquitto_will_set(c->m, topic, 4, "gone", 1, true)
                  : mosquitto_will_set_v5(c->m, topic, 4, "gone", 1, true, wp);
    if (rc != MOSQ_ERR_SUCCESS) return -1;
    rc = tc_connect(c, 60, cp);
    mosquitto_property_free_all(&cp);
    *out = c;
    return rc;
}

static void test_will_authorized(void)
{
    struct tc *watcher = tc_open("watcher", MQTT_PROTOCOL_V5, true, NULL), *c = NULL;
    CHECK(watcher != NULL);
    if (!watcher) return;
    CHECK_INT(tc_subscribe(watcher, "#", 1, 0, NULL), 1);
    /* a will where the client may not publish: refused at CONNECT */
    CHECK_INT(connect_with_will(&c, "c1", false, "secret/x", 0), 0x87);
    CHECK_INT(connect_with_will(&c, "c2", true, "secret/x", 0), 5);
    /* admin may publish everywhere, but not forge notifications or requests */
    CHECK_INT(connect_with_will(&c, "admin", false, SS_NOTIFY_NS "/6331/command/notify/6B", 0), 0x87);
    CHECK_INT(connect_with_will(&c, "admin", true, SS_NOTIFY_NS "/6331/command/notify/6B", 0), 5);
    CHECK_INT(connect_with_will(&c, "admin", false, REQ, 0), 0x87);
    /* an allowed will is published */
    CHECK_INT(connect_with_will(&c, "c1", false, "clients/c1/will", 0), 0);
    tc_drop(c);
    PUMP_UNTIL(tc_count_topic(watcher, "clients/c1/will") == 1, TC_TIMEOUT_MS);
    CHECK_INT(tc_count_topic(watcher, "clients/c1/will"), 1);
    /* a delayed one too: checked against the principal its session kept */
    CHECK_INT(connect_with_will(&c, "c1", false, "clients/c1/later", 1), 0);
    tc_drop(c);
    PUMP_UNTIL(tc_count_topic(watcher, "clients/c1/later") == 1, TC_TIMEOUT_MS);
    CHECK_INT(tc_count_topic(watcher, "clients/c1/later"), 1);

    /* wills accepted under rules that a reload then takes away are not published */
    struct tc *c3 = NULL, *c4 = NULL;
    CHECK_INT(connect_with_will(&c3, "c3", false, "wills/c3", 1), 0);
    CHECK_INT(connect_with_will(&c4, "c4", false, "wills/c4", 0), 0);
    rewrite_config(policy_watch);
    e2e_signal_broker(SIGHUP);
    int rc = 0;
    for (int i = 0; i < 50 && rc != 0x87; i++) {
        tc_pump_for(100);
        struct tc *probe = tc_new("probe", MQTT_PROTOCOL_V5, true);
        rc = tc_connect(probe, 30, NULL);
        tc_destroy(probe);
    }
    CHECK_INT(rc, 0x87);
    tc_drop(c4);
    tc_drop(c3);
    tc_pump_for(2500); /* past c3's will delay */
    CHECK_INT(tc_count_topic(watcher, "wills/c4"), 0);
    CHECK_INT(tc_count_topic(watcher, "wills/c3"), 0);
    for (int i = 0; i < watcher->msg_count; i++)
        CHECK(strncmp(watcher->msgs[i].topic, SS_NOTIFY_NS, strlen(SS_NOTIFY_NS)) != 0);
    /* nothing was retained either */
    struct tc *late = tc_open("watcher", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(late != NULL);
    if (!late) return;
    CHECK_INT(tc_subscribe(late, "#", 1, 0, NULL), 1);
    tc_pump_for(300);
    CHECK_INT(tc_count_topic(late, "wills/c3") + tc_count_topic(late, "wills/c4"), 0);
    CHECK_INT(tc_count_topic(late, "clients/c1/will"), 1); /* the allowed ones were */
    CHECK_INT(tc_count_topic(late, "clients/c1/later"), 1);
}

/* --- Sessions belong to their principal (issue 8) ----------------------------- */

/* alice and bob (user names claimed on the loopback listener) may both use
 * any client id and the same topics. */
#define USERS_RULE                      \
    "    - principals:\n"               \
    "        usernames: [alice, bob]\n" \
    "      brokerResources:\n"          \
    "        - method: Connect\n"       \
    "        - method: Subscribe\n"     \
    "          topics: [\"shared/#\"]\n"

static const char policy_users[] = "authorization:\n  enabled: true\n  rules:\n" BASE_RULE USERS_RULE;

/* A persistent (Session Expiry 300) v5 connection as `user` under client id
 * dev1; NULL on failure. */
static struct tc *connect_as(const char *user)
{
    struct tc *c = tc_new("dev1", MQTT_PROTOCOL_V5, false);
    mosquitto_username_pw_set(c->m, user, NULL);
    mosquitto_property *cp = NULL;
    mosquitto_property_add_int32(&cp, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 300);
    int rc = tc_connect(c, 60, cp);
    mosquitto_property_free_all(&cp);
    return rc == 0 ? c : NULL;
}

static void test_session_of_another_principal(void)
{
    struct tc *admin = tc_open("admin", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *alice = connect_as("alice");
    CHECK(admin && alice);
    CHECK_INT(tc_subscribe(alice, "shared/#", 1, 0, NULL), 1);
    tc_disconnect(alice, 0);
    CHECK(tc_publish(admin, "shared/1", "for alice", 1, false, NULL) < 0x80);
    /* alice herself resumes it: present, with the queued message */
    alice = connect_as("alice");
    CHECK(alice != NULL);
    CHECK_INT(alice->connack_flags & 1, 1);
    PUMP_UNTIL(tc_count_topic(alice, "shared/1") == 1, TC_TIMEOUT_MS);
    CHECK_INT(tc_count_topic(alice, "shared/1"), 1);
    tc_disconnect(alice, 0);
    CHECK(tc_publish(admin, "shared/2", "for alice", 1, false, NULL) < 0x80);
    /* bob with her client id: a clean session, nothing of hers */
    struct tc *bob = connect_as("bob");
    CHECK(bob != NULL);
    CHECK_INT(bob->connack_flags & 1, 0);
    CHECK(tc_publish(admin, "shared/3", "for alice", 1, false, NULL) < 0x80);
    tc_pump_for(500);
    CHECK_INT(bob->msg_count, 0);
    /* taking over a connected session: the same */
    CHECK_INT(tc_subscribe(bob, "shared/#", 1, 0, NULL), 1);
    alice = connect_as("alice");
    CHECK(alice != NULL);
    CHECK_INT(alice->connack_flags & 1, 0);
    PUMP_UNTIL(bob->disconnected, TC_TIMEOUT_MS);
    CHECK(bob->disconnected);
    CHECK(tc_publish(admin, "shared/4", "for bob", 1, false, NULL) < 0x80);
    tc_pump_for(500);
    CHECK_INT(alice->msg_count, 0);
}

/* --- Queued messages after a revoked Subscribe grant (issue 8) ---------------- */

#define NEWS_RULE                   \
    "    - principals:\n"           \
    "        clientIds: [c1, c2]\n" \
    "      brokerResources:\n"      \
    "        - method: Subscribe\n" \
    "          topics: [\"news/#\"]\n"

static const char policy_news[] = "authorization:\n  enabled: true\n  rules:\n" BASE_RULE NEWS_RULE;
static const char policy_no_news[] = "authorization:\n  enabled: true\n  rules:\n" BASE_RULE;

/* c1 with a persistent session (Session Expiry 300); NULL on failure. */
static struct tc *c1_persistent(void)
{
    struct tc *c = tc_new("c1", MQTT_PROTOCOL_V5, false);
    mosquitto_property *cp = NULL;
    mosquitto_property_add_int32(&cp, MQTT_PROP_SESSION_EXPIRY_INTERVAL, 300);
    int rc = tc_connect(c, 60, cp);
    mosquitto_property_free_all(&cp);
    return rc == 0 ? c : NULL;
}

static void test_queued_after_revoke(void)
{
    struct tc *admin = tc_open("admin", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *c1 = c1_persistent();
    CHECK(admin && c1);
    CHECK_INT(tc_subscribe(c1, "news/#", 1, 0, NULL), 1);
    tc_disconnect(c1, 0);
    /* while allowed, what is queued offline is delivered on resume */
    CHECK(tc_publish(admin, "news/0", "a", 1, false, NULL) == 0);
    c1 = c1_persistent();
    CHECK(c1 != NULL);
    PUMP_UNTIL(tc_count_topic(c1, "news/0") == 1, TC_TIMEOUT_MS);
    CHECK_INT(tc_count_topic(c1, "news/0"), 1);
    tc_disconnect(c1, 0);
    CHECK(tc_publish(admin, "news/1", "queued before the reload", 1, false, NULL) == 0);

    rewrite_config(policy_no_news);
    e2e_signal_broker(SIGHUP);
    struct tc *probe = NULL;
    int granted = 1;
    for (int i = 0; i < 50 && granted != 0x87; i++) {
        tc_pump_for(100);
        if (!probe) probe = tc_open("c2", MQTT_PROTOCOL_V5, true, NULL);
        if (probe) granted = tc_subscribe(probe, "news/#", 1, 0, NULL);
    }
    CHECK_INT(granted, 0x87);
    /* the offline session's subscription is gone: nothing more is queued */
    CHECK_INT(tc_publish(admin, "news/2", "after the reload", 1, false, NULL), 0x10);
    c1 = c1_persistent();
    CHECK(c1 != NULL);
    CHECK_INT(c1->connack_flags & 1, 1);
    tc_pump_for(700);
    for (int i = 0; i < c1->msg_count; i++) e2e_note("c1 got %s", c1->msgs[i].topic);
    CHECK_INT(c1->msg_count, 0);
}

static const struct e2e_case cases[] = {
    {"topics_with_substitution", test_topics_with_substitution, .mqstated_only = ONLY, .extra_yaml = policy},
    {"subscribe_per_filter", test_subscribe_per_filter, .mqstated_only = ONLY, .extra_yaml = policy},
    {"connect_denied", test_connect_denied, .mqstated_only = ONLY, .extra_yaml = policy},
    {"state_store_keys", test_state_store_keys, .mqstated_only = ONLY, .extra_yaml = policy},
    {"reload", test_reload, .mqstated_only = ONLY, .extra_yaml = policy},
    {"response_topic_authorized", test_response_topic_authorized, .mqstated_only = ONLY, .extra_yaml = policy_watch},
    {"will_authorized", test_will_authorized, .mqstated_only = ONLY, .extra_yaml = policy_will},
    {"session_of_another_principal", test_session_of_another_principal, .mqstated_only = ONLY,
     .extra_yaml = policy_users},
    {"queued_after_revoke", test_queued_after_revoke, .mqstated_only = ONLY, .extra_yaml = policy_news},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
