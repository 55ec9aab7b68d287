/* Durable sessions (docs/persistence.md): restart round trips against the
 * real mqstated on a real data directory (subscriptions with options and
 * identifiers, queued and in-flight QoS 1/2 messages, packet ids, session
 * expiry, selection by client id, QoS 2 exactly-once in both directions)
 * and crash tests (kill -9 under QoS 1 load: every PUBACKed message is
 * delivered after the restart). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define PATH_MAX_E2E 4200
#include "rawclient.h"

#define PROP_SUB_ID 0x0B
#define PROP_SESSION_EXPIRY 0x11
#define PUBLISH 3
#define PUBACK 4
#define PUBREC 5
#define PUBREL 6
#define PUBCOMP 7

/* A v5 session with this expiry; *present: the CONNACK's flag. -1 on failure. */
static int session(const char *id, bool clean, uint32_t expiry, bool *present)
{
    struct pb props = {0};
    pb_u8(&props, PROP_SESSION_EXPIRY);
    pb_u32(&props, expiry);
    bool p = false;
    int fd = raw_connect_v5(e2e_port(), id, clean, &props, &p);
    if (present) *present = p;
    return fd;
}

static int subscribe(int fd, uint16_t pid, const char *filter, uint8_t opts, uint32_t sub_id)
{
    struct pb props = {0};
    if (sub_id) {
        pb_u8(&props, PROP_SUB_ID);
        pb_varint(&props, sub_id);
    }
    return raw_subscribe_v5(fd, pid, filter, opts, &props);
}

static void publish(int fd, const char *topic, uint8_t qos, bool dup, uint16_t pid, const char *payload)
{
    struct pb pkt;
    raw_build_publish_v5(&pkt, topic, qos, dup, false, pid, NULL, payload, strlen(payload));
    raw_send_pb(fd, &pkt);
}

/* The reason code of the ack of `type` for pid, or -1. */
static int ack_of(int fd, uint8_t type, uint16_t pid)
{
    struct raw_pkt pkt = {0};
    int rc = -1;
    if (raw_recv_type(fd, type, &pkt, 10000) == RAW_OK && pkt.len >= 2 &&
        (uint16_t)(pkt.body[0] << 8 | pkt.body[1]) == pid)
        rc = pkt.len > 2 ? pkt.body[2] : 0;
    raw_pkt_free(&pkt);
    return rc;
}

/* The next PUBLISH (payload NUL-terminated into text). */
static bool next_publish(int fd, struct raw_pkt *pkt, struct raw_publish *p, char *text, size_t cap, int timeout_ms)
{
    raw_pkt_free(pkt);
    if (raw_recv_type(fd, PUBLISH, pkt, timeout_ms) != RAW_OK || !raw_parse_publish_v5(pkt, p)) return false;
    size_t n = p->payload_len < cap - 1 ? p->payload_len : cap - 1;
    memcpy(text, p->payload, n);
    text[n] = 0;
    return true;
}

/* Subscriptions keep their options and identifiers: a message published
 * after the restart arrives with the identifier, at the granted QoS. */
static void subscriptions_survive(void)
{
    int fd = session("sub", true, 3600, NULL);
    CHECK(fd >= 0);
    CHECK_INT(subscribe(fd, 1, "t/#", 1, 42), 1);
    CHECK_INT(subscribe(fd, 2, "nl/#", 1 | 1 << 2, 43), 1); /* no local */
    raw_close(fd);
    CHECK(e2e_restart_broker(SIGTERM, 0));
    bool present = false;
    fd = session("sub", false, 3600, &present);
    CHECK(fd >= 0);
    CHECK(present);
    publish(fd, "nl/x", 1, false, 9, "own"); /* no local: not back to us */
    CHECK_INT(ack_of(fd, PUBACK, 9), 0x10);  /* no matching subscribers */
    int pub = session("pub", true, 0, NULL);
    CHECK(pub >= 0);
    publish(pub, "t/1", 2, false, 5, "hello");
    CHECK_INT(ack_of(pub, PUBREC, 5), 0);
    struct raw_pkt pkt = {0};
    struct raw_publish p;
    char text[64];
    CHECK(next_publish(fd, &pkt, &p, text, sizeof text, 5000));
    CHECK_STR(text, "hello");
    CHECK_INT(p.qos, 1);
    uint32_t ids[4];
    CHECK_INT(raw_prop_all(p.props, p.props_len, PROP_SUB_ID, ids, 4), 1);
    CHECK_INT(ids[0], 42);
    raw_pkt_free(&pkt);
}

/* QoS 1 and 2 messages queued for an offline session (their publishers
 * got PUBACK / PUBREC) are delivered after a crash, in order. */
