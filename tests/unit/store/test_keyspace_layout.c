/* The entry layout of ks_entry.h: optional parts (expiry, fence, wide
 * version counter) present only when needed, and every transition
 * between them through SET, DEL and restore, with the expiry heap, the
 * fenced count and the debug checker consistent after each step. */
#include <stdio.h>
#include <stdlib.h>

#include "keyspace_tests.h"
#include "store/keyspace_impl.h"

#define NOW 1000000
#define WIDE_COUNTER (UINT64_C(1) << 40)

static void check(const keyspace *ks)
{
#ifndef NDEBUG
    assert_true(keyspace__check(ks));
#else
    (void)ks;
#endif
}

static const ks_entry *entry_of(const keyspace *ks, const char *key)
{
    ks_entry **link = kstable_find(&ks->table, (const uint8_t *)key, strlen(key));
    assert_non_null(link);
    return *link;
}

static keyspace_entry_view view_of(const keyspace *ks, const char *key)
{
    keyspace_entry_view v;
    assert_true(keyspace_get(ks, key, strlen(key), NOW, &v));
    return v;
}

static void assert_counts(const keyspace *ks, size_t keys, size_t fenced, size_t expiring)
{
    keyspace_stats st;
    keyspace_stats_get(ks, &st);
    assert_int_equal(st.keys, keys);
    assert_int_equal(st.fenced, fenced);
    assert_int_equal(st.expiring, expiring);
    check(ks);
}

/* The size class the layout is for: a 16-byte key and a 100-byte value
 * without optional parts fit glibc's 160-byte chunk (request + 8 bytes,
 * rounded up to 16), and the parts keep the header 8-aligned. */
static void test_sizes(void **state)
{
    (void)state;
    assert_true(offsetof(ks_entry, data) <= 36);
    assert_int_equal((ks_entry_alloc_size(0, 16, 100) + 8 + 15) / 16 * 16, 160);
    assert_int_equal(sizeof(ks_expiry) % 8, 0);
    assert_int_equal(sizeof(ks_fence) % 8, 0);
    assert_int_equal(sizeof(ks_wide) % 8, 0);
    assert_int_equal(ks_parts_size(KS_F_ALL), sizeof(ks_expiry) + sizeof(ks_fence) + sizeof(ks_wide));
    assert_int_equal(ks_parts_size(KS_F_PERSIST), 0);
    /* a plain SET gets no parts */
    keyspace *ks = keyspace_new(NULL);
    apply(ks, cmd_set("k", "v", ver(NOW, 1), NOW));
    assert_int_equal(entry_of(ks, "k")->flags, 0);
    keyspace_free(ks);
}

/* SET with PX, then without, then with again, with value lengths changing
 * on the way (realloc with and without an expiry part); other expiring
 * keys around it keep the heap non-trivial. */
