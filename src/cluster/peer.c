/* Node links: membership, dialing with backoff, liveness, the public
 * calls of peer.h, and the asynchronous close. A link's own I/O and its
 * handshake are peer_link.c, the frame codec peer_frame.c. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/member_addr.h"
#include "cluster/peer_internal.h"
#include "net/tls.h"
#include "util/alloc.h"
#include "util/log.h"

const char *peer_strerror(int code)
{
    switch (code) {
    case PEER_OK: return "ok";
    case PEER_EUNKNOWN: return "not a member";
    case PEER_EDOWN: return "no established link to the node";
    case PEER_EFULL: return "the node's outbound queue is full";
    case PEER_ETOOBIG: return "frame larger than max_frame";
    case PEER_ETYPE: return "frame type below PEER_TYPE_USER";
    default: return "unknown error";
    }
}

peer_node *peer__node(const peer_net *n, uint64_t id) { return hashmap_get(n->nodes, &id, sizeof id); }

/* --- addresses ---------------------------------------------------------------- */

/* "host:port", "[v6]:port" -> host (brackets dropped) and port 1..65535. */
static bool parse_address(const char *addr, char host[PEER_ADDRESS_MAX + 1], uint16_t *port)
{
    return addr && strlen(addr) <= PEER_ADDRESS_MAX && member_addr_parse(addr, host, PEER_ADDRESS_MAX + 1, port);
}

/* --- refusals ----------------------------------------------------------------- */

void peer__refused(peer_net *n, peer_node *node, uint64_t id, int reason, bool dialed, const char *where)
{
    uint32_t bit = 1u << (reason & 31);
    uint32_t *logged = node ? &node->logged : &n->logged_unknown;
    if (node) node->st.refused++;
    if (*logged & bit) return;
    *logged |= bit;
    if (dialed)
        log_warn("node link to %llu (%s): refused by it: %s", (unsigned long long)id, where, peer_refusal_str(reason));
    else log_warn("node link from %llu (%s) refused: %s", (unsigned long long)id, where, peer_refusal_str(reason));
}

/* --- dialing ------------------------------------------------------------------ */

static void dial(peer_node *node);

static uint64_t rng_next(peer_net *n)
{
    n->rng ^= n->rng << 13;
    n->rng ^= n->rng >> 7;
    n->rng ^= n->rng << 17;
    return n->rng;
}

static void on_redial(uv_timer_t *t) { dial(t->data); }

/* Exponential backoff with jitter: a delay in [b/2, b], then b doubles. */
static void schedule_dial(peer_node *node)
{
    peer_net *n = node->n;
    unsigned b = node->backoff_ms;
    unsigned delay = b / 2 + (unsigned)(rng_next(n) % (b / 2 + 1));
    node->backoff_ms = b * 2 > PEER_BACKOFF_MAX_MS ? PEER_BACKOFF_MAX_MS : b * 2;
    node->state = DIAL_WAIT;
    uv_timer_start(&node->timer, on_redial, delay, 0);
}

static void connect_to(peer_node *node, const struct sockaddr *sa)
{
    peer_net *n = node->n;
    void *user;
    net_conn *c = net_connect(n->dialer, sa, n->tls ? node->host : NULL, &user);
    assert(c); /* net is shut only by peer_net_close, after which nothing dials */
    peer__link_init(user, n, c, node);
    node->out = user;
    node->state = DIAL_CONNECT;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    peer_resolve *r = (peer_resolve *)req;
    peer_node *node = r->node;
    r->n->pending--;
    free(r);
    if (node) {
        node->resolve = NULL;
        if (status == 0 && res) {
            /* One address per attempt, the next one each time: a name with
             * an unreachable first address (say ::1 for a node listening
             * on 127.0.0.1 only) is reached on a later attempt. */
            unsigned count = 0;
            for (struct addrinfo *a = res; a; a = a->ai_next) count++;
            struct addrinfo *a = res;
            for (unsigned i = node->next_addr++ % count; i > 0; i--) a = a->ai_next;
            connect_to(node, a->ai_addr);
        } else {
            log_warn("node %llu (%s): %s", (unsigned long long)node->id, node->address, uv_strerror(status));
            schedule_dial(node);
        }
    }
    uv_freeaddrinfo(res);
}

