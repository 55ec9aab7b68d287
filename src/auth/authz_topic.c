/* Topic filter coverage (authz.h, authz_filter_covers).
 *
 * "outer covers inner" must hold for every topic inner can match, which a
 * level-by-level walk decides exactly: a wildcard in inner is covered only
 * by an equal or wider wildcard at the same level in outer. */
#include <string.h>

#include "auth/authz.h"

typedef struct level_iter {
    const uint8_t *p, *end;
    bool done;
} level_iter;

/* The next level into (*lvl, *n); false after the last one. */
static bool level_next(level_iter *it, const uint8_t **lvl, size_t *n)
{
    if (it->done) return false;
    const uint8_t *slash = memchr(it->p, '/', (size_t)(it->end - it->p));
    const uint8_t *stop = slash ? slash : it->end;
    *lvl = it->p;
    *n = (size_t)(stop - it->p);
    if (slash) it->p = slash + 1;
    else it->done = true;
    return true;
}

static bool is(const uint8_t *lvl, size_t n, char c) { return n == 1 && lvl[0] == (uint8_t)c; }

bool authz_filter_covers(const uint8_t *outer, size_t olen, const uint8_t *inner, size_t ilen)
{
    static const uint8_t empty[1];
    level_iter o = {outer ? outer : empty, (outer ? outer : empty) + olen, false};
    level_iter in = {inner ? inner : empty, (inner ? inner : empty) + ilen, false};
    /* MQTT 4.7.2: a "$" first level is reachable only by naming it. */
    bool dollar = ilen > 0 && inner[0] == '$';
    for (bool first = true;; first = false) {
        const uint8_t *ol, *il;
        size_t on, inn;
        bool have_o = level_next(&o, &ol, &on), have_i = level_next(&in, &il, &inn);
        if (!have_o) return !have_i;
        if (is(ol, on, '#')) return !(first && dollar);
        if (!have_i) return false; /* only "#" may cover the parent level */
        if (is(il, inn, '#')) return false;
        if (is(ol, on, '+')) {
            if (first && dollar) return false;
            continue;
        }
        if (is(il, inn, '+') || on != inn || memcmp(ol, il, on) != 0) return false;
    }
}
