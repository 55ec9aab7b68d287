/* mqstate elect NAME [--ttl S] [--wait S] -- CMD...: campaign for the
 * leadership NAME (libmqstate's leader election: a lease on the key NAME
 * holding this run's client id, terms of --ttl renewed every ttl/3), run
 * CMD while leader, resign when it exits, exit with its status, like
 * `etcdctl elect NAME -- CMD`. The position is observed: if it changes to
 * another leader, is deleted or expires, or a renewal fails, leadership is
 * lost and CMD gets SIGTERM, so two leaders never act at once for longer
 * than it takes CMD to stop. */
#include <mqstate/lease.h>

#include <stdio.h>

#include "commands.h"
#include "exitcodes.h"
#include "held.h"
#include "report.h"
#include "result_output.h"
#include "signals.h"

/* Longest single campaign; waiting "forever" repeats it. */
#define ELECT_WAIT_CHUNK_MS 3600000

struct elect_run {
    struct cli_held held;
    mqs_leader *leader;
    atomic_bool elected; /* set once the campaign succeeded, until resigning */
};

/* Leader changes seen on the network thread. Notifications from before
 * the election have all been delivered by the time the campaign returns
 * (they precede its reply on the connection), so any "not self" after it
 * is a loss: someone else leads, or the position was deleted or expired,
 * or a renewal failed. */
static void on_change(mqs_leader *e, bool is_self, const uint8_t *leader, size_t len, void *ud)
{
    struct elect_run *run = ud;
    if (!atomic_load(&run->elected) || is_self) return;
    char why[128];
    if (leader) snprintf(why, sizeof why, "%.*s is the leader now", len > 64 ? 64 : (int)len, (const char *)leader);
    else snprintf(why, sizeof why, "the term ended (deleted, expired, or not renewed)");
    cli_held_lose(&run->held, MQS_OK, why);
}

static mqs_err campaign(struct elect_run *run)
{
    const struct cli_options *opts = run->held.opts;
    mqs_err err;
    cli_held_interruptible(true);
    if (opts->wait_s >= 0) {
        err = mqs_leader_campaign(run->leader, (int)(opts->wait_s * 1000));
    } else {
        do err = mqs_leader_campaign(run->leader, ELECT_WAIT_CHUNK_MS);
        while (err == MQS_ERR_TIMEOUT);
    }
    cli_held_interruptible(false);
    return err;
}

static int lead(struct elect_run *run, const sigset_t *orig_mask)
{
    const struct cli_options *opts = run->held.opts;
    mqs_hlc token;
    char text[MQS_HLC_STR_MAX];
    if (!mqs_leader_token(run->leader, &token) || !mqs_hlc_format(&token, text, sizeof text)) {
        cli_key_message(opts, &opts->keys[0], "leadership lost before the command ran");
        return CLI_EXIT_SERVICE;
    }
    if (opts->verbose) fprintf(stderr, "mqstate: elected, fencing token %s\n", text);
    int status = cli_held_run(&run->held, text, orig_mask);
    atomic_store(&run->elected, false); /* our own resignation is no loss */
    if (atomic_load(&run->held.lost)) {
        mqs_leader_resign(run->leader); /* deletes the position only if still ours */
        return cli_held_lost_status(&run->held);
    }
    mqs_err err = mqs_leader_resign(run->leader);
    if (err != MQS_OK) cli_report("elect: resign (the term expires after --ttl)", err, NULL);
    else if (opts->verbose) fprintf(stderr, "mqstate: resigned\n");
    return status;
}

static int elect(struct elect_run *run, const sigset_t *orig_mask)
{
    const struct cli_options *opts = run->held.opts;
    mqs_err err = campaign(run);
    if (err == MQS_ERR_TIMEOUT && opts->wait_s >= 0) {
        cli_key_message(opts, &opts->keys[0], "not elected within --wait");
        return CLI_EXIT_NOT_MET;
    }
    if (err != MQS_OK) return cli_report("elect", err, NULL);
    atomic_store(&run->elected, true);
    return lead(run, orig_mask);
}

int cli_cmd_elect(const struct cli_options *opts)
{
    sigset_t orig_mask;
    cli_signals_block(&orig_mask);
    struct cli_session s;
    int rc = cli_session_open(&s, opts);
    if (rc != CLI_EXIT_OK) return rc;
    struct elect_run run = {.held = {.opts = opts, .what = "leadership"}};
    const struct cli_bytes *name = &opts->keys[0];
    run.leader = mqs_leader_new(s.client, name->data, name->len, NULL, 0, opts->ttl_ms, on_change, &run);
    if (!run.leader) {
        mqs_err err = mqs_client_is_connected(s.client) ? MQS_ERR_INVALID : MQS_ERR_CONNECTION_LOST;
        rc = cli_report("elect: cannot observe the position", err, NULL);
    } else {
        rc = elect(&run, &orig_mask);
        mqs_leader_free(run.leader);
    }
    cli_session_close(&s);
    return rc;
}
