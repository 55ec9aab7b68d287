/* The client object and the internal interfaces between the SDK's files.
 * Not installed: the public API is include/mqstate/. */
#ifndef MQS_SDK_INTERNAL_H
#define MQS_SDK_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "mqstate/mqstate.h"
#include "sdk_reply.h"
#include "ssproto/hlc.h"
#include "ssproto/resp.h"
#include "util/buf.h"

#define SDK_CORR_LEN 16

/* A request from creation to completion. Owned by the client's pending
 * list while queued or in flight; completed exactly once (outside the
 * client mutex) with a result that is then cleared. */
typedef struct sdk_pending {
    struct sdk_pending *next;
    uint8_t corr[SDK_CORR_LEN];
    sdk_op op;
    buf payload; /* encoded RESP request */
    bool has_ft;
    mqs_hlc ft;
    bool persist;
    bool sent;            /* published on the current connection */
    uint64_t deadline_ms; /* monotonic */
    uint32_t expiry_s;
    mqs_result_cb cb;
    void *ud;
    struct sdk_sync *sync; /* synchronous caller waiting, instead of cb */
} sdk_pending;

/* A completion decided without a round trip (e.g. an unobserve the library
 * answers itself), queued so that it still runs on the network thread, in
 * the next loop step, never inside the call that started it. Owned by
 * c->deferred until run; its result is cleared after the callback. */
typedef struct sdk_deferred {
    struct sdk_deferred *next;
    mqs_result_cb cb;
    void *ud;
    mqs_result res;
} sdk_deferred;

/* One watcher of an observed key: the application's callback or a
 * library listener (lease, lock, leader). */
typedef struct sdk_listener {
    struct sdk_listener *next;
    mqs_notify_cb cb;
    void *ud;
    bool user; /* the mqs_observe callback (at most one per key) */
} sdk_listener;

/* A key registered with KEYNOTIFY on this client, while it has at least
 * one listener. */
typedef struct sdk_observed {
    struct sdk_observed *next;
    uint8_t *key;
    size_t klen;
    sdk_listener *listeners;
} sdk_observed;

/* Work another part of the SDK (leases) does in every misc step, on the
 * network thread with c->mu held. The client knows hooks only through
 * this: it never calls those parts by name. Owned by the registrant,
 * linked into c->step_hooks between sdk_step_hook_add_locked and
 * sdk_step_hook_remove_locked. */
typedef struct sdk_step_hook {
    struct sdk_step_hook *next;
    void (*step)(mqs_client *c, void *ud);
    void *ud;
    uint64_t id; /* set on add: unique on this client, never reused */
} sdk_step_hook;

struct mqs_client {
    pthread_mutex_t mu;
    pthread_cond_t cv; /* broadcast on: readiness, completions, callbacks done */
    struct mosquitto *mosq;

    /* configuration (owned copies) */
    char *client_id, *host, *username, *password, *response_topic, *notify_prefix;
    char *keypass;
    mqs_keypass_cb keypass_cb;
    void *keypass_ud;
    int port, keepalive_s;
    bool threaded, clean_start;
    uint32_t session_expiry_s, timeout_ms, reconnect_min_ms, reconnect_max_ms;
    mqs_connection_cb on_connection;
    mqs_log_cb on_log;
    void *ud;

    /* connection state */
    bool started;      /* connect called, not yet disconnected */
    bool stopping;     /* network thread must exit */
    bool socket_up;    /* TCP session exists (maybe not ready yet) */
    bool ready;        /* CONNACK + both SUBACKs */
    bool was_ready;    /* ready at least once: next ready is a reconnect */
    bool refused;      /* CONNACK refused: do not retry */
    bool connect_once; /* mqs_client_connect_once: no retry before the first ready */
    bool gave_up;      /* connect_once: the first attempt failed, stopped */
    mqs_err last_err;
    /* Why the last failed connection attempt failed, in words ("" once a
     * session was ready): CONNACK reason, socket error or TLS cause;
     * conn_error_new: the attempt under way has already said why (its
     * first, most specific reason is kept). Own lock, because libmosquitto
     * logs (and so sets it) from calls made under c->mu. */
    pthread_mutex_t err_mu;
    char conn_error[256];
    bool conn_error_new;
    int sub_mids[2];
    int subs_pending;
    uint32_t backoff_ms;
    uint64_t next_attempt_ms;
    pthread_t thread;
    bool has_thread;
    pthread_t loop_thread; /* thread running callbacks */
    bool has_loop_thread;
    unsigned callbacks_running;

