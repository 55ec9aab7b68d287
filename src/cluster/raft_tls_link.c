/* One connection of raft's TLS transport (raft_tls.h): its life cycle,
 * the handshake and its checks, and the pump between libraft's
 * socketpair and a TLS net_conn. The transport's interface, membership
 * and close are raft_tls.c.
 *
 * A link is one connection, from accept or connect until its net_conn,
 * its socketpair end and its name lookup are all closed. States:
 *
 *   accepted: HELLO (TLS, then HELLO awaited) ─► PIPE (handed to libraft)
 *   dialed:   RESOLVE ─► CONNECT (TCP + TLS) ─► REPLY (HELLO sent) ─► PIPE
 *
 * Invariants: a dialed link holds libraft's connect request until it
 * reaches PIPE or is finished, and the request's callback runs exactly
 * once (link_finish at the latest); `to_pipe` holds at most
 * RAFT_TLS_PIPE_BUF bytes, of which the first `writing` are in a uv_write;
 * the net_conn does not read while `to_pipe` holds anything. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster/raft_tls_internal.h"
#include "util/alloc.h"
#include "util/log.h"

/* --- links: life cycle ----------------------------------------------------------- */

static rt_link *link_new(raft_tls *t, bool dialed)
{
    rt_link *l = xcalloc(1, sizeof *l);
    l->t = t;
    l->dialed = dialed;
    l->deadline = uv_now(t->loop) + t->handshake_ms;
    l->next = t->links;
    if (t->links) t->links->prev = l;
    t->links = l;
    return l;
}

/* Everything of l is closed: answer libraft's request if it is still
 * waiting, and free l. */
static void link_finish(rt_link *l)
{
    raft_tls *t = l->t;
    if (l->c || l->pipe_open || l->resolving) return;
    if (l->prev) l->prev->next = l->next;
    else t->links = l->next;
    if (l->next) l->next->prev = l->prev;
    struct raft_uv_connect *req = l->req;
    free(l->to_pipe);
    free(l);
    if (req) {
        t->st.dial_failed++;
        req->cb(req, NULL, t->raft_closed ? RAFT_CANCELED : RAFT_NOCONNECTION);
    }
}

static void on_pipe_closed(uv_handle_t *h)
{
    rt_link *l = h->data;
    l->pipe_open = false;
    link_finish(l);
}

void raft_tls__link_close(rt_link *l)
{
    l->closing = true;
    if (l->resolving) uv_cancel((uv_req_t *)&l->gai); /* its callback still runs */
    if (l->c && !l->c_closing) {
        l->c_closing = true;
        net_conn_close(l->c); /* flushes what is queued; on_close later */
    }
    if (l->pipe_open && !l->pipe_closing) {
        l->pipe_closing = true;
        uv_close((uv_handle_t *)&l->pipe, on_pipe_closed);
    }
}

/* --- links: the pump ------------------------------------------------------------- */

static void pipe_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    rt_link *l = h->data;
    (void)hint;
    *b = uv_buf_init((char *)l->t->rbuf, RT_READ_BUF);
}

/* libraft's bytes, to the peer. */
static void pipe_on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    rt_link *l = s->data;
    if (n == 0 || l->closing) return;
    if (n < 0) { /* libraft closed its end (or the socketpair failed) */
        raft_tls__link_close(l);
        return;
    }
    net_conn_write(l->c, b->base, (size_t)n);
    if (net_conn_over_backlog(l->c)) {
        uv_read_stop(s);
        l->pipe_reading = false;
    }
}

static void link_on_drain(void *user)
{
    rt_link *l = *(rt_link **)user;
    if (l->state != L_PIPE || l->closing || l->pipe_reading) return;
    l->pipe_reading = uv_read_start((uv_stream_t *)&l->pipe, pipe_alloc, pipe_on_read) == 0;
}

static void pipe_flush(rt_link *l);

static void pipe_on_written(uv_write_t *w, int status)
{
    rt_link *l = w->data;
    size_t done = l->writing;
    l->writing = 0;
    if (status != 0 || l->closing) {
        raft_tls__link_close(l);
        return;
    }
    memmove(l->to_pipe, l->to_pipe + done, l->to_pipe_len - done);
    l->to_pipe_len -= done;
    pipe_flush(l);
}

/* Hand to_pipe to libraft's socketpair; the network is read again once
 * it is empty. */
