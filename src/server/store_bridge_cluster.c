/* Cluster mode of the state store bridge (docs/cluster.md, "Requests").
 *
 * Every request but KEYNOTIFY is served by the raft leader. A request of
 * a client of this node is kept as bytes (a `held`, store/request_wire.h:
 * the request, the client's encoded principal, and the response topic)
 * and dispatched:
 *
 *   this node leads and is ready ── write: decide, propose, answer on commit
 *                                └─ read: wait for a barrier, then decide
 *   another node leads          ── forwarded to it; its reply comes back
 *                                  and is published here, on the client's
 *                                  response topic (authorized here, as on
 *                                  one node)
 *   no leader known             ── waits (HELD_WAIT)
 *
 * "Ready": a new leader serves nothing before a barrier of its own
 * commits, so it has applied every entry its predecessors committed (its
 * clock has observed every committed version, and reads and conditional
 * writes see them).
 *
 * Exactly one answer per request: a forwarded request carries this
 * node's id for it and is answered once, by the first reply with that id
 * (later ones are dropped). Until then it is sent again, to whoever leads
 * by then, every HELD_RETRY_MS and at each change of leader: a write
 * retried after a failover is answered from the de-duplication table if
 * its first copy committed (apply_repeat), and a read is read again. A
 * write whose leadership was lost before it committed (outcome unknown)
 * is dispatched again the same way. A request still unanswered at its
 * deadline (wait_ms, and before its Message Expiry) gets __stat 503 (not
 * applied), or 408 (outcome unknown) if it is a write that may have
 * reached a leader: forwarded, or proposed here.
 *
 * A leader serves the requests other nodes forward without re-checking
 * their envelope (their node did), under the principal they carry. A
 * forwarded request that reaches a node that does not lead is dropped:
 * its origin sends it again.
 *
 * Bounds: the bytes of every held request (listed, or pending in the log)
 * are at most HELD_MAX_BYTES; beyond, a request gets 503 at once. */
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "auth/principal.h"
#include "server/store_bridge_impl.h"
#include "store/request_wire.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

#define HELD_MAX_BYTES ((size_t)32 << 20)
/* The key whose Read permission CLUSTER STATUS needs, and Write CLUSTER
 * ADD and REMOVE (docs/cluster.md, "Operations"). */
#define ADMIN_KEY "$mqstate/cluster"
#define HELD_RETRY_MS 1000
#define HELD_TICK_MS 100
/* Longest encoded principal carried (X.509 attributes included). */
#define HELD_PRINCIPAL_MAX 65536

static size_t held_cost(const held *h) { return sizeof *h + h->wire_len + h->topic_len; }

static held_list *held_list_of(store_bridge *sb, uint8_t which)
{
    switch (which) {
    case HELD_WAIT: return &sb->wait;
    case HELD_FWD: return &sb->fwd;
    case HELD_READS_NEXT: return &sb->reads_next;
    case HELD_READS_BARRIER: return &sb->reads_barrier;
    default: return NULL;
    }
}

static void held_unlink(store_bridge *sb, held *h)
{
    held_list *l = held_list_of(sb, h->list);
    if (!l) return;
    if (h->prev) h->prev->next = h->next;
    else l->head = h->next;
    if (h->next) h->next->prev = h->prev;
    else l->tail = h->prev;
    assert(l->n > 0);
    l->n--;
    h->prev = h->next = NULL;
    h->list = HELD_NONE;
}

static void held_push(store_bridge *sb, held *h, uint8_t which)
{
    held_unlink(sb, h);
    held_list *l = held_list_of(sb, which);
    h->prev = l->tail;
    h->next = NULL;
    if (l->tail) l->tail->next = h;
    else l->head = h;
    l->tail = h;
    l->n++;
    h->list = which;
}

/* Take every entry of a list (so callbacks may push onto it again). */
static held *held_take_all(held_list *l)
{
    held *first = l->head;
    for (held *h = first; h; h = h->next) h->list = HELD_NONE;
    *l = (held_list){0};
    return first;
}

static void held_free(store_bridge *sb, held *h)
{
    held_unlink(sb, h);
    if (!h->from) hashmap_remove(sb->fwd_ids, &h->id, sizeof h->id);
    assert(sb->held_bytes >= held_cost(h));
    sb->held_bytes -= held_cost(h);
    free(h);
}

static void tick(uv_timer_t *t);