static void dial(peer_node *node)
{
    peer_net *n = node->n;
    assert(!node->out && !node->resolve && !node->removed && !n->closing);
    node->st.dials++;
    struct sockaddr_storage ss;
    if (member_addr_ip(node->host, node->port, &ss)) {
        connect_to(node, (struct sockaddr *)&ss);
        return;
    }
    peer_resolve *r = xcalloc(1, sizeof *r);
    r->n = n;
    r->node = node;
    char port[8];
    snprintf(port, sizeof port, "%u", node->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    int e = uv_getaddrinfo(n->loop, &r->req, on_resolved, node->host, port, &hints);
    if (e != 0) {
        free(r);
        log_warn("node %llu (%s): %s", (unsigned long long)node->id, node->address, uv_strerror(e));
        schedule_dial(node);
        return;
    }
    n->pending++;
    node->resolve = r;
    node->state = DIAL_RESOLVE;
}

void peer__dial_lost(peer_node *node, bool refused)
{
    peer_net *n = node->n;
    bool was_up = node->state == DIAL_UP;
    node->out = NULL;
    if (refused) node->st.refused++;
    if (was_up) {
        log_info("node link to %llu (%s) down", (unsigned long long)node->id, node->address);
        n->cb.on_peer(n->ctx, node->id, false);
    }
    if (!n->closing && !node->removed) schedule_dial(node);
}

/* --- liveness ----------------------------------------------------------------- */

static void on_tick(uv_timer_t *t)
{
    peer_net *n = t->data;
    uint64_t now = uv_now(n->loop);
    for (peer_link *l = n->links; l; l = l->next) {
        /* A dialed link is its node's one outbound link until its on_close. */
        assert(!l->dialed || !l->node || l->node->out == l);
        assert(l->dialed || !l->hello || !l->node || !l->node->removed);
        if (l->closing) continue;
        bool paused = !l->dialed && l->node && l->node->paused; /* chose not to read */
        if (!paused && now - l->last_in >= n->dead_ms) {
            log_warn("node link %s %s: nothing received for %u ms, closing", l->dialed ? "to" : "from",
                     net_conn_peer(l->c), n->dead_ms);
            peer__link_close(l);
            continue;
        }
        bool established = l->dialed ? l->node && l->node->out == l && l->node->state >= DIAL_HELLO : l->hello;
        if (established && now - l->last_out >= n->ping_ms) peer__link_ping(l);
    }
}

static void on_drain_timer(uv_timer_t *t)
{
    peer_net *n = t->data;
    for (peer_link *l = n->links, *next; l; l = next) {
        next = l->next; /* delivering may close l, but on_close comes later */
        if (l->drain && !l->closing) peer__link_drain(l);
    }
}

/* --- members ------------------------------------------------------------------ */

static peer_node *node_add(peer_net *n, uint64_t id, const char *host, uint16_t port, const char *address)
{
    peer_node *node = xcalloc(1, sizeof *node);
    node->id = id;
    node->n = n;
    snprintf(node->address, sizeof node->address, "%s", address);
    snprintf(node->host, sizeof node->host, "%s", host);
    node->port = port;
    node->backoff_ms = PEER_BACKOFF_FIRST_MS;
    uv_timer_init(n->loop, &node->timer);
    node->timer.data = node;
    hashmap_put(n->nodes, &node->id, sizeof node->id, node);
    return node;
}

static void on_node_timer_closed(uv_handle_t *h)
{
    peer_node *node = h->data;
    node->n->pending--;
    if (node->removed) free(node); /* the others go with the map (on_reaped) */
}

/* Cut node off from everything that points to it and close its handles. */
static void node_detach(peer_node *node)
{
    peer_net *n = node->n;
    if (node->resolve) {
        node->resolve->node = NULL;
        uv_cancel((uv_req_t *)&node->resolve->req);
        node->resolve = NULL;
    }
    for (peer_link *l = n->links; l; l = l->next) {
        if (l->node != node) continue;
        l->node = NULL;
        peer__link_close(l);
    }
    node->out = NULL;
    n->pending++;
    uv_close((uv_handle_t *)&node->timer, on_node_timer_closed);
}

bool peer_net_add(peer_net *n, uint64_t id, const char *address)
{
    char host[PEER_ADDRESS_MAX + 1];
    uint16_t port;
    if (n->closing || id == 0 || id == n->self_id || peer__node(n, id) || !parse_address(address, host, &port))
        return false;
    dial(node_add(n, id, host, port, address));
    return true;
}

bool peer_net_remove(peer_net *n, uint64_t id)
{
    peer_node *node = n->closing ? NULL : peer__node(n, id);
    if (!node) return false;
    hashmap_remove(n->nodes, &id, sizeof id);
    node->removed = true;
    bool was_up = node->state == DIAL_UP;
    node_detach(node);
    if (was_up) n->cb.on_peer(n->ctx, id, false);
    return true;
}

/* --- sending, pausing, stats -------------------------------------------------- */

/* Up: established, and its link not closing (a link closed by the
 * liveness timer or an error stays DIAL_UP until its close completes,
 * asynchronously; nothing may be queued on it meanwhile). */
static bool node_up(const peer_node *node) { return node->state == DIAL_UP && node->out && !node->out->closing; }

int peer_net_send(peer_net *n, uint64_t to, uint8_t type, const uint8_t *payload, size_t len)
{
    peer_node *node = n->closing ? NULL : peer__node(n, to);
    if (!node) return PEER_EUNKNOWN;
    if (type < PEER_TYPE_USER) return PEER_ETYPE;
    if (len >= n->max_frame) return PEER_ETOOBIG; /* len + 1 > max_frame */
    if (!node_up(node)) return PEER_EDOWN;
    peer_link *l = node->out;
    /* A link found dead (dead_ms) is closing: on_peer(down) follows its close. */
    if (!l || l->closing) return PEER_EDOWN;
    if (net_conn_backlog(l->c) + PEER_FRAME_HEADER + len > n->max_queue) return PEER_EFULL;
    buf *out = net_conn_outbuf(l->c);
    peer_frame_append(out, type, payload, len);
    assert(net_conn_backlog(l->c) <= n->max_queue); /* the queue is net's backlog: one count */
    net_conn_flush_later(l->c);
    l->last_out = uv_now(n->loop);
    node->st.frames_out++;
    node->st.bytes_out += len;
    return PEER_OK;
}

static void set_paused(peer_net *n, uint64_t from, bool paused)
{
    peer_node *node = n->closing ? NULL : peer__node(n, from);
    if (!node || node->paused == paused) return;
    node->paused = paused;
    uint64_t now = uv_now(n->loop);
    for (peer_link *l = n->links; l; l = l->next) {
        if (l->dialed || l->node != node || l->closing) continue;
        if (paused) {
            net_conn_pause_read(l->c);
            continue;
        }
        net_conn_resume_read(l->c);
        l->last_in = now; /* the dead timer did not run while paused */
        if (l->in.len) {  /* frames held back: delivered from the loop, not inside this call */
            l->drain = true;
            uv_timer_start(&n->drain_timer, on_drain_timer, 0, 0);
        }
    }
}

void peer_net_pause(peer_net *n, uint64_t from) { set_paused(n, from, true); }
void peer_net_resume(peer_net *n, uint64_t from) { set_paused(n, from, false); }

bool peer_net_up(const peer_net *n, uint64_t id)
{
    const peer_node *node = n->closing ? NULL : peer__node(n, id);
    return node && node_up(node);
}

bool peer_net_stats(const peer_net *n, uint64_t id, peer_stats *out)
{
    const peer_node *node = n->closing ? NULL : peer__node(n, id);
    if (!node) return false;
    *out = node->st;
    out->id = id;
    out->up = node->state == DIAL_UP;
    out->queue_bytes = node->out ? net_conn_backlog(node->out->c) : 0;
    return true;
}

/* --- life cycle --------------------------------------------------------------- */

static bool link_accept(void *ctx, net_conn *c, void *user)
{
    peer_net *n = ctx;
    if (n->closing) return false;
    peer__link_init(user, n, c, NULL);
    return true;
}

/* Both directions present the node's certificate and verify the other's
 * against the CA (mutual authentication); TLS 1.3 only. */
static bool setup_tls(peer_net *n, const peer_tls *tls, char *err, size_t errlen)
{
    if (!tls->cert_file || !tls->key_file || !tls->ca_file) {
        snprintf(err, errlen, "tls: cert_file, key_file and ca_file are required");
        return false;
    }
    tls_config cfg = {.cert_file = tls->cert_file,
                      .key_file = tls->key_file,
                      .ca_file = tls->ca_file,
                      .crl_file = tls->crl_file,
                      .client_certs = TLS_CLIENT_CERTS_REQUIRED,
                      .min_version = 13};
    char why[256];
    SSL_CTX *server = net_tls_ctx_new(&cfg, why, sizeof why);
    SSL_CTX *client = server ? net_tls_client_ctx_new(&cfg, why, sizeof why) : NULL;
    if (!client) {
        net_tls_ctx_free(server);
        snprintf(err, errlen, "tls: %s", why);
        return false;
    }
    net_listener_set_tls(n->listener, server); /* each takes its own reference */
    net_listener_set_tls(n->dialer, client);
    net_tls_ctx_free(server);
    net_tls_ctx_free(client);
    n->tls = true;
    return true;
}

static bool check_config(const peer_net_config *cfg, char *err, size_t errlen)
{
    if (!cfg->cluster_name || !cfg->cluster_name[0] || strlen(cfg->cluster_name) > PEER_CLUSTER_NAME_MAX) {
        snprintf(err, errlen, "cluster name: 1 to %d bytes", PEER_CLUSTER_NAME_MAX);
        return false;
    }
    if (cfg->self_id == 0) {
        snprintf(err, errlen, "node id: must be >= 1");
        return false;
    }
    if (!cfg->cb.on_frame || !cfg->cb.on_peer) {
        snprintf(err, errlen, "callbacks: on_frame and on_peer are required");
        return false;
    }
    for (size_t i = 0; i < cfg->n_members; i++) {
        char host[PEER_ADDRESS_MAX + 1];
        uint16_t port;
        const peer_member *m = &cfg->members[i];
        if (m->id == 0 || !parse_address(m->address, host, &port)) {
            snprintf(err, errlen, "member %llu: bad id or address \"%s\" (want host:port)", (unsigned long long)m->id,
                     m->address ? m->address : "");
            return false;
        }
        for (size_t j = 0; j < i; j++) {
            if (cfg->members[j].id == m->id) {
                snprintf(err, errlen, "member %llu: listed twice", (unsigned long long)m->id);
                return false;
            }
        }
    }
    return true;
}

static void free_all(peer_net *n)
{
    hashmap_free(n->nodes, free);
    free(n);
}

/* The listener, the dialer and TLS; false and err on failure. */
static bool start(peer_net *n, const peer_net_config *cfg, char *err, size_t errlen)
{
    char host[PEER_ADDRESS_MAX + 1];
    uint16_t port;
    struct sockaddr_storage ss;
    if (!parse_address(cfg->listen_address, host, &port) || !member_addr_ip(host, port, &ss)) {
        snprintf(err, errlen, "listen address \"%s\": want ip:port", cfg->listen_address ? cfg->listen_address : "");
        return false;
    }
    n->listener = net_listen(n->net, host, port, sizeof(peer_link), link_accept, &peer__link_callbacks, n);
    if (!n->listener) {
        snprintf(err, errlen, "listen address %s: cannot listen (in use, or not an address of this host)",
                 cfg->listen_address);
        return false;
    }
    n->dialer = net_dialer(n->net, sizeof(peer_link), &peer__link_callbacks, n);
    return !cfg->tls || setup_tls(n, cfg->tls, err, errlen);
}

peer_net *peer_net_new(uv_loop_t *loop, const peer_net_config *cfg, char *err, size_t errlen)
{
    if (!check_config(cfg, err, errlen)) return NULL;
    peer_net *n = xcalloc(1, sizeof *n);
    n->loop = loop;
    snprintf(n->cluster, sizeof n->cluster, "%s", cfg->cluster_name);
    n->self_id = cfg->self_id;
    n->max_frame = cfg->max_frame ? cfg->max_frame : PEER_MAX_FRAME_DEFAULT;
    if (n->max_frame > UINT32_MAX) n->max_frame = UINT32_MAX; /* the length field's range */
    n->max_queue = cfg->max_queue_bytes ? cfg->max_queue_bytes : PEER_QUEUE_BYTES_DEFAULT;
    n->ping_ms = cfg->ping_ms ? cfg->ping_ms : PEER_PING_DEFAULT_MS;
    n->dead_ms = cfg->dead_ms ? cfg->dead_ms : PEER_DEAD_DEFAULT_MS;
    n->cb = cfg->cb;
    n->ctx = cfg->ctx;
    n->rng = (uv_hrtime() ^ (cfg->self_id * 0x9e3779b97f4a7c15ull)) | 1;
    n->nodes = hashmap_new();
    n->net = net_new(loop);
    uv_timer_init(loop, &n->tick);
    n->tick.data = n;
    uv_timer_init(loop, &n->drain_timer);
    n->drain_timer.data = n;
    uv_idle_init(loop, &n->reaper);
    n->reaper.data = n;
    if (!start(n, cfg, err, errlen)) {
        peer_net_close(n, NULL, NULL); /* handles close asynchronously (peer.h) */
        return NULL;
    }
    unsigned period = (n->ping_ms < n->dead_ms ? n->ping_ms : n->dead_ms) / 2;
    uv_timer_start(&n->tick, on_tick, period ? period : 1, period ? period : 1);
    for (size_t i = 0; i < cfg->n_members; i++)
        if (cfg->members[i].id != n->self_id) peer_net_add(n, cfg->members[i].id, cfg->members[i].address);
    return n;
}

static void on_reaped(uv_handle_t *h)
{
    peer_net *n = h->data;
    net_free(n->net);
    if (n->close_cb) n->close_cb(n->close_ctx);
    free_all(n);
}

static void on_own_handle_closed(uv_handle_t *h)
{
    peer_net *n = h->data;
    n->pending--;
}

/* Runs every loop iteration during the close, until every handle is
 * through its close callback; then the memory can go. */
static void on_reaper(uv_idle_t *h)
{
    peer_net *n = h->data;
    if (n->pending || !net_closed(n->net)) return;
    uv_close((uv_handle_t *)h, on_reaped);
}

void peer_net_close(peer_net *n, void (*cb)(void *ctx), void *ctx)
{
    assert(!n->closing);
    n->closing = true;
    n->close_cb = cb;
    n->close_ctx = ctx;
    hashmap_iter it;
    void *v;
    hashmap_iter_init(n->nodes, &it);
    while (hashmap_iter_next(&it, NULL, NULL, &v)) node_detach(v);
    n->pending += 2;
    uv_close((uv_handle_t *)&n->tick, on_own_handle_closed);
    uv_close((uv_handle_t *)&n->drain_timer, on_own_handle_closed);
    net_shutdown(n->net);
    uv_idle_start(&n->reaper, on_reaper);
}
