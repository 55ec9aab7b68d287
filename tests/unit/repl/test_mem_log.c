/* The in-memory log (repl/log.h): proposals commit at once, in the call,
 * with indexes 1, 2, ..., the proposer's tag and the record's bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "repl/log.h"

typedef struct seen {
    int commits, fails;
    uint64_t index, tag;
    char rec[32];
    size_t len;
} seen;

static void on_commit(void *ctx, uint64_t index, const uint8_t *rec, size_t len, uint64_t tag)
{
    seen *s = ctx;
    s->commits++;
    s->index = index;
    s->tag = tag;
    assert_true(len <= sizeof s->rec);
    if (len) memcpy(s->rec, rec, len);
    s->len = len;
}

static void on_fail(void *ctx, uint64_t tag, const char *why)
{
    (void)tag;
    (void)why;
    ((seen *)ctx)->fails++;
}

static void test_commits_in_the_call(void **state)
{
    (void)state;
    seen s = {0};
    repl_log *l = repl_mem_log_new(on_commit, on_fail, &s);
    assert_non_null(l);
    assert_ptr_equal(l->ctx, &s);
    for (uint64_t i = 1; i <= 1000; i++) {
        char rec[16];
        int n = snprintf(rec, sizeof rec, "rec-%llu", (unsigned long long)i);
        assert_true(repl_log_propose(l, (const uint8_t *)rec, (size_t)n, i * 7));
        assert_int_equal(s.commits, (int)i);
        assert_true(s.index == i);
        assert_true(s.tag == i * 7);
        assert_int_equal(s.len, (size_t)n);
        assert_memory_equal(s.rec, rec, s.len);
        if (i % 100 == 0) repl_log_flush(l); /* does nothing */
    }
    assert_true(repl_log_propose(l, NULL, 0, UINT64_MAX));
    assert_int_equal(s.len, 0);
    assert_true(s.index == 1001 && s.tag == UINT64_MAX);
    assert_int_equal(s.fails, 0);
    repl_log_free(l);
    repl_log_free(NULL);
}

/* A commit callback may propose again (a reply that triggers a write):
 * the nested entry gets the next index. */
typedef struct nest {
    repl_log *l;
    uint64_t order[4];
    int n;
} nest;

static void on_commit_nested(void *ctx, uint64_t index, const uint8_t *rec, size_t len, uint64_t tag)
{
    (void)rec;
    (void)len;
    nest *s = ctx;
    s->order[s->n++] = index;
    if (tag == 1) assert_true(repl_log_propose(s->l, (const uint8_t *)"x", 1, 2));
}

static void test_nested_propose(void **state)
{
    (void)state;
    nest s = {0};
    s.l = repl_mem_log_new(on_commit_nested, NULL, &s);
    assert_true(repl_log_propose(s.l, (const uint8_t *)"a", 1, 1));
    assert_int_equal(s.n, 2);
    assert_true(s.order[0] == 1 && s.order[1] == 2);
    repl_log_free(s.l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commits_in_the_call),
        cmocka_unit_test(test_nested_propose),
    };
    return cmocka_run_group_tests_name("mem_log", tests, NULL, NULL);
}
