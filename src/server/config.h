/* The server configuration: defaults, overlaid by a YAML file (schema in
 * docs/configuration.md), overlaid by the command line. */
#ifndef MQS_SERVER_CONFIG_H
#define MQS_SERVER_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "auth/authn.h"
#include "auth/passwd_hash.h"
#include "broker/broker.h"
#include "broker/broker_persist.h"
#include "server/config_authz.h"
#include "server/config_cluster.h"
#include "server/store_bridge.h"
#include "server/store_log.h"
#include "store/persist_select.h"
#include "util/log.h"

#define CONFIG_DEFAULT_BIND "127.0.0.1"
#define CONFIG_DEFAULT_PORT 1883
#define CONFIG_MAX_LISTENERS 64

#define CONFIG_PATH_MAX 1024
#define CONFIG_CIPHERS_MAX 1024

/* A listener's `tls:` section (config_listener.c). Strings are "" when
 * not given. */
typedef struct config_tls {
    bool enabled; /* the section is present */
    char cert_file[CONFIG_PATH_MAX];
    char key_file[CONFIG_PATH_MAX];
    char key_password_file[CONFIG_PATH_MAX];
    char ca_file[CONFIG_PATH_MAX];
    char crl_file[CONFIG_PATH_MAX];
    uint8_t client_certs; /* tls_client_certs */
    uint8_t min_version;  /* 12 or 13 */
    char ciphers[CONFIG_CIPHERS_MAX];
    char ciphersuites[CONFIG_CIPHERS_MAX];
} config_tls;

#define CONFIG_WS_PATH_MAX 256
#define CONFIG_DEFAULT_WS_PATH "/mqtt"

typedef struct config_listener {
    char bind[46];                           /* IPv4 or IPv6 literal (INET6_ADDRSTRLEN) */
    uint16_t port;                           /* 0 = any free port */
    bool websocket;                          /* MQTT over WebSockets (net_listener_set_websocket) */
    char websocket_path[CONFIG_WS_PATH_MAX]; /* default CONFIG_DEFAULT_WS_PATH */
    config_tls tls;
    bool has_authn;     /* an `authentication:` section is present */
    authn_policy authn; /* `open` is decided by config_check_listeners */
    /* Lines in config.file of the entry and of its sections, for messages;
     * 0 when not from a file (the default listener). */
    unsigned line, tls_line, authn_line;
} config_listener;

/* Defaults of one listener: 127.0.0.1:1883, plain, no authentication
 * section. */
void config_listener_init(config_listener *l);

#define CONFIG_NODE_ID_MAX 64

/* The `store:` section. bridge.store.node_id is NULL here: the id lives in
 * node_id (so the struct can be copied) and config_store_bridge links it. */
typedef struct config_store {
    char node_id[CONFIG_NODE_ID_MAX + 1];
    store_bridge_config bridge;
} config_store;

/* The `persistence:` section (docs/persistence.md). */
#define CONFIG_SNAPSHOT_LOG_BYTES (64ull << 20)
typedef enum config_persist_mode {
    CONFIG_PERSIST_ALL,    /* every state store write is durable */
    CONFIG_PERSIST_NONE,   /* no key durable; the log keeps the clock mark only */
    CONFIG_PERSIST_CUSTOM, /* keys selected by `keys` and the dynamic property */
} config_persist_mode;

/* persistence.retained: {topics: [...]} bounds (plain data: the struct is
 * copied by value, config_reload.c). */
#define CONFIG_RETAINED_TOPICS_MAX 64
#define CONFIG_RETAINED_TOPICS_BYTES 4096
/* persistence.sessions: {clientIds: [...]} bounds (the same reason). */
#define CONFIG_SESSION_IDS_MAX 64
#define CONFIG_SESSION_IDS_BYTES 4096
/* state_store.dynamic: a SET carrying the user property `property` with
 * the value `value` is durable (mode custom). */
#define CONFIG_PERSIST_PROP_MAX 256
typedef struct config_persist_dynamic {
    bool enabled;                               /* default true */
    char property[CONFIG_PERSIST_PROP_MAX + 1]; /* default "aio-persistence" */
    char value[CONFIG_PERSIST_PROP_MAX + 1];    /* default "true" */
} config_persist_dynamic;

typedef struct config_persistence {
    char dir[CONFIG_PATH_MAX];       /* "" (default): everything in memory */
    store_fsync_mode fsync;          /* default STORE_FSYNC_EVERYSEC */
    config_persist_mode state_store; /* state_store.mode; default CONFIG_PERSIST_ALL */
    store_persist_rules ss_keys;     /* state_store.keys (mode custom); default none */
    config_persist_dynamic ss_dynamic;
    uint64_t snapshot_log_bytes;  /* default CONFIG_SNAPSHOT_LOG_BYTES; 0 = never */
    broker_persist_mode retained; /* default BROKER_PERSIST_ALL */
    /* SOME: the topic filters, back to back, each NUL-terminated. */
    uint32_t n_retained_topics;
    char retained_topics[CONFIG_RETAINED_TOPICS_BYTES];
    broker_persist_mode sessions; /* default BROKER_PERSIST_ALL */
    /* SOME: the client id glob patterns, back to back, each NUL-terminated. */
    uint32_t n_session_ids;
    char session_ids[CONFIG_SESSION_IDS_BYTES];
} config_persistence;

