/* libFuzzer target: the authorization rules loader (the `authorization:`
 * YAML section) and the matchers behind every decision.
 *
 * Input: a YAML document, optionally followed by a NUL byte and probe
 * lines "client id\nusername\ntopic or filter\nkey". The loader must
 * reject bad documents with a "name:line:" message; an accepted policy is
 * then asked every kind of question about the probe, with and without the
 * view cache warm, and must answer the same both times. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth/authz.h"
#include "auth/principal.h"
#include "mqtt/codec.h"
#include "server/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct slice {
    const uint8_t *p;
    size_t n;
} slice;

/* The next '\n'-terminated field of *rest (the whole rest if none). */
static slice next_field(slice *rest)
{
    const uint8_t *nl = rest->n ? memchr(rest->p, '\n', rest->n) : NULL;
    slice f = {rest->p, nl ? (size_t)(nl - rest->p) : rest->n};
    rest->p += nl ? f.n + 1 : f.n;
    rest->n -= nl ? f.n + 1 : f.n;
    return f;
}

static unsigned ask(authz *a, const principal *p, slice topic, slice key)
{
    unsigned bits = authz_connect(a, p);
    mqtt_bytes t = {topic.p, (uint32_t)topic.n};
    if (topic.n && mqtt_topic_valid(t)) bits |= (unsigned)authz_publish(a, p, topic.p, topic.n) << 1;
    if (topic.n && mqtt_filter_valid(t)) bits |= (unsigned)authz_subscribe(a, p, topic.p, topic.n) << 2;
    bits |= (unsigned)authz_key(a, p, key.p, key.n, AUTHZ_READ) << 3;
    bits |= (unsigned)authz_key(a, p, key.p, key.n, AUTHZ_WRITE) << 4;
    return bits;
}

static void probe(authz *a, slice rest)
{
    slice id = next_field(&rest), user = next_field(&rest), topic = next_field(&rest), key = rest;
    principal *p = principal_new(id.p, id.n, user.n ? user.p : NULL, user.n, "anonymous");
    principal_add_attr(p, "site", "north");
    if (ask(a, p, topic, key) != ask(a, p, topic, key)) __builtin_trap(); /* cold == warm cache */
    const char *why;
    bool valid = topic.n && mqtt_filter_valid((mqtt_bytes){topic.p, (uint32_t)topic.n});
    if (valid && !authz_filter_covers(topic.p, topic.n, topic.p, topic.n)) __builtin_trap(); /* reflexive */
    (void)authz_pattern_template_valid((const char *)key.p, key.n, &why);
    principal_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t ylen = nul ? (size_t)(nul - data) : size;
    config c;
    char err[512] = "";
    config_init(&c);
    if (config_load_string(&c, "fuzz.yaml", data, ylen, err, sizeof err) != 0) {
        if (strncmp(err, "fuzz.yaml:", 10) != 0) __builtin_trap();
    } else {
        authz *a = config_authz_take(&c.authz);
        slice rest = {nul ? nul + 1 : data + size, nul ? size - ylen - 1 : 0};
        probe(a, rest);
        authz_free(a);
    }
    config_free(&c);
    return 0;
}
