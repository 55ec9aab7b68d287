/* Durable sessions (src/broker/persist_session.c): the records the hooks
 * append replay into the same sessions, a snapshot replays into the same
 * sessions, sessions that expired while down are gone, a refused record
 * makes the session be rewritten whole. Drives the broker's internals
 * with a memory sink: no sockets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/internal.h"
#include "broker/persist_session.h"
#include "server/principal_ops.h"
#include "util/alloc.h"
#include "util/clock.h"

static mqtt_bytes B(const char *s) { return (mqtt_bytes){(const uint8_t *)s, (uint32_t)strlen(s)}; }

typedef struct rec {
    uint8_t type;
    uint8_t *p;
    size_t n;
} rec;

typedef struct sink {
    rec *r;
    size_t n, cap;
    uint64_t seq;
    bool refuse;
} sink;

static void sink_add(sink *k, uint8_t type, const void *p, size_t n)
{
    if (k->n == k->cap) {
        k->cap = k->cap ? 2 * k->cap : 64;
        k->r = xrealloc(k->r, k->cap * sizeof *k->r);
    }
    k->r[k->n++] = (rec){type, xmemdup(p, n), n};
}

static void sink_free(sink *k)
{
    for (size_t i = 0; i < k->n; i++) free(k->r[i].p);
    free(k->r);
    memset(k, 0, sizeof *k);
}

static size_t sink_count(const sink *k, uint8_t type)
{
    size_t n = 0;
    for (size_t i = 0; i < k->n; i++) n += k->r[i].type == type;
    return n;
}

static uint64_t sink_append(void *ctx, uint8_t type, const uint8_t *p, size_t n)
{
    sink *k = ctx;
    if (k->refuse) return 0;
    sink_add(k, type, p, n);
    return ++k->seq;
}

static bool snap_write(void *ctx, uint8_t type, const broker_persist_piece *pieces, unsigned n)
{
    buf all = {0};
    for (unsigned i = 0; i < n; i++) buf_append(&all, pieces[i].p, pieces[i].n);
    sink_add(ctx, type, all.data, all.len);
    buf_free(&all);
    return true;
}

typedef struct node {
    uv_loop_t loop;
    broker *b;
    sink log;
} node;

static void node_start(node *n)
{
    memset(n, 0, sizeof *n);
    uv_loop_init(&n->loop);
    broker_limits l;
    broker_limits_default(&l);
    n->b = broker_new(&n->loop, &l, &server_principal_ops);
    broker_persist_sink sk = {.append = sink_append, .ctx = &n->log};
    broker_persist_select sel = {.sessions = BROKER_PERSIST_ALL};
    broker_set_persistence(n->b, &sk, &sel);
}

/* Start n from the records of `from`; returns what was restored. */
static broker_persist_restored node_restart(node *n, const sink *from)
{
    node_start(n);
    for (size_t i = 0; i < from->n; i++)
        assert_null(broker_persist_replay(n->b, from->r[i].type, from->r[i].p, from->r[i].n));
    broker_persist_restored out;
    broker_persist_replay_done(n->b, &out);
    return out;
}

static void node_stop(node *n)
{
    broker_shutdown(n->b);
    uv_run(&n->loop, UV_RUN_DEFAULT);
    broker_free(n->b);
    uv_loop_close(&n->loop);
    sink_free(&n->log);
}

/* A durable offline session, as a connection leaving it makes it. */
static session *offline_session(broker *b, const char *id, uint32_t expiry)
{
    session *s = broker__session_create(b, B(id));
    s->expiry = expiry;
    broker__psess_attached(s);
    broker__session_keep_principal(s,
                                   server_principal_ops.make_anonymous(B(id), &(mqtt_bytes){(const uint8_t *)"u", 1}));
    broker__session_went_offline(s);
    return s;
}

static void publish(broker *b, const char *topic, const char *payload, uint8_t qos, uint32_t expiry_s)
{
    msg *m = broker__msg_new(B(topic), B(payload), B(""), qos, false);
    if (expiry_s) m->expiry_at = broker_now() + expiry_s * 1000ull;
    broker__route_message(b, m, NULL, NULL);
    broker__msg_unref(m);
}

/* The queue's head goes in flight (what deliver.c's pump does on a send). */
static void send_head(session *s, uint16_t pid)
{
    delivery *d = broker__dlv_pop(&s->queue);
    d->packet_id = pid;
    d->state = DLV_SENT;
    broker__dlv_push(&s->inflight, d);
    broker__psess_pid(s, PSESS_SENT, pid);
}

