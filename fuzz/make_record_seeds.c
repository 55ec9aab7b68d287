/* Writes the seed corpora for fuzz_record and fuzz_frame: one file per
 * sample record (every type, with and without the optional fields), and
 * log-file fragments framing those records (whole, torn, damaged).
 * Usage: make_record_seeds CORPUS_DIR (writes CORPUS_DIR/record/ and
 * CORPUS_DIR/frame/, which must exist). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "repl/frame.h"
#include "store/keyspace.h"
#include "store/record.h"

#define B(s) ((store_record_bytes){(const uint8_t *)(s), sizeof(s) - 1})
#define H(w, c, n) ((hlc){(w), (c), (const uint8_t *)(n), sizeof(n) - 1})

static const char *dir;

static void write_file(const char *sub, const char *name, const uint8_t *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    dir = argv[1];
    const store_record recs[] = {
        {.type = STORE_REC_SET,
         .now_ms = 1696374425000,
         .key = B("sensor/temp"),
         .value = B("21.5"),
         .version = H(1696374425000, 0, "StateStore"),
         .client_id = B("client-1"),
         .correlation = B("0123456789abcdef"),
         .payload_digest = 0x1122334455667788},
        {.type = STORE_REC_SET,
         .now_ms = 1,
         .key = B("lock"),
         .value = B("owner"),
         .cond = KEYSPACE_COND_NEX,
         .version = H(2, 2147483647, "StateStore"),
         .has_fence = true,
         .fence = H(1, 5, "owner"),
         .deadline_ms = 10001,
         .persist = true,
         .client_id = B("c"),
         .payload_digest = 1},
        {.type = STORE_REC_SET, .cond = KEYSPACE_COND_NX, .version = H(0, 0, "n")},
        {.type = STORE_REC_DEL,
         .now_ms = 5,
         .key = B("k"),
         .version = H(5, 1, "StateStore"),
         .has_fence = true,
         .fence = H(4, 0, "f"),
         .client_id = B("cli"),
         .correlation = B("c1"),
         .payload_digest = 9},
        {.type = STORE_REC_VDEL,
         .now_ms = 6,
         .key = B("k"),
         .value = B("v"),
         .version = H(6, 0, "StateStore"),
         .client_id = B("cli"),
         .correlation = B("c2"),
         .payload_digest = 10},
        {.type = STORE_REC_EXPIRE, .now_ms = 7, .key = B("k"), .version = H(5, 1, "StateStore")},
        {.type = STORE_REC_CLOCK, .now_ms = 8, .version = H(1696374426000, 0, "StateStore")},
    };
    static const char *names[] = {"set", "set-fenced-ttl", "set-empty", "del", "vdel", "expire", "clock"};
    buf all = {0};
    for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++) {
        buf b = {0};
        store_record_encode(&recs[i], &b);
        write_file("record", names[i], b.data, b.len);
        buf one = {0};
        repl_frame_append(&one, 1, b.data, b.len);
        write_file("frame", names[i], one.data, one.len);
        buf_append(&all, one.data, one.len);
        buf_free(&one);
        buf_free(&b);
    }
    write_file("frame", "log", all.data, all.len);
    write_file("frame", "log-torn", all.data, all.len - 3);
    all.data[all.len / 2] ^= 0x10;
    write_file("frame", "log-flipped", all.data, all.len);
    buf_free(&all);
    return 0;
}
