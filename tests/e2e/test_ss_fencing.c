/* Fencing tokens (protocol §5): creating a fenced key, required / lower /
 * equal / newer tokens, token skew, the §5.4 worked example, and fencing
 * checked before the command's condition (§5.3). */
#include <stdio.h>
#include <string.h>

#include "ssclient.h"

#define SS_ONLY "state store protocol"

static void token(char *buf, size_t size, uint64_t wall, uint64_t counter, const char *node)
{
    struct ss_hlc h = {.wall = wall, .counter = counter};
    snprintf(h.node, sizeof h.node, "%s", node);
    ss_hlc_format(&h, buf, size);
}

static void token_rules(void)
{
    struct ss_client a;
    struct ss_reply r;
    uint64_t now = ss_wall_ms();
    char t5[96], t4[96], older[96], newer[96], skewed[96];
    token(t5, sizeof t5, now, 5, "lock");
    token(t4, sizeof t4, now, 4, "lock");
    token(older, sizeof older, now - 1000, 9, "lock");
    token(newer, sizeof newer, now + 1, 0, "lock");
    token(skewed, sizeof skewed, now + 90000, 0, "lock");
    struct ss_opts ft5 = {.ft = t5}, ft4 = {.ft = t4}, ftold = {.ft = older}, ftnew = {.ft = newer},
                   ftskew = {.ft = skewed}, ftbad = {.ft = "garbage"};
    CHECK(ss_open(&a, "fence"));
    SS_CMD(&a, &ft5, r, "SET", "pk", "v1");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&a, NULL, r, "SET", "pk", "v2");
    CHECK_REPLY(r, SS_ERR_FT_REQUIRED);
    SS_CMD(&a, NULL, r, "DEL", "pk");
    CHECK_REPLY(r, SS_ERR_FT_REQUIRED);
    SS_CMD(&a, NULL, r, "VDEL", "pk", "v1");
    CHECK_REPLY(r, SS_ERR_FT_REQUIRED);
    SS_CMD(&a, &ft4, r, "SET", "pk", "v2");
    CHECK_REPLY(r, SS_ERR_FT_LOWER);
    SS_CMD(&a, &ftold, r, "DEL", "pk");
    CHECK_REPLY(r, SS_ERR_FT_LOWER);
    SS_CMD(&a, &ftskew, r, "SET", "pk", "v2");
    CHECK_REPLY(r, SS_ERR_FT_SKEW);
    SS_CMD(&a, &ftbad, r, "SET", "pk", "v2");
    CHECK_REPLY(r, SS_ERR_BAD_TS);
    /* Reads ignore fencing. */
    SS_CMD(&a, NULL, r, "GET", "pk");
    CHECK_REPLY(r, "$2\r\nv1\r\n");
    SS_CMD(&a, &ft5, r, "SET", "pk", "v3"); /* equal token */
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&a, &ftnew, r, "SET", "pk", "v4"); /* newer token raises the bar */
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&a, &ft5, r, "SET", "pk", "v5");
    CHECK_REPLY(r, SS_ERR_FT_LOWER);
    SS_CMD(&a, NULL, r, "GET", "pk");
    CHECK_REPLY(r, "$2\r\nv4\r\n");
    /* The token disappears with the key. */
    SS_CMD(&a, &ftnew, r, "DEL", "pk");
    CHECK_REPLY(r, ":1\r\n");
    SS_CMD(&a, NULL, r, "SET", "pk", "free");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&a, NULL, r, "DEL", "pk");
    CHECK_REPLY(r, ":1\r\n");
}

static void fencing_before_condition(void)
{
    struct ss_client a;
    struct ss_reply r;
    char t[96];
    token(t, sizeof t, ss_wall_ms(), 0, "lock");
    struct ss_opts ft = {.ft = t};
    CHECK(ss_open(&a, "order"));
    SS_CMD(&a, &ft, r, "SET", "pk", "value");
    CHECK_REPLY(r, "+OK\r\n");
    SS_CMD(&a, &ft, r, "VDEL", "pk", "wrong");
    CHECK_REPLY(r, ":-1\r\n");
    SS_CMD(&a, NULL, r, "VDEL", "pk", "wrong");
    CHECK_REPLY(r, SS_ERR_FT_REQUIRED);
    SS_CMD(&a, NULL, r, "SET", "pk", "x", "NX");
    CHECK_REPLY(r, SS_ERR_FT_REQUIRED);
    SS_CMD(&a, &ft, r, "SET", "pk", "x", "NX");
    CHECK_REPLY(r, ":-1\r\n");
    SS_CMD(&a, &ft, r, "VDEL", "pk", "value");
    CHECK_REPLY(r, ":1\r\n");
}

/* §5.4: the lock's version is the fencing token protecting another key. */
static void worked_example(void)
{
    struct ss_client c1, c2;
    struct ss_reply r;
    struct ss_hlc lock_version;
    char lock_token[96], stale[96];
    struct ss_opts old_clock = {.ts = "1696374425000:0:Client1"};
    CHECK(ss_open(&c1, "Client1"));
    CHECK(ss_open(&c2, "Client2"));
    SS_CMD(&c1, &old_clock, r, "SET", "LockName", "Client1", "NEX", "PX", "10000");
    CHECK_REPLY(r, "+OK\r\n");
    CHECK(ss_reply_version(&r, &lock_version));
    /* The client clock is far behind: the version takes the server's. */
    CHECK(lock_version.wall > 1696374425000ULL);
    ss_hlc_format(&lock_version, lock_token, sizeof lock_token);
    struct ss_opts fenced = {.ft = lock_token};
    SS_CMD(&c1, &fenced, r, "SET", "ProtectedKey", "v");
    CHECK_REPLY(r, "+OK\r\n");
    /* A stale holder with the example's older token. */
    token(stale, sizeof stale, 1696374425000ULL, 1, "StateStore");
    struct ss_opts stale_ft = {.ft = stale};
    SS_CMD(&c2, &stale_ft, r, "SET", "ProtectedKey", "c2");
    CHECK_REPLY(r, SS_ERR_FT_LOWER);
    SS_CMD(&c2, NULL, r, "SET", "ProtectedKey", "c2");
    CHECK_REPLY(r, SS_ERR_FT_REQUIRED);
    /* Client2 can read, and the lock itself is an ordinary key. */
    SS_CMD(&c2, NULL, r, "GET", "ProtectedKey");
    CHECK_REPLY(r, "$1\r\nv\r\n");
    SS_CMD(&c2, NULL, r, "SET", "LockName", "Client2", "NEX", "PX", "10000");
    CHECK_REPLY(r, ":-1\r\n");
}

static const struct e2e_case cases[] = {
    {"token_rules", token_rules, NULL, SS_ONLY},
    {"fencing_before_condition", fencing_before_condition, NULL, SS_ONLY},
    {"worked_example", worked_example, NULL, SS_ONLY},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
