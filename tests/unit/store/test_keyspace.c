/* Keyspace commands: SET/GET/DEL/VDEL, conditions, fencing (§5), quota
 * (§6.7), expiry (§6.6), change events and table churn. */
#include <stdio.h>
#include <stdlib.h>

#include "keyspace_tests.h"
#include "store/keyspace_impl.h"

#define NOW 1000000

static void assert_get(keyspace *ks, const char *key, uint64_t now, const char *value, hlc version)
{
    keyspace_entry_view v;
    assert_true(keyspace_get(ks, key, strlen(key), now, &v));
    assert_int_equal(v.vlen, strlen(value));
    assert_memory_equal(v.value, value, v.vlen);
    assert_hlc_eq(v.version, version);
}

static void assert_miss(keyspace *ks, const char *key, uint64_t now)
{
    keyspace_entry_view v;
    assert_false(keyspace_get(ks, key, strlen(key), now, &v));
}

static void test_set_get_del(void **state)
{
    (void)state;
    keyspace *ks = keyspace_new(NULL);
    assert_miss(ks, "k", NOW);
    keyspace_result r = apply(ks, cmd_set("k", "v1", ver(NOW, 1), NOW));
    assert_int_equal(r.status, KEYSPACE_APPLIED);
    assert_true(r.has_version);
    assert_hlc_eq(r.version, ver(NOW, 1));
    assert_get(ks, "k", NOW, "v1", ver(NOW, 1));
    /* overwrite with a longer and then a shorter value */
    apply(ks, cmd_set("k", "a much longer value than before", ver(NOW, 2), NOW));
    assert_get(ks, "k", NOW, "a much longer value than before", ver(NOW, 2));
    apply(ks, cmd_set("k", "", ver(NOW, 3), NOW));
    assert_get(ks, "k", NOW, "", ver(NOW, 3)); /* empty value is legal */

    r = apply(ks, cmd_del("k", NOW));
    assert_int_equal(r.status, KEYSPACE_APPLIED);
    assert_int_equal(r.count, 1);
    assert_true(r.has_version);
    assert_hlc_eq(r.version, ver(NOW, 3)); /* version of the removed entry */
    assert_miss(ks, "k", NOW);
    r = apply(ks, cmd_del("k", NOW));
    assert_int_equal(r.status, KEYSPACE_APPLIED);
    assert_int_equal(r.count, 0);
    assert_false(r.has_version);
    assert_int_equal(r.nevents, 0);
    keyspace_free(ks);
}

static void test_conditions(void **state)
{
    (void)state;
    keyspace *ks = keyspace_new(NULL);
    keyspace_cmd c = cmd_set("lock", "me", ver(NOW, 1), NOW);
    c.cond = KEYSPACE_COND_NX;
    assert_int_equal(apply(ks, c).status, KEYSPACE_APPLIED);
    c = cmd_set("lock", "other", ver(NOW, 2), NOW);
    c.cond = KEYSPACE_COND_NX;
    keyspace_result r = apply(ks, c);
    assert_int_equal(r.status, KEYSPACE_NOT_APPLIED);
    assert_true(r.has_version);
    assert_hlc_eq(r.version, ver(NOW, 1)); /* current version for __ts */
    assert_int_equal(r.nevents, 0);

    c.cond = KEYSPACE_COND_NEX; /* value differs */
    r = apply(ks, c);
    assert_int_equal(r.status, KEYSPACE_NOT_APPLIED);
    assert_hlc_eq(r.version, ver(NOW, 1));
    c = cmd_set("lock", "me", ver(NOW, 3), NOW); /* renewal: same value */
    c.cond = KEYSPACE_COND_NEX;
    r = apply(ks, c);
    assert_int_equal(r.status, KEYSPACE_APPLIED);
    assert_int_equal(r.nevents, 1); /* renewals notify too */
    c = cmd_set("fresh", "x", ver(NOW, 4), NOW);
    c.cond = KEYSPACE_COND_NEX; /* absent key */
    assert_int_equal(apply(ks, c).status, KEYSPACE_APPLIED);
    assert_get(ks, "lock", NOW, "me", ver(NOW, 3));

    /* VDEL: mismatch -> :-1 with nothing changed; absent -> 0; match -> 1 */
    r = apply(ks, cmd_vdel("lock", "you", NOW));
    assert_int_equal(r.status, KEYSPACE_NOT_APPLIED);
    assert_int_equal(r.count, 0);
    assert_int_equal(r.nevents, 0);
    assert_get(ks, "lock", NOW, "me", ver(NOW, 3));
    r = apply(ks, cmd_vdel("nope", "me", NOW));
    assert_int_equal(r.status, KEYSPACE_APPLIED);
    assert_int_equal(r.count, 0);
    r = apply(ks, cmd_vdel("lock", "me", NOW));
    assert_int_equal(r.status, KEYSPACE_APPLIED);
    assert_int_equal(r.count, 1);
    assert_hlc_eq(r.version, ver(NOW, 3));
    assert_miss(ks, "lock", NOW);
    /* VDEL compares the whole value: a prefix is not equal */
    apply(ks, cmd_set("p", "abc", ver(NOW, 5), NOW));
    assert_int_equal(apply(ks, cmd_vdel("p", "ab", NOW)).status, KEYSPACE_NOT_APPLIED);
    keyspace_free(ks);
}

