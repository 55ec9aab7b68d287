/* The state store commands (protocol §6): argument validation in the
 * order of §6.10 / §5.3 / §10.3, then one keyspace operation, then the
 * reply and its `__ts` per the §2.4 table.
 *
 * Check order, shared by every command:
 *   argc (wrong number of arguments) → option words, PX, STOP, SCAN token
 *   (syntax error) → empty key → authorization → __ts (missing on SET,
 *   malformed, skew) → __ft on SET/DEL/VDEL (malformed, fencing skew) →
 *   the keyspace (fencing required/lower, condition :-1, quota).
 * Framing errors and unknown verbs are answered by the dispatcher first.
 *
 * Decisions where the spec leaves a choice:
 *   - A new key longer than max_key_len is answered with
 *     `-ERR the quota has been exceeded`: it is a resource limit, and the
 *     SDKs map that text to a typed error, while `syntax error` would
 *     wrongly blame the request and any new text surfaces as "unknown".
 *     KEYNOTIFY (registering, not STOP) answers the same text for a key
 *     beyond max_key_len, a notification topic beyond 65,535 bytes, and a
 *     client's registrations beyond max_notify_bytes (checked last, like
 *     the quota of a SET).
 *   - SCAN with a pattern glob_valid rejects (not UTF-8, unterminated
 *     class) answers an empty final page: such a pattern matches nothing
 *     (§3.8), and a syntax error would make the SDK pager fail instead of
 *     finishing empty.
 *   - SCAN with an empty pattern is `the key length is zero` (the pattern
 *     takes the key's place, §3.1).
 *   - DEL/VDEL tick the server clock when decided (§4.5 [R]: a deletion
 *     is a server event; the record carries the ticked version so that
 *     apply, on every node, moves the clock past it), although the reply
 *     carries the removed entry's version.
 *
 * SET, DEL and VDEL are decided here into a store_record (c->rec) and
 * applied by store_service__apply_set / __apply_delete from the record
 * alone; GET, KEYNOTIFY and SCAN do not change the keyspace and answer
 * at once. */
#include <stdint.h>
#include <string.h>

#include "ssproto/glob.h"
#include "ssproto/topic.h"
#include "store/service_impl.h"
#include "util/digest.h"

/* --- shared checks -------------------------------------------------------------- */

/* Empty key, then authorization. Replies and returns false on failure. */
static bool check_key(svc_ctx *c, resp_slice key, store_access access)
{
    if (key.len == 0) {
        store_service__reply_error(c, RESP_ERR_KEY_EMPTY);
        return false;
    }
    store_service *s = c->s;
    if (s->authorize && !s->authorize(s->auth_ctx, &c->req->who, key.data, key.len, access)) {
        store_service__reply_error(c, RESP_ERR_NOT_AUTHORIZED);
        return false;
    }
    /* The second stage of the bridge's store_service_prefetch: the bucket
     * it started loading has had the dispatch and the authorization check
     * to arrive; the entry now gets the rest of decide and apply's prelude. */
    keyspace_prefetch(s->ks, key.data, key.len);
    return true;
}

/* An optional HLC user property: absent is fine (*has = false); present
 * must parse and be at most 60 s ahead of the server wall clock. */
static bool check_stamp(svc_ctx *c, store_bytes p, resp_error skew, bool *has, hlc *out)
{
    *has = p.data != NULL;
    if (!*has) return true;
    if (!hlc_parse(p.data, p.len, out)) {
        store_service__reply_error(c, RESP_ERR_MALFORMED_TIMESTAMP);
        return false;
    }
    if (hlc_too_far_ahead(out, c->req->now_ms, HLC_MAX_SKEW_MS)) {
        store_service__reply_error(c, skew);
        return false;
    }
    return true;
}

/* The request's timestamps, parsed (node ids point into the request). */
typedef struct stamps {
    bool has_ts, has_ft;
    hlc ts, ft;
} stamps;

static bool check_ts(svc_ctx *c, stamps *st)
{
    return check_stamp(c, c->req->ts, RESP_ERR_TIMESTAMP_SKEW, &st->has_ts, &st->ts);
}

static bool check_ts_ft(svc_ctx *c, stamps *st)
{
    return check_ts(c, st) && check_stamp(c, c->req->ft, RESP_ERR_FENCING_SKEW, &st->has_ft, &st->ft);
}

