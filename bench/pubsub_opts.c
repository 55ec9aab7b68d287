#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/packet.h"
#include "pubsub.h"

static const char usage[] = "usage: pubsub [options]\n"
                            "  --host ADDR         broker address (IPv4/IPv6 literal, default 127.0.0.1)\n"
                            "  --port N            broker port (default 1883)\n"
                            "  --sub-host ADDR     subscribers connect here instead (another cluster node)\n"
                            "  --sub-port N        subscribers' port (default: --port)\n"
                            "  --pubs N            publisher connections (default 1)\n"
                            "  --subs N            subscriber connections (default 1)\n"
                            "  --qos 0|1           QoS of publications and subscriptions (default 0)\n"
                            "  --size BYTES        payload size, >= 20 (default 64)\n"
                            "  --retain            publish with the RETAIN flag (every publication replaces\n"
                            "                      its topic's retained message)\n"
                            "  --topic-mode MODE   fan-in | fan-out: all publishers on one topic that every\n"
                            "                      subscriber follows; pairs: publisher i -> subscriber i\n"
                            "                      (needs --pubs = --subs) (default fan-in)\n"
                            "  --window N          per publisher: messages not yet delivered to every\n"
                            "                      subscriber (and, at QoS 1, not yet acknowledged) (default 64)\n"
                            "  --rate N            total publications per second, 0 = as fast as the window\n"
                            "                      allows (default 0)\n"
                            "  --warmup S          seconds of load before measuring (default 2)\n"
                            "  --duration S        seconds measured; with --idle, seconds the idle\n"
                            "                      connections are held after the sample (default 10)\n"
                            "  --drain S           seconds to wait for in-flight deliveries (default 2)\n"
                            "  --idle N            only open N idle connections and report the server's\n"
                            "                      RSS growth per connection (needs --server-pid)\n"
                            "  --idle-settle S     wait before sampling RSS in idle mode (default 1)\n"
                            "  --mqtt 5|3.1.1      protocol version (default 5)\n"
                            "  --server-pid PID    sample this process's RSS and CPU from /proc\n"
                            "  --label TEXT        copied into the report (e.g. the broker's name)\n"
                            "  --json              one JSON object on stdout instead of text\n"
                            "state store workloads (MQTT 5, QoS 1 requests; see bench/README.md):\n"
                            "  --workload W        pubsub (default) | set | get: requests on random keys\n"
                            "                      (get after a SET of every key) | fill: SET every key\n"
                            "                      once and report the server's RSS growth per key\n"
                            "                      (needs --server-pid)\n"
                            "  --conns N           client connections (same as --pubs) (default 1)\n"
                            "  --inflight N        requests in flight per connection (same as --window)\n"
                            "  --keys N            key space: key:000000000000 .. (default 100000)\n"
                            "  --value-size BYTES  SET value size (default 100)\n";

enum {
    OPT_HOST = 1000,
    OPT_PORT,
    OPT_PUBS,
    OPT_SUBS,
    OPT_QOS,
    OPT_SIZE,
    OPT_MODE,
    OPT_WINDOW,
    OPT_RATE,
    OPT_WARMUP,
    OPT_DURATION,
    OPT_DRAIN,
    OPT_IDLE,
    OPT_IDLE_SETTLE,
    OPT_MQTT,
    OPT_RETAIN,
    OPT_PID,
    OPT_LABEL,
    OPT_JSON,
    OPT_WORKLOAD,
    OPT_KEYS,
    OPT_VALUE_SIZE,
    OPT_HELP,
    OPT_SUB_HOST,
    OPT_SUB_PORT,
};

