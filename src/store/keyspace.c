#include "store/keyspace.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "store/keyspace_impl.h"
#include "util/alloc.h"
#include "util/buf.h"

static size_t entry_cost(size_t klen, size_t vlen) { return klen + vlen + KEYSPACE_ENTRY_OVERHEAD; }

#ifndef NDEBUG
/* One entry against the ks_entry.h invariants: O(1). */
static bool entry__check(const keyspace *ks, const ks_entry *e)
{
    if (heap_node_linked(&e->hn) != (e->deadline_ms != 0) || !e->ver_node) return false;
    return !heap_node_linked(&e->hn) || heap__check_node(&ks->heap, &e->hn);
}

bool keyspace__check(const keyspace *ks)
{
    if (!kstable__check(&ks->table) || !heap__check(&ks->heap)) return false;
    size_t n = 0, bytes = 0, fenced = 0, expiring = 0;
    for (int i = 0; i < 2; i++) {
        for (size_t j = 0; j < ks->table.size[i]; j++) {
            for (const ks_entry *e = ks->table.b[i][j]; e; e = e->next) {
                if (!entry__check(ks, e)) return false;
                n++;
                bytes += entry_cost(e->klen, e->vlen);
                fenced += e->fence != NULL;
                expiring += e->deadline_ms != 0;
            }
        }
    }
    return n == ks->table.used && bytes == ks->bytes && fenced == ks->fenced && expiring == ks->heap.n;
}
#endif

keyspace *keyspace_new(const keyspace_limits *limits)
{
    keyspace *ks = xcalloc(1, sizeof *ks);
    kstable_init(&ks->table);
    heap_init(&ks->heap, HEAP_KEY_OFFSET(ks_entry, deadline_ms, hn));
    node_pool_init(&ks->nodes);
    if (limits) ks->limits = *limits;
    return ks;
}

static void free_entry(void *ctx, ks_entry *e)
{
    (void)ctx;
    free(e->fence);
    free(e);
}

void keyspace_free(keyspace *ks)
{
    if (!ks) return;
    assert(keyspace__check(ks));
    /* The pool is freed wholesale, so entries need not drop references. */
    heap_free(&ks->heap); /* before the entries it points into */
    kstable_free(&ks->table, free_entry, NULL);
    node_pool_free(&ks->nodes);
    free(ks);
}

/* Unlink and free the entry at *link; returns its version, whose node
 * bytes stay valid until the next apply (node_pool parking). */
static hlc entry_remove(keyspace *ks, ks_entry **link)
{
    ks_entry *e = *link;
    hlc v = ks_entry_version(e);
    kstable_unlink(&ks->table, link);
    heap_remove(&ks->heap, &e->hn);
    node_pool_unref(&ks->nodes, e->ver_node);
    if (e->fence) {
        node_pool_unref(&ks->nodes, e->fence->node);
        ks->fenced--;
    }
    ks->bytes -= entry_cost(e->klen, e->vlen);
    free_entry(NULL, e);
    return v;
}

static void push_event(keyspace_result *res, keyspace_event_type type, const keyspace_cmd *cmd, const uint8_t *value,
                       size_t vlen, hlc version)
{
    res->events[res->nevents++] = (keyspace_event){type, cmd->key, cmd->klen, value, vlen, version};
}

/* Protocol §5.2 step 3; e is a live (non-expired) entry or NULL. */
static keyspace_status fence_check(const ks_entry *e, const hlc *req)
{
    if (!e || !e->fence) return KEYSPACE_APPLIED;
    if (!req) return KEYSPACE_FENCING_REQUIRED;
    hlc stored = ks_fence_hlc(e->fence);
    return hlc_compare(req, &stored) < 0 ? KEYSPACE_FENCING_LOWER : KEYSPACE_APPLIED;
}

static keyspace_status quota_check(const keyspace *ks, const ks_entry *e, const keyspace_cmd *cmd)
{
    const keyspace_limits *l = &ks->limits;
    if (!e && l->max_key_len && cmd->klen > l->max_key_len) return KEYSPACE_KEY_TOO_LONG;
    if (cmd->klen > UINT32_MAX || cmd->vlen > UINT32_MAX) return KEYSPACE_QUOTA_EXCEEDED;
    if (!e && l->max_keys && ks->table.used >= l->max_keys) return KEYSPACE_QUOTA_EXCEEDED;
    /* Growth is what the byte quota limits: an overwrite that does not
     * grow the entry never fails, even while over the limit (e.g. after
     * the limit was lowered), so clients can always shrink or renew. */
    size_t old_cost = e ? entry_cost(e->klen, e->vlen) : 0, new_cost = entry_cost(cmd->klen, cmd->vlen);
    if (l->max_bytes && new_cost > old_cost && ks->bytes - old_cost + new_cost > l->max_bytes)
        return KEYSPACE_QUOTA_EXCEEDED;
    return KEYSPACE_APPLIED;
}

