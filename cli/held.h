/* Running a command while holding something that can be lost: a lock
 * (`mqstate lock`) or the leadership of an election (`mqstate elect`).
 * Shared by both: the interruptible wait for it, spawning the command with
 * the fencing token and the connection settings, passing signals on, and
 * stopping the command (SIGTERM) when what it held was lost. */
#ifndef MQSTATE_CLI_HELD_H
#define MQSTATE_CLI_HELD_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <mqstate/client.h>

#include "options.h"

struct cli_held {
    const struct cli_options *opts;
    const char *what; /* "lock" or "leadership", for messages */
    /* Set from the library's network thread (cli_held_lose). */
    atomic_bool lost;
    atomic_int lost_err; /* the renewal's error; MQS_OK: someone else has it */
    char lost_why[160];  /* written before `lost` is set */
};

/* Lets SIGINT, SIGTERM and SIGHUP end the process while waiting to acquire
 * (on = true), or blocks them again for the supervision (on = false). */
void cli_held_interruptible(bool on);

/* Records the loss (why: one line, NULL for the default text) and wakes
 * the main thread. Callable from a library callback, once or more. */
void cli_held_lose(struct cli_held *h, mqs_err err, const char *why);

/* Runs the command after "--" with MQSTATE_FENCING_TOKEN=token and the
 * connection settings (child.h), waits for it, passes kill(1) signals on,
 * and sends it SIGTERM if the hold is lost meanwhile. Returns its
 * shell-like status. */
int cli_held_run(struct cli_held *h, const char *token, const sigset_t *orig_mask);

/* The exit status after a loss: 4, or 3 when a renewal failed for a
 * connection error. */
int cli_held_lost_status(const struct cli_held *h);

#endif
