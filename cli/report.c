/* Errors of requests: the state store's own words where it gave any, so a
 * user can search docs/statestore.md for the exact text. */
#include "report.h"

#include <stdio.h>

#include "exitcodes.h"

int cli_exit_for(mqs_err err)
{
    switch (err) {
    case MQS_OK: return CLI_EXIT_OK;
    case MQS_ERR_CONNECT:
    case MQS_ERR_REFUSED:
    case MQS_ERR_NOT_CONNECTED:
    case MQS_ERR_CONNECTION_LOST: return CLI_EXIT_CONNECT;
    case MQS_ERR_INVALID: return CLI_EXIT_USAGE;
    default:
        /* Service errors, and anything that means the service did not give
         * a usable answer (timeout, malformed reply, RPC status). */
        return CLI_EXIT_SERVICE;
    }
}

int cli_report(const char *what, mqs_err err, const mqs_result *r)
{
    const char *reason = mqs_strerror(err);
    if (r && r->error_text && r->error_text[0]) reason = r->error_text;
    if (err == MQS_ERR_CONNECTION_LOST) fprintf(stderr, "mqstate: %s: connection lost, the outcome is unknown\n", what);
    else if (err == MQS_ERR_TIMEOUT && r && reason == r->error_text) /* the server's 408: its words */
        fprintf(stderr, "mqstate: %s: timeout: %s\n", what, reason);
    else if (err == MQS_ERR_TIMEOUT) fprintf(stderr, "mqstate: %s: no answer from the state store (timeout)\n", what);
    else fprintf(stderr, "mqstate: %s: %s\n", what, reason);
    return cli_exit_for(err);
}
