/* Templates: topic filters and key patterns with {principal.*} tokens.
 *
 * Curly braces are reserved for tokens (§10.2): in a template every '{'
 * starts a valid token and there is no other '}'. Keys that really contain
 * braces are written with keyType String. In a key pattern a token may not
 * sit inside a character class, where a substituted value could not be
 * made literal. */
#include <string.h>

#include "auth/authz_impl.h"
#include "auth/principal.h"
#include "mqtt/codec.h"
#include "ssproto/glob.h"

#define TOK_CLIENT_ID "{principal.clientId}"
#define TOK_USERNAME "{principal.username}"
#define TOK_ATTR "{principal.attributes."

static bool starts(const uint8_t *s, size_t n, const char *lit, size_t *litlen)
{
    *litlen = strlen(lit);
    return n >= *litlen && memcmp(s, lit, *litlen) == 0;
}

size_t authz_token_len(const uint8_t *s, size_t n)
{
    size_t l;
    if (starts(s, n, TOK_CLIENT_ID, &l) || starts(s, n, TOK_USERNAME, &l)) return l;
    if (!starts(s, n, TOK_ATTR, &l)) return 0;
    const uint8_t *close = memchr(s + l, '}', n - l);
    /* a non-empty attribute name without braces */
    if (!close || close == s + l || memchr(s + l, '{', (size_t)(close - s - l))) return 0;
    return (size_t)(close - s) + 1;
}

/* The token's value for p, or NULL when p has none. */
static const uint8_t *token_value(const uint8_t *tok, size_t toklen, const principal *p, size_t *vlen)
{
    size_t l;
    if (starts(tok, toklen, TOK_CLIENT_ID, &l) && l == toklen) {
        *vlen = p->client_id_len;
        return p->client_id ? p->client_id : (const uint8_t *)"";
    }
    if (starts(tok, toklen, TOK_USERNAME, &l) && l == toklen) {
        *vlen = p->username_len;
        return p->username;
    }
    starts(tok, toklen, TOK_ATTR, &l);
    char name[256];
    size_t nlen = toklen - l - 1;
    if (nlen >= sizeof name) return NULL;
    memcpy(name, tok + l, nlen);
    name[nlen] = '\0';
    const char *v = principal_attr_get(p, name);
    if (v) *vlen = strlen(v);
    return (const uint8_t *)v;
}

static bool append_value(buf *out, const uint8_t *v, size_t n, authz_subst_mode mode)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = v[i];
        if (c == '/' || c == '\0') return false;
        if (mode == AUTHZ_SUBST_TOPIC && (c == '+' || c == '#')) return false;
        if (mode == AUTHZ_SUBST_PATTERN && (c == '*' || c == '?' || c == '[')) {
            /* glob has no escape character; a one-member class is literal */
            uint8_t cls[3] = {'[', c, ']'};
            buf_append(out, cls, 3);
            continue;
        }
        buf_append_u8(out, c);
    }
    return true;
}

bool authz_subst(const authz_str *t, const principal *p, authz_subst_mode mode, buf *out)
{
    if (!t->has_tokens) {
        buf_append(out, t->data, t->len);
        return true;
    }
    size_t i = 0;
    while (i < t->len) {
        const uint8_t *brace = memchr(t->data + i, '{', t->len - i);
        size_t lit = brace ? (size_t)(brace - t->data) - i : t->len - i;
        buf_append(out, t->data + i, lit);
        i += lit;
        if (!brace) break;
        size_t toklen = authz_token_len(t->data + i, t->len - i), vlen = 0;
        const uint8_t *v = token_value(t->data + i, toklen, p, &vlen);
        if (!v || !append_value(out, v, vlen, mode)) return false;
        i += toklen;
    }
    return true;
}

/* Replace every token by "x" into out; false if a brace is not a token. */
static bool tokens_to_x(const uint8_t *s, size_t n, buf *out, const char **why)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '}') {
            *why = "'}' outside a {principal.*} token (use keyType String for literal braces)";
            return false;
        }
        if (s[i] != '{') {
            buf_append_u8(out, s[i]);
            continue;
        }
        size_t l = authz_token_len(s + i, n - i);
        if (!l) {
            *why = "unknown token (expected {principal.clientId}, {principal.username} or "
                   "{principal.attributes.NAME})";
            return false;
        }
        buf_append_u8(out, 'x');
        i += l - 1;
    }
    return true;
}

bool authz_filter_template_valid(const char *f, const char **why)
{
    buf x = {0};
    bool ok = tokens_to_x((const uint8_t *)f, strlen(f), &x, why);
    if (ok && (x.len == 0 || !mqtt_filter_valid((mqtt_bytes){x.data, (uint32_t)x.len}))) {
        *why = "not a valid MQTT topic filter";
        ok = false;
    }
    if (ok && x.len >= 7 && memcmp(x.data, "$share/", 7) == 0) {
        *why = "a rule filter cannot be a shared subscription (the group is not part of authorization)";
        ok = false;
    }
    buf_free(&x);
    return ok;
}

/* The index just past the class opening at p[i] == '[' (glob.h rules: a
 * ']' right after "[" or "[!" is a member), or 0 if unterminated. */
static size_t class_end(const uint8_t *p, size_t n, size_t i)
{
    size_t q = i + 1;
    if (q < n && (p[q] == '!' || p[q] == '^')) q++;
    if (q < n && p[q] == ']') q++;
    const uint8_t *close = q < n ? memchr(p + q, ']', n - q) : NULL;
    return close ? (size_t)(close - p) + 1 : 0;
}

bool authz_pattern_template_valid(const char *pat, size_t n, const char **why)
{
    const uint8_t *p = (const uint8_t *)pat;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '[') continue;
        size_t end = class_end(p, n, i);
        if (!end) break; /* glob_valid reports it */
        if (memchr(p + i, '{', end - i) || memchr(p + i, '}', end - i)) {
            *why = "braces inside a character class (tokens cannot be substituted there)";
            return false;
        }
        i = end - 1;
    }
    buf x = {0};
    bool ok = tokens_to_x(p, n, &x, why);
    if (ok && !glob_valid(x.data ? x.data : (const uint8_t *)"", x.len)) {
        *why = "not a valid pattern (invalid UTF-8 or an unterminated [class])";
        ok = false;
    }
    buf_free(&x);
    return ok;
}

void authz_pattern_normalize(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '[') continue;
        size_t end = class_end(p, n, i);
        if (!end) return;
        if (i + 1 < n && p[i + 1] == '^') p[i + 1] = '!';
        i = end - 1;
    }
}
