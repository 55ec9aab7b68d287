/* Durability core (broker_persist.h): the sink, the selection, the
 * dispatch of replayed records, snapshots, and held output.
 *
 * Held output: the broker changes its state at once and appends records
 * as it goes; what waits is the client's output. While an inbound packet
 * of client c is processed (broker__persist_enter/leave around dispatch),
 * every appended record adds a mark to c's hold: output sent to c from
 * then on goes into c->flow->held and is released, in order, once the
 * sink reports its mark's record committed. A failure closes the clients
 * whose held output waits for records that will never be durable. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "broker/internal.h"
#include "broker/persist_session.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

struct broker_persist {
    broker_persist_sink sink;
    broker_persist_mode retained, sessions;
    mqtt_bytes *retained_topics; /* owned copies (data too) */
    uint32_t n_retained_topics;
    bool (*session_match)(void *ctx, mqtt_bytes client_id);
    void *session_match_ctx;
    broker_persist_would_append_fn session_would_append;
    uint64_t last;        /* last sequence number appended */
    uint64_t committed;   /* every record <= committed is durable */
    bool refused;         /* the last append was refused (until one is taken) */
    bool apply_on_commit; /* cluster mode: broker_persist_select.apply_on_commit */
    client *dispatching;
    client **holding; /* clients with held output, c->flow->hold_idx their index */
    uint32_t n_holding, cap_holding;
    buf scratch;
};

void broker_set_persistence(broker *b, const broker_persist_sink *sink, const broker_persist_select *sel)
{
    assert(!b->persist && sink && sink->append);
    broker_persist *p = xcalloc(1, sizeof *p);
    p->sink = *sink;
    p->retained = sel->retained;
    p->sessions = sel->sessions;
    if (sel->retained == BROKER_PERSIST_SOME && sel->n_retained_topics) {
        p->retained_topics = xcalloc(sel->n_retained_topics, sizeof *p->retained_topics);
        for (uint32_t i = 0; i < sel->n_retained_topics; i++) {
            mqtt_bytes f = sel->retained_topics[i];
            uint8_t *d = xmalloc(f.len ? f.len : 1);
            if (f.len) memcpy(d, f.data, f.len);
            p->retained_topics[i] = (mqtt_bytes){d, f.len};
        }
        p->n_retained_topics = sel->n_retained_topics;
    }
    p->session_match = sel->session_match;
    p->session_match_ctx = sel->session_match_ctx;
    p->apply_on_commit = sel->apply_on_commit;
    b->persist = p;
}

void broker__persist_free(broker *b)
{
    broker_persist *p = b->persist;
    if (!p) return;
    assert(p->n_holding == 0); /* clients drop their holds when they go */
    for (uint32_t i = 0; i < p->n_retained_topics; i++) free((void *)p->retained_topics[i].data);
    free(p->retained_topics);
    free(p->holding);
    buf_free(&p->scratch);
    free(p);
    b->persist = NULL;
}

/* --- selection -------------------------------------------------------------- */

bool broker__persist_retained_selected(const broker *b, mqtt_bytes topic)
{
    const broker_persist *p = b->persist;
    if (!p || p->retained == BROKER_PERSIST_NONE) return false;
    /* The server's own $SYS topics are published again after a start
     * (src/server/sys_topics.c): logging them would only wear the disk. */
    if (topic.len >= 5 && memcmp(topic.data, "$SYS/", 5) == 0) return false;
    if (p->retained == BROKER_PERSIST_ALL) return true;
    for (uint32_t i = 0; i < p->n_retained_topics; i++)
        if (topic_filter_matches(p->retained_topics[i], topic)) return true;
    return false;
}

bool broker__persist_retained_replicated(const broker *b, mqtt_bytes topic)
{
    return b->persist && b->persist->apply_on_commit && broker__persist_retained_selected(b, topic);
}

bool broker__persist_session_selected(const broker *b, mqtt_bytes client_id)
{
    const broker_persist *p = b->persist;
    if (!p || p->sessions == BROKER_PERSIST_NONE) return false;
    if (p->sessions == BROKER_PERSIST_ALL) return true;
    return p->session_match && p->session_match(p->session_match_ctx, client_id);
}

void broker__persist_set_session_would_append(broker *b, broker_persist_would_append_fn fn)
{
    if (b->persist) b->persist->session_would_append = fn;
}

bool broker__persist_would_append(const broker *b, const msg *m)
{
    const broker_persist *p = b->persist;
    if (!p) return false;
    if (m->retain && broker__persist_retained_selected(b, m->topic)) return true;
    return p->session_would_append && p->session_would_append(b, m);
}

bool broker__persist_refusing(const broker *b)
{
    const broker_persist *p = b->persist;
    if (!p) return false;
    if (p->sink.accepting) return !p->sink.accepting(p->sink.ctx);
    return p->refused;
}

/* --- append ------------------------------------------------------------------- */

buf *broker__persist_scratch(broker *b)
{
    assert(b->persist);
    return &b->persist->scratch;
}

