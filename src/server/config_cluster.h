/* The `cluster:` section (docs/cluster.md): this node's id and the
 * cluster's members, each with its raft address (replication, libraft)
 * and its link address (node links: forwarded requests). Plain data, so
 * the config struct can be copied. */
#ifndef MQS_SERVER_CONFIG_CLUSTER_H
#define MQS_SERVER_CONFIG_CLUSTER_H

#include <stdbool.h>
#include <stdint.h>

#include "server/schema.h"

#define CONFIG_CLUSTER_MEMBERS_MAX 16
#define CONFIG_CLUSTER_ADDRESS_MAX 127 /* "host:port" (REPL_RAFT_ADDRESS_MAX, PEER_ADDRESS_MAX) */
#define CONFIG_CLUSTER_NAME_MAX 64
#define CONFIG_CLUSTER_PATH_MAX 1024

typedef struct config_cluster_member {
    uint64_t id;
    char raft_address[CONFIG_CLUSTER_ADDRESS_MAX + 1];
    char link_address[CONFIG_CLUSTER_ADDRESS_MAX + 1];
} config_cluster_member;

typedef struct config_cluster {
    bool enabled; /* the section is present */
    char name[CONFIG_CLUSTER_NAME_MAX + 1];
    uint64_t node_id;
    config_cluster_member members[CONFIG_CLUSTER_MEMBERS_MAX];
    uint32_t n_members;
    uint32_t election_timeout_ms, heartbeat_ms; /* raft timing */
    uint32_t request_wait_ms;                   /* a request's wait for a leader, without Message Expiry */
    uint32_t snapshot_entries;                  /* raft snapshot every this many entries */
    uint32_t route_max_filters;                 /* topic filters a node announces before "everything" */
    /* This node joins a running cluster (mqstate cluster add): its first
     * start writes no initial configuration of its own. */
    bool join;
    /* Node links over TLS with mutual authentication (tls: present). */
    bool tls;
    char cert_file[CONFIG_CLUSTER_PATH_MAX], key_file[CONFIG_CLUSTER_PATH_MAX];
    char ca_file[CONFIG_CLUSTER_PATH_MAX], crl_file[CONFIG_CLUSTER_PATH_MAX];
    unsigned line; /* of the section, for messages */
} config_cluster;

/* Defaults (disabled; timing as documented). */
void config_cluster_init(config_cluster *c);
/* The `cluster:` value parser (a key_spec parse function). */
int config_cluster_parse(schema_ctx *sc, const yaml_node_t *v, const char *path, const key_spec *spec, void *target);
/* SIGHUP: the members list may change (entries added and removed; this
 * node's own entry must stay as it is), everything else needs a restart.
 * Logs what changed; copies the running values of what cannot change back
 * into next. Returns how many settings changed. */
unsigned config_cluster_reload(const config_cluster *running, config_cluster *next);
/* The member with this id, or NULL. */
const config_cluster_member *config_cluster_member_find(const config_cluster *c, uint64_t id);
/* This node's member entry (the section's checks guarantee it exists). */
const config_cluster_member *config_cluster_self(const config_cluster *c);

#endif
