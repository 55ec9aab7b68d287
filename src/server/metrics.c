/* The exposition of /metrics and the endpoint's start (metrics.h). */
#include "server/metrics.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/tls.h"
#include "ops/expo.h"
#include "util/alloc.h"
#include "util/clock.h"
#include "util/log.h"

struct metrics {
    ops_http *http;
    metrics_sources src;
};

typedef const char *const labels[];

static void counter(buf *b, const char *name, const char *help, uint64_t v)
{
    expo_family(b, name, EXPO_COUNTER, help);
    expo_u64(b, name, NULL, v);
}

static void gauge(buf *b, const char *name, const char *help, double v)
{
    expo_family(b, name, EXPO_GAUGE, help);
    expo_f64(b, name, NULL, v);
}

/* A family with one label: names[i] = values[i], n of them. */
static void labelled(buf *b, const char *name, expo_type t, const char *help, const char *label,
                     const char *const *names, const uint64_t *values, size_t n)
{
    expo_family(b, name, t, help);
    for (size_t i = 0; i < n; i++) {
        const char *l[] = {label, names[i], NULL};
        expo_u64(b, name, l, values[i]);
    }
}

/* Resident set size from /proc/self/statm (pages), 0 if unreadable. */
static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    return n == 2 ? (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

static void write_process(const metrics_sources *s, buf *b)
{
    expo_family(b, "mqstated_build_info", EXPO_GAUGE, "Always 1; the version in a label.");
    expo_u64(b, "mqstated_build_info", (labels){"version", MQS_VERSION, NULL}, 1);
    gauge(b, "mqstated_start_time_seconds", "Start of the process, Unix time.", (double)s->start_wall_ms / 1000.0);
    gauge(b, "mqstated_uptime_seconds", "Seconds since the start.",
          (double)(clock_wall_ms() - s->start_wall_ms) / 1000.0);
    gauge(b, "mqstated_resident_memory_bytes", "Resident set size (/proc/self/statm).", (double)rss_bytes());
    struct mallinfo2 mi = mallinfo2(); /* glibc: a walk of the arenas' bins, cheap at scrape rate */
    gauge(b, "mqstated_heap_in_use_bytes", "Bytes allocated and not freed (malloc's in-use count).",
          (double)(mi.uordblks + mi.hblkhd));
}

static void write_connections(const metrics_sources *s, const broker_stats *bs, buf *b)
{
    net_stats ns;
    net_get_stats(s->net, &ns);
    gauge(b, "mqstated_connections", "MQTT connections past CONNACK.", (double)bs->clients);
    counter(b, "mqstated_connections_accepted_total", "TCP connections accepted on the MQTT listeners.", ns.accepted);
    counter(b, "mqstated_connects_total", "CONNECTs accepted (CONNACK success).", bs->connects);
    static const char *const why[] = {"pending_per_address", "no_descriptor", "accept_error", "not_authorized", "quota",
                                      "client_id_invalid",   "other"};
    uint64_t v[] = {ns.refused_pending,
                    ns.refused_nofd,
                    ns.refused_error,
                    bs->connects_refused[BROKER_REFUSED_AUTH],
                    bs->connects_refused[BROKER_REFUSED_QUOTA],
                    bs->connects_refused[BROKER_REFUSED_CLIENT_ID],
                    bs->connects_refused[BROKER_REFUSED_OTHER]};
    labelled(b, "mqstated_connections_refused_total", EXPO_COUNTER,
             "Connections refused at accept or with a refusing CONNACK, by reason.", "reason", why, v, 7);
    counter(b, "mqstated_network_received_bytes_total", "Bytes read from MQTT sockets (TLS records included).",
            ns.bytes_read);
    counter(b, "mqstated_network_sent_bytes_total", "Bytes written to MQTT sockets (TLS records included).",
            ns.bytes_written);
}

static void write_messages(const metrics_sources *s, const broker_stats *bs, buf *b)
{
    static const char *const qos[] = {"0", "1", "2"};
    labelled(b, "mqstated_messages_received_total", EXPO_COUNTER, "PUBLISH packets received, by QoS.", "qos", qos,
             bs->msgs_in, 3);
    labelled(b, "mqstated_messages_sent_total", EXPO_COUNTER, "PUBLISH packets sent, by QoS.", "qos", qos, bs->msgs_out,
             3);
    labelled(b, "mqstated_message_received_bytes_total", EXPO_COUNTER, "Payload bytes of PUBLISH received, by QoS.",
             "qos", qos, bs->payload_in, 3);
    labelled(b, "mqstated_message_sent_bytes_total", EXPO_COUNTER, "Payload bytes of PUBLISH sent, by QoS.", "qos", qos,
             bs->payload_out, 3);
    static const char *const why[] = {"backlog_qos0", "queue_full", "too_large", "expired"};
    uint64_t d[] = {bs->dropped_qos0, bs->dropped_queue_full, bs->dropped_too_large, bs->dropped_expired};
    labelled(b, "mqstated_messages_dropped_total", EXPO_COUNTER, "Messages not delivered to a subscriber, by reason.",
             "reason", why, d, 4);
    gauge(b, "mqstated_retained_messages", "Retained messages.", (double)bs->retained);
    gauge(b, "mqstated_subscriptions", "Subscriptions of all sessions.", (double)bs->subscriptions);
    broker_queue_stats q;
    broker_get_queue_stats(s->broker, &q);
    static const char *const st[] = {"online", "offline"};
    uint64_t sv[] = {q.sessions_online, bs->sessions - q.sessions_online};
    labelled(b, "mqstated_sessions", EXPO_GAUGE, "Sessions, connected or not.", "state", st, sv, 2);
    gauge(b, "mqstated_queued_messages", "Messages queued for sessions, not yet sent.", (double)q.queued);
    gauge(b, "mqstated_inflight_messages", "QoS 1/2 messages sent and not yet acknowledged.", (double)q.inflight);
    gauge(b, "mqstated_queued_bytes", "Bytes of queued and in-flight messages (entry and message).", (double)q.bytes);
}

static void write_authz(const metrics_sources *s, buf *b)
{
    if (!s->authz) return;
    authz_guard_stats a;
    authz_guard_get_stats(s->authz, &a);
    static const char *const act[] = {"connect", "publish", "subscribe", "receive", "key_read", "key_write"};
    const char *name = "mqstated_authorization_decisions_total";
    expo_family(b, name, EXPO_COUNTER, "Decisions of the authorization rules, by action and result.");
    for (size_t i = 0; i < AUTHZ_GUARD_ACTIONS; i++) {
        expo_u64(b, name, (labels){"action", act[i], "result", "allow", NULL}, a.allow[i]);
        expo_u64(b, name, (labels){"action", act[i], "result", "deny", NULL}, a.deny[i]);
    }
}

static void write_store(const metrics_sources *s, buf *b)
{
    if (!s->store) return;
    store_stats ss;
    const store_service *svc = store_bridge_service(s->store);
    store_service_stats(svc, &ss);
    counter(b, "mqstated_statestore_insertions_total", "Keys created by SET.", ss.insertions);
    counter(b, "mqstated_statestore_modifications_total", "Keys changed by SET.", ss.modifications);
    counter(b, "mqstated_statestore_deletions_total", "Keys deleted (DEL, VDEL, expiry).", ss.deletions);
    counter(b, "mqstated_statestore_expirations_total", "Keys deleted by expiry.", ss.expirations);
    counter(b, "mqstated_statestore_retrievals_total", "GETs answered.", ss.retrievals);
    counter(b, "mqstated_statestore_keynotify_requests_total", "KEYNOTIFY requests answered.", ss.keynotify_requests);
    counter(b, "mqstated_statestore_notifications_sent_total", "KEYNOTIFY notifications sent.", ss.notifications_sent);
    counter(b, "mqstated_statestore_errors_total", "Requests answered with a RESP error.", ss.errors);
    gauge(b, "mqstated_statestore_keys", "Keys stored.", (double)ss.keyspace.keys);
    gauge(b, "mqstated_statestore_bytes", "Bytes of keys and values as the quota counts them.",
          (double)ss.keyspace.bytes);
    gauge(b, "mqstated_statestore_keynotify_registrations", "KEYNOTIFY registrations.", (double)ss.registrations);
    size_t de, db;
    store_service_dedup_stats(svc, &de, &db);
    gauge(b, "mqstated_statestore_dedup_entries", "Replies remembered for de-duplication.", (double)de);
    store_bridge_stats bs;
    store_bridge_get_stats(s->store, &bs);
    counter(b, "mqstated_statestore_requests_total", "PUBLISHes on the state store request topic.", bs.requests);
    counter(b, "mqstated_statestore_envelope_refused_total", "Requests refused by the envelope checks.",
            bs.envelope_refused);
    counter(b, "mqstated_statestore_dedup_hits_total", "Repeated requests answered with their remembered reply.",
            bs.dedup_hits);
    counter(b, "mqstated_statestore_writes_logged_total", "Writes proposed to the log.", bs.writes_logged);
    counter(b, "mqstated_statestore_writes_unavailable_total", "Writes answered 503 (pending bound, log refusal).",
            bs.writes_unavailable);
    expo_histogram(b, "mqstated_statestore_request_duration_seconds",
                   "From a request's arrival to its reply (writes include the log).", store_bridge_latency_bounds,
                   bs.latency, STORE_BRIDGE_LATENCY_BUCKETS, (double)bs.latency_sum_ns / 1e9);
}

static void write_persistence(const metrics_sources *s, buf *b)
{
    if (!s->slog) return;
    store_log_stats ls;
    store_log_get_stats(s->slog, &ls);
    gauge(b, "mqstated_persistence_log_bytes", "Length of the current log file.", (double)ls.file_bytes);
    counter(b, "mqstated_persistence_records_written_total", "Durable records written to the log.", ls.records_written);
    counter(b, "mqstated_persistence_fsyncs_total", "Successful fsyncs of the log.", ls.fsyncs);
    counter(b, "mqstated_persistence_write_errors_total", "Failed writes and fsyncs of the log.", ls.write_errors);
    counter(b, "mqstated_persistence_snapshots_total", "Snapshots installed since the start.", ls.snapshots);
    gauge(b, "mqstated_persistence_last_snapshot_timestamp_seconds",
          "When the last snapshot was installed, Unix time (0: none since the start).",
          (double)ls.last_snapshot_wall_ms / 1000.0);
    gauge(b, "mqstated_persistence_last_snapshot_bytes", "Size of the last snapshot installed (0: none).",
          (double)ls.last_snapshot_bytes);
}

static void write_http(const ops_http *http, buf *b)
{
    if (!http) return;
    ops_http_stats hs;
    ops_http_get_stats(http, &hs);
    const char *name = "mqstated_http_responses_total";
    expo_family(b, name, EXPO_COUNTER, "Responses of the metrics endpoint, by status code.");
    for (size_t i = 0; i < OPS_HTTP_CODES; i++) {
        char code[8];
        snprintf(code, sizeof code, "%d", ops_http_codes[i]);
        expo_u64(b, name, (labels){"code", code, NULL}, hs.responses[i]);
    }
    counter(b, "mqstated_http_connections_refused_total", "Metrics endpoint connections over max_connections.",
            hs.connections_refused);
}

void metrics_write(const metrics_sources *s, const ops_http *http, buf *out)
{
    broker_stats bs;
    broker_get_stats(s->broker, &bs);
    write_process(s, out);
    write_connections(s, &bs, out);
    write_messages(s, &bs, out);
    write_authz(s, out);
    write_store(s, out);
    write_persistence(s, out);
    write_http(http, out);
    if (s->gauges) ops_gauges_write(s->gauges, out);
}

static void on_scrape(void *ctx, buf *out)
{
    metrics *m = ctx;
    metrics_write(&m->src, m->http, out);
}

static bool loopback(const char *addr) { return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0; }

static const char *opt(const char *s) { return s[0] ? s : NULL; }

/* The endpoint's TLS context; NULL with err set when it cannot be built. */
static struct ssl_ctx_st *tls_ctx(const config_tls *t, char *err, size_t errlen)
{
    tls_config tc = {.cert_file = opt(t->cert_file),
                     .key_file = opt(t->key_file),
                     .key_password_file = opt(t->key_password_file),
                     .ca_file = opt(t->ca_file),
                     .crl_file = opt(t->crl_file),
                     .client_certs = (tls_client_certs)t->client_certs,
                     .min_version = t->min_version,
                     .ciphers = opt(t->ciphers),
                     .ciphersuites = opt(t->ciphersuites)};
    char why[512];
    struct ssl_ctx_st *ctx = net_tls_ctx_new(&tc, why, sizeof why);
    if (!ctx) snprintf(err, errlen, "metrics.tls: %s", why);
    return ctx;
}

int metrics_check(const config *cfg, char *err, size_t errlen)
{
    if (!cfg->metrics.enabled || !cfg->metrics.tls.enabled) return 0;
    struct ssl_ctx_st *ctx = tls_ctx(&cfg->metrics.tls, err, errlen);
    if (!ctx) return -1;
    net_tls_ctx_free(ctx);
    return 0;
}

int metrics_start(uv_loop_t *loop, const config *cfg, const metrics_sources *src, const ops_ready *ready, metrics **out,
                  char *err, size_t errlen)
{
    *out = NULL;
    const config_metrics *mc = &cfg->metrics;
    if (!mc->enabled) return 0;
    struct ssl_ctx_st *tls = NULL;
    if (mc->tls.enabled && !(tls = tls_ctx(&mc->tls, err, errlen))) return -1;
    if (!tls && !loopback(mc->bind))
        log_warn("metrics: %s is not a loopback address and the endpoint has no TLS%s", mc->bind,
                 mc->username[0] ? ": its password crosses the network in clear" : "");
    metrics *m = xcalloc(1, sizeof *m);
    m->src = *src;
    ops_http_config hc = {.bind = mc->bind,
                          .port = mc->port,
                          .tls = tls,
                          .username = mc->username[0] ? mc->username : NULL,
                          .password = mc->username[0] ? &mc->password : NULL,
                          .max_connections = mc->max_connections,
                          .idle_timeout_s = mc->idle_timeout};
    ops_http_source hs = {.metrics = on_scrape, .ctx = m, .ready = ready};
    int rc = ops_http_new(loop, &hc, &hs, &m->http, err, errlen);
    if (tls) net_tls_ctx_free(tls); /* the listener holds its own reference */
    *out = m;
    if (rc != 0) return -1;
    bool v6 = strchr(mc->bind, ':') != NULL;
    log_info("metrics: serving /metrics, /healthz and /readyz on %s%s%s:%u%s%s", v6 ? "[" : "", mc->bind, v6 ? "]" : "",
             ops_http_port(m->http), mc->tls.enabled ? " (TLS)" : "", mc->username[0] ? " (basic auth)" : "");
    return 0;
}

void metrics_shutdown(metrics *m)
{
    if (m) ops_http_shutdown(m->http);
}

void metrics_free(metrics *m)
{
    if (!m) return;
    ops_http_free(m->http);
    free(m);
}
