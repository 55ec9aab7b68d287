/* Private to src/mqtt: v5 property block decoding and encoding. */
#ifndef MQS_MQTT_PROP_H
#define MQS_MQTT_PROP_H

#include "mqtt/wire.h"

/* Where a property block sits: a packet type (enum mqtt_type) or a will.
 * Type 0 is reserved in MQTT, so it is free to mean "will properties". */
#define MQTT_PROPS_WILL 0

/* Decode the property block at r (length prefix included) into *out for
 * context `ctx`. `from_server` permits what only a server may send
 * (subscription identifiers in PUBLISH). Returns MQTT_RC_SUCCESS or the
 * reason code for the violation. */
int mqtt_props_decode(rd *r, uint8_t ctx, bool from_server, mqtt_props *out);

/* Write the property block (length prefix included) for `p`. */
void mqtt_props_write(wr *w, const mqtt_props *p);

/* True when `p` would encode as an empty block. */
bool mqtt_props_empty(const mqtt_props *p);

#endif
