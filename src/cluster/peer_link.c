/* One node link: framing, the HELLO handshake and its checks, and the
 * delivery of user frames (peer.h). Membership and dialing are peer.c.
 *
 * A link is the user area of a net_conn. A dialed link sends HELLO once
 * net says the connection is open (with TLS: the acceptor's certificate
 * verified and naming the member's host), and is up at HELLO_OK. An
 * accepted link delivers nothing before its HELLO is accepted. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/member_addr.h"
#include "cluster/peer_internal.h"
#include "util/log.h"

void peer__link_init(peer_link *l, peer_net *n, net_conn *c, peer_node *node)
{
    l->n = n;
    l->c = c;
    l->node = node;
    l->dialed = node != NULL;
    l->last_in = l->last_out = uv_now(n->loop);
    l->next = n->links;
    if (n->links) n->links->prev = l;
    n->links = l;
}

void peer__link_close(peer_link *l)
{
    if (l->closing) return;
    l->closing = true;
    net_conn_close(l->c);
}

static void link_write(peer_link *l, const buf *frame)
{
    buf_append(net_conn_outbuf(l->c), frame->data, frame->len);
    net_conn_flush_later(l->c);
    l->last_out = uv_now(l->n->loop);
}

void peer__link_ping(peer_link *l)
{
    uint8_t ping[PEER_FRAME_HEADER];
    buf b = {.data = ping, .len = 0, .cap = sizeof ping};
    peer_frame_append(&b, PEER_T_PING, NULL, 0);
    link_write(l, &b);
}

static void refuse(peer_link *l, peer_node *node, uint64_t from, peer_refusal why)
{
    buf b = {0};
    peer_refuse_append(&b, why);
    link_write(l, &b);
    buf_free(&b);
    peer__refused(l->n, node, from, why, false, net_conn_peer(l->c));
    peer__link_close(l);
}

/* The acceptor's checks, in the order a misconfiguration is likeliest to
 * be explained by. */
static void on_hello(peer_link *l, const peer_frame *f)
{
    peer_net *n = l->n;
    peer_hello h;
    if (f->type != PEER_T_HELLO || !peer_hello_decode(f->payload, f->len, &h)) {
        log_warn("node link from %s: no valid HELLO first, closing", net_conn_peer(l->c));
        peer__link_close(l);
        return;
    }
    peer_node *node = h.from == n->self_id ? NULL : peer__node(n, h.from);
    if (h.version != PEER_PROTOCOL_VERSION) return refuse(l, node, h.from, PEER_REFUSE_VERSION);
    if (strcmp(h.name, n->cluster) != 0) return refuse(l, node, h.from, PEER_REFUSE_CLUSTER);
    if (!node) return refuse(l, NULL, h.from, PEER_REFUSE_MEMBER);
    if (h.to != n->self_id) return refuse(l, node, h.from, PEER_REFUSE_TARGET);
    if (n->tls) {
        const X509 *cert = net_conn_peer_cert(l->c);
        if (!cert || !member_addr_cert_names(cert, node->host)) return refuse(l, node, h.from, PEER_REFUSE_CERT);
    }
    l->hello = true;
    l->node = node;
    net_conn_established(l->c);
    buf b = {0};
    peer_hello_ok_append(&b, n->self_id);
    link_write(l, &b);
    buf_free(&b);
    if (node->paused) net_conn_pause_read(l->c);
    log_debug("node link from %llu (%s) accepted", (unsigned long long)node->id, net_conn_peer(l->c));
}

static void protocol_error(peer_link *l, const char *what, unsigned type)
{
    log_warn("node link %s %s: %s (type %u), closing", l->dialed ? "to" : "from", net_conn_peer(l->c), what, type);
    peer__link_close(l);
}

static void on_dialed_frame(peer_link *l, const peer_frame *f)
{
    peer_node *node = l->node;
    if (f->type == PEER_T_PING) return;
    if (f->type == PEER_T_REFUSE) {
        int why = peer_refuse_decode(f->payload, f->len);
        peer__refused(l->n, node, node->id, why, true, node->address);
        peer__link_close(l);
        return;
    }
    uint8_t version;
    uint64_t id;
    if (f->type != PEER_T_HELLO_OK || node->state != DIAL_HELLO ||
        !peer_hello_ok_decode(f->payload, f->len, &version, &id) || id != node->id) {
        protocol_error(l, "unexpected frame or not the node it should be", f->type);
        return;
    }
    node->state = DIAL_UP;
    node->backoff_ms = PEER_BACKOFF_FIRST_MS;
    node->logged = 0;
    log_info("node link to %llu (%s) up", (unsigned long long)node->id, node->address);
    l->n->cb.on_peer(l->n->ctx, node->id, true);
}

