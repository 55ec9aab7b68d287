/* After the argv walk: which subcommand, its operands, and whether every
 * option given makes sense for it. Rejecting an option a subcommand ignores
 * (say `get --nx`) catches typos that would otherwise silently do
 * something else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "option_parse.h"

#define CONNECTION_OPTS                                                                                                \
    (OPT_BIT(OPT_HOST) | OPT_BIT(OPT_PORT) | OPT_BIT(OPT_ID) | OPT_BIT(OPT_USERNAME) | OPT_BIT(OPT_PASSWORD) |         \
     OPT_BIT(OPT_CAFILE) | OPT_BIT(OPT_CAPATH) | OPT_BIT(OPT_CERTFILE) | OPT_BIT(OPT_KEYFILE) | OPT_BIT(OPT_KEYPASS) | \
     OPT_BIT(OPT_KEYPASSWORDFILE) | OPT_BIT(OPT_TLS) | OPT_BIT(OPT_NOTLS) | OPT_BIT(OPT_INSECURE) |                    \
     OPT_BIT(OPT_TIMEOUT) | OPT_BIT(OPT_VERBOSE) | OPT_BIT(OPT_HEX) | OPT_BIT(OPT_JSON) | OPT_BIT(OPT_PASSWORD_FILE) | \
     OPT_BIT(OPT_ASKPASS))
#define KEY_OPTS (OPT_BIT(OPT_KEY) | OPT_BIT(OPT_KEY_HEX))
#define VALUE_OPTS (OPT_BIT(OPT_VALUE) | OPT_BIT(OPT_VALUE_HEX) | OPT_BIT(OPT_VALUEFILE))

struct command_spec {
    const char *name;
    enum cli_command command;
    uint64_t allowed; /* beyond CONNECTION_OPTS */
    int max_operands; /* positional arguments after the name */
};

static const struct command_spec commands[] = {
    {"get", CLI_CMD_GET, KEY_OPTS | OPT_BIT(OPT_VALUEFILE), 1},
    {"set", CLI_CMD_SET,
     KEY_OPTS | VALUE_OPTS | OPT_BIT(OPT_NX) | OPT_BIT(OPT_NEX) | OPT_BIT(OPT_PX) | OPT_BIT(OPT_FT) |
         OPT_BIT(OPT_PERSIST),
     2},
    {"del", CLI_CMD_DEL, KEY_OPTS | OPT_BIT(OPT_FT), 1},
    {"delete", CLI_CMD_DEL, KEY_OPTS | OPT_BIT(OPT_FT), 1},
    {"vdel", CLI_CMD_VDEL, KEY_OPTS | VALUE_OPTS | OPT_BIT(OPT_FT), 2},
    {"watch", CLI_CMD_WATCH, KEY_OPTS, -1},
    {"keys", CLI_CMD_KEYS, 0, 1},
    {"lock", CLI_CMD_LOCK, KEY_OPTS | OPT_BIT(OPT_TTL) | OPT_BIT(OPT_WAIT), 1},
    {"elect", CLI_CMD_ELECT, KEY_OPTS | OPT_BIT(OPT_TTL) | OPT_BIT(OPT_WAIT), 1},
    {"cluster", CLI_CMD_CLUSTER, OPT_BIT(OPT_DIGEST), 2},
    {"version", CLI_CMD_VERSION, 0, 0},
    {"help", CLI_CMD_HELP, 0, 0},
};

static int usage(const char *message, const char *detail)
{
    fprintf(stderr, "mqstate: %s%s (see mqstate --help)\n", message, detail ? detail : "");
    return CLI_EXIT_USAGE;
}

static const struct command_spec *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    }
    return NULL;
}

static int check_allowed(const struct command_spec *cmd, uint64_t seen)
{
    uint64_t extra = seen & ~(CONNECTION_OPTS | cmd->allowed);
    for (int id = 0; id < OPT_COUNT; id++) {
        if (extra & OPT_BIT(id)) {
            fprintf(stderr, "mqstate: %s does not take --%s (see mqstate --help)\n", cmd->name,
                    cli_opt_name((enum cli_opt_id)id));
            return CLI_EXIT_USAGE;
        }
    }
    return CLI_EXIT_OK;
}

/* TLS is on when asked for or when any TLS file is given; the default port
 * follows the transport, like mosquitto_pub. */
static int resolve_tls(struct cli_options *opts, uint64_t seen)
{
    const uint64_t tls_files = OPT_BIT(OPT_CAFILE) | OPT_BIT(OPT_CAPATH) | OPT_BIT(OPT_CERTFILE) | OPT_BIT(OPT_KEYFILE);
    struct cli_connection *c = &opts->conn;
    if ((seen & OPT_BIT(OPT_NOTLS)) && (seen & (OPT_BIT(OPT_TLS) | tls_files)))
        return usage("--notls conflicts with --tls and the TLS file options", NULL);
    c->tls = (seen & (OPT_BIT(OPT_TLS) | tls_files)) != 0;
    if (!c->port) c->port = c->tls ? 8883 : 1883;
    if ((c->certfile != NULL) != (c->keyfile != NULL)) return usage("--cert and --keyfile go together", NULL);
    if (c->password && !c->username)
        return usage("a password (-P, --password-file, --askpass or MQSTATE_PASSWORD) needs a "
                     "user name (-u or MQSTATE_USERNAME)",
                     NULL);
    if (c->keypass && c->keypasswordfile) return usage("give --keypass or --keypasswordfile, not both", NULL);
    return CLI_EXIT_OK;
}

