/* Cross-node routing, see cluster_route.h and docs/cluster.md "Routing".
 *
 * Interest: the broker reports every (session, filter) subscription added
 * or dropped; this node's counts live in the interest table under its own
 * id (plain filter: number of sessions; "$share/g/f": members). A plain
 * filter is announced to every peer when its count leaves 0 and withdrawn
 * when it returns to 0; a shared one whenever its member count changes.
 * A link that comes up gets the full set first (FULL: the receiver drops
 * what it had from us), then the changes, in order on that link. A change
 * that cannot be sent (queue full) marks the peer for a full resend (a
 * timer retries), so a peer's view is never silently stale while its
 * link is up.
 *
 * Forwarding: for each message of a local source the table is matched
 * once: each other node with a matching plain filter gets one MSG; each
 * matching shared group gets one node (weighted by member counts), and
 * that node's MSG names the group; if it is this node, the local route
 * that follows serves the group (share_here), else it does not.
 *
 * Acknowledgement: a QoS 1/2 message of a client forwarded to some nodes
 * is a remote promise (cluster_route_pending.h); the broker holds the
 * publisher's PUBACK/PUBREC until it is kept. Receivers acknowledge each
 * such message once it went through their local route (ACK frames,
 * batched once per loop iteration). A node lost, a send refused or no
 * acknowledgement within ROUTE_ACK_TIMEOUT_MS disconnects the publisher
 * instead (its held acknowledgement is dropped: never ack-then-lose). */
#include "server/cluster_route.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_cluster.h"
#include "broker/topic_tree.h"
#include "cluster/peer.h"
#include "ops/gauges.h"
#include "server/cluster_interest.h"
#include "server/cluster_route_pending.h"
#include "server/cluster_route_wire.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

#define RESYNC_MS 1000 /* period of the timer: interest resends, acknowledgement deadlines */
#define ROUTE_ACK_TIMEOUT_MS 10000
#define ROUTE_PENDING_MAX_BYTES (64u << 20) /* forwarded messages awaiting acknowledgement */
#define ROUTE_ACK_BATCH 1024                /* acknowledgements per ACK frame at most */
#define ROUTE_PAUSE_MS 50                   /* a node whose message met a full local queue is not read for this long */

typedef struct route_peer {
    uint64_t id;
    bool resync; /* its view of our set is stale: send the full set */
    /* counters (docs/metrics.md) */
    uint64_t msgs_out, bytes_out, msgs_in, bytes_in, dropped, bad_frames, acks_in, unacked;
    /* acknowledgements owed to it, sent at the end of the loop iteration */
    uint64_t *acks;
    uint32_t n_acks;
    bool paused; /* its links' reads, for a local backlog */
    uint64_t pauses;
    /* scratch of the current forward */
    bool target;
    uint32_t first_share, n_shares; /* into r->shares */
} route_peer;

typedef struct share_pick {
    uint64_t node;
    mqtt_bytes full; /* "$share/g/f": into r->share_buf (offsets fixed up at use) */
    uint32_t off;
} share_pick;

struct cluster_route {
    uv_loop_t *loop;
    broker *b;
    cluster_node *cn;
    uint64_t self;
    uint32_t max_filters;
    cluster_interest *ci;
    bool overflow; /* our set is beyond max_filters: announced as "everything" */
    route_peer *peers;
    size_t n_peers;
    uv_timer_t timer;
    uv_timer_t fail_timer;   /* 0 ms: doomed promises fail outside the broker's call chain */
    uv_check_t ack_check;    /* flushes acknowledgements */
    uv_timer_t resume_timer; /* resumes paused peers */
    bool open;
    route_pending *pending;
    buf frame;
    /* the current message's shared groups: picks, and which of them this node serves */
    share_pick *picks;
    uint32_t n_picks, cap_picks;
    buf share_buf;
    mqtt_bytes *send_shares;
    uint32_t cap_send;
    bool deciding;           /* share_here answers from picks (else: every group is ours) */
    const route_msg *remote; /* a forwarded message being delivered: its groups */
};

