/* The `metrics:` section (docs/configuration.md, docs/metrics.md): the
 * operations HTTP endpoint, off unless the section is present. */
#ifndef MQS_SERVER_CONFIG_METRICS_H
#define MQS_SERVER_CONFIG_METRICS_H

#include "server/config.h"
#include "server/schema.h"

void config_metrics_init(config_metrics *m);
extern const key_spec config_metrics_keys[];
int config_metrics_check(schema_ctx *sc, const yaml_node_t *mapping, const char *path, void *target);

#endif
