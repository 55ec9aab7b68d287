/* KEYNOTIFY registrations (protocol §7.1).
 *
 * A registration is the pair (client id, exact key bytes) with set
 * semantics. The registry answers the two questions the service asks on
 * the hot path: "who watches this key" (on every applied change) and
 * "drop everything this client registered" (when its connection ends,
 * O(registrations of that client)).
 *
 * Client ids and keys are copied in; callers keep ownership of what they
 * pass. Each client's upper-case hex id (§1.4) is computed once, when its
 * first registration is made, and handed to watchers for topic building. */
#ifndef MQS_STORE_NOTIFY_REGISTRY_H
#define MQS_STORE_NOTIFY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct notify_registry notify_registry;

/* A watcher as seen during notify_registry_foreach_watcher. All pointers
 * stay valid until the client's last registration is removed. */
typedef struct notify_watcher {
    const uint8_t *client_id;
    size_t idlen;
    const char *client_hex; /* upper-case hex of client_id, NUL-terminated */
    size_t hexlen;          /* == 2 * idlen */
} notify_watcher;

/* Called once per watcher; must not modify the registry. */
typedef void (*notify_watcher_fn)(void *ctx, const notify_watcher *w);

/* Accounted bytes of one registration: the key is stored twice (the key
 * index and the client's index) plus the bookkeeping around both copies
 * (measured ~190 bytes on x86_64 glibc, rounded up). */
#define NOTIFY_REG_OVERHEAD 192
static inline size_t notify_registration_cost(size_t klen) { return 2 * klen + NOTIFY_REG_OVERHEAD; }

/* max_client_bytes bounds the accounted bytes of one client's
 * registrations (0 = unlimited). */
notify_registry *notify_registry_new(size_t max_client_bytes);
void notify_registry_free(notify_registry *r);

typedef enum notify_add_result {
    NOTIFY_ADD_EXISTED,    /* already registered: nothing changed */
    NOTIFY_ADD_NEW,        /* registered */
    NOTIFY_ADD_OVER_LIMIT, /* would exceed max_client_bytes: not registered */
} notify_add_result;

/* Register (idempotent: EXISTED and NEW both answer +OK). A new
 * registration that would take the client beyond max_client_bytes is
 * refused; re-registering an existing one never is. */
notify_add_result notify_registry_add(notify_registry *r, const void *client_id, size_t idlen, const void *key,
                                      size_t klen);
/* KEYNOTIFY STOP: true if a registration existed (+OK), false if not (:0). */
bool notify_registry_remove(notify_registry *r, const void *client_id, size_t idlen, const void *key, size_t klen);
/* The client's connection ended: drop all its registrations. Returns how
 * many were dropped. */
size_t notify_registry_drop_client(notify_registry *r, const void *client_id, size_t idlen);

/* Call fn for every watcher of key, in registration order. Returns the
 * number of watchers. */
size_t notify_registry_foreach_watcher(const notify_registry *r, const void *key, size_t klen, notify_watcher_fn fn,
                                       void *ctx);

/* Call fn once for every key that has at least one watcher (any order). */
void notify_registry_foreach_key(const notify_registry *r, void (*fn)(void *ctx, const uint8_t *key, size_t klen),
                                 void *ctx);

/* Accounted bytes of the client's registrations (0 if it has none). */
size_t notify_registry_client_bytes(const notify_registry *r, const void *client_id, size_t idlen);

size_t notify_registry_count(const notify_registry *r);   /* registrations */
size_t notify_registry_clients(const notify_registry *r); /* clients with >= 1 */
size_t notify_registry_keys(const notify_registry *r);    /* keys with >= 1 */

#endif