static void timer_on(store_bridge *sb)
{
    if (sb->held_timer_on || !sb->installed) return;
    sb->held_timer_on = true;
    uv_timer_start(&sb->held_timer, tick, HELD_TICK_MS, HELD_TICK_MS);
}

/* How long a request may wait for a leader: wait_ms, and less than its
 * Message Expiry (the requester stops waiting then: the 503 must reach it
 * first; a tenth of it, at most a second, is left for that). */
static uint64_t held_wait_ms(const store_bridge *sb, uint32_t expiry_s)
{
    uint64_t wait = sb->cl.wait_ms;
    if (!expiry_s) return wait;
    uint64_t e = (uint64_t)expiry_s * 1000, margin = e / 10 < 1000 ? e / 10 : 1000;
    return e - margin < wait ? e - margin : wait;
}

/* NULL past HELD_MAX_BYTES. Local requests get an id and go in fwd_ids. */
static held *held_new(store_bridge *sb, uint64_t from, uint64_t id, const buf *wire, mqtt_bytes topic,
                      uint32_t expiry_s)
{
    size_t cost = sizeof(held) + wire->len + topic.len;
    if (sb->held_bytes + cost > HELD_MAX_BYTES) return NULL;
    held *h = xcalloc(1, cost);
    h->from = from;
    h->id = from ? id : ++sb->next_fwd_id;
    h->deadline = clock_now_ms() + held_wait_ms(sb, expiry_s);
    h->wire_len = (uint32_t)wire->len;
    h->topic_len = topic.len;
    memcpy(h->data, wire->data, wire->len);
    if (topic.len) memcpy(h->data + wire->len, topic.data, topic.len);
    sb->held_bytes += cost;
    if (!from) hashmap_put(sb->fwd_ids, &h->id, sizeof h->id, h);
    timer_on(sb);
    return h;
}

/* The request of h (slices into h) and its principal (owned by the
 * caller; NULL if none). false if the bytes do not decode. */
static bool held_request(const held *h, store_request *req, store_wire_extra *x, principal **who)
{
    *who = NULL;
    if (!store_wire_request_decode(h->data, h->wire_len, req, x)) return false;
    if (x->principal.data) {
        *who = principal_decode(x->principal.data, x->principal.len);
        if (!*who) return false;
        req->who.who = *who;
    }
    return true;
}

/* --- answers ---------------------------------------------------------------- */

/* Publish a reply to a request of a client of this node, then free h. */
static void publish_local(store_bridge *sb, held *h, int status, const char *msg, mqtt_bytes version,
                          mqtt_bytes payload)
{
    store_request req;
    store_wire_extra x;
    if (store_wire_request_decode(h->data, h->wire_len, &req, &x)) {
        mqtt_bytes corr = {req.correlation.data, (uint32_t)req.correlation.len};
        mqtt_bytes pv = {req.prot_ver.data, (uint32_t)req.prot_ver.len};
        buf v = {.data = (uint8_t *)version.data, .len = version.len}; /* borrowed */
        mqtt_bytes props = store_reply_props_build(&sb->props, corr, status, msg, pv, version.data ? &v : NULL);
        mqtt_bytes topic = {h->data + h->wire_len, h->topic_len};
        store_bridge__send_reply(sb, topic, props, payload, req.expiry_s);
    }
    held_free(sb, h);
}

void store_bridge__held_answer(store_bridge *sb, held *h, const store_reply *r)
{
    if (h->from) {
        sb->wire.len = 0;
        store_wire_reply_encode(r, &sb->wire);
        sb->cl.answer(sb->cl.ctx, h->from, h->id, sb->wire.data, sb->wire.len);
        held_free(sb, h);
        return;
    }
    mqtt_bytes version = r->has_version ? (mqtt_bytes){r->version.data, (uint32_t)r->version.len} : (mqtt_bytes){0};
    publish_local(sb, h, r->status, r->status_message, version,
                  (mqtt_bytes){r->payload.data, (uint32_t)r->payload.len});
}

void store_bridge__held_unavailable(store_bridge *sb, held *h, const char *why)
{
    store_reply r = {.status = 503, .status_message = why};
    store_bridge__held_answer(sb, h, &r);
}

/* The last answer to a request of this node's client that will not get
 * a reply from a leader. A write that reached a leader (forwarded, or
 * proposed here) may still commit: then the answer is 408 (the RPC
 * convention's timeout: outcome unknown; SDKs report a timeout) and says
 * how to learn the outcome; otherwise 503: it was not applied. */
