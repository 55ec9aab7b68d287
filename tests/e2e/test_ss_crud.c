/* State store SET/GET/DEL/VDEL replies, byte for byte (protocol §3.4, §6.2–6.5),
 * case-insensitive verbs and options in any order (§3.1, §12.5), and the
 * NX / NEX / VDEL conditions. */
#include <string.h>

#include "ssclient.h"

#define SS_ONLY "state store protocol"

static void replies_are_byte_exact(void)
{
    struct ss_client a;
    struct ss_reply r;
    CHECK(ss_open(&a, "crud"));
    SS_CMD(&a, NULL, r, "SET", "testkey", "testvalue");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&a, NULL, r, "GET", "testkey");
    CHECK_REPLY(r, "$9\r\ntestvalue\r\n");
    SS_CMD(&a, NULL, r, "GET", "nosuchkey");
    CHECK_REPLY(r, "$-1\r\n");
    SS_CMD(&a, NULL, r, "DEL", "testkey");
    CHECK_REPLY(r, ":1\r\n");
    SS_CMD(&a, NULL, r, "DEL", "testkey");
    CHECK_REPLY(r, ":0\r\n");
    SS_CMD(&a, NULL, r, "GET", "testkey");
    CHECK_REPLY(r, "$-1\r\n");
    SS_CMD(&a, NULL, r, "SET", "empty", "");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&a, NULL, r, "GET", "empty");
    CHECK_REPLY(r, "$0\r\n\r\n");
    CHECK(ss_reply_has_ts(&r)); /* Go infers presence from the version */
}

static void vdel_match_mismatch_absent(void)
{
    struct ss_client a;
    struct ss_reply r;
    CHECK(ss_open(&a, "vdel"));
    SS_CMD(&a, NULL, r, "SET", "SETKEY2", "ABC");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&a, NULL, r, "VDEL", "SETKEY2", "ABD");
    CHECK_REPLY(r, ":-1\r\n");
    SS_CMD(&a, NULL, r, "VDEL", "SETKEY2", "AB");
    CHECK_REPLY(r, ":-1\r\n");
    SS_CMD(&a, NULL, r, "GET", "SETKEY2");
    CHECK_REPLY(r, "$3\r\nABC\r\n");
    SS_CMD(&a, NULL, r, "VDEL", "SETKEY2", "ABC");
    CHECK_REPLY(r, ":1\r\n");
    SS_CMD(&a, NULL, r, "VDEL", "SETKEY2", "ABC");
    CHECK_REPLY(r, ":0\r\n");
    SS_CMD(&a, NULL, r, "GET", "SETKEY2");
    CHECK_REPLY(r, "$-1\r\n");
}

static void lower_case_and_any_option_order(void)
{
    struct ss_client a;
    struct ss_reply r;
    CHECK(ss_open(&a, "lower"));
    SS_CMD(&a, NULL, r, "set", "k1", "v1");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&a, NULL, r, "get", "k1");
    CHECK_REPLY(r, "$2\r\nv1\r\n");
    /* PX before the condition, lower-case words. */
    SS_CMD(&a, NULL, r, "set", "k2", "v2", "px", "60000", "nx");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&a, NULL, r, "Set", "k2", "other", "Px", "60000", "nX");
    CHECK_REPLY(r, ":-1\r\n");
    SS_CMD(&a, NULL, r, "SET", "k2", "v2", "PX", "60000", "nex");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&a, NULL, r, "vdel", "k2", "v2");
    CHECK_REPLY(r, ":1\r\n");
    SS_CMD(&a, NULL, r, "Del", "k1");
    CHECK_REPLY(r, ":1\r\n");
    SS_CMD(&a, NULL, r, "keynotify", "k1");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&a, NULL, r, "keynotify", "k1", "stop");
    CHECK_REPLY(r, "+OK\r\n");
}

static void nx_and_nex_conditions(void)
{
    struct ss_client a;
    struct ss_reply r;
    struct ss_hlc first, second, third;
    CHECK(ss_open(&a, "cond"));
    SS_CMD(&a, NULL, r, "SET", "key", "value", "NX");
    CHECK_REPLY(r, "+OK\r\n");
    CHECK(ss_reply_version(&r, &first));
    SS_CMD(&a, NULL, r, "SET", "key", "other", "NX");
    CHECK_REPLY(r, ":-1\r\n");
    SS_CMD(&a, NULL, r, "SET", "key", "other", "NEX");
    CHECK_REPLY(r, ":-1\r\n");
    SS_CMD(&a, NULL, r, "SET", "key", "valu", "NEX"); /* byte-exact, not prefix */
    CHECK_REPLY(r, ":-1\r\n");
    SS_CMD(&a, NULL, r, "GET", "key");
    CHECK_REPLY(r, "$5\r\nvalue\r\n");
    CHECK(ss_reply_version(&r, &second));
    CHECK_INT(ss_hlc_cmp(&first, &second), 0); /* unchanged by failed writes */
    /* NEX with the same value renews: applied, with a newer version. */
    SS_CMD(&a, NULL, r, "SET", "key", "value", "NEX");
    CHECK_REPLY(r, "+OK\r\n");
    CHECK(ss_reply_version(&r, &third));
    CHECK(ss_hlc_cmp(&third, &first) > 0);
    /* NEX on an absent key applies. */
    SS_CMD(&a, NULL, r, "SET", "fresh", "x", "NEX");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&a, NULL, r, "GET", "fresh");
    CHECK_REPLY(r, "$1\r\nx\r\n");
    /* Unconditional SET overwrites. */
    SS_CMD(&a, NULL, r, "SET", "key", "new");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&a, NULL, r, "GET", "key");
    CHECK_REPLY(r, "$3\r\nnew\r\n");
}

static const struct e2e_case cases[] = {
    {"replies_are_byte_exact", replies_are_byte_exact, NULL, SS_ONLY},
    {"vdel_match_mismatch_absent", vdel_match_mismatch_absent, NULL, SS_ONLY},
    {"lower_case_and_any_option_order", lower_case_and_any_option_order, NULL, SS_ONLY},
    {"nx_and_nex_conditions", nx_and_nex_conditions, NULL, SS_ONLY},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
