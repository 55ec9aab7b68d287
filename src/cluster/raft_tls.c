/* Raft's TLS transport (raft_tls.h): libraft's transport interface, the
 * handshake and its checks, and the pump between libraft's socketpair and
 * a TLS net_conn.
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
#include "cluster/raft_tls.h"

#include <assert.h>
#include <errno.h>
#include <raft.h>
#include <raft/uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster/member_addr.h"
#include "net/net.h"
#include "net/tls.h"
#include "util/alloc.h"
#include "util/log.h"

#define RT_READ_BUF (64u << 10)

typedef struct rt_member {
    uint64_t id;
    char address[MEMBER_ADDR_MAX + 1];
    char host[MEMBER_ADDR_MAX + 1]; /* of the raft part, without [] */
    size_t raft_len;                /* bytes of the raft part of address */
    uint32_t logged;                /* refusal reasons logged for it, one bit each */
} rt_member;

enum link_state { L_HELLO, L_RESOLVE, L_CONNECT, L_REPLY, L_PIPE };

typedef struct rt_link rt_link;
struct rt_link {
    raft_tls *t;
    net_conn *c; /* NULL once its on_close ran (or before the dial) */
    enum link_state state;
    bool dialed, closing;
    bool c_closing, pipe_closing; /* net_conn_close / uv_close called on them */
    bool pipe_open;               /* `pipe` initialized and not yet through its close callback */
    bool resolving;               /* `gai` pending */
    bool pipe_reading;            /* reading libraft's bytes from `pipe` */
    uint64_t id;                  /* dialed: the node dialed; accepted: HELLO's from, once decoded */
    uint64_t deadline;            /* uv_now by which the handshake must be done */
    char host[MEMBER_ADDR_MAX + 1];
    uint16_t port;
    struct raft_uv_connect *req; /* dialed: libraft's request, until its callback ran */
    uv_getaddrinfo_t gai;
    uv_pipe_t pipe; /* our end of the socketpair */
    uv_write_t wreq;
    uint8_t hs[RAFT_TLS_HELLO_MAX]; /* accepted: HELLO bytes; dialed: REPLY bytes */
    size_t hs_len;
    uint8_t *to_pipe; /* RAFT_TLS_PIPE_BUF bytes, allocated at PIPE */
    size_t to_pipe_len, writing;
    rt_link *prev, *next;
};

struct raft_tls {
    struct raft_uv_transport transport; /* .data is libraft's; .impl is this */
    uv_loop_t *loop;
    net *net;
    net_listener *listener, *dialer;
    struct ssl_ctx_st *server_ctx; /* set on the listener at listen */
    char cluster[RAFT_TLS_NAME_MAX + 1];
    uint64_t self_id;
    char self_address[MEMBER_ADDR_MAX + 1]; /* as libraft gave it (init) */
    unsigned handshake_ms;
    rt_member *members;
    size_t n_members, cap_members;
    uint32_t logged_unknown; /* refusal reasons logged for peers with no member id */
    raft_uv_accept_cb accept_cb;
    rt_link *links;
    uv_timer_t tick; /* handshake deadlines */
    uint8_t *rbuf;   /* RT_READ_BUF: libraft's bytes read from a socketpair (one at a time) */
    raft_tls_stats st;
    /* libraft's close (transport->close): no more accepts or connects. */
    bool raft_closed;
    raft_uv_transport_close_cb raft_close_cb;
    /* raft_tls_close: the memory goes when everything is closed. */
    bool closing;
    unsigned pending; /* our handles not yet through their close callbacks */
    uv_idle_t reaper; /* finishes libraft's close and ours */
    void (*close_cb)(void *ctx);
    void *close_ctx;
};

static void link_close(rt_link *l);

/* --- members and refusals -------------------------------------------------------- */

/* The raft part of a raft address: everything before the first '|'. */
static size_t raft_part(const char *address) { return strcspn(address, "|"); }

static rt_member *member_find(raft_tls *t, uint64_t id)
{
    for (size_t i = 0; i < t->n_members; i++)
        if (t->members[i].id == id) return &t->members[i];
    return NULL;
}

bool raft_tls_add(raft_tls *t, uint64_t id, const char *address)
{
    rt_member m = {.id = id};
    uint16_t port;
    if (t->closing || id == 0 || member_find(t, id) || !address || strlen(address) > MEMBER_ADDR_MAX) return false;
    m.raft_len = raft_part(address);
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
    rt_member *m = t->closing ? NULL : member_find(t, id);
    if (!m) return false;
    *m = t->members[--t->n_members];
    return true;
}

/* Count and log (once per peer and reason) a refusal of an inbound
 * connection by this node. */
static void refused_in(raft_tls *t, rt_member *m, uint64_t id, raft_tls_refusal why, const char *peer)
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

