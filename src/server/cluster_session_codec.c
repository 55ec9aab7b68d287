/* Node-link frames of the session registry (cluster_session_codec.h). */
#include "server/cluster_session_codec.h"

#include <string.h>

#include "util/le.h"

static void put_str(buf *out, csess_bytes b)
{
    buf_append_u16le(out, (uint16_t)b.n);
    buf_append(out, b.p, b.n);
}

static void put_blob(buf *out, csess_bytes b)
{
    buf_append_u32le(out, b.n);
    buf_append(out, b.p, b.n);
}

void csess_encode(buf *out, const csess_msg *m)
{
    buf_append_u8(out, CSESS_VERSION);
    buf_append_u64le(out, m->epoch);
    switch (m->type) {
    case CSESS_SYNC:
        buf_append_u64le(out, m->boot);
        buf_append_u32le(out, m->connections);
        buf_append_u32le(out, m->sessions);
        break;
    case CSESS_ENTRY:
        buf_append_u8(out, m->flags);
        buf_append_u64le(out, m->stamp);
        buf_append_u64le(out, m->wait_ms);
        buf_append_u32le(out, m->session_expiry);
        put_str(out, m->id);
        put_blob(out, m->principal);
        if (m->flags & CSESS_F_WILL) {
            buf_append_u8(out, m->will_qos);
            buf_append_u32le(out, m->will_delay);
            buf_append_u32le(out, m->will_expiry);
            put_str(out, m->will_topic);
            put_blob(out, m->will_props);
            put_blob(out, m->will_payload);
        }
        break;
    case CSESS_GONE:
        buf_append_u64le(out, m->wait_ms);
        put_str(out, m->id);
        break;
    case CSESS_WILL_DONE: put_str(out, m->id); break;
    case CSESS_ORPHAN_DONE:
        buf_append_u64le(out, m->node);
        buf_append_u64le(out, m->stamp);
        put_str(out, m->id);
        break;
    case CSESS_COUNTS:
        buf_append_u32le(out, m->connections);
        buf_append_u32le(out, m->sessions);
        break;
    default: break; /* BYE: the header only */
    }
}

static csess_bytes get_str(le_reader *r)
{
    uint16_t n = le_get_u16(r);
    const uint8_t *p = le_get_bytes(r, n);
    return (csess_bytes){p, p ? n : 0};
}

static csess_bytes get_blob(le_reader *r)
{
    uint32_t n;
    const uint8_t *p = le_get_lenbytes(r, &n);
    return (csess_bytes){p, p ? n : 0};
}

static const char *decode_entry(le_reader *r, csess_msg *m)
{
    m->flags = le_get_u8(r);
    m->stamp = le_get_u64(r);
    m->wait_ms = le_get_u64(r);
    m->session_expiry = le_get_u32(r);
    m->id = get_str(r);
    m->principal = get_blob(r);
    if (r->bad) return "truncated";
    if (m->flags & ~CSESS_F_ALL) return "unknown flags";
    if (!m->principal.n || m->principal.n > CSESS_PRINCIPAL_MAX) return "principal missing or too long";
    bool connected = m->flags & CSESS_F_CONNECTED, will = m->flags & CSESS_F_WILL;
    if (connected ? m->wait_ms != 0 : (!will || m->wait_ms == 0)) return "wait_ms inconsistent with the flags";
    if (!will) return m->flags & CSESS_F_WILL_RETAIN ? "will retain without a will" : NULL;
    m->will_qos = le_get_u8(r);
    m->will_delay = le_get_u32(r);
    m->will_expiry = le_get_u32(r);
    m->will_topic = get_str(r);
    m->will_props = get_blob(r);
    m->will_payload = get_blob(r);
    if (r->bad) return "truncated will";
    if (m->will_qos > 2) return "will QoS above 2";
    if (!m->will_topic.n) return "empty will topic";
    return NULL;
}

const char *csess_decode(uint8_t type, const uint8_t *p, size_t n, csess_msg *out)
{
    memset(out, 0, sizeof *out);
    out->type = type;
    if (type < CSESS_SYNC || type > CSESS_LAST) return "unknown frame type";
    le_reader r = le_reader_of(p, n);
    uint8_t version = le_get_u8(&r);
    out->epoch = le_get_u64(&r);
    if (r.bad) return "truncated header";
    if (version != CSESS_VERSION) return "unknown version";
    const char *why = NULL;
    switch (type) {
    case CSESS_SYNC:
        out->boot = le_get_u64(&r);
        out->connections = le_get_u32(&r);
        out->sessions = le_get_u32(&r);
        break;
    case CSESS_ENTRY: why = decode_entry(&r, out); break;
    case CSESS_GONE:
        out->wait_ms = le_get_u64(&r);
        out->id = get_str(&r);
        break;
    case CSESS_WILL_DONE: out->id = get_str(&r); break;
    case CSESS_ORPHAN_DONE:
        out->node = le_get_u64(&r);
        out->stamp = le_get_u64(&r);
        out->id = get_str(&r);
        break;
    case CSESS_COUNTS:
        out->connections = le_get_u32(&r);
        out->sessions = le_get_u32(&r);
        break;
    default: break;
    }
    if (why) return why;
    if (r.bad) return "truncated";
    if (type != CSESS_SYNC && type != CSESS_BYE && type != CSESS_COUNTS && !out->id.n) return "empty client id";
    if (r.n) return "trailing bytes";
    return NULL;
}
