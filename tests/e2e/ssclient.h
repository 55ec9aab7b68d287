/* An independent state store RPC client for the end-to-end tests: RESP
 * requests built by hand (ssresp.h), sent over libmosquitto MQTT 5 with the
 * envelope the AIO SDKs use (protocol §2.2), replies matched by correlation
 * data, plus access to the KEYNOTIFY notifications a client received.
 *
 * It deliberately shares nothing with the project's store code or SDK: the
 * tests check mqstated against the protocol document, not against itself.
 * Nothing here allocates beyond the underlying struct tc, whose received
 * messages (replies and notifications) live until the case ends. */
#ifndef MQS_E2E_SSCLIENT_H
#define MQS_E2E_SSCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "ssresp.h"

#define SS_REQUEST_TOPIC "statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/command/invoke"
#define SS_NOTIFY_NS "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8"
#define SS_CORR_LEN 16

/* Exact error replies of protocol §3.5. */
#define SS_ERR(text) "-ERR " text "\r\n"
#define SS_ERR_TS_SKEW                                                                   \
    SS_ERR("the request timestamp is too far in the future; ensure that the client and " \
           "broker system clocks are synchronized")
#define SS_ERR_FT_REQUIRED SS_ERR("a fencing token is required for this request")
#define SS_ERR_FT_SKEW                                                                      \
    SS_ERR("the request fencing token timestamp is too far in the future; ensure that the " \
           "client and broker system clocks are synchronized")
#define SS_ERR_FT_LOWER                                                           \
    SS_ERR("the request fencing token is a lower version than the fencing token " \
           "protecting the resource")
#define SS_ERR_QUOTA SS_ERR("the quota has been exceeded")
#define SS_ERR_SYNTAX SS_ERR("syntax error")
#define SS_ERR_UNKNOWN SS_ERR("unknown command")
#define SS_ERR_ARGC SS_ERR("wrong number of arguments")
#define SS_ERR_NO_TS SS_ERR("missing timestamp")
#define SS_ERR_BAD_TS SS_ERR("malformed timestamp")
#define SS_ERR_EMPTY_KEY SS_ERR("the key length is zero")

#define SS_NOTE_DELETE "*2\r\n$6\r\nNOTIFY\r\n$6\r\nDELETE\r\n"

struct ss_client {
    struct tc *tc;
    char response_topic[512];
    struct ss_hlc hlc; /* the last __ts sent */
    uint32_t corr_seq;
};

/* Per-request envelope; a zero-initialised struct (or NULL) sends exactly
 * what the SDKs send: QoS 1, Response Topic, 16-byte Correlation Data,
 * Message Expiry 10, Content Type, __srcId, a freshly ticked __ts,
 * __protVer 1.0. */
struct ss_opts {
    const char *ts;             /* __ts to send instead of the ticked HLC */
    bool omit_ts;               /* send no __ts at all */
    const char *ft;             /* __ft; NULL: none */
    const char *prot_ver;       /* __protVer; NULL: "1.0" */
    bool persist;               /* aio-persistence: true */
    bool qos0;                  /* publish the request at QoS 0 */
    const char *response_topic; /* instead of the client's own */
    bool omit_response_topic;
    int expect_status;   /* __stat the reply must carry; 0 means 200 */
    const uint8_t *corr; /* SS_CORR_LEN bytes of Correlation Data to send
                                   instead of fresh ones (a redelivery) */
};

/* A reply, pointing into the client's received messages (valid until the
 * case ends). */
struct ss_reply {
    bool received;
    const uint8_t *payload;
    size_t len;
    const mosquitto_property *props;
    uint8_t corr[SS_CORR_LEN];
    char sent[200]; /* escaped request, for failure messages */
    char sent_ts[96];
};

/* Connects a clean MQTT 5 client with this id and subscribes to the Rust
 * SDK form of the response topic at QoS 1. Records a failure and returns
 * false if any step fails. */
bool ss_open(struct ss_client *c, const char *client_id);
/* The same on an already connected client (e.g. a persistent session). */
bool ss_attach(struct ss_client *c, struct tc *tc);

