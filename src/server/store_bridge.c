/* The broker <-> state store bridge (see store_bridge.h).
 *
 * Request path (protocol §2.3), all inside the broker's publish hook, which
 * runs after the publisher's PUBACK/PUBREC went out:
 *   QoS 0 / no Response Topic          -> not executed, nothing sent
 *   forbidden Response Topic (§1.3)    -> DISCONNECT 0x82, not executed
 *   Response Topic the requester may not
 *   publish to, or starting with '$'     -> not executed, nothing sent (logged
 *                                           once per connection)
 *   no (or empty) Correlation Data     -> not executed, __stat 400 reply
 *   Message Expiry elapsed             -> dropped
 *   GET / SCAN / KEYNOTIFY (not STOP)  -> executed, reply published
 *   seen before (reply cache)          -> the remembered reply, not executed
 *   otherwise                          -> executed, reply published, cached
 * Replies go to the Response Topic through normal routing (the requester
 * subscribes to it); notifications go straight into the watcher's session.
 *
 * Ownership: the bridge owns the service, the reply cache, the expiry
 * timer and idle handle, and its scratch buffers; it borrows the broker
 * and the loop. */
#include "server/store_bridge.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/codec.h"
#include "server/reply_cache.h"
#include "ssproto/topic.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/digest.h"
#include "util/hashmap.h"
#include "util/log.h"

#define PROP(id) MQTT_PROP_BIT(MQTT_PROP_##id)
#define CONTENT_TYPE "application/octet-stream"
#define PROTOCOL_VERSION "1.0"
/* Reply cache lifetime: the request's expiry (or this default) + 60 s. */
#define DEFAULT_REQUEST_EXPIRY_S 10
#define CACHE_GRACE_S 60

struct store_bridge {
    uv_loop_t *loop;
    broker *b;
    store_service *svc;
    reply_cache *cache;
    uv_timer_t timer;
    uv_idle_t drain;    /* active while more keys are due than one slice removes */
    uint64_t timer_due; /* wall ms the expiry timer is armed for; 0 = idle */
    bool draining;      /* drain active: the timer stays stopped */
    bool installed;
    int handles_open;             /* timer and drain until their close callbacks ran */
    store_reply reply;            /* reused across requests */
    buf props;                    /* the response property block */
    buf nprops;                   /* a notification's property block */
    buf scratch;                  /* authorizer: the filters a client may use */
    buf ckey;                     /* the correlation part of a reply cache key */
    store_authorize_fn authorize; /* key-level rules; NULL: none */
    void *auth_ctx;
    hashmap *refused; /* client ids whose unauthorized response topic was logged; until they disconnect */
};

static mqtt_bytes S(const char *s) { return (mqtt_bytes){(const uint8_t *)s, (uint32_t)strlen(s)}; }
static mqtt_bytes BUF(const buf *b) { return (mqtt_bytes){b->data, (uint32_t)b->len}; }

static bool has_prefix(mqtt_bytes b, const char *prefix)
{
    size_t n = strlen(prefix);
    return b.len >= n && memcmp(b.data, prefix, n) == 0;
}

void store_bridge_config_default(store_bridge_config *c)
{
    memset(c, 0, sizeof *c);
    store_config_default(&c->store);
    c->reply_cache_entries = 100000;
    c->reply_cache_bytes = (size_t)64 << 20;
}

/* --- active expiry -------------------------------------------------------- */

/* Active expiry runs in slices so that a mass expiry (a million keys with
 * one deadline) cannot stall the loop. The timer wakes the loop at the
 * earliest deadline; while more keys are due than one slice removes, an
 * idle handle runs one slice per loop iteration: libuv polls for I/O
 * without blocking while an idle handle is active, so requests are read
 * and answered (and notifications written) between slices. Re-arming a
 * 0 ms timer from its own callback would not yield: libuv runs a timer
 * that is due again in the same pass. */

/* Work per slice: deletions continue in batches (store_service_expire,
 * at most 256 keys each) until this much time has passed, then the loop
 * gets to run. A read waits for about one slice at most; the loop's
 * overhead per slice (a non-blocking poll) stays a few percent. */
#define EXPIRY_SLICE_NS 500000

static void expiry_arm(store_bridge *sb);