/* The errors a keyspace status maps to (APPLIED/NOT_APPLIED excluded). */
static resp_error status_error(keyspace_status st)
{
    switch (st) {
    case KEYSPACE_FENCING_REQUIRED: return RESP_ERR_FENCING_REQUIRED;
    case KEYSPACE_FENCING_LOWER: return RESP_ERR_FENCING_LOWER;
    default: return RESP_ERR_QUOTA; /* QUOTA_EXCEEDED, KEY_TOO_LONG (see top) */
    }
}

static void wrong_argc(svc_ctx *c) { store_service__reply_error(c, RESP_ERR_WRONG_ARGC); }
static void syntax_error(svc_ctx *c) { store_service__reply_error(c, RESP_ERR_SYNTAX); }

/* Fill the record of a write whose checks passed: type, decision time,
 * key (argv[1]), the stamped version, the fence and the de-duplication
 * key. Everything points into the request or the clock. */
static void decide_write(svc_ctx *c, store_record_type type, const stamps *st, const hlc *version)
{
    const store_request *req = c->req;
    store_record *r = c->rec;
    memset(r, 0, sizeof *r);
    r->type = type;
    r->now_ms = req->now_ms;
    r->key = (store_record_bytes){c->rq.argv[1].data, c->rq.argv[1].len};
    r->version = *version;
    r->has_fence = st->has_ft;
    if (st->has_ft) r->fence = st->ft;
    r->client_id = (store_record_bytes){req->who.client_id.data, req->who.client_id.len};
    r->correlation = (store_record_bytes){req->correlation.data, req->correlation.len};
    r->payload_digest = req->has_digest ? req->payload_digest : digest64(req->payload.data, req->payload.len);
    r->expiry_s = req->expiry_s ? req->expiry_s : STORE_DEFAULT_EXPIRY_S;
    c->logged = true;
}

/* --- SET --------------------------------------------------------------------------- */

typedef struct set_opts {
    keyspace_cond cond;
    bool has_px;
    uint64_t px;
} set_opts;

/* `[NX|NEX] [PX <ms>]` in any order, each at most once; PX a positive
 * integer fitting 63 bits (§6.2). False: syntax error. */
static bool set_parse_options(const resp_request *rq, set_opts *o)
{
    for (size_t i = 3; i < rq->argc; i++) {
        resp_slice a = rq->argv[i];
        if (resp_arg_equals_ci(a, "NX") || resp_arg_equals_ci(a, "NEX")) {
            if (o->cond != KEYSPACE_COND_NONE) return false;
            o->cond = a.len == 2 ? KEYSPACE_COND_NX : KEYSPACE_COND_NEX;
        } else if (resp_arg_equals_ci(a, "PX")) {
            if (o->has_px || ++i == rq->argc) return false;
            if (!resp_arg_u64(rq->argv[i], &o->px) || o->px == 0 || o->px > INT64_MAX) return false;
            o->has_px = true;
        } else {
            return false;
        }
    }
    return true;
}

static size_t key_count(const keyspace *ks)
{
    keyspace_stats st;
    keyspace_stats_get(ks, &st);
    return st.keys;
}

/* Count an applied SET as an insertion or a modification. A lazily
 * expired entry removed by the same command makes it an insertion. */
static void set_count(store_service *s, const keyspace_result *res, size_t keys_before)
{
    size_t expired = res->nevents - 1; /* events before the SET's own */
    if (key_count(s->ks) + expired > keys_before) s->insertions++;
    else s->modifications++;
}

void store_service__cmd_set(svc_ctx *c)
{
    const resp_request *rq = &c->rq;
    store_service *s = c->s;
    const store_request *req = c->req;
    set_opts o = {0};
    stamps st;
    hlc version;

    if (rq->argc < 3) {
        wrong_argc(c);
        return;
    }
    if (!set_parse_options(rq, &o)) {
        syntax_error(c);
        return;
    }
    if (!check_key(c, rq->argv[1], STORE_ACCESS_WRITE)) return;
    if (!req->ts.data) {
        store_service__reply_error(c, RESP_ERR_MISSING_TIMESTAMP);
        return;
    }
    if (!check_ts_ft(c, &st)) return;
    /* The new version is > the request's __ts and every earlier version
     * (§4.5); it is spent even if the SET turns out not to apply (the
     * record carries it, and apply moves every node's clock past it). */
    if (!hlc_clock_update_from(s->clock, &st.ts, req->now_ms, &version)) {
        store_service__reply_error(c, RESP_ERR_MALFORMED_TIMESTAMP);
        return;
    }

    uint64_t deadline = 0;
    if (o.has_px) deadline = o.px > UINT64_MAX - req->now_ms ? UINT64_MAX : req->now_ms + o.px;
    decide_write(c, STORE_REC_SET, &st, &version);
    c->rec->value = (store_record_bytes){rq->argv[2].data, rq->argv[2].len};
    c->rec->cond = (uint8_t)o.cond;
    c->rec->deadline_ms = deadline;
    c->rec->persist = req->persist;
}

