/* Raft's TLS transport (raft_tls.h): libraft's transport interface
 * (init, listen, connect, close), membership and refusal logs, the
 * handshake deadline timer and the close. One connection's life, its
 * handshake and its pump are raft_tls_link.c. */
#include "cluster/raft_tls.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/raft_tls_internal.h"
#include "net/tls.h"
#include "util/alloc.h"
#include "util/log.h"

/* --- members and refusals -------------------------------------------------------- */

size_t raft_tls__raft_part(const char *address) { return strcspn(address, "|"); }

rt_member *raft_tls__member(raft_tls *t, uint64_t id)
{
    for (size_t i = 0; i < t->n_members; i++)
        if (t->members[i].id == id) return &t->members[i];
    return NULL;
}

bool raft_tls_add(raft_tls *t, uint64_t id, const char *address)
{
    rt_member m = {.id = id};
    uint16_t port;
    if (t->closing || id == 0 || raft_tls__member(t, id) || !address || strlen(address) > MEMBER_ADDR_MAX) return false;
    m.raft_len = raft_tls__raft_part(address);
    if (!member_addr_parse_n(address, m.raft_len, m.host, sizeof m.host, &port)) return false;
    snprintf(m.address, sizeof m.address, "%s", address);
    if (t->n_members == t->cap_members) {
        t->cap_members = t->cap_members ? 2 * t->cap_members : 8;
        t->members = xrealloc(t->members, t->cap_members * sizeof *t->members);
    }
    t->members[t->n_members++] = m;
    return true;
}

bool raft_tls_remove(raft_tls *t, uint64_t id)
{
    rt_member *m = t->closing ? NULL : raft_tls__member(t, id);
    if (!m) return false;
    *m = t->members[--t->n_members];
    return true;
}

void raft_tls__refused_in(raft_tls *t, rt_member *m, uint64_t id, raft_tls_refusal why, const char *peer)
{
    t->st.refused[why]++;
    uint32_t *logged = m ? &m->logged : &t->logged_unknown;
    if (*logged & 1u << why) return;
    *logged |= 1u << why;
    if (id)
        log_warn("raft: connection from node %llu (%s) refused: %s", (unsigned long long)id, peer,
                 raft_tls_refusal_str(why));
    else log_warn("raft: connection from %s refused: %s", peer, raft_tls_refusal_str(why));
}

void raft_tls__refused_out(raft_tls *t, uint64_t id, const char *host, uint16_t port, int why, bool by_peer)
{
    rt_member *m = raft_tls__member(t, id);
    uint32_t *logged = m ? &m->logged : &t->logged_unknown;
    uint32_t bit = 1u << (16 + (why & 15)); /* apart from the inbound bits */
    if (*logged & bit) return;
    *logged |= bit;
    if (by_peer)
        log_warn("raft: connection to node %llu (%s:%u) refused by it: %s", (unsigned long long)id, host, port,
                 raft_tls_refusal_str(why));
    else
        log_warn("raft: connection to node %llu (%s:%u): its certificate was refused (untrusted, or it does not "
                 "name %s)",
                 (unsigned long long)id, host, port, host);
}

/* --- the rest of libraft's interface -------------------------------------------------- */

static int tr_init(struct raft_uv_transport *tr, raft_id id, const char *address)
{
    raft_tls *t = tr->impl;
    size_t rl = raft_tls__raft_part(address);
    char host[MEMBER_ADDR_MAX + 1];
    uint16_t port;
    if (id != t->self_id || strlen(address) > RAFT_TLS_ADDR_MAX ||
        !member_addr_parse_n(address, rl, host, sizeof host, &port)) {
        snprintf(tr->errmsg, sizeof tr->errmsg, "node %llu at \"%s\": not this transport's node or a bad address",
                 (unsigned long long)id, address);
        return RAFT_INVALID;
    }
    snprintf(t->self_address, sizeof t->self_address, "%s", address);
    return 0;
}

