/* bench/pubsub: the run's phases. Load mode: connect subscribers, then
 * publishers, publish through warm-up, measure, stop publishing and drain,
 * report. Idle mode: connect N idle clients, let the server settle, report
 * its RSS growth per connection, hold, disconnect. State store workloads:
 * connect the clients, SET every key once when the workload needs it (GET,
 * fill), then as load mode (set, get) or report the server's RSS growth per
 * key (fill). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "pubsub.h"
#include "pubsub_proc.h"
#include "util/alloc.h"

/* Connections between TCP connect and readiness at any time: keeps us
 * below the server's listen backlog, where SYNs would be dropped and
 * retried a second later. */
#define PB_CONNECT_PARALLEL 64
#define PB_CONNECT_TIMEOUT_MS 30000
/* A publisher that has heard nothing back for this long writes its
 * missing deliveries off (QoS 0 may drop them), so it cannot stall. */
#define PB_STALL_NS 1000000000ull
#define PB_PING_NS 20000000000ull
#define PB_RSS_SAMPLE_NS 50000000ull
/* Bound on the pre-fill: 1 M keys take ~10-30 s on a loaded laptop. */
#define PB_FILL_TIMEOUT_S 600

enum pb_phase {
    PH_CONNECT_SUBS,
    PH_CONNECT_PUBS,
    PH_WARMUP,
    PH_MEASURE,
    PH_DRAIN,
    PH_IDLE_CONNECT,
    PH_IDLE_SETTLE,
    PH_IDLE_HOLD,
    PH_FILL,
    PH_FILL_SETTLE,
    PH_DONE,
};

static void on_phase_timer(uv_timer_t *t);

static void phase_after(pb_bench *b, int phase, double secs)
{
    b->phase_no = phase;
    uv_timer_stop(&b->phase);
    uv_timer_start(&b->phase, on_phase_timer, (uint64_t)(secs * 1000.0), 0);
}

/* --- connecting ----------------------------------------------------------- */

/* Connections [first, end) of the group being connected: publishers are
 * conns[0, pubs), subscribers the rest, idle connections all of them. */
static uint32_t group_first(const pb_bench *b) { return b->phase_no == PH_CONNECT_SUBS ? b->opts.pubs : 0; }

static uint32_t group_end(const pb_bench *b)
{
    if (b->phase_no == PH_CONNECT_PUBS) return b->opts.pubs;
    return b->n_conns;
}

static void connect_more(pb_bench *b)
{
    uint32_t end = group_end(b);
    uint32_t first = group_first(b);
    while (b->next_connect < end && b->next_connect - first - b->ready < PB_CONNECT_PARALLEL && !b->shutting_down) {
        pb_conn *c = &b->conns[b->next_connect++];
        int rc = pb_conn_start(c);
        if (rc < 0) {
            fprintf(stderr, "pubsub: connect to %s:%u: %s\n", b->opts.host, b->opts.port, uv_strerror(rc));
            b->errors++;
            pb_on_failed(b);
            return;
        }
    }
}

static void group_connect(pb_bench *b, int phase)
{
    b->phase_no = phase;
    b->next_connect = group_first(b);
    b->ready = 0;
    phase_after(b, phase, PB_CONNECT_TIMEOUT_MS / 1000.0);
    connect_more(b);
}

/* --- measurement ---------------------------------------------------------- */

static void totals_take(pb_bench *b, pb_totals *t)
{
    t->ns = uv_hrtime();
    t->sent = b->sent;
    t->received = b->received;
    t->self_cpu = proc_cpu_ticks(getpid());
    t->server_cpu = b->opts.server_pid ? proc_cpu_ticks(b->opts.server_pid) : -1;
}

static void sample_rss(pb_bench *b)
{
    if (!b->opts.server_pid) return;
    int64_t kib = proc_rss_kib(b->opts.server_pid);
    if (kib > b->rss_max_kib) b->rss_max_kib = kib;
}

static void start_publishing(pb_bench *b)
{
    b->publishing = true;
    b->tokens = 0;
    b->tokens_ns = uv_hrtime();
    for (uint32_t i = 0; i < b->opts.pubs; i++) pb_conn_pump(&b->conns[i], UINT32_MAX);
    phase_after(b, PH_WARMUP, b->opts.warmup);
}

/* Every key gets one SET before the workload, so GETs hit and the fill
 * workload knows exactly how many keys the RSS growth is for. */
static void start_filling(pb_bench *b)
{
    b->filling = true;
    b->publishing = true;
    b->fill_rss_before_kib = b->opts.server_pid ? proc_rss_kib(b->opts.server_pid) : -1;
    b->fill_start_ns = uv_hrtime();
    phase_after(b, PH_FILL, PB_FILL_TIMEOUT_S);
    for (uint32_t i = 0; i < b->opts.pubs; i++) pb_conn_pump(&b->conns[i], UINT32_MAX);
}