static const struct option longopts[] = {
    {"host", required_argument, 0, OPT_HOST},
    {"port", required_argument, 0, OPT_PORT},
    {"sub-host", required_argument, 0, OPT_SUB_HOST},
    {"sub-port", required_argument, 0, OPT_SUB_PORT},
    {"pubs", required_argument, 0, OPT_PUBS},
    {"subs", required_argument, 0, OPT_SUBS},
    {"qos", required_argument, 0, OPT_QOS},
    {"size", required_argument, 0, OPT_SIZE},
    {"topic-mode", required_argument, 0, OPT_MODE},
    {"window", required_argument, 0, OPT_WINDOW},
    {"rate", required_argument, 0, OPT_RATE},
    {"warmup", required_argument, 0, OPT_WARMUP},
    {"duration", required_argument, 0, OPT_DURATION},
    {"drain", required_argument, 0, OPT_DRAIN},
    {"idle", required_argument, 0, OPT_IDLE},
    {"idle-settle", required_argument, 0, OPT_IDLE_SETTLE},
    {"mqtt", required_argument, 0, OPT_MQTT},
    {"retain", no_argument, 0, OPT_RETAIN},
    {"server-pid", required_argument, 0, OPT_PID},
    {"label", required_argument, 0, OPT_LABEL},
    {"json", no_argument, 0, OPT_JSON},
    {"workload", required_argument, 0, OPT_WORKLOAD},
    {"keys", required_argument, 0, OPT_KEYS},
    {"value-size", required_argument, 0, OPT_VALUE_SIZE},
    {"conns", required_argument, 0, OPT_PUBS},
    {"inflight", required_argument, 0, OPT_WINDOW},
    {"help", no_argument, 0, OPT_HELP},
    {0, 0, 0, 0},
};

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (*s == '\0' || *s == '-' || *end != '\0' || v > max) return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double max, double *out)
{
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !(v >= 0) || v > max) return false;
    *out = v;
    return true;
}

static bool parse_secs(const char *s, double *out) { return parse_double(s, 86400, out); }

static bool parse_mode(pb_opts *o, const char *s)
{
    if (strcmp(s, "fan-in") == 0 || strcmp(s, "fan-out") == 0) o->topic_mode = PB_TOPIC_SHARED;
    else if (strcmp(s, "pairs") == 0) o->topic_mode = PB_TOPIC_PAIRS;
    else return false;
    o->mode_name = s;
    return true;
}

static bool parse_workload(pb_opts *o, const char *s)
{
    for (int w = PB_WL_PUBSUB; w <= PB_WL_FILL; w++) {
        if (strcmp(s, pb_workload_name((enum pb_workload)w)) == 0) {
            o->workload = (enum pb_workload)w;
            return true;
        }
    }
    return false;
}

static bool parse_one(pb_opts *o, int opt, const char *arg)
{
    unsigned long v = 0;
    switch (opt) {
    case OPT_HOST: o->host = arg; return true;
    case OPT_PORT: return parse_uint(arg, 65535, &v) && v > 0 && (o->port = (uint16_t)v, true);
    case OPT_SUB_HOST: o->sub_host = arg; return true;
    case OPT_SUB_PORT: return parse_uint(arg, 65535, &v) && v > 0 && (o->sub_port = (uint16_t)v, true);
    case OPT_PUBS: return parse_uint(arg, 100000, &v) && (o->pubs = (uint32_t)v, true);
    case OPT_SUBS: return parse_uint(arg, 100000, &v) && (o->subs = (uint32_t)v, true);
    case OPT_IDLE: return parse_uint(arg, 1000000, &v) && (o->idle = (uint32_t)v, true);
    case OPT_QOS: return parse_uint(arg, 1, &v) && (o->qos = (uint8_t)v, true);
    case OPT_RETAIN: o->retain = true; return true;
    case OPT_SIZE: return parse_uint(arg, 1 << 20, &v) && v >= PB_HEADER_SIZE && (o->size = (uint32_t)v, true);
    case OPT_WINDOW: return parse_uint(arg, 65535, &v) && v > 0 && (o->window = (uint32_t)v, true);
    case OPT_RATE: return parse_double(arg, 1e9, &o->rate);
    case OPT_WARMUP: return parse_secs(arg, &o->warmup);
    case OPT_DURATION: return parse_secs(arg, &o->duration) && o->duration > 0;
    case OPT_DRAIN: return parse_secs(arg, &o->drain);
    case OPT_IDLE_SETTLE: return parse_secs(arg, &o->idle_settle);
    case OPT_MODE: return parse_mode(o, arg);
    case OPT_PID: return parse_uint(arg, 0x7FFFFFFF, &v) && v > 0 && (o->server_pid = (pid_t)v, true);
    case OPT_LABEL: o->label = arg; return true;
    case OPT_JSON: o->json = true; return true;
    case OPT_WORKLOAD: return parse_workload(o, arg);
    case OPT_KEYS: return parse_uint(arg, 0xFFFFFFFFul, &v) && v > 0 && (o->keys = (uint32_t)v, true);
    case OPT_VALUE_SIZE: return parse_uint(arg, 1 << 20, &v) && (o->value_size = (uint32_t)v, true);
    case OPT_MQTT:
        if (strcmp(arg, "5") == 0) o->version = MQTT_V5;
        else if (strcmp(arg, "3.1.1") == 0) o->version = MQTT_V311;
        else return false;
        return true;
    default: return false;
    }
}

