/* The handshake of raft's TLS transport (raft_tls.h), sent inside TLS
 * before any raft byte: pure encoders and decoders, no I/O, fuzzed by
 * fuzz/fuzz_raft_tls_hello.c. Integers are big-endian.
 *
 *   HELLO = version:u8 from:u64 to:u64 name_len:u8 cluster_name addr_len:u8 address
 *   REPLY = version:u8 status:u8            (status 0: accepted, else a raft_tls_refusal)
 *
 * The connecting node sends HELLO: its raft id (from), the id it dials
 * (to), the cluster name and its own raft address as raft knows it (the
 * address the accepting side hands to libraft). The accepting node answers
 * REPLY; after an accepting REPLY the connection carries raft's bytes
 * only, after a refusing one it closes. The version byte comes first so
 * that a later version can change everything after it. */
#ifndef MQS_CLUSTER_RAFT_TLS_HELLO_H
#define MQS_CLUSTER_RAFT_TLS_HELLO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

#define RAFT_TLS_VERSION 1
#define RAFT_TLS_NAME_MAX 255 /* cluster name bytes (its length is one byte) */
#define RAFT_TLS_ADDR_MAX 255 /* address bytes (its length is one byte) */
#define RAFT_TLS_HELLO_MAX (1 + 8 + 8 + 1 + RAFT_TLS_NAME_MAX + 1 + RAFT_TLS_ADDR_MAX)
#define RAFT_TLS_REPLY_LEN 2

/* Why an accepting node refused a connection (REPLY status; counted by
 * reason in raft_tls_stats). RAFT_TLS_REFUSE_TLS is never sent: it is a
 * TLS handshake this node failed (no certificate, one that does not
 * verify, not TLS at all, too slow). */
typedef enum raft_tls_refusal {
    RAFT_TLS_ACCEPTED = 0,
    RAFT_TLS_REFUSE_VERSION,   /* another handshake version */
    RAFT_TLS_REFUSE_MALFORMED, /* not a valid HELLO */
    RAFT_TLS_REFUSE_CLUSTER,   /* another cluster name */
    RAFT_TLS_REFUSE_MEMBER,    /* `from` is not a member (or is this node) */
    RAFT_TLS_REFUSE_TARGET,    /* `to` is not this node's id */
    RAFT_TLS_REFUSE_ADDRESS,   /* the address is not the member's raft address */
    RAFT_TLS_REFUSE_CERT,      /* the certificate does not name the member's host */
    RAFT_TLS_REFUSE_TLS,       /* the TLS handshake failed (local only) */
    RAFT_TLS_REFUSE_N_,
} raft_tls_refusal;
const char *raft_tls_refusal_str(int reason);

typedef struct raft_tls_hello {
    uint8_t version;
    uint64_t from, to;
    const uint8_t *name; /* borrowed from the input */
    size_t name_len;
    char address[RAFT_TLS_ADDR_MAX + 1]; /* NUL-terminated copy */
} raft_tls_hello;

typedef enum raft_tls_hello_status {
    RAFT_TLS_HELLO_OK,
    RAFT_TLS_HELLO_NEED_MORE, /* a prefix of a valid HELLO so far */
    RAFT_TLS_HELLO_VERSION,   /* the first byte is another version */
    RAFT_TLS_HELLO_BAD,       /* malformed */
} raft_tls_hello_status;

/* Decode the HELLO at the start of p[0..len); *used is its size (OK
 * only). A HELLO is bad when an id is 0, the name or the address is
 * empty, or the address holds a byte outside printable ASCII. */
raft_tls_hello_status raft_tls_hello_decode(const uint8_t *p, size_t len, raft_tls_hello *out, size_t *used);
/* Append a HELLO; false (nothing appended) if name or address is empty or too long. */
bool raft_tls_hello_append(buf *b, uint64_t from, uint64_t to, const char *name, const char *address);
void raft_tls_reply_append(buf *b, raft_tls_refusal status);
/* A REPLY's status, or -1 if p is not a REPLY of this version. */
int raft_tls_reply_decode(const uint8_t *p, size_t len);

#endif
