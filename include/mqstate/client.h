/* libmqstate client: one MQTT 5 connection (libmosquitto) to a broker with
 * an AIO-compatible state store, and the state store calls on it.
 *
 * Lifecycle
 *   mqs_connect_opts o; mqs_connect_opts_init(&o);
 *   o.host = "localhost"; o.client_id = id;      (client id is required)
 *   mqs_client *c = mqs_client_new(&o, &err);
 *   mqs_client_connect(c, 5000);                 (threaded mode: blocks until ready)
 *   ... mqs_set / mqs_get / mqs_observe ...
 *   mqs_client_destroy(c);
 *
 * Two transport modes (mqs_connect_opts.threaded):
 *   - threaded (default): the library runs its own network thread which
 *     reads, writes, fires timers and reconnects.
 *   - application-driven: the application polls mqs_client_socket() and
 *     calls mqs_client_loop_read / _write / _misc from its own event loop.
 *     The socket changes on every reconnect: query it on each iteration.
 *
 * Threading model
 *   - Every function is thread-safe (one mutex per client) EXCEPT
 *     mqs_client_destroy, which must not race with other calls on the same
 *     client, and the loop functions, which must be called from one thread.
 *   - All callbacks (completion, notification, connection, lease/leader)
 *     run on the network thread: the library's own thread, or the thread
 *     that calls the loop functions. The client mutex is NOT held while a
 *     callback runs, so a callback may start asynchronous calls. Callbacks
 *     must not block and MUST NOT call synchronous calls (they would wait
 *     for the very thread they block) nor mqs_client_destroy.
 *   - In application-driven mode synchronous calls must be made from a
 *     thread other than the loop thread.
 *
 * Requests
 *   Every call exists twice: synchronous (blocks up to the request timeout,
 *   fills an mqs_result) and `_async` (returns at once; the completion
 *   callback receives the result exactly once, unless the _async call itself
 *   returned an error, in which case it is never called). A request made
 *   while the connection is down waits for the reconnect (up to its
 *   timeout); a request already sent when the connection drops completes
 *   with MQS_ERR_CONNECTION_LOST (its outcome is unknown).
 *
 * Keys and values are arbitrary bytes (pointer + length); keys must be
 * non-empty. All inputs are copied: nothing passed in must outlive the call.
 *
 * Observations survive reconnects: after every reconnect each observed key
 * is registered again and the callback receives a synthetic notification
 * (mqs_notification.synthetic) built from a fresh GET, so a change made
 * while disconnected is never missed (protocol §14.8). */
#ifndef MQSTATE_CLIENT_H
#define MQSTATE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqstate/errors.h"
#include "mqstate/hlc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mqs_client mqs_client;

/* --- results ---------------------------------------------------------------- */

/* A byte string owned by the result it belongs to. */
typedef struct mqs_bytes {
    uint8_t *data; /* followed by a NUL byte (not counted) for convenience */
    size_t len;
} mqs_bytes;

/* The outcome of one call. Fields not listed for a call are zero.
 *
 *   all       err; error_text for service errors and MQS_ERR_STATUS
 *   set       applied (true: +OK, false: condition not met :-1);
 *             has_version/version: the key's version (new when applied,
 *             current when not)
 *   get       found; value (when found; may be empty); has_version/version,
 *             present exactly when found
 *   del       count: 1 deleted, 0 no such key; version of the removed entry
 *             when the service sent it
 *   vdel      count: 1 deleted, 0 no such key, -1 value did not match
 *   observe   nothing beyond err
 *   unobserve removed: true if a registration was removed
 *   scan      keys[0..nkeys) of this page; more: another page follows
 *
 * Memory: a result filled by a synchronous call belongs to the caller, who
 * releases it with mqs_result_clear. A result passed to a completion
 * callback is owned by the library and valid only during the callback. */
typedef struct mqs_result {
    mqs_err err;
    /* Service errors (including MQS_ERR_SERVICE_UNKNOWN): the text after
     * "-ERR ", NUL-terminated; MQS_ERR_STATUS: the __stMsg (or NULL). */
    char *error_text;
    bool has_version;
    mqs_hlc version;
    bool applied;
    bool found;
    mqs_bytes value;
    int count;
    bool removed;
    mqs_bytes *keys;
    size_t nkeys;
    bool more;
} mqs_result;

/* Free what a result owns and zero it. Safe on a zeroed result. */
void mqs_result_clear(mqs_result *r);

/* Completion callback of an _async call (see "Threading model"). */
typedef void (*mqs_result_cb)(mqs_client *c, const mqs_result *r, void *ud);

/* --- cluster administration (mqstated; docs/cluster.md) ---------------------- */

