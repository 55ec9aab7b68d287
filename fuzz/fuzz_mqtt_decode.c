/* libFuzzer target: frame and decode the input as every protocol version,
 * both as a server and as a client reads it; every packet that decodes must
 * re-encode to bytes that decode again and encode to the very same bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/codec.h"
#include "fuzz_check.h"

typedef int (*decode_fn)(const uint8_t *, size_t, uint8_t, mqtt_packet *);

/* The encoder writes user properties (and a server's repeated subscription
 * identifiers) only from `extra`: rebuild it from the decoded raw block. */
static void carry_over(mqtt_props *p, bool publish, buf *scratch)
{
    uint64_t keep = MQTT_PROP_BIT(MQTT_PROP_USER_PROPERTY);
    if (publish) keep |= MQTT_PROP_BIT(MQTT_PROP_SUBSCRIPTION_ID);
    mqtt_props_copy_except(p->raw, ~keep, scratch);
    p->extra = (mqtt_bytes){scratch->data, (uint32_t)scratch->len};
    if (publish) p->present &= ~MQTT_PROP_BIT(MQTT_PROP_SUBSCRIPTION_ID);
}

static void prepare(mqtt_packet *p, buf scratch[2])
{
    switch (p->type) {
    case MQTT_CONNECT:
        carry_over(&p->connect.props, false, &scratch[0]);
        carry_over(&p->connect.will_props, false, &scratch[1]);
        break;
    case MQTT_CONNACK: carry_over(&p->connack.props, false, &scratch[0]); break;
    case MQTT_PUBLISH: carry_over(&p->publish.props, true, &scratch[0]); break;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP: carry_over(&p->ack.props, false, &scratch[0]); break;
    case MQTT_SUBSCRIBE: carry_over(&p->subscribe.props, false, &scratch[0]); break;
    case MQTT_UNSUBSCRIBE: carry_over(&p->unsubscribe.props, false, &scratch[0]); break;
    case MQTT_SUBACK:
    case MQTT_UNSUBACK: carry_over(&p->suback.props, false, &scratch[0]); break;
    case MQTT_DISCONNECT:
    case MQTT_AUTH: carry_over(&p->disconnect.props, false, &scratch[0]); break;
    }
}

/* Encode a decoded packet; checks the size and framing agree. */
static void reencode(uint8_t version, mqtt_packet *p, buf *out)
{
    buf scratch[2] = {{0}};
    prepare(p, scratch);
    uint8_t v = p->type == MQTT_CONNECT ? p->connect.version : version;
    size_t n = mqtt_encode(out, v, p);
    CHECK(n == out->len && n == mqtt_encoded_size(v, p));
    if (p->type == MQTT_PUBLISH) {
        buf hot = {0};
        CHECK(mqtt_encode_publish(&hot, v, &p->publish) == n);
        CHECK(memcmp(hot.data, out->data, n) == 0);
        buf_free(&hot);
    }
    size_t total = 0;
    CHECK(mqtt_frame(out->data, out->len, 0, &total) == MQTT_FRAME_OK && total == n);
    buf_free(&scratch[0]);
    buf_free(&scratch[1]);
}

static void one(const uint8_t *data, size_t len, uint8_t version, decode_fn decode)
{
    mqtt_packet p, q;
    if (decode(data, len, version, &p) != MQTT_RC_SUCCESS) return;
    buf first = {0}, second = {0};
    reencode(version, &p, &first);
    CHECK(decode(first.data, first.len, version, &q) == MQTT_RC_SUCCESS);
    CHECK(q.type == p.type);
    reencode(version, &q, &second);
    CHECK(first.len == second.len && memcmp(first.data, second.data, first.len) == 0);
    mqtt_packet_release(&p);
    mqtt_packet_release(&q);
    buf_free(&first);
    buf_free(&second);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t versions[] = {MQTT_V31, MQTT_V311, MQTT_V5};
    size_t total = 0;
    enum mqtt_frame_status st = mqtt_frame(data, size, 0, &total);
    if (st == MQTT_FRAME_OK) CHECK(total <= size);
    /* decode the framed packet, and the raw input too (length mismatches) */
    size_t lens[2] = {st == MQTT_FRAME_OK ? total : 0, size};
    for (size_t l = 0; l < 2; l++) {
        if (lens[l] == 0) continue;
        for (size_t i = 0; i < sizeof versions; i++) {
            one(data, lens[l], versions[i], mqtt_decode);
            one(data, lens[l], versions[i], mqtt_decode_from_server);
        }
    }
    return 0;
}
