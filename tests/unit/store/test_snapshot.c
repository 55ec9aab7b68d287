/* Snapshots of the store service (store/snapshot.c): write → load gives
 * identical keys (value, version, fence, deadline, persist), the same
 * de-duplication table (and the same one after further records), and a
 * clock that issues versions above the snapshot's high-water mark; two
 * snapshots of the same state are byte-identical; every truncation and
 * every single-byte change is refused with an error. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ssproto/hlc.h"
#include "store/dedup.h"
#include "store/keyspace.h"
#include "store/keyspace_impl.h"
#include "store/record.h"
#include "store/service.h"
#include "store/service_impl.h"
#include "store/snapshot.h"
#include "util/buf.h"
#include "util/crc32c.h"

#define T0 UINT64_C(1696374425000)
#define B(p, n) ((store_record_bytes){(const uint8_t *)(p), (n)})

static store_service *svc_new(const char *node)
{
    store_config c;
    store_config_default(&c);
    c.node_id = node;
    store_service *s = store_service_new(&c, NULL, NULL);
    assert_non_null(s);
    return s;
}

/* A sink collecting the snapshot; counts chunks and their largest size. */
typedef struct sink {
    buf out;
    size_t chunks, max_chunk, fail_after; /* fail_after 0: never fail */
} sink;

static bool sink_write(void *ctx, const void *p, size_t n)
{
    sink *k = ctx;
    k->chunks++;
    if (n > k->max_chunk) k->max_chunk = n;
    if (k->fail_after && k->chunks >= k->fail_after) return false;
    buf_append(&k->out, p, n);
    return true;
}

static void snapshot(const store_service *s, uint64_t index, sink *k)
{
    memset(k, 0, sizeof *k);
    assert_true(store_snapshot_write(s, index, sink_write, k));
    assert_true(k->max_chunk <= STORE_SNAPSHOT_CHUNK);
}

/* Applies a SET of key i (and, every 4th, a DEL of an absent key, so
 * de-duplication holds replies of both kinds). Keys are 16 bytes. */
static void apply_set_d(store_service *s, uint64_t i, size_t vlen, bool durable)
{
    char key[17], corr[16], val[256];
    snprintf(key, sizeof key, "key-%012" PRIu64, i);
    int cl = snprintf(corr, sizeof corr, "corr-%" PRIu64, i);
    memset(val, 'a' + (int)(i % 26), sizeof val);
    char cid[16];
    int cidl = snprintf(cid, sizeof cid, "client-%" PRIu64, i % 10);
    store_record r = {
        .type = STORE_REC_SET,
        .now_ms = T0 + i,
        .key = B(key, 16),
        .value = B(val, vlen % sizeof val),
        .version = {T0 + i, i % 3, (const uint8_t *)"nodeA", 5},
        .has_fence = i % 5 == 0,
        .fence = {T0, i, (const uint8_t *)"owner", 5},
        .deadline_ms = i % 3 == 0 ? T0 + 1000000 + i : 0,
        .persist = durable,
        .client_id = B(cid, (size_t)cidl),
        .correlation = B(corr, (size_t)cl),
        .payload_digest = i * 0x9e3779b97f4a7c15u,
        .expiry_s = (uint32_t)(i % 30),
    };
    store_service_apply(s, &r, NULL);
    if (i % 4 == 0) {
        store_record d = {.type = STORE_REC_DEL,
                          .now_ms = T0 + i,
                          .key = B("absent", 6),
                          .version = {T0 + i, 7, (const uint8_t *)"nodeA", 5},
                          .client_id = B(cid, (size_t)cidl),
                          .correlation = B(corr, (size_t)cl),
                          .payload_digest = i,
                          .expiry_s = 10,
                          .persist = durable};
        store_service_apply(s, &d, NULL);
    }
}

/* Snapshots hold durable state only: every write durable here. */
static void apply_set(store_service *s, uint64_t i, size_t vlen) { apply_set_d(s, i, vlen, true); }