static void held_give_up(store_bridge *sb, held *h, const char *why)
{
    if (!h->maybe || h->from) {
        store_bridge__held_unavailable(sb, h, why);
        return;
    }
    char msg[STORE_WIRE_STMSG_MAX + 1];
    snprintf(msg, sizeof msg,
             "%s; the write may have been applied (send it again with the same Correlation Data to learn its "
             "outcome)",
             why);
    store_reply r = {.status = 408, .status_message = msg};
    store_bridge__held_answer(sb, h, &r);
}

/* --- dispatch ------------------------------------------------------------------ */

static void dispatch(store_bridge *sb, held *h);

/* Send (again) to the leader; stays on the fwd list until answered. */
static void forward(store_bridge *sb, held *h)
{
    assert(!h->from && sb->leader_id && !sb->is_leader);
    held_push(sb, h, HELD_FWD);
    h->maybe |= h->write;
    h->to = sb->leader_id;
    h->sent = clock_now_ms();
    if (!sb->cl.forward(sb->cl.ctx, h->to, h->id, h->data, h->wire_len))
        log_debug("state store: request %" PRIu64 " not forwarded to node %" PRIu64 " now; retried", h->id, h->to);
}

static void held_error(store_bridge *sb, held *h, int status, const char *why)
{
    store_reply r = {.status = status, .status_message = why};
    store_bridge__held_answer(sb, h, &r);
}

static void member_done(void *ctx, int status)
{
    held *h = ctx;
    store_bridge *sb = h->sb;
    if (status == 0) {
        store_reply *r = &sb->reply;
        r->status = 200;
        r->status_message = NULL;
        r->has_version = false;
        r->payload.len = 0;
        resp_put_ok(&r->payload);
        store_bridge__held_answer(sb, h, r);
        return;
    }
    held_error(sb, h, 503, sb->cl.strerror(status));
}

/* CLUSTER ADD|REMOVE id on the leader: Write on ADMIN_KEY; answered when
 * the membership change is done (h waits on no list meanwhile). */
static void run_admin(store_bridge *sb, held *h, store_request *req)
{
    const resp_request *rq = &req->rq;
    bool add = rq->argc == 3 && resp_arg_equals_ci(rq->argv[1], "ADD");
    bool remove = rq->argc == 3 && resp_arg_equals_ci(rq->argv[1], "REMOVE");
    uint64_t id = 0;
    if ((!add && !remove) || !resp_arg_u64(rq->argv[2], &id) || id == 0 || id > UINT32_MAX) {
        held_error(sb, h, 400, "expected CLUSTER ADD id or CLUSTER REMOVE id (a member id from 1 to 4294967295)");
        return;
    }
    if (sb->authorize &&
        !sb->authorize(sb->auth_ctx, &req->who, (const uint8_t *)ADMIN_KEY, strlen(ADMIN_KEY), STORE_ACCESS_WRITE)) {
        held_error(sb, h, 403, "not authorized (CLUSTER ADD and REMOVE need Write on " ADMIN_KEY ")");
        return;
    }
    h->sb = sb;
    int rc = sb->cl.member(sb->cl.ctx, add, id, member_done, h);
    if (rc)
        held_error(sb, h, rc == -1 ? 400 : 503, rc == -1 ? "not in this node's cluster.members" : sb->cl.strerror(rc));
}

/* Decide h now (this node leads and is ready). */
static void run_now(store_bridge *sb, held *h)
{
    store_request req;
    store_wire_extra x;
    principal *who;
    if (!held_request(h, &req, &x, &who)) {
        log_warn("state store: a request forwarded by node %" PRIu64 " does not decode; dropped", h->from);
        held_free(sb, h);
        return;
    }
    if (store_request_classify(&req) == STORE_KIND_ADMIN) run_admin(sb, h, &req);
    else store_bridge__run_held(sb, h, &req, x.dup);
    principal_free(who);
}

/* This node stops serving as leader: told by the role, or first by a
 * write that failed "leadership lost" (before the role change is
 * reported); either way once, with the log line and expiry stopped. */
static void not_ready(store_bridge *sb)
{
    if (!sb->ready) return;
    log_info("state store: this node no longer leads the cluster");
    sb->ready = false;
    store_bridge__expiry_stop(sb);
    timer_on(sb); /* the tick asks for a new ready barrier while raft says this node leads */
}

static void read_barrier_done(void *ctx, int status);

