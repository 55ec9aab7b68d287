/* The decide / apply split of the store service: decide changes nothing
 * (keyspace, de-duplication table); applying the same encoded records in
 * the same order on two fresh services gives the same replies, keyspace
 * and de-duplication state; active expiry decides EXPIRE records that
 * apply like any other; the server clock follows applied versions. */
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ssproto/hlc.h"
#include "store/record.h"
#include "store/service.h"
#include "util/buf.h"
#include "util/digest.h"

/* The payload digest the bridge passes to store_service_dedup_lookup. */
static uint64_t DG(store_bytes p) { return digest64(p.data, p.len); }

#define T0 UINT64_C(1696374425000)

static size_t notes;
static void count_note(void *ctx, const store_notification *n)
{
    (void)ctx;
    (void)n;
    notes++;
}

static store_service *svc_new(const char *node)
{
    store_config c;
    store_config_default(&c);
    c.node_id = node;
    store_service *s = store_service_new(&c, count_note, NULL);
    assert_non_null(s);
    return s;
}

/* A request under construction: RESP payload from C strings, a client
 * __ts at `now`, correlation data. Backing buffers live in the struct. */
typedef struct rq {
    buf payload;
    char ts[64], ft[64], corr[32];
    store_request req;
} rq;

static void rq_make(rq *q, uint64_t now, const char *client, const char *corr, const char *ft, size_t argc,
                    const char *const *argv)
{
    memset(q, 0, sizeof *q);
    char head[32];
    buf_append(&q->payload, head, (size_t)snprintf(head, sizeof head, "*%zu\r\n", argc));
    for (size_t i = 0; i < argc; i++) {
        buf_append(&q->payload, head, (size_t)snprintf(head, sizeof head, "$%zu\r\n", strlen(argv[i])));
        buf_append(&q->payload, argv[i], strlen(argv[i]));
        buf_append(&q->payload, "\r\n", 2);
    }
    snprintf(q->ts, sizeof q->ts, "%" PRIu64 ":0:%s", now, client);
    snprintf(q->corr, sizeof q->corr, "%s", corr);
    q->req.who.client_id = (store_bytes){(const uint8_t *)client, strlen(client)};
    q->req.payload = (store_bytes){q->payload.data, q->payload.len};
    q->req.ts = (store_bytes){(const uint8_t *)q->ts, strlen(q->ts)};
    if (ft) {
        snprintf(q->ft, sizeof q->ft, "%s", ft);
        q->req.ft = (store_bytes){(const uint8_t *)q->ft, strlen(q->ft)};
    }
    q->req.correlation = (store_bytes){(const uint8_t *)q->corr, strlen(q->corr)};
    q->req.now_ms = now;
}

#define NARGS(...) (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
#define RQ(q, now, corr, ft, ...) \
    rq_make((q), (now), "client", (corr), (ft), NARGS(__VA_ARGS__), (const char *const[]){__VA_ARGS__})

/* Everything observable about a service's state, as text: stats, the
 * value and version of each of `keys`, de-dup entries and bytes. */
static void snapshot(store_service *s, uint64_t now, const char *const *keys, size_t n, buf *out)
{
    out->len = 0;
    store_stats st;
    store_service_stats(s, &st);
    size_t de, db;
    store_service_dedup_stats(s, &de, &db);
    char line[128];
    buf_append(out, line,
               (size_t)snprintf(line, sizeof line, "keys=%zu bytes=%zu exp=%zu fenced=%zu dedup=%zu/%zu\n",
                                st.keyspace.keys, st.keyspace.bytes, st.keyspace.expiring, st.keyspace.fenced, de, db));
    store_reply r;
    store_reply_init(&r);
    for (size_t i = 0; i < n; i++) {
        rq q;
        RQ(&q, now, "get", NULL, "GET", keys[i]);
        store_record rec;
        assert_false(store_service_decide(s, &q.req, &rec, &r));
        buf_append(out, r.payload.data, r.payload.len);
        if (r.has_version) buf_append(out, r.version.data, r.version.len);
        buf_append(out, "\n", 1);
        buf_free(&q.payload);
    }
    store_reply_free(&r);
}

static void expect_payload(const store_reply *r, const char *want)
{
    assert_int_equal(r->payload.len, strlen(want));
    assert_memory_equal(r->payload.data, want, r->payload.len);
}

static void expect_same(const buf *a, const buf *b)
{
    assert_int_equal(a->len, b->len);
    assert_memory_equal(a->data, b->data, a->len);
}