/* Edge cases: empty key value, binary key, an expired-but-present key, a
 * large value spanning chunks. */
static void apply_edges(store_service *s)
{
    static const uint8_t bin[] = {0, 0xff, ':', '\n', 0x80};
    static uint8_t big[200000];
    memset(big, 0x5a, sizeof big);
    store_record r = {.type = STORE_REC_SET,
                      .now_ms = T0,
                      .key = B(bin, sizeof bin),
                      .value = B("", 0),
                      .version = {T0, 0, (const uint8_t *)"n\x01", 2},
                      .has_fence = true,
                      .fence = {T0 + 2000000, HLC_COUNTER_MAX, (const uint8_t *)"f", 1},
                      .persist = true};
    store_service_apply(s, &r, NULL);
    r = (store_record){.type = STORE_REC_SET,
                       .now_ms = T0,
                       .key = B("expired", 7),
                       .value = B("x", 1),
                       .version = {T0, 1, (const uint8_t *)"nodeA", 5},
                       .deadline_ms = T0 - 5,
                       .persist = true};
    store_service_apply(s, &r, NULL);
    r = (store_record){.type = STORE_REC_SET,
                       .now_ms = T0,
                       .key = B("big", 3),
                       .value = B(big, sizeof big),
                       .version = {T0, 2, (const uint8_t *)"nodeA", 5},
                       .persist = true};
    store_service_apply(s, &r, NULL);
}

static void expect_same_hlc(const hlc *a, const hlc *b)
{
    assert_int_equal(hlc_compare(a, b), 0);
    assert_memory_equal(a->node, b->node, a->node_len);
}

static void cmp_key(void *ctx, const uint8_t *key, size_t klen, const keyspace_entry_view *v)
{
    const store_service *b = ctx;
    keyspace_entry_view w;
    assert_true(keyspace_get(b->ks, key, klen, 0, &w));
    assert_int_equal(v->vlen, w.vlen);
    if (v->vlen) assert_memory_equal(v->value, w.value, v->vlen);
    expect_same_hlc(&v->version, &w.version);
    assert_int_equal(v->fenced, w.fenced);
    if (v->fenced) expect_same_hlc(&v->fence, &w.fence);
    assert_int_equal(v->deadline_ms, w.deadline_ms);
    assert_int_equal(v->persist, w.persist);
}

/* The de-duplication table as one byte string, oldest first. */
static void dd_dump_one(void *ctx, const dedup_key *k, dedup_slice meta, dedup_slice payload, uint64_t expires_at_ms)
{
    buf *o = ctx;
    dedup_slice parts[] = {k->client_id, k->correlation, meta, payload};
    for (size_t i = 0; i < 4; i++) {
        buf_append(o, &parts[i].len, sizeof parts[i].len);
        if (parts[i].len) buf_append(o, parts[i].data, parts[i].len);
    }
    buf_append(o, &k->digest, sizeof k->digest);
    buf_append(o, &expires_at_ms, sizeof expires_at_ms);
}

static void expect_same_dedup(store_service *a, store_service *b)
{
    buf da = {0}, db = {0};
    dedup_foreach(a->dedup, dd_dump_one, &da);
    dedup_foreach(b->dedup, dd_dump_one, &db);
    assert_int_equal(da.len, db.len);
    assert_memory_equal(da.data, db.data, da.len);
    assert_int_equal(dedup_bytes(a->dedup), dedup_bytes(b->dedup));
    buf_free(&da);
    buf_free(&db);
}

/* Lookups on b give a's remembered replies. */
static void lookup_one(void *ctx, const dedup_key *k, dedup_slice meta, dedup_slice payload, uint64_t expires_at_ms)
{
    store_service *b = ctx;
    dedup_slice m, p;
    assert_true(dedup_get(b->dedup, k, expires_at_ms - 1, &m, &p));
    assert_int_equal(m.len, meta.len);
    assert_int_equal(p.len, payload.len);
    if (m.len) assert_memory_equal(m.data, meta.data, m.len);
    if (p.len) assert_memory_equal(p.data, payload.data, p.len);
}

