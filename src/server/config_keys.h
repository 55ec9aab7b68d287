/* The key tables of the `limits:` and `store:` sections (config.c), for
 * code that walks the settings by name (config_reload.c). */
#ifndef MQS_SERVER_CONFIG_KEYS_H
#define MQS_SERVER_CONFIG_KEYS_H

#include "server/schema.h"

extern const key_spec config_limit_keys[]; /* offsets into broker_limits */
extern const key_spec config_store_keys[]; /* offsets into config_store */

#endif
