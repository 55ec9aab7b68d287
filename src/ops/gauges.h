/* The extension point for figures that live in a later subsystem (e.g. a
 * Raft term, commit index or peer count): it registers a gauge with a
 * callback, and /metrics reads the callback at each scrape. Nothing is
 * registered while the subsystem does not exist, so no fake values are
 * exposed. */
#ifndef MQS_OPS_GAUGES_H
#define MQS_OPS_GAUGES_H

#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

#define OPS_GAUGES_MAX 32

typedef double (*ops_gauge_fn)(void *ctx);

typedef struct ops_gauges {
    size_t n;
    struct {
        const char *name; /* borrowed: a string constant of the registrant */
        const char *help;
        ops_gauge_fn fn;
        void *ctx;
    } g[OPS_GAUGES_MAX];
} ops_gauges;

/* Register `name` (mqstated_..., a valid metric name not yet registered):
 * false when it is not, or the table is full. `name` and `help` must
 * outlive the registration. */
bool ops_gauges_add(ops_gauges *gs, const char *name, const char *help, ops_gauge_fn fn, void *ctx);
/* Unregister (the subsystem stops); unknown names are ignored. */
void ops_gauges_remove(ops_gauges *gs, const char *name);
/* Append every registered gauge as a family to `out`. */
void ops_gauges_write(const ops_gauges *gs, buf *out);

#endif