static void assert_same_list(const dlv_list *a, const dlv_list *b)
{
    assert_int_equal(a->n, b->n);
    assert_int_equal(a->bytes, b->bytes);
    for (const delivery *x = a->head, *y = b->head; x; x = x->next, y = y->next) {
        assert_int_equal(x->qos, y->qos);
        assert_int_equal(x->state, y->state);
        assert_int_equal(x->packet_id, y->packet_id);
        assert_int_equal(x->retain, y->retain);
        assert_int_equal(x->n_sub_ids, y->n_sub_ids);
        assert_memory_equal(broker__delivery_sub_ids(x), broker__delivery_sub_ids(y), x->n_sub_ids * 4u);
        assert_int_equal(!x->share, !y->share);
        if (x->share) assert_memory_equal(x->share->filter, y->share->filter, x->share->len);
        assert_int_equal(!x->m, !y->m);
        if (!x->m) continue;
        assert_true(mqtt_bytes_eq(x->m->topic, y->m->topic));
        assert_true(mqtt_bytes_eq(x->m->payload, y->m->payload));
        assert_int_equal(!x->m->expiry_at, !y->m->expiry_at);
        if (x->m->expiry_at) assert_true(llabs((long long)x->m->expiry_at - (long long)y->m->expiry_at) < 2000);
    }
}

/* Every durable session of a is in b, the same. */
static void assert_same_sessions(broker *a, broker *b)
{
    size_t n = 0;
    for (size_t i = 0; i < a->sessions.nbuckets; i++) {
        for (session *s = a->sessions.buckets[i]; s; s = s->table_next) {
            if (!(s->psess & PSESS_ON)) continue;
            n++;
            session *t = broker__session_find(b, (mqtt_bytes){s->id, s->id_len});
            assert_non_null(t);
            assert_true(t->psess & PSESS_ON);
            assert_int_equal(s->expiry, t->expiry);
            assert_true(llabs((long long)s->expire_at - (long long)t->expire_at) < 2000);
            assert_true(server_principal_ops.same(broker__session_principal(s), broker__session_principal(t)));
            assert_int_equal(s->n_subs, t->n_subs);
            for (uint32_t k = 0; k < s->n_subs; k++) {
                sub_rec *r = broker__session_sub_find(t, (mqtt_bytes){s->subs[k].filter, s->subs[k].len});
                assert_non_null(r);
                assert_memory_equal(&r->opts, &s->subs[k].opts, sizeof r->opts);
                assert_int_equal(!r->share, !s->subs[k].share);
            }
            assert_int_equal(broker__session_n_rx_qos2(s), broker__session_n_rx_qos2(t));
            for (uint32_t k = 0; s->rare && k < s->rare->n_rx_qos2; k++)
                assert_true(broker__session_rx_qos2_has(t, s->rare->rx_qos2[k]));
            assert_same_list(&s->inflight, &t->inflight);
            assert_same_list(&s->queue, &t->queue);
        }
    }
    assert_int_equal(n, b->sessions.size);
}

/* Two sessions with subscriptions (a shared one, identifiers), queued and
 * in-flight messages in every state, inbound QoS 2 ids. */
static void populate(broker *b)
{
    session *s = offline_session(b, "dev-1", 3600);
    session *t = offline_session(b, "dev-2", UINT32_MAX);
    broker__session_sub_set(s, B("a/#"), &(sub_options){.qos = 2, .retain_as_published = true, .sub_id = 7});
    broker__session_sub_set(s, B("a/+"), &(sub_options){.qos = 1, .sub_id = 9});
    broker__session_sub_set(s, B("$share/g/b/#"), &(sub_options){.qos = 1});
    broker__session_sub_set(t, B("a/#"), &(sub_options){.qos = 1, .retain_handling = 2});
    broker__session_sub_set(t, B("gone"), &(sub_options){.qos = 1});
    broker__session_sub_remove(t, B("gone"));
    publish(b, "a/1", "one", 1, 0);
    publish(b, "a/2", "two", 2, 600);
    publish(b, "b/x", "shared", 1, 0);
    publish(b, "a/3", "three", 2, 0);
    publish(b, "a/4", "four", 1, 0);
    publish(b, "a/0", "qos0", 0, 0); /* not queued offline */
    send_head(s, 1);
    send_head(s, 2);
    send_head(s, 3);
    /* PUBREC for 2 (QoS 2): PUBREL state */
    delivery *d = s->inflight.head->next;
    s->inflight.bytes -= broker__dlv_cost(d);
    broker__msg_unref(d->m);
    d->m = NULL;
    d->state = DLV_PUBREL;
    s->inflight.bytes += broker__dlv_cost(d);
    broker__psess_pid(s, PSESS_PUBREL, 2);
    /* PUBACK for 1 */
    d = broker__dlv_pop(&s->inflight);
    broker__psess_pid(s, PSESS_DONE, 1);
    broker__delivery_free(d);
    /* a message dropped from the middle of dev-2's queue */
    delivery *prev = t->queue.head;
    d = prev->next;
    broker__dlv_unlink(&t->queue, prev, d);
    broker__delivery_free(d);
    broker__psess_drop(t, false, 1);
    broker__session_rx_qos2_add(s, 40);
    broker__session_rx_qos2_add(s, 41);
    broker__session_rx_qos2_remove(s, 40);
}

