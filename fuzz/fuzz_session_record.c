/* libFuzzer target: the session record decoder (src/broker/persist_session.h).
 * The first byte picks the frame type, the rest is the payload. Any input
 * either fails to decode or is the canonical encoding of the record it
 * decodes to: re-encoding gives the same bytes, in both output modes. */
#include <string.h>

#include "broker/persist_session.h"
#include "fuzz_check.h"

static uint8_t scratch[PSESS_SCRATCH_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t type = (uint8_t)(PSESS_SESSION + data[0] % (PSESS_RX_DEL - PSESS_SESSION + 2)); /* one past: refused */
    psess_rec r;
    const char *why = psess_rec_decode(type, data + 1, size - 1, &r);
    if (why) return 0;
    buf out = {0};
    psess_out o = {.b = &out};
    psess_rec_encode(&r, &o);
    CHECK(out.len == size - 1 && memcmp(out.data, data + 1, size - 1) == 0);
    psess_out q = {.scratch = scratch, .cap = sizeof scratch};
    psess_rec_encode(&r, &q);
    size_t at = 0;
    for (unsigned i = 0; i < q.n; i++) {
        CHECK(at + q.pieces[i].n <= out.len && memcmp(out.data + at, q.pieces[i].p, q.pieces[i].n) == 0);
        at += q.pieces[i].n;
    }
    CHECK(at == out.len);
    buf_free(&out);
    return 0;
}
