/* Walks argv: options may come before or after the subcommand (as in
 * statestore-cli), "--name=value", "--name value", "-xvalue" and "-x value"
 * are all accepted, and "--" ends the options (the rest is lock's command). */
#include "options.h"

#include <stdlib.h>
#include <string.h>

#include "exitcodes.h"
#include "option_parse.h"
#include "option_table.h"

static int usage_error(const char *what, const char *name)
{
    fprintf(stderr, "mqstate: %s '%s' (see mqstate --help)\n", what, name);
    return CLI_EXIT_USAGE;
}

/* Finds the option an argument names and its value, if it takes one.
 * Advances *i past a separate value argument. */
static int lookup(int argc, char **argv, int *i, const struct cli_opt_spec **spec, const char **value)
{
    const char *arg = argv[*i];
    const char *attached = NULL;
    if (arg[1] == '-') {
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        *spec = cli_opt_find_long(name, len);
        attached = eq ? eq + 1 : NULL;
    } else {
        *spec = cli_opt_find_short(arg[1]);
        attached = arg[2] ? arg + 2 : NULL;
    }
    if (!*spec) return usage_error("unknown option", arg);
    if (!(*spec)->takes_arg) {
        if (attached) return usage_error("option takes no value", arg);
        *value = NULL;
        return CLI_EXIT_OK;
    }
    if (!attached) {
        if (*i + 1 >= argc) return usage_error("option needs a value", arg);
        attached = argv[++*i];
    }
    *value = attached;
    return CLI_EXIT_OK;
}

static int add_positional(struct cli_parse_state *st, const char *arg)
{
    if (st->positional_count == st->positional_cap) {
        int cap = st->positional_cap ? 2 * st->positional_cap : 8;
        const char **more = realloc(st->positional, sizeof *more * (size_t)cap);
        if (!more) {
            fprintf(stderr, "mqstate: out of memory\n");
            return CLI_EXIT_USAGE;
        }
        st->positional = more;
        st->positional_cap = cap;
    }
    st->positional[st->positional_count++] = arg;
    return CLI_EXIT_OK;
}

static int walk(struct cli_options *opts, struct cli_parse_state *st, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int rc;
        if (strcmp(arg, "--") == 0) {
            opts->child_argv = argv + i + 1;
            return CLI_EXIT_OK;
        }
        if (arg[0] == '-' && arg[1] != '\0') {
            const struct cli_opt_spec *spec;
            const char *value;
            rc = lookup(argc, argv, &i, &spec, &value);
            if (rc == CLI_EXIT_OK) rc = cli_option_apply(opts, st, spec->id, value, arg);
        } else {
            rc = add_positional(st, arg);
        }
        if (rc != CLI_EXIT_OK) return rc;
    }
    return CLI_EXIT_OK;
}

int cli_options_parse(struct cli_options *opts, int argc, char **argv)
{
    struct cli_parse_state st = {0};
    memset(opts, 0, sizeof *opts);
    opts->conn.host = "localhost";
    opts->conn.timeout_ms = 10000;
    opts->ttl_ms = 10000;
    opts->wait_s = -1;
    int rc = walk(opts, &st, argc, argv);
    if (rc == CLI_EXIT_OK) rc = cli_options_finish(opts, &st);
    free(st.positional);
    return rc;
}

void cli_options_free(struct cli_options *opts)
{
    for (int i = 0; i < opts->key_count; i++) cli_bytes_free(&opts->keys[i]);
    free(opts->keys);
    opts->keys = NULL;
    opts->key_count = 0;
    cli_bytes_free(&opts->value);
    free(opts->password_owned);
    opts->password_owned = NULL;
}
