/* KEYNOTIFY observations (§7, §14.7, §14.8): the per-key watcher registry,
 * notification decoding and dispatch, and re-registration with synthetic
 * notifications after a reconnect.
 *
 * Invariant: a key is in c->observed exactly while it has at least one
 * listener; the server registration is requested when the entry is
 * created and stopped when it is removed. Listeners are called without
 * c->mu held, from a snapshot taken under it. */
#include <stdlib.h>
#include <string.h>

#include "sdk_internal.h"
#include "sdk_topic.h"
#include "util/alloc.h"

static resp_slice S(const void *p, size_t n) { return (resp_slice){p, n}; }
static resp_slice W(const char *w) { return (resp_slice){(const uint8_t *)w, strlen(w)}; }

static sdk_observed *find(mqs_client *c, const void *key, size_t klen)
{
    for (sdk_observed *o = c->observed; o; o = o->next)
        if (o->klen == klen && memcmp(o->key, key, klen) == 0) return o;
    return NULL;
}

/* Mutex held. Returns the entry, creating it (*created = true) if needed. */
static sdk_observed *find_or_add(mqs_client *c, const void *key, size_t klen, bool *created)
{
    sdk_observed *o = find(c, key, klen);
    *created = o == NULL;
    if (o) return o;
    o = xcalloc(1, sizeof *o);
    o->key = xmemdup(key, klen);
    o->klen = klen;
    o->next = c->observed;
    c->observed = o;
    return o;
}

static void entry_free(sdk_observed *o)
{
    while (o->listeners) {
        sdk_listener *l = o->listeners;
        o->listeners = l->next;
        free(l);
    }
    free(o->key);
    free(o);
}

/* Mutex held: unlink and free o. */
static void entry_remove(mqs_client *c, sdk_observed *o)
{
    for (sdk_observed **pp = &c->observed; *pp; pp = &(*pp)->next)
        if (*pp == o) {
            *pp = o->next;
            break;
        }
    entry_free(o);
}

void sdk_observed_free_all(mqs_client *c)
{
    while (c->observed) {
        sdk_observed *o = c->observed;
        c->observed = o->next;
        entry_free(o);
    }
}

static sdk_listener *user_listener(sdk_observed *o)
{
    for (sdk_listener *l = o->listeners; l; l = l->next)
        if (l->user) return l;
    return NULL;
}

/* Mutex held: unlink listener l from o; true when o has none left. */
static bool listener_remove(sdk_observed *o, sdk_listener *l)
{
    for (sdk_listener **pp = &o->listeners; *pp; pp = &(*pp)->next)
        if (*pp == l) {
            *pp = l->next;
            free(l);
            break;
        }
    return o->listeners == NULL;
}

static sdk_listener *listener_add(sdk_observed *o, mqs_notify_cb cb, void *ud, bool user)
{
    sdk_listener *l = xcalloc(1, sizeof *l);
    *l = (sdk_listener){o->listeners, cb, ud, user};
    o->listeners = l;
    return l;
}

/* --- dispatch ------------------------------------------------------------------ */

/* Call every listener of n->key (snapshot taken under the mutex). */
static void dispatch(mqs_client *c, const mqs_notification *n)
{
    pthread_mutex_lock(&c->mu);
    sdk_observed *o = find(c, n->key, n->key_len);
    size_t count = 0;
    for (sdk_listener *l = o ? o->listeners : NULL; l; l = l->next) count++;
    if (count == 0) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    sdk_listener *snap = xcalloc(count, sizeof *snap);
    size_t i = 0;
    for (sdk_listener *l = o->listeners; l; l = l->next) snap[i++] = *l;
    sdk_cb_begin(c);
    pthread_mutex_unlock(&c->mu);
    for (i = 0; i < count; i++) snap[i].cb(c, n, snap[i].ud);
    free(snap);
    pthread_mutex_lock(&c->mu);
    sdk_cb_end(c);
    pthread_mutex_unlock(&c->mu);
}

static char *read_user_prop(const mosquitto_property *props, const char *want)
{
    char *name, *value, *found = NULL;
    const mosquitto_property *p = props;
    bool skip = false;
    while ((p = mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY, &name, &value, skip))) {
        if (!found && strcmp(name, want) == 0) found = value;
        else free(value);
        free(name);
        skip = true;
    }
    return found;
}

