#include "store/node_pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

void node_pool_init(node_pool *p)
{
    memset(p, 0, sizeof *p);
    p->map = hashmap_new();
}

void node_pool_free(node_pool *p)
{
    hashmap_free(p->map, free);
    free(p->byid);
    free(p->free_ids);
    memset(p, 0, sizeof *p);
}

/* A free id for n: a recycled one first, so ids stay dense. */
static void assign_id(node_pool *p, ks_node *n)
{
    if (p->nfree) {
        n->id = p->free_ids[--p->nfree];
    } else {
        if (p->nids == p->cap) {
            /* Every id is held by a live entry or fence, so 2^32 ids
             * would need more entries than any address space holds. */
            if (p->cap == UINT32_MAX) {
                fprintf(stderr, "node_pool: out of node ids\n");
                abort();
            }
            p->cap = p->cap ? (p->cap > UINT32_MAX / 2 ? UINT32_MAX : p->cap * 2) : 8;
            p->byid = xrealloc(p->byid, p->cap * sizeof *p->byid);
        }
        n->id = p->nids++;
    }
    p->byid[n->id] = n;
}

static void release_id(node_pool *p, const ks_node *n)
{
    p->byid[n->id] = NULL;
    if (p->nfree == p->free_cap) {
        p->free_cap = p->free_cap ? p->free_cap * 2 : 8;
        p->free_ids = xrealloc(p->free_ids, p->free_cap * sizeof *p->free_ids);
    }
    p->free_ids[p->nfree++] = n->id;
}

uint32_t node_pool_ref(node_pool *p, const uint8_t *bytes, size_t len)
{
    ks_node *n = p->last;
    if (!n || n->len != len || memcmp(n->bytes, bytes, len) != 0) {
        n = hashmap_get(p->map, bytes, len);
        if (!n) {
            n = xmalloc(sizeof *n + len);
            n->refs = 0;
            n->parked_next = NULL;
            n->parked = false;
            n->len = len;
            memcpy(n->bytes, bytes, len);
            hashmap_put(p->map, bytes, len, n);
            assign_id(p, n);
        }
        p->last = n;
    }
    n->refs++;
    return n->id;
}

void node_pool_unref(node_pool *p, uint32_t id)
{
    ks_node *n = p->byid[id];
    assert(n && n->refs > 0);
    if (--n->refs > 0 || n->parked) return;
    n->parked = true;
    n->parked_next = p->parked;
    p->parked = n;
}

void node_pool_purge(node_pool *p)
{
    ks_node *n = p->parked;
    p->parked = NULL;
    while (n) {
        ks_node *next = n->parked_next;
        n->parked = false;
        n->parked_next = NULL;
        if (n->refs == 0) {
            if (p->last == n) p->last = NULL;
            hashmap_remove(p->map, n->bytes, n->len);
            release_id(p, n);
            free(n);
        }
        n = next;
    }
}

size_t node_pool_size(const node_pool *p) { return hashmap_size(p->map); }