/* Peers are never removed: their index is the node index of promises. */
static route_peer *peer_get(cluster_route *r, uint64_t id)
{
    for (size_t i = 0; i < r->n_peers; i++)
        if (r->peers[i].id == id) return &r->peers[i];
    assert(r->n_peers < ROUTE_PENDING_NODES); /* members are at most CONFIG_CLUSTER_MEMBERS_MAX */
    r->peers = xrealloc(r->peers, (r->n_peers + 1) * sizeof *r->peers);
    route_peer *p = &r->peers[r->n_peers++];
    memset(p, 0, sizeof *p);
    p->id = id;
    return p;
}

static peer_net *links(cluster_route *r) { return cluster_node_links(r->cn); }

/* --- interest: ours, announced ----------------------------------------------------- */

typedef struct full_ctx {
    buf *out;
    uint32_t n;
} full_ctx;

static void full_add(void *ctx, mqtt_bytes filter, uint32_t count)
{
    full_ctx *fc = ctx;
    mqtt_bytes g, f;
    route_wire_interest_add(fc->out, filter, topic_filter_split_share(filter, &g, &f) ? count : 1);
    fc->n++;
}

static void send_full(cluster_route *r, route_peer *p, bool ask)
{
    peer_net *net = links(r);
    if (!net || !peer_net_up(net, p->id)) return; /* sent when it comes up */
    r->frame.len = 0;
    full_ctx fc = {&r->frame, 0};
    route_wire_interest_begin(&r->frame, (uint8_t)(ROUTE_INTEREST_FULL | (r->overflow ? ROUTE_INTEREST_ALL : 0) |
                                                   (ask ? ROUTE_INTEREST_ASK : 0)));
    if (!r->overflow) cluster_interest_each(r->ci, r->self, full_add, &fc);
    route_wire_interest_end(&r->frame, fc.n);
    int rc = peer_net_send(net, p->id, CLUSTER_FRAME_ROUTE_INTEREST, r->frame.data, r->frame.len);
    p->resync = rc != PEER_OK && rc != PEER_EDOWN;
    if (p->resync)
        log_warn("cluster route: interest set for node %" PRIu64 " not sent (%s); retrying", p->id, peer_strerror(rc));
}

static void announce(cluster_route *r, mqtt_bytes filter, uint32_t count)
{
    peer_net *net = links(r);
    if (!net) return;
    r->frame.len = 0;
    route_wire_interest_begin(&r->frame, 0);
    route_wire_interest_add(&r->frame, filter, count);
    route_wire_interest_end(&r->frame, 1);
    for (size_t i = 0; i < r->n_peers; i++) {
        route_peer *p = &r->peers[i];
        if (p->resync) continue; /* the full set follows */
        int rc = peer_net_send(net, p->id, CLUSTER_FRAME_ROUTE_INTEREST, r->frame.data, r->frame.len);
        if (rc != PEER_OK && rc != PEER_EDOWN) p->resync = true; /* EDOWN: the full set goes when it is up */
    }
}

static void set_overflow(cluster_route *r, bool on)
{
    if (r->overflow == on) return;
    r->overflow = on;
    if (on)
        log_warn("cluster route: more than %u distinct topic filters subscribed on this node: other nodes now forward "
                 "every message here (cluster.route_max_filters)",
                 r->max_filters);
    else log_info("cluster route: topic filters back under cluster.route_max_filters: announced one by one again");
    for (size_t i = 0; i < r->n_peers; i++) r->peers[i].resync = true;
    for (size_t i = 0; i < r->n_peers; i++) send_full(r, &r->peers[i], false);
}

/* broker hook: a session's subscription to filter came or went. */
static void on_interest(void *ctx, mqtt_bytes filter, bool added)
{
    cluster_route *r = ctx;
    uint32_t n = cluster_interest_get(r->ci, r->self, filter);
    if (!added && n == 0) return; /* never counted (cannot happen: the broker pairs them) */
    uint32_t m = added ? n + 1 : n - 1;
    cluster_interest_set(r->ci, r->self, filter, m); /* never refused: our own entries are not bounded */
    mqtt_bytes g, f;
    bool shared = topic_filter_split_share(filter, &g, &f);
    size_t have = cluster_interest_count(r->ci, r->self);
    if (!r->overflow && have > r->max_filters) set_overflow(r, true);
    else if (r->overflow && have <= r->max_filters / 4 * 3) set_overflow(r, false);
    else if (!r->overflow && (shared || n == 0 || m == 0)) announce(r, filter, shared ? m : (m ? 1 : 0));
}

