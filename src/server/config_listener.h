/* The schema of one `listeners:` entry (config_listener.c), for config.c. */
#ifndef MQS_SERVER_CONFIG_LISTENER_H
#define MQS_SERVER_CONFIG_LISTENER_H

#include "server/config.h"
#include "server/schema.h"

extern const key_spec config_listener_keys[];
/* Cross-section checks of one entry once its keys are parsed. */
int config_listener_check(schema_ctx *sc, const yaml_node_t *mapping, const char *path, config_listener *l);

#endif
