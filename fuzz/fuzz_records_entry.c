/* libFuzzer target: the decoders of the broker's records in the raft log
 * (src/server/cluster_records_entry.h): the entry (raft entry and
 * node-link frame payload) and the de-dup table's snapshot record.
 * Arbitrary bytes never make them read outside the input (ASan); an entry
 * that decodes walks to exactly its count of records and encodes back to
 * the same bytes; a table that decodes encodes back to the same bytes and
 * its rules hold (a batch applied is then a repeat). */
#include <string.h>

#include "fuzz_check.h"
#include "server/cluster_records_entry.h"

static void check_entry(const uint8_t *p, size_t n)
{
    records_entry e;
    if (records_entry_decode(p, n, &e)) return;
    buf again = {0};
    records_entry_begin(&again, e.origin, e.incarnation, e.first);
    records_iter it = records_iter_of(&e);
    uint8_t type;
    const uint8_t *r;
    size_t len;
    uint32_t k = 0;
    while (records_iter_next(&it, &type, &r, &len)) {
        CHECK(len >= 1 && r >= p && r + len <= p + n);
        records_entry_add(&again, type, r, len);
        k++;
    }
    CHECK(k == e.count && it.n == 0);
    CHECK(again.len == n && memcmp(again.data, p, n) == 0);
    buf_free(&again);
    records_dedup d = {0};
    records_verdict v = records_dedup_check(&d, &e);
    CHECK(v == (e.first == 1 ? RECORDS_APPLY : RECORDS_GAP));
    if (v == RECORDS_APPLY) {
        records_dedup_note(&d, &e);
        CHECK(records_dedup_check(&d, &e) == RECORDS_DUPLICATE);
    }
    records_dedup_free(&d);
}

static void check_table(const uint8_t *p, size_t n)
{
    records_dedup d = {0};
    if (records_dedup_decode(&d, p, n)) {
        CHECK(d.n == 0 && d.v == NULL);
        return;
    }
    buf again = {0};
    records_dedup_encode(&d, &again);
    CHECK(again.len == n && memcmp(again.data, p, n) == 0);
    for (uint32_t i = 0; i < d.n; i++) {
        records_entry e = {.origin = d.v[i].origin, .incarnation = d.v[i].incarnation, .first = 1, .count = 1};
        CHECK(records_dedup_check(&d, &e) == RECORDS_DUPLICATE);
        e.incarnation = d.v[i].incarnation - 1;
        if (e.incarnation) CHECK(records_dedup_check(&d, &e) == RECORDS_STALE);
    }
    buf_free(&again);
    records_dedup_free(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly `size` bytes, so reading one more is caught. */
    uint8_t *p = malloc(size ? size : 1);
    CHECK(p);
    if (size) memcpy(p, data, size);
    check_entry(p, size);
    check_table(p, size);
    free(p);
    return 0;
}
