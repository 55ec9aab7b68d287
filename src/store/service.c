/* The state store service object: lifecycle, request dispatch (decide),
 * the one apply path, de-duplication, change fan-out to KEYNOTIFY
 * watchers, active expiry and stats. The commands themselves are in
 * service_cmd.c. */
#include "store/service.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "ssproto/topic.h"
#include "store/service_impl.h"
#include "store/snapshot.h"
#include "util/alloc.h"
#include "util/digest.h"

/* Entries one store_service_expire call removes at most (well under a
 * millisecond of work), so an expiry storm cannot stall the event loop:
 * the caller runs batches within its own time budget and lets I/O run in
 * between. */
#define SVC_EXPIRE_BATCH 256

/* Reply and scratch buffers above this capacity are released when idle
 * work shrinks them (a 1 MiB GET must not pin 1 MiB per reply forever). */
#define SVC_BUF_KEEP 65536

void store_config_default(store_config *c)
{
    memset(c, 0, sizeof *c);
    /* Bound memory by default (documented in docs/configuration.md):
     * 10 M keys, 1 GiB of accounted bytes, 16 KiB keys (§6.9: longer keys
     * cannot be notified within MQTT topic limits anyway). */
    c->limits.max_keys = 10000000;
    c->limits.max_bytes = (size_t)1 << 30;
    c->limits.max_key_len = 16384;
    c->node_id = "mqstated";
    c->scan_page_keys = 100;
    c->scan_page_bytes = 65536;
    /* 1 MiB of KEYNOTIFY registrations per client: thousands of watched
     * keys of ordinary length, 32 of the longest allowed. */
    c->max_notify_bytes = (size_t)1 << 20;
    c->dedup_entries = 100000;
    c->dedup_bytes = (size_t)64 << 20;
}

void store_reply_init(store_reply *r)
{
    memset(r, 0, sizeof *r);
    r->status = 200;
}

void store_reply_free(store_reply *r)
{
    buf_free(&r->payload);
    buf_free(&r->version);
}

store_service *store_service_new(const store_config *cfg, store_notify_fn notify, void *ctx)
{
    if (!cfg->node_id || cfg->scan_page_keys == 0 || cfg->scan_page_bytes == 0) return NULL;
    if (cfg->dedup_entries == 0 || cfg->dedup_bytes == 0) return NULL;
    hlc_clock *clock = hlc_clock_new(cfg->node_id, strlen(cfg->node_id));
    if (!clock) return NULL;
    store_service *s = xcalloc(1, sizeof *s);
    s->clock = clock;
    s->ks = keyspace_new(&cfg->limits);
    s->reg = notify_registry_new(cfg->max_notify_bytes);
    s->dedup = dedup_new(cfg->dedup_entries, cfg->dedup_bytes);
    s->limits = cfg->limits;
    s->dedup_entries = cfg->dedup_entries;
    s->dedup_bytes = cfg->dedup_bytes;
    store_reply_init(&s->apply_reply);
    s->max_key_len = cfg->limits.max_key_len;
    s->scan_page_keys = cfg->scan_page_keys;
    s->scan_page_bytes = cfg->scan_page_bytes;
    s->notify = notify;
    s->notify_ctx = ctx;
    return s;
}

void store_service_free(store_service *s)
{
    if (!s) return;
    keyspace_free(s->ks);
    hlc_clock_free(s->clock);
    notify_registry_free(s->reg);
    dedup_free(s->dedup);
    store_reply_free(&s->apply_reply);
    buf_free(&s->n_topic);
    buf_free(&s->n_payload);
    buf_free(&s->n_version);
    buf_free(&s->scan_keys);
    buf_free(&s->scan_token);
    buf_free(&s->due_bytes);
    buf_free(&s->dedup_meta);
    free(s->due);
    free(s);
}

typedef struct digest_acc {
    uint64_t x;
    size_t n;
    buf scratch;
} digest_acc;

