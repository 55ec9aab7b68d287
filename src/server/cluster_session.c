/* The cluster-wide session registry and the wills of dead nodes' clients
 * (cluster_session.h). Three tables:
 *
 *   local    client id -> lentry: this node's connected clients and its
 *            wills waiting for their delay (what it tells the others)
 *   nodes[i] per other node: client id -> rentry, as that node told us
 *   orphans  client id -> orphan: wills of a node found dead, published
 *            by the raft leader when due unless the client came back
 *
 * Entries keep the ENTRY payload they were announced with (decoded again
 * when needed), so what is sent again on a new link is what was sent. */
#include "server/cluster_session.h"

#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "broker/broker_registry.h"
#include "cluster/peer.h"
#include "ops/gauges.h"
#include "server/cluster_session_codec.h"
#include "server/principal_ops.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/hashmap.h"
#include "util/log.h"

_Static_assert(CSESS_SYNC == CLUSTER_FRAME_SESSION_FIRST && CSESS_LAST <= CLUSTER_FRAME_SESSION_LAST,
               "session frame types outside cluster_node.h's range");

#define TICK_MS 250
#define COUNTS_EVERY 4 /* ticks: a COUNTS frame once a second, also the liveness signal */
#define MAX_NODES CONFIG_CLUSTER_MEMBERS_MAX

/* An announced ENTRY payload (owned). */
typedef struct frame {
    uint8_t *p;
    size_t n;
} frame;

typedef struct lentry {
    uint64_t stamp;
    uint64_t due; /* !connected: when the held will is published here (monotonic ms) */
    bool connected;
    frame f; /* epoch 0, flags with CONNECTED */
} lentry;

typedef struct rentry {
    uint64_t stamp;
    uint64_t due; /* !connected: when the will is due (monotonic ms, from wait_ms) */
    bool connected, will;
    size_t cost, will_cost;
    frame f;
} rentry;

typedef struct orphan {
    uint64_t node, stamp, due;
    frame f;
} orphan;

typedef struct rnode {
    uint64_t id;
    uint64_t in_epoch, boot; /* of its last SYNC */
    uint64_t out_epoch;      /* of our link to it (a SYNC starts one) */
    bool synced;             /* its SYNC received since its last BYE / death */
    bool up;                 /* our dialed link to it */
    bool resync;             /* a send failed (queue full): our full state is due again */
    uint64_t down_at, last_rx;
    hashmap *entries; /* client id -> rentry */
    size_t bytes, will_bytes;
    uint32_t connections, wills, sessions; /* sessions: as it reported (COUNTS) */
} rnode;

struct cluster_session {
    uv_loop_t *loop;
    broker *b;
    cluster_node *cn;
    uint64_t self, boot;
    uint64_t clock; /* the highest stamp issued or seen */
    uint64_t next_epoch;
    hashmap *local, *orphans;
    rnode nodes[MAX_NODES];
    unsigned n_nodes;
    uv_timer_t tick;
    unsigned ticks;
    bool stopped;
    buf scratch;
    cluster_session_stats st;
};

static uint64_t now_ms(void) { return clock_now_ms(); }

static void frame_set(frame *f, const buf *b)
{
    free(f->p);
    f->p = xmemdup(b->data, b->len);
    f->n = b->len;
}

/* Our own frames and those stored after decoding: cannot fail. */
static void frame_decode(const frame *f, csess_msg *m)
{
    const char *why = csess_decode(CSESS_ENTRY, f->p, f->n, m);
    (void)why;
    assert(!why);
}

static uint64_t stamp_next(cluster_session *cs)
{
    uint64_t w = clock_wall_ms();
    cs->clock = w > cs->clock ? w : cs->clock + 1;
    return cs->clock;
}

static void stamp_seen(cluster_session *cs, uint64_t s)
{
    if (s > cs->clock) cs->clock = s;
}

/* Does connection (sa, na) win over (sb, nb)? The newer one; node ids break ties. */
static bool wins(uint64_t sa, uint64_t na, uint64_t sb, uint64_t nb) { return sa > sb || (sa == sb && na > nb); }

static struct principal *principal_of(const csess_msg *m)
{
    return server_principal_ops.decode(m->principal.p, m->principal.n);
}

/* --- nodes and sending ------------------------------------------------------------ */

