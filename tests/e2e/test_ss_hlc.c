/* Versions and request timestamps (protocol §4): reply __ts is an HLC
 * wall:counter:node, strictly increasing and above the request's __ts;
 * the 60 s future-skew limit; malformed and missing timestamps. */
#include <stdio.h>
#include <string.h>

#include "ssclient.h"

#define SS_ONLY "state store protocol"

static void ts_at_offset(char *buf, size_t size, int64_t offset_ms)
{
    struct ss_hlc h = {.wall = (uint64_t)((int64_t)ss_wall_ms() + offset_ms)};
    snprintf(h.node, sizeof h.node, "e2e-skew");
    ss_hlc_format(&h, buf, size);
}

static void versions_increase_and_exceed_request(void)
{
    struct ss_client a;
    struct ss_reply r;
    struct ss_hlc prev = {0}, ver, req;
    const char *keys[] = {"k", "k", "other", "k", "third", "other"};
    CHECK(ss_open(&a, "hlc"));
    for (int i = 0; i < 6; i++) {
        SS_CMD(&a, NULL, r, "SET", keys[i], "v");
        CHECK_REPLY(r, "+OK\r\n");
        CHECK(ss_reply_version(&r, &ver));
        CHECK(ss_hlc_parse(r.sent_ts, &req));
        /* Compare wall, then counter: the node ids differ. */
        bool above_request = ver.wall > req.wall || (ver.wall == req.wall && ver.counter > req.counter);
        if (!above_request || (i > 0 && ss_hlc_cmp(&ver, &prev) <= 0)) {
            char v[96], p[96];
            ss_hlc_format(&ver, v, sizeof v);
            ss_hlc_format(&prev, p, sizeof p);
            e2e_fail(__FILE__, __LINE__, "SET #%d: version %s, request __ts %s, previous %s", i, v, r.sent_ts, p);
            return;
        }
        prev = ver;
    }
}

static void ts_30s_ahead_accepted(void)
{
    struct ss_client a;
    struct ss_reply r;
    struct ss_hlc ver, req;
    char ts[96];
    ts_at_offset(ts, sizeof ts, 30000);
    struct ss_opts ahead = {.ts = ts};
    CHECK(ss_open(&a, "ahead"));
    SS_CMD(&a, &ahead, r, "SET", "k", "v");
    CHECK_REPLY(r, "+OK\r\n");
    CHECK(ss_reply_version(&r, &ver));
    CHECK(ss_hlc_parse(ts, &req));
    CHECK(ver.wall > req.wall || (ver.wall == req.wall && ver.counter > req.counter));
    /* A later write with a current clock still gets a larger version. */
    struct ss_hlc later;
    SS_CMD(&a, NULL, r, "SET", "k", "w");
    CHECK_REPLY(r, "+OK\r\n");
    CHECK(ss_reply_version(&r, &later));
    CHECK(ss_hlc_cmp(&later, &ver) > 0);
}

static void ts_too_far_ahead_rejected(void)
{
    struct ss_client a;
    struct ss_reply r;
    char ts[96], far[96];
    ts_at_offset(ts, sizeof ts, 62000);
    ts_at_offset(far, sizeof far, 10LL * 365 * 24 * 3600 * 1000);
    struct ss_opts ahead = {.ts = ts}, way_ahead = {.ts = far};
    CHECK(ss_open(&a, "skew"));
    SS_CMD(&a, &ahead, r, "SET", "k", "v");
    CHECK_REPLY(r, SS_ERR_TS_SKEW);
    CHECK_INT(ss_user_prop_count(r.props, "__ts"), 0);
    SS_CMD(&a, &way_ahead, r, "SET", "k", "v");
    CHECK_REPLY(r, SS_ERR_TS_SKEW);
    SS_CMD(&a, NULL, r, "GET", "k");
    CHECK_REPLY(r, "$-1\r\n");
}

static void malformed_ts_rejected(void)
{
    struct ss_client a;
    struct ss_reply r;
    const char *bad[] = {"abc", "1:2", "1:2:3:4", "x:0:node", "1:y:node", "1:0:", ":0:node", ""};
    CHECK(ss_open(&a, "malformed"));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct ss_opts o = {.ts = bad[i]};
        SS_CMD(&a, &o, r, "SET", "k", "v");
        CHECK_REPLY(r, SS_ERR_BAD_TS);
    }
    /* If present on another command, __ts is validated too (§2.3). */
    struct ss_opts o = {.ts = "not-a-clock"};
    SS_CMD(&a, &o, r, "GET", "k");
    CHECK_REPLY(r, SS_ERR_BAD_TS);
    SS_CMD(&a, NULL, r, "GET", "k");
    CHECK_REPLY(r, "$-1\r\n");
}

static void missing_ts_on_set_rejected(void)
{
    struct ss_client a;
    struct ss_reply r;
    struct ss_opts none = {.omit_ts = true};
    CHECK(ss_open(&a, "missing"));
    SS_CMD(&a, &none, r, "SET", "k", "v");
    CHECK_REPLY(r, SS_ERR_NO_TS);
    SS_CMD(&a, NULL, r, "SET", "k2", "v");
    CHECK_REPLY(r, "+OK\r\n");
    /* __ts is optional for everything but SET. */
    SS_CMD(&a, &none, r, "GET", "k2");
    CHECK_REPLY(r, "$1\r\nv\r\n");
    SS_CMD(&a, &none, r, "GET", "k");
    CHECK_REPLY(r, "$-1\r\n");
    SS_CMD(&a, &none, r, "DEL", "k2");
    CHECK_REPLY(r, ":1\r\n");
}

static const struct e2e_case cases[] = {
    {"versions_increase_and_exceed_request", versions_increase_and_exceed_request, NULL, SS_ONLY},
    {"ts_30s_ahead_accepted", ts_30s_ahead_accepted, NULL, SS_ONLY},
    {"ts_too_far_ahead_rejected", ts_too_far_ahead_rejected, NULL, SS_ONLY},
    {"malformed_ts_rejected", malformed_ts_rejected, NULL, SS_ONLY},
    {"missing_ts_on_set_rejected", missing_ts_on_set_rejected, NULL, SS_ONLY},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
