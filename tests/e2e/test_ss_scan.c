/* SCAN (protocol §3.8): glob patterns over whole keys, pages linked by
 * continuation tokens until a page has none, every matching key returned at
 * least once and nothing else, and a garbled token is a syntax error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ssclient.h"

#define SS_ONLY "state store protocol"
#define MAX_PAGES 500
#define MAX_KEY 64

/* The keys of one page, and its token if any. */
struct page {
    int count;
    char keys[1000][MAX_KEY];
    bool has_token;
    struct ssb token;
};

static bool parse_page(const struct ss_reply *r, struct page *p)
{
    size_t pos = 0;
    long outer, n;
    p->count = 0;
    p->has_token = false;
    p->token.len = 0;
    if (!ss_parse_array_header(r->payload, r->len, &pos, &outer) || outer < 1 || outer > 2 ||
        !ss_parse_array_header(r->payload, r->len, &pos, &n) || n > 1000)
        return false;
    for (long i = 0; i < n; i++) {
        const uint8_t *k;
        size_t klen;
        if (!ss_parse_bulk(r->payload, r->len, &pos, &k, &klen) || klen >= MAX_KEY) return false;
        memcpy(p->keys[p->count], k, klen);
        p->keys[p->count++][klen] = '\0';
    }
    if (outer == 2) {
        const uint8_t *t;
        size_t tlen;
        if (!ss_parse_bulk(r->payload, r->len, &pos, &t, &tlen)) return false;
        ssb_add(&p->token, t, tlen);
        p->has_token = true;
    }
    return pos == r->len; /* no trailing bytes */
}

/* Runs a whole scan; *pages gets the number of requests. Calls back for
 * every key returned. Returns false after recording a failure. */
static int largest_page; /* keys in the largest page of the last scan */

static bool scan_all(struct ss_client *c, const char *pattern, void (*each)(void *, const char *), void *ctx,
                     int *pages)
{
    struct page *p = calloc(1, sizeof *p);
    struct ss_reply r;
    bool ok = p != NULL;
    *pages = 0;
    largest_page = 0;
    while (ok && *pages < MAX_PAGES) {
        struct ss_arg argv[3] = {ss_str("SCAN"), ss_str(pattern)};
        if (p->has_token) argv[2] = (struct ss_arg){p->token.data, p->token.len};
        ok = ss_callv(c, NULL, &r, p->has_token ? 3 : 2, argv);
        (*pages)++;
        if (ok && !parse_page(&r, p)) {
            char got[300];
            ss_escape(r.payload, r.len, got, sizeof got);
            e2e_fail(__FILE__, __LINE__, "SCAN %s page %d: malformed reply \"%s\"", pattern, *pages, got);
            ok = false;
        }
        if (ok && p->count > largest_page) largest_page = p->count;
        for (int i = 0; ok && i < p->count; i++) each(ctx, p->keys[i]);
        if (ok && !p->has_token) break;
    }
    if (ok && *pages >= MAX_PAGES) {
        e2e_fail(__FILE__, __LINE__, "SCAN %s did not finish within %d pages", pattern, MAX_PAGES);
        ok = false;
    }
    if (p) ssb_free(&p->token);
    free(p);
    return ok;
}

enum { NKEYS = 250 };

struct seen {
    int hits[NKEYS];
    int strays;
    char stray[MAX_KEY];
};

static void mark(void *ctx, const char *key)
{
    struct seen *s = ctx;
    int idx;
    char tail;
    if (sscanf(key, "scan/k%3d%c", &idx, &tail) == 1 && idx >= 0 && idx < NKEYS && strlen(key) == 9) {
        s->hits[idx]++;
        return;
    }
    s->strays++;
    snprintf(s->stray, sizeof s->stray, "%s", key);
}

/* Pipelines the SETs: 270 round trips one by one would dominate the time. */
static bool populate(struct ss_client *c)
{
    static struct ss_reply pending[NKEYS + 20];
    char req[96];
    for (int i = 0; i < NKEYS + 20; i++) {
        int n = i < NKEYS ? snprintf(req, sizeof req, "*3\r\n$3\r\nSET\r\n$9\r\nscan/k%03d\r\n$1\r\nv\r\n", i)
                          : snprintf(req, sizeof req, "*3\r\n$3\r\nSET\r\n$9\r\nother/%03d\r\n$1\r\nv\r\n", i);
        if (!ss_send(c, NULL, req, (size_t)n, &pending[i])) return false;
    }
    for (int i = 0; i < NKEYS + 20; i++) {
        if (!ss_wait(c, NULL, &pending[i], TC_TIMEOUT_MS) || !ss_reply_is(&pending[i], "+OK\r\n", 5)) {
            e2e_fail(__FILE__, __LINE__, "populate: no +OK for %s", pending[i].sent);
            return false;
        }
    }
    return true;
}

