/* ss_history: concurrent state store clients that record a history for
 * tests/tools/lincheck.py.
 *
 *   ss_history --port P [--host H] --out FILE [--clients N] [--keys K]
 *              [--seconds S] [--timeout-ms T] [--seed X] [--prefix P] [--key-prefix K]
 *   ss_history --ports P1,P2,... ...   (a cluster: client i uses port i mod n)
 *   ss_history --hosts H1,H2,... --ports P1,P2,... ...
 *                                      (client i uses host i mod n and port i mod m)
 *
 * N threads, each with its own SDK client (libmqstate, threaded mode,
 * automatic reconnects), run random SET, SET NX, GET, DEL and VDEL on K
 * keys (<key-prefix>0 .. <key-prefix>K-1, default h0 ..) for S seconds.
 * Values are unique per write ("c<client>-<n>"), so a read names the
 * write it saw. Every operation becomes one JSON line with its invocation
 * and completion times (CLOCK_MONOTONIC nanoseconds, one clock for all
 * threads) and its result; a timeout, a lost connection or a cluster's
 * 408 "outcome unknown" is recorded as an unknown outcome (it may or may
 * not have taken effect). Any other error the service answered (a
 * refusal) changed nothing and is left out.
 *
 * The server may be killed and restarted meanwhile (the crash tests do):
 * clients reconnect by themselves. Exit status 0, with a summary line on
 * stdout; 2 on bad arguments or when no client ever connected. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mqstate/client.h"

#define MAX_PORTS 16
#define HOSTS_MAX 512 /* bytes of the --hosts list */

typedef struct opts {
    const char *host, *out, *prefix, *key_prefix;
    const char *hosts[MAX_PORTS];
    char hosts_buf[HOSTS_MAX];
    int ports[MAX_PORTS], n_ports, n_hosts, clients, keys, seconds;
    unsigned timeout_ms;
    unsigned seed;
} opts;

typedef struct shared {
    const opts *o;
    FILE *out;
    pthread_mutex_t mu;
    uint64_t deadline_ns;
    uint64_t n_ops, n_unknown, n_refused;
    int connected;
} shared;

typedef struct worker {
    shared *sh;
    int id;
    unsigned rng;
    pthread_t th;
} worker;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned rnd(worker *w) { return (unsigned)rand_r(&w->rng); }

/* One JSON string: keys and values here are ASCII letters, digits and '-'. */
static void put_str(FILE *f, const char *s, size_t n) { fprintf(f, "\"%.*s\"", (int)n, s); }

typedef enum { OP_SET, OP_SETNX, OP_GET, OP_DEL, OP_VDEL } op_kind;
static const char *const op_names[] = {"set", "setnx", "get", "del", "vdel"};

/* A cluster node answers __stat 408 "... (outcome unknown)" for a write
 * that reached a leader but got no answer in time (docs/cluster.md). */
static bool unknown_outcome(const mqs_result *r)
{
    mqs_err e = r->err;
    if (e == MQS_ERR_STATUS) return r->error_text && strstr(r->error_text, "outcome unknown");
    return e == MQS_ERR_TIMEOUT || e == MQS_ERR_CONNECTION_LOST || e == MQS_ERR_NOT_CONNECTED ||
           e == MQS_ERR_CANCELLED || e == MQS_ERR_MQTT;
}

static void record(worker *w, op_kind k, const char *key, const char *val, uint64_t t0, uint64_t t1,
                   const mqs_result *r)
{
    shared *sh = w->sh;
    bool unknown = unknown_outcome(r);
    if (!unknown && r->err != MQS_OK) { /* refused by the service: no effect */
        pthread_mutex_lock(&sh->mu);
        sh->n_refused++;
        pthread_mutex_unlock(&sh->mu);
        return;
    }
    pthread_mutex_lock(&sh->mu);
    FILE *f = sh->out;
    fprintf(f, "{\"p\":%d,\"f\":\"%s\",\"k\":", w->id, op_names[k]);
    put_str(f, key, strlen(key));
    if (val) {
        fputs(",\"v\":", f);
        put_str(f, val, strlen(val));
    }
    fprintf(f, ",\"start\":%" PRIu64, t0);
    if (unknown) {
        fputs(",\"unknown\":true}\n", f);
        sh->n_unknown++;
    } else {
        fprintf(f, ",\"end\":%" PRIu64 ",\"out\":", t1);
        switch (k) {
        case OP_SET:
        case OP_SETNX: fputs(r->applied ? "\"ok\"" : "\"no\"", f); break;
        case OP_GET:
            if (r->found) put_str(f, (const char *)r->value.data, r->value.len);
            else fputs("null", f);
            break;
        case OP_DEL:
        case OP_VDEL: fprintf(f, "%d", r->count); break;
        }
        fputs("}\n", f);
    }
    sh->n_ops++;
    pthread_mutex_unlock(&sh->mu);
}

