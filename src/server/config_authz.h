/* The `authorization:` configuration section (docs/configuration.md,
 * docs/security-authorization.md): schema tables for config.c and the
 * compiled policy they produce. */
#ifndef MQS_SERVER_CONFIG_AUTHZ_H
#define MQS_SERVER_CONFIG_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>

#include "server/schema.h"

struct authz;

typedef struct config_authz {
    bool enabled;                      /* default false: everything allowed */
    bool allow_all_keys_without_rules; /* default false */
    struct authz *rules;               /* owned; NULL = no rules */
} config_authz;

/* The section's table, for config.c's top-level table. */
extern const key_spec config_authz_keys[];

/* Ownership across config_load_string, which parses into a copy: a
 * `rules` key replaces the copy's pointer with a new policy. On failure
 * config_authz_discard frees what the copy added; on success
 * config_authz_commit frees what the copy replaced. */
void config_authz_discard(config_authz *tmp, const config_authz *orig);
void config_authz_commit(config_authz *tmp, const config_authz *orig);
void config_authz_free(config_authz *ca);

/* The policy with both switches applied (an empty one when there are no
 * rules); ownership passes to the caller, ca->rules becomes NULL. */
struct authz *config_authz_take(config_authz *ca);

#endif