/* --- interest: theirs --------------------------------------------------------------- */

static void on_interest_frame(cluster_route *r, route_peer *p, const uint8_t *data, size_t len)
{
    route_interest_reader ir;
    const char *why = route_wire_interest_decode(data, len, &ir);
    if (why) {
        p->bad_frames++;
        log_warn("cluster route: node %" PRIu64 " sent a bad interest frame (%s); ignored", p->id, why);
        return;
    }
    if (ir.flags & ROUTE_INTEREST_FULL) cluster_interest_reset(r->ci, p->id);
    if (ir.flags & ROUTE_INTEREST_ALL) cluster_interest_set_all(r->ci, p->id);
    mqtt_bytes filter;
    uint32_t count;
    while (route_wire_interest_next(&ir, &filter, &count))
        if (!cluster_interest_set(r->ci, p->id, filter, count)) {
            log_warn("cluster route: node %" PRIu64 " announced more than %u topic filters: every message goes to it",
                     p->id, r->max_filters);
            break;
        }
    if (ir.flags & ROUTE_INTEREST_ASK) send_full(r, p, false); /* its link to us is new: it may lack ours */
}

/* --- forwarding ------------------------------------------------------------------- */

static void pick_node(void *ctx, uint64_t node)
{
    cluster_route *r = ctx;
    if (node != r->self) peer_get(r, node)->target = true;
}

static void pick_share(void *ctx, uint64_t node, mqtt_bytes group, mqtt_bytes filter)
{
    cluster_route *r = ctx;
    if (r->n_picks == r->cap_picks) {
        r->cap_picks = r->cap_picks ? 2 * r->cap_picks : 8;
        r->picks = xrealloc(r->picks, r->cap_picks * sizeof *r->picks);
    }
    share_pick *sp = &r->picks[r->n_picks++];
    sp->node = node;
    sp->off = (uint32_t)r->share_buf.len;
    buf_append(&r->share_buf, "$share/", 7);
    buf_append(&r->share_buf, group.data, group.len);
    buf_append_u8(&r->share_buf, '/');
    buf_append(&r->share_buf, filter.data, filter.len);
    sp->full.len = (uint32_t)(r->share_buf.len - sp->off);
    if (node != r->self) peer_get(r, node)->target = true;
}

static size_t peer_idx(const cluster_route *r, const route_peer *p) { return (size_t)(p - r->peers); }

/* Send m to p with its shared groups and promise id; false if refused. */
static bool forward_to(cluster_route *r, peer_net *net, route_peer *p, const broker_cluster_msg *m, uint64_t id)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->n_picks; i++)
        if (r->picks[i].node == p->id) n++;
    if (n > r->cap_send) {
        r->cap_send = n;
        r->send_shares = xrealloc(r->send_shares, n * sizeof *r->send_shares);
    }
    n = 0;
    for (uint32_t i = 0; i < r->n_picks && n < ROUTE_MSG_SHARES_MAX; i++)
        if (r->picks[i].node == p->id)
            r->send_shares[n++] = (mqtt_bytes){r->share_buf.data + r->picks[i].off, r->picks[i].full.len};
    route_msg rm = {.qos = m->qos,
                    .retain = m->retain,
                    .id = id,
                    .expiry_ms = m->expiry_ms,
                    .topic = m->topic,
                    .props = m->props,
                    .payload = m->payload};
    r->frame.len = 0;
    route_wire_msg_encode(&r->frame, &rm, r->send_shares, (uint16_t)n);
    int rc = peer_net_send(net, p->id, CLUSTER_FRAME_ROUTE_MSG, r->frame.data, r->frame.len);
    if (rc != PEER_OK) {
        p->dropped++;
        log_debug("cluster route: message on %.*s not forwarded to node %" PRIu64 ": %s", (int)m->topic.len,
                  (const char *)m->topic.data, p->id, peer_strerror(rc));
        return false;
    }
    p->msgs_out++;
    p->bytes_out += m->payload.len;
    return true;
}

