/* Client lifecycle and transport: libmosquitto MQTT 5 session, readiness
 * (CONNACK + response and notification subscriptions, §14.2), reconnection
 * with jittered exponential backoff, and the two loop modes.
 *
 * Threaded mode runs its own thread around mosquitto_loop() rather than
 * mosquitto_loop_start(): libmosquitto's built-in reconnect has whole-second
 * delays and no jitter, and the same step function (sdk_misc_step) must
 * also drive request timeouts and lease renewals. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "sdk_internal.h"
#include "sdk_topic.h"
#include "util/alloc.h"

static char *dup_opt(const char *s) { return s ? xstrdup(s) : NULL; }

void mqs_connect_opts_init(mqs_connect_opts *o)
{
    memset(o, 0, sizeof *o);
    o->keepalive_s = 60;
    o->clean_start = true;
    o->threaded = true;
    o->request_timeout_ms = 10000;
    o->reconnect_min_ms = 100;
    o->reconnect_max_ms = 10000;
}

bool mqs_client_id_generate(const char *prefix, char *out, size_t size)
{
    uint8_t r[8];
    sdk_random(r, sizeof r);
    int n = snprintf(out, size, "%s-%02x%02x%02x%02x%02x%02x%02x%02x", prefix ? prefix : "mqs", r[0], r[1], r[2], r[3],
                     r[4], r[5], r[6], r[7]);
    return n > 0 && (size_t)n < size;
}

const char *mqs_sdk_version(void) { return MQS_VERSION; }

static char *read_keypass_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char line[1024];
    char *s = fgets(line, sizeof line, f) ? xstrdup(line) : xstrdup("");
    fclose(f);
    s[strcspn(s, "\r\n")] = '\0';
    return s;
}

/* libmosquitto hands its own userdata (the client) to the TLS password
 * callback; forward to the configured password or callback. */
static int pw_callback(char *buf, int size, int rwflag, void *userdata)
{
    mqs_client *c = userdata;
    if (c->keypass_cb) return c->keypass_cb(buf, size, c->keypass_ud);
    if (!c->keypass || size <= 0) return 0;
    snprintf(buf, (size_t)size, "%s", c->keypass);
    return (int)strlen(buf);
}

/* --- why a connection failed ----------------------------------------------- */

static void set_conn_error(mqs_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_conn_error(mqs_client *c, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&c->err_mu);
    va_start(ap, fmt);
    vsnprintf(c->conn_error, sizeof c->conn_error, fmt, ap);
    va_end(ap);
    c->conn_error_new = true;
    pthread_mutex_unlock(&c->err_mu);
}

/* A new attempt (keep = true: the old reason stays readable until it has
 * its own) or a ready session (keep = false: no error any more). */
static void reset_conn_error(mqs_client *c, bool keep)
{
    pthread_mutex_lock(&c->err_mu);
    if (!keep) c->conn_error[0] = '\0';
    c->conn_error_new = false;
    pthread_mutex_unlock(&c->err_mu);
}

/* True when the attempt under way already recorded why it failed. */
static bool attempt_has_error(mqs_client *c)
{
    pthread_mutex_lock(&c->err_mu);
    bool has = c->conn_error_new;
    pthread_mutex_unlock(&c->err_mu);
    return has;
}

static bool has_conn_error(mqs_client *c)
{
    pthread_mutex_lock(&c->err_mu);
    bool has = c->conn_error[0] != '\0';
    pthread_mutex_unlock(&c->err_mu);
    return has;
}

size_t mqs_client_error_text(mqs_client *c, char *buf, size_t size)
{
    if (!c || !buf || !size) return 0;
    pthread_mutex_lock(&c->err_mu);
    int n = snprintf(buf, size, "%s", c->conn_error);
    pthread_mutex_unlock(&c->err_mu);
    return n < 0 ? 0 : (size_t)n < size ? (size_t)n : size - 1;
}

/* The certificate verification failures a user fixes by naming the CA. */
static bool unknown_ca(long v)
{
    return v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY || v == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
           v == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT || v == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
           v == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE;
}