static void test_log_replays_to_same_sessions(void **state)
{
    (void)state;
    node a, b;
    node_start(&a);
    populate(a.b);
    /* One MSG record per routed message reaching any durable session. */
    assert_int_equal(sink_count(&a.log, PSESS_MSG), 5);
    broker_persist_restored r = node_restart(&b, &a.log);
    assert_int_equal(r.sessions, 2);
    assert_same_sessions(a.b, b.b);
    session *s = broker__session_find(b.b, B("dev-1"));
    assert_int_equal(s->next_pid, 4); /* after the last id in flight */
    /* Subscriptions are back in the topic tree. */
    uint32_t before = s->queue.n;
    publish(b.b, "a/9", "after", 1, 0);
    assert_int_equal(s->queue.n, before + 1);
    assert_int_equal(s->queue.tail->n_sub_ids, 2);
    node_stop(&a);
    node_stop(&b);
}

static void test_snapshot_replays_to_same_sessions(void **state)
{
    (void)state;
    node a, b, c;
    node_start(&a);
    populate(a.b);
    sink snap = {0};
    assert_true(broker_persist_snapshot(a.b, snap_write, &snap));
    /* A message shared by both sessions is written once. */
    size_t msgs = sink_count(&snap, PSESS_MSG);
    assert_true(msgs < a.b->sessions.size * 5);
    node_restart(&b, &snap);
    assert_same_sessions(a.b, b.b);
    /* Snapshot, then more log: the same. */
    session *s = broker__session_find(a.b, B("dev-1"));
    size_t mark = a.log.n;
    publish(a.b, "a/5", "five", 2, 0);
    broker__session_sub_remove(s, B("a/+"));
    for (size_t i = mark; i < a.log.n; i++) sink_add(&snap, a.log.r[i].type, a.log.r[i].p, a.log.r[i].n);
    node_restart(&c, &snap);
    assert_same_sessions(a.b, c.b);
    sink_free(&snap);
    node_stop(&a);
    node_stop(&b);
    node_stop(&c);
}

static void add_rec(sink *k, const psess_rec *r)
{
    buf b = {0};
    psess_out o = {.b = &b};
    psess_rec_encode(r, &o);
    sink_add(k, r->type, b.data, b.len);
    buf_free(&b);
}

/* Offline past its deadline while down: gone (and ended in the log);
 * connected when the server stopped: its expiry counts from the start. */
static void test_expiry_across_restart(void **state)
{
    (void)state;
    sink log = {0};
    uint64_t wall = clock_wall_ms();
    add_rec(&log,
            &(psess_rec){
                .type = PSESS_SESSION, .client_id = B("late"), .offline = true, .expiry = 5, .deadline = wall - 1});
    add_rec(
        &log,
        &(psess_rec){
            .type = PSESS_SESSION, .client_id = B("soon"), .offline = true, .expiry = 100, .deadline = wall + 50000});
    add_rec(&log, &(psess_rec){.type = PSESS_SESSION, .client_id = B("was-online"), .expiry = 30});
    add_rec(&log, &(psess_rec){.type = PSESS_MSG, .msg_id = 1, .qos = 1, .expiry_at = wall - 1, .topic = B("x")});
    add_rec(&log, &(psess_rec){.type = PSESS_MSG, .msg_id = 2, .qos = 1, .topic = B("y")});
    add_rec(&log, &(psess_rec){.type = PSESS_DLV, .client_id = B("soon"), .msg_id = 1, .qos = 1});
    add_rec(&log, &(psess_rec){.type = PSESS_DLV, .client_id = B("soon"), .msg_id = 2, .qos = 1});
    /* A gap (a refused record): skipped, not fatal. */
    add_rec(&log, &(psess_rec){.type = PSESS_DONE, .client_id = B("soon"), .packet_id = 77});
    add_rec(&log, &(psess_rec){.type = PSESS_DLV, .client_id = B("nobody"), .msg_id = 2, .qos = 1});
    node n;
    broker_persist_restored r = node_restart(&n, &log);
    assert_int_equal(r.sessions, 2);
    assert_null(broker__session_find(n.b, B("late")));
    session *s = broker__session_find(n.b, B("soon"));
    uint64_t now = broker_now();
    assert_true(s->expire_at > now + 40000 && s->expire_at <= now + 51000);
    assert_int_equal(s->queue.n, 1); /* the expired message was dropped */
    session *w = broker__session_find(n.b, B("was-online"));
    assert_true(w->expire_at > now + 25000 && w->expire_at <= now + 31000);
    /* What replay_done changed is logged: the end, the drop, the new deadline. */
    assert_int_equal(sink_count(&n.log, PSESS_END), 1);
    assert_int_equal(sink_count(&n.log, PSESS_DROP), 1);
    assert_int_equal(sink_count(&n.log, PSESS_SESSION), 1);
    /* A corrupt record is refused. */
    uint8_t bad[] = {1, 0};
    assert_non_null(broker_persist_replay(n.b, PSESS_SUB, bad, sizeof bad));
    sink_free(&log);
    node_stop(&n);
}