static void on_fail_timer(uv_timer_t *t);

/* A QoS 1/2 message of a client going to the nodes in mask: its promise,
 * doomed at once beyond the bound. */
static uint64_t promise(cluster_route *r, const broker_cluster_msg *m, uint32_t mask)
{
    uint64_t seq = route_pending_add(r->pending, m->client_id, mask, clock_now_ms() + ROUTE_ACK_TIMEOUT_MS);
    if (route_pending_bytes(r->pending) > ROUTE_PENDING_MAX_BYTES) route_pending_doom(r->pending, seq);
    return seq;
}

/* broker hook: a message of a local source, before its local route. */
static uint32_t on_forward(void *ctx, broker_cluster_msg *m)
{
    cluster_route *r = ctx;
    r->n_picks = 0;
    r->share_buf.len = 0;
    r->deciding = m != NULL;
    if (!m) return 0; /* stays here: every shared group is ours */
    uint32_t mask = 0;
    for (size_t i = 0; i < r->n_peers; i++) r->peers[i].target = false;
    cluster_interest_match(r->ci, m->topic, pick_node, pick_share, r);
    for (size_t i = 0; i < r->n_peers; i++)
        if (r->peers[i].target) mask |= UINT32_C(1) << i;
    if (!mask) return 0;
    uint64_t seq = m->qos && m->client_id.len ? promise(r, m, mask) : 0;
    peer_net *net = links(r);
    uint32_t sent = 0;
    for (size_t i = 0; i < r->n_peers; i++) {
        route_peer *p = &r->peers[i];
        if (!p->target) continue;
        if (net && forward_to(r, net, p, m, seq)) sent++;
        else if (seq) route_pending_doom(r->pending, seq); /* it cannot reach that node: no acknowledgement */
    }
    if (seq && route_pending_has_doomed(r->pending)) uv_timer_start(&r->fail_timer, on_fail_timer, 0, 0);
    m->promise = seq;
    return sent;
}

static bool same_group(mqtt_bytes full, mqtt_bytes group, mqtt_bytes filter)
{
    mqtt_bytes g, f;
    return topic_filter_split_share(full, &g, &f) && mqtt_bytes_eq(g, group) && mqtt_bytes_eq(f, filter);
}

/* broker hook: does this node serve (group, filter) for the message being routed? */
static bool on_share_here(void *ctx, mqtt_bytes group, mqtt_bytes filter)
{
    cluster_route *r = ctx;
    if (r->remote) {
        size_t cur = 0;
        for (uint16_t i = 0; i < r->remote->n_shares; i++)
            if (same_group(route_wire_share_next(r->remote, &cur), group, filter)) return true;
        return false;
    }
    if (!r->deciding) return true;
    for (uint32_t i = 0; i < r->n_picks; i++) {
        const share_pick *sp = &r->picks[i];
        if (same_group((mqtt_bytes){r->share_buf.data + sp->off, sp->full.len}, group, filter))
            return sp->node == r->self;
    }
    return true; /* a group the table does not know yet (subscribed during this call chain): ours */
}

static void on_resume(uv_timer_t *t)
{
    cluster_route *r = t->data;
    peer_net *net = links(r);
    for (size_t i = 0; i < r->n_peers; i++) {
        if (!r->peers[i].paused) continue;
        r->peers[i].paused = false;
        if (net) peer_net_resume(net, r->peers[i].id);
    }
}

/* A MSG: through the local route, then acknowledged if asked (even if
 * no session took it: it was routed as any message published here). */