static keyspace_cmd with_fence(keyspace_cmd c, const hlc *ft)
{
    c.fence = ft;
    return c;
}

static void test_fencing(void **state)
{
    (void)state;
    keyspace *ks = keyspace_new(NULL);
    hlc t1 = ver(100, 1), t2 = ver(200, 0), t0 = ver(50, 9);
    hlc client_tok = (hlc){150, 0, (const uint8_t *)"9c1e-client", 11};

    /* step 4: absent key accepts any token; unfenced key stays unfenced without one */
    apply(ks, cmd_set("plain", "v", ver(NOW, 1), NOW));
    assert_int_equal(apply(ks, cmd_set("plain", "w", ver(NOW, 2), NOW)).status, KEYSPACE_APPLIED);
    assert_int_equal(apply(ks, with_fence(cmd_set("k", "v", ver(NOW, 3), NOW), &t1)).status, KEYSPACE_APPLIED);
    keyspace_entry_view v;
    assert_true(keyspace_get(ks, "k", 1, NOW, &v));
    assert_true(v.fenced);
    assert_hlc_eq(v.fence, t1);

    /* step 3 */
    keyspace_result r = apply(ks, cmd_set("k", "x", ver(NOW, 4), NOW));
    assert_int_equal(r.status, KEYSPACE_FENCING_REQUIRED);
    assert_int_equal(r.nevents, 0);
    r = apply(ks, with_fence(cmd_set("k", "x", ver(NOW, 4), NOW), &t0));
    assert_int_equal(r.status, KEYSPACE_FENCING_LOWER);
    assert_int_equal(apply(ks, cmd_del("k", NOW)).status, KEYSPACE_FENCING_REQUIRED);
    assert_int_equal(apply(ks, with_fence(cmd_del("k", NOW), &t0)).status, KEYSPACE_FENCING_LOWER);
    assert_int_equal(apply(ks, cmd_vdel("k", "v", NOW)).status, KEYSPACE_FENCING_REQUIRED);
    assert_get(ks, "k", NOW, "v", ver(NOW, 3));

    /* equal token passes; a higher one is stored (max rule) */
    assert_int_equal(apply(ks, with_fence(cmd_set("k", "x", ver(NOW, 5), NOW), &t1)).status, KEYSPACE_APPLIED);
    assert_int_equal(apply(ks, with_fence(cmd_set("k", "y", ver(NOW, 6), NOW), &t2)).status, KEYSPACE_APPLIED);
    assert_true(keyspace_get(ks, "k", 1, NOW, &v));
    assert_hlc_eq(v.fence, t2);
    assert_int_equal(apply(ks, with_fence(cmd_set("k", "z", ver(NOW, 7), NOW), &t1)).status, KEYSPACE_FENCING_LOWER);
    /* a token from another node id compares by wall first */
    assert_int_equal(apply(ks, with_fence(cmd_set("k", "z", ver(NOW, 7), NOW), &client_tok)).status,
                     KEYSPACE_FENCING_LOWER);

    /* §5.3 order: fencing before condition */
    r = apply(ks, with_fence(cmd_vdel("k", "wrong", NOW), &t2)); /* right token, wrong value */
    assert_int_equal(r.status, KEYSPACE_NOT_APPLIED);
    r = apply(ks, cmd_vdel("k", "wrong", NOW)); /* no token: required although value is wrong */
    assert_int_equal(r.status, KEYSPACE_FENCING_REQUIRED);
    keyspace_cmd nx = cmd_set("k", "n", ver(NOW, 8), NOW);
    nx.cond = KEYSPACE_COND_NX;
    assert_int_equal(apply(ks, nx).status, KEYSPACE_FENCING_REQUIRED);
    nx.fence = &t2;
    assert_int_equal(apply(ks, nx).status, KEYSPACE_NOT_APPLIED);

    /* step 6: the token disappears with the entry */
    r = apply(ks, with_fence(cmd_del("k", NOW), &t2));
    assert_int_equal(r.count, 1);
    assert_int_equal(apply(ks, cmd_set("k", "free", ver(NOW, 9), NOW)).status, KEYSPACE_APPLIED);
    assert_true(keyspace_get(ks, "k", 1, NOW, &v));
    assert_false(v.fenced);
    keyspace_stats st;
    keyspace_stats_get(ks, &st);
    assert_int_equal(st.fenced, 0);

    /* a freshly created client token can be the first one (Rust test) */
    assert_int_equal(apply(ks, with_fence(cmd_set("c", "v", ver(NOW, 10), NOW), &client_tok)).status, KEYSPACE_APPLIED);
    assert_true(keyspace_get(ks, "c", 1, NOW, &v));
    assert_hlc_eq(v.fence, client_tok);
    keyspace_free(ks);
}