static void digest_one(void *ctx, const uint8_t *key, size_t klen, const keyspace_entry_view *v)
{
    digest_acc *a = ctx;
    buf *b = &a->scratch;
    b->len = 0;
    buf_append_u32le(b, (uint32_t)klen);
    buf_append(b, key, klen);
    buf_append_u32le(b, (uint32_t)v->vlen);
    buf_append(b, v->value, v->vlen);
    buf_append_u64le(b, v->version.wall_ms);
    buf_append_u64le(b, v->version.counter);
    buf_append(b, v->version.node, v->version.node_len);
    buf_append_u64le(b, v->fenced ? v->fence.wall_ms : 0);
    buf_append_u64le(b, v->fenced ? v->fence.counter : 0);
    buf_append_u64le(b, v->deadline_ms);
    a->x ^= digest64(b->data, b->len);
    a->n++;
}

uint64_t store_service_digest(const store_service *s, size_t *keys)
{
    digest_acc a = {0};
    keyspace_foreach(s->ks, digest_one, &a);
    buf_free(&a.scratch);
    *keys = a.n;
    return a.x;
}

/* The watched keys' entries before a snapshot install: keys, values and
 * node ids copied into one buffer (the keyspace goes away). */
typedef struct watched {
    size_t key_off, klen, val_off, vlen, node_off;
    bool had;
    hlc version; /* node is node_off into the buffer */
} watched;

typedef struct watch_set {
    const store_service *s;
    buf bytes, items; /* items: watched[] */
} watch_set;

static void watch_note(void *ctx, const uint8_t *key, size_t klen)
{
    watch_set *w = ctx;
    watched x = {.key_off = w->bytes.len, .klen = klen};
    buf_append(&w->bytes, key, klen);
    keyspace_entry_view v;
    x.had = keyspace_get(w->s->ks, key, klen, 0, &v);
    if (x.had) {
        x.val_off = w->bytes.len;
        x.vlen = v.vlen;
        buf_append(&w->bytes, v.value, v.vlen);
        x.node_off = w->bytes.len;
        buf_append(&w->bytes, v.version.node, v.version.node_len);
        x.version = v.version;
    }
    buf_append(&w->items, &x, sizeof x);
}

/* One event per watched key whose entry changed across the install. */
static void watch_publish(store_service *s, watch_set *w)
{
    size_t n = w->items.len / sizeof(watched);
    for (size_t i = 0; i < n; i++) {
        watched x;
        memcpy(&x, w->items.data + i * sizeof x, sizeof x);
        const uint8_t *key = w->bytes.data + x.key_off;
        x.version.node = w->bytes.data + x.node_off;
        keyspace_entry_view v;
        bool has = keyspace_get(s->ks, key, x.klen, 0, &v);
        if (!has && !x.had) continue;
        if (has && x.had && hlc_compare(&v.version, &x.version) == 0) continue;
        keyspace_event ev = {.key = key, .klen = x.klen};
        if (has) {
            ev.type = KEYSPACE_EVENT_SET;
            ev.value = v.value;
            ev.vlen = v.vlen;
            ev.version = v.version;
        } else {
            ev.type = KEYSPACE_EVENT_DELETE;
            ev.version = x.version;
        }
        keyspace_result res = {.nevents = 1};
        res.events[0] = ev;
        store_service__publish_events(s, &res);
    }
}

store_install store_service_install_snapshot(store_service *s, const uint8_t *p, size_t n, uint64_t *last_index,
                                             char *err, size_t errlen)
{
    return store_service_install_snapshot_ext(s, p, n, last_index, NULL, NULL, err, errlen);
}

store_install store_service_install_snapshot_ext(store_service *s, const uint8_t *p, size_t n, uint64_t *last_index,
                                                 snapshot_local_fn on_local, void *local_ctx, char *err, size_t errlen)
{
    if (!store_snapshot_verify(p, n, err, errlen)) return STORE_INSTALL_REFUSED;
    watch_set w = {.s = s};
    notify_registry_foreach_key(s->reg, watch_note, &w);
    store_service_reset(s);
    bool ok = store_snapshot_load_ext(s, p, n, last_index, on_local, local_ctx, err, errlen);
    if (!ok) store_service_reset(s); /* it holds part of the snapshot */
    watch_publish(s, &w);
    buf_free(&w.bytes);
    buf_free(&w.items);
    return ok ? STORE_INSTALL_OK : STORE_INSTALL_BROKEN;
}

void store_service_set_quiet(store_service *s, bool quiet) { s->quiet = quiet; }

void store_service_reset(store_service *s)
{
    keyspace_free(s->ks);
    s->ks = keyspace_new(&s->limits);
    dedup_free(s->dedup);
    s->dedup = dedup_new(s->dedup_entries, s->dedup_bytes);
    s->due_n = 0;
}