static void test_decide_has_no_side_effect(void **state)
{
    (void)state;
    store_service *s = svc_new("node");
    store_reply r;
    store_reply_init(&r);
    rq q;
    RQ(&q, T0, "c0", NULL, "SET", "k", "v");
    store_service_execute(s, &q.req, &r);
    buf_free(&q.payload);
    const char *keys[] = {"k", "n"};
    buf before = {0}, after = {0};
    snapshot(s, T0, keys, 2, &before);

    /* Every write form decides into a record and changes nothing. */
    rq w[6];
    RQ(&w[0], T0 + 1, "c1", NULL, "SET", "k", "v2");
    RQ(&w[1], T0 + 1, "c2", NULL, "SET", "n", "x", "NX", "PX", "1000");
    RQ(&w[2], T0 + 1, "c3", NULL, "DEL", "k");
    RQ(&w[3], T0 + 1, "c4", NULL, "VDEL", "k", "v");
    RQ(&w[4], T0 + 1, "c5", "1:0:fence", "SET", "k", "v3");
    RQ(&w[5], T0 + 1, "c6", NULL, "SET", "k", "v4", "NEX");
    for (size_t i = 0; i < 6; i++) {
        store_record rec;
        assert_true(store_service_decide(s, &w[i].req, &rec, &r));
        assert_int_equal(rec.now_ms, T0 + 1);
        assert_int_equal(rec.correlation.len, 2);
        snapshot(s, T0, keys, 2, &after);
        expect_same(&before, &after);
        buf_free(&w[i].payload);
    }
    /* The PX deadline is absolute, stamped by decide. */
    RQ(&q, T0 + 5, "c7", NULL, "SET", "n", "x", "PX", "1000");
    store_record rec;
    assert_true(store_service_decide(s, &q.req, &rec, &r));
    assert_int_equal(rec.deadline_ms, T0 + 5 + 1000);
    assert_int_equal(rec.expiry_s, STORE_DEFAULT_EXPIRY_S); /* no Message Expiry: 10 s (§2.3) */
    assert_int_equal(rec.type, STORE_REC_SET);
    buf_free(&q.payload);
    /* Errors and reads are answered by decide itself. */
    RQ(&q, T0, "c8", NULL, "SET", "k");
    assert_false(store_service_decide(s, &q.req, &rec, &r));
    expect_payload(&r, "-ERR wrong number of arguments\r\n");
    buf_free(&q.payload);
    buf_free(&before);
    buf_free(&after);
    store_reply_free(&r);
    store_service_free(s);
}

/* A script of writes covering every outcome: insert, modify, NX refused,
 * fencing (set, required, lower), DEL of a present and an absent key,
 * VDEL equal and not, PX with lazy expiry by a later write, NEX. */
static void decide_script(store_service *s, buf *records, size_t *offs, size_t *nrec, rq *reqs, size_t *nreq)
{
    store_reply r;
    store_reply_init(&r);
    size_t n = 0;
    RQ(&reqs[n++], T0, "1", NULL, "SET", "a", "1");
    RQ(&reqs[n++], T0 + 1, "2", NULL, "SET", "a", "2");
    reqs[n - 1].req.expiry_s = 100; /* Message Expiry: remembered 100 + 60 s */
    RQ(&reqs[n++], T0 + 2, "3", NULL, "SET", "a", "3", "NX");
    RQ(&reqs[n++], T0 + 3, "4", "1:0:f", "SET", "lock", "x");
    RQ(&reqs[n++], T0 + 4, "5", NULL, "SET", "lock", "y");
    RQ(&reqs[n++], T0 + 5, "6", "0:1:f", "SET", "lock", "y");
    RQ(&reqs[n++], T0 + 6, "7", "2:0:f", "SET", "lock", "z");
    RQ(&reqs[n++], T0 + 7, "8", NULL, "DEL", "a");
    RQ(&reqs[n++], T0 + 8, "9", NULL, "DEL", "a");
    RQ(&reqs[n++], T0 + 9, "10", NULL, "SET", "b", "v", "PX", "10");
    RQ(&reqs[n++], T0 + 30, "11", NULL, "SET", "b", "w", "NX");
    RQ(&reqs[n++], T0 + 31, "12", NULL, "VDEL", "b", "nope");
    RQ(&reqs[n++], T0 + 32, "13", NULL, "VDEL", "b", "w");
    RQ(&reqs[n++], T0 + 33, "14", NULL, "SET", "c", "v", "NEX");
    RQ(&reqs[n++], T0 + 34, "15", NULL, "SET", "c", "v", "NEX");
    *nreq = n;
    *nrec = 0;
    records->len = 0;
    for (size_t i = 0; i < n; i++) {
        store_record rec;
        assert_true(store_service_decide(s, &reqs[i].req, &rec, &r));
        offs[(*nrec)++] = records->len;
        store_record_encode(&rec, records);
        /* The leader applies each record before deciding the next, as the
         * bridge does with the in-memory log. */
        store_record dec;
        assert_int_equal(store_record_decode(records->data + offs[*nrec - 1], records->len - offs[*nrec - 1], &dec),
                         STORE_RECORD_OK);
        store_service_apply(s, &dec, NULL);
    }
    offs[*nrec] = records->len;
    store_reply_free(&r);
}

