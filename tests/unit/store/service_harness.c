/* The fixture shared by the service test groups (see service_tests.h). */
#include <stdio.h>
#include <stdlib.h>

#include "service_tests.h"
#include "util/alloc.h"

static void record_note(void *ctx, const store_notification *n)
{
    fx *f = ctx;
    if (f->nnotes == f->notes_cap) {
        f->notes_cap = f->notes_cap ? 2 * f->notes_cap : 16;
        f->notes = xrealloc(f->notes, f->notes_cap * sizeof *f->notes);
    }
    note *o = &f->notes[f->nnotes++];
    memset(o, 0, sizeof *o);
    buf_append(&o->client, n->client_id.data, n->client_id.len);
    buf_append(&o->topic, n->topic.data, n->topic.len);
    buf_append(&o->payload, n->payload.data, n->payload.len);
    buf_append(&o->version, n->version.data, n->version.len);
}

fx *fx_new(void (*cfg)(store_config *c))
{
    fx *f = xcalloc(1, sizeof *f);
    store_config c;
    store_config_default(&c);
    if (cfg) cfg(&c);
    f->s = store_service_new(&c, record_note, f);
    assert_non_null(f->s);
    store_reply_init(&f->r);
    f->now = T0;
    f->client = "client-1";
    return f;
}

void fx_clear_notes(fx *f)
{
    for (size_t i = 0; i < f->nnotes; i++) {
        buf_free(&f->notes[i].client);
        buf_free(&f->notes[i].topic);
        buf_free(&f->notes[i].payload);
        buf_free(&f->notes[i].version);
    }
    f->nnotes = 0;
}

void fx_free(fx *f)
{
    fx_clear_notes(f);
    free(f->notes);
    store_reply_free(&f->r);
    store_service_free(f->s);
    buf_free(&f->last_principal);
    free(f);
}

int fx_setup(void **state)
{
    *state = fx_new(NULL);
    return 0;
}

int fx_teardown(void **state)
{
    fx_free(*state);
    return 0;
}

const char *fx_ts(fx *f, int64_t delta_ms)
{
    snprintf(f->ts_text, sizeof f->ts_text, "%015llu:00000:client", (unsigned long long)((int64_t)f->now + delta_ms));
    return f->ts_text;
}

static store_bytes prop(const char *s) { return (store_bytes){(const uint8_t *)s, s ? strlen(s) : 0}; }

static void run_payload(fx *f, const char *ts, const char *ft, const char *pv, const void *p, size_t n)
{
    store_request req = {
        .who = {.client_id = prop(f->client)},
        .payload = {p, n},
        .ts = prop(ts),
        .ft = prop(ft),
        .prot_ver = prop(pv),
        .now_ms = f->now,
    };
    store_service_execute(f->s, &req, &f->r);
}

void fx_dob(fx *f, const char *ts, const char *ft, const resp_slice *argv, size_t argc)
{
    buf b = {0};
    resp_put_request(&b, argv, argc);
    run_payload(f, ts, ft, NULL, b.data, b.len);
    buf_free(&b);
}

void fx_do(fx *f, const char *ts, const char *ft, const char *pv, size_t argc, const char *const *argv)
{
    resp_slice sl[RESP_ARGC_MAX];
    assert_true(argc <= RESP_ARGC_MAX);
    for (size_t i = 0; i < argc; i++) sl[i] = (resp_slice){(const uint8_t *)argv[i], strlen(argv[i])};
    buf b = {0};
    resp_put_request(&b, sl, argc);
    run_payload(f, ts, ft, pv, b.data, b.len);
    buf_free(&b);
}

void fx_raw(fx *f, const char *ts, const void *payload, size_t n) { run_payload(f, ts, NULL, NULL, payload, n); }

void fx_expect_n(fx *f, const void *want, size_t n)
{
    assert_int_equal(f->r.status, 200);
    if (f->r.payload.len != n || memcmp(f->r.payload.data, want, n) != 0) {
        print_error("reply: '%.*s' (%zu bytes), want '%.*s'\n", (int)(f->r.payload.len < 200 ? f->r.payload.len : 200),
                    (const char *)f->r.payload.data, f->r.payload.len, (int)(n < 200 ? n : 200), (const char *)want);
        fail();
    }
}

void fx_expect(fx *f, const char *want) { fx_expect_n(f, want, strlen(want)); }

void fx_expect_err(fx *f, resp_error e)
{
    char want[256];
    snprintf(want, sizeof want, "-ERR %s\r\n", resp_error_text(e));
    fx_expect(f, want);
    fx_expect_no_version(f);
}

hlc fx_version(fx *f)
{
    hlc v;
    assert_true(f->r.has_version);
    assert_true(hlc_parse(f->r.version.data, f->r.version.len, &v));
    assert_memory_equal(v.node, "mqstated", 8);
    assert_int_equal(v.node_len, 8);
    return v;
}

void fx_expect_no_version(fx *f) { assert_false(f->r.has_version); }

static bool deny(void *ctx, const store_principal *who, const uint8_t *key, size_t klen, store_access access)
{
    fx *f = ctx;
    f->auth_calls++;
    f->last_access = access;
    f->last_principal.len = 0;
    buf_append(&f->last_principal, who->client_id.data, who->client_id.len);
    size_t pl = strlen(f->deny_prefix);
    bool match = klen >= pl && memcmp(key, f->deny_prefix, pl) == 0;
    return !(match && (f->deny_both || access == f->deny_access));
}

void fx_deny(fx *f, const char *prefix, store_access access, bool both)
{
    f->deny_prefix = prefix;
    f->deny_access = access;
    f->deny_both = both;
    store_service_set_authorizer(f->s, deny, f);
}

static void hex(buf *b, const void *p, size_t n)
{
    const uint8_t *s = p;
    for (size_t i = 0; i < n; i++) {
        char two[3];
        snprintf(two, sizeof two, "%02X", s[i]);
        buf_append(b, two, 2);
    }
}

void fx_expect_note(fx *f, size_t i, const char *client, const void *key, size_t klen, const void *payload, size_t plen)
{
    assert_true(i < f->nnotes);
    note *n = &f->notes[i];
    assert_int_equal(n->client.len, strlen(client));
    assert_memory_equal(n->client.data, client, n->client.len);
    buf t = {0};
    buf_append(&t, "clients/statestore/v1/FA9AE35F-2F64-47CD-9BFF-08E2B32A0FE8/", 59);
    hex(&t, client, strlen(client));
    buf_append(&t, "/command/notify/", 16);
    hex(&t, key, klen);
    assert_int_equal(n->topic.len, t.len);
    assert_memory_equal(n->topic.data, t.data, t.len);
    buf_free(&t);
    assert_int_equal(n->payload.len, plen);
    assert_memory_equal(n->payload.data, payload, plen);
    (void)fx_note_version(f, i);
}

hlc fx_note_version(fx *f, size_t i)
{
    hlc v;
    assert_true(i < f->nnotes);
    assert_true(hlc_parse(f->notes[i].version.data, f->notes[i].version.len, &v));
    assert_int_equal(v.node_len, 8);
    return v;
}
