/* The state store's topic protections (protocol §10.5), as a broker
 * authorizer's decision: nobody publishes inside the notification
 * namespace (only the bridge delivers there, directly); a client may
 * subscribe inside it only to its own notification filters and receive
 * only its own notifications; nobody subscribes to the request topic
 * (requests are the service's, not other clients'). Pure: the bridge
 * passes a scratch buffer for the topics it builds. */
#ifndef MQS_SERVER_STORE_TOPIC_GUARD_H
#define MQS_SERVER_STORE_TOPIC_GUARD_H

#include <stdint.h>

#include "broker/broker.h"
#include "util/buf.h"

/* MQTT_RC_SUCCESS or MQTT_RC_NOT_AUTHORIZED for r. */
uint8_t store_topic_guard(buf *scratch, const broker_auth_request *r);

#endif
