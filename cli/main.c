/* mqstate: command-line client of the state store, built on libmqstate.
 * Parse, read the value (before connecting, so input errors are usage
 * errors whatever the broker's state), connect, run one subcommand. */
#include <stdio.h>

#include "commands.h"
#include "exitcodes.h"
#include "usage.h"
#include "value_input.h"

typedef int (*request_command)(const struct cli_options *, struct cli_session *);

static request_command request_command_for(enum cli_command command)
{
    switch (command) {
    case CLI_CMD_GET: return cli_cmd_get;
    case CLI_CMD_SET: return cli_cmd_set;
    case CLI_CMD_DEL: return cli_cmd_del;
    case CLI_CMD_VDEL: return cli_cmd_vdel;
    case CLI_CMD_KEYS: return cli_cmd_keys;
    case CLI_CMD_CLUSTER: return cli_cmd_cluster;
    default: return NULL;
    }
}

static int run(struct cli_options *opts)
{
    switch (opts->command) {
    case CLI_CMD_HELP: cli_usage_print(stdout); return CLI_EXIT_OK;
    case CLI_CMD_VERSION: return cli_cmd_version(opts);
    case CLI_CMD_WATCH: return cli_cmd_watch(opts);
    case CLI_CMD_LOCK: return cli_cmd_lock(opts);
    case CLI_CMD_ELECT: return cli_cmd_elect(opts);
    default: break;
    }
    if (opts->command == CLI_CMD_SET || opts->command == CLI_CMD_VDEL) {
        int rc = cli_value_resolve(opts);
        if (rc != CLI_EXIT_OK) return rc;
    }
    struct cli_session s;
    int rc = cli_session_open(&s, opts);
    if (rc == CLI_EXIT_OK) {
        rc = request_command_for(opts->command)(opts, &s);
        cli_session_close(&s);
    }
    return rc;
}

int main(int argc, char **argv)
{
    struct cli_options opts;
    int rc = cli_options_parse(&opts, argc, argv);
    if (rc == CLI_EXIT_OK) rc = run(&opts);
    cli_options_free(&opts);
    return rc;
}
