/* Locks and edit-under-lock (§8.3): observe first (a release cannot slip
 * between a failed attempt and the wait), try to acquire, wait for a
 * DELETE, back off with jitter, loop. */
#include <stdlib.h>
#include <string.h>

#include "sdk_lease.h"

/* Library listener: count DELETEs of the lease key and wake the locker. */
static void on_lease_change(mqs_client *c, const mqs_notification *n, void *ud)
{
    mqs_lease *l = ud;
    if (n->op != MQS_NOTIFY_DELETE) return; /* SETs are the holder's renewals */
    pthread_mutex_lock(&c->mu);
    l->deletes_seen++;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Errors after which trying again can succeed. */
static bool transient(mqs_err err)
{
    return err == MQS_ERR_TIMEOUT || err == MQS_ERR_CONNECTION_LOST || err == MQS_ERR_NOT_CONNECTED;
}

/* .NET-style backoff: min(2^(attempt+1) ms, 200 ms), +-5 % jitter when the
 * delay is at least 50 ms (§14.9). */
static uint64_t backoff_ms(unsigned attempt)
{
    uint64_t d = attempt >= 7 ? 200 : (uint64_t)1 << (attempt + 1);
    if (d > 200) d = 200;
    if (d >= 50) {
        uint32_t r;
        sdk_random(&r, sizeof r);
        d = d * (95 + r % 11) / 100;
    }
    return d;
}

mqs_err mqs_lock(mqs_lease *l, uint64_t duration_ms, uint64_t renew_ms, int timeout_ms)
{
    if (!l || !duration_ms || (renew_ms && renew_ms >= duration_ms)) return MQS_ERR_INVALID;
    mqs_client *c = l->c;
    uint64_t deadline = sdk_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    sdk_listener *watch;
    mqs_err err = sdk_watch_add(c, l->name, l->nlen, on_lease_change, l, &watch);
    if (err != MQS_OK) return err;
    for (unsigned attempt = 0;; attempt++) {
        pthread_mutex_lock(&c->mu);
        unsigned seen = l->deletes_seen;
        pthread_mutex_unlock(&c->mu);
        bool acquired;
        err = mqs_lease_acquire(l, duration_ms, renew_ms, &acquired);
        if (err == MQS_OK && acquired) break;
        if (err != MQS_OK && !transient(err)) break;
        if (sdk_mono_ms() >= deadline) {
            err = MQS_ERR_TIMEOUT;
            break;
        }
        /* Wait for the holder's DELETE; re-try after a lease term anyway
         * in case the notification was lost with a connection. */
        uint64_t wake = sdk_mono_ms() + duration_ms;
        if (wake > deadline) wake = deadline;
        pthread_mutex_lock(&c->mu);
        while (l->deletes_seen == seen && sdk_mono_ms() < wake) sdk_cond_wait_until(c, wake);
        pthread_mutex_unlock(&c->mu);
        sdk_sleep_ms(backoff_ms(attempt));
    }
    sdk_watch_remove(c, l->name, l->nlen, watch);
    return err;
}

/* Write the callback's decision with the lock's fencing token. */
static mqs_err write_edit(mqs_lease *l, const void *key, size_t klen, mqs_edit_action action, const uint8_t *value,
                          size_t vlen)
{
    mqs_hlc token;
    if (!mqs_lease_token(l, &token)) return MQS_ERR_NOT_HELD;
    mqs_result r;
    mqs_err err = MQS_OK;
    if (action == MQS_EDIT_SET) {
        mqs_set_opts o = {.fencing_token = &token};
        err = mqs_set(l->c, key, klen, value, vlen, &o, &r);
    } else if (action == MQS_EDIT_DELETE) {
        mqs_del_opts o = {.fencing_token = &token};
        err = mqs_del(l->c, key, klen, &o, &r);
    } else {
        return MQS_OK;
    }
    mqs_result_clear(&r);
    return err;
}

/* One lock -> GET -> edit -> write -> release round. */
static mqs_err edit_once(mqs_lease *l, const void *key, size_t klen, uint64_t duration_ms, int timeout_ms,
                         mqs_edit_fn fn, void *ud)
{
    mqs_err err = mqs_lock(l, duration_ms, 0, timeout_ms);
    if (err != MQS_OK) return err;
    mqs_result cur;
    err = mqs_get(l->c, key, klen, &cur);
    if (err == MQS_OK) {
        uint8_t *nv = NULL;
        size_t nlen = 0;
        mqs_edit_action action = fn(&cur, &nv, &nlen, ud);
        err = write_edit(l, key, klen, action, nv, nlen);
        free(nv);
    }
    mqs_result_clear(&cur);
    mqs_lease_release(l);
    return err;
}

mqs_err mqs_lock_edit(mqs_lease *l, const void *key, size_t klen, uint64_t duration_ms, int timeout_ms, mqs_edit_fn fn,
                      void *ud)
{
    if (!l || !key || !klen || !fn || !duration_ms) return MQS_ERR_INVALID;
    uint64_t deadline = sdk_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        uint64_t now = sdk_mono_ms();
        if (now >= deadline) return MQS_ERR_TIMEOUT;
        mqs_err err = edit_once(l, key, klen, duration_ms, (int)(deadline - now), fn, ud);
        /* Lost the lock between acquiring and writing (expired, taken over,
         * connection trouble): the whole round is repeated. */
        if (err == MQS_ERR_FENCING_LOWER || err == MQS_ERR_NOT_HELD || transient(err)) {
            if (err == MQS_ERR_TIMEOUT && sdk_mono_ms() >= deadline) return err;
            continue;
        }
        return err;
    }
}
