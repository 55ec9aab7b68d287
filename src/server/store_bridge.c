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
 *   GET / SCAN / KEYNOTIFY (not STOP)  -> decided and answered at once
 *   seen before (the service's de-dup) -> the remembered reply, not decided
 *   error found by decide              -> answered at once
 *   a write                            -> record proposed to the log; the
 *                                         reply is sent when it commits
 * Replies go to the Response Topic through normal routing (the requester
 * subscribes to it); notifications go straight into the watcher's session.
 *
 * The write path (docs/architecture.md, "decide, log, apply"):
 *   decide -> pending reply (tag) -> encode -> repl_log_propose
 *   commit callback -> decode -> store_service_apply -> reply to the pending
 *   entry's response topic (a commit with an unknown tag, e.g. an expiry
 *   record or replay, applies without replying)
 * Pending replies are a FIFO in proposal order (logs commit and fail in
 * that order), bounded by PENDING_MAX entries and PENDING_MAX_BYTES: past
 * either, a write is refused at once with __stat 503. A write whose
 * requester disconnects while it is pending still applies (it was
 * accepted); its reply is published like any other and reaches whoever is
 * subscribed to the response topic then (nobody: dropped).
 *
 * Ownership: the bridge owns the service, the log, the pending replies,
 * the expiry timer, idle and flush handles, and its scratch buffers; it
 * borrows the broker and the loop. */
#include "server/store_bridge.h"
#include "server/store_bridge_impl.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/codec.h"
#include "repl/log.h"
#include "server/store_reply_props.h"
#include "server/store_topic_guard.h"
#include "store/dedup.h"
#include "ssproto/topic.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/digest.h"
#include "util/hashmap.h"
#include "util/log.h"

#define PROP(id) MQTT_PROP_BIT(MQTT_PROP_##id)