static void queued_messages_after_crash(void)
{
    int fd = session("q", true, 3600, NULL);
    CHECK(fd >= 0);
    CHECK_INT(subscribe(fd, 1, "q/#", 2, 0), 2);
    raw_close(fd);
    int pub = session("p", true, 0, NULL);
    CHECK(pub >= 0);
    publish(pub, "q/1", 1, false, 1, "one");
    CHECK_INT(ack_of(pub, PUBACK, 1), 0);
    publish(pub, "q/2", 2, false, 2, "two");
    CHECK_INT(ack_of(pub, PUBREC, 2), 0);
    CHECK(e2e_restart_broker(SIGKILL, 0));
    bool present = false;
    fd = session("q", false, 3600, &present);
    CHECK(fd >= 0);
    CHECK(present);
    struct raw_pkt pkt = {0};
    struct raw_publish p;
    char text[64];
    CHECK(next_publish(fd, &pkt, &p, text, sizeof text, 5000));
    CHECK_STR(text, "one");
    CHECK_INT(p.qos, 1);
    raw_send_ack(fd, PUBACK, p.packet_id);
    CHECK(next_publish(fd, &pkt, &p, text, sizeof text, 5000));
    CHECK_STR(text, "two");
    CHECK_INT(p.qos, 2);
    raw_pkt_free(&pkt);
}

/* An unacknowledged QoS 1 message is resent after a crash with DUP and
 * the packet id it had. */
static void inflight_resent_with_same_id(void)
{
    int fd = session("inf", true, 3600, NULL);
    CHECK(fd >= 0);
    CHECK_INT(subscribe(fd, 1, "i/#", 1, 0), 1);
    int pub = session("p", true, 0, NULL);
    CHECK(pub >= 0);
    publish(pub, "i/1", 1, false, 1, "first");
    CHECK_INT(ack_of(pub, PUBACK, 1), 0);
    struct raw_pkt pkt = {0};
    struct raw_publish p;
    char text[64];
    CHECK(next_publish(fd, &pkt, &p, text, sizeof text, 5000));
    uint16_t id = p.packet_id;
    CHECK(!p.dup);
    e2e_sleep_ms(300); /* with fsync always the SENT record is durable by the time a later PUBACK was sent */
    publish(pub, "i/2", 1, false, 2, "sync");
    CHECK_INT(ack_of(pub, PUBACK, 2), 0);
    CHECK(e2e_restart_broker(SIGKILL, 0));
    bool present = false;
    fd = session("inf", false, 3600, &present);
    CHECK(fd >= 0);
    CHECK(present);
    CHECK(next_publish(fd, &pkt, &p, text, sizeof text, 5000));
    CHECK_STR(text, "first");
    CHECK(p.dup);
    CHECK_INT(p.packet_id, id);
    raw_pkt_free(&pkt);
}

/* Expiry keeps counting across a restart (an offline session's deadline is
 * absolute); one that expired while the server was down is gone. */
static void expiry_keeps_counting(void)
{
    int fd = session("short", true, 3, NULL);
    CHECK(fd >= 0);
    CHECK_INT(subscribe(fd, 1, "e/#", 1, 0), 1);
    raw_close(fd);
    fd = session("long", true, 3600, NULL);
    CHECK(fd >= 0);
    raw_close(fd);
    e2e_sleep_ms(300);
    CHECK(e2e_restart_broker(SIGTERM, 3500)); /* down past the deadline */
    bool present = true;
    fd = session("short", false, 3, &present);
    CHECK(fd >= 0);
    CHECK(!present);
    fd = session("long", false, 3600, &present);
    CHECK(fd >= 0);
    CHECK(present);
}

/* A session whose client was connected at the crash is offline after the
 * restart and its expiry counts from the start, however long the server
 * was down. */
static void connected_at_crash_counts_from_start(void)
{
    int a = session("online-a", true, 3, NULL), b = session("online-b", true, 3, NULL);
    CHECK(a >= 0 && b >= 0);
    CHECK_INT(subscribe(a, 1, "o/#", 1, 0), 1); /* SUBACKs: the sessions' records are durable */
    CHECK_INT(subscribe(b, 1, "o/#", 1, 0), 1);
    CHECK(e2e_restart_broker(SIGKILL, 4000)); /* down longer than the expiry */
    bool present = false;
    int again = session("online-a", false, 3, &present);
    CHECK(again >= 0);
    CHECK(present);
    e2e_sleep_ms(4000); /* online-b, offline since the start, expires 3 s after it */
    again = session("online-b", false, 3, &present);
    CHECK(again >= 0);
    CHECK(!present);
}

