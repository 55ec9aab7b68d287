/* Shared by the mqtt unit tests: literals, hex parsing, packet comparison
 * and the encode -> frame -> decode round trip. */
#ifndef MQS_TEST_MQTT_HELPERS_H
#define MQS_TEST_MQTT_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "mqtt/codec.h"

#define B(s) ((mqtt_bytes){(const uint8_t *)(s), sizeof(s) - 1})

/* "30 02 ab cd" -> bytes in out (whitespace ignored); returns the count. */
size_t hex_parse(const char *hex, uint8_t *out, size_t cap);

void assert_bytes_eq(mqtt_bytes want, mqtt_bytes got);

/* Compare every property except user properties; `want` is an encode-side
 * struct, `got` a decoded one. */
void assert_props_eq(const mqtt_props *want, const mqtt_props *got);

/* Assert the user properties of a decoded block are exactly keys[i]=vals[i]
 * in order. */
void assert_user_props(const mqtt_props *got, const char *const *keys, const char *const *vals, size_t n);

void assert_packet_eq(const mqtt_packet *want, const mqtt_packet *got);

/* Encode `in`, check mqtt_encoded_size and mqtt_frame agree, decode into
 * *out (must succeed). *wire keeps the bytes *out points into. */
void roundtrip(uint8_t version, const mqtt_packet *in, mqtt_packet *out, buf *wire);

#endif
