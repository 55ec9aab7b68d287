/* The command `mqstate lock` / `mqstate elect` runs while it holds the
 * lock / the leadership. */
#ifndef MQSTATE_CLI_CHILD_H
#define MQSTATE_CLI_CHILD_H

#include <signal.h>
#include <sys/types.h>

#include "options.h"

/* Starts argv[0] (searched in PATH) with the environment plus
 * MQSTATE_FENCING_TOKEN=<token> and the connection settings of `conn`
 * (MQSTATE_HOST, MQSTATE_PORT, and MQSTATE_USERNAME / MQSTATE_PASSWORD
 * when set), and with the signal mask `mask` (the one mqstate started
 * with). Returns the pid, or -1 after a one-line message; *status_out is
 * then the shell-like status: 127 not found, 126 not runnable. */
pid_t cli_child_spawn(char **argv, const char *token, const struct cli_connection *conn, const sigset_t *mask,
                      int *status_out);

/* Shell-like exit status of a waitpid status: the exit code, or 128 + the
 * signal number. */
int cli_child_status(int wait_status);

#endif
