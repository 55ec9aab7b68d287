/* The request de-duplication table: hit, miss, expiry, eviction order,
 * byte bound, that client, correlation and payload digest are distinct
 * key parts, and that lookups never change the table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "store/dedup.h"
#include "store/dedup_impl.h"

static dedup_slice S(const char *s) { return (dedup_slice){s, strlen(s)}; }

static dedup_key K(const char *client, const char *topic, const char *corr)
{
    (void)topic; /* not part of the key */
    return (dedup_key){S(client), S(corr), 0};
}

static void assert_hit(dedup *c, dedup_key k, uint64_t now, const char *meta, const char *payload)
{
    dedup_slice m, p;
    assert_true(dedup_get(c, &k, now, &m, &p));
    assert_int_equal(m.len, strlen(meta));
    assert_memory_equal(m.data, meta, m.len);
    assert_int_equal(p.len, strlen(payload));
    assert_memory_equal(p.data, payload, p.len);
}

static void assert_miss(dedup *c, dedup_key k, uint64_t now)
{
    dedup_slice m, p;
    assert_false(dedup_get(c, &k, now, &m, &p));
}

static void test_hit_and_miss(void **state)
{
    (void)state;
    dedup *c = dedup_new(100, 1 << 20);
    assert_miss(c, K("c", "t", "1"), 0);
    dedup_key k1 = K("c", "t", "1");
    assert_true(dedup_put(c, &k1, S("m1"), S("+OK\r\n"), 0, 1000));
    assert_hit(c, K("c", "t", "1"), 999, "m1", "+OK\r\n");
    assert_hit(c, K("c", "t", "1"), 999, "m1", "+OK\r\n"); /* a hit does not consume */
    assert_miss(c, K("c", "t", "2"), 0);
    /* replacing keeps one entry */
    dedup_key k = K("c", "t", "1");
    assert_true(dedup_put(c, &k, S("m2"), S(":-1\r\n"), 10, 1000));
    assert_int_equal(dedup_count(c), 1);
    assert_hit(c, k, 10, "m2", ":-1\r\n");
    /* empty meta, payload and key parts are fine */
    dedup_key e = K("", "", "");
    assert_true(dedup_put(c, &e, S(""), S(""), 0, 5));
    assert_hit(c, e, 0, "", "");
    dedup_free(c);
}

/* A batching log applies a write long after its prefetch, other keys in
 * between: the hash the prefetch returned, handed back with dedup_hint,
 * finds (and replaces) the same entry as hashing again would. */
static void test_prefetch_hash_hint(void **state)
{
    (void)state;
    dedup *c = dedup_new(100, 1 << 20);
    dedup_key a = K("client-a", "t", "corr-1"), b = K("client-b", "t", "corr-2");
    uint64_t ha = dedup_prefetch(c, &a); /* empty table: still the hash */
    assert_int_equal(dedup_prefetch(c, &b) == ha, 0);
    assert_true(dedup_put(c, &b, S("mb"), S("+B\r\n"), 0, 1000));
    dedup_hint(c, &a, ha);
    assert_miss(c, a, 0);
    assert_true(dedup_put(c, &a, S("ma"), S("+A\r\n"), 0, 1000));
    assert_hit(c, b, 0, "mb", "+B\r\n");
    assert_int_equal(dedup_prefetch(c, &a), ha); /* the same key, the same hash */
    assert_hit(c, b, 0, "mb", "+B\r\n");
    dedup_hint(c, &a, ha);
    assert_hit(c, a, 0, "ma", "+A\r\n");
    dedup_hint(c, &a, ha);
    assert_true(dedup_put(c, &a, S("ma2"), S("+A2\r\n"), 0, 1000));
    assert_int_equal(dedup_count(c), 2); /* replaced, not added */
    assert_hit(c, K("client-a", "t", "corr-1"), 0, "ma2", "+A2\r\n");
    dedup_free(c);
}

static void test_key_parts_distinct(void **state)
{
    (void)state;
    dedup *c = dedup_new(100, 1 << 20);
    dedup_key k = K("ab", "c", "x");
    assert_true(dedup_put(c, &k, S("m"), S("p"), 0, 100));
    assert_miss(c, K("a", "bc", "x"), 0);          /* boundaries are part of the key */
    assert_miss(c, K("ab", "c", "y"), 0);          /* other correlation */
    assert_hit(c, K("ab", "d", "x"), 0, "m", "p"); /* the response topic is not part of the key */
    dedup_key other = K("ab", "c", "x");
    other.digest = 1;
    assert_miss(c, other, 0);             /* other payload */
    assert_miss(c, K("zz", "c", "x"), 0); /* other client */
    /* binary correlation data with NUL bytes */
    dedup_key b1 = {S("c"), {"\0\1", 2}, 0}, b2 = {S("c"), {"\0\2", 2}, 0};
    assert_true(dedup_put(c, &b1, S("one"), S("1"), 0, 100));
    assert_true(dedup_put(c, &b2, S("two"), S("2"), 0, 100));
    assert_hit(c, b1, 0, "one", "1");
    assert_hit(c, b2, 0, "two", "2");
    dedup_free(c);
}

