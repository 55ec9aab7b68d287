/* Node link frames and the HELLO codec (peer_frame.h). */
#include "cluster/peer_frame.h"

#include <string.h>

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get_u64(const uint8_t *p) { return (uint64_t)get_u32(p) << 32 | get_u32(p + 4); }

static void append_u64(buf *b, uint64_t v)
{
    buf_append_u32be(b, (uint32_t)(v >> 32));
    buf_append_u32be(b, (uint32_t)v);
}

const char *peer_refusal_str(int reason)
{
    switch (reason) {
    case PEER_REFUSE_CLUSTER: return "another cluster name";
    case PEER_REFUSE_VERSION: return "another protocol version";
    case PEER_REFUSE_MEMBER: return "not a member";
    case PEER_REFUSE_TARGET: return "not the node it meant to reach";
    case PEER_REFUSE_CERT: return "its certificate does not name its member address";
    default: return "unknown reason";
    }
}

peer_frame_status peer_frame_next(const uint8_t *p, size_t len, size_t max_frame, peer_frame *f, size_t *used)
{
    if (len < 4) return PEER_FRAME_NEED_MORE;
    uint32_t flen = get_u32(p);
    if (flen == 0) return PEER_FRAME_BAD;
    if (flen > max_frame) return PEER_FRAME_TOOBIG; /* known before the frame arrives */
    if (len - 4 < flen) return PEER_FRAME_NEED_MORE;
    f->type = p[4];
    f->payload = p + PEER_FRAME_HEADER;
    f->len = flen - 1;
    *used = 4 + (size_t)flen;
    return PEER_FRAME_OK;
}

void peer_frame_append(buf *b, uint8_t type, const uint8_t *payload, size_t len)
{
    buf_append_u32be(b, (uint32_t)(len + 1));
    buf_append_u8(b, type);
    buf_append(b, payload, len);
}

bool peer_hello_append(buf *b, uint64_t from, uint64_t to, const char *cluster_name)
{
    size_t nlen = strlen(cluster_name);
    if (nlen > PEER_CLUSTER_NAME_MAX) return false;
    buf_append_u32be(b, (uint32_t)(1 + 1 + 8 + 8 + 1 + nlen));
    buf_append_u8(b, PEER_T_HELLO);
    buf_append_u8(b, PEER_PROTOCOL_VERSION);
    append_u64(b, from);
    append_u64(b, to);
    buf_append_u8(b, (uint8_t)nlen);
    buf_append(b, cluster_name, nlen);
    return true;
}

bool peer_hello_decode(const uint8_t *p, size_t len, peer_hello *out)
{
    if (len < 18) return false;
    out->version = p[0];
    out->from = get_u64(p + 1);
    out->to = get_u64(p + 9);
    out->name_len = p[17];
    if (len != 18 + out->name_len) return false;
    memcpy(out->name, p + 18, out->name_len);
    out->name[out->name_len] = '\0';
    /* A NUL inside would make two different names compare equal as C strings. */
    return memchr(out->name, '\0', out->name_len) == NULL;
}

void peer_hello_ok_append(buf *b, uint64_t id)
{
    buf_append_u32be(b, 1 + 1 + 8);
    buf_append_u8(b, PEER_T_HELLO_OK);
    buf_append_u8(b, PEER_PROTOCOL_VERSION);
    append_u64(b, id);
}

bool peer_hello_ok_decode(const uint8_t *p, size_t len, uint8_t *version, uint64_t *id)
{
    if (len != 9) return false;
    *version = p[0];
    *id = get_u64(p + 1);
    return true;
}

void peer_refuse_append(buf *b, peer_refusal reason)
{
    uint8_t r = (uint8_t)reason;
    peer_frame_append(b, PEER_T_REFUSE, &r, 1);
}

int peer_refuse_decode(const uint8_t *p, size_t len)
{
    if (len != 1 || p[0] < PEER_REFUSE_CLUSTER || p[0] > PEER_REFUSE_MAX_) return 0;
    return p[0];
}