void pb_on_filled(pb_bench *b)
{
    b->filling = false;
    b->fill_secs = (double)(uv_hrtime() - b->fill_start_ns) / 1e9;
    if (b->opts.workload != PB_WL_FILL) {
        start_publishing(b);
        return;
    }
    /* Let the allocator and the server's deferred work settle first. */
    b->publishing = false;
    phase_after(b, PH_FILL_SETTLE, b->opts.idle_settle);
}

static void start_measuring(pb_bench *b)
{
    hist_reset(&b->latency);
    b->measuring = true;
    b->rss_max_kib = -1;
    sample_rss(b);
    b->rss_start_kib = b->rss_max_kib;
    totals_take(b, &b->start);
    phase_after(b, PH_MEASURE, b->opts.duration);
}

static void stop_measuring(pb_bench *b)
{
    totals_take(b, &b->end);
    sample_rss(b);
    b->rss_end_kib = b->opts.server_pid ? proc_rss_kib(b->opts.server_pid) : -1;
    b->measuring = false;
    b->publishing = false;
    phase_after(b, PH_DRAIN, b->opts.drain);
}

static bool all_delivered(const pb_bench *b)
{
    for (uint32_t i = 0; i < b->opts.pubs; i++) {
        const pb_conn *c = &b->conns[i];
        if (pb_conn_outstanding(c) > 0 || c->unacked > 0) return false;
    }
    return true;
}

/* --- ending --------------------------------------------------------------- */

static void finish(pb_bench *b)
{
    if (b->shutting_down) return;
    /* Always report, so a failed run still leaves a (failed) record. */
    if (b->opts.workload == PB_WL_FILL) {
        if (!b->reported) pb_report_fill(b, -1);
    } else if (b->opts.idle == 0) {
        if (b->phase_no < PH_DRAIN) totals_take(b, &b->end);
        pb_report(b);
    } else if (b->phase_no == PH_IDLE_CONNECT || b->phase_no == PH_IDLE_SETTLE) {
        pb_report_idle(b, b->ready, -1);
    }
    b->shutting_down = true;
    b->publishing = false;
    b->measuring = false;
    b->phase_no = PH_DONE;
    uv_timer_stop(&b->phase);
    uv_timer_stop(&b->tick);
    uv_close((uv_handle_t *)&b->phase, NULL);
    uv_close((uv_handle_t *)&b->tick, NULL);
    for (uint32_t i = 0; i < b->n_conns; i++) pb_conn_disconnect(&b->conns[i]);
}

void pb_on_failed(pb_bench *b)
{
    if (b->shutting_down) return;
    b->failed = true;
    finish(b);
}

void pb_on_closed(pb_bench *b, pb_conn *c)
{
    b->closed++;
    if (!b->shutting_down) {
        /* A connection lost mid-run invalidates the run. */
        fprintf(stderr, "pubsub: connection closed unexpectedly\n");
        pb_on_failed(b);
        return;
    }
    if (b->closed == b->n_conns && !uv_is_closing((uv_handle_t *)&b->flush_check))
        uv_close((uv_handle_t *)&b->flush_check, NULL);
}

void pb_on_ready(pb_bench *b, pb_conn *c)
{
    b->ready++;
    connect_more(b);
    uint32_t group = group_end(b) - group_first(b);
    if (b->ready < group) return;
    switch (b->phase_no) {
    case PH_CONNECT_SUBS: group_connect(b, PH_CONNECT_PUBS); break;
    case PH_CONNECT_PUBS:
        if (b->opts.workload == PB_WL_GET || b->opts.workload == PB_WL_FILL) start_filling(b);
        else start_publishing(b);
        break;
    case PH_IDLE_CONNECT: phase_after(b, PH_IDLE_SETTLE, b->opts.idle_settle); break;
    default: break;
    }
}

static void on_phase_timer(uv_timer_t *t)
{
    pb_bench *b = t->data;
    switch (b->phase_no) {
    case PH_CONNECT_SUBS:
    case PH_CONNECT_PUBS:
    case PH_IDLE_CONNECT:
        fprintf(stderr, "pubsub: timed out connecting (%u of %u ready)\n", b->ready, group_end(b) - group_first(b));
        b->errors++;
        pb_on_failed(b);
        break;
    case PH_WARMUP: start_measuring(b); break;
    case PH_MEASURE: stop_measuring(b); break;
    case PH_DRAIN: finish(b); break;
    case PH_IDLE_SETTLE:
        pb_report_idle(b, b->n_conns, proc_rss_kib(b->opts.server_pid));
        phase_after(b, PH_IDLE_HOLD, b->opts.duration);
        break;
    case PH_IDLE_HOLD: finish(b); break;
    case PH_FILL:
        fprintf(stderr, "pubsub: pre-fill timed out (%llu of %u keys)\n", (unsigned long long)b->fill_done,
                b->opts.keys);
        b->errors++;
        pb_on_failed(b);
        break;
    case PH_FILL_SETTLE:
        pb_report_fill(b, proc_rss_kib(b->opts.server_pid));
        b->reported = true;
        finish(b);
        break;
    default: break;
    }
}

