/* The RPC invoker: requests are encoded, enveloped (§2.2), published,
 * matched with their response by correlation data and completed exactly
 * once: by the response, a timeout, a connection loss, or destruction.
 *
 * Invariant: a pending request is in c->pending until it is unlinked under
 * c->mu by whoever completes it; completion (the user callback) always
 * runs after the mutex is released. */
#include <stdlib.h>
#include <string.h>

#include "sdk_internal.h"
#include "sdk_topic.h"
#include "util/alloc.h"

struct sdk_sync {
    bool done;
    mqs_result res;
};

static void pending_free(sdk_pending *p)
{
    buf_free(&p->payload);
    free(p);
}

/* Deliver the result and free p; c->mu must NOT be held. */
static void complete(mqs_client *c, sdk_pending *p, mqs_result *res)
{
    if (p->sync) {
        pthread_mutex_lock(&c->mu);
        p->sync->res = *res; /* ownership moves to the waiting caller */
        p->sync->done = true;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
    } else {
        pthread_mutex_lock(&c->mu);
        sdk_cb_begin(c);
        pthread_mutex_unlock(&c->mu);
        if (p->cb) p->cb(c, res, p->ud);
        mqs_result_clear(res);
        pthread_mutex_lock(&c->mu);
        sdk_cb_end(c);
        pthread_mutex_unlock(&c->mu);
    }
    pending_free(p);
}

static void complete_err(mqs_client *c, sdk_pending *p, mqs_err err)
{
    mqs_result res = {.err = err};
    complete(c, p, &res);
}

static bool unlink_pending(mqs_client *c, sdk_pending *p)
{
    for (sdk_pending **pp = &c->pending; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            p->next = NULL;
            return true;
        }
    return false;
}

static void add_user_prop(mosquitto_property **props, const char *name, const char *value)
{
    mosquitto_property_add_string_pair(props, MQTT_PROP_USER_PROPERTY, name, value);
}

/* Mutex held. Publish p with the §2.2 envelope. Returns MQS_OK when sent or
 * when the connection is down (p stays queued); an HLC failure otherwise. */
static mqs_err publish_locked(mqs_client *c, sdk_pending *p)
{
    mqs_hlc now;
    mqs_err err = mqs_hlc_now(&now); /* update_now before every publish (§4.4) */
    if (err != MQS_OK) return err;
    char ts[MQS_HLC_STR_MAX], ft[MQS_HLC_STR_MAX];
    mqs_hlc_format(&now, ts, sizeof ts);
    mosquitto_property *props = NULL;
    mosquitto_property_add_string(&props, MQTT_PROP_RESPONSE_TOPIC, c->response_topic);
    mosquitto_property_add_binary(&props, MQTT_PROP_CORRELATION_DATA, p->corr, SDK_CORR_LEN);
    mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, p->expiry_s);
    mosquitto_property_add_string(&props, MQTT_PROP_CONTENT_TYPE, "application/octet-stream");
    mosquitto_property_add_byte(&props, MQTT_PROP_PAYLOAD_FORMAT_INDICATOR, 0);
    add_user_prop(&props, "__srcId", c->client_id);
    add_user_prop(&props, "__ts", ts);
    add_user_prop(&props, "__protVer", "1.0");
    if (p->has_ft && mqs_hlc_format(&p->ft, ft, sizeof ft) > 0) add_user_prop(&props, "__ft", ft);
    if (p->persist) add_user_prop(&props, "aio-persistence", "true");
    int rc = mosquitto_publish_v5(c->mosq, NULL, SSPROTO_REQUEST_TOPIC, (int)p->payload.len, p->payload.data, 1, false,
                                  props);
    mosquitto_property_free_all(&props);
    /* Any failure means the connection is not usable right now: the
     * request stays queued for the next ready session or its timeout. */
    p->sent = rc == MOSQ_ERR_SUCCESS;
    return MQS_OK;
}

static bool valid_req(const sdk_req *r)
{
    /* Every command's second argument is a key or pattern: never empty. */
    return r->argc >= 2 && r->argv[1].len > 0;
}

