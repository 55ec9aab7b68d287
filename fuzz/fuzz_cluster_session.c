/* libFuzzer target: the session registry's node-link frames
 * (src/server/cluster_session_codec.h). The first byte picks the frame
 * type (one past the last: refused), the rest is the payload. Any input
 * either fails to decode or is the canonical encoding of what it decodes
 * to: encoding it again gives the same bytes. */
#include <string.h>

#include "fuzz_check.h"
#include "server/cluster_session_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t type = (uint8_t)(CSESS_SYNC + data[0] % (CSESS_LAST - CSESS_SYNC + 2));
    csess_msg m;
    if (csess_decode(type, data + 1, size - 1, &m)) return 0;
    CHECK(m.type == type);
    buf out = {0};
    csess_encode(&out, &m);
    CHECK(out.len == size - 1 && memcmp(out.data, data + 1, size - 1) == 0);
    buf_free(&out);
    return 0;
}