/* One slice; true while more keys are due. */
static bool expiry_slice(store_bridge *sb)
{
    uint64_t start = uv_hrtime();
    bool more;
    do more = store_service_expire(sb->svc, clock_wall_ms());
    while (more && uv_hrtime() - start < EXPIRY_SLICE_NS);
    return more;
}

static void expiry_drain(uv_idle_t *h)
{
    store_bridge *sb = h->data;
    if (expiry_slice(sb)) return; /* next iteration, after I/O */
    uv_idle_stop(&sb->drain);
    sb->draining = false;
    expiry_arm(sb);
}

static void expiry_fire(uv_timer_t *t)
{
    store_bridge *sb = t->data;
    sb->timer_due = 0;
    if (expiry_slice(sb)) {
        sb->draining = true;
        uv_idle_start(&sb->drain, expiry_drain);
        return;
    }
    expiry_arm(sb);
}

/* Keep the timer armed for the earliest key deadline (wall clock), idle
 * when no key expires. An earlier deadline re-arms; a later one lets the
 * timer fire early and re-arm, which is cheaper than tracking removals.
 * While draining, the idle handle re-arms when it is done. */
static void expiry_arm(store_bridge *sb)
{
    if (!sb->installed || sb->draining) return;
    uint64_t due = store_service_next_deadline(sb->svc);
    if (due == 0) {
        if (sb->timer_due) uv_timer_stop(&sb->timer);
        sb->timer_due = 0;
        return;
    }
    if (sb->timer_due && sb->timer_due <= due) return;
    uint64_t now = clock_wall_ms();
    sb->timer_due = due;
    uv_timer_start(&sb->timer, expiry_fire, due > now ? due - now : 0, 0);
}

/* --- replies -------------------------------------------------------------- */

static void add_user(buf *b, const char *k, mqtt_bytes v) { mqtt_props_add_user(b, S(k), v); }

/* Content type and correlation data first, then the user properties of
 * §2.4 (200) or §2.5 (errors: empty payload). */
static void build_reply_props(store_bridge *sb, mqtt_bytes corr, int status, const char *message,
                              mqtt_bytes req_prot_ver)
{
    buf *b = &sb->props;
    b->len = 0;
    mqtt_props p = {.present = PROP(CONTENT_TYPE), .content_type = S(CONTENT_TYPE)};
    if (corr.len) {
        p.present |= PROP(CORRELATION_DATA);
        p.correlation_data = corr;
    }
    mqtt_props_encode_block(b, &p);
    char stat[8] = "200"; /* every successful reply: no formatting on the hot path */
    if (status != 200) snprintf(stat, sizeof stat, "%d", status);
    add_user(b, "__stat", S(stat));
    add_user(b, "__protVer", S(PROTOCOL_VERSION));
    if (status == 200) {
        if (sb->reply.has_version) add_user(b, "__ts", BUF(&sb->reply.version));
        return;
    }
    add_user(b, "__stMsg", S(message ? message : "error"));
    add_user(b, "__apErr", S("false"));
    if (status == 505) {
        add_user(b, "__supProtMajVer", S("1"));
        add_user(b, "__requestProtVer", req_prot_ver);
    }
    if (status == 400) add_user(b, "__propName", S("Correlation Data"));
}

static void send_reply(store_bridge *sb, mqtt_bytes topic, mqtt_bytes props, mqtt_bytes payload, uint32_t expiry_s)
{
    broker_message m = {.topic = topic, .payload = payload, .props = props, .qos = 1, .message_expiry = expiry_s};
    broker_publish(sb->b, &m);
}

/* --- requests -------------------------------------------------------------- */

/* What the bridge reads from the request PUBLISH. */
typedef struct request_view {
    mqtt_bytes client_id, response_topic, correlation;
    bool has_expiry;
    uint32_t expiry_s; /* remaining lifetime, seconds (>= 1 when has_expiry) */
} request_view;

