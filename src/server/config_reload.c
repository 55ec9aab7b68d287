/* SIGHUP and the settings outside listeners and authorization: which can
 * change in a running server, and one log line for each that did. */
#include "server/config_reload.h"

#include <stdio.h>
#include <string.h>

#include "server/config_keys.h"
#include "server/log_setup.h"
#include "util/log.h"

/* Limits the broker reads where it applies them, none of them promised
 * to a connected client: new values hold from the next CONNECT, PUBLISH,
 * SUBSCRIBE, accept, close or timer tick (broker_set_limits, net_set_*). The others are advertised
 * in CONNACK (max_packet_size, receive_maximum, topic_alias_maximum) or
 * pace queues and buffers of live connections (max_queued_messages,
 * max_backlog_bytes): changing them under a connection breaks what it was
 * told or what it waits for. */
static const char *const runtime_limits[] = {
    "max_inflight",  "max_topic_levels",        "max_connections",         "keepalive_min",
    "keepalive_max", "max_session_expiry",      "connect_timeout",         "max_connect_size",
    "close_timeout", "max_pending_per_address", "slow_subscriber_timeout", NULL,
};

void config_running_set(config_running *r, const config *c)
{
    r->log_level = c->log_level;
    r->log = c->log;
    r->limits = c->limits;
    r->store = c->store;
    r->persistence = c->persistence;
    r->cluster = c->cluster;
    r->metrics = c->metrics;
    r->sys_interval = c->sys_interval;
}

static const char *fsync_name(store_fsync_mode m)
{
    return m == STORE_FSYNC_ALWAYS ? "always" : m == STORE_FSYNC_EVERYSEC ? "everysec" : "no";
}

static const char *mode_name(config_persist_mode m)
{
    return m == CONFIG_PERSIST_ALL ? "all" : m == CONFIG_PERSIST_NONE ? "none" : "custom";
}

/* The log file, its lock and the fsync mode are set up once, at start. */
static unsigned merge_persistence(const config_persistence *run, config_persistence *next)
{
    if (!strcmp(run->dir, next->dir) && run->fsync == next->fsync && run->state_store == next->state_store &&
        !memcmp(&run->ss_keys, &next->ss_keys, sizeof run->ss_keys) &&
        !memcmp(&run->ss_dynamic, &next->ss_dynamic, sizeof run->ss_dynamic) && run->retained == next->retained &&
        run->n_retained_topics == next->n_retained_topics &&
        !memcmp(run->retained_topics, next->retained_topics, sizeof run->retained_topics) &&
        run->sessions == next->sessions && run->n_session_ids == next->n_session_ids &&
        !memcmp(run->session_ids, next->session_ids, sizeof run->session_ids))
        return 0;
    log_warn("reload: persistence (dir \"%s\", fsync %s, state_store.mode %s) changed, needs a restart; still dir "
             "\"%s\", fsync %s, state_store.mode %s (state_store keys and dynamic, retained, sessions: as at start)",
             next->dir, fsync_name(next->fsync), mode_name(next->state_store), run->dir, fsync_name(run->fsync),
             mode_name(run->state_store));
    *next = *run;
    return 1;
}

/* All of `log:` applies at once (log_setup_apply); the file is reopened
 * on every reload anyway. */
static unsigned merge_log(const config_log *run, const config_log *next)
{
    unsigned changed = 0;
    if (run->destination != next->destination || strcmp(run->file, next->file) != 0) {
        log_info("reload: log.destination %s%s%s -> %s%s%s applied", log_setup_destination_name(run->destination),
                 run->file[0] ? " " : "", run->file, log_setup_destination_name(next->destination),
                 next->file[0] ? " " : "", next->file);
        changed++;
    }
    if (run->format != next->format) {
        log_info("reload: log.format %s -> %s applied", log_setup_format_name(run->format),
                 log_setup_format_name(next->format));
        changed++;
    }
    return changed;
}

static bool is_runtime_limit(const char *key)
{
    for (size_t i = 0; runtime_limits[i]; i++)
        if (!strcmp(runtime_limits[i], key)) return true;
    return false;
}

static unsigned long long uint_at(const void *base, const key_spec *k)
{
    const char *p = (const char *)base + k->offset;
    switch (k->size) {
    case 1: {
        uint8_t v;
        memcpy(&v, p, 1);
        return v;
    }
    case 2: {
        uint16_t v;
        memcpy(&v, p, 2);
        return v;
    }
    case 4: {
        uint32_t v;
        memcpy(&v, p, 4);
        return v;
    }
    default: {
        uint64_t v;
        memcpy(&v, p, 8);
        return v;
    }
    }
}

/* One section: every key whose value differs gets its line; a key that
 * cannot change at run time gets its running value back in `next`. */
static unsigned merge_section(const char *section, const key_spec *keys, const void *running, void *next,
                              bool (*runtime)(const char *key))
{
    unsigned changed = 0;
    for (const key_spec *k = keys; k->key; k++) {
        char was[80], now[80]; /* node_id is at most 64 bytes */
        if (k->size) {         /* an integer */
            snprintf(was, sizeof was, "%llu", uint_at(running, k));
            snprintf(now, sizeof now, "%llu", uint_at(next, k));
        } else { /* a string field (store.node_id) */
            snprintf(was, sizeof was, "%s", (const char *)running + k->offset);
            snprintf(now, sizeof now, "%s", (const char *)next + k->offset);
        }
        if (!strcmp(was, now)) continue;
        changed++;
        if (runtime && runtime(k->key)) {
            log_info("reload: %s.%s %s -> %s applied", section, k->key, was, now);
            continue;
        }
        log_warn("reload: %s.%s %s -> %s needs a restart; still %s", section, k->key, was, now, was);
        if (k->size) memcpy((char *)next + k->offset, (const char *)running + k->offset, k->size);
        else strcpy((char *)next + k->offset, (const char *)running + k->offset);
    }
    return changed;
}

unsigned config_reload_merge(const config_running *running, config *next)
{
    unsigned changed = 0;
    if (running->log_level != next->log_level) {
        log_info("reload: log_level %s -> %s applied", log_level_name(running->log_level),
                 log_level_name(next->log_level));
        changed++;
    }
    changed += merge_log(&running->log, &next->log);
    changed += merge_section("limits", config_limit_keys, &running->limits, &next->limits, is_runtime_limit);
    /* The store sizes its tables and caches once, at start. */
    changed += merge_section("store", config_store_keys, &running->store, &next->store, NULL);
    changed += merge_persistence(&running->persistence, &next->persistence);
    changed += config_cluster_reload(&running->cluster, &next->cluster);
    /* The endpoint listens once, and the $SYS timer is armed once. */
    config_metrics was = running->metrics, now = next->metrics; /* both zeroed by config_init: padding compares */
    was.line = now.line = 0;                                    /* where the section is in the file does not count */
    if (memcmp(&was, &now, sizeof now) != 0) {
        log_warn("reload: metrics changed, needs a restart; still as at start");
        next->metrics = running->metrics;
        changed++;
    }
    if (running->sys_interval != next->sys_interval) {
        log_warn("reload: sys_interval %u -> %u needs a restart; still %u", running->sys_interval, next->sys_interval,
                 running->sys_interval);
        next->sys_interval = running->sys_interval;
        changed++;
    }
    return changed;
}