void sdk_on_notification(mqs_client *c, const struct mosquitto_message *m, const mosquitto_property *props)
{
    buf key = {0};
    char *ts_text = read_user_prop(props, "__ts");
    char *ct = NULL;
    mosquitto_property_read_string(props, MQTT_PROP_CONTENT_TYPE, &ct, false);
    mqs_notification n = {0};
    hlc ts;
    const char *why = NULL;
    if (!sdk_topic_key(m->topic, c->notify_prefix, &key)) why = "bad topic";
    else if (!ts_text || !hlc_parse(ts_text, strlen(ts_text), &ts) || !sdk_hlc_from_internal(&ts, &n.version))
        why = "missing or malformed __ts";
    else if (ct && strcmp(ct, "application/octet-stream") != 0) why = "bad content type";
    else if (!sdk_notify_parse(m->payload, (size_t)m->payloadlen, &n.op, &n.value, &n.value_len))
        why = "malformed payload";
    if (why) {
        pthread_mutex_lock(&c->mu);
        sdk_log(c, 1, "dropped notification on %s: %s", m->topic, why);
        pthread_mutex_unlock(&c->mu);
    } else {
        /* Drift on a notification is logged, not fatal: the change still
         * happened (Rust behaviour, §4.4). */
        if (sdk_hlc_receive(&ts) != MQS_OK) {
            pthread_mutex_lock(&c->mu);
            sdk_log(c, 1, "notification version %s exceeds the clock drift limit", ts_text);
            pthread_mutex_unlock(&c->mu);
        }
        n.key = key.data;
        n.key_len = key.len;
        n.has_version = true;
        dispatch(c, &n);
    }
    free(ts_text);
    free(ct);
    buf_free(&key);
}

/* --- reconnect: re-register and synthesize (§14.8) ----------------------------- */

typedef struct reobs {
    size_t klen;
    uint8_t key[];
} reobs;

static void synth_done(mqs_client *c, const mqs_result *r, void *ud)
{
    reobs *ro = ud;
    if (r->err == MQS_OK) {
        mqs_notification n = {.key = ro->key, .key_len = ro->klen, .synthetic = true};
        n.op = r->found ? MQS_NOTIFY_SET : MQS_NOTIFY_DELETE;
        n.value = r->value.data;
        n.value_len = r->value.len;
        n.has_version = r->has_version;
        n.version = r->version;
        dispatch(c, &n);
    }
    free(ro);
}

static void reregistered(mqs_client *c, const mqs_result *r, void *ud)
{
    reobs *ro = ud;
    if (r->err == MQS_OK) {
        resp_slice argv[] = {W("GET"), S(ro->key, ro->klen)};
        sdk_req req = {SDK_OP_GET, argv, 2, NULL, false};
        if (sdk_request_async(c, &req, synth_done, ro) == MQS_OK) return;
    } else {
        pthread_mutex_lock(&c->mu);
        sdk_log(c, 0, "re-registering an observed key failed: %s", mqs_strerror(r->err));
        pthread_mutex_unlock(&c->mu);
    }
    free(ro);
}

void sdk_reobserve_locked(mqs_client *c)
{
    for (sdk_observed *o = c->observed; o; o = o->next) {
        reobs *ro = xmalloc(sizeof *ro + o->klen);
        ro->klen = o->klen;
        memcpy(ro->key, o->key, o->klen);
        resp_slice argv[] = {W("KEYNOTIFY"), S(o->key, o->klen)};
        sdk_req req = {SDK_OP_OBSERVE, argv, 2, NULL, false};
        if (sdk_request_async_locked(c, &req, reregistered, ro) != MQS_OK) free(ro);
    }
}

/* --- registration ---------------------------------------------------------------- */

static mqs_err keynotify_sync(mqs_client *c, const void *key, size_t klen, bool stop, mqs_result *out)
{
    resp_slice argv[] = {W("KEYNOTIFY"), S(key, klen), W("STOP")};
    sdk_req req = {stop ? SDK_OP_UNOBSERVE : SDK_OP_OBSERVE, argv, stop ? 3 : 2, NULL, false};
    return sdk_request_sync(c, &req, out);
}