uint64_t broker__persist_append(broker *b, uint8_t type, const uint8_t *rec, size_t n)
{
    broker_persist *p = b->persist;
    if (!p) return 0;
    assert(type >= BROKER_REC_FIRST && type <= BROKER_REC_LAST && n > 0 && rec[0] == 1);
    uint64_t seq = p->sink.append(p->sink.ctx, type, rec, n);
    p->refused = seq == 0;
    if (!seq) return 0;
    assert(seq > p->last);
    p->last = seq;
    if (p->dispatching) broker__client_hold_until(p->dispatching, seq);
    return seq;
}

uint64_t broker__persist_last(const broker *b) { return b->persist ? b->persist->last : 0; }

client *broker__persist_enter(broker *b, client *c)
{
    broker_persist *p = b->persist;
    if (!p) return NULL;
    client *prev = p->dispatching;
    p->dispatching = c;
    return prev;
}

void broker__persist_leave(broker *b, client *prev)
{
    if (b->persist) b->persist->dispatching = prev;
}

uint64_t broker__persist_to_wall_at(uint64_t mono_ms, uint64_t now, uint64_t wall)
{
    if (!mono_ms) return 0;
    uint64_t w = mono_ms >= now ? wall + (mono_ms - now) : (wall > now - mono_ms ? wall - (now - mono_ms) : 1);
    return w ? w : 1;
}

uint64_t broker__persist_to_mono_at(uint64_t wall_ms, uint64_t now, uint64_t wall)
{
    if (!wall_ms) return 0;
    uint64_t m = wall_ms >= wall ? now + (wall_ms - wall) : (now > wall - wall_ms ? now - (wall - wall_ms) : 1);
    return m ? m : 1;
}

uint64_t broker__persist_to_wall(uint64_t mono_ms)
{
    return broker__persist_to_wall_at(mono_ms, clock_now_ms(), clock_wall_ms());
}

uint64_t broker__persist_to_mono(uint64_t wall_ms)
{
    return broker__persist_to_mono_at(wall_ms, clock_now_ms(), clock_wall_ms());
}

/* --- held output ----------------------------------------------------------------- */

static bool holding(const client *c) { return c->flow && c->flow->n_marks; }

#ifndef NDEBUG
/* c's hold (O(marks)): listed at its index, marks[0] at offset 0, sequence
 * numbers increasing, offsets non-decreasing and within the held bytes,
 * and every mark waiting for a record not yet committed. */
static bool hold__check(const client *c)
{
    const broker_persist *p = c->b->persist;
    const client_flow *f = c->flow;
    if (!holding(c)) return !f || f->held.len == 0;
    if (f->hold_idx >= p->n_holding || p->holding[f->hold_idx] != c || f->marks[0].off != 0) return false;
    for (uint32_t i = 0; i < f->n_marks; i++) {
        if (f->marks[i].seq <= p->committed || f->marks[i].seq > p->last || f->marks[i].off > f->held.len) return false;
        if (i && (f->marks[i].seq <= f->marks[i - 1].seq || f->marks[i].off < f->marks[i - 1].off)) return false;
    }
    return true;
}
#endif

buf *broker__client_out(client *c) { return holding(c) ? &c->flow->held : net_conn_outbuf(c->conn); }

void broker__client_out_done(client *c)
{
    if (!holding(c)) net_conn_flush_later(c->conn);
}

size_t broker__client_held_bytes(const client *c)
{
    if (!holding(c)) return 0;
    return c->flow->held.len + (size_t)c->flow->n_marks * sizeof(hold_mark);
}

size_t broker__client_backlog(const client *c) { return net_conn_backlog(c->conn) + broker__client_held_bytes(c); }

void broker__client_hold_until(client *c, uint64_t seq)
{
    broker_persist *p = c->b->persist;
    if (!p || seq <= p->committed || c->state == CLIENT_CLOSED) return;
    if (!c->flow) c->flow = xcalloc(1, sizeof *c->flow);
    client_flow *f = c->flow;
    if (f->n_marks) {
        hold_mark *last = &f->marks[f->n_marks - 1];
        if (seq <= last->seq) return; /* what follows waits for a later record already */
        if (last->off == f->held.len) {
            last->seq = seq; /* nothing was sent since: one mark serves */
            return;
        }
    } else {
        assert(f->held.len == 0);
        if (p->n_holding == p->cap_holding) {
            p->cap_holding = p->cap_holding ? 2 * p->cap_holding : 16;
            p->holding = xrealloc(p->holding, p->cap_holding * sizeof *p->holding);
        }
        f->hold_idx = p->n_holding;
        p->holding[p->n_holding++] = c;
    }
    if (f->n_marks == f->cap_marks) {
        f->cap_marks = f->cap_marks ? 2 * f->cap_marks : 4;
        f->marks = xrealloc(f->marks, f->cap_marks * sizeof *f->marks);
    }
    f->marks[f->n_marks++] = (hold_mark){seq, f->held.len};
    assert(hold__check(c));
}