static void *run(void *arg)
{
    worker *w = arg;
    shared *sh = w->sh;
    const opts *o = sh->o;
    char id[64];
    snprintf(id, sizeof id, "%s-%d-%u", o->prefix, w->id, o->seed);
    mqs_connect_opts co;
    mqs_connect_opts_init(&co);
    co.host = o->n_hosts ? o->hosts[w->id % o->n_hosts] : o->host;
    co.port = o->ports[w->id % o->n_ports];
    co.client_id = id;
    co.request_timeout_ms = o->timeout_ms;
    co.reconnect_min_ms = 20;
    co.reconnect_max_ms = 200;
    mqs_err err;
    mqs_client *c = mqs_client_new(&co, &err);
    if (!c) return NULL;
    if (mqs_client_connect(c, 5000) == MQS_OK) {
        pthread_mutex_lock(&sh->mu);
        sh->connected++;
        pthread_mutex_unlock(&sh->mu);
    }
    char key[32], val[48], last[48] = "";
    for (unsigned n = 0; now_ns() < sh->deadline_ns; n++) {
        snprintf(key, sizeof key, "%s%d", o->key_prefix, (int)(rnd(w) % (unsigned)o->keys));
        unsigned pick = rnd(w) % 100;
        op_kind k = pick < 30 ? OP_SET : pick < 40 ? OP_SETNX : pick < 75 ? OP_GET : pick < 85 ? OP_DEL : OP_VDEL;
        mqs_result r;
        memset(&r, 0, sizeof r);
        const char *v = NULL;
        mqs_err e;
        uint64_t t0 = now_ns();
        if (k == OP_SET || k == OP_SETNX) {
            snprintf(val, sizeof val, "c%d-%u", w->id, n);
            mqs_set_opts so = {.cond = k == OP_SETNX ? MQS_SET_NX : MQS_SET_ALWAYS};
            e = mqs_set(c, key, strlen(key), val, strlen(val), &so, &r);
            v = val;
            memcpy(last, val, sizeof val);
        } else if (k == OP_GET) {
            e = mqs_get(c, key, strlen(key), &r);
        } else if (k == OP_DEL) {
            e = mqs_del(c, key, strlen(key), NULL, &r);
        } else {
            v = last[0] && rnd(w) % 2 ? last : "c-none"; /* a value this client wrote, or one nobody did */
            e = mqs_vdel(c, key, strlen(key), v, strlen(v), NULL, &r);
        }
        uint64_t t1 = now_ns();
        if (e != MQS_OK && r.err == MQS_OK) r.err = e;
        record(w, k, key, v, t0, t1, &r);
        mqs_result_clear(&r);
    }
    mqs_client_disconnect(c);
    mqs_client_destroy(c);
    return NULL;
}

static int usage(void)
{
    fprintf(stderr, "usage: ss_history --port P | --ports P1,P2,... [--host H | --hosts H1,H2,...] --out FILE\n"
                    "                  [--clients N] [--keys K]\n"
                    "                  [--seconds S] [--timeout-ms T] [--seed X] [--prefix P] [--key-prefix K]\n");
    return 2;
}

int main(int argc, char **argv)
{
    opts o = {.host = "127.0.0.1",
              .prefix = "hist",
              .key_prefix = "h",
              .clients = 6,
              .keys = 4,
              .seconds = 5,
              .timeout_ms = 3000};
    o.seed = (unsigned)now_ns();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return usage();
        if (!strcmp(a, "--port") || !strcmp(a, "--ports")) {
            char *end = (char *)v;
            for (o.n_ports = 0; *end && o.n_ports < MAX_PORTS;) {
                long p = strtol(end, &end, 10);
                if (p <= 0 || p > 65535 || (*end && *end != ',')) return usage();
                o.ports[o.n_ports++] = (int)p;
                if (*end == ',') end++;
            }
            if (*end) return usage();
        } else if (!strcmp(a, "--hosts")) {
            if (strlen(v) >= sizeof o.hosts_buf) return usage();
            strcpy(o.hosts_buf, v);
            o.n_hosts = 0;
            for (char *save = NULL, *h = strtok_r(o.hosts_buf, ",", &save); h; h = strtok_r(NULL, ",", &save)) {
                if (o.n_hosts == MAX_PORTS) return usage();
                o.hosts[o.n_hosts++] = h;
            }
            if (!o.n_hosts) return usage();
        } else if (!strcmp(a, "--host")) o.host = v;
        else if (!strcmp(a, "--out")) o.out = v;
        else if (!strcmp(a, "--clients")) o.clients = atoi(v);
        else if (!strcmp(a, "--keys")) o.keys = atoi(v);
        else if (!strcmp(a, "--seconds")) o.seconds = atoi(v);
        else if (!strcmp(a, "--timeout-ms")) o.timeout_ms = (unsigned)atoi(v);
        else if (!strcmp(a, "--seed")) o.seed = (unsigned)strtoul(v, NULL, 10);
        else if (!strcmp(a, "--prefix")) o.prefix = v;
        else if (!strcmp(a, "--key-prefix") && strlen(v) <= 16) o.key_prefix = v;
        else return usage();
        i++;
    }
    if (o.n_ports == 0 || !o.out || o.clients < 1 || o.clients > 256 || o.keys < 1 || o.seconds < 1) return usage();
    shared sh = {.o = &o};
    sh.out = fopen(o.out, "w");
    if (!sh.out) {
        fprintf(stderr, "ss_history: %s: %s\n", o.out, strerror(errno));
        return 2;
    }
    pthread_mutex_init(&sh.mu, NULL);
    sh.deadline_ns = now_ns() + (uint64_t)o.seconds * 1000000000u;
    worker *ws = calloc((size_t)o.clients, sizeof *ws);
    for (int i = 0; i < o.clients; i++) {
        ws[i] = (worker){.sh = &sh, .id = i, .rng = o.seed * 2654435761u + (unsigned)i};
        pthread_create(&ws[i].th, NULL, run, &ws[i]);
    }
    for (int i = 0; i < o.clients; i++) pthread_join(ws[i].th, NULL);
    fclose(sh.out);
    free(ws);
    printf("ss_history: %" PRIu64 " operations (%" PRIu64 " unknown outcome, %" PRIu64
           " refused), %d of %d clients connected, seed %u\n",
           sh.n_ops, sh.n_unknown, sh.n_refused, sh.connected, o.clients, o.seed);
    return sh.connected ? 0 : 2;
}