/* Mutex held: undo a failed registration of listener l. */
static void undo_listener(mqs_client *c, const void *key, size_t klen, sdk_listener *l)
{
    sdk_observed *o = find(c, key, klen);
    if (o && listener_remove(o, l)) entry_remove(c, o);
}

/* Install (or replace) the user callback of key; returns the listener. */
static sdk_listener *install_user(mqs_client *c, const void *key, size_t klen, mqs_notify_cb cb, void *ud)
{
    bool created;
    pthread_mutex_lock(&c->mu);
    sdk_observed *o = find_or_add(c, key, klen, &created);
    sdk_listener *l = user_listener(o);
    if (l) {
        l->cb = cb;
        l->ud = ud;
    } else {
        l = listener_add(o, cb, ud, true);
    }
    pthread_mutex_unlock(&c->mu);
    return l;
}

mqs_err mqs_observe(mqs_client *c, const void *key, size_t klen, mqs_notify_cb cb, void *cb_ud, mqs_result *out)
{
    mqs_result tmp;
    if (!out) out = &tmp;
    if (!c || !key || !klen || !cb) {
        memset(out, 0, sizeof *out);
        return out->err = MQS_ERR_INVALID;
    }
    sdk_listener *l = install_user(c, key, klen, cb, cb_ud);
    mqs_err err = keynotify_sync(c, key, klen, false, out);
    if (err != MQS_OK) {
        pthread_mutex_lock(&c->mu);
        undo_listener(c, key, klen, l);
        pthread_mutex_unlock(&c->mu);
    }
    if (out == &tmp) mqs_result_clear(&tmp);
    return err;
}

typedef struct obs_async {
    mqs_result_cb done;
    void *done_ud;
    sdk_listener *listener; /* identity only: compared, never dereferenced */
    bool stop;
    size_t klen;
    uint8_t key[];
} obs_async;

static void observe_async_done(mqs_client *c, const mqs_result *r, void *ud)
{
    obs_async *a = ud;
    if (r->err != MQS_OK && !a->stop) {
        pthread_mutex_lock(&c->mu);
        sdk_observed *o = find(c, a->key, a->klen);
        for (sdk_listener *l = o ? o->listeners : NULL; l; l = l->next)
            if (l == a->listener) {
                undo_listener(c, a->key, a->klen, l);
                break;
            }
        pthread_mutex_unlock(&c->mu);
    }
    if (a->done) a->done(c, r, a->done_ud);
    free(a);
}

static obs_async *obs_async_new(const void *key, size_t klen, mqs_result_cb done, void *ud)
{
    obs_async *a = xcalloc(1, sizeof *a + klen);
    a->done = done;
    a->done_ud = ud;
    a->klen = klen;
    memcpy(a->key, key, klen);
    return a;
}

mqs_err mqs_observe_async(mqs_client *c, const void *key, size_t klen, mqs_notify_cb cb, void *cb_ud,
                          mqs_result_cb done, void *done_ud)
{
    if (!c || !key || !klen || !cb) return MQS_ERR_INVALID;
    obs_async *a = obs_async_new(key, klen, done, done_ud);
    a->listener = install_user(c, key, klen, cb, cb_ud);
    resp_slice argv[] = {W("KEYNOTIFY"), S(key, klen)};
    sdk_req req = {SDK_OP_OBSERVE, argv, 2, NULL, false};
    mqs_err err = sdk_request_async(c, &req, observe_async_done, a);
    if (err != MQS_OK) {
        pthread_mutex_lock(&c->mu);
        undo_listener(c, key, klen, a->listener);
        pthread_mutex_unlock(&c->mu);
        free(a);
    }
    return err;
}

/* Remove the user callback. Returns true when the server registration must
 * be stopped (no library listener left). */
