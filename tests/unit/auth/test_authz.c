/* The authorization rules engine (src/auth/authz.h, protocol §10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "auth/authz.h"
#include "auth/principal.h"

static principal *P(const char *id, const char *user)
{
    return principal_new(id, strlen(id), user, user ? strlen(user) : 0, "anonymous");
}

static const char *why;

static void topics(authz *a, authz_method m, const char *t0, const char *t1)
{
    const char *t[2] = {t0, t1};
    assert_int_equal(authz_rule_broker(a, m, t, t1 ? 2 : 1, NULL, 0, &why), 0);
}

static void key(authz *a, unsigned acc, authz_key_type type, const char *k)
{
    assert_int_equal(authz_rule_key(a, acc, type, (const uint8_t *)k, strlen(k), &why), 0);
}

static bool pub(authz *a, const principal *p, const char *t)
{
    return authz_publish(a, p, (const uint8_t *)t, strlen(t));
}

static bool sub(authz *a, const principal *p, const char *f)
{
    return authz_subscribe(a, p, (const uint8_t *)f, strlen(f));
}

static bool rd(authz *a, const principal *p, const char *k)
{
    return authz_key(a, p, (const uint8_t *)k, strlen(k), AUTHZ_READ);
}

static bool wr(authz *a, const principal *p, const char *k)
{
    return authz_key(a, p, (const uint8_t *)k, strlen(k), AUTHZ_WRITE);
}

static bool cov(const char *outer, const char *inner)
{
    return authz_filter_covers((const uint8_t *)outer, strlen(outer), (const uint8_t *)inner, strlen(inner));
}

static void test_disabled_allows_everything(void **state)
{
    (void)state;
    authz *a = authz_new(false, false);
    principal *p = P("c1", NULL);
    assert_true(authz_connect(a, p));
    assert_true(pub(a, p, "x/y"));
    assert_true(sub(a, p, "#"));
    assert_true(rd(a, p, "k"));
    assert_true(wr(a, p, "k"));
    principal_free(p);
    authz_free(a);
}

static void test_default_deny(void **state)
{
    (void)state;
    authz *a = authz_new(true, false);
    principal *p = P("c1", "u1");
    assert_false(authz_connect(a, p));
    assert_false(pub(a, p, "x"));
    assert_false(sub(a, p, "x"));
    assert_false(rd(a, p, "k"));
    assert_false(wr(a, p, "k"));
    assert_false(authz_connect(a, NULL));
    principal_free(p);
    authz_free(a);
}

static void test_principals_or_and(void **state)
{
    (void)state;
    authz *a = authz_new(true, false);
    authz_rule_begin(a);
    authz_rule_client_id(a, "sensor-1");
    authz_rule_username(a, "alice");
    const char *n[2] = {"building", "floor"}, *v[2] = {"b22", "3"};
    authz_rule_attributes(a, n, v, 2);
    assert_int_equal(authz_rule_broker(a, AUTHZ_CONNECT, NULL, 0, NULL, 0, &why), 0);
    assert_int_equal(authz_rule_end(a, &why), 0);

    principal *by_id = P("sensor-1", NULL), *by_user = P("x", "alice"), *nobody = P("sensor-2", "bob");
    principal *both = P("y", NULL), *half = P("z", NULL), *anon_alice = P("alice", NULL);
    principal_add_attr(both, "floor", "3");
    principal_add_attr(both, "building", "b22");
    principal_add_attr(half, "building", "b22");
    assert_true(authz_connect(a, by_id));
    assert_true(authz_connect(a, by_user));
    assert_true(authz_connect(a, both));
    assert_false(authz_connect(a, nobody));
    assert_false(authz_connect(a, half));       /* all pairs of a map must match */
    assert_false(authz_connect(a, anon_alice)); /* a client id is not a username */
    principal_free(by_id);
    principal_free(by_user);
    principal_free(nobody);
    principal_free(both);
    principal_free(half);
    principal_free(anon_alice);
    authz_free(a);
}

static void test_rule_without_principals(void **state)
{
    (void)state;
    authz *a = authz_new(true, false);
    authz_rule_begin(a);
    assert_int_equal(authz_rule_end(a, &why), -1);
    authz_free(a);
}