/* sessions: {clientIds: [...]}: only the matching sessions survive. */
static void selection_by_client_id(void)
{
    int a = session("keep-1", true, 3600, NULL), b = session("other", true, 3600, NULL);
    CHECK(a >= 0 && b >= 0);
    raw_close(a);
    raw_close(b);
    CHECK(e2e_restart_broker(SIGTERM, 0));
    bool present = false;
    a = session("keep-1", false, 3600, &present);
    CHECK(a >= 0);
    CHECK(present);
    b = session("other", false, 3600, &present);
    CHECK(b >= 0);
    CHECK(!present);
}

/* sessions: none: nothing survives. */
static void selection_none(void)
{
    int a = session("any", true, 3600, NULL);
    CHECK(a >= 0);
    raw_close(a);
    CHECK(e2e_restart_broker(SIGTERM, 0));
    bool present = true;
    a = session("any", false, 3600, &present);
    CHECK(a >= 0);
    CHECK(!present);
}

/* Publisher side: PUBREC, crash, reconnect: a resent PUBLISH is not routed
 * again, PUBREL gets PUBCOMP 0 (the id was known); the subscriber gets the
 * message exactly once. */
static void qos2_publisher_exactly_once(void)
{
    int sub = session("s2", true, 3600, NULL);
    CHECK(sub >= 0);
    CHECK_INT(subscribe(sub, 1, "x/#", 1, 0), 1);
    raw_close(sub);
    int pub = session("p2", true, 3600, NULL);
    CHECK(pub >= 0);
    publish(pub, "x/1", 2, false, 7, "once");
    CHECK_INT(ack_of(pub, PUBREC, 7), 0);
    CHECK(e2e_restart_broker(SIGKILL, 0));
    bool present = false;
    pub = session("p2", false, 3600, &present);
    CHECK(pub >= 0);
    CHECK(present);
    publish(pub, "x/1", 2, true, 7, "once"); /* resent before PUBREL: acknowledged, not routed */
    CHECK_INT(ack_of(pub, PUBREC, 7), 0);
    raw_send_ack(pub, PUBREL, 7);
    CHECK_INT(ack_of(pub, PUBCOMP, 7), 0);
    sub = session("s2", false, 3600, &present);
    CHECK(sub >= 0);
    CHECK(present);
    struct raw_pkt pkt = {0};
    struct raw_publish p;
    char text[64];
    int n = 0;
    while (next_publish(sub, &pkt, &p, text, sizeof text, 1500)) {
        CHECK_STR(text, "once");
        raw_send_ack(sub, PUBACK, p.packet_id);
        n++;
    }
    CHECK_INT(n, 1);
    raw_pkt_free(&pkt);
}

/* Subscriber side: PUBLISH, PUBREC, PUBREL sent; crash; on resume the
 * subscriber gets the PUBREL again (same id), never the PUBLISH. */
static void qos2_subscriber_pubrel_restored(void)
{
    int sub = session("s3", true, 3600, NULL);
    CHECK(sub >= 0);
    CHECK_INT(subscribe(sub, 1, "y/#", 2, 0), 2);
    int pub = session("p3", true, 0, NULL);
    CHECK(pub >= 0);
    publish(pub, "y/1", 2, false, 1, "exact");
    CHECK_INT(ack_of(pub, PUBREC, 1), 0);
    raw_send_ack(pub, PUBREL, 1);
    CHECK_INT(ack_of(pub, PUBCOMP, 1), 0);
    struct raw_pkt pkt = {0};
    struct raw_publish p;
    char text[64];
    CHECK(next_publish(sub, &pkt, &p, text, sizeof text, 5000));
    uint16_t id = p.packet_id;
    raw_send_ack(sub, PUBREC, id);
    CHECK_INT(ack_of(sub, PUBREL, id), 0); /* sent only once its record is durable */
    CHECK(e2e_restart_broker(SIGKILL, 0));
    bool present = false;
    sub = session("s3", false, 3600, &present);
    CHECK(sub >= 0);
    CHECK(present);
    raw_pkt_free(&pkt);
    CHECK_INT(raw_recv(sub, &pkt, 5000), RAW_OK);
    CHECK_INT(pkt.type, PUBREL);
    CHECK_INT(pkt.body[0] << 8 | pkt.body[1], id);
    raw_send_ack(sub, PUBCOMP, id);
    raw_pkt_free(&pkt);
    CHECK_INT(raw_recv(sub, &pkt, 1000), RAW_TIMEOUT); /* no PUBLISH again */
}