static void expect_same_state(store_service *a, store_service *b)
{
    keyspace_stats sa, sb;
    keyspace_stats_get(a->ks, &sa);
    keyspace_stats_get(b->ks, &sb);
    assert_int_equal(sa.keys, sb.keys);
    assert_int_equal(sa.bytes, sb.bytes);
    assert_int_equal(sa.fenced, sb.fenced);
    assert_int_equal(sa.expiring, sb.expiring);
    keyspace_foreach(a->ks, cmp_key, b);
    expect_same_dedup(a, b);
    dedup_foreach(a->dedup, lookup_one, b);
    hlc ha = hlc_clock_get(a->clock), hb = hlc_clock_get(b->clock);
    assert_int_equal(ha.wall_ms, hb.wall_ms);
    assert_int_equal(ha.counter, hb.counter);
}

static store_service *load_ok(const sink *k, uint64_t want_index)
{
    store_service *b = svc_new("nodeB");
    char err[256];
    uint64_t idx = 0;
    bool ok = store_snapshot_load(b, k->out.data, k->out.len, &idx, err, sizeof err);
    if (!ok) fail_msg("load: %s", err);
    assert_int_equal(idx, want_index);
    return b;
}

static void test_round_trip_many(void **state)
{
    (void)state;
    store_service *a = svc_new("nodeA");
    for (uint64_t i = 0; i < 100000; i++) apply_set(a, i, (size_t)(i * 7));
    apply_edges(a);
    sink k;
    snapshot(a, 4242, &k);
    assert_true(k.chunks > 1);
    store_service *b = load_ok(&k, 4242);
    expect_same_state(a, b);

    /* The next version b decides is above everything in the snapshot. */
    hlc hw = hlc_clock_get(a->clock);
    const char *set = "*3\r\n$3\r\nSET\r\n$2\r\nzz\r\n$1\r\nv\r\n";
    store_request rq = {.who = {.client_id = {(const uint8_t *)"c", 1}},
                        .payload = {(const uint8_t *)set, strlen(set)},
                        .ts = {(const uint8_t *)"0:0:c", 5},
                        .now_ms = 1};
    store_reply rep;
    store_reply_init(&rep);
    store_service_execute(b, &rq, &rep);
    assert_int_equal(rep.status, 200);
    if (!rep.has_version) fail_msg("SET: %.*s", (int)rep.payload.len, (const char *)rep.payload.data);
    hlc v;
    assert_true(hlc_parse(rep.version.data, rep.version.len, &v));
    assert_true(v.wall_ms > hw.wall_ms || (v.wall_ms == hw.wall_ms && v.counter > hw.counter));
    store_reply_free(&rep);

    /* Replaying further records on both gives the same state. */
    store_service_free(b);
    b = load_ok(&k, 4242);
    for (uint64_t i = 100000; i < 100500; i++) {
        apply_set(a, i, 10);
        apply_set(b, i, 10);
    }
    expect_same_state(a, b);

    /* b re-snapshotted has the same size (order may differ: its own seed). */
    sink k2;
    snapshot(b, 1, &k2);
    sink k3;
    snapshot(a, 1, &k3);
    assert_int_equal(k2.out.len, k3.out.len);
    buf_free(&k.out);
    buf_free(&k2.out);
    buf_free(&k3.out);
    store_service_free(a);
    store_service_free(b);
}

/* Keys split between the two tables of an incremental rehash are all
 * written and restored. */
/* A raft follower installs a snapshot over a service in use:
 * store_service_reset empties keys and replies, keeps KEYNOTIFY
 * registrations (they belong to live connections) and the clock (it never
 * goes back), and the snapshot then loads as into a fresh service. */
