/* $SYS/broker/... topics (docs/metrics.md, "$SYS topics"): the broker's
 * figures under Mosquitto's names, published as retained QoS 0 messages
 * every `sys_interval` seconds, each only when its value changed, so a
 * subscriber gets what changed and a client that did not subscribe gets
 * nothing. Reading them is a SUBSCRIBE like any other (the authorization
 * rules decide; `#` never covers `$SYS`); clients may not publish under
 * $SYS/broker/ (0x87), so the values are always the broker's own. */
#ifndef MQS_SERVER_SYS_TOPICS_H
#define MQS_SERVER_SYS_TOPICS_H

#include <stdint.h>
#include <uv.h>

#include "broker/broker.h"
#include "net/net.h"

typedef struct sys_topics sys_topics;

/* NULL when interval_s is 0 (off). Publishes the first values at once. */
sys_topics *sys_topics_new(uv_loop_t *loop, broker *b, net *n, uint32_t interval_s, uint64_t start_wall_ms);
/* Stop the timer and the publish guard (before broker_shutdown); the loop
 * then runs until idle before sys_topics_free. NULL is ignored. */
void sys_topics_shutdown(sys_topics *s);
void sys_topics_free(sys_topics *s);

#endif
