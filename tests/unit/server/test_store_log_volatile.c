/* Volatile entries of the durable state store log (store_log.c,
 * repl_log_propose_volatile; docs/persistence.md "Choosing durable keys"):
 * a volatile entry with nothing ahead of it commits inside the call; one
 * proposed behind durable entries commits right after them, never before
 * (apply order is log order), also when they fail; only durable entries
 * reach the file. Real files in a temp dir, fsync: always, the loop run
 * by the test; with the fsync on the thread pool (as after a slow one)
 * and on the loop (a fast disk: a group commits inside its flush). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "repl/frame.h"
#include "server/store_log.h"
#include "store/service.h"

#define MAX_SEEN 32

typedef struct fixture {
    uv_loop_t loop;
    char dir[64];
    store_log *sl;
    repl_log *log;
    store_service *svc;
    uint64_t seen[MAX_SEEN]; /* tags in commit order; failures negated as ~tag */
    int nseen;
} fixture;

static void on_commit(void *ctx, uint64_t index, const uint8_t *rec, size_t len, uint64_t tag)
{
    fixture *f = ctx;
    (void)index, (void)rec, (void)len;
    assert_true(f->nseen < MAX_SEEN);
    f->seen[f->nseen++] = tag;
}

static void on_fail(void *ctx, uint64_t tag, const char *why)
{
    fixture *f = ctx;
    (void)why;
    f->seen[f->nseen++] = ~tag;
}

static int setup_with(void **state, uint64_t inline_sync_max_ns)
{
    fixture *f = calloc(1, sizeof *f);
    uv_loop_init(&f->loop);
    snprintf(f->dir, sizeof f->dir, "/tmp/mqs-volatile-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char err[256];
    f->sl = store_log_new(&f->loop, f->dir, STORE_FSYNC_ALWAYS, err, sizeof err);
    assert_non_null(f->sl);
    store_log_set_inline_sync_max(f->sl, inline_sync_max_ns);
    store_config sc;
    store_config_default(&sc);
    f->svc = store_service_new(&sc, NULL, NULL);
    f->log = store_log_attach(f->sl, f->svc, on_commit, on_fail, f);
    assert_non_null(f->log);
    *state = f;
    return 0;
}

/* Every fsync on the thread pool; every fsync on the loop, however slow
 * (a loaded machine must not send it to the pool mid-test). */
static int setup(void **state) { return setup_with(state, 0); }
static int setup_on_loop(void **state) { return setup_with(state, UINT64_MAX); }

static int teardown(void **state)
{
    fixture *f = *state;
    store_log_shutdown(f->sl);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    repl_log_free(f->log);
    store_log_free(f->sl);
    store_service_free(f->svc);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static const uint8_t REC[] = "a record";

/* Run the loop until n entries were seen (fsyncs on the thread pool). */
static void run_until(fixture *f, int n)
{
    for (int i = 0; i < 10000 && f->nseen < n; i++) {
        repl_log_flush(f->log);
        uv_run(&f->loop, UV_RUN_NOWAIT);
        if (f->nseen < n) usleep(200);
    }
    assert_int_equal(f->nseen, n);
}

static off_t log_size(fixture *f)
{
    char p[128];
    snprintf(p, sizeof p, "%s/statestore.log", f->dir);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    return st.st_size;
}

static void test_alone_commits_at_once(void **state)
{
    fixture *f = *state;
    assert_true(repl_log_propose_volatile(f->log, REC, sizeof REC, 1));
    assert_int_equal(f->nseen, 1);
    assert_int_equal(f->seen[0], 1);
    repl_log_flush(f->log);
    assert_int_equal(log_size(f), 0); /* never written */
}

static void test_waits_behind_durable(void **state)
{
    fixture *f = *state;
    size_t frame = REPL_FRAME_HEADER + sizeof REC;
    assert_true(repl_log_propose(f->log, REC, sizeof REC, 1));
    assert_true(repl_log_propose_volatile(f->log, REC, sizeof REC, 2));
    assert_int_equal(f->nseen, 0); /* 2 must not overtake 1 */
    repl_log_flush(f->log);        /* group {1, 2}: 1 written, its fsync in flight */
    assert_true(repl_log_propose(f->log, REC, sizeof REC, 3));
    assert_true(repl_log_propose_volatile(f->log, REC, sizeof REC, 4));
    assert_true(repl_log_propose_volatile(f->log, REC, sizeof REC, 5));
    assert_int_equal(f->nseen, 0);
    run_until(f, 5);
    for (int i = 0; i < 5; i++) assert_int_equal(f->seen[i], (uint64_t)i + 1);
    assert_int_equal(log_size(f), (off_t)(2 * frame)); /* 1 and 3 only */
    /* Nothing ahead any more: at once again. */
    assert_true(repl_log_propose_volatile(f->log, REC, sizeof REC, 6));
    assert_int_equal(f->nseen, 6);
}

/* fsync on the loop: the group {1, 2} is written, synced and committed
 * inside its flush; later volatile entries wait behind the next durable
 * one the same way. */
static void test_waits_behind_durable_on_loop(void **state)
{
    fixture *f = *state;
    size_t frame = REPL_FRAME_HEADER + sizeof REC;
    assert_true(repl_log_propose(f->log, REC, sizeof REC, 1));
    assert_true(repl_log_propose_volatile(f->log, REC, sizeof REC, 2));
    assert_int_equal(f->nseen, 0); /* 2 must not overtake 1 */
    repl_log_flush(f->log);
    assert_int_equal(f->nseen, 2);
    assert_true(repl_log_propose(f->log, REC, sizeof REC, 3));
    assert_true(repl_log_propose_volatile(f->log, REC, sizeof REC, 4));
    assert_int_equal(f->nseen, 2);
    repl_log_flush(f->log);
    assert_int_equal(f->nseen, 4);
    for (int i = 0; i < 4; i++) assert_int_equal(f->seen[i], (uint64_t)i + 1);
    assert_int_equal(log_size(f), (off_t)(2 * frame));
    assert_true(repl_log_propose_volatile(f->log, REC, sizeof REC, 5));
    assert_int_equal(f->nseen, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_alone_commits_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waits_behind_durable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_waits_behind_durable_on_loop, setup_on_loop, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
