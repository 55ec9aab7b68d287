#include "store/expiry.h"

#include <stdlib.h>

#include "util/alloc.h"

void expiry_heap_free(expiry_heap *h)
{
    free(h->v);
    h->v = NULL;
    h->n = h->cap = 0;
}

static void place(expiry_heap *h, size_t i, ks_entry *e)
{
    h->v[i] = e;
    e->heap_idx = (uint32_t)i;
}

static void sift_up(expiry_heap *h, size_t i)
{
    ks_entry *e = h->v[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (h->v[parent]->deadline_ms <= e->deadline_ms) break;
        place(h, i, h->v[parent]);
        i = parent;
    }
    place(h, i, e);
}

static void sift_down(expiry_heap *h, size_t i)
{
    ks_entry *e = h->v[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->v[c + 1]->deadline_ms < h->v[c]->deadline_ms) c++;
        if (e->deadline_ms <= h->v[c]->deadline_ms) break;
        place(h, i, h->v[c]);
        i = c;
    }
    place(h, i, e);
}

void expiry_heap_set(expiry_heap *h, ks_entry *e)
{
    if (e->heap_idx == KS_HEAP_NONE) {
        if (h->n == h->cap) {
            h->cap = h->cap ? h->cap * 2 : 64;
            h->v = xrealloc(h->v, h->cap * sizeof *h->v);
        }
        place(h, h->n++, e);
    }
    sift_up(h, e->heap_idx);
    sift_down(h, e->heap_idx);
}

void expiry_heap_remove(expiry_heap *h, ks_entry *e)
{
    size_t i = e->heap_idx;
    if (i == KS_HEAP_NONE) return;
    e->heap_idx = KS_HEAP_NONE;
    ks_entry *last = h->v[--h->n];
    if (i == h->n) return;
    place(h, i, last);
    sift_up(h, i);
    sift_down(h, last->heap_idx);
}