/* Snapshots (a tiny snapshot_log_bytes: many of them) keep the sessions:
 * after a crash every queued message is delivered, in order, once. */
static void snapshot_keeps_sessions(void)
{
    int fd = session("snap", true, 3600, NULL);
    CHECK(fd >= 0);
    CHECK_INT(subscribe(fd, 1, "s/#", 1, 5), 1);
    CHECK_INT(subscribe(fd, 2, "$share/g/s/#", 1, 6), 1);
    raw_close(fd);
    int pub = session("p", true, 0, NULL);
    CHECK(pub >= 0);
    char snap[PATH_MAX_E2E];
    snprintf(snap, sizeof snap, "%s/data/statestore.snap", e2e_dir());
    int n = 0;
    for (; n < 400; n++) {
        char text[128];
        snprintf(text, sizeof text, "%d padding padding padding padding padding padding padding padding", n);
        publish(pub, "s/1", 1, false, (uint16_t)(n + 1), text);
        CHECK_INT(ack_of(pub, PUBACK, (uint16_t)(n + 1)), 0);
        if (n % 100 == 99) e2e_sleep_ms(250); /* let snapshots finish */
    }
    CHECK(access(snap, F_OK) == 0);
    FILE *log = fopen(e2e_log_path(), "r");
    CHECK(log);
    char line[1024];
    int installed = 0;
    while (fgets(line, sizeof line, log)) installed += strstr(line, "statestore.snap installed") != NULL;
    fclose(log);
    e2e_note("%d snapshots installed", installed);
    CHECK(installed >= 2);
    CHECK(e2e_restart_broker(SIGKILL, 0));
    bool present = false;
    fd = session("snap", false, 3600, &present);
    CHECK(fd >= 0);
    CHECK(present);
    struct raw_pkt pkt = {0};
    struct raw_publish p;
    char text[128];
    /* Each message twice: once per subscription (the shared one is its own delivery). */
    int got[400] = {0}, total = 0;
    while (next_publish(fd, &pkt, &p, text, sizeof text, 1500)) {
        int k = atoi(text);
        CHECK(k >= 0 && k < 400);
        got[k]++;
        total++;
        raw_send_ack(fd, PUBACK, p.packet_id);
    }
    raw_pkt_free(&pkt);
    for (int k = 0; k < 400; k++) CHECK_INT(got[k], 2);
    CHECK_INT(total, 800);
}

/* --- crash under load ------------------------------------------------------- */

#define PUBLISHERS 3
#define MAX_MSGS 400000

typedef struct tally {
    bool acked[MAX_MSGS]; /* PUBACKed to its publisher */
    bool seen[MAX_MSGS];  /* delivered to the subscriber (before or after the crash) */
} tally;

/* Take every PUBLISH waiting on fd (acknowledging it); false when closed. */
static bool drain(int fd, tally *t, int timeout_ms)
{
    struct raw_pkt pkt = {0};
    struct raw_publish p;
    char text[32];
    int rc;
    while ((rc = raw_recv(fd, &pkt, timeout_ms)) == RAW_OK) {
        if (pkt.type == PUBLISH && raw_parse_publish_v5(&pkt, &p)) {
            size_t n = p.payload_len < sizeof text - 1 ? p.payload_len : sizeof text - 1;
            memcpy(text, p.payload, n);
            text[n] = 0;
            long k = strtol(text, NULL, 10);
            if (k >= 0 && k < MAX_MSGS) t->seen[k] = true;
            raw_send_ack(fd, PUBACK, p.packet_id);
        }
        raw_pkt_free(&pkt);
    }
    raw_pkt_free(&pkt);
    return rc != RAW_CLOSED;
}

/* Publishers send QoS 1 messages (several in flight each) to a durable
 * subscriber session, online or offline, until the server is killed at a
 * random moment; after the restart every PUBACKed message is delivered. */