const double store_bridge_latency_bounds[STORE_BRIDGE_LATENCY_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
/* The same bounds in ns, for the comparison on the reply path. */
static const uint64_t latency_bounds_ns[STORE_BRIDGE_LATENCY_BUCKETS] = {
    100000,   250000,   500000,    1000000,   2500000,   5000000,    10000000,
    25000000, 50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000u};

/* A reply to a request that arrived at `arrived_ns` is being sent. */
static void latency_observe(store_bridge *sb, uint64_t arrived_ns)
{
    uint64_t d = uv_hrtime() - arrived_ns;
    size_t i = 0;
    while (i < STORE_BRIDGE_LATENCY_BUCKETS && d > latency_bounds_ns[i]) i++;
    sb->stats.latency[i]++;
    sb->stats.latency_sum_ns += d;
}

void store_bridge_get_stats(const store_bridge *sb, store_bridge_stats *out) { *out = sb->stats; }

/* Slots of the in-flight filter: 256 KiB; with the bridge's at most
 * PENDING_MAX writes in flight, counts fit a u32, and with a few hundred
 * in flight a non-durable write is logged needlessly about 1 time in 200. */
#define INFLIGHT_SLOTS 65536
typedef struct inflight_entry {
    uint64_t tag;
    uint32_t slot;
} inflight_entry;

#define S mqtt_bytes_str
#define BUF mqtt_bytes_buf

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
    c->persist = STORE_BRIDGE_PERSIST_ALL;
    c->dynamic = true;
    c->property = STORE_BRIDGE_PERSIST_PROPERTY;
    c->value = STORE_BRIDGE_PERSIST_VALUE;
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
static bool propose(store_bridge *sb, const store_record *r, bool disk, uint64_t *tag);
static bool key_durable(const store_bridge *sb, store_record_bytes key);
static void clock_mark_check(store_bridge *sb);

/* An EXPIRE record decided by the service: through the log like any other
 * write, with no reply waiting. A refusal leaves the key for the next
 * slice. */
static void expiry_emit(void *ctx, const store_record *r)
{
    store_bridge *sb = ctx;
    uint64_t tag;
    clock_mark_check(sb);
    sb->expiry_inflight++; /* before: the in-memory log commits inside propose */
    if (propose(sb, r, key_durable(sb, r->key), &tag)) return;
    sb->expiry_inflight--;
    log_debug("state store: the log refused an expiry record");
}

/* A batching log commits EXPIRE records later: until they are applied the
 * keys still look due, and deciding again would log them twice. So
 * expiry pauses while any is in flight and re-arms when the last one
 * commits or fails (the in-memory log commits inside propose: never
 * paused). */
static void expiry_settled(store_bridge *sb)
{
    assert(sb->expiry_inflight > 0);
    if (--sb->expiry_inflight == 0) expiry_arm(sb);
}

/* One slice; true while more keys are due. */
static bool expiry_slice(store_bridge *sb)
{
    uint64_t start = uv_hrtime();
    bool more;
    do more = store_service_decide_expiry(sb->svc, clock_wall_ms(), expiry_emit, sb);
    while (more && !sb->expiry_inflight && uv_hrtime() - start < EXPIRY_SLICE_NS);
    return more && !sb->expiry_inflight;
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
    if (sb->cluster && !sb->ready) return;
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
    if (!sb->installed || sb->draining || sb->expiry_inflight) return;
    if (sb->cluster && !sb->ready) return; /* only the leader expires keys */
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

void store_bridge__expiry_arm(store_bridge *sb) { expiry_arm(sb); }

/* This node stopped leading: expiry stops (a slice in flight settles by
 * itself: its records commit or fail). */
void store_bridge__expiry_stop(store_bridge *sb)
{
    if (sb->timer_due) uv_timer_stop(&sb->timer);
    sb->timer_due = 0;
    if (sb->draining) uv_idle_stop(&sb->drain);
    sb->draining = false;
}

/* --- replies -------------------------------------------------------------- */

/* __ts of the reply being sent: the version the service put in sb->reply. */
static const buf *reply_version(const store_bridge *sb) { return sb->reply.has_version ? &sb->reply.version : NULL; }

void store_bridge__send_reply(store_bridge *sb, mqtt_bytes topic, mqtt_bytes props, mqtt_bytes payload,
                              uint32_t expiry_s)
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

static void read_user_props(const store_bridge *sb, const mqtt_publish *pub, store_request *req)
{
    size_t pos = 0;
    mqtt_bytes k, v;
    while (mqtt_props_next_user(&pub->props, &pos, &k, &v)) {
        store_bytes sv = {v.data ? v.data : (const uint8_t *)"", v.len};
        if (mqtt_bytes_eq(k, S("__ts")) && !req->ts.data) req->ts = sv;
        else if (mqtt_bytes_eq(k, S("__ft")) && !req->ft.data) req->ft = sv;
        else if (mqtt_bytes_eq(k, S("__protVer")) && !req->prot_ver.data) req->prot_ver = sv;
        else if (mqtt_bytes_eq(k, sb->property) && mqtt_bytes_eq(v, sb->value)) req->persist = true;
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
    mqtt_bytes props =
        store_reply_props_build(&sb->props, (mqtt_bytes){0}, 400, "Correlation Data missing", (mqtt_bytes){0}, NULL);
    store_bridge__send_reply(sb, rv->response_topic, props, (mqtt_bytes){NULL, 0}, rv->expiry_s);
    return false;
}

/* --- the log and pending replies ---------------------------------------------- */

static void flush_run(uv_check_t *h)
{
    store_bridge *sb = h->data;
    uv_check_stop(&sb->flush);
    sb->flush_armed = false;
    repl_log_flush(sb->log);
}

/* --- durable key selection (docs/persistence.md) ------------------------------ */

/* Does the log hold a durable value of `key`, or will it once the records
 * in flight commit? Then a write over it must be logged too, or a restart
 * would bring the old value back. */
static uint32_t inflight_slot(store_record_bytes key)
{
    return (uint32_t)(digest64(key.data, key.len) % INFLIGHT_SLOTS);
}

static bool key_durable(const store_bridge *sb, store_record_bytes key)
{
    if (!sb->selective) return true;
    return store_service_key_durable(sb->svc, key.data, key.len) ||
           (sb->inflight_fifo.len > sb->inflight_head && sb->inflight[inflight_slot(key)]);
}

/* Is this SET durable by the configuration: mode all, or custom with its
 * key selected or (dynamic) the property on the request? */
static bool set_selected(const store_bridge *sb, const store_request *req, const store_record *r)
{
    if (sb->persist == STORE_BRIDGE_PERSIST_ALL) return true;
    if (sb->persist == STORE_BRIDGE_PERSIST_NONE) return false;
    return (sb->keys && store_persist_rules_match(sb->keys, r->key.data, r->key.len)) || (sb->dynamic && req->persist);
}

/* Stamp the write's durability into r->persist and return whether the
 * log must store it: a durable write, or one over a durable value (its
 * SET record replaces the durable copy; recovery drops keys whose last
 * value is not durable). A DEL/VDEL is as durable as what it deletes. */
static bool write_durability(const store_bridge *sb, const store_request *req, store_record *r)
{
    if (r->type == STORE_REC_SET && set_selected(sb, req, r)) return r->persist = true;
    bool over_durable = key_durable(sb, r->key);
    r->persist = r->type != STORE_REC_SET && over_durable;
    return over_durable;
}

static void inflight_add(store_bridge *sb, uint64_t tag, store_record_bytes key)
{
    inflight_entry e = {tag, inflight_slot(key)};
    buf_append(&sb->inflight_fifo, &e, sizeof e);
    sb->inflight[e.slot]++;
}

/* The record `tag` committed or failed: if it is the oldest keyed durable
 * record in flight, its key is no longer in flight for it. */
static void inflight_release(store_bridge *sb, uint64_t tag)
{
    buf *f = &sb->inflight_fifo;
    if (sb->inflight_head == f->len) return;
    inflight_entry e;
    memcpy(&e, f->data + sb->inflight_head, sizeof e);
    assert(e.tag >= tag); /* commits and failures come in proposal order */
    if (e.tag != tag) return;
    assert(sb->inflight[e.slot] > 0);
    sb->inflight[e.slot]--;
    sb->inflight_head += sizeof e;
    if (sb->inflight_head == f->len) { /* empty: start over */
        f->len = sb->inflight_head = 0;
        buf_shrink(f, 65536);
    } else if (sb->inflight_head > f->len / 2 && sb->inflight_head > 65536) { /* compact */
        memmove(f->data, f->data + sb->inflight_head, f->len - sb->inflight_head);
        f->len -= sb->inflight_head;
        sb->inflight_head = 0;
    }
}

/* Encode and propose one record under a new tag: `disk`, to be made
 * durable; else volatile (ordered with the others, never written). The
 * in-memory log, and a durable log with nothing ahead of a volatile
 * record, commit (and so apply) inside this call. */
static bool propose(store_bridge *sb, const store_record *r, bool disk, uint64_t *tag)
{
    sb->enc.len = 0;
    store_record_encode(r, &sb->enc);
    buf_shrink(&sb->enc, 65536);
    *tag = ++sb->next_tag;
    if (!sb->flush_armed && sb->installed) {
        uv_check_start(&sb->flush, flush_run);
        sb->flush_armed = true;
    }
    if (!disk) return repl_log_propose_volatile(sb->log, sb->enc.data, sb->enc.len, *tag);
    bool keyed = sb->selective && r->key.len;
    if (keyed) inflight_add(sb, *tag, r->key); /* before: a log may commit inside propose */
    if (repl_log_propose(sb->log, sb->enc.data, sb->enc.len, *tag)) return true;
    if (keyed) { /* refused: no callback will come; it is the newest in the FIFO */
        sb->inflight_fifo.len -= sizeof(inflight_entry);
        sb->inflight[inflight_slot(r->key)]--;
    }
    return false;
}

static pending *pending_at(store_bridge *sb, size_t i) { return &sb->ring[(sb->ring_head + i) % sb->ring_cap]; }

static size_t pending_cost(const pending *p) { return p->data.len + PENDING_OVERHEAD; }

/* Room for one more; false past the bounds. Growing re-linearizes the
 * ring (slots keep their buffers). */
static bool pending_room(store_bridge *sb, size_t cost)
{
    if (sb->ring_n >= PENDING_MAX || sb->pending_bytes + cost > PENDING_MAX_BYTES) return false;
    if (sb->ring_n < sb->ring_cap) return true;
    size_t cap = sb->ring_cap ? 2 * sb->ring_cap : 4;
    pending *ring = xcalloc(cap, sizeof *ring);
    for (size_t i = 0; i < sb->ring_cap; i++) ring[i] = *pending_at(sb, i);
    free(sb->ring);
    sb->ring = ring;
    sb->ring_cap = cap;
    sb->ring_head = 0;
    return true;
}

/* The oldest pending reply if it is the one for `tag`, else NULL (an
 * expiry record, replay, another node's entry). */
static pending *pending_take(store_bridge *sb, uint64_t tag)
{
    if (sb->ring_n == 0) return NULL;
    pending *p = pending_at(sb, 0);
    assert(p->tag >= tag); /* commits and failures come in proposal order */
    if (p->tag != tag) return NULL;
    sb->ring_head = (sb->ring_head + 1) % sb->ring_cap;
    sb->ring_n--;
    sb->pending_bytes -= pending_cost(p);
    return p;
}

static mqtt_bytes pending_topic(const pending *p) { return (mqtt_bytes){p->data.data, (uint32_t)p->topic_len}; }
static mqtt_bytes pending_corr(const pending *p)
{
    return (mqtt_bytes){p->data.data + p->topic_len, (uint32_t)(p->data.len - p->topic_len)};
}

/* An RPC-level refusal of a write that will not be applied (§2.5 shape:
 * empty payload, __stMsg). 503: the service cannot take it now. */
static void reply_unavailable(store_bridge *sb, mqtt_bytes topic, mqtt_bytes corr, uint32_t expiry_s, const char *why)
{
    mqtt_bytes props = store_reply_props_build(&sb->props, corr, 503, why, (mqtt_bytes){0}, NULL);
    store_bridge__send_reply(sb, topic, props, (mqtt_bytes){NULL, 0}, expiry_s);
}

static void on_commit(void *ctx, uint64_t index, const uint8_t *rec, size_t len, uint64_t tag)
{
    store_bridge *sb = ctx;
    if (tag && sb->selective) inflight_release(sb, tag);
    if (tag && tag == sb->mark_tag) {
        /* Our live mark: durable now. Not applied: S must not jump ahead
         * at run time; replay at the next start applies (observes) it. */
        sb->mark_tag = 0;
        sb->mark_durable = sb->mark_wall;
        return;
    }
    pending *p = tag ? pending_take(sb, tag) : NULL;
    bool expiry = tag && !p; /* the only other proposals without a reply waiting */
    store_record r;
    store_record_err err = store_record_decode(rec, len, &r);
    if (err != STORE_RECORD_OK) {
        log_error("state store: committed record %" PRIu64 " does not decode (%s); not applied", index,
                  store_record_strerror(err));
        if (p && p->h) store_bridge__held_unavailable(sb, p->h, "internal error");
        else if (p) reply_unavailable(sb, pending_topic(p), pending_corr(p), p->expiry_s, "internal error");
        if (expiry) expiry_settled(sb);
        return;
    }
    if (p) store_service_hint(sb->svc, &r, &p->hints);
    bool replay = sb->cluster && index <= sb->replay_until; /* history: nobody to notify */
    if (replay) store_service_set_quiet(sb->svc, true);
    store_service_apply(sb->svc, &r, p ? &sb->reply : NULL);
    if (replay) store_service_set_quiet(sb->svc, false);
    if (expiry) expiry_settled(sb);
    if (r.type == STORE_REC_SET && r.deadline_ms) expiry_arm(sb); /* maybe an earlier deadline */
    if (!p) return;
    if (p->h) {
        store_bridge__held_answer(sb, p->h, &sb->reply);
        return;
    }
    mqtt_bytes props =
        store_reply_props_build(&sb->props, pending_corr(p), 200, NULL, (mqtt_bytes){0}, reply_version(sb));
    store_bridge__send_reply(sb, pending_topic(p), props, BUF(&sb->reply.payload), p->expiry_s);
    latency_observe(sb, p->arrived_ns);
    buf_shrink(&p->data, 4096);
}

static void on_fail(void *ctx, uint64_t tag, const char *why)
{
    store_bridge *sb = ctx;
    if (sb->selective) inflight_release(sb, tag);
    if (tag == sb->mark_tag) { /* proposed again by the next write */
        sb->mark_tag = 0;
        sb->mark_wall = sb->mark_durable;
        return;
    }
    pending *p = pending_take(sb, tag);
    if (!p) {
        expiry_settled(sb);
        return;
    }
    log_debug("state store: write %" PRIu64 " failed in the log: %s", tag, why);
    if (p->h) {
        store_bridge__held_failed(sb, p->h, why);
        return;
    }
    reply_unavailable(sb, pending_topic(p), pending_corr(p), p->expiry_s, why);
    sb->stats.writes_unavailable++;
    latency_observe(sb, p->arrived_ns);
}

/* Remember where to reply, then propose; the reply is sent on commit. */
/* (h: cluster mode, the request held as bytes; its own bytes are
 * accounted in held_bytes, the reply goes through it.) */
static void propose_write(store_bridge *sb, const request_view *rv, const store_request *req, held *h,
                          const store_record *rec, bool disk)
{
    size_t cost = h ? PENDING_OVERHEAD : rv->response_topic.len + rv->correlation.len + PENDING_OVERHEAD;
    const char *why = "too many writes pending";
    if (!pending_room(sb, cost)) goto refused;
    pending *p = pending_at(sb, sb->ring_n++);
    p->tag = sb->next_tag + 1; /* the tag propose is about to use */
    p->expiry_s = h ? 0 : rv->expiry_s;
    p->h = h;
    p->arrived_ns = sb->arrived_ns;
    p->hints = req->hints; /* a slot is reused: always set (zero for a held request: no prefetch) */
    p->data.len = 0;
    if (!h) {
        p->topic_len = rv->response_topic.len;
        buf_append(&p->data, rv->response_topic.data, rv->response_topic.len);
        buf_append(&p->data, rv->correlation.data, rv->correlation.len);
    }
    sb->pending_bytes += cost;
    uint64_t tag;
    sb->stats.writes_logged++;
    if (propose(sb, rec, disk, &tag)) {
        if (h) h->maybe = true; /* from here its outcome may be unknown (a raft log never commits inside propose) */
        return;
    }
    assert(tag == p->tag && sb->ring_n && pending_at(sb, sb->ring_n - 1) == p);
    sb->ring_n--; /* refused: no callback will come for it */
    sb->pending_bytes -= cost;
    why = "the state store log refused the write";
    /* A raft log refuses when this node no longer leads (the role change
     * is reported at the end of the loop iteration, after this request):
     * nothing was proposed, so it goes to the next leader like a write
     * whose leadership was lost. */
    if (h) {
        store_bridge__held_failed(sb, h, "leadership lost");
        return;
    }
refused:
    log_debug("state store: write refused: %s", why);
    sb->stats.writes_unavailable++;
    if (h) store_bridge__held_failed(sb, h, why);
    else {
        reply_unavailable(sb, rv->response_topic, rv->correlation, rv->expiry_s, why);
        latency_observe(sb, sb->arrived_ns);
    }
}

/* Keep a CLOCK record ahead of the server clock in the log: proposed when
 * S comes within half the distance of the last mark, before the write
 * whose version caused it, so it is in the same group and durable before
 * that write is answered. A restart replays (and so observes) it. */
static void clock_mark_check(store_bridge *sb)
{
    if (!sb->mark_ahead_ms || sb->mark_tag) return;
    hlc s = store_service_clock(sb->svc);
    if (s.wall_ms + sb->mark_ahead_ms / 2 < sb->mark_wall) return;
    uint64_t now = clock_wall_ms();
    uint64_t mark = (s.wall_ms > now ? s.wall_ms : now) + sb->mark_ahead_ms;
    store_record r = {.type = STORE_REC_CLOCK, .now_ms = now, .version = {mark, 0, s.node, s.node_len}};
    uint64_t tag;
    if (!propose(sb, &r, true, &tag)) return; /* the next write tries again */
    sb->mark_tag = tag;
    sb->mark_wall = mark;
}

/* Send sb->reply (from decide or the de-duplication table) at once. */
static void reply_now(store_bridge *sb, const request_view *rv, const store_request *req)
{
    store_reply *r = &sb->reply;
    mqtt_bytes props =
        store_reply_props_build(&sb->props, rv->correlation, r->status, r->status_message,
                                (mqtt_bytes){req->prot_ver.data, (uint32_t)req->prot_ver.len}, reply_version(sb));
    store_bridge__send_reply(sb, rv->response_topic, props, BUF(&r->payload), rv->expiry_s);
    latency_observe(sb, sb->arrived_ns);
}

/* Repeatable requests (GET, SCAN, KEYNOTIFY) skip de-duplication: a
 * repeat just reads (or registers) again, and for KEYNOTIFY a remembered
 * +OK on a new connection would stand in for a registration that ended
 * with the old one. They never produce a record either. Other requests are
 * looked up under (client id, correlation data, payload digest): the
 * digest makes a client that reuses correlation data for a different
 * request (mosquitto_rr with a fixed correlation-data, say) get a fresh
 * execution instead of a stale reply. */
static void on_request(void *ctx, mqtt_bytes client_id, const mqtt_bytes *username, const struct principal *who,
                       const mqtt_publish *pub)
{
    store_bridge *sb = ctx;
    request_view rv = {.client_id = client_id};
    sb->stats.requests++;
    sb->arrived_ns = uv_hrtime();
    if (!request_acceptable(sb, pub, username, who, &rv)) {
        sb->stats.envelope_refused++;
        return;
    }
    store_request req = {0};
    req.who.client_id = (store_bytes){rv.client_id.data, rv.client_id.len};
    req.who.who = who;
    if (username)
        req.who.username = (store_bytes){username->data ? username->data : (const uint8_t *)"", username->len};
    req.payload = (store_bytes){pub->payload.data ? pub->payload.data : (const uint8_t *)"", pub->payload.len};
    req.correlation = (store_bytes){rv.correlation.data, rv.correlation.len};
    req.expiry_s = rv.expiry_s;
    read_user_props(sb, pub, &req);
    store_request_kind kind = sb->cluster ? store_request_classify(&req) : STORE_KIND_WRITE;
    if (kind == STORE_KIND_ADMIN && store_bridge__admin_is_local(&req)) { /* this node's view, answered here */
        store_bridge__cluster_admin(sb, &req);
        reply_now(sb, &rv, &req);
        return;
    }
    if (sb->cluster && kind != STORE_KIND_NOTIFY) {
        /* Served by the leader: here if this node leads, else forwarded
         * (store_bridge_cluster.c). KEYNOTIFY stays below: registrations
         * belong to this node's connections. */
        store_bridge__cluster_local(sb, &req, who, rv.response_topic, pub->dup, kind != STORE_KIND_READ);
        return;
    }
    bool repeatable = store_request_repeatable(&req);
    /* One digest per request: both de-duplication tables and the record. */
    uint64_t digest = repeatable ? 0 : digest64(req.payload.data, req.payload.len);
    req.has_digest = !repeatable;
    req.payload_digest = digest;
    store_service_prefetch(sb->svc, &req); /* the key's bucket, the reply-cache slot (decide does the rest) */
    req.now_ms = clock_wall_ms();
    /* A QoS 1 redelivery (DUP set) is answered here from the reply cache
     * without being decided again. Any other repeat of a write, a retry
     * sent anew, is decided and answered by apply from the same cache
     * (apply_repeat, service.c): the same reply, so the common request
     * does not pay for a lookup here. */
    if (!repeatable && ((pub->dup && store_service_dedup_lookup(sb->svc, req.who.client_id, req.correlation, digest,
                                                                req.now_ms, &sb->reply)) ||
                        store_bridge__local_lookup(sb, &req, digest))) {
        log_debug("state store: repeated request from %.*s answered with its remembered reply", (int)rv.client_id.len,
                  (const char *)rv.client_id.data);
        sb->stats.dedup_hits++;
        reply_now(sb, &rv, &req);
        return;
    }
    store_record rec;
    bool write = store_service_decide(sb->svc, &req, &rec, &sb->reply);
    clock_mark_check(sb); /* before the write: rec's bytes stay valid (no decide) */
    if (write) {
        propose_write(sb, &rv, &req, NULL, &rec, write_durability(sb, &req, &rec));
        return;
    }
    reply_now(sb, &rv, &req);
    if (!repeatable) store_bridge__local_remember(sb, &req, digest);
}

/* Cluster mode: decide a request held as bytes on the leader (its
 * envelope was checked where it arrived) and answer it through h, now or
 * when its write commits. As on_request, with the reply cache asked for
 * QoS 1 redeliveries only. */
void store_bridge__run_held(store_bridge *sb, held *h, const store_request *in, bool dup)
{
    store_request req = *in;
    bool repeatable = store_request_repeatable(&req);
    uint64_t digest = repeatable ? 0 : digest64(req.payload.data, req.payload.len);
    req.has_digest = !repeatable;
    req.payload_digest = digest;
    req.now_ms = clock_wall_ms();
    if (!repeatable && ((dup && store_service_dedup_lookup(sb->svc, req.who.client_id, req.correlation, digest,
                                                           req.now_ms, &sb->reply)) ||
                        store_bridge__local_lookup(sb, &req, digest))) {
        store_bridge__held_answer(sb, h, &sb->reply);
        return;
    }
    store_record rec;
    if (store_service_decide(sb->svc, &req, &rec, &sb->reply)) {
        propose_write(sb, NULL, &req, h, &rec, true); /* every entry of a raft log is durable */
        return;
    }
    if (!repeatable)
        store_bridge__local_remember(sb, &req, digest); /* before the answer frees h (req points into it) */
    store_bridge__held_answer(sb, h, &sb->reply);
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
    mqtt_bytes version = {n->version.data, (uint32_t)n->version.len};
    broker_message m = {.topic = {n->topic.data, (uint32_t)n->topic.len},
                        .payload = {n->payload.data, (uint32_t)n->payload.len},
                        .props = store_reply_props_notification(&sb->props, version),
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

/* --- topic protections (§10.5, store_topic_guard.c) ------------------------- */

static uint8_t authorize(void *ctx, const broker_auth_request *r)
{
    store_bridge *sb = ctx;
    return store_topic_guard(&sb->scratch, r);
}

/* --- life cycle ------------------------------------------------------------------ */

static mqtt_bytes bytes_dup(const char *s)
{
    size_t n = strlen(s);
    return (mqtt_bytes){xmemdup(s, n + 1), (uint32_t)n};
}

static void persist_init(store_bridge *sb, const store_bridge_config *cfg)
{
    sb->persist = cfg->persist;
    sb->selective = cfg->log_new && !cfg->cluster && cfg->persist != STORE_BRIDGE_PERSIST_ALL;
    sb->dynamic = cfg->dynamic;
    if (cfg->keys && cfg->keys->n) sb->keys = xmemdup(cfg->keys, sizeof *cfg->keys);
    sb->property = bytes_dup(cfg->property ? cfg->property : STORE_BRIDGE_PERSIST_PROPERTY);
    sb->value = bytes_dup(cfg->value ? cfg->value : STORE_BRIDGE_PERSIST_VALUE);
    if (sb->selective) sb->inflight = xcalloc(INFLIGHT_SLOTS, sizeof *sb->inflight);
}

store_bridge *store_bridge_new(uv_loop_t *loop, broker *b, const store_bridge_config *cfg)
{
    if (!cfg->reply_cache_entries || !cfg->reply_cache_bytes) return NULL;
    store_bridge *sb = xcalloc(1, sizeof *sb);
    store_config sc = cfg->store;
    sc.dedup_entries = cfg->reply_cache_entries;
    sc.dedup_bytes = cfg->reply_cache_bytes;
    sb->svc = store_service_new(&sc, on_notify, sb);
    sb->log = sb->svc ? cfg->log_new ? cfg->log_new(cfg->log_arg, sb->svc, on_commit, on_fail, sb)
                                     : repl_mem_log_new(on_commit, on_fail, sb)
                      : NULL;
    if (!sb->log) {
        store_service_free(sb->svc);
        free(sb);
        return NULL;
    }
    sb->loop = loop;
    sb->b = b;
    sb->mark_ahead_ms = cfg->clock_mark_ms;
    sb->refused = hashmap_new();
    persist_init(sb, cfg);
    sb->cluster = cfg->cluster;
    /* An eighth of the service's table: errors and STOPs are rare. */
    sb->local = dedup_new(cfg->reply_cache_entries / 8 + 16, cfg->reply_cache_bytes / 8 + 65536);
    store_reply_init(&sb->reply);
    store_reply_props_init(&sb->props);
    uv_timer_init(loop, &sb->timer);
    sb->timer.data = sb;
    uv_idle_init(loop, &sb->drain);
    sb->drain.data = sb;
    uv_check_init(loop, &sb->flush);
    sb->flush.data = sb;
    sb->handles_open = 3;
    if (sb->cluster) store_bridge__cluster_init(sb); /* one more handle */
    broker_set_publish_hook(b, S(SSPROTO_REQUEST_TOPIC), on_request, sb);
    broker_add_authorizer(b, authorize, sb);
    broker_set_disconnect_hook(b, on_disconnect, sb);
    sb->installed = true;
    expiry_arm(sb); /* replayed keys may be due, or overdue: expired while down */
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
    uv_close((uv_handle_t *)&sb->flush, on_handle_closed);
    sb->flush_armed = false;
    if (sb->cluster) store_bridge__cluster_close(sb);
    repl_log_flush(sb->log); /* what the last iteration proposed */
}

void store_bridge_free(store_bridge *sb)
{
    if (!sb) return;
    if (sb->installed || sb->handles_open) log_warn("store_bridge_free: not shut down (loop not run?)");
    /* Before the service its callbacks apply to. A cluster's raft log
     * belongs to the cluster node, which closed it while the loop ran. */
    if (!sb->cluster) repl_log_free(sb->log);
    if (sb->cluster) store_bridge__cluster_free(sb);
    store_service_free(sb->svc);
    for (size_t i = 0; i < sb->ring_cap; i++) buf_free(&sb->ring[i].data);
    free(sb->ring);
    buf_free(&sb->enc);
    dedup_free(sb->local);
    hashmap_free(sb->refused, NULL);
    free(sb->inflight);
    buf_free(&sb->inflight_fifo);
    free(sb->keys);
    free((void *)sb->property.data);
    free((void *)sb->value.data);
    store_reply_free(&sb->reply);
    store_reply_props_free(&sb->props);
    buf_free(&sb->scratch);
    free(sb);
}

void store_bridge_set_authorizer(store_bridge *sb, store_authorize_fn fn, void *ctx)
{
    sb->authorize = fn;
    sb->auth_ctx = ctx;
    store_service_set_authorizer(sb->svc, fn, ctx);
}

const store_service *store_bridge_service(const store_bridge *sb) { return sb->svc; }