static void test_reset_then_load(void **state)
{
    (void)state;
    store_service *a = svc_new("nodeA");
    for (uint64_t i = 0; i < 2000; i++) apply_set(a, i, 10);
    sink k;
    snapshot(a, 77, &k);
    store_service *b = svc_new("nodeB");
    for (uint64_t i = 5000; i < 5600; i++) apply_set(b, i, 30);
    assert_int_equal(notify_registry_add(b->reg, "watcher", 7, "k", 1), NOTIFY_ADD_NEW);
    hlc before = hlc_clock_get(b->clock);
    char err[256];
    uint64_t idx;
    assert_false(store_snapshot_load(b, k.out.data, k.out.len, &idx, err, sizeof err)); /* not empty */
    store_service_reset(b);
    assert_true(store_snapshot_load(b, k.out.data, k.out.len, &idx, err, sizeof err));
    assert_int_equal(idx, 77);
    keyspace_foreach(a->ks, cmp_key, b);
    expect_same_dedup(a, b);
    keyspace_stats sa, sb;
    keyspace_stats_get(a->ks, &sa);
    keyspace_stats_get(b->ks, &sb);
    assert_int_equal(sa.keys, sb.keys);
    assert_int_equal(notify_registry_count(b->reg), 1);
    hlc after = hlc_clock_get(b->clock);
    assert_true(hlc_compare(&after, &before) >= 0);
    buf_free(&k.out);
    store_service_free(a);
    store_service_free(b);
}

/* Notifications seen by the installing node's watchers. */
typedef struct seen {
    char log[1024];
} seen;

static void note_notify(void *ctx, const store_notification *n)
{
    seen *x = ctx;
    size_t used = strlen(x->log);
    snprintf(x->log + used, sizeof x->log - used, "%.*s:%.*s|", (int)n->key.len, (const char *)n->key.data,
             (int)n->payload.len, (const char *)n->payload.data);
}

static void set_kv(store_service *s, const char *k, const char *v, uint64_t wall)
{
    store_record r = {.type = STORE_REC_SET, .now_ms = T0, .key = B(k, strlen(k)), .value = B(v, strlen(v))};
    r.version = (hlc){wall, 0, (const uint8_t *)"n", 1};
    r.persist = true;
    store_reply out;
    store_reply_init(&out);
    store_service_apply(s, &r, &out);
    store_reply_free(&out);
}

/* A follower installs the leader's snapshot: each watched key whose
 * entry changed is notified once with its new state; a damaged snapshot
 * is refused with the state untouched. */
static void test_install_notifies(void **state)
{
    (void)state;
    store_service *leader = svc_new("nodeA");
    set_kv(leader, "k1", "new", T0 + 10);
    set_kv(leader, "k3", "same", T0 + 3);
    set_kv(leader, "k4", "born", T0 + 11);
    sink k;
    snapshot(leader, 9, &k);
    store_config c;
    store_config_default(&c);
    c.node_id = "nodeB";
    seen x = {{0}};
    store_service *f = store_service_new(&c, note_notify, &x);
    set_kv(f, "k1", "old", T0 + 1);
    set_kv(f, "k2", "gone", T0 + 2);
    set_kv(f, "k3", "same", T0 + 3);
    x.log[0] = 0;
    const char *watched[] = {"k1", "k2", "k3", "k4"};
    for (int i = 0; i < 4; i++) notify_registry_add(f->reg, "w", 1, watched[i], 2);
    char err[256];
    uint64_t idx;
    /* Damaged: refused, nothing changed, nobody notified. */
    k.out.data[k.out.len / 2] ^= 1;
    assert_int_equal(store_service_install_snapshot(f, k.out.data, k.out.len, &idx, err, sizeof err),
                     STORE_INSTALL_REFUSED);
    k.out.data[k.out.len / 2] ^= 1;
    assert_string_equal(x.log, "");
    keyspace_entry_view v;
    assert_true(keyspace_get(f->ks, "k2", 2, 0, &v));
    /* Whole: installed; k1 and k4 SET, k2 DELETE, k3 unchanged (silent). */
    assert_int_equal(store_service_install_snapshot(f, k.out.data, k.out.len, &idx, err, sizeof err), STORE_INSTALL_OK);
    assert_int_equal(idx, 9);
    assert_non_null(strstr(x.log, "k1:"));
    assert_non_null(strstr(x.log, "new"));
    assert_non_null(strstr(x.log, "k2:"));
    assert_non_null(strstr(x.log, "DELETE"));
    assert_non_null(strstr(x.log, "k4:"));
    assert_null(strstr(x.log, "k3:"));
    assert_false(keyspace_get(f->ks, "k2", 2, 0, &v));
    buf_free(&k.out);
    store_service_free(leader);
    store_service_free(f);
}

