/* Writes the seed corpus of fuzz_snapshot: snapshots of a few small
 * states (empty; keys with every optional field; de-duplication entries),
 * plus a truncated and a damaged copy.
 * Usage: make_snapshot_seeds CORPUS_DIR/snapshot (must exist). Files with
 * several keys differ from run to run (keys are written in hash table
 * order, and each process draws its own hash seed); any run's are fine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/record.h"
#include "store/service.h"
#include "store/snapshot.h"
#include "util/buf.h"

#define B(s) ((store_record_bytes){(const uint8_t *)(s), sizeof(s) - 1})
#define H(w, c, n) ((hlc){(w), (c), (const uint8_t *)(n), sizeof(n) - 1})

static const char *dir;

static void write_file(const char *name, const uint8_t *p, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static bool to_buf(void *ctx, const void *p, size_t n)
{
    buf_append(ctx, p, n);
    return true;
}

static store_service *svc(void)
{
    store_config c;
    store_config_default(&c);
    c.node_id = "StateStore";
    store_service *s = store_service_new(&c, NULL, NULL);
    if (!s) exit(1);
    return s;
}

static void snap(const char *name, const store_service *s, uint64_t index, buf *out)
{
    out->len = 0;
    if (!store_snapshot_write(s, index, to_buf, out)) exit(1);
    write_file(name, out->data, out->len);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR/snapshot\n", argv[0]);
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
         .payload_digest = 0x1122334455667788,
         .expiry_s = 10},
        {.type = STORE_REC_SET,
         .now_ms = 1696374425001,
         .key = B("lock"),
         .value = B("owner"),
         .version = H(1696374425001, 3, "StateStore"),
         .has_fence = true,
         .fence = H(1, 5, "owner"),
         .deadline_ms = 1696374435001,
         .persist = true,
         .client_id = B("c"),
         .payload_digest = 1,
         .expiry_s = 0},
        {.type = STORE_REC_SET,
         .now_ms = 1696374425002,
         .key = B("\x00\xff"),
         .value = B(""),
         .version = H(1696374425002, 0, "StateStore")},
        {.type = STORE_REC_DEL,
         .now_ms = 1696374425003,
         .key = B("absent"),
         .version = H(1696374425003, 0, "StateStore"),
         .client_id = B("client-2"),
         .correlation = B("x"),
         .payload_digest = 2,
         .expiry_s = 5},
    };
    buf b = {0};
    store_service *s = svc();
    snap("empty", s, 0, &b);
    store_service_apply(s, &recs[0], NULL);
    snap("one-key", s, 1, &b);
    for (size_t i = 1; i < sizeof recs / sizeof recs[0]; i++) store_service_apply(s, &recs[i], NULL);
    snap("all-fields", s, 4, &b);
    write_file("all-fields-torn", b.data, b.len - 7);
    b.data[b.len / 2] ^= 0x10;
    write_file("all-fields-flipped", b.data, b.len);
    buf_free(&b);
    store_service_free(s);
    return 0;
}
