/* Per-address failure budget: a token bucket per key (a peer IP address).
 * Each failure takes a token; tokens come back at `per_minute`, up to
 * `burst`. An address with no token left is refused without its
 * credentials being checked, which also spares the event loop the slow
 * password hash. Full buckets are forgotten, so memory follows the number
 * of recently failing addresses. */
#ifndef MQS_AUTH_RATELIMIT_H
#define MQS_AUTH_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ratelimit ratelimit;

typedef struct ratelimit_params {
    uint32_t burst;      /* failures allowed in a row; 0 = no limit */
    uint32_t per_minute; /* refill rate */
} ratelimit_params;

ratelimit *ratelimit_new(void);
/* Loop thread only (the count is not atomic): a verification in flight
 * holds a reference to the budget it charged. ratelimit_free drops one
 * reference and frees with the last. */
ratelimit *ratelimit_ref(ratelimit *r);
void ratelimit_free(ratelimit *r);
/* Whether `key` has no failure left (now_ms: a monotonic clock). */
bool ratelimit_exhausted(ratelimit *r, const char *key, uint64_t now_ms, const ratelimit_params *p);
/* Record one failure of `key`. */
void ratelimit_charge(ratelimit *r, const char *key, uint64_t now_ms, const ratelimit_params *p);
/* Give back one failure charged in advance (an attempt that succeeded),
 * never beyond `burst`. */
void ratelimit_refund(ratelimit *r, const char *key, uint64_t now_ms, const ratelimit_params *p);
size_t ratelimit_size(const ratelimit *r);

#endif