static bool drop_user(mqs_client *c, const void *key, size_t klen, bool *had_others)
{
    pthread_mutex_lock(&c->mu);
    sdk_observed *o = find(c, key, klen);
    sdk_listener *l = o ? user_listener(o) : NULL;
    bool stop = true;
    *had_others = false;
    if (l) {
        if (listener_remove(o, l)) entry_remove(c, o);
        else stop = false, *had_others = true;
    } else if (o) {
        stop = false, *had_others = true;
    }
    sdk_wait_callbacks(c);
    pthread_mutex_unlock(&c->mu);
    return stop;
}

mqs_err mqs_unobserve(mqs_client *c, const void *key, size_t klen, mqs_result *out)
{
    mqs_result tmp;
    if (!out) out = &tmp;
    memset(out, 0, sizeof *out);
    if (!c || !key || !klen) return out->err = MQS_ERR_INVALID;
    bool others;
    mqs_err err = MQS_OK;
    if (drop_user(c, key, klen, &others)) err = keynotify_sync(c, key, klen, true, out);
    else out->removed = others;
    if (out == &tmp) mqs_result_clear(&tmp);
    return err;
}

mqs_err mqs_unobserve_async(mqs_client *c, const void *key, size_t klen, mqs_result_cb cb, void *ud)
{
    if (!c || !key || !klen) return MQS_ERR_INVALID;
    bool others;
    if (!drop_user(c, key, klen, &others)) {
        /* Still watched by the library: nothing to send, but the callback
         * still runs on the network thread, after this call returned. */
        mqs_result r = {.removed = true};
        pthread_mutex_lock(&c->mu);
        mqs_err err = sdk_defer_locked(c, cb, ud, &r);
        pthread_mutex_unlock(&c->mu);
        return err;
    }
    obs_async *a = obs_async_new(key, klen, cb, ud);
    a->stop = true;
    resp_slice argv[] = {W("KEYNOTIFY"), S(key, klen), W("STOP")};
    sdk_req req = {SDK_OP_UNOBSERVE, argv, 3, NULL, false};
    mqs_err err = sdk_request_async(c, &req, observe_async_done, a);
    if (err != MQS_OK) free(a);
    return err;
}

mqs_err sdk_watch_add(mqs_client *c, const void *key, size_t klen, mqs_notify_cb cb, void *ud, sdk_listener **out)
{
    bool created;
    pthread_mutex_lock(&c->mu);
    sdk_observed *o = find_or_add(c, key, klen, &created);
    sdk_listener *l = listener_add(o, cb, ud, false);
    pthread_mutex_unlock(&c->mu);
    mqs_err err = MQS_OK;
    if (created) {
        mqs_result r;
        err = keynotify_sync(c, key, klen, false, &r);
        mqs_result_clear(&r);
    }
    if (err != MQS_OK) {
        pthread_mutex_lock(&c->mu);
        undo_listener(c, key, klen, l);
        pthread_mutex_unlock(&c->mu);
        l = NULL;
    }
    *out = l;
    return err;
}

void sdk_watch_remove(mqs_client *c, const void *key, size_t klen, sdk_listener *l)
{
    if (!l) return;
    pthread_mutex_lock(&c->mu);
    sdk_observed *o = find(c, key, klen);
    bool last = o && listener_remove(o, l);
    if (last) entry_remove(c, o);
    sdk_wait_callbacks(c);
    pthread_mutex_unlock(&c->mu);
    if (last) {
        mqs_result r;
        keynotify_sync(c, key, klen, true, &r);
        mqs_result_clear(&r);
    }
}

/* --- ordering for applications ------------------------------------------------ */

bool mqs_notify_pos_update(mqs_notify_pos *pos, const mqs_notification *n)
{
    if (!pos || !n) return false;
    if (pos->known && !n->synthetic && n->has_version) {
        int cmp = mqs_hlc_compare(&n->version, &pos->version);
        /* A DELETE carries the removed entry's version: at equal versions
         * it is the later event, anything else is a repeat. */
        bool newer = cmp > 0 || (cmp == 0 && n->op == MQS_NOTIFY_DELETE && pos->op == MQS_NOTIFY_SET);
        if (!newer) return false;
    }
    /* A synthetic DELETE has no version: the next notification is accepted. */
    pos->known = n->has_version;
    pos->op = n->op;
    if (n->has_version) pos->version = n->version;
    return true;
}
