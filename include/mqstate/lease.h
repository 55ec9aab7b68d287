/* Leases, locks, "edit under lock" and leader election (protocol §8).
 *
 * The state store has no lock commands: everything is built from
 *   acquire/renew  SET <name> <holder> NEX PX <duration>
 *   release        VDEL <name> <holder>
 *   holder query   GET <name>
 *   observe        KEYNOTIFY <name>
 * The fencing token of a held lease is the version the service returned
 * for the acquiring SET. Pass it (mqs_set_opts.fencing_token) on writes to
 * the keys the lease protects: the service then rejects writes from a
 * holder whose lease was since taken over (MQS_ERR_FENCING_LOWER).
 *
 * Threading: as in client.h. Lease/leader callbacks run on the network
 * thread without locks held and must not block nor call synchronous calls.
 * A lease or leader must be freed before its client, and not from one of
 * its own callbacks; freeing waits for a running callback to return. */
#ifndef MQSTATE_LEASE_H
#define MQSTATE_LEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqstate/client.h"
#include "mqstate/errors.h"
#include "mqstate/hlc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- lease -------------------------------------------------------------------- */

typedef struct mqs_lease mqs_lease;

/* Called once when an auto-renewal fails (the lease may now be held by
 * someone else): err is the renewal's error, or MQS_OK when the renewal
 * was answered "not applied" (another holder). Auto-renewal stops. */
typedef void (*mqs_lease_lost_cb)(mqs_lease *l, mqs_err err, void *ud);

/* A lease named name (the state store key, non-empty) held under the
 * value holder (NULL: the client id). Copies both. NULL on bad arguments. */
mqs_lease *mqs_lease_new(mqs_client *c, const void *name, size_t nlen, const void *holder, size_t hlen);

/* Stop auto-renewal and free. Does NOT release the lease: call
 * mqs_lease_release first, or let it expire. NULL is ignored. */
void mqs_lease_free(mqs_lease *l);

/* Callback for a failed auto-renewal (NULL: none). */
void mqs_lease_on_lost(mqs_lease *l, mqs_lease_lost_cb cb, void *ud);

/* Try once to acquire (or re-acquire, extending it) the lease for
 * duration_ms. *acquired tells the outcome (false: held by another
 * holder). When acquired and renew_ms > 0 (must be < duration_ms), the
 * lease is re-acquired every renew_ms in the background until release,
 * free, or the first failure (mqs_lease_on_lost). */
mqs_err mqs_lease_acquire(mqs_lease *l, uint64_t duration_ms, uint64_t renew_ms, bool *acquired);

/* Release: stop renewal, forget the token, VDEL name holder (deletes only
 * if still ours). Releasing a lease not held is fine (MQS_OK). */
mqs_err mqs_lease_release(mqs_lease *l);

/* The fencing token of the current hold (from the last successful acquire
 * or renewal). False when not held (never acquired, released, lost). */
bool mqs_lease_token(mqs_lease *l, mqs_hlc *out);

/* Whether this object believes it holds the lease (same as mqs_lease_token). */
bool mqs_lease_is_held(mqs_lease *l);

/* Ask the service who holds the lease: out->found, out->value = holder,
 * out->version = the holder's fencing token. */
mqs_err mqs_lease_holder(mqs_lease *l, mqs_result *out);

/* Observe changes of the lease key (SET = new holder in value, DELETE =
 * released or expired): a thin wrapper over mqs_observe on the name. */
mqs_err mqs_lease_observe(mqs_lease *l, mqs_notify_cb cb, void *ud);
mqs_err mqs_lease_unobserve(mqs_lease *l);

/* --- lock ----------------------------------------------------------------------- */

/* Block until the lease is acquired, or timeout_ms passes (MQS_ERR_TIMEOUT).
 * Algorithm (§8.3): register KEYNOTIFY on the name first (a release cannot
 * be missed), try to acquire, and while another holder has it wait for a
 * DELETE notification (also re-trying every duration_ms in case one was
 * lost), then back off min(2^n ms, 200 ms) with +-5 % jitter and retry.
 * renew_ms as in mqs_lease_acquire (0: no renewal). Release with
 * mqs_lease_release. */
mqs_err mqs_lock(mqs_lease *l, uint64_t duration_ms, uint64_t renew_ms, int timeout_ms);

/* What an edit callback wants done with the protected key. */
typedef enum mqs_edit_action {
    MQS_EDIT_SET,    /* write *new_value (malloc'd, freed by the library) */
    MQS_EDIT_DELETE, /* delete the key */
    MQS_EDIT_KEEP,   /* change nothing */
} mqs_edit_action;

/* Compute the new state of a key from its current one (current->found,
 * ->value, ->version). For MQS_EDIT_SET, store a malloc'd buffer in
 * *new_value and its length in *new_len: the library frees it. Runs on the
 * calling thread of mqs_lock_edit, while the lock is held; it may be called
 * more than once if a write has to be retried. */
typedef mqs_edit_action (*mqs_edit_fn)(const mqs_result *current, uint8_t **new_value, size_t *new_len, void *ud);

/* Edit key under the lock l: mqs_lock(l, duration_ms, 0, timeout_ms) ->
 * GET key -> fn -> SET/DEL key with the lock's fencing token -> release.
 * The whole sequence is retried (until timeout_ms) when the write fails
 * because the lock was lost (fencing errors, timeout) . Returns MQS_OK
 * once the write (or KEEP) succeeded. */
mqs_err mqs_lock_edit(mqs_lease *l, const void *key, size_t klen, uint64_t duration_ms, int timeout_ms, mqs_edit_fn fn,
                      void *ud);

/* --- leader election ------------------------------------------------------------ */

typedef struct mqs_leader mqs_leader;

/* Leadership changed. is_self: this candidate is now the leader (false
 * also when it lost or resigned). leader/leader_len: the current leader's
 * id as last seen (NULL: none known). */
typedef void (*mqs_leader_cb)(mqs_leader *e, bool is_self, const uint8_t *leader, size_t leader_len, void *ud);

/* A candidate candidate_id (NULL: the client id) for the position named
 * position (a state store key). Terms last term_ms and are renewed every
 * term_ms / 3 while leader. cb (may be NULL) is called on every change of
 * the position seen through notifications and on own loss. The position
 * is observed from creation until mqs_leader_free. NULL on bad arguments
 * or when the observation could not be registered. */
mqs_leader *mqs_leader_new(mqs_client *c, const void *position, size_t plen, const void *candidate_id, size_t clen,
                           uint64_t term_ms, mqs_leader_cb cb, void *ud);

/* Block until elected or timeout_ms passes (MQS_ERR_TIMEOUT); a lock loop
 * on the position. Returns MQS_OK at once when already leader. */
mqs_err mqs_leader_campaign(mqs_leader *e, int timeout_ms);

/* Give up leadership (release the position). MQS_OK also when not leader. */
mqs_err mqs_leader_resign(mqs_leader *e);

/* True while this candidate believes it is the leader. */
bool mqs_leader_is_leader(mqs_leader *e);

/* The fencing token of the current term; false when not leader. */
bool mqs_leader_token(mqs_leader *e, mqs_hlc *out);

/* Ask the service for the current leader (out->found, out->value). */
mqs_err mqs_leader_current(mqs_leader *e, mqs_result *out);

/* Resign if leader, stop observing, free. NULL is ignored. */
void mqs_leader_free(mqs_leader *e);

#ifdef __cplusplus
}
#endif

#endif
