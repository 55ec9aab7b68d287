/* The state store's topic protections (protocol §10.5): see
 * store_topic_guard.h. */
#include "server/store_topic_guard.h"

#include <string.h>

#include "ssproto/topic.h"

#define S mqtt_bytes_str
#define BUF mqtt_bytes_buf

/* NS/<HEX(id)> (hex = true: the SDKs' notification topics) or NS/<id>,
 * built in the scratch buffer. */
static buf *client_ns(buf *b, mqtt_bytes client_id, bool hex)
{
    b->len = 0;
    buf_append(b, NOTIFY_TOPIC_PREFIX, sizeof NOTIFY_TOPIC_PREFIX - 1);
    if (hex) notify_hex_append(b, client_id.data, client_id.len);
    else buf_append(b, client_id.data, client_id.len);
    return b;
}

/* Is `f` one of the two notification filters `client_id` may subscribe
 * to: NS/<HEX(id)>/command/notify/+ (Rust, Go) or NS/<id>/command/notify
 * (.NET, which never matches: notifications are delivered directly)? */
static bool own_notify_filter(buf *scratch, mqtt_bytes client_id, mqtt_bytes f)
{
    buf *b = client_ns(scratch, client_id, true);
    buf_append(b, "/command/notify/+", 17);
    if (mqtt_bytes_eq(f, BUF(b))) return true;
    b = client_ns(scratch, client_id, false);
    buf_append(b, "/command/notify", 15);
    return mqtt_bytes_eq(f, BUF(b));
}

/* Wildcard filters above the namespace ("#", "clients/+/...") stay allowed:
 * nothing is ever routed inside it (publishing there is denied and
 * notifications bypass routing), so they cannot see other clients' data. */
static bool in_namespace(mqtt_bytes t) { return notify_in_namespace(t.data, t.len); }

/* Is `t` a notification topic of `client_id` (NS/<HEX(id)>/command/notify/...)? */
static bool own_notification(buf *scratch, mqtt_bytes client_id, mqtt_bytes t)
{
    buf *b = client_ns(scratch, client_id, true);
    buf_append(b, "/command/notify/", 16);
    return t.len > b->len && memcmp(t.data, b->data, b->len) == 0;
}

uint8_t store_topic_guard(buf *scratch, const broker_auth_request *r)
{
    if (r->action == BROKER_ACTION_PUBLISH) return in_namespace(r->topic) ? MQTT_RC_NOT_AUTHORIZED : MQTT_RC_SUCCESS;
    /* A queued message inside the namespace is a notification the bridge
     * delivered: the watcher keeps its own (Read was checked when sent). */
    if (r->action == BROKER_ACTION_RECEIVE)
        return !in_namespace(r->topic) || own_notification(scratch, r->client_id, r->topic) ? MQTT_RC_SUCCESS
                                                                                            : MQTT_RC_NOT_AUTHORIZED;
    if (mqtt_bytes_eq(r->filter, S(SSPROTO_REQUEST_TOPIC))) return MQTT_RC_NOT_AUTHORIZED;
    if (!in_namespace(r->filter)) return MQTT_RC_SUCCESS;
    if (r->share_group.len == 0 && own_notify_filter(scratch, r->client_id, r->filter)) return MQTT_RC_SUCCESS;
    return MQTT_RC_NOT_AUTHORIZED;
}