static void test_deadline_transitions(void **state)
{
    (void)state;
    keyspace *ks = keyspace_new(NULL);
    char key[24];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "other%d", i);
        keyspace_cmd c = cmd_set(key, "v", ver(NOW, (uint64_t)i), NOW);
        c.deadline_ms = NOW + 1000 + (uint64_t)(i * 37 % 20);
        apply(ks, c);
    }
    assert_counts(ks, 20, 0, 20);

    keyspace_cmd c = cmd_set("k", "short", ver(NOW, 100), NOW);
    c.deadline_ms = NOW + 10;
    apply(ks, c);
    assert_int_equal(entry_of(ks, "k")->flags, KS_F_DEADLINE);
    assert_int_equal(view_of(ks, "k").deadline_ms, NOW + 10);
    assert_int_equal(keyspace_next_deadline(ks), NOW + 10);
    assert_counts(ks, 21, 0, 21);

    /* same parts, longer value: realloc, the heap follows the move */
    c = cmd_set("k", "a much longer value than before, to move the block", ver(NOW, 101), NOW);
    c.deadline_ms = NOW + 5;
    apply(ks, c);
    assert_int_equal(keyspace_next_deadline(ks), NOW + 5);
    assert_counts(ks, 21, 0, 21);

    /* no PX: the expiry part goes, and the heap forgets the entry */
    apply(ks, cmd_set("k", "plain", ver(NOW, 102), NOW));
    assert_int_equal(entry_of(ks, "k")->flags, 0);
    assert_int_equal(view_of(ks, "k").deadline_ms, 0);
    assert_int_equal(keyspace_next_deadline(ks), NOW + 1000);
    assert_counts(ks, 21, 0, 20);

    /* PX again, with a new length at the same time */
    c = cmd_set("k", "x", ver(NOW, 103), NOW);
    c.deadline_ms = NOW + 1;
    apply(ks, c);
    assert_int_equal(view_of(ks, "k").deadline_ms, NOW + 1);
    assert_counts(ks, 21, 0, 21);

    /* active expiry finds it first, with its current version */
    keyspace_entry_view v;
    assert_false(keyspace_get(ks, "k", 1, NOW + 1, &v));
    keyspace_cmd ex = {.op = KEYSPACE_EXPIRE, .now_ms = NOW + 1, .key = "k", .klen = 1, .version = ver(NOW, 103)};
    assert_int_equal(apply(ks, ex).count, 1);
    assert_counts(ks, 20, 0, 20);
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof key, "other%d", i);
        apply(ks, cmd_set(key, i % 2 ? "longer value" : "v", ver(NOW + 1, (uint64_t)i), NOW + 1));
    }
    assert_counts(ks, 20, 0, 0);
    assert_int_equal(keyspace_next_deadline(ks), 0);
    keyspace_free(ks);
}

/* A fence part appears with the first token and stays (max semantics)
 * across SETs that change the deadline and the value length; only a
 * DEL drops it. */
static void test_fence_transitions(void **state)
{
    (void)state;
    keyspace *ks = keyspace_new(NULL);
    apply(ks, cmd_set("k", "v", ver(NOW, 1), NOW));
    hlc ft = {7, 3, (const uint8_t *)"client-a", 8};
    keyspace_cmd c = cmd_set("k", "fenced", ver(NOW, 2), NOW);
    c.fence = &ft;
    assert_int_equal(apply(ks, c).status, KEYSPACE_APPLIED);
    assert_int_equal(entry_of(ks, "k")->flags, KS_F_FENCE);
    keyspace_entry_view v = view_of(ks, "k");
    assert_true(v.fenced);
    assert_hlc_eq(v.fence, ft);
    assert_counts(ks, 1, 1, 0);

    /* fence + PX + persist; a higher token from another node id */
    hlc ft2 = {8, 0, (const uint8_t *)"client-b", 8};
    c = cmd_set("k", "fenced and expiring", ver(NOW, 3), NOW);
    c.fence = &ft2;
    c.deadline_ms = NOW + 50;
    c.persist = true;
    apply(ks, c);
    assert_int_equal(entry_of(ks, "k")->flags, KS_F_FENCE | KS_F_DEADLINE | KS_F_PERSIST);
    v = view_of(ks, "k");
    assert_hlc_eq(v.fence, ft2);
    assert_true(v.persist);
    assert_int_equal(v.deadline_ms, NOW + 50);
    assert_counts(ks, 1, 1, 1);

    /* drop PX (new block, fence moves with it); a lower token is kept out */
    c = cmd_set("k", "f", ver(NOW, 4), NOW);
    c.fence = &ft2;
    apply(ks, c);
    c.fence = &ft;
    assert_int_equal(apply(ks, c).status, KEYSPACE_FENCING_LOWER);
    c.fence = NULL;
    assert_int_equal(apply(ks, c).status, KEYSPACE_FENCING_REQUIRED);
    assert_int_equal(entry_of(ks, "k")->flags, KS_F_FENCE);
    assert_hlc_eq(view_of(ks, "k").fence, ft2);
    assert_counts(ks, 1, 1, 0);

    /* DEL with the token, then a SET without: unfenced again */
    keyspace_cmd d = cmd_del("k", NOW);
    d.fence = &ft2;
    assert_int_equal(apply(ks, d).count, 1);
    assert_counts(ks, 0, 0, 0);
    apply(ks, cmd_set("k", "free", ver(NOW, 5), NOW));
    assert_int_equal(entry_of(ks, "k")->flags, 0);
    assert_false(view_of(ks, "k").fenced);
    assert_counts(ks, 1, 0, 0);
    keyspace_free(ks);
}