/* §5.4 worked example. */
static void test_fencing_worked_example(void **state)
{
    (void)state;
    keyspace *ks = keyspace_new(NULL);
    keyspace_cmd lock = cmd_set("LockName", "Client1", ver(1696374425000, 1), 1696374425000);
    lock.cond = KEYSPACE_COND_NEX;
    lock.deadline_ms = 1696374425000 + 10000;
    keyspace_result r = apply(ks, lock);
    assert_int_equal(r.status, KEYSPACE_APPLIED);
    hlc token = r.version; /* the lock's version = the fencing token */
    char nodebuf[16];
    memcpy(nodebuf, token.node, token.node_len); /* keep beyond the next apply */
    token.node = (const uint8_t *)nodebuf;

    keyspace_cmd w = cmd_set("ProtectedKey", "v", ver(1696374425001, 1), 1696374425001);
    w.fence = &token;
    assert_int_equal(apply(ks, w).status, KEYSPACE_APPLIED);

    hlc stale = ver(1696374424000, 3);
    keyspace_cmd c2 = cmd_set("ProtectedKey", "client2", ver(1696374425002, 1), 1696374425002);
    c2.fence = &stale;
    assert_int_equal(apply(ks, c2).status, KEYSPACE_FENCING_LOWER);
    c2.fence = NULL;
    assert_int_equal(apply(ks, c2).status, KEYSPACE_FENCING_REQUIRED);
    assert_get(ks, "ProtectedKey", 1696374425002, "v", ver(1696374425001, 1));
    keyspace_free(ks);
}

