/* Snapshot write and load speed (store/snapshot.c): N keys (default
 * 1,000,000) of 16-byte keys and 100-byte values, written into a memory
 * sink and loaded into a fresh service. Usage: bench_snapshot [N].
 * Build with -DCMAKE_BUILD_TYPE=Release for meaningful numbers. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/record.h"
#include "store/service.h"
#include "store/snapshot.h"
#include "util/buf.h"

static uint64_t clock_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static bool to_buf(void *ctx, const void *p, size_t n)
{
    buf_append(ctx, p, n);
    return true;
}

static bool discard(void *ctx, const void *p, size_t n)
{
    (void)p;
    *(size_t *)ctx += n;
    return true;
}

static store_service *svc(void)
{
    store_config c;
    store_config_default(&c);
    c.node_id = "bench";
    store_service *s = store_service_new(&c, NULL, NULL);
    if (!s) exit(1);
    return s;
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    store_service *s = svc();
    char key[32], val[100];
    memset(val, 'v', sizeof val);
    for (uint64_t i = 0; i < n; i++) {
        snprintf(key, sizeof key, "k%015" PRIu64, i % 1000000000000000u);
        store_record r = {.type = STORE_REC_SET,
                          .now_ms = 1700000000000 + i,
                          .key = {(const uint8_t *)key, 16},
                          .value = {(const uint8_t *)val, sizeof val},
                          .version = {1700000000000 + i, 0, (const uint8_t *)"bench", 5},
                          .client_id = {(const uint8_t *)"c", 1},
                          .payload_digest = i,
                          .expiry_s = 10};
        store_service_apply(s, &r, NULL);
    }
    buf out = {0};
    buf_reserve(&out, (size_t)n * 160 + (64u << 20));
    size_t discarded = 0;
    uint64_t td = clock_now_ns();
    if (!store_snapshot_write(s, n, discard, &discarded)) return 1;
    uint64_t t0 = clock_now_ns();
    if (!store_snapshot_write(s, n, to_buf, &out)) return 1;
    uint64_t t1 = clock_now_ns();
    store_service *t = svc();
    char err[200];
    uint64_t idx;
    if (!store_snapshot_load(t, out.data, out.len, &idx, err, sizeof err)) {
        fprintf(stderr, "load: %s\n", err);
        return 1;
    }
    uint64_t t2 = clock_now_ns();
    double ds = (double)(t0 - td) / 1e9, ws = (double)(t1 - t0) / 1e9, ls = (double)(t2 - t1) / 1e9;
    size_t dd_n, dd_b;
    store_service_dedup_stats(s, &dd_n, &dd_b);
    printf("keys %" PRIu64 " (+%zu de-duplication entries), snapshot %.1f MB\n", n, dd_n, (double)out.len / 1e6);
    printf("write, discarding sink: %.3f s, %.0f keys/s, %.0f MB/s\n", ds, (double)n / ds,
           (double)discarded / 1e6 / ds);
    printf("write, copying sink: %.3f s, %.0f keys/s, %.0f MB/s\n", ws, (double)n / ws, (double)out.len / 1e6 / ws);
    printf("load: %.3f s, %.0f keys/s, %.0f MB/s\n", ls, (double)n / ls, (double)out.len / 1e6 / ls);
    buf_free(&out);
    store_service_free(t);
    store_service_free(s);
    return 0;
}