static sdk_pending *pending_new(mqs_client *c, const sdk_req *r)
{
    sdk_pending *p = xcalloc(1, sizeof *p);
    sdk_random(p->corr, SDK_CORR_LEN);
    p->op = r->op;
    resp_put_request(&p->payload, r->argv, r->argc);
    if (r->ft) {
        p->has_ft = true;
        p->ft = *r->ft;
    }
    p->persist = r->persist;
    p->deadline_ms = sdk_mono_ms() + c->timeout_ms;
    p->expiry_s = (c->timeout_ms + 999) / 1000;
    if (p->expiry_s == 0) p->expiry_s = 1;
    return p;
}

/* Mutex held: queue p at the tail (requests go out in call order) and
 * publish it if the session is ready. On error p is not queued. */
static mqs_err submit_locked(mqs_client *c, sdk_pending *p)
{
    if (!c->started) return MQS_ERR_NOT_CONNECTED;
    if (c->ready) {
        mqs_err err = publish_locked(c, p);
        if (err != MQS_OK) return err;
    }
    sdk_pending **pp = &c->pending;
    while (*pp) pp = &(*pp)->next;
    *pp = p;
    return MQS_OK;
}

mqs_err sdk_request_async_locked(mqs_client *c, const sdk_req *r, mqs_result_cb cb, void *ud)
{
    if (!valid_req(r)) return MQS_ERR_INVALID;
    sdk_pending *p = pending_new(c, r);
    p->cb = cb;
    p->ud = ud;
    mqs_err err = submit_locked(c, p);
    if (err != MQS_OK) pending_free(p);
    return err;
}

mqs_err sdk_request_async(mqs_client *c, const sdk_req *r, mqs_result_cb cb, void *ud)
{
    pthread_mutex_lock(&c->mu);
    mqs_err err = sdk_request_async_locked(c, r, cb, ud);
    pthread_mutex_unlock(&c->mu);
    return err;
}

mqs_err sdk_request_sync(mqs_client *c, const sdk_req *r, mqs_result *out)
{
    memset(out, 0, sizeof *out);
    if (!valid_req(r)) return out->err = MQS_ERR_INVALID;
    struct sdk_sync w = {0};
    sdk_pending *p = pending_new(c, r);
    p->sync = &w;
    /* Grace beyond the request deadline, for when no loop expires it
     * (application-driven mode with a stalled loop). */
    uint64_t give_up = p->deadline_ms + 500;
    pthread_mutex_lock(&c->mu);
    mqs_err err = submit_locked(c, p);
    if (err != MQS_OK) {
        pthread_mutex_unlock(&c->mu);
        pending_free(p);
        return out->err = err;
    }
    while (!w.done) {
        if (sdk_mono_ms() >= give_up && unlink_pending(c, p)) {
            pending_free(p);
            w.done = true;
            w.res.err = MQS_ERR_TIMEOUT;
            break;
        }
        sdk_cond_wait_until(c, give_up);
    }
    pthread_mutex_unlock(&c->mu);
    *out = w.res;
    return out->err;
}

mqs_err sdk_defer_locked(mqs_client *c, mqs_result_cb cb, void *ud, mqs_result *res)
{
    if (!c->started) return MQS_ERR_NOT_CONNECTED;
    sdk_deferred *d = xcalloc(1, sizeof *d);
    d->cb = cb;
    d->ud = ud;
    d->res = *res; /* ownership moves to the queue */
    *res = (mqs_result){0};
    sdk_deferred **pp = &c->deferred;
    while (*pp) pp = &(*pp)->next;
    *pp = d;
    return MQS_OK;
}

void sdk_run_deferred(mqs_client *c)
{
    for (;;) {
        pthread_mutex_lock(&c->mu);
        sdk_deferred *d = c->deferred;
        if (d) {
            c->deferred = d->next;
            sdk_cb_begin(c);
        }
        pthread_mutex_unlock(&c->mu);
        if (!d) return;
        if (d->cb) d->cb(c, &d->res, d->ud);
        mqs_result_clear(&d->res);
        free(d);
        pthread_mutex_lock(&c->mu);
        sdk_cb_end(c);
        pthread_mutex_unlock(&c->mu);
    }
}