static void pipe_flush(rt_link *l)
{
    if (l->writing || l->closing) return;
    if (l->to_pipe_len == 0) {
        net_conn_resume_read(l->c);
        return;
    }
    uv_buf_t b = uv_buf_init((char *)l->to_pipe, (unsigned)l->to_pipe_len);
    int n = uv_try_write((uv_stream_t *)&l->pipe, &b, 1);
    if (n >= 0 && (size_t)n == l->to_pipe_len) {
        l->to_pipe_len = 0;
        net_conn_resume_read(l->c);
        return;
    }
    if (n < 0 && n != UV_EAGAIN) {
        raft_tls__link_close(l);
        return;
    }
    if (n > 0) {
        memmove(l->to_pipe, l->to_pipe + n, l->to_pipe_len - (size_t)n);
        l->to_pipe_len -= (size_t)n;
    }
    net_conn_pause_read(l->c);
    l->writing = l->to_pipe_len;
    b = uv_buf_init((char *)l->to_pipe, (unsigned)l->writing);
    l->wreq.data = l;
    if (uv_write(&l->wreq, (uv_stream_t *)&l->pipe, &b, 1, pipe_on_written) != 0) {
        l->writing = 0;
        raft_tls__link_close(l);
    }
}

/* The peer's bytes, to libraft. */
static void pipe_push(rt_link *l, const uint8_t *p, size_t n)
{
    if (n == 0 || l->closing) return;
    /* Reading stops while to_pipe holds anything, and what one socket
     * read decrypts to is bounded (net.h): the buffer cannot overflow. */
    if (n > RAFT_TLS_PIPE_BUF - l->to_pipe_len) {
        log_error("raft: connection %s: more than %u bytes waiting for raft, closing", net_conn_peer(l->c),
                  RAFT_TLS_PIPE_BUF);
        raft_tls__link_close(l);
        return;
    }
    memcpy(l->to_pipe + l->to_pipe_len, p, n);
    l->to_pipe_len += n;
    pipe_flush(l);
}

static void free_raft_handle(uv_handle_t *h) { raft_free(h); }

/* The socketpair: libraft's end as a uv_pipe it owns (allocated with
 * raft_malloc: libraft frees it), ours in the link. NULL on failure (logged). */
static uv_stream_t *link_pipe(rt_link *l)
{
    raft_tls *t = l->t;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        log_error("raft: socketpair: %s", strerror(errno));
        raft_tls__link_close(l);
        return NULL;
    }
    uv_pipe_t *theirs = raft_malloc(sizeof *theirs);
    if (!theirs) {
        close(sv[0]);
        close(sv[1]);
        raft_tls__link_close(l);
        return NULL;
    }
    uv_pipe_init(t->loop, theirs, 0);
    uv_pipe_init(t->loop, &l->pipe, 0);
    l->pipe.data = l;
    l->pipe_open = true;
    /* An opened handle owns its descriptor (uv_close closes it). */
    int e = uv_pipe_open(theirs, sv[0]);
    if (e != 0) close(sv[0]);
    int e2 = e == 0 ? uv_pipe_open(&l->pipe, sv[1]) : e;
    if (e2 != 0) {
        log_error("raft: socketpair: %s", uv_strerror(e2));
        close(sv[1]);
        uv_close((uv_handle_t *)theirs, free_raft_handle);
        raft_tls__link_close(l);
        return NULL;
    }
    l->to_pipe = xmalloc(RAFT_TLS_PIPE_BUF);
    l->state = L_PIPE;
    l->pipe_reading = uv_read_start((uv_stream_t *)&l->pipe, pipe_alloc, pipe_on_read) == 0;
    return (uv_stream_t *)theirs;
}

/* --- the handshake ---------------------------------------------------------------- */

static void refuse(rt_link *l, rt_member *m, uint64_t id, raft_tls_refusal why)
{
    buf b = {0};
    raft_tls_reply_append(&b, why);
    net_conn_write(l->c, b.data, b.len);
    buf_free(&b);
    raft_tls__refused_in(l->t, m, id, why, net_conn_peer(l->c));
    raft_tls__link_close(l);
}

/* The accepting side's checks (raft_tls.h), in the order a
 * misconfiguration is likeliest to be explained by. */