/* A refused record: the session is rewritten whole before its next one,
 * so the log replays to the state in memory. */
static void test_refused_record_rewrites_session(void **state)
{
    (void)state;
    node a, b;
    node_start(&a);
    populate(a.b);
    session *s = broker__session_find(a.b, B("dev-1"));
    a.log.refuse = true;
    broker__session_sub_set(s, B("new/+"), &(sub_options){.qos = 2});
    publish(a.b, "a/7", "lost", 1, 0);
    assert_true(s->psess & PSESS_DIRTY);
    a.log.refuse = false;
    broker__session_rx_qos2_add(s, 50);
    assert_false(s->psess & PSESS_DIRTY);
    /* dev-2's record of a/7 was refused too: its next change rewrites it. */
    publish(a.b, "a/8", "next", 1, 0);
    node_restart(&b, &a.log);
    assert_same_sessions(a.b, b.b);
    node_stop(&a);
    node_stop(&b);
}

/* Records the sink had accepted fail (the log is cut back to what was
 * durable): every durable session is rewritten whole before its next
 * record, so the log replays to the state in memory again. */
static void test_failed_records_rewrite_sessions(void **state)
{
    (void)state;
    node a, b;
    node_start(&a);
    populate(a.b);
    broker_persist_committed(a.b, a.log.seq);
    size_t durable = a.log.n;
    uint64_t durable_seq = a.log.seq;
    session *s = broker__session_find(a.b, B("dev-1"));
    broker__session_sub_remove(s, B("a/+"));
    publish(a.b, "a/7", "lost", 1, 0);
    while (a.log.n > durable) free(a.log.r[--a.log.n].p); /* what the failed write had */
    broker_persist_failed(a.b, durable_seq, "test");
    assert_true(s->psess & PSESS_DIRTY);
    publish(a.b, "a/8", "next", 1, 0); /* both sessions: rewritten, then this */
    node_restart(&b, &a.log);
    assert_same_sessions(a.b, b.b);
    node_stop(&a);
    node_stop(&b);
}

/* While the sink refuses records, the core asks whether a QoS 1/2 message
 * would be queued for a durable session (then it is refused, 0x97). */
static void test_would_append_predicate(void **state)
{
    (void)state;
    node a;
    node_start(&a);
    broker_persist_restored r;
    broker_persist_replay_done(a.b, &r); /* installs the predicate */
    session *s = offline_session(a.b, "dev-1", 60);
    broker__session_sub_set(s, B("a/#"), &(sub_options){.qos = 1});
    broker__session_sub_set(s, B("q0/#"), &(sub_options){.qos = 0});
    session *v = broker__session_create(a.b, B("volatile")); /* expiry 0: not durable */
    broker__session_sub_set(v, B("v/#"), &(sub_options){.qos = 1});
    msg *m1 = broker__msg_new(B("a/x"), B("p"), B(""), 1, false);
    msg *m0 = broker__msg_new(B("a/x"), B("p"), B(""), 0, false);
    msg *mq0 = broker__msg_new(B("q0/x"), B("p"), B(""), 2, false);
    msg *mv = broker__msg_new(B("v/x"), B("p"), B(""), 2, false);
    assert_true(broker__persist_would_append(a.b, m1));
    assert_false(broker__persist_would_append(a.b, m0));
    assert_false(broker__persist_would_append(a.b, mq0)); /* granted QoS 0: not queued */
    assert_false(broker__persist_would_append(a.b, mv));
    broker__msg_unref(m1);
    broker__msg_unref(m0);
    broker__msg_unref(mq0);
    broker__msg_unref(mv);
    node_stop(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_log_replays_to_same_sessions),
        cmocka_unit_test(test_snapshot_replays_to_same_sessions),
        cmocka_unit_test(test_expiry_across_restart),
        cmocka_unit_test(test_refused_record_rewrites_session),
        cmocka_unit_test(test_failed_records_rewrite_sessions),
        cmocka_unit_test(test_would_append_predicate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