void store_service_set_authorizer(store_service *s, store_authorize_fn fn, void *ctx)
{
    s->authorize = fn;
    s->auth_ctx = ctx;
}

void store_service_client_gone(store_service *s, store_bytes client_id)
{
    notify_registry_drop_client(s->reg, client_id.data, client_id.len);
}

/* --- replies ---------------------------------------------------------------- */

void store_service__reply_error(svc_ctx *c, resp_error e)
{
    c->out->payload.len = 0;
    c->out->has_version = false;
    resp_put_error(&c->out->payload, e);
    c->s->errors++;
}

void store_service__reply_version(svc_ctx *c, const hlc *v)
{
    c->out->version.len = 0;
    hlc_format(v, &c->out->version);
    c->out->has_version = true;
}

/* --- notifications ------------------------------------------------------------ */

/* One event being fanned out. Payload and version are encoded on the
 * first watcher only: most keys have none, and the SET/GET hot path then
 * pays one registry lookup and nothing else. */
typedef struct fanout {
    store_service *s;
    const keyspace_event *ev;
    bool encoded;
} fanout;

static void fanout_encode(fanout *f)
{
    store_service *s = f->s;
    s->n_payload.len = 0;
    if (f->ev->type == KEYSPACE_EVENT_SET) resp_put_notify_set(&s->n_payload, f->ev->value, f->ev->vlen);
    else resp_put_notify_delete(&s->n_payload);
    s->n_version.len = 0;
    hlc_format(&f->ev->version, &s->n_version);
    f->encoded = true;
}

static void fanout_watcher(void *ctx, const notify_watcher *w)
{
    fanout *f = ctx;
    store_service *s = f->s;
    if (!f->encoded) fanout_encode(f);
    s->n_topic.len = 0;
    notify_topic_build(&s->n_topic, w->client_hex, w->hexlen, f->ev->key, f->ev->klen);
    store_notification n = {
        .client_id = {w->client_id, w->idlen},
        .key = {f->ev->key, f->ev->klen},
        .topic = {s->n_topic.data, s->n_topic.len},
        .payload = {s->n_payload.data, s->n_payload.len},
        .version = {s->n_version.data, s->n_version.len},
    };
    s->notify(s->notify_ctx, &n);
    s->notifications_sent++;
}

void store_service__publish_events(store_service *s, const keyspace_result *res)
{
    for (size_t i = 0; i < res->nevents; i++) {
        const keyspace_event *ev = &res->events[i];
        if (ev->type == KEYSPACE_EVENT_DELETE) s->deletions++;
        if (!s->notify || s->quiet) continue;
        fanout f = {s, ev, false};
        notify_registry_foreach_watcher(s->reg, ev->key, ev->klen, fanout_watcher, &f);
    }
}

/* --- dispatch ----------------------------------------------------------------- */

/* `<major>.<minor>`, each 1..9 decimal digits (no sign, no spaces). */
static bool prot_ver_parse(store_bytes v, uint32_t *major)
{
    size_t i = 0, nd = 0;
    uint32_t maj = 0;
    for (; i < v.len && v.data[i] >= '0' && v.data[i] <= '9' && nd < 9; i++, nd++)
        maj = maj * 10 + (uint32_t)(v.data[i] - '0');
    if (nd == 0 || i == v.len || v.data[i] != '.') return false;
    size_t minor_start = ++i;
    for (; i < v.len && v.data[i] >= '0' && v.data[i] <= '9' && i - minor_start < 9; i++) {}
    if (i == minor_start || i != v.len) return false;
    *major = maj;
    return true;
}

/* Absent means 1.0 (§2.3); only major version 1 exists. */
static bool prot_ver_supported(store_bytes v)
{
    uint32_t major;
    if (!v.data) return true;
    return prot_ver_parse(v, &major) && major == 1;
}

typedef void (*svc_cmd_fn)(svc_ctx *c);

static const struct {
    const char *verb;
    svc_cmd_fn fn;
} svc_commands[] = {
    {"SET", store_service__cmd_set},
    {"GET", store_service__cmd_get},
    {"DEL", store_service__cmd_del},
    {"VDEL", store_service__cmd_vdel},
    {"KEYNOTIFY", store_service__cmd_keynotify},
    {"SCAN", store_service__cmd_scan},
};

