/* Durable sessions (docs/persistence.md): the hooks that log every change
 * of a durable session's state, their replay at start and the snapshot.
 *
 * A session is durable while it is selected (persistence.sessions) and
 * its expiry interval is not 0; PSESS_ON in s->psess says so. The broker
 * applies a change in memory at once and appends its record as it goes
 * (records: persist_session.h). The lists are logged by position: a new
 * entry joins the tail of the queue or of the in-flight list, the queue's
 * head goes in flight (SENT), in-flight entries are named by packet id,
 * and the rare removals from the middle (shared subscriptions handing a
 * message on, re-authorization) by index, so replaying the records in
 * order rebuilds the same lists.
 *
 * A record the sink refuses leaves the log behind the session in memory:
 * the session is marked PSESS_DIRTY and, before its next record, written
 * again whole (END, then everything), so the log never continues from a
 * state it does not hold. Replay is lenient about records that do not
 * fit the state it rebuilt (they can only follow such a gap): they are
 * skipped; it refuses only records that do not decode.
 *
 * Message bodies: a MSG record (an id and the message) is written once per
 * routing of a message, however many durable sessions it reaches, and the
 * DLV records name it by id; outside routing (retained messages on
 * subscribe, a shared message handed on, a direct delivery) each DLV gets
 * its own MSG. Ids come from a counter (a snapshot uses the message's
 * address, unique among live messages); a DLV always follows its MSG in
 * the same file and the same process, so replay maps an id to the latest
 * MSG that carried it (a temporary table, dropped in replay_done).
 *
 * Times: message expiry and offline sessions' deadlines are written as
 * wall-clock deadlines (a message keeps expiring while the server is
 * down); a session connected when the server stopped counts its expiry
 * from the next start. Delayed wills are not persisted. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "broker/internal.h"
#include "broker/persist_session.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/hashmap.h"
#include "util/log.h"

typedef struct psess_state {
    uint64_t next_msg_id;
    const msg *routing;   /* the message being routed (broker__psess_routing) */
    uint64_t routing_id;  /* its MSG record's id; 0: not written yet */
    buf enc;              /* encoding space of the live path */
    hashmap *replay_msgs; /* msg id (8 bytes) -> msg (one reference each); during replay */
    uint64_t replay_skipped;
} psess_state;

static psess_state *state(broker *b)
{
    if (!b->psess) b->psess = xcalloc(1, sizeof *b->psess);
    return b->psess;
}

static void msg_release(void *m) { broker__msg_unref(m); }

void broker__psess_free(broker *b)
{
    psess_state *ps = b->psess;
    if (!ps) return;
    buf_free(&ps->enc);
    if (ps->replay_msgs) hashmap_free(ps->replay_msgs, msg_release);
    free(ps);
    b->psess = NULL;
}

void broker__psess_routing(broker *b, const msg *m)
{
    if (!b->psess) return;
    b->psess->routing = m;
    b->psess->routing_id = 0;
}

/* --- writing ----------------------------------------------------------------- */

static uint64_t put(broker *b, const psess_rec *r)
{
    psess_state *ps = state(b);
    psess_out o = {.b = &ps->enc};
    ps->enc.len = 0;
    psess_rec_encode(r, &o);
    uint64_t seq = broker__persist_append(b, r->type, ps->enc.data, ps->enc.len);
    ps->enc.len = 0;
    buf_shrink(&ps->enc, 64 * 1024);
    return seq;
}

static mqtt_bytes sid(const session *s) { return (mqtt_bytes){s->id, s->id_len}; }

/* The owner's encoding into *tmp (the live path), or none. */
static bool owner_bytes(const session *s, buf *tmp, mqtt_bytes *out)
{
    const broker_principal_ops *ops = s->b->pops;
    const struct principal *who = broker__session_principal(s);
    if (!who || !ops->encode) return false;
    size_t n = ops->encode(who, NULL, 0);
    tmp->len = 0;
    ops->encode(who, buf_reserve(tmp, n), n);
    tmp->len = n;
    *out = (mqtt_bytes){tmp->data, (uint32_t)n};
    return true;
}

static psess_rec session_rec(const session *s, uint64_t now, uint64_t wall)
{
    psess_rec r = {.type = PSESS_SESSION, .client_id = sid(s), .expiry = s->expiry};
    r.offline = s->c == NULL;
    if (r.offline) r.deadline = broker__persist_to_wall_at(s->expire_at, now, wall);
    return r;
}

