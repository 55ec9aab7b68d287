#include "store/notify_registry.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "ssproto/topic.h"
#include "util/alloc.h"
#include "util/buf.h"
#include "util/hashmap.h"

typedef struct watch_list watch_list;
typedef struct client client;

/* One registration, linked into its key's watch list (for fan-out in
 * registration order) and indexed in its client's map (for STOP and
 * drop_client). */
typedef struct reg {
    client *c;
    watch_list *w;
    struct reg *prev, *next;
} reg;

/* Invariant: a watch_list is in registry.keys iff n > 0. */
struct watch_list {
    reg *head, *tail;
    size_t n;
};

/* Invariant: a client is in registry.clients iff hashmap_size(regs) > 0. */
struct client {
    notify_watcher view; /* id and hex owned here */
    hashmap *regs;       /* key -> reg */
    size_t bytes;        /* sum of notify_registration_cost over regs */
};

struct notify_registry {
    hashmap *keys;    /* key -> watch_list */
    hashmap *clients; /* client id -> client */
    size_t count;
    size_t max_client_bytes; /* 0: unlimited */
};

void notify_registry_foreach_key(const notify_registry *r, void (*fn)(void *ctx, const uint8_t *key, size_t klen),
                                 void *ctx)
{
    hashmap_iter it;
    hashmap_iter_init(r->keys, &it);
    const void *k;
    size_t klen;
    while (hashmap_iter_next(&it, &k, &klen, NULL)) fn(ctx, k, klen);
}

notify_registry *notify_registry_new(size_t max_client_bytes)
{
    notify_registry *r = xcalloc(1, sizeof *r);
    r->max_client_bytes = max_client_bytes;
    r->keys = hashmap_new();
    r->clients = hashmap_new();
    return r;
}

static void client_free(void *p)
{
    client *c = p;
    hashmap_free(c->regs, free);
    free((void *)c->view.client_id);
    free((void *)c->view.client_hex);
    free(c);
}

void notify_registry_free(notify_registry *r)
{
    if (!r) return;
    hashmap_free(r->keys, free);
    hashmap_free(r->clients, client_free);
    free(r);
}

static client *client_new(const void *id, size_t idlen)
{
    client *c = xcalloc(1, sizeof *c);
    c->view.client_id = xmemdup(id, idlen);
    c->view.idlen = idlen;
    buf hex = {0};
    notify_hex_append(&hex, id, idlen);
    buf_append_u8(&hex, 0);
    c->view.client_hex = (const char *)hex.data;
    c->view.hexlen = 2 * idlen;
    c->regs = hashmap_new();
    return c;
}

notify_add_result notify_registry_add(notify_registry *r, const void *client_id, size_t idlen, const void *key,
                                      size_t klen)
{
    client *c = hashmap_get(r->clients, client_id, idlen);
    if (c && hashmap_get(c->regs, key, klen)) return NOTIFY_ADD_EXISTED;
    size_t cost = notify_registration_cost(klen);
    assert(!c || !r->max_client_bytes || c->bytes <= r->max_client_bytes);
    if (r->max_client_bytes && cost > r->max_client_bytes - (c ? c->bytes : 0)) return NOTIFY_ADD_OVER_LIMIT;
    if (!c) {
        c = client_new(client_id, idlen);
        hashmap_put(r->clients, client_id, idlen, c);
    }
    watch_list *w = hashmap_get(r->keys, key, klen);
    if (!w) {
        w = xcalloc(1, sizeof *w);
        hashmap_put(r->keys, key, klen, w);
    }
    reg *g = xcalloc(1, sizeof *g);
    g->c = c;
    g->w = w;
    g->prev = w->tail;
    if (w->tail) w->tail->next = g;
    else w->head = g;
    w->tail = g;
    w->n++;
    hashmap_put(c->regs, key, klen, g);
    c->bytes += cost;
    r->count++;
    return NOTIFY_ADD_NEW;
}

/* Unlink g from its watch list, dropping the list when it empties. The
 * caller removes g from its client's map. */
static void reg_unlink(notify_registry *r, reg *g, const void *key, size_t klen)
{
    watch_list *w = g->w;
    if (g->prev) g->prev->next = g->next;
    else w->head = g->next;
    if (g->next) g->next->prev = g->prev;
    else w->tail = g->prev;
    if (--w->n == 0) free(hashmap_remove(r->keys, key, klen));
    r->count--;
}

bool notify_registry_remove(notify_registry *r, const void *client_id, size_t idlen, const void *key, size_t klen)
{
    client *c = hashmap_get(r->clients, client_id, idlen);
    reg *g = c ? hashmap_remove(c->regs, key, klen) : NULL;
    if (!g) return false;
    reg_unlink(r, g, key, klen);
    free(g);
    c->bytes -= notify_registration_cost(klen);
    if (hashmap_size(c->regs) == 0) client_free(hashmap_remove(r->clients, client_id, idlen));
    return true;
}

size_t notify_registry_drop_client(notify_registry *r, const void *client_id, size_t idlen)
{
    client *c = hashmap_remove(r->clients, client_id, idlen);
    if (!c) return 0;
    size_t n = 0;
    hashmap_iter it;
    const void *key;
    size_t klen;
    void *g;
    hashmap_iter_init(c->regs, &it);
    while (hashmap_iter_next(&it, &key, &klen, &g)) {
        reg_unlink(r, g, key, klen);
        n++;
    }
    client_free(c); /* frees the regs with the map */
    return n;
}

size_t notify_registry_foreach_watcher(const notify_registry *r, const void *key, size_t klen, notify_watcher_fn fn,
                                       void *ctx)
{
    const watch_list *w = hashmap_get(r->keys, key, klen);
    if (!w) return 0;
    for (const reg *g = w->head; g; g = g->next) fn(ctx, &g->c->view);
    return w->n;
}

size_t notify_registry_client_bytes(const notify_registry *r, const void *client_id, size_t idlen)
{
    const client *c = hashmap_get(r->clients, client_id, idlen);
    return c ? c->bytes : 0;
}

size_t notify_registry_count(const notify_registry *r) { return r->count; }
size_t notify_registry_clients(const notify_registry *r) { return hashmap_size(r->clients); }
size_t notify_registry_keys(const notify_registry *r) { return hashmap_size(r->keys); }
