/* The operations HTTP endpoint: /metrics (Prometheus text 0.0.4),
 * /healthz and /readyz, on a listener of its own (docs/metrics.md).
 *
 * It runs on the server's loop with a net object of its own, so its
 * connections are neither MQTT connections nor counted as such. Every
 * resource a client can make it hold is bounded: connections
 * (max_connections; more are closed at accept), the request head
 * (OPS_HTTP_MAX_HEAD bytes in the connection, then 431 and close), the
 * time a head may take and a connection may idle (idle_timeout), and the
 * unread output (a connection over its backlog mark is not read until it
 * drains). The password check of basic authentication runs on libuv's
 * thread pool, one at a time, so a client guessing passwords neither
 * stalls the loop nor takes more than one worker thread. */
#ifndef MQS_OPS_OPS_HTTP_H
#define MQS_OPS_OPS_HTTP_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "auth/passwd_hash.h"
#include "ops/ready.h"
#include "util/buf.h"

#define OPS_HTTP_MAX_HEAD 8192

struct ssl_ctx_st;

typedef struct ops_http_config {
    const char *bind;
    uint16_t port;               /* 0: any free port (tests) */
    struct ssl_ctx_st *tls;      /* NULL: plain HTTP; the listener takes its own reference */
    const char *username;        /* NULL: /metrics needs no authentication */
    const passwd_hash *password; /* with username: copied */
    unsigned max_connections;    /* > 0 */
    unsigned idle_timeout_s;     /* > 0 */
} ops_http_config;

/* What the endpoint serves; everything is borrowed and must outlive it. */
typedef struct ops_http_source {
    /* Append the whole exposition to out (called once per GET /metrics). */
    void (*metrics)(void *ctx, buf *out);
    void *ctx;
    const ops_ready *ready; /* /readyz */
} ops_http_source;

/* Counters of the endpoint itself (mqstated_http_*). */
typedef struct ops_http_stats {
    uint64_t connections_refused; /* over max_connections */
    uint64_t responses[8];        /* by OPS_HTTP_CODE_* index */
} ops_http_stats;
enum {
    OPS_HTTP_CODE_200,
    OPS_HTTP_CODE_400,
    OPS_HTTP_CODE_401,
    OPS_HTTP_CODE_404,
    OPS_HTTP_CODE_405,
    OPS_HTTP_CODE_431,
    OPS_HTTP_CODE_503,
    OPS_HTTP_CODES
};
extern const int ops_http_codes[OPS_HTTP_CODES];

typedef struct ops_http ops_http;

/* Listen. Returns 0, or -1 with the reason in err; after a failure *out
 * is NULL or an endpoint already shut down, to be freed like one. */
int ops_http_new(uv_loop_t *loop, const ops_http_config *cfg, const ops_http_source *src, ops_http **out, char *err,
                 size_t errlen);
uint16_t ops_http_port(const ops_http *h);
void ops_http_get_stats(const ops_http *h, ops_http_stats *out);
/* Close the listener and every connection; the loop must then run until
 * idle (a password check in flight finishes) before ops_http_free. */
void ops_http_shutdown(ops_http *h);
void ops_http_free(ops_http *h);

#endif
