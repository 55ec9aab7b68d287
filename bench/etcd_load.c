/* etcd_load: a closed-loop load generator for etcd's v3 JSON gateway
 * (grpc-gateway over HTTP/1.1), the comparison of bench/run_cluster.sh.
 *
 *   etcd_load --port P [--host ADDR] --op put|range [--conns N] [--inflight K]
 *             [--keys N] [--value-size B] [--warmup S] [--duration S] [--json]
 *
 * N connections (default 50) with K requests each in flight (default 1):
 * Go's HTTP server answers a connection's requests one after the other,
 * so K > 1 opens N x K connections with one request each, the same
 * concurrency. Each request is POST /v3/kv/put {"key","value"} or POST
 * /v3/kv/range {"key"} on a random key of "key:" + 12 digits (base64, as
 * the gateway wants), value-size bytes of value; `range` runs after a put
 * of every key. Counts responses with status 200 and measures latency
 * (send to complete response) per request; prints ops/s, p50, p99, max
 * and errors. One libuv loop, no allocation per request. */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "pubsub_hist.h"
#include "util/base64.h"
#include "util/buf.h"

typedef struct opts {
    const char *host, *op;
    int port, conns, inflight, keys, value_size;
    double warmup, duration;
    bool json;
} opts;

typedef struct conn {
    uv_tcp_t tcp;
    uv_connect_t creq;
    uv_write_t wreq;
    struct run *run;
    buf out, in;
    uint64_t sent_ns;
    bool busy;
} conn;

typedef struct run {
    const opts *o;
    uv_loop_t *loop;
    conn *conns;
    int n;
    unsigned rng;
    bool measuring, stopping, filling;
    int fill_next;
    uint64_t ok, errors;
    hist lat;
    char value_b64[BASE64_ENCODED_SIZE(4096)];
} run;

static char rbuf[65536];

static void alloc_cb(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    (void)h;
    (void)s;
    *b = uv_buf_init(rbuf, sizeof rbuf);
}

/* out holds BASE64_ENCODED_SIZE(16) bytes. */
static void key_b64(int k, char *out)
{
    char key[32];
    snprintf(key, sizeof key, "key:%012d", k);
    base64_encode((const uint8_t *)key, strlen(key), out);
}

static void send_next(conn *c);

static void written(uv_write_t *w, int status)
{
    conn *c = w->data;
    if (status < 0) c->run->errors++;
}

static void send_next(conn *c)
{
    run *r = c->run;
    if (r->stopping) return;
    int k;
    bool put = !strcmp(r->o->op, "put");
    if (r->filling) {
        if (r->fill_next >= r->o->keys) return;
        k = r->fill_next++;
        put = true;
    } else {
        k = (int)((unsigned)rand_r(&r->rng) % (unsigned)r->o->keys);
    }
    char kb[BASE64_ENCODED_SIZE(16)], body[9000];
    key_b64(k, kb);
    int blen = put ? snprintf(body, sizeof body, "{\"key\":\"%s\",\"value\":\"%s\"}", kb, r->value_b64)
                   : snprintf(body, sizeof body, "{\"key\":\"%s\"}", kb);
    c->out.len = 0;
    char head[256];
    int hlen = snprintf(head, sizeof head,
                        "POST /v3/kv/%s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                        "Content-Length: %d\r\n\r\n",
                        put ? "put" : "range", r->o->host, r->o->port, blen);
    buf_append(&c->out, head, (size_t)hlen);
    buf_append(&c->out, body, (size_t)blen);
    uv_buf_t b = uv_buf_init((char *)c->out.data, (unsigned)c->out.len);
    c->wreq.data = c;
    c->sent_ns = uv_hrtime();
    c->busy = true;
    uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, written);
}

/* A whole response in c->in: its length, 0 if incomplete. */
static size_t response_len(const buf *in, int *status)
{
    const char *p = (const char *)in->data;
    const char *end = memmem(p, in->len, "\r\n\r\n", 4);
    if (!end) return 0;
    size_t hdr = (size_t)(end - p) + 4;
    *status = in->len > 12 ? atoi(p + 9) : 0;
    const char *cl = memmem(p, hdr, "Content-Length:", 15);
    if (!cl) cl = memmem(p, hdr, "content-length:", 15);
    size_t body = cl ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
    return in->len >= hdr + body ? hdr + body : 0;
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    conn *c = s->data;
    run *r = c->run;
    if (n < 0) {
        r->errors++;
        uv_read_stop(s);
        return;
    }
    buf_append(&c->in, b->base, (size_t)n);
    int status;
    size_t len;
    while ((len = response_len(&c->in, &status)) > 0) {
        memmove(c->in.data, c->in.data + len, c->in.len - len);
        c->in.len -= len;
        c->busy = false;
        if (r->measuring) {
            if (status == 200) {
                r->ok++;
                hist_record(&r->lat, uv_hrtime() - c->sent_ns);
            } else r->errors++;
        }
        send_next(c);
    }
}