/* The status of the cluster member the client is connected to, as one
 * JSON object in out->value (members, leader, term, indexes, per-member
 * lag on the leader); `digest`: also the member's key count and keyspace
 * digest (for comparing replicas). Needs Read on the key
 * "$mqstate/cluster" where authorization is on. A single node answers
 * MQS_ERR_SERVICE ("unknown command"). */
mqs_err mqs_cluster_status(mqs_client *c, bool digest, mqs_result *out);
/* Add the member `id` to the cluster (add: it must be in the leader's
 * cluster.members and running with cluster.join: true; it joins as a
 * spare and becomes a voter once it caught up) or remove it. Served by
 * the leader (forwarded there); returns once the change is done. Needs
 * Write on "$mqstate/cluster" where authorization is on. Errors come
 * back as MQS_ERR_STATUS with the reason in out->error_text. */
mqs_err mqs_cluster_member(mqs_client *c, bool add, uint32_t id, mqs_result *out);

/* --- connection ------------------------------------------------------------- */

/* Password callback for an encrypted private key: write the password into
 * buf (at most size bytes, NUL-terminated) and return its length. */
typedef int (*mqs_keypass_cb)(char *buf, int size, void *ud);

/* Connection state changes: connected == true once the session is ready
 * for requests (CONNACK and subscriptions done); false on every loss, with
 * the reason. Runs on the network thread. */
typedef void (*mqs_connection_cb)(mqs_client *c, bool connected, mqs_err reason, void *ud);

/* Diagnostics (drift on a notification, dropped malformed messages,
 * reconnect attempts). level: 0 error, 1 warning, 2 info. */
typedef void (*mqs_log_cb)(mqs_client *c, int level, const char *msg, void *ud);

typedef struct mqs_connect_opts {
    const char *host;      /* default "localhost" */
    int port;              /* default 1883, 8883 with TLS */
    const char *client_id; /* REQUIRED, non-empty; see mqs_client_id_generate */
    int keepalive_s;       /* default 60 */
    const char *username;  /* NULL: none */
    const char *password;  /* NULL: none (needs username) */
    /* TLS: enabled when tls is true or any of the files below is set. */
    bool tls;
    const char *cafile;        /* trusted CA bundle (NULL: system default path) */
    const char *capath;        /* directory of CA certificates */
    const char *certfile;      /* client certificate (with keyfile) */
    const char *keyfile;       /* client private key */
    const char *keypass_file;  /* file holding the key password */
    mqs_keypass_cb keypass_cb; /* or: callback returning it */
    void *keypass_ud;
    bool insecure;               /* do not verify the server host name */
    bool clean_start;            /* default true */
    uint32_t session_expiry_s;   /* default 0 */
    bool threaded;               /* default true: library network thread */
    uint32_t request_timeout_ms; /* default 10000; message expiry = ceil(s) */
    uint32_t reconnect_min_ms;   /* first reconnect delay, default 100 */
    uint32_t reconnect_max_ms;   /* backoff cap, default 10000 (+-20 % jitter) */
    /* Response topic override; NULL: clients/<id>/services/<request topic>/response */
    const char *response_topic;
    mqs_connection_cb on_connection;
    mqs_log_cb on_log;
    void *ud; /* passed to on_connection and on_log */
} mqs_connect_opts;

/* Fill *o with the defaults above (all pointers NULL). */
void mqs_connect_opts_init(mqs_connect_opts *o);

/* Write "<prefix>-<16 random hex digits>" (prefix NULL: "mqs") into out,
 * NUL-terminated. Returns false if size is too small. Two calls never
 * return the same id in practice, so concurrent processes never take over
 * each other's session. */
bool mqs_client_id_generate(const char *prefix, char *out, size_t size);

/* Create a client (nothing is connected yet). Copies every option string.
 * Returns NULL and sets *err (if err != NULL) on invalid options
 * (MQS_ERR_INVALID: missing client id, unreadable key password file...). */
mqs_client *mqs_client_new(const mqs_connect_opts *o, mqs_err *err);

/* Connect. Threaded mode: starts the network thread and waits up to
 * timeout_ms for the session to be ready; on failure the thread keeps
 * retrying in the background only if the error was transient (MQS_ERR_TIMEOUT,
 * MQS_ERR_CONNECT); call mqs_client_disconnect to stop it.
 * Application-driven mode: performs the TCP/TLS connect and sends CONNECT,
 * then returns (timeout_ms is ignored); readiness is reported through
 * on_connection / mqs_client_is_connected while the loop runs.
 * Returns MQS_OK, MQS_ERR_CONNECT, MQS_ERR_REFUSED, MQS_ERR_TIMEOUT, or
 * MQS_ERR_BUSY if already started. */
mqs_err mqs_client_connect(mqs_client *c, int timeout_ms);