static uint64_t put_session(session *s)
{
    psess_rec r = session_rec(s, broker_now(), clock_wall_ms());
    buf tmp = {0};
    r.has_owner = owner_bytes(s, &tmp, &r.owner);
    uint64_t seq = put(s->b, &r);
    buf_free(&tmp);
    return seq;
}

static psess_rec sub_rec_of(const session *s, const sub_rec *sr)
{
    return (psess_rec){.type = PSESS_SUB, .client_id = sid(s), .filter = {sr->filter, sr->len}, .opts = sr->opts};
}

static psess_rec msg_rec(const msg *m, uint64_t id, uint64_t now, uint64_t wall)
{
    return (psess_rec){.type = PSESS_MSG,
                       .msg_id = id,
                       .qos = m->qos,
                       .retain = m->retain,
                       .expiry_at = broker__persist_to_wall_at(m->expiry_at, now, wall),
                       .topic = m->topic,
                       .payload = m->payload,
                       .props = m->props};
}

static psess_rec dlv_rec(const session *s, const delivery *d, uint64_t msg_id)
{
    psess_rec r = {.type = PSESS_DLV,
                   .client_id = sid(s),
                   .msg_id = d->state == DLV_PUBREL ? 0 : msg_id,
                   .qos = d->qos,
                   .retain = d->retain,
                   .state = d->state,
                   .packet_id = d->state == DLV_QUEUED ? 0 : d->packet_id,
                   .n_sub_ids = d->n_sub_ids,
                   .sub_ids = broker__delivery_sub_ids(d)};
    if (d->share) r.share = (mqtt_bytes){d->share->filter, d->share->len};
    return r;
}

/* The id of m's MSG record, written now unless this routing wrote it
 * already; 0 if the sink refused it. */
static uint64_t body(broker *b, const msg *m)
{
    psess_state *ps = state(b);
    if (ps->routing == m && ps->routing_id) return ps->routing_id;
    uint64_t id = ++ps->next_msg_id;
    psess_rec r = msg_rec(m, id, broker_now(), clock_wall_ms());
    if (!put(b, &r)) return 0;
    if (ps->routing == m) ps->routing_id = id;
    return id;
}

static uint64_t put_dlv(session *s, const delivery *d)
{
    uint64_t id = d->m ? body(s->b, d->m) : 0;
    if (d->m && !id) return 0;
    psess_rec r = dlv_rec(s, d, id);
    return put(s->b, &r);
}

/* Everything of s, from scratch (END first: replay starts it afresh).
 * Returns the last sequence number, 0 if a record was refused. */
static uint64_t put_whole(session *s)
{
    psess_rec end = {.type = PSESS_END, .client_id = sid(s)};
    uint64_t seq = put(s->b, &end);
    if (seq) seq = put_session(s);
    for (uint32_t i = 0; seq && i < s->n_subs; i++) {
        psess_rec r = sub_rec_of(s, &s->subs[i]);
        seq = put(s->b, &r);
    }
    for (uint32_t i = 0; seq && s->rare && i < s->rare->n_rx_qos2; i++) {
        psess_rec r = {.type = PSESS_RX_ADD, .client_id = sid(s), .packet_id = s->rare->rx_qos2[i]};
        seq = put(s->b, &r);
    }
    for (const delivery *d = s->inflight.head; seq && d; d = d->next) seq = put_dlv(s, d);
    for (const delivery *d = s->queue.head; seq && d; d = d->next) seq = put_dlv(s, d);
    return seq;
}

/* Bring s in step with the log: a session a record of which was refused
 * is written again whole. Hooks run after the change they log, so a
 * rewrite holds that change already. Returns -1 if s is still out of
 * step, 0 if it was in step, 1 if it was rewritten (*seq: the last record). */
static int step(session *s, uint64_t *seq)
{
    if (!(s->psess & PSESS_DIRTY)) return 0;
    if (!(*seq = put_whole(s))) return -1;
    s->psess &= (uint8_t)~PSESS_DIRTY;
    return 1;
}

/* Append a record of s (the change is already applied); a refusal marks
 * s dirty. */
static uint64_t sput(session *s, psess_rec *r)
{
    uint64_t seq = 0;
    int st = step(s, &seq);
    if (st) return st > 0 ? seq : 0;
    r->client_id = sid(s);
    if (!(seq = put(s->b, r))) s->psess |= PSESS_DIRTY;
    return seq;
}

