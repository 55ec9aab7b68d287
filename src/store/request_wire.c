/* Requests and replies as bytes (see request_wire.h). */
#include "store/request_wire.h"

#include <string.h>

#include "util/le.h"

enum {
    F_DUP = 1,
    F_PERSIST = 2,
    F_USER = 4,
    F_PRINCIPAL = 8,
    F_TS = 16,
    F_FT = 32,
    F_PROTVER = 64,
    F_ALL = 127,
};
enum { R_VERSION = 1, R_STMSG = 2, R_ALL = 3 };

static void put_bytes(buf *out, store_bytes b)
{
    buf_append_u32le(out, (uint32_t)b.len);
    if (b.len) buf_append(out, b.data, b.len);
}

static uint8_t flag_if(bool on, uint8_t f) { return on ? f : 0; }

void store_wire_request_encode(const store_request *req, const store_wire_extra *x, buf *out)
{
    uint8_t flags = flag_if(x->dup, F_DUP) | flag_if(req->persist, F_PERSIST) |
                    flag_if(req->who.username.data != NULL, F_USER) | flag_if(x->principal.data != NULL, F_PRINCIPAL) |
                    flag_if(req->ts.data != NULL, F_TS) | flag_if(req->ft.data != NULL, F_FT) |
                    flag_if(req->prot_ver.data != NULL, F_PROTVER);
    buf_append_u8(out, STORE_WIRE_VERSION);
    buf_append_u8(out, flags);
    buf_append_u32le(out, req->expiry_s);
    put_bytes(out, req->who.client_id);
    if (flags & F_USER) put_bytes(out, req->who.username);
    if (flags & F_PRINCIPAL) put_bytes(out, x->principal);
    put_bytes(out, req->payload);
    put_bytes(out, req->correlation);
    if (flags & F_TS) put_bytes(out, req->ts);
    if (flags & F_FT) put_bytes(out, req->ft);
    if (flags & F_PROTVER) put_bytes(out, req->prot_ver);
}

/* A present field: never NULL, even when empty (absent is NULL). */
static store_bytes get_bytes(le_reader *r)
{
    uint32_t n;
    const uint8_t *p = le_get_lenbytes(r, &n);
    return (store_bytes){p, p ? n : 0};
}

static store_bytes get_opt(le_reader *r, uint8_t flags, uint8_t f)
{
    return flags & f ? get_bytes(r) : (store_bytes){NULL, 0};
}

bool store_wire_request_decode(const uint8_t *p, size_t n, store_request *req, store_wire_extra *x)
{
    memset(req, 0, sizeof *req);
    memset(x, 0, sizeof *x);
    le_reader r = le_reader_of(p, n);
    if (le_get_u8(&r) != STORE_WIRE_VERSION) return false;
    uint8_t flags = le_get_u8(&r);
    if (flags & ~F_ALL) return false;
    req->expiry_s = le_get_u32(&r);
    req->who.client_id = get_bytes(&r);
    req->who.username = get_opt(&r, flags, F_USER);
    x->principal = get_opt(&r, flags, F_PRINCIPAL);
    req->payload = get_bytes(&r);
    req->correlation = get_bytes(&r);
    req->ts = get_opt(&r, flags, F_TS);
    req->ft = get_opt(&r, flags, F_FT);
    req->prot_ver = get_opt(&r, flags, F_PROTVER);
    x->dup = flags & F_DUP;
    req->persist = flags & F_PERSIST;
    return le_reader_done(&r);
}

void store_wire_reply_encode(const store_reply *r, buf *out)
{
    size_t mlen = r->status_message ? strlen(r->status_message) : 0;
    if (mlen > STORE_WIRE_STMSG_MAX) mlen = STORE_WIRE_STMSG_MAX;
    uint8_t flags = flag_if(r->has_version, R_VERSION) | flag_if(r->status_message != NULL, R_STMSG);
    buf_append_u8(out, STORE_WIRE_VERSION);
    buf_append_u8(out, flags);
    buf_append_u16le(out, (uint16_t)r->status);
    if (flags & R_STMSG) put_bytes(out, (store_bytes){(const uint8_t *)r->status_message, mlen});
    if (flags & R_VERSION) put_bytes(out, (store_bytes){r->version.data, r->version.len});
    put_bytes(out, (store_bytes){r->payload.data, r->payload.len});
}

bool store_wire_reply_decode(const uint8_t *p, size_t n, store_wire_reply *out)
{
    memset(out, 0, sizeof *out);
    le_reader r = le_reader_of(p, n);
    if (le_get_u8(&r) != STORE_WIRE_VERSION) return false;
    uint8_t flags = le_get_u8(&r);
    if (flags & ~R_ALL) return false;
    out->status = le_get_u16(&r);
    out->status_message = get_opt(&r, flags, R_STMSG);
    out->version = get_opt(&r, flags, R_VERSION);
    out->payload = get_bytes(&r);
    if (out->status_message.len > STORE_WIRE_STMSG_MAX) return false;
    return le_reader_done(&r);
}
