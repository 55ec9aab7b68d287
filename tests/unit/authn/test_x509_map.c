/* Certificate field mapping. The certificate is generated at test time
 * with the openssl command into a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "auth/x509_map.h"

static X509 *cert;

static int setup(void **state)
{
    (void)state;
    char dir[] = "/tmp/mqs-x509-XXXXXX", cmd[1024], path[64];
    if (!mkdtemp(dir)) return -1;
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout %s/k.pem "
             "-out %s/c.pem -days 1 -subj '/C=DE/O=Example/OU=ops/OU=second/CN=alice' "
             "-addext 'subjectAltName=DNS:alice.example,email:alice@example.com,URI:spiffe://ex/alice,IP:10.0.0.7' "
             ">/dev/null 2>&1",
             dir, dir);
    if (system(cmd) != 0) return -1;
    snprintf(path, sizeof path, "%s/c.pem", dir);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    cert = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return -1;
    return cert ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    X509_free(cert);
    return 0;
}

static void expect_field(const char *name, const char *value)
{
    x509_field f = x509_field_parse(name);
    assert_int_not_equal(f, X509_FIELD_NONE);
    assert_string_equal(x509_field_name(f), name);
    char out[256];
    int n = x509_field_get(cert, f, out, sizeof out);
    if (!value) {
        assert_int_equal(n, -1);
        return;
    }
    assert_int_equal(n, (int)strlen(value));
    assert_string_equal(out, value);
}

static void test_fields(void **state)
{
    (void)state;
    expect_field("CN", "alice");
    expect_field("O", "Example");
    expect_field("OU", "ops"); /* the first of two */
    expect_field("C", "DE");
    expect_field("SAN_DNS", "alice.example");
    expect_field("SAN_EMAIL", "alice@example.com");
    expect_field("SAN_URI", "spiffe://ex/alice");
    expect_field("SAN_IP", "10.0.0.7");
    expect_field("L", NULL);
    expect_field("UID", NULL);
}

static void test_names_and_limits(void **state)
{
    (void)state;
    assert_int_equal(x509_field_parse("cn"), X509_FIELD_NONE);
    assert_int_equal(x509_field_parse("SAN"), X509_FIELD_NONE);
    char small[4];
    assert_int_equal(x509_field_get(cert, X509_FIELD_CN, small, sizeof small), -1); /* does not fit */
    assert_int_equal(x509_field_get(NULL, X509_FIELD_CN, small, sizeof small), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_names_and_limits),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