static rnode *node_get(cluster_session *cs, uint64_t id)
{
    for (unsigned i = 0; i < cs->n_nodes; i++)
        if (cs->nodes[i].id == id) return &cs->nodes[i];
    if (cs->n_nodes == MAX_NODES) return NULL;
    rnode *n = &cs->nodes[cs->n_nodes++];
    memset(n, 0, sizeof *n);
    n->id = id;
    n->entries = hashmap_new();
    return n;
}

static void send_to(cluster_session *cs, rnode *n, csess_msg *m)
{
    struct peer_net *links = cluster_node_links(cs->cn);
    if (!links || !n->up || n->resync) return;
    m->epoch = n->out_epoch;
    cs->scratch.len = 0;
    csess_encode(&cs->scratch, m);
    int rc = peer_net_send(links, n->id, m->type, cs->scratch.data, cs->scratch.len);
    if (rc == PEER_ETOOBIG) {
        cs->st.wills_refused++;
        log_warn("cluster sessions: an entry of %zu bytes is too large for the node link; node %" PRIu64
                 " does not learn it",
                 cs->scratch.len, n->id);
    } else if (rc == PEER_EFULL) {
        n->resync = true; /* what it knows is incomplete from here: send all again once there is room */
        log_warn("cluster sessions: node link to %" PRIu64 " full; its view is sent again when it drains", n->id);
    }
    buf_shrink(&cs->scratch, 65536);
}

static void broadcast(cluster_session *cs, csess_msg *m)
{
    uint64_t ids[MAX_NODES];
    size_t k = cluster_node_peers(cs->cn, ids, MAX_NODES);
    for (size_t i = 0; i < k && i < MAX_NODES; i++) {
        rnode *n = node_get(cs, ids[i]);
        if (n) send_to(cs, n, m);
    }
}

static void counts(const cluster_session *cs, uint32_t *conns, uint32_t *sessions)
{
    broker_stats bs;
    broker_get_stats(cs->b, &bs);
    *conns = (uint32_t)bs.clients;
    *sessions = (uint32_t)bs.sessions;
}

/* Everything we know of our own clients, on a new link (or after a send
 * failed): it replaces what the node had from us. */
static void send_sync(cluster_session *cs, rnode *n)
{
    n->out_epoch = ++cs->next_epoch;
    csess_msg m = {.type = CSESS_SYNC, .boot = cs->boot};
    counts(cs, &m.connections, &m.sessions);
    send_to(cs, n, &m);
    hashmap_iter it;
    void *v;
    hashmap_iter_init(cs->local, &it);
    uint64_t now = now_ms();
    while (hashmap_iter_next(&it, NULL, NULL, &v)) {
        lentry *l = v;
        frame_decode(&l->f, &m);
        if (!l->connected) {
            m.flags &= (uint8_t)~CSESS_F_CONNECTED;
            m.wait_ms = l->due > now ? l->due - now : 1;
        }
        send_to(cs, n, &m);
    }
}

/* --- orphans: wills of dead nodes' clients ------------------------------------------ */

static void orphan_free(orphan *o)
{
    free(o->f.p);
    free(o);
}

/* A connection of id (stamp, node, clean_start, principal) appeared: an
 * orphan will of id from an older connection is cancelled when the
 * connection continues the session (as MQTT-3.1.3-9 on one node), else due
 * now; the same connection seen alive again cancels it. */
static void orphan_reconnected(cluster_session *cs, const csess_msg *c, uint64_t node)
{
    orphan *o = hashmap_get(cs->orphans, c->id.p, c->id.n);
    if (!o) return;
    bool same_conn = o->node == node && o->stamp == c->stamp;
    if (!same_conn && !wins(c->stamp, node, o->stamp, o->node)) return;
    bool cancel = same_conn;
    if (!cancel && !(c->flags & CSESS_F_CLEAN_START)) {
        csess_msg om;
        frame_decode(&o->f, &om);
        struct principal *a = principal_of(&om), *b = principal_of(c);
        cancel = a && b && server_principal_ops.same(a, b);
        server_principal_ops.free(a);
        server_principal_ops.free(b);
    }
    if (cancel) {
        log_info("cluster sessions: %.*s connected again (node %" PRIu64
                 "): the will of its connection on node %" PRIu64 " is cancelled",
                 (int)c->id.n, (const char *)c->id.p, node, o->node);
        orphan_free(hashmap_remove(cs->orphans, c->id.p, c->id.n));
    } else {
        o->due = now_ms(); /* the session ended (clean start, another principal): published now */
    }
}

