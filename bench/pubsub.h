/* bench/pubsub: an MQTT pub/sub load generator. One process, one libuv loop,
 * many client connections, built on the project's own codec.
 *
 * Flow control: every publisher keeps at most `window` messages whose
 * deliveries have not all come back to the generator's subscribers (and,
 * at QoS 1, at most `window` unacknowledged PUBLISHes). So what is measured
 * is delivered throughput: a broker cannot look fast by queueing or
 * dropping what it cannot deliver.
 *
 * Each payload carries the send time (uv_hrtime), a per-publisher sequence
 * number and the publisher's index; the subscribers compute latency and
 * detect gaps and duplicates from them. */
#ifndef MQS_BENCH_PUBSUB_H
#define MQS_BENCH_PUBSUB_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "pubsub_hist.h"
#include "mqtt/packet.h"
#include "util/buf.h"

/* Bytes at the start of each payload: timestamp, sequence, publisher. */
#define PB_HEADER_SIZE 20

/* What the generator drives: pub/sub traffic, or state store requests
 * (bench/pubsub_ss.c): every connection sends requests and reads the
 * replies on its own response topic. */
enum pb_workload {
    PB_WL_PUBSUB,
    PB_WL_SET,  /* SET of random keys */
    PB_WL_GET,  /* GET of random keys, after a SET of every key */
    PB_WL_FILL, /* SET every key once, then report RSS growth per key */
};

enum pb_topic_mode {
    PB_TOPIC_SHARED, /* every publisher to one topic all subscribers follow */
    PB_TOPIC_PAIRS,  /* publisher i -> topic i -> subscriber i */
};

typedef struct pb_opts {
    const char *host;
    uint16_t port;
    const char *sub_host; /* subscribers' broker (another node of a cluster); NULL: host */
    uint16_t sub_port;    /* 0: port */
    uint32_t pubs;
    uint32_t subs;
    uint32_t idle;
    uint8_t qos;
    uint8_t version; /* MQTT_V5 or MQTT_V311 */
    bool retain;     /* publications carry the RETAIN flag (durable retained messages) */
    uint32_t size;
    uint32_t window;
    double rate; /* total messages/s offered; 0 = as fast as the window allows */
    double duration;
    double warmup;
    double drain;       /* seconds to wait for in-flight deliveries at the end */
    double idle_settle; /* seconds between the last idle CONNACK and the RSS sample */
    enum pb_topic_mode topic_mode;
    const char *mode_name; /* as given on the command line, for the report */
    const char *label;     /* free text copied into the report (broker name) */
    pid_t server_pid;      /* 0 = do not sample the server */
    bool json;
    /* state store workloads: `pubs` connections, `window` requests in
     * flight on each, keys "key:%012u" for 0 <= u < keys (16 bytes, the
     * names redis-benchmark -r gives its keys) */
    enum pb_workload workload;
    uint32_t keys;
    uint32_t value_size;
} pb_opts;

enum pb_role { PB_PUB, PB_SUB, PB_IDLE, PB_SS };
enum pb_state { PB_IDLE_STATE, PB_CONNECTING, PB_WAIT_CONNACK, PB_WAIT_SUBACK, PB_READY, PB_CLOSED };

struct pb_bench;

typedef struct pb_conn {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    struct pb_bench *bench;
    enum pb_role role;
    enum pb_state state;
    uint32_t index;
    bool writing; /* write_req in flight, covering wbuf */
    bool dirty;   /* on the bench's flush list */
    bool closing;
    struct pb_conn *next_dirty;
    buf in;          /* unparsed tail of a packet split across reads */
    buf out;         /* packets encoded since the last flush */
    buf wbuf;        /* bytes handed to uv_write, owned until its callback */
    char topic[128]; /* publish topic; a state store client's response topic */
    uint16_t topic_len;

    /* publisher */
    uint8_t *payload;
    uint64_t sent;
    uint64_t acked;
    uint64_t delivered;   /* deliveries of this publisher's messages seen */
    uint64_t written_off; /* deliveries given up on by stall recovery */
    uint64_t progress_ns; /* last time a delivery or ack came back */
    uint32_t unacked;
    uint32_t window; /* opts.window capped by the server's Receive Maximum */
    uint16_t next_id;

    /* subscriber: next expected sequence number per publisher */
    uint64_t *next_seq;

    /* state store client: the request payloads, rewritten in place (key
     * digits) for every request; the next key of the pre-fill */
    buf set_req;
    buf get_req;
    uint64_t fill_next;
} pb_conn;