static void test_expiry(void **state)
{
    (void)state;
    dedup *c = dedup_new(100, 1 << 20);
    dedup_key a = K("c", "t", "a"), b = K("c", "t", "b");
    assert_true(dedup_put(c, &a, S("m"), S("p"), 0, 100));
    assert_true(dedup_put(c, &b, S("m"), S("p"), 0, 500));
    assert_hit(c, a, 99, "m", "p");
    assert_miss(c, a, 100);              /* expires_at is exclusive */
    assert_int_equal(dedup_count(c), 2); /* lookups never remove (determinism) */
    /* expired entries at the old end are reclaimed by the next put */
    dedup_key d = K("c", "t", "d");
    assert_true(dedup_put(c, &d, S("m"), S("p"), 600, 700));
    assert_int_equal(dedup_count(c), 1); /* a and b reclaimed */
    assert_miss(c, b, 600);
    assert_hit(c, d, 600, "m", "p");
    /* an already expired entry is not stored */
    assert_false(dedup_put(c, &a, S("m"), S("p"), 700, 700));
    dedup_free(c);
}

static void test_eviction_order(void **state)
{
    (void)state;
    dedup *c = dedup_new(3, 1 << 20);
    const char *ids[] = {"1", "2", "3", "4", "5"};
    for (int i = 0; i < 3; i++) {
        dedup_key k = K("c", "t", ids[i]);
        assert_true(dedup_put(c, &k, S("m"), S(ids[i]), 0, 1000));
    }
    /* a lookup does not refresh: eviction is by insertion order */
    assert_hit(c, K("c", "t", "1"), 0, "m", "1");
    dedup_key k4 = K("c", "t", "4");
    assert_true(dedup_put(c, &k4, S("m"), S("4"), 0, 1000));
    assert_int_equal(dedup_count(c), 3);
    assert_miss(c, K("c", "t", "1"), 0);
    assert_hit(c, K("c", "t", "2"), 0, "m", "2");
    /* re-putting a key moves it to the young end */
    dedup_key k2 = K("c", "t", "2");
    assert_true(dedup_put(c, &k2, S("m"), S("2b"), 0, 1000));
    dedup_key k5 = K("c", "t", "5");
    assert_true(dedup_put(c, &k5, S("m"), S("5"), 0, 1000));
    assert_miss(c, K("c", "t", "3"), 0);
    assert_hit(c, K("c", "t", "2"), 0, "m", "2b");
    assert_hit(c, K("c", "t", "4"), 0, "m", "4");
    assert_hit(c, K("c", "t", "5"), 0, "m", "5");
    dedup_free(c);
}