static void test_quota(void **state)
{
    (void)state;
    keyspace_limits lim = {.max_keys = 2, .max_bytes = 2 * (KEYSPACE_ENTRY_OVERHEAD + 11), .max_key_len = 8};
    keyspace *ks = keyspace_new(&lim);
    assert_int_equal(apply(ks, cmd_set("k1", "123456789", ver(NOW, 1), NOW)).status, KEYSPACE_APPLIED);
    assert_int_equal(apply(ks, cmd_set("key-too-long", "v", ver(NOW, 2), NOW)).status, KEYSPACE_KEY_TOO_LONG);
    assert_int_equal(apply(ks, cmd_set("k2", "12345", ver(NOW, 3), NOW)).status, KEYSPACE_APPLIED);
    keyspace_stats st;
    keyspace_stats_get(ks, &st);
    assert_int_equal(st.keys, 2);
    assert_int_equal(st.bytes, 2 * KEYSPACE_ENTRY_OVERHEAD + 2 + 9 + 2 + 5);
    /* a new key over max_keys */
    keyspace_result r = apply(ks, cmd_set("k3", "", ver(NOW, 4), NOW));
    assert_int_equal(r.status, KEYSPACE_QUOTA_EXCEEDED);
    assert_int_equal(r.nevents, 0);
    assert_miss(ks, "k3", NOW);
    /* growing an overwrite past max_bytes fails; up to the limit succeeds */
    assert_int_equal(apply(ks, cmd_set("k2", "12345678901", ver(NOW, 5), NOW)).status, KEYSPACE_QUOTA_EXCEEDED);
    assert_int_equal(apply(ks, cmd_set("k2", "123456789", ver(NOW, 5), NOW)).status, KEYSPACE_APPLIED);
    keyspace_stats_get(ks, &st);
    assert_int_equal(st.bytes, lim.max_bytes);
    /* shrinking and same-size overwrites never fail; DEL always works */
    assert_int_equal(apply(ks, cmd_set("k2", "1", ver(NOW, 6), NOW)).status, KEYSPACE_APPLIED);
    assert_int_equal(apply(ks, cmd_del("k1", NOW)).count, 1);
    assert_int_equal(apply(ks, cmd_set("k3", "x", ver(NOW, 7), NOW)).status, KEYSPACE_APPLIED);
    /* condition is checked before quota: NX on an existing key is :-1 */
    keyspace_cmd nx = cmd_set("k4", "x", ver(NOW, 8), NOW);
    nx.cond = KEYSPACE_COND_NX;
    assert_int_equal(apply(ks, nx).status, KEYSPACE_QUOTA_EXCEEDED);
    nx.key = "k3";
    assert_int_equal(apply(ks, nx).status, KEYSPACE_NOT_APPLIED);
    keyspace_free(ks);
}

static void test_lazy_expiry(void **state)
{
    (void)state;
    keyspace *ks = keyspace_new(NULL);
    keyspace_cmd c = cmd_set("lease", "holder", ver(NOW, 1), NOW);
    c.deadline_ms = NOW + 3000;
    apply(ks, c);
    assert_get(ks, "lease", NOW + 2999, "holder", ver(NOW, 1));
    assert_miss(ks, "lease", NOW + 3000); /* exactly at the deadline: gone */
    keyspace_stats st;
    keyspace_stats_get(ks, &st);
    assert_int_equal(st.keys, 1); /* reads never remove */

    /* DEL one ms before the deadline finds it... */
    keyspace_result r = apply(ks, cmd_del("lease", NOW + 2999));
    assert_int_equal(r.count, 1);
    /* ...and a write at the deadline sees an absent key and reports the expiry */
    apply(ks, c);
    keyspace_cmd nx = cmd_set("lease", "next", ver(NOW + 3000, 0), NOW + 3000);
    nx.cond = KEYSPACE_COND_NX;
    r = apply(ks, nx);
    assert_int_equal(r.status, KEYSPACE_APPLIED);
    assert_int_equal(r.nevents, 2);
    assert_int_equal(r.events[0].type, KEYSPACE_EVENT_DELETE);
    assert_hlc_eq(r.events[0].version, ver(NOW, 1));
    assert_int_equal(r.events[1].type, KEYSPACE_EVENT_SET);
    assert_memory_equal(r.events[1].value, "next", 4);
    assert_int_equal(keyspace_next_deadline(ks), 0); /* SET without PX clears expiry */

    /* expired fenced key: token no longer applies, DEL of it counts 0 */
    hlc ft = ver(5, 5);
    c = cmd_set("f", "v", ver(NOW, 2), NOW);
    c.fence = &ft;
    c.deadline_ms = NOW + 10;
    apply(ks, c);
    r = apply(ks, cmd_del("f", NOW + 10));
    assert_int_equal(r.status, KEYSPACE_APPLIED);
    assert_int_equal(r.count, 0);
    assert_int_equal(r.nevents, 1); /* the expiry DELETE */
    assert_int_equal(r.events[0].type, KEYSPACE_EVENT_DELETE);
    /* a renewal extends: re-SET moves the deadline */
    c = cmd_set("r", "v", ver(NOW, 3), NOW);
    c.deadline_ms = NOW + 100;
    apply(ks, c);
    c.version = ver(NOW + 50, 0);
    c.now_ms = NOW + 50;
    c.deadline_ms = NOW + 150;
    apply(ks, c);
    assert_get(ks, "r", NOW + 120, "v", ver(NOW + 50, 0));
    assert_int_equal(keyspace_next_deadline(ks), NOW + 150);
    keyspace_free(ks);
}

