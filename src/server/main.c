/* mqstated: command line, configuration, the event loop and signals. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "net/net.h"
#include "server/authz_guard.h"
#include "server/check_config.h"
#include "server/cluster_node.h"
#include "server/cluster_records.h"
#include "server/cluster_route.h"
#include "server/cluster_session.h"
#include "server/config.h"
#include "server/config_reload.h"
#include "server/log_setup.h"
#include "server/metrics.h"
#include "server/passwd_cmd.h"
#include "server/broker_log.h"
#include "server/persistence_cmd.h"
#include "server/principal_ops.h"
#include "server/sd_notify_link.h"
#include "server/security.h"
#include "server/store_bridge.h"
#include "server/sys_topics.h"
#include "store/record.h"
#include "store/service.h"
#include "util/clock.h"
#include "util/log.h"

typedef struct options options;
struct options {
    const char *config_path;
    const char *bind; /* NULL: not given */
    long port;        /* -1: not given */
    int verbose;
    bool check_config; /* --check-config: validate and exit */
};

typedef struct server {
    uv_loop_t loop;
    net *net;
    broker *broker;
    store_bridge *store;
    store_log *slog;          /* NULL: no persistence.dir, or a cluster */
    cluster_node *cluster;    /* NULL: one node (no cluster: section) */
    cluster_records *records; /* the broker's records through raft (with cluster) */
    cluster_route *route;     /* cross-node pub/sub (with cluster) */
    cluster_session *csess;   /* the cluster-wide session registry and wills (with cluster) */
    bool leaving;             /* a first SIGTERM/SIGINT started cluster_node_leave */
    authz_guard *authz;
    const char *config_path; /* re-read on SIGHUP; NULL: nothing to reload */
    const struct options *opts;
    config_running running; /* what a reload compares against */
    security *sec;          /* TLS contexts and the authenticator */
    /* Operations (docs/metrics.md): readiness conditions and registered
     * gauges any subsystem may add to; the endpoint serving them. */
    ops_ready ready;
    ops_gauges gauges;
    metrics *metrics;
    sys_topics *sys; /* $SYS/broker/...; NULL: sys_interval 0 */
    uv_signal_t sigint, sigterm, sighup, sigusr1;
} server;

static void usage(FILE *f)
{
    fprintf(f, "Usage: mqstated [options]\n"
               "  -p, --port N         listen on port N (default 1883)\n"
               "      --bind ADDR      listen on IPv4/IPv6 address ADDR (default 127.0.0.1)\n"
               "  -c, --config FILE    load the YAML configuration FILE\n"
               "  -v                   more logging (repeat for more)\n"
               "      --check-config   with -c FILE: load and check everything a start would\n"
               "                       (configuration, log file, persistence directory, TLS and\n"
               "                       password files) without listening; exit 0 and print\n"
               "                       \"configuration OK: FILE\", or print the error and exit 1\n"
               "      --version        print the version and exit\n"
               "  mqstated passwd [--stdin] [--delete] FILE USER\n"
               "                       set (or delete) USER's password in FILE\n"
               "  mqstated persistence check|repair DIR\n"
               "                       inspect (or cut at its first bad frame) DIR/statestore.log\n"
               "  -h, --help           print this help and exit\n"
               "--port/--bind change the address of the configuration's only listener;\n"
               "its TLS and authentication settings stay, and a loopback listener stays\n"
               "on loopback (public addresses go in the file).\n");
}

static int parse_port(const char *s, long *out)
{
    char *end;
    if (*s < '0' || *s > '9') return -1;
    long v = strtol(s, &end, 10);
    if (*end || v > 65535) return -1;
    *out = v;
    return 0;
}

/* Returns -1 to continue, or the exit status (0 after --help/--version,
 * 2 for a usage error). */
