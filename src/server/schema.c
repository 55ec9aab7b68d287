#include "server/schema.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int schema_fail(schema_ctx *sc, const yaml_node_t *at, const char *fmt, ...)
{
    int n = snprintf(sc->err, sc->errlen, "%s:%lu: ", sc->name, at ? (unsigned long)at->start_mark.line + 1 : 1UL);
    if (n >= 0 && (size_t)n < sc->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(sc->err + n, sc->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const char *schema_type_name(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE: return "a mapping";
    case YAML_SEQUENCE_NODE: return "a sequence";
    default: return "a scalar";
    }
}

bool schema_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
    const char *v = (const char *)n->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

const char *schema_text(const yaml_node_t *n, char *out, size_t outlen)
{
    size_t len = n->data.scalar.length, o = 0;
    const unsigned char *v = n->data.scalar.value;
    size_t max = outlen > 4 ? outlen - 4 : 0;
    if (max > 40) max = 40;
    for (size_t i = 0; i < len && i < max; i++)
        out[o++] = (v[i] >= 0x20 && v[i] < 0x7f && v[i] != '"') ? (char)v[i] : '?';
    if (len > max) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

const char *schema_scalar(schema_ctx *sc, const yaml_node_t *value, const char *path, const char *expected)
{
    if (value->type != YAML_SCALAR_NODE) {
        schema_fail(sc, value, "%s: expected %s, got %s", path, expected, schema_type_name(value));
        return NULL;
    }
    return (const char *)value->data.scalar.value;
}

const yaml_node_t *schema_find(schema_ctx *sc, const yaml_node_t *mapping, const char *key)
{
    if (mapping->type != YAML_MAPPING_NODE) return NULL;
    for (yaml_node_pair_t *p = mapping->data.mapping.pairs.start; p < mapping->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(sc->doc, p->key);
        if (k && k->type == YAML_SCALAR_NODE && k->data.scalar.length == strlen(key) &&
            !strcmp((const char *)k->data.scalar.value, key))
            return yaml_document_get_node(sc->doc, p->value);
    }
    return NULL;
}

static const key_spec *lookup(const key_spec *table, const yaml_node_t *k, size_t *index)
{
    const char *key = (const char *)k->data.scalar.value;
    for (size_t i = 0; table[i].key; i++) {
        if (strlen(table[i].key) == k->data.scalar.length && !strcmp(table[i].key, key)) {
            *index = i;
            return &table[i];
        }
    }
    return NULL;
}

int schema_walk(schema_ctx *sc, const yaml_node_t *mapping, const char *path, const key_spec *table, void *target)
{
    if (schema_is_null(mapping)) return 0;
    if (mapping->type != YAML_MAPPING_NODE) {
        if (*path) return schema_fail(sc, mapping, "%s: expected a mapping, got %s", path, schema_type_name(mapping));
        return schema_fail(sc, mapping, "expected a mapping at the top level, got %s", schema_type_name(mapping));
    }
    uint64_t seen = 0; /* tables have fewer than 64 keys */
    for (yaml_node_pair_t *p = mapping->data.mapping.pairs.start; p < mapping->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(sc->doc, p->key);
        yaml_node_t *v = yaml_document_get_node(sc->doc, p->value);
        if (k->type != YAML_SCALAR_NODE)
            return schema_fail(sc, k, "%s%sexpected a key, got %s", path, *path ? ": " : "", schema_type_name(k));
        char text[48], full[128];
        const char *sep = *path ? "." : "";
        size_t i = 0;
        const key_spec *spec = lookup(table, k, &i);
        if (!spec) return schema_fail(sc, k, "unknown key \"%s%s%s\"", path, sep, schema_text(k, text, sizeof text));
        snprintf(full, sizeof full, "%s%s%s", path, sep, spec->key);
        if (seen & (UINT64_C(1) << i)) return schema_fail(sc, k, "duplicate key \"%s\"", full);
        seen |= UINT64_C(1) << i;
        if (spec->parse(sc, v, full, spec, target) != 0) return -1;
    }
    return 0;
}

int schema_parse_section(schema_ctx *sc, const yaml_node_t *value, const char *path, const key_spec *spec, void *target)
{
    void *sub = (char *)target + spec->offset;
    if (schema_walk(sc, value, path, spec->sub, sub) != 0) return -1;
    return spec->check ? spec->check(sc, value, path, sub) : 0;
}

/* Plain decimal only: YAML 1.1 would also read 0x10, 0o7, 1_000 and
 * 1e3, none of which belong in a limits file. */
static bool parse_decimal(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s) return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

static void store_uint(void *dst, size_t size, uint64_t v)
{
    switch (size) {
    case 1: {
        uint8_t x = (uint8_t)v;
        memcpy(dst, &x, 1);
        break;
    }
    case 2: {
        uint16_t x = (uint16_t)v;
        memcpy(dst, &x, 2);
        break;
    }
    case 4: {
        uint32_t x = (uint32_t)v;
        memcpy(dst, &x, 4);
        break;
    }
    default: memcpy(dst, &v, 8); break;
    }
}

int schema_parse_uint(schema_ctx *sc, const yaml_node_t *value, const char *path, const key_spec *spec, void *target)
{
    uint64_t v;
    if (value->type != YAML_SCALAR_NODE)
        return schema_fail(sc, value, "%s: expected an integer between %llu and %llu, got %s", path,
                           (unsigned long long)spec->min, (unsigned long long)spec->max, schema_type_name(value));
    if (!parse_decimal((const char *)value->data.scalar.value, &v) || v < spec->min || v > spec->max) {
        char text[48];
        return schema_fail(sc, value, "%s: expected an integer between %llu and %llu, got \"%s\"", path,
                           (unsigned long long)spec->min, (unsigned long long)spec->max,
                           schema_text(value, text, sizeof text));
    }
    store_uint((char *)target + spec->offset, spec->size, v);
    return 0;
}