static void crash_round(bool online, int round)
{
    tally *t = calloc(1, sizeof *t);
    char id[32];
    snprintf(id, sizeof id, "crash-sub-%d", round);
    int sub = session(id, true, 3600, NULL);
    CHECK(sub >= 0);
    CHECK_INT(subscribe(sub, 1, "load/#", 1, 0), 1);
    if (!online) raw_close(sub);
    int pubs[PUBLISHERS];
    for (int i = 0; i < PUBLISHERS; i++) {
        char pid[48];
        snprintf(pid, sizeof pid, "crash-pub-%d-%d", round, i);
        pubs[i] = session(pid, true, 0, NULL);
        CHECK(pubs[i] >= 0);
    }
    int64_t kill_at = e2e_now_ms() + 100 + rand() % 600;
    int next = 0;
    uint16_t base[PUBLISHERS][4];
    bool killed = false;
    while (!killed && next + PUBLISHERS * 4 < MAX_MSGS) {
        /* Four in flight per publisher, then their acks. */
        for (int i = 0; i < PUBLISHERS; i++)
            for (int k = 0; k < 4; k++) {
                char text[16];
                snprintf(text, sizeof text, "%d", next);
                base[i][k] = (uint16_t)next;
                publish(pubs[i], "load/x", 1, false, (uint16_t)(k + 1), text);
                next++;
            }
        if (e2e_now_ms() >= kill_at) {
            kill(e2e_broker_pid(), SIGKILL);
            killed = true;
        }
        for (int i = 0; i < PUBLISHERS; i++)
            for (int k = 0; k < 4; k++) {
                struct raw_pkt pkt = {0};
                if (raw_recv_type(pubs[i], PUBACK, &pkt, killed ? 500 : 3000) != RAW_OK) {
                    raw_pkt_free(&pkt);
                    break;
                }
                uint16_t pid = (uint16_t)(pkt.body[0] << 8 | pkt.body[1]);
                uint8_t rc = pkt.len > 2 ? pkt.body[2] : 0;
                if (pid >= 1 && pid <= 4 && rc == 0) t->acked[base[i][pid - 1]] = true;
                raw_pkt_free(&pkt);
            }
        if (online) drain(sub, t, 0);
    }
    CHECK(killed);
    if (online) drain(sub, t, 200);
    CHECK(e2e_restart_broker(SIGKILL, 0));
    bool present = false;
    sub = session(id, false, 3600, &present);
    CHECK(sub >= 0);
    CHECK(present);
    drain(sub, t, 1500);
    int acked = 0, lost = 0;
    for (int k = 0; k < next; k++) {
        acked += t->acked[k];
        if (t->acked[k] && !t->seen[k]) lost++;
    }
    e2e_note("round %d (%s): %d sent, %d PUBACKed, %d of them not delivered", round, online ? "online" : "offline",
             next, acked, lost);
    CHECK(acked > 0);
    CHECK_INT(lost, 0);
    free(t);
    raw_close_all();
}

static void crash_under_load(void)
{
    srand((unsigned)e2e_now_ms());
    for (int round = 0; round < 4 && !e2e_failed(); round++) crash_round(round % 2 == 1, round);
}

static const struct e2e_case cases[] = {
    {"subscriptions_survive", subscriptions_survive, NULL, "persistence", "persistence:\n  dir: @DIR@/data\n", 0},
    {"queued_messages_after_crash", queued_messages_after_crash, NULL, "persistence",
     "persistence:\n  dir: @DIR@/data\n  fsync: always\n", 0},
    {"inflight_resent_with_same_id", inflight_resent_with_same_id, NULL, "persistence",
     "persistence:\n  dir: @DIR@/data\n  fsync: always\n", 0},
    {"expiry_keeps_counting", expiry_keeps_counting, NULL, "persistence", "persistence:\n  dir: @DIR@/data\n", 0},
    {"connected_at_crash_counts_from_start", connected_at_crash_counts_from_start, NULL, "persistence",
     "persistence:\n  dir: @DIR@/data\n  fsync: always\n", 0},
    {"selection_by_client_id", selection_by_client_id, NULL, "persistence",
     "persistence:\n  dir: @DIR@/data\n  sessions:\n    clientIds: [\"keep-*\"]\n", 0},
    {"selection_none", selection_none, NULL, "persistence", "persistence:\n  dir: @DIR@/data\n  sessions: none\n", 0},
    {"qos2_publisher_exactly_once", qos2_publisher_exactly_once, NULL, "persistence",
     "persistence:\n  dir: @DIR@/data\n  fsync: always\n", 0},
    {"qos2_subscriber_pubrel_restored", qos2_subscriber_pubrel_restored, NULL, "persistence",
     "persistence:\n  dir: @DIR@/data\n  fsync: always\n", 0},
    {"snapshot_keeps_sessions", snapshot_keeps_sessions, &(struct e2e_limits){.max_queued_messages = 1000},
     "persistence", "persistence:\n  dir: @DIR@/data\n  snapshot_log_bytes: 8192\n", 0},
    {"crash_under_load_fsync_always", crash_under_load, NULL, "persistence",
     "persistence:\n  dir: @DIR@/data\n  fsync: always\n", 0},
    {"crash_under_load_fsync_everysec", crash_under_load, NULL, "persistence",
     "persistence:\n  dir: @DIR@/data\n  fsync: everysec\n", 0},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof *cases), argc, argv); }
