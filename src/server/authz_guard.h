/* Enforcement of the authorization rules (src/auth/authz.h) in the
 * server: a broker authorizer (CONNECT, PUBLISH, SUBSCRIBE) and the state
 * store's key authorizer, both answering from one policy that a reload
 * replaces as a whole. main creates it after the store bridge. */
#ifndef MQS_SERVER_AUTHZ_GUARD_H
#define MQS_SERVER_AUTHZ_GUARD_H

#include "broker/broker.h"
#include "server/store_bridge.h"

struct authz;

typedef struct authz_guard authz_guard;

/* Takes ownership of `policy`; installs itself on `b` and `sb`. */
authz_guard *authz_guard_new(broker *b, store_bridge *sb, struct authz *policy);
/* Replace the policy (ownership passes; the old one is freed): the next
 * operation of every connection is decided by the new rules, subscriptions
 * they deny are removed and messages queued on topics they deny dropped
 * (offline sessions included), KEYNOTIFY watchers without Read get no
 * further notifications. Nobody is disconnected. */
void authz_guard_reload(authz_guard *g, struct authz *policy);
/* Uninstall (before the broker and bridge are freed). Idempotent. */
void authz_guard_shutdown(authz_guard *g);
void authz_guard_free(authz_guard *g);

/* Decisions of the rules, by what was asked (docs/metrics.md). */
enum {
    AUTHZ_GUARD_CONNECT,
    AUTHZ_GUARD_PUBLISH,
    AUTHZ_GUARD_SUBSCRIBE,
    AUTHZ_GUARD_RECEIVE,
    AUTHZ_GUARD_KEY_READ,
    AUTHZ_GUARD_KEY_WRITE,
    AUTHZ_GUARD_ACTIONS
};
typedef struct authz_guard_stats {
    uint64_t allow[AUTHZ_GUARD_ACTIONS], deny[AUTHZ_GUARD_ACTIONS];
} authz_guard_stats;
void authz_guard_get_stats(const authz_guard *g, authz_guard_stats *out);

#endif