static void test_byte_bound(void **state)
{
    (void)state;
    /* each entry: key 4+1 + 4+1 + 8 (digest) = 18, meta 1, payload 20, overhead */
    size_t cost = 18 + 1 + 20 + DEDUP_ENTRY_OVERHEAD;
    dedup *c = dedup_new(1000, 8 * cost + 7); /* room for 8 */
    char payload[21];
    memset(payload, 'v', 20);
    payload[20] = '\0';
    const char *ids[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    for (int i = 0; i < 10; i++) {
        dedup_key k = K("c", "t", ids[i]);
        assert_true(dedup_put(c, &k, S("m"), S(payload), 0, 1000));
        assert_true(dedup_bytes(c) <= 8 * cost + 7);
    }
    assert_int_equal(dedup_count(c), 8);
    assert_int_equal(dedup_bytes(c), 8 * cost);
    assert_miss(c, K("c", "t", "0"), 0);
    assert_miss(c, K("c", "t", "1"), 0);
    assert_hit(c, K("c", "t", "2"), 0, "m", payload);
    /* an entry above max_bytes / 8 is refused, and evicts nothing */
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    dedup_key kb = K("c", "t", "big");
    assert_false(dedup_put(c, &kb, S("m"), S(big), 0, 1000));
    assert_int_equal(dedup_count(c), 8);
    dedup_free(c);
}

/* Many inserts through a full cache: every put evicts the oldest, which
 * exercises slot removal (probe runs shifted back, wrapping at the end of
 * the slot array). Exactly the newest `max` keys must still be found. */
static void test_churn(void **state)
{
    (void)state;
    enum { MAX = 300, TOTAL = 5000 };
    dedup *c = dedup_new(MAX, 1 << 24);
    char id[16];
    for (int i = 0; i < TOTAL; i++) {
        snprintf(id, sizeof id, "%d", i);
        dedup_key k = K("client", "topic", id);
        assert_true(dedup_put(c, &k, S("m"), S(id), 0, 1000));
    }
    assert_int_equal(dedup_count(c), MAX);
    for (int i = 0; i < TOTAL; i++) {
        snprintf(id, sizeof id, "%d", i);
        if (i < TOTAL - MAX) assert_miss(c, K("client", "topic", id), 0);
        else assert_hit(c, K("client", "topic", id), 0, "m", id);
    }
    dedup_free(c);
}

/* Evicted entries' blocks are reused for later puts: payloads of mixed
 * sizes (growing, shrinking, equal) must come back intact, whichever
 * block they landed in. */
static void test_mixed_sizes_reuse(void **state)
{
    (void)state;
    enum { MAX = 4, TOTAL = 200 };
    static const size_t sizes[] = {10, 10, 300, 5, 0, 40, 40, 41, 1000, 12};
    enum { NSIZES = sizeof sizes / sizeof sizes[0] };
    dedup *c = dedup_new(MAX, 1 << 20);
    char id[16], payload[1001];
    for (int i = 0; i < TOTAL; i++) {
        snprintf(id, sizeof id, "%d", i);
        size_t n = sizes[i % NSIZES];
        memset(payload, 'a' + i % 26, n);
        payload[n] = '\0';
        dedup_key k = K("client", "topic", id);
        assert_true(dedup_put(c, &k, S(id), S(payload), 0, 1000));
        for (int j = i - MAX + 1 > 0 ? i - MAX + 1 : 0; j <= i; j++) {
            char jid[16], want[1001];
            snprintf(jid, sizeof jid, "%d", j);
            size_t m = sizes[j % NSIZES];
            memset(want, 'a' + j % 26, m);
            want[m] = '\0';
            assert_hit(c, K("client", "topic", jid), 0, jid, want);
        }
    }
    assert_int_equal(dedup_count(c), MAX);
    dedup_free(c);
}

#ifndef NDEBUG
/* The checker notices each kind of corruption, and the cache is whole
 * again once it is undone. */
static void test_check_detects_corruption(void **state)
{
    (void)state;
    dedup *c = dedup_new(100, 1 << 20);
    char corr[16];
    for (int i = 0; i < 20; i++) { /* enough to resize past MIN_SLOTS */
        snprintf(corr, sizeof corr, "%d", i);
        dedup_key k = K("c", "t", corr);
        assert_true(dedup_put(c, &k, S("m"), S("+OK\r\n"), 0, 1000));
    }
    assert_true(dedup__check(c));
    c->bytes++;
    assert_false(dedup__check(c));
    c->bytes--;
    c->count++;
    assert_false(dedup__check(c));
    c->count--;
    dd_entry *e = c->newest;
    e->cost++;
    assert_false(dedup__check_entry(c, e));
    assert_false(dedup__check(c));
    e->cost--;
    /* A slot's stored hash differing from its entry's. */
    size_t i = 0;
    while (!c->slots[i].e) i++;
    c->slots[i].hash ^= 1;
    assert_false(dedup__check(c));
    c->slots[i].hash ^= 1;
    /* A gap in a probe run: the first entry of a run (its home is its
     * slot, the slot before is empty) moved back into that empty slot,
     * where a lookup starting at its home never finds it. */
    size_t mask = c->nslots - 1, at = 0;
    while (!(c->slots[at].e && !c->slots[(at - 1) & mask].e)) at++;
    size_t before = (at - 1) & mask;
    dd_entry *moved = c->slots[at].e;
    c->slots[before] = c->slots[at];
    c->slots[at] = (dd_slot){0, NULL};
    assert_false(dedup__check_entry(c, moved));
    assert_false(dedup__check(c));
    c->slots[at] = c->slots[before];
    c->slots[before] = (dd_slot){0, NULL};
    assert_true(dedup__check(c));
    /* A broken back link in the insertion list. */
    dd_entry *prev = e->prev;
    e->prev = NULL;
    assert_false(dedup__check(c));
    e->prev = prev;
    assert_true(dedup__check(c));
    dedup_free(c);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_and_miss),
        cmocka_unit_test(test_key_parts_distinct),
        cmocka_unit_test(test_prefetch_hash_hint),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_eviction_order),
        cmocka_unit_test(test_byte_bound),
        cmocka_unit_test(test_churn),
        cmocka_unit_test(test_mixed_sizes_reuse),
#ifndef NDEBUG
        cmocka_unit_test(test_check_detects_corruption),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