/* The reply of an applied SET, DEL or VDEL that did not apply (§2.4). */
static void reply_not_applied(svc_ctx *c, const keyspace_result *res)
{
    resp_put_int(&c->out->payload, -1);
    store_service__reply_version(c, &res->version); /* current version */
}

void store_service__apply_set(svc_ctx *c, const store_record *r)
{
    store_service *s = c->s;
    keyspace_cmd cmd = {
        .op = KEYSPACE_SET,
        .now_ms = r->now_ms,
        .key = r->key.data,
        .klen = r->key.len,
        .value = r->value.data,
        .vlen = r->value.len,
        .cond = (keyspace_cond)r->cond,
        .version = r->version,
        .fence = r->has_fence ? &r->fence : NULL,
        .deadline_ms = r->deadline_ms,
        .persist = r->persist,
    };
    size_t keys_before = key_count(s->ks);
    keyspace_result res;
    keyspace_apply(s->ks, &cmd, &res);
    store_service__publish_events(s, &res);

    if (res.status == KEYSPACE_APPLIED) {
        set_count(s, &res, keys_before);
        resp_put_ok(&c->out->payload);
        store_service__reply_version(c, &res.version);
    } else if (res.status == KEYSPACE_NOT_APPLIED) {
        reply_not_applied(c, &res);
    } else {
        store_service__reply_error(c, status_error(res.status));
    }
}

/* --- GET ---------------------------------------------------------------------------- */

void store_service__cmd_get(svc_ctx *c)
{
    const resp_request *rq = &c->rq;
    stamps st;
    keyspace_entry_view e;

    if (rq->argc != 2) {
        wrong_argc(c);
        return;
    }
    if (!check_key(c, rq->argv[1], STORE_ACCESS_READ)) return;
    if (!check_ts(c, &st)) return;
    c->s->retrievals++;
    /* Read-only: an expired entry is a miss here and removed later by
     * active expiry (or the next write), which notifies its watchers. */
    if (keyspace_get(c->s->ks, rq->argv[1].data, rq->argv[1].len, c->req->now_ms, &e)) {
        resp_put_bulk(&c->out->payload, e.value, e.vlen);
        store_service__reply_version(c, &e.version);
    } else {
        resp_put_null(&c->out->payload); /* no __ts on a miss (§2.4) */
    }
}

/* --- DEL / VDEL ---------------------------------------------------------------------- */

static void delete_decide(svc_ctx *c, store_record_type type)
{
    const resp_request *rq = &c->rq;
    stamps st;
    hlc version;

    if (!check_key(c, rq->argv[1], STORE_ACCESS_WRITE)) return;
    if (!check_ts_ft(c, &st)) return;
    if (!hlc_clock_update_now(c->s->clock, c->req->now_ms, &version)) {
        store_service__reply_error(c, RESP_ERR_MALFORMED_TIMESTAMP);
        return;
    }
    decide_write(c, type, &st, &version);
    if (type == STORE_REC_VDEL) c->rec->value = (store_record_bytes){rq->argv[2].data, rq->argv[2].len};
}

void store_service__apply_delete(svc_ctx *c, const store_record *r)
{
    store_service *s = c->s;
    keyspace_cmd cmd = {
        .op = r->type == STORE_REC_VDEL ? KEYSPACE_VDEL : KEYSPACE_DEL,
        .now_ms = r->now_ms,
        .key = r->key.data,
        .klen = r->key.len,
        .value = r->type == STORE_REC_VDEL ? r->value.data : NULL,
        .vlen = r->type == STORE_REC_VDEL ? r->value.len : 0,
        .fence = r->has_fence ? &r->fence : NULL,
    };
    keyspace_result res;
    keyspace_apply(s->ks, &cmd, &res);
    store_service__publish_events(s, &res);

    if (res.status == KEYSPACE_APPLIED) {
        resp_put_int(&c->out->payload, res.count);
        if (res.has_version) store_service__reply_version(c, &res.version); /* removed entry's */
    } else if (res.status == KEYSPACE_NOT_APPLIED) {
        reply_not_applied(c, &res);
    } else {
        store_service__reply_error(c, status_error(res.status));
    }
}