/* Is id connected now with a connection newer than (stamp, node)? Then
 * *by (a decoded ENTRY borrowing a table's frame) says which. */
static bool newer_connection(cluster_session *cs, csess_bytes id, uint64_t stamp, uint64_t node, csess_msg *by,
                             uint64_t *by_node)
{
    lentry *l = hashmap_get(cs->local, id.p, id.n);
    if (l && l->connected && wins(l->stamp, cs->self, stamp, node)) {
        frame_decode(&l->f, by);
        *by_node = cs->self;
        return true;
    }
    for (unsigned i = 0; i < cs->n_nodes; i++) {
        rnode *n = &cs->nodes[i];
        rentry *e = n->id == node ? NULL : hashmap_get(n->entries, id.p, id.n);
        if (e && e->connected && wins(e->stamp, n->id, stamp, node)) {
            frame_decode(&e->f, by);
            *by_node = n->id;
            return true;
        }
    }
    return false;
}

static void orphan_add(cluster_session *cs, uint64_t node, const rentry *e, uint64_t due)
{
    csess_msg m;
    frame_decode(&e->f, &m);
    orphan *old = hashmap_get(cs->orphans, m.id.p, m.id.n);
    if (old && !wins(m.stamp, node, old->stamp, old->node)) return;
    orphan *o = xcalloc(1, sizeof *o);
    *o = (orphan){.node = node, .stamp = m.stamp, .due = due, .f = {xmemdup(e->f.p, e->f.n), e->f.n}};
    if (old) orphan_free(old);
    hashmap_put(cs->orphans, m.id.p, m.id.n, o);
    csess_msg by;
    uint64_t by_node;
    if (newer_connection(cs, m.id, m.stamp, node, &by, &by_node)) orphan_reconnected(cs, &by, by_node);
}

/* --- remote tables ------------------------------------------------------------------ */

static void rentry_drop(rnode *n, rentry *e)
{
    n->bytes -= e->cost;
    n->will_bytes -= e->will_cost;
    n->connections -= e->connected;
    n->wills -= e->will;
    free(e->f.p);
    free(e);
}

static void rentry_remove(rnode *n, csess_bytes id)
{
    rentry *e = hashmap_remove(n->entries, id.p, id.n);
    if (e) rentry_drop(n, e);
}

/* Forget node n's clients; `dead` (since died_at): their wills become orphans. */
static void node_clear(cluster_session *cs, rnode *n, bool dead, uint64_t died_at)
{
    hashmap_iter it;
    void *v;
    size_t k = 0;
    hashmap_iter_init(n->entries, &it);
    while (hashmap_iter_next(&it, NULL, NULL, &v)) {
        rentry *e = v;
        if (dead && e->will) {
            csess_msg m;
            frame_decode(&e->f, &m);
            uint32_t delay = m.will_delay < m.session_expiry ? m.will_delay : m.session_expiry;
            orphan_add(cs, n->id, e, e->connected ? died_at + (uint64_t)delay * 1000 : e->due);
            k++;
        }
        rentry_drop(n, e);
    }
    hashmap_free(n->entries, NULL);
    n->entries = hashmap_new();
    assert(n->bytes == 0 && n->will_bytes == 0 && n->connections == 0 && n->wills == 0);
    n->synced = false;
    n->sessions = 0;
    if (dead && k)
        log_warn("cluster sessions: node %" PRIu64
                 " is gone: the wills of %zu of its clients are published after their "
                 "delay unless they connect again",
                 n->id, k);
}

/* A connection of m->id on node `from` (newer than ours?) */
static void remote_connected(cluster_session *cs, uint64_t from, const csess_msg *m)
{
    lentry *l = hashmap_get(cs->local, m->id.p, m->id.n);
    if (!l || wins(m->stamp, from, l->stamp, cs->self)) {
        struct principal *who = principal_of(m);
        bool had = l && l->connected;
        /* A local session (connected or not) ends; its connection gets 0x8E. */
        if (broker_session_moved(cs->b, (mqtt_bytes){m->id.p, m->id.n}, m->flags & CSESS_F_CLEAN_START, who) && had)
            cs->st.takeovers++;
        server_principal_ops.free(who);
    }
    orphan_reconnected(cs, m, from);
}