static void test_during_rehash(void **state)
{
    (void)state;
    store_service *a = svc_new("nodeA");
    uint64_t i = 0;
    while (i < 1000 || !kstable_rehashing(&a->ks->table)) apply_set(a, i++, 5);
    sink k;
    snapshot(a, 3, &k);
    store_service *b = load_ok(&k, 3);
    expect_same_state(a, b);
    buf_free(&k.out);
    store_service_free(a);
    store_service_free(b);
}

static void test_empty(void **state)
{
    (void)state;
    store_service *a = svc_new("nodeA");
    sink k;
    snapshot(a, 0, &k);
    store_service *b = load_ok(&k, 0);
    expect_same_state(a, b);
    buf_free(&k.out);
    store_service_free(a);
    store_service_free(b);
}

static void test_deterministic(void **state)
{
    (void)state;
    store_service *a = svc_new("nodeA");
    for (uint64_t i = 0; i < 3000; i++) apply_set(a, i, (size_t)i);
    apply_edges(a);
    sink k1, k2;
    snapshot(a, 9, &k1);
    snapshot(a, 9, &k2);
    assert_int_equal(k1.out.len, k2.out.len);
    assert_memory_equal(k1.out.data, k2.out.data, k1.out.len);
    buf_free(&k1.out);
    buf_free(&k2.out);
    store_service_free(a);
}

static void expect_refused(const uint8_t *p, size_t n)
{
    store_service *b = svc_new("nodeB");
    char err[256];
    uint64_t idx = 77;
    bool ok = store_snapshot_load(b, p, n, &idx, err, sizeof err);
    if (ok) fail_msg("a damaged snapshot of %zu bytes loaded", n);
    assert_true(strncmp(err, "offset ", 7) == 0);
    assert_int_equal(idx, 77);
    store_service_free(b);
}

static void test_truncation_and_flips(void **state)
{
    (void)state;
    store_service *a = svc_new("nodeA");
    for (uint64_t i = 0; i < 40; i++) apply_set(a, i, (size_t)i);
    sink k;
    snapshot(a, 5, &k);
    uint8_t *p = malloc(k.out.len + 1);
    memcpy(p, k.out.data, k.out.len);
    for (size_t n = 0; n < k.out.len; n++) expect_refused(p, n);
    p[k.out.len] = 0;
    expect_refused(p, k.out.len + 1); /* extended */
    for (size_t i = 0; i < k.out.len; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            p[i] ^= (uint8_t)(1u << bit);
            expect_refused(p, k.out.len);
            p[i] ^= (uint8_t)(1u << bit);
        }
    }
    store_service *b = load_ok(&k, 5); /* the original still loads */
    expect_same_state(a, b);
    free(p);
    buf_free(&k.out);
    store_service_free(a);
    store_service_free(b);
}

