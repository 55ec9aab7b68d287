/* Durable key selection for state_store mode custom: see persist_select.h. */
#include "store/persist_select.h"

#include <string.h>

#include "ssproto/glob.h"

store_persist_add_err store_persist_rules_add(store_persist_rules *r, store_persist_kind kind, const void *p,
                                              size_t len)
{
    if (len == 0) return STORE_PERSIST_ADD_EMPTY;
    if (kind == STORE_PERSIST_PATTERN && !glob_valid(p, len)) return STORE_PERSIST_ADD_BAD_PATTERN;
    if (r->n == STORE_PERSIST_RULES_MAX || len > STORE_PERSIST_BYTES_MAX - r->used) return STORE_PERSIST_ADD_FULL;
    r->rule[r->n].kind = (uint8_t)kind;
    r->rule[r->n].off = (uint16_t)r->used;
    r->rule[r->n].len = (uint16_t)len;
    memcpy(r->bytes + r->used, p, len);
    r->used += (uint32_t)len;
    r->n++;
    return STORE_PERSIST_ADD_OK;
}

bool store_persist_rules_match(const store_persist_rules *r, const uint8_t *key, size_t klen)
{
    for (uint32_t i = 0; i < r->n; i++) {
        const uint8_t *p = r->bytes + r->rule[i].off;
        size_t n = r->rule[i].len;
        if (r->rule[i].kind == STORE_PERSIST_EXACT ? n == klen && memcmp(p, key, n) == 0 : glob_match(p, n, key, klen))
            return true;
    }
    return false;
}
