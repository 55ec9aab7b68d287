/* $SYS/broker/... topics (sys_topics.h). */
#include "server/sys_topics.h"

#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/clock.h"

#define SYS_PREFIX "$SYS/broker/"

/* The topics, in publication order; each keeps the text last published. */
enum {
    SYS_VERSION,
    SYS_UPTIME,
    SYS_CLIENTS_CONNECTED,
    SYS_CLIENTS_DISCONNECTED,
    SYS_CLIENTS_TOTAL,
    SYS_MESSAGES_RECEIVED,
    SYS_MESSAGES_SENT,
    SYS_PUBLISH_RECEIVED,
    SYS_PUBLISH_SENT,
    SYS_PUBLISH_DROPPED,
    SYS_BYTES_RECEIVED,
    SYS_BYTES_SENT,
    SYS_RETAINED_COUNT,
    SYS_SUBSCRIPTIONS_COUNT,
    SYS_STORE_COUNT,
    SYS_STORE_BYTES,
    SYS_HEAP_CURRENT,
    SYS_TOPICS
};

static const char *const names[SYS_TOPICS] = {
    SYS_PREFIX "version",
    SYS_PREFIX "uptime",
    SYS_PREFIX "clients/connected",
    SYS_PREFIX "clients/disconnected",
    SYS_PREFIX "clients/total",
    SYS_PREFIX "messages/received",
    SYS_PREFIX "messages/sent",
    SYS_PREFIX "publish/messages/received",
    SYS_PREFIX "publish/messages/sent",
    SYS_PREFIX "publish/messages/dropped",
    SYS_PREFIX "bytes/received",
    SYS_PREFIX "bytes/sent",
    SYS_PREFIX "retained messages/count",
    SYS_PREFIX "subscriptions/count",
    SYS_PREFIX "store/messages/count",
    SYS_PREFIX "store/messages/bytes",
    SYS_PREFIX "heap/current",
};

struct sys_topics {
    broker *b;
    net *n;
    uv_timer_t timer;
    uint64_t start_wall_ms;
    bool guard_installed;
    char last[SYS_TOPICS][40]; /* "" until first published */
};

static void publish_if_changed(sys_topics *s, int i, const char *value)
{
    if (strcmp(s->last[i], value) == 0) return;
    snprintf(s->last[i], sizeof s->last[i], "%s", value);
    broker_message m = {.topic = {(const uint8_t *)names[i], (uint32_t)strlen(names[i])},
                        .payload = {(const uint8_t *)value, (uint32_t)strlen(value)},
                        .qos = 0,
                        .retain = true};
    broker_publish(s->b, &m);
}

static void publish_u64(sys_topics *s, int i, uint64_t v)
{
    char text[24];
    snprintf(text, sizeof text, "%" PRIu64, v);
    publish_if_changed(s, i, text);
}

static void tick(uv_timer_t *t)
{
    sys_topics *s = t->data;
    broker_stats bs;
    broker_get_stats(s->b, &bs);
    broker_queue_stats q;
    broker_get_queue_stats(s->b, &q);
    net_stats ns;
    net_get_stats(s->n, &ns);
    char text[40];
    publish_if_changed(s, SYS_VERSION, "mqstated " MQS_VERSION);
    snprintf(text, sizeof text, "%" PRIu64 " seconds", (clock_wall_ms() - s->start_wall_ms) / 1000);
    publish_if_changed(s, SYS_UPTIME, text);
    publish_u64(s, SYS_CLIENTS_CONNECTED, q.sessions_online);
    publish_u64(s, SYS_CLIENTS_DISCONNECTED, bs.sessions - q.sessions_online);
    publish_u64(s, SYS_CLIENTS_TOTAL, bs.sessions);
    uint64_t in = bs.msgs_in[0] + bs.msgs_in[1] + bs.msgs_in[2];
    uint64_t out = bs.msgs_out[0] + bs.msgs_out[1] + bs.msgs_out[2];
    publish_u64(s, SYS_MESSAGES_RECEIVED, in);
    publish_u64(s, SYS_MESSAGES_SENT, out);
    publish_u64(s, SYS_PUBLISH_RECEIVED, in);
    publish_u64(s, SYS_PUBLISH_SENT, out);
    publish_u64(s, SYS_PUBLISH_DROPPED,
                bs.dropped_qos0 + bs.dropped_queue_full + bs.dropped_too_large + bs.dropped_expired);
    publish_u64(s, SYS_BYTES_RECEIVED, ns.bytes_read);
    publish_u64(s, SYS_BYTES_SENT, ns.bytes_written);
    publish_u64(s, SYS_RETAINED_COUNT, bs.retained);
    publish_u64(s, SYS_SUBSCRIPTIONS_COUNT, bs.subscriptions);
    publish_u64(s, SYS_STORE_COUNT, q.queued + q.inflight);
    publish_u64(s, SYS_STORE_BYTES, q.bytes);
    struct mallinfo2 mi = mallinfo2();
    publish_u64(s, SYS_HEAP_CURRENT, (uint64_t)(mi.uordblks + mi.hblkhd));
}

/* Nobody but the broker publishes under $SYS/broker/. */
static uint8_t guard(void *ctx, const broker_auth_request *r)
{
    (void)ctx;
    static const char prefix[] = SYS_PREFIX;
    size_t n = sizeof prefix - 1;
    if (r->action != BROKER_ACTION_PUBLISH) return MQTT_RC_SUCCESS;
    if (r->topic.len >= n && memcmp(r->topic.data, prefix, n) == 0) return MQTT_RC_NOT_AUTHORIZED;
    return MQTT_RC_SUCCESS;
}

sys_topics *sys_topics_new(uv_loop_t *loop, broker *b, net *n, uint32_t interval_s, uint64_t start_wall_ms)
{
    if (!interval_s) return NULL;
    sys_topics *s = xcalloc(1, sizeof *s);
    s->b = b;
    s->n = n;
    s->start_wall_ms = start_wall_ms;
    broker_add_authorizer(b, guard, s);
    s->guard_installed = true;
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, tick, 0, (uint64_t)interval_s * 1000);
    return s;
}

static void on_closed(uv_handle_t *h) { (void)h; }

void sys_topics_shutdown(sys_topics *s)
{
    if (!s || !s->guard_installed) return;
    s->guard_installed = false;
    broker_remove_authorizer(s->b, guard, s);
    uv_close((uv_handle_t *)&s->timer, on_closed);
}

void sys_topics_free(sys_topics *s) { free(s); }
