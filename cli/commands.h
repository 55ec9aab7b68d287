/* The subcommands. Each returns the process exit status (exitcodes.h) and
 * prints its own results and its one-line errors. */
#ifndef MQSTATE_CLI_COMMANDS_H
#define MQSTATE_CLI_COMMANDS_H

#include "options.h"
#include "session.h"

int cli_cmd_get(const struct cli_options *opts, struct cli_session *s);
int cli_cmd_set(const struct cli_options *opts, struct cli_session *s);
int cli_cmd_del(const struct cli_options *opts, struct cli_session *s);
int cli_cmd_vdel(const struct cli_options *opts, struct cli_session *s);
int cli_cmd_keys(const struct cli_options *opts, struct cli_session *s);
int cli_cmd_cluster(const struct cli_options *opts, struct cli_session *s);

/* watch, lock and elect connect by themselves: they must set up their signal
 * handling before the library starts its network thread. */
int cli_cmd_watch(const struct cli_options *opts);
int cli_cmd_lock(const struct cli_options *opts);
int cli_cmd_elect(const struct cli_options *opts);

int cli_cmd_version(const struct cli_options *opts);

#endif
