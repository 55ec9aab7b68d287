/* The state store's MQTT topics (protocol §1.1, §1.3, §1.4), spelled once
 * for the server and the SDK:
 *   request:      statestore/v1/<NS>/command/invoke
 *   notification: clients/statestore/v1/<NS>/<HEX(clientId)>/command/notify/<HEX(key)>
 * HEX is upper-case Base16, exactly two digits per byte. */
#ifndef MQS_SSPROTO_TOPIC_H
#define MQS_SSPROTO_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

/* The state store's namespace GUID (protocol §1). */
#define SSPROTO_NS_GUID "FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8"

#define SSPROTO_REQUEST_TOPIC "statestore/v1/" SSPROTO_NS_GUID "/command/invoke"
/* The notification namespace: the topic NOTIFY_NS and everything below it. */
#define NOTIFY_NS "clients/statestore/v1/" SSPROTO_NS_GUID
#define NOTIFY_TOPIC_PREFIX NOTIFY_NS "/"
#define NOTIFY_TOPIC_MIDDLE "/command/notify/"

/* MQTT's longest topic name (a two-byte length): a notification topic
 * beyond it cannot be sent, so such a registration is refused. */
#define NOTIFY_TOPIC_MAX 65535

/* Is the topic name or filter t[0..len) inside the notification namespace
 * (exactly NOTIFY_NS, or NOTIFY_NS followed by '/')? Wildcard filters above
 * it ("#", "clients/+/...") are not. */
bool notify_in_namespace(const void *t, size_t len);

/* Length of the notification topic of a client id of idlen bytes and a
 * key of klen bytes (what notify_topic_build appends). */
static inline size_t notify_topic_len(size_t idlen, size_t klen)
{
    return sizeof NOTIFY_TOPIC_PREFIX - 1 + 2 * idlen + sizeof NOTIFY_TOPIC_MIDDLE - 1 + 2 * klen;
}

/* Append the upper-case hex of p[0..n) to b (2n bytes, no terminator). */
void notify_hex_append(buf *b, const void *p, size_t n);
/* Append the notification topic for a client (given as its precomputed
 * hex, see notify_watcher) and a key to b. */
void notify_topic_build(buf *b, const char *client_hex, size_t hexlen, const void *key, size_t klen);

#endif
