/* The schema of one `listeners:` entry (config_listener.c), for config.c. */
#ifndef MQS_SERVER_CONFIG_LISTENER_H
#define MQS_SERVER_CONFIG_LISTENER_H

#include "server/config.h"
#include "server/schema.h"

extern const key_spec config_listener_keys[];
/* Shared with other sections that listen (metrics:): a `tls:` section
 * into a config_tls, its check (sets `enabled`), and an IP literal
 * into a char[46]. */
extern const key_spec config_tls_keys[];
int config_tls_check(schema_ctx *sc, const yaml_node_t *mapping, const char *path, void *target);
int config_parse_bind(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target);
/* Cross-section checks of one entry once its keys are parsed. */
int config_listener_check(schema_ctx *sc, const yaml_node_t *mapping, const char *path, config_listener *l);

#endif
