/* Turning libmqstate errors into one line on stderr and an exit status. */
#ifndef MQSTATE_CLI_REPORT_H
#define MQSTATE_CLI_REPORT_H

#include <mqstate/client.h>

/* The exit status for an error of a request (not of connecting). */
int cli_exit_for(mqs_err err);

/* Prints "mqstate: <what>: <reason>" (the service's own text for service
 * errors) and returns cli_exit_for(err). `r` may be NULL. */
int cli_report(const char *what, mqs_err err, const mqs_result *r);

#endif
