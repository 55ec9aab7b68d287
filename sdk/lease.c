/* Leases (§8.3): acquire/renew = SET name holder NEX PX, the fencing token
 * is the version of the acquiring SET; release = VDEL name holder; holder
 * query = GET. Auto-renewal runs from the client's misc step (network
 * thread), as a step hook each lease registers, and stops at the first
 * failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sdk_lease.h"
#include "util/alloc.h"

static void renew_step(mqs_client *c, void *ud);

mqs_lease *mqs_lease_new(mqs_client *c, const void *name, size_t nlen, const void *holder, size_t hlen)
{
    if (!c || !name || !nlen || (holder && !hlen)) return NULL;
    if (!holder) {
        holder = mqs_client_id(c);
        hlen = strlen(mqs_client_id(c));
    }
    mqs_lease *l = xcalloc(1, sizeof *l);
    l->c = c;
    l->name = xmemdup(name, nlen);
    l->nlen = nlen;
    l->holder = xmemdup(holder, hlen);
    l->hlen = hlen;
    l->renew = (sdk_step_hook){.step = renew_step, .ud = l};
    pthread_mutex_lock(&c->mu);
    sdk_step_hook_add_locked(c, &l->renew);
    pthread_mutex_unlock(&c->mu);
    return l;
}

void mqs_lease_free(mqs_lease *l)
{
    if (!l) return;
    mqs_client *c = l->c;
    if (l->user_observing) mqs_lease_unobserve(l);
    pthread_mutex_lock(&c->mu);
    sdk_step_hook_remove_locked(c, &l->renew);
    sdk_wait_callbacks(c);
    pthread_mutex_unlock(&c->mu);
    free(l->name);
    free(l->holder);
    free(l);
}

void mqs_lease_on_lost(mqs_lease *l, mqs_lease_lost_cb cb, void *ud)
{
    pthread_mutex_lock(&l->c->mu);
    l->lost_cb = cb;
    l->lost_ud = ud;
    pthread_mutex_unlock(&l->c->mu);
}

static sdk_req acquire_req(mqs_lease *l, resp_slice *argv, char *px, size_t pxsize, uint64_t duration_ms)
{
    snprintf(px, pxsize, "%llu", (unsigned long long)duration_ms);
    argv[0] = (resp_slice){(const uint8_t *)"SET", 3};
    argv[1] = (resp_slice){l->name, l->nlen};
    argv[2] = (resp_slice){l->holder, l->hlen};
    argv[3] = (resp_slice){(const uint8_t *)"NEX", 3};
    argv[4] = (resp_slice){(const uint8_t *)"PX", 2};
    argv[5] = (resp_slice){(const uint8_t *)px, strlen(px)};
    return (sdk_req){SDK_OP_SET, argv, 6, NULL, false};
}

mqs_err mqs_lease_acquire(mqs_lease *l, uint64_t duration_ms, uint64_t renew_ms, bool *acquired)
{
    if (acquired) *acquired = false;
    if (!l || duration_ms == 0 || (renew_ms && renew_ms >= duration_ms)) return MQS_ERR_INVALID;
    resp_slice argv[6];
    char px[24];
    sdk_req req = acquire_req(l, argv, px, sizeof px, duration_ms);
    mqs_result r;
    mqs_err err = sdk_request_sync(l->c, &req, &r);
    if (err == MQS_OK && r.applied && !r.has_version) err = MQS_ERR_PROTOCOL; /* no token */
    if (err == MQS_OK && r.applied) {
        mqs_client *c = l->c;
        pthread_mutex_lock(&c->mu);
        l->held = true;
        l->token = r.version;
        l->generation++;
        l->renewing = false;
        l->duration_ms = duration_ms;
        l->renew_ms = renew_ms;
        l->auto_renew = renew_ms > 0;
        l->next_renew_ms = sdk_mono_ms() + renew_ms;
        pthread_mutex_unlock(&c->mu);
        if (acquired) *acquired = true;
    }
    mqs_result_clear(&r);
    return err;
}

typedef struct renewal {
    uint64_t id, generation;
} renewal;

/* The lease still registered under id, or NULL once freed. */
static mqs_lease *lease_by_id(mqs_client *c, uint64_t id)
{
    sdk_step_hook *h = sdk_step_hook_find_locked(c, id);
    return h ? h->ud : NULL;
}

static void renew_done(mqs_client *c, const mqs_result *r, void *ud)
{
    renewal rn = *(renewal *)ud;
    free(ud);
    pthread_mutex_lock(&c->mu);
    mqs_lease *l = lease_by_id(c, rn.id);
    if (!l || l->generation != rn.generation) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    l->renewing = false;
    if (r->err == MQS_OK && r->applied && r->has_version) {
        l->token = r->version;
        l->next_renew_ms = sdk_mono_ms() + l->renew_ms;
        pthread_mutex_unlock(&c->mu);
        return;
    }
    l->held = false;
    l->auto_renew = false;
    mqs_lease_lost_cb cb = l->lost_cb;
    void *cb_ud = l->lost_ud;
    sdk_log(c, 1, "lease renewal failed: %s", r->err ? mqs_strerror(r->err) : "held by another");
    if (cb) sdk_cb_begin(c);
    pthread_mutex_unlock(&c->mu);
    if (!cb) return;
    cb(l, r->err, cb_ud);
    pthread_mutex_lock(&c->mu);
    sdk_cb_end(c);
    pthread_mutex_unlock(&c->mu);
}

/* sdk_step_hook (mutex held): start the renewal if it is due. */
static void renew_step(mqs_client *c, void *ud)
{
    mqs_lease *l = ud;
    if (!l->auto_renew || l->renewing || sdk_mono_ms() < l->next_renew_ms) return;
    resp_slice argv[6];
    char px[24];
    sdk_req req = acquire_req(l, argv, px, sizeof px, l->duration_ms);
    renewal *rn = xmalloc(sizeof *rn);
    *rn = (renewal){l->renew.id, l->generation};
    l->renewing = true;
    if (sdk_request_async_locked(c, &req, renew_done, rn) != MQS_OK) {
        l->renewing = false;
        free(rn);
    }
}

mqs_err mqs_lease_release(mqs_lease *l)
{
    if (!l) return MQS_ERR_INVALID;
    mqs_client *c = l->c;
    pthread_mutex_lock(&c->mu);
    l->held = false;
    l->auto_renew = false;
    l->generation++;
    pthread_mutex_unlock(&c->mu);
    mqs_result r;
    mqs_err err = mqs_vdel(c, l->name, l->nlen, l->holder, l->hlen, NULL, &r);
    mqs_result_clear(&r);
    return err;
}

bool mqs_lease_token(mqs_lease *l, mqs_hlc *out)
{
    pthread_mutex_lock(&l->c->mu);
    bool held = l->held;
    if (held && out) *out = l->token;
    pthread_mutex_unlock(&l->c->mu);
    return held;
}

bool mqs_lease_is_held(mqs_lease *l) { return mqs_lease_token(l, NULL); }

mqs_err mqs_lease_holder(mqs_lease *l, mqs_result *out) { return mqs_get(l->c, l->name, l->nlen, out); }

mqs_err mqs_lease_observe(mqs_lease *l, mqs_notify_cb cb, void *ud)
{
    mqs_err err = mqs_observe(l->c, l->name, l->nlen, cb, ud, NULL);
    if (err == MQS_OK) l->user_observing = true;
    return err;
}

mqs_err mqs_lease_unobserve(mqs_lease *l)
{
    l->user_observing = false;
    return mqs_unobserve(l->c, l->name, l->nlen, NULL);
}