/* libmosquitto reports TLS failures only through its log: its host name
 * check logs "host name verification failed", OpenSSL errors are logged
 * while the SSL object still exists, so the verification result (unknown
 * CA, expired...) can be read then. Called on any thread, maybe with
 * c->mu held: only err_mu is taken. */
static void on_mosq_log(struct mosquitto *mosq, void *ud, int level, const char *str)
{
    mqs_client *c = ud;
    if (!(level & MOSQ_LOG_ERR)) return;
    if (strstr(str, "host name verification failed")) {
        set_conn_error(c, "TLS: the server certificate does not match the host name %s", c->host);
        return;
    }
    if (strncmp(str, "OpenSSL Error", 13) != 0 || attempt_has_error(c)) return;
    SSL *ssl = mosquitto_ssl_get(mosq);
    long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;
    if (v != X509_V_OK) {
        set_conn_error(c, "TLS: the server certificate is not trusted: %s%s", X509_verify_cert_error_string(v),
                       unknown_ca(v) ? " (unknown CA)" : "");
        return;
    }
    const char *what = strstr(str, "::"); /* "error:0A000086:SSL routines::<reason>" */
    set_conn_error(c, "TLS: %s", what ? what + 2 : str);
}

static void on_connect(struct mosquitto *, void *, int, int, const mosquitto_property *);
static void on_disconnect(struct mosquitto *, void *, int, const mosquitto_property *);
static void on_subscribe(struct mosquitto *, void *, int, int, const int *, const mosquitto_property *);
static void on_message(struct mosquitto *, void *, const struct mosquitto_message *, const mosquitto_property *);

static bool setup_tls(mqs_client *c, const mqs_connect_opts *o)
{
    bool tls = o->tls || o->cafile || o->capath || o->certfile || o->keyfile;
    if (!tls) return true;
    const char *capath = o->capath;
    if (!o->cafile && !capath) capath = "/etc/ssl/certs";
    if (mosquitto_tls_set(c->mosq, o->cafile, capath, o->certfile, o->keyfile, pw_callback) != MOSQ_ERR_SUCCESS)
        return false;
    if (o->insecure) mosquitto_tls_insecure_set(c->mosq, true);
    return true;
}

static mqs_client *fail_new(mqs_client *c, mqs_err *err)
{
    if (err) *err = MQS_ERR_INVALID;
    mqs_client_destroy(c);
    return NULL;
}

mqs_client *mqs_client_new(const mqs_connect_opts *o, mqs_err *err)
{
    if (!o || !o->client_id || !*o->client_id || (o->password && !o->username)) {
        if (err) *err = MQS_ERR_INVALID;
        return NULL;
    }
    mqs_client *c = xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&c->err_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &ca);
    pthread_condattr_destroy(&ca);
    bool tls = o->tls || o->cafile || o->capath || o->certfile || o->keyfile;
    c->client_id = xstrdup(o->client_id);
    c->host = xstrdup(o->host ? o->host : "localhost");
    c->port = o->port > 0 ? o->port : (tls ? 8883 : 1883);
    c->keepalive_s = o->keepalive_s > 0 ? o->keepalive_s : 60;
    c->username = dup_opt(o->username);
    c->password = dup_opt(o->password);
    c->response_topic = o->response_topic ? xstrdup(o->response_topic) : sdk_response_topic(o->client_id);
    c->notify_prefix = sdk_notify_prefix(o->client_id);
    c->keypass_cb = o->keypass_cb;
    c->keypass_ud = o->keypass_ud;
    c->threaded = o->threaded;
    c->clean_start = o->clean_start;
    c->session_expiry_s = o->session_expiry_s;
    c->timeout_ms = o->request_timeout_ms ? o->request_timeout_ms : 10000;
    c->reconnect_min_ms = o->reconnect_min_ms ? o->reconnect_min_ms : 100;
    c->reconnect_max_ms = o->reconnect_max_ms ? o->reconnect_max_ms : 10000;
    if (c->reconnect_max_ms < c->reconnect_min_ms) c->reconnect_max_ms = c->reconnect_min_ms;
    c->on_connection = o->on_connection;
    c->on_log = o->on_log;
    c->ud = o->ud;
    c->next_hook_id = 1;
    if (o->keypass_file && !(c->keypass = read_keypass_file(o->keypass_file))) return fail_new(c, err);
    mosquitto_lib_init(); /* reference counted by libmosquitto */
    c->mosq = mosquitto_new(c->client_id, c->clean_start, c);
    if (!c->mosq) return fail_new(c, err);
    mosquitto_int_option(c->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
    /* Requests are small and latency-bound: no Nagle delay. */
    mosquitto_int_option(c->mosq, MOSQ_OPT_TCP_NODELAY, 1);
    if (c->threaded) mosquitto_threaded_set(c->mosq, true);
    if (c->username) mosquitto_username_pw_set(c->mosq, c->username, c->password);
    if (!setup_tls(c, o)) return fail_new(c, err);
    mosquitto_log_callback_set(c->mosq, on_mosq_log);
    mosquitto_connect_v5_callback_set(c->mosq, on_connect);
    mosquitto_disconnect_v5_callback_set(c->mosq, on_disconnect);
    mosquitto_subscribe_v5_callback_set(c->mosq, on_subscribe);
    mosquitto_message_v5_callback_set(c->mosq, on_message);
    if (err) *err = MQS_OK;
    return c;
}

