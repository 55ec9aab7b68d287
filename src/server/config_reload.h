/* What a SIGHUP may change in a running server, setting by setting. */
#ifndef MQS_SERVER_CONFIG_RELOAD_H
#define MQS_SERVER_CONFIG_RELOAD_H

#include "server/config.h"

/* The settings of the running server that a reload compares against. */
typedef struct config_running {
    enum log_level log_level; /* the file's, before -v */
    config_log log;           /* destination, file and format as applied */
    broker_limits limits;
    config_store store;
    config_persistence persistence;
    config_cluster cluster;
    config_metrics metrics;
    uint32_t sys_interval;
} config_running;

void config_running_set(config_running *r, const config *c);

/* Compare `next` (a freshly loaded file) with what runs and log one line
 * per changed setting: "applied" for those a running server can take
 * (log_level, log.destination, log.file and log.format, the limits in
 * the runtime list), "needs a restart" for the
 * rest, whose running values are copied back into `next` so that applying
 * `next` leaves them alone. A limits key not in the runtime list counts
 * as restart-only, so a new key is never changed under live connections
 * by accident. Returns how many settings changed. */
unsigned config_reload_merge(const config_running *running, config *next);

#endif