typedef struct due_list {
    char keys[16][16];
    hlc vers[16];
    size_t n;
} due_list;

static void due_collect(void *ctx, const uint8_t *key, size_t klen, const hlc *version)
{
    due_list *d = ctx;
    memcpy(d->keys[d->n], key, klen);
    d->keys[d->n][klen] = 0;
    d->vers[d->n] = *version; /* node is "StateStore": static test string */
    d->n++;
}

static void test_active_expiry(void **state)
{
    (void)state;
    keyspace *ks = keyspace_new(NULL);
    const uint64_t deadlines[] = {500, 100, 400, 300, 200, 700, 600};
    char key[8];
    for (int i = 0; i < 7; i++) {
        snprintf(key, sizeof key, "d%d", (int)deadlines[i]);
        keyspace_cmd c = cmd_set(key, "v", ver(10, (uint64_t)i), 10);
        c.deadline_ms = deadlines[i];
        apply(ks, c);
    }
    apply(ks, cmd_set("forever", "v", ver(10, 9), 10));
    assert_int_equal(keyspace_next_deadline(ks), 100);
    due_list d = {0};
    assert_int_equal(keyspace_collect_due(ks, 99, 10, due_collect, &d), 0);
    assert_int_equal(keyspace_collect_due(ks, 500, 3, due_collect, &d), 3);
    assert_string_equal(d.keys[0], "d100"); /* earliest first */
    assert_string_equal(d.keys[1], "d200");
    assert_string_equal(d.keys[2], "d300");
    d.n = 0;
    assert_int_equal(keyspace_collect_due(ks, 500, 10, due_collect, &d), 5);
    assert_string_equal(d.keys[4], "d500");

    /* d300 is re-SET (new version, later deadline) before its EXPIRE applies */
    keyspace_cmd re = cmd_set("d300", "new", ver(400, 0), 400);
    re.deadline_ms = 10000;
    apply(ks, re);
    for (size_t i = 0; i < d.n; i++) {
        keyspace_cmd e = {
            .op = KEYSPACE_EXPIRE, .now_ms = 500, .key = d.keys[i], .klen = strlen(d.keys[i]), .version = d.vers[i]};
        keyspace_result r = apply(ks, e);
        assert_int_equal(r.status, KEYSPACE_APPLIED);
        if (strcmp(d.keys[i], "d300") == 0) {
            assert_int_equal(r.count, 0);
            assert_int_equal(r.nevents, 0);
        } else {
            assert_int_equal(r.count, 1);
            assert_int_equal(r.nevents, 1);
            assert_int_equal(r.events[0].type, KEYSPACE_EVENT_DELETE);
            assert_memory_equal(r.events[0].key, d.keys[i], strlen(d.keys[i]));
            assert_hlc_eq(r.events[0].version, d.vers[i]);
        }
    }
    assert_get(ks, "d300", 500, "new", ver(400, 0));
    keyspace_stats st;
    keyspace_stats_get(ks, &st);
    assert_int_equal(st.keys, 4); /* d300, d600, d700, forever */
    assert_int_equal(st.expiring, 3);
    assert_int_equal(keyspace_next_deadline(ks), 600);
    /* an EXPIRE decided too early (not due at its now_ms) does nothing */
    keyspace_cmd early = {.op = KEYSPACE_EXPIRE, .now_ms = 599, .key = "d600", .klen = 4, .version = ver(10, 6)};
    assert_int_equal(apply(ks, early).count, 0);
    early.now_ms = 600;
    assert_int_equal(apply(ks, early).count, 1);
    keyspace_free(ks);
}