static ks_entry *entry_new(const keyspace_cmd *cmd)
{
    ks_entry *e = xmalloc(offsetof(ks_entry, data) + cmd->klen + cmd->vlen);
    memset(e, 0, offsetof(ks_entry, data));
    heap_node_init(&e->hn);
    e->klen = (uint32_t)cmd->klen;
    if (cmd->klen) memcpy(e->data, cmd->key, cmd->klen);
    return e;
}

/* Store value bytes into e, resizing the allocation when the length
 * changes; fixes the chain link and the heap slot if e moves. */
static ks_entry *entry_set_value(keyspace *ks, ks_entry **link, ks_entry *e, const keyspace_cmd *cmd)
{
    if (e->vlen != cmd->vlen) {
        e = xrealloc(e, offsetof(ks_entry, data) + e->klen + cmd->vlen);
        *link = e;
        heap_relocate(&ks->heap, &e->hn);
        e->vlen = (uint32_t)cmd->vlen;
    }
    if (cmd->vlen) memcpy(e->data + e->klen, cmd->value, cmd->vlen);
    return e;
}

/* §5.2 step 5: keep max(stored token, request token). */
static void fence_update(keyspace *ks, ks_entry *e, const hlc *req)
{
    if (!req) return;
    if (e->fence) {
        hlc stored = ks_fence_hlc(e->fence);
        if (hlc_compare(req, &stored) <= 0) return;
        ks_node *old = e->fence->node;
        e->fence->node = node_pool_ref(&ks->nodes, req->node, req->node_len);
        node_pool_unref(&ks->nodes, old);
    } else {
        e->fence = xmalloc(sizeof *e->fence);
        e->fence->node = node_pool_ref(&ks->nodes, req->node, req->node_len);
        ks->fenced++;
    }
    e->fence->wall_ms = req->wall_ms;
    e->fence->counter = req->counter;
}

static void apply_set(keyspace *ks, ks_entry **link, const keyspace_cmd *cmd, keyspace_result *res)
{
    ks_entry *e = link ? *link : NULL;
    if (e && (cmd->cond == KEYSPACE_COND_NX ||
              (cmd->cond == KEYSPACE_COND_NEX && !mem_eq(ks_entry_value(e), e->vlen, cmd->value, cmd->vlen)))) {
        res->status = KEYSPACE_NOT_APPLIED;
        res->has_version = true;
        res->version = ks_entry_version(e);
        return;
    }
    res->status = quota_check(ks, e, cmd);
    if (res->status != KEYSPACE_APPLIED) return;

    if (e) {
        ks->bytes -= entry_cost(e->klen, e->vlen);
        e = entry_set_value(ks, link, e, cmd);
        ks_node *old = e->ver_node;
        e->ver_node = node_pool_ref(&ks->nodes, cmd->version.node, cmd->version.node_len);
        node_pool_unref(&ks->nodes, old);
    } else {
        e = entry_new(cmd);
        if (cmd->vlen) memcpy(e->data + e->klen, cmd->value, cmd->vlen);
        e->vlen = (uint32_t)cmd->vlen;
        e->ver_node = node_pool_ref(&ks->nodes, cmd->version.node, cmd->version.node_len);
        kstable_insert(&ks->table, e);
    }
    ks->bytes += entry_cost(e->klen, e->vlen);
    e->ver_wall = cmd->version.wall_ms;
    e->ver_counter = cmd->version.counter;
    fence_update(ks, e, cmd->fence);
    e->persist = cmd->persist;
    /* Every applied SET recomputes expiry (§6.2): no PX clears it. */
    e->deadline_ms = cmd->deadline_ms;
    if (e->deadline_ms) heap_set(&ks->heap, &e->hn, e->deadline_ms);
    else heap_remove(&ks->heap, &e->hn);
    assert(entry__check(ks, e));

    res->has_version = true;
    res->version = ks_entry_version(e);
    push_event(res, KEYSPACE_EVENT_SET, cmd, ks_entry_value(e), e->vlen, res->version);
}