/* State store requests are QoS 1 MQTT 5 PUBLISHes (QoS 0 requests are
 * ignored by the server, and v3.1.1 has no Response Topic). */
static bool opts_check_ss(pb_opts *o)
{
    if (o->version != MQTT_V5 || o->idle > 0 || o->rate > 0 || o->pubs == 0) {
        fprintf(stderr, "pubsub: state store workloads need MQTT 5, --conns >= 1, no --idle or --rate\n");
        return false;
    }
    if (o->workload == PB_WL_FILL && o->server_pid == 0) {
        fprintf(stderr, "pubsub: --workload fill needs --server-pid\n");
        return false;
    }
    o->qos = 1;
    o->subs = 0;
    o->mode_name = pb_workload_name(o->workload);
    return true;
}

static bool opts_check(pb_opts *o)
{
    if (o->workload != PB_WL_PUBSUB) return opts_check_ss(o);
    if (o->idle > 0) {
        if (o->server_pid == 0) fprintf(stderr, "pubsub: --idle needs --server-pid\n");
        return o->server_pid != 0;
    }
    if (o->pubs == 0 || o->subs == 0) {
        fprintf(stderr, "pubsub: need at least one publisher and one subscriber\n");
        return false;
    }
    if (o->topic_mode == PB_TOPIC_PAIRS && o->pubs != o->subs) {
        fprintf(stderr, "pubsub: --topic-mode pairs needs --pubs = --subs\n");
        return false;
    }
    return true;
}

bool pb_opts_parse(pb_opts *o, int argc, char **argv)
{
    *o = (pb_opts){
        .host = "127.0.0.1",
        .port = 1883,
        .pubs = 1,
        .subs = 1,
        .qos = 0,
        .version = MQTT_V5,
        .size = 64,
        .window = 64,
        .duration = 10,
        .warmup = 2,
        .drain = 2,
        .idle_settle = 1,
        .topic_mode = PB_TOPIC_SHARED,
        .mode_name = "fan-in",
        .label = "",
        .workload = PB_WL_PUBSUB,
        .keys = 100000,
        .value_size = 100,
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (opt == OPT_HELP) {
            fputs(usage, stdout);
            exit(0);
        }
        if (opt == '?' || !parse_one(o, opt, optarg)) {
            if (opt != '?') fprintf(stderr, "pubsub: bad value for --%s: %s\n", longopts[opt - OPT_HOST].name, optarg);
            fputs(usage, stderr);
            return false;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "pubsub: unexpected argument: %s\n", argv[optind]);
        return false;
    }
    return opts_check(o);
}