static void on_entry(cluster_session *cs, rnode *n, const uint8_t *p, size_t len, const csess_msg *m)
{
    stamp_seen(cs, m->stamp);
    rentry_remove(n, m->id);
    bool will = m->flags & CSESS_F_WILL;
    size_t will_cost = will ? len : 0;
    if (will && n->will_bytes + will_cost > CLUSTER_SESSION_NODE_WILL_BYTES_MAX) {
        if (!(m->flags & CSESS_F_CONNECTED)) { /* nothing but the will */
            cs->st.wills_refused++;
            return;
        }
        csess_msg c = *m; /* keep the connection without its will */
        c.flags &= (uint8_t) ~(CSESS_F_WILL | CSESS_F_WILL_RETAIN);
        cs->scratch.len = 0;
        csess_encode(&cs->scratch, &c);
        cs->st.wills_refused++;
        log_warn("cluster sessions: wills of node %" PRIu64 " over %u bytes: the will of %.*s is not kept here", n->id,
                 CLUSTER_SESSION_NODE_WILL_BYTES_MAX, (int)m->id.n, (const char *)m->id.p);
        on_entry(cs, n, cs->scratch.data, cs->scratch.len, &c); /* the scratch is not used again before the copy */
        return;
    }
    size_t cost = sizeof(rentry) + len + m->id.n + 32;
    if (n->bytes + cost > CLUSTER_SESSION_NODE_BYTES_MAX) {
        cs->st.wills_refused += will;
        log_warn("cluster sessions: registry of node %" PRIu64 " over %u bytes: %.*s not kept here", n->id,
                 CLUSTER_SESSION_NODE_BYTES_MAX, (int)m->id.n, (const char *)m->id.p);
        return;
    }
    rentry *e = xcalloc(1, sizeof *e);
    e->stamp = m->stamp;
    e->connected = m->flags & CSESS_F_CONNECTED;
    e->will = will;
    e->due = e->connected ? 0 : now_ms() + m->wait_ms;
    e->cost = cost;
    e->will_cost = will_cost;
    e->f = (frame){xmemdup(p, len), len};
    n->bytes += cost;
    n->will_bytes += will_cost;
    n->connections += e->connected;
    n->wills += will;
    hashmap_put(n->entries, m->id.p, m->id.n, e);
    csess_msg own; /* borrowing e's copy: p may be our scratch */
    frame_decode(&e->f, &own);
    if (e->connected) remote_connected(cs, n->id, &own);
}

static void on_gone(rnode *n, const csess_msg *m)
{
    rentry *e = hashmap_get(n->entries, m->id.p, m->id.n);
    if (!e) return;
    if (!m->wait_ms || !e->will) {
        rentry_remove(n, m->id);
        return;
    }
    n->connections -= e->connected;
    e->connected = false;
    e->due = now_ms() + m->wait_ms;
}

static void on_frame(void *ctx, uint64_t from, uint8_t type, const uint8_t *p, size_t len)
{
    cluster_session *cs = ctx;
    rnode *n = node_get(cs, from);
    csess_msg m;
    const char *why = csess_decode(type, p, len, &m);
    if (why || !n || cs->stopped) {
        if (why)
            log_warn("cluster sessions: node %" PRIu64 " sent a bad frame (type %u): %s; ignored", from, type, why);
        return;
    }
    n->last_rx = now_ms();
    if (type == CSESS_SYNC) {
        /* Another process than the one we knew: that one died with its clients. */
        bool restarted = n->synced && n->boot != m.boot;
        node_clear(cs, n, restarted, n->down_at ? n->down_at : now_ms());
        n->synced = true;
        n->boot = m.boot;
        n->in_epoch = m.epoch;
        n->sessions = m.sessions;
        return;
    }
    if (!n->synced || m.epoch != n->in_epoch) return; /* a link that is no longer its current one */
    switch (type) {
    case CSESS_ENTRY: on_entry(cs, n, p, len, &m); break;
    case CSESS_GONE: on_gone(n, &m); break;
    case CSESS_WILL_DONE: {
        rentry *e = hashmap_get(n->entries, m.id.p, m.id.n);
        if (e && !e->connected) rentry_remove(n, m.id);
        break;
    }
    case CSESS_ORPHAN_DONE: {
        orphan *o = hashmap_get(cs->orphans, m.id.p, m.id.n);
        if (o && o->node == m.node && o->stamp == m.stamp) orphan_free(hashmap_remove(cs->orphans, m.id.p, m.id.n));
        break;
    }
    case CSESS_BYE:
        log_info("cluster sessions: node %" PRIu64 " stops; its clients are forgotten (no wills, as at shutdown)",
                 from);
        node_clear(cs, n, false, 0);
        break;
    case CSESS_COUNTS: n->sessions = m.sessions; break;
    default: break;
    }
}

