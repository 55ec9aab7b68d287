/* One connection to the broker through libmqstate, set up from the
 * command-line options. */
#ifndef MQSTATE_CLI_SESSION_H
#define MQSTATE_CLI_SESSION_H

#include <stdatomic.h>
#include <stdbool.h>

#include <mqstate/client.h>

#include "options.h"

struct cli_session {
    mqs_client *client;
    const struct cli_connection *conn;
    bool verbose;
    char generated_id[64];
    /* Written by the library's network thread (connection callback). */
    atomic_bool was_connected;
    atomic_bool closing;
};

/* Connects (waiting up to the --timeout). On failure prints one line on
 * stderr and returns the exit status (CLI_EXIT_CONNECT or _USAGE);
 * CLI_EXIT_OK on success. */
int cli_session_open(struct cli_session *s, const struct cli_options *opts);
void cli_session_close(struct cli_session *s);

#endif