/* Two keyspaces fed the same records end identical (replica determinism). */
static void test_replay_determinism(void **state)
{
    (void)state;
    keyspace *a = keyspace_new(NULL), *b = keyspace_new(NULL);
    srand(7);
    char key[16], val[16];
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%d", rand() % 300);
        snprintf(val, sizeof val, "v%d", rand() % 3);
        keyspace_cmd c;
        int op = rand() % 4;
        uint64_t now = 1000 + (uint64_t)i;
        if (op == 0) c = cmd_del(key, now);
        else if (op == 1) c = cmd_vdel(key, val, now);
        else {
            c = cmd_set(key, val, ver(now, 0), now);
            c.cond = (keyspace_cond)(rand() % 3);
            c.deadline_ms = rand() % 2 ? now + (uint64_t)(rand() % 50) + 1 : 0;
        }
        keyspace_result ra, rb;
        keyspace_apply(a, &c, &ra);
        keyspace_apply(b, &c, &rb);
        assert_int_equal(ra.status, rb.status);
        assert_int_equal(ra.count, rb.count);
        assert_int_equal(ra.nevents, rb.nevents);
    }
    keyspace_stats sa, sb;
    keyspace_stats_get(a, &sa);
    keyspace_stats_get(b, &sb);
    assert_int_equal(sa.keys, sb.keys);
    assert_int_equal(sa.bytes, sb.bytes);
    assert_int_equal(sa.expiring, sb.expiring);
    for (int i = 0; i < 300; i++) {
        snprintf(key, sizeof key, "k%d", i);
        keyspace_entry_view va, vb;
        bool ha = keyspace_get(a, key, strlen(key), 7000, &va), hb = keyspace_get(b, key, strlen(key), 7000, &vb);
        assert_int_equal(ha, hb);
        if (ha) {
            assert_hlc_eq(va.version, vb.version);
            assert_int_equal(va.vlen, vb.vlen);
            assert_memory_equal(va.value, vb.value, va.vlen);
        }
    }
    keyspace_free(a);
    keyspace_free(b);
}

static void test_events_order(void **state)
{
    (void)state;
    keyspace *ks = keyspace_new(NULL);
    keyspace_result r = apply(ks, cmd_set("k", "v2", ver(1, 0), 1));
    assert_int_equal(r.nevents, 1);
    assert_int_equal(r.events[0].type, KEYSPACE_EVENT_SET);
    assert_int_equal(r.events[0].klen, 1);
    assert_memory_equal(r.events[0].key, "k", 1);
    assert_int_equal(r.events[0].vlen, 2);
    assert_memory_equal(r.events[0].value, "v2", 2);
    assert_hlc_eq(r.events[0].version, ver(1, 0));
    r = apply(ks, cmd_del("k", 2));
    assert_int_equal(r.nevents, 1);
    assert_int_equal(r.events[0].type, KEYSPACE_EVENT_DELETE);
    assert_hlc_eq(r.events[0].version, ver(1, 0)); /* removed entry's version */
    r = apply(ks, cmd_set("k", "v3", ver(3, 0), 3));
    assert_int_equal(r.events[0].type, KEYSPACE_EVENT_SET);
    assert_memory_equal(r.events[0].value, "v3", 2);
    /* non-applied writes: no events */
    assert_int_equal(apply(ks, cmd_vdel("k", "zz", 4)).nevents, 0);
    assert_int_equal(apply(ks, cmd_del("absent", 4)).nevents, 0);
    keyspace_free(ks);
}

static void test_binary_keys(void **state)
{
    (void)state;
    keyspace *ks = keyspace_new(NULL);
    keyspace_cmd a = {.op = KEYSPACE_SET,
                      .now_ms = 1,
                      .key = "a\0b",
                      .klen = 3,
                      .value = "\0\r\n\xff",
                      .vlen = 4,
                      .version = ver(1, 0)};
    keyspace_cmd b = a;
    b.key = "a\0c";
    b.value = "other";
    b.vlen = 5;
    apply(ks, a);
    apply(ks, b);
    keyspace_entry_view v;
    assert_true(keyspace_get(ks, "a\0b", 3, 1, &v));
    assert_int_equal(v.vlen, 4);
    assert_memory_equal(v.value, "\0\r\n\xff", 4);
    assert_false(keyspace_get(ks, "a", 1, 1, &v)); /* no C-string truncation */
    assert_true(keyspace_get(ks, "a\0c", 3, 1, &v));
    assert_int_equal(v.vlen, 5);
    keyspace_cmd d = {.op = KEYSPACE_DEL, .now_ms = 1, .key = "a\0b", .klen = 3};
    assert_int_equal(apply(ks, d).count, 1);
    assert_true(keyspace_get(ks, "a\0c", 3, 1, &v));
    keyspace_free(ks);
}

