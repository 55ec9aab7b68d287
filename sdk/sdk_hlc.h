/* The client-side HLC rules of protocol §4.4, as pure functions of the
 * clock state and the current wall time (no globals, no clock reads), so
 * each branch is unit-testable. app_hlc.c wraps them in the process clock. */
#ifndef MQS_SDK_HLC_H
#define MQS_SDK_HLC_H

#include <stdint.h>

#include "mqstate/errors.h"
#include "ssproto/hlc.h"

typedef struct sdk_clock {
    uint64_t wall_ms;
    uint64_t counter;
} sdk_clock;

/* update_now: (now, 0) when the wall clock passed the clock, else
 * counter + 1. MQS_ERR_HLC_OVERFLOW / MQS_ERR_CLOCK_DRIFT (clock more than
 * max_drift_ms ahead of now) leave *c unchanged. */
mqs_err sdk_clock_tick(sdk_clock *c, uint64_t now_ms, uint64_t max_drift_ms);

/* Merge a received value (§4.4 receive rule). A value carrying our own node
 * id is ignored (MQS_OK, unchanged). On error *c is unchanged. */
mqs_err sdk_clock_merge(sdk_clock *c, const char *self_node, const hlc *other, uint64_t now_ms, uint64_t max_drift_ms);

#endif