static void on_accepted_frame(peer_link *l, const peer_frame *f)
{
    if (!l->hello) {
        on_hello(l, f);
        return;
    }
    if (f->type == PEER_T_PING) return;
    if (f->type < PEER_TYPE_USER) {
        protocol_error(l, "unexpected frame", f->type);
        return;
    }
    peer_node *node = l->node;
    node->st.frames_in++;
    node->st.bytes_in += f->len;
    l->n->cb.on_frame(l->n->ctx, node->id, f->type, f->payload, f->len);
}

/* Whether frames may be delivered from l now. */
static bool link_reading(const peer_link *l)
{
    if (l->closing || l->n->closing) return false;
    if (!l->node) return !l->dialed && !l->hello; /* an accepted link before its HELLO */
    return l->dialed || !l->node->paused;
}

/* Deliver the complete frames of p[0..len); returns the bytes used. Stops
 * at a pause or a close (what is left stays for later or is dropped). */
static size_t deliver(peer_link *l, const uint8_t *p, size_t len)
{
    size_t at = 0;
    while (at < len && link_reading(l)) {
        peer_frame f;
        size_t used = 0;
        peer_frame_status s = peer_frame_next(p + at, len - at, l->n->max_frame, &f, &used);
        if (s == PEER_FRAME_NEED_MORE) break;
        if (s == PEER_FRAME_TOOBIG) {
            log_warn("node link %s %s: a frame of %llu bytes exceeds max_frame (%zu), closing",
                     l->dialed ? "to" : "from", net_conn_peer(l->c),
                     (unsigned long long)((uint32_t)p[at] << 24 | (uint32_t)p[at + 1] << 16 | (uint32_t)p[at + 2] << 8 |
                                          p[at + 3]),
                     l->n->max_frame);
            peer__link_close(l);
            break;
        }
        if (s == PEER_FRAME_BAD) {
            protocol_error(l, "empty frame", 0);
            break;
        }
        at += used;
        if (l->dialed) on_dialed_frame(l, &f);
        else on_accepted_frame(l, &f);
    }
    return at;
}

/* Input is parsed in place when nothing is buffered (the common case);
 * only an incomplete tail, or what a pause holds back, is copied. */
static void link_on_read(void *user, const uint8_t *data, size_t len)
{
    peer_link *l = user;
    if (l->closing || l->n->closing) return;
    l->last_in = uv_now(l->n->loop);
    if (l->in.len == 0) {
        size_t used = deliver(l, data, len);
        if (!l->closing) buf_append(&l->in, data + used, len - used);
        return;
    }
    buf_append(&l->in, data, len);
    peer__link_drain(l);
}

void peer__link_drain(peer_link *l)
{
    l->drain = false;
    size_t used = deliver(l, l->in.data, l->in.len);
    if (l->closing) return;
    buf_consume(&l->in, used);
    if (l->in.len == 0) buf_free(&l->in); /* an idle link keeps no input memory */
}

static void link_on_open(void *user)
{
    peer_link *l = user;
    peer_net *n = l->n;
    peer_node *node = l->node;
    if (l->closing || n->closing || !node) return;
    assert(node->state == DIAL_CONNECT && node->out == l);
    buf b = {0};
    peer_hello_append(&b, n->self_id, node->id, n->cluster); /* the name's length was checked at peer_net_new */
    link_write(l, &b);
    buf_free(&b);
    node->state = DIAL_HELLO;
}

static void link_on_close(void *user, int error)
{
    peer_link *l = user;
    peer_net *n = l->n;
    if (l->prev) l->prev->next = l->next;
    else n->links = l->next;
    if (l->next) l->next->prev = l->prev;
    buf_free(&l->in);
    if (n->closing || !l->dialed || !l->node) return;
    peer_node *node = l->node;
    assert(node->out == l);
    if (error && node->state != DIAL_UP)
        log_debug("node link to %llu (%s): %s", (unsigned long long)node->id, node->address, uv_strerror(error));
    peer__dial_lost(node, net_conn_cert_refused(l->c));
}

const net_conn_callbacks peer__link_callbacks = {
    .on_read = link_on_read,
    .on_close = link_on_close,
    .on_open = link_on_open,
};
