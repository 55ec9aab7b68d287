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
/* A node pool id that holds a reference. */
static bool node__valid(const node_pool *p, uint32_t id) { return id < p->nids && p->byid[id] && p->byid[id]->refs; }

/* One entry against the ks_entry.h invariants: O(1). */
static bool entry__check(const keyspace *ks, const ks_entry *e)
{
    if ((e->flags & ~KS_F_ALL) || !node__valid(&ks->nodes, e->ver_node)) return false;
    if (e->flags & KS_F_WIDE) {
        uint64_t c = ks_entry_wide(e)->ver_counter;
        if (c <= UINT32_MAX || (uint32_t)c != e->ver_counter) return false;
    }
    if ((e->flags & KS_F_FENCE) && !node__valid(&ks->nodes, ks_entry_fence(e)->node)) return false;
    if (!(e->flags & KS_F_DEADLINE)) return true;
    const ks_expiry *x = ks_entry_expiry(e);
    return x->deadline_ms != 0 && heap_node_linked(&x->hn) && heap__check_node(&ks->heap, &x->hn);
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
                fenced += (e->flags & KS_F_FENCE) != 0;
                expiring += (e->flags & KS_F_DEADLINE) != 0;
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
    heap_init(&ks->heap, HEAP_KEY_OFFSET(ks_expiry, deadline_ms, hn));
    node_pool_init(&ks->nodes);
    if (limits) ks->limits = *limits;
    return ks;
}

