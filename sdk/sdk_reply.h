/* Response acceptance (protocol §2.6) and per-command reply decoding
 * (§3.4, §3.6, §3.8, §14.5), independent of MQTT: the transport extracts
 * the relevant properties into an sdk_envelope first. */
#ifndef MQS_SDK_REPLY_H
#define MQS_SDK_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqstate/client.h"
#include "ssproto/hlc.h"

typedef enum sdk_op {
    SDK_OP_SET,
    SDK_OP_GET,
    SDK_OP_DEL,
    SDK_OP_VDEL,
    SDK_OP_OBSERVE,
    SDK_OP_UNOBSERVE,
    SDK_OP_SCAN,
    SDK_OP_ADMIN, /* CLUSTER STATUS: a bulk string (JSON text) */
    SDK_OP_OK,    /* CLUSTER ADD/REMOVE: +OK */
} sdk_op;

/* The response properties that matter, as NUL-terminated strings; NULL
 * when absent. */
typedef struct sdk_envelope {
    const char *stat;         /* user __stat */
    const char *st_msg;       /* user __stMsg */
    const char *prot_ver;     /* user __protVer */
    const char *ts;           /* user __ts */
    const char *content_type; /* Content Type property */
} sdk_envelope;

/* Validate the envelope: __stat present and exactly 200, __protVer absent
 * or `<major>.<minor>` with major 1, content type absent or exactly
 * application/octet-stream, __ts absent or a valid HLC (then *ts is set
 * and *has_ts true; ts->node points into e->ts). On MQS_ERR_STATUS,
 * out->error_text receives a copy of __stMsg. */
mqs_err sdk_envelope_check(const sdk_envelope *e, mqs_result *out, hlc *ts, bool *has_ts);

/* Decode a reply payload for op into *out (err, applied, value, count,
 * keys...). ts (NULL: none) is the response version; it becomes
 * out->version where §14.5 says so. Returns out->err. */
mqs_err sdk_reply_decode(sdk_op op, const uint8_t *p, size_t n, const hlc *ts, mqs_result *out);

/* The code of a `-ERR` text: a §3.5 code, or MQS_ERR_SERVICE_UNKNOWN. */
mqs_err sdk_service_error(const uint8_t *text, size_t len);

/* The §3.5 text of a service error code, or NULL for other codes. */
const char *sdk_service_error_text(mqs_err err);

#endif
