/* Every error text of protocol §3.5 a client can trigger without
 * authorization, byte for byte (timestamps and fencing live in test_ss_hlc.c
 * and test_ss_fencing.c): syntax errors for framing and options, unknown
 * command, wrong number of arguments, empty key, and the key quota with
 * `store: max_keys`. */
#include <string.h>

#include "ssclient.h"

#define SS_ONLY "state store protocol"

/* Raw payloads that are not a well-formed RESP array of bulk strings. */
static const char *const bad_framing[] = {
    "*2\r\n$3\r\nGET\r\n$2\r\nabc\r\n", /* declared length too short */
    "*2\r\n$3\r\nGET\r\n$4\r\nabc\r\n", /* declared length too long */
    "*2\r\n$3\r\nGET\r\n$1\r\na",       /* missing final CRLF */
    "*2\r\n$3\r\nGET\r\n$1\r\na\r\nX",  /* trailing byte */
    "*3\r\n$3\r\nGET\r\n$1\r\na\r\n",   /* fewer elements than declared */
    "*2\n$3\nGET\n$1\na\n",             /* LF instead of CRLF */
    "*2\r\n$3\r\nGET\r\n:1\r\n",        /* integer element */
    "+OK\r\n",                          /* not an array */
    "GET a\r\n",                        /* inline command */
    "*2\r\n$3\r\nGET\r\n$-1\r\n",       /* null bulk string */
    "*x\r\n",                           /* bad count */
    "",                                 /* empty payload */
};

static void framing_is_syntax_error(void)
{
    struct ss_client a;
    struct ss_reply r;
    CHECK(ss_open(&a, "framing"));
    for (size_t i = 0; i < sizeof bad_framing / sizeof bad_framing[0]; i++) {
        CHECK(ss_call(&a, NULL, bad_framing[i], strlen(bad_framing[i]), &r));
        CHECK_REPLY(r, SS_ERR_SYNTAX);
    }
}

static void bad_options_are_syntax_errors(void)
{
    struct ss_client a;
    struct ss_reply r;
    CHECK(ss_open(&a, "options"));
    SS_CMD(&a, NULL, r, "SET", "k", "v", "XX");
    CHECK_REPLY(r, SS_ERR_SYNTAX);
    SS_CMD(&a, NULL, r, "SET", "k", "v", "NX", "NEX");
    CHECK_REPLY(r, SS_ERR_SYNTAX);
    SS_CMD(&a, NULL, r, "SET", "k", "v", "NX", "NX");
    CHECK_REPLY(r, SS_ERR_SYNTAX);
    SS_CMD(&a, NULL, r, "SET", "k", "v", "PX");
    CHECK_REPLY(r, SS_ERR_SYNTAX);
    SS_CMD(&a, NULL, r, "SET", "k", "v", "PX", "0");
    CHECK_REPLY(r, SS_ERR_SYNTAX);
    SS_CMD(&a, NULL, r, "SET", "k", "v", "PX", "abc");
    CHECK_REPLY(r, SS_ERR_SYNTAX);
    SS_CMD(&a, NULL, r, "SET", "k", "v", "PX", "-5");
    CHECK_REPLY(r, SS_ERR_SYNTAX);
    SS_CMD(&a, NULL, r, "SET", "k", "v", "PX", "1.5");
    CHECK_REPLY(r, SS_ERR_SYNTAX);
    SS_CMD(&a, NULL, r, "SET", "k", "v", "EX", "10");
    CHECK_REPLY(r, SS_ERR_SYNTAX);
    SS_CMD(&a, NULL, r, "KEYNOTIFY", "k", "GO");
    CHECK_REPLY(r, SS_ERR_SYNTAX);
    /* None of them stored anything. */
    SS_CMD(&a, NULL, r, "GET", "k");
    CHECK_REPLY(r, "$-1\r\n");
}

static void unknown_command(void)
{
    struct ss_client a;
    struct ss_reply r;
    CHECK(ss_open(&a, "unknown"));
    SS_CMD(&a, NULL, r, "FOO", "k");
    CHECK_REPLY(r, SS_ERR_UNKNOWN);
    SS_CMD(&a, NULL, r, "MGET", "a", "b");
    CHECK_REPLY(r, SS_ERR_UNKNOWN);
    SS_CMD(&a, NULL, r, "EXPIRE", "k", "10");
    CHECK_REPLY(r, SS_ERR_UNKNOWN);
    SS_CMD(&a, NULL, r, "GETX", "k");
    CHECK_REPLY(r, SS_ERR_UNKNOWN);
}

