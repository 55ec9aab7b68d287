#include "util/heap.h"

#include <assert.h>
#include <stdlib.h>

#include "util/alloc.h"

static void place(heap *h, size_t i, heap_slot s)
{
    h->v[i] = s;
    s.node->idx = (uint32_t)i;
}

static void sift_up(heap *h, size_t i)
{
    heap_slot s = h->v[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->v[p].key <= s.key) break;
        place(h, i, h->v[p]);
        i = p;
    }
    place(h, i, s);
}

static void sift_down(heap *h, size_t i)
{
    heap_slot s = h->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->v[c + 1].key < h->v[c].key) c++;
        if (s.key <= h->v[c].key) break;
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, s);
}

void heap_free(heap *h)
{
    for (size_t i = 0; i < h->n; i++) h->v[i].node->idx = HEAP_NONE;
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

void heap_set(heap *h, heap_node *n, uint64_t key)
{
    if (heap_node_linked(n)) {
        size_t i = n->idx;
        uint64_t old = h->v[i].key;
        h->v[i].key = key;
        if (key < old) sift_up(h, i);
        else sift_down(h, i);
    } else {
        if (h->n == h->cap) {
            assert(h->cap < HEAP_NONE / 2);
            h->cap = h->cap ? h->cap * 2 : 16;
            h->v = xrealloc(h->v, h->cap * sizeof *h->v);
        }
        place(h, h->n++, (heap_slot){key, n});
        sift_up(h, n->idx);
    }
    assert(heap__check_node(h, n));
}

void heap_remove(heap *h, heap_node *n)
{
    if (!heap_node_linked(n)) return;
    size_t i = n->idx;
    n->idx = HEAP_NONE;
    heap_slot last = h->v[--h->n];
    if (last.node == n) return;
    place(h, i, last);
    sift_up(h, i);
    sift_down(h, last.node->idx);
    assert(heap__check_node(h, last.node));
}

#ifndef NDEBUG
bool heap__check_node(const heap *h, const heap_node *n)
{
    size_t i = n->idx;
    if (i >= h->n || h->v[i].node != n) return false;
    uint64_t k = h->v[i].key;
    if (i > 0 && h->v[(i - 1) / 2].key > k) return false;
    for (size_t c = 2 * i + 1; c <= 2 * i + 2 && c < h->n; c++)
        if (h->v[c].key < k || h->v[c].node->idx != c) return false;
    return true;
}

bool heap__check(const heap *h)
{
    if (h->n > h->cap || (h->cap && !h->v)) return false;
    for (size_t i = 0; i < h->n; i++) {
        if (h->v[i].node->idx != i) return false;
        if (i > 0 && h->v[(i - 1) / 2].key > h->v[i].key) return false;
    }
    return true;
}
#endif