static void read_user_props(const mqtt_publish *pub, store_request *req)
{
    size_t pos = 0;
    mqtt_bytes k, v;
    while (mqtt_props_next_user(&pub->props, &pos, &k, &v)) {
        store_bytes sv = {v.data ? v.data : (const uint8_t *)"", v.len};
        if (mqtt_bytes_eq(k, S("__ts")) && !req->ts.data) req->ts = sv;
        else if (mqtt_bytes_eq(k, S("__ft")) && !req->ft.data) req->ft = sv;
        else if (mqtt_bytes_eq(k, S("__protVer")) && !req->prot_ver.data) req->prot_ver = sv;
        else if (mqtt_bytes_eq(k, S("aio-persistence")) && mqtt_bytes_eq(v, S("true"))) req->persist = true;
    }
}

/* No client may use the request topic or the notification namespace as a
 * response topic (§1.3, §10.5). */
static bool response_topic_forbidden(mqtt_bytes t)
{
    return mqtt_bytes_eq(t, S(SSPROTO_REQUEST_TOPIC)) || has_prefix(t, NOTIFY_NS);
}

/* The hook runs when the request arrives, so the remaining lifetime is the
 * interval received; 0 (which the broker also reads as "no expiry") means
 * none. Kept as a function so a queued request would subtract its wait. */
static void read_expiry(const mqtt_publish *pub, request_view *rv)
{
    const mqtt_props *p = &pub->props;
    rv->has_expiry = (p->present & PROP(MESSAGE_EXPIRY)) && p->message_expiry > 0;
    rv->expiry_s = rv->has_expiry ? p->message_expiry : 0;
}

/* The reply is a PUBLISH on the requester's behalf (broker.h,
 * broker_authorize_response): where the requester may not publish, nothing
 * is sent, and the request is not executed either, as for a request
 * without a Response Topic (§2.3): it cannot be answered, and a change
 * nobody is told about is worse than none. Logged once per connection, so
 * a client repeating it cannot flood the log. */
static bool response_authorized(store_bridge *sb, const request_view *rv, const mqtt_bytes *username,
                                const struct principal *who)
{
    uint8_t rc = broker_authorize_response(sb->b, rv->client_id, username, who, rv->response_topic);
    if (rc < 0x80) return true;
    if (!hashmap_get(sb->refused, rv->client_id.data, rv->client_id.len)) {
        hashmap_put(sb->refused, rv->client_id.data, rv->client_id.len, sb);
        log_info("state store: %.*s may not publish to its response topic %.*s (0x%02x); its requests are "
                 "not executed (logged once per connection)",
                 (int)rv->client_id.len, (const char *)rv->client_id.data, (int)rv->response_topic.len,
                 (const char *)rv->response_topic.data, rc);
    }
    return false;
}

/* The §2.3 envelope checks; false when the request must not run. */
static bool request_acceptable(store_bridge *sb, const mqtt_publish *pub, const mqtt_bytes *username,
                               const struct principal *who, request_view *rv)
{
    const mqtt_props *p = &pub->props;
    const char *cid = (const char *)rv->client_id.data;
    int wl = (int)rv->client_id.len;
    if (pub->qos == 0) {
        log_debug("state store: QoS 0 request from %.*s ignored", wl, cid);
        return false;
    }
    if (!(p->present & PROP(RESPONSE_TOPIC))) {
        log_debug("state store: request from %.*s without Response Topic ignored", wl, cid);
        return false;
    }
    rv->response_topic = p->response_topic;
    if (response_topic_forbidden(rv->response_topic)) {
        log_info("state store: %.*s used a forbidden response topic; disconnecting", wl, cid);
        broker_disconnect_client(sb->b, rv->client_id, MQTT_RC_PROTOCOL_ERROR, "Forbidden response topic");
        return false;
    }
    if (!response_authorized(sb, rv, username, who)) return false;
    read_expiry(pub, rv);
    if ((p->present & PROP(CORRELATION_DATA)) && p->correlation_data.len) {
        rv->correlation = p->correlation_data;
        return true;
    }
    log_debug("state store: request from %.*s without Correlation Data refused", wl, cid);
    build_reply_props(sb, (mqtt_bytes){NULL, 0}, 400, "Correlation Data missing", (mqtt_bytes){NULL, 0});
    send_reply(sb, rv->response_topic, BUF(&sb->props), (mqtt_bytes){NULL, 0}, rv->expiry_s);
    return false;
}