static void unlist(broker_persist *p, client *c)
{
    client_flow *f = c->flow;
    assert(f->hold_idx < p->n_holding && p->holding[f->hold_idx] == c);
    client *moved = p->holding[--p->n_holding];
    p->holding[f->hold_idx] = moved;
    moved->flow->hold_idx = f->hold_idx;
}

static void hold_drop(client *c)
{
    client_flow *f = c->flow;
    buf_free(&f->held);
    free(f->marks);
    f->marks = NULL;
    f->n_marks = f->cap_marks = 0;
}

void broker__persist_client_gone(client *c)
{
    if (!holding(c)) return;
    unlist(c->b->persist, c);
    hold_drop(c);
}

/* Send what of c's held output no longer waits for uncommitted records.
 * Returns true if c stopped holding. */
static bool release(client *c, uint64_t committed)
{
    client_flow *f = c->flow;
    uint32_t k = 0;
    while (k < f->n_marks && f->marks[k].seq <= committed) k++;
    if (k == 0) return false;
    size_t upto = k < f->n_marks ? f->marks[k].off : f->held.len;
    if (upto) {
        buf_append(net_conn_outbuf(c->conn), f->held.data, upto);
        net_conn_flush_later(c->conn);
    }
    if (k == f->n_marks) {
        hold_drop(c);
        return true;
    }
    buf_consume(&f->held, upto);
    memmove(f->marks, f->marks + k, (f->n_marks - k) * sizeof *f->marks);
    f->n_marks -= k;
    for (uint32_t i = 0; i < f->n_marks; i++) f->marks[i].off -= upto;
    assert(hold__check(c));
    return false;
}

void broker_persist_committed(broker *b, uint64_t seq)
{
    broker_persist *p = b->persist;
    if (!p || seq <= p->committed) return;
    assert(seq <= p->last);
    p->committed = seq;
    for (uint32_t i = 0; i < p->n_holding;) {
        client *c = p->holding[i];
        if (!release(c, seq)) {
            i++;
            continue;
        }
        unlist(p, c); /* the last one moved to i */
        /* Less backlog: deliveries and held input may go on. */
        if (c->s && c->state == CLIENT_CONNECTED) broker__deliver_pump(c->s);
        broker__flow_self_check(c);
    }
}

void broker_persist_failed(broker *b, uint64_t durable, const char *why)
{
    broker_persist *p = b->persist;
    if (!p) return;
    if (durable > p->committed) broker_persist_committed(b, durable);
    p->refused = true;
    broker__session_persist_failed(b); /* the log lost their latest records: rewritten whole before their next */
    log_debug("durable broker state: records after %llu will not be durable (%s); closing the %u connection(s) "
              "waiting for them",
              (unsigned long long)durable, why, p->n_holding);
    while (p->n_holding) {
        client *c = p->holding[p->n_holding - 1];
        broker__persist_client_gone(c); /* its held acknowledgements promised what is lost */
        if (c->state != CLIENT_CLOSED) broker__client_disconnect(c, MQTT_RC_UNSPECIFIED, why);
    }
}

/* --- replay and snapshots -------------------------------------------------------- */

const char *broker_persist_replay(broker *b, uint8_t type, const uint8_t *rec, size_t n)
{
    if (type == BROKER_REC_RETAIN) return broker__retain_replay(b, rec, n);
    if (type > BROKER_REC_RETAIN && type <= BROKER_REC_LAST) return broker__session_replay(b, type, rec, n);
    return "not a broker record type";
}

const char *broker_persist_apply(broker *b, uint8_t type, const uint8_t *rec, size_t n)
{
    assert(b->persist && b->persist->apply_on_commit);
    if (type == BROKER_REC_RETAIN) return broker__retain_replay(b, rec, n); /* the same change as at replay */
    if (type > BROKER_REC_RETAIN && type <= BROKER_REC_LAST) return "session records are not replicated";
    return "not a broker record type";
}

void broker_persist_reset(broker *b)
{
    assert(b->persist && b->persist->apply_on_commit);
    broker__retain_reset(b);
}

const char *broker_persist_check(uint8_t type, const uint8_t *rec, size_t n)
{
    retain_rec r;
    if (type == BROKER_REC_RETAIN) return broker__retain_rec_decode(rec, n, &r);
    psess_rec sr;
    if (type > BROKER_REC_RETAIN && type <= BROKER_REC_LAST) return psess_rec_decode(type, rec, n, &sr);
    return "not a broker record type";
}

void broker_persist_replay_done(broker *b, broker_persist_restored *out)
{
    memset(out, 0, sizeof *out);
    out->retained = retain_store_count(b->retained);
    broker__session_replay_done(b, out);
}

bool broker_persist_snapshot(const broker *b, broker_persist_write_fn fn, void *ctx)
{
    return broker__retain_snapshot(b, fn, ctx) && broker__session_snapshot(b, fn, ctx);
}