static void on_peer(void *ctx, uint64_t id, bool up)
{
    cluster_session *cs = ctx;
    rnode *n = node_get(cs, id);
    if (!n || cs->stopped) return;
    n->up = up;
    if (!up) {
        n->down_at = now_ms();
        return;
    }
    n->down_at = 0;
    n->resync = false;
    send_sync(cs, n);
}

/* --- the broker's hooks: our own clients ------------------------------------------- */

static void lentry_free(lentry *l)
{
    free(l->f.p);
    free(l);
}

static void hook_connected(void *ctx, mqtt_bytes id, bool clean_start, const mqtt_bytes *username,
                           const struct principal *who, const broker_will_info *w, uint32_t session_expiry)
{
    cluster_session *cs = ctx;
    struct principal *anon = who ? NULL : server_principal_ops.make_anonymous(id, username);
    const struct principal *p = who ? who : anon;
    size_t plen = server_principal_ops.encode(p, NULL, 0);
    uint8_t *pb = xmalloc(plen ? plen : 1);
    server_principal_ops.encode(p, pb, plen);
    server_principal_ops.free(anon);
    csess_msg m = {.type = CSESS_ENTRY,
                   .flags = CSESS_F_CONNECTED | (clean_start ? CSESS_F_CLEAN_START : 0),
                   .stamp = stamp_next(cs),
                   .session_expiry = session_expiry,
                   .id = {id.data, id.len},
                   .principal = {pb, (uint32_t)plen}};
    if (w) {
        m.flags |= CSESS_F_WILL | (w->retain ? CSESS_F_WILL_RETAIN : 0);
        m.will_qos = w->qos;
        m.will_delay = w->delay;
        m.will_expiry = w->message_expiry;
        m.will_topic = (csess_bytes){w->topic.data, w->topic.len};
        m.will_props = (csess_bytes){w->props.data, w->props.len};
        m.will_payload = (csess_bytes){w->payload.data, w->payload.len};
    }
    lentry *l = hashmap_get(cs->local, id.data, id.len);
    if (!l) {
        l = xcalloc(1, sizeof *l);
        hashmap_put(cs->local, id.data, id.len, l);
    }
    l->stamp = m.stamp;
    l->connected = true;
    l->due = 0;
    cs->scratch.len = 0;
    csess_encode(&cs->scratch, &m);
    frame_set(&l->f, &cs->scratch);
    free(pb);
    frame_decode(&l->f, &m); /* borrowing l's copy from here */
    broadcast(cs, &m);
    orphan_reconnected(cs, &m, cs->self);
}

static void hook_disconnected(void *ctx, mqtt_bytes id, uint64_t wait)
{
    cluster_session *cs = ctx;
    lentry *l = hashmap_get(cs->local, id.data, id.len);
    if (!l || !l->connected) return;
    csess_msg m = {.type = CSESS_GONE, .wait_ms = wait, .id = {id.data, id.len}};
    if (wait) {
        l->connected = false;
        l->due = now_ms() + wait;
    } else {
        lentry_free(hashmap_remove(cs->local, id.data, id.len));
    }
    broadcast(cs, &m);
}

static void hook_will_done(void *ctx, mqtt_bytes id)
{
    cluster_session *cs = ctx;
    lentry *l = hashmap_get(cs->local, id.data, id.len);
    if (!l || l->connected) return;
    lentry_free(hashmap_remove(cs->local, id.data, id.len));
    csess_msg m = {.type = CSESS_WILL_DONE, .id = {id.data, id.len}};
    broadcast(cs, &m);
}

/* --- the tick: deaths, orphans due, counts ------------------------------------------ */

/* The leader publishes the orphans that are due (and says so); the others
 * forget them a while after. Collected first: publishing routes messages. */
