/* libmqstate leases, locks, edit under lock and leader election end to
 * end, with contenders in separate processes (fork; killed with SIGKILL
 * for the fail-over cases). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "sdk_support.h"

#define ONLY "state store"
#define K(s) s, strlen(s)

/* A child process holding the lease `name` as `holder`: acquires (lock),
 * writes its token to fd, then after hold_ms releases (release) or dies
 * without releasing (!release). */
static pid_t spawn_holder(const char *name, const char *holder, uint64_t duration_ms, int hold_ms, bool release, int fd)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid != 0) return pid;
    mqs_client *c = sdk_connect("child");
    if (!c) _exit(2);
    mqs_lease *l = mqs_lease_new(c, K(name), K(holder));
    if (mqs_lock(l, duration_ms, duration_ms / 3, 10000) != MQS_OK) _exit(3);
    mqs_hlc tok;
    mqs_lease_token(l, &tok);
    if (write(fd, &tok, sizeof tok) != sizeof tok) _exit(4);
    e2e_sleep_ms(hold_ms);
    if (!release) {
        mqs_lease_free(l); /* stops renewing; the key expires */
        mqs_client_destroy(c);
        _exit(0);
    }
    mqs_lease_release(l);
    mqs_lease_free(l);
    mqs_client_destroy(c);
    _exit(0);
}

static bool read_token(int fd, mqs_hlc *tok) { return read(fd, tok, sizeof *tok) == sizeof *tok; }

static bool child_ok(pid_t pid)
{
    int st;
    return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void contention(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = spawn_holder("L", "other", 5000, 1000, true, p[1]);
    mqs_hlc theirs;
    CHECK(read_token(p[0], &theirs));
    mqs_client *c = sdk_connect("me");
    CHECK(c);
    mqs_lease *l = mqs_lease_new(c, K("L"), NULL, 0);
    bool acquired = true;
    CHECK_INT(mqs_lease_acquire(l, 5000, 0, &acquired), MQS_OK);
    CHECK(!acquired && !mqs_lease_is_held(l));
    mqs_result r;
    CHECK_INT(mqs_lease_holder(l, &r), MQS_OK);
    CHECK(r.found && r.value.len == 5 && !memcmp(r.value.data, "other", 5));
    mqs_result_clear(&r);
    CHECK(child_ok(pid));
    CHECK_INT(mqs_lease_acquire(l, 5000, 0, &acquired), MQS_OK);
    CHECK(acquired);
    mqs_hlc mine;
    CHECK(mqs_lease_token(l, &mine));
    CHECK(mqs_hlc_compare(&mine, &theirs) > 0);
    CHECK_INT(mqs_lease_release(l), MQS_OK);
    CHECK_INT(mqs_lease_release(l), MQS_OK); /* twice is fine */
    CHECK(!mqs_lease_is_held(l));
    mqs_lease_free(l);
    mqs_client_destroy(c);
    close(p[0]);
    close(p[1]);
}

static void handover(bool release)
{
    int p[2];
    CHECK(pipe(p) == 0);
    pid_t pid = spawn_holder("lock", "child", 1500, 700, release, p[1]);
    mqs_hlc theirs;
    CHECK(read_token(p[0], &theirs));
    mqs_client *c = sdk_connect("waiter");
    CHECK(c);
    mqs_lease *l = mqs_lease_new(c, K("lock"), NULL, 0);
    int64_t t0 = e2e_now_ms();
    CHECK_INT(mqs_lock(l, 3000, 1000, 10000), MQS_OK);
    int64_t waited = e2e_now_ms() - t0;
    e2e_note("waited %lld ms", (long long)waited);
    mqs_hlc mine;
    CHECK(mqs_lease_token(l, &mine));
    CHECK(mqs_hlc_compare(&mine, &theirs) > 0);
    /* On release the DELETE wakes us well before the lease would expire. */
    if (release) CHECK(waited < 1400);
    CHECK(child_ok(pid));
    CHECK_INT(mqs_lease_release(l), MQS_OK);
    mqs_lease_free(l);
    mqs_client_destroy(c);
    close(p[0]);
    close(p[1]);
}

static void handover_release(void) { handover(true); }
static void handover_expiry(void) { handover(false); }

static void renewal(void)
{
    mqs_client *c = sdk_connect("renew"), *o = sdk_connect("other");
    CHECK(c && o);
    mqs_lease *l = mqs_lease_new(c, K("R"), NULL, 0);
    bool acquired;
    CHECK_INT(mqs_lease_acquire(l, 600, 200, &acquired), MQS_OK);
    CHECK(acquired);
    mqs_hlc first, later;
    CHECK(mqs_lease_token(l, &first));
    e2e_sleep_ms(1500);
    CHECK(mqs_lease_token(l, &later));
    CHECK(mqs_hlc_compare(&later, &first) > 0);
    mqs_lease *x = mqs_lease_new(o, K("R"), NULL, 0);
    CHECK_INT(mqs_lease_acquire(x, 600, 0, &acquired), MQS_OK);
    CHECK(!acquired);
    CHECK_INT(mqs_lease_release(l), MQS_OK);
    CHECK_INT(mqs_lease_acquire(x, 600, 0, &acquired), MQS_OK);
    CHECK(acquired);
    mqs_lease_free(x);
    mqs_lease_free(l);
    mqs_client_destroy(o);
    mqs_client_destroy(c);
}

static mqs_edit_action incr(const mqs_result *cur, uint8_t **nv, size_t *nlen, void *ud)
{
    long v = cur->found ? strtol((const char *)cur->value.data, NULL, 10) : 0;
    char *s = malloc(24);
    *nlen = (size_t)snprintf(s, 24, "%ld", v + 1);
    *nv = (uint8_t *)s;
    return MQS_EDIT_SET;
}

static void edit(void)
{
    mqs_client *c = sdk_connect("edit");
    CHECK(c);
    mqs_lease *l = mqs_lease_new(c, K("counter.lock"), NULL, 0);
    for (int i = 0; i < 5; i++) CHECK_INT(mqs_lock_edit(l, K("counter"), 2000, 10000, incr, NULL), MQS_OK);
    mqs_result r;
    CHECK_INT(mqs_get(c, K("counter"), &r), MQS_OK);
    CHECK(r.found);
    CHECK_STR((const char *)r.value.data, "5");
    mqs_result_clear(&r);
    /* The counter is fenced now: a plain write is refused. */
    CHECK_INT(mqs_set(c, K("counter"), K("0"), NULL, &r), MQS_ERR_FENCING_REQUIRED);
    mqs_result_clear(&r);
    mqs_lease_free(l);
    mqs_client_destroy(c);
}

static volatile int changes, self_elected;

static void on_leader(mqs_leader *e, bool is_self, const uint8_t *id, size_t len, void *ud)
{
    changes++;
    if (is_self) self_elected++;
}

static void leader_failover(void)
{
    int p[2];
    CHECK(pipe(p) == 0);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        mqs_client *c = sdk_connect("leader1");
        if (!c) _exit(2);
        mqs_leader *e = mqs_leader_new(c, K("position"), K("one"), 1500, NULL, NULL);
        if (!e || mqs_leader_campaign(e, 5000) != MQS_OK) _exit(3);
        if (write(p[1], "L", 1) != 1) _exit(4);
        for (;;) pause(); /* leads (renewing) until killed */
    }
    char ch;
    CHECK(read(p[0], &ch, 1) == 1);
    mqs_client *c = sdk_connect("leader2");
    CHECK(c);
    mqs_leader *e = mqs_leader_new(c, K("position"), K("two"), 1500, on_leader, NULL);
    CHECK(e);
    CHECK_INT(mqs_leader_campaign(e, 300), MQS_ERR_TIMEOUT);
    mqs_result r;
    CHECK_INT(mqs_leader_current(e, &r), MQS_OK);
    CHECK(r.found && r.value.len == 3 && !memcmp(r.value.data, "one", 3));
    mqs_result_clear(&r);
    /* Kill the leader: its term expires, the store sends DELETE, we win. */
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    int64_t t0 = e2e_now_ms();
    CHECK_INT(mqs_leader_campaign(e, 10000), MQS_OK);
    e2e_note("fail-over after %lld ms", (long long)(e2e_now_ms() - t0));
    CHECK(mqs_leader_is_leader(e));
    mqs_hlc tok;
    CHECK(mqs_leader_token(e, &tok));
    CHECK(sdk_wait_flag(&self_elected, 1, 3000));
    CHECK_INT(mqs_leader_resign(e), MQS_OK);
    CHECK(!mqs_leader_is_leader(e));
    mqs_leader_free(e);
    mqs_client_destroy(c);
    close(p[0]);
    close(p[1]);
}

