/* Signal handling for the long-running subcommands (watch, lock). The
 * signals are blocked in every thread — they must be blocked BEFORE the
 * library starts its network thread, which inherits the mask — and the
 * main thread takes them synchronously with sigwaitinfo, so no handler
 * ever runs in the middle of library code. */
#ifndef MQSTATE_CLI_SIGNALS_H
#define MQSTATE_CLI_SIGNALS_H

#include <signal.h>

/* SIGINT, SIGTERM, SIGHUP, SIGCHLD and SIGUSR1 (the wake-up the library's
 * callbacks send to the main thread). */
void cli_signals_set(sigset_t *set);

/* Blocks cli_signals_set's signals; the previous mask goes to *old. */
void cli_signals_block(sigset_t *old);

/* Wakes the main thread from another thread (library callback). */
void cli_signals_wake(void);

#endif