static void orphans_due(cluster_session *cs, uint64_t now)
{
    bool leader = cluster_node_is_leader(cs->cn);
    hashmap_iter it;
    const void *key;
    size_t klen;
    void *v;
    size_t k = 0, cap = 0;
    orphan **due = NULL;
    hashmap_iter_init(cs->orphans, &it);
    while (hashmap_iter_next(&it, &key, &klen, &v)) {
        orphan *o = v;
        if (o->due > now || (!leader && o->due + CLUSTER_SESSION_ORPHAN_KEEP_MS > now)) continue;
        if (k == cap) due = xrealloc(due, (cap = cap ? cap * 2 : 8) * sizeof *due);
        due[k++] = o;
    }
    for (size_t i = 0; i < k; i++) {
        orphan *o = due[i];
        csess_msg m;
        frame_decode(&o->f, &m);
        hashmap_remove(cs->orphans, m.id.p, m.id.n);
        if (leader) {
            struct principal *who = principal_of(&m);
            broker_will_info w = {.topic = {m.will_topic.p, m.will_topic.n},
                                  .payload = {m.will_payload.p, m.will_payload.n},
                                  .props = {m.will_props.p, m.will_props.n},
                                  .qos = m.will_qos,
                                  .retain = m.flags & CSESS_F_WILL_RETAIN,
                                  .delay = m.will_delay,
                                  .message_expiry = m.will_expiry};
            uint8_t rc = who ? broker_publish_will(cs->b, (mqtt_bytes){m.id.p, m.id.n}, who, &w) : 0x80;
            server_principal_ops.free(who);
            if (rc < 0x80) {
                cs->st.wills_published++;
                log_info("cluster sessions: published the will of %.*s (a client of node %" PRIu64 ") on %.*s",
                         (int)m.id.n, (const char *)m.id.p, o->node, (int)m.will_topic.n, (const char *)m.will_topic.p);
            } else cs->st.wills_refused++;
            csess_msg done = {.type = CSESS_ORPHAN_DONE, .node = o->node, .stamp = o->stamp, .id = m.id};
            broadcast(cs, &done);
        }
        orphan_free(o);
    }
    free(due);
}

static void on_tick(uv_timer_t *t)
{
    cluster_session *cs = t->data;
    uint64_t now = now_ms();
    struct peer_net *links = cluster_node_links(cs->cn);
    for (unsigned i = 0; i < cs->n_nodes; i++) {
        rnode *n = &cs->nodes[i];
        if (n->synced && !n->up && n->down_at && now - n->down_at >= CLUSTER_SESSION_CONFIRM_MS &&
            now - n->last_rx >= CLUSTER_SESSION_CONFIRM_MS)
            node_clear(cs, n, true, n->down_at);
        peer_stats ps;
        if (n->resync && n->up && links && peer_net_stats(links, n->id, &ps) &&
            ps.queue_bytes < PEER_QUEUE_BYTES_DEFAULT / 2) {
            n->resync = false;
            send_sync(cs, n);
        }
    }
    if (++cs->ticks % COUNTS_EVERY == 0) {
        csess_msg m = {.type = CSESS_COUNTS};
        counts(cs, &m.connections, &m.sessions);
        broadcast(cs, &m);
    }
    orphans_due(cs, now);
}

/* --- status, metrics, life cycle ----------------------------------------------------- */