/* Insert/delete churn through growth and shrink; LSan checks the frees. */
static void test_churn(void **state)
{
    (void)state;
    keyspace *ks = keyspace_new(NULL);
    enum { N = 200000 };
    char key[24];
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        keyspace_cmd c = cmd_set(key, "value", ver(1, 0), 1);
        if (i % 3 == 0) c.deadline_ms = 1000000 + (uint64_t)i;
        assert_int_equal(apply(ks, c).status, KEYSPACE_APPLIED);
    }
    keyspace_stats st;
    keyspace_stats_get(ks, &st);
    assert_int_equal(st.keys, N);
#ifndef NDEBUG
    assert_true(keyspace__check(ks));
#endif
    size_t big_table = st.table_bytes;
    assert_true(big_table >= N * sizeof(void *) / 2);
    for (int i = 0; i < N; i += 2) {
        snprintf(key, sizeof key, "key:%d", i);
        assert_int_equal(apply(ks, cmd_del(key, 1)).count, 1);
    }
    for (int i = 0; i < N; i++) {
        snprintf(key, sizeof key, "key:%d", i);
        keyspace_entry_view v;
        assert_int_equal(keyspace_get(ks, key, strlen(key), 1, &v), i % 2 == 1);
    }
    for (int i = 1; i < N - 100; i += 2) {
        snprintf(key, sizeof key, "key:%d", i);
        assert_int_equal(apply(ks, cmd_del(key, 1)).count, 1);
    }
    /* a few more mutations let the shrink's rehash finish */
    for (int i = 0; i < 2000; i++) apply(ks, cmd_del("absent", 1));
    keyspace_stats_get(ks, &st);
    assert_int_equal(st.keys, 50);
#ifndef NDEBUG
    assert_true(keyspace__check(ks));
#endif
    assert_true(st.table_bytes < big_table / 100);
    assert_int_equal(st.bytes, 50 * (KEYSPACE_ENTRY_OVERHEAD + 5 + strlen("key:199901")));
    for (int i = N - 99; i < N; i += 2) {
        snprintf(key, sizeof key, "key:%d", i);
        keyspace_entry_view v;
        assert_true(keyspace_get(ks, key, strlen(key), 1, &v));
    }
    keyspace_free(ks);
}

#ifndef NDEBUG
/* The debug checker notices accounting drift and a broken heap link. */
static void test_check_detects_drift(void **state)
{
    (void)state;
    keyspace *ks = keyspace_new(NULL);
    keyspace_cmd c = cmd_set("k", "v", ver(1, 0), 1);
    c.deadline_ms = 5000;
    assert_int_equal(apply(ks, c).status, KEYSPACE_APPLIED);
    assert_int_equal(apply(ks, cmd_set("j", "w", ver(1, 1), 1)).status, KEYSPACE_APPLIED);
    assert_true(keyspace__check(ks));
    ks->bytes++;
    assert_false(keyspace__check(ks));
    ks->bytes--;
    ks->table.used++;
    assert_false(keyspace__check(ks));
    ks->table.used--;
    ks_entry *e = *kstable_find(&ks->table, (const uint8_t *)"k", 1);
    ks_entry_expiry(e)->deadline_ms = 0; /* expiring entry without a deadline */
    assert_false(keyspace__check(ks));
    ks_entry_expiry(e)->deadline_ms = 5000;
    assert_true(keyspace__check(ks));
    keyspace_free(ks);
}
#endif

/* keyspace_prefetch only hints: whatever key was prefetched (the same
 * bytes at another address, another key, a key too long for the hint, one
 * that is absent), every operation finds exactly what it would without it. */