static void wrong_number_of_arguments(void)
{
    struct ss_client a;
    struct ss_reply r;
    CHECK(ss_open(&a, "argc"));
    SS_CMD(&a, NULL, r, "GET");
    CHECK_REPLY(r, SS_ERR_ARGC);
    SS_CMD(&a, NULL, r, "GET", "a", "b");
    CHECK_REPLY(r, SS_ERR_ARGC);
    SS_CMD(&a, NULL, r, "DEL");
    CHECK_REPLY(r, SS_ERR_ARGC);
    SS_CMD(&a, NULL, r, "DEL", "a", "b");
    CHECK_REPLY(r, SS_ERR_ARGC);
    SS_CMD(&a, NULL, r, "VDEL", "a");
    CHECK_REPLY(r, SS_ERR_ARGC);
    SS_CMD(&a, NULL, r, "VDEL", "a", "b", "c");
    CHECK_REPLY(r, SS_ERR_ARGC);
    SS_CMD(&a, NULL, r, "SET", "a");
    CHECK_REPLY(r, SS_ERR_ARGC);
    SS_CMD(&a, NULL, r, "SET");
    CHECK_REPLY(r, SS_ERR_ARGC);
    SS_CMD(&a, NULL, r, "KEYNOTIFY");
    CHECK_REPLY(r, SS_ERR_ARGC);
    SS_CMD(&a, NULL, r, "KEYNOTIFY", "a", "STOP", "x");
    CHECK_REPLY(r, SS_ERR_ARGC);
    SS_CMD(&a, NULL, r, "SCAN");
    CHECK_REPLY(r, SS_ERR_ARGC);
}

static void empty_key(void)
{
    struct ss_client a;
    struct ss_reply r;
    CHECK(ss_open(&a, "emptykey"));
    SS_CMD(&a, NULL, r, "GET", "");
    CHECK_REPLY(r, SS_ERR_EMPTY_KEY);
    SS_CMD(&a, NULL, r, "SET", "", "v");
    CHECK_REPLY(r, SS_ERR_EMPTY_KEY);
    SS_CMD(&a, NULL, r, "DEL", "");
    CHECK_REPLY(r, SS_ERR_EMPTY_KEY);
    SS_CMD(&a, NULL, r, "VDEL", "", "v");
    CHECK_REPLY(r, SS_ERR_EMPTY_KEY);
    SS_CMD(&a, NULL, r, "KEYNOTIFY", "");
    CHECK_REPLY(r, SS_ERR_EMPTY_KEY);
}

static void quota_checks(void)
{
    struct ss_client a;
    struct ss_reply r;
    CHECK(ss_open(&a, "quota"));
    SS_CMD(&a, NULL, r, "SET", "a", "1");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&a, NULL, r, "SET", "b", "1");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&a, NULL, r, "SET", "c", "1");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&a, NULL, r, "SET", "d", "1");
    CHECK_REPLY(r, SS_ERR_QUOTA);
    SS_CMD(&a, NULL, r, "GET", "d");
    CHECK_REPLY(r, "$-1\r\n");
    /* Overwriting an existing key is not an insert. */
    SS_CMD(&a, NULL, r, "SET", "a", "2");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&a, NULL, r, "DEL", "a");
    CHECK_REPLY(r, ":1\r\n");
    SS_CMD(&a, NULL, r, "SET", "d", "1");
    CHECK_REPLY(r, "+OK\r\n");
}

static void quota_exceeded(void)
{
    quota_checks();
    tc_destroy_all();
}

static const struct e2e_case cases[] = {
    {"framing_is_syntax_error", framing_is_syntax_error, NULL, SS_ONLY},
    {"bad_options_are_syntax_errors", bad_options_are_syntax_errors, NULL, SS_ONLY},
    {"unknown_command", unknown_command, NULL, SS_ONLY},
    {"wrong_number_of_arguments", wrong_number_of_arguments, NULL, SS_ONLY},
    {"empty_key", empty_key, NULL, SS_ONLY},
    {"quota_exceeded", quota_exceeded, NULL, SS_ONLY, "store:\n  max_keys: 3\n"},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
