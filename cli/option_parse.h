/* Internal to the command-line parser: the state shared by the argv walk
 * (options.c), the setting of each option (option_apply.c) and the checks
 * per subcommand once everything is read (options_check.c). */
#ifndef MQSTATE_CLI_OPTION_PARSE_H
#define MQSTATE_CLI_OPTION_PARSE_H

#include <stdint.h>

#include "option_table.h"
#include "options.h"

struct cli_parse_state {
    const char **positional; /* subcommand and its operands, in order */
    int positional_count;
    int positional_cap;
    uint64_t seen; /* OPT_BIT of every option given */
};

/* Sets one option. `arg` is the spelling used, for messages. */
int cli_option_apply(struct cli_options *opts, struct cli_parse_state *st, enum cli_opt_id id, const char *value,
                     const char *arg);

/* Sets one connection option (also from the environment: `arg` is then
 * the variable's name, for messages). */
int cli_apply_connection(struct cli_connection *c, enum cli_opt_id id, const char *value, const char *arg);

/* Fills the connection settings not given on the command line from the
 * MQSTATE_* environment, then reads --password-file or prompts
 * (--askpass). */
int cli_options_environment(struct cli_options *opts, struct cli_parse_state *st);

/* Resolves the subcommand, its operands and the defaults that depend on
 * other options; rejects options the subcommand does not use. */
int cli_options_finish(struct cli_options *opts, struct cli_parse_state *st);

/* Appends a key (copied) to opts->keys. */
int cli_options_add_key(struct cli_options *opts, const void *data, size_t len);

#endif