/* Like mqs_client_connect, but without retrying before the session was
 * first ready: when the TCP connection, the TLS handshake or the CONNECT
 * fails, it returns at once (MQS_ERR_CONNECT, MQS_ERR_REFUSED; or
 * MQS_ERR_TIMEOUT when nothing was decided within timeout_ms) and the
 * client is stopped (it can be connected again). Once the session was
 * ready, lost connections are re-established as usual. For tools that must
 * report a wrong port or certificate at once rather than wait for a broker. */
mqs_err mqs_client_connect_once(mqs_client *c, int timeout_ms);

/* Why the last connection attempt failed, in words: the broker's CONNACK
 * reason (e.g. "the broker refused the connection: Not authorized", with
 * the broker's reason string if it sent one), the socket error
 * ("Connection refused"), or the TLS cause ("TLS: the server certificate
 * is not trusted: unable to get local issuer certificate (unknown CA)",
 * "TLS: the server certificate does not match the host name H").
 * Copies it NUL-terminated into buf (truncated to size - 1 bytes) and
 * returns its length; 0 ("") once a connection succeeded or when nothing
 * is known. */
size_t mqs_client_error_text(mqs_client *c, char *buf, size_t size);

/* Disconnect cleanly and stop reconnecting (the network thread is joined).
 * Pending calls complete with MQS_ERR_NOT_CONNECTED. The client can be
 * connected again. Not callable from a callback. */
void mqs_client_disconnect(mqs_client *c);

/* Disconnect, complete every pending call with MQS_ERR_CANCELLED, and free
 * the client. Leases, locks and leaders created on it must be freed first.
 * NULL is ignored. Not callable from a callback. */
void mqs_client_destroy(mqs_client *c);

/* True while the session is ready for requests. */
bool mqs_client_is_connected(mqs_client *c);

/* The client id (NUL-terminated, owned by the client). */
const char *mqs_client_id(const mqs_client *c);

/* Change the timeout of subsequent requests (ms, 1..2^32-1000 s). */
void mqs_client_set_timeout(mqs_client *c, uint32_t timeout_ms);

/* --- application-driven loop (threaded == false) ----------------------------- */

/* The socket to poll, or -1 while not connected. */
int mqs_client_socket(mqs_client *c);
/* True when there is data to write: poll the socket for writability. */
bool mqs_client_want_write(mqs_client *c);
/* Call when the socket is readable: reads and dispatches packets. */
mqs_err mqs_client_loop_read(mqs_client *c);
/* Call when the socket is writable. */
mqs_err mqs_client_loop_write(mqs_client *c);
/* Call at least every 100 ms: keep-alive, request timeouts, lease
 * renewals, and reconnection with backoff (which may change the socket). */
mqs_err mqs_client_loop_misc(mqs_client *c);

/* --- state store calls ------------------------------------------------------ */

typedef enum mqs_set_cond {
    MQS_SET_ALWAYS = 0,
    MQS_SET_NX,  /* only if the key does not exist */
    MQS_SET_NEX, /* only if the key does not exist or has this same value */
} mqs_set_cond;

typedef struct mqs_set_opts {
    mqs_set_cond cond;
    uint64_t px_ms;               /* expiry in ms; 0: none */
    const mqs_hlc *fencing_token; /* sent as __ft; NULL: none */
    bool persist;                 /* aio-persistence: true */
} mqs_set_opts;

typedef struct mqs_del_opts {
    const mqs_hlc *fencing_token; /* sent as __ft; NULL: none */
} mqs_del_opts;

/* SET key value [NX|NEX] [PX ms]. opts may be NULL. Result: applied, version. */
mqs_err mqs_set(mqs_client *c, const void *key, size_t klen, const void *value, size_t vlen, const mqs_set_opts *opts,
                mqs_result *out);
mqs_err mqs_set_async(mqs_client *c, const void *key, size_t klen, const void *value, size_t vlen,
                      const mqs_set_opts *opts, mqs_result_cb cb, void *ud);

/* GET key. Result: found, value, version (present exactly when found). */
mqs_err mqs_get(mqs_client *c, const void *key, size_t klen, mqs_result *out);
mqs_err mqs_get_async(mqs_client *c, const void *key, size_t klen, mqs_result_cb cb, void *ud);

/* DEL key. opts may be NULL. Result: count 0|1. */
mqs_err mqs_del(mqs_client *c, const void *key, size_t klen, const mqs_del_opts *opts, mqs_result *out);
mqs_err mqs_del_async(mqs_client *c, const void *key, size_t klen, const mqs_del_opts *opts, mqs_result_cb cb,
                      void *ud);