/* (client id, response topic, correlation data + digest of the payload).
 * The digest makes a client that reuses correlation data for a different
 * request (mosquitto_rr with a fixed correlation-data, say) get a fresh
 * execution instead of a stale reply; a true redelivery carries the same
 * payload. It guards against mistakes, not attacks (a client can only
 * confuse its own replies), so a fast non-cryptographic digest is enough;
 * the cache's own table is keyed against flooding. Built once per request
 * and used for both the lookup and the insert. */
static reply_cache_key cache_key(store_bridge *sb, const request_view *rv, mqtt_bytes payload)
{
    uint64_t digest = digest64(payload.data, payload.len);
    buf *c = &sb->ckey;
    c->len = 0;
    buf_append(c, rv->correlation.data, rv->correlation.len);
    buf_append(c, &digest, sizeof digest);
    return (reply_cache_key){
        {rv->client_id.data, rv->client_id.len}, {rv->response_topic.data, rv->response_topic.len}, {c->data, c->len}};
}

static bool resend_cached(store_bridge *sb, const reply_cache_key *k, const request_view *rv, uint64_t now)
{
    reply_slice meta, payload;
    if (!reply_cache_get(sb->cache, k, now, &meta, &payload)) return false;
    log_debug("state store: repeated request from %.*s answered from the reply cache", (int)rv->client_id.len,
              (const char *)rv->client_id.data);
    send_reply(sb, rv->response_topic, (mqtt_bytes){meta.data, (uint32_t)meta.len},
               (mqtt_bytes){payload.data, (uint32_t)payload.len}, rv->expiry_s);
    return true;
}

/* Executes the request and publishes the reply; remembers it under `k`
 * unless `k` is NULL (a repeatable request, which is not de-duplicated).
 * `now` is the reply cache's clock (see on_request). */
static void execute(store_bridge *sb, const mqtt_publish *pub, const mqtt_bytes *username, const struct principal *who,
                    const request_view *rv, const reply_cache_key *k, uint64_t now)
{
    store_request req = {0};
    req.who.client_id = (store_bytes){rv->client_id.data, rv->client_id.len};
    req.who.who = who;
    if (username)
        req.who.username = (store_bytes){username->data ? username->data : (const uint8_t *)"", username->len};
    req.payload = (store_bytes){pub->payload.data ? pub->payload.data : (const uint8_t *)"", pub->payload.len};
    read_user_props(pub, &req);
    req.now_ms = clock_wall_ms();
    store_service_execute(sb->svc, &req, &sb->reply);
    expiry_arm(sb); /* the request may have set an earlier deadline */
    store_reply *r = &sb->reply;
    build_reply_props(sb, rv->correlation, r->status, r->status_message,
                      (mqtt_bytes){req.prot_ver.data, (uint32_t)req.prot_ver.len});
    mqtt_bytes payload = BUF(&r->payload);
    send_reply(sb, rv->response_topic, BUF(&sb->props), payload, rv->expiry_s);
    if (!k) return;
    uint64_t ttl_s = (rv->has_expiry ? rv->expiry_s : DEFAULT_REQUEST_EXPIRY_S) + (uint64_t)CACHE_GRACE_S;
    reply_cache_put(sb->cache, k, (reply_slice){sb->props.data, sb->props.len},
                    (reply_slice){payload.data, payload.len}, now, now + ttl_s * 1000);
}

/* Repeatable requests (GET, SCAN, KEYNOTIFY) bypass the reply cache: a
 * repeat just reads (or registers) again, so remembering them would only
 * cost a lookup, an insert and memory per request, and for KEYNOTIFY a
 * remembered +OK on a new connection would stand in for a registration
 * that ended with the old one. The cache key stays valid until execute's
 * put: nothing in between touches sb->ckey (a reply is never routed back
 * into this hook, response topics may not be the request topic). */
static void on_request(void *ctx, mqtt_bytes client_id, const mqtt_bytes *username, const struct principal *who,
                       const mqtt_publish *pub)
{
    store_bridge *sb = ctx;
    request_view rv = {.client_id = client_id};
    if (!request_acceptable(sb, pub, username, who, &rv)) return;
    if (store_request_repeatable((store_bytes){pub->payload.data, pub->payload.len})) {
        execute(sb, pub, username, who, &rv, NULL, 0);
        return;
    }
    /* The cache runs on the loop's cached monotonic time: its lifetimes
     * are tens of seconds, so being behind by one loop iteration does not
     * matter, and it saves a clock read per request on the hot path. */
    uint64_t now = uv_now(sb->loop);
    reply_cache_key k = cache_key(sb, &rv, pub->payload);
    if (resend_cached(sb, &k, &rv, now)) return;
    execute(sb, pub, username, who, &rv, &k, now);
}

