/* The --help text of mqstate. */
#ifndef MQSTATE_CLI_USAGE_H
#define MQSTATE_CLI_USAGE_H

#include <stdio.h>

void cli_usage_print(FILE *out);

#endif