static void test_connect_client_ids(void **state)
{
    (void)state;
    authz *a = authz_new(true, false);
    authz_rule_begin(a);
    authz_rule_username(a, "u");
    const char *ids[1] = {"{principal.attributes.building}-*"};
    assert_int_equal(authz_rule_broker(a, AUTHZ_CONNECT, NULL, 0, ids, 1, &why), 0);
    principal *ok = P("b22-7", "u"), *wrong = P("b23-7", "u"), *noattr = P("b22-7", "u");
    principal_add_attr(ok, "building", "b22");
    principal_add_attr(wrong, "building", "b22");
    assert_true(authz_connect(a, ok));
    assert_false(authz_connect(a, wrong));
    assert_false(authz_connect(a, noattr)); /* missing attribute: no match */
    principal_free(ok);
    principal_free(wrong);
    principal_free(noattr);
    authz_free(a);
}

static void test_filter_covers(void **state)
{
    (void)state;
    static const struct {
        const char *outer, *inner;
        bool expect;
    } t[] = {
        {"#", "a", true},
        {"#", "a/b/c", true},
        {"#", "#", true},
        {"#", "+/x", true},
        {"#", "$SYS/x", false},
        {"+/#", "$SYS", false},
        {"$SYS/#", "$SYS/x", true},
        {"a/#", "a", true},
        {"a/#", "a/b/#", true},
        {"a/#", "b", false},
        {"a/+", "a/b", true},
        {"a/+", "a/+", true},
        {"a/+", "a/#", false},
        {"a/+", "a", false},
        {"a/+", "a/b/c", false},
        {"a/b", "a/b", true},
        {"a/b", "a/+", false},
        {"a/b", "a/b/c", false},
        {"a/b/c", "a/b", false},
        {"+/+", "a/b", true},
        {"+/+", "+/+", true},
        {"+", "", true},
        {"a//b", "a//b", true},
        {"a/+/c", "a//c", true},
        {"a/b/#", "a/+/#", false},
        {"clients/c1/#", "clients/c1", true},
        {"clients/c1/#", "clients/c10/x", false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (cov(t[i].outer, t[i].inner) != t[i].expect) fail_msg("%s covers %s", t[i].outer, t[i].inner);
    }
}

static void test_topic_substitution(void **state)
{
    (void)state;
    authz *a = authz_new(true, false);
    authz_rule_begin(a);
    authz_rule_client_id(a, "c1");
    authz_rule_client_id(a, "a/b");
    authz_rule_client_id(a, "w+");
    authz_rule_client_id(a, "u1");
    topics(a, AUTHZ_PUBLISH, "clients/{principal.clientId}/#", NULL);
    topics(a, AUTHZ_SUBSCRIBE, "users/{principal.username}/+", "site/{principal.attributes.site}/#");
    principal *c1 = P("c1", "alice"), *slash = P("a/b", NULL), *wild = P("w+", NULL), *u1 = P("u1", NULL);
    principal_add_attr(c1, "site", "north");
    assert_true(pub(a, c1, "clients/c1/x/y"));
    assert_true(pub(a, c1, "clients/c1"));
    assert_false(pub(a, c1, "clients/c2/x"));
    assert_false(pub(a, c1, "clients/c10"));
    assert_true(sub(a, c1, "users/alice/inbox"));
    assert_true(sub(a, c1, "users/alice/+"));
    assert_false(sub(a, c1, "users/alice/#"));
    assert_false(sub(a, c1, "users/bob/x"));
    assert_true(sub(a, c1, "site/north/#"));
    assert_false(sub(a, c1, "site/+/x"));
    /* values that would widen the filter make the entry match nothing */
    assert_false(pub(a, slash, "clients/a/b/x"));
    assert_false(pub(a, wild, "clients/w+/x"));
    assert_false(pub(a, wild, "clients/wz/x"));
    /* no username / no attribute: those entries match nothing */
    assert_false(sub(a, u1, "users//x"));
    assert_false(sub(a, u1, "site//x"));
    assert_true(pub(a, u1, "clients/u1/x"));
    principal_free(c1);
    principal_free(slash);
    principal_free(wild);
    principal_free(u1);
    authz_free(a);
}

static void test_bad_templates(void **state)
{
    (void)state;
    authz *a = authz_new(true, false);
    authz_rule_begin(a);
    const char *bad_topics[] = {"a/#/b",      "a+", "{principal.clientid}/x", "x/{principal.attributes.}", "a}",
                                "$share/g/x", ""};
    for (size_t i = 0; i < sizeof bad_topics / sizeof *bad_topics; i++) {
        const char *t[1] = {bad_topics[i]};
        why = NULL;
        if (authz_rule_broker(a, AUTHZ_PUBLISH, t, 1, NULL, 0, &why) != -1) fail_msg("%s accepted", t[0]);
        assert_non_null(why);
    }
    const char *t[1] = {"x"};
    assert_int_equal(authz_rule_broker(a, AUTHZ_CONNECT, t, 1, NULL, 0, &why), -1);
    assert_int_equal(authz_rule_broker(a, AUTHZ_PUBLISH, NULL, 0, NULL, 0, &why), -1);
    assert_int_equal(authz_rule_broker(a, AUTHZ_SUBSCRIBE, t, 1, t, 1, &why), -1);
    const char *bad_keys[] = {"[abc", "[{principal.clientId}]", "a{b", "\xff", "x}"};
    for (size_t i = 0; i < sizeof bad_keys / sizeof *bad_keys; i++) {
        if (authz_rule_key(a, AUTHZ_READ, AUTHZ_KEY_PATTERN, (const uint8_t *)bad_keys[i], strlen(bad_keys[i]), &why) !=
            -1)
            fail_msg("%s accepted", bad_keys[i]);
    }
    assert_int_equal(authz_rule_key(a, AUTHZ_READ, AUTHZ_KEY_STRING, (const uint8_t *)"", 0, &why), -1);
    assert_int_equal(authz_rule_key(a, 0, AUTHZ_KEY_STRING, (const uint8_t *)"k", 1, &why), -1);
    authz_free(a);
}

static void test_key_types_and_methods(void **state)
{
    (void)state;
    authz *a = authz_new(true, false);
    authz_rule_begin(a);
    authz_rule_client_id(a, "c1");
    key(a, AUTHZ_READ, AUTHZ_KEY_PATTERN, "colors/*");
    key(a, AUTHZ_READ, AUTHZ_KEY_PATTERN, "number[0-9]");
    key(a, AUTHZ_READ, AUTHZ_KEY_PATTERN, "n[^0-9]");
    key(a, AUTHZ_WRITE, AUTHZ_KEY_PATTERN, "char?");
    key(a, AUTHZ_READ | AUTHZ_WRITE, AUTHZ_KEY_STRING, "lit*[x]{y}");
    static const uint8_t bin[] = {0x00, 0xff, 0x10};
    assert_int_equal(authz_rule_key(a, AUTHZ_READ | AUTHZ_WRITE, AUTHZ_KEY_BINARY, bin, 3, &why), 0);
    key(a, AUTHZ_READ | AUTHZ_WRITE, AUTHZ_KEY_PATTERN, "own/{principal.clientId}/*");
    principal *p = P("c1", NULL);
    assert_true(rd(a, p, "colors/red"));
    assert_true(rd(a, p, "colors/a/b")); /* '*' spans '/' */
    assert_false(wr(a, p, "colors/red"));
    assert_true(rd(a, p, "number7"));
    assert_false(rd(a, p, "numberx"));
    assert_true(rd(a, p, "nx"));
    assert_false(rd(a, p, "n7"));
    assert_true(wr(a, p, "charé")); /* '?' is one UTF-8 character */
    assert_false(rd(a, p, "chara"));
    assert_true(rd(a, p, "lit*[x]{y}"));
    assert_true(wr(a, p, "lit*[x]{y}"));
    assert_false(rd(a, p, "lit*x{y}"));
    assert_true(authz_key(a, p, bin, 3, AUTHZ_READ));
    assert_true(authz_key(a, p, bin, 3, AUTHZ_WRITE));
    assert_false(authz_key(a, p, bin, 2, AUTHZ_READ));
    assert_true(wr(a, p, "own/c1/x"));
    assert_false(wr(a, p, "own/c2/x"));
    principal_free(p);
    authz_free(a);
}

static void test_key_substitution_is_literal(void **state)
{
    (void)state;
    authz *a = authz_new(true, false);
    authz_rule_begin(a);
    authz_rule_client_id(a, "*");
    authz_rule_client_id(a, "a/b");
    authz_rule_client_id(a, "q?");
    key(a, AUTHZ_READ, AUTHZ_KEY_PATTERN, "sandbox/{principal.clientId}/*");
    key(a, AUTHZ_READ, AUTHZ_KEY_PATTERN, "team/{principal.attributes.team}");
    principal *star = P("*", NULL), *slash = P("a/b", NULL), *q = P("q?", NULL);
    assert_true(rd(a, star, "sandbox/*/k"));
    assert_false(rd(a, star, "sandbox/other/k"));
    assert_false(rd(a, slash, "sandbox/a/b/k"));
    assert_true(rd(a, q, "sandbox/q?/k"));
    assert_false(rd(a, q, "sandbox/qx/k"));
    assert_false(rd(a, q, "team/"));
    principal_free(star);
    principal_free(slash);
    principal_free(q);
    authz_free(a);
}

static void test_compat_switch(void **state)
{
    (void)state;
    principal *p = P("c1", NULL);
    authz *a = authz_new(true, true);
    authz_rule_begin(a);
    authz_rule_client_id(a, "other");
    assert_true(rd(a, p, "anything"));
    assert_true(wr(a, p, "anything"));
    key(a, AUTHZ_READ, AUTHZ_KEY_STRING, "k");
    /* one key rule anywhere turns the switch off */
    assert_false(rd(a, p, "anything"));
    authz_free(a);
    a = authz_new(true, false);
    authz_rule_begin(a);
    authz_rule_client_id(a, "c1");
    assert_false(rd(a, p, "anything"));
    authz_free(a);
    principal_free(p);
}

static void test_view_cache(void **state)
{
    (void)state;
    authz *a = authz_new(true, false);
    authz_rule_begin(a);
    authz_rule_client_id(a, "c1");
    key(a, AUTHZ_READ, AUTHZ_KEY_STRING, "k");
    principal *p = P("c1", NULL), *same = P("c1", NULL), *other = P("c1", "u");
    assert_int_equal(authz_cached_views(a), 0);
    assert_true(rd(a, p, "k"));
    assert_true(rd(a, same, "k"));
    assert_int_equal(authz_cached_views(a), 1); /* keyed by content */
    assert_true(rd(a, other, "k"));
    assert_int_equal(authz_cached_views(a), 2);
    /* extending the policy drops views: the new rule is seen at once */
    authz_rule_begin(a);
    authz_rule_client_id(a, "c1");
    key(a, AUTHZ_WRITE, AUTHZ_KEY_STRING, "k");
    assert_int_equal(authz_cached_views(a), 0);
    assert_true(wr(a, p, "k"));
    /* a reload is a new policy: nothing carries over */
    authz *b = authz_new(true, false);
    assert_false(rd(b, p, "k"));
    authz_free(b);
    principal_free(p);
    principal_free(same);
    principal_free(other);
    authz_free(a);
}

/* principal_same: whose a session is (method, id, user name, attributes). */
static void test_principal_same(void **state)
{
    (void)state;
    principal *a = P("dev", "alice"), *a2 = P("dev", "alice"), *b = P("dev", "bob"), *none = P("dev", NULL);
    principal *empty = principal_new("dev", 3, "", 0, "anonymous");
    principal *pw = principal_new("dev", 3, "alice", 5, "password");
    assert_true(principal_same(a, a2));
    assert_true(principal_same(NULL, NULL));
    assert_false(principal_same(a, NULL) || principal_same(NULL, a));
    assert_false(principal_same(a, b));
    assert_false(principal_same(a, pw));       /* another authentication method */
    assert_false(principal_same(none, empty)); /* no user name is not an empty one */
    principal_add_attr(a, "unit", "s");
    principal_add_attr(a, "site", "x");
    assert_false(principal_same(a, a2));
    principal_add_attr(a2, "site", "x");
    principal_add_attr(a2, "unit", "s");
    assert_true(principal_same(a, a2)); /* attributes in any order */
    principal_free(a2);
    a2 = P("dev", "alice");
    principal_add_attr(a2, "site", "x");
    principal_add_attr(a2, "unit", "t");
    assert_false(principal_same(a, a2));
    principal_free(a);
    principal_free(a2);
    principal_free(b);
    principal_free(none);
    principal_free(empty);
    principal_free(pw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_principal_same),
        cmocka_unit_test(test_disabled_allows_everything),
        cmocka_unit_test(test_default_deny),
        cmocka_unit_test(test_principals_or_and),
        cmocka_unit_test(test_rule_without_principals),
        cmocka_unit_test(test_connect_client_ids),
        cmocka_unit_test(test_filter_covers),
        cmocka_unit_test(test_topic_substitution),
        cmocka_unit_test(test_bad_templates),
        cmocka_unit_test(test_key_types_and_methods),
        cmocka_unit_test(test_key_substitution_is_literal),
        cmocka_unit_test(test_compat_switch),
        cmocka_unit_test(test_view_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