/* A version counter beyond 32 bits (only a record or snapshot from
 * elsewhere can carry one) round-trips exactly, and the part goes when
 * a later version fits again. */
static void test_wide_counter(void **state)
{
    (void)state;
    keyspace *ks = keyspace_new(NULL);
    keyspace_cmd c = cmd_set("k", "v", ver(NOW, WIDE_COUNTER + 5), NOW);
    c.deadline_ms = NOW + 9;
    apply(ks, c);
    assert_int_equal(entry_of(ks, "k")->flags, KS_F_WIDE | KS_F_DEADLINE);
    assert_hlc_eq(view_of(ks, "k").version, ver(NOW, WIDE_COUNTER + 5));
    assert_int_equal(keyspace_next_deadline(ks), NOW + 9);
    check(ks);
    /* EXPIRE compares the full counter: the low 32 bits alone do not match */
    keyspace_cmd ex = {.op = KEYSPACE_EXPIRE, .now_ms = NOW + 9, .key = "k", .klen = 1, .version = ver(NOW, 5)};
    assert_int_equal(apply(ks, ex).count, 0);
    apply(ks, cmd_set("k", "w", ver(NOW + 1, UINT32_MAX), NOW));
    assert_int_equal(entry_of(ks, "k")->flags, 0);
    assert_hlc_eq(view_of(ks, "k").version, ver(NOW + 1, UINT32_MAX));
    assert_counts(ks, 1, 0, 0);
    keyspace_free(ks);
}

typedef struct copy_ctx {
    keyspace *to;
    size_t n;
} copy_ctx;

static void copy_entry(void *ctx, const uint8_t *key, size_t klen, const keyspace_entry_view *v)
{
    copy_ctx *c = ctx;
    assert_true(keyspace_restore_entry(c->to, key, klen, v));
    c->n++;
}

static void assert_views_equal(keyspace_entry_view a, keyspace_entry_view b)
{
    assert_int_equal(a.vlen, b.vlen);
    assert_memory_equal(a.value, b.value, a.vlen);
    assert_hlc_eq(a.version, b.version);
    assert_int_equal(a.fenced, b.fenced);
    if (a.fenced) assert_hlc_eq(a.fence, b.fence);
    assert_true(a.deadline_ms == b.deadline_ms);
    assert_int_equal(a.persist, b.persist);
}

/* Every combination of parts, reached from every other by one SET, and
 * through keyspace_foreach + keyspace_restore_entry into a second
 * keyspace (the snapshot path) with identical views. */
