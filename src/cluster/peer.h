/* Node-to-node links of a cluster: framed messages between mqstated nodes,
 * over TCP or TLS with mutual certificate authentication.
 *
 * What uses it: forwarding state store requests from a follower to the
 * raft leader and the answers back (issue 12), and later cross-node
 * routing, the session registry and wills (issue 13). Raft's own traffic
 * does not go through here (its TLS transport is cluster/raft_tls.h).
 *
 * Model: every node listens on its cluster address and dials every other
 * member. A node sends on the link it dialed and receives on the links it
 * accepted, so a pair of nodes has two TCP connections and no tie-break.
 * Each link starts with a HELLO from the dialer (cluster name, protocol
 * version, node id); the acceptor refuses, and logs once per peer and
 * reason, a peer that names another cluster, an id that is not a member,
 * or (with TLS) a certificate that does not verify against the CA or does
 * not name the member's address (the host of its "host:port": a DNS SAN,
 * or an IP SAN for an IP address, as X509_check_host/X509_check_ip_asc).
 * The dialer verifies the acceptor the same way.
 *
 * Frames: 4-byte big-endian length of what follows, 1 type byte, payload.
 * Types below PEER_TYPE_USER are the module's own (hello, ping);
 * users pick their types from PEER_TYPE_USER up. A frame longer than
 * max_frame closes the link (a protocol error, logged).
 *
 * Liveness: a link that carried nothing for ping_ms gets a ping (both
 * directions, unanswered: a reader paused by peer_net_pause still sends
 * its pings); one that received nothing for dead_ms is closed, except
 * while paused. A dialed link that fails or closes is re-dialed with
 * exponential backoff (50 ms doubling to 2 s, with jitter) for as long
 * as the peer is a member.
 *
 * Bounds: each peer's outbound queue (bytes not yet written to its
 * socket) holds at most max_queue_bytes; peer_net_send refuses beyond it
 * (PEER_EFULL) instead of growing. Inbound frames are delivered as they
 * are read; a callback that cannot keep up pauses its peer with
 * peer_net_pause/resume (reading stops, TCP pushes back).
 *
 * Threading: single-threaded, every call and callback on the loop thread.
 * Ownership: the peer_net owns its links; slices passed to callbacks are
 * valid during the call only. */
#ifndef MQS_CLUSTER_PEER_H
#define MQS_CLUSTER_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#define PEER_TYPE_USER 16    /* first type a user may send */
#define PEER_ADDRESS_MAX 127 /* "host:port" without the NUL */
#define PEER_MAX_FRAME_DEFAULT (16u << 20)
#define PEER_QUEUE_BYTES_DEFAULT (64u << 20)

/* peer_net_send results. */
enum {
    PEER_OK = 0,
    PEER_EUNKNOWN, /* not a member */
    PEER_EDOWN,    /* no established link to it now (dialing, backing off, closing) */
    PEER_EFULL,    /* its outbound queue is at max_queue_bytes */
    PEER_ETOOBIG,  /* payload + 1 > max_frame */
    PEER_ETYPE,    /* type < PEER_TYPE_USER (the module's own) */
};
const char *peer_strerror(int code);

typedef struct peer_net peer_net;

typedef struct peer_member {
    uint64_t id;         /* >= 1 */
    const char *address; /* "host:port" (IPv4, [IPv6] or a DNS name) */
} peer_member;

/* TLS for node links: both directions present cert/key and verify the
 * other side against ca_file (mutual authentication). All paths PEM. */
typedef struct peer_tls {
    const char *cert_file;
    const char *key_file;
    const char *ca_file;
    const char *crl_file; /* NULL: none */
} peer_tls;

typedef struct peer_callbacks {
    /* A frame of a user type (>= PEER_TYPE_USER) from node `from`. */
    void (*on_frame)(void *ctx, uint64_t from, uint8_t type, const uint8_t *payload, size_t len);
    /* The dialed link to `id` became usable (up) or was lost (down).
     * Frames queued on a lost link are dropped; the user learns which by
     * its own request ids (it must time out or fail what it waits for). */
    void (*on_peer)(void *ctx, uint64_t id, bool up);
} peer_callbacks;

typedef struct peer_net_config {
    const char *cluster_name; /* both sides must agree (HELLO) */
    uint64_t self_id;
    const char *listen_address; /* "host:port" this node listens on */
    const peer_member *members; /* every member, self included (skipped) */
    size_t n_members;
    const peer_tls *tls; /* NULL: plain TCP (tests, trusted networks: documented) */
    /* 0 takes the default: PEER_MAX_FRAME_DEFAULT, PEER_QUEUE_BYTES_DEFAULT,
     * 1000 ms, 5000 ms. */
    size_t max_frame, max_queue_bytes;
    unsigned ping_ms, dead_ms;
    peer_callbacks cb;
    void *ctx;
} peer_net_config;

/* Listens and starts dialing. NULL with a one-line message in err (bad
 * address, port in use, TLS file errors naming the setting and the file);
 * what it had opened then closes asynchronously, as after peer_net_close,
 * so the caller runs the loop once more before closing it.
 * Keeps no pointer into cfg. */
peer_net *peer_net_new(uv_loop_t *loop, const peer_net_config *cfg, char *err, size_t errlen);

/* Closes every link and the listener, asynchronously: `cb` (may be NULL)
 * runs on the loop once every handle is closed, and the memory is
 * released right after it. No callback of the config runs after this
 * call. The caller runs the loop until then. */
void peer_net_close(peer_net *n, void (*cb)(void *ctx), void *ctx);

/* Queue one frame to node `to` (copied). PEER_OK or a PEER_E* code. */
int peer_net_send(peer_net *n, uint64_t to, uint8_t type, const uint8_t *payload, size_t len);

/* Membership changes at runtime: dial (and accept) a new member; close
 * and forget a removed one (its links close, on_peer(down) if it was up).
 * Returns false for a bad id/address or a duplicate/unknown id. */
bool peer_net_add(peer_net *n, uint64_t id, const char *address);
bool peer_net_remove(peer_net *n, uint64_t id);

/* Stop and resume reading the links accepted from `from` (backpressure). */
void peer_net_pause(peer_net *n, uint64_t from);
void peer_net_resume(peer_net *n, uint64_t from);

/* Whether the dialed link to `id` is established. */
bool peer_net_up(const peer_net *n, uint64_t id);

typedef struct peer_stats {
    uint64_t id;
    bool up;
    uint64_t frames_out, frames_in, bytes_out, bytes_in; /* user frames and their payload bytes */
    uint64_t dials, refused; /* dial attempts; HELLOs or certificates refused (either side) */
    size_t queue_bytes;      /* outbound bytes not yet written */
} peer_stats;

/* Stats of the member `id` (false if unknown). */
bool peer_net_stats(const peer_net *n, uint64_t id, peer_stats *out);

#endif