static void on_hello(rt_link *l, const uint8_t *p, size_t n)
{
    raft_tls *t = l->t;
    size_t take = n < sizeof l->hs - l->hs_len ? n : sizeof l->hs - l->hs_len;
    memcpy(l->hs + l->hs_len, p, take);
    l->hs_len += take;
    raft_tls_hello h;
    size_t used = 0;
    raft_tls_hello_status s = raft_tls_hello_decode(l->hs, l->hs_len, &h, &used);
    if (s == RAFT_TLS_HELLO_NEED_MORE) return;
    if (s == RAFT_TLS_HELLO_VERSION) return refuse(l, NULL, 0, RAFT_TLS_REFUSE_VERSION);
    /* Nothing may follow a HELLO before the REPLY. */
    if (s == RAFT_TLS_HELLO_BAD || used != l->hs_len || take != n) return refuse(l, NULL, 0, RAFT_TLS_REFUSE_MALFORMED);
    rt_member *m = h.from == t->self_id ? NULL : raft_tls__member(t, h.from);
    if (h.name_len != strlen(t->cluster) || memcmp(h.name, t->cluster, h.name_len) != 0)
        return refuse(l, m, h.from, RAFT_TLS_REFUSE_CLUSTER);
    if (!m) return refuse(l, NULL, h.from, RAFT_TLS_REFUSE_MEMBER);
    if (h.to != t->self_id) return refuse(l, m, h.from, RAFT_TLS_REFUSE_TARGET);
    size_t rl = raft_tls__raft_part(h.address);
    if (rl != m->raft_len || memcmp(h.address, m->address, rl) != 0)
        return refuse(l, m, h.from, RAFT_TLS_REFUSE_ADDRESS);
    const struct x509_st *cert = net_conn_peer_cert(l->c);
    if (!cert || !member_addr_cert_names(cert, m->host)) return refuse(l, m, h.from, RAFT_TLS_REFUSE_CERT);
    if (t->raft_closed || !t->accept_cb) {
        raft_tls__link_close(l);
        return;
    }
    l->id = h.from;
    buf b = {0};
    raft_tls_reply_append(&b, RAFT_TLS_ACCEPTED);
    net_conn_write(l->c, b.data, b.len);
    buf_free(&b);
    uv_stream_t *stream = link_pipe(l);
    if (!stream) return; /* closed */
    net_conn_established(l->c);
    m->logged &= 0xffff0000u; /* inbound refusals of it are news again */
    t->st.accepted++;
    log_debug("raft: connection from node %llu (%s) accepted", (unsigned long long)h.from, net_conn_peer(l->c));
    t->accept_cb(&t->transport, h.from, h.address, stream);
}

static void on_reply(rt_link *l, const uint8_t *p, size_t n)
{
    raft_tls *t = l->t;
    size_t take = n < RAFT_TLS_REPLY_LEN - l->hs_len ? n : RAFT_TLS_REPLY_LEN - l->hs_len;
    memcpy(l->hs + l->hs_len, p, take);
    l->hs_len += take;
    if (l->hs_len < RAFT_TLS_REPLY_LEN) return;
    int status = raft_tls_reply_decode(l->hs, l->hs_len);
    if (status != RAFT_TLS_ACCEPTED) {
        if (status > 0) {
            t->st.dial_refused++;
            raft_tls__refused_out(t, l->id, l->host, l->port, status, true);
        } else {
            log_warn("raft: connection to node %llu (%s:%u): not a raft TLS reply, closing", (unsigned long long)l->id,
                     l->host, l->port);
        }
        raft_tls__link_close(l);
        return;
    }
    uv_stream_t *s = link_pipe(l);
    if (!s) return; /* closed: link_finish answers the request */
    rt_member *m = raft_tls__member(t, l->id);
    if (m) m->logged &= 0x0000ffffu; /* outbound refusals of it are news again */
    struct raft_uv_connect *req = l->req;
    l->req = NULL;
    t->st.connected++;
    log_debug("raft: connected to node %llu (%s:%u)", (unsigned long long)l->id, l->host, l->port);
    req->cb(req, s, 0);
    pipe_push(l, p + take, n - take); /* nothing is expected, but pass it on */
}

/* --- net callbacks ----------------------------------------------------------------- */

static void link_on_read(void *user, const uint8_t *data, size_t len)
{
    rt_link *l = *(rt_link **)user;
    if (l->closing) return;
    switch (l->state) {
    case L_HELLO: on_hello(l, data, len); break;
    case L_REPLY: on_reply(l, data, len); break;
    case L_PIPE: pipe_push(l, data, len); break;
    default: raft_tls__link_close(l); break; /* nothing arrives before the TLS handshake */
    }
}