static void connected(uv_connect_t *req, int status)
{
    conn *c = req->data;
    if (status < 0) {
        fprintf(stderr, "etcd_load: connect: %s\n", uv_strerror(status));
        exit(2);
    }
    c->tcp.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read);
    send_next(c);
}

static void stop_timer(uv_timer_t *t) { uv_stop(t->loop); }

static void run_for(run *r, double seconds)
{
    uv_timer_t t;
    uv_timer_init(r->loop, &t);
    uv_timer_start(&t, stop_timer, (uint64_t)(seconds * 1000), 0);
    uv_run(r->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(r->loop, UV_RUN_NOWAIT);
}

static int usage(void)
{
    fprintf(stderr, "usage: etcd_load --port P [--host ADDR] --op put|range [--conns N] [--inflight K] [--keys N]\n"
                    "                 [--value-size B] [--warmup S] [--duration S] [--json]\n");
    return 2;
}

int main(int argc, char **argv)
{
    opts o = {.host = "127.0.0.1",
              .op = "put",
              .conns = 50,
              .inflight = 1,
              .keys = 100000,
              .value_size = 100,
              .warmup = 2,
              .duration = 10};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) {
            o.json = true;
            continue;
        }
        if (!v) return usage();
        if (!strcmp(a, "--host")) o.host = v;
        else if (!strcmp(a, "--port")) o.port = atoi(v);
        else if (!strcmp(a, "--op")) o.op = v;
        else if (!strcmp(a, "--conns")) o.conns = atoi(v);
        else if (!strcmp(a, "--inflight")) o.inflight = atoi(v);
        else if (!strcmp(a, "--keys")) o.keys = atoi(v);
        else if (!strcmp(a, "--value-size")) o.value_size = atoi(v);
        else if (!strcmp(a, "--warmup")) o.warmup = atof(v);
        else if (!strcmp(a, "--duration")) o.duration = atof(v);
        else return usage();
        i++;
    }
    if (o.port <= 0 || o.conns < 1 || o.inflight < 1 || o.keys < 1 || o.value_size < 1 || o.value_size > 4096 ||
        (strcmp(o.op, "put") && strcmp(o.op, "range")))
        return usage();
    run r = {.o = &o, .loop = uv_default_loop(), .rng = 12345};
    char value[4096];
    memset(value, 'v', (size_t)o.value_size);
    base64_encode((const uint8_t *)value, (size_t)o.value_size, r.value_b64);
    r.n = o.conns * o.inflight;
    r.conns = calloc((size_t)r.n, sizeof *r.conns);
    struct sockaddr_in addr;
    uv_ip4_addr(o.host, o.port, &addr);
    r.filling = !strcmp(o.op, "range");
    for (int i = 0; i < r.n; i++) {
        conn *c = &r.conns[i];
        c->run = &r;
        uv_tcp_init(r.loop, &c->tcp);
        c->creq.data = c;
        uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&addr, connected);
    }
    if (r.filling) { /* a put of every key first, then the ranges */
        while (r.fill_next < o.keys) run_for(&r, 0.5);
        run_for(&r, 0.5);
        r.filling = false;
        for (int i = 0; i < r.n; i++)
            if (!r.conns[i].busy) send_next(&r.conns[i]);
    }
    run_for(&r, o.warmup);
    hist_reset(&r.lat);
    r.measuring = true;
    uint64_t t0 = uv_hrtime();
    run_for(&r, o.duration);
    double secs = (double)(uv_hrtime() - t0) / 1e9;
    r.measuring = false;
    r.stopping = true;
    double rate = (double)r.ok / secs;
    double p50 = (double)hist_quantile(&r.lat, 0.5) / 1e6, p99 = (double)hist_quantile(&r.lat, 0.99) / 1e6;
    if (o.json)
        printf("{\"op\":\"%s\",\"conns\":%d,\"inflight\":%d,\"ops\":%" PRIu64 ",\"rate\":%.1f,\"p50_ms\":%.3f,"
               "\"p99_ms\":%.3f,\"max_ms\":%.3f,\"errors\":%" PRIu64 "}\n",
               o.op, o.conns, o.inflight, r.ok, rate, p50, p99, (double)r.lat.max / 1e6, r.errors);
    else
        printf("etcd %s: %.0f ops/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms, %" PRIu64 " errors (%d connections)\n",
               o.op, rate, p50, p99, (double)r.lat.max / 1e6, r.errors, r.n);
    return 0;
}