static void test_errors_named(void **state)
{
    (void)state;
    store_service *a = svc_new("nodeA");
    apply_set(a, 1, 3);
    sink k;
    snapshot(a, 5, &k);
    char err[256];
    uint64_t idx;
    /* Not empty: a is refused as a target. */
    assert_false(store_snapshot_load(a, k.out.data, k.out.len, &idx, err, sizeof err));
    assert_string_equal(err, "offset 0: the service to load into is not empty");
    store_service *b = svc_new("nodeB");
    assert_false(store_snapshot_load(b, (const uint8_t *)"MQSSNAX", 8, &idx, err, sizeof err));
    assert_string_equal(err, "offset 0: not a snapshot (bad magic)");
    assert_false(store_snapshot_load(b, k.out.data, k.out.len - 1, &idx, err, sizeof err));
    assert_non_null(strstr(err, "trailer"));
    k.out.data[k.out.len - 1] ^= 1;
    assert_false(store_snapshot_load(b, k.out.data, k.out.len, &idx, err, sizeof err));
    assert_string_equal(strchr(err, ':'), ": file checksum mismatch (corrupted)");
    /* A tiny error buffer is still NUL-terminated. */
    char small[8];
    assert_false(store_snapshot_load(b, k.out.data, k.out.len, &idx, small, sizeof small));
    assert_int_equal(strlen(small), 7);
    buf_free(&k.out);
    store_service_free(a);
    store_service_free(b);
}

/* --- hand-made snapshots with valid checksums: the loader's own checks -- */

static void le(buf *o, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) buf_append_u8(o, (uint8_t)(v >> (8 * i)));
}

static void crc_since(buf *o, size_t start) { le(o, crc32c(0, o->data + start, o->len - start), 4); }

/* header claiming hdr_keys keys and ndedup entries; sections as given
 * (sec_keys in the KEYS section head); trailer and every CRC right. */
static void craft(buf *o, uint64_t hdr_keys, uint64_t sec_keys, const buf *keys, uint64_t ndedup, const buf *dd,
                  size_t junk)
{
    o->len = 0;
    buf_append(o, "MQSSNAP", 8);
    le(o, 1, 4);
    le(o, 0, 4);
    le(o, 1, 8);
    le(o, hdr_keys, 8);
    le(o, ndedup, 8);
    le(o, 5, 8);
    le(o, 0, 8);
    le(o, 1, 4);
    buf_append(o, "n", 1);
    crc_since(o, 0);
    size_t at = o->len;
    buf_append(o, "KEYS", 4);
    le(o, sec_keys, 8);
    if (keys->len) buf_append(o, keys->data, keys->len);
    crc_since(o, at);
    at = o->len;
    buf_append(o, "DDUP", 4);
    le(o, ndedup, 8);
    if (dd->len) buf_append(o, dd->data, dd->len);
    crc_since(o, at);
    for (size_t i = 0; i < junk; i++) buf_append_u8(o, 0);
    buf_append(o, "MQSSEND", 8);
    le(o, hdr_keys, 8);
    le(o, ndedup, 8);
    le(o, o->len + 12, 8);
    crc_since(o, 0);
}

static void key_entry(buf *o, uint8_t flags, const char *node, uint64_t deadline, const char *key)
{
    buf_append_u8(o, flags);
    le(o, 7, 8);
    le(o, 1, 8);
    le(o, strlen(node), 4);
    buf_append(o, node, strlen(node));
    if (flags & 4) le(o, deadline, 8);
    le(o, strlen(key), 4);
    buf_append(o, key, strlen(key));
    le(o, 1, 4);
    buf_append(o, "v", 1);
}

static void dd_entry(buf *o, uint64_t expires)
{
    le(o, 1, 4);
    buf_append(o, "c", 1);
    le(o, 0, 4);
    le(o, 42, 8);
    le(o, expires, 8);
    le(o, 0, 4);
    le(o, 3, 4);
    buf_append(o, ":1\n", 3);
}