void store_request_parse(store_request *req)
{
    if (req->parsed) return;
    static const uint8_t none[1];
    const uint8_t *p = req->payload.data ? req->payload.data : none; /* no NULL + 0 */
    req->parse_status = resp_decode_request(p, req->payload.len, &req->rq);
    req->parsed = true;
}

void store_service_prefetch(store_service *s, store_request *req)
{
    store_request_parse(req);
    if (req->parse_status == RESP_OK && req->rq.argc >= 2) { /* argv[1]: the key of every keyed command */
        req->hints.key_hash = keyspace_prefetch(s->ks, req->rq.argv[1].data, req->rq.argv[1].len);
        req->hints.has_key = true;
    }
    if (req->has_digest && (req->who.client_id.len || req->correlation.len)) { /* apply's repeat check and put */
        dedup_key k = {{req->who.client_id.data, req->who.client_id.len},
                       {req->correlation.data, req->correlation.len},
                       req->payload_digest};
        req->hints.dedup_hash = dedup_prefetch(s->dedup, &k);
        req->hints.has_dedup = true;
    }
}

/* A write's record carries the request's key (argv[1]) and its
 * de-duplication key unchanged (decide copies them), so the hashes of
 * the prefetch are theirs. */
void store_service_hint(store_service *s, const store_record *r, const store_hints *h)
{
    bool keyed = r->type == STORE_REC_SET || r->type == STORE_REC_DEL || r->type == STORE_REC_VDEL;
    if (!keyed) return;
    if (h->has_key) keyspace_hint(s->ks, r->key.data, r->key.len, h->key_hash);
    if (h->has_dedup && (r->client_id.len || r->correlation.len)) {
        dedup_key k = {
            {r->client_id.data, r->client_id.len}, {r->correlation.data, r->correlation.len}, r->payload_digest};
        dedup_hint(s->dedup, &k, h->dedup_hash);
    }
}

store_request_kind store_request_classify(store_request *req)
{
    store_request_parse(req);
    if (req->parse_status != RESP_OK) return STORE_KIND_WRITE;
    const resp_request *rq = &req->rq;
    if (resp_arg_equals_ci(rq->argv[0], "KEYNOTIFY")) return STORE_KIND_NOTIFY;
    if (resp_arg_equals_ci(rq->argv[0], "CLUSTER")) return STORE_KIND_ADMIN;
    if (resp_arg_equals_ci(rq->argv[0], "GET") || resp_arg_equals_ci(rq->argv[0], "SCAN")) return STORE_KIND_READ;
    return STORE_KIND_WRITE;
}

bool store_request_repeatable(store_request *req)
{
    store_request_parse(req);
    if (req->parse_status != RESP_OK) return false;
    const resp_request *rq = &req->rq;
    if (resp_arg_equals_ci(rq->argv[0], "KEYNOTIFY")) return rq->argc == 2; /* not STOP */
    return resp_arg_equals_ci(rq->argv[0], "GET") || resp_arg_equals_ci(rq->argv[0], "SCAN");
}

static void reply_reset(store_reply *out)
{
    out->status = 200;
    out->status_message = NULL;
    out->has_version = false;
    out->payload.len = 0;
    out->version.len = 0;
    buf_shrink(&out->payload, SVC_BUF_KEEP);
}

bool store_service_decide(store_service *s, const store_request *req, store_record *rec, store_reply *out)
{
    reply_reset(out);
    if (!prot_ver_supported(req->prot_ver)) {
        /* RPC-level error: the bridge adds __supProtMajVer etc. (§2.5). */
        out->status = 505;
        out->status_message = "unsupported protocol version";
        return false;
    }
    svc_ctx c = {.s = s, .req = req, .out = out, .rec = rec};
    static const uint8_t none[1];
    const uint8_t *p = req->payload.data ? req->payload.data : none; /* no NULL + 0 */
    resp_status st = req->parsed ? req->parse_status : resp_decode_request(p, req->payload.len, &c.rq);
    if (st != RESP_OK) {
        store_service__reply_error(&c, RESP_ERR_SYNTAX);
        return false;
    }
    if (req->parsed) c.rq = req->rq;
    for (size_t i = 0; i < sizeof svc_commands / sizeof svc_commands[0]; i++) {
        if (resp_arg_equals_ci(c.rq.argv[0], svc_commands[i].verb)) {
            svc_commands[i].fn(&c);
            return c.logged;
        }
    }
    store_service__reply_error(&c, RESP_ERR_UNKNOWN_COMMAND);
    return false;
}