/* --- hooks -------------------------------------------------------------------- */

void broker__psess_attached(session *s)
{
    broker *b = s->b;
    bool durable = s->expiry && broker__persist_session_selected(b, sid(s));
    uint64_t seq;
    if (!durable) {
        if (s->psess & PSESS_ON) { /* its expiry became 0: gone from the log */
            psess_rec r = {.type = PSESS_END, .client_id = sid(s)};
            put(b, &r);
        }
        s->psess = 0;
        return;
    }
    if (!(s->psess & PSESS_ON)) { /* new, or durable from now on: all of it */
        s->psess = PSESS_ON | PSESS_DIRTY;
        step(s, &seq);
        return;
    }
    if (!step(s, &seq) && !put_session(s)) s->psess |= PSESS_DIRTY;
}

void broker__psess_offline(session *s)
{
    uint64_t seq;
    if (!(s->psess & PSESS_ON) || s->b->shutting_down) return;
    if (!step(s, &seq) && !put_session(s)) s->psess |= PSESS_DIRTY;
}

void broker__psess_ended(session *s)
{
    if (!(s->psess & PSESS_ON)) return;
    psess_rec r = {.type = PSESS_END, .client_id = sid(s)};
    /* Refused: a later session of this id is written from an END on;
     * until then a restart may restore this one, offline and expiring. */
    put(s->b, &r);
    s->psess = 0;
}

void broker__psess_sub(session *s, const sub_rec *sr)
{
    if (!(s->psess & PSESS_ON)) return;
    psess_rec r = sub_rec_of(s, sr);
    sput(s, &r);
}

void broker__psess_unsub(session *s, mqtt_bytes filter)
{
    if (!(s->psess & PSESS_ON)) return;
    psess_rec r = {.type = PSESS_UNSUB, .filter = filter};
    sput(s, &r);
}

void broker__psess_rx(session *s, uint16_t packet_id, bool add)
{
    if (!(s->psess & PSESS_ON)) return;
    psess_rec r = {.type = add ? PSESS_RX_ADD : PSESS_RX_DEL, .packet_id = packet_id};
    sput(s, &r);
}

uint64_t broker__psess_dlv(session *s, const delivery *d)
{
    uint64_t seq = 0;
    if (!(s->psess & PSESS_ON)) return 0;
    int st = step(s, &seq);
    if (st) return st > 0 ? seq : 0;
    if (!(seq = put_dlv(s, d))) s->psess |= PSESS_DIRTY;
    return seq;
}

uint64_t broker__psess_pid(session *s, uint8_t type, uint16_t packet_id)
{
    if (!(s->psess & PSESS_ON)) return 0;
    psess_rec r = {.type = type, .packet_id = packet_id};
    return sput(s, &r);
}

void broker__psess_drop(session *s, bool inflight, uint32_t index)
{
    if (!(s->psess & PSESS_ON)) return;
    psess_rec r = {.type = PSESS_DROP, .list = inflight, .index = index};
    sput(s, &r);
}

/* --- replay ------------------------------------------------------------------- */

/* During replay a session is not durable yet (PSESS_ON is set in
 * replay_done, so nothing is logged while the log is read) and its
 * expire_at holds what the records said, for replay_done: 0 connected
 * when the server stopped, UINT64_MAX offline for ever, else the wall
 * clock deadline of an offline session. */
#define REPLAY_NEVER UINT64_MAX

static delivery *find_pid(dlv_list *l, uint16_t id, delivery **prev)
{
    *prev = NULL;
    for (delivery *d = l->head; d; *prev = d, d = d->next)
        if (d->packet_id == id) return d;
    return NULL;
}

static share_key *share_of(session *s, mqtt_bytes filter)
{
    if (!filter.len) return NULL;
    sub_rec *r = broker__session_sub_find(s, filter);
    return r && r->share ? broker__share_key_ref(r->share) : broker__share_key_new(filter);
}

