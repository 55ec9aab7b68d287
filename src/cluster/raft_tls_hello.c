/* raft_tls_hello.h: the transport's handshake codec. */
#include "cluster/raft_tls_hello.h"

#include <string.h>

const char *raft_tls_refusal_str(int reason)
{
    switch (reason) {
    case RAFT_TLS_ACCEPTED: return "accepted";
    case RAFT_TLS_REFUSE_VERSION: return "another handshake version";
    case RAFT_TLS_REFUSE_MALFORMED: return "malformed handshake";
    case RAFT_TLS_REFUSE_CLUSTER: return "another cluster name";
    case RAFT_TLS_REFUSE_MEMBER: return "not a member";
    case RAFT_TLS_REFUSE_TARGET: return "dialed another node id";
    case RAFT_TLS_REFUSE_ADDRESS: return "not the member's raft address";
    case RAFT_TLS_REFUSE_CERT: return "certificate does not name the member's host";
    case RAFT_TLS_REFUSE_TLS: return "TLS handshake failed";
    default: return "unknown reason";
    }
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | p[i];
    return v;
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) p[i] = (uint8_t)v;
}

raft_tls_hello_status raft_tls_hello_decode(const uint8_t *p, size_t len, raft_tls_hello *out, size_t *used)
{
    if (len == 0) return RAFT_TLS_HELLO_NEED_MORE;
    if (p[0] != RAFT_TLS_VERSION) return RAFT_TLS_HELLO_VERSION;
    if (len < 18) return RAFT_TLS_HELLO_NEED_MORE;
    out->version = p[0];
    out->from = get_u64(p + 1);
    out->to = get_u64(p + 9);
    if (out->from == 0 || out->to == 0) return RAFT_TLS_HELLO_BAD;
    size_t at = 17;
    out->name_len = p[at++];
    if (out->name_len == 0) return RAFT_TLS_HELLO_BAD;
    if (len < at + out->name_len + 1) return RAFT_TLS_HELLO_NEED_MORE;
    out->name = p + at;
    at += out->name_len;
    size_t alen = p[at++];
    if (alen == 0) return RAFT_TLS_HELLO_BAD;
    if (len < at + alen) return RAFT_TLS_HELLO_NEED_MORE;
    for (size_t i = 0; i < alen; i++)
        if (p[at + i] < 0x21 || p[at + i] > 0x7e) return RAFT_TLS_HELLO_BAD;
    memcpy(out->address, p + at, alen);
    out->address[alen] = '\0';
    *used = at + alen;
    return RAFT_TLS_HELLO_OK;
}

bool raft_tls_hello_append(buf *b, uint64_t from, uint64_t to, const char *name, const char *address)
{
    size_t nl = strlen(name), al = strlen(address);
    if (nl == 0 || nl > RAFT_TLS_NAME_MAX || al == 0 || al > RAFT_TLS_ADDR_MAX) return false;
    uint8_t head[18];
    head[0] = RAFT_TLS_VERSION;
    put_u64(head + 1, from);
    put_u64(head + 9, to);
    head[17] = (uint8_t)nl;
    buf_append(b, head, sizeof head);
    buf_append(b, name, nl);
    uint8_t l = (uint8_t)al;
    buf_append(b, &l, 1);
    buf_append(b, address, al);
    return true;
}

void raft_tls_reply_append(buf *b, raft_tls_refusal status)
{
    uint8_t r[RAFT_TLS_REPLY_LEN] = {RAFT_TLS_VERSION, (uint8_t)status};
    buf_append(b, r, sizeof r);
}

int raft_tls_reply_decode(const uint8_t *p, size_t len)
{
    if (len < RAFT_TLS_REPLY_LEN || p[0] != RAFT_TLS_VERSION) return -1;
    return p[1];
}
