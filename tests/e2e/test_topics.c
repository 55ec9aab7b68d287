/* Topic matching and subscription options: wildcards, $-topics, overlapping
 * subscriptions, no-local, retain-as-published, retain handling and shared
 * subscriptions. */
#include <stdio.h>
#include <string.h>

#include "client.h"
#include "rawclient.h"

static const char *const match_topics[] = {"a", "a/b", "a/b/c", "a/x/c", "a/b/c/d", "b/b", "a//c"};
#define N_TOPICS 7

static const struct {
    const char *filter;
    const char *matches; /* one character per topic above: 1 = delivered */
} match_table[] = {
    {"a/+/c", "0011001"}, {"a/#", "1111101"},   {"+/+", "0100010"}, {"+/b/#", "0110110"},
    {"#", "1111111"},     {"a/b/c", "0010000"}, {"+", "1000000"},
};
#define N_FILTERS 7

static void wildcard_matching(void)
{
    struct tc *subs[N_FILTERS];
    char id[32];
    for (int f = 0; f < N_FILTERS; f++) {
        snprintf(id, sizeof id, "sub%d", f);
        subs[f] = tc_open(id, MQTT_PROTOCOL_V5, true, NULL);
        CHECK(subs[f]);
        CHECK_INT(tc_subscribe(subs[f], match_table[f].filter, 1, 0, NULL), 1);
    }
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(pub);
    for (int t = 0; t < N_TOPICS; t++) CHECK(tc_publish(pub, match_topics[t], "m", 1, false, NULL) >= 0);
    tc_wait_msgs(subs[4], N_TOPICS, TC_TIMEOUT_MS); /* "#" gets everything */
    tc_pump_for(300);
    for (int f = 0; f < N_FILTERS; f++) {
        for (int t = 0; t < N_TOPICS; t++) {
            int expected = match_table[f].matches[t] == '1';
            int got = tc_count_topic(subs[f], match_topics[t]);
            if (got != expected)
                e2e_note("filter '%s' topic '%s': got %d, expected %d", match_table[f].filter, match_topics[t], got,
                         expected);
            CHECK_INT(got, expected);
        }
    }
}