static const char *replay_dlv(broker *b, session *s, const psess_rec *r)
{
    msg *m = NULL;
    if (r->msg_id) {
        m = hashmap_get(b->psess->replay_msgs, &r->msg_id, sizeof r->msg_id);
        if (!m) return "delivery of an unknown message";
    }
    delivery *prev;
    if (r->state != PSESS_DLV_QUEUED && find_pid(&s->inflight, r->packet_id, &prev))
        return "delivery with a packet id in flight";
    uint32_t *ids = r->n_sub_ids ? xmalloc(r->n_sub_ids * sizeof *ids) : NULL;
    for (uint16_t i = 0; i < r->n_sub_ids; i++) ids[i] = psess_rec_sub_id(r, i);
    delivery *d = broker__delivery_new(m, r->qos, r->retain, ids, r->n_sub_ids);
    free(ids);
    d->share = share_of(s, r->share);
    d->state = r->state;
    d->packet_id = r->packet_id;
    broker__dlv_push(r->state == PSESS_DLV_QUEUED ? &s->queue : &s->inflight, d);
    return NULL;
}

/* The in-flight list's removals and changes by packet id. */
static const char *replay_pid(session *s, const psess_rec *r)
{
    delivery *prev, *d;
    switch (r->type) {
    case PSESS_SENT:
        if (!s->queue.head || find_pid(&s->inflight, r->packet_id, &prev)) return "SENT without a queued entry";
        d = broker__dlv_pop(&s->queue);
        d->packet_id = r->packet_id;
        d->state = DLV_SENT;
        broker__dlv_push(&s->inflight, d);
        return NULL;
    case PSESS_DONE:
        if (!(d = find_pid(&s->inflight, r->packet_id, &prev))) return "DONE of an unknown packet id";
        broker__dlv_unlink(&s->inflight, prev, d);
        broker__delivery_free(d);
        return NULL;
    case PSESS_PUBREL:
        d = find_pid(&s->inflight, r->packet_id, &prev);
        if (!d || d->qos != 2 || d->state != DLV_SENT) return "PUBREL of an unknown packet id";
        s->inflight.bytes -= broker__dlv_cost(d); /* as deliver.c does on PUBREC */
        broker__msg_unref(d->m);
        d->m = NULL;
        d->state = DLV_PUBREL;
        s->inflight.bytes += broker__dlv_cost(d);
        return NULL;
    }
    return NULL;
}

static const char *replay_drop(session *s, const psess_rec *r)
{
    dlv_list *l = r->list ? &s->inflight : &s->queue;
    delivery *prev = NULL, *d = l->head;
    for (uint32_t i = 0; d && i < r->index; i++) prev = d, d = d->next;
    if (!d) return "DROP past the end of a list";
    broker__dlv_unlink(l, prev, d);
    broker__delivery_free(d);
    return NULL;
}

static const char *replay_session(broker *b, session *s, const psess_rec *r)
{
    struct principal *who = NULL;
    if (r->has_owner && (!b->pops->decode || !(who = b->pops->decode(r->owner.data, r->owner.len))))
        return "session record: bad owner";
    if (!s) s = broker__session_create(b, r->client_id);
    s->expiry = r->expiry;
    s->expire_at = !r->offline ? 0 : r->deadline ? r->deadline : REPLAY_NEVER;
    broker__session_keep_principal(s, who);
    return NULL;
}

static const char *replay_msg(broker *b, const psess_rec *r)
{
    psess_state *ps = state(b);
    if (!ps->replay_msgs) ps->replay_msgs = hashmap_new();
    msg *m = broker__msg_new(r->topic, r->payload, r->props, r->qos, r->retain);
    m->expiry_at = broker__persist_to_mono_at(r->expiry_at, broker_now(), clock_wall_ms());
    broker__msg_unref(hashmap_put(ps->replay_msgs, &r->msg_id, sizeof r->msg_id, m));
    return NULL;
}

/* A record that decodes but does not fit the state rebuilt so far. */
static const char *replay_apply(broker *b, session *s, const psess_rec *r)
{
    switch (r->type) {
    case PSESS_END: broker__session_end(s); return NULL;
    case PSESS_SUB: broker__session_sub_set(s, r->filter, &r->opts); return NULL;
    case PSESS_UNSUB: broker__session_sub_remove(s, r->filter); return NULL;
    case PSESS_DLV: return replay_dlv(b, s, r);
    case PSESS_SENT:
    case PSESS_DONE:
    case PSESS_PUBREL: return replay_pid(s, r);
    case PSESS_DROP: return replay_drop(s, r);
    case PSESS_RX_ADD:
        if (broker__session_rx_qos2_has(s, r->packet_id)) return "inbound QoS 2 id twice";
        broker__session_rx_qos2_add(s, r->packet_id);
        return NULL;
    case PSESS_RX_DEL: return broker__session_rx_qos2_remove(s, r->packet_id) ? NULL : "unknown inbound QoS 2 id";
    }
    return NULL;
}