/* One barrier for every read waiting; reads that arrive meanwhile wait
 * for the next (repl_raft_barrier batches the same way). */
static void read_barrier_kick(store_bridge *sb)
{
    if (sb->read_barrier || !sb->reads_next.n || !sb->ready) return;
    while (sb->reads_next.head) held_push(sb, sb->reads_next.head, HELD_READS_BARRIER);
    sb->read_barrier = true;
    int rc = sb->cl.read_index ? sb->cl.read_index(sb->cl.ctx, read_barrier_done, sb)
                               : sb->cl.barrier(sb->cl.ctx, read_barrier_done, sb);
    if (rc) read_barrier_done(sb, rc);
}

static void read_barrier_done(void *ctx, int status)
{
    store_bridge *sb = ctx;
    sb->read_barrier = false;
    /* A failed barrier means this node lost the lead (maybe not reported
     * yet): stop serving first, so nothing below calls into raft from
     * inside its own callback (libraft 0.15 crashes on a barrier started
     * while it steps down). */
    if (status != 0) not_ready(sb);
    held *next;
    for (held *h = held_take_all(&sb->reads_barrier); h; h = next) {
        next = h->next;
        h->prev = h->next = NULL;
        if (status == 0 && sb->ready) run_now(sb, h);
        else dispatch(sb, h); /* not the leader any more: forwarded, waits, or (remote) dropped */
    }
    read_barrier_kick(sb);
}

static void dispatch(store_bridge *sb, held *h)
{
    if (sb->removed) {
        if (h->from) held_free(sb, h);
        else store_bridge__held_unavailable(sb, h, "this node is not a member of the cluster (removed)");
        return;
    }
    if (sb->ready) {
        store_request req;
        store_wire_extra x;
        if (store_wire_request_decode(h->data, h->wire_len, &req, &x) &&
            store_request_classify(&req) == STORE_KIND_READ) {
            held_push(sb, h, HELD_READS_NEXT);
            read_barrier_kick(sb);
            return;
        }
        held_unlink(sb, h);
        run_now(sb, h);
        return;
    }
    if (h->from && !sb->is_leader) { /* its origin sends it again to whoever leads */
        held_free(sb, h);
        return;
    }
    if (!h->from && sb->leader_id && !sb->is_leader) {
        forward(sb, h);
        return;
    }
    held_push(sb, h, HELD_WAIT); /* no leader known, or this leader not ready yet */
}

void store_bridge__held_failed(store_bridge *sb, held *h, const char *why)
{
    bool lost = !strcmp(why, "leadership lost"), closing = !strcmp(why, "shutting down");
    if (h->from && (lost || closing)) { /* its origin sends it again, to the next leader */
        held_free(sb, h);
        return;
    }
    if (!lost || !sb->installed) {
        held_give_up(sb, h, why);
        return;
    }
    /* Outcome unknown: the new leader has it or not; sent again, it is
     * applied once and answered once (de-duplication). */
    not_ready(sb);
    dispatch(sb, h);
}

/* Everything waiting goes where it can go now. */
static void redispatch_all(store_bridge *sb)
{
    held *next;
    for (held *h = held_take_all(&sb->wait); h; h = next) {
        next = h->next;
        h->prev = h->next = NULL;
        dispatch(sb, h);
    }
    for (held *h = held_take_all(&sb->fwd); h; h = next) {
        next = h->next;
        h->prev = h->next = NULL;
        if (sb->leader_id && sb->leader_id == h->to && !sb->is_leader) held_push(sb, h, HELD_FWD); /* same leader */
        else dispatch(sb, h);
    }
    for (held *h = held_take_all(&sb->reads_next); h; h = next) {
        next = h->next;
        h->prev = h->next = NULL;
        dispatch(sb, h);
    }
}

/* --- entry points --------------------------------------------------------------- */