/* --- periodic work -------------------------------------------------------- */

/* Spread the rate's tokens one message at a time over the publishers. */
static void rate_refill(pb_bench *b, uint64_t now)
{
    double burst = b->opts.rate * 0.05 > 1.0 ? b->opts.rate * 0.05 : 1.0;
    b->tokens += b->opts.rate * (double)(now - b->tokens_ns) / 1e9;
    if (b->tokens > burst) b->tokens = burst;
    b->tokens_ns = now;
    uint32_t n = b->opts.pubs, idle_pass = 0;
    while (b->tokens >= 1.0 && idle_pass < n) {
        pb_conn *c = &b->conns[b->rr++ % n];
        idle_pass = pb_conn_pump(c, 1) ? 0 : idle_pass + 1;
    }
}

static void stall_recover(pb_bench *b, uint64_t now)
{
    for (uint32_t i = 0; i < b->opts.pubs; i++) {
        pb_conn *c = &b->conns[i];
        uint64_t owed = pb_conn_outstanding(c);
        if (owed == 0 || c->progress_ns + PB_STALL_NS > now) continue;
        c->written_off += owed;
        b->written_off += owed;
        c->progress_ns = now;
        pb_conn_pump(c, UINT32_MAX);
    }
}

static void on_tick(uv_timer_t *t)
{
    pb_bench *b = t->data;
    uint64_t now = uv_hrtime();
    if (b->measuring && now - b->rss_ns >= PB_RSS_SAMPLE_NS) {
        b->rss_ns = now;
        sample_rss(b);
    }
    if (b->publishing) {
        if (b->opts.rate > 0) rate_refill(b, now);
        stall_recover(b, now);
    }
    if (b->phase_no == PH_DRAIN && all_delivered(b)) finish(b);
    if (now - b->ping_ns >= PB_PING_NS && !b->shutting_down) {
        b->ping_ns = now;
        for (uint32_t i = 0; i < b->n_conns; i++)
            if (b->conns[i].state == PB_READY) pb_conn_ping(&b->conns[i]);
    }
    /* Timers run before the loop polls, and the uv_check flush only after
     * the poll, which may block until the next timer: write now, or
     * rate-paced messages would wait up to a tick after being stamped. */
    pb_flush_all(&b->flush_check);
}

/* --- setup ---------------------------------------------------------------- */

static void bench_init(pb_bench *b, uv_loop_t *loop)
{
    const pb_opts *o = &b->opts;
    b->loop = loop;
    bool ss = o->workload != PB_WL_PUBSUB;
    b->fanout = o->topic_mode == PB_TOPIC_PAIRS || ss ? 1 : o->subs;
    b->n_conns = o->idle > 0 ? o->idle : ss ? o->pubs : o->pubs + o->subs;
    b->conns = xcalloc(b->n_conns, sizeof *b->conns);
    b->rng = 0x9E3779B97F4A7C15ull ^ uv_hrtime();
    for (uint32_t i = 0; i < b->n_conns; i++) {
        if (ss) pb_conn_init(b, &b->conns[i], PB_SS, i);
        else if (o->idle > 0) pb_conn_init(b, &b->conns[i], PB_IDLE, i);
        else if (i < o->pubs) pb_conn_init(b, &b->conns[i], PB_PUB, i);
        else pb_conn_init(b, &b->conns[i], PB_SUB, i - o->pubs);
    }
    uv_check_init(loop, &b->flush_check);
    b->flush_check.data = b;
    uv_check_start(&b->flush_check, pb_flush_all);
    uv_timer_init(loop, &b->phase);
    b->phase.data = b;
    uv_timer_init(loop, &b->tick);
    b->tick.data = b;
    /* With a rate, the tick paces publishing: 1 ms keeps bursts small. */
    uv_timer_start(&b->tick, on_tick, 1, o->rate > 0 ? 1 : 50);
    b->ping_ns = uv_hrtime();
    b->rss_before_kib = b->rss_start_kib = b->rss_max_kib = b->rss_end_kib = -1;
    b->fill_rss_before_kib = -1;
}

int main(int argc, char **argv)
{
    pb_bench *b = xcalloc(1, sizeof *b);
    if (!pb_opts_parse(&b->opts, argc, argv)) return 2;
    signal(SIGPIPE, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    bench_init(b, loop);
    if (b->opts.idle > 0) {
        b->rss_before_kib = proc_rss_kib(b->opts.server_pid);
        group_connect(b, PH_IDLE_CONNECT);
    } else if (b->opts.workload != PB_WL_PUBSUB) {
        group_connect(b, PH_CONNECT_PUBS); /* every client has its own reply topic */
    } else {
        group_connect(b, PH_CONNECT_SUBS);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    int rc = (b->failed || b->errors || b->reply_errors) ? 1 : 0;
    for (uint32_t i = 0; i < b->n_conns; i++) pb_conn_free(&b->conns[i]);
    free(b->conns);
    free(b);
    uv_loop_close(loop);
    return rc;
}