void sdk_flush_locked(mqs_client *c)
{
    for (sdk_pending *p = c->pending; p; p = p->next)
        if (!p->sent) publish_locked(c, p);
}

/* Unlink (under the mutex) and complete (outside it) every request that
 * matches, one at a time so callbacks may start new requests. */
static void fail_matching(mqs_client *c, bool only_sent, bool only_due, mqs_err err)
{
    for (;;) {
        pthread_mutex_lock(&c->mu);
        uint64_t now = sdk_mono_ms();
        sdk_pending *p = c->pending;
        while (p && ((only_sent && !p->sent) || (only_due && p->deadline_ms > now))) p = p->next;
        if (p) unlink_pending(c, p);
        pthread_mutex_unlock(&c->mu);
        if (!p) return;
        complete_err(c, p, err);
    }
}

void sdk_fail_pending(mqs_client *c, bool only_sent, mqs_err err) { fail_matching(c, only_sent, false, err); }

void sdk_expire_pending(mqs_client *c) { fail_matching(c, false, true, MQS_ERR_TIMEOUT); }

/* The response properties; strings owned (libmosquitto returns copies). */
typedef struct envelope_copy {
    char *stat, *st_msg, *prot_ver, *ts, *content_type;
} envelope_copy;

static void read_envelope(const mosquitto_property *props, envelope_copy *e)
{
    char *name, *value;
    const mosquitto_property *p = props;
    bool skip = false;
    while ((p = mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &name, &value, skip))) {
        char **slot = !strcmp(name, "__stat")      ? &e->stat
                      : !strcmp(name, "__stMsg")   ? &e->st_msg
                      : !strcmp(name, "__protVer") ? &e->prot_ver
                      : !strcmp(name, "__ts")      ? &e->ts
                                                   : NULL;
        if (slot && !*slot) {
            *slot = value;
            value = NULL;
        }
        free(name);
        free(value);
        skip = true;
    }
    mosquitto_property_read_string(props, MQTT_PROP_CONTENT_TYPE, &e->content_type, false);
}

static void envelope_free(envelope_copy *e)
{
    free(e->stat);
    free(e->st_msg);
    free(e->prot_ver);
    free(e->ts);
    free(e->content_type);
}

static void decode_response(sdk_op op, const struct mosquitto_message *m, const mosquitto_property *props,
                            mqs_result *res)
{
    envelope_copy ec = {0};
    read_envelope(props, &ec);
    sdk_envelope e = {ec.stat, ec.st_msg, ec.prot_ver, ec.ts, ec.content_type};
    hlc ts;
    bool has_ts;
    res->err = sdk_envelope_check(&e, res, &ts, &has_ts);
    if (res->err == MQS_OK && has_ts) res->err = sdk_hlc_receive(&ts);
    if (res->err == MQS_OK) sdk_reply_decode(op, m->payload, (size_t)m->payloadlen, has_ts ? &ts : NULL, res);
    envelope_free(&ec);
}

void sdk_on_response(mqs_client *c, const struct mosquitto_message *m, const mosquitto_property *props)
{
    void *corr = NULL;
    uint16_t corr_len = 0;
    mosquitto_property_read_binary(props, MQTT_PROP_CORRELATION_DATA, &corr, &corr_len, false);
    sdk_pending *p = NULL;
    pthread_mutex_lock(&c->mu);
    if (corr && corr_len == SDK_CORR_LEN)
        for (p = c->pending; p; p = p->next)
            if (memcmp(p->corr, corr, SDK_CORR_LEN) == 0) break;
    if (p) unlink_pending(c, p);
    pthread_mutex_unlock(&c->mu);
    free(corr);
    if (!p) return; /* late, duplicated or foreign: dropped silently (§14.10) */
    mqs_result res = {0};
    decode_response(p->op, m, props, &res);
    complete(c, p, &res);
}
