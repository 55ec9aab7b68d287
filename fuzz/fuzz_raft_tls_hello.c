/* libFuzzer target: the handshake of raft's TLS transport
 * (src/cluster/raft_tls_hello.h). Arbitrary bytes never make the decoders
 * read outside the input (ASan); a HELLO that decodes lies within the
 * input, its address is printable ASCII of the length it said, every
 * shorter prefix of it decodes as NEED_MORE, and (a name without NUL) it
 * encodes back to the same bytes. */
#include <string.h>

#include "cluster/raft_tls_hello.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly `size` bytes, so reading one more is caught. */
    uint8_t *p = malloc(size ? size : 1);
    CHECK(p);
    if (size) memcpy(p, data, size);
    int r = raft_tls_reply_decode(p, size);
    CHECK(r == -1 || (size >= RAFT_TLS_REPLY_LEN && r == p[1]));
    raft_tls_hello h;
    size_t used = 0;
    raft_tls_hello_status s = raft_tls_hello_decode(p, size, &h, &used);
    CHECK(s == RAFT_TLS_HELLO_OK || s == RAFT_TLS_HELLO_NEED_MORE || s == RAFT_TLS_HELLO_VERSION ||
          s == RAFT_TLS_HELLO_BAD);
    CHECK((s == RAFT_TLS_HELLO_VERSION) == (size > 0 && p[0] != RAFT_TLS_VERSION));
    if (s == RAFT_TLS_HELLO_OK) {
        size_t alen = strlen(h.address);
        CHECK(used <= size && used <= RAFT_TLS_HELLO_MAX && used == 19 + h.name_len + alen);
        CHECK(h.from && h.to && h.name_len && alen && alen <= RAFT_TLS_ADDR_MAX);
        CHECK(h.name == p + 18);
        for (size_t i = 0; i < alen; i++) CHECK(h.address[i] > 0x20 && h.address[i] < 0x7f);
        raft_tls_hello h2;
        size_t u2;
        for (size_t cut = 0; cut < used; cut += 1 + cut / 4)
            CHECK(raft_tls_hello_decode(p, cut, &h2, &u2) == RAFT_TLS_HELLO_NEED_MORE);
        if (!memchr(h.name, 0, h.name_len)) {
            char name[RAFT_TLS_NAME_MAX + 1];
            memcpy(name, h.name, h.name_len);
            name[h.name_len] = '\0';
            buf again = {0};
            CHECK(raft_tls_hello_append(&again, h.from, h.to, name, h.address));
            CHECK(again.len == used && memcmp(again.data, p, used) == 0);
            buf_free(&again);
        }
    }
    free(p);
    return 0;
}
