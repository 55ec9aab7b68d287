/* A small table-driven validator for YAML documents (libyaml document
 * API). A section is a table of key_specs; each names a key, the parser
 * for its value, where the value goes (offset into the section's target
 * struct) and its bounds. New configuration sections (TLS, auth, store)
 * are new tables, not new walking code.
 *
 * Every error is reported as "name:line: path: message" through
 * schema_fail, and parsing stops at the first error. */
#ifndef MQS_SERVER_SCHEMA_H
#define MQS_SERVER_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

typedef struct schema_ctx {
    const char *name; /* file name for messages */
    yaml_document_t *doc;
    char *err;
    size_t errlen;
} schema_ctx;

typedef struct key_spec key_spec;

/* Parse `value` (the node of key `path`) into target + spec->offset.
 * Returns 0, or -1 after schema_fail. */
typedef int (*schema_parse_fn)(schema_ctx *sc, const yaml_node_t *value, const char *path, const key_spec *spec,
                               void *target);
/* Cross-key validation of a section once all its keys are parsed. */
typedef int (*schema_check_fn)(schema_ctx *sc, const yaml_node_t *mapping, const char *path, void *target);

struct key_spec {
    const char *key;
    schema_parse_fn parse;
    size_t offset;
    size_t size;           /* schema_parse_uint: 1, 2, 4 or 8 bytes */
    uint64_t min, max;     /* schema_parse_uint bounds */
    const key_spec *sub;   /* schema_parse_section: the nested table */
    schema_check_fn check; /* schema_parse_section: optional */
};

#define SCHEMA_END                         \
    {                                      \
        NULL, NULL, 0, 0, 0, 0, NULL, NULL \
    }

int schema_fail(schema_ctx *sc, const yaml_node_t *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const char *schema_type_name(const yaml_node_t *n);
bool schema_is_null(const yaml_node_t *n);
/* The value node of `key` in a mapping, or NULL. */
const yaml_node_t *schema_find(schema_ctx *sc, const yaml_node_t *mapping, const char *key);

/* Walk a mapping node against a table: unknown and duplicate keys are
 * errors; keys absent from the document leave their target untouched.
 * A null node counts as an empty mapping. */
int schema_walk(schema_ctx *sc, const yaml_node_t *mapping, const char *path, const key_spec *table, void *target);

/* Value parsers for key_spec.parse. */
int schema_parse_uint(schema_ctx *sc, const yaml_node_t *value, const char *path, const key_spec *spec, void *target);
int schema_parse_section(schema_ctx *sc, const yaml_node_t *value, const char *path, const key_spec *spec,
                         void *target);
/* A scalar as text (NUL-terminated by libyaml), or NULL after an error. */
const char *schema_scalar(schema_ctx *sc, const yaml_node_t *value, const char *path, const char *expected);
/* A scalar's text made safe for a message: at most 40 characters then
 * "...", non-printable bytes and '"' as '?'. Returns out. */
const char *schema_text(const yaml_node_t *n, char *out, size_t outlen);

#endif
