/* Results, as text for people or as one flat JSON object per run for
 * bench/run_pubsub.sh (flat so a shell script can pick fields out). */
#include <stdio.h>

#include "mqtt/packet.h"
#include "pubsub.h"
#include "pubsub_proc.h"

typedef struct pb_result {
    double secs;
    double pub_rate;
    double recv_rate;
    double p50_us, p99_us, max_us;
    int64_t lost;
    double server_cpu_pct; /* -1 when not sampled */
    double gen_cpu_pct;
    uint32_t window;
} pb_result;

static double cpu_pct(int64_t from, int64_t to, double secs)
{
    if (from < 0 || to < 0 || secs <= 0) return -1;
    return 100.0 * (double)(to - from) / (double)proc_ticks_per_sec() / secs;
}

static void result_compute(const pb_bench *b, pb_result *r)
{
    const pb_totals *s = &b->start, *e = &b->end;
    r->secs = s->ns && e->ns > s->ns ? (double)(e->ns - s->ns) / 1e9 : 0;
    r->pub_rate = r->secs > 0 ? (double)(e->sent - s->sent) / r->secs : 0;
    r->recv_rate = r->secs > 0 ? (double)(e->received - s->received) / r->secs : 0;
    r->p50_us = (double)hist_quantile(&b->latency, 0.50) / 1e3;
    r->p99_us = (double)hist_quantile(&b->latency, 0.99) / 1e3;
    r->max_us = (double)b->latency.max / 1e3;
    /* Whole run, after the drain: every publication owed `fanout` deliveries. */
    uint64_t unique = b->received - b->dups;
    r->lost = (int64_t)(b->sent * b->fanout) - (int64_t)unique;
    r->server_cpu_pct = s->ns ? cpu_pct(s->server_cpu, e->server_cpu, r->secs) : -1;
    r->gen_cpu_pct = s->ns ? cpu_pct(s->self_cpu, e->self_cpu, r->secs) : -1;
    r->window = b->opts.window;
    for (uint32_t i = 0; i < b->opts.pubs; i++)
        if (b->conns[i].window < r->window) r->window = b->conns[i].window;
}

static const char *version_name(uint8_t v) { return v == MQTT_V5 ? "5" : "3.1.1"; }

/* State store fields, appended to the load object (ops_s = replies/s). */
static void report_json_ss(const pb_bench *b, const pb_result *r)
{
    const pb_opts *o = &b->opts;
    printf(",\"workload\":\"%s\",\"conns\":%u,\"inflight\":%u,\"keys\":%u,\"value_size\":%u,"
           "\"ops_s\":%.0f,\"reply_errors\":%llu,\"fill_secs\":%.3f",
           pb_workload_name(o->workload), o->pubs, r->window, o->keys, o->value_size, r->recv_rate,
           (unsigned long long)b->reply_errors, b->fill_secs);
}

static bool run_ok(const pb_bench *b) { return !b->failed && !b->errors && !b->reply_errors; }

static void report_json(const pb_bench *b, const pb_result *r)
{
    const pb_opts *o = &b->opts;
    printf("{\"ok\":%s,\"label\":\"%s\",\"mode\":\"%s\",\"qos\":%u,\"pubs\":%u,\"subs\":%u,"
           "\"size\":%u,\"mqtt\":\"%s\",\"window\":%u,\"rate\":%.0f,\"secs\":%.3f,"
           "\"pub_msgs_s\":%.0f,\"recv_msgs_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
           "\"max_us\":%.1f,\"sent\":%llu,\"acked\":%llu,\"received\":%llu,\"lost\":%lld,\"dups\":%llu,"
           "\"gaps\":%llu,\"written_off\":%llu,\"errors\":%llu,\"server_rss_kib_start\":%lld,"
           "\"server_rss_kib_max\":%lld,\"server_rss_kib_end\":%lld,\"server_cpu_pct\":%.1f,"
           "\"gen_cpu_pct\":%.1f",
           run_ok(b) ? "true" : "false", o->label, o->mode_name, o->qos, o->pubs, o->subs, o->size,
           version_name(o->version), r->window, o->rate, r->secs, r->pub_rate, r->recv_rate, r->p50_us, r->p99_us,
           r->max_us, (unsigned long long)b->sent, (unsigned long long)b->acked, (unsigned long long)b->received,
           (long long)r->lost, (unsigned long long)b->dups, (unsigned long long)b->gaps,
           (unsigned long long)b->written_off, (unsigned long long)b->errors, (long long)b->rss_start_kib,
           (long long)b->rss_max_kib, (long long)b->rss_end_kib, r->server_cpu_pct, r->gen_cpu_pct);
    if (o->workload != PB_WL_PUBSUB) report_json_ss(b, r);
    printf("}\n");
}