static void apply_del(keyspace *ks, ks_entry **link, const keyspace_cmd *cmd, keyspace_result *res)
{
    res->status = KEYSPACE_APPLIED;
    if (!link) return;
    ks_entry *e = *link;
    if (cmd->op == KEYSPACE_VDEL && !mem_eq(ks_entry_value(e), e->vlen, cmd->value, cmd->vlen)) {
        res->status = KEYSPACE_NOT_APPLIED;
        res->has_version = true;
        res->version = ks_entry_version(e);
        return;
    }
    res->count = 1;
    res->has_version = true;
    res->version = entry_remove(ks, link);
    push_event(res, KEYSPACE_EVENT_DELETE, cmd, NULL, 0, res->version);
}

/* Deletes only the exact entry the leader saw due: a re-SET in between
 * gave the key a new version (and deadline), so the record is a no-op. */
static void apply_expire(keyspace *ks, ks_entry **link, const keyspace_cmd *cmd, keyspace_result *res)
{
    res->status = KEYSPACE_APPLIED;
    if (!link) return;
    hlc cur = ks_entry_version(*link);
    if (hlc_compare(&cur, &cmd->version) != 0 || !ks_entry_expired(*link, cmd->now_ms)) return;
    res->count = 1;
    res->has_version = true;
    res->version = entry_remove(ks, link);
    push_event(res, KEYSPACE_EVENT_DELETE, cmd, NULL, 0, res->version);
}

void keyspace_apply(keyspace *ks, const keyspace_cmd *cmd, keyspace_result *res)
{
    memset(res, 0, sizeof *res);
    /* Results of the previous apply may still point at parked nodes; from
     * here on they are invalid by contract. */
    node_pool_purge(&ks->nodes);
    kstable_rehash_step(&ks->table, KEYSPACE__REHASH_STEP);

    ks_entry **link = kstable_find(&ks->table, cmd->key, cmd->klen);
    if (cmd->op == KEYSPACE_EXPIRE) {
        apply_expire(ks, link, cmd, res);
        return;
    }
    if (link && ks_entry_expired(*link, cmd->now_ms)) {
        hlc v = entry_remove(ks, link);
        push_event(res, KEYSPACE_EVENT_DELETE, cmd, NULL, 0, v);
        link = NULL;
    }
    res->status = fence_check(link ? *link : NULL, cmd->fence);
    if (res->status != KEYSPACE_APPLIED) return;
    if (cmd->op == KEYSPACE_SET) apply_set(ks, link, cmd, res);
    else apply_del(ks, link, cmd, res);
}

bool keyspace_get(const keyspace *ks, const void *key, size_t klen, uint64_t now_ms, keyspace_entry_view *out)
{
    ks_entry **link = kstable_find(&ks->table, key, klen);
    if (!link || ks_entry_expired(*link, now_ms)) return false;
    const ks_entry *e = *link;
    out->value = ks_entry_value(e);
    out->vlen = e->vlen;
    out->version = ks_entry_version(e);
    out->fenced = e->fence != NULL;
    out->fence = e->fence ? ks_fence_hlc(e->fence) : (hlc){0};
    out->deadline_ms = e->deadline_ms;
    out->persist = e->persist;
    return true;
}

void keyspace_prefetch(keyspace *ks, const void *key, size_t klen) { kstable_prefetch(&ks->table, key, klen); }

void keyspace_stats_get(const keyspace *ks, keyspace_stats *out)
{
    out->keys = ks->table.used;
    out->bytes = ks->bytes;
    out->fenced = ks->fenced;
    out->expiring = ks->heap.n;
    out->table_bytes = kstable_bucket_bytes(&ks->table);
}

/* Collected first, removed after: an unlink may start shrinking the
 * table, which a walk over its buckets must not see. Once, at start. */
static void collect_volatile(void *ctx, const uint8_t *key, size_t klen, const keyspace_entry_view *v)
{
    if (v->persist) return;
    buf *b = ctx;
    uint32_t n = (uint32_t)klen;
    buf_append(b, &n, sizeof n);
    buf_append(b, key, klen);
}

size_t keyspace_drop_volatile(keyspace *ks)
{
    buf keys = {0};
    keyspace_foreach(ks, collect_volatile, &keys);
    size_t dropped = 0;
    for (size_t off = 0; off < keys.len; dropped++) {
        uint32_t n;
        memcpy(&n, keys.data + off, sizeof n);
        off += sizeof n;
        ks_entry **link = kstable_find(&ks->table, keys.data + off, n);
        assert(link && !(*link)->persist);
        entry_remove(ks, link);
        off += n;
    }
    buf_free(&keys);
    node_pool_purge(&ks->nodes);
    return dropped;
}