/* VDEL key value: delete only if the value matches. Result: count -1|0|1. */
mqs_err mqs_vdel(mqs_client *c, const void *key, size_t klen, const void *value, size_t vlen, const mqs_del_opts *opts,
                 mqs_result *out);
mqs_err mqs_vdel_async(mqs_client *c, const void *key, size_t klen, const void *value, size_t vlen,
                       const mqs_del_opts *opts, mqs_result_cb cb, void *ud);

/* --- observation ------------------------------------------------------------ */

typedef enum mqs_notify_op {
    MQS_NOTIFY_SET,    /* the key was set; value holds the new value */
    MQS_NOTIFY_DELETE, /* deleted, VDELeted or expired */
} mqs_notify_op;

/* A notification; every pointer is valid only during the callback. */
typedef struct mqs_notification {
    const uint8_t *key;
    size_t key_len;
    mqs_notify_op op;
    const uint8_t *value; /* SET only */
    size_t value_len;
    bool has_version; /* always true for real notifications; synthetic
                             DELETEs have none (the key is absent) */
    /* SET: the version of the entry it created. DELETE: the version of the
     * entry it removed (protocol §4.6), i.e. the SAME version as that
     * entry's SET notification, never a newer one. */
    mqs_hlc version;
    bool synthetic; /* built from a GET after a reconnect */
} mqs_notification;

/* Notifications are delivered in arrival order, not de-duplicated. To
 * discard stale or repeated ones, do not drop "versions not newer than the
 * last seen": that would drop every DELETE, which repeats the version of the
 * SET before it. Order them as SET(v) < DELETE(v) < SET(w) for v < w, which
 * is what mqs_notify_pos_update does. */
typedef void (*mqs_notify_cb)(mqs_client *c, const mqs_notification *n, void *ud);

/* How far one key's notifications have got. Zero-initialise one per key. */
typedef struct mqs_notify_pos {
    bool known; /* false: the next notification is accepted */
    mqs_notify_op op;
    mqs_hlc version;
} mqs_notify_pos;

/* True when n is newer than *pos (and then records it in *pos); false when
 * it is stale or a repeat (a QoS 1 redelivery, a change already reported).
 * Order: by version, and at equal versions a DELETE after its SET. A
 * synthetic notification is the current state after a reconnect: always
 * accepted; after a synthetic DELETE (no version) the next one is too. */
bool mqs_notify_pos_update(mqs_notify_pos *pos, const mqs_notification *n);

/* KEYNOTIFY key: cb receives every change of key until mqs_unobserve. One
 * callback per key: observing an observed key replaces its callback (and
 * still re-sends KEYNOTIFY). The callback is installed before the request
 * is sent, so no change after a successful reply is missed. On failure the
 * callback is removed again. */
mqs_err mqs_observe(mqs_client *c, const void *key, size_t klen, mqs_notify_cb cb, void *cb_ud, mqs_result *out);
mqs_err mqs_observe_async(mqs_client *c, const void *key, size_t klen, mqs_notify_cb cb, void *cb_ud,
                          mqs_result_cb done, void *done_ud);

/* KEYNOTIFY key STOP. The callback is removed at once (it is not called
 * after this returns, unless already running). Result: removed. When the
 * library itself still watches the key for a lease/lock/leader of this
 * client, the registration is kept, nothing is sent, and removed is
 * reported true; the _async completion then still runs on the network
 * thread (in application-driven mode: in the next mqs_client_loop_misc),
 * never inside the call. */
mqs_err mqs_unobserve(mqs_client *c, const void *key, size_t klen, mqs_result *out);
mqs_err mqs_unobserve_async(mqs_client *c, const void *key, size_t klen, mqs_result_cb cb, void *ud);

/* --- SCAN pager (protocol §3.8) ---------------------------------------------- */

typedef struct mqs_scan mqs_scan;

/* A pager over the keys matching the glob pattern (non-empty). Nothing is
 * sent until the first mqs_scan_next. NULL on invalid arguments. */
mqs_scan *mqs_scan_new(mqs_client *c, const void *pattern, size_t plen);

/* Fetch the next page into *out (keys, nkeys, more). Pages may be empty
 * while more is true. After a failure the same page is asked again by the
 * next call. Returns MQS_ERR_INVALID once the scan is complete. */
mqs_err mqs_scan_next(mqs_scan *s, mqs_result *out);

/* Asynchronous variant: at most one page request in flight per pager
 * (MQS_ERR_BUSY otherwise). The pager must not be freed before cb ran. */
mqs_err mqs_scan_next_async(mqs_scan *s, mqs_result_cb cb, void *ud);

/* True once the final page was received. */
bool mqs_scan_done(const mqs_scan *s);

/* Free the pager. NULL is ignored. */
void mqs_scan_free(mqs_scan *s);

#ifdef __cplusplus
}
#endif

#endif
