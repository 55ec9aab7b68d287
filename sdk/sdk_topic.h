/* Topic names of the state store protocol as the client uses them (§1.1,
 * §1.2, §1.4) and the notification payload (§3.7). Pure functions. */
#ifndef MQS_SDK_TOPIC_H
#define MQS_SDK_TOPIC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqstate/client.h"
#include "ssproto/topic.h"
#include "util/buf.h"

/* Rust-SDK response topic: clients/<id>/services/<request topic>/response,
 * NUL-terminated, malloc'd. */
char *sdk_response_topic(const char *client_id);

/* The notification topic up to (and including) the slash before the key
 * level: clients/statestore/v1/<uuid>/<HEXUPPER(id)>/command/notify/,
 * NUL-terminated, malloc'd. Subscribe to it with "+" appended. */
char *sdk_notify_prefix(const char *client_id);

/* Decode the key from a notification topic that must start with prefix
 * and whose remaining (last) level is the key in Base16: an even number of
 * hex digits (upper case; lower case tolerated), at least one byte, no
 * further '/'. Appends the key to *key; false (key untouched) otherwise. */
bool sdk_topic_key(const char *topic, const char *prefix, buf *key);

/* Parse a §3.7 notification payload: exactly
 * `*4 NOTIFY SET VALUE <bulk>` or `*2 NOTIFY DELETE`. For SET, value and vlen
 * point into p. */
bool sdk_notify_parse(const uint8_t *p, size_t n, mqs_notify_op *op, const uint8_t **value, size_t *vlen);

#endif
