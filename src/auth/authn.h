/* Authentication: per-listener policies deciding every CONNECT (the
 * broker's authenticator hook) and producing the connection's principal.
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

#include "auth/x509_map.h"
#include "broker/broker.h"

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

/* One policy per listener index. Loads the password files; NULL with a
 * message ("WHERE.password_file: path:line: ...") on error. */
authn *authn_new(const authn_policy *policies, size_t n, char *err, size_t errlen);
void authn_free(authn *a);
/* Reload: `to` continues the failure counters of `from`. */
void authn_move_limits(authn *to, authn *from);

/* broker_authenticate_fn; ctx is the authn. A password not verified
 * before is checked on libuv's thread pool (BROKER_AUTHN_PENDING, then
 * broker_authn_complete); a remembered one, and every other method, are
 * decided at once. The check in flight owns copies of what it needs, so
 * the authn may be freed (reload, shutdown) before it completes. */
broker_authn_status authn_authenticate(void *ctx, const broker_authn_request *r, broker_authn_result *out);

#endif
