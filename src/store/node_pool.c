#include "store/node_pool.h"

#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"

void node_pool_init(node_pool *p)
{
    p->map = hashmap_new();
    p->last = NULL;
    p->parked = NULL;
}

void node_pool_free(node_pool *p)
{
    hashmap_free(p->map, free);
    p->map = NULL;
    p->last = p->parked = NULL;
}

ks_node *node_pool_ref(node_pool *p, const uint8_t *bytes, size_t len)
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
        }
        p->last = n;
    }
    n->refs++;
    return n;
}

void node_pool_unref(node_pool *p, ks_node *n)
{
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
            free(n);
        }
        n = next;
    }
}

size_t node_pool_size(const node_pool *p) { return hashmap_size(p->map); }
