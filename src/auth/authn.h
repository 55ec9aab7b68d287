/* Authentication: per-listener policies deciding every CONNECT and
 * producing the connection's principal. It knows nothing of the broker:
 * src/server/authn_link.c installs it as the broker's authenticator and
 * translates requests and results; a decision taken later (a password
 * checked on libuv's thread pool) is reported through the callback given
 * to authn_new.
 *
 * Methods are tried in the listener's order; the first that applies to
 * what the client presented decides, success or failure:
 *   x509      applies when the client sent a verified TLS certificate: the
 *             user name (and attributes) come from its fields; a missing
 *             field fails (0x87 not authorized).
 *   password  applies when the client sent a user name: good password
 *             succeeds, anything else fails (0x86 bad user name or password).
 *   anonymous applies when the client sent neither user name nor password:
 *             it never admits a client that claims a user name.
 * No method applies: 0x87. An `open` policy (a loopback listener with no
 * authentication section, the development default) admits everyone and
 * keeps the claimed user name, as without any authenticator.
 *
 * Failures are answered after the policy's delay; an address with too many
 * recent failures gets 0x9F (connection rate exceeded) at once, without
 * its credentials being looked at. A slow password check counts as a
 * failure while it runs (given back if it succeeds), so concurrent
 * attempts from one address cannot exceed its budget either. Passwords
 * are never logged. */
#ifndef MQS_AUTH_AUTHN_H
#define MQS_AUTH_AUTHN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "auth/x509_map.h"
#include "mqtt/packet.h"

#define AUTHN_PATH_MAX 1024
#define AUTHN_MAX_METHODS 3
#define AUTHN_MAX_ATTRS 16
#define AUTHN_ATTR_NAME_MAX 64

typedef enum authn_method { AUTHN_ANONYMOUS = 1, AUTHN_PASSWORD, AUTHN_X509 } authn_method;

typedef struct authn_attr_map {
    char name[AUTHN_ATTR_NAME_MAX + 1];
    x509_field field;
} authn_attr_map;

/* One listener's policy. Plain data: the configuration copies it. */
typedef struct authn_policy {
    bool open;
    uint8_t methods[AUTHN_MAX_METHODS]; /* authn_method */
    uint8_t nmethods;
    char password_file[AUTHN_PATH_MAX]; /* "" = none (password needs one) */
    x509_field x509_username;           /* default CN */
    authn_attr_map attrs[AUTHN_MAX_ATTRS];
    uint8_t nattrs;
    uint32_t failure_delay_ms;   /* default 1000 */
    uint32_t failure_burst;      /* default 10; 0 = no rate limit */
    uint32_t failure_per_minute; /* default 10 */
    /* How load errors name this policy (e.g. "mqstated.yaml:12:
     * listeners[0].authentication"); "" = "listeners[i].authentication". */
    char where[AUTHN_PATH_MAX + 64];
} authn_policy;

void authn_policy_default(authn_policy *p);

typedef struct authn authn;

struct principal;

/* One CONNECT to decide. Slices are valid only during authn_authenticate. */
typedef struct authn_request {
    mqtt_bytes client_id;
    const mqtt_bytes *username;      /* NULL when absent */
    const mqtt_bytes *password;      /* NULL when absent; never logged */
    const char *peer_ip;             /* the peer's address without port */
    unsigned listener;               /* index of the policy that applies */
    const struct x509_st *peer_cert; /* verified TLS client certificate or NULL */
    uint64_t token;                  /* handed back with a later decision */
} authn_request;

typedef struct authn_result {
    uint8_t reason;        /* MQTT_RC_SUCCESS or a CONNACK reason >= 0x80 */
    uint32_t delay_ms;     /* failure only: answer after this long */
    struct principal *who; /* success only, owned by the receiver; NULL = anonymous (no principal made) */
} authn_result;

typedef enum authn_status { AUTHN_STATUS_DONE, AUTHN_STATUS_PENDING } authn_status;

/* A decision left pending, on the loop thread: `res->who` passes to the
 * callee. Called exactly once per AUTHN_STATUS_PENDING, even after the
 * authn that started it was freed. */
typedef void (*authn_done_fn)(void *ctx, uint64_t token, const authn_result *res);

/* One policy per listener index. Loads the password files; NULL with a
 * message ("WHERE.password_file: path:line: ...") on error. Slow password
 * checks run on `loop`'s thread pool and end in done(done_ctx, ...);
 * `done_ctx` must outlive every check in flight. */
authn *authn_new(const authn_policy *policies, size_t n, uv_loop_t *loop, authn_done_fn done, void *done_ctx, char *err,
                 size_t errlen);
void authn_free(authn *a);
/* Reload: `to` continues the failure counters of `from`. */
void authn_move_limits(authn *to, authn *from);

/* A password not verified before is checked on libuv's thread pool
 * (AUTHN_STATUS_PENDING, then the done callback with r->token); a
 * remembered one, and every other method, are decided at once (`out`
 * filled). The check in flight owns copies of what it needs, so the authn
 * may be freed (reload, shutdown) before it completes. */
authn_status authn_authenticate(authn *a, const authn_request *r, authn_result *out);

#endif
