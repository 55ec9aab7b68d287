/* mqstate lock NAME [--ttl S] [--wait S] -- CMD...: take the lock (a lease
 * held under this run's unique client id, renewed every ttl/3), run CMD,
 * release, exit with CMD's status. Should the lease be lost while CMD runs
 * (a renewal failed: someone else may now hold it), CMD is sent SIGTERM,
 * because continuing would break the mutual exclusion it asked for. */
#include <mqstate/lease.h>

#include <stdio.h>

#include "commands.h"
#include "exitcodes.h"
#include "held.h"
#include "report.h"
#include "result_output.h"
#include "signals.h"

/* Longest single mqs_lock wait; waiting "forever" repeats it. */
#define LOCK_WAIT_CHUNK_MS 3600000

struct lock_run {
    struct cli_held held;
    mqs_lease *lease;
};

static void on_lost(mqs_lease *l, mqs_err err, void *ud)
{
    struct lock_run *run = ud;
    cli_held_lose(&run->held, err, NULL);
}

/* Blocks until acquired. SIGINT/SIGTERM are unblocked meanwhile: an
 * interrupted wait simply ends the process, nothing is held (or what was
 * just taken expires after the ttl). */
static mqs_err acquire(struct lock_run *run, bool *acquired)
{
    const struct cli_options *opts = run->held.opts;
    uint64_t renew_ms = opts->ttl_ms / 3;
    mqs_err err;
    *acquired = false;
    cli_held_interruptible(true);
    if (opts->wait_s == 0) {
        err = mqs_lease_acquire(run->lease, opts->ttl_ms, renew_ms, acquired);
    } else if (opts->wait_s > 0) {
        err = mqs_lock(run->lease, opts->ttl_ms, renew_ms, (int)(opts->wait_s * 1000));
        *acquired = err == MQS_OK;
    } else {
        do err = mqs_lock(run->lease, opts->ttl_ms, renew_ms, LOCK_WAIT_CHUNK_MS);
        while (err == MQS_ERR_TIMEOUT);
        *acquired = err == MQS_OK;
    }
    cli_held_interruptible(false);
    return err;
}

static int run_locked(struct lock_run *run, const sigset_t *orig_mask)
{
    const struct cli_options *opts = run->held.opts;
    mqs_hlc token;
    char text[MQS_HLC_STR_MAX];
    if (!mqs_lease_token(run->lease, &token) || !mqs_hlc_format(&token, text, sizeof text)) {
        cli_key_message(opts, &opts->keys[0], "lock lost before the command ran");
        return CLI_EXIT_SERVICE;
    }
    if (opts->verbose) fprintf(stderr, "mqstate: lock acquired, fencing token %s\n", text);
    int status = cli_held_run(&run->held, text, orig_mask);
    if (atomic_load(&run->held.lost)) return cli_held_lost_status(&run->held);
    mqs_err err = mqs_lease_release(run->lease);
    if (err != MQS_OK) cli_report("lock: release (the lock expires after --ttl)", err, NULL);
    else if (opts->verbose) fprintf(stderr, "mqstate: lock released\n");
    return status;
}

static int lock_with_lease(struct lock_run *run, const sigset_t *orig_mask)
{
    const struct cli_options *opts = run->held.opts;
    bool acquired;
    mqs_err err = acquire(run, &acquired);
    if (err == MQS_ERR_TIMEOUT && opts->wait_s > 0) {
        cli_key_message(opts, &opts->keys[0], "lock not acquired within --wait");
        return CLI_EXIT_NOT_MET;
    }
    if (err != MQS_OK) return cli_report("lock", err, NULL);
    if (!acquired) {
        cli_key_message(opts, &opts->keys[0], "lock held by another holder");
        return CLI_EXIT_NOT_MET;
    }
    return run_locked(run, orig_mask);
}

int cli_cmd_lock(const struct cli_options *opts)
{
    sigset_t orig_mask;
    cli_signals_block(&orig_mask);
    struct cli_session s;
    int rc = cli_session_open(&s, opts);
    if (rc != CLI_EXIT_OK) return rc;
    struct lock_run run = {.held = {.opts = opts, .what = "lock"}};
    const struct cli_bytes *name = &opts->keys[0];
    run.lease = mqs_lease_new(s.client, name->data, name->len, NULL, 0);
    if (!run.lease) {
        fprintf(stderr, "mqstate: lock: cannot create the lease\n");
        rc = CLI_EXIT_USAGE;
    } else {
        mqs_lease_on_lost(run.lease, on_lost, &run);
        rc = lock_with_lease(&run, &orig_mask);
        mqs_lease_free(run.lease);
    }
    cli_session_close(&s);
    return rc;
}
