/* libFuzzer target: the snapshot loader (src/store/snapshot.h). Any
 * input loads into a fresh service or is refused with an "offset N: ..."
 * message, never crashes, and the service is freed either way (its debug
 * checkers then walk the keyspace and de-duplication table). A snapshot
 * that loads is written again and loads again, with the same index. */
#include <string.h>

#include "fuzz_check.h"
#include "store/service.h"
#include "store/snapshot.h"
#include "util/buf.h"

static store_service *fresh(void)
{
    store_config c;
    store_config_default(&c);
    c.node_id = "fuzz";
    store_service *s = store_service_new(&c, NULL, NULL);
    CHECK(s != NULL);
    return s;
}

static bool to_buf(void *ctx, const void *p, size_t n)
{
    CHECK(n <= STORE_SNAPSHOT_CHUNK);
    buf_append(ctx, p, n);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    store_service *s = fresh();
    char err[200];
    uint64_t idx = 0;
    if (!store_snapshot_load(s, data, size, &idx, err, sizeof err)) {
        CHECK(strncmp(err, "offset ", 7) == 0);
        store_service_free(s);
        return 0;
    }
    buf out = {0};
    CHECK(store_snapshot_write(s, idx, to_buf, &out));
    store_service *t = fresh();
    uint64_t idx2 = 0;
    CHECK(store_snapshot_load(t, out.data, out.len, &idx2, err, sizeof err));
    CHECK(idx2 == idx);
    buf_free(&out);
    store_service_free(t);
    store_service_free(s);
    return 0;
}