/* The broker's selection of durable state (persistence.retained and
 * .sessions); `topics` (room for CONFIG_RETAINED_TOPICS_MAX) receives
 * slices of c's filters, and the session selection matches c's patterns,
 * so c must outlive the broker. */
void config_broker_persist(const config_persistence *c, broker_persist_select *out, mqtt_bytes *topics);
/* Is any broker state durable (retained messages or sessions)? */
bool config_broker_durable(const config_persistence *c);

/* The `log:` section (docs/logging.md). */
typedef enum config_log_dest { CONFIG_LOG_STDERR, CONFIG_LOG_FILE, CONFIG_LOG_SYSLOG } config_log_dest;
typedef struct config_log {
    config_log_dest destination; /* default CONFIG_LOG_STDERR */
    enum log_format format;      /* default LOG_FORMAT_TEXT */
    enum log_level level;        /* log.level as written; the loader copies it to config.log_level */
    char file[CONFIG_PATH_MAX];  /* destination file: the path; "" otherwise */
} config_log;

#define CONFIG_METRICS_PORT 9883
#define CONFIG_METRICS_USER_MAX 128

typedef struct config_metrics {
    bool enabled;                               /* the section is present */
    char bind[46];                              /* default 127.0.0.1 */
    config_tls tls;                             /* tls.enabled: the subsection is present */
    uint16_t port;                              /* default CONFIG_METRICS_PORT; 0: any free port (tests) */
    uint32_t max_connections;                   /* default 16 */
    uint32_t idle_timeout;                      /* seconds, default 10 */
    char username[CONFIG_METRICS_USER_MAX + 1]; /* "": no authentication */
    passwd_hash password;                       /* parsed password_hash, with username */
    unsigned line;                              /* of the section, for messages */
} config_metrics;

typedef struct config {
    char file[CONFIG_PATH_MAX]; /* the file last loaded, for messages; "" if none */
    enum log_level log_level;   /* log.level, or the older top-level log_level (the same setting) */
    config_log log;
    config_listener *listeners; /* owned; nlisteners >= 1 */
    size_t nlisteners;
    broker_limits limits;
    config_store store;
    config_authz authz; /* see config_authz.h for ownership */
    config_persistence persistence;
    config_cluster cluster; /* enabled: this node is a member of a cluster (docs/cluster.md) */
    config_metrics metrics;
    uint32_t sys_interval; /* seconds between $SYS/broker updates; 0 = off (default 10) */
} config;

/* Defaults: log level info, one listener 127.0.0.1:1883, broker and state
 * store defaults. */
void config_init(config *c);
void config_free(config *c);

/* Load YAML on top of *c. `name` is used in messages ("name:line: ...").
 * On error returns -1, writes a one-line message to err and leaves *c
 * unchanged. */
int config_load_string(config *c, const char *name, const void *data, size_t len, char *err, size_t errlen);
int config_load_file(config *c, const char *path, char *err, size_t errlen);

/* The command line's --bind/--port: change the address of the one
 * listener (bind NULL / port < 0 keep that part) and keep its `tls` and
 * `authentication`, so no flag can drop them. Returns -1 with a message
 * when bind is not an IPv4/IPv6 literal, or when there are several
 * listeners (which one was meant would be a guess). */
int config_override_listener(config *c, const char *bind, long port, char *err, size_t errlen);

/* The bridge configuration; out->store.node_id and the persistence
 * selection (keys, property, value) point into c. */
void config_store_bridge(const config *c, store_bridge_config *out);

/* The safe-default rule, run once the listener list is final (after the
 * command line): a listener without an `authentication:` section admits
 * everyone when it is bound to a loopback address (127.0.0.0/8, ::1) and
 * is an error otherwise. Returns -1 with a message naming the listener. */
int config_check_listeners(config *c, char *err, size_t errlen);

/* How messages name listener i, or one of its sections (section "",
 * "tls" or "authentication"): "FILE:LINE: listeners[i].section" when it
 * came from a file, "listeners[i].section" otherwise. Returns out. */
const char *config_listener_where(const config *c, size_t i, const char *section, char *out, size_t outlen);

/* "error", "warn" (or "warning"), "info", "debug" -> level; -1 if unknown. */
int config_parse_log_level(const char *s);

#endif