void store_bridge__cluster_local(store_bridge *sb, const store_request *req, const struct principal *who,
                                 mqtt_bytes response_topic, bool dup, bool write)
{
    uint8_t pbuf[1024];
    uint8_t *pb = pbuf;
    size_t plen = who ? principal_encode(who, pbuf, sizeof pbuf) : 0;
    if (plen > sizeof pbuf && plen <= HELD_PRINCIPAL_MAX) {
        pb = xmalloc(plen);
        principal_encode(who, pb, plen);
    }
    held *h = NULL;
    if (plen <= HELD_PRINCIPAL_MAX) {
        store_wire_extra x = {.dup = dup, .principal = {who ? pb : NULL, plen}};
        sb->wire.len = 0;
        store_wire_request_encode(req, &x, &sb->wire);
        h = held_new(sb, 0, 0, &sb->wire, response_topic, req->expiry_s);
    }
    if (pb != pbuf) free(pb);
    if (h) {
        h->write = write;
        dispatch(sb, h);
        return;
    }
    mqtt_bytes corr = {req->correlation.data, (uint32_t)req->correlation.len};
    mqtt_bytes props = store_reply_props_build(&sb->props, corr, 503, "too many requests waiting for the leader",
                                               (mqtt_bytes){0}, NULL);
    store_bridge__send_reply(sb, response_topic, props, (mqtt_bytes){NULL, 0}, req->expiry_s);
}

void store_bridge_cluster_request(store_bridge *sb, uint64_t from, uint64_t id, const uint8_t *p, size_t n)
{
    if (!sb->installed || !sb->is_leader) return; /* its origin sends it again to whoever leads */
    store_request req;
    store_wire_extra x;
    if (from == 0 || !store_wire_request_decode(p, n, &req, &x)) {
        log_warn("state store: a request forwarded by node %" PRIu64 " does not decode; dropped", from);
        return;
    }
    held *h = held_new(sb, from, id, &(buf){.data = (uint8_t *)p, .len = n}, (mqtt_bytes){0}, req.expiry_s);
    if (!h) {
        store_reply r = {.status = 503, .status_message = "too many requests waiting for the leader"};
        sb->wire.len = 0;
        store_wire_reply_encode(&r, &sb->wire);
        sb->cl.answer(sb->cl.ctx, from, id, sb->wire.data, sb->wire.len);
        return;
    }
    dispatch(sb, h);
}

void store_bridge_cluster_answer(store_bridge *sb, uint64_t from, uint64_t id, const uint8_t *p, size_t n)
{
    held *h = hashmap_get(sb->fwd_ids, &id, sizeof id);
    if (!h || h->list != HELD_FWD) return; /* answered already (a retry's second reply), or being run here */
    store_wire_reply w;
    if (!store_wire_reply_decode(p, n, &w)) {
        log_warn("state store: a reply from node %" PRIu64 " does not decode; the request is sent again", from);
        return;
    }
    char msg[STORE_WIRE_STMSG_MAX + 1];
    if (w.status_message.data) {
        memcpy(msg, w.status_message.data, w.status_message.len);
        msg[w.status_message.len] = 0;
    }
    publish_local(sb, h, w.status, w.status_message.data ? msg : NULL,
                  (mqtt_bytes){w.version.data, (uint32_t)w.version.len},
                  (mqtt_bytes){w.payload.data, (uint32_t)w.payload.len});
}

static void ready_barrier_done(void *ctx, int status);

static void ready_barrier_kick(store_bridge *sb)
{
    if (!sb->is_leader || sb->ready || sb->ready_barrier) return;
    sb->ready_barrier = true;
    int rc = sb->cl.barrier(sb->cl.ctx, ready_barrier_done, sb);
    if (rc) sb->ready_barrier = false; /* the tick tries again */
}

static void ready_barrier_done(void *ctx, int status)
{
    store_bridge *sb = ctx;
    sb->ready_barrier = false;
    if (status != 0 || !sb->is_leader || !sb->installed) return;
    sb->ready = true;
    log_info("state store: this node leads the cluster and serves requests");
    store_bridge__expiry_arm(sb);
    redispatch_all(sb);
}

void store_bridge_cluster_role(store_bridge *sb, bool is_leader, uint64_t leader_id)
{
    sb->is_leader = is_leader;
    sb->leader_id = leader_id;
    if (!is_leader) not_ready(sb);
    ready_barrier_kick(sb);
    redispatch_all(sb);
    if (sb->held_bytes || (is_leader && !sb->ready)) timer_on(sb);
}

/* Deadlines, re-forwarding, the ready barrier's retries. */
static void expire_list(store_bridge *sb, held_list *l, uint64_t now)
{
    held *next;
    for (held *h = l->head; h; h = next) {
        next = h->next;
        if (now < h->deadline) continue;
        if (h->from) held_free(sb, h);
        else held_give_up(sb, h, "no state store leader (timed out waiting for one)");
    }
}

