/* See held.h. The main thread sleeps in sigwaitinfo: library callbacks
 * wake it with SIGUSR1 (signals.h), so no handler ever runs. */
#include "held.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "child.h"
#include "exitcodes.h"
#include "report.h"
#include "result_output.h"
#include "signals.h"

void cli_held_interruptible(bool on)
{
    sigset_t interrupt;
    sigemptyset(&interrupt);
    sigaddset(&interrupt, SIGINT);
    sigaddset(&interrupt, SIGTERM);
    sigaddset(&interrupt, SIGHUP);
    pthread_sigmask(on ? SIG_UNBLOCK : SIG_BLOCK, &interrupt, NULL);
}

void cli_held_lose(struct cli_held *h, mqs_err err, const char *why)
{
    if (atomic_load(&h->lost)) return;
    snprintf(h->lost_why, sizeof h->lost_why, "%s",
             why             ? why
             : err == MQS_OK ? "another holder has it"
                             : "renewal failed");
    atomic_store(&h->lost_err, err);
    atomic_store(&h->lost, true);
    cli_signals_wake();
}

/* Interrupts sent with kill(1) are passed on; those from the terminal
 * (SI_KERNEL) already reached CMD, which is in the same process group. */
static void forward(pid_t pid, const siginfo_t *si)
{
    if (si->si_code == SI_USER || si->si_code == SI_QUEUE) kill(pid, si->si_signo);
}

static void stop_child(struct cli_held *h, pid_t pid)
{
    char line[256];
    snprintf(line, sizeof line, "%s lost: %s; stopping the command", h->what, h->lost_why);
    cli_key_message(h->opts, &h->opts->keys[0], line);
    kill(pid, SIGTERM);
}

/* Waits for CMD to end; returns its waitpid status. */
static int supervise(struct cli_held *h, pid_t pid)
{
    sigset_t set;
    cli_signals_set(&set);
    bool stopped = false;
    for (;;) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) return status;
        if (atomic_load(&h->lost) && !stopped) {
            stop_child(h, pid);
            stopped = true;
        }
        siginfo_t si;
        int sig = sigwaitinfo(&set, &si);
        if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) forward(pid, &si);
    }
}

int cli_held_run(struct cli_held *h, const char *token, const sigset_t *orig_mask)
{
    int status;
    pid_t pid = cli_child_spawn(h->opts->child_argv, token, &h->opts->conn, orig_mask, &status);
    if (pid > 0) status = cli_child_status(supervise(h, pid));
    return status;
}

int cli_held_lost_status(const struct cli_held *h)
{
    mqs_err err = atomic_load(&h->lost_err);
    return err == MQS_OK ? CLI_EXIT_SERVICE : cli_exit_for(err);
}