const char *broker__session_replay(broker *b, uint8_t type, const uint8_t *p, size_t n)
{
    psess_rec r;
    const char *why = psess_rec_decode(type, p, n, &r);
    if (why) return why;
    psess_state *ps = state(b);
    if (type == PSESS_MSG) return replay_msg(b, &r);
    session *s = broker__session_find(b, r.client_id);
    if (s) assert(!s->c && !(s->psess & PSESS_ON));
    if (type == PSESS_SESSION) return replay_session(b, s, &r);
    if (type == PSESS_END && !s) return NULL; /* a rewrite starts with it, even for a new session */
    const char *gap = s ? replay_apply(b, s, &r) : "record of an unknown session";
    if (gap) {
        if (!ps->replay_skipped++)
            log_warn("session record (type %u) skipped at replay: %s (the log has a gap after a refused write)", type,
                     gap);
    }
    return NULL;
}

/* --- while records are refused -------------------------------------------------- */

typedef struct would_ctx {
    const msg *m;
    bool hit;
} would_ctx;

static void would_visit(void *ctx, const subscription *sub)
{
    would_ctx *w = ctx;
    const session *s = sub->owner;
    if ((s->psess & PSESS_ON) && sub->opts.qos) w->hit = true;
}

static bool would_eligible(void *ctx, void *owner)
{
    (void)ctx, (void)owner;
    return true;
}

/* The core's predicate (broker__persist_would_append): would routing m
 * queue it for a durable session? Asked only while the sink refuses. */
static bool would_append(const broker *b, const msg *m)
{
    if (!m->qos) return false;
    would_ctx w = {m, false};
    topic_tree_match(b->tree, m->topic, would_visit, would_eligible, &w);
    return w.hit;
}

void broker__session_persist_failed(broker *b)
{
    const session_table *t = &b->sessions;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (session *s = t->buckets[i]; s; s = s->table_next)
            if (s->psess & PSESS_ON) s->psess |= PSESS_DIRTY;
}

/* After replay: message expiry dropped what is queued and expired. */
static void drop_expired(session *s, uint64_t now)
{
    delivery *prev = NULL, *d = s->queue.head;
    uint32_t i = 0;
    while (d) {
        delivery *next = d->next;
        if (broker__msg_expired(d->m, now)) {
            broker__psess_drop(s, false, i);
            broker__dlv_unlink(&s->queue, prev, d);
            broker__delivery_free(d);
            s->b->stats.dropped_expired++;
        } else {
            prev = d;
            i++;
        }
        d = next;
    }
}

/* Bring one replayed session to life; false if it ended (expired while
 * the server was down, or no longer selected). */
static bool revive(session *s, uint64_t now, uint64_t wall)
{
    uint64_t at = s->expire_at;
    s->psess = PSESS_ON;
    s->expire_at = 0;
    if (!broker__persist_session_selected(s->b, sid(s)) || (at && at != REPLAY_NEVER && at <= wall)) {
        broker__session_end(s);
        return false;
    }
    if (s->inflight.tail) {
        uint16_t next = (uint16_t)(s->inflight.tail->packet_id + 1);
        s->next_pid = next ? next : 1;
    }
    drop_expired(s, now);
    if (at == 0) { /* connected when the server stopped: its expiry counts from now, and is logged */
        if (s->expiry != UINT32_MAX) s->expire_at = now + (uint64_t)s->expiry * 1000;
        broker__psess_offline(s);
    } else if (at != REPLAY_NEVER) {
        s->expire_at = now + (at - wall);
    }
    broker__session_rearm(s);
    assert(delivery__check(s));
    return true;
}