static void tick(uv_timer_t *t)
{
    store_bridge *sb = t->data;
    uint64_t now = clock_now_ms();
    expire_list(sb, &sb->wait, now);
    expire_list(sb, &sb->fwd, now);
    expire_list(sb, &sb->reads_next, now);
    held *next;
    for (held *h = sb->fwd.head; h; h = next) {
        next = h->next;
        if (now - h->sent < HELD_RETRY_MS) continue;
        if (sb->leader_id && !sb->is_leader) forward(sb, h); /* moves it to the tail */
        else dispatch(sb, h);
    }
    ready_barrier_kick(sb);
    if (!sb->held_bytes && (sb->ready || !sb->is_leader)) {
        uv_timer_stop(&sb->held_timer);
        sb->held_timer_on = false;
    }
}

bool store_bridge__admin_is_local(const store_request *req)
{
    const resp_request *rq = &req->rq;
    return rq->argc != 3 || !(resp_arg_equals_ci(rq->argv[1], "ADD") || resp_arg_equals_ci(rq->argv[1], "REMOVE"));
}

void store_bridge__cluster_admin(store_bridge *sb, const store_request *req)
{
    store_reply *r = &sb->reply;
    r->status = 200;
    r->status_message = NULL;
    r->has_version = false;
    r->payload.len = 0;
    const resp_request *rq = &req->rq;
    bool digest = rq->argc == 3 && resp_arg_equals_ci(rq->argv[2], "DIGEST");
    if (rq->argc < 2 || rq->argc > 3) resp_put_error(&r->payload, RESP_ERR_WRONG_ARGC);
    else if (!resp_arg_equals_ci(rq->argv[1], "STATUS") || (rq->argc == 3 && !digest))
        resp_put_error(&r->payload, RESP_ERR_SYNTAX);
    else if (sb->authorize &&
             !sb->authorize(sb->auth_ctx, &req->who, (const uint8_t *)ADMIN_KEY, strlen(ADMIN_KEY), STORE_ACCESS_READ))
        resp_put_error(&r->payload, RESP_ERR_NOT_AUTHORIZED);
    else {
        sb->wire.len = 0;
        sb->cl.status(sb->cl.ctx, digest, &sb->wire);
        resp_put_bulk(&r->payload, sb->wire.data, sb->wire.len);
    }
}

void store_bridge_cluster_replay_until(store_bridge *sb, uint64_t index) { sb->replay_until = index; }

void store_bridge_cluster_removed(store_bridge *sb)
{
    if (sb->removed) return;
    sb->removed = true;
    sb->ready = false;
    store_bridge__expiry_stop(sb);
    redispatch_all(sb); /* answers what waits */
}

bool store_bridge_cluster_busy(const store_bridge *sb) { return sb->held_bytes > 0 || sb->ring_n > 0; }

/* --- life cycle ------------------------------------------------------------------ */

static void on_timer_closed(uv_handle_t *h)
{
    store_bridge *sb = h->data;
    sb->handles_open--;
}

void store_bridge_set_cluster(store_bridge *sb, const store_bridge_cluster_ops *ops)
{
    assert(sb->cluster && ops->wait_ms > 0);
    sb->cl = *ops;
}

void store_bridge__cluster_init(store_bridge *sb)
{
    sb->fwd_ids = hashmap_new();
    uv_timer_init(sb->loop, &sb->held_timer);
    sb->held_timer.data = sb;
    sb->handles_open++;
}

/* At shutdown (installed is false): every request of this node's clients
 * still waiting is answered 503; forwarded ones are dropped. Writes in
 * the log are answered when the log fails them (closing). */
void store_bridge__cluster_close(store_bridge *sb)
{
    held_list *lists[] = {&sb->wait, &sb->fwd, &sb->reads_next};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
        held *next;
        for (held *h = held_take_all(lists[i]); h; h = next) {
            next = h->next;
            h->prev = h->next = NULL;
            if (h->from) held_free(sb, h);
            else held_give_up(sb, h, "shutting down");
        }
    }
    sb->ready = false;
    uv_close((uv_handle_t *)&sb->held_timer, on_timer_closed);
}

void store_bridge__cluster_free(store_bridge *sb)
{
    /* Reads of a barrier that never completed (the log closed first). */
    held *next;
    for (held *h = held_take_all(&sb->reads_barrier); h; h = next) {
        next = h->next;
        h->prev = h->next = NULL;
        held_free(sb, h);
    }
    assert(sb->held_bytes == 0);
    hashmap_free(sb->fwd_ids, NULL);
    buf_free(&sb->wire);
}
