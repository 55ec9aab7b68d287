/* The lease object, shared by lease.c, lock.c and leader.c. Every field
 * after the configuration is protected by the client mutex. */
#ifndef MQS_SDK_LEASE_H
#define MQS_SDK_LEASE_H

#include "sdk_internal.h"

struct mqs_lease {
    sdk_step_hook renew; /* in c->step_hooks: auto-renewal; renew.id names the lease */
    mqs_client *c;
    uint8_t *name, *holder;
    size_t nlen, hlen;

    bool held;
    mqs_hlc token;
    bool auto_renew;
    bool renewing; /* a renewal is in flight */
    uint64_t duration_ms, renew_ms, next_renew_ms;
    uint64_t generation; /* bumped by acquire/release: stale renewals are ignored */
    mqs_lease_lost_cb lost_cb;
    void *lost_ud;
    unsigned deletes_seen; /* DELETE notifications seen while locking */
    bool user_observing;
};

#endif