static void dollar_topics_not_matched_by_wildcards(void)
{
    struct tc *all = tc_open("all", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *plus = tc_open("plus", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *explicit = tc_open("explicit", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(all && plus && explicit && pub);
    CHECK_INT(tc_subscribe(all, "#", 1, 0, NULL), 1);
    CHECK_INT(tc_subscribe(plus, "+/x", 1, 0, NULL), 1);
    CHECK_INT(tc_subscribe(explicit, "$dollar/#", 1, 0, NULL), 1);
    CHECK(tc_publish(pub, "$dollar/x", "hidden", 1, false, NULL) >= 0);
    CHECK(tc_publish(pub, "plain/x", "visible", 1, false, NULL) >= 0);
    CHECK(tc_wait_msgs(explicit, 1, TC_TIMEOUT_MS));
    CHECK_STR(explicit->msgs[0].topic, "$dollar/x");
    PUMP_UNTIL(tc_count_topic(all, "plain/x") && tc_count_topic(plus, "plain/x"), TC_TIMEOUT_MS);
    tc_pump_for(200);
    /* Brokers may publish their own $SYS topics; none may reach "#". */
    for (int i = 0; i < all->msg_count; i++) CHECK(all->msgs[i].topic[0] != '$');
    CHECK_INT(tc_count_topic(all, "plain/x"), 1);
    CHECK_INT(plus->msg_count, 1);
    CHECK_STR(plus->msgs[0].topic, "plain/x");
}

static void sub_id_props(struct pb *p, uint32_t id)
{
    p->len = 0;
    pb_u8(p, MQTT_PROP_SUBSCRIPTION_IDENTIFIER);
    pb_varint(p, id);
}

/* Raw subscriber: libmosquitto 2.0.11 drops the connection on a PUBLISH with
 * more than one Subscription Identifier, which MQTT 5 allows. */
static void overlapping_subscriptions_single_copy(void)
{
    struct pb id1 = {0}, id2 = {0};
    sub_id_props(&id1, 1);
    sub_id_props(&id2, 2);
    int fd = raw_connect_v5(e2e_port(), "overlap", true, NULL, NULL);
    CHECK(fd >= 0);
    CHECK_INT(raw_subscribe_v5(fd, 1, "ov/#", 0, &id1), 0);
    CHECK_INT(raw_subscribe_v5(fd, 2, "ov/+", 1, &id2), 1);
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(pub);
    CHECK_INT(tc_publish(pub, "ov/x", "once", 2, false, NULL), 0);

    struct raw_pkt pkt;
    struct raw_publish p;
    uint32_t ids[4] = {0};
    CHECK_INT(raw_recv_type(fd, 3, &pkt, TC_TIMEOUT_MS), RAW_OK);
    bool parsed = raw_parse_publish_v5(&pkt, &p);
    int n = parsed ? raw_prop_all(p.props, p.props_len, MQTT_PROP_SUBSCRIPTION_IDENTIFIER, ids, 4) : 0;
    raw_pkt_free(&pkt);
    CHECK(parsed);
    if (p.qos > 0) CHECK(raw_send_ack(fd, 4, p.packet_id));
    int second = raw_recv_type(fd, 3, &pkt, 300);
    if (second == RAW_OK) raw_pkt_free(&pkt);
    if (second == RAW_OK && e2e_mosquitto_deviates("sends one copy per overlapping subscription")) return;
    CHECK_INT(second, RAW_TIMEOUT); /* exactly one copy */
    CHECK_INT(p.qos, 1);            /* the highest of the matching subscriptions */
    CHECK_INT(n, 2);
    CHECK((ids[0] == 1 && ids[1] == 2) || (ids[0] == 2 && ids[1] == 1));
}

static void no_local(void)
{
    struct tc *self = tc_open("self", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *other = tc_open("other", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(self && other);
    CHECK_INT(tc_subscribe(self, "nl/t", 1, MQTT_SUB_OPT_NO_LOCAL, NULL), 1);
    /* 0x10: with no-local the publisher itself is no subscriber. */
    int rc = tc_publish(self, "nl/t", "mine", 1, false, NULL);
    CHECK(rc == 0 || rc == 0x10);
    tc_pump_for(300);
    CHECK_INT(self->msg_count, 0);
    CHECK_INT(tc_publish(other, "nl/t", "theirs", 1, false, NULL), 0);
    CHECK(tc_wait_msgs(self, 1, TC_TIMEOUT_MS));
    CHECK_STR(self->msgs[0].payload, "theirs");
}

static void retain_as_published(void)
{
    struct tc *rap = tc_open("rap", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *plain = tc_open("plain", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(rap && plain && pub);
    CHECK_INT(tc_subscribe(rap, "rap/t", 1, MQTT_SUB_OPT_RETAIN_AS_PUBLISHED, NULL), 1);
    CHECK_INT(tc_subscribe(plain, "rap/t", 1, 0, NULL), 1);
    CHECK_INT(tc_publish(pub, "rap/t", "live", 1, true, NULL), 0);
    CHECK(tc_wait_msgs(rap, 1, TC_TIMEOUT_MS));
    CHECK(tc_wait_msgs(plain, 1, TC_TIMEOUT_MS));
    CHECK(rap->msgs[0].retain);
    CHECK(!plain->msgs[0].retain);
    /* A retained message sent because of a new subscription keeps the flag. */
    struct tc *late = tc_open("late", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(late);
    CHECK_INT(tc_subscribe(late, "rap/t", 1, 0, NULL), 1);
    CHECK(tc_wait_msgs(late, 1, TC_TIMEOUT_MS));
    CHECK(late->msgs[0].retain);
}

/* Subscribes twice with the option and returns how many retained copies
 * arrived after the first and the second SUBSCRIBE (as a*10+b). */
static int retained_copies(struct tc *c, int options)
{
    tc_subscribe(c, "rh/t", 1, options, NULL);
    tc_pump_for(300);
    int first = c->msg_count;
    tc_subscribe(c, "rh/t", 1, options, NULL);
    tc_pump_for(300);
    return first * 10 + (c->msg_count - first);
}

static void retain_handling(void)
{
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *rh0 = tc_open("rh0", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *rh1 = tc_open("rh1", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *rh2 = tc_open("rh2", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(pub && rh0 && rh1 && rh2);
    int rc = tc_publish(pub, "rh/t", "stored", 1, true, NULL);
    CHECK(rc == 0 || rc == 0x10); /* 0x10: no subscribers yet, still retained */
    CHECK_INT(retained_copies(rh0, MQTT_SUB_OPT_SEND_RETAIN_ALWAYS), 11);
    CHECK_INT(retained_copies(rh1, MQTT_SUB_OPT_SEND_RETAIN_NEW), 10);
    CHECK_INT(retained_copies(rh2, MQTT_SUB_OPT_SEND_RETAIN_NEVER), 0);
}

static void shared_subscriptions_balanced(void)
{
    enum { MEMBERS = 3, MESSAGES = 30 };
    struct tc *member[MEMBERS];
    char id[32];
    for (int i = 0; i < MEMBERS; i++) {
        snprintf(id, sizeof id, "member%d", i);
        member[i] = tc_open(id, MQTT_PROTOCOL_V5, true, NULL);
        CHECK(member[i]);
        CHECK_INT(tc_subscribe(member[i], "$share/grp/sh/t", 1, 0, NULL), 1);
    }
    struct tc *plain = tc_open("plain", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(plain && pub);
    CHECK_INT(tc_subscribe(plain, "sh/t", 1, 0, NULL), 1);
    for (int i = 0; i < MESSAGES; i++) CHECK(tc_publish(pub, "sh/t", "s", 1, false, NULL) >= 0);
    PUMP_UNTIL(member[0]->msg_count + member[1]->msg_count + member[2]->msg_count >= MESSAGES, TC_TIMEOUT_MS);
    tc_wait_msgs(plain, MESSAGES, TC_TIMEOUT_MS);
    tc_pump_for(300);
    CHECK_INT(plain->msg_count, MESSAGES); /* the normal subscription sees all */
    CHECK_INT(member[0]->msg_count + member[1]->msg_count + member[2]->msg_count, MESSAGES);
    for (int i = 0; i < MEMBERS; i++) {
        e2e_note("member%d got %d of %d", i, member[i]->msg_count, MESSAGES);
        CHECK(member[i]->msg_count >= MESSAGES / MEMBERS - 5);
        CHECK(member[i]->msg_count <= MESSAGES / MEMBERS + 5);
    }
}

static void shared_member_leaving_redelivers(void)
{
    enum { MESSAGES = 6 };
    int lazy = raw_connect_v5(e2e_port(), "lazy", true, NULL, NULL);
    CHECK(lazy >= 0);
    CHECK_INT(raw_subscribe_v5(lazy, 1, "$share/grp/sl/t", 1, NULL), 1);
    struct tc *busy = tc_open("busy", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *pub = tc_open("pub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(busy && pub);
    CHECK_INT(tc_subscribe(busy, "$share/grp/sl/t", 1, 0, NULL), 1);
    char payload[16];
    for (int i = 0; i < MESSAGES; i++) {
        snprintf(payload, sizeof payload, "p%d", i);
        CHECK(tc_publish(pub, "sl/t", payload, 1, false, NULL) >= 0);
    }
    struct raw_pkt pkt;
    int unacked = 0;
    while (raw_recv_type(lazy, 3, &pkt, 300) == RAW_OK) {
        unacked++;
        raw_pkt_free(&pkt);
    }
    CHECK(unacked > 0); /* otherwise the test proves nothing */
    raw_close(lazy);    /* session (expiry 0) ends with QoS 1 messages unacked */

    tc_wait_msgs(busy, MESSAGES, TC_TIMEOUT_MS);
    if (busy->msg_count < MESSAGES && e2e_mosquitto_deviates("drops a leaving shared member's unacked QoS 1 messages"))
        return;
    for (int i = 0; i < MESSAGES; i++) {
        snprintf(payload, sizeof payload, "p%d", i);
        int copies = 0;
        for (int m = 0; m < busy->msg_count; m++) copies += strcmp(busy->msgs[m].payload, payload) == 0;
        CHECK(copies >= 1);
    }
}

/* The broker caches a topic's match result (src/broker/route.c); every
 * change of the subscriptions must show in the very next publication on
 * that topic: a new subscriber, an unsubscribe, replaced options, a
 * session that ends, a shared subscription (never cached). */
static void publish_and_settle(struct tc *pub, const char *payload)
{
    CHECK(tc_publish(pub, "rc/t", payload, 1, false, NULL) >= 0);
    tc_pump_for(150);
}

static void route_follows_subscription_changes(void)
{
    struct tc *a = tc_open("rc-a", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *b = tc_open("rc-b", MQTT_PROTOCOL_V5, true, NULL);
    struct tc *pub = tc_open("rc-pub", MQTT_PROTOCOL_V5, true, NULL);
    CHECK(a && b && pub);
    CHECK_INT(tc_subscribe(a, "rc/t", 1, 0, NULL), 1);
    publish_and_settle(pub, "1"); /* fills the cache */
    publish_and_settle(pub, "2"); /* served from it */
    CHECK_INT(tc_count_topic(a, "rc/t"), 2);
    CHECK_INT(b->msg_count, 0);

    CHECK_INT(tc_subscribe(b, "rc/+", 1, 0, NULL), 1);
    publish_and_settle(pub, "3");
    CHECK_INT(tc_count_topic(a, "rc/t"), 3);
    CHECK_INT(tc_count_topic(b, "rc/t"), 1);

    CHECK(mosquitto_unsubscribe(a->m, NULL, "rc/t") == MOSQ_ERR_SUCCESS);
    tc_pump_for(150);
    publish_and_settle(pub, "4");
    CHECK_INT(tc_count_topic(a, "rc/t"), 3);
    CHECK_INT(tc_count_topic(b, "rc/t"), 2);

    CHECK_INT(tc_subscribe(b, "rc/+", 0, 0, NULL), 0); /* options replaced: QoS 0 */
    publish_and_settle(pub, "5");
    CHECK_INT(tc_count_topic(b, "rc/t"), 3);
    CHECK_INT(b->msgs[b->msg_count - 1].qos, 0);

    CHECK_INT(tc_subscribe(a, "$share/g/rc/t", 1, 0, NULL), 1);
    publish_and_settle(pub, "6");
    CHECK_INT(tc_count_topic(a, "rc/t"), 4);
    CHECK_INT(tc_count_topic(b, "rc/t"), 4);

    tc_disconnect(b, 0); /* clean session: b's session and subscriptions end */
    tc_pump_for(150);
    publish_and_settle(pub, "7");
    CHECK_INT(tc_count_topic(a, "rc/t"), 5);
    CHECK_INT(tc_count_topic(b, "rc/t"), 4);
}

static const struct e2e_case cases[] = {
    {"wildcard_matching", wildcard_matching, NULL, NULL},
    {"dollar_topics_not_matched_by_wildcards", dollar_topics_not_matched_by_wildcards, NULL, NULL},
    {"overlapping_subscriptions_single_copy", overlapping_subscriptions_single_copy, NULL, NULL},
    {"no_local", no_local, NULL, NULL},
    {"retain_as_published", retain_as_published, NULL, NULL},
    {"retain_handling", retain_handling, NULL, NULL},
    {"shared_subscriptions_balanced", shared_subscriptions_balanced, NULL, NULL},
    {"shared_member_leaving_redelivers", shared_member_leaving_redelivers, NULL, NULL},
    {"route_follows_subscription_changes", route_follows_subscription_changes, NULL, NULL},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
