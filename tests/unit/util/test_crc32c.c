/* CRC32C (util/crc32c.h): the standard test vectors (RFC 3720 B.4) on both
 * paths, the table against its definition, and the table and instruction
 * paths against each other on random data, lengths and alignments. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "util/crc32c.h"
#include "util/crc32c_table.h"

typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);

static void check_vectors(crc_fn f)
{
    uint8_t buf[48];
    assert_int_equal(f(0, "", 0), 0);
    assert_int_equal(f(0, NULL, 0), 0);
    assert_int_equal(f(0, "123456789", 9), 0xE3069283);
    memset(buf, 0, 32);
    assert_int_equal(f(0, buf, 32), 0x8A9136AA);
    memset(buf, 0xff, 32);
    assert_int_equal(f(0, buf, 32), 0x62A8AB43);
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)i;
    assert_int_equal(f(0, buf, 32), 0x46DD794E);
    for (int i = 0; i < 32; i++) buf[i] = (uint8_t)(31 - i);
    assert_int_equal(f(0, buf, 32), 0x113FDB5C);
    /* iSCSI SCSI Read (10) command PDU. */
    static const uint8_t pdu[48] = {0x01, 0xc0, 0, 0, 0, 0, 0,    0, 0,    0, 0, 0,    0, 0, 0, 0,
                                    0x14, 0,    0, 0, 0, 0, 0x04, 0, 0,    0, 0, 0x14, 0, 0, 0, 0x18,
                                    0x28, 0,    0, 0, 0, 0, 0,    0, 0x02, 0, 0, 0,    0, 0, 0, 0};
    assert_int_equal(f(0, pdu, sizeof pdu), 0xD9963A56);
}

static void test_vectors_sw(void **state)
{
    (void)state;
    check_vectors(crc32c_sw);
    check_vectors(crc32c);
}

static void test_vectors_hw(void **state)
{
    (void)state;
    if (!crc32c_hw_available()) {
        print_message("no SSE4.2 on this CPU: instruction path not tested\n");
        skip();
    }
    check_vectors(crc32c_hw);
}

static void test_table_matches_definition(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int b = 0; b < 8; b++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        assert_int_equal(crc32c__table[0][i], c);
        for (int k = 1; k < 8; k++) {
            c = crc32c__table[0][c & 0xff] ^ (c >> 8);
            assert_int_equal(crc32c__table[k][i], c);
        }
    }
}

/* Random data at every alignment and many lengths: both paths agree, and
 * a CRC continued over two pieces equals the CRC of the whole. */
static void test_paths_agree(void **state)
{
    (void)state;
    enum { MAX = 4096 };
    uint8_t *data = malloc(MAX + 8);
    assert_non_null(data);
    srand(11);
    for (size_t i = 0; i < MAX + 8; i++) data[i] = (uint8_t)rand();
    bool hw = crc32c_hw_available();
    for (int iter = 0; iter < 2000; iter++) {
        size_t off = (size_t)rand() % 8;
        size_t n = iter < 300 ? (size_t)iter : (size_t)rand() % MAX;
        size_t cut = n ? (size_t)rand() % (n + 1) : 0;
        uint32_t whole = crc32c_sw(0, data + off, n);
        assert_int_equal(crc32c_sw(crc32c_sw(0, data + off, cut), data + off + cut, n - cut), whole);
        assert_int_equal(crc32c(0, data + off, n), whole);
        if (hw) {
            assert_int_equal(crc32c_hw(0, data + off, n), whole);
            assert_int_equal(crc32c_hw(crc32c_hw(0, data + off, cut), data + off + cut, n - cut), whole);
        }
    }
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_sw),
        cmocka_unit_test(test_vectors_hw),
        cmocka_unit_test(test_table_matches_definition),
        cmocka_unit_test(test_paths_agree),
    };
    return cmocka_run_group_tests_name("crc32c", tests, NULL, NULL);
}
