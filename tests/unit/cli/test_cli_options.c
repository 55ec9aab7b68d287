/* mqstate's command line: both families of spellings, the clash
 * resolutions, per-command checks and usage errors (exit status 2). */
#include "tests.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exitcodes.h"
#include "options.h"

/* Parses a NULL-terminated list of words after "mqstate". stderr goes to
 * /dev/null: usage errors print their one line there. */
static int parse(struct cli_options *o, const char **words)
{
    char *argv[64] = {"mqstate"};
    int argc = 1;
    while (words[argc - 1]) argv[argc] = (char *)words[argc - 1], argc++;
    argv[argc] = NULL;
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    int rc = cli_options_parse(o, argc, argv);
    fclose(stderr);
    stderr = saved;
    return rc;
}

#define PARSE(o, ...) parse(o, (const char *[]){__VA_ARGS__, NULL})

static void assert_key_bytes(const struct cli_options *o, int i, const char *data, size_t len)
{
    assert_true(o->key_count > i);
    assert_int_equal(o->keys[i].len, len);
    assert_memory_equal(o->keys[i].data, data, len);
}

static void assert_key(const struct cli_options *o, int i, const char *text)
{
    assert_key_bytes(o, i, text, strlen(text));
}

static void test_mqstate_spellings(void **state)
{
    struct cli_options o;
    assert_int_equal(PARSE(&o, "-h", "broker", "-p", "1884", "-i", "me", "-u", "user", "-P", "pw", "set", "k", "v",
                           "--nx", "--px", "500"),
                     CLI_EXIT_OK);
    assert_int_equal(o.command, CLI_CMD_SET);
    assert_string_equal(o.conn.host, "broker");
    assert_int_equal(o.conn.port, 1884);
    assert_string_equal(o.conn.client_id, "me");
    assert_string_equal(o.conn.password, "pw");
    assert_key(&o, 0, "k");
    assert_true(o.has_value && o.value.len == 1 && o.value.data[0] == 'v');
    assert_true(o.nx && !o.nex);
    assert_int_equal(o.px_ms, 500);
    assert_false(o.conn.tls);
    cli_options_free(&o);
}

static void test_statestore_cli_spellings(void **state)
{
    struct cli_options o;
    assert_int_equal(PARSE(&o, "--hostname=h2", "delete", "-k", "key1", "-T", "/ca", "-C", "/cert", "-K", "/key",
                           "--keypasswordfile", "/pw"),
                     CLI_EXIT_OK);
    assert_int_equal(o.command, CLI_CMD_DEL);
    assert_string_equal(o.conn.host, "h2");
    assert_string_equal(o.conn.cafile, "/ca");
    assert_string_equal(o.conn.certfile, "/cert");
    assert_string_equal(o.conn.keyfile, "/key");
    assert_string_equal(o.conn.keypasswordfile, "/pw");
    assert_true(o.conn.tls);
    assert_int_equal(o.conn.port, 8883); /* TLS default port */
    assert_key(&o, 0, "key1");
    cli_options_free(&o);

    assert_int_equal(PARSE(&o, "-n", "h3", "get", "-kkey2", "-f", "out"), CLI_EXIT_OK);
    assert_string_equal(o.conn.host, "h3");
    assert_string_equal(o.valuefile, "out");
    assert_key(&o, 0, "key2");
    assert_int_equal(o.conn.port, 1883);
    cli_options_free(&o);
}

static void test_watch_and_lock(void **state)
{
    struct cli_options o;
    assert_int_equal(PARSE(&o, "watch", "a", "-k", "b", "--key-hex", "00ff"), CLI_EXIT_OK);
    assert_int_equal(o.key_count, 3);
    assert_key(&o, 0, "b"); /* options are applied during the walk, operands after */
    assert_key_bytes(&o, 1, "\0\xff", 2);
    assert_key(&o, 2, "a");
    cli_options_free(&o);

    assert_int_equal(PARSE(&o, "lock", "L", "--ttl", "1.5", "--", "ls", "-l", "--", "x"), CLI_EXIT_OK);
    assert_int_equal(o.ttl_ms, 1500);
    assert_string_equal(o.child_argv[0], "ls");
    assert_string_equal(o.child_argv[1], "-l");
    assert_string_equal(o.child_argv[2], "--");
    assert_null(o.child_argv[4]);
    assert_true(o.wait_s < 0);
    cli_options_free(&o);
}

static void test_defaults_and_keys(void **state)
{
    struct cli_options o;
    unsetenv("MQSTATE_HOST"); /* defaults, whatever the caller's environment */
    unsetenv("MQSTATE_PORT");
    assert_int_equal(PARSE(&o, "keys"), CLI_EXIT_OK);
    assert_string_equal(o.pattern, "*");
    assert_string_equal(o.conn.host, "localhost");
    assert_int_equal(o.conn.timeout_ms, 10000);
    assert_null(o.conn.client_id); /* a fresh one per run */
    cli_options_free(&o);
    assert_int_equal(PARSE(&o, "--version"), CLI_EXIT_OK);
    assert_int_equal(o.command, CLI_CMD_VERSION);
    cli_options_free(&o);
    assert_int_equal(PARSE(&o, "get", "k", "--help"), CLI_EXIT_OK);
    assert_int_equal(o.command, CLI_CMD_HELP);
    cli_options_free(&o);
}

