/* What /metrics shows (docs/metrics.md) and the endpoint's start from the
 * `metrics:` section. Every figure is read on scrape from the counters
 * and stat getters of the modules that keep them (net_get_stats,
 * broker_get_stats, store_service_stats, store_bridge_get_stats,
 * store_log_get_stats, authz_guard_get_stats): counting costs the hot
 * path a plain increment, and nothing here runs between scrapes. */
#ifndef MQS_SERVER_METRICS_H
#define MQS_SERVER_METRICS_H

#include <uv.h>

#include "broker/broker.h"
#include "net/net.h"
#include "ops/gauges.h"
#include "ops/ops_http.h"
#include "ops/ready.h"
#include "server/authz_guard.h"
#include "server/config.h"
#include "server/store_bridge.h"
#include "server/store_log.h"

/* Borrowed; any but net and broker may be NULL (not running). */
typedef struct metrics_sources {
    net *net;
    broker *broker;
    store_bridge *store;
    store_log *slog;
    authz_guard *authz;
    const ops_gauges *gauges; /* the extension point (ops/gauges.h) */
    uint64_t start_wall_ms;
} metrics_sources;

/* The whole exposition (also used by the tests without HTTP). `http`
 * may be NULL. */
void metrics_write(const metrics_sources *src, const ops_http *http, buf *out);

typedef struct metrics metrics;
/* Start the endpoint when cfg->metrics.enabled (else *out = NULL, 0).
 * -1 with err set on failure; *out may then need the loop and
 * metrics_free like after metrics_shutdown. */
int metrics_start(uv_loop_t *loop, const config *cfg, const metrics_sources *src, const ops_ready *ready, metrics **out,
                  char *err, size_t errlen);
/* --check-config: the endpoint's TLS files load (0), or -1 with err. */
int metrics_check(const config *cfg, char *err, size_t errlen);
void metrics_shutdown(metrics *m);
void metrics_free(metrics *m);

#endif