void broker__session_replay_done(broker *b, broker_persist_restored *out)
{
    broker__persist_set_session_would_append(b, would_append);
    psess_state *ps = b->psess;
    if (ps && ps->replay_msgs) {
        hashmap_free(ps->replay_msgs, msg_release);
        ps->replay_msgs = NULL;
    }
    if (ps && ps->replay_skipped)
        log_warn("%llu session records did not fit the sessions replayed and were skipped",
                 (unsigned long long)ps->replay_skipped);
    size_t n = b->sessions.size, k = 0;
    if (!n) return;
    /* Ending a session unlinks it: take them all first. */
    session **all = xmalloc(n * sizeof *all);
    for (size_t i = 0; i < b->sessions.nbuckets; i++)
        for (session *s = b->sessions.buckets[i]; s; s = s->table_next) all[k++] = s;
    assert(k == n);
    uint64_t now = broker_now(), wall = clock_wall_ms();
    for (size_t i = 0; i < n; i++) {
        session *s = all[i];
        if (!revive(s, now, wall)) continue;
        out->sessions++;
        out->messages += s->queue.n + s->inflight.n;
    }
    free(all);
}

/* --- snapshot (in the forked child: no allocation, no libuv) -------------------- */

typedef struct snap {
    broker_persist_write_fn fn;
    void *ctx;
    uint8_t *scratch; /* PSESS_SCRATCH_MAX bytes */
    uint8_t owner[4096];
} snap;

static bool snap_put(snap *sn, const psess_rec *r)
{
    psess_out o = {.scratch = sn->scratch, .cap = PSESS_SCRATCH_MAX};
    psess_rec_encode(r, &o);
    return sn->fn(sn->ctx, r->type, o.pieces, o.n);
}

/* The SESSION record, its owner encoded on the stack (or, if it does not
 * fit, in pages of its own: mmap is not the allocator). */
static bool snap_session(snap *sn, const session *s, uint64_t now, uint64_t wall)
{
    psess_rec r = session_rec(s, now, wall);
    const struct principal *who = broker__session_principal(s);
    const broker_principal_ops *ops = s->b->pops;
    if (!who || !ops->encode) return snap_put(sn, &r);
    size_t n = ops->encode(who, sn->owner, sizeof sn->owner);
    r.has_owner = true;
    if (n <= sizeof sn->owner) {
        r.owner = (mqtt_bytes){sn->owner, (uint32_t)n};
        return snap_put(sn, &r);
    }
    uint8_t *big = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (big == MAP_FAILED) return false;
    ops->encode(who, big, n);
    r.owner = (mqtt_bytes){big, (uint32_t)n};
    bool ok = snap_put(sn, &r);
    munmap(big, n);
    return ok;
}

static bool snap_list(snap *sn, const session *s, const dlv_list *l, uint64_t now, uint64_t wall)
{
    for (const delivery *d = l->head; d; d = d->next) {
        uint64_t id = (uint64_t)(uintptr_t)d->m;
        if (d->m && !d->m->snap_written) {
            psess_rec m = msg_rec(d->m, id, now, wall);
            if (!snap_put(sn, &m)) return false;
            d->m->snap_written = true; /* the child's copy only */
        }
        psess_rec r = dlv_rec(s, d, id);
        if (!snap_put(sn, &r)) return false;
    }
    return true;
}

static bool snap_one(snap *sn, const session *s, uint64_t now, uint64_t wall)
{
    if (!snap_session(sn, s, now, wall)) return false;
    for (uint32_t i = 0; i < s->n_subs; i++) {
        psess_rec r = sub_rec_of(s, &s->subs[i]);
        if (!snap_put(sn, &r)) return false;
    }
    for (uint32_t i = 0; s->rare && i < s->rare->n_rx_qos2; i++) {
        psess_rec r = {.type = PSESS_RX_ADD, .client_id = sid(s), .packet_id = s->rare->rx_qos2[i]};
        if (!snap_put(sn, &r)) return false;
    }
    return snap_list(sn, s, &s->inflight, now, wall) && snap_list(sn, s, &s->queue, now, wall);
}

bool broker__session_snapshot(const broker *b, broker_persist_write_fn fn, void *ctx)
{
    /* Large, but on the stack of a child that does nothing else; a static
     * buffer would be global state. */
    uint8_t scratch[PSESS_SCRATCH_MAX];
    snap sn = {.fn = fn, .ctx = ctx, .scratch = scratch};
    uint64_t now = broker_now(), wall = clock_wall_ms();
    const session_table *t = &b->sessions;
    for (size_t i = 0; i < t->nbuckets; i++)
        for (const session *s = t->buckets[i]; s; s = s->table_next)
            if ((s->psess & PSESS_ON) && !snap_one(&sn, s, now, wall)) return false;
    return true;
}
