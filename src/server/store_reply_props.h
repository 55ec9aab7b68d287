/* The MQTT property blocks of the state store's replies (protocol §2.4,
 * §2.5) and notifications (§1.4), built into buffers this module owns.
 *
 * A 200 reply is the hot path: its constant parts (content type, then
 * __stat and __protVer) are encoded once at init and copied around the
 * correlation data, with __ts last; any other status goes through the
 * generic encoder (mqtt_props_encode_block). The result is valid until the
 * next build of the same kind. */
#ifndef MQS_SERVER_STORE_REPLY_PROPS_H
#define MQS_SERVER_STORE_REPLY_PROPS_H

#include "mqtt/codec.h"
#include "util/buf.h"

typedef struct store_reply_props {
    buf reply, notification; /* the last built blocks */
    buf ok_head, ok_users;   /* constant parts of every 200 reply */
} store_reply_props;

void store_reply_props_init(store_reply_props *p);
void store_reply_props_free(store_reply_props *p);

/* Content type and correlation data first, then the user properties of
 * §2.4 (200: __stat, __protVer, and __ts = version unless NULL) or §2.5
 * (errors: __stat, __protVer, __stMsg, __apErr, and for 505
 * __supProtMajVer and __requestProtVer, for 400 __propName). */
mqtt_bytes store_reply_props_build(store_reply_props *p, mqtt_bytes corr, int status, const char *message,
                                   mqtt_bytes req_prot_ver, const buf *version);

/* A notification's block: content type and __ts. */
mqtt_bytes store_reply_props_notification(store_reply_props *p, mqtt_bytes version);

#endif