static void free_entry(void *ctx, ks_entry *e)
{
    (void)ctx;
    free(ks_entry_block(e));
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
    hlc v = ks_entry_version(&ks->nodes, e);
    kstable_unlink(&ks->table, link);
    if (e->flags & KS_F_DEADLINE) heap_remove(&ks->heap, &ks_entry_expiry(e)->hn);
    node_pool_unref(&ks->nodes, e->ver_node);
    if (e->flags & KS_F_FENCE) {
        node_pool_unref(&ks->nodes, ks_entry_fence(e)->node);
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
static keyspace_status fence_check(const keyspace *ks, const ks_entry *e, const hlc *req)
{
    if (!e || !(e->flags & KS_F_FENCE)) return KEYSPACE_APPLIED;
    if (!req) return KEYSPACE_FENCING_REQUIRED;
    hlc stored = ks_fence_hlc(&ks->nodes, ks_entry_fence(e));
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

/* The optional parts an applied SET gives the entry (old: the entry it
 * overwrites, or NULL): a fence is kept once set (§5.2 step 5). */
static unsigned set_flags(const ks_entry *old, const keyspace_cmd *cmd)
{
    unsigned f = (old ? old->flags & KS_F_FENCE : 0) | (cmd->fence ? KS_F_FENCE : 0);
    if (cmd->persist) f |= KS_F_PERSIST;
    if (cmd->deadline_ms) f |= KS_F_DEADLINE;
    if (cmd->version.counter > UINT32_MAX) f |= KS_F_WIDE;
    return f;
}

/* Give e the parts of `flags` and room for vlen value bytes (the value
 * itself is the caller's to write). The common overwrite (same parts,
 * same length) changes nothing; a new length alone is a realloc; other
 * parts need a new block, into which the header, the key, a kept fence
 * and a kept expiry move (the heap slot follows it; a dropped expiry
 * leaves the heap). A new part is left for the caller to fill: the
 * fence's fields, the wide counter, and the expiry through heap_set.
 * Fixes the chain link. The flags' persist bit is not touched. */
static ks_entry *entry_reshape(keyspace *ks, ks_entry **link, ks_entry *e, unsigned flags, size_t vlen)
{
    const unsigned parts = KS_F_DEADLINE | KS_F_FENCE | KS_F_WIDE;
    unsigned had = e->flags;
    if ((flags & parts) == (had & parts)) {
        if (e->vlen == vlen) return e;
        char *b = xrealloc(ks_entry_block(e), ks_entry_alloc_size(had, e->klen, vlen));
        e = (ks_entry *)(void *)(b + ks_parts_size(had));
        if (had & KS_F_DEADLINE) heap_relocate(&ks->heap, &ks_entry_expiry(e)->hn);
    } else {
        ks_entry *n = keyspace__entry_new((flags & parts) | (had & KS_F_PERSIST), ks_entry_key(e), e->klen, vlen);
        n->next = e->next;
        n->ver_wall = e->ver_wall;
        n->ver_counter = e->ver_counter;
        n->ver_node = e->ver_node;
        if (flags & had & KS_F_FENCE) *ks_entry_fence(n) = *ks_entry_fence(e);
        if (flags & had & KS_F_DEADLINE) {
            *ks_entry_expiry(n) = *ks_entry_expiry(e);
            heap_relocate(&ks->heap, &ks_entry_expiry(n)->hn);
        } else if (had & KS_F_DEADLINE) {
            heap_remove(&ks->heap, &ks_entry_expiry(e)->hn);
        }
        free(ks_entry_block(e));
        e = n;
    }
    e->vlen = (uint32_t)vlen;
    *link = e;
    return e;
}

/* §5.2 step 5: keep max(stored token, request token). `had` tells whether
 * e's fence part held a token before this SET (else it is new, unset). */
static void fence_update(keyspace *ks, ks_entry *e, const hlc *req, bool had)
{
    if (!req) return;
    ks_fence *f = ks_entry_fence(e);
    if (had) {
        hlc stored = ks_fence_hlc(&ks->nodes, f);
        if (hlc_compare(req, &stored) <= 0) return;
        uint32_t old = f->node;
        f->node = node_pool_ref(&ks->nodes, req->node, req->node_len);
        node_pool_unref(&ks->nodes, old);
    } else {
        f->node = node_pool_ref(&ks->nodes, req->node, req->node_len);
        f->unused = 0;
        ks->fenced++;
    }
    f->wall_ms = req->wall_ms;
    f->counter = req->counter;
}

static void apply_set(keyspace *ks, ks_entry **link, const keyspace_cmd *cmd, keyspace_result *res)
{
    ks_entry *e = link ? *link : NULL;
    if (e && (cmd->cond == KEYSPACE_COND_NX ||
              (cmd->cond == KEYSPACE_COND_NEX && !mem_eq(ks_entry_value(e), e->vlen, cmd->value, cmd->vlen)))) {
        res->status = KEYSPACE_NOT_APPLIED;
        res->has_version = true;
        res->version = ks_entry_version(&ks->nodes, e);
        return;
    }
    res->status = quota_check(ks, e, cmd);
    if (res->status != KEYSPACE_APPLIED) return;

    unsigned flags = set_flags(e, cmd);
    bool had_fence = e && (e->flags & KS_F_FENCE);
    if (e) {
        ks->bytes -= entry_cost(e->klen, e->vlen);
        e = entry_reshape(ks, link, e, flags, cmd->vlen);
        uint32_t old = e->ver_node;
        e->ver_node = node_pool_ref(&ks->nodes, cmd->version.node, cmd->version.node_len);
        node_pool_unref(&ks->nodes, old);
    } else {
        e = keyspace__entry_new(flags, cmd->key, cmd->klen, cmd->vlen);
        e->ver_node = node_pool_ref(&ks->nodes, cmd->version.node, cmd->version.node_len);
        kstable_insert(&ks->table, e);
    }
    if (cmd->vlen) memcpy(e->data + e->klen, cmd->value, cmd->vlen);
    e->flags = (uint8_t)flags;
    ks->bytes += entry_cost(e->klen, e->vlen);
    ks_entry_set_version(e, cmd->version.wall_ms, cmd->version.counter);
    fence_update(ks, e, cmd->fence, had_fence);
    /* Every applied SET recomputes expiry (§6.2): no PX clears it (the
     * reshape dropped the part and its heap node). */
    if (flags & KS_F_DEADLINE) heap_set(&ks->heap, &ks_entry_expiry(e)->hn, cmd->deadline_ms);
    assert(entry__check(ks, e));

    res->has_version = true;
    res->version = ks_entry_version(&ks->nodes, e);
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
        res->version = ks_entry_version(&ks->nodes, e);
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
    hlc cur = ks_entry_version(&ks->nodes, *link);
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
    res->status = fence_check(ks, link ? *link : NULL, cmd->fence);
    if (res->status != KEYSPACE_APPLIED) return;
    if (cmd->op == KEYSPACE_SET) apply_set(ks, link, cmd, res);
    else apply_del(ks, link, cmd, res);
}

bool keyspace_get(const keyspace *ks, const void *key, size_t klen, uint64_t now_ms, keyspace_entry_view *out)
{
    ks_entry **link = kstable_find(&ks->table, key, klen);
    if (!link || ks_entry_expired(*link, now_ms)) return false;
    const ks_entry *e = *link;
    keyspace__view(ks, e, out);
    return true;
}

uint64_t keyspace_prefetch(keyspace *ks, const void *key, size_t klen)
{
    return kstable_prefetch(&ks->table, key, klen);
}

void keyspace_hint(keyspace *ks, const void *key, size_t klen, uint64_t hash)
{
    kstable_hint(&ks->table, key, klen, hash);
}

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
        assert(link && !((*link)->flags & KS_F_PERSIST));
        entry_remove(ks, link);
        off += n;
    }
    buf_free(&keys);
    node_pool_purge(&ks->nodes);
    return dropped;
}