static void test_all_combinations(void **state)
{
    (void)state;
    keyspace *ks = keyspace_new(NULL);
    hlc ft = {1, 1, (const uint8_t *)"fencer", 6};
    char key[32], value[64];
    unsigned parts[] = {KS_F_PERSIST, KS_F_DEADLINE, KS_F_FENCE, KS_F_WIDE};
    uint64_t counter = 1;
    for (unsigned from = 0; from < 16; from++) {
        for (unsigned to = 0; to < 16; to++) {
            /* a fence, once set, stays: skip fenced -> unfenced */
            bool from_fence = from & 4, to_fence = to & 4;
            if (from_fence && !to_fence) continue;
            snprintf(key, sizeof key, "k%u-%u", from, to);
            for (int step = 0; step < 2; step++) {
                unsigned f = step ? to : from;
                snprintf(value, sizeof value, "%.*s", (int)(5 + 3 * f + 7 * step),
                         "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnop");
                keyspace_cmd c = cmd_set(key, value, ver(NOW, (f & 8 ? WIDE_COUNTER : 0) + counter++), NOW);
                c.persist = f & 1;
                c.deadline_ms = f & 2 ? NOW + 1000 + counter : 0;
                c.fence = f & 4 ? &ft : NULL;
                assert_int_equal(apply(ks, c).status, KEYSPACE_APPLIED);
                unsigned want = 0;
                for (int b = 0; b < 4; b++)
                    if (f & (1u << b)) want |= parts[b];
                assert_int_equal(entry_of(ks, key)->flags, want);
                keyspace_entry_view v = view_of(ks, key);
                assert_int_equal(v.vlen, strlen(value));
                assert_true(v.version.counter == c.version.counter);
                assert_true(v.deadline_ms == c.deadline_ms);
                check(ks);
            }
        }
    }
    keyspace *copy = keyspace_new(NULL);
    copy_ctx cc = {copy, 0};
    keyspace_foreach(ks, copy_entry, &cc);
    keyspace_stats a, b;
    keyspace_stats_get(ks, &a);
    keyspace_stats_get(copy, &b);
    assert_int_equal(cc.n, a.keys);
    assert_int_equal(a.keys, b.keys);
    assert_int_equal(a.fenced, b.fenced);
    assert_int_equal(a.expiring, b.expiring);
    assert_int_equal(a.bytes, b.bytes);
    check(copy);
    for (unsigned from = 0; from < 16; from++) {
        for (unsigned to = 0; to < 16; to++) {
            if ((from & 4) && !(to & 4)) continue;
            snprintf(key, sizeof key, "k%u-%u", from, to);
            assert_views_equal(view_of(ks, key), view_of(copy, key));
            assert_int_equal(entry_of(ks, key)->flags, entry_of(copy, key)->flags);
        }
    }
    assert_int_equal(keyspace_next_deadline(ks), keyspace_next_deadline(copy));
    keyspace_free(copy);
    keyspace_free(ks);
}

#ifndef NDEBUG
/* The checker notices a broken part: a zero deadline in an expiry part,
 * a wide part whose counter fits 32 bits, a dangling node id. */
static void test_check_detects_bad_parts(void **state)
{
    (void)state;
    keyspace *ks = keyspace_new(NULL);
    keyspace_cmd c = cmd_set("k", "v", ver(NOW, WIDE_COUNTER), NOW);
    c.deadline_ms = NOW + 1;
    apply(ks, c);
    ks_entry *e = *kstable_find(&ks->table, (const uint8_t *)"k", 1);
    assert_true(keyspace__check(ks));
    ks_entry_expiry(e)->deadline_ms = 0;
    assert_false(keyspace__check(ks));
    ks_entry_expiry(e)->deadline_ms = NOW + 1;
    ks_entry_wide(e)->ver_counter = 5;
    assert_false(keyspace__check(ks));
    ks_entry_wide(e)->ver_counter = WIDE_COUNTER;
    e->ver_node += 1;
    assert_false(keyspace__check(ks));
    e->ver_node -= 1;
    assert_true(keyspace__check(ks));
    keyspace_free(ks);
}
#endif

int run_keyspace_layout_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_deadline_transitions),
        cmocka_unit_test(test_fence_transitions),
        cmocka_unit_test(test_wide_counter),
        cmocka_unit_test(test_all_combinations),
#ifndef NDEBUG
        cmocka_unit_test(test_check_detects_bad_parts),
#endif
    };
    return cmocka_run_group_tests_name("keyspace_layout", tests, NULL, NULL);
}