static void link_on_open(void *user)
{
    rt_link *l = *(rt_link **)user;
    raft_tls *t = l->t;
    if (l->closing) return;
    assert(l->dialed && l->state == L_CONNECT);
    buf b = {0};
    /* The lengths were checked at init and at raft_tls_new. */
    bool ok = raft_tls_hello_append(&b, t->self_id, l->id, t->cluster, t->self_address);
    assert(ok);
    (void)ok;
    net_conn_write(l->c, b.data, b.len);
    buf_free(&b);
    l->state = L_REPLY;
}

static void link_on_close(void *user, int error)
{
    rt_link *l = *(rt_link **)user;
    raft_tls *t = l->t;
    bool cert_refused = net_conn_cert_refused(l->c);
    if (l->state == L_HELLO && !l->closing) {
        /* Closed by the peer or by net (TLS failure, timeout) before its HELLO. */
        if (cert_refused) raft_tls__refused_in(t, NULL, 0, RAFT_TLS_REFUSE_TLS, net_conn_peer(l->c));
        else t->st.dropped++;
    } else if (l->dialed && l->state != L_PIPE) {
        if (cert_refused) {
            t->st.dial_cert_refused++;
            raft_tls__refused_out(t, l->id, l->host, l->port, RAFT_TLS_REFUSE_TLS, false);
        } else if (error && !l->closing) {
            log_debug("raft: connection to node %llu (%s:%u): %s", (unsigned long long)l->id, l->host, l->port,
                      uv_strerror(error));
        }
    }
    l->c = NULL;
    raft_tls__link_close(l);
    link_finish(l);
}

const net_conn_callbacks raft_tls__link_callbacks = {
    .on_read = link_on_read,
    .on_close = link_on_close,
    .on_drain = link_on_drain,
    .on_open = link_on_open,
};

bool raft_tls__accept(void *ctx, net_conn *c, void *user)
{
    raft_tls *t = ctx;
    if (t->closing || t->raft_closed || !t->accept_cb) return false;
    rt_link *l = link_new(t, false);
    l->c = c;
    l->state = L_HELLO;
    *(rt_link **)user = l;
    return true;
}

/* --- dialing ------------------------------------------------------------------------ */

static void link_connect(rt_link *l, const struct sockaddr *sa)
{
    void *user;
    l->c = net_connect(l->t->dialer, sa, l->host, &user);
    if (!l->c) {
        raft_tls__link_close(l);
        return;
    }
    *(rt_link **)user = l;
    l->state = L_CONNECT;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    rt_link *l = req->data;
    l->resolving = false;
    if (!l->closing && status == 0 && res) link_connect(l, res->ai_addr);
    else if (!l->closing) {
        log_debug("raft: node %llu (%s): %s", (unsigned long long)l->id, l->host, uv_strerror(status));
        raft_tls__link_close(l);
    }
    uv_freeaddrinfo(res);
    link_finish(l);
}

int raft_tls__connect(struct raft_uv_transport *tr, struct raft_uv_connect *req, raft_id id, const char *address,
                      raft_uv_connect_cb cb)
{
    raft_tls *t = tr->impl;
    char host[MEMBER_ADDR_MAX + 1];
    uint16_t port;
    assert(!t->raft_closed && !t->closing);
    if (!member_addr_parse_n(address, raft_tls__raft_part(address), host, sizeof host, &port)) {
        snprintf(tr->errmsg, sizeof tr->errmsg, "bad raft address \"%s\"", address);
        return RAFT_NOCONNECTION;
    }
    req->cb = cb;
    rt_link *l = link_new(t, true);
    l->id = id;
    l->req = req;
    snprintf(l->host, sizeof l->host, "%s", host);
    l->port = port;
    struct sockaddr_storage ss;
    if (member_addr_ip(host, port, &ss)) {
        link_connect(l, (struct sockaddr *)&ss);
        return 0;
    }
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%u", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    l->gai.data = l;
    l->state = L_RESOLVE;
    if (uv_getaddrinfo(t->loop, &l->gai, on_resolved, host, portstr, &hints) == 0) {
        l->resolving = true;
        return 0;
    }
    l->req = NULL; /* refused at once: libraft hears it from the return value */
    raft_tls__link_close(l);
    link_finish(l);
    return RAFT_NOCONNECTION;
}
