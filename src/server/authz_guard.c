/* The authorization policy wired into the broker and the state store
 * (see authz_guard.h).
 *
 * The state store's own topics keep their §10.5 protections (installed by
 * the store bridge, an authorizer of its own: the first denial wins, so
 * no rule can lift them). One case is deferred to the bridge instead of
 * the rules: SUBSCRIBE inside the notification namespace, where the bridge
 * grants exactly the client's own notification filters. A client's right
 * to be notified is its Read right on keys, which KEYNOTIFY checks;
 * demanding a topic rule as well would only break observe (the .NET
 * client insists on "Granted QoS 1"). */
#include "server/authz_guard.h"

#include <stdlib.h>
#include <string.h>

#include "auth/authz.h"
#include "ssproto/topic.h"
#include "util/alloc.h"
#include "util/log.h"

struct authz_guard {
    broker *b;
    store_bridge *sb;
    authz *policy;
    bool installed;
    authz_guard_stats stats;
};

void authz_guard_get_stats(const authz_guard *g, authz_guard_stats *out) { *out = g->stats; }

static bool counted(authz_guard *g, int action, bool allowed)
{
    if (allowed) g->stats.allow[action]++;
    else g->stats.deny[action]++;
    return allowed;
}

/* The same namespace test as the bridge's: what it decides, the rules do not. */
static bool in_notify_namespace(mqtt_bytes f) { return notify_in_namespace(f.data, f.len); }

static uint8_t verdict(bool allowed) { return allowed ? MQTT_RC_SUCCESS : MQTT_RC_NOT_AUTHORIZED; }

static uint8_t authorize(void *ctx, const broker_auth_request *r)
{
    authz_guard *g = ctx;
    switch (r->action) {
    case BROKER_ACTION_CONNECT: return verdict(counted(g, AUTHZ_GUARD_CONNECT, authz_connect(g->policy, r->who)));
    case BROKER_ACTION_PUBLISH:
        return verdict(counted(g, AUTHZ_GUARD_PUBLISH, authz_publish(g->policy, r->who, r->topic.data, r->topic.len)));
    case BROKER_ACTION_SUBSCRIBE:
        if (in_notify_namespace(r->filter)) return MQTT_RC_SUCCESS; /* the bridge decides */
        return verdict(
            counted(g, AUTHZ_GUARD_SUBSCRIBE, authz_subscribe(g->policy, r->who, r->filter.data, r->filter.len)));
    case BROKER_ACTION_RECEIVE: /* a queued message: as a SUBSCRIBE to exactly its topic */
        if (in_notify_namespace(r->topic)) return MQTT_RC_SUCCESS; /* the bridge decides */
        return verdict(
            counted(g, AUTHZ_GUARD_RECEIVE, authz_subscribe(g->policy, r->who, r->topic.data, r->topic.len)));
    }
    return MQTT_RC_NOT_AUTHORIZED;
}

static bool authorize_key(void *ctx, const store_principal *who, const uint8_t *key, size_t klen, store_access access)
{
    authz_guard *g = ctx;
    bool read = access == STORE_ACCESS_READ;
    return counted(g, read ? AUTHZ_GUARD_KEY_READ : AUTHZ_GUARD_KEY_WRITE,
                   authz_key(g->policy, who->who, key, klen, read ? AUTHZ_READ : AUTHZ_WRITE));
}

authz_guard *authz_guard_new(broker *b, store_bridge *sb, struct authz *policy)
{
    authz_guard *g = xcalloc(1, sizeof *g);
    g->b = b;
    g->sb = sb;
    g->policy = policy;
    broker_require_principals(b, authz_enabled(policy)); /* rules read them; nothing else does */
    broker_add_authorizer(b, authorize, g);
    store_bridge_set_authorizer(sb, authorize_key, g);
    g->installed = true;
    log_info("authorization %s", authz_enabled(policy) ? "enabled (default deny)" : "disabled (everything allowed)");
    return g;
}

void authz_guard_reload(authz_guard *g, struct authz *policy)
{
    authz_free(g->policy);
    g->policy = policy;
    broker_require_principals(g->b, authz_enabled(policy)); /* before the rules run again */
    uint32_t removed = broker_recheck_subscriptions(g->b);
    log_info("authorization rules reloaded (%s); %u subscription%s removed",
             authz_enabled(policy) ? "enabled" : "disabled", removed, removed == 1 ? "" : "s");
}

void authz_guard_shutdown(authz_guard *g)
{
    if (!g || !g->installed) return;
    g->installed = false;
    broker_remove_authorizer(g->b, authorize, g);
    store_bridge_set_authorizer(g->sb, NULL, NULL);
}

void authz_guard_free(authz_guard *g)
{
    if (!g) return;
    authz_guard_shutdown(g);
    authz_free(g->policy);
    free(g);
}
