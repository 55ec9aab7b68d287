/* Private to raft's TLS transport (raft_tls.h): the structures shared by
 * the transport's interface, membership and close (raft_tls.c) and one
 * connection's life, handshake and pump (raft_tls_link.c). */
#ifndef MQS_CLUSTER_RAFT_TLS_INTERNAL_H
#define MQS_CLUSTER_RAFT_TLS_INTERNAL_H

#include <raft.h>
#include <raft/uv.h>

#include "cluster/member_addr.h"
#include "cluster/raft_tls.h"
#include "net/net.h"

/* libraft's bytes are read from a socketpair into one buffer of this size. */
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

/* raft_tls.c */
/* The raft part of a raft address: everything before the first '|'. */
size_t raft_tls__raft_part(const char *address);
rt_member *raft_tls__member(raft_tls *t, uint64_t id);
/* Count and log (once per peer and reason) a refusal of an inbound
 * connection by this node, or of an outbound one (by the peer, or of its
 * certificate here). */
void raft_tls__refused_in(raft_tls *t, rt_member *m, uint64_t id, raft_tls_refusal why, const char *peer);
void raft_tls__refused_out(raft_tls *t, uint64_t id, const char *host, uint16_t port, int why, bool by_peer);

/* raft_tls_link.c */
extern const net_conn_callbacks raft_tls__link_callbacks;
/* Close every part of l that is open (again after one closed itself). */
void raft_tls__link_close(rt_link *l);
/* net's accept callback (ctx: the raft_tls). */
bool raft_tls__accept(void *ctx, net_conn *c, void *user);
/* libraft's transport->connect. */
int raft_tls__connect(struct raft_uv_transport *tr, struct raft_uv_connect *req, raft_id id, const char *address,
                      raft_uv_connect_cb cb);

#endif
