/* The `tls:` and `authentication:` listener keys, the loopback rule, and
 * TLS context errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "net/tls.h"
#include "server/config.h"

static int load(config *c, const char *yaml, char *err)
{
    config_init(c);
    return config_load_string(c, "t.yaml", yaml, strlen(yaml), err, 512);
}

static void expect_error(const char *yaml, const char *msg)
{
    config c;
    char err[512] = "";
    assert_int_equal(load(&c, yaml, err), -1);
    assert_string_equal(err, msg);
    config_free(&c);
}

static void test_full_listener(void **state)
{
    (void)state;
    config c;
    char err[512];
    const char *yaml = "listeners:\n"
                       "  - bind: 0.0.0.0\n"
                       "    port: 8883\n"
                       "    tls:\n"
                       "      cert_file: /s.pem\n"
                       "      key_file: /s.key\n"
                       "      ca_file: /ca.pem\n"
                       "      client_certs: optional\n"
                       "      min_version: \"1.3\"\n"
                       "      ciphersuites: TLS_AES_128_GCM_SHA256\n"
                       "    authentication:\n"
                       "      methods: [x509, password]\n"
                       "      password_file: /pw\n"
                       "      failure_delay_ms: 250\n"
                       "      x509:\n"
                       "        username: SAN_EMAIL\n"
                       "        attributes: {unit: OU, org: O}\n"
                       "  - bind: 127.0.0.1\n";
    assert_int_equal(load(&c, yaml, err), 0);
    const config_listener *l = &c.listeners[0];
    assert_true(l->tls.enabled);
    assert_string_equal(l->tls.cert_file, "/s.pem");
    assert_int_equal(l->tls.client_certs, TLS_CLIENT_CERTS_OPTIONAL);
    assert_int_equal(l->tls.min_version, 13);
    assert_true(l->has_authn);
    assert_int_equal(l->authn.nmethods, 2);
    assert_int_equal(l->authn.methods[0], AUTHN_X509);
    assert_int_equal(l->authn.x509_username, X509_FIELD_SAN_EMAIL);
    assert_int_equal(l->authn.nattrs, 2);
    assert_string_equal(l->authn.attrs[1].name, "org");
    assert_int_equal(l->authn.failure_delay_ms, 250);
    assert_false(c.listeners[1].tls.enabled);
    assert_int_equal(config_check_listeners(&c, err, sizeof err), 0);
    assert_false(c.listeners[0].authn.open);
    assert_true(c.listeners[1].authn.open); /* loopback, no section */
    config_free(&c);
}

static void test_loopback_rule(void **state)
{
    (void)state;
    config c;
    char err[512];
    assert_int_equal(load(&c, "listeners:\n  - bind: \"::1\"\n  - bind: 10.1.2.3\n    port: 1\n", err), 0);
    assert_int_equal(config_check_listeners(&c, err, sizeof err), -1);
    assert_string_equal(err, "t.yaml:3: listeners[1] (10.1.2.3 port 1): a listener on a non-loopback address needs an "
                             "authentication section (see docs/security.md)");
    config_free(&c);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("listeners:\n  - tls:\n      cert_file: /a\n",
                 "t.yaml:3: listeners[0].tls: cert_file and key_file are required");
    expect_error("listeners:\n  - tls:\n      cert_file: /a\n      key_file: /b\n      client_certs: required\n",
                 "t.yaml:3: listeners[0].tls: client_certs: required needs ca_file");
    expect_error("listeners:\n  - tls:\n      cert_file: /a\n      key_file: /b\n      crl_file: /c\n",
                 "t.yaml:3: listeners[0].tls: crl_file needs client_certs optional or required");
    expect_error(
        "listeners:\n  - tls:\n      client_certs: sometimes\n",
        "t.yaml:3: listeners[0].tls.client_certs: expected one of none, optional, required, got \"sometimes\"");
    expect_error("listeners:\n  - tls:\n      min_version: 1.1\n",
                 "t.yaml:3: listeners[0].tls.min_version: expected \"1.2\" or \"1.3\", got \"1.1\"");
    expect_error("listeners:\n  - authentication:\n      methods: [password]\n",
                 "t.yaml:3: listeners[0].authentication: method password needs password_file");
    expect_error("listeners:\n  - authentication:\n      methods: [kerberos]\n",
                 "t.yaml:3: listeners[0].authentication.methods[0]: expected one of anonymous, password, x509, got "
                 "\"kerberos\"");
    expect_error("listeners:\n  - authentication:\n      methods: [x509]\n",
                 "t.yaml:2: listeners[0].authentication: method x509 needs tls with client_certs optional or required");
    expect_error("listeners:\n  - authentication:\n      methods: [anonymous]\n      x509: {username: XX}\n",
                 "t.yaml:4: listeners[0].authentication.x509.username: expected a certificate field (CN, OU, O, L, ST, "
                 "C, DC, SERIALNUMBER, UID, EMAIL, SAN_DNS, SAN_EMAIL, SAN_URI, SAN_IP), got \"XX\"");
}

static void test_tls_context_errors(void **state)
{
    (void)state;
    char err[512];
    tls_config t = {.cert_file = "/nonexistent/s.pem", .key_file = "/nonexistent/s.key", .min_version = 12};
    assert_null(net_tls_ctx_new(&t, err, sizeof err));
    assert_string_equal(err, "cert_file /nonexistent/s.pem: No such file or directory");
    /* A file that is there but is no certificate: said plainly, not
     * OpenSSL's "system lib" or "no start line". */
    char path[] = "/tmp/mqs-tls-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "hello\n", 6), 6);
    close(fd);
    t.cert_file = path;
    assert_null(net_tls_ctx_new(&t, err, sizeof err));
    assert_string_equal(err, "key_file /nonexistent/s.key: No such file or directory");
    t.key_file = path;
    assert_null(net_tls_ctx_new(&t, err, sizeof err));
    char want[128];
    snprintf(want, sizeof want, "cert_file %s: no PEM data of the expected kind (no matching \"-----BEGIN\" line)",
             path);
    assert_string_equal(err, want);
    unlink(path);
    t.ciphers = "NO-SUCH-CIPHER";
    assert_null(net_tls_ctx_new(&t, err, sizeof err));
    assert_non_null(strstr(err, "ciphers NO-SUCH-CIPHER: "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_listener),
        cmocka_unit_test(test_loopback_rule),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_tls_context_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