static void expect_error(const buf *snap, const char *what)
{
    store_service *b = svc_new("nodeB");
    char err[256];
    uint64_t idx;
    assert_false(store_snapshot_load(b, snap->data, snap->len, &idx, err, sizeof err));
    if (!strstr(err, what)) fail_msg("error \"%s\" does not mention \"%s\"", err, what);
    store_service_free(b);
}

static void test_crafted(void **state)
{
    (void)state;
    buf o = {0}, k = {0}, d = {0};
    key_entry(&k, 1 | 4, "n", 99, "a");
    dd_entry(&d, 10);
    craft(&o, 1, 1, &k, 1, &d, 0);
    store_service *b = svc_new("nodeB");
    char err[256];
    uint64_t idx;
    if (!store_snapshot_load(b, o.data, o.len, &idx, err, sizeof err)) fail_msg("crafted: %s", err);
    keyspace_entry_view v;
    assert_true(keyspace_get(b->ks, "a", 1, 0, &v));
    assert_true(v.persist && v.deadline_ms == 99 && !v.fenced);
    assert_int_equal(dedup_count(b->dedup), 1);
    store_service_free(b);

    buf none = {0};
    craft(&o, UINT64_C(1) << 60, UINT64_C(1) << 60, &none, 0, &none, 0); /* no giant table */
    expect_error(&o, "key entry 0");
    craft(&o, 1, 2, &k, 1, &d, 0);
    expect_error(&o, "keys section count 2, header says 1");
    craft(&o, 1, 1, &k, 1, &d, 3);
    expect_error(&o, "3 unexpected bytes before the trailer");
    k.len = 0;
    key_entry(&k, 8, "n", 0, "a");
    craft(&o, 1, 1, &k, 0, &none, 0);
    expect_error(&o, "unknown flags 0x08");
    k.len = 0;
    key_entry(&k, 4, "n", 0, "a");
    craft(&o, 1, 1, &k, 0, &none, 0);
    expect_error(&o, "deadline 0");
    k.len = 0;
    key_entry(&k, 0, "a:b", 0, "a");
    craft(&o, 1, 1, &k, 0, &none, 0);
    expect_error(&o, "node id empty or containing ':'");
    k.len = 0;
    key_entry(&k, 0, "n", 0, "a");
    key_entry(&k, 0, "n", 0, "a");
    craft(&o, 2, 2, &k, 0, &none, 0);
    expect_error(&o, "key entry 1 duplicates an earlier key");
    d.len = 0;
    dd_entry(&d, 0);
    craft(&o, 0, 0, &none, 1, &d, 0);
    expect_error(&o, "lifetime 0");
    d.len = 0;
    dd_entry(&d, 5);
    dd_entry(&d, 6);
    craft(&o, 0, 0, &none, 2, &d, 0);
    expect_error(&o, "de-duplication entry 1 duplicates an earlier one");
    buf_free(&o);
    buf_free(&k);
    buf_free(&d);
}

static void count_dd(void *ctx, const dedup_key *k, dedup_slice meta, dedup_slice payload, uint64_t expires_at_ms)
{
    (void)k, (void)meta, (void)payload, (void)expires_at_ms;
    (*(size_t *)ctx)++;
}

/* state_store mode custom: keys whose value is not durable and the
 * de-duplication entries of non-durable writes stay out of a snapshot;
 * the clock mark goes in whatever wrote it. Loading it gives the writer's
 * state with its non-durable keys dropped (store_service_drop_volatile). */