    sdk_pending *pending;
    sdk_deferred *deferred; /* FIFO of local completions */
    sdk_observed *observed;
    sdk_step_hook *step_hooks; /* newest first */
    uint64_t next_hook_id;
};

/* --- util.c --- */
void sdk_random(void *out, size_t n);
uint64_t sdk_mono_ms(void);
void sdk_sleep_ms(uint64_t ms);
/* Wait on c->cv (mutex held) until deadline (monotonic ms). */
void sdk_cond_wait_until(mqs_client *c, uint64_t deadline_ms);
void sdk_log(mqs_client *c, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* True when the caller is the thread running callbacks. */
bool sdk_on_loop_thread(mqs_client *c);
/* Callback bracket: with c->mu held, mark a callback as running
 * (sdk_cb_begin) / done (sdk_cb_end, broadcasts). */
void sdk_cb_begin(mqs_client *c);
void sdk_cb_end(mqs_client *c);
/* With c->mu held: wait until no callback runs (no-op on the loop thread). */
void sdk_wait_callbacks(mqs_client *c);

/* --- app_hlc.c --- */
bool sdk_hlc_from_internal(const hlc *v, mqs_hlc *out);
hlc sdk_hlc_to_internal(const mqs_hlc *v);
/* Merge a received __ts into the process clock. */
mqs_err sdk_hlc_receive(const hlc *v);

/* --- request.c --- */
typedef struct sdk_req {
    sdk_op op;
    const resp_slice *argv;
    size_t argc;
    const mqs_hlc *ft;
    bool persist;
} sdk_req;
/* Start a request; cb gets the result. With c->mu held (_locked) or not. */
mqs_err sdk_request_async(mqs_client *c, const sdk_req *r, mqs_result_cb cb, void *ud);
mqs_err sdk_request_async_locked(mqs_client *c, const sdk_req *r, mqs_result_cb cb, void *ud);
/* Run a request synchronously; *out receives the result (always set). */
mqs_err sdk_request_sync(mqs_client *c, const sdk_req *r, mqs_result *out);
/* Mutex held: queue a local completion (takes ownership of *res) for the
 * next loop step. MQS_ERR_NOT_CONNECTED (nothing queued) when the client is
 * not started, as for a request. */
mqs_err sdk_defer_locked(mqs_client *c, mqs_result_cb cb, void *ud, mqs_result *res);
/* Run (outside the mutex, one at a time) every queued local completion. */
void sdk_run_deferred(mqs_client *c);
/* Mutex held: publish every queued request (after the session is ready). */
void sdk_flush_locked(mqs_client *c);
/* Complete (outside the mutex) every pending request matching: sent ones
 * (only_sent) or all, with err. */
void sdk_fail_pending(mqs_client *c, bool only_sent, mqs_err err);
/* Complete requests whose deadline passed with MQS_ERR_TIMEOUT. */
void sdk_expire_pending(mqs_client *c);
/* A response PUBLISH arrived. */
void sdk_on_response(mqs_client *c, const struct mosquitto_message *m, const mosquitto_property *props);

/* --- observe.c --- */
/* A notification PUBLISH arrived. */
void sdk_on_notification(mqs_client *c, const struct mosquitto_message *m, const mosquitto_property *props);
/* Mutex held: after a reconnect, re-register every observed key and
 * deliver synthetic notifications from fresh GETs. */
void sdk_reobserve_locked(mqs_client *c);
/* Add a library listener on key, registering KEYNOTIFY synchronously when
 * it is the key's first watcher. */
mqs_err sdk_watch_add(mqs_client *c, const void *key, size_t klen, mqs_notify_cb cb, void *ud, sdk_listener **out);
/* Remove a listener added by sdk_watch_add (KEYNOTIFY STOP if it was the
 * last watcher); waits for running callbacks. */
void sdk_watch_remove(mqs_client *c, const void *key, size_t klen, sdk_listener *l);
void sdk_observed_free_all(mqs_client *c);

/* --- client.c --- */
/* Mutex held: one step of the network logic for app-driven and threaded
 * modes alike (timeouts, step hooks such as lease renewals, reconnect). */
void sdk_misc_step(mqs_client *c);
/* Mutex held: register h (h->step and h->ud set; h->id assigned) /
 * unregister it (no-op if it is not registered). */
void sdk_step_hook_add_locked(mqs_client *c, sdk_step_hook *h);
void sdk_step_hook_remove_locked(mqs_client *c, sdk_step_hook *h);
/* Mutex held: the registered hook with that id, or NULL once removed. */
sdk_step_hook *sdk_step_hook_find_locked(mqs_client *c, uint64_t id);

#endif