static void apply_all(store_service *s, const buf *records, const size_t *offs, size_t nrec, buf *replies)
{
    store_reply r;
    store_reply_init(&r);
    replies->len = 0;
    for (size_t i = 0; i < nrec; i++) {
        store_record rec;
        assert_int_equal(store_record_decode(records->data + offs[i], offs[i + 1] - offs[i], &rec), STORE_RECORD_OK);
        store_service_apply(s, &rec, &r);
        buf_append(replies, r.payload.data, r.payload.len);
        if (r.has_version) buf_append(replies, r.version.data, r.version.len);
        buf_append(replies, "|", 1);
    }
    store_reply_free(&r);
}

static void test_apply_is_deterministic(void **state)
{
    (void)state;
    store_service *leader = svc_new("leader");
    buf records = {0};
    size_t offs[32], nrec, nreq;
    rq reqs[32];
    decide_script(leader, &records, offs, &nrec, reqs, &nreq);

    store_service *x = svc_new("x"), *y = svc_new("y");
    buf rx = {0}, ry = {0}, sx = {0}, sy = {0}, sl = {0};
    apply_all(x, &records, offs, nrec, &rx);
    apply_all(y, &records, offs, nrec, &ry);
    expect_same(&rx, &ry);
    /* The replies are today's: spot-check some outcomes. */
    buf_append(&rx, "", 1);                                                             /* NUL-terminated for strstr */
    assert_non_null(strstr((const char *)rx.data, ":-1"));                              /* NX refused */
    assert_non_null(strstr((const char *)rx.data, "-ERR a fencing token is required")); /* fencing */
    assert_non_null(strstr((const char *)rx.data, "-ERR the request fencing token is a lower"));
    rx.len--;
    const char *keys[] = {"a", "b", "c", "lock"};
    snapshot(x, T0 + 40, keys, 4, &sx);
    snapshot(y, T0 + 40, keys, 4, &sy);
    snapshot(leader, T0 + 40, keys, 4, &sl);
    expect_same(&sx, &sy);
    expect_same(&sx, &sl);
    /* The same de-duplication entries: every request is remembered with the
     * same reply on each. */
    store_reply a, b;
    store_reply_init(&a);
    store_reply_init(&b);
    /* Lifetimes count from the records' decision time, not a clock. */
    const store_request *q0 = &reqs[0].req;
    assert_true(store_service_dedup_lookup(x, q0->who.client_id, q0->correlation, DG(q0->payload),
                                           store_dedup_until(T0, STORE_DEFAULT_EXPIRY_S) - 1, &a));
    assert_false(store_service_dedup_lookup(x, q0->who.client_id, q0->correlation, DG(q0->payload),
                                            store_dedup_until(T0, STORE_DEFAULT_EXPIRY_S), &a));
    const store_request *q1 = &reqs[1].req; /* Message Expiry 100 s */
    assert_true(
        store_service_dedup_lookup(x, q1->who.client_id, q1->correlation, DG(q1->payload), T0 + 1 + 160000 - 1, &a));
    assert_false(
        store_service_dedup_lookup(x, q1->who.client_id, q1->correlation, DG(q1->payload), T0 + 1 + 160000, &a));
    for (size_t i = 0; i < nreq; i++) {
        const store_request *q = &reqs[i].req;
        assert_true(store_service_dedup_lookup(x, q->who.client_id, q->correlation, DG(q->payload), T0 + 40, &a));
        assert_true(store_service_dedup_lookup(y, q->who.client_id, q->correlation, DG(q->payload), T0 + 40, &b));
        assert_int_equal(a.payload.len, b.payload.len);
        assert_memory_equal(a.payload.data, b.payload.data, a.payload.len);
        assert_int_equal(a.has_version, b.has_version);
        /* A different payload under the same correlation is not a repeat. */
        store_bytes other = {(const uint8_t *)"*1\r\n$3\r\nGET\r\n", 13};
        assert_false(store_service_dedup_lookup(x, q->who.client_id, q->correlation, DG(other), T0 + 40, &a));
        buf_free(&reqs[i].payload);
    }
    store_reply_free(&a);
    store_reply_free(&b);
    buf_free(&records);
    buf_free(&rx);
    buf_free(&ry);
    buf_free(&sx);
    buf_free(&sy);
    buf_free(&sl);
    store_service_free(leader);
    store_service_free(x);
    store_service_free(y);
}