/* --- mosquitto callbacks (network thread; c->mu not held on entry) ------- */

static void on_connect(struct mosquitto *mosq, void *ud, int rc, int flags, const mosquitto_property *props)
{
    mqs_client *c = ud;
    pthread_mutex_lock(&c->mu);
    if (rc != 0) {
        c->refused = true;
        c->last_err = MQS_ERR_REFUSED;
        char *why = NULL;
        mosquitto_property_read_string(props, MQTT_PROP_REASON_STRING, &why, false);
        set_conn_error(c, "the broker refused the connection: %s%s%s", mosquitto_reason_string(rc), why ? ": " : "",
                       why ? why : "");
        free(why);
        sdk_log(c, 0, "connection refused: %s", mosquitto_reason_string(rc));
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        return;
    }
    c->backoff_ms = 0;
    /* Responses and notifications, both QoS 1, before the first request
     * (§14.2); readiness waits for both SUBACKs. */
    char *filter = NULL;
    size_t n = strlen(c->notify_prefix);
    filter = xmalloc(n + 2);
    memcpy(filter, c->notify_prefix, n);
    memcpy(filter + n, "+", 2);
    c->subs_pending = 2;
    mosquitto_subscribe_v5(mosq, &c->sub_mids[0], c->response_topic, 1, 0, NULL);
    mosquitto_subscribe_v5(mosq, &c->sub_mids[1], filter, 1, 0, NULL);
    free(filter);
    pthread_mutex_unlock(&c->mu);
}

static void on_subscribe(struct mosquitto *mosq, void *ud, int mid, int qos_count, const int *granted,
                         const mosquitto_property *props)
{
    mqs_client *c = ud;
    pthread_mutex_lock(&c->mu);
    if (mid != c->sub_mids[0] && mid != c->sub_mids[1]) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    if (qos_count < 1 || granted[0] > 2) {
        set_conn_error(c, "the broker refused the response/notification subscription: %s",
                       qos_count ? mosquitto_reason_string(granted[0]) : "no reason code");
        sdk_log(c, 0, "subscription refused (reason %d)", qos_count ? granted[0] : -1);
        c->last_err = MQS_ERR_REFUSED;
        c->refused = true;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        return;
    }
    if (--c->subs_pending > 0) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    bool reconnect = c->was_ready;
    c->ready = c->was_ready = true;
    reset_conn_error(c, false);
    c->last_err = MQS_OK;
    sdk_flush_locked(c);
    if (reconnect) sdk_reobserve_locked(c);
    pthread_cond_broadcast(&c->cv);
    mqs_connection_cb cb = c->on_connection;
    if (cb) sdk_cb_begin(c);
    pthread_mutex_unlock(&c->mu);
    if (cb) {
        cb(c, true, MQS_OK, c->ud);
        pthread_mutex_lock(&c->mu);
        sdk_cb_end(c);
        pthread_mutex_unlock(&c->mu);
    }
}