static int tr_listen(struct raft_uv_transport *tr, raft_uv_accept_cb cb)
{
    raft_tls *t = tr->impl;
    char host[MEMBER_ADDR_MAX + 1];
    uint16_t port;
    struct sockaddr_storage ss;
    if (!member_addr_parse_n(t->self_address, raft_tls__raft_part(t->self_address), host, sizeof host, &port) ||
        !member_addr_ip(host, port, &ss)) {
        snprintf(tr->errmsg, sizeof tr->errmsg, "raft address \"%.128s\": want ip:port", t->self_address);
        log_error("raft: %s", tr->errmsg);
        return RAFT_INVALID;
    }
    t->listener = net_listen(t->net, host, port, sizeof(rt_link *), raft_tls__accept, &raft_tls__link_callbacks, t);
    if (!t->listener) {
        snprintf(tr->errmsg, sizeof tr->errmsg, "cannot listen on %.128s (in use, or not an address of this host)",
                 t->self_address);
        log_error("raft: %s", tr->errmsg);
        return RAFT_IOERR;
    }
    net_listener_set_tls(t->listener, t->server_ctx);
    t->accept_cb = cb;
    return 0;
}

/* Whether libraft's close can complete: no connect request left. */
static bool raft_close_done(const raft_tls *t)
{
    for (const rt_link *l = t->links; l; l = l->next)
        if (l->req) return false;
    return true;
}

static void on_reaper(uv_idle_t *h);

static void tr_close(struct raft_uv_transport *tr, raft_uv_transport_close_cb cb)
{
    raft_tls *t = tr->impl;
    assert(!t->raft_closed);
    t->raft_closed = true;
    t->raft_close_cb = cb;
    t->accept_cb = NULL;
    /* Connections not yet handed over go (dials are answered
     * RAFT_CANCELED); those libraft holds are closed by libraft. */
    for (rt_link *l = t->links; l; l = l->next)
        if (l->state != L_PIPE) raft_tls__link_close(l);
    uv_idle_start(&t->reaper, on_reaper); /* answers libraft once the dials are through */
}

/* --- timers and the close ---------------------------------------------------------------- */

static void on_tick(uv_timer_t *h)
{
    raft_tls *t = h->data;
    uint64_t now = uv_now(t->loop);
    for (rt_link *l = t->links; l; l = l->next) {
        if (l->state == L_PIPE || l->closing || now < l->deadline) continue;
        if (l->dialed)
            log_debug("raft: connection to node %llu (%s:%u): no handshake within %u ms", (unsigned long long)l->id,
                      l->host, l->port, t->handshake_ms);
        else {
            t->st.dropped++;
            log_info("raft: connection from %s: no handshake within %u ms, closing", net_conn_peer(l->c),
                     t->handshake_ms);
        }
        raft_tls__link_close(l);
    }
}

static void on_own_closed(uv_handle_t *h)
{
    raft_tls *t = h->data;
    t->pending--;
}

static void on_reaped(uv_handle_t *h)
{
    raft_tls *t = h->data;
    net_free(t->net);
    net_tls_ctx_free(t->server_ctx);
    void (*cb)(void *) = t->close_cb;
    void *ctx = t->close_ctx;
    free(t->members);
    free(t->rbuf);
    free(t);
    if (cb) cb(ctx);
}

static void on_reaper(uv_idle_t *h)
{
    raft_tls *t = h->data;
    if (t->raft_closed && t->raft_close_cb && raft_close_done(t)) {
        raft_uv_transport_close_cb cb = t->raft_close_cb;
        t->raft_close_cb = NULL;
        cb(&t->transport);
    }
    if (!t->closing) {
        if (!t->raft_close_cb) uv_idle_stop(h);
        return;
    }
    if (t->links || t->pending || !net_closed(t->net)) return;
    uv_close((uv_handle_t *)h, on_reaped);
}