static void test_prefetch_is_only_a_hint(void **state)
{
    (void)state;
    keyspace *ks = keyspace_new(NULL);
    char longkey[100];
    memset(longkey, 'L', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    keyspace_prefetch(ks, "a", 1); /* empty table */
    apply(ks, cmd_set("a", "1", ver(NOW, 1), NOW));
    apply(ks, cmd_set(longkey, "2", ver(NOW, 2), NOW));
    char copy[] = "a";
    keyspace_prefetch(ks, copy, 1);
    assert_get(ks, "a", NOW, "1", ver(NOW, 1));
    keyspace_prefetch(ks, "a", 1); /* both stages (bucket, then entry) */
    keyspace_prefetch(ks, copy, 1);
    assert_get(ks, "a", NOW, "1", ver(NOW, 1));
    keyspace_prefetch(ks, "a", 1);
    assert_get(ks, longkey, NOW, "2", ver(NOW, 2));
    assert_miss(ks, "b", NOW);
    keyspace_prefetch(ks, "b", 1);
    assert_get(ks, "a", NOW, "1", ver(NOW, 1));
    apply(ks, cmd_set("b", "3", ver(NOW, 3), NOW)); /* inserted under its own hash */
    keyspace_prefetch(ks, longkey, strlen(longkey));
    assert_get(ks, "b", NOW, "3", ver(NOW, 3));
    assert_get(ks, longkey, NOW, "2", ver(NOW, 2));
#ifndef NDEBUG
    assert_true(keyspace__check(ks));
#endif
    keyspace_free(ks);
}

/* A key's command applied long after its prefetch (a batching log), other
 * keys prefetched and inserted in between: the hash keyspace_prefetch
 * returned, handed back with keyspace_hint, finds and inserts exactly as
 * hashing again would (a wrong hint would lose the entry). */
static void test_prefetch_hash_hint(void **state)
{
    (void)state;
    keyspace *ks = keyspace_new(NULL);
    uint64_t ha = keyspace_prefetch(ks, "a", 1), hb = keyspace_prefetch(ks, "b", 1);
    assert_true(ha != hb);
    char key[16];
    for (int i = 0; i < 100; i++) { /* growth and rehashing in between */
        snprintf(key, sizeof key, "k%d", i);
        keyspace_prefetch(ks, key, strlen(key));
        apply(ks, cmd_set(key, "x", ver(NOW, (uint32_t)i + 1), NOW));
    }
    keyspace_hint(ks, "b", 1, hb);
    apply(ks, cmd_set("b", "2", ver(NOW, 200), NOW));
    keyspace_hint(ks, "a", 1, ha);
    apply(ks, cmd_set("a", "1", ver(NOW, 201), NOW));
    assert_int_equal(keyspace_prefetch(ks, "a", 1), ha);
    keyspace_prefetch(ks, "k7", 2);
    assert_get(ks, "a", NOW, "1", ver(NOW, 201));
    keyspace_hint(ks, "b", 1, hb);
    assert_get(ks, "b", NOW, "2", ver(NOW, 200));
    keyspace_hint(ks, "a", 1, ha);
    apply(ks, cmd_set("a", "3", ver(NOW, 202), NOW)); /* replaces, no second entry */
    assert_get(ks, "a", NOW, "3", ver(NOW, 202));
#ifndef NDEBUG
    assert_true(keyspace__check(ks));
#endif
    keyspace_free(ks);
}

int run_keyspace_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_get_del),
        cmocka_unit_test(test_conditions),
        cmocka_unit_test(test_fencing),
        cmocka_unit_test(test_fencing_worked_example),
        cmocka_unit_test(test_quota),
        cmocka_unit_test(test_lazy_expiry),
        cmocka_unit_test(test_active_expiry),
        cmocka_unit_test(test_replay_determinism),
        cmocka_unit_test(test_events_order),
        cmocka_unit_test(test_binary_keys),
        cmocka_unit_test(test_churn),
        cmocka_unit_test(test_prefetch_is_only_a_hint),
        cmocka_unit_test(test_prefetch_hash_hint),
#ifndef NDEBUG
        cmocka_unit_test(test_check_detects_drift),
#endif
    };
    return cmocka_run_group_tests_name("keyspace", tests, NULL, NULL);
}