/* The session ended (any cause): every registration is gone server-side
 * (§7.1) and in-flight requests will never be answered. */
static void connection_lost(mqs_client *c, mqs_err reason)
{
    pthread_mutex_lock(&c->mu);
    if (c->connect_once && !c->was_ready && !c->gave_up) {
        /* The first attempt failed (at the socket, in the TLS handshake,
         * or the broker closed it): mqs_client_connect_once gives up. */
        c->gave_up = true;
        c->last_err = MQS_ERR_CONNECT;
        pthread_cond_broadcast(&c->cv);
    }
    if (!c->ready && c->socket_up && !attempt_has_error(c))
        set_conn_error(c, "%s", "the connection was closed before the broker answered CONNECT");
    bool was_ready = c->ready;
    c->ready = false;
    c->socket_up = false;
    c->subs_pending = 0;
    uint32_t b = c->backoff_ms ? c->backoff_ms * 2 : c->reconnect_min_ms;
    c->backoff_ms = b > c->reconnect_max_ms ? c->reconnect_max_ms : b;
    uint32_t jitter;
    sdk_random(&jitter, sizeof jitter);
    /* +-20 %: clients disconnected together do not reconnect together. */
    uint64_t delay = c->backoff_ms * (80 + jitter % 41) / 100;
    c->next_attempt_ms = sdk_mono_ms() + delay;
    mqs_connection_cb cb = was_ready ? c->on_connection : NULL;
    if (cb) sdk_cb_begin(c);
    pthread_mutex_unlock(&c->mu);
    sdk_fail_pending(c, true, MQS_ERR_CONNECTION_LOST);
    if (cb) {
        cb(c, false, reason, c->ud);
        pthread_mutex_lock(&c->mu);
        sdk_cb_end(c);
        pthread_mutex_unlock(&c->mu);
    }
}

static void on_disconnect(struct mosquitto *mosq, void *ud, int rc, const mosquitto_property *props)
{
    connection_lost(ud, MQS_ERR_CONNECTION_LOST);
}

static void on_message(struct mosquitto *mosq, void *ud, const struct mosquitto_message *m,
                       const mosquitto_property *props)
{
    mqs_client *c = ud;
    if (strcmp(m->topic, c->response_topic) == 0) sdk_on_response(c, m, props);
    else sdk_on_notification(c, m, props);
}

/* --- connecting and the loop ------------------------------------------------ */

/* Mutex NOT held (the TCP connect blocks). */
static void attempt_connect(mqs_client *c, bool first)
{
    int rc;
    reset_conn_error(c, true); /* this attempt's own reason, if it fails */
    if (first) {
        mosquitto_property *props = NULL;
        if (c->session_expiry_s)
            mosquitto_property_add_int32(&props, MQTT_PROP_SESSION_EXPIRY_INTERVAL, c->session_expiry_s);
        rc = mosquitto_connect_bind_v5(c->mosq, c->host, c->port, c->keepalive_s, NULL, props);
        mosquitto_property_free_all(&props);
    } else {
        rc = mosquitto_reconnect(c->mosq);
    }
    int saved_errno = errno;
    if (rc == MOSQ_ERR_SUCCESS) {
        pthread_mutex_lock(&c->mu);
        c->socket_up = true;
        pthread_mutex_unlock(&c->mu);
        return;
    }
    if (rc == MOSQ_ERR_ERRNO) set_conn_error(c, "%s", strerror(saved_errno));
    else if (rc != MOSQ_ERR_TLS || !attempt_has_error(c)) set_conn_error(c, "%s", mosquitto_strerror(rc));
    sdk_log(c, 1, "connect to %s:%d failed: %s", c->host, c->port, mosquitto_strerror(rc));
    pthread_mutex_lock(&c->mu);
    c->last_err = MQS_ERR_CONNECT;
    pthread_mutex_unlock(&c->mu);
    connection_lost(c, MQS_ERR_CONNECT);
}