static void on_msg_frame(cluster_route *r, route_peer *p, const uint8_t *data, size_t len)
{
    route_msg m;
    bool backlogged = false;
    const char *why = route_wire_msg_decode(data, len, &m);
    if (why) {
        p->bad_frames++;
        log_warn("cluster route: node %" PRIu64 " sent a bad message frame (%s); dropped", p->id, why);
        return;
    }
    p->msgs_in++;
    p->bytes_in += m.payload.len;
    broker_cluster_msg bm = {m.topic, m.payload, m.props, m.qos, m.retain, m.expiry_ms, {NULL, 0}, 0};
    r->remote = &m;
    broker_cluster_route_remote(r->b, &bm, &backlogged);
    r->remote = NULL;
    if (backlogged && !p->paused && links(r)) { /* local subscribers are behind: TCP pushes back on the sender */
        p->paused = true;
        p->pauses++;
        peer_net_pause(links(r), p->id);
        if (!uv_is_active((uv_handle_t *)&r->resume_timer))
            uv_timer_start(&r->resume_timer, on_resume, ROUTE_PAUSE_MS, 0);
    }
    if (!m.id) return;
    if (!p->acks) p->acks = xmalloc(ROUTE_ACK_BATCH * sizeof *p->acks);
    p->acks[p->n_acks++] = m.id;
    if (p->n_acks == ROUTE_ACK_BATCH) {
        peer_net *net = links(r);
        r->frame.len = 0;
        route_wire_ack_encode(&r->frame, p->acks, p->n_acks);
        if (net) peer_net_send(net, p->id, CLUSTER_FRAME_ROUTE_ACK, r->frame.data, r->frame.len);
        p->n_acks = 0; /* one that is lost fails at its sender's deadline */
    }
}

static void on_ack_frame(cluster_route *r, route_peer *p, const uint8_t *data, size_t len)
{
    const uint8_t *ids;
    uint32_t n;
    const char *why = route_wire_ack_decode(data, len, &ids, &n);
    if (why) {
        p->bad_frames++;
        log_warn("cluster route: node %" PRIu64 " sent a bad acknowledgement frame (%s); ignored", p->id, why);
        return;
    }
    p->acks_in += n;
    for (uint32_t i = 0; i < n; i++) route_pending_ack(r->pending, route_wire_ack_id(ids, i), (unsigned)peer_idx(r, p));
    broker_cluster_kept(r->b, route_pending_kept(r->pending));
}

/* --- links ---------------------------------------------------------------------------- */

static void on_frame(void *ctx, uint64_t from, uint8_t type, const uint8_t *p, size_t n)
{
    cluster_route *r = ctx;
    route_peer *peer = peer_get(r, from);
    r->deciding = false;
    switch (type) {
    case CLUSTER_FRAME_ROUTE_INTEREST: on_interest_frame(r, peer, p, n); break;
    case CLUSTER_FRAME_ROUTE_MSG: on_msg_frame(r, peer, p, n); break;
    case CLUSTER_FRAME_ROUTE_ACK: on_ack_frame(r, peer, p, n); break;
    default:
        peer->bad_frames++;
        log_warn("cluster route: node %" PRIu64 " sent an unknown frame type %u; ignored", from, type);
    }
}

typedef struct fail_ctx {
    cluster_route *r;
    route_peer *p; /* counts them; NULL: none */
    uint8_t rc;
    const char *why;
} fail_ctx;

static void fail_one(void *ctx, mqtt_bytes client_id, uint64_t seq)
{
    fail_ctx *fc = ctx;
    (void)seq;
    if (fc->p) fc->p->unacked++;
    if (broker_disconnect_client(fc->r->b, client_id, fc->rc, fc->why))
        log_info("cluster route: %.*s disconnected: %s", (int)client_id.len, (const char *)client_id.data, fc->why);
}

static void on_peer(void *ctx, uint64_t id, bool up)
{
    cluster_route *r = ctx;
    route_peer *p = peer_get(r, id);
    if (up) {
        send_full(r, p, true); /* before any change that follows on this link; asks for its set */
        return;
    }
    /* What it had not acknowledged is lost with the link; its sessions are
     * unreachable, so its interest goes until it sends a full set again. */
    fail_ctx fc = {r, p, MQTT_RC_UNSPECIFIED, "cluster node lost before taking this client's message"};
    size_t n = route_pending_fail_node(r->pending, (unsigned)peer_idx(r, p), fail_one, &fc);
    if (n) log_warn("cluster route: link to node %" PRIu64 " lost with %zu message(s) unacknowledged", id, n);
    cluster_interest_reset(r->ci, id);
    broker_cluster_kept(r->b, route_pending_kept(r->pending));
}