void raft_tls_close(raft_tls *t, void (*cb)(void *ctx), void *ctx)
{
    assert(!t->closing);
    t->closing = true;
    t->raft_closed = true; /* if libraft never did: nothing more is accepted */
    t->accept_cb = NULL;
    t->close_cb = cb;
    t->close_ctx = ctx;
    for (rt_link *l = t->links; l; l = l->next) raft_tls__link_close(l);
    t->pending++;
    uv_close((uv_handle_t *)&t->tick, on_own_closed);
    net_shutdown(t->net);
    uv_idle_start(&t->reaper, on_reaper);
}

struct raft_uv_transport *raft_tls_transport(raft_tls *t) { return &t->transport; }

void raft_tls_stats_get(const raft_tls *t, raft_tls_stats *out) { *out = t->st; }

raft_tls *raft_tls_new(uv_loop_t *loop, const raft_tls_config *cfg, char *err, size_t errlen)
{
    const peer_tls *pt = cfg->tls;
    size_t nl = cfg->cluster_name ? strlen(cfg->cluster_name) : 0;
    if (nl == 0 || nl > RAFT_TLS_NAME_MAX || cfg->self_id == 0) {
        snprintf(err, errlen, "raft tls: cluster name (1 to %d bytes) and node id are required", RAFT_TLS_NAME_MAX);
        return NULL;
    }
    if (!pt || !pt->cert_file || !pt->key_file || !pt->ca_file) {
        snprintf(err, errlen, "raft tls: cert_file, key_file and ca_file are required");
        return NULL;
    }
    tls_config tc = {.cert_file = pt->cert_file,
                     .key_file = pt->key_file,
                     .ca_file = pt->ca_file,
                     .crl_file = pt->crl_file,
                     .client_certs = TLS_CLIENT_CERTS_REQUIRED,
                     .min_version = 13};
    char why[256];
    struct ssl_ctx_st *server = net_tls_ctx_new(&tc, why, sizeof why);
    struct ssl_ctx_st *client = server ? net_tls_client_ctx_new(&tc, why, sizeof why) : NULL;
    if (!client) {
        net_tls_ctx_free(server);
        snprintf(err, errlen, "raft tls: %s", why);
        return NULL;
    }
    raft_tls *t = xcalloc(1, sizeof *t);
    t->transport = (struct raft_uv_transport){
        .impl = t, .init = tr_init, .listen = tr_listen, .connect = raft_tls__connect, .close = tr_close};
    t->loop = loop;
    snprintf(t->cluster, sizeof t->cluster, "%s", cfg->cluster_name);
    t->self_id = cfg->self_id;
    t->handshake_ms = cfg->handshake_ms ? cfg->handshake_ms : RAFT_TLS_HANDSHAKE_MS_DEFAULT;
    t->server_ctx = server;
    t->rbuf = xmalloc(RT_READ_BUF);
    for (size_t i = 0; i < cfg->n_members; i++) {
        const raft_tls_member *m = &cfg->members[i];
        if (m->id == cfg->self_id) continue;
        if (!raft_tls_add(t, m->id, m->address)) {
            snprintf(err, errlen, "raft tls: member %llu: bad or repeated id or address \"%s\"",
                     (unsigned long long)m->id, m->address ? m->address : "");
            net_tls_ctx_free(client);
            net_tls_ctx_free(server);
            free(t->members);
            free(t->rbuf);
            free(t);
            return NULL;
        }
    }
    t->net = net_new(loop);
    net_set_handshake_timeout(t->net, (t->handshake_ms + 999) / 1000);
    t->dialer = net_dialer(t->net, sizeof(rt_link *), &raft_tls__link_callbacks, t);
    net_listener_set_tls(t->dialer, client); /* takes its own reference */
    net_tls_ctx_free(client);
    uv_timer_init(loop, &t->tick);
    t->tick.data = t;
    unsigned period = t->handshake_ms / 4;
    period = period < 10 ? 10 : period > 500 ? 500 : period;
    uv_timer_start(&t->tick, on_tick, period, period);
    uv_unref((uv_handle_t *)&t->tick);
    uv_idle_init(loop, &t->reaper);
    t->reaper.data = t;
    return t;
}