static void check_union(int *pages_out)
{
    struct ss_client a;
    struct seen s = {0};
    int pages = 0;
    CHECK(ss_open(&a, "scanner"));
    CHECK(populate(&a));
    CHECK(scan_all(&a, "scan/*", mark, &s, &pages));
    e2e_note("SCAN scan/* took %d pages, the largest with %d keys", pages, largest_page);
    *pages_out = pages;
    if (s.strays) e2e_fail(__FILE__, __LINE__, "%d keys not matching scan/* returned, e.g. %s", s.strays, s.stray);
    for (int i = 0; i < NKEYS; i++)
        if (s.hits[i] == 0) {
            e2e_fail(__FILE__, __LINE__, "scan/k%03d never returned", i);
            return;
        }
}

static void pages_cover_all_matching_keys(void)
{
    int pages = 0;
    check_union(&pages);
}

static void small_pages_cover_all_matching_keys(void)
{
    int pages = 0;
    check_union(&pages);
    /* A page ends with the hash bucket in which it reached 7 keys, so it
     * may hold a bucket's worth more (buckets stay short: load factor <= 1).
     * Bounded pages of at most 14 keys need at least 18 pages for 250. */
    if (!e2e_failed() && (pages < NKEYS / 14 || largest_page > 14))
        e2e_fail(__FILE__, __LINE__, "%d pages, the largest with %d keys, with scan_page_keys 7", pages, largest_page);
    tc_destroy_all();
}

struct names {
    char all[512];
};

static void collect(void *ctx, const char *key)
{
    struct names *n = ctx;
    size_t used = strlen(n->all);
    snprintf(n->all + used, sizeof n->all - used, "%s ", key);
}

/* Scans and checks that exactly the expected keys (in any order, each at
 * least once) came back. expected: space-separated, each followed by ' '. */
static bool glob_matches(struct ss_client *c, const char *pattern, const char *const *expected, int count)
{
    struct names got = {{0}};
    int pages;
    if (!scan_all(c, pattern, collect, &got, &pages)) return false;
    int found = 0;
    for (int i = 0; i < count; i++) {
        char needle[MAX_KEY + 2];
        snprintf(needle, sizeof needle, "%s ", expected[i]);
        bool at_start = strncmp(got.all, needle, strlen(needle)) == 0;
        char spaced[MAX_KEY + 3];
        snprintf(spaced, sizeof spaced, " %s ", expected[i]);
        found += at_start || strstr(got.all, spaced) != NULL;
    }
    /* Count distinct returned keys by spaces, allowing duplicates only if
     * all expected ones were found and nothing else appears. */
    char copy[512];
    snprintf(copy, sizeof copy, "%s", got.all);
    for (char *tok = strtok(copy, " "); tok; tok = strtok(NULL, " ")) {
        bool known = false;
        for (int i = 0; i < count; i++) known |= strcmp(tok, expected[i]) == 0;
        if (!known) {
            e2e_fail(__FILE__, __LINE__, "SCAN %s returned unexpected key %s (all: %s)", pattern, tok, got.all);
            return false;
        }
    }
    if (found != count) {
        e2e_fail(__FILE__, __LINE__, "SCAN %s returned \"%s\", missing some expected keys", pattern, got.all);
        return false;
    }
    return true;
}

static void glob_patterns(void)
{
    struct ss_client a;
    struct ss_reply r;
    const char *keys[] = {"a1", "a2", "ab", "a10", "b1", "x*y", "colors/red"};
    CHECK(ss_open(&a, "glob"));
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        SS_CMD(&a, NULL, r, "SET", keys[i], "v");
        CHECK_REPLY(r, "+OK\r\n");
    }
    CHECK(glob_matches(&a, "a?", (const char *const[]){"a1", "a2", "ab"}, 3));
    CHECK(glob_matches(&a, "a[0-9]*", (const char *const[]){"a1", "a2", "a10"}, 3));
    CHECK(glob_matches(&a, "[!a]*", (const char *const[]){"b1", "x*y", "colors/red"}, 3));
    CHECK(glob_matches(&a, "x[*]y", (const char *const[]){"x*y"}, 1));
    CHECK(glob_matches(&a, "colors/*", (const char *const[]){"colors/red"}, 1));
    CHECK(glob_matches(&a, "nothing*", (const char *const[]){NULL}, 0));
    CHECK(glob_matches(&a, "*", keys, 7));
}