static void status(void *ctx, uint64_t id, buf *out)
{
    cluster_session *cs = ctx;
    char tmp[160];
    int k;
    if (id == 0) {
        k = snprintf(tmp, sizeof tmp, ",\"orphan_wills\":%zu", hashmap_size(cs->orphans));
    } else if (id == cs->self) {
        uint32_t c, s;
        counts(cs, &c, &s);
        k = snprintf(tmp, sizeof tmp, ",\"connections\":%u,\"sessions\":%u", c, s);
    } else {
        rnode *n = NULL;
        for (unsigned i = 0; i < cs->n_nodes; i++)
            if (cs->nodes[i].id == id) n = &cs->nodes[i];
        if (!n || !n->synced) return;
        k = snprintf(tmp, sizeof tmp, ",\"connections\":%u,\"sessions\":%u,\"wills\":%u", n->connections, n->sessions,
                     n->wills);
    }
    if (k > 0) buf_append(out, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

void cluster_session_get_stats(const cluster_session *cs, cluster_session_stats *out)
{
    *out = cs->st;
    for (unsigned i = 0; i < cs->n_nodes; i++) {
        out->remote_connections += cs->nodes[i].connections;
        out->remote_wills += cs->nodes[i].wills;
        out->remote_will_bytes += cs->nodes[i].will_bytes;
    }
    out->orphan_wills = hashmap_size(cs->orphans);
}

#define GAUGE(name, field)                  \
    static double name(void *ctx)           \
    {                                       \
        cluster_session_stats s;            \
        cluster_session_get_stats(ctx, &s); \
        return (double)s.field;             \
    }
GAUGE(g_conns, remote_connections)
GAUGE(g_wills, remote_wills)
GAUGE(g_will_bytes, remote_will_bytes)
GAUGE(g_orphans, orphan_wills)
GAUGE(g_published, wills_published)
GAUGE(g_refused, wills_refused)
GAUGE(g_takeovers, takeovers)

void cluster_session_metrics(cluster_session *cs, struct ops_gauges *g)
{
    static const struct {
        const char *name, *help;
        ops_gauge_fn fn;
    } gauges[] = {
        {"mqstated_cluster_session_remote_connections", "Client ids connected to other nodes, as this node knows.",
         g_conns},
        {"mqstated_cluster_session_remote_wills", "Wills of other nodes' clients held here.", g_wills},
        {"mqstated_cluster_session_remote_will_bytes", "Bytes of the wills of other nodes' clients held here.",
         g_will_bytes},
        {"mqstated_cluster_session_orphan_wills", "Wills of dead nodes' clients waiting for their delay.", g_orphans},
        {"mqstated_cluster_session_wills_published", "Wills of dead nodes' clients this node published (as leader).",
         g_published},
        {"mqstated_cluster_session_wills_refused",
         "Wills of other nodes' clients not kept (byte bound, frame size) or not published (not authorized).",
         g_refused},
        {"mqstated_cluster_session_takeovers", "Local connections taken over by a connection on another node.",
         g_takeovers},
    };
    for (size_t i = 0; i < sizeof gauges / sizeof *gauges; i++)
        ops_gauges_add(g, gauges[i].name, gauges[i].help, gauges[i].fn, cs);
}

cluster_session *cluster_session_new(uv_loop_t *loop, broker *b, cluster_node *cn)
{
    cluster_session *cs = xcalloc(1, sizeof *cs);
    cs->loop = loop;
    cs->b = b;
    cs->cn = cn;
    cs->self = cluster_node_self(cn);
    if (getrandom(&cs->boot, sizeof cs->boot, 0) != (ssize_t)sizeof cs->boot)
        cs->boot = clock_wall_ms() ^ clock_now_ms();
    cs->local = hashmap_new();
    cs->orphans = hashmap_new();
    cluster_link_user u = {CLUSTER_FRAME_SESSION_FIRST, CLUSTER_FRAME_SESSION_LAST, on_frame, on_peer, cs};
    cluster_node_add_link_user(cn, &u);
    cluster_node_add_status(cn, status, cs);
    broker_registry_hooks h = {hook_connected, hook_disconnected, hook_will_done, cs};
    broker_set_registry_hooks(b, &h);
    broker_set_node_tag(b, (uint32_t)cs->self); /* member ids fit 32 bits (config_cluster.c) */
    uv_timer_init(loop, &cs->tick);
    cs->tick.data = cs;
    uv_timer_start(&cs->tick, on_tick, TICK_MS, TICK_MS);
    return cs;
}

void cluster_session_shutdown(cluster_session *cs)
{
    if (!cs || cs->stopped) return;
    csess_msg m = {.type = CSESS_BYE};
    broadcast(cs, &m);
    cs->stopped = true;
    broker_set_registry_hooks(cs->b, NULL);
    uv_close((uv_handle_t *)&cs->tick, NULL);
}

static void free_lentry(void *v) { lentry_free(v); }
static void free_orphan(void *v) { orphan_free(v); }

void cluster_session_free(cluster_session *cs)
{
    if (!cs) return;
    for (unsigned i = 0; i < cs->n_nodes; i++) {
        node_clear(cs, &cs->nodes[i], false, 0);
        hashmap_free(cs->nodes[i].entries, NULL);
    }
    hashmap_free(cs->local, free_lentry);
    hashmap_free(cs->orphans, free_orphan);
    buf_free(&cs->scratch);
    free(cs);
}
