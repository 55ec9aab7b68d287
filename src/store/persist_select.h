/* Which state store keys are durable in `persistence.state_store.mode:
 * custom` (docs/persistence.md): a fixed-capacity list of rules, each a
 * glob pattern (ssproto/glob.h, as SCAN's) or an exact key (String, or a
 * Binary key given in base64 and decoded by the configuration loader).
 * A key is selected if any rule matches it. Pure; the struct owns its
 * bytes (no pointers), so a configuration holding it can be copied. */
#ifndef MQS_STORE_PERSIST_SELECT_H
#define MQS_STORE_PERSIST_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds of one rule list (documented in docs/configuration.md). */
#define STORE_PERSIST_RULES_MAX 256
#define STORE_PERSIST_BYTES_MAX 16384

typedef enum store_persist_kind {
    STORE_PERSIST_PATTERN, /* glob over the key bytes */
    STORE_PERSIST_EXACT,   /* the key, byte for byte */
} store_persist_kind;

typedef struct store_persist_rules {
    uint32_t n, used; /* rules, bytes used */
    struct {
        uint8_t kind; /* store_persist_kind */
        uint16_t off, len;
    } rule[STORE_PERSIST_RULES_MAX];
    uint8_t bytes[STORE_PERSIST_BYTES_MAX];
} store_persist_rules;

typedef enum store_persist_add_err {
    STORE_PERSIST_ADD_OK,
    STORE_PERSIST_ADD_EMPTY,       /* an empty key or pattern */
    STORE_PERSIST_ADD_BAD_PATTERN, /* !glob_valid */
    STORE_PERSIST_ADD_FULL,        /* over STORE_PERSIST_RULES_MAX or _BYTES_MAX */
} store_persist_add_err;

/* Append a rule (copied). On error the list is unchanged. */
store_persist_add_err store_persist_rules_add(store_persist_rules *r, store_persist_kind kind, const void *p,
                                              size_t len);

/* Does any rule select key[0..klen)? */
bool store_persist_rules_match(const store_persist_rules *r, const uint8_t *key, size_t klen);

#endif
