/* Hybrid Logical Clocks (statestore-protocol.md §4): `<wall>:<counter>:<node>`
 * values carried in the `__ts` (version) and `__ft` (fencing token) user
 * properties, and the server clock S that assigns key versions.
 *
 * Nothing here reads a clock: the current wall time (ms since the Unix
 * epoch) is always passed in as now_ms, so every rule is deterministic
 * and unit-testable. */
#ifndef MQS_SSPROTO_HLC_H
#define MQS_SSPROTO_HLC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

/* Largest wall time hlc_parse accepts: 19 significant digits (§4.2). */
#define HLC_WALL_MAX UINT64_C(9999999999999999999)
/* Largest counter the server clock issues: .NET clients parse counters as
 * int32 (§4.2), so a version must never carry a larger one. */
#define HLC_COUNTER_MAX UINT64_C(2147483647)
/* A request `__ts`/`__ft` more than this far ahead of the server is
 * rejected (§4.5). */
#define HLC_MAX_SKEW_MS UINT64_C(60000)

/* One HLC value. The node id is BORROWED: after hlc_parse it points into
 * the parsed text, after a clock operation into the clock. Whoever keeps
 * a value longer copies the node bytes. A valid node id is non-empty and
 * contains no ':'; its length is not limited. */
typedef struct hlc {
    uint64_t wall_ms;
    uint64_t counter;
    const uint8_t *node;
    size_t node_len;
} hlc;

/* Parse exactly `wall:counter:node` from s[0..n): wall and counter are
 * 1*DIGIT (leading zeros allowed, no sign, space, fraction or exponent),
 * wall <= HLC_WALL_MAX, counter fits in uint64_t; node is non-empty and
 * has no ':'. Returns false for anything else (`malformed timestamp`),
 * leaving *out untouched. */
bool hlc_parse(const void *s, size_t n, hlc *out);

/* Append the SDK wire form: wall zero-padded to 15 digits, counter to 5
 * (more digits when larger), e.g. `001696374425000:00001:StateStore`. */
void hlc_format(const hlc *v, buf *out);

/* Total order of §4.3: wall, then counter, then node id bytewise (a proper
 * prefix sorts first). Returns <0, 0 or >0. */
int hlc_compare(const hlc *a, const hlc *b);

/* True when v's wall time is more than max_skew_ms ahead of now_ms
 * (exactly max_skew_ms ahead is still accepted; past values always are). */
bool hlc_too_far_ahead(const hlc *v, uint64_t now_ms, uint64_t max_skew_ms);

/* --- the server clock S ---------------------------------------------------- */

typedef struct hlc_clock hlc_clock;

/* A clock at (0, 0) with a copy of the node id; NULL if the node id is
 * not valid (empty or containing ':'). */
hlc_clock *hlc_clock_new(const void *node, size_t node_len);
void hlc_clock_free(hlc_clock *c);

/* The current S (node points into the clock). */
hlc hlc_clock_get(const hlc_clock *c);

/* The three update operations below make S strictly greater (by wall,
 * counter) than the previous S and, for update_from, than *received. A
 * counter that would pass HLC_COUNTER_MAX instead moves the wall one
 * millisecond ahead with counter 0, so issued counters stay int32-sized.
 * They fail (return false, S unchanged) only when no larger value is
 * representable (wall at UINT64_MAX): impossible for a sane now_ms and
 * skew-checked input; the service then answers `malformed timestamp`.
 * On success *out (may be NULL) is the new S. */

/* Tick for a local event (DEL, VDEL, expiry): (now, 0) when the wall clock
 * is ahead of S, else the next counter. */
bool hlc_clock_update_now(hlc_clock *c, uint64_t now_ms, hlc *out);

/* Version assignment for a mutating SET (§4.4 receive rule, §4.5): unlike
 * a client the server never skips a value from its own node id. */
bool hlc_clock_update_from(hlc_clock *c, const hlc *received, uint64_t now_ms, hlc *out);

/* Raise S to at least (v->wall_ms, v->counter) without ticking, so every
 * later version is greater than v: used for versions restored from
 * persistence or replicated before a failover (§4.5 HA). */
void hlc_clock_observe(hlc_clock *c, const hlc *v);

#endif