static void on_fail_timer(uv_timer_t *t)
{
    cluster_route *r = t->data;
    fail_ctx fc = {r, NULL, MQTT_RC_QUOTA_EXCEEDED, "cluster: a node could not take this client's message"};
    route_pending_fail_doomed(r->pending, fail_one, &fc);
    broker_cluster_kept(r->b, route_pending_kept(r->pending));
}

static void on_timer(uv_timer_t *t)
{
    cluster_route *r = t->data;
    for (size_t i = 0; i < r->n_peers; i++)
        if (r->peers[i].resync) send_full(r, &r->peers[i], false);
    fail_ctx fc = {r, NULL, MQTT_RC_UNSPECIFIED, "cluster: a node did not acknowledge this client's message in time"};
    size_t n = route_pending_expire(r->pending, clock_now_ms(), fail_one, &fc);
    if (n) log_warn("cluster route: %zu forwarded message(s) not acknowledged within %u ms", n, ROUTE_ACK_TIMEOUT_MS);
    broker_cluster_kept(r->b, route_pending_kept(r->pending));
}

/* Once per loop iteration, after the frames read: the acknowledgements owed. */
static void on_check(uv_check_t *h)
{
    cluster_route *r = h->data;
    peer_net *net = links(r);
    for (size_t i = 0; i < r->n_peers; i++) {
        route_peer *p = &r->peers[i];
        if (!p->n_acks) continue;
        r->frame.len = 0;
        route_wire_ack_encode(&r->frame, p->acks, p->n_acks);
        if (net) peer_net_send(net, p->id, CLUSTER_FRAME_ROUTE_ACK, r->frame.data, r->frame.len);
        p->n_acks = 0;
    }
}

/* --- life ------------------------------------------------------------------------------ */

static void status_json(void *ctx, uint64_t id, buf *out);

cluster_route *cluster_route_new(uv_loop_t *loop, broker *b, cluster_node *cn, uint32_t max_filters)
{
    cluster_route *r = xcalloc(1, sizeof *r);
    r->loop = loop;
    r->b = b;
    r->cn = cn;
    r->self = cluster_node_self(cn);
    r->max_filters = max_filters;
    r->ci = cluster_interest_new(max_filters, r->self);
    r->pending = route_pending_new();
    uint64_t ids[ROUTE_PENDING_NODES];
    size_t n = cluster_node_peers(cn, ids, ROUTE_PENDING_NODES);
    for (size_t i = 0; i < n && i < ROUTE_PENDING_NODES; i++) peer_get(r, ids[i]);
    cluster_link_user u = {CLUSTER_FRAME_ROUTE_FIRST, CLUSTER_FRAME_ROUTE_LAST, on_frame, on_peer, r};
    cluster_node_add_link_user(cn, &u);
    cluster_node_add_status(cn, status_json, r);
    uv_timer_init(loop, &r->timer);
    uv_timer_init(loop, &r->fail_timer);
    uv_check_init(loop, &r->ack_check);
    uv_timer_init(loop, &r->resume_timer);
    r->timer.data = r->fail_timer.data = r->ack_check.data = r->resume_timer.data = r;
    r->open = true;
    uv_timer_start(&r->timer, on_timer, RESYNC_MS, RESYNC_MS);
    uv_check_start(&r->ack_check, on_check);
    broker_cluster_hooks h = {on_interest, on_forward, on_share_here, r};
    broker_set_cluster(b, &h);
    return r;
}

static void on_closed(uv_handle_t *h) { (void)h; }

void cluster_route_close(cluster_route *r)
{
    if (!r || !r->open) return;
    broker_set_cluster(r->b, NULL);
    r->open = false;
    uv_close((uv_handle_t *)&r->timer, on_closed);
    uv_close((uv_handle_t *)&r->fail_timer, on_closed);
    uv_close((uv_handle_t *)&r->ack_check, on_closed);
    uv_close((uv_handle_t *)&r->resume_timer, on_closed);
}

