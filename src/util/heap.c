#include "util/heap.h"

#include <assert.h>
#include <stdlib.h>

#include "util/alloc.h"

#define KEY(h, n) heap_node_key(h, n)

static void place(heap *h, size_t i, heap_node *n)
{
    h->v[i] = n;
    n->idx = (uint32_t)i;
}

static void sift_up(heap *h, size_t i)
{
    heap_node *n = h->v[i];
    uint64_t k = KEY(h, n);
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (KEY(h, h->v[p]) <= k) break;
        place(h, i, h->v[p]);
        i = p;
    }
    place(h, i, n);
}

static void sift_down(heap *h, size_t i)
{
    heap_node *n = h->v[i];
    uint64_t k = KEY(h, n);
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        uint64_t ck = KEY(h, h->v[c]);
        if (c + 1 < h->n) {
            uint64_t rk = KEY(h, h->v[c + 1]);
            if (rk < ck) c++, ck = rk;
        }
        if (k <= ck) break;
        place(h, i, h->v[c]);
        i = c;
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
    uint64_t *kp = (uint64_t *)(void *)((char *)n + h->key_off);
    if (heap_node_linked(n)) {
        /* The owner may have stored the new key already: try both ways. */
        *kp = key;
        sift_up(h, n->idx);
        sift_down(h, n->idx);
    } else {
        if (h->n == h->cap) {
            assert(h->cap < HEAP_NONE / 2);
            h->cap = h->cap ? h->cap * 2 : 16;
            h->v = xrealloc(h->v, h->cap * sizeof *h->v);
        }
        *kp = key;
        place(h, h->n++, n);
        sift_up(h, n->idx);
    }
    assert(heap__check_node(h, n));
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
    assert(heap__check_node(h, last));
}

#ifndef NDEBUG
bool heap__check_node(const heap *h, const heap_node *n)
{
    size_t i = n->idx;
    if (i >= h->n || h->v[i] != n) return false;
    uint64_t k = KEY(h, n);
    if (i > 0 && KEY(h, h->v[(i - 1) / 2]) > k) return false;
    for (size_t c = 2 * i + 1; c <= 2 * i + 2 && c < h->n; c++)
        if (KEY(h, h->v[c]) < k || h->v[c]->idx != c) return false;
    return true;
}

bool heap__check(const heap *h)
{
    if (h->n > h->cap || (h->cap && !h->v)) return false;
    for (size_t i = 0; i < h->n; i++) {
        if (h->v[i]->idx != i) return false;
        if (i > 0 && KEY(h, h->v[(i - 1) / 2]) > KEY(h, h->v[i])) return false;
    }
    return true;
}
#endif