/* A remembered reply (meta: SVC_DEDUP_* flag byte, then __ts). */
static void reply_from_dedup(store_reply *out, dedup_slice meta, dedup_slice p)
{
    assert(meta.len >= 1);
    buf_append(&out->payload, p.data, p.len);
    out->has_version = meta.len > 1;
    buf_append(&out->version, (const uint8_t *)meta.data + 1, meta.len - 1);
}

/* Remember a write's reply under its de-duplication key, with the
 * record's decision time as the table's clock. */
static void dedup_remember(store_service *s, const store_record *r, const store_reply *out)
{
    dedup_key k = {{r->client_id.data, r->client_id.len}, {r->correlation.data, r->correlation.len}, r->payload_digest};
    buf *m = &s->dedup_meta;
    m->len = 0;
    buf_append_u8(m, r->persist ? SVC_DEDUP_DURABLE : SVC_DEDUP_VOLATILE);
    if (out->has_version) buf_append(m, out->version.data, out->version.len);
    dedup_put(s->dedup, &k, (dedup_slice){m->data, m->len}, (dedup_slice){out->payload.data, out->payload.len},
              r->now_ms, store_dedup_until(r->now_ms, r->expiry_s));
    buf_shrink(m, SVC_BUF_KEEP);
}

/* A write whose de-duplication key is already remembered is a repeat of
 * an applied write: a redelivery that was decided while its first copy
 * was still in the log (a batching or replicated log). It answers the
 * remembered reply and changes nothing; a function of the records alone,
 * so replay and replicas skip the same records. */
static bool apply_repeat(store_service *s, const store_record *r, store_reply *out)
{
    if (r->type != STORE_REC_SET && r->type != STORE_REC_DEL && r->type != STORE_REC_VDEL) return false;
    if (!r->client_id.len && !r->correlation.len) return false;
    dedup_key k = {{r->client_id.data, r->client_id.len}, {r->correlation.data, r->correlation.len}, r->payload_digest};
    dedup_slice meta, p;
    if (!dedup_get(s->dedup, &k, r->now_ms, &meta, &p)) return false;
    reply_from_dedup(out, meta, p);
    return true;
}

/* The record's effects; out is reset. */
static void apply_record(store_service *s, const store_record *r, store_reply *out)
{
    svc_ctx c = {.s = s, .out = out};
    switch (r->type) {
    case STORE_REC_SET: store_service__apply_set(&c, r); break;
    case STORE_REC_DEL:
    case STORE_REC_VDEL: store_service__apply_delete(&c, r); break;
    case STORE_REC_EXPIRE: {
        keyspace_cmd cmd = {
            .op = KEYSPACE_EXPIRE, .now_ms = r->now_ms, .key = r->key.data, .klen = r->key.len, .version = r->version};
        keyspace_result res;
        keyspace_apply(s->ks, &cmd, &res);
        for (size_t i = 0; i < res.nevents; i++) s->expirations += res.events[i].type == KEYSPACE_EVENT_DELETE;
        store_service__publish_events(s, &res);
        break;
    }
    case STORE_REC_CLOCK: break;
    }
    /* Every version (and fence) a record carries was issued or accepted by
     * some node: later versions from this one must be greater (§4.5). */
    hlc_clock_observe(s->clock, &r->version);
    if (r->has_fence) hlc_clock_observe(s->clock, &r->fence);
    if (r->type == STORE_REC_SET || r->type == STORE_REC_DEL || r->type == STORE_REC_VDEL) dedup_remember(s, r, out);
}

void store_service_apply(store_service *s, const store_record *r, store_reply *out)
{
    if (!out) out = &s->apply_reply;
    reply_reset(out);
    if (apply_repeat(s, r, out)) {
        /* The clock still follows everything a record carries (§4.5). */
        hlc_clock_observe(s->clock, &r->version);
        if (r->has_fence) hlc_clock_observe(s->clock, &r->fence);
        return;
    }
    apply_record(s, r, out);
}