static void test_only_durable(void **state)
{
    (void)state;
    store_service *a = svc_new("nodeA");
    for (uint64_t i = 0; i < 2000; i++) apply_set_d(a, i, 20, i % 3 == 0);
    /* The newest SET decides: key 3 durable, then not; key 1 the reverse. */
    apply_set_d(a, 3000, 5, false);
    store_record r = {.type = STORE_REC_SET,
                      .now_ms = T0 + 9000,
                      .key = B("key-000000000003", 16),
                      .value = B("v", 1),
                      .version = {T0 + 9000, 0, (const uint8_t *)"nodeA", 5}};
    store_service_apply(a, &r, NULL);
    assert_false(store_service_key_durable(a, (const uint8_t *)"key-000000000003", 16));
    r.key = B("key-000000000001", 16);
    r.persist = true;
    store_service_apply(a, &r, NULL);
    assert_true(store_service_key_durable(a, (const uint8_t *)"key-000000000001", 16));
    sink k;
    snapshot(a, 7, &k);
    store_service *b = load_ok(&k, 7);
    size_t dropped = store_service_drop_volatile(a);
    keyspace_stats sa;
    keyspace_stats_get(a->ks, &sa);
    assert_int_equal(sa.keys, 667);                /* 0, 3, 6, ...: lose 3, gain 1 */
    assert_int_equal(dropped, 2000 - sa.keys + 1); /* 3000 too */
    assert_int_equal(store_service_drop_volatile(a), 0);
    /* Same keys; de-duplication: the durable writes' entries only. */
    keyspace_stats sb;
    keyspace_stats_get(b->ks, &sb);
    assert_int_equal(sa.keys, sb.keys);
    assert_int_equal(sa.bytes, sb.bytes);
    keyspace_foreach(a->ks, cmp_key, b);
    size_t nb = 0;
    dedup_foreach(b->dedup, count_dd, &nb);
    /* Durable: SETs i % 3 == 0 (667) and their DELs (i % 12 == 0: 167),
     * and the durable SET of key 1 (no client id: not remembered). */
    assert_int_equal(nb, 667 + 167);
    hlc ha = hlc_clock_get(a->clock), hb = hlc_clock_get(b->clock);
    assert_int_equal(ha.wall_ms, hb.wall_ms);
    assert_int_equal(ha.counter, hb.counter);
    /* A remembered durable reply is the same after the load. */
    store_reply x, y;
    store_reply_init(&x);
    store_reply_init(&y);
    const char *cid = "client-3", *corr = "corr-3";
    assert_true(store_service_dedup_lookup(a, (store_bytes){(const uint8_t *)cid, 8},
                                           (store_bytes){(const uint8_t *)corr, 6}, 3 * 0x9e3779b97f4a7c15u, T0, &x));
    assert_true(store_service_dedup_lookup(b, (store_bytes){(const uint8_t *)cid, 8},
                                           (store_bytes){(const uint8_t *)corr, 6}, 3 * 0x9e3779b97f4a7c15u, T0, &y));
    assert_true(x.has_version && y.has_version && x.version.len == y.version.len);
    assert_memory_equal(x.version.data, y.version.data, x.version.len);
    /* A non-durable one is not in b. */
    assert_false(store_service_dedup_lookup(b, (store_bytes){(const uint8_t *)"client-1", 8},
                                            (store_bytes){(const uint8_t *)"corr-1", 6}, 0x9e3779b97f4a7c15u, T0, &y));
    store_reply_free(&x);
    store_reply_free(&y);
    buf_free(&k.out);
    store_service_free(a);
    store_service_free(b);
}

static void test_sink_failure_stops(void **state)
{
    (void)state;
    store_service *a = svc_new("nodeA");
    for (uint64_t i = 0; i < 5000; i++) apply_set(a, i, 200);
    sink k = {.fail_after = 2};
    assert_false(store_snapshot_write(a, 1, sink_write, &k));
    assert_int_equal(k.chunks, 2);
    buf_free(&k.out);
    store_service_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_many),  cmocka_unit_test(test_only_durable),
        cmocka_unit_test(test_during_rehash),    cmocka_unit_test(test_empty),
        cmocka_unit_test(test_deterministic),    cmocka_unit_test(test_truncation_and_flips),
        cmocka_unit_test(test_errors_named),     cmocka_unit_test(test_sink_failure_stops),
        cmocka_unit_test(test_crafted),          cmocka_unit_test(test_reset_then_load),
        cmocka_unit_test(test_install_notifies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