/* Publishes one request without waiting; pending records its correlation
 * data and a printable copy of the request for ss_wait. */
bool ss_send(struct ss_client *c, const struct ss_opts *o, const void *payload, size_t len, struct ss_reply *pending);
/* Waits up to timeout_ms for the reply to a request sent with ss_send and
 * checks its envelope (topic, QoS 1, correlation echo, content type,
 * __stat): a deviation is recorded as a failure and returns false. A missing
 * reply returns false without recording anything, so callers can also
 * assert the absence of a reply. */
bool ss_wait(struct ss_client *c, const struct ss_opts *o, struct ss_reply *r, int timeout_ms);
/* ss_send + ss_wait; records a failure if no reply arrives in time. */
bool ss_call(struct ss_client *c, const struct ss_opts *o, const void *payload, size_t len, struct ss_reply *r);
bool ss_callv(struct ss_client *c, const struct ss_opts *o, struct ss_reply *r, int argc, const struct ss_arg *argv);
/* Arguments are C strings, terminated by NULL. */
bool ss_cmd(struct ss_client *c, const struct ss_opts *o, struct ss_reply *r, ...);

/* First user property with this name; false if absent. */
bool ss_user_prop(const mosquitto_property *props, const char *name, char *buf, size_t size);
int ss_user_prop_count(const mosquitto_property *props, const char *name);
/* The reply's __ts parsed as an HLC; false (and a recorded failure) if absent
 * or malformed. */
bool ss_reply_version(const struct ss_reply *r, struct ss_hlc *out);
bool ss_reply_has_ts(const struct ss_reply *r);

bool ss_reply_is(const struct ss_reply *r, const void *expected, size_t len);
void ss_fail_reply(const char *file, int line, const struct ss_reply *r, const void *expected, size_t len);

/* --- notifications (§1.4, §3.7) ------------------------------------------- */
/* The notification topic for a watcher and a key: upper-case hex. */
void ss_notify_topic(char *out, size_t size, const char *client_id, const void *key, size_t klen);
/* Number of messages the client received under SS_NOTIFY_NS. */
int ss_note_total(const struct ss_client *c);
/* The i-th message received on exactly this topic, or NULL. */
const struct tc_msg *ss_note(const struct ss_client *c, const char *topic, int i);
/* Builds the SET notification payload for a value. */
void ss_note_set_payload(struct ssb *out, const void *value, size_t vlen);

/* --- assertions ------------------------------------------------------------ */
#define CHECK_REPLY_BYTES(r, data, n)                             \
    do {                                                          \
        if (!ss_reply_is(&(r), (data), (n))) {                    \
            ss_fail_reply(__FILE__, __LINE__, &(r), (data), (n)); \
            return;                                               \
        }                                                         \
    } while (0)
/* lit must be a string literal. */
#define CHECK_REPLY(r, lit) CHECK_REPLY_BYTES(r, lit, sizeof(lit) - 1)

/* Sends a command of C-string arguments; fails the case if no valid reply. */
#define SS_CMD(c, o, r, ...) CHECK(ss_cmd((c), (o), &(r), __VA_ARGS__, (const char *)NULL))

/* Payload of a received message equals the bytes. */
#define CHECK_PAYLOAD(msg, data, n)                                                                               \
    do {                                                                                                          \
        const struct tc_msg *m_ = (msg);                                                                          \
        size_t n_ = (n);                                                                                          \
        if (!m_ || (size_t)m_->payload_len != n_ || memcmp(m_->payload, (data), n_) != 0) {                       \
            char a_[300], e_[300];                                                                                \
            ss_escape(m_ ? m_->payload : "", m_ ? (size_t)m_->payload_len : 0, a_, sizeof a_);                    \
            ss_escape((data), n_, e_, sizeof e_);                                                                 \
            e2e_fail(__FILE__, __LINE__, "payload \"%s\"%s, expected \"%s\"", a_, m_ ? "" : " (no message)", e_); \
            return;                                                                                               \
        }                                                                                                         \
    } while (0)

#endif