void store_service_execute(store_service *s, const store_request *req, store_reply *out)
{
    store_record rec;
    /* No log in between, so no repeat can be in flight: execute applies
     * what it decided (callers without a bridge do their own lookups). */
    if (store_service_decide(s, req, &rec, out)) {
        reply_reset(out);
        apply_record(s, &rec, out);
    }
}

bool store_service_dedup_lookup(store_service *s, store_bytes client_id, store_bytes correlation,
                                uint64_t payload_digest, uint64_t now_ms, store_reply *out)
{
    dedup_key k = {{client_id.data, client_id.len}, {correlation.data, correlation.len}, payload_digest};
    dedup_slice meta, p;
    if (!dedup_get(s->dedup, &k, now_ms, &meta, &p)) return false;
    reply_reset(out);
    reply_from_dedup(out, meta, p);
    return true;
}

void store_service_dedup_stats(const store_service *s, size_t *entries, size_t *bytes)
{
    *entries = dedup_count(s->dedup);
    *bytes = dedup_bytes(s->dedup);
}

/* --- active expiry ------------------------------------------------------------ */

uint64_t store_service_next_deadline(const store_service *s) { return keyspace_next_deadline(s->ks); }

static void due_collect(void *ctx, const uint8_t *key, size_t klen, const hlc *version)
{
    store_service *s = ctx;
    if (s->due_n == s->due_cap) {
        s->due_cap = s->due_cap ? 2 * s->due_cap : 64;
        s->due = xrealloc(s->due, s->due_cap * sizeof *s->due);
    }
    svc_due *d = &s->due[s->due_n++];
    d->key_off = s->due_bytes.len;
    d->klen = klen;
    buf_append(&s->due_bytes, key, klen);
    d->node_off = s->due_bytes.len;
    d->node_len = version->node_len;
    buf_append(&s->due_bytes, version->node, version->node_len);
    d->wall_ms = version->wall_ms;
    d->counter = version->counter;
}

bool store_service_decide_expiry(store_service *s, uint64_t now_ms, store_record_fn emit, void *ctx)
{
    s->due_n = 0;
    s->due_bytes.len = 0;
    /* Collect first, emit after: collected pointers die at the first
     * apply, so keys and versions are copied into due_bytes. */
    keyspace_collect_due(s->ks, now_ms, SVC_EXPIRE_BATCH, due_collect, s);
    for (size_t i = 0; i < s->due_n; i++) {
        const svc_due *d = &s->due[i];
        /* A deletion is a server event: keep S ticking (§4.5). */
        hlc_clock_update_now(s->clock, now_ms, NULL);
        store_record r = {
            .type = STORE_REC_EXPIRE,
            .now_ms = now_ms,
            .key = {s->due_bytes.data + d->key_off, d->klen},
            .version = {d->wall_ms, d->counter, s->due_bytes.data + d->node_off, d->node_len},
        };
        emit(ctx, &r);
    }
    buf_shrink(&s->due_bytes, SVC_BUF_KEEP);
    uint64_t next = keyspace_next_deadline(s->ks);
    return next != 0 && next <= now_ms;
}

hlc store_service_clock(const store_service *s) { return hlc_clock_get(s->clock); }

bool store_service_key_durable(const store_service *s, const uint8_t *key, size_t klen)
{
    keyspace_entry_view v;
    return keyspace_get(s->ks, key, klen, 0, &v) && v.persist; /* now 0: expired entries count too */
}

size_t store_service_drop_volatile(store_service *s) { return keyspace_drop_volatile(s->ks); }

static void expire_apply(void *ctx, const store_record *r) { store_service_apply(ctx, r, NULL); }

bool store_service_expire(store_service *s, uint64_t now_ms)
{
    return store_service_decide_expiry(s, now_ms, expire_apply, s);
}

/* --- stats ---------------------------------------------------------------------- */

void store_service_reserve_keys(store_service *s, size_t n) { keyspace_reserve(s->ks, n); }

void store_service_stats(const store_service *s, store_stats *out)
{
    memset(out, 0, sizeof *out);
    keyspace_stats_get(s->ks, &out->keyspace);
    out->registrations = notify_registry_count(s->reg);
    out->insertions = s->insertions;
    out->modifications = s->modifications;
    out->deletions = s->deletions;
    out->retrievals = s->retrievals;
    out->keynotify_requests = s->keynotify_requests;
    out->notifications_sent = s->notifications_sent;
    out->errors = s->errors;
    out->expirations = s->expirations;
}