/* The operand that is the key (get/set/del/vdel/lock): positional or -k,
 * not both. */
static int take_key(struct cli_options *opts, const char *operand, const char *command)
{
    if (operand && opts->key_count) return usage("the key is given twice for ", command);
    if (operand) return cli_options_add_key(opts, operand, strlen(operand));
    if (opts->key_count == 0) return usage("missing key for ", command);
    if (opts->key_count > 1) return usage("only one key for ", command);
    return CLI_EXIT_OK;
}

static int finish_value(struct cli_options *opts, const char *operand, const char *command)
{
    if (operand && opts->has_value) return usage("the value is given twice for ", command);
    if (opts->valuefile && (opts->has_value || operand))
        return usage("give the value or -f/--valuefile, not both, for ", command);
    if (operand) {
        opts->has_value = true;
        if (!cli_bytes_set(&opts->value, operand, strlen(operand))) return usage("out of memory", NULL);
    }
    return CLI_EXIT_OK;
}

static int finish_operands(struct cli_options *opts, const struct command_spec *cmd, const char **operands, int count)
{
    const char *first = count > 0 ? operands[0] : NULL;
    const char *second = count > 1 ? operands[1] : NULL;
    int rc;
    switch (cmd->command) {
    case CLI_CMD_GET:
    case CLI_CMD_DEL:
    case CLI_CMD_LOCK:
    case CLI_CMD_ELECT: return take_key(opts, first, cmd->name);
    case CLI_CMD_SET:
    case CLI_CMD_VDEL: rc = take_key(opts, first, cmd->name); return rc ? rc : finish_value(opts, second, cmd->name);
    case CLI_CMD_WATCH:
        for (int i = 0; i < count; i++) {
            if ((rc = cli_options_add_key(opts, operands[i], strlen(operands[i])))) return rc;
        }
        return opts->key_count ? CLI_EXIT_OK : usage("watch needs at least one key", NULL);
    case CLI_CMD_KEYS: opts->pattern = first ? first : "*"; return CLI_EXIT_OK;
    case CLI_CMD_CLUSTER:
        if (first && !strcmp(first, "status") && !second) {
            opts->subcommand = first;
            return CLI_EXIT_OK;
        }
        if (first && (!strcmp(first, "add") || !strcmp(first, "remove")) && second) {
            char *end;
            unsigned long id = strtoul(second, &end, 10);
            if (*second < '0' || *second > '9' || *end || id == 0 || id > 4294967295ul)
                return usage("cluster add/remove: expected a member id from 1 to 4294967295, got ", second);
            opts->subcommand = first;
            opts->member_id = (uint32_t)id;
            return CLI_EXIT_OK;
        }
        return usage("cluster takes: status, add ID, remove ID", NULL);
    default: return CLI_EXIT_OK;
    }
}

static int finish_command(struct cli_options *opts, const struct command_spec *cmd, struct cli_parse_state *st)
{
    int rc = check_allowed(cmd, st->seen);
    if (rc) return rc;
    int count = st->positional_count - 1;
    if (cmd->max_operands >= 0 && count > cmd->max_operands) return usage("too many arguments for ", cmd->name);
    if (opts->nx && opts->nex) return usage("give --nx or --nex, not both", NULL);
    bool runs_command = cmd->command == CLI_CMD_LOCK || cmd->command == CLI_CMD_ELECT;
    if (runs_command && (!opts->child_argv || !opts->child_argv[0])) {
        fprintf(stderr,
                "mqstate: %s needs a command after --, e.g. mqstate %s NAME -- CMD ARGS "
                "(see mqstate --help)\n",
                cmd->name, cmd->name);
        return CLI_EXIT_USAGE;
    }
    if (!runs_command && opts->child_argv) return usage("unexpected arguments after -- for ", cmd->name);
    rc = finish_operands(opts, cmd, st->positional + 1, count);
    for (int i = 0; rc == CLI_EXIT_OK && i < opts->key_count; i++) {
        if (opts->keys[i].len == 0) rc = usage("the key is empty for ", cmd->name);
    }
    if (rc == CLI_EXIT_OK && cmd->command != CLI_CMD_VERSION && cmd->command != CLI_CMD_HELP)
        rc = cli_options_environment(opts, st);
    return rc ? rc : resolve_tls(opts, st->seen);
}

int cli_options_finish(struct cli_options *opts, struct cli_parse_state *st)
{
    if (st->seen & OPT_BIT(OPT_HELP)) {
        opts->command = CLI_CMD_HELP;
        return CLI_EXIT_OK;
    }
    if (st->positional_count == 0) {
        if (st->seen & OPT_BIT(OPT_VERSION)) {
            opts->command = CLI_CMD_VERSION;
            return CLI_EXIT_OK;
        }
        return usage("missing command", NULL);
    }
    const struct command_spec *cmd = find_command(st->positional[0]);
    if (!cmd) {
        fprintf(stderr, "mqstate: unknown command '%s' (see mqstate --help)\n", st->positional[0]);
        return CLI_EXIT_USAGE;
    }
    opts->command = cmd->command;
    return finish_command(opts, cmd, st);
}
