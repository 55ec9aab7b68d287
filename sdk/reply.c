/* Response acceptance and reply decoding. Strictness follows the union of
 * the SDKs (§2.6, §3.6): anything unexpected is MQS_ERR_PROTOCOL rather
 * than a guess, because a misread reply (e.g. a lease we think we hold)
 * is worse than a failed call. */
#include "sdk_reply.h"

#include <stdlib.h>
#include <string.h>

#include "sdk_internal.h"
#include "ssproto/resp.h"
#include "util/alloc.h"

/* resp_error and mqs_err list the §3.5 texts in the same order. */
static const mqs_err service_codes[RESP_ERR_COUNT_] = {
    [RESP_ERR_TIMESTAMP_SKEW] = MQS_ERR_TIMESTAMP_SKEW,
    [RESP_ERR_FENCING_REQUIRED] = MQS_ERR_FENCING_REQUIRED,
    [RESP_ERR_FENCING_SKEW] = MQS_ERR_FENCING_SKEW,
    [RESP_ERR_FENCING_LOWER] = MQS_ERR_FENCING_LOWER,
    [RESP_ERR_QUOTA] = MQS_ERR_QUOTA,
    [RESP_ERR_SYNTAX] = MQS_ERR_SYNTAX,
    [RESP_ERR_NOT_AUTHORIZED] = MQS_ERR_NOT_AUTHORIZED,
    [RESP_ERR_UNKNOWN_COMMAND] = MQS_ERR_UNKNOWN_COMMAND,
    [RESP_ERR_WRONG_ARGC] = MQS_ERR_WRONG_ARGC,
    [RESP_ERR_MISSING_TIMESTAMP] = MQS_ERR_MISSING_TIMESTAMP,
    [RESP_ERR_MALFORMED_TIMESTAMP] = MQS_ERR_MALFORMED_TIMESTAMP,
    [RESP_ERR_KEY_EMPTY] = MQS_ERR_KEY_EMPTY,
};

mqs_err sdk_service_error(const uint8_t *text, size_t len)
{
    resp_error e;
    return resp_error_lookup(text, len, &e) ? service_codes[e] : MQS_ERR_SERVICE_UNKNOWN;
}

const char *sdk_service_error_text(mqs_err err)
{
    for (int i = 0; i < RESP_ERR_COUNT_; i++)
        if (service_codes[i] == err) return resp_error_text((resp_error)i);
    return NULL;
}