void cluster_route_free(cluster_route *r)
{
    if (!r) return;
    cluster_interest_free(r->ci);
    route_pending_free(r->pending);
    for (size_t i = 0; i < r->n_peers; i++) free(r->peers[i].acks);
    free(r->peers);
    free(r->picks);
    free(r->send_shares);
    buf_free(&r->frame);
    buf_free(&r->share_buf);
    free(r);
}

/* --- figures ------------------------------------------------------------------------------ */

static void status_json(void *ctx, uint64_t id, buf *out)
{
    if (id) return; /* one top-level "route" object */
    cluster_route *r = ctx;
    char tmp[400];
    int n = snprintf(tmp, sizeof tmp, ",\"route\":{\"filters\":%zu,\"overflow\":%s,\"peers\":[",
                     cluster_interest_count(r->ci, r->self), r->overflow ? "true" : "false");
    buf_append(out, tmp, (size_t)n);
    for (size_t i = 0; i < r->n_peers; i++) {
        const route_peer *p = &r->peers[i];
        n = snprintf(tmp, sizeof tmp,
                     "%s{\"id\":%" PRIu64 ",\"filters\":%zu,\"msgs_out\":%" PRIu64 ",\"bytes_out\":%" PRIu64
                     ",\"msgs_in\":%" PRIu64 ",\"bytes_in\":%" PRIu64 ",\"dropped\":%" PRIu64 ",\"unacked\":%" PRIu64
                     ",\"pauses\":%" PRIu64 "}",
                     i ? "," : "", p->id, cluster_interest_count(r->ci, p->id), p->msgs_out, p->bytes_out, p->msgs_in,
                     p->bytes_in, p->dropped, p->unacked, p->pauses);
        buf_append(out, tmp, (size_t)n);
    }
    buf_append(out, "]}", 2);
}

#define SUM(field)                                                      \
    static double g_##field(void *ctx)                                  \
    {                                                                   \
        const cluster_route *r = ctx;                                   \
        uint64_t s = 0;                                                 \
        for (size_t i = 0; i < r->n_peers; i++) s += r->peers[i].field; \
        return (double)s;                                               \
    }
SUM(msgs_out)
SUM(bytes_out)
SUM(msgs_in)
SUM(bytes_in)
SUM(dropped)
SUM(bad_frames)
SUM(unacked)
SUM(pauses)
#undef SUM

static double g_pending(void *ctx)
{
    const cluster_route *r = ctx;
    return (double)route_pending_count(r->pending);
}

static double g_filters(void *ctx)
{
    const cluster_route *r = ctx;
    return (double)cluster_interest_count(r->ci, r->self);
}

void cluster_route_metrics(cluster_route *r, struct ops_gauges *g)
{
    ops_gauges_add(g, "mqstated_cluster_route_forwarded_messages", "Messages forwarded to other nodes (all peers).",
                   g_msgs_out, r);
    ops_gauges_add(g, "mqstated_cluster_route_forwarded_bytes", "Payload bytes forwarded to other nodes.", g_bytes_out,
                   r);
    ops_gauges_add(g, "mqstated_cluster_route_received_messages", "Messages received from other nodes.", g_msgs_in, r);
    ops_gauges_add(g, "mqstated_cluster_route_received_bytes", "Payload bytes received from other nodes.", g_bytes_in,
                   r);
    ops_gauges_add(g, "mqstated_cluster_route_dropped_messages",
                   "Messages not forwarded to a node whose link was down or whose queue was full.", g_dropped, r);
    ops_gauges_add(g, "mqstated_cluster_route_bad_frames", "Route frames from other nodes that failed to decode.",
                   g_bad_frames, r);
    ops_gauges_add(g, "mqstated_cluster_route_unacked_messages",
                   "QoS 1/2 messages a node did not acknowledge (link lost): their publishers were disconnected.",
                   g_unacked, r);
    ops_gauges_add(g, "mqstated_cluster_route_pauses",
                   "Times a node's link was paused because a message from it met a full local queue.", g_pauses, r);
    ops_gauges_add(g, "mqstated_cluster_route_pending_messages",
                   "Forwarded QoS 1/2 messages awaiting other nodes' acknowledgements.", g_pending, r);
    ops_gauges_add(g, "mqstated_cluster_route_filters", "Distinct topic filters this node announces.", g_filters, r);
}
