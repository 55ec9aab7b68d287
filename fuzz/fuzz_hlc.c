/* libFuzzer target: HLC parsing and the server clock (src/store/hlc.h).
 * Every value that parses formats to text that parses to an equal value;
 * the clock fed with it issues versions strictly above it and above every
 * earlier version, with counters kept within int32. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssproto/hlc.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hlc v, again;
    if (!hlc_parse(data, size, &v)) return 0;
    CHECK(v.wall_ms <= HLC_WALL_MAX && v.node_len > 0);
    CHECK(memchr(v.node, ':', v.node_len) == NULL);

    buf text = {0};
    hlc_format(&v, &text);
    CHECK(hlc_parse(text.data, text.len, &again));
    CHECK(hlc_compare(&v, &again) == 0 && hlc_compare(&again, &v) == 0);

    /* Use the wall time as "now" too, so every update branch is reachable
     * (now below, equal to and above the received wall). */
    hlc_clock *c = hlc_clock_new("StateStore", 10);
    CHECK(c);
    uint64_t nows[] = {0, v.wall_ms, v.wall_ms / 2, v.wall_ms + (v.counter & 3)};
    hlc prev = hlc_clock_get(c), out;
    for (size_t i = 0; i < sizeof nows / sizeof nows[0]; i++) {
        CHECK(hlc_clock_update_from(c, &v, nows[i], &out));
        CHECK(hlc_compare(&out, &v) > 0 && hlc_compare(&out, &prev) > 0);
        CHECK(out.counter <= HLC_COUNTER_MAX);
        prev = out;
        CHECK(hlc_clock_update_now(c, nows[i], &out));
        CHECK(hlc_compare(&out, &prev) > 0 && out.counter <= HLC_COUNTER_MAX);
        prev = out;
    }
    hlc_clock_observe(c, &v);
    CHECK(hlc_clock_update_now(c, 0, &out) && hlc_compare(&out, &v) > 0);
    hlc_clock_free(c);
    buf_free(&text);
    return 0;
}
