/* Hybrid Logical Clock values (protocol §4): key versions and fencing
 * tokens, written `<wall ms>:<counter>:<node id>` on the wire.
 *
 * mqs_hlc is a plain value type: copy it freely. The node id is stored
 * inline, so a value never points into anything else.
 *
 * The process clock. libmqstate keeps ONE application HLC per process
 * (protocol §4.4, ADR 7), shared by every client: it is ticked before every
 * request is published (its value travels in `__ts`) and merged with every
 * `__ts` received in a response or notification. It is the library's only
 * global state and is protected by a mutex; every function here is
 * thread-safe. */
#ifndef MQSTATE_HLC_H
#define MQSTATE_HLC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqstate/errors.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Longest node id an mqs_hlc can hold (bytes, excluding the NUL). A
 * received version with a longer node id is treated as malformed. */
#define MQS_HLC_NODE_MAX 127
/* Buffer size that always fits mqs_hlc_format's output plus the NUL:
 * 20 digits + ':' + 20 digits + ':' + node + NUL. */
#define MQS_HLC_STR_MAX (20 + 1 + 20 + 1 + MQS_HLC_NODE_MAX + 1)

typedef struct mqs_hlc {
    uint64_t wall_ms; /* milliseconds since the Unix epoch */
    uint64_t counter;
    char node[MQS_HLC_NODE_MAX + 1]; /* NUL-terminated, non-empty, no ':' */
} mqs_hlc;

/* Parse exactly `wall:counter:node` from s[0..len) (leading zeros allowed,
 * no sign; node non-empty, without ':', at most MQS_HLC_NODE_MAX bytes and
 * without NUL). Returns false, leaving *out untouched, for anything else. */
bool mqs_hlc_parse(const char *s, size_t len, mqs_hlc *out);

/* Write the SDK wire form (wall zero-padded to 15 digits, counter to 5,
 * e.g. "001696374425000:00001:StateStore") NUL-terminated into out, which
 * should have MQS_HLC_STR_MAX bytes. Returns the length written (without
 * NUL), or 0 when out is too small or v is not valid. */
size_t mqs_hlc_format(const mqs_hlc *v, char *out, size_t size);

/* The total order of §4.3: wall, then counter, then node id bytewise.
 * Returns <0, 0 or >0. Fencing tokens compare with this order on the
 * server: a later lease acquisition always yields a greater token. */
int mqs_hlc_compare(const mqs_hlc *a, const mqs_hlc *b);

/* --- the process clock ---------------------------------------------------- */

/* Default maximum drift: a received `__ts` may move the process clock at
 * most this far ahead of the local wall clock (§4.4). */
#define MQS_HLC_DEFAULT_MAX_DRIFT_MS 60000

/* Set the drift limit in milliseconds (0 restores the default). A response
 * whose `__ts` exceeds it fails with MQS_ERR_CLOCK_DRIFT. */
void mqs_hlc_set_max_drift_ms(uint64_t ms);

/* Tick the process clock for a local event (`update_now`, §4.4) and copy
 * the new value to *out. This is what every request sends in `__ts`.
 * Fails with MQS_ERR_CLOCK_DRIFT / MQS_ERR_HLC_OVERFLOW (clock unchanged). */
mqs_err mqs_hlc_now(mqs_hlc *out);

/* The current value of the process clock, without ticking it. */
void mqs_hlc_current(mqs_hlc *out);

/* The process clock's node id (a random UUID chosen on first use),
 * NUL-terminated, static for the life of the process. */
const char *mqs_hlc_node_id(void);

#ifdef __cplusplus
}
#endif

#endif
