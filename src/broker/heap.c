#include "broker/heap.h"

#include <stdlib.h>

#include "util/alloc.h"

static void place(heap *h, size_t i, heap_node *n)
{
    h->v[i] = n;
    n->idx = i;
}

static void sift_up(heap *h, size_t i)
{
    heap_node *n = h->v[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h->v[p]->key <= n->key) break;
        place(h, i, h->v[p]);
        i = p;
    }
    place(h, i, n);
}

static void sift_down(heap *h, size_t i)
{
    heap_node *n = h->v[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        uint64_t mk = n->key;
        if (l < h->n && h->v[l]->key < mk) m = l, mk = h->v[l]->key;
        if (l + 1 < h->n && h->v[l + 1]->key < mk) m = l + 1;
        if (m == i) break;
        place(h, i, h->v[m]);
        i = m;
    }
    place(h, i, n);
}

void heap_free(heap *h)
{
    for (size_t i = 0; i < h->n; i++) h->v[i]->idx = HEAP_NONE;
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

void heap_set(heap *h, heap_node *n, uint64_t key)
{
    if (heap_node_linked(n)) {
        uint64_t old = n->key;
        n->key = key;
        if (key < old) sift_up(h, n->idx);
        else sift_down(h, n->idx);
        return;
    }
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->v = xrealloc(h->v, h->cap * sizeof *h->v);
    }
    n->key = key;
    place(h, h->n++, n);
    sift_up(h, n->idx);
}

void heap_remove(heap *h, heap_node *n)
{
    if (!heap_node_linked(n)) return;
    size_t i = n->idx;
    n->idx = HEAP_NONE;
    heap_node *last = h->v[--h->n];
    if (last == n) return;
    place(h, i, last);
    sift_up(h, i);
    sift_down(h, last->idx);
}

heap_node *heap_peek(const heap *h) { return h->n ? h->v[0] : NULL; }