/* Log (once per peer and reason) an outbound attempt that was refused. */
static void refused_out(raft_tls *t, uint64_t id, const char *host, uint16_t port, int why, bool by_peer)
{
    rt_member *m = member_find(t, id);
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

/* Close every part of l that is open (again after one closed itself). */
static void link_close(rt_link *l)
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
        link_close(l);
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
        link_close(l);
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
        link_close(l);
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
        link_close(l);
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
        link_close(l);
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
        link_close(l);
        return NULL;
    }
    uv_pipe_t *theirs = raft_malloc(sizeof *theirs);
    if (!theirs) {
        close(sv[0]);
        close(sv[1]);
        link_close(l);
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
        link_close(l);
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
    refused_in(l->t, m, id, why, net_conn_peer(l->c));
    link_close(l);
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
    rt_member *m = h.from == t->self_id ? NULL : member_find(t, h.from);
    if (h.name_len != strlen(t->cluster) || memcmp(h.name, t->cluster, h.name_len) != 0)
        return refuse(l, m, h.from, RAFT_TLS_REFUSE_CLUSTER);
    if (!m) return refuse(l, NULL, h.from, RAFT_TLS_REFUSE_MEMBER);
    if (h.to != t->self_id) return refuse(l, m, h.from, RAFT_TLS_REFUSE_TARGET);
    size_t rl = raft_part(h.address);
    if (rl != m->raft_len || memcmp(h.address, m->address, rl) != 0)
        return refuse(l, m, h.from, RAFT_TLS_REFUSE_ADDRESS);
    const struct x509_st *cert = net_conn_peer_cert(l->c);
    if (!cert || !member_addr_cert_names(cert, m->host)) return refuse(l, m, h.from, RAFT_TLS_REFUSE_CERT);
    if (t->raft_closed || !t->accept_cb) {
        link_close(l);
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
            refused_out(t, l->id, l->host, l->port, status, true);
        } else {
            log_warn("raft: connection to node %llu (%s:%u): not a raft TLS reply, closing", (unsigned long long)l->id,
                     l->host, l->port);
        }
        link_close(l);
        return;
    }
    uv_stream_t *s = link_pipe(l);
    if (!s) return; /* closed: link_finish answers the request */
    rt_member *m = member_find(t, l->id);
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
    default: link_close(l); break; /* nothing arrives before the TLS handshake */
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
        if (cert_refused) refused_in(t, NULL, 0, RAFT_TLS_REFUSE_TLS, net_conn_peer(l->c));
        else t->st.dropped++;
    } else if (l->dialed && l->state != L_PIPE) {
        if (cert_refused) {
            t->st.dial_cert_refused++;
            refused_out(t, l->id, l->host, l->port, RAFT_TLS_REFUSE_TLS, false);
        } else if (error && !l->closing) {
            log_debug("raft: connection to node %llu (%s:%u): %s", (unsigned long long)l->id, l->host, l->port,
                      uv_strerror(error));
        }
    }
    l->c = NULL;
    link_close(l);
    link_finish(l);
}

static const net_conn_callbacks link_callbacks = {
    .on_read = link_on_read,
    .on_close = link_on_close,
    .on_drain = link_on_drain,
    .on_open = link_on_open,
};

static bool link_accept(void *ctx, net_conn *c, void *user)
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
        link_close(l);
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
        link_close(l);
    }
    uv_freeaddrinfo(res);
    link_finish(l);
}

static int tr_connect(struct raft_uv_transport *tr, struct raft_uv_connect *req, raft_id id, const char *address,
                      raft_uv_connect_cb cb)
{
    raft_tls *t = tr->impl;
    char host[MEMBER_ADDR_MAX + 1];
    uint16_t port;
    assert(!t->raft_closed && !t->closing);
    if (!member_addr_parse_n(address, raft_part(address), host, sizeof host, &port)) {
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
    link_close(l);
    link_finish(l);
    return RAFT_NOCONNECTION;
}

/* --- the rest of libraft's interface -------------------------------------------------- */

static int tr_init(struct raft_uv_transport *tr, raft_id id, const char *address)
{
    raft_tls *t = tr->impl;
    size_t rl = raft_part(address);
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
    if (!member_addr_parse_n(t->self_address, raft_part(t->self_address), host, sizeof host, &port) ||
        !member_addr_ip(host, port, &ss)) {
        snprintf(tr->errmsg, sizeof tr->errmsg, "raft address \"%.128s\": want ip:port", t->self_address);
        log_error("raft: %s", tr->errmsg);
        return RAFT_INVALID;
    }
    t->listener = net_listen(t->net, host, port, sizeof(rt_link *), link_accept, &link_callbacks, t);
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
        if (l->state != L_PIPE) link_close(l);
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
        link_close(l);
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
    for (rt_link *l = t->links; l; l = l->next) link_close(l);
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
        .impl = t, .init = tr_init, .listen = tr_listen, .connect = tr_connect, .close = tr_close};
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
    t->dialer = net_dialer(t->net, sizeof(rt_link *), &link_callbacks, t);
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
