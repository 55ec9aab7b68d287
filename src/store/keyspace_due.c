/* Active expiry queries: what is due, and when the next deadline is. */
#include <stdlib.h>

#include "store/keyspace_impl.h"
#include "util/alloc.h"

uint64_t keyspace_next_deadline(const keyspace *ks)
{
    const heap_node *n = heap_peek(&ks->heap);
    return n ? ks_entry_deadline(ks_entry_of_heap(n)) : 0;
}

/* A small min-heap of positions in the expiry heap, keyed by deadline:
 * the "frontier" of a best-first walk that yields the k earliest due
 * entries in O(k log k) without modifying the expiry heap. */
typedef struct frontier {
    const heap *h;
    size_t *v;
    size_t n;
} frontier;

static uint64_t fr_key(const frontier *f, size_t i) { return ks_entry_deadline(ks_entry_of_heap(f->h->v[f->v[i]])); }

static void fr_swap(frontier *f, size_t a, size_t b)
{
    size_t t = f->v[a];
    f->v[a] = f->v[b];
    f->v[b] = t;
}

static void fr_push(frontier *f, size_t pos)
{
    size_t i = f->n++;
    f->v[i] = pos;
    while (i > 0 && fr_key(f, (i - 1) / 2) > fr_key(f, i)) {
        fr_swap(f, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static size_t fr_pop(frontier *f)
{
    size_t top = f->v[0];
    f->v[0] = f->v[--f->n];
    for (size_t i = 0;;) {
        size_t c = 2 * i + 1;
        if (c >= f->n) break;
        if (c + 1 < f->n && fr_key(f, c + 1) < fr_key(f, c)) c++;
        if (fr_key(f, i) <= fr_key(f, c)) break;
        fr_swap(f, i, c);
        i = c;
    }
    return top;
}

size_t keyspace_collect_due(const keyspace *ks, uint64_t now_ms, size_t max, keyspace_due_fn fn, void *ctx)
{
    const heap *h = &ks->heap;
    if (max == 0 || h->n == 0 || !ks_entry_expired(ks_entry_of_heap(h->v[0]), now_ms)) return 0;
    if (max > h->n) max = h->n;
    /* Each pop adds at most two children: the frontier never holds more
     * than max + 1 positions. */
    frontier f = {h, xmalloc((max + 1) * sizeof(size_t)), 0};
    fr_push(&f, 0);
    size_t count = 0;
    while (f.n > 0 && count < max) {
        size_t pos = fr_pop(&f);
        const ks_entry *e = ks_entry_of_heap(h->v[pos]);
        hlc v = ks_entry_version(&ks->nodes, e);
        fn(ctx, ks_entry_key(e), e->klen, &v);
        count++;
        for (size_t c = 2 * pos + 1; c <= 2 * pos + 2 && c < h->n; c++)
            if (ks_entry_expired(ks_entry_of_heap(h->v[c]), now_ms)) fr_push(&f, c);
    }
    free(f.v);
    return count;
}