/* --- notifications ----------------------------------------------------------- */

/* The watcher registered under the rules of its KEYNOTIFY; they may have
 * been reloaded since, so Read is asked again (the principal's view is
 * cached by the rules engine: this costs a lookup, not an evaluation). */
static bool watcher_may_read(store_bridge *sb, const store_notification *n)
{
    if (!sb->authorize) return true;
    mqtt_bytes id = {n->client_id.data, (uint32_t)n->client_id.len};
    store_principal w = {.client_id = n->client_id, .who = broker_client_principal(sb->b, id)};
    if (sb->authorize(sb->auth_ctx, &w, n->key.data, n->key.len, STORE_ACCESS_READ)) return true;
    log_debug("state store: notification for %.*s withheld (no Read)", (int)id.len, (const char *)id.data);
    return false;
}

/* Direct delivery (§1.5): exactly once into the watcher's session whatever
 * it subscribed to, never through routing, so subscribers of the matching
 * filter do not get a second copy. */
static void on_notify(void *ctx, const store_notification *n)
{
    store_bridge *sb = ctx;
    if (!watcher_may_read(sb, n)) return;
    buf *b = &sb->nprops;
    b->len = 0;
    mqtt_props p = {.present = PROP(CONTENT_TYPE), .content_type = S(CONTENT_TYPE)};
    mqtt_props_encode_block(b, &p);
    add_user(b, "__ts", (mqtt_bytes){n->version.data, (uint32_t)n->version.len});
    broker_message m = {.topic = {n->topic.data, (uint32_t)n->topic.len},
                        .payload = {n->payload.data, (uint32_t)n->payload.len},
                        .props = BUF(b),
                        .qos = 1};
    if (!broker_deliver_to(sb->b, (mqtt_bytes){n->client_id.data, (uint32_t)n->client_id.len}, &m))
        log_debug("state store: notification for %.*s without a session dropped", (int)n->client_id.len,
                  (const char *)n->client_id.data);
}

static void on_disconnect(void *ctx, mqtt_bytes client_id)
{
    store_bridge *sb = ctx;
    store_service_client_gone(sb->svc, (store_bytes){client_id.data, client_id.len});
    hashmap_remove(sb->refused, client_id.data, client_id.len);
}

/* --- topic protections (§10.5) ----------------------------------------------- */

/* Is `f` one of the two notification filters `client_id` may subscribe
 * to: NS/<HEX(id)>/command/notify/+ (Rust, Go) or NS/<id>/command/notify
 * (.NET, which never matches: notifications are delivered directly)? */
static bool own_notify_filter(store_bridge *sb, mqtt_bytes client_id, mqtt_bytes f)
{
    buf *b = &sb->scratch;
    b->len = 0;
    buf_append(b, NOTIFY_TOPIC_PREFIX, sizeof NOTIFY_TOPIC_PREFIX - 1);
    notify_hex_append(b, client_id.data, client_id.len);
    buf_append(b, "/command/notify/+", 17);
    if (mqtt_bytes_eq(f, BUF(b))) return true;
    b->len = 0;
    buf_append(b, NOTIFY_TOPIC_PREFIX, sizeof NOTIFY_TOPIC_PREFIX - 1);
    buf_append(b, client_id.data, client_id.len);
    buf_append(b, "/command/notify", 15);
    return mqtt_bytes_eq(f, BUF(b));
}

/* Wildcard filters above the namespace ("#", "clients/+/...") stay allowed:
 * nothing is ever routed inside it (publishing there is denied and
 * notifications bypass routing), so they cannot see other clients' data. */
static bool in_namespace(mqtt_bytes t) { return notify_in_namespace(t.data, t.len); }

