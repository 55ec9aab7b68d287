#include "tests.h"

#include "util/siphash.h"

/* Reference vectors of the SipHash paper / reference implementation:
 * key 00..0f, message 00..(n-1), for n = 0..31. */
static const uint64_t expect[32] = {
    0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d, 0xcf2794e0277187b7,
    0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137, 0x93f5f5799a932462, 0x9e0082df0ba9e4b0,
    0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7, 0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee,
    0xa129ca6149be45e5, 0x3f2acc7f57c29bdb, 0x699ae9f52cbe4794, 0x4bc1b3f0968dd39c, 0xbb6dc91da77961bd,
    0xbed65cf21aa2ee98, 0xd0f2cbb02e3b67c7, 0x93536795e3a33e88, 0xa80c038ccd5ccec8, 0xb8ad50c6f649af94,
    0xbce192de8a85b8ea, 0x17d835b85bbb15f3, 0x2f2e6163076bcfad, 0xde4daaaca71dc9a5, 0xa6a2506687956571,
    0xad87a3535c49ef28, 0x32d892fad841c342,
};

static void test_reference_vectors(void **state)
{
    (void)state;
    uint8_t key[16], msg[32];
    for (int i = 0; i < 16; i++) key[i] = (uint8_t)i;
    for (int i = 0; i < 32; i++) msg[i] = (uint8_t)i;
    for (size_t n = 0; n < 32; n++) assert_int_equal(siphash24(msg, n, key), expect[n]);
}

static void test_key_matters(void **state)
{
    (void)state;
    uint8_t k1[16] = {0}, k2[16] = {0};
    k2[15] = 1;
    assert_int_not_equal(siphash24("client-1", 8, k1), siphash24("client-1", 8, k2));
    /* Unaligned input gives the same result as aligned. */
    uint8_t raw[17];
    for (int i = 0; i < 16; i++) raw[i + 1] = (uint8_t)i;
    uint8_t key[16];
    for (int i = 0; i < 16; i++) key[i] = (uint8_t)i;
    assert_int_equal(siphash24(raw + 1, 15, key), expect[15]);
}

int run_siphash_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_vectors),
        cmocka_unit_test(test_key_matters),
    };
    return cmocka_run_group_tests_name("siphash", tests, NULL, NULL);
}
