/* libFuzzer target: the cross-node routing frames (INTEREST, MSG, ACK;
 * src/server/cluster_route_wire.h). The first input byte picks the
 * decoder, the rest is its payload. Arbitrary bytes never make a decoder
 * read outside the input (ASan); whatever decodes encodes back to exactly
 * the same bytes (the decoders are strict: one encoding per value). */
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "server/cluster_route_wire.h"

static void check_interest(const uint8_t *p, size_t n)
{
    route_interest_reader r;
    if (route_wire_interest_decode(p, n, &r)) return;
    buf again = {0};
    route_wire_interest_begin(&again, r.flags);
    mqtt_bytes f;
    uint32_t count, k = 0;
    while (route_wire_interest_next(&r, &f, &count)) {
        CHECK(f.data >= p && f.data + f.len <= p + n);
        route_wire_interest_add(&again, f, count);
        k++;
    }
    route_wire_interest_end(&again, k);
    CHECK(again.len == n && memcmp(again.data, p, n) == 0);
    buf_free(&again);
}

static void check_msg(const uint8_t *p, size_t n)
{
    route_msg m;
    if (route_wire_msg_decode(p, n, &m)) return;
    CHECK(m.qos <= 2 && m.n_shares <= ROUTE_MSG_SHARES_MAX);
    mqtt_bytes *shares = calloc(m.n_shares ? m.n_shares : 1, sizeof *shares);
    CHECK(shares);
    size_t cur = 0;
    for (uint16_t i = 0; i < m.n_shares; i++) {
        shares[i] = route_wire_share_next(&m, &cur);
        CHECK(shares[i].data >= p && shares[i].data + shares[i].len <= p + n);
    }
    buf again = {0};
    route_wire_msg_encode(&again, &m, shares, m.n_shares);
    CHECK(again.len == n && memcmp(again.data, p, n) == 0);
    buf_free(&again);
    free(shares);
}

static void check_ack(const uint8_t *p, size_t n)
{
    const uint8_t *ids;
    uint32_t count;
    if (route_wire_ack_decode(p, n, &ids, &count)) return;
    uint64_t *v = calloc(count ? count : 1, sizeof *v);
    CHECK(v);
    for (uint32_t i = 0; i < count; i++) v[i] = route_wire_ack_id(ids, i);
    buf again = {0};
    route_wire_ack_encode(&again, v, count);
    CHECK(again.len == n && memcmp(again.data, p, n) == 0);
    buf_free(&again);
    free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    /* A copy of exactly the payload, so reading one more is caught. */
    size_t n = size - 1;
    uint8_t *p = malloc(n ? n : 1);
    CHECK(p);
    if (n) memcpy(p, data + 1, n);
    switch (data[0] % 3) {
    case 0: check_interest(p, n); break;
    case 1: check_msg(p, n); break;
    default: check_ack(p, n); break;
    }
    free(p);
    return 0;
}