/* Is `t` a notification topic of `client_id` (NS/<HEX(id)>/command/notify/...)? */
static bool own_notification(store_bridge *sb, mqtt_bytes client_id, mqtt_bytes t)
{
    buf *b = &sb->scratch;
    b->len = 0;
    buf_append(b, NOTIFY_TOPIC_PREFIX, sizeof NOTIFY_TOPIC_PREFIX - 1);
    notify_hex_append(b, client_id.data, client_id.len);
    buf_append(b, "/command/notify/", 16);
    return t.len > b->len && memcmp(t.data, b->data, b->len) == 0;
}

static uint8_t authorize(void *ctx, const broker_auth_request *r)
{
    store_bridge *sb = ctx;
    if (r->action == BROKER_ACTION_PUBLISH) return in_namespace(r->topic) ? MQTT_RC_NOT_AUTHORIZED : MQTT_RC_SUCCESS;
    /* A queued message inside the namespace is a notification the bridge
     * delivered: the watcher keeps its own (Read was checked when sent). */
    if (r->action == BROKER_ACTION_RECEIVE)
        return !in_namespace(r->topic) || own_notification(sb, r->client_id, r->topic) ? MQTT_RC_SUCCESS
                                                                                       : MQTT_RC_NOT_AUTHORIZED;
    if (mqtt_bytes_eq(r->filter, S(SSPROTO_REQUEST_TOPIC))) return MQTT_RC_NOT_AUTHORIZED;
    if (!in_namespace(r->filter)) return MQTT_RC_SUCCESS;
    if (r->share_group.len == 0 && own_notify_filter(sb, r->client_id, r->filter)) return MQTT_RC_SUCCESS;
    return MQTT_RC_NOT_AUTHORIZED;
}

/* --- life cycle ------------------------------------------------------------------ */

store_bridge *store_bridge_new(uv_loop_t *loop, broker *b, const store_bridge_config *cfg)
{
    if (!cfg->reply_cache_entries || !cfg->reply_cache_bytes) return NULL;
    store_bridge *sb = xcalloc(1, sizeof *sb);
    sb->svc = store_service_new(&cfg->store, on_notify, sb);
    if (!sb->svc) {
        free(sb);
        return NULL;
    }
    sb->loop = loop;
    sb->b = b;
    sb->cache = reply_cache_new(cfg->reply_cache_entries, cfg->reply_cache_bytes);
    sb->refused = hashmap_new();
    store_reply_init(&sb->reply);
    uv_timer_init(loop, &sb->timer);
    sb->timer.data = sb;
    uv_idle_init(loop, &sb->drain);
    sb->drain.data = sb;
    sb->handles_open = 2;
    broker_set_publish_hook(b, S(SSPROTO_REQUEST_TOPIC), on_request, sb);
    broker_add_authorizer(b, authorize, sb);
    broker_set_disconnect_hook(b, on_disconnect, sb);
    sb->installed = true;
    return sb;
}

static void on_handle_closed(uv_handle_t *h)
{
    store_bridge *sb = h->data;
    sb->handles_open--;
}

void store_bridge_shutdown(store_bridge *sb)
{
    if (!sb || !sb->installed) return;
    sb->installed = false;
    broker_set_publish_hook(sb->b, S(SSPROTO_REQUEST_TOPIC), NULL, NULL);
    broker_remove_authorizer(sb->b, authorize, sb);
    broker_set_disconnect_hook(sb->b, NULL, NULL);
    uv_close((uv_handle_t *)&sb->timer, on_handle_closed);
    uv_close((uv_handle_t *)&sb->drain, on_handle_closed);
}

void store_bridge_free(store_bridge *sb)
{
    if (!sb) return;
    if (sb->installed || sb->handles_open) log_warn("store_bridge_free: not shut down (loop not run?)");
    store_service_free(sb->svc);
    reply_cache_free(sb->cache);
    hashmap_free(sb->refused, NULL);
    store_reply_free(&sb->reply);
    buf_free(&sb->props);
    buf_free(&sb->nprops);
    buf_free(&sb->scratch);
    buf_free(&sb->ckey);
    free(sb);
}

void store_bridge_set_authorizer(store_bridge *sb, store_authorize_fn fn, void *ctx)
{
    sb->authorize = fn;
    sb->auth_ctx = ctx;
    store_service_set_authorizer(sb->svc, fn, ctx);
}

const store_service *store_bridge_service(const store_bridge *sb) { return sb->svc; }