/* examples/counter.c: three processes, 10 increments each, exact total. */
static void example_counter(void)
{
    const char *bin = getenv("MQS_EXAMPLE_COUNTER");
    CHECK(bin && *bin);
    char port[16];
    snprintf(port, sizeof port, "%d", e2e_port());
    pid_t pids[3];
    fflush(NULL);
    for (int i = 0; i < 3; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            execl(bin, bin, "-h", "127.0.0.1", "-p", port, "-n", "10", (char *)NULL);
            _exit(127);
        }
    }
    for (int i = 0; i < 3; i++) CHECK(child_ok(pids[i]));
    mqs_client *c = sdk_connect("check");
    CHECK(c);
    mqs_result r;
    CHECK_INT(mqs_get(c, K("counter"), &r), MQS_OK);
    CHECK(r.found);
    CHECK_STR((const char *)r.value.data, "30");
    mqs_result_clear(&r);
    mqs_client_destroy(c);
}

static const struct e2e_case cases[] = {
    {"example_counter", example_counter, .mqstated_only = ONLY},
    {"contention", contention, .mqstated_only = ONLY},
    {"handover_release", handover_release, .mqstated_only = ONLY},
    {"handover_expiry", handover_expiry, .mqstated_only = ONLY},
    {"renewal", renewal, .mqstated_only = ONLY},
    {"edit", edit, .mqstated_only = ONLY},
    {"leader_failover", leader_failover, .mqstated_only = ONLY},
};

int main(int argc, char **argv) { return e2e_main(cases, (int)(sizeof cases / sizeof cases[0]), argc, argv); }