typedef struct emitted {
    buf bytes;
    size_t n;
    hlc version;
    char node[32];
} emitted;

static void collect(void *ctx, const store_record *r)
{
    emitted *e = ctx;
    assert_int_equal(r->type, STORE_REC_EXPIRE);
    assert_int_equal(r->client_id.len, 0);
    store_record_encode(r, &e->bytes);
    e->version = r->version;
    memcpy(e->node, r->version.node, r->version.node_len);
    e->version.node = (const uint8_t *)e->node;
    e->n++;
}

static void test_expiry_records(void **state)
{
    (void)state;
    store_service *s = svc_new("node");
    store_reply r;
    store_reply_init(&r);
    rq q;
    RQ(&q, T0, "1", NULL, "SET", "k", "v", "PX", "100");
    store_service_execute(s, &q.req, &r);
    hlc set_version;
    assert_true(hlc_parse(r.version.data, r.version.len, &set_version));
    buf_free(&q.payload);
    RQ(&q, T0, "2", NULL, "KEYNOTIFY", "k");
    store_service_execute(s, &q.req, &r);
    buf_free(&q.payload);
    notes = 0;

    emitted e = {0};
    assert_false(store_service_decide_expiry(s, T0 + 99, collect, &e)); /* not due yet */
    assert_int_equal(e.n, 0);
    /* Due: one record, and the key is still there until it is applied. */
    store_service_decide_expiry(s, T0 + 100, collect, &e);
    assert_int_equal(e.n, 1);
    assert_int_equal(store_service_next_deadline(s), T0 + 100);
    assert_int_equal(e.version.wall_ms, set_version.wall_ms);
    assert_int_equal(e.version.counter, set_version.counter);
    assert_int_equal(notes, 0);
    store_record rec;
    assert_int_equal(store_record_decode(e.bytes.data, e.bytes.len, &rec), STORE_RECORD_OK);
    store_service_apply(s, &rec, NULL);
    assert_int_equal(store_service_next_deadline(s), 0);
    assert_int_equal(notes, 1); /* NOTIFY DELETE */
    store_stats st;
    store_service_stats(s, &st);
    assert_int_equal(st.keyspace.keys, 0);
    assert_int_equal(st.deletions, 1);
    /* Applying it again (a replayed duplicate) is a no-op. */
    store_service_apply(s, &rec, NULL);
    assert_int_equal(notes, 1);
    buf_free(&e.bytes);
    store_reply_free(&r);
    store_service_free(s);
}

static void test_clock_follows_applied_versions(void **state)
{
    (void)state;
    store_service *s = svc_new("node");
    store_reply r;
    store_reply_init(&r);
    /* A record decided elsewhere, far ahead of this node's clock. */
    store_record far = {
        .type = STORE_REC_SET,
        .now_ms = T0,
        .key = {(const uint8_t *)"k", 1},
        .value = {(const uint8_t *)"v", 1},
        .version = {T0 + 3600000, 7, (const uint8_t *)"other", 5},
        .client_id = {(const uint8_t *)"c", 1},
        .correlation = {(const uint8_t *)"x", 1},
    };
    store_service_apply(s, &far, &r);
    expect_payload(&r, "+OK\r\n");
    rq q;
    RQ(&q, T0, "1", NULL, "SET", "k2", "v");
    store_record rec;
    assert_true(store_service_decide(s, &q.req, &rec, &r));
    assert_true(hlc_compare(&rec.version, &far.version) > 0);
    buf_free(&q.payload);
    /* A fence carried by an applied record is followed too. */
    store_record fenced = far;
    fenced.version = (hlc){T0, 1, (const uint8_t *)"other", 5};
    fenced.has_fence = true;
    fenced.fence = (hlc){T0 + 7200000, 0, (const uint8_t *)"f", 1};
    store_service_apply(s, &fenced, &r);
    RQ(&q, T0, "2", NULL, "DEL", "k2");
    assert_true(store_service_decide(s, &q.req, &rec, &r));
    assert_true(hlc_compare(&rec.version, &fenced.fence) > 0);
    buf_free(&q.payload);
    store_reply_free(&r);
    store_service_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decide_has_no_side_effect),
        cmocka_unit_test(test_apply_is_deterministic),
        cmocka_unit_test(test_expiry_records),
        cmocka_unit_test(test_clock_follows_applied_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