void sdk_misc_step(mqs_client *c)
{
    sdk_run_deferred(c);
    sdk_expire_pending(c);
    pthread_mutex_lock(&c->mu);
    for (sdk_step_hook *h = c->step_hooks; h; h = h->next) h->step(c, h->ud);
    bool reconnect = c->started && !c->stopping && !c->socket_up && !c->refused && !c->gave_up &&
                     sdk_mono_ms() >= c->next_attempt_ms;
    pthread_mutex_unlock(&c->mu);
    if (reconnect) attempt_connect(c, false);
}

void sdk_step_hook_add_locked(mqs_client *c, sdk_step_hook *h)
{
    h->id = c->next_hook_id++;
    h->next = c->step_hooks;
    c->step_hooks = h;
}

void sdk_step_hook_remove_locked(mqs_client *c, sdk_step_hook *h)
{
    for (sdk_step_hook **pp = &c->step_hooks; *pp; pp = &(*pp)->next)
        if (*pp == h) {
            *pp = h->next;
            return;
        }
}

sdk_step_hook *sdk_step_hook_find_locked(mqs_client *c, uint64_t id)
{
    for (sdk_step_hook *h = c->step_hooks; h; h = h->next)
        if (h->id == id) return h;
    return NULL;
}

static void *net_thread(void *arg)
{
    mqs_client *c = arg;
    pthread_mutex_lock(&c->mu);
    c->loop_thread = pthread_self();
    c->has_loop_thread = true;
    while (!c->stopping) {
        bool up = c->socket_up;
        pthread_mutex_unlock(&c->mu);
        if (up) {
            int rc = mosquitto_loop(c->mosq, 50, 1);
            if (rc != MOSQ_ERR_SUCCESS) {
                pthread_mutex_lock(&c->mu);
                bool was_up = c->socket_up;
                pthread_mutex_unlock(&c->mu);
                if (was_up) connection_lost(c, MQS_ERR_CONNECTION_LOST);
            }
        } else {
            sdk_sleep_ms(20);
        }
        sdk_misc_step(c);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

static mqs_err connect_start(mqs_client *c, int timeout_ms, bool once)
{
    pthread_mutex_lock(&c->mu);
    if (c->started) {
        pthread_mutex_unlock(&c->mu);
        return MQS_ERR_BUSY;
    }
    c->started = true;
    c->stopping = c->refused = c->gave_up = false;
    c->connect_once = once;
    c->backoff_ms = 0;
    c->last_err = MQS_ERR_TIMEOUT;
    pthread_mutex_unlock(&c->mu);
    attempt_connect(c, true);
    if (!c->threaded) {
        pthread_mutex_lock(&c->mu);
        mqs_err err = c->socket_up ? MQS_OK : MQS_ERR_CONNECT;
        if (!c->socket_up) c->next_attempt_ms = sdk_mono_ms(); /* loop_misc retries */
        pthread_mutex_unlock(&c->mu);
        if (err != MQS_OK && once) mqs_client_disconnect(c);
        return err;
    }
    pthread_mutex_lock(&c->mu);
    c->has_thread = pthread_create(&c->thread, NULL, net_thread, c) == 0;
    uint64_t deadline = sdk_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    while (!c->ready && !c->refused && !c->gave_up && sdk_mono_ms() < deadline) sdk_cond_wait_until(c, deadline);
    mqs_err err = c->ready ? MQS_OK : c->refused ? MQS_ERR_REFUSED : c->last_err;
    bool stop = c->refused || c->gave_up || (once && !c->ready);
    pthread_mutex_unlock(&c->mu);
    if (err == MQS_ERR_TIMEOUT && !has_conn_error(c)) set_conn_error(c, "no CONNACK within %d ms", timeout_ms);
    if (stop) mqs_client_disconnect(c);
    return err;
}

mqs_err mqs_client_connect(mqs_client *c, int timeout_ms) { return connect_start(c, timeout_ms, false); }

mqs_err mqs_client_connect_once(mqs_client *c, int timeout_ms) { return connect_start(c, timeout_ms, true); }

void mqs_client_disconnect(mqs_client *c)
{
    pthread_mutex_lock(&c->mu);
    if (!c->started) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    c->stopping = true;
    bool join = c->has_thread;
    c->has_thread = false;
    pthread_mutex_unlock(&c->mu);
    if (join) pthread_join(c->thread, NULL);
    mosquitto_disconnect_v5(c->mosq, 0, NULL);
    /* Flush the DISCONNECT; the loop is ours now that the thread is gone. */
    mosquitto_loop(c->mosq, 10, 1);
    pthread_mutex_lock(&c->mu);
    c->started = c->ready = c->socket_up = false;
    c->has_loop_thread = false;
    pthread_mutex_unlock(&c->mu);
    sdk_run_deferred(c); /* decided already: delivered with their result */
    sdk_fail_pending(c, false, MQS_ERR_NOT_CONNECTED);
}

void mqs_client_destroy(mqs_client *c)
{
    if (!c) return;
    if (c->mosq) {
        mqs_client_disconnect(c);
        sdk_fail_pending(c, false, MQS_ERR_CANCELLED);
        mosquitto_destroy(c->mosq);
        mosquitto_lib_cleanup();
    }
    sdk_observed_free_all(c);
    free(c->client_id);
    free(c->host);
    free(c->username);
    free(c->password);
    free(c->response_topic);
    free(c->notify_prefix);
    free(c->keypass);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    pthread_mutex_destroy(&c->err_mu);
    free(c);
}

bool mqs_client_is_connected(mqs_client *c)
{
    pthread_mutex_lock(&c->mu);
    bool r = c->ready;
    pthread_mutex_unlock(&c->mu);
    return r;
}

const char *mqs_client_id(const mqs_client *c) { return c->client_id; }

void mqs_client_set_timeout(mqs_client *c, uint32_t timeout_ms)
{
    pthread_mutex_lock(&c->mu);
    c->timeout_ms = timeout_ms ? timeout_ms : 10000;
    pthread_mutex_unlock(&c->mu);
}

/* --- application-driven loop ------------------------------------------------ */

static void mark_loop_thread(mqs_client *c)
{
    pthread_mutex_lock(&c->mu);
    c->loop_thread = pthread_self();
    c->has_loop_thread = true;
    pthread_mutex_unlock(&c->mu);
}

int mqs_client_socket(mqs_client *c) { return mosquitto_socket(c->mosq); }

bool mqs_client_want_write(mqs_client *c) { return mosquitto_want_write(c->mosq); }

static mqs_err loop_result(mqs_client *c, int rc)
{
    if (rc == MOSQ_ERR_SUCCESS) return MQS_OK;
    pthread_mutex_lock(&c->mu);
    bool was_up = c->socket_up;
    pthread_mutex_unlock(&c->mu);
    if (was_up) connection_lost(c, MQS_ERR_CONNECTION_LOST);
    return MQS_ERR_CONNECTION_LOST;
}

mqs_err mqs_client_loop_read(mqs_client *c)
{
    mark_loop_thread(c);
    return loop_result(c, mosquitto_loop_read(c->mosq, 1));
}

mqs_err mqs_client_loop_write(mqs_client *c)
{
    mark_loop_thread(c);
    return loop_result(c, mosquitto_loop_write(c->mosq, 1));
}

mqs_err mqs_client_loop_misc(mqs_client *c)
{
    mark_loop_thread(c);
    int rc = MOSQ_ERR_SUCCESS;
    pthread_mutex_lock(&c->mu);
    bool up = c->socket_up;
    pthread_mutex_unlock(&c->mu);
    if (up) rc = mosquitto_loop_misc(c->mosq);
    mqs_err err = loop_result(c, rc);
    sdk_misc_step(c);
    return err;
}