typedef struct pb_totals {
    uint64_t sent;
    uint64_t received;
    int64_t server_cpu; /* clock ticks */
    int64_t self_cpu;
    uint64_t ns;
} pb_totals;

typedef struct pb_bench {
    uv_loop_t *loop;
    pb_opts opts;
    pb_conn *conns; /* pubs, then subs, then idle connections */
    uint32_t n_conns;
    uint32_t fanout; /* deliveries each published message should produce */
    uint32_t next_connect;
    uint32_t ready;
    uint32_t closed;
    pb_conn *dirty;

    uv_check_t flush_check;
    uv_timer_t tick;  /* stall recovery, rate refill, RSS sampling, pings */
    uv_timer_t phase; /* drives the run from one phase to the next */
    int phase_no;
    bool publishing;
    bool measuring;
    bool failed;
    bool shutting_down;

    double tokens; /* rate limiting */
    uint64_t tokens_ns;
    uint64_t ping_ns;
    uint64_t rss_ns; /* last RSS sample */
    uint32_t rr;     /* round-robin start for the rate-limited pump */

    /* whole-run counters */
    uint64_t sent;
    uint64_t received;
    uint64_t acked;
    uint64_t dups;
    uint64_t gaps;
    uint64_t errors;
    uint64_t written_off;
    hist latency; /* measurement window only */

    pb_totals start, end;
    int64_t rss_before_kib; /* idle mode: before connecting */
    int64_t rss_start_kib;
    int64_t rss_max_kib;
    int64_t rss_end_kib;

    /* state store workloads */
    bool filling;          /* SET of every key once, before the workload */
    uint64_t fill_done;    /* keys whose pre-fill SET was answered */
    uint64_t reply_errors; /* replies that were not the expected success */
    uint64_t rng;          /* xorshift state: random keys */
    uint64_t hlc_ms;       /* __ts: wall ms and counter of the last stamp */
    uint32_t hlc_count;
    uint64_t hlc_stamp_ns; /* loop time of the last stamp */
    buf ts_prop;           /* the encoded __ts user property */
    int64_t fill_rss_before_kib;
    double fill_secs;
    uint64_t fill_start_ns;
    bool reported; /* fill: the report went out */

    uint8_t rbuf[64 * 1024]; /* loop-wide read buffer: reads never overlap */
} pb_bench;

/* pubsub_opts.c: returns false (after printing why) on bad usage. */
bool pb_opts_parse(pb_opts *o, int argc, char **argv);

/* pubsub_conn.c */
void pb_conn_init(pb_bench *b, pb_conn *c, enum pb_role role, uint32_t index);
/* Start the TCP connect; MQTT CONNECT (and SUBSCRIBE) follow by themselves,
 * and pb_on_ready is called once the connection is usable. */
int pb_conn_start(pb_conn *c);
/* Publish up to `max` messages, as far as flow control allows; returns how
 * many were queued. */
uint32_t pb_conn_pump(pb_conn *c, uint32_t max);
void pb_conn_ping(pb_conn *c);
/* Send DISCONNECT (best effort) and close. */
void pb_conn_disconnect(pb_conn *c);
void pb_conn_fail(pb_conn *c, const char *what, int err);
void pb_conn_free(pb_conn *c);
/* uv_check callback: write every connection with pending output. */
void pb_flush_all(uv_check_t *h);
/* Deliveries this publisher still waits for. */
uint64_t pb_conn_outstanding(const pb_conn *c);

/* pubsub_ss.c: state store requests and replies. */
void pb_ss_conn_init(pb_conn *c);
/* Append one request (a SET during the pre-fill, else the workload's). */
void pb_ss_request(pb_conn *c, uint64_t now);
/* Account for one reply PUBLISH. */
void pb_ss_reply(pb_conn *c, const mqtt_publish *pub, uint64_t now);
/* More pre-fill SETs to send on this connection? */
bool pb_ss_fill_pending(const pb_conn *c);
const char *pb_workload_name(enum pb_workload w);

/* pubsub_main.c: events from the connections. */
void pb_on_ready(pb_bench *b, pb_conn *c);
void pb_on_closed(pb_bench *b, pb_conn *c);
void pb_on_failed(pb_bench *b);
/* The last pre-fill reply arrived. */
void pb_on_filled(pb_bench *b);

/* pubsub_report.c */
void pb_report(const pb_bench *b);
void pb_report_idle(const pb_bench *b, uint32_t conns, int64_t after_kib);
void pb_report_fill(const pb_bench *b, int64_t after_kib);

#endif
