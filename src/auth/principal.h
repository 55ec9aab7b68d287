/* The authenticated identity of one connection: what authorization rules
 * match on (protocol §10.1: client ids, usernames, attributes).
 *
 * Created by the authenticator when a CONNECT is accepted, owned by the
 * broker's client object for the connection's lifetime and released with
 * principal_free. The broker only passes it around (it forward-declares
 * struct principal, never looks inside and reaches principal_new/free/
 * same only through the ops src/server/principal_ops.c gives it); src/auth
 * reads it. */
#ifndef MQS_AUTH_PRINCIPAL_H
#define MQS_AUTH_PRINCIPAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct principal_attr {
    char *name;  /* NUL-terminated, owned */
    char *value; /* NUL-terminated, owned */
} principal_attr;

/* One allocation holds the struct and both strings (every connection has
 * a principal, so its memory counts per connection); client_id and
 * username point into `bytes` and are never freed on their own. */
typedef struct principal {
    uint8_t *client_id; /* copy of the MQTT client identifier (in bytes[]) */
    size_t client_id_len;
    uint8_t *username; /* copy (in bytes[]); NULL when the client is anonymous */
    size_t username_len;
    principal_attr *attrs; /* owned array, e.g. from X.509 subject mapping */
    size_t nattrs;
    const char *method; /* static: "anonymous", "password", "x509" */
    uint8_t bytes[];    /* client id, then user name */
} principal;

principal *principal_new(const void *client_id, size_t client_id_len, const void *username, size_t username_len,
                         const char *method);
void principal_add_attr(principal *p, const char *name, const char *value);
/* NULL if the principal has no attribute of that name. */
const char *principal_attr_get(const principal *p, const char *name);
void principal_free(principal *p);
/* Same identity: method, client id, user name (present or not) and
 * attributes all equal (attributes in any order). NULL, the broker's
 * anonymous connection without a principal, equals only NULL. The broker
 * uses it to tell whose a session is without looking inside. */
bool principal_same(const principal *a, const principal *b);

/* A byte encoding that principal_decode turns back into a principal
 * principal_same as p (durable sessions keep their owner across a
 * restart): version byte, method, client id, user name (flagged present
 * or not), attributes; lengths little endian. Writes the encoding to
 * out[0..cap) only if it fits, allocates nothing (it runs in a snapshot
 * child too) and returns its length either way (snprintf style). */
size_t principal_encode(const principal *p, uint8_t *out, size_t cap);
/* NULL if p[0..n) is not an encoding (or names an unknown method). */
principal *principal_decode(const uint8_t *p, size_t n);

#endif
