/* Durability core (broker_persist.h): the sink, the selection, the
 * dispatch of replayed records, snapshots, and the commits that release
 * held output.
 *
 * Held output (hold.c): the broker changes its state at once and appends
 * records as it goes; what waits is the client's output. While an inbound
 * packet of client c is processed (broker__persist_enter/leave around
 * dispatch), every appended record adds a mark to c's hold: output sent
 * to c from then on goes into c->flow->held and is released, in order,
 * once the sink reports its mark's record committed. A failure closes the
 * clients whose held output waits for records that will never be durable. */
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
    uint64_t last;        /* last sequence number appended (committed: b->hold.done[HOLD_PERSIST]) */
    bool refused;         /* the last append was refused (until one is taken) */
    bool apply_on_commit; /* cluster mode: broker_persist_select.apply_on_commit */
    client *dispatching;
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
    for (uint32_t i = 0; i < p->n_retained_topics; i++) free((void *)p->retained_topics[i].data);
    free(p->retained_topics);
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
    if (p->dispatching) broker__client_hold(p->dispatching, HOLD_PERSIST, seq);
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

/* --- commits and failures (held output itself: hold.c) ------------------------- */

void broker_persist_committed(broker *b, uint64_t seq)
{
    broker_persist *p = b->persist;
    if (!p || seq <= b->hold.done[HOLD_PERSIST]) return;
    assert(seq <= p->last);
    broker__hold_kept(b, HOLD_PERSIST, seq);
}

void broker_persist_failed(broker *b, uint64_t durable, const char *why)
{
    broker_persist *p = b->persist;
    if (!p) return;
    if (durable > b->hold.done[HOLD_PERSIST]) broker_persist_committed(b, durable);
    p->refused = true;
    broker__session_persist_failed(b); /* the log lost their latest records: rewritten whole before their next */
    log_debug("durable broker state: records after %llu will not be durable (%s); closing the %u connection(s) "
              "waiting for them",
              (unsigned long long)durable, why, b->hold.n);
    broker__hold_fail(b, HOLD_PERSIST, why);
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
