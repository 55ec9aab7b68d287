/* Leader election: a lock on the position key held with auto-renewal
 * (term_ms, renewed every term_ms / 3), plus a permanent observation of the
 * position that reports leader changes (not renewals) to the callback. */
#include <stdlib.h>
#include <string.h>

#include "sdk_lease.h"
#include "util/alloc.h"

struct mqs_leader {
    mqs_client *c;
    mqs_lease *lease;
    sdk_listener *watch;
    uint64_t term_ms;
    mqs_leader_cb cb;
    void *ud;
    /* Last leader seen (protected by c->mu): notifications repeat it on
     * every renewal, the callback only hears about changes. */
    uint8_t *leader;
    size_t leader_len;
    bool known;
};

/* Record the leader (NULL: none); true when it changed. Mutex held. */
static bool remember(mqs_leader *e, const uint8_t *id, size_t len)
{
    bool same = e->known && ((id == NULL) == (e->leader == NULL)) &&
                (!id || (len == e->leader_len && memcmp(id, e->leader, len) == 0));
    if (same) return false;
    free(e->leader);
    e->leader = id ? xmemdup(id, len) : NULL;
    e->leader_len = id ? len : 0;
    e->known = true;
    return true;
}

static void notify_change(mqs_leader *e, const uint8_t *id, size_t len)
{
    if (!e->cb) return;
    bool self = id && len == e->lease->hlen && memcmp(id, e->lease->holder, len) == 0;
    e->cb(e, self, id, len, e->ud);
}

static void on_position(mqs_client *c, const mqs_notification *n, void *ud)
{
    mqs_leader *e = ud;
    const uint8_t *id = n->op == MQS_NOTIFY_SET ? n->value : NULL;
    size_t len = n->op == MQS_NOTIFY_SET ? n->value_len : 0;
    pthread_mutex_lock(&c->mu);
    bool changed = remember(e, id, len);
    pthread_mutex_unlock(&c->mu);
    if (changed) notify_change(e, id, len);
}

static void on_lost(mqs_lease *l, mqs_err err, void *ud)
{
    mqs_leader *e = ud;
    if (e->cb) e->cb(e, false, NULL, 0, e->ud);
}

mqs_leader *mqs_leader_new(mqs_client *c, const void *position, size_t plen, const void *candidate_id, size_t clen,
                           uint64_t term_ms, mqs_leader_cb cb, void *ud)
{
    if (!c || !position || !plen || term_ms < 3) return NULL;
    mqs_lease *lease = mqs_lease_new(c, position, plen, candidate_id, clen);
    if (!lease) return NULL;
    mqs_leader *e = xcalloc(1, sizeof *e);
    e->c = c;
    e->lease = lease;
    e->term_ms = term_ms;
    e->cb = cb;
    e->ud = ud;
    mqs_lease_on_lost(lease, on_lost, e);
    if (sdk_watch_add(c, position, plen, on_position, e, &e->watch) != MQS_OK) {
        mqs_lease_free(lease);
        free(e);
        return NULL;
    }
    return e;
}

mqs_err mqs_leader_campaign(mqs_leader *e, int timeout_ms)
{
    if (!e) return MQS_ERR_INVALID;
    if (mqs_lease_is_held(e->lease)) return MQS_OK;
    return mqs_lock(e->lease, e->term_ms, e->term_ms / 3, timeout_ms);
}

mqs_err mqs_leader_resign(mqs_leader *e)
{
    if (!e) return MQS_ERR_INVALID;
    if (!mqs_lease_is_held(e->lease)) return MQS_OK;
    return mqs_lease_release(e->lease);
}

bool mqs_leader_is_leader(mqs_leader *e) { return e && mqs_lease_is_held(e->lease); }

bool mqs_leader_token(mqs_leader *e, mqs_hlc *out) { return e && mqs_lease_token(e->lease, out); }

mqs_err mqs_leader_current(mqs_leader *e, mqs_result *out) { return mqs_lease_holder(e->lease, out); }

void mqs_leader_free(mqs_leader *e)
{
    if (!e) return;
    mqs_leader_resign(e);
    sdk_watch_remove(e->c, e->lease->name, e->lease->nlen, e->watch);
    mqs_lease_free(e->lease);
    free(e->leader);
    free(e);
}
