/* Authorization rules (protocol §10, docs/security-authorization.md): who
 * may CONNECT, PUBLISH to which topics, SUBSCRIBE to which filters, and
 * read or write which state store keys.
 *
 * An `authz` is one compiled policy, built once when the configuration is
 * loaded (authz_new + authz_rule_* calls, usually by the YAML loader) and
 * never changed afterwards: a reload builds a new one and swaps it in, so
 * a policy's decisions never change under a connection mid-operation.
 *
 * Decisions are made per principal. The first decision for a principal
 * resolves every rule that names it into a "view" (substitution tokens
 * replaced, filters and patterns ready to match) and caches it in the
 * policy, keyed by the principal's content (client id, username,
 * attributes), so later decisions neither re-match principals nor
 * allocate. The cache dies with the policy: a reload invalidates it.
 *
 * Semantics (all documented for operators):
 *  - disabled policy: everything is allowed;
 *  - enabled: default deny, a request is allowed if some rule whose
 *    principals match grants it;
 *  - principals: clientIds and usernames match exactly; an attributes
 *    entry is a map whose pairs must all match; entries are OR-ed;
 *  - Publish/Subscribe topics are MQTT filters; a PUBLISH topic is allowed
 *    if a granted filter matches it, a SUBSCRIBE filter if a granted filter
 *    covers it (authz_filter_covers);
 *  - Connect clientIds are glob patterns (as keys), absent = any;
 *  - tokens {principal.clientId}, {principal.username},
 *    {principal.attributes.NAME} are substituted; a missing value makes the
 *    entry match nothing; a value containing '/' (or, in topics, '+' or
 *    '#') also makes it match nothing, so that a crafted identity cannot
 *    widen or escape its sandbox; in key patterns glob metacharacters of a
 *    value are matched literally.
 *
 * Not thread-safe (one event loop). */
#ifndef MQS_AUTH_AUTHZ_H
#define MQS_AUTH_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct principal;

typedef struct authz authz;

typedef enum authz_method { AUTHZ_CONNECT, AUTHZ_PUBLISH, AUTHZ_SUBSCRIBE } authz_method;
typedef enum authz_key_type { AUTHZ_KEY_PATTERN, AUTHZ_KEY_STRING, AUTHZ_KEY_BINARY } authz_key_type;

/* State store access bits; ReadWrite is both. */
#define AUTHZ_READ 1u
#define AUTHZ_WRITE 2u

/* `allow_all_keys_without_rules`: when no rule has any state store
 * resource, every key is allowed (the compatibility switch of §10.3). */
authz *authz_new(bool enabled, bool allow_all_keys_without_rules);
void authz_free(authz *a);
/* Set both switches (the loader learns them after the rules). */
void authz_set_mode(authz *a, bool enabled, bool allow_all_keys_without_rules);
bool authz_enabled(const authz *a);

/* --- building ---------------------------------------------------------------
 *
 * Each call adds to the rule most recently started with authz_rule_begin.
 * Functions returning int give 0, or -1 with *why set to a static message
 * describing what is wrong with the value (the loader adds file, line and
 * key). Strings are copied. */
void authz_rule_begin(authz *a);
void authz_rule_client_id(authz *a, const char *id);
void authz_rule_username(authz *a, const char *name);
/* One attributes map: all `n` pairs must match. */
void authz_rule_attributes(authz *a, const char *const *names, const char *const *values, size_t n);
/* One brokerResources entry. Connect takes client id patterns (none = any
 * client id) and no topics; Publish and Subscribe take topic filters (at
 * least one) and no client ids. */
int authz_rule_broker(authz *a, authz_method m, const char *const *topics, size_t ntopics,
                      const char *const *client_ids, size_t nids, const char **why);
/* One key of a stateStoreResources entry; `access` is AUTHZ_READ and/or
 * AUTHZ_WRITE. Pattern and String keys are UTF-8 text, Binary keys the
 * decoded bytes. */
int authz_rule_key(authz *a, unsigned access, authz_key_type type, const uint8_t *key, size_t len, const char **why);
/* The current rule is complete: -1 if it names no principal. */
int authz_rule_end(authz *a, const char **why);

/* Validation used by authz_rule_broker / authz_rule_key, also for the
 * loader's messages: a topic filter or a key pattern template. */
bool authz_filter_template_valid(const char *f, const char **why);
bool authz_pattern_template_valid(const char *p, size_t len, const char **why);

/* --- decisions ------------------------------------------------------------------
 *
 * `p` must not be NULL. None of these allocates once the principal's view
 * is cached. */
bool authz_connect(authz *a, const struct principal *p);
bool authz_publish(authz *a, const struct principal *p, const uint8_t *topic, size_t len);
/* `filter` without any "$share/<group>/" prefix. */
bool authz_subscribe(authz *a, const struct principal *p, const uint8_t *filter, size_t len);
bool authz_key(authz *a, const struct principal *p, const uint8_t *key, size_t klen, unsigned access);

/* Does every topic name matched by `inner` also match `outer` (both valid
 * MQTT filters, no "$share/")? Level by level: `#` in outer covers the
 * rest (including the parent level, as `a/#` matches `a`); `+` in outer
 * covers one level that is literal or `+` in inner; a literal covers only
 * the same literal. A wildcard first level never covers a "$" level (MQTT
 * 4.7.2: `#` does not match "$SYS/..."). A topic name is a filter without
 * wildcards, so this is also "does outer match the topic". */
bool authz_filter_covers(const uint8_t *outer, size_t olen, const uint8_t *inner, size_t ilen);

/* Principals with a cached view (for tests and statistics). */
size_t authz_cached_views(const authz *a);

#endif