static int parse_args(int argc, char **argv, options *o)
{
    enum { OPT_BIND = 256, OPT_VERSION, OPT_CHECK };
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"bind", required_argument, NULL, OPT_BIND},
        {"config", required_argument, NULL, 'c'},
        {"version", no_argument, NULL, OPT_VERSION},
        {"help", no_argument, NULL, 'h'},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {NULL, 0, NULL, 0},
    };
    *o = (options){NULL, NULL, -1, 0, false};
    int ch;
    while ((ch = getopt_long(argc, argv, "p:c:vh", longopts, NULL)) != -1) {
        switch (ch) {
        case 'p':
            if (parse_port(optarg, &o->port) != 0) {
                fprintf(stderr, "mqstated: --port: expected a number between 0 and 65535, got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case OPT_BIND: o->bind = optarg; break;
        case 'c': o->config_path = optarg; break;
        case 'v': o->verbose++; break;
        case OPT_CHECK: o->check_config = true; break;
        case OPT_VERSION: printf("mqstated %s\n", MQS_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "mqstated: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (o->check_config && !o->config_path) {
        fprintf(stderr, "mqstated: --check-config needs -c FILE\n");
        return 2;
    }
    return -1;
}

/* --bind/--port change the address of the one listener and keep its TLS
 * and authentication (at start and on reload). `announce`: say so when
 * it changes what the file says, at start. */
static int override_listener(const options *o, config *cfg, bool announce, char *err, size_t errlen)
{
    if (!o->bind && o->port < 0) return 0;
    config_listener was = cfg->listeners[0];
    if (config_override_listener(cfg, o->bind, o->port, err, errlen) != 0) return -1;
    const config_listener *l = &cfg->listeners[0];
    if (announce && o->config_path && (strcmp(was.bind, l->bind) != 0 || was.port != l->port))
        log_warn("command line: listener %s port %u of %s now on %s port %u (its TLS and authentication kept)",
                 was.bind, was.port, o->config_path, l->bind, l->port);
    return 0;
}

/* Returns -1 to continue, or the exit status. */
static int build_config(const options *o, config *cfg)
{
    char err[512];
    if (o->config_path && config_load_file(cfg, o->config_path, err, sizeof err) != 0) {
        fprintf(stderr, "mqstated: %s\n", err);
        return 1;
    }
    if (override_listener(o, cfg, true, err, sizeof err) != 0) {
        fprintf(stderr, "mqstated: %s\n", err);
        return 2;
    }
    if (config_check_listeners(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "mqstated: %s\n", err);
        return 1;
    }
    return -1;
}

/* The file's level raised one step per -v. */
static enum log_level effective_level(enum log_level file, int verbose)
{
    int level = (int)file + verbose;
    return level > LOG_DEBUG ? LOG_DEBUG : (enum log_level)level;
}

static void on_signal_closed(uv_handle_t *h) { (void)h; }

/* Orderly stop: the broker says goodbye to its clients (their DISCONNECTs
 * are flushed by net_shutdown), then the loop runs dry and main frees. */
static void server_stop(server *s)
{
    metrics_shutdown(s->metrics);
    sys_topics_shutdown(s->sys);
    /* BYE to the other nodes: our clients' wills are not published. */
    cluster_session_shutdown(s->csess);
    broker_shutdown(s->broker); /* runs the disconnect hook: registrations go */
    /* after the wills of the broker's goodbyes went out to the other nodes */
    cluster_route_close(s->route);
    authz_guard_shutdown(s->authz);
    store_bridge_shutdown(s->store);
    cluster_records_close(s->records);
    cluster_node_close(s->cluster); /* after the bridge: its pending writes fail "shutting down" */
    store_log_shutdown(s->slog);    /* after the bridge's last flush */
    net_shutdown(s->net);
    uv_close((uv_handle_t *)&s->sigint, on_signal_closed);
    uv_close((uv_handle_t *)&s->sigterm, on_signal_closed);
    uv_close((uv_handle_t *)&s->sighup, on_signal_closed);
    uv_close((uv_handle_t *)&s->sigusr1, on_signal_closed);
}

/* SIGHUP: re-read the configuration file and apply what can change at run
 * time, one step each; a file with errors changes nothing. */
static void on_reload(uv_signal_t *h, int signum)
{
    (void)signum;
    server *s = h->data;
    if (!s->config_path) return;
    sd_notify_link_reloading();
    config nc;
    char err[512];
    config_init(&nc);
    /* Every step that can fail comes before the first that changes
     * anything, so a bad file leaves the running configuration whole. */
    if (config_load_file(&nc, s->config_path, err, sizeof err) != 0 ||
        override_listener(s->opts, &nc, false, err, sizeof err) != 0 ||
        config_check_listeners(&nc, err, sizeof err) != 0 || security_reload(s->sec, &nc, err, sizeof err) != 0) {
        log_error("reload: %s; configuration unchanged", err);
    } else {
        log_info("reload: TLS certificates and password files reloaded");
        authz_guard_reload(s->authz, config_authz_take(&nc.authz)); /* reload authorization rules */
        /* Logged before the new level applies, so a quieter level still
         * shows what the reload did. */
        config_reload_merge(&s->running, &nc);
        if (s->cluster) cluster_node_reload(s->cluster, &nc.cluster);
        broker_set_limits(s->broker, &nc.limits);
        net_set_close_timeout(s->net, nc.limits.close_timeout);
        net_set_max_pending_per_address(s->net, nc.limits.max_pending_per_address);
        log_set_level(effective_level(nc.log_level, s->opts->verbose));
        /* Also the reopen of an unchanged file (SIGHUP is logrotate's
         * other usual signal). */
        if (log_setup_apply(&nc.log, err, sizeof err) != 0) {
            log_error("reload: %s; logging stays as it was", err);
            nc.log = s->running.log;
        }
        config_running_set(&s->running, &nc);
    }
    config_free(&nc);
    sd_notify_link_ready(); /* serving again, with the new or the old configuration */
}

/* SIGUSR1: logrotate renamed the log file; write to a new one. */
static void on_reopen(uv_signal_t *h, int signum)
{
    (void)h;
    (void)signum;
    char err[512];
    int r = log_reopen(err, sizeof err);
    if (r < 0) log_error("SIGUSR1: %s; still writing to the old file", err);
    else if (r == 0) log_info("SIGUSR1: log file reopened");
    else log_info("SIGUSR1: no log file to reopen");
}

static void stop_after_leave(void *ctx) { server_stop(ctx); }

/* A cluster member first hands leadership over and lets its requests
 * finish (cluster_node_leave); a second signal stops at once. */
static void on_signal(uv_signal_t *h, int signum)
{
    server *s = h->data;
    log_info("received %s, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    sd_notify_link_stopping();
    if (s->cluster && s->store && !s->leaving) {
        s->leaving = true;
        cluster_node_leave(s->cluster, stop_after_leave, s);
        return;
    }
    server_stop(s);
}

/* Ends with the startup line: version, configuration and listeners. */
static int listen_all(server *s, const config *cfg)
{
    char addrs[512] = "";
    size_t used = 0;
    for (size_t i = 0; i < cfg->nlisteners; i++) {
        const config_listener *cl = &cfg->listeners[i];
        net_listener *l = net_listen(s->net, cl->bind, cl->port, broker_conn_user_size, broker_accept,
                                     &broker_conn_callbacks, s->broker);
        if (!l) return -1; /* net_listen logged why */
        security_attach(s->sec, i, l);
        /* A WebSocket message carries MQTT packets: the packet bound is its bound. */
        if (cl->websocket) net_listener_set_websocket(l, cl->websocket_path, cfg->limits.max_packet_size);
        bool v6 = strchr(cl->bind, ':') != NULL;
        const char *kind = cl->websocket ? (cl->tls.enabled ? " (WebSocket, TLS)" : " (WebSocket)")
                                         : (cl->tls.enabled ? " (TLS)" : "");
        log_info("listening on %s%s%s:%u%s%s%s", v6 ? "[" : "", cl->bind, v6 ? "]" : "", net_listener_port(l), kind,
                 cl->websocket ? " path " : "", cl->websocket ? cl->websocket_path : "");
        if (used < sizeof addrs) {
            int n = snprintf(addrs + used, sizeof addrs - used, "%s%s%s%s:%u%s", i ? ", " : "", v6 ? "[" : "", cl->bind,
                             v6 ? "]" : "", net_listener_port(l), kind);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    log_info("mqstated %s started: config %s, listeners %s%s", MQS_VERSION, cfg->file[0] ? cfg->file : "(none)", addrs,
             used >= sizeof addrs ? "..." : "");
    return 0;
}

static int run(config *cfg, const options *o)
{
    server s;
    memset(&s, 0, sizeof s);
    uv_loop_init(&s.loop);
    s.net = net_new(&s.loop);
    /* on_drain must fire on the same threshold the broker pauses at. */
    net_set_backlog_marks(s.net, cfg->limits.max_backlog_bytes, cfg->limits.max_backlog_bytes / 4);
    net_set_close_timeout(s.net, cfg->limits.close_timeout);
    net_set_max_pending_per_address(s.net, cfg->limits.max_pending_per_address);
    s.broker = broker_new(&s.loop, &cfg->limits, &server_principal_ops);
    store_bridge_config bc;
    config_store_bridge(cfg, &bc);
    char lerr[512];
    const config_persistence *pc = &cfg->persistence;
    bool log_ok = true;
    char node_id[CONFIG_NODE_ID_MAX + 32];
    if (cfg->cluster.enabled) { /* the raft log in DIR/raft is the store's log */
        s.cluster = cluster_node_new(&s.loop, &cfg->cluster, pc->dir, lerr, sizeof lerr);
        if (!s.cluster) log_error("%s", lerr);
        else s.records = cluster_records_new(&s.loop, s.broker, s.cluster, cfg->cluster.request_wait_ms);
        log_ok = s.cluster != NULL;
        bc.log_new = cluster_node_log;
        bc.log_arg = s.cluster;
        bc.cluster = true;
        bc.persist = STORE_BRIDGE_PERSIST_ALL; /* every raft entry is replicated and on disk */
        /* A version names the node that issued it. */
        snprintf(node_id, sizeof node_id, "%s-%" PRIu64, cfg->store.node_id, cfg->cluster.node_id);
        bc.store.node_id = node_id;
        if (config_broker_durable(pc))
            log_warn("cluster: every retained message is replicated through raft whatever persistence.retained says; "
                     "sessions are kept in memory on each node (persistence.sessions applies to a single node only; "
                     "docs/cluster.md)");
    } else if (pc->dir[0]) {
        s.slog = store_log_new(&s.loop, pc->dir, pc->fsync, lerr, sizeof lerr);
        if (!s.slog) log_error("%s", lerr);
        else store_log_set_snapshot_bytes(s.slog, pc->snapshot_log_bytes);
        log_ok = s.slog != NULL;
        if (s.slog && config_broker_durable(pc)) {
            broker_persist_select sel;
            mqtt_bytes topics[CONFIG_RETAINED_TOPICS_MAX];
            config_broker_persist(pc, &sel, topics);
            broker_log_bind(s.broker, s.slog, &sel);
        }
        if (s.slog) { /* every mode: mode none still keeps the clock mark */
            bc.log_new = store_log_attach;
            bc.log_arg = s.slog;
            bc.clock_mark_ms = STORE_LOG_CLOCK_MARK_MS;
        }
    }
    /* Replays the log (if any) before any listener opens. */
    s.store = log_ok ? store_bridge_new(&s.loop, s.broker, &bc) : NULL;
    if (s.store && s.slog && config_broker_durable(pc)) broker_log_replay_done(s.broker);
    if (!s.store) {
        if (log_ok) log_error("state store: cannot start (see above)");
    } else {
        s.authz = authz_guard_new(s.broker, s.store, config_authz_take(&cfg->authz));
        if (s.cluster) cluster_node_attach(s.cluster, s.store);
        if (s.cluster) s.route = cluster_route_new(&s.loop, s.broker, s.cluster, cfg->cluster.route_max_filters);
        if (s.cluster) s.csess = cluster_session_new(&s.loop, s.broker, s.cluster);
    }
    s.config_path = o->config_path;
    s.opts = o;
    config_running_set(&s.running, cfg);
    char err[512];
    s.sec = security_new(s.broker, cfg, err, sizeof err);
    if (!s.sec) log_error("%s", err);
    uv_signal_init(&s.loop, &s.sigint);
    uv_signal_init(&s.loop, &s.sigterm);
    uv_signal_init(&s.loop, &s.sighup);
    uv_signal_init(&s.loop, &s.sigusr1);
    s.sigint.data = s.sigterm.data = s.sighup.data = s.sigusr1.data = &s;
    int ready_listeners = ops_ready_add(&s.ready, "listeners");
    int ready_persistence = ops_ready_add(&s.ready, "persistence");
    if (s.cluster && s.store) cluster_node_metrics(s.cluster, &s.gauges, &s.ready);
    if (s.route) cluster_route_metrics(s.route, &s.gauges);
    if (s.csess) cluster_session_metrics(s.csess, &s.gauges);
    ops_ready_set(&s.ready, ready_persistence, s.store != NULL); /* the log was replayed in store_bridge_new */
    metrics_sources ms = {.net = s.net,
                          .broker = s.broker,
                          .store = s.store,
                          .slog = s.slog,
                          .authz = s.authz,
                          .gauges = &s.gauges,
                          .start_wall_ms = clock_wall_ms()};
    int rc = 0;
    if (s.store && s.sec && metrics_start(&s.loop, cfg, &ms, &s.ready, &s.metrics, err, sizeof err) != 0) {
        log_error("%s", err);
        rc = 1;
        server_stop(&s);
    } else if (!s.store || !s.sec || listen_all(&s, cfg) != 0) {
        rc = 1;
        server_stop(&s);
    } else {
        ops_ready_set(&s.ready, ready_listeners, true);
        s.sys = sys_topics_new(&s.loop, s.broker, s.net, cfg->sys_interval, ms.start_wall_ms);
        uv_signal_start(&s.sigint, on_signal, SIGINT);
        uv_signal_start(&s.sigterm, on_signal, SIGTERM);
        uv_signal_start(&s.sighup, on_reload, SIGHUP);
        uv_signal_start(&s.sigusr1, on_reopen, SIGUSR1);
        sd_notify_link_ready(); /* state restored (store_bridge_new replayed the log), listeners open */
    }
    uv_run(&s.loop, UV_RUN_DEFAULT);
    metrics_free(s.metrics);
    authz_guard_free(s.authz);
    security_free(s.sec);
    store_bridge_free(s.store);
    cluster_records_free(s.records);
    cluster_session_free(s.csess);
    cluster_node_free(s.cluster);
    cluster_route_free(s.route);
    store_log_free(s.slog);
    broker_free(s.broker);
    sys_topics_free(s.sys);
    net_free(s.net);
    if (uv_loop_close(&s.loop) != 0) log_warn("event loop closed with handles still open");
    if (rc == 0) log_info("stopped");
    return rc;
}

int main(int argc, char **argv)
{
    /* A peer that vanished mid-write must be an EPIPE from write(), not a
     * signal that kills the broker. */
    signal(SIGPIPE, SIG_IGN);
    if (argc >= 2 && strcmp(argv[1], "passwd") == 0) return passwd_cmd_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "persistence") == 0) return persistence_cmd_main(argc - 1, argv + 1);
    options o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;
    config cfg;
    config_init(&cfg);
    rc = build_config(&o, &cfg);
    if (rc < 0 && o.check_config) rc = check_config_run(&cfg, o.config_path);
    if (rc < 0) {
        char err[512];
        log_set_level(effective_level(cfg.log_level, o.verbose));
        if (log_setup_apply(&cfg.log, err, sizeof err) != 0) {
            fprintf(stderr, "mqstated: %s\n", err);
            rc = 1;
        } else rc = run(&cfg, &o);
    }
    log_to_stderr(); /* releases a log file or syslog */
    config_free(&cfg);
    return rc;
}
