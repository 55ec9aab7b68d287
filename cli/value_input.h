/* Where the value of set/vdel comes from: --value/--value-hex or the VALUE
 * argument, else -f FILE ("-" = stdin), else standard input. Files and
 * stdin are read byte for byte: nothing is trimmed (a trailing newline is
 * part of the value), unlike statestore-cli, which reads UTF-8 text. */
#ifndef MQSTATE_CLI_VALUE_INPUT_H
#define MQSTATE_CLI_VALUE_INPUT_H

#include "options.h"

/* Reads the file or stdin into opts->value unless a value was given on the
 * command line. Done before connecting, so that an unreadable file is a
 * usage error (2) whatever the state of the broker. Returns an exit status:
 * OK, or USAGE after a one-line message. */
int cli_value_resolve(struct cli_options *opts);

#endif