static void report_text_ss(const pb_bench *b, const pb_result *r)
{
    const pb_opts *o = &b->opts;
    printf("%s%sstate store %s: %u connections x %u in flight, %u keys, %u-byte values%s\n", o->label,
           *o->label ? ": " : "", pb_workload_name(o->workload), o->pubs, r->window, o->keys, o->value_size,
           run_ok(b) ? "" : "  ** FAILED **");
    if (b->fill_secs > 0) printf("  pre-fill: %u keys in %.2f s\n", o->keys, b->fill_secs);
    printf("  measured %.2f s: %.0f requests/s answered\n", r->secs, r->recv_rate);
    printf("  latency: p50 %.1f us, p99 %.1f us, max %.1f us\n", r->p50_us, r->p99_us, r->max_us);
    printf("  whole run: sent %llu, replies %llu, unanswered %lld, reply errors %llu, errors %llu\n",
           (unsigned long long)b->sent, (unsigned long long)b->received, (long long)r->lost,
           (unsigned long long)b->reply_errors, (unsigned long long)b->errors);
}

static void report_text_pubsub(const pb_bench *b, const pb_result *r)
{
    const pb_opts *o = &b->opts;
    printf("%s%s%s %u pub -> %u sub, QoS %u, %u-byte payloads, MQTT %s, window %u%s\n", o->label, *o->label ? ": " : "",
           o->mode_name, o->pubs, o->subs, o->qos, o->size, version_name(o->version), r->window,
           b->failed ? "  ** FAILED **" : "");
    printf("  measured %.2f s: published %.0f msg/s, delivered %.0f msg/s\n", r->secs, r->pub_rate, r->recv_rate);
    printf("  latency: p50 %.1f us, p99 %.1f us, max %.1f us\n", r->p50_us, r->p99_us, r->max_us);
    printf("  whole run: sent %llu, received %llu, lost %lld, duplicates %llu, gaps %llu, "
           "written off %llu, errors %llu\n",
           (unsigned long long)b->sent, (unsigned long long)b->received, (long long)r->lost,
           (unsigned long long)b->dups, (unsigned long long)b->gaps, (unsigned long long)b->written_off,
           (unsigned long long)b->errors);
}

static void report_text(const pb_bench *b, const pb_result *r)
{
    const pb_opts *o = &b->opts;
    if (o->workload != PB_WL_PUBSUB) report_text_ss(b, r);
    else report_text_pubsub(b, r);
    if (o->server_pid)
        printf("  server: RSS %lld KiB at start, %lld max, %lld at end; CPU %.1f%%\n", (long long)b->rss_start_kib,
               (long long)b->rss_max_kib, (long long)b->rss_end_kib, r->server_cpu_pct);
    printf("  generator CPU %.1f%%\n", r->gen_cpu_pct);
}

void pb_report(const pb_bench *b)
{
    pb_result r;
    result_compute(b, &r);
    if (b->opts.json) report_json(b, &r);
    else report_text(b, &r);
    fflush(stdout);
}

void pb_report_idle(const pb_bench *b, uint32_t conns, int64_t after_kib)
{
    const pb_opts *o = &b->opts;
    bool ok = after_kib >= 0 && b->rss_before_kib >= 0 && conns > 0;
    double per_conn = ok ? (double)(after_kib - b->rss_before_kib) * 1024.0 / conns : -1;
    if (o->json)
        printf("{\"ok\":%s,\"label\":\"%s\",\"mode\":\"idle\",\"mqtt\":\"%s\",\"conns\":%u,"
               "\"rss_before_kib\":%lld,\"rss_after_kib\":%lld,\"bytes_per_conn\":%.0f}\n",
               ok && !b->failed ? "true" : "false", o->label, version_name(o->version), conns,
               (long long)b->rss_before_kib, (long long)after_kib, per_conn);
    else
        printf("%s%sidle: %u connections, server RSS %lld -> %lld KiB: %.0f bytes/connection\n", o->label,
               *o->label ? ": " : "", conns, (long long)b->rss_before_kib, (long long)after_kib, per_conn);
    fflush(stdout);
}

/* Fill workload: server RSS growth over the pre-fill, per key. */
void pb_report_fill(const pb_bench *b, int64_t after_kib)
{
    const pb_opts *o = &b->opts;
    bool ok = after_kib >= 0 && b->fill_rss_before_kib >= 0 && run_ok(b) && b->fill_done == o->keys;
    double per_key = ok ? (double)(after_kib - b->fill_rss_before_kib) * 1024.0 / o->keys : -1;
    double rate = b->fill_secs > 0 ? (double)b->fill_done / b->fill_secs : 0;
    if (o->json)
        printf("{\"ok\":%s,\"label\":\"%s\",\"mode\":\"fill\",\"workload\":\"fill\",\"conns\":%u,"
               "\"keys\":%u,\"value_size\":%u,\"fill_secs\":%.3f,\"fill_ops_s\":%.0f,"
               "\"rss_before_kib\":%lld,\"rss_after_kib\":%lld,\"bytes_per_key\":%.1f,"
               "\"reply_errors\":%llu}\n",
               ok ? "true" : "false", o->label, o->pubs, o->keys, o->value_size, b->fill_secs, rate,
               (long long)b->fill_rss_before_kib, (long long)after_kib, per_key, (unsigned long long)b->reply_errors);
    else
        printf("%s%sfill: %llu of %u keys in %.2f s (%.0f SET/s), server RSS %lld -> %lld KiB: "
               "%.1f bytes/key, reply errors %llu\n",
               o->label, *o->label ? ": " : "", (unsigned long long)b->fill_done, o->keys, b->fill_secs, rate,
               (long long)b->fill_rss_before_kib, (long long)after_kib, per_key, (unsigned long long)b->reply_errors);
    fflush(stdout);
}