/* `<major>.<minor>`, both 1*DIGIT; true with the major. */
static bool parse_prot_ver(const char *s, unsigned long *major)
{
    const char *dot = strchr(s, '.');
    if (!dot || dot == s || dot[1] == '\0') return false;
    unsigned long v = 0;
    for (const char *p = s; p < dot; p++) {
        if (*p < '0' || *p > '9' || v > 65535) return false;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    for (const char *p = dot + 1; *p; p++)
        if (*p < '0' || *p > '9') return false;
    *major = v;
    return true;
}

mqs_err sdk_envelope_check(const sdk_envelope *e, mqs_result *out, hlc *ts, bool *has_ts)
{
    *has_ts = false;
    if (!e->stat || strcmp(e->stat, "200") != 0) {
        if (e->st_msg) out->error_text = xstrdup(e->st_msg);
        /* 408 (the AIO RPC convention's timeout): the server gave up
         * waiting, the outcome is unknown, as for a timeout here. */
        return e->stat && !strcmp(e->stat, "408") ? MQS_ERR_TIMEOUT : MQS_ERR_STATUS;
    }
    if (e->prot_ver) {
        unsigned long major;
        if (!parse_prot_ver(e->prot_ver, &major)) return MQS_ERR_PROTOCOL;
        if (major != 1) return MQS_ERR_VERSION;
    }
    if (e->content_type && strcmp(e->content_type, "application/octet-stream") != 0) return MQS_ERR_PROTOCOL;
    if (e->ts) {
        if (!hlc_parse(e->ts, strlen(e->ts), ts)) return MQS_ERR_PROTOCOL;
        mqs_hlc probe;
        if (!sdk_hlc_from_internal(ts, &probe)) return MQS_ERR_PROTOCOL;
        *has_ts = true;
    }
    return MQS_OK;
}

static void set_version(mqs_result *out, const hlc *ts)
{
    if (ts) out->has_version = sdk_hlc_from_internal(ts, &out->version);
}

static void copy_bytes(mqs_bytes *dst, resp_slice s)
{
    dst->data = xmalloc(s.len + 1);
    if (s.len) memcpy(dst->data, s.data, s.len);
    dst->data[s.len] = '\0';
    dst->len = s.len;
}

static mqs_err decode_set(const resp_reply *r, const hlc *ts, mqs_result *out)
{
    if (r->type == RESP_SIMPLE && r->str.len == 2 && memcmp(r->str.data, "OK", 2) == 0) out->applied = true;
    else if (!(r->type == RESP_INTEGER && r->integer == -1)) return MQS_ERR_PROTOCOL;
    set_version(out, ts);
    return MQS_OK;
}

static mqs_err decode_get(const resp_reply *r, const hlc *ts, mqs_result *out)
{
    if (r->type == RESP_NULL) return MQS_OK; /* absent: no version even if sent */
    /* A hit must carry its version: "version present <=> key present". */
    if (r->type != RESP_BULK || !ts) return MQS_ERR_PROTOCOL;
    out->found = true;
    copy_bytes(&out->value, r->str);
    set_version(out, ts);
    return MQS_OK;
}

static mqs_err decode_count(const resp_reply *r, int64_t min, const hlc *ts, mqs_result *out)
{
    if (r->type != RESP_INTEGER || r->integer < min || r->integer > 1) return MQS_ERR_PROTOCOL;
    out->count = (int)r->integer;
    if (r->integer == 1) set_version(out, ts);
    return MQS_OK;
}

static bool is_ok(const resp_reply *r)
{
    return r->type == RESP_SIMPLE && r->str.len == 2 && memcmp(r->str.data, "OK", 2) == 0;
}

static mqs_err decode_unobserve(const resp_reply *r, mqs_result *out)
{
    if (is_ok(r)) out->removed = true;
    else if (!(r->type == RESP_INTEGER && r->integer == 0) && r->type != RESP_NULL) return MQS_ERR_PROTOCOL;
    return MQS_OK;
}

/* §3.8: [[keys...]] or [[keys...], token]. The token is returned as the
 * one extra element keys[nkeys] (not counted) for the pager to keep. */
static mqs_err decode_scan(const resp_reply *r, mqs_result *out)
{
    if (r->type != RESP_ARRAY || r->count < 1 || r->count > 2) return MQS_ERR_PROTOCOL;
    resp_array_iter it, kit;
    resp_reply keys, token, k;
    resp_array_iter_init(&it, r);
    if (!resp_array_next(&it, &keys) || keys.type != RESP_ARRAY) return MQS_ERR_PROTOCOL;
    bool more = r->count == 2;
    if (more && (!resp_array_next(&it, &token) || token.type != RESP_BULK)) return MQS_ERR_PROTOCOL;
    resp_array_iter_init(&kit, &keys);
    for (size_t i = 0; i < keys.count; i++)
        if (!resp_array_next(&kit, &k) || k.type != RESP_BULK) return MQS_ERR_PROTOCOL;
    out->keys = xcalloc(keys.count + 1, sizeof *out->keys);
    resp_array_iter_init(&kit, &keys);
    for (size_t i = 0; i < keys.count; i++) {
        resp_array_next(&kit, &k);
        copy_bytes(&out->keys[i], k.str);
    }
    out->nkeys = keys.count;
    out->more = more;
    if (more) copy_bytes(&out->keys[keys.count], token.str);
    return MQS_OK;
}

static mqs_err decode(sdk_op op, const resp_reply *r, const hlc *ts, mqs_result *out)
{
    if (r->type == RESP_ERROR) {
        out->error_text = xmalloc(r->str.len + 1);
        memcpy(out->error_text, r->str.data, r->str.len);
        out->error_text[r->str.len] = '\0';
        return sdk_service_error(r->str.data, r->str.len);
    }
    switch (op) {
    case SDK_OP_SET: return decode_set(r, ts, out);
    case SDK_OP_GET: return decode_get(r, ts, out);
    case SDK_OP_DEL: return decode_count(r, 0, ts, out);
    case SDK_OP_VDEL: return decode_count(r, -1, ts, out);
    case SDK_OP_OBSERVE: return is_ok(r) ? MQS_OK : MQS_ERR_PROTOCOL;
    case SDK_OP_UNOBSERVE: return decode_unobserve(r, out);
    case SDK_OP_SCAN: return decode_scan(r, out);
    case SDK_OP_OK: return is_ok(r) ? MQS_OK : MQS_ERR_PROTOCOL;
    case SDK_OP_ADMIN:
        if (r->type != RESP_BULK) return MQS_ERR_PROTOCOL;
        out->found = true;
        copy_bytes(&out->value, r->str);
        return MQS_OK;
    }
    return MQS_ERR_PROTOCOL;
}

mqs_err sdk_reply_decode(sdk_op op, const uint8_t *p, size_t n, const hlc *ts, mqs_result *out)
{
    resp_reply r;
    if (resp_parse_reply(p, n, &r) != RESP_OK) out->err = MQS_ERR_PROTOCOL;
    else out->err = decode(op, &r, ts, out);
    if (out->err != MQS_OK && !mqs_err_is_service(out->err)) {
        /* Keep nothing half-decoded from a rejected reply. */
        mqs_err err = out->err;
        mqs_result_clear(out);
        out->err = err;
    }
    return out->err;
}

void mqs_result_clear(mqs_result *r)
{
    if (!r) return;
    free(r->error_text);
    free(r->value.data);
    if (r->keys) {
        /* A SCAN result holds one hidden extra element: the token. */
        for (size_t i = 0; i <= r->nkeys; i++) free(r->keys[i].data);
        free(r->keys);
    }
    memset(r, 0, sizeof *r);
}