static void test_usage_errors(void **state)
{
    struct cli_options o;
    const char **bad[] = {
        (const char *[]){NULL},
        (const char *[]){"nope", NULL},
        (const char *[]){"get", NULL},
        (const char *[]){"get", "", NULL},
        (const char *[]){"get", "a", "b", NULL},
        (const char *[]){"get", "a", "-k", "b", NULL},
        (const char *[]){"get", "a", "--nx", NULL},
        (const char *[]){"get", "a", "--bogus", NULL},
        (const char *[]){"get", "a", "-p", NULL},
        (const char *[]){"get", "a", "-p", "0", NULL},
        (const char *[]){"get", "a", "--timeout", "-1", NULL},
        (const char *[]){"get", "a", "--hex=yes", NULL},
        (const char *[]){"set", "a", "v", "--nx", "--nex", NULL},
        (const char *[]){"set", "a", "v", "--value", "w", NULL},
        (const char *[]){"set", "a", "v", "-f", "file", NULL},
        (const char *[]){"set", "a", "--px", "0", NULL},
        (const char *[]){"set", "a", "--value-hex", "abc", NULL},
        (const char *[]){"set", "a", "--nx", "--nx", NULL},
        (const char *[]){"lock", "L", NULL},
        (const char *[]){"lock", "L", "--", NULL},
        (const char *[]){"get", "a", "--", "x", NULL},
        (const char *[]){"watch", NULL},
        (const char *[]){"get", "a", "--notls", "--cafile", "x", NULL},
        (const char *[]){"get", "a", "--cert", "x", NULL},
        (const char *[]){"get", "a", "-P", "pw", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (parse(&o, bad[i]) != CLI_EXIT_USAGE) fail_msg("case %zu was accepted", i);
        cli_options_free(&o);
    }
}

/* MQSTATE_* fill what the command line leaves out; the command line wins. */
static void test_environment(void **state)
{
    struct cli_options o;
    setenv("MQSTATE_HOST", "envhost", 1);
    setenv("MQSTATE_PORT", "1999", 1);
    setenv("MQSTATE_USERNAME", "envuser", 1);
    setenv("MQSTATE_PASSWORD", "envpw", 1);
    assert_int_equal(PARSE(&o, "get", "k"), CLI_EXIT_OK);
    assert_string_equal(o.conn.host, "envhost");
    assert_int_equal(o.conn.port, 1999);
    assert_string_equal(o.conn.username, "envuser");
    assert_string_equal(o.conn.password, "envpw");
    cli_options_free(&o);
    assert_int_equal(PARSE(&o, "-h", "h", "-p", "7", "-u", "u", "-P", "p", "get", "k"), CLI_EXIT_OK);
    assert_string_equal(o.conn.host, "h");
    assert_int_equal(o.conn.port, 7);
    assert_string_equal(o.conn.username, "u");
    assert_string_equal(o.conn.password, "p");
    cli_options_free(&o);
    setenv("MQSTATE_PORT", "99999", 1);
    assert_int_equal(PARSE(&o, "get", "k"), CLI_EXIT_USAGE);
    cli_options_free(&o);
    setenv("MQSTATE_PORT", "", 1); /* empty = unset */
    unsetenv("MQSTATE_USERNAME");
    assert_int_equal(PARSE(&o, "get", "k"), CLI_EXIT_USAGE); /* a password needs a user */
    cli_options_free(&o);
    unsetenv("MQSTATE_PASSWORD");
    assert_int_equal(PARSE(&o, "get", "k"), CLI_EXIT_OK);
    assert_int_equal(o.conn.port, 1883);
    cli_options_free(&o);
    assert_int_equal(PARSE(&o, "version"), CLI_EXIT_OK); /* no connection, no check */
    cli_options_free(&o);
    unsetenv("MQSTATE_HOST");
    unsetenv("MQSTATE_PORT");
}

static void test_password_file_and_elect(void **state)
{
    struct cli_options o;
    char path[] = "/tmp/mqs-cli-pw-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "s3cret\r\nignored\n", 17), 17);
    close(fd);
    assert_int_equal(PARSE(&o, "-u", "bob", "--password-file", path, "get", "k"), CLI_EXIT_OK);
    assert_string_equal(o.conn.password, "s3cret");
    cli_options_free(&o);
    assert_int_equal(PARSE(&o, "-u", "bob", "-P", "x", "--password-file", path, "get", "k"), CLI_EXIT_USAGE);
    cli_options_free(&o);
    unlink(path);
    assert_int_equal(PARSE(&o, "-u", "bob", "--password-file", path, "get", "k"), CLI_EXIT_USAGE);
    cli_options_free(&o);
    assert_int_equal(PARSE(&o, "elect", "E", "--ttl", "3", "--wait", "0", "--", "cmd", "a"), CLI_EXIT_OK);
    assert_int_equal(o.command, CLI_CMD_ELECT);
    assert_key(&o, 0, "E");
    assert_int_equal(o.ttl_ms, 3000);
    assert_true(o.wait_s == 0);
    assert_string_equal(o.child_argv[0], "cmd");
    cli_options_free(&o);
    assert_int_equal(PARSE(&o, "elect", "E"), CLI_EXIT_USAGE);
    cli_options_free(&o);
}

int run_cli_options_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mqstate_spellings),
        cmocka_unit_test(test_statestore_cli_spellings),
        cmocka_unit_test(test_watch_and_lock),
        cmocka_unit_test(test_defaults_and_keys),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_environment),
        cmocka_unit_test(test_password_file_and_elect),
    };
    return cmocka_run_group_tests_name("cli_options", tests, NULL, NULL);
}
