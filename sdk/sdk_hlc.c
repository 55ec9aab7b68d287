#include "sdk_hlc.h"

#include <string.h>

/* The validation step shared by both rules: a counter that cannot grow, or
 * a clock too far ahead of real time, is refused before it is committed. */
static mqs_err validate(const sdk_clock *next, uint64_t now_ms, uint64_t max_drift_ms)
{
    if (next->wall_ms > now_ms && next->wall_ms - now_ms > max_drift_ms) return MQS_ERR_CLOCK_DRIFT;
    return MQS_OK;
}

mqs_err sdk_clock_tick(sdk_clock *c, uint64_t now_ms, uint64_t max_drift_ms)
{
    sdk_clock next = *c;
    if (now_ms > c->wall_ms) {
        next = (sdk_clock){now_ms, 0};
    } else {
        if (c->counter == UINT64_MAX) return MQS_ERR_HLC_OVERFLOW;
        next.counter++;
    }
    mqs_err err = validate(&next, now_ms, max_drift_ms);
    if (err == MQS_OK) *c = next;
    return err;
}

static bool same_node(const char *self, const hlc *other)
{
    return strlen(self) == other->node_len && memcmp(self, other->node, other->node_len) == 0;
}

static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

mqs_err sdk_clock_merge(sdk_clock *c, const char *self_node, const hlc *other, uint64_t now_ms, uint64_t max_drift_ms)
{
    if (same_node(self_node, other)) return MQS_OK;
    sdk_clock next;
    if (now_ms > c->wall_ms && now_ms > other->wall_ms) {
        next = (sdk_clock){now_ms, 0};
    } else if (c->wall_ms == other->wall_ms) {
        uint64_t m = max_u64(c->counter, other->counter);
        if (m == UINT64_MAX) return MQS_ERR_HLC_OVERFLOW;
        next = (sdk_clock){c->wall_ms, m + 1};
    } else if (c->wall_ms > other->wall_ms) {
        if (c->counter == UINT64_MAX) return MQS_ERR_HLC_OVERFLOW;
        next = (sdk_clock){c->wall_ms, c->counter + 1};
    } else {
        if (other->counter == UINT64_MAX) return MQS_ERR_HLC_OVERFLOW;
        next = (sdk_clock){other->wall_ms, other->counter + 1};
    }
    mqs_err err = validate(&next, now_ms, max_drift_ms);
    if (err == MQS_OK) *c = next;
    return err;
}
