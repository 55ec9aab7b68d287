/* libFuzzer target: the broker's durable records (broker/broker_persist.h).
 * Input: one frame type byte, then the record's payload. Any input either
 * fails to decode or is the canonical encoding of what it decodes to
 * (re-encoding gives the same bytes); broker_persist_check agrees with the
 * decoder; and replay into a broker accepts exactly the records the check
 * accepts, without crashing, whatever they say. */
#include <string.h>

#include "broker/internal.h"
#include "server/principal_ops.h"
#include "fuzz_check.h"

static uv_loop_t loop;
static broker *b;

static uint64_t no_append(void *ctx, uint8_t type, const uint8_t *p, size_t n)
{
    (void)ctx, (void)type, (void)p, (void)n;
    CHECK(!"replay appended a record");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!b) {
        uv_loop_init(&loop);
        broker_limits l;
        broker_limits_default(&l);
        b = broker_new(&loop, &l, &server_principal_ops);
        broker_persist_sink sink = {.append = no_append};
        broker_persist_select sel = {.retained = BROKER_PERSIST_ALL};
        broker_set_persistence(b, &sink, &sel);
    }
    if (size < 1) return 0;
    uint8_t type = data[0];
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    const char *bad = broker_persist_check(type, p, n);
    if (type == BROKER_REC_RETAIN) {
        retain_rec r;
        const char *why = broker__retain_rec_decode(p, n, &r);
        CHECK((why == NULL) == (bad == NULL));
        if (!why) {
            buf out = {0};
            broker__retain_rec_encode(&out, &r);
            CHECK(out.len == n && memcmp(out.data, p, n) == 0);
            buf_free(&out);
        }
        const char *rep = broker_persist_replay(b, type, p, n);
        CHECK((rep == NULL) == (bad == NULL));
    } else if (type < BROKER_REC_FIRST || type > BROKER_REC_LAST) {
        CHECK(bad != NULL);
        CHECK(broker_persist_replay(b, type, p, n) != NULL);
    }
    return 0;
}