void store_service__cmd_del(svc_ctx *c)
{
    if (c->rq.argc != 2) {
        wrong_argc(c);
        return;
    }
    delete_decide(c, STORE_REC_DEL);
}

void store_service__cmd_vdel(svc_ctx *c)
{
    if (c->rq.argc != 3) {
        wrong_argc(c);
        return;
    }
    delete_decide(c, STORE_REC_VDEL);
}

/* --- KEYNOTIFY ------------------------------------------------------------------------ */

/* A registration's key obeys the limit a SET's key does, and its
 * notification topic (hex of client id and key) must fit MQTT's topic
 * limit: a registration that could never be notified is refused instead
 * of producing a PUBLISH the codec cannot represent. */
static bool keynotify_fits(const svc_ctx *c, resp_slice key)
{
    const store_service *s = c->s;
    if (s->max_key_len && key.len > s->max_key_len) return false;
    return notify_topic_len(c->req->who.client_id.len, key.len) <= NOTIFY_TOPIC_MAX;
}

void store_service__cmd_keynotify(svc_ctx *c)
{
    const resp_request *rq = &c->rq;
    const store_bytes *id = &c->req->who.client_id;
    stamps st;

    if (rq->argc < 2 || rq->argc > 3) {
        wrong_argc(c);
        return;
    }
    bool stop = rq->argc == 3;
    if (stop && !resp_arg_equals_ci(rq->argv[2], "STOP")) {
        syntax_error(c);
        return;
    }
    if (!check_key(c, rq->argv[1], STORE_ACCESS_READ)) return;
    if (!check_ts(c, &st)) return;
    c->s->keynotify_requests++;
    resp_slice key = rq->argv[1];
    if (!stop) {
        if (!keynotify_fits(c, key)) {
            store_service__reply_error(c, RESP_ERR_QUOTA);
            return;
        }
        /* Idempotent: re-registering answers +OK too (§7.1). */
        if (notify_registry_add(c->s->reg, id->data, id->len, key.data, key.len) == NOTIFY_ADD_OVER_LIMIT) {
            store_service__reply_error(c, RESP_ERR_QUOTA);
            return;
        }
        resp_put_ok(&c->out->payload);
    } else if (notify_registry_remove(c->s->reg, id->data, id->len, key.data, key.len)) {
        resp_put_ok(&c->out->payload);
    } else {
        resp_put_int(&c->out->payload, 0);
    }
}

/* --- SCAN ------------------------------------------------------------------------------ */

typedef struct scan_page {
    svc_ctx *c;
    size_t nkeys;
} scan_page;

/* Keep only the keys the requester may Read (§10.2); the others do not
 * count toward the page size, so pages depend only on readable keys. */
static bool scan_emit(void *ctx, const uint8_t *key, size_t klen)
{
    scan_page *p = ctx;
    store_service *s = p->c->s;
    if (s->authorize && !s->authorize(s->auth_ctx, &p->c->req->who, key, klen, STORE_ACCESS_READ)) return false;
    resp_put_bulk(&s->scan_keys, key, klen);
    p->nkeys++;
    return true;
}

void store_service__cmd_scan(svc_ctx *c)
{
    const resp_request *rq = &c->rq;
    store_service *s = c->s;
    uint64_t cursor = 0;
    stamps st;

    if (rq->argc < 2 || rq->argc > 3) {
        wrong_argc(c);
        return;
    }
    if (rq->argc == 3 && !keyspace_cursor_decode(rq->argv[2].data, rq->argv[2].len, &cursor)) {
        syntax_error(c);
        return;
    }
    resp_slice pat = rq->argv[1];
    if (pat.len == 0) {
        store_service__reply_error(c, RESP_ERR_KEY_EMPTY);
        return;
    }
    if (!check_ts(c, &st)) return;

    scan_page page = {c, 0};
    s->scan_keys.len = 0;
    uint64_t next = 0;
    if (glob_valid(pat.data, pat.len))
        next = keyspace_scan(s->ks, pat.data, pat.len, cursor, c->req->now_ms, s->scan_page_keys, s->scan_page_bytes,
                             scan_emit, &page);
    buf *out = &c->out->payload;
    resp_put_array(out, next ? 2 : 1);
    resp_put_array(out, page.nkeys);
    buf_append(out, s->scan_keys.data, s->scan_keys.len);
    if (next) {
        s->scan_token.len = 0;
        keyspace_cursor_encode(next, &s->scan_token);
        resp_put_bulk(out, s->scan_token.data, s->scan_token.len);
    }
}
