/* Private to src/cluster: the structures shared by membership and
 * dialing (peer.c) and the links' I/O and handshake (peer_link.c). */
#ifndef MQS_CLUSTER_PEER_INTERNAL_H
#define MQS_CLUSTER_PEER_INTERNAL_H

#include <openssl/ssl.h>

#include "cluster/peer.h"
#include "cluster/peer_frame.h"
#include "net/net.h"
#include "util/buf.h"
#include "util/hashmap.h"

/* Re-dial backoff (peer.h): from the first to the last, doubling. */
#define PEER_BACKOFF_FIRST_MS 50
#define PEER_BACKOFF_MAX_MS 2000
#define PEER_PING_DEFAULT_MS 1000
#define PEER_DEAD_DEFAULT_MS 5000

typedef struct peer_node peer_node;
typedef struct peer_link peer_link;

/* The dialed side of a member, in order. */
enum dial_state {
    DIAL_WAIT,    /* backoff timer running (or about to be) */
    DIAL_RESOLVE, /* name lookup pending */
    DIAL_CONNECT, /* TCP connect (and TLS handshake) pending */
    DIAL_HELLO,   /* HELLO sent, HELLO_OK awaited */
    DIAL_UP,      /* established: peer_net_send works */
};

typedef struct peer_resolve {
    uv_getaddrinfo_t req;
    peer_net *n;
    peer_node *node; /* NULL once the node is gone: the result is dropped */
} peer_resolve;

struct peer_node {
    uint64_t id;
    char address[PEER_ADDRESS_MAX + 1];
    char host[PEER_ADDRESS_MAX + 1]; /* without [] for IPv6 */
    uint16_t port;
    peer_net *n;
    peer_link *out;        /* the dialed link; NULL while there is none */
    peer_resolve *resolve; /* pending name lookup, or NULL */
    uv_timer_t timer;      /* re-dial backoff; closed when the node goes */
    unsigned backoff_ms;
    unsigned next_addr; /* a DNS name's addresses are tried in turn, one per dial */
    enum dial_state state;
    bool paused;     /* peer_net_pause: its accepted links do not read */
    bool removed;    /* out of the map, its timer closing */
    uint32_t logged; /* refusal reasons logged for it, one bit each; cleared when up */
    peer_stats st;   /* counters only; id, up, queue_bytes filled in by peer_net_stats */
};

/* The user area of every net_conn of the module (net.h). Lives until the
 * connection's on_close. */
struct peer_link {
    peer_net *n;
    net_conn *c;
    /* Dialed: the member it reaches. Accepted: the member its HELLO named,
     * once accepted. NULL after the member was removed. */
    peer_node *node;
    buf in;                     /* the start of a frame not yet complete (or frames held while paused) */
    uint64_t last_in, last_out; /* uv_now of the last byte read, frame queued */
    peer_link *prev, *next;     /* n->links */
    bool dialed;
    bool hello;   /* accepted: HELLO accepted */
    bool closing; /* link_close was called */
    bool drain;   /* frames held in `in` to deliver after a resume */
};

struct peer_net {
    uv_loop_t *loop;
    net *net;
    net_listener *listener, *dialer;
    char cluster[PEER_CLUSTER_NAME_MAX + 1];
    uint64_t self_id;
    size_t max_frame, max_queue;
    unsigned ping_ms, dead_ms;
    bool tls;
    peer_callbacks cb;
    void *ctx;
    hashmap *nodes;          /* id (8 bytes, host order) -> peer_node */
    peer_link *links;        /* every link until its on_close */
    uv_timer_t tick;         /* pings and dead links */
    uv_timer_t drain_timer;  /* delivers frames held by a pause, after a resume */
    uint64_t rng;            /* backoff jitter (xorshift) */
    uint32_t logged_unknown; /* refusal reasons logged for non-members */
    /* Closing (peer_net_close): callbacks stop at once; the memory goes
     * when every handle of ours and of net is closed (reaper). */
    bool closing;
    unsigned pending; /* our handles and name lookups not yet through their callbacks */
    uv_idle_t reaper;
    void (*close_cb)(void *ctx);
    void *close_ctx;
};

/* peer.c */
peer_node *peer__node(const peer_net *n, uint64_t id);
/* The dialed link of node is lost (closed before or after being up). */
void peer__dial_lost(peer_node *node, bool refused);
/* Log a refusal (by us of an accepted link, or by the peer of our dialed
 * one) once per peer and reason, and count it when it names a member. */
void peer__refused(peer_net *n, peer_node *node, uint64_t id, int reason, bool dialed, const char *where);

/* peer_link.c */
extern const net_conn_callbacks peer__link_callbacks;
void peer__link_init(peer_link *l, peer_net *n, net_conn *c, peer_node *node);
void peer__link_close(peer_link *l);
void peer__link_ping(peer_link *l);
/* Deliver the frames a pause held back in l->in. */
void peer__link_drain(peer_link *l);

#endif