static void garbled_token_is_syntax_error(void)
{
    struct ss_client a;
    struct ss_reply r;
    CHECK(ss_open(&a, "garbled"));
    SS_CMD(&a, NULL, r, "SET", "k", "v");
    CHECK_REPLY(r, "+OK\r\n");
    CHECK(ss_callv(&a, NULL, &r, 3, (struct ss_arg[]){ss_str("SCAN"), ss_str("*"), {"\x00\xffgarbage!!", 11}}));
    CHECK_REPLY(r, SS_ERR_SYNTAX);
    SS_CMD(&a, NULL, r, "SCAN", "*", "not a token");
    CHECK_REPLY(r, SS_ERR_SYNTAX);
}

/* A reader that may Read only v*: the writer's other keys must not take
 * room in its pages (8.5), or the number of empty pages before the next
 * readable key would tell it how many hidden keys match. */
#define HIDDEN_YAML                                                                      \
    "store:\n  scan_page_keys: 1\n"                                                      \
    "authorization:\n  enabled: true\n  rules:\n"                                        \
    "    - principals:\n        clientIds: [writer, reader]\n"                           \
    "      brokerResources:\n"                                                           \
    "        - method: Connect\n"                                                        \
    "        - method: Publish\n"                                                        \
    "          topics: [\"clients/{principal.clientId}/#\", \"" SS_REQUEST_TOPIC "\"]\n" \
    "        - method: Subscribe\n"                                                      \
    "          topics: [\"clients/{principal.clientId}/#\"]\n"                           \
    "    - principals:\n        clientIds: [writer]\n"                                   \
    "      stateStoreResources:\n        - method: ReadWrite\n          keys: [\"*\"]\n" \
    "    - principals:\n        clientIds: [reader]\n"                                   \
    "      stateStoreResources:\n        - method: Read\n          keys: [\"v*\"]\n"

static void hidden_keys_take_no_room_in_pages(void)
{
    enum { HIDDEN = 200, KEYS = HIDDEN + 3 };
    static struct ss_reply pending[KEYS];
    struct ss_client w, rd;
    char req[64];
    CHECK(ss_open(&w, "writer"));
    CHECK(ss_open(&rd, "reader"));
    for (int i = 0; i < KEYS; i++) { /* pipelined: h000..h199, v1..v3 */
        int n = i < HIDDEN ? snprintf(req, sizeof req, "*3\r\n$3\r\nSET\r\n$4\r\nh%03d\r\n$1\r\nv\r\n", i)
                           : snprintf(req, sizeof req, "*3\r\n$3\r\nSET\r\n$2\r\nv%d\r\n$1\r\nv\r\n", i - HIDDEN + 1);
        CHECK(ss_send(&w, NULL, req, (size_t)n, &pending[i]));
    }
    for (int i = 0; i < KEYS; i++) {
        CHECK(ss_wait(&w, NULL, &pending[i], TC_TIMEOUT_MS));
        CHECK_REPLY(pending[i], "+OK\r\n");
    }
    CHECK(glob_matches(&rd, "*", (const char *const[]){"v1", "v2", "v3"}, 3));
    /* One readable key per page (plus what shares its hash bucket) and at
     * most one empty final page: 200 hidden keys used to cost up to 200
     * pages, most of them empty. */
    struct names got = {{0}};
    int pages;
    CHECK(scan_all(&rd, "*", collect, &got, &pages));
    e2e_note("reader: %d pages for 3 readable keys among 203", pages);
    CHECK(pages <= 4);
    CHECK(scan_all(&rd, "h*", collect, &got, &pages));
    CHECK_INT(pages, 1);
}

static const struct e2e_case cases[] = {
    {"pages_cover_all_matching_keys", pages_cover_all_matching_keys, NULL, SS_ONLY},
    {"small_pages_cover_all_matching_keys", small_pages_cover_all_matching_keys, NULL, SS_ONLY,
     "store:\n  scan_page_keys: 7\n"},
    {"glob_patterns", glob_patterns, NULL, SS_ONLY},
    {"garbled_token_is_syntax_error", garbled_token_is_syntax_error, NULL, SS_ONLY},
    {"hidden_keys_take_no_room_in_pages", hidden_keys_take_no_room_in_pages, NULL, SS_ONLY, HIDDEN_YAML},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
