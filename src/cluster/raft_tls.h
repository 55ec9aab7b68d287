/* Raft's traffic over mutual TLS: a libraft 0.15 transport (struct
 * raft_uv_transport, <raft/uv.h>) for repl/raft_log.h
 * (repl_raft_config.transport), with the node links' identity rule
 * (cluster/peer.h) and the same certificate files.
 *
 * libraft reads and writes a uv_stream_t per connection itself, so TLS
 * cannot be layered on the TCP handle. Each connection is a TLS session
 * of src/net (memory BIOs, certificate checks, handshake and close
 * timeouts) and a socketpair: libraft gets one end as a uv_pipe_t, the
 * transport pumps bytes between the other end and the TLS session.
 *
 *   libraft ── uv_pipe ═ socketpair ═ uv_pipe ── pump ── net_conn (TLS) ── TCP ── peer
 *
 * Handshake (raft_tls_hello.h), inside TLS, before any raft byte: the
 * connecting node has verified that the accepting node's certificate
 * names the host of the address it dials; it sends HELLO (its id, the
 * id it dials, the cluster name, its raft address); the accepting node
 * checks, in order, the version, the cluster name, that `from` is a
 * member (not itself), that `to` is its own id, that the address is the
 * member's raft address and that the client certificate names the host
 * of that address (X509_check_ip_asc / X509_check_host), then answers
 * REPLY (accepted, or the reason) and hands libraft (id, address, stream),
 * or closes. A refusal is counted (raft_tls_stats) and logged once per
 * peer and reason (again after a connection of that peer succeeded in
 * between), on both sides. The TLS handshake, HELLO and REPLY must be done
 * within handshake_ms, or the connection is dropped.
 *
 * Addresses: a raft address may carry more than the raft address:
 * "RAFT|LINK" (anything after the first '|') is dialed, bound and compared
 * as RAFT alone, so raft's configuration can carry each member's link
 * address too. The raft part is "host:port": the node's own must be an
 * IP literal (bound); other members' may be DNS names (resolved at each
 * dial, and then the certificate must name that DNS name).
 *
 * Bounds: per connection, bytes from the network to libraft wait in one
 * fixed buffer (RAFT_TLS_PIPE_BUF); while it holds anything, the TLS
 * session stops reading its socket. Bytes from libraft to the network go
 * into net's output buffer; once its backlog passes net's high-water mark
 * (1 MiB) the transport stops reading libraft's socketpair until it
 * drained (TCP and the socketpair push back on both ends).
 *
 * Life cycle: raft_tls_new, then repl_raft_new with raft_tls_transport()
 * (one raft log per transport); libraft calls init, listen, connect and
 * close. After the raft log closed (repl_raft_close's callback),
 * raft_tls_close releases the rest asynchronously.
 *
 * Threading: single-threaded, everything on the loop thread. */
#ifndef MQS_CLUSTER_RAFT_TLS_H
#define MQS_CLUSTER_RAFT_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "cluster/peer.h"
#include "cluster/raft_tls_hello.h"

/* Bytes from the network waiting for libraft, per connection (see top). */
#define RAFT_TLS_PIPE_BUF (256u << 10)
/* Default time for the TLS handshake plus HELLO/REPLY (ms). */
#define RAFT_TLS_HANDSHAKE_MS_DEFAULT 5000

struct raft_uv_transport;
typedef struct raft_tls raft_tls;

typedef struct raft_tls_member {
    uint64_t id;         /* >= 1 */
    const char *address; /* raft address, "host:port" or "host:port|..." */
} raft_tls_member;

typedef struct raft_tls_config {
    const char *cluster_name; /* 1..RAFT_TLS_NAME_MAX bytes; both sides must agree */
    uint64_t self_id;         /* the raft log's id */
    /* The members whose connections are accepted (self may be listed:
     * skipped); raft_tls_add/remove change them at run time. */
    const raft_tls_member *members;
    size_t n_members;
    const peer_tls *tls;   /* required: the node links' files (cert, key, CA, optional CRL) */
    unsigned handshake_ms; /* 0: RAFT_TLS_HANDSHAKE_MS_DEFAULT */
} raft_tls_config;

/* Loads the certificate files (once) and makes the transport; nothing
 * listens until libraft calls listen. NULL with a one-line message in
 * err. Keeps no pointer into cfg. */
raft_tls *raft_tls_new(uv_loop_t *loop, const raft_tls_config *cfg, char *err, size_t errlen);

/* For repl_raft_config.transport. */
struct raft_uv_transport *raft_tls_transport(raft_tls *t);

/* Membership at run time (before libraft adds a node to its
 * configuration, so its connections are accepted). false: bad id or
 * address, or a duplicate/unknown id. A removed member's open connections
 * stay until libraft closes them; new ones are refused. */
bool raft_tls_add(raft_tls *t, uint64_t id, const char *address);
bool raft_tls_remove(raft_tls *t, uint64_t id);

typedef struct raft_tls_stats {
    uint64_t accepted;  /* inbound connections handed to libraft */
    uint64_t connected; /* outbound connections handed to libraft */
    /* Inbound connections this node refused, by reason (raft_tls_hello.h);
     * [RAFT_TLS_REFUSE_TLS]: the peer's certificate did not verify. */
    uint64_t refused[RAFT_TLS_REFUSE_N_];
    uint64_t dropped;           /* inbound closed before the handshake ended otherwise (timeout, reset, not TLS) */
    uint64_t dial_failed;       /* outbound attempts that did not connect, the two below included */
    uint64_t dial_refused;      /* refused by the peer (its REPLY) */
    uint64_t dial_cert_refused; /* the peer's certificate refused here */
} raft_tls_stats;

void raft_tls_stats_get(const raft_tls *t, raft_tls_stats *out);

/* After the raft log using it closed (or was never started): closes every
 * connection and the listener; `cb` (may be NULL) runs on the loop once
 * every handle is closed, and the memory is released right after it. */
void raft_tls_close(raft_tls *t, void (*cb)(void *ctx), void *ctx);

#endif
